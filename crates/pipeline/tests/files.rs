//! The generator is reproducible, its files read back as written, and a
//! malformed file is refused with every bad row and column named.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_pipeline::{
    PipelineError, columns as col, epoch_days,
    read::{Vocabulary, read_snapshot},
    synthetic::{CatalogItem, CurrencyRate, Funnel, FunnelStage, GenSpec, World, generate},
    write::write_table,
};
use rust_decimal::Decimal;

fn world(seed: u64) -> World {
    let stage = |id: &str, win_rate: f64, time_limit_days: u32| FunnelStage {
        id: id.into(),
        win_rate,
        time_limit_days,
    };
    let item = |sku: &str, line: &str, price: i64, is_base: bool| CatalogItem {
        sku: sku.into(),
        product_line: line.into(),
        unit_price: Decimal::new(price, 0),
        is_base,
    };
    World::new(
        seed,
        Funnel {
            open: vec![
                stage("qualify", 0.1, 21),
                stage("propose", 0.5, 21),
                stage("negotiate", 0.8, 14),
            ],
            won: "won".into(),
            lost: "lost".into(),
        },
        vec![
            item("SRV-1U", "servers", 4000, true),
            item("SVC-INSTALL", "services", 300, false),
        ],
        vec![
            CurrencyRate {
                code: "USD".into(),
                per_corporate: Decimal::ONE,
            },
            CurrencyRate {
                code: "EUR".into(),
                per_corporate: Decimal::new(92, 2),
            },
        ],
    )
    .unwrap()
}

fn spec(seed: u64, open: u64) -> GenSpec {
    GenSpec {
        seed,
        open_opportunities: open,
        as_of: epoch_days(NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()),
        history_days: 365,
        with_history: false,
        snapshots: 0,
        snapshot_every_days: 28,
    }
}

fn snapshot(seed: u64, open: u64) -> DataFrame {
    let mut frames = Vec::new();
    let mut total_open = 0;
    generate(&world(seed), &spec(seed, open), |b| {
        total_open += b.open;
        frames.push(b.pipeline);
        Ok(())
    })
    .unwrap();
    assert_eq!(total_open, open);
    let mut all = frames.remove(0);
    for f in frames {
        all.vstack_mut(&f).unwrap();
    }
    all
}

fn vocabulary() -> Vocabulary {
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect();
    Vocabulary {
        stages: words(&["qualify", "propose", "negotiate", "won", "lost"]),
        currencies: ["USD", "EUR"].map(currency).to_vec(),
        forecast_categories: words(&["omitted", "pipeline", "best_case", "commit", "closed"]),
        ..Vocabulary::default()
    }
}

fn currency(code: &str) -> quotecast_model::Currency {
    quotecast_model::Currency {
        code: quotecast_model::CurrencyCode::new(code).unwrap(),
        name: code.into(),
        scale: 2,
        rounding: quotecast_model::RoundingMode::HalfUp,
        per_corporate: rust_decimal::Decimal::ONE,
    }
}

#[test]
fn the_same_seed_gives_the_same_pipeline_and_another_seed_another() {
    let a = snapshot(7, 3_000);
    assert!(a.equals_missing(&snapshot(7, 3_000)));
    assert!(!a.equals_missing(&snapshot(8, 3_000)));
    let open = a
        .clone()
        .lazy()
        .filter(
            col(col::STAGE)
                .is_in(
                    lit(Series::new("s".into(), ["won", "lost"])).implode(false),
                    false,
                )
                .not(),
        )
        .select([col(col::OPPORTUNITY_ID).n_unique()])
        .collect()
        .unwrap();
    assert_eq!(
        open.column(col::OPPORTUNITY_ID)
            .unwrap()
            .u32()
            .unwrap()
            .get(0),
        Some(3_000)
    );
}

#[test]
fn parquet_and_csv_read_back_as_written() {
    let frame = snapshot(3, 500);
    let dir = tempfile::tempdir().unwrap();
    for name in ["p.parquet", "p.csv"] {
        let path = dir.path().join(name);
        write_table(&path, &frame).unwrap();
        let read = read_snapshot(&path, &vocabulary()).unwrap();
        assert!(read.equals_missing(&frame), "{name}: {read:?}\n{frame:?}");
    }
}

fn bad_rows(path: &Path) -> Vec<(u64, String, String)> {
    match read_snapshot(path, &vocabulary()) {
        Err(PipelineError::BadRows { rows, .. }) => rows
            .into_iter()
            .map(|r| (r.row, r.column, r.reason))
            .collect(),
        other => panic!("expected bad rows, got {other:?}"),
    }
}

#[test]
fn a_malformed_csv_is_refused_with_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    let header = "opportunity_id,owner,team,region,stage,created,expected_close,currency,sku,product_line,quantity,amount";
    let rows = [
        "O-1,ann,na-east,na,qualify,2026-10-01,2026-12-15,USD,SRV-1U,servers,2,8000.00",
        "O-2,bob,na-east,na,qualify,2026-10-01,2026-13-45,USD,SRV-1U,servers,2,8000.00",
        "O-3,bob,na-east,na,closing,2026-10-01,2026-12-15,USD,SRV-1U,servers,2,8000.00",
        "O-4,bob,na-east,na,propose,2026-10-01,2026-12-15,GBP,SRV-1U,servers,0,-5.00",
        "O-5,,na-east,na,propose,2026-10-01,2026-12-15,EUR,,,,12.5x",
    ];
    std::fs::write(&path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    let found = bad_rows(&path);
    let expect = [
        (
            2,
            "expected_close",
            "`2026-13-45` is not a date (YYYY-MM-DD, or YYYY-MM-DD HH:MM:SS)",
        ),
        (3, "stage", "`closing` is not a stage of the rules"),
        (4, "amount", "`-5.00` is negative"),
        (4, "currency", "`GBP` is not a currency of the rules"),
        (4, "quantity", "`0` must be at least 1 on a line with a SKU"),
        (5, "amount", "`12.5x` is not a decimal amount"),
        (5, "owner", "is empty"),
    ];
    let found: Vec<(u64, &str, &str)> = found
        .iter()
        .map(|(r, c, m)| (*r, c.as_str(), m.as_str()))
        .collect();
    assert_eq!(found, expect);
}

#[test]
fn a_missing_column_or_a_wrong_type_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.parquet");
    let frame = snapshot(3, 50).drop(col::TEAM).unwrap();
    write_table(&path, &frame).unwrap();
    let e = read_snapshot(&path, &vocabulary()).unwrap_err().to_string();
    assert!(e.contains("no column `team` (text)"), "{e}");
    let mut frame = snapshot(3, 50);
    frame
        .with_column(Column::new(col::STAGE.into(), vec![1i64; frame.height()]))
        .unwrap();
    write_table(&path, &frame).unwrap();
    let e = read_snapshot(&path, &vocabulary()).unwrap_err().to_string();
    assert!(e.contains("column `stage` holds i64, not text"), "{e}");
}
