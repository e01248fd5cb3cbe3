//! The stage-weighted forecast: per bucket and group, what has closed, the
//! open amounts by forecast category, and the weighted (expected) amount
//! and quantities.
use polars::prelude::*;
use quotecast_model::ForecastCategory;
use quotecast_pipeline::columns as col;

use crate::{
    ForecastError, ForecastSpec, WinRates,
    columns::{
        BUCKET, CATEGORY, COMPANY_RATE, CORRECTED, DEALS, IS_OPEN, IS_WON, KIND, LINES,
        OPPORTUNITIES, RATE, VALUE, WIN_RATE,
    },
    corrected::{deal_rows, expected_rows, needs_deal_rows, unit_rows},
    distinct::{OUT_OF_ORDER, counted_exactly, with_run_flags},
    frames::{collect_together, fixed_sum},
    new_deals::{EXPECTED_BOOKINGS, NEW_DEAL_QUANTITY, NEW_DEALS},
    prepare::{by_stage_outcome, prepared},
};

/// Result columns.
pub const CLOSED_WON: &str = "closed_won";
pub const WEIGHTED: &str = "weighted";
pub const EXPECTED_QUANTITY: &str = "expected_quantity";
pub const OPEN_QUANTITY: &str = "open_quantity";
pub const WON_QUANTITY: &str = "won_quantity";
const KIND_OPEN: u32 = 0;
const KIND_PAST_DUE: u32 = 1;
const KIND_WON: u32 = 2;
const KIND_LEFT_OUT: u32 = 3;
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
/// `won_quantity`, and with a correction whose calendar has new deals
/// `new_deal_quantity` (see [`crate::new_deals`]).
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
    fixed_sum(when(condition).then(value).otherwise(lit(0.0)))
}

/// The stage-weighted forecast of `snapshot` (see [`Forecast`]).
pub fn forecast(snapshot: LazyFrame, spec: &ForecastSpec) -> Result<Forecast, ForecastError> {
    forecast_from(snapshot, spec, None)
}

/// [`forecast`], with the snapshot's [`crate::corrected::expected_deal_rows`]
/// when the caller has them already.
pub(crate) fn forecast_from(
    snapshot: LazyFrame,
    spec: &ForecastSpec,
    expected_deal_rows: Option<LazyFrame>,
) -> Result<Forecast, ForecastError> {
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
    let (corrected, new_units) =
        corrected_plans(&lines, spec, &keys, &sku_keys, expected_deal_rows)?;
    let has_new_units = new_units.is_some();
    let mut plans = vec![crate::distinct::opportunity_runs(left_out), summed];
    plans.extend(corrected);
    plans.extend(new_units);
    let mut frames = crate::frames::collect_streaming(plans)?.into_iter();
    let left_out = frames.next().unwrap_or_default();
    let summed = frames.next().unwrap_or_default();
    let corrected = frames.next();
    let new_units = if has_new_units { frames.next() } else { None };

    let mut cell_keys = sku_keys.clone();
    cell_keys.push(col(KIND));
    let cells = crate::cells::looked_up(summed, spec)?
        .with_column(kind(col(crate::cells::PAST_DUE)))
        .group_by(cell_keys)
        .agg(cell_sums());
    let counted_kinds = Series::new("k".into(), [KIND_OPEN, KIND_PAST_DUE, KIND_WON]);
    let counted = cells
        .clone()
        .filter(col(KIND).is_in(lit(counted_kinds).implode(false), false));
    let amounts = amounts_plan(counted.clone(), &keys, corrected, spec.rates.scale);
    let quantities = quantities_plan(counted, sku_keys, new_units);
    let counts = cells.group_by([col(KIND)]).agg([
        sum_of(LINES),
        sum_of(DEALS).alias(OPPORTUNITIES),
        sum_of(NO_RATE),
        sum_of(OUT_OF_ORDER),
    ]);
    let mut frames = collect_together(vec![amounts, quantities, counts])?;
    let mut counts = Counts(frames.pop().unwrap_or_default());
    let quantities = frames.pop().unwrap_or_default();
    let mut amounts = frames.pop().unwrap_or_default();
    let out_of_order = counts.count(OUT_OF_ORDER, &[]);
    if out_of_order > 0 {
        // Not in opportunity order: count again by hashing the ids.
        let exact;
        (amounts, exact) = counted_exactly(amounts, counts.0, lines, &keys)?;
        counts = Counts(exact);
    }
    if counts.count(NO_RATE, &[]) > 0 {
        return Err(no_rate(spec));
    }
    let left_out = crate::distinct::counted_runs(&left_out, by_stage_outcome(snapshot, spec).1)?;
    Ok(Forecast {
        amounts,
        quantities,
        explanation: explanation(spec, rates, &counts, left_out, out_of_order == 0),
    })
}

/// The plans of the corrected amounts per cell of `keys` (without a
/// correction only `expected_bookings` and `new_deals`) and of the new
/// deals' units per cell of `sku_keys`, when the spec needs deal rows: the
/// corrected amounts from each deal's lines summed per cell before they
/// are spread over its slippage points (as the Monte Carlo draws them),
/// the new deals' units from the lines, whose shares of the points add up
/// to each line.
fn corrected_plans(
    lines: &LazyFrame,
    spec: &ForecastSpec,
    keys: &[Expr],
    sku_keys: &[Expr],
    expected_deal_rows: Option<LazyFrame>,
) -> Result<(Option<LazyFrame>, Option<LazyFrame>), ForecastError> {
    if !needs_deal_rows(spec) {
        return Ok((None, None));
    }
    let rows = match expected_deal_rows {
        Some(rows) => rows,
        None => expected_rows(deal_rows(lines.clone(), spec), spec)?,
    };
    let mut corrected = crate::corrected::corrected(rows, spec, keys)?;
    if spec.correction.is_none() {
        // Without a correction the rows' sum is `weighted` again.
        corrected = corrected.drop(cols([CORRECTED]));
    }
    let new_units =
        crate::new_deals::new_deal_quantities(unit_rows(lines.clone()), spec, sku_keys)?;
    Ok((Some(corrected), new_units))
}

/// The plan of the quantities per cell of `sku_keys` from the `counted`
/// cells, with the new deals' units (`new_units`) when given: units of
/// SKUs only new deals buy in a bucket get rows of their own.
fn quantities_plan(
    counted: LazyFrame,
    sku_keys: Vec<Expr>,
    new_units: Option<DataFrame>,
) -> LazyFrame {
    let quantities = counted
        .filter(col(col::SKU).is_not_null())
        .group_by(sku_keys.clone())
        .agg([
            fixed_sum_of(OPEN_QUANTITY),
            fixed_sum_of(EXPECTED_QUANTITY).round(2, RoundMode::HalfToEven),
            fixed_sum_of(WON_QUANTITY),
        ]);
    match new_units {
        Some(new_units) => quantities
            .join(
                new_units.lazy(),
                sku_keys.clone(),
                sku_keys.clone(),
                JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
            )
            .with_columns(
                [
                    OPEN_QUANTITY,
                    EXPECTED_QUANTITY,
                    WON_QUANTITY,
                    NEW_DEAL_QUANTITY,
                ]
                .map(|c| col(c).fill_null(lit(0.0))),
            ),
        None => quantities,
    }
    .sort_by_exprs(sku_keys, SortMultipleOptions::default())
}

fn sum_of(c: &str) -> Expr {
    col(c).sum().alias(c)
}

/// [`sum_of`] for float figures, the same whatever the cells' order.
fn fixed_sum_of(c: &str) -> Expr {
    fixed_sum(col(c)).alias(c)
}

/// Per cell of the result (bucket, group, SKU, kind): the counts and
/// every sum the amounts and quantities are made of.
fn cell_sums() -> Vec<Expr> {
    let open = col(IS_OPEN);
    let won = col(IS_WON);
    let quantity = col(col::QUANTITY);
    let mut sums = vec![
        sum_of(LINES),
        sum_of(DEALS),
        sum_of(OPPORTUNITIES),
        when(col(RATE).is_null())
            .then(col(LINES))
            .otherwise(lit(0u64))
            .sum()
            .alias(NO_RATE),
        sum_of(OUT_OF_ORDER),
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
    sums
}

/// The amounts per bucket and group from the counted cells, with the
/// corrected forecast beside them when there is one, money rounded to the
/// reporting currency's `scale`.
fn amounts_plan(
    counted: LazyFrame,
    keys: &[Expr],
    corrected: Option<DataFrame>,
    scale: u32,
) -> LazyFrame {
    let mut amount_sums = vec![sum_of(OPPORTUNITIES), fixed_sum_of(CLOSED_WON)];
    amount_sums.extend(OPEN_CATEGORIES.iter().map(|c| fixed_sum_of(c.name())));
    amount_sums.push(fixed_sum_of(WEIGHTED));
    let mut money: Vec<Expr> = [CLOSED_WON, WEIGHTED]
        .into_iter()
        .chain(OPEN_CATEGORIES.iter().map(|c| c.name()))
        .map(|c| col(c).round(scale, RoundMode::HalfToEven))
        .collect();
    let mut amounts = counted.group_by(keys).agg(amount_sums);
    if let Some(corrected) = corrected {
        // Slippage may move value into buckets the raw forecast has not.
        let mut filled: Vec<Expr> = [OPPORTUNITIES, CLOSED_WON, WEIGHTED]
            .into_iter()
            .chain(OPEN_CATEGORIES.iter().map(|c| c.name()))
            .map(|c| col(c).fill_null(lit(0)))
            .collect();
        // `corrected` is there with a correction; new deals may be without.
        let added: Vec<&str> = [CORRECTED, NEW_DEALS, EXPECTED_BOOKINGS]
            .into_iter()
            .filter(|c| corrected.column(c).is_ok())
            .collect();
        for c in &added {
            filled.push(col(*c).fill_null(lit(0.0)));
        }
        amounts = amounts
            .join(
                corrected.lazy(),
                keys.to_vec(),
                keys.to_vec(),
                JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
            )
            .with_columns(filled);
        for c in added {
            money.push(col(c).round(scale, RoundMode::HalfToEven));
        }
    }
    amounts
        .with_columns(money)
        .sort_by_exprs(keys, SortMultipleOptions::default())
}

/// Per kind of deal: lines, opportunities, lines without a currency rate
/// and rows out of opportunity order.
struct Counts(DataFrame);

impl Counts {
    /// The sum of `column` over the `kinds` given (all when empty).
    fn count(&self, column: &str, kinds: &[u32]) -> u64 {
        let (Ok(kind), Ok(values)) = (
            self.0.column(KIND),
            self.0
                .column(column)
                .and_then(|c| c.cast(&DataType::UInt64)),
        ) else {
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
    }
}

fn no_rate(spec: &ForecastSpec) -> ForecastError {
    let known: Vec<&str> = spec
        .rates
        .per_reporting
        .iter()
        .map(|r| r.0.as_str())
        .collect();
    ForecastError::NoRate(format!(
        "of the snapshot (rates are known for {})",
        known.join(", ")
    ))
}

/// How the figures were reached, from the counts per kind of deal and the
/// (lines, opportunities) left out by stage.
fn explanation(
    spec: &ForecastSpec,
    rates: Vec<(String, f64)>,
    counts: &Counts,
    (left_out_lines, left_out): (u64, u64),
    in_opportunity_order: bool,
) -> Explanation {
    Explanation {
        lines: counts.count(LINES, &[]) + left_out_lines,
        open_opportunities: counts.count(OPPORTUNITIES, &[KIND_OPEN, KIND_PAST_DUE]),
        past_due_moved: counts.count(OPPORTUNITIES, &[KIND_PAST_DUE]),
        won_opportunities: counts.count(OPPORTUNITIES, &[KIND_WON]),
        // Lost deals, and open or won ones their owners marked omitted.
        left_out_opportunities: left_out + counts.count(OPPORTUNITIES, &[KIND_LEFT_OUT]),
        in_opportunity_order,
        win_rate_source: match &spec.win_rates {
            WinRates::StageDefaults => "the rules' stage defaults".into(),
            WinRates::Calibrated(c) => format!(
                "calibrated from {} stage entries ({} decided, the rest counted for the days they have been open), weighted by age (half-life {} days), per team and band of days in stage, shrunk to the company rate with prior strength {}; company rates on entering shown",
                c.stage_entries,
                c.decided_entries,
                crate::calibrate::RATE_HALF_LIFE_DAYS,
                strengths_said(&c.prior_strength)
            ),
        },
        win_rates: match &spec.win_rates {
            WinRates::StageDefaults => rates,
            WinRates::Calibrated(c) => company_rates(c, rates),
        },
    }
}

/// The prior strengths as the forecast says them: one number when every
/// stage has the same, else per stage (in pseudo-entries).
fn strengths_said(s: &crate::Strengths) -> String {
    if s.by_stage.is_empty()
        || s.by_stage
            .iter()
            .all(|(_, k)| (k - s.otherwise).abs() < 0.05)
    {
        return format!("{:.1}", s.otherwise);
    }
    let per_stage: Vec<String> = s
        .by_stage
        .iter()
        .map(|(stage, k)| format!("{stage} {k:.1}"))
        .collect();
    format!("per stage ({})", per_stage.join(", "))
}

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
