//! A whole forecast job as the CLI and the server run it: the spec built
//! from the rules and the options, win rates calibrated and the team
//! correction learned when history is given, then the forecast, the
//! overdue deals and the Monte Carlo. One place, so that a batch job and
//! a `ForecastService` call on the same files give the same figures.
use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_model::RuleSet;
use quotecast_pipeline::read::History;

use crate::{
    Bucket, Calibration, Dimension, Forecast, ForecastError, ForecastSpec, Learning, RateTable,
    RatesThen, Simulation, Uncertainty, WinRates,
    corrected::{expected_deal_rows, needs_deal_rows},
    frames::snapshot_dates,
    learn_correction,
    montecarlo::simulate_rows,
    overdue,
    unseen_teams::borrow_new_deals,
    weighted::forecast_from,
};

/// History younger than this is not learned from: its deals have not been
/// decided yet.
pub const MATURITY_DAYS: u32 = 180;

/// What a forecast job is asked for.
#[derive(Debug, Clone)]
pub struct ForecastOptions {
    pub as_of: NaiveDate,
    pub bucket: Bucket,
    pub group_by: Vec<Dimension>,
    /// Prior strength of the company rate when calibrating, for every
    /// stage (`None`: estimated per stage from the spread between teams).
    pub prior_strength: Option<f64>,
    /// Monte Carlo trials (0: none) and their seed.
    pub simulation: Simulation,
}

/// Everything a forecast job produces.
#[derive(Debug, Clone)]
pub struct ForecastReport {
    /// The spec the figures were computed with (win rates, correction).
    pub spec: ForecastSpec,
    /// What the history was too young to teach (see [`forecast_spec`]).
    pub notes: Vec<String>,
    pub forecast: Forecast,
    /// Every open deal past its stage's time limit.
    pub overdue: DataFrame,
    /// Overdue deals per owner and team.
    pub overdue_by_owner: DataFrame,
    pub uncertainty: Option<Uncertainty>,
}

/// The spec for `rules` with the rules' stage win rates and no correction.
pub fn rules_spec(rules: &RuleSet, as_of: NaiveDate, bucket: Bucket) -> ForecastSpec {
    ForecastSpec {
        as_of,
        bucket,
        fiscal_year: rules.fiscal_year(),
        group_by: vec![],
        rates: RateTable::from_rules(rules),
        win_rates: WinRates::StageDefaults,
        stages: rules.stages().to_vec(),
        correction: None,
        new_deal_history: None,
        timing: None,
        amount_factors: None,
    }
}

/// The spec of a forecast job: the rules' stage rates, or with `history`
/// win rates calibrated on its stage events and outcomes and, when it has
/// past snapshots, the team accuracy correction and slippage learned too;
/// and notes on what the history was too young to teach (the rules' rates
/// kept, or no correction yet, with the days until there is one). The
/// demand roll-down plans from the same spec as the forecast. `snapshot`,
/// the pipeline being forecast, names the teams of deals still open for
/// the calibration (with the past snapshots).
pub fn forecast_spec(
    history: Option<History>,
    snapshot: Option<LazyFrame>,
    rules: &RuleSet,
    options: &ForecastOptions,
) -> Result<(ForecastSpec, Vec<String>), ForecastError> {
    if rules.stages().is_empty() {
        return Err(ForecastError::NoStages);
    }
    let mut spec = rules_spec(rules, options.as_of, options.bucket);
    spec.group_by = options.group_by.clone();
    let mut notes: Vec<String> = fiscal_year_note(&spec).into_iter().collect();
    let Some(history) = history else {
        return Ok((spec, notes));
    };
    let today = snapshot.clone();
    let rates_then = calibrate_history(&history, snapshot, rules, options, &mut spec)?;
    notes.extend(rates_then.1);
    let cancel = &options.simulation.cancel;
    cancel.check()?;
    notes.extend(learn_history(
        &history,
        today.as_ref(),
        rates_then.0,
        options,
        &mut spec,
    )?);
    cancel.check()?;
    Ok((spec, notes))
}

/// Which quarters the buckets are, when not the calendar's.
fn fiscal_year_note(spec: &ForecastSpec) -> Option<String> {
    (spec.fiscal_year != quotecast_model::FiscalYear::CALENDAR).then(|| {
        format!(
            "quarters are those of a fiscal year starting in {} (the rules' fiscal_year_start), each named by its first day",
            spec.fiscal_year
        )
    })
}

/// Today's win rates calibrated on the history's stage events and
/// outcomes into `spec` (unless no entry is decided yet); the entries
/// prepared for the past months' rates the correction learns against,
/// and the notes on what the history showed.
fn calibrate_history(
    history: &History,
    snapshot: Option<LazyFrame>,
    rules: &RuleSet,
    options: &ForecastOptions,
    spec: &mut ForecastSpec,
) -> Result<(RatesThen, Vec<String>), ForecastError> {
    let teams = snapshot
        .into_iter()
        .chain(history.snapshots.clone())
        .collect();
    let how = Calibration {
        as_of: options.as_of,
        maturity_days: MATURITY_DAYS,
        prior_strength: options.prior_strength,
    };
    options.simulation.cancel.check()?;
    // The entries are prepared once for today's rates and the past
    // months' the correction learns against.
    let rates_then = tracing::info_span!("calibrate").in_scope(|| {
        RatesThen::new(
            history.stage_events.clone(),
            history.outcomes.clone(),
            teams,
            rules.stages(),
            &how,
        )
    })?;
    let rates = rates_then.calibrated_on(options.as_of)?;
    let mut notes = Vec::new();
    let repeated = rates_then.repeated_events();
    if repeated > 0 {
        notes.push(format!(
            "{repeated} stage event(s) repeated the stage their deal was already in (a field history's rows for a change of amount or close date) and were read as one entry with the event before: a deal's days in a stage count from its first"
        ));
    }
    if rates.decided_entries == 0 {
        notes.push(format!(
            "no stage entry of the history made by {} has been decided (no deal of `stage_events` has a row in `outcomes` yet, or the two files write its id otherwise): the rules' stage win rates are used",
            options.as_of
        ));
        return Ok((rates_then, notes));
    }
    let young: Vec<String> = rates
        .undecided
        .iter()
        .filter(|(_, share)| *share > crate::calibrate::YOUNG_HISTORY_UNDECIDED)
        .map(|(stage, share)| format!("{stage} {:.0} %", share * 100.0))
        .collect();
    if !young.is_empty() {
        notes.push(format!(
            "the history is young: of the deals that entered these stages, this much of their chance is still undecided at the oldest age it shows, and is split between win and loss like the decided: {}",
            young.join(", ")
        ));
    }
    spec.win_rates = WinRates::Calibrated(Box::new(rates));
    Ok((rates_then, notes))
}

/// The team correction learned from the history's past snapshots into
/// `spec`, else what the stage history and today's snapshot teach without
/// one; the notes that say which, and why.
fn learn_history(
    history: &History,
    today: Option<&LazyFrame>,
    rates_then: RatesThen,
    options: &ForecastOptions,
    spec: &mut ForecastSpec,
) -> Result<Vec<String>, ForecastError> {
    let Some(snapshots) = history.snapshots.clone() else {
        let mut notes = vec![
            "no past snapshots in the history: no team accuracy correction or slippage".into(),
        ];
        notes.extend(without_correction(today, history, spec)?);
        return Ok(notes);
    };
    let how = Learning {
        as_of: options.as_of,
        maturity_days: MATURITY_DAYS,
        rates_then: Some(std::sync::Arc::new(rates_then)),
        slippage_place_days: Some(crate::quarter_ends::PLACE_DAYS),
    };
    let learned = tracing::info_span!("learn_correction")
        .in_scope(|| learn_correction(snapshots.clone(), history.outcomes.clone(), spec, &how));
    let why_not = match learned {
        // Snapshots whose deals none of the outcomes name (ids written
        // otherwise in the two files): every deal would count as lost.
        Ok(correction) if correction.accuracy.height() == 0 => format!(
            "no deal of the past snapshots at least {MATURITY_DAYS} days old has a row in `outcomes` (are the ids written the same way in both files? Salesforce's 18-character ids are already read as the 15-character ids its reports write): no team accuracy correction, calendar or slippage is learned from them"
        ),
        Ok(correction) => {
            let mut notes: Vec<String> = pipeline_share_note(&correction, spec)
                .into_iter()
                .chain(quarter_ends_note(&correction.quarter_ends, spec))
                .chain(pushed_note(&correction.quarter_ends, spec))
                .collect();
            spec.correction = Some(Box::new(correction));
            notes.extend(borrow_new_deals(today, spec)?);
            return Ok(notes);
        }
        Err(ForecastError::NoHistory(_)) => too_young_note(snapshots, options.as_of)?,
        Err(e) => return Err(e),
    };
    let mut notes = vec![why_not];
    notes.extend(without_correction(today, history, spec)?);
    Ok(notes)
}

/// Why no correction is learned from past snapshots none of which is
/// [`MATURITY_DAYS`] old by `as_of`: how many more days they need.
fn too_young_note(snapshots: LazyFrame, as_of: NaiveDate) -> Result<String, ForecastError> {
    let matured_before = as_of - chrono::TimeDelta::days(i64::from(MATURITY_DAYS));
    Ok(match snapshot_dates(snapshots)?.first().copied() {
        Some(day) => format!(
            "the team accuracy correction and slippage learn from past snapshots at least {MATURITY_DAYS} days old; the oldest is of {day}, so they need {} more days of snapshot history",
            (day - matured_before).num_days()
        ),
        None => {
            "the past snapshots file holds no snapshot: no team accuracy correction or slippage"
                .into()
        }
    })
}

/// Where the history's wins bunched at the ends of other quarters than
/// the rules': which, how much, and that the quarter-end anchor follows
/// them (the buckets stay the rules').
fn quarter_ends_note(found: &crate::QuarterEnds, spec: &ForecastSpec) -> Option<String> {
    let phase = |year: quotecast_model::FiscalYear| year.first_month0() % 3;
    if phase(found.year) == phase(spec.fiscal_year) {
        return None;
    }
    Some(format!(
        "won deals bunch at the ends of quarters starting in {}: {:.0} % of the history's wins closed in their last {} days, {:.0} % in those of the rules' quarters (starting in {}); the slippage's quarter-end anchor counts from those ends. If they are your fiscal quarters, set fiscal_year_start in rules/pipeline/calendar.toml for quarter buckets that match",
        crate::quarter_ends::quarter_months(found.year),
        found.share * 100.0,
        crate::quarter_ends::PUSH_DAYS,
        found.rules_share * 100.0,
        crate::quarter_ends::quarter_months(spec.fiscal_year),
    ))
}

/// With wins bunched at quarter ends, that where a past snapshot stood in
/// its quarter counts (see [`crate::quarter_ends`]).
fn pushed_note(found: &crate::QuarterEnds, spec: &ForecastSpec) -> Option<String> {
    if !crate::quarter_ends::pushed(found) {
        return None;
    }
    let slippage = match found.slippage_place_days {
        Some(days) => format!(
            "the slippage learned from the won deals of past snapshots within {days} days of {}'s place in its quarter",
            spec.as_of
        ),
        None => format!(
            "the slippage learned from every past snapshot's won deals (fewer than {} near {}'s place in its quarter)",
            crate::slippage::MIN_SLIP_OBSERVATIONS,
            spec.as_of
        ),
    };
    let calendar = match spec.bucket {
        Bucket::Quarter => String::new(),
        _ => ", and the calendar counts past snapshots by how near their place in their quarter is to today's".into(),
    };
    Some(format!(
        "{:.0} % of the history's wins closed in their quarters' last {} days: a deal's timing depends on where in its quarter it is seen, so {slippage}{calendar}",
        found.share * 100.0,
        crate::quarter_ends::PUSH_DAYS,
    ))
}

/// Without a correction, what the stage history and today's snapshot
/// still teach: new deals and timing, and what stated amounts book; the
/// notes that say so.
fn without_correction(
    snapshot: Option<&LazyFrame>,
    history: &History,
    spec: &mut ForecastSpec,
) -> Result<Vec<String>, ForecastError> {
    let mut notes: Vec<String> = new_deals_from_stage_entries(history, spec)?
        .into_iter()
        .collect();
    notes.extend(amounts_from_won_deals(snapshot, history, spec)?);
    notes.extend(borrow_new_deals(snapshot, spec)?);
    Ok(notes)
}

/// Without a correction: what the stated amounts of today's snapshot's
/// won deals booked (see [`crate::realisation`]) into `spec`; the note
/// that says so.
fn amounts_from_won_deals(
    snapshot: Option<&LazyFrame>,
    history: &History,
    spec: &mut ForecastSpec,
) -> Result<Option<String>, ForecastError> {
    let Some(snapshot) = snapshot else {
        return Ok(None);
    };
    let learned =
        crate::realisation::learn_amount_factors(snapshot.clone(), history.outcomes.clone(), spec)?;
    let Some(factors) = learned else {
        return Ok(Some(format!(
            "fewer than {} deals of today's snapshot are won with a booking in the outcomes: open deals' stated amounts are taken as what they will book",
            crate::realisation::MIN_DEALS
        )));
    };
    let note = crate::realisation::company_factor(&factors).map(|(factor, deals)| {
        format!(
            "stated amounts book at {:.1} % of what the snapshot states (the {deals:.0} won deals of today's snapshot whose bookings the outcomes hold; per team shrunk to the company's by deals, `amount_factor` in the table): `expected_bookings` scales open deals' value by their team's",
            factor * 100.0
        )
    });
    spec.amount_factors = Some(factors);
    Ok(note)
}

/// Without a correction: what deals not yet in the pipeline booked, per
/// team and horizon, learned from the days the history's deals entered
/// their first stage (see [`crate::first_seen`]) into `spec`; the note
/// that says so.
fn new_deals_from_stage_entries(
    history: &History,
    spec: &mut ForecastSpec,
) -> Result<Option<String>, ForecastError> {
    // The won deals with their stage entries, read once for both.
    let won = tracing::info_span!("won_deals_with_stage_entries").in_scope(|| {
        crate::first_seen::won_deals(history.stage_events.clone(), history.outcomes.clone(), spec)
    })?;
    let learned = crate::first_seen::learn_from_stage_entries(&won, spec)?;
    let timing = crate::timing::learn_timing(&won, spec)?;
    let timed = timing.is_some();
    spec.timing = timing;
    let Some((table, days)) = learned else {
        return Ok(None);
    };
    let company =
        crate::pipeline_share::company_column(&table, crate::pipeline_share::NOT_YET_IN_PIPELINE);
    spec.new_deal_history = Some(table);
    Ok(Some(format!(
        "new deals from stage entries (no past snapshot old enough for a correction): on {days} past days a week apart, deals that had not yet entered a stage booked {} on average (weighted as snapshots would be); `new_deals` adds that per team, `expected_bookings` is {} plus `new_deals`, and the Monte Carlo draws new deals with the spread those days show",
        new_deal_amounts(&company, spec),
        if timed {
            "today's pipeline closing when its stage says (the days won deals in each stage took to close from past days a week apart, at least a year old, or 8 weeks in a younger history; their stated close dates not used)"
        } else {
            "`weighted`"
        },
    )))
}

/// What new deals booked per horizon (`new`, the company's), as a note
/// says it: in the rest of the quarter and the next; over the next
/// quarter's weeks or months, a week or a month being shorter than most
/// deals take from creation to close.
fn new_deal_amounts(new: &[(i32, f64)], spec: &ForecastSpec) -> String {
    let (bucket, currency) = (spec.bucket, &spec.rates.reporting_currency);
    let sum = |horizons: std::ops::Range<i32>| -> f64 {
        new.iter()
            .filter(|(h, _)| horizons.contains(h))
            .map(|(_, v)| v)
            .sum()
    };
    match bucket {
        crate::Bucket::Week => format!("{:.0} {currency} over the next 13 weeks", sum(0..13)),
        crate::Bucket::Month => format!("{:.0} {currency} over the next 3 months", sum(0..3)),
        crate::Bucket::Quarter => format!(
            "{:.0} {currency} in the rest of the {bucket} and {:.0} {currency} in the next",
            sum(0..1),
            sum(1..2)
        ),
    }
}

/// What share of the bookings that followed past snapshots in the current
/// and the next bucket came from deals open on them, and what deals not
/// yet in the pipeline booked there: the part of a bucket's bookings a
/// forecast of today's pipeline can see, and what `new_deals` adds.
fn pipeline_share_note(correction: &crate::Correction, spec: &ForecastSpec) -> Option<String> {
    let at = |values: &[(i32, f64)], h: i32| values.iter().find(|(x, _)| *x == h).map(|(_, v)| *v);
    let shares = crate::pipeline_share::pipeline_shares(correction);
    let new = crate::pipeline_share::not_yet_in_pipeline(correction);
    let bucket = spec.bucket;
    // Shares per week or month say little: most deals take longer.
    let shares = match bucket {
        crate::Bucket::Quarter => format!(
            "deals already in the pipeline made {:.0} % of what was booked in the rest of the {bucket} and {:.0} % of the next {bucket}'s bookings (pipeline_share in the calendar); ",
            at(&shares, 0)? * 100.0,
            at(&shares, 1)? * 100.0,
        ),
        _ => String::new(),
    };
    at(&new, 0)?;
    Some(format!(
        "on past snapshots, {shares}deals not yet in the pipeline booked {} on average (not_yet_in_pipeline, per team in the calendar); `corrected` counts today's pipeline and what is already won, `new_deals` adds what deals not yet created are expected to book (each team's average per snapshot, spread over groups as its business is today), `expected_bookings` is the two together, and the Monte Carlo draws new deals with the spread history shows",
        new_deal_amounts(&new, spec),
    ))
}

/// Runs the whole job on a checked snapshot: [`forecast_spec`], then the
/// forecast, the overdue deals and the Monte Carlo.
pub fn forecast_report(
    snapshot: DataFrame,
    history: Option<History>,
    rules: &RuleSet,
    options: &ForecastOptions,
) -> Result<ForecastReport, ForecastError> {
    let learned = forecast_spec(history, Some(snapshot.clone().lazy()), rules, options)?;
    report_with_spec(snapshot, learned, options)
}

/// [`forecast_report`] with its spec and notes already learned by
/// [`forecast_spec`] from the same snapshot, history, rules, as-of date,
/// bucket and prior strength (what a server keeps between jobs on the
/// same files): the grouping and the Monte Carlo are `options`'.
pub fn report_with_spec(
    snapshot: DataFrame,
    (mut spec, notes): (ForecastSpec, Vec<String>),
    options: &ForecastOptions,
) -> Result<ForecastReport, ForecastError> {
    spec.group_by = options.group_by.clone();
    let cancel = &options.simulation.cancel;
    let trials = options.simulation.trials;
    // The deal rows the corrected forecast and the Monte Carlo share.
    let expected = match trials > 0 || needs_deal_rows(&spec) {
        true => Some(
            tracing::info_span!("deal_rows")
                .in_scope(|| expected_deal_rows(snapshot.clone().lazy(), &spec))?,
        ),
        false => None,
    };
    let result = tracing::info_span!("forecast").in_scope(|| {
        forecast_from(
            snapshot.clone().lazy(),
            &spec,
            expected.clone().map(|r| r.lazy()),
        )
    })?;
    cancel.check()?;
    let (overdue_list, overdue_by_owner) =
        tracing::info_span!("overdue").in_scope(|| overdue(snapshot.clone().lazy(), &spec))?;
    cancel.check()?;
    let uncertainty = match expected.filter(|_| trials > 0) {
        Some(rows) => Some(
            tracing::info_span!("simulate", trials)
                .in_scope(|| simulate_rows(rows, &spec, &options.simulation))?,
        ),
        None => None,
    };
    Ok(ForecastReport {
        spec,
        notes,
        forecast: result,
        overdue: overdue_list,
        overdue_by_owner,
        uncertainty,
    })
}

/// The funnel of a history as of `as_of`, with entries that have had
/// [`MATURITY_DAYS`] to be decided.
pub fn funnel_report(
    history: History,
    rules: &RuleSet,
    as_of: NaiveDate,
) -> Result<crate::FunnelReport, ForecastError> {
    let how = Calibration {
        as_of,
        maturity_days: MATURITY_DAYS,
        prior_strength: None,
    };
    crate::funnel(history.stage_events, history.outcomes, rules.stages(), &how)
}

/// What a backtest is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestOptions {
    pub as_of: NaiveDate,
    pub bucket: Bucket,
    /// Buckets scored from each snapshot date, its own first.
    pub horizon: u32,
    pub prior_strength: Option<f64>,
    /// Monte Carlo trials per date for the range scores (0: none).
    pub trials: u32,
    /// Stops the backtest between its dates and phases.
    pub cancel: crate::Cancel,
}

/// The backtest of a history, which must hold past snapshots.
pub fn backtest_report(
    history: History,
    rules: &RuleSet,
    options: &BacktestOptions,
) -> Result<crate::BacktestResult, ForecastError> {
    let Some(snapshots) = history.snapshots.clone() else {
        return Err(ForecastError::NoHistory(
            "no past snapshots (they are what the backtest forecasts from)".into(),
        ));
    };
    if rules.stages().is_empty() {
        return Err(ForecastError::NoStages);
    }
    let spec = rules_spec(rules, options.as_of, options.bucket);
    let how = crate::Backtest {
        as_of: options.as_of,
        maturity_days: MATURITY_DAYS,
        horizon: options.horizon,
        prior_strength: options.prior_strength,
        trials: options.trials,
        cancel: options.cancel.clone(),
    };
    crate::backtest(
        history.stage_events,
        history.outcomes,
        snapshots,
        &spec,
        &how,
    )
}

/// The codes a snapshot's columns may hold, from the rules.
pub fn vocabulary(rules: &RuleSet) -> quotecast_pipeline::read::Vocabulary {
    let stages = rules.stages();
    let stage_labels = stages
        .iter()
        .flat_map(|s| s.labels.iter().map(|l| (l.clone(), s.id.clone())))
        .collect();
    let outcome_labels = stages
        .iter()
        .filter_map(|s| Some((s, s.outcome?)))
        .flat_map(|(s, outcome)| {
            let word = match outcome {
                quotecast_model::StageOutcome::Won => "won",
                quotecast_model::StageOutcome::Lost => "lost",
            };
            std::iter::once(&s.id)
                .chain(&s.labels)
                .filter(move |l| l.as_str() != word)
                .map(move |l| (l.clone(), word.to_owned()))
        })
        .collect();
    quotecast_pipeline::read::Vocabulary {
        stages: stages.iter().map(|s| s.id.clone()).collect(),
        currencies: rules.currencies().cloned().collect(),
        forecast_categories: quotecast_model::ForecastCategory::ALL
            .iter()
            .map(|c| c.name().to_owned())
            .collect(),
        stage_labels,
        outcome_labels,
        column_labels: rules.column_labels().to_vec(),
        default_currency: Some(rules.corporate_currency().code.to_string()),
    }
}

/// Columns of the result tables that are money in the reporting currency.
pub const MONEY_COLUMNS: &[&str] = &[
    crate::weighted::CLOSED_WON,
    "commit",
    "best_case",
    "pipeline",
    crate::weighted::WEIGHTED,
    crate::columns::CORRECTED,
    crate::new_deals::NEW_DEALS,
    crate::new_deals::EXPECTED_BOOKINGS,
    crate::pipeline_share::NOT_YET_IN_PIPELINE,
    crate::pipeline_share::NOT_YET_IN_PIPELINE_SD,
    crate::montecarlo::MEAN,
    crate::montecarlo::P10,
    crate::montecarlo::P50,
    crate::montecarlo::P90,
    quotecast_pipeline::columns::AMOUNT,
    crate::accuracy::FORECAST,
    crate::columns::REALISED,
    crate::scores::ACTUAL,
    crate::realisation::STATED,
    crate::realisation::BOOKED,
];
