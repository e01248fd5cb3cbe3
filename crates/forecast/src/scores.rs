//! How the backtest scores a forecast cell (a bucket and team on one
//! snapshot date) against what it booked: absolute and signed error for
//! every model; for the models with a Monte Carlo, whether the actual fell
//! within P10–P90 and P5–P95, and the continuous ranked probability score
//! (CRPS) from 19 quantiles (5 % to 95 %). A point forecast's CRPS is its
//! absolute error, so CRPS over actual compares with WAPE across models.
use polars::prelude::*;

use crate::{
    columns::CELL_FORECAST,
    frames::fixed_sum,
    montecarlo::{Trials, percentile},
};

pub const FORECAST: &str = "forecast";
pub const ACTUAL: &str = "actual";
pub const WAPE: &str = "wape";
pub const BIAS: &str = "bias";
pub const CRPS: &str = "crps";
pub const COVERAGE_80: &str = "coverage_p10_p90";
pub const COVERAGE_90: &str = "coverage_p5_p95";
pub const CELLS: &str = "cells";
/// The quantile levels kept per cell: 5 %, 10 %, ..., 95 %.
const LEVELS: usize = 19;
const CELL_CRPS: &str = "__crps";
const INSIDE_80: &str = "__inside_80";
const INSIDE_90: &str = "__inside_90";

fn level(i: usize) -> f64 {
    (i + 1) as f64 / (LEVELS + 1) as f64
}

fn quantile_name(i: usize) -> String {
    format!("__q{i}")
}

/// The column of quantile level `i` ((i + 1) × 5 %) of scored cells.
pub(crate) fn quantile(i: usize) -> Expr {
    col(quantile_name(i))
}

/// The 19 quantiles of every cell of `trials` (its key columns and one
/// column per level).
pub(crate) fn quantiles(trials: &Trials) -> PolarsResult<DataFrame> {
    let n_cells = trials.cells.height();
    let n_trials = trials.totals.len().checked_div(n_cells).unwrap_or(0);
    let mut columns: Vec<Vec<f64>> = (0..LEVELS).map(|_| Vec::with_capacity(n_cells)).collect();
    let mut sample = Vec::with_capacity(n_trials);
    for c in 0..n_cells {
        sample.clear();
        sample.extend((0..n_trials).map(|t| trials.totals[t * n_cells + c]));
        sample.sort_by(f64::total_cmp);
        for (i, column) in columns.iter_mut().enumerate() {
            column.push(percentile(&sample, level(i)));
        }
    }
    let mut out = trials.cells.columns().to_vec();
    for (i, values) in columns.into_iter().enumerate() {
        out.push(Column::new(quantile_name(i).into(), values));
    }
    DataFrame::new(n_cells, out)
}

/// Adds each cell's CRPS and whether its actual fell inside the ranges,
/// to cells with [`CELL_FORECAST`], [`ACTUAL`] and, for models with a
/// Monte Carlo, the quantile columns (null for the others; `simulated`
/// says which rows are a Monte Carlo's, whose missing quantiles are 0: no
/// open deal in the cell).
/// `cells` with empty quantile columns, for a backtest run without trials:
/// their scores are then the point forecast's.
pub(crate) fn without_quantiles(cells: LazyFrame) -> LazyFrame {
    cells.with_columns(
        (0..LEVELS)
            .map(|i| lit(NULL).cast(DataType::Float64).alias(quantile_name(i)))
            .collect::<Vec<_>>(),
    )
}

pub(crate) fn with_cell_scores(cells: LazyFrame, simulated: Expr) -> LazyFrame {
    let q = |i: usize| col(quantile_name(i));
    let filled: Vec<Expr> = (0..LEVELS)
        .map(|i| {
            when(simulated.clone())
                .then(q(i).fill_null(lit(0.0)))
                .otherwise(q(i))
                .alias(quantile_name(i))
        })
        .collect();
    let actual = || col(ACTUAL);
    let pinball = |i: usize| {
        let below = actual().lt(q(i));
        when(below)
            .then((q(i) - actual()) * lit(1.0 - level(i)))
            .otherwise((actual() - q(i)) * lit(level(i)))
    };
    let crps = (0..LEVELS)
        .map(pinball)
        .reduce(|a, b| a + b)
        .map(|sum| sum * lit(2.0 / LEVELS as f64))
        .unwrap_or(lit(0.0));
    let inside = |low: usize, high: usize| {
        when(q(low).is_null())
            .then(lit(NULL).cast(DataType::Float64))
            .otherwise(
                actual()
                    .gt_eq(q(low))
                    .and(actual().lt_eq(q(high)))
                    .cast(DataType::Float64),
            )
    };
    cells.with_columns(filled).with_columns([
        when(q(0).is_null())
            .then(absolute(col(CELL_FORECAST) - actual()))
            .otherwise(crps)
            .alias(CELL_CRPS),
        inside(1, LEVELS - 2).alias(INSIDE_80),
        inside(0, LEVELS - 1).alias(INSIDE_90),
    ])
}

pub(crate) fn absolute(x: Expr) -> Expr {
    when(x.clone().lt(lit(0.0))).then(-x.clone()).otherwise(x)
}

/// Forecast, actual, WAPE, bias, CRPS over actual and the coverages of a
/// group of scored cells.
pub(crate) fn error_aggs() -> [Expr; 8] {
    [
        fixed_sum(col(CELL_FORECAST)).alias(FORECAST),
        fixed_sum(col(ACTUAL)).alias(ACTUAL),
        (fixed_sum(absolute(col(CELL_FORECAST) - col(ACTUAL))) / fixed_sum(col(ACTUAL)))
            .alias(WAPE),
        (fixed_sum(col(CELL_FORECAST) - col(ACTUAL)) / fixed_sum(col(ACTUAL))).alias(BIAS),
        (fixed_sum(col(CELL_CRPS)) / fixed_sum(col(ACTUAL))).alias(CRPS),
        col(INSIDE_80).mean().alias(COVERAGE_80),
        col(INSIDE_90).mean().alias(COVERAGE_90),
        len().cast(DataType::UInt64).alias(CELLS),
    ]
}
