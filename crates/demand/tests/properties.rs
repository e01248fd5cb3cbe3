//! Invariants of the roll-down on random structures: exploded demand
//! equals quantity × units along every path; after planned orders the
//! projected stock never falls below safety stock; orders respect their
//! lot sizes; results do not depend on input order; the same inputs give
//! the same plan id.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use proptest::prelude::*;
use quotecast_demand::{DemandLine, Inventory, plan};
use rust_decimal::Decimal;

/// Items `I0..In`; a BOM line only from a lower to a higher number (no
/// cycles); items 0 and 1 are sold.
#[derive(Debug, Clone)]
struct Structure {
    /// (supply, lead days, min order, multiple, safety stock, on hand)
    items: Vec<(u8, u32, u32, u32, u32, u32)>,
    /// (parent, component, quantity per in tenths)
    lines: Vec<(usize, usize, u32)>,
}

fn structure() -> impl Strategy<Value = Structure> {
    (3usize..8).prop_flat_map(|n| {
        let items = prop::collection::vec(
            (0u8..4, 0u32..20, 0u32..50, 1u32..10, 0u32..15, 0u32..40),
            n,
        );
        let lines = prop::collection::vec((0..n, 0..n, 1u32..40), 1..(2 * n));
        (items, lines).prop_map(|(items, lines)| {
            let mut seen = std::collections::HashSet::new();
            let lines = lines
                .into_iter()
                .filter(|(p, c, _)| p < c && seen.insert((*p, *c)))
                .collect();
            Structure { items, lines }
        })
    })
}

fn toml(s: &Structure) -> String {
    let mut out = String::new();
    for (i, (supply, lead, moq, multiple, safety, _)) in s.items.iter().enumerate() {
        // 0 buy, 1 make, 2 phantom (never for a sold item), 3 make.
        let supply = match supply {
            0 => "buy",
            2 if i > 1 => "phantom",
            _ => "make",
        };
        out.push_str(&format!(
            "[[item]]\nid = \"I{i}\"\nname = \"Item {i}\"\nsupply = \"{supply}\"\n"
        ));
        if supply != "phantom" {
            out.push_str(&format!(
                "lead_time_days = {lead}\nmin_order = \"{moq}\"\norder_multiple = \"{multiple}\"\nsafety_stock = \"{safety}\"\n"
            ));
        }
        out.push('\n');
    }
    for (p, c, q) in &s.lines {
        // A bought item has no BOM: such lines are left out.
        if s.items[*p].0 == 0 {
            continue;
        }
        out.push_str(&format!(
            "[[bom]]\nparent = \"I{p}\"\ncomponent = \"I{c}\"\nquantity = \"{}.{}\"\n\n",
            q / 10,
            q % 10
        ));
    }
    out
}

/// Units of `target` per unit of `from`, summed over every path.
fn path_units(s: &Structure, from: usize, target: usize) -> f64 {
    if from == target {
        return 1.0;
    }
    if s.items[from].0 == 0 {
        return 0.0;
    }
    s.lines
        .iter()
        .filter(|(p, _, _)| *p == from)
        .map(|(_, c, q)| f64::from(*q) / 10.0 * path_units(s, *c, target))
        .sum()
}

fn deals() -> impl Strategy<Value = Vec<(usize, u32, u32, u32)>> {
    // (sold item, quantity, day offset within 8 weeks, probability %)
    prop::collection::vec((0usize..2, 1u32..30, 0u32..56, 1u32..=100), 1..12)
}

fn lines_of(deals: &[(usize, u32, u32, u32)]) -> Vec<DemandLine> {
    deals
        .iter()
        .enumerate()
        .map(|(k, (item, q, day, p))| {
            let mut l = line(
                &format!("D{k:02}"),
                &format!("I{item}"),
                f64::from(*q),
                AS_OF,
                f64::from(*p) / 100.0,
            );
            l.close_date = d(AS_OF) + chrono::Days::new(u64::from(*day));
            l
        })
        .collect()
}

fn inventory_of(s: &Structure) -> Inventory {
    let on_hand: Vec<(String, String)> = s
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| (format!("I{i}"), it.5.to_string()))
        .collect();
    let refs: Vec<(&str, &str)> = on_hand
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    inventory(&refs, &[])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn plans_keep_their_invariants(s in structure(), deals in deals()) {
        let rules = rules_with(&toml(&s));
        let lines = lines_of(&deals);
        let inv = inventory_of(&s);
        // 20 weeks: every need (8 weeks) and its lead times fit.
        let opts = options(20, 0);
        let p = plan(&rules, lines.clone(), &inv, &opts).unwrap();
        let planning = rules.planning();
        // Exploded demand = expected quantity × units along every path.
        for target in 0..s.items.len() {
            let id = format!("I{target}");
            let is_phantom = planning.item(&id).is_some_and(|i| i.supply == quotecast_model::Supply::Phantom);
            let got: f64 = p.component_demand.iter().filter(|r| *r.item == *id).map(|r| r.expected).sum();
            let want: f64 = if is_phantom { 0.0 } else {
                deals.iter().map(|(item, q, _, pr)| f64::from(*q) * f64::from(*pr) / 100.0 * path_units(&s, *item, target)).sum()
            };
            prop_assert!((got - want).abs() <= 1e-6 * want.max(1.0), "{id}: {got} vs {want}");
        }
        // Never below safety stock after planned orders; lot sizes kept.
        for r in &p.projections {
            prop_assert!(r.on_hand >= r.safety_stock - 1e-6, "{r:?}");
        }
        for o in &p.planned_orders {
            let item = planning.item(&o.item).unwrap();
            prop_assert!(o.quantity > Decimal::ZERO && o.quantity >= item.min_order, "{o:?}");
            prop_assert!((o.quantity / item.order_multiple).fract().is_zero(), "{o:?}");
            prop_assert!(o.quantity >= o.net_requirement);
            // A release before the plan date is always flagged.
            prop_assert!(o.release_date >= opts.calendar.as_of || o.expedite, "{o:?}");
        }
        // Input order and identity.
        let mut reversed = lines.clone();
        reversed.reverse();
        let q = plan(&rules, reversed, &inv, &opts).unwrap();
        prop_assert_eq!(&p, &q);
        let mut other = opts.clone();
        other.seed += 1;
        prop_assert_ne!(p.id, plan(&rules, lines, &inv, &other).unwrap().id);
    }
}
