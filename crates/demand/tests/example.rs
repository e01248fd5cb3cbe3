//! The roll-down on the example catalog: every product explodes at least
//! three levels deep, a configured deal explodes through its options, an
//! unconfigured one through the attach rates, services size capacity.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use quotecast_demand::{Inventory, plan};

#[test]
fn every_example_product_has_a_bom_three_levels_deep() {
    let rules = example_rules();
    let data = rules.planning();
    fn depth(data: &quotecast_model::PlanningData, id: &str) -> usize {
        data.components_of(id)
            .iter()
            .map(|l| 1 + depth(data, &l.component))
            .max()
            .unwrap_or(0)
    }
    for product in rules.products() {
        if product.kind == quotecast_model::ProductKind::Option {
            assert!(
                depth(data, &product.sku) >= 1,
                "option {} has no BOM",
                product.sku
            );
            continue;
        }
        assert!(
            depth(data, &product.sku) >= 3,
            "{} is {} deep",
            product.sku,
            depth(data, &product.sku)
        );
    }
    // Sub-assemblies shared between product lines.
    let lines_using = |item: &str| {
        let mut lines: Vec<&str> = rules
            .products()
            .filter(|p| {
                let mut stack = vec![p.sku.clone()];
                while let Some(n) = stack.pop() {
                    if n == item {
                        return true;
                    }
                    stack.extend(data.components_of(&n).iter().map(|l| l.component.clone()));
                }
                false
            })
            .map(|p| p.product_line.as_str())
            .collect();
        lines.sort_unstable();
        lines.dedup();
        lines.len()
    };
    assert!(lines_using("ASM-PSU-USBC-100") >= 2);
    assert!(lines_using("ASM-DOC-PACK") >= 3);
}

#[test]
fn configured_and_unconfigured_deals_on_the_example_catalog() {
    let rules = example_rules();
    let lines = vec![
        // Won, configured: two 64-core CPUs, eight 128 GB modules.
        line("W1", "SRV-2U", 5.0, "2026-04-20", 1.0),
        line("W1", "SRV-BRD-SP6", 5.0, "2026-04-20", 1.0),
        line("W1", "SRV-CPU-64C", 10.0, "2026-04-20", 1.0),
        line("W1", "SRV-MEM-128", 40.0, "2026-04-20", 1.0),
        line("W1", "SRV-SSD-960", 10.0, "2026-04-20", 1.0),
        line("W1", "SRV-PSU-1600", 10.0, "2026-04-20", 1.0),
        line("W1", "SVC-INST-RACK", 5.0, "2026-04-20", 1.0),
        // Open, unconfigured: planned through the attach rates.
        line("O1", "LT-14-PRO", 100.0, "2026-05-04", 0.4),
        line("O1", "SVC-WTY-3Y-LT", 100.0, "2026-05-04", 0.4),
    ];
    let p = plan(&rules, lines, &Inventory::default(), &options(26, 500)).unwrap();
    let total = |item: &str| -> f64 {
        p.component_demand
            .iter()
            .filter(|r| &*r.item == item)
            .map(|r| r.expected)
            .sum()
    };
    // W1's own configuration: 10 CPUs, 40 modules, no other CPU.
    assert!((total("CMP-CPU-SRV-64C") - 10.0).abs() < 1e-9);
    assert!((total("CMP-RDIMM-128") - 40.0).abs() < 1e-9);
    assert_eq!(total("CMP-CPU-SRV-16C"), 0.0);
    // O1: 40 expected laptops; 15 % carry the 24-core CPU (LT-CPU-I9).
    assert!((total("LT-14-PRO") - 40.0).abs() < 1e-9);
    assert!(
        (total("CMP-CPU-LT-24C") - 6.0).abs() < 1e-9,
        "{}",
        total("CMP-CPU-LT-24C")
    );
    // Every 14" laptop has one keyboard module, inside its chassis.
    assert!((total("ASM-KB-MODULE") - 40.0).abs() < 1e-9);
    // O1's warranty line is an option of LT-14-PRO: its warranty group is
    // chosen, its CPU, memory and storage come from the attach rates.
    assert_eq!(p.explanation.configured_lines, 2);
    assert_eq!(p.explanation.attach_rate_lines, 1);
    assert!(p.explanation.levels >= 4);
    // Rack installation: 5 × 1.5 hours; the warranty's service desk hours.
    let hours = |skill: &str| -> f64 {
        p.capacity
            .iter()
            .filter(|c| c.skill == skill)
            .map(|c| c.expected_hours)
            .sum()
    };
    assert!((hours("rack_install") - 7.5).abs() < 1e-9);
    assert!((hours("service_desk") - 10.0).abs() < 1e-9);
    // The 98-day GPU lead time is not needed: no GPU in either deal...
    assert_eq!(total("CMP-GPU-L4"), 0.0);
    // ...but the 84-day 64-core CPU is, for a build in seven weeks: late.
    let cpu = p
        .planned_orders
        .iter()
        .find(|o| &*o.item == "CMP-CPU-SRV-64C")
        .unwrap();
    assert!(cpu.expedite);
    assert!(
        p.pegging
            .iter()
            .any(|g| p.peg_order(g).is_some_and(|o| o.id == cpu.id) && p.peg_deal(g) == "W1")
    );
}

#[test]
fn configurations_won_before_teach_the_attach_rates() {
    let rules = example_rules();
    let lines = vec![line("D1", "LT-14-PRO", 10.0, "2026-04-06", 0.5)];
    let i9 = |plan: &quotecast_demand::Plan| {
        plan.explanation
            .attach_rates
            .iter()
            .find(|(p, o, _, _)| p == "LT-14-PRO" && o == "LT-CPU-I9")
            .cloned()
            .unwrap()
    };
    let before = plan(
        &rules,
        lines.clone(),
        &Inventory::default(),
        &options(12, 0),
    )
    .unwrap();
    let (_, _, rate, source) = i9(&before);
    assert!((rate - 0.15).abs() < 1e-9, "{rate}");
    assert_eq!(source, "rules");
    // Forty laptops won with an i9 and 32 GB: the i9's share moves from
    // the rules' 15 % (worth 20 configurations) toward them.
    let won: Vec<Vec<String>> = (0..40)
        .map(|_| vec!["LT-14-PRO".into(), "LT-CPU-I9".into(), "LT-MEM-32".into()])
        .collect();
    let options = quotecast_demand::PlanOptions {
        won_before: won,
        ..options(12, 0)
    };
    let after = plan(&rules, lines, &Inventory::default(), &options).unwrap();
    let (_, _, rate, source) = i9(&after);
    assert!((rate - (0.15 * 20.0 + 40.0) / 60.0).abs() < 1e-6, "{rate}");
    assert_eq!(source, "rules + 40 won configurations");
    assert_eq!(after.explanation.won_before, 40);
    assert_ne!(before.id, after.id);
}

#[test]
fn a_cancelled_plan_stops_with_cancelled() {
    let rules = example_rules();
    let lines = vec![line("D1", "LT-14-PRO", 10.0, "2026-04-06", 0.5)];
    let options = options(12, 500);
    options.cancel.cancel();
    let outcome = plan(&rules, lines, &Inventory::default(), &options);
    assert!(
        matches!(outcome, Err(quotecast_demand::DemandError::Cancelled)),
        "{:?}",
        outcome.map(|p| p.id)
    );
}
