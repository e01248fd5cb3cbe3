//! The stage-weighted forecast: per bucket and group, what has closed, the
//! open amounts by forecast category, and the weighted (expected) amount
//! and quantities.
use polars::prelude::*;
use quotecast_model::{ForecastCategory, StageOutcome};
use quotecast_pipeline::columns as col;

use crate::{
    ForecastError, ForecastSpec, WinRates,
    calibrate::{CALIBRATED, COMPANY_RATE, STALE_FACTOR},
    corrected::CORRECTED,
    distinct::{OUT_OF_ORDER, counted_exactly, with_run_flags},
};

/// Result columns.
pub const BUCKET: &str = "bucket";
pub const OPPORTUNITIES: &str = "opportunities";
pub const CLOSED_WON: &str = "closed_won";
pub const WEIGHTED: &str = "weighted";
pub const EXPECTED_QUANTITY: &str = "expected_quantity";
pub const OPEN_QUANTITY: &str = "open_quantity";
pub const WON_QUANTITY: &str = "won_quantity";
pub(crate) const WIN_RATE: &str = "__win_rate";
pub(crate) const CATEGORY: &str = "__category";
pub(crate) const RATE: &str = "__rate";
pub(crate) const VALUE: &str = "__value";
pub(crate) const IS_OPEN: &str = "__open";
pub(crate) const IS_WON: &str = "__won";
/// The day an open deal is expected to close (not before the forecast
/// date), or a won deal closed.
pub(crate) const CLOSE: &str = "__close";
pub(crate) const LIMIT: &str = "__limit";
/// What an opportunity is to the explanation's counts.
pub(crate) const KIND: &str = "__kind";
const KIND_OPEN: u32 = 0;
const KIND_PAST_DUE: u32 = 1;
const KIND_WON: u32 = 2;
const KIND_LEFT_OUT: u32 = 3;
/// Per-cell sums of the one pass over the snapshot.
pub(crate) const LINES: &str = "lines";
pub(crate) const DEALS: &str = "__deals";
const NO_RATE: &str = "__no_rate";

/// How the figures were reached.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub lines: u64,
    pub open_opportunities: u64,
    /// Open opportunities whose expected close date had passed, counted in
    /// the bucket holding the forecast date.
    pub past_due_moved: u64,
    /// Won opportunities in the snapshot, counted at their close date.
    pub won_opportunities: u64,
    /// Lost or omitted opportunities, left out.
    pub left_out_opportunities: u64,
    /// The win rate used per stage, in funnel order, 0 to 1.
    pub win_rates: Vec<(String, f64)>,
    pub win_rate_source: String,
    /// Whether the rows came in opportunity order, so that opportunities
    /// were counted by runs of rows (else by hashing their ids).
    pub in_opportunity_order: bool,
}

/// A forecast: per bucket and group, `opportunities`, `closed_won`, one
/// column per open forecast category (`commit`, `best_case`, `pipeline`:
/// amounts of open deals in that category, not cumulative) and
/// `weighted` (each open amount times its win rate, plus closed won); all
/// in the reporting currency. `quantities` has, per bucket, group and SKU,
/// `open_quantity`, `expected_quantity` (quantity times win rate) and
/// `won_quantity`.
#[derive(Debug, Clone)]
pub struct Forecast {
    pub amounts: DataFrame,
    pub quantities: DataFrame,
    pub explanation: Explanation,
}

/// The open forecast categories, most certain first, as result columns.
pub const OPEN_CATEGORIES: [ForecastCategory; 3] = [
    ForecastCategory::Commit,
    ForecastCategory::BestCase,
    ForecastCategory::Pipeline,
];

/// The rules' default win rate per stage, 0 to 1.
pub(crate) fn win_rates(spec: &ForecastSpec) -> Vec<(String, f64)> {
    spec.stages
        .iter()
        .map(|s| {
            let percent: f64 = s.win_rate.0.try_into().unwrap_or(0.0);
            (s.id.clone(), percent / 100.0)
        })
        .collect()
}

/// Replaces the default win rate by the calibrated one where history has
/// it, lowered for deals past their stage's time limit.
pub(crate) fn calibrated(lines: LazyFrame, spec: &ForecastSpec, stale: Expr) -> LazyFrame {
    let WinRates::Calibrated(rates) = &spec.win_rates else {
        return lines;
    };
    let team_rates =
        rates
            .table
            .clone()
            .lazy()
            .select([col(col::TEAM), col(col::STAGE), col(CALIBRATED)]);
    let company = rates
        .table
        .clone()
        .lazy()
        .group_by([col(col::STAGE)])
        .agg([col(COMPANY_RATE).first(), col(STALE_FACTOR).first()]);
    lines
        .join(
            team_rates,
            [col(col::TEAM), col(col::STAGE)],
            [col(col::TEAM), col(col::STAGE)],
            JoinArgs::new(JoinType::Left),
        )
        .join(
            company,
            [col(col::STAGE)],
            [col(col::STAGE)],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(
            (col(CALIBRATED)
                .fill_null(col(COMPANY_RATE))
                .fill_null(col(WIN_RATE))
                * when(stale)
                    .then(col(STALE_FACTOR).fill_null(lit(1.0)))
                    .otherwise(lit(1.0)))
            .alias(WIN_RATE),
        )
}

/// The funnel as a small frame to join on: stage, win rate, category and
/// whether it is open or won.
fn stage_frame(spec: &ForecastSpec, rates: &[(String, f64)]) -> PolarsResult<DataFrame> {
    let stages = &spec.stages;
    DataFrame::new(
        stages.len(),
        vec![
            Column::new(
                col::STAGE.into(),
                stages.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                WIN_RATE.into(),
                rates.iter().map(|r| r.1).collect::<Vec<_>>(),
            ),
            Column::new(
                CATEGORY.into(),
                stages.iter().map(|s| s.category.name()).collect::<Vec<_>>(),
            ),
            Column::new(
                IS_OPEN.into(),
                stages.iter().map(|s| s.is_open()).collect::<Vec<_>>(),
            ),
            Column::new(
                LIMIT.into(),
                stages
                    .iter()
                    .map(|s| s.time_limit_days.map(i64::from))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                IS_WON.into(),
                stages
                    .iter()
                    .map(|s| s.outcome == Some(StageOutcome::Won))
                    .collect::<Vec<_>>(),
            ),
        ],
    )
}

/// The snapshot's lines with, per line: the win rate, the effective
/// forecast category, whether the deal is open or won, its value in the
/// reporting currency, and its bucket.
pub(crate) fn prepared(
    snapshot: LazyFrame,
    spec: &ForecastSpec,
) -> Result<(LazyFrame, Vec<(String, f64)>), ForecastError> {
    if spec.stages.is_empty() {
        return Err(ForecastError::NoStages);
    }
    let rates = win_rates(spec);
    let as_of = lit(spec.as_of).cast(DataType::Date);
    let close = when(col(IS_OPEN).and(col(col::EXPECTED_CLOSE).lt(as_of.clone())))
        .then(as_of)
        .otherwise(col(col::EXPECTED_CLOSE));
    let frame = with_funnel_and_rates(snapshot, spec, &rates)?
        .with_columns([
            (col(col::AMOUNT).cast(DataType::Float64) / col(RATE)).alias(VALUE),
            close.alias(CLOSE),
        ])
        .with_column(
            col(CLOSE)
                .dt()
                .truncate(lit(spec.bucket.every()))
                .alias(BUCKET),
        );
    Ok((
        calibrated(frame, spec, crate::cells::past_time_limit(spec)),
        rates,
    ))
}

/// `frame` (snapshot rows, or cells of them) with what the funnel says of
/// its stage (win rate, open, won, time limit), its currency's [`RATE`],
/// and [`CATEGORY`]: the row's forecast-category override, else its
/// stage's. A row its owner marked `omitted` is neither open nor won: it
/// is left out like a lost one.
pub(crate) fn with_funnel_and_rates(
    frame: LazyFrame,
    spec: &ForecastSpec,
    rates: &[(String, f64)],
) -> PolarsResult<LazyFrame> {
    let stages = stage_frame(spec, rates)?;
    let fx = fx_frame(spec)?;
    Ok(frame
        .join(
            stages.lazy(),
            [col(col::STAGE)],
            [col(col::STAGE)],
            JoinArgs::new(JoinType::Left),
        )
        .join(
            fx.lazy(),
            [col(col::CURRENCY)],
            [col(col::CURRENCY)],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(
            col(col::FORECAST_CATEGORY)
                .fill_null(col(CATEGORY))
                .alias(CATEGORY),
        )
        .with_columns(
            // An owner's `omitted` takes the deal out of the forecast.
            [IS_OPEN, IS_WON].map(|flag| {
                col(flag)
                    .and(col(CATEGORY).neq(lit(ForecastCategory::Omitted.name())))
                    .alias(flag)
            }),
        ))
}

/// Units of each currency per unit of the reporting currency, to join on
/// `currency`.
pub(crate) fn fx_frame(spec: &ForecastSpec) -> PolarsResult<DataFrame> {
    let fx = &spec.rates.per_reporting;
    DataFrame::new(
        fx.len(),
        vec![
            Column::new(
                col::CURRENCY.into(),
                fx.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(RATE.into(), fx.iter().map(|r| r.1).collect::<Vec<_>>()),
        ],
    )
}

/// The snapshot's rows of open and won deals, and those of the rest (lost,
/// or in a stage the funnel does not have).
fn by_stage_outcome(snapshot: LazyFrame, spec: &ForecastSpec) -> (LazyFrame, LazyFrame) {
    let counted: Vec<&str> = spec
        .stages
        .iter()
        .filter(|s| s.is_open() || s.outcome == Some(StageOutcome::Won))
        .map(|s| s.id.as_str())
        .collect();
    let in_forecast = col(col::STAGE)
        .is_in(
            lit(Series::new("stages".into(), counted)).implode(false),
            false,
        )
        .fill_null(lit(false));
    (
        snapshot.clone().filter(in_forecast.clone()),
        snapshot.filter(in_forecast.not()),
    )
}

fn as_of(spec: &ForecastSpec) -> Expr {
    lit(spec.as_of).cast(DataType::Date)
}

/// What a row or cell is to the explanation's counts, as [`KIND`].
fn kind(past_due: Expr) -> Expr {
    let open = col(IS_OPEN);
    when(open.clone().and(past_due))
        .then(lit(KIND_PAST_DUE))
        .when(open)
        .then(lit(KIND_OPEN))
        .when(col(IS_WON))
        .then(lit(KIND_WON))
        .otherwise(lit(KIND_LEFT_OUT))
        .cast(DataType::UInt32)
        .alias(KIND)
}

fn sum_where(condition: Expr, value: Expr) -> Expr {
    when(condition).then(value).otherwise(lit(0.0)).sum()
}

/// The stage-weighted forecast of `snapshot` (see [`Forecast`]).
pub fn forecast(snapshot: LazyFrame, spec: &ForecastSpec) -> Result<Forecast, ForecastError> {
    // Lost deals are only counted: the stage filter goes down into the
    // Parquet reader, which skips their rows in the other columns; whole
    // opportunities stay together, so runs of rows stay runs.
    let (counted, left_out) = by_stage_outcome(snapshot.clone(), spec);
    let rows = with_run_flags(counted, spec);
    let mut keys = vec![col(BUCKET)];
    keys.extend(spec.group_by.iter().map(|d| col(d.column())));
    let mut sku_keys = keys.clone();
    if !spec.group_by.contains(&crate::Dimension::Sku) {
        sku_keys.push(col(col::SKU));
    }
    // One pass over the snapshot into cells (see `cells`); per cell of the
    // result (bucket, group, SKU and kind of deal) every sum the amounts,
    // quantities and counts are made of is then taken from those.
    let summed = crate::cells::summed(rows.clone(), spec, &sku_keys[1..]);
    let (lines, rates) = prepared(rows, spec)?;
    let lines = lines.with_column(kind(col(col::EXPECTED_CLOSE).lt(as_of(spec))));
    let corrected = match spec.correction {
        Some(_) => Some(crate::corrected::corrected(lines.clone(), spec, &keys)?),
        None => None,
    };
    let mut plans = vec![crate::distinct::opportunity_runs(left_out), summed];
    plans.extend(corrected);
    let mut frames = crate::collect_streaming(plans)?.into_iter();
    let left_out = frames.next().unwrap_or_default();
    let summed = frames.next().unwrap_or_default();
    let corrected = frames.next();

    let open = col(IS_OPEN);
    let won = col(IS_WON);
    let mut cell_keys = sku_keys.clone();
    cell_keys.push(col(KIND));
    let quantity = col(col::QUANTITY);
    let mut sums = vec![
        sum_where(won.clone(), col(VALUE)).alias(CLOSED_WON),
        (sum_where(open.clone(), col(VALUE) * col(WIN_RATE)) + sum_where(won.clone(), col(VALUE)))
            .alias(WEIGHTED),
        sum_where(open.clone(), quantity.clone()).alias(OPEN_QUANTITY),
        sum_where(open.clone(), quantity.clone() * col(WIN_RATE)).alias(EXPECTED_QUANTITY),
        sum_where(won, quantity).alias(WON_QUANTITY),
    ];
    for category in OPEN_CATEGORIES {
        sums.push(
            sum_where(
                open.clone().and(col(CATEGORY).eq(lit(category.name()))),
                col(VALUE),
            )
            .alias(category.name()),
        );
    }
    let total = |c: &str| col(c).sum().alias(c);
    let mut cell_aggs = vec![
        total(LINES),
        total(DEALS),
        total(OPPORTUNITIES),
        when(col(RATE).is_null())
            .then(col(LINES))
            .otherwise(lit(0u64))
            .sum()
            .alias(NO_RATE),
        total(OUT_OF_ORDER),
    ];
    cell_aggs.extend(sums);
    let cells = crate::cells::looked_up(summed, spec)?
        .with_column(kind(col(crate::cells::PAST_DUE)))
        .group_by(cell_keys)
        .agg(cell_aggs);

    let counted_kinds = Series::new("k".into(), [KIND_OPEN, KIND_PAST_DUE, KIND_WON]);
    let counted = cells
        .clone()
        .filter(col(KIND).is_in(lit(counted_kinds).implode(false), false));
    let sum_of = |c: &str| col(c).sum().alias(c);
    let mut amount_sums = vec![sum_of(OPPORTUNITIES), sum_of(CLOSED_WON)];
    amount_sums.extend(OPEN_CATEGORIES.iter().map(|c| sum_of(c.name())));
    amount_sums.push(sum_of(WEIGHTED));
    let scale = spec.rates.scale;
    let mut money: Vec<Expr> = [CLOSED_WON, WEIGHTED]
        .into_iter()
        .chain(OPEN_CATEGORIES.iter().map(|c| c.name()))
        .map(|c| col(c).round(scale, RoundMode::HalfToEven))
        .collect();
    let mut amounts = counted.clone().group_by(keys.clone()).agg(amount_sums);
    if let Some(corrected) = corrected {
        // Slippage may move value into buckets the raw forecast has not.
        let mut filled: Vec<Expr> = [OPPORTUNITIES, CLOSED_WON, WEIGHTED]
            .into_iter()
            .chain(OPEN_CATEGORIES.iter().map(|c| c.name()))
            .map(|c| col(c).fill_null(lit(0)))
            .collect();
        filled.push(col(CORRECTED).fill_null(lit(0.0)));
        amounts = amounts
            .join(
                corrected.lazy(),
                keys.clone(),
                keys.clone(),
                JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
            )
            .with_columns(filled);
        money.push(col(CORRECTED).round(scale, RoundMode::HalfToEven));
    }
    let amounts = amounts
        .with_columns(money)
        .sort_by_exprs(keys.clone(), SortMultipleOptions::default());
    let quantities = counted
        .filter(col(col::SKU).is_not_null())
        .group_by(sku_keys.clone())
        .agg([
            sum_of(OPEN_QUANTITY),
            sum_of(EXPECTED_QUANTITY).round(2, RoundMode::HalfToEven),
            sum_of(WON_QUANTITY),
        ])
        .sort_by_exprs(sku_keys, SortMultipleOptions::default());
    let counts = cells.group_by([col(KIND)]).agg([
        sum_of(LINES),
        sum_of(DEALS).alias("opportunities"),
        sum_of(NO_RATE),
        sum_of(OUT_OF_ORDER),
    ]);
    let mut frames = crate::collect_together(vec![amounts, quantities, counts])?;
    let mut counts = frames.pop().unwrap_or_default();
    let quantities = frames.pop().unwrap_or_default();
    let mut amounts = frames.pop().unwrap_or_default();
    let out_of_order = counts
        .column(OUT_OF_ORDER)
        .ok()
        .and_then(|c| c.as_materialized_series().sum::<u64>().ok())
        .unwrap_or(0);
    if out_of_order > 0 {
        // Not in opportunity order: count again by hashing the ids.
        (amounts, counts) = counted_exactly(amounts, counts, lines, &keys)?;
    }
    let (left_out_lines, left_out) =
        crate::distinct::counted_runs(&left_out, by_stage_outcome(snapshot, spec).1)?;
    let count = |column: &str, kinds: &[u32]| -> u64 {
        let (Ok(kind), Ok(values)) = (counts.column(KIND), counts.column(column)) else {
            return 0;
        };
        let (Ok(kind), Ok(values)) = (kind.u32(), values.u64()) else {
            return 0;
        };
        kind.iter()
            .zip(values.iter())
            .filter(|(k, _)| kinds.is_empty() || k.is_some_and(|k| kinds.contains(&k)))
            .map(|(_, v)| v.unwrap_or(0))
            .sum()
    };
    if count(NO_RATE, &[]) > 0 {
        let known: Vec<&str> = spec
            .rates
            .per_reporting
            .iter()
            .map(|r| r.0.as_str())
            .collect();
        return Err(ForecastError::NoRate(format!(
            "of the snapshot (rates are known for {})",
            known.join(", ")
        )));
    }
    Ok(Forecast {
        amounts,
        quantities,
        explanation: Explanation {
            lines: count(LINES, &[]) + left_out_lines,
            open_opportunities: count("opportunities", &[KIND_OPEN, KIND_PAST_DUE]),
            past_due_moved: count("opportunities", &[KIND_PAST_DUE]),
            won_opportunities: count("opportunities", &[KIND_WON]),
            // Lost deals, and open or won ones their owners marked omitted.
            left_out_opportunities: left_out + count("opportunities", &[KIND_LEFT_OUT]),
            in_opportunity_order: out_of_order == 0,
            win_rate_source: match &spec.win_rates {
                WinRates::StageDefaults => "the rules' stage defaults".into(),
                WinRates::Calibrated(c) => format!(
                    "calibrated from {} matured stage entries, per team, shrunk to the company rate with prior strength {:.1}; company rates shown; deals past the stage's time limit times its stale factor",
                    c.matured_entries, c.prior_strength
                ),
            },
            win_rates: match &spec.win_rates {
                WinRates::StageDefaults => rates,
                WinRates::Calibrated(c) => company_rates(c, rates),
            },
        },
    })
}

/// The company's calibrated rate per stage, in funnel order; stages the
/// history lacks keep the rules' default.
fn company_rates(c: &crate::CalibratedRates, defaults: Vec<(String, f64)>) -> Vec<(String, f64)> {
    let stages = c
        .table
        .column(col::STAGE)
        .ok()
        .and_then(|s| s.str().ok().cloned());
    let company = c
        .table
        .column(COMPANY_RATE)
        .ok()
        .and_then(|s| s.f64().ok().cloned());
    let (Some(stages), Some(company)) = (stages, company) else {
        return defaults;
    };
    defaults
        .into_iter()
        .map(|(stage, default)| {
            let found = stages
                .iter()
                .zip(company.iter())
                .find(|(s, _)| *s == Some(stage.as_str()))
                .and_then(|(_, r)| r);
            (stage, found.unwrap_or(default))
        })
        .collect()
}
