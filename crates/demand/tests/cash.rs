//! Cash-in through payment terms, by hand: installments at signing and
//! at delivery (signing + the product line's delivery days), net days,
//! an account's own terms, won orders against the weighted pipeline, and
//! the Monte Carlo's range on the same trials as component demand.
//!
//! The plan date is Monday 2026-03-02; buckets are weeks. The example
//! catalog's servers deliver 21 days after signing, laptops 7.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::Days;
use common::*;
use quotecast_demand::{CashIn, DemandLine, Inventory, Plan, plan};

const TERMS: &str = r#"
[[item]]
id = "PART"
name = "A part"
supply = "buy"
lead_time_days = 5

[[payment_terms]]
id = "milestones"
name = "30 % at signing, 70 % net 45 after delivery"
installments = [
  { percent = 30, at = "signing" },
  { percent = 70, at = "delivery", net_days = 45 },
]
product_lines = ["servers"]

[[payment_terms]]
id = "net30"
name = "Net 30 after delivery"
installments = [{ percent = 100, at = "delivery", net_days = 30 }]
product_lines = ["laptops", "displays", "services"]

[[payment_terms]]
id = "prepaid"
name = "Paid at signing"
installments = [{ percent = 100, at = "signing" }]

[[account_terms]]
account = "acme"
product_line = "laptops"
terms = "prepaid"
"#;

fn cash_line(deal: &str, account: &str, product_line: &str, amount: f64, close: i64) -> DemandLine {
    let as_of = d(AS_OF);
    DemandLine {
        account: account.into(),
        product_line: product_line.into(),
        amount,
        close_date: if close < 0 {
            as_of - Days::new(close.unsigned_abs())
        } else {
            as_of + Days::new(close as u64)
        },
        ..line(deal, "", 0.0, AS_OF, 1.0)
    }
}

fn cash_plan(lines: Vec<DemandLine>, trials: u32) -> Plan {
    plan(
        &rules_with(TERMS),
        lines,
        &Inventory::default(),
        &options(12, trials),
    )
    .unwrap()
}

fn bucket(plan: &Plan, week: u64) -> Option<&CashIn> {
    let start = d(AS_OF) + Days::new(7 * week);
    plan.cash.iter().find(|c| c.bucket == start)
}

#[test]
fn installments_fall_due_after_signing_and_delivery() {
    let won = cash_line("W", "globex", "servers", 1000.0, -10);
    let open = DemandLine {
        probability: 0.5,
        ..cash_line("O", "globex", "laptops", 2000.0, 14)
    };
    let p = cash_plan(vec![won, open], 0);
    // Won server order: 30 % at signing, ten days ago (collected or
    // overdue, in no bucket); 70 % 21 + 45 days after signing = day 56.
    assert!((p.explanation.cash_before_plan_date - 300.0).abs() < 1e-9);
    let w = bucket(&p, 8).unwrap();
    assert!((w.expected - 700.0).abs() < 1e-9, "{w:?}");
    assert!((w.from_won - 700.0).abs() < 1e-9, "{w:?}");
    // Open laptop deal at 50 %: signed day 14, delivered day 21, paid net
    // 30 = day 51, week 7.
    let o = bucket(&p, 7).unwrap();
    assert!((o.expected - 1000.0).abs() < 1e-9, "{o:?}");
    assert_eq!(o.from_won, 0.0);
    assert_eq!(o.percentiles, None);
    assert_eq!(p.cash.len(), 2, "{:?}", p.cash);
}

#[test]
fn an_account_can_have_its_own_terms_and_lines_without_terms_are_counted() {
    let acme = cash_line("A", "acme", "laptops", 500.0, 3);
    let other = cash_line("B", "globex", "laptops", 500.0, 3);
    let stray = cash_line("C", "globex", "furniture", 80.0, 3);
    let p = cash_plan(vec![acme, other, stray], 0);
    // Acme prepays laptops: due on signing (day 3, week 0); the others
    // pay net 30 after a 7-day delivery (day 40, week 5).
    assert!((bucket(&p, 0).unwrap().expected - 500.0).abs() < 1e-9);
    assert!((bucket(&p, 5).unwrap().expected - 500.0).abs() < 1e-9);
    assert_eq!(p.explanation.lines_without_terms, 1);
}

#[test]
fn the_range_comes_from_the_deals_won_and_their_slippage_in_each_trial() {
    // Twenty independent deals at 40 % each, paid in week 5, and one deal
    // sure to close but at one of two slippage points (weeks 5 and 9).
    let mut lines: Vec<DemandLine> = (0..20)
        .map(|i| DemandLine {
            probability: 0.4,
            ..cash_line(&format!("D{i:02}"), "globex", "laptops", 100.0, 3)
        })
        .collect();
    for (point, close) in [(0u32, 3i64), (1, 31)] {
        lines.push(DemandLine {
            point,
            points: 2,
            ..cash_line("S", "globex", "laptops", 1000.0, close)
        });
    }
    let p = cash_plan(lines, 4000);
    let w5 = bucket(&p, 5).unwrap();
    // 20 × 100 × 0.4 + 1000 × 0.5.
    assert!((w5.expected - 1300.0).abs() < 1e-9, "{w5:?}");
    let [p10, p50, p90] = w5.percentiles.unwrap();
    assert!(p10 < w5.expected && w5.expected < p90, "{w5:?}");
    // The sure deal lands in week 5 or week 9: the P10 of week 5 lacks
    // it, the P90 has it.
    assert!(p10 < 1000.0, "{w5:?}");
    assert!(p90 > 1000.0, "{w5:?}");
    assert!(p50 >= p10 && p50 <= p90);
    let w9 = bucket(&p, 9).unwrap();
    assert!((w9.expected - 500.0).abs() < 1e-9, "{w9:?}");
    let [p10, _, p90] = w9.percentiles.unwrap();
    assert_eq!((p10, p90), (0.0, 1000.0), "{w9:?}");
}
