//! The team accuracy correction (the "Dell step") and slippage, learned
//! from past snapshots and what became of their deals.
//!
//! For every past snapshot old enough that its deals have been decided
//! (at least `maturity_days` before the forecast date), each open deal's
//! forecast is recomputed as it stood then (value times win rate, with
//! the win rates of the forecast being corrected) and set against what it
//! realised: its booked amount if won, nothing if lost. Deals still open
//! on the forecast date are left out.
//!
//! * Accuracy: per team, realised over forecast. Teams with a short or
//!   noisy history are shrunk towards the company ratio by credibility
//!   weighting: weight = τ² / (τ² + σ²ₜ), where σ²ₜ is the sampling
//!   variance of the team's ratio (residuals summed per deal, since one
//!   deal appears in several snapshots) and τ² the variance of the true
//!   team ratios (the spread between teams less the mean sampling
//!   variance, at least 0).
//! * Slippage: per team, the days between a won deal's stated expected
//!   close and its real close, summarised by ten points (the 5th, 15th,
//!   ..., 95th percentiles), each carrying a tenth of an open deal's
//!   expected value. Teams with fewer than [`MIN_SLIP_OBSERVATIONS`] won
//!   observations use the company's points.
use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_pipeline::columns as col;

use crate::{
    ForecastError, ForecastSpec,
    weighted::{IS_OPEN, RATE, VALUE, WIN_RATE, prepared},
};

pub const OBSERVATIONS: &str = "observations";
pub const FORECAST: &str = "forecast";
pub const REALISED: &str = "realised";
pub const TEAM_RATIO: &str = "team_ratio";
pub const COMPANY_RATIO: &str = "company_ratio";
pub const CREDIBILITY: &str = "credibility";
pub const FACTOR: &str = "factor";
/// The variance of a team's true factor given its history (credibility
/// theory: τ²σ²ₜ / (τ² + σ²ₜ)), in squared ratio units.
pub const FACTOR_VARIANCE: &str = "factor_variance";
pub const WON_OBSERVATIONS: &str = "won_observations";
pub const LATE_SHARE: &str = "late_share";
pub const MEDIAN_DELAY_DAYS: &str = "median_delay_days";
pub const POINT: &str = "point";
pub const SHIFT_DAYS: &str = "shift_days";
/// The team key of the company's slippage points.
pub const COMPANY: &str = "*";
/// Teams with fewer won observations than this use the company's slippage.
pub const MIN_SLIP_OBSERVATIONS: u64 = 40;
/// Slippage points per team, each carrying this share of a deal.
pub const SLIP_POINTS: u32 = 10;
const SNAPSHOT: &str = "__snapshot";
const DELAY: &str = "__delay";
const RESIDUAL: &str = "__residual";
const WON: &str = "__won";

/// How past snapshots are turned into a correction.
#[derive(Debug, Clone, PartialEq)]
pub struct Learning {
    /// The forecast date: outcomes after it are not known.
    pub as_of: NaiveDate,
    /// Past snapshots younger than this are left out (default 180 days).
    pub maturity_days: u32,
}

/// A learned correction: per-team accuracy factors and slippage.
#[derive(Debug, Clone)]
pub struct Correction {
    /// One row per team: `observations` (deal-snapshot pairs),
    /// `forecast`, `realised` (reporting currency), `team_ratio`,
    /// `company_ratio`, `credibility` (0 to 1) and `factor`.
    pub accuracy: DataFrame,
    /// One row per team with `won_observations`, `late_share` (won deals
    /// closing after their stated date, 0 to 1) and `median_delay_days`.
    pub slippage: DataFrame,
    /// `team` (or `*` for the company), `point`, `shift_days`: the
    /// slippage points applied to open deals.
    pub slip_points: DataFrame,
    /// The past snapshots learned from.
    pub snapshots_used: Vec<NaiveDate>,
    /// The variance of the true team ratios (τ²).
    pub between_teams_variance: f64,
    /// How much a team's realised over forecast moves from one snapshot
    /// to the next beyond its deals' own wins and losses: the relative
    /// variance of a shock all deals of a team share in a period (0 to
    /// 1). The Monte Carlo draws it per team and trial.
    pub shock_variance: f64,
    /// Per team (and `*` for the company) and horizon: `deals`,
    /// `forecast`, `realised`, `ratio` and the `calendar_factor` applied
    /// to the open deals' value in that horizon (see [`crate::calendar`]);
    /// empty when no snapshot is old enough for a whole bucket.
    pub calendar: DataFrame,
}

/// Learns the correction from past snapshots (the snapshot columns plus
/// `snapshot_date`) and outcomes, with the win rates and funnel of
/// `spec`.
pub fn learn_correction(
    snapshots: LazyFrame,
    outcomes: LazyFrame,
    spec: &ForecastSpec,
    how: &Learning,
) -> Result<Correction, ForecastError> {
    let cutoff = how.as_of - chrono::TimeDelta::days(i64::from(how.maturity_days));
    let dates = snapshot_dates(snapshots.clone())?;
    // The calendar learns from every earlier snapshot whose bucket has
    // ended: a quarter that closed last month already says how that
    // quarter's pipeline booked, so a team that changed is followed within
    // a quarter rather than after the maturity wait.
    let recent: Vec<NaiveDate> = dates.iter().copied().filter(|d| *d < how.as_of).collect();
    let used: Vec<NaiveDate> = dates.into_iter().filter(|d| *d <= cutoff).collect();
    if used.is_empty() {
        return Err(ForecastError::NoHistory(format!(
            "no past snapshot is at least {} days older than {}",
            how.maturity_days, how.as_of
        )));
    }
    let mut per_snapshot = Vec::with_capacity(used.len());
    for &day in &used {
        let mut then = spec.clone();
        then.as_of = day;
        then.correction = None;
        let taken = crate::accuracy::taken_on(&snapshots, day);
        let (lines, _) = prepared(taken, &then)?;
        per_snapshot.push(
            lines
                .filter(col(IS_OPEN))
                .group_by([col(col::OPPORTUNITY_ID), col(col::TEAM)])
                .agg([
                    crate::exact_sum(col(VALUE) * col(WIN_RATE)).alias(FORECAST),
                    col(col::EXPECTED_CLOSE).first(),
                ])
                .with_column(lit(day).cast(DataType::Date).alias(SNAPSHOT)),
        );
    }
    let forecasts = concat(per_snapshot, UnionArgs::default())?;
    let realised = decided(outcomes, spec, how.as_of)?;
    let known = realised.clone();
    let observed = forecasts
        .join(
            realised,
            [col(col::OPPORTUNITY_ID)],
            [col(col::OPPORTUNITY_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .with_column(
            (col(col::CLOSED) - col(col::EXPECTED_CLOSE))
                .dt()
                .total_days(false)
                .alias(DELAY),
        );
    // Sums are rounded (to cents, squares to units) so that the same
    // history gives the same factors to the bit, whatever order polars
    // added the rows in: a plan's id hashes the values they scale.
    let per_team = observed.clone().group_by([col(col::TEAM)]).agg([
        len().cast(DataType::UInt64).alias(OBSERVATIONS),
        crate::exact_sum(col(FORECAST)).round(2, RoundMode::HalfToEven),
        crate::exact_sum(col(REALISED)).round(2, RoundMode::HalfToEven),
    ]);
    let team_ratio = per_team.clone().select([
        col(col::TEAM),
        (col(REALISED) / col(FORECAST)).alias(TEAM_RATIO),
    ]);
    let periods = observed
        .clone()
        .join(
            team_ratio,
            [col(col::TEAM)],
            [col(col::TEAM)],
            JoinArgs::new(JoinType::Left),
        )
        .with_column((col(REALISED) - col(TEAM_RATIO) * col(FORECAST)).alias(RESIDUAL))
        .group_by([col(col::TEAM), col(SNAPSHOT)])
        .agg([
            crate::exact_sum(col(RESIDUAL))
                .pow(2)
                .alias("__period_squared"),
            crate::exact_sum(col(RESIDUAL).pow(2)).alias("__deal_squares"),
            (col(TEAM_RATIO).first() * crate::exact_sum(col(FORECAST)))
                .pow(2)
                .alias("__expected_squared"),
        ])
        .select([
            (crate::exact_sum(col("__period_squared") - col("__deal_squares"))
                / crate::exact_sum(col("__expected_squared")))
            .alias("__shock"),
        ]);
    // Residuals against the team's ratio, summed per deal.
    let residuals = observed
        .clone()
        .join(
            per_team.clone().select([
                col(col::TEAM),
                (col(REALISED) / col(FORECAST)).alias(TEAM_RATIO),
            ]),
            [col(col::TEAM)],
            [col(col::TEAM)],
            JoinArgs::new(JoinType::Left),
        )
        .group_by([col(col::TEAM), col(col::OPPORTUNITY_ID)])
        .agg([crate::exact_sum(col(REALISED) - col(TEAM_RATIO) * col(FORECAST)).alias(RESIDUAL)])
        .group_by([col(col::TEAM)])
        .agg([crate::exact_sum(col(RESIDUAL).pow(2)).round(0, RoundMode::HalfToEven)]);
    let won = observed.filter(col(WON));
    let points: Vec<Expr> = (0..SLIP_POINTS)
        .map(|k| {
            col(DELAY)
                .cast(DataType::Float64)
                .quantile(lit(slip_quantile(k)), QuantileMethod::Linear)
                .alias(format!("__p{k}"))
        })
        .collect();
    let mut slip_aggs = vec![
        len().cast(DataType::UInt64).alias(WON_OBSERVATIONS),
        col(DELAY)
            .gt(lit(0))
            .cast(DataType::Float64)
            .mean()
            .alias(LATE_SHARE),
        col(DELAY)
            .cast(DataType::Float64)
            .median()
            .alias(MEDIAN_DELAY_DAYS),
    ];
    slip_aggs.extend(points);
    let team_slip = won
        .clone()
        .group_by([col(col::TEAM)])
        .agg(slip_aggs.clone())
        .sort([col::TEAM], SortMultipleOptions::default());
    let company_slip = won
        .select([lit(COMPANY).alias(col::TEAM), col(DELAY), col(WON)])
        .group_by([col(col::TEAM)])
        .agg(slip_aggs);
    let mut frames =
        crate::collect_together(vec![per_team, residuals, team_slip, company_slip, periods])?;
    let shock_variance = frames
        .pop()
        .and_then(|f| f.column("__shock").ok()?.f64().ok()?.get(0))
        .filter(|v| v.is_finite())
        .map(|v| (v * 1e6).round() / 1e6)
        .unwrap_or(0.0)
        .clamp(0.0, 1.0);
    let company_slip = frames.pop().unwrap_or_default();
    let team_slip = frames.pop().unwrap_or_default();
    let residuals = frames.pop().unwrap_or_default();
    let per_team = frames.pop().unwrap_or_default();
    let (accuracy, between_teams_variance) = credibility(&per_team, &residuals)?;
    let slip_points = slip_points(&team_slip, &company_slip)?;
    let slippage = team_slip
        .vstack(&company_slip)?
        .lazy()
        .select([
            col(col::TEAM),
            col(WON_OBSERVATIONS),
            col(LATE_SHARE),
            col(MEDIAN_DELAY_DAYS),
        ])
        .collect()?;
    let mut correction = Correction {
        accuracy,
        slippage,
        slip_points,
        snapshots_used: used,
        between_teams_variance,
        shock_variance,
        calendar: DataFrame::empty(),
    };
    let mut corrected = spec.clone();
    corrected.correction = Some(Box::new(correction.clone()));
    correction.calendar = crate::calendar::learn_calendar(&snapshots, known, &corrected, &recent)?;
    Ok(correction)
}

/// The percentile slippage point `k` stands for: 5 %, 15 %, ..., 95 %.
fn slip_quantile(k: u32) -> f64 {
    (f64::from(k) + 0.5) / f64::from(SLIP_POINTS)
}

/// The rows of the past snapshot taken on `day`.
pub(crate) fn taken_on(snapshots: &LazyFrame, day: NaiveDate) -> LazyFrame {
    snapshots
        .clone()
        .filter(col(col::SNAPSHOT_DATE).eq(lit(day).cast(DataType::Date)))
}

/// The distinct snapshot dates, oldest first.
pub(crate) fn snapshot_dates(snapshots: LazyFrame) -> Result<Vec<NaiveDate>, ForecastError> {
    let frame = snapshots
        .select([col(col::SNAPSHOT_DATE)
            .unique()
            .sort(SortOptions::default())])
        .collect()?;
    let days = frame
        .column(col::SNAPSHOT_DATE)?
        .cast(&DataType::Int32)?
        .i32()?
        .iter()
        .flatten()
        .map(quotecast_pipeline::from_epoch_days)
        .collect();
    Ok(days)
}

/// Outcomes known by `as_of`, with the booked value in the reporting
/// currency (`realised`, 0 for a lost deal).
pub(crate) fn decided(
    outcomes: LazyFrame,
    spec: &ForecastSpec,
    as_of: NaiveDate,
) -> Result<LazyFrame, ForecastError> {
    let fx = crate::weighted::fx_frame(spec)?;
    Ok(outcomes
        .filter(col(col::CLOSED).lt_eq(lit(as_of).cast(DataType::Date)))
        .join(
            fx.lazy(),
            [col(col::CURRENCY)],
            [col(col::CURRENCY)],
            JoinArgs::new(JoinType::Left),
        )
        .select([
            col(col::OPPORTUNITY_ID),
            col(col::CLOSED),
            col(col::OUTCOME).eq(lit("won")).alias(WON),
            when(col(col::OUTCOME).eq(lit("won")))
                .then(col(col::AMOUNT).cast(DataType::Float64) / col(RATE))
                .otherwise(lit(0.0))
                .alias(REALISED),
        ]))
}

/// Per team: ratio, company ratio, credibility and factor; and τ².
fn credibility(
    per_team: &DataFrame,
    residuals: &DataFrame,
) -> Result<(DataFrame, f64), ForecastError> {
    let joined = per_team
        .clone()
        .lazy()
        .join(
            residuals.clone().lazy(),
            [col(col::TEAM)],
            [col(col::TEAM)],
            JoinArgs::new(JoinType::Left),
        )
        .sort([col::TEAM], SortMultipleOptions::default())
        .collect()?;
    let floats = |name: &str| -> Result<Vec<f64>, ForecastError> {
        Ok(joined
            .column(name)?
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .map(|v| v.unwrap_or(0.0))
            .collect())
    };
    let (forecast, realised, squares) = (floats(FORECAST)?, floats(REALISED)?, floats(RESIDUAL)?);
    let total_forecast: f64 = forecast.iter().sum();
    let company = if total_forecast > 0.0 {
        realised.iter().sum::<f64>() / total_forecast
    } else {
        1.0
    };
    let ratio: Vec<f64> = forecast
        .iter()
        .zip(&realised)
        .map(|(f, r)| if *f > 0.0 { r / f } else { company })
        .collect();
    let sampling: Vec<f64> = forecast
        .iter()
        .zip(&squares)
        .map(|(f, s)| if *f > 0.0 { s / (f * f) } else { f64::INFINITY })
        .collect();
    let weights: Vec<f64> = forecast
        .iter()
        .map(|f| f / total_forecast.max(f64::MIN_POSITIVE))
        .collect();
    let spread: f64 = ratio
        .iter()
        .zip(&weights)
        .map(|(r, w)| w * (r - company).powi(2))
        .sum();
    let mean_sampling: f64 = sampling
        .iter()
        .zip(&weights)
        .filter(|(s, _)| s.is_finite())
        .map(|(s, w)| w * s)
        .sum();
    let tau2 = (spread - mean_sampling).max(0.0);
    let credibility: Vec<f64> = sampling
        .iter()
        .map(|s| {
            if tau2 > 0.0 && s.is_finite() {
                tau2 / (tau2 + s)
            } else {
                0.0
            }
        })
        .collect();
    let factor: Vec<f64> = ratio
        .iter()
        .zip(&credibility)
        .map(|(r, z)| z * r + (1.0 - z) * company)
        .collect();
    // What is left unknown of the true factor: Zσ², or τ² with no credible
    // history of its own.
    let factor_variance: Vec<f64> = sampling
        .iter()
        .zip(&credibility)
        .map(|(s, z)| {
            if s.is_finite() && *z > 0.0 {
                z * s
            } else {
                tau2
            }
        })
        .collect();
    let n = joined.height();
    let table = DataFrame::new(
        n,
        vec![
            joined.column(col::TEAM)?.clone(),
            joined.column(OBSERVATIONS)?.clone(),
            Column::new(FORECAST.into(), forecast),
            Column::new(REALISED.into(), realised),
            Column::new(TEAM_RATIO.into(), ratio),
            Column::new(COMPANY_RATIO.into(), vec![company; n]),
            Column::new(CREDIBILITY.into(), credibility),
            Column::new(FACTOR.into(), factor),
            Column::new(FACTOR_VARIANCE.into(), factor_variance),
        ],
    )?;
    Ok((table, tau2))
}

/// The long table of slippage points: each team with enough won
/// observations, and the company (`*`).
fn slip_points(team: &DataFrame, company: &DataFrame) -> Result<DataFrame, ForecastError> {
    let (mut teams, mut points, mut shifts) = (Vec::new(), Vec::new(), Vec::new());
    for frame in [team, company] {
        let names = frame.column(col::TEAM)?.str()?.clone();
        let counts = frame.column(WON_OBSERVATIONS)?.u64()?.clone();
        for row in 0..frame.height() {
            let name = names.get(row).unwrap_or(COMPANY);
            if name != COMPANY && counts.get(row).unwrap_or(0) < MIN_SLIP_OBSERVATIONS {
                continue;
            }
            for k in 0..SLIP_POINTS {
                let shift = frame
                    .column(&format!("__p{k}"))?
                    .f64()?
                    .get(row)
                    .unwrap_or(0.0);
                teams.push(name.to_owned());
                points.push(k);
                shifts.push(shift.round() as i64);
            }
        }
    }
    Ok(DataFrame::new(
        teams.len(),
        vec![
            Column::new(col::TEAM.into(), teams),
            Column::new(POINT.into(), points),
            Column::new(SHIFT_DAYS.into(), shifts),
        ],
    )?)
}
