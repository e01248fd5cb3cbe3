//! The generator's configured deals: part of the deals for a configurable
//! product carry option lines, and every such configuration is one the
//! configurator accepts as complete and valid (as a rep could order it).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::NaiveDate;
use quotecast_configurator::Choice;
use quotecast_forecast::vocabulary;
use quotecast_pipeline::{
    columns as col,
    read::read_snapshot,
    synthetic::{GenSpec, World, write_dir},
    write::FileFormat,
};
use quotecast_tests::{example_configurators, example_rules};

#[test]
fn generated_configurations_are_complete_and_valid() {
    let rules = example_rules();
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let world = World::from_rules(&rules, 5, as_of).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec = GenSpec {
        seed: 5,
        open_opportunities: 800,
        as_of: quotecast_pipeline::epoch_days(as_of),
        history_days: 0,
        with_history: false,
        snapshots: 0,
        snapshot_every_days: 28,
    };
    write_dir(&world, &spec, dir.path(), FileFormat::Parquet, |_| {}).unwrap();
    let snapshot =
        read_snapshot(&dir.path().join("pipeline.parquet"), &vocabulary(&rules)).unwrap();
    let ids = snapshot.column(col::OPPORTUNITY_ID).unwrap().str().unwrap();
    let skus = snapshot.column(col::SKU).unwrap().str().unwrap();
    let quantities = snapshot.column(col::QUANTITY).unwrap();
    let mut deals: BTreeMap<&str, Vec<(&str, u64)>> = BTreeMap::new();
    for r in 0..snapshot.height() {
        let quantity = quantities.get(r).unwrap().extract::<u64>().unwrap();
        deals
            .entry(ids.get(r).unwrap())
            .or_default()
            .push((skus.get(r).unwrap(), quantity));
    }
    let configurators = example_configurators();
    let (mut configurable, mut configured) = (0, 0);
    for (deal, lines) in &deals {
        let Some((base, base_quantity, model)) = lines
            .iter()
            .find_map(|&(sku, q)| configurators.get(sku).map(|m| (sku, q, m)))
        else {
            continue;
        };
        configurable += 1;
        // Configured deals are those with option-only SKUs (never sold on
        // their own lines); an accessory a model also offers may be sold
        // on its own line of an unconfigured deal.
        let option_only = |sku: &str| {
            rules
                .product(sku)
                .is_some_and(|p| p.kind == quotecast_model::ProductKind::Option)
        };
        if !lines.iter().any(|&(sku, _)| option_only(sku)) {
            continue;
        }
        let choices: Vec<Choice> = lines
            .iter()
            .filter_map(|&(sku, q)| {
                let option = model.model().option_index(sku)?;
                assert_eq!(
                    q % base_quantity,
                    0,
                    "{deal}: {sku} ×{q} on {base} ×{base_quantity}"
                );
                Some(Choice {
                    option,
                    quantity: (q / base_quantity) as u32,
                })
            })
            .collect();
        configured += 1;
        let state = model.configure(&choices, false).unwrap();
        assert!(state.conflict.is_none(), "{deal}: {lines:?}");
        assert!(state.complete, "{deal}: {lines:?} is not complete");
    }
    // About 40 % of the deals for a configurable product are configured.
    assert!(configurable > 100, "{configurable}");
    let share = f64::from(configured) / f64::from(configurable);
    assert!(
        (0.3..0.5).contains(&share),
        "{configured} of {configurable}"
    );
}
