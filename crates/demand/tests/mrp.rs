//! Hand-checked plans on a small structure:
//!
//! ```text
//! FG-A (make, 2 d) ─┬─ 2 × SUB-X (make, 3 d) ── 3 × CMP-P (buy, 5 d)
//!                   ├─ 1 × CMP-P                       (used on two levels)
//!                   ├─ 1 × KIT-K (phantom) ── 2 × CMP-Q (buy, 4 d, 10 % scrap,
//!                   │                                   min 100, multiple 25)
//!                   └─ 1 × CMP-S (buy, 30 d)
//! ```
//! The plan date is Monday 2026-03-02; buckets are weeks.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use quotecast_demand::{Inventory, Plan, PlannedOrder, plan};

const STRUCTURE: &str = r#"
[[item]]
id = "FG-A"
name = "Finished A"
supply = "make"
lead_time_days = 2

[[item]]
id = "SUB-X"
name = "Sub-assembly X"
supply = "make"
lead_time_days = 3

[[item]]
id = "CMP-P"
name = "Part P"
supply = "buy"
lead_time_days = 5
supplier = "P & Co"
cost = "2.50"

[[item]]
id = "KIT-K"
name = "Kit K"
supply = "phantom"

[[item]]
id = "CMP-Q"
name = "Part Q"
supply = "buy"
lead_time_days = 4
min_order = "100"
order_multiple = "25"

[[item]]
id = "CMP-S"
name = "Slow part S"
supply = "buy"
lead_time_days = 30

[[bom]]
parent = "FG-A"
component = "SUB-X"
quantity = "2"

[[bom]]
parent = "FG-A"
component = "CMP-P"
quantity = "1"

[[bom]]
parent = "SUB-X"
component = "CMP-P"
quantity = "3"

[[bom]]
parent = "FG-A"
component = "KIT-K"
quantity = "1"

[[bom]]
parent = "KIT-K"
component = "CMP-Q"
quantity = "2"
scrap_percent = "10"

[[bom]]
parent = "FG-A"
component = "CMP-S"
quantity = "1"
"#;

fn run(quantity: f64, inventory: &Inventory) -> Plan {
    let rules = rules_with(STRUCTURE);
    let lines = vec![line("D1", "FG-A", quantity, "2026-03-16", 1.0)];
    plan(&rules, lines, inventory, &options(8, 0)).unwrap()
}

fn orders<'p>(plan: &'p Plan, item: &str) -> Vec<&'p PlannedOrder> {
    plan.planned_orders
        .iter()
        .filter(|o| &*o.item == item)
        .collect()
}

fn one(plan: &Plan, item: &str) -> (String, String, String, String, bool) {
    let found = orders(plan, item);
    assert_eq!(found.len(), 1, "{item}: {found:#?}");
    let o = found[0];
    (
        o.quantity.to_string(),
        o.need_date.to_string(),
        o.release_date.to_string(),
        o.net_requirement.to_string(),
        o.expedite,
    )
}

#[test]
fn a_part_used_on_two_levels_is_planned_once_from_both_paths() {
    let p = run(10.0, &Inventory::default());
    let s = |q: &str, need: &str, release: &str, net: &str, expedite| {
        (
            q.to_owned(),
            need.to_owned(),
            release.to_owned(),
            net.to_owned(),
            expedite,
        )
    };
    assert_eq!(
        one(&p, "FG-A"),
        s("10", "2026-03-16", "2026-03-14", "10", false)
    );
    assert_eq!(
        one(&p, "SUB-X"),
        s("20", "2026-03-14", "2026-03-11", "20", false)
    );
    // 10 for FG-A's own line (needed 03-14) + 20 × 3 for SUB-X (needed
    // 03-11): one order, due when the earlier path needs it.
    assert_eq!(
        one(&p, "CMP-P"),
        s("70", "2026-03-11", "2026-03-06", "70", false)
    );
    assert_eq!(orders(&p, "KIT-K").len(), 0, "a phantom is never planned");
    // 10 × 2 × 1.1 (scrap) = 22, raised to the minimum 100 (a multiple of 25).
    assert_eq!(
        one(&p, "CMP-Q"),
        s("100", "2026-03-14", "2026-03-10", "22", false)
    );
    // 30 days before 03-14 is before the plan date: expedite.
    assert_eq!(
        one(&p, "CMP-S"),
        s("10", "2026-03-14", "2026-02-12", "10", true)
    );
    let value = orders(&p, "CMP-P")[0].value;
    assert_eq!(value.to_string(), "175.00");
    // The linear component demand counts every path: 10 + 20 × 3.
    let total: f64 = p
        .component_demand
        .iter()
        .filter(|r| &*r.item == "CMP-P")
        .map(|r| r.expected)
        .sum();
    assert!((total - 70.0).abs() < 1e-9, "{total}");
    assert_eq!(p.explanation.levels, 3);
}

#[test]
fn lot_size_rounds_a_net_requirement_up_to_the_multiple() {
    // 65 × 2.2 = 143 → six lots of 25.
    let p = run(65.0, &Inventory::default());
    let o = orders(&p, "CMP-Q")[0];
    assert_eq!(
        (o.net_requirement.to_string(), o.quantity.to_string()),
        ("143".into(), "150".into())
    );
}

#[test]
fn stock_of_a_sub_assembly_is_netted_before_its_parts_are_ordered() {
    let inv = inventory(&[("SUB-X", "15")], &[]);
    let p = run(10.0, &inv);
    assert_eq!(one(&p, "SUB-X").0, "5");
    // 10 for FG-A + 5 × 3 for the SUB-X still to build.
    assert_eq!(one(&p, "CMP-P").0, "25");
    // With an open receipt of 30 CMP-P due before the need, none is ordered
    // and 5 are left over.
    let inv = inventory(&[("SUB-X", "15")], &[("CMP-P", "2026-03-10", "30")]);
    let p = run(10.0, &inv);
    assert!(orders(&p, "CMP-P").is_empty());
    let last = p.projections.iter().rfind(|r| &*r.item == "CMP-P").unwrap();
    assert!((last.on_hand - 5.0).abs() < 1e-9, "{last:?}");
}

#[test]
fn every_order_is_pegged_to_the_deals_behind_it() {
    let rules = rules_with(STRUCTURE);
    let lines = vec![
        line("D1", "FG-A", 10.0, "2026-03-16", 1.0),
        line("D2", "FG-A", 30.0, "2026-03-17", 0.5),
    ];
    let p = plan(&rules, lines, &Inventory::default(), &options(8, 0)).unwrap();
    let o = orders(&p, "CMP-P")[0];
    // Expected: 10 + 15 FG-A, so 70 + 105 = 175 CMP-P.
    assert_eq!(o.quantity.to_string(), "175");
    let pegs: Vec<_> = p
        .pegging
        .iter()
        .filter(|g| p.peg_order(g).is_some_and(|x| x.id == o.id))
        .collect();
    assert_eq!(pegs.len(), 2);
    assert_eq!(p.peg_deal(pegs[0]), "D2");
    assert!((pegs[0].expected_units - 105.0).abs() < 1e-9);
    assert!((pegs[0].share - 0.6).abs() < 1e-9);
    assert_eq!(pegs[0].probability, 0.5);
    assert_eq!(
        (p.peg_deal(pegs[1]).as_ref(), p.peg_sku(pegs[1])),
        ("D1", "FG-A")
    );
}

#[test]
fn a_plan_without_pegging_plans_the_same_orders_and_stock_and_names_no_deals() {
    let rules = rules_with(STRUCTURE);
    let lines = vec![
        line("D1", "FG-A", 10.0, "2026-03-16", 1.0),
        line("D2", "FG-A", 30.0, "2026-03-17", 0.5),
        line("D3", "FG-A", 4.0, "2026-04-08", 0.25),
    ];
    let inv = inventory(&[("SUB-X", "15")], &[("CMP-P", "2026-03-10", "30")]);
    let options = options(8, 200);
    let pegged = plan(&rules, lines.clone(), &inv, &options).unwrap();
    let bare = plan(
        &rules,
        lines,
        &inv,
        &quotecast_demand::PlanOptions {
            pegging: false,
            ..options
        },
    )
    .unwrap();
    assert!(!pegged.pegging.is_empty());
    assert!(bare.pegging.is_empty());
    assert!(bare.explanation.without_pegging);
    assert!(!pegged.explanation.without_pegging);
    // Everything else is the plan with pegging, to the last figure.
    assert_eq!(bare.planned_orders, pegged.planned_orders);
    assert_eq!(bare.component_demand, pegged.component_demand);
    assert_eq!(bare.projections, pegged.projections);
    assert_eq!(bare.safety_stock, pegged.safety_stock);
    assert_eq!(bare.cash, pegged.cash);
    // A different plan, so a stored one is not taken for the other.
    assert_ne!(bare.id, pegged.id);
}

#[test]
fn fixed_safety_stock_is_kept_and_effectivity_follows_the_need_date() {
    let structure = STRUCTURE
        .replace(
            "lead_time_days = 5\nsupplier",
            "lead_time_days = 5\nsafety_stock = \"12\"\nsupplier",
        )
        .replace(
            "parent = \"FG-A\"\ncomponent = \"CMP-S\"\nquantity = \"1\"",
            "parent = \"FG-A\"\ncomponent = \"CMP-S\"\nquantity = \"1\"\nto = \"2026-03-10\"",
        );
    let rules = rules_with(&structure);
    let lines = vec![line("D1", "FG-A", 10.0, "2026-03-16", 1.0)];
    let p = plan(&rules, lines, &Inventory::default(), &options(8, 0)).unwrap();
    // 12 to be kept from today (its release is already late), then the 70
    // the builds need.
    let p_orders: Vec<_> = orders(&p, "CMP-P")
        .iter()
        .map(|o| (o.quantity.to_string(), o.need_date.to_string(), o.expedite))
        .collect();
    assert_eq!(
        p_orders,
        [
            ("12".to_owned(), "2026-03-02".to_owned(), true),
            ("70".to_owned(), "2026-03-11".to_owned(), false)
        ]
    );
    assert!(
        p.projections
            .iter()
            .filter(|r| &*r.item == "CMP-P")
            .all(|r| r.on_hand >= 12.0 - 1e-9)
    );
    // FG-A is needed on 03-16, after CMP-S's line ended.
    assert!(orders(&p, "CMP-S").is_empty());
}
