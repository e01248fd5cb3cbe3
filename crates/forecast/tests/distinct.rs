//! Opportunities per group are counted exactly whatever the row order:
//! in one pass over runs when the file is in opportunity order, by hashing
//! the ids when it is not. The same snapshot in three orders gives the
//! same forecast, and the counts match a hand count.
#![allow(clippy::unwrap_used)]

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_forecast::{Bucket, Dimension, forecast, rules_spec};
use quotecast_pipeline::read::read_snapshot;

const HEADER: &str = "opportunity_id,owner,team,region,stage,created,expected_close,currency,sku,product_line,quantity,amount";
const STAGES: [&str; 7] = [
    "qualify",
    "discover",
    "sponsor",
    "propose",
    "negotiate",
    "won",
    "lost",
];
const ITEMS: [(&str, &str); 5] = [
    ("SRV-1U", "servers"),
    ("SRV-2U", "servers"),
    ("SVC-INSTALL", "services"),
    ("LT-14", "laptops"),
    ("DSP-27", "displays"),
];

/// A small deterministic generator (no dependency on the order under test).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// One row per line: (opportunity, team, stage, sku, product line), lines
/// of an opportunity together but their product lines interleaved.
fn rows() -> Vec<(
    String,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
)> {
    let mut rng = Lcg(7);
    let mut rows = Vec::new();
    for o in 0..400 {
        let team = ["A", "B", "C"][rng.next(3)];
        let stage = STAGES[rng.next(STAGES.len())];
        for _ in 0..1 + rng.next(4) {
            let (sku, line) = ITEMS[rng.next(ITEMS.len())];
            rows.push((format!("O-{o:04}"), team, stage, sku, line));
        }
    }
    rows
}

fn csv(rows: &[(String, &str, &str, &str, &str)]) -> String {
    let mut text = format!("{HEADER}\n");
    for (id, team, stage, sku, line) in rows {
        // Every deal closes in 2027 Q1, so the quarter is one bucket.
        text.push_str(&format!(
            "{id},rep,{team},na,{stage},2026-06-01,2027-02-15,USD,{sku},{line},1,100.00\n"
        ));
    }
    text
}

fn rules() -> quotecast_model::RuleSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    quotecast_rules::load_dir(&dir).unwrap().0
}

/// The explanation's counts: lines, open, won and left-out opportunities.
type Counted = (u64, u64, u64, u64);

/// The amounts, whether the rows were found in opportunity order, and the
/// explanation's counts.
fn forecast_of(text: &str, group_by: Vec<Dimension>) -> (DataFrame, bool, Counted) {
    let rules = rules();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.csv");
    std::fs::write(&path, text).unwrap();
    let vocabulary = quotecast_forecast::vocabulary(&rules);
    let snapshot = read_snapshot(&path, &vocabulary).unwrap();
    let mut spec = rules_spec(
        &rules,
        NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
        Bucket::Quarter,
    );
    spec.group_by = group_by;
    let result = forecast(snapshot.lazy(), &spec).unwrap();
    let e = &result.explanation;
    let counted = (
        e.lines,
        e.open_opportunities,
        e.won_opportunities,
        e.left_out_opportunities,
    );
    (result.amounts, e.in_opportunity_order, counted)
}

/// `opportunities` per product line, as (product line, count).
fn counts(amounts: &DataFrame) -> BTreeMap<String, u64> {
    let lines = amounts
        .column("product_line")
        .unwrap()
        .str()
        .unwrap()
        .clone();
    let counts = amounts
        .column("opportunities")
        .unwrap()
        .cast(&DataType::UInt64)
        .unwrap();
    let counts = counts.u64().unwrap();
    lines
        .iter()
        .zip(counts.iter())
        .map(|(l, c)| (l.unwrap().to_owned(), c.unwrap()))
        .fold(BTreeMap::new(), |mut m, (l, c)| {
            *m.entry(l).or_insert(0) += c;
            m
        })
}

#[test]
fn counts_do_not_depend_on_row_order() {
    let in_file_order = rows();
    let mut sorted = in_file_order.clone();
    sorted.sort_by(|a, b| (&a.0, a.4, a.3).cmp(&(&b.0, b.4, b.3)));
    let mut shuffled = in_file_order.clone();
    let mut rng = Lcg(99);
    for i in (1..shuffled.len()).rev() {
        shuffled.swap(i, rng.next(i + 1));
    }
    // Open or won deals, by hand: the distinct opportunities with a line in
    // each product line.
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (id, _, stage, _, line) in &in_file_order {
        if *stage != "lost" {
            expected
                .entry((*line).to_owned())
                .or_default()
                .insert(id.clone());
        }
    }
    let expected: BTreeMap<String, u64> = expected
        .into_iter()
        .map(|(l, s)| (l, s.len() as u64))
        .collect();
    // And the explanation's counts: every line, and the distinct open, won
    // and lost deals (lost ones are left out of the figures).
    let deals_in = |stages: &[&str]| -> u64 {
        let ids: BTreeSet<&String> = in_file_order
            .iter()
            .filter(|r| stages.contains(&r.2))
            .map(|r| &r.0)
            .collect();
        ids.len() as u64
    };
    let expected_counts = (
        in_file_order.len() as u64,
        deals_in(&STAGES[..5]),
        deals_in(&["won"]),
        deals_in(&["lost"]),
    );

    let by = || vec![Dimension::Team, Dimension::ProductLine, Dimension::Sku];
    let (from_sorted, by_runs, sorted_counts) = forecast_of(&csv(&sorted), by());
    let (from_file, file_by_runs, file_counts) = forecast_of(&csv(&in_file_order), by());
    let (from_shuffled, shuffled_by_runs, shuffled_counts) = forecast_of(&csv(&shuffled), by());
    assert_eq!(sorted_counts, expected_counts);
    assert_eq!(file_counts, expected_counts);
    assert_eq!(shuffled_counts, expected_counts);
    assert!(by_runs, "sorted by opportunity, product line and SKU: runs");
    assert!(
        !file_by_runs,
        "product lines interleave within deals: hashing"
    );
    assert!(!shuffled_by_runs);
    assert!(from_sorted.equals(&from_file), "{from_sorted}\n{from_file}");
    assert!(from_sorted.equals(&from_shuffled));

    // Grouped by product line alone, so that each count is one cell; and
    // by team alone, where lines in any order within a deal still count
    // by runs.
    let (sorted_by_line, _, _) = forecast_of(&csv(&sorted), vec![Dimension::ProductLine]);
    let (shuffled_by_line, _, _) = forecast_of(&csv(&shuffled), vec![Dimension::ProductLine]);
    assert_eq!(counts(&sorted_by_line), expected);
    assert_eq!(counts(&shuffled_by_line), expected);
    let (_, team_by_runs, _) = forecast_of(&csv(&in_file_order), vec![Dimension::Team]);
    assert!(team_by_runs);
}
