//! Win rates as a forecast made on an earlier day had them. What the
//! team, size, close-date and calendar factors learn is how far forecasts
//! made on past snapshots fell from what their deals booked. Forecast with
//! today's rates instead, a team whose conversion moved would be pulled
//! back towards its past: its deals of a year ago, forecast at today's
//! better rates, would say the model over-forecasts it, and the factors
//! would undo the rates' progress (on `gen-pipeline --shape shifting` the
//! next quarter was under-forecast by 14 to 19 %; the README has the
//! backtests).
//!
//! Each past snapshot is forecast with the rates calibrated on the first
//! day of its month, on the entries known then (per snapshot day gave the
//! same backtests at up to twice the calibrations; per quarter followed
//! the drifting teams less). Where the history known then was young
//! (shorter than the maturity wait, or a stage's share still undecided
//! above [`YOUNG_HISTORY_UNDECIDED`]), its rates are too low to learn
//! from (quick losses decide first), and today's are used: on
//! `gen-pipeline --opportunities 5000` the months of the history's first
//! half year over-forecast the next quarter by 11 %.
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, OnceLock},
};

use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_model::Stage;

use crate::{
    Bucket, ForecastError, WinRates,
    calibrate::{CalibratedRates, Calibration, KnownEntries, YOUNG_HISTORY_UNDECIDED},
};

/// The rates of past days, each month's calibrated once, from entries
/// prepared once.
pub struct RatesThen {
    entries: KnownEntries,
    maturity_days: u32,
    prior_strength: Option<f64>,
    by_month: Mutex<BTreeMap<NaiveDate, Arc<OnceLock<Option<WinRates>>>>>,
}

impl std::fmt::Debug for RatesThen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RatesThen")
            .field("maturity_days", &self.maturity_days)
            .field("prior_strength", &self.prior_strength)
            .finish_non_exhaustive()
    }
}

impl RatesThen {
    /// From the history's stage events and outcomes and the frames naming
    /// the teams of undecided deals (see [`crate::calibrate`]), known on
    /// `how.as_of`: the rates of any day up to it.
    pub fn new(
        stage_events: LazyFrame,
        outcomes: LazyFrame,
        teams: Vec<LazyFrame>,
        stages: &[Stage],
        how: &Calibration,
    ) -> Result<Self, ForecastError> {
        Ok(RatesThen {
            entries: KnownEntries::prepare(stage_events, outcomes, teams, stages, how.as_of)?,
            maturity_days: how.maturity_days,
            prior_strength: how.prior_strength,
            by_month: Mutex::new(BTreeMap::new()),
        })
    }

    /// Stage events that repeated the stage their deal was already in,
    /// read as one entry with the event before (see
    /// [`crate::calibrate`]).
    pub fn repeated_events(&self) -> u64 {
        self.entries.repeated_events
    }

    /// The rates calibrated on `day` (at most the day prepared for).
    pub fn calibrated_on(&self, day: NaiveDate) -> Result<CalibratedRates, ForecastError> {
        self.entries.rates_on(&Calibration {
            as_of: day,
            maturity_days: self.maturity_days,
            prior_strength: self.prior_strength,
        })
    }

    /// The rates a forecast made on `day` learns against: those of its
    /// month's first day; `None` where the history known then was young
    /// or had nothing decided (today's rates stand).
    pub(crate) fn on(&self, day: NaiveDate) -> Result<Option<WinRates>, ForecastError> {
        let month = Bucket::Month.start_of(day, quotecast_model::FiscalYear::CALENDAR);
        let cell = self
            .by_month
            .lock()
            .map(|mut by_month| by_month.entry(month).or_default().clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().entry(month).or_default().clone());
        if let Some(rates) = cell.get() {
            return Ok(rates.clone());
        }
        // A history shorter than the maturity wait then: its decided
        // entries are mostly quick losses, and its rates too low.
        let span = i64::from(self.maturity_days);
        if self
            .entries
            .first_entry
            .is_none_or(|first| (month - first).num_days() < span)
        {
            return Ok(cell.get_or_init(|| None).clone());
        }
        let rates = self.calibrated_on(month)?;
        let young = rates
            .undecided
            .iter()
            .any(|(_, share)| *share > YOUNG_HISTORY_UNDECIDED);
        let rates =
            (rates.decided_entries > 0 && !young).then(|| WinRates::Calibrated(Box::new(rates)));
        Ok(cell.get_or_init(|| rates).clone())
    }
}

/// Per team: how much more a deal entering the funnel wins today (`today`,
/// see [`entering`]) than it did with the rates of `then` (its rate on
/// entering the first open stage), within 0.5 to 2. What deals not yet in
/// the pipeline booked after a past snapshot is scaled by it: they were
/// won at the rates of their time. Teams either side lacks count 1.
pub(crate) fn conversion_index(
    today: &BTreeMap<String, f64>,
    then: &WinRates,
    first_stage: &str,
) -> BTreeMap<String, f64> {
    let then = entering(then, first_stage);
    today
        .iter()
        .filter_map(|(team, now)| {
            let before = then.get(team).filter(|r| **r > 0.0)?;
            Some((team.clone(), (now / before).clamp(0.5, 2.0)))
        })
        .collect()
}

/// Per team: the calibrated rate on entering `stage` (none for the rules'
/// rates).
pub(crate) fn entering(rates: &WinRates, stage: &str) -> BTreeMap<String, f64> {
    let WinRates::Calibrated(rates) = rates else {
        return BTreeMap::new();
    };
    let Ok(table) = rates.on_entering() else {
        return BTreeMap::new();
    };
    let (Ok(teams), Ok(stages), Ok(rates)) = (
        table
            .column(quotecast_pipeline::columns::TEAM)
            .and_then(|c| c.str().cloned()),
        table
            .column(quotecast_pipeline::columns::STAGE)
            .and_then(|c| c.str().cloned()),
        table
            .column(crate::columns::CALIBRATED)
            .and_then(|c| c.f64().cloned()),
    ) else {
        return BTreeMap::new();
    };
    teams
        .iter()
        .zip(stages.iter())
        .zip(rates.iter())
        .filter_map(|((team, s), rate)| (s? == stage).then_some((team?.to_owned(), rate?)))
        .collect()
}
