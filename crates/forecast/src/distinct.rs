//! Counting distinct opportunities without hashing their ids.
//!
//! A snapshot has one row per opportunity line and the opportunity's own
//! fields repeat on each of its lines. When the rows come in opportunity
//! order (and, for a forecast grouped by product line or SKU, ordered by
//! those within each opportunity, as an "opportunities with products"
//! export is), each opportunity — or each opportunity and line key — is one
//! run of consecutive rows, and counting distinct opportunities per group
//! is summing a flag on the first row of each run: two comparisons with
//! the previous row instead of a hash of every id. Hashing 50 million ids
//! per group was most of a large forecast's time.
//!
//! Whether the order holds is checked in the same pass
//! ([`OUT_OF_ORDER`] rows); when it does not, the forecast counts again
//! with `n_unique`, so the result is exact for any file.
use polars::prelude::*;
use quotecast_pipeline::columns as col;

use crate::{
    Dimension, ForecastError, ForecastSpec,
    columns::{KIND, LINES, OPPORTUNITIES},
    frames::collect_together,
};

/// True on the first row of a run of the same opportunity.
pub(crate) const OPPORTUNITY_START: &str = "__opportunity_start";
/// True on the first row of a run of the same opportunity and the same
/// line-level group keys (product line, SKU).
pub(crate) const RUN_START: &str = "__run_start";
/// True on a row that sorts before the one above it.
pub(crate) const OUT_OF_ORDER: &str = "__out_of_order";

/// Stands in for an empty key when comparing rows.
const NO_KEY: &str = "\u{0}";

/// The grouping's keys that vary between an opportunity's lines.
fn line_keys(spec: &ForecastSpec) -> Vec<&'static str> {
    spec.group_by
        .iter()
        .filter(|d| matches!(d, Dimension::ProductLine | Dimension::Sku))
        .map(|d| d.column())
        .collect()
}

fn previous(e: Expr) -> Expr {
    e.shift(lit(1))
}

/// The snapshot with the three flags, computed in file order (before any
/// join may reorder rows).
pub(crate) fn with_run_flags(snapshot: LazyFrame, spec: &ForecastSpec) -> LazyFrame {
    let id = col(col::OPPORTUNITY_ID);
    let keys: Vec<Expr> = line_keys(spec)
        .into_iter()
        .map(|k| col(k).fill_null(lit(NO_KEY)))
        .collect();
    let opportunity_start = id.clone().neq_missing(previous(id.clone()));
    let mut run_start = opportunity_start.clone();
    // Keys sorting before the previous row's, compared as a tuple.
    let mut keys_before = lit(false);
    for key in keys.iter().rev() {
        run_start = run_start.or(key.clone().neq_missing(previous(key.clone())));
        keys_before = key
            .clone()
            .lt(previous(key.clone()))
            .or(key.clone().eq(previous(key.clone())).and(keys_before));
    }
    // Each comparison of two ids is a string comparison over the whole
    // snapshot: "the same as the row above" is the negation of the start.
    let out_of_order = id
        .clone()
        .lt(previous(id))
        .or(opportunity_start.clone().not().and(keys_before))
        .fill_null(lit(false));
    snapshot.with_columns([
        opportunity_start.alias(OPPORTUNITY_START),
        run_start.alias(RUN_START),
        out_of_order.alias(OUT_OF_ORDER),
    ])
}

/// Per rows taken as a whole: `lines`, runs of one opportunity id
/// (`opportunities`) and rows whose id sorts before the previous one's.
pub(crate) fn opportunity_runs(rows: LazyFrame) -> LazyFrame {
    let id = col(col::OPPORTUNITY_ID);
    rows.select([
        len().cast(DataType::UInt64).alias(LINES),
        id.clone()
            .neq_missing(previous(id.clone()))
            .sum()
            .cast(DataType::UInt64)
            .alias(OPPORTUNITIES),
        id.clone()
            .lt(previous(id))
            .fill_null(lit(false))
            .sum()
            .cast(DataType::UInt64)
            .alias(OUT_OF_ORDER),
    ])
}

/// Lines and distinct opportunities from the [`opportunity_runs`] of
/// `rows`; when the rows were out of order, the opportunities are counted
/// again by hashing their ids.
pub(crate) fn counted_runs(runs: &DataFrame, rows: LazyFrame) -> Result<(u64, u64), ForecastError> {
    let first = |frame: &DataFrame, name: &str| -> u64 {
        frame
            .column(name)
            .ok()
            .and_then(|c| c.u64().ok().and_then(|v| v.get(0)))
            .unwrap_or(0)
    };
    let (lines, mut opportunities) = (first(runs, LINES), first(runs, OPPORTUNITIES));
    if first(runs, OUT_OF_ORDER) > 0 {
        let exact = rows
            .select([col(col::OPPORTUNITY_ID)
                .n_unique()
                .cast(DataType::UInt64)
                .alias(OPPORTUNITIES)])
            .collect()?;
        opportunities = first(&exact, OPPORTUNITIES);
    }
    Ok((lines, opportunities))
}

/// The number of runs starting in a group (rows filtered as `condition`).
pub(crate) fn runs_where(flag: &str, condition: Option<Expr>) -> Expr {
    let flag = col(flag);
    match condition {
        Some(c) => flag.and(c).sum(),
        None => flag.sum(),
    }
    .cast(DataType::UInt64)
}

/// Replaces the run-counted opportunities of `amounts` and `counts` by
/// distinct counts of the ids, for a snapshot not in opportunity order.
pub(crate) fn counted_exactly(
    amounts: DataFrame,
    counts: DataFrame,
    lines: LazyFrame,
    keys: &[Expr],
) -> Result<(DataFrame, DataFrame), ForecastError> {
    let distinct = || {
        col(col::OPPORTUNITY_ID)
            .n_unique()
            .cast(DataType::UInt64)
            .alias(OPPORTUNITIES)
    };
    let per_group = lines.clone().group_by(keys).agg([distinct()]);
    let per_kind = lines
        .group_by([col(KIND)])
        .agg([distinct().alias("opportunities")]);
    let mut exact = collect_together(vec![per_group, per_kind])?;
    let per_kind = exact.pop().unwrap_or_default();
    let per_group = exact.pop().unwrap_or_default();
    let order: Vec<PlSmallStr> = amounts.get_column_names_owned();
    let same_keys = JoinArgs {
        nulls_equal: true,
        ..JoinArgs::new(JoinType::Left)
    };
    let amounts = amounts
        .lazy()
        .drop(cols([OPPORTUNITIES]))
        .join(
            per_group.lazy(),
            keys.to_vec(),
            keys.to_vec(),
            same_keys.clone(),
        )
        .with_column(col(OPPORTUNITIES).fill_null(lit(0u64)))
        .select(order.into_iter().map(col).collect::<Vec<_>>())
        .collect()?;
    let counts = counts
        .lazy()
        .drop(cols(["opportunities"]))
        .join(per_kind.lazy(), [col(KIND)], [col(KIND)], same_keys)
        .collect()?;
    Ok((amounts, counts))
}
