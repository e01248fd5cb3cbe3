//! Win rates calibrated from history: P(win | the deal entered stage s),
//! per team where its history suffices, shrunk towards the company's rate
//! otherwise (empirical Bayes with a beta prior), and lowered for deals
//! that have outstayed the stage's time limit where history shows stale
//! deals win less.
//!
//! Only matured entries count: a deal that entered a stage at least
//! `maturity_days` before the forecast date and has been won or lost since.
//! Counting recent entries would favour the deals that resolved fast.
use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_model::Stage;
use quotecast_pipeline::columns as col;

use crate::{
    ForecastError,
    columns::{CALIBRATED, COMPANY_RATE, STALE_FACTOR},
    frames::collect_together,
};

pub const ENTRIES: &str = "entries";
pub const WINS: &str = "wins";
pub const TEAM_RATE: &str = "team_rate";
const STALE: &str = "__stale";
pub(crate) const WON: &str = "__won";
pub(crate) const LEFT: &str = "__left";
pub(crate) const NEXT: &str = "__next";
pub(crate) const ORDER: &str = "__order";

/// How history is turned into win rates.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    pub as_of: NaiveDate,
    /// Entries younger than this are left out (default 180 days).
    pub maturity_days: u32,
    /// Pseudo-observations of the company rate each team starts from;
    /// `None` estimates it from the spread between teams (method of
    /// moments), within 1 to 10,000.
    pub prior_strength: Option<f64>,
}

/// Calibrated win rates: one row per team and open stage with `entries`,
/// `wins`, `team_rate` (raw), `company_rate`, `calibrated` (shrunk) and
/// `stale_factor`; and the prior strength used.
#[derive(Debug, Clone)]
pub struct CalibratedRates {
    pub table: DataFrame,
    pub prior_strength: f64,
    pub matured_entries: u64,
}

/// Calibrates from stage-change events (`opportunity_id, stage, at`) and
/// outcomes (`opportunity_id, team, outcome, closed`).
pub fn calibrate(
    stage_events: LazyFrame,
    outcomes: LazyFrame,
    stages: &[Stage],
    how: &Calibration,
) -> Result<CalibratedRates, ForecastError> {
    let entries = matured_entries(stage_events, outcomes, stages, how)?;
    let per_team = entries
        .clone()
        .group_by([col(col::TEAM), col(col::STAGE), col(ORDER)])
        .agg([
            len().cast(DataType::Float64).alias(ENTRIES),
            col(WON).cast(DataType::Float64).sum().alias(WINS),
        ]);
    let company = entries.group_by([col(col::STAGE)]).agg([
        col(WON).cast(DataType::Float64).mean().alias(COMPANY_RATE),
        (col(WON).filter(col(STALE)).cast(DataType::Float64).mean()
            / col(WON).cast(DataType::Float64).mean())
        .fill_nan(lit(1.0))
        .fill_null(lit(1.0))
        .clip_max(lit(1.0))
        .alias(STALE_FACTOR),
    ]);
    let mut frames = collect_together(vec![per_team, company])?;
    let company = frames.pop().unwrap_or_default();
    let per_team = frames.pop().unwrap_or_default();
    let joined = per_team
        .lazy()
        .join(
            company.lazy(),
            [col(col::STAGE)],
            [col(col::STAGE)],
            JoinArgs::new(JoinType::Left),
        )
        .with_column((col(WINS) / col(ENTRIES)).alias(TEAM_RATE))
        // In a fixed order: the prior strength sums over these rows.
        .sort([col::STAGE, col::TEAM], SortMultipleOptions::default())
        .collect()?;
    let prior_strength = how
        .prior_strength
        .unwrap_or_else(|| moments_strength(&joined));
    let table = joined
        .lazy()
        .with_column(
            ((col(WINS) + lit(prior_strength) * col(COMPANY_RATE))
                / (col(ENTRIES) + lit(prior_strength)))
            .alias(CALIBRATED),
        )
        .sort_by_exprs([col(col::TEAM), col(ORDER)], SortMultipleOptions::default())
        .select([
            col(col::TEAM),
            col(col::STAGE),
            col(ENTRIES).cast(DataType::UInt64),
            col(WINS).cast(DataType::UInt64),
            col(TEAM_RATE),
            col(COMPANY_RATE),
            col(CALIBRATED),
            col(STALE_FACTOR),
        ])
        .collect()?;
    let matured_entries = table
        .column(ENTRIES)?
        .as_materialized_series()
        .sum::<u64>()
        .unwrap_or(0);
    Ok(CalibratedRates {
        table,
        prior_strength,
        matured_entries,
    })
}

/// Matured entries into open stages of deals decided by `how.as_of`: one
/// row per entry with `opportunity_id, stage, at`, `__order` (the stage's
/// place in the funnel), the day it was left (`__left`) and the stage the
/// deal went to (`__next`, null if none yet), the deal's `team` and
/// `outcome`, whether it was won (`__won`) and whether it outstayed the
/// stage's time limit (`__stale`).
pub(crate) fn matured_entries(
    stage_events: LazyFrame,
    outcomes: LazyFrame,
    stages: &[Stage],
    how: &Calibration,
) -> Result<LazyFrame, ForecastError> {
    let open: Vec<&Stage> = stages.iter().filter(|s| s.is_open()).collect();
    if open.is_empty() {
        return Err(ForecastError::NoStages);
    }
    let limits = DataFrame::new(
        open.len(),
        vec![
            Column::new(
                col::STAGE.into(),
                open.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(ORDER.into(), (0..open.len() as u32).collect::<Vec<_>>()),
            Column::new(
                "__limit".into(),
                open.iter()
                    .map(|s| i64::from(s.time_limit_days.unwrap_or(u32::MAX)))
                    .collect::<Vec<_>>(),
            ),
        ],
    )?;
    let cutoff = how.as_of - chrono::TimeDelta::days(i64::from(how.maturity_days));
    let same_deal_next = col(col::OPPORTUNITY_ID)
        .shift(lit(-1))
        .eq(col(col::OPPORTUNITY_ID));
    Ok(stage_events
        .sort_by_exprs(
            [col(col::OPPORTUNITY_ID), col(col::AT)],
            SortMultipleOptions::default(),
        )
        .with_columns([
            when(same_deal_next.clone())
                .then(col(col::AT).shift(lit(-1)))
                .otherwise(lit(NULL).cast(DataType::Date))
                .alias(LEFT),
            when(same_deal_next)
                .then(col(col::STAGE).shift(lit(-1)))
                .otherwise(lit(NULL).cast(DataType::String))
                .alias(NEXT),
        ])
        .join(
            limits.lazy(),
            [col(col::STAGE)],
            [col(col::STAGE)],
            JoinArgs::new(JoinType::Inner),
        )
        .join(
            outcomes
                .filter(col(col::CLOSED).lt_eq(lit(how.as_of).cast(DataType::Date)))
                .select([col(col::OPPORTUNITY_ID), col(col::TEAM), col(col::OUTCOME)]),
            [col(col::OPPORTUNITY_ID)],
            [col(col::OPPORTUNITY_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(col(col::AT).lt_eq(lit(cutoff).cast(DataType::Date)))
        .with_columns([
            col(col::OUTCOME).eq(lit("won")).alias(WON),
            ((col(LEFT) - col(col::AT))
                .dt()
                .total_days(false)
                .gt(col("__limit")))
            .fill_null(lit(false))
            .alias(STALE),
        ]))
}

/// Method-of-moments prior strength: with team rates spread by variance
/// `v` around the company rate `p` beyond what sampling explains, a beta
/// prior with mean `p` has strength `p(1 − p)/v − 1`. Averaged over
/// stages, weighted by entries; within 1 to 10,000.
fn moments_strength(frame: &DataFrame) -> f64 {
    let get = |name: &str| -> Vec<f64> {
        frame
            .column(name)
            .ok()
            .and_then(|c| {
                c.f64()
                    .ok()
                    .map(|c| c.iter().map(|v| v.unwrap_or(0.0)).collect())
            })
            .unwrap_or_default()
    };
    let (entries, wins, company) = (get(ENTRIES), get(WINS), get(COMPANY_RATE));
    let stages: Vec<String> = frame
        .column(col::STAGE)
        .ok()
        .and_then(|c| {
            c.str()
                .ok()
                .map(|c| c.iter().map(|v| v.unwrap_or("").to_owned()).collect())
        })
        .unwrap_or_default();
    let mut unique = stages.clone();
    unique.sort();
    unique.dedup();
    let (mut weighted, mut weight) = (0.0, 0.0);
    for stage in &unique {
        let rows: Vec<usize> = (0..stages.len())
            .filter(|&i| &stages[i] == stage && entries[i] > 0.0)
            .collect();
        if rows.len() < 2 {
            continue;
        }
        let p = company[rows[0]];
        let n: f64 = rows.iter().map(|&i| entries[i]).sum();
        // Between-team variance of the rates, less the sampling variance.
        let spread: f64 = rows
            .iter()
            .map(|&i| entries[i] * (wins[i] / entries[i] - p).powi(2))
            .sum::<f64>()
            / n;
        let sampling = p * (1.0 - p) * rows.len() as f64 / n;
        let v = spread - sampling;
        let strength = if v > 0.0 {
            p * (1.0 - p) / v - 1.0
        } else {
            10_000.0
        };
        weighted += n * strength.clamp(1.0, 10_000.0);
        weight += n;
    }
    if weight > 0.0 {
        weighted / weight
    } else {
        100.0
    }
}
