//! Win rates calibrated from a generated history recover the generator's
//! hidden per-team truth.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_forecast::{Calibration, calibrate};
use quotecast_pipeline::{
    epoch_days,
    synthetic::{
        CatalogItem, CurrencyRate, Funnel, FunnelStage, GenSpec, STALE_FACTOR, World, generate,
    },
};
use rust_decimal::Decimal;

fn rules() -> quotecast_model::RuleSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    quotecast_rules::load_dir(&dir).unwrap().0
}

#[test]
fn calibrated_rates_recover_each_teams_true_win_rate() {
    let rules = rules();
    let open: Vec<FunnelStage> = rules
        .stages()
        .iter()
        .filter(|s| s.is_open())
        .map(|s| FunnelStage {
            id: s.id.clone(),
            win_rate: f64::try_from(s.win_rate.0).unwrap() / 100.0,
            time_limit_days: s.time_limit_days.unwrap(),
        })
        .collect();
    let world = World::new(
        11,
        Funnel {
            open,
            won: "won".into(),
            lost: "lost".into(),
        },
        vec![CatalogItem {
            sku: "SRV-1U".into(),
            product_line: "servers".into(),
            unit_price: Decimal::new(4000, 0),
            is_base: true,
        }],
        vec![CurrencyRate {
            code: "USD".into(),
            per_corporate: Decimal::ONE,
        }],
    )
    .unwrap();
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let spec = GenSpec {
        seed: 11,
        open_opportunities: 3_000,
        as_of: epoch_days(as_of),
        history_days: 730,
        with_history: true,
        snapshots: 0,
        snapshot_every_days: 28,
    };
    let (mut events, mut outcomes) = (Vec::new(), Vec::new());
    generate(&world, &spec, |b| {
        let h = b.history.unwrap();
        events.push(h.stage_events.lazy());
        outcomes.push(h.outcomes.lazy());
        Ok(())
    })
    .unwrap();
    let events = concat(events, UnionArgs::default()).unwrap();
    let outcomes = concat(outcomes, UnionArgs::default()).unwrap();
    let how = Calibration {
        as_of,
        maturity_days: 180,
        prior_strength: None,
    };
    let rates = calibrate(events, outcomes, rules.stages(), &how).unwrap();
    let t = &rates.table;
    let text = |c: &str, r: usize| {
        t.column(c)
            .unwrap()
            .get(r)
            .unwrap()
            .str_value()
            .into_owned()
    };
    let number = |c: &str, r: usize| {
        t.column(c)
            .unwrap()
            .get(r)
            .unwrap()
            .extract::<f64>()
            .unwrap()
    };
    assert_eq!(t.height(), world.teams.len() * world.funnel.open.len());
    let mut worst: f64 = 0.0;
    for r in 0..t.height() {
        let team = world
            .teams
            .iter()
            .position(|x| x.id == text("team", r))
            .unwrap();
        let stage = world
            .funnel
            .open
            .iter()
            .position(|x| x.id == text("stage", r))
            .unwrap();
        let truth = world.true_win_rate(team, stage);
        let error = (number("calibrated", r) - truth).abs();
        worst = worst.max(error);
        assert!(
            error < 0.05,
            "{} {}: calibrated {:.3} from {} entries, truth {truth:.3}",
            text("team", r),
            text("stage", r),
            number("calibrated", r),
            number("entries", r)
        );
        // Stale deals: the true factor is the same for every team,
        // STALE_FACTOR / (1 - q + q STALE_FACTOR) with q the stale chance.
        let q = world.stale_chance(stage);
        let stale_truth = STALE_FACTOR / (1.0 - q + q * STALE_FACTOR);
        assert!(
            (number("stale_factor", r) - stale_truth).abs() < 0.1,
            "{}: stale factor {:.3}, truth {stale_truth:.3}",
            text("stage", r),
            number("stale_factor", r)
        );
    }
    // The teams differ by far more than sampling: the prior is weak.
    assert!(rates.prior_strength < 1_000.0, "{}", rates.prior_strength);
    eprintln!(
        "worst error {worst:.4}, prior strength {:.1}, {} matured entries",
        rates.prior_strength, rates.matured_entries
    );
}
