//! Applying a learned [`Correction`] to a snapshot's lines: each open
//! line's win probability times its close-date factor (see
//! [`crate::close_dates`]), its value times its team's accuracy factor,
//! spread over
//! the slippage points of its team and stage (see [`crate::slippage`]:
//! each moves the expected close by its shift, never before the forecast
//! date) and times its team's calendar
//! factor for the horizon it lands in; won lines count as booked.
use polars::prelude::*;
use quotecast_pipeline::columns as col;

use crate::{
    Correction, ForecastSpec,
    close_dates::adjusted_probability,
    columns::{
        BUCKET, CALENDAR_FACTOR, CLOSE, COMPANY, COMPANY_RATIO, CORRECTED, DEAL, FACTOR, HORIZON,
        IF_WON, IS_OPEN, IS_WON, POINT, PROBABILITY, SHARE, SHIFT_DAYS, VALUE, WIN_RATE,
    },
    frames::{first_float, fixed_sum},
    prepare::{DEAL_COLUMNS, by_stage_outcome, deal_lines, horizon_of, prepared},
    realisation::{AMOUNT_FACTOR, with_amount_factor},
    slippage::{Anchor, SLIP_ANCHOR, anchored_at, quarter_end, with_slip_points},
};

/// The company's ratio, for teams the correction has not seen.
fn company_ratio(correction: &Correction) -> f64 {
    first_float(&correction.accuracy, COMPANY_RATIO).unwrap_or(1.0)
}

/// One row per open line and slippage point (and one per won line) with
/// its bucket after slippage, [`PROBABILITY`], [`IF_WON`] and [`SHARE`].
/// Without a correction, one row per line in its own bucket.
pub(crate) fn expected_rows(lines: LazyFrame, spec: &ForecastSpec) -> PolarsResult<LazyFrame> {
    let won = lines.clone().filter(col(IS_WON)).with_columns([
        lit(1.0).alias(PROBABILITY),
        col(VALUE).alias(IF_WON),
        lit(1.0).alias(SHARE),
        lit(0u32).cast(DataType::UInt32).alias(POINT),
        lit(1.0).alias(AMOUNT_FACTOR),
    ]);
    let open = lines.filter(col(IS_OPEN));
    let Some(correction) = &spec.correction else {
        let open = match &spec.timing {
            // Without a correction, the closes its stage entries teach,
            // counted from the forecast date.
            Some(points) => slipped(open, &anchored_at(points, Anchor::ForecastDate)?, spec)
                .with_column(spec.bucket_of(col(CLOSE)).alias(BUCKET)),
            None => open.with_columns([
                lit(1.0).alias(SHARE),
                lit(0u32).cast(DataType::UInt32).alias(POINT),
            ]),
        };
        // What stated amounts book, learned from the deals won lately.
        let open = with_amount_factor(open, spec.amount_factors.as_ref()).with_columns([
            col(WIN_RATE).alias(PROBABILITY),
            (col(VALUE) * col(AMOUNT_FACTOR)).alias(IF_WON),
        ]);
        let keep = columns(won.clone())?;
        return concat([won, open.select(keep)], UnionArgs::default());
    };
    let factors = correction
        .accuracy
        .clone()
        .lazy()
        .select([col(col::TEAM), col(FACTOR)]);
    let open = open.join(
        factors,
        [col(col::TEAM)],
        [col(col::TEAM)],
        JoinArgs::new(JoinType::Left),
    );
    let open = slipped(open, &correction.slip_points, spec).with_columns([
        spec.bucket_of(col(CLOSE)).alias(BUCKET),
        adjusted_probability().alias(PROBABILITY),
        (col(VALUE) * col(FACTOR).fill_null(lit(company_ratio(correction)))).alias(IF_WON),
        lit(1.0).alias(AMOUNT_FACTOR),
    ]);
    let open = with_calendar(open, spec, correction);
    let keep = columns(won.clone())?;
    concat([won, open.select(keep)], UnionArgs::default())
}

/// Whether the forecast of `spec` has corrected amounts, new deals or
/// learned timing: those are summed from [`expected_deal_rows`].
pub(crate) fn needs_deal_rows(spec: &ForecastSpec) -> bool {
    spec.correction.is_some() || spec.new_deal_history.is_some() || spec.timing.is_some()
}

/// The snapshot's deal rows spread over their slippage points
/// ([`expected_rows`] of [`deal_rows`]), collected: the corrected forecast
/// and the Monte Carlo of one job both start from them.
pub fn expected_deal_rows(
    snapshot: LazyFrame,
    spec: &ForecastSpec,
) -> Result<DataFrame, crate::ForecastError> {
    // Lost deals' lines are left out first (the stage filter goes down
    // into a Parquet reader).
    let (counted, _) = by_stage_outcome(snapshot, spec);
    let groups: Vec<&str> = spec.group_by.iter().map(|d| d.column()).collect();
    let (lines, _) = prepared(deal_lines(counted, &groups), spec)?;
    Ok(expected_rows(deal_rows(lines, spec), spec)?.collect()?)
}

/// The open and won `lines` summed per deal and whatever else the
/// trials tell lines apart by (cell keys, close day, win rate), before
/// they are spread over the slippage points: a deal has several lines,
/// and each would otherwise be spread and grouped on its own.
pub(crate) fn deal_rows(lines: LazyFrame, spec: &ForecastSpec) -> LazyFrame {
    let mut names = DEAL_COLUMNS.to_vec();
    names.extend([IS_OPEN, IS_WON]);
    for dimension in &spec.group_by {
        if !names.contains(&dimension.column()) {
            names.push(dimension.column());
        }
    }
    let rows = lines
        .filter(col(IS_OPEN).or(col(IS_WON)))
        .group_by(names.into_iter().map(col).collect::<Vec<_>>())
        .agg([fixed_sum(col(VALUE)).alias(VALUE)]);
    numbered_deals(rows)
}

/// `rows` with [`DEAL`], each opportunity's number in the order of their
/// ids: rows of one deal share it, and the trials' plan groups and sorts
/// on it instead of the ids' text (a sort of the deals here, not of
/// every slippage point's row there).
pub(crate) fn numbered_deals(rows: LazyFrame) -> LazyFrame {
    let id = col(col::OPPORTUNITY_ID);
    rows.sort([col::OPPORTUNITY_ID], SortMultipleOptions::default())
        .with_column(
            id.clone()
                .neq_missing(id.shift(lit(1)))
                .cum_sum(false)
                .cast(DataType::UInt32)
                .alias(DEAL),
        )
}

/// The open and won `lines` as [`crate::new_deals::new_deal_quantities`]
/// weighs them: each line's win probability (1 when won) and all of its
/// value ([`SHARE`] 1), not spread over slippage points, whose shares
/// add up to the line.
pub(crate) fn unit_rows(lines: LazyFrame) -> LazyFrame {
    lines.filter(col(IS_OPEN).or(col(IS_WON))).with_columns([
        when(col(IS_WON))
            .then(lit(1.0))
            .otherwise(adjusted_probability())
            .alias(PROBABILITY),
        lit(1.0).alias(SHARE),
    ])
}

/// The names of `frame`'s columns, as expressions.
fn columns(mut frame: LazyFrame) -> PolarsResult<Vec<Expr>> {
    let schema = frame.collect_schema()?;
    Ok(schema.iter_names().map(|n| col(n.clone())).collect())
}

/// Open rows spread over the slippage `points` (see
/// [`crate::slippage`]), each point's close shifted from the stated close
/// or from the forecast date, never before the forecast date.
fn slipped(open: LazyFrame, points: &DataFrame, spec: &ForecastSpec) -> LazyFrame {
    let as_of = lit(spec.as_of).cast(DataType::Date);
    // A level's shifts count from the stated close, from the forecast
    // date where its stage's timing did not follow the owners' dates, or
    // from the quarter's end where deals wait for it.
    let anchored = |anchor: Anchor| col(SLIP_ANCHOR).eq(lit(anchor.code()));
    // The quarters won deals bunched at the ends of (the rules' fiscal
    // year's unless the history showed another's).
    let quarter_ends = spec
        .correction
        .as_ref()
        .map_or(spec.fiscal_year, |c| c.quarter_ends.year);
    let anchor = when(anchored(Anchor::ForecastDate))
        .then(as_of.clone())
        .when(anchored(Anchor::QuarterEnd))
        .then(quarter_end(as_of.clone(), quarter_ends))
        .otherwise(col(CLOSE));
    let shifted =
        (anchor.cast(DataType::Int32) + col(SHIFT_DAYS).cast(DataType::Int32)).cast(DataType::Date);
    with_slip_points(open, points, col(CLOSE), as_of.clone()).with_column(
        when(shifted.clone().lt(as_of.clone()))
            .then(as_of)
            .otherwise(shifted)
            .alias(CLOSE),
    )
}

/// Open rows' value if won times the calendar factor of their team (else
/// the company's) for the horizon their bucket is at.
fn with_calendar(open: LazyFrame, spec: &ForecastSpec, correction: &Correction) -> LazyFrame {
    let calendar = &correction.calendar;
    if calendar.height() == 0 {
        return open;
    }
    let factors =
        calendar
            .clone()
            .lazy()
            .select([col(col::TEAM), col(HORIZON), col(CALENDAR_FACTOR)]);
    let company = factors
        .clone()
        .filter(col(col::TEAM).eq(lit(COMPANY)))
        .select([
            col(HORIZON),
            col(CALENDAR_FACTOR).alias("__company_calendar"),
        ]);
    let keys = [col(col::TEAM), col(HORIZON)];
    open.with_column(horizon_of(spec))
        .join(factors, keys.clone(), keys, JoinArgs::new(JoinType::Left))
        .join(
            company,
            [col(HORIZON)],
            [col(HORIZON)],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(
            (col(IF_WON)
                * col(CALENDAR_FACTOR)
                    .fill_null(col("__company_calendar"))
                    .fill_null(lit(1.0)))
            .alias(IF_WON),
        )
}

/// The corrected expected amount per `keys` from the [`expected_rows`]
/// `rows`: booked amounts plus open rows' probability times value if won
/// times share; with what deals not yet in the pipeline add (see
/// [`crate::new_deals`]).
pub(crate) fn corrected(
    rows: LazyFrame,
    spec: &ForecastSpec,
    keys: &[Expr],
) -> PolarsResult<LazyFrame> {
    let corrected = rows
        .clone()
        .group_by(keys)
        .agg([fixed_sum(col(PROBABILITY) * col(IF_WON) * col(SHARE)).alias(CORRECTED)]);
    crate::new_deals::with_new_deals(corrected, rows, spec, keys)
}

/// Columns of [`demand_lines`].
pub const CLOSE_DATE: &str = "close_date";
pub const QUANTITY_IF_WON: &str = "quantity_if_won";
pub const AMOUNT_IF_WON: &str = "amount_if_won";
pub const WIN_PROBABILITY: &str = "probability";
pub const SLIP_POINT: &str = "point";
pub const SLIP_POINTS_OF_DEAL: &str = "points";

/// What the demand roll-down needs of a snapshot: one row per open line
/// and slippage point (and one per won line) with the opportunity, its
/// account, the line's product line and SKU, the quantity and the amount
/// (corporate currency) it books if won (times its team's accuracy
/// factor when the spec has a correction, as the corrected forecast's
/// amounts are),
/// the day it is expected after slippage ([`CLOSE_DATE`], never before the
/// forecast date for open deals), its deal's win probability, and which
/// of its deal's equally likely slippage points the row is, and its team,
/// stage and [`HORIZON`] (the buckets of `spec` from the one holding the
/// forecast date: with the team, the shocks its value is drawn with, see
/// [`crate::ShockModel`]).
pub fn demand_lines(
    snapshot: LazyFrame,
    spec: &ForecastSpec,
) -> Result<DataFrame, crate::ForecastError> {
    let (lines, _) = prepared(snapshot, spec)?;
    // Units scale with the team's accuracy factor, not with what its
    // stated amounts book at (a price, not a count).
    let factor = when(col(VALUE).gt(lit(0.0)))
        .then(col(IF_WON) / (col(VALUE) * col(AMOUNT_FACTOR)))
        .otherwise(lit(1.0));
    Ok(expected_rows(lines, spec)?
        .select([
            col(col::OPPORTUNITY_ID),
            col(col::ACCOUNT),
            col(col::PRODUCT_LINE),
            col(col::SKU),
            (col(col::QUANTITY).cast(DataType::Float64) * factor).alias(QUANTITY_IF_WON),
            col(IF_WON).alias(AMOUNT_IF_WON),
            col(CLOSE).alias(CLOSE_DATE),
            col(col::TEAM),
            col(col::STAGE),
            horizon_of(spec).cast(DataType::Int32),
            col(PROBABILITY).alias(WIN_PROBABILITY),
            col(POINT).alias(SLIP_POINT),
            (lit(1.0) / col(SHARE))
                .round(0, RoundMode::HalfToEven)
                .cast(DataType::UInt32)
                .alias(SLIP_POINTS_OF_DEAL),
        ])
        .sort(
            [col::OPPORTUNITY_ID, SLIP_POINT, col::SKU],
            SortMultipleOptions::default(),
        )
        .collect()?)
}
