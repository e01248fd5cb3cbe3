//! The generator is reproducible, its files read back as written, and a
//! malformed file is refused with every bad row and column named.
#![allow(clippy::unwrap_used)]

use std::{ops::Rem, path::Path};

use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_pipeline::{
    PipelineError, columns as col, epoch_days,
    read::{
        HistoryTable, SnapshotCount, Vocabulary, check_snapshot, read_history_table, read_snapshot,
    },
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
        // The upload check, which never holds the file, counts the same.
        let opportunities = frame.column(col::OPPORTUNITY_ID).unwrap().n_unique();
        assert_eq!(
            check_snapshot(&path, &vocabulary()).unwrap(),
            SnapshotCount {
                rows: frame.height() as u64,
                opportunities: opportunities.unwrap() as u64,
            }
        );
    }
}

/// The bad rows [`read_snapshot`] names, which the upload check
/// ([`check_snapshot`]) names alike.
fn bad_rows(path: &Path) -> Vec<(u64, String, String)> {
    let listed = |e: PipelineError| match e {
        PipelineError::BadRows { rows, .. } => rows
            .into_iter()
            .map(|r| (r.row, r.column, r.reason))
            .collect::<Vec<_>>(),
        other => panic!("expected bad rows, got {other:?}"),
    };
    let read = listed(read_snapshot(path, &vocabulary()).unwrap_err());
    let checked = listed(check_snapshot(path, &vocabulary()).unwrap_err());
    assert_eq!(read, checked);
    read
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
            "`2026-13-45` is not a date (YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS], ISO 8601 with T and Z or an offset, YYYY/MM/DD, DD.MM.YYYY, DD-Mon-YYYY, Mon DD, YYYY, or DD/MM/YYYY or MM/DD/YYYY in the order the column's days above 12, else the file's other dates, show)",
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
fn a_snapshot_without_created_dates_is_read_as_opportunity_exports_write_it() {
    // Pipeline reports often leave the creation date out; nothing the
    // forecast computes reads it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.parquet");
    let full = snapshot(3, 50);
    write_table(&path, &full.drop(col::CREATED).unwrap()).unwrap();
    let read = read_snapshot(&path, &vocabulary()).unwrap();
    assert_eq!(read.height(), full.height());
    assert_eq!(
        read.column(col::CREATED).unwrap().null_count(),
        read.height()
    );
    assert_eq!(
        read.column(col::AMOUNT).unwrap(),
        full.column(col::AMOUNT).unwrap()
    );
}

#[test]
fn a_missing_column_or_a_wrong_type_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.parquet");
    let frame = snapshot(3, 50).drop(col::OWNER).unwrap();
    write_table(&path, &frame).unwrap();
    let e = read_snapshot(&path, &vocabulary()).unwrap_err().to_string();
    assert!(e.contains("no column `owner` (text)"), "{e}");
    let mut frame = snapshot(3, 50);
    frame
        .with_column(Column::new(col::STAGE.into(), vec![1i64; frame.height()]))
        .unwrap();
    write_table(&path, &frame).unwrap();
    let e = read_snapshot(&path, &vocabulary()).unwrap_err().to_string();
    assert!(e.contains("column `stage` holds i64, not text"), "{e}");
}

/// The outcomes (team, outcome, closed) of a generated history.
/// A snapshot row of opportunity `id`'s line `line` (none when empty).
fn line_row(id: &str, line: &str) -> String {
    format!("{id},ann,na-east,na,qualify,2026-10-01,2026-12-15,USD,{line},SRV-1U,servers,2,8000.00")
}

const LINE_HEADER: &str = "opportunity_id,owner,team,region,stage,created,expected_close,currency,line,sku,product_line,quantity,amount";

#[test]
fn a_line_listed_twice_is_refused_and_unnumbered_lines_are_not() {
    // A report joining lines to another object repeats them: each repeat
    // would be forecast again.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twice.csv");
    let rows = [
        line_row("O-1", "1"),
        line_row("O-1", "2"),
        line_row("O-2", "1"),
        line_row("O-1", "2"),
    ];
    std::fs::write(&path, format!("{LINE_HEADER}\n{}\n", rows.join("\n"))).unwrap();
    let repeats = "`2` repeats a line of its opportunity (one row per opportunity line)";
    let found = bad_rows(&path);
    let found: Vec<(u64, &str, &str)> = found
        .iter()
        .map(|(r, c, m)| (*r, c.as_str(), m.as_str()))
        .collect();
    assert_eq!(found, [(2, "line", repeats), (4, "line", repeats)]);
    // Without line numbers an opportunity's rows are its line items.
    let rows = [
        line_row("O-1", ""),
        line_row("O-1", ""),
        line_row("O-2", ""),
    ];
    std::fs::write(&path, format!("{LINE_HEADER}\n{}\n", rows.join("\n"))).unwrap();
    assert_eq!(read_snapshot(&path, &vocabulary()).unwrap().height(), 3);
}

#[test]
fn past_snapshots_hold_a_line_once_per_date() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshots.csv");
    let dated = |day: &str, id: &str, line: &str| format!("{day},{}", line_row(id, line));
    let mut rows = vec![
        dated("2026-01-02", "O-1", "1"),
        dated("2026-01-09", "O-1", "1"),
    ];
    let header = format!("snapshot_date,{LINE_HEADER}");
    std::fs::write(&path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    let read = read_history_table(&path, HistoryTable::Snapshots, &vocabulary()).unwrap();
    assert_eq!(read.rows, 2, "one line on two dates is two snapshots' line");
    rows.push(dated("2026-01-09", "O-1", "1"));
    std::fs::write(&path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    let Err(PipelineError::BadRows { rows, .. }) =
        read_history_table(&path, HistoryTable::Snapshots, &vocabulary())
    else {
        panic!("a line twice on one date is refused");
    };
    let named: Vec<(u64, &str)> = rows.iter().map(|r| (r.row, r.column.as_str())).collect();
    assert_eq!(named, [(2, "line"), (3, "line")]);
}

fn outcomes_of(world: &World, seed: u64) -> DataFrame {
    let mut spec = spec(seed, 3_000);
    spec.with_history = true;
    let mut frames = Vec::new();
    generate(world, &spec, |b| {
        if let Some(h) = b.history {
            frames.push(h.outcomes.lazy());
        }
        Ok(())
    })
    .unwrap();
    concat(frames, UnionArgs::default())
        .unwrap()
        .collect()
        .unwrap()
}

/// Per team (in the world's order), the share of deals won among those
/// decided before and after `split`.
fn won_share_by_half(outcomes: &DataFrame, split: NaiveDate) -> Vec<(String, f64, f64)> {
    let split = lit(split).cast(DataType::Date);
    let won = col(col::OUTCOME).eq(lit("won")).cast(DataType::Float64);
    let frame = outcomes
        .clone()
        .lazy()
        .group_by([col(col::TEAM)])
        .agg([
            won.clone()
                .filter(col(col::CLOSED).lt(split.clone()))
                .mean()
                .alias("before"),
            won.filter(col(col::CLOSED).gt_eq(split))
                .mean()
                .alias("after"),
        ])
        .sort([col::TEAM], SortMultipleOptions::default())
        .collect()
        .unwrap();
    let teams = frame.column(col::TEAM).unwrap().str().unwrap().clone();
    let before = frame.column("before").unwrap().f64().unwrap().clone();
    let after = frame.column("after").unwrap().f64().unwrap().clone();
    (0..frame.height())
        .map(|i| {
            (
                teams.get(i).unwrap().to_owned(),
                before.get(i).unwrap(),
                after.get(i).unwrap(),
            )
        })
        .collect()
}

/// The share of won deals closed in the last five days of a quarter.
fn quarter_end_share(outcomes: &DataFrame) -> f64 {
    let closed = col(col::CLOSED);
    let last_days = closed
        .clone()
        .dt()
        .month()
        .cast(DataType::Int32)
        .rem(lit(3))
        .eq(lit(0))
        .and(closed.dt().day().cast(DataType::Int32).gt_eq(lit(27)));
    let frame = outcomes
        .clone()
        .lazy()
        .filter(col(col::OUTCOME).eq(lit("won")))
        .select([last_days.cast(DataType::Float64).mean().alias("share")])
        .collect()
        .unwrap();
    frame
        .column("share")
        .unwrap()
        .f64()
        .unwrap()
        .get(0)
        .unwrap()
}

#[test]
fn a_shifting_world_has_teams_that_change_and_a_quarter_end_push() {
    let steady = world(5);
    let shape = quotecast_pipeline::synthetic::Shape::shifting(5, steady.teams.len());
    let shifting = world(5).with_shape(shape.clone());
    let split = NaiveDate::from_ymd_opt(2026, 5, 20).unwrap();
    let (calm, moved) = (outcomes_of(&steady, 5), outcomes_of(&shifting, 5));
    let (calm_end, pushed_end) = (quarter_end_share(&calm), quarter_end_share(&moved));
    let teams: Vec<String> = steady.teams.iter().map(|t| t.id.clone()).collect();
    // Per team, later over earlier won share, against the same team in
    // the steady world (deals closed early in the window are mostly quick
    // losses in both); averaged over the teams that improve and those
    // that decline (single teams win too few deals for a firm ratio).
    let ratios = |outcomes: &DataFrame| -> Vec<f64> {
        let mut by_team = vec![0.0; teams.len()];
        for (team, before, after) in won_share_by_half(outcomes, split) {
            let t = teams.iter().position(|id| *id == team).unwrap();
            by_team[t] = after / before;
        }
        by_team
    };
    let (calm_ratios, moved_ratios) = (ratios(&calm), ratios(&moved));
    let relative = |improving: bool| -> f64 {
        let chosen: Vec<f64> = (0..teams.len())
            .filter(|&t| (shape.drift[t] > 0.0) == improving)
            .map(|t| moved_ratios[t] / calm_ratios[t])
            .collect();
        chosen.iter().sum::<f64>() / chosen.len() as f64
    };
    let (improving, declining) = (relative(true), relative(false));
    assert!(improving > 1.15, "improving teams: {improving}");
    assert!(declining < 0.9, "declining teams: {declining}");
    assert!(pushed_end > 1.5 * calm_end, "{calm_end} then {pushed_end}");
}
