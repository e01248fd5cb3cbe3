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
//! * Slippage: the days between a won deal's stated expected close and
//!   its real close, per team and stage (see [`crate::slippage`]).
use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_pipeline::columns as col;

use crate::{
    Correction, ForecastError, ForecastSpec, RatesThen, WinRates,
    close_dates::{CLOSE_FACTOR, close_factors, tally_plan, with_close_factor},
    columns::{COMPANY_RATIO, FACTOR, FACTOR_VARIANCE, IS_WON, REALISED, VALUE, WIN_RATE},
    deal_size::{SIZE_FACTOR, STATED, edges_plan, size_factors, with_size_factor},
    frames::{PastSnapshots, collect_together, exact_sum, fixed_sum, floats},
    prepare::{DEAL_LINE_KEYS, by_stage_outcome, deal_lines, decided, open_deals, prepared},
    slippage::{DELAY, MIN_SLIP_OBSERVATIONS, slip_plans, slip_tables},
    then::{conversion_index, entering},
};

pub const OBSERVATIONS: &str = "observations";
pub const FORECAST: &str = "forecast";
pub const TEAM_RATIO: &str = "team_ratio";
pub const CREDIBILITY: &str = "credibility";
const SNAPSHOT: &str = "__snapshot";
/// The columns of a past snapshot the correction reads: its date, and
/// what a deal's forecast is computed from.
fn learned_from() -> Vec<Expr> {
    std::iter::once(col::SNAPSHOT_DATE)
        .chain(DEAL_LINE_KEYS)
        .chain([col::AMOUNT])
        .map(col)
        .collect()
}
const RESIDUAL: &str = "__residual";

/// How past snapshots are turned into a correction.
#[derive(Debug, Clone)]
pub struct Learning {
    /// The forecast date: outcomes after it are not known.
    pub as_of: NaiveDate,
    /// Past snapshots younger than this are left out (default 180 days).
    pub maturity_days: u32,
    /// The win rates past days had, from the history the forecast's rates
    /// were calibrated on: each past snapshot is forecast with its month's
    /// (see [`RatesThen`]). `None`: with the forecast's own rates.
    pub rates_then: Option<std::sync::Arc<RatesThen>>,
    /// When the history's wins bunch at quarter ends, the slippage learns
    /// from the past snapshots within this many days of the forecast
    /// date's place in its quarter ([`crate::quarter_ends::PLACE_DAYS`]
    /// in a forecast job); `None`: from every past snapshot.
    pub slippage_place_days: Option<u32>,
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
    // Read once and split by day: every model below reads a day at a
    // time. Only the columns they use are kept (half of a snapshot's).
    let snapshots = tracing::info_span!("read_past_snapshots")
        .in_scope(|| PastSnapshots::read(snapshots.select(learned_from())))?;
    learn_from(&snapshots, outcomes, spec, how)
}

/// [`learn_correction`] from snapshots already read.
pub(crate) fn learn_from(
    snapshots: &PastSnapshots,
    outcomes: LazyFrame,
    spec: &ForecastSpec,
    how: &Learning,
) -> Result<Correction, ForecastError> {
    let cutoff = how.as_of - chrono::TimeDelta::days(i64::from(how.maturity_days));
    let dates = snapshots.dates();
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
    let known = decided(outcomes, spec, how.as_of)?;
    // Past days' rates only where today's are calibrated too.
    let rates_then = match spec.win_rates {
        WinRates::Calibrated(_) => how.rates_then.as_deref(),
        WinRates::StageDefaults => None,
    };
    let deals = tracing::info_span!("open_deals_then")
        .in_scope(|| open_deals_on(snapshots, spec, &recent, rates_then))?;
    // Collected once: the plans below all start from it.
    let observed = tracing::info_span!("observed_deals")
        .in_scope(|| -> Result<DataFrame, ForecastError> {
            Ok(observed_deals(&deals, known.clone(), &used)?.collect()?)
        })?
        .lazy();
    let (close_factors, size_factors, adjusted) = tracing::info_span!("close_and_size_factors")
        .in_scope(|| deal_factors(observed.clone()))?;
    let (per_team, residuals, periods) = ratio_plans(adjusted);
    let mut plans = vec![per_team, residuals, periods];
    let mut quarter_ends = tracing::info_span!("quarter_ends")
        .in_scope(|| crate::quarter_ends::bunching(known.clone(), spec.fiscal_year))?;
    let (won, place_days) = crate::quarter_ends::slippage_learns_from(
        observed.filter(col(IS_WON)),
        (col(SNAPSHOT), &used),
        &quarter_ends,
        (how.as_of, how.slippage_place_days),
        MIN_SLIP_OBSERVATIONS,
    )?;
    quarter_ends.slippage_place_days = place_days;
    plans.extend(slip_plans(won, col(SNAPSHOT), quarter_ends.year));
    let mut frames =
        tracing::info_span!("team_ratios_and_slippage").in_scope(|| collect_together(plans))?;
    let levels = frames.split_off(3);
    let shock_variance = frames.pop().map_or(0.0, |f| shock_variance(&f));
    let residuals = frames.pop().unwrap_or_default();
    let per_team = frames.pop().unwrap_or_default();
    let (accuracy, between_teams_variance) = credibility(&per_team, &residuals)?;
    let (slippage, slip_points) = slip_tables(&levels)?;
    let mut correction = Correction {
        accuracy,
        slippage,
        slip_points,
        close_factors,
        size_factors,
        snapshots_used: used,
        between_teams_variance,
        shock_variance,
        calendar: DataFrame::empty(),
        quarter_ends,
    };
    let mut corrected = spec.clone();
    corrected.correction = Some(Box::new(correction.clone()));
    // New deals of a past day were won at its rates: per team, how much
    // more (or less) a deal entering the funnel wins today.
    let first_stage = spec
        .stages
        .iter()
        .find(|s| s.is_open())
        .map(|s| s.id.as_str());
    let mut conversion = BTreeMap::new();
    if let (Some(rates_then), Some(first_stage)) = (rates_then, first_stage) {
        let today = entering(&spec.win_rates, first_stage);
        for day in &recent {
            if let Some(then) = rates_then.on(*day)? {
                conversion.insert(*day, conversion_index(&today, &then, first_stage));
            }
        }
    }
    correction.calendar = tracing::info_span!("calendar")
        .in_scope(|| crate::calendar::learn_calendar(&deals, known, &corrected, &conversion))?;
    Ok(correction)
}

/// The close-date factors, then the size factors on top of them, learned
/// from the `observed` deals; and those deals with their forecasts so
/// adjusted, collected once (the team ratios' three plans read them). The
/// team ratios are learned on top of both, as the corrected forecast
/// applies them.
fn deal_factors(observed: LazyFrame) -> Result<(DataFrame, DataFrame, LazyFrame), ForecastError> {
    let close_factors = close_factors(&tally_plan(observed.clone(), col(SNAPSHOT)).collect()?)?;
    let adjusted = with_close_factor(observed, &close_factors, col(SNAPSHOT))
        .with_column((col(FORECAST) * col(CLOSE_FACTOR)).alias(FORECAST))
        .collect()?
        .lazy();
    let size_factors = size_factors(adjusted.clone(), &edges_plan(adjusted.clone()).collect()?)?;
    let adjusted = with_size_factor(adjusted, &size_factors, col(STATED))
        .with_column((col(FORECAST) * col(SIZE_FACTOR)).alias(FORECAST))
        .collect()?
        .lazy();
    Ok((close_factors, size_factors, adjusted))
}

/// Every deal open on a past snapshot taken on one of `used` and decided
/// since (in `known`): its forecast then (value times win rate, with
/// `spec`'s win rates and no correction), what it realised and how many
/// days after its stated expected close it did.
fn observed_deals(
    deals: &[(NaiveDate, DataFrame)],
    known: LazyFrame,
    used: &[NaiveDate],
) -> Result<LazyFrame, ForecastError> {
    let per_snapshot: Vec<LazyFrame> = deals
        .iter()
        .filter(|(day, _)| used.contains(day))
        .map(|(day, open)| {
            open.clone()
                .lazy()
                .group_by([col(col::OPPORTUNITY_ID), col(col::TEAM)])
                .agg([
                    // Money over a deal's few lines: a fixed sum, where a
                    // sort per deal took a quarter of the correction.
                    fixed_sum(col(VALUE) * col(WIN_RATE)).alias(FORECAST),
                    fixed_sum(col(VALUE)).alias(STATED),
                    col(col::EXPECTED_CLOSE).first(),
                    col(col::STAGE).first(),
                ])
                .with_column(lit(*day).cast(DataType::Date).alias(SNAPSHOT))
        })
        .collect();
    Ok(concat(per_snapshot, UnionArgs::default())?
        .join(
            known,
            [col(col::OPPORTUNITY_ID)],
            [col(col::OPPORTUNITY_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .with_column(
            (col(col::CLOSED) - col(col::EXPECTED_CLOSE))
                .dt()
                .total_days(false)
                .alias(DELAY),
        ))
}

/// The open deals (see [`open_deals`]) of each past snapshot on `days`,
/// with the win rates a forecast made that day had (`rates_then`, else
/// `spec`'s): what the accuracy, the slippage and the calendar all learn
/// from, prepared once.
fn open_deals_on(
    snapshots: &PastSnapshots,
    spec: &ForecastSpec,
    days: &[NaiveDate],
    rates_then: Option<&RatesThen>,
) -> Result<Vec<(NaiveDate, DataFrame)>, ForecastError> {
    let mut plans = Vec::with_capacity(days.len());
    for &day in days {
        let mut then = spec.clone();
        then.as_of = day;
        then.correction = None;
        if let Some(rates) = rates_then.map(|r| r.on(day)).transpose()?.flatten() {
            then.win_rates = rates;
        }
        // Open deals only, a deal's lines summed before they are prepared
        // (see `deal_lines`).
        let (counted, _) = by_stage_outcome(snapshots.taken_on(day), &then);
        let (lines, _) = prepared(deal_lines(counted, &[]), &then)?;
        plans.push(open_deals(lines));
    }
    Ok(days.iter().copied().zip(collect_together(plans)?).collect())
}

/// The plans of the accuracy ratios from the observed deals: per team its
/// observations, forecast and realised; per team the squared residuals
/// against its ratio, summed per deal first; and the team shock (the
/// share of the squared period residuals beyond the deals' own).
///
/// Sums are rounded (to cents, squares to units) so that the same history
/// gives the same factors to the bit, whatever order polars added the rows
/// in: a plan's id hashes the values they scale.
fn ratio_plans(observed: LazyFrame) -> (LazyFrame, LazyFrame, LazyFrame) {
    let per_team = observed.clone().group_by([col(col::TEAM)]).agg([
        len().cast(DataType::UInt64).alias(OBSERVATIONS),
        fixed_sum(col(FORECAST)).round(2, RoundMode::HalfToEven),
        fixed_sum(col(REALISED)).round(2, RoundMode::HalfToEven),
    ]);
    let with_residual = observed
        .join(
            per_team.clone().select([
                col(col::TEAM),
                (col(REALISED) / col(FORECAST)).alias(TEAM_RATIO),
            ]),
            [col(col::TEAM)],
            [col(col::TEAM)],
            JoinArgs::new(JoinType::Left),
        )
        .with_column((col(REALISED) - col(TEAM_RATIO) * col(FORECAST)).alias(RESIDUAL));
    let periods = with_residual
        .clone()
        .group_by([col(col::TEAM), col(SNAPSHOT)])
        .agg([
            fixed_sum(col(RESIDUAL)).pow(2).alias("__period_squared"),
            exact_sum(col(RESIDUAL).pow(2)).alias("__deal_squares"),
            (col(TEAM_RATIO).first() * fixed_sum(col(FORECAST)))
                .pow(2)
                .alias("__expected_squared"),
        ])
        .select([(exact_sum(col("__period_squared") - col("__deal_squares"))
            / exact_sum(col("__expected_squared")))
        .alias("__shock")]);
    let residuals = with_residual
        .group_by([col(col::TEAM), col(col::OPPORTUNITY_ID)])
        .agg([fixed_sum(col(RESIDUAL)).alias(RESIDUAL)])
        .group_by([col(col::TEAM)])
        .agg([exact_sum(col(RESIDUAL).pow(2)).round(0, RoundMode::HalfToEven)]);
    (per_team, residuals, periods)
}

/// The team shock variance from its plan's one value, within 0 to 1.
fn shock_variance(frame: &DataFrame) -> f64 {
    frame
        .column("__shock")
        .ok()
        .and_then(|c| c.f64().ok()?.get(0))
        .filter(|v| v.is_finite())
        .map(|v| (v * 1e6).round() / 1e6)
        .unwrap_or(0.0)
        .clamp(0.0, 1.0)
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
    let floats = |name: &str| floats(&joined, name);
    let (forecast, realised) = (floats(FORECAST)?, floats(REALISED)?);
    let f = CredibleFactors::new(&forecast, &realised, &floats(RESIDUAL)?);
    let n = joined.height();
    let table = DataFrame::new(
        n,
        vec![
            joined.column(col::TEAM)?.clone(),
            joined.column(OBSERVATIONS)?.clone(),
            Column::new(FORECAST.into(), forecast),
            Column::new(REALISED.into(), realised),
            Column::new(TEAM_RATIO.into(), f.ratio),
            Column::new(COMPANY_RATIO.into(), vec![f.company; n]),
            Column::new(CREDIBILITY.into(), f.credibility),
            Column::new(FACTOR.into(), f.factor),
            Column::new(FACTOR_VARIANCE.into(), f.factor_variance),
        ],
    )?;
    Ok((table, f.between_teams))
}

/// Credibility weighting of the teams' ratios (see the module's notes).
struct CredibleFactors {
    /// Realised over forecast, all teams together.
    company: f64,
    /// Per team: realised over forecast (the company's without forecast).
    ratio: Vec<f64>,
    /// Per team: the weight of its own ratio, 0 to 1.
    credibility: Vec<f64>,
    /// Per team: the credibility-weighted factor.
    factor: Vec<f64>,
    /// Per team: what is left unknown of its true factor: Zσ², or τ² with
    /// no credible history of its own.
    factor_variance: Vec<f64>,
    /// τ², the variance of the true team ratios.
    between_teams: f64,
}

impl CredibleFactors {
    /// From each team's forecast, realised and squared residuals (summed
    /// per deal).
    fn new(forecast: &[f64], realised: &[f64], squares: &[f64]) -> Self {
        let total_forecast: f64 = forecast.iter().sum();
        let company = if total_forecast > 0.0 {
            realised.iter().sum::<f64>() / total_forecast
        } else {
            1.0
        };
        let ratio: Vec<f64> = forecast
            .iter()
            .zip(realised)
            .map(|(f, r)| if *f > 0.0 { r / f } else { company })
            .collect();
        let sampling: Vec<f64> = forecast
            .iter()
            .zip(squares)
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
            .map(|s| match tau2 > 0.0 && s.is_finite() {
                true => tau2 / (tau2 + s),
                false => 0.0,
            })
            .collect();
        let factor = ratio
            .iter()
            .zip(&credibility)
            .map(|(r, z)| z * r + (1.0 - z) * company)
            .collect();
        let factor_variance = sampling
            .iter()
            .zip(&credibility)
            .map(|(s, z)| match s.is_finite() && *z > 0.0 {
                true => z * s,
                false => tau2,
            })
            .collect();
        CredibleFactors {
            company,
            ratio,
            credibility,
            factor,
            factor_variance,
            between_teams: tau2,
        }
    }
}
