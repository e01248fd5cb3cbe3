//! Shared by the benchmarks: the example rules and generated quotes of any
//! size.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

pub mod export;
pub use quotecast_tests::generated_config;

use quotecast_model::RuleSet;
use quotecast_rules::{LineInput, QuoteInput};
use rust_decimal::Decimal;

/// The process's peak resident memory so far, in MiB (Linux; NaN
/// elsewhere).
pub fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

pub fn example_rules() -> RuleSet {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules");
    quotecast_rules::load_dir(&dir).unwrap().0
}

/// A USD quote for account acme with `lines` lines cycling through the
/// whole catalog (but the products sold only configured): varied
/// quantities, a rep discount on every fifth line and a header discount,
/// so every waterfall step is exercised.
pub fn quote_with_lines(rules: &RuleSet, lines: usize) -> QuoteInput {
    let skus: Vec<&str> = rules
        .products()
        .filter(|p| !rules.configuration(&p.sku).is_some_and(|m| m.required))
        .map(|p| p.sku.as_str())
        .collect();
    QuoteInput {
        currency: "USD".into(),
        date: Some("2026-05-12".into()),
        account: Some("acme".into()),
        segment: None,
        region: None,
        lines: (0..lines)
            .map(|i| LineInput {
                id: Some(format!("L{i}")),
                sku: skus[i % skus.len()].to_owned(),
                quantity: Decimal::from(1 + (i * 7) % 40),
                discount_percent: (i % 5 == 0).then(|| Decimal::from(5)),
                discount_amount: None,
                configuration: None,
            })
            .collect(),
        header_discount_percent: Some(Decimal::from(2)),
        header_discount_amount: None,
    }
}
