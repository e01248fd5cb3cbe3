//! The funnel: per team and stage, how many deals entered, how many moved
//! on (to a later stage or won), the conversion, the mean days spent in
//! the stage, and how the team compares with the company: the gap in
//! conversion and the deals it lost there beyond what the company's
//! conversion would have lost (where the team leaks).
//!
//! Counted from the same matured entries of decided deals as the
//! calibrated win rates, so every entry has an outcome.
use polars::prelude::*;
use quotecast_model::{Stage, StageOutcome};
use quotecast_pipeline::columns as col;

use crate::{
    Calibration, ForecastError,
    banded::ORDER,
    calibrate::{LEFT, NEXT, matured_entries},
    frames::collect_together,
};

pub const ENTERED: &str = "entered";
pub const MOVED_ON: &str = "moved_on";
pub const CONVERSION: &str = "conversion";
pub const MEAN_DAYS: &str = "mean_days";
pub const COMPANY_CONVERSION: &str = "company_conversion";
pub const COMPANY_MEAN_DAYS: &str = "company_mean_days";
pub const GAP_POINTS: &str = "gap_points";
pub const LEAKED_DEALS: &str = "leaked_deals";
const MOVED: &str = "__moved";
const DAYS: &str = "__days";

/// The funnel report.
#[derive(Debug, Clone)]
pub struct FunnelReport {
    /// Per team and stage, in funnel order: `entered`, `moved_on`,
    /// `conversion` (0 to 1), `mean_days`, `company_conversion`,
    /// `company_mean_days`, `gap_points` (team less company, × 100) and
    /// `leaked_deals` (entered × the conversion gap, positive where the
    /// team loses more than the company would).
    pub by_team: DataFrame,
    /// Per stage: `entered`, `moved_on`, `conversion`, `mean_days`.
    pub company: DataFrame,
    /// Per team, the stage where it leaks most (most `leaked_deals`).
    pub leaks: DataFrame,
}

/// The funnel from stage events and outcomes (see the module).
pub fn funnel(
    stage_events: LazyFrame,
    outcomes: LazyFrame,
    stages: &[Stage],
    how: &Calibration,
) -> Result<FunnelReport, ForecastError> {
    let lost: Vec<&str> = stages
        .iter()
        .filter(|s| s.outcome == Some(StageOutcome::Lost))
        .map(|s| s.id.as_str())
        .collect();
    let mut moved = col(NEXT).is_not_null();
    for id in lost {
        moved = moved.and(col(NEXT).neq(lit(id)));
    }
    let entries = matured_entries(stage_events, outcomes, stages, how)?.with_columns([
        moved.fill_null(lit(false)).alias(MOVED),
        (col(LEFT) - col(col::AT))
            .dt()
            .total_days(false)
            .cast(DataType::Float64)
            .alias(DAYS),
    ]);
    let (company, by_team, leaks) = conversion_plans(entries);
    let rounded = |frame: LazyFrame, columns: &[&str]| {
        frame.with_columns(
            columns
                .iter()
                .map(|c| col(*c).round(3, RoundMode::HalfToEven))
                .collect::<Vec<_>>(),
        )
    };
    let by_team = rounded(
        by_team,
        &[
            CONVERSION,
            MEAN_DAYS,
            COMPANY_CONVERSION,
            COMPANY_MEAN_DAYS,
            GAP_POINTS,
            LEAKED_DEALS,
        ],
    )
    .drop(cols([ORDER]));
    let company = rounded(company, &[CONVERSION, MEAN_DAYS]).drop(cols([ORDER]));
    let leaks = rounded(leaks, &[GAP_POINTS, LEAKED_DEALS]).sort(
        [LEAKED_DEALS],
        SortMultipleOptions::default().with_order_descending(true),
    );
    let mut frames = collect_together(vec![by_team, company, leaks])?;
    let leaks = frames.pop().unwrap_or_default();
    let company = frames.pop().unwrap_or_default();
    let by_team = frames.pop().unwrap_or_default();
    Ok(FunnelReport {
        by_team,
        company,
        leaks,
    })
}

/// From the matured stage entries (with whether each moved on and its
/// days in stage): the company's conversion per stage, each team's beside
/// it with the gap and the deals it leaked, and each team's worst stage.
fn conversion_plans(entries: LazyFrame) -> (LazyFrame, LazyFrame, LazyFrame) {
    let aggs = || {
        [
            len().cast(DataType::UInt64).alias(ENTERED),
            col(MOVED).cast(DataType::UInt64).sum().alias(MOVED_ON),
            col(MOVED).cast(DataType::Float64).mean().alias(CONVERSION),
            col(DAYS).mean().alias(MEAN_DAYS),
        ]
    };
    let company = entries
        .clone()
        .group_by([col(col::STAGE), col(ORDER)])
        .agg(aggs())
        .sort([ORDER], SortMultipleOptions::default());
    let by_team = entries
        .group_by([col(col::TEAM), col(col::STAGE), col(ORDER)])
        .agg(aggs())
        .join(
            company.clone().select([
                col(col::STAGE),
                col(CONVERSION).alias(COMPANY_CONVERSION),
                col(MEAN_DAYS).alias(COMPANY_MEAN_DAYS),
            ]),
            [col(col::STAGE)],
            [col(col::STAGE)],
            JoinArgs::new(JoinType::Left),
        )
        .with_columns([
            ((col(CONVERSION) - col(COMPANY_CONVERSION)) * lit(100.0)).alias(GAP_POINTS),
            (col(ENTERED).cast(DataType::Float64) * (col(COMPANY_CONVERSION) - col(CONVERSION)))
                .alias(LEAKED_DEALS),
        ])
        .sort([col::TEAM, ORDER], SortMultipleOptions::default());
    let leaks = by_team
        .clone()
        .sort(
            [col::TEAM, LEAKED_DEALS],
            SortMultipleOptions::default().with_order_descending_multi([false, true]),
        )
        .group_by_stable([col(col::TEAM)])
        .agg([
            col(col::STAGE).first(),
            col(GAP_POINTS).first(),
            col(LEAKED_DEALS).first(),
        ]);
    (company, by_team, leaks)
}
