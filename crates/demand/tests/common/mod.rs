//! Rule sets for the roll-down's tests: the example rules with their
//! planning files replaced by a test's own items and BOMs.
#![allow(clippy::unwrap_used, dead_code)]

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use quotecast_demand::{Calendar, DemandLine, Inventory, Period, PlanOptions, Receipt};
use quotecast_model::RuleSet;
use quotecast_rules::{Source, compile_sources, read_dir};
use rust_decimal::Decimal;

pub fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules")
}

/// The example rules as they are.
pub fn example_rules() -> RuleSet {
    quotecast_rules::load_dir(&rules_dir()).unwrap().0
}

/// The example rules with `rules/planning/` replaced by `planning`.
pub fn rules_with(planning: &str) -> RuleSet {
    let dir = rules_dir().join("planning");
    let mut sources: Vec<Source> = read_dir(&rules_dir())
        .unwrap()
        .into_iter()
        .filter(|s| !s.path.starts_with(&dir))
        .collect();
    sources.push(Source {
        path: dir.join("test.toml"),
        text: planning.to_owned(),
    });
    match compile_sources(&sources) {
        Ok((rules, _)) => rules,
        Err(e) => panic!("{e}"),
    }
}

pub fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// A Monday.
pub const AS_OF: &str = "2026-03-02";

pub fn options(weeks: u32, trials: u32) -> PlanOptions {
    PlanOptions {
        calendar: Calendar::new(d(AS_OF), Period::Week, weeks).unwrap(),
        service_level: 0.95,
        trials,
        seed: 7,
        fingerprints: vec![],
        won_before: vec![],
        cancel: Default::default(),
        budget: Default::default(),
        pipeline_only: false,
        pegging: true,
    }
}

pub fn line(deal: &str, sku: &str, quantity: f64, need: &str, probability: f64) -> DemandLine {
    DemandLine {
        deal: deal.into(),
        sku: sku.into(),
        quantity,
        amount: 0.0,
        close_date: d(need),
        probability,
        point: 0,
        points: 1,
        ..DemandLine::default()
    }
}

pub fn inventory(on_hand: &[(&str, &str)], receipts: &[(&str, &str, &str)]) -> Inventory {
    Inventory {
        version: "test".into(),
        on_hand: on_hand
            .iter()
            .map(|(i, q)| ((*i).to_owned(), dec(q)))
            .collect(),
        receipts: receipts
            .iter()
            .map(|(i, due, q)| Receipt {
                item: (*i).to_owned(),
                due: d(due),
                quantity: dec(q),
                reference: format!("PO-{i}"),
            })
            .collect(),
    }
}
