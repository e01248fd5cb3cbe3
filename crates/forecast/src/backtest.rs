//! Backtest: the forecast as it would have been made on each past snapshot
//! date, scored against what those deals actually booked.
//!
//! On each past snapshot date `d` old enough for its deals to have been
//! decided, three models forecast the deals open on `d`, per bucket and
//! team, for the `horizon` buckets starting with the one holding `d`:
//! * `rules`: the rules' stage win rates (the naive forecast);
//! * `calibrated`: win rates calibrated from the history known on `d`;
//! * `corrected`: calibrated, with the team accuracy correction and
//!   slippage learned from the snapshots that had matured by `d`
//!   (skipped on dates with none);
//!
//! beside the three baselines a planner would use (see [`crate::baselines`]).
//! These are scored against what the deals open on `d` booked. The
//! corrected model with new deals ([`WITH_NEW_DEALS`], see
//! [`crate::new_deals`]) and the baselines counting every booking
//! ([`BASELINES_ALL`]) are scored against everything booked after `d`,
//! deals created since too: what a sales leader compares a forecast with.
//! Nothing after `d` feeds a model: calibration and correction are made
//! as of `d`. Scores ([`crate::scores`]): WAPE (Σ|forecast − actual| /
//! Σ actual over bucket × team cells), bias (Σ(forecast − actual) /
//! Σ actual), CRPS over actual, and for the calibrated and corrected
//! models' Monte Carlo the share of cells whose actual fell within P10–P90
//! and P5–P95, all per model and per horizon; the Brier score of each
//! deal's win probability against its outcome, a reliability table (deals
//! binned by probability: mean probability against the share won), and
//! the forecast value added: the rules model's WAPE less the model's, and
//! the best baseline's WAPE less the model's (of the baselines scored
//! against the same actual), in points.
use std::sync::Arc;

use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_pipeline::columns as col;
use rayon::prelude::*;

use crate::{
    Calibration, ForecastError, ForecastSpec, Learning, RatesThen, Simulation, WinRates,
    accuracy::learn_from,
    baselines::{BASELINES, BASELINES_ALL, SnapshotBookings, snapshot_bookings},
    calibrate,
    columns::{
        BUCKET, CELL_FORECAST, HORIZON, IF_WON, IS_OPEN, IS_WON, PROBABILITY, REALISED, SHARE,
    },
    corrected::{expected_rows, numbered_deals},
    frames::{PastSnapshots, collect_together, exact_mean, fixed_sum},
    montecarlo::{P10, P50, P90},
    new_deals::{MIX, TEAM_MEAN},
    prepare::{decided, prepared},
    scores::{ACTUAL, WAPE, error_aggs, quantile, quantiles, with_cell_scores, without_quantiles},
};

pub const SNAPSHOT_DATE: &str = col::SNAPSHOT_DATE;
pub const MODEL: &str = "model";
pub const BRIER: &str = "brier";
pub const FVA: &str = "fva_points";
pub const DEALS: &str = "deals";
pub const BIN: &str = "probability_bin";
pub const MEAN_PROBABILITY: &str = "mean_probability";
pub const WON_SHARE: &str = "won_share";

/// The models compared, naive first.
pub const MODELS: [&str; 3] = ["rules", "calibrated", "corrected"];
/// The corrected model with what deals not yet in the pipeline add (see
/// [`crate::new_deals`]), scored against everything booked after the
/// date, beside [`BASELINES_ALL`].
pub const WITH_NEW_DEALS: &str = "with_new_deals";
pub const FVA_BASELINE: &str = "fva_vs_best_baseline";
/// The seed of the backtest's Monte Carlo.
const SEED: u64 = 1;

/// How to backtest.
#[derive(Debug, Clone, PartialEq)]
pub struct Backtest {
    /// Today: outcomes up to here are known.
    pub as_of: NaiveDate,
    /// Past snapshots younger than this are not scored (their deals are
    /// not decided yet), and each model learns only from history this
    /// much older than the date it forecasts on.
    pub maturity_days: u32,
    /// Buckets scored from each snapshot date, its own first.
    pub horizon: u32,
    /// As [`Calibration::prior_strength`].
    pub prior_strength: Option<f64>,
    /// Monte Carlo trials per date for the calibrated and corrected
    /// models' ranges (0: no range scores).
    pub trials: u32,
    /// Stops the backtest between its dates and phases (and its trials).
    pub cancel: crate::Cancel,
}

/// Backtest results.
#[derive(Debug, Clone)]
pub struct BacktestResult {
    /// Per snapshot date and model: `forecast`, `actual`, `wape`, `bias`,
    /// `brier`, `deals`.
    pub by_date: DataFrame,
    /// Per model over all dates: `forecast`, `actual`, `wape`, `bias`,
    /// `crps` (over actual), `coverage_p10_p90`, `coverage_p5_p95`,
    /// `cells`, `brier`, `deals`, `fva_points` (over the rules model) and
    /// `fva_vs_best_baseline`.
    pub summary: DataFrame,
    /// The same per model and horizon (0: the bucket holding the date).
    pub by_horizon: DataFrame,
    /// Per model and probability bin (0.0, 0.1, ... 0.9): `deals`,
    /// `mean_probability`, `won_share`.
    pub reliability: DataFrame,
    /// Every scored cell: per snapshot date, model, bucket and team, its
    /// `horizon`, `forecast` and `actual`, and for the simulated models
    /// `p10`, `p50`, `p90` (where a miss is, and on which side).
    pub cells: DataFrame,
    pub dates: Vec<NaiveDate>,
}

/// Backtests on every matured snapshot date. `spec` gives the bucket,
/// currency rates and funnel; its win rates and correction are replaced
/// per model.
pub fn backtest(
    stage_events: LazyFrame,
    outcomes: LazyFrame,
    snapshots: LazyFrame,
    spec: &ForecastSpec,
    how: &Backtest,
) -> Result<BacktestResult, ForecastError> {
    // Read once and split by day: every date's models read their days
    // rather than scan the file.
    let snapshots = PastSnapshots::read(snapshots)?;
    let (matured, dates) = scored_dates(&snapshots, how)?;
    let known = decided(outcomes.clone(), spec, how.as_of)?;
    let mut rules = spec.clone();
    rules.win_rates = WinRates::StageDefaults;
    rules.correction = None;
    let bookings = snapshot_bookings(&snapshots, known.clone(), &rules, &matured)?;
    debug_assert_eq!(bookings.bucket(), spec.bucket);
    let window = horizon_frame(&dates, spec, how.horizon)?;
    // Past months' rates for the learning of every date, each month's
    // calibrated once (the teams of undecided deals from every snapshot:
    // a team is no outcome).
    let rates_then = Arc::new(RatesThen::new(
        stage_events.clone(),
        outcomes.clone(),
        vec![snapshots.up_to(how.as_of)?],
        &rules.stages,
        &Calibration {
            as_of: how.as_of,
            maturity_days: how.maturity_days,
            prior_strength: how.prior_strength,
        },
    )?);
    // Dates are independent: each is learned, forecast and collected on
    // its own, in parallel, then gathered in date order.
    let one_date = |day: NaiveDate| -> Result<Frames, ForecastError> {
        how.cancel.check()?;
        let mut frames = Frames::default();
        let taken = snapshots.taken_on(day);
        for (model, model_spec) in models_on(
            day,
            &stage_events,
            &outcomes,
            &snapshots,
            &rules,
            how,
            &rates_then,
        )? {
            how.cancel.check()?;
            frames.add_model(day, model, &model_spec, taken.clone(), how)?;
        }
        add_baselines(&mut frames, day, &bookings, &window, how)?;
        // Each date's frames are computed now: the plans stay shallow and
        // each date's share of the work is done once.
        Frames::default().absorbed(frames)
    };
    let per_date: Vec<Frames> = dates
        .par_iter()
        .map(|day| one_date(*day))
        .collect::<Result<_, _>>()?;
    let mut all = Frames::default();
    for frames in per_date {
        all.extend(frames);
    }
    scored(all, known, bookings.all_booked(), window, spec, dates)
}

/// The matured snapshot dates (at least the maturity wait old), and the
/// dates every model is scored on: those with a matured snapshot to learn
/// the correction from, when there are any, else every matured one.
fn scored_dates(
    snapshots: &PastSnapshots,
    how: &Backtest,
) -> Result<(Vec<NaiveDate>, Vec<NaiveDate>), ForecastError> {
    let maturity = chrono::TimeDelta::days(i64::from(how.maturity_days));
    let matured: Vec<NaiveDate> = snapshots
        .dates()
        .into_iter()
        .filter(|d| *d <= how.as_of - maturity)
        .collect();
    if matured.is_empty() {
        return Err(ForecastError::NoHistory(format!(
            "no past snapshot is at least {} days older than {}",
            how.maturity_days, how.as_of
        )));
    }
    let correctable: Vec<NaiveDate> = matured
        .iter()
        .copied()
        .filter(|d| matured.first().is_some_and(|first| *first <= *d - maturity))
        .collect();
    let dates = if correctable.is_empty() {
        matured.clone()
    } else {
        correctable
    };
    Ok((matured, dates))
}

/// The baselines' cells of `day` (within its scored horizons, `window`)
/// into `frames`: those of the open deals' bookings, then those of all.
fn add_baselines(
    frames: &mut Frames,
    day: NaiveDate,
    bookings: &SnapshotBookings,
    window: &DataFrame,
    how: &Backtest,
) -> Result<(), ForecastError> {
    let day_window = window
        .clone()
        .lazy()
        .filter(col(SNAPSHOT_DATE).eq(lit(day).cast(DataType::Date)));
    let forecasts = |all| bookings.forecasts(day, how.maturity_days, all, how.horizon);
    let baselines = BASELINES
        .into_iter()
        .zip(forecasts(false)?)
        .chain(BASELINES_ALL.into_iter().zip(forecasts(true)?));
    for (model, cells) in baselines {
        frames.cells.push(tagged(
            cells
                .join(
                    day_window.clone(),
                    [col(HORIZON)],
                    [col(HORIZON)],
                    JoinArgs::new(JoinType::Inner),
                )
                .select([col(BUCKET), col(col::TEAM), col(CELL_FORECAST)]),
            day,
            model,
        ));
    }
    Ok(())
}

/// `frame` with the snapshot date and the model (or baseline) it is of.
fn tagged(frame: LazyFrame, day: NaiveDate, model: &str) -> LazyFrame {
    frame.with_columns([
        lit(day).cast(DataType::Date).alias(SNAPSHOT_DATE),
        lit(model).alias(MODEL),
    ])
}

/// The models made on `day`: the rules' rates, the rates calibrated on the
/// history known then, and with the correction learned by then when a
/// snapshot had matured.
fn models_on(
    day: NaiveDate,
    stage_events: &LazyFrame,
    outcomes: &LazyFrame,
    snapshots: &PastSnapshots,
    rules: &ForecastSpec,
    how: &Backtest,
    rates_then: &Arc<RatesThen>,
) -> Result<Vec<(&'static str, ForecastSpec)>, ForecastError> {
    let mut rules = rules.clone();
    rules.as_of = day;
    let mut calibrated = rules.clone();
    // The teams of deals open on the day, from the snapshots known then.
    let teams = snapshots.up_to(day)?;
    calibrated.win_rates = WinRates::Calibrated(Box::new(calibrate(
        stage_events.clone(),
        outcomes.clone(),
        vec![teams],
        &rules.stages,
        &Calibration {
            as_of: day,
            maturity_days: how.maturity_days,
            prior_strength: how.prior_strength,
        },
    )?));
    how.cancel.check()?;
    let mut models = vec![(MODELS[0], rules), (MODELS[1], calibrated.clone())];
    let learning = Learning {
        as_of: day,
        maturity_days: how.maturity_days,
        rates_then: Some(rates_then.clone()),
        slippage_place_days: Some(crate::quarter_ends::PLACE_DAYS),
    };
    match learn_from(snapshots, outcomes.clone(), &calibrated, &learning) {
        Ok(correction) => {
            let mut corrected = calibrated;
            corrected.correction = Some(Box::new(correction));
            // Teams of the day's pipeline the history then did not show,
            // as the forecast job has them.
            let today = snapshots.taken_on(day);
            crate::unseen_teams::borrow_new_deals(Some(&today), &mut corrected)?;
            models.push((MODELS[2], corrected));
        }
        Err(ForecastError::NoHistory(_)) => {}
        Err(e) => return Err(e),
    }
    Ok(models)
}

/// What each date and model contributes to the scores.
#[derive(Default)]
struct Frames {
    /// Per model, date, bucket and team: the forecast.
    cells: Vec<LazyFrame>,
    /// Per model, date and deal: its win probability.
    deals: Vec<LazyFrame>,
    /// Per date: the deals open then, with their team.
    open: Vec<LazyFrame>,
    /// Per Monte Carlo model, date, bucket and team: the quantiles.
    quantiles: Vec<LazyFrame>,
}

impl Frames {
    /// `model`'s frames on `day`: its cells' forecasts, its deals' win
    /// probabilities, its Monte Carlo quantiles (`how.trials` per date, not
    /// for the rules' model) and, once per date, the deals open then.
    fn add_model(
        &mut self,
        day: NaiveDate,
        model: &'static str,
        spec: &ForecastSpec,
        taken: LazyFrame,
        how: &Backtest,
    ) -> Result<(), ForecastError> {
        let (lines, _) = prepared(taken, spec)?;
        // The open lines of the date, computed once per model: later
        // plans start from them rather than from the whole scan.
        let open = numbered_deals(lines.filter(col(IS_OPEN))).collect()?.lazy();
        if model == MODELS[0] {
            self.open.push(
                open.clone()
                    .group_by([col(col::OPPORTUNITY_ID)])
                    .agg([col(col::TEAM).first()])
                    .with_column(lit(day).cast(DataType::Date).alias(SNAPSHOT_DATE)),
            );
        }
        let rows = expected_rows(open, spec)?;
        self.deals.push(tagged(
            rows.clone()
                .group_by([col(col::OPPORTUNITY_ID)])
                .agg([col(PROBABILITY).first()]),
            day,
            model,
        ));
        let cells = rows
            .clone()
            .group_by([col(BUCKET), col(col::TEAM)])
            .agg([fixed_sum(col(PROBABILITY) * col(IF_WON) * col(SHARE)).alias(CELL_FORECAST)]);
        self.simulate(day, model, spec, rows.clone(), None, how)?;
        self.cells.push(tagged(cells.clone(), day, model));
        if model != MODELS[2] {
            return Ok(());
        }
        // The corrected model with new deals: their pieces per team and
        // bucket added to its cells and drawn in its trials.
        let Some(pieces) = crate::new_deals::pieces(rows.clone(), spec)? else {
            return Ok(());
        };
        let new = pieces.clone().select([
            col(BUCKET),
            col(col::TEAM),
            (col(TEAM_MEAN) * col(MIX)).alias(CELL_FORECAST),
        ]);
        self.cells.push(tagged(
            concat([cells, new], UnionArgs::default())?
                .group_by([col(BUCKET), col(col::TEAM)])
                .agg([fixed_sum(col(CELL_FORECAST)).alias(CELL_FORECAST)]),
            day,
            WITH_NEW_DEALS,
        ));
        self.simulate(day, WITH_NEW_DEALS, spec, rows, Some(pieces), how)
    }

    /// `model`'s Monte Carlo quantiles per bucket and team on `day`
    /// (none for the rules' model or without trials).
    fn simulate(
        &mut self,
        day: NaiveDate,
        model: &'static str,
        spec: &ForecastSpec,
        rows: LazyFrame,
        new_deals: Option<LazyFrame>,
        how: &Backtest,
    ) -> Result<(), ForecastError> {
        if model == MODELS[0] || how.trials == 0 {
            return Ok(());
        }
        let simulation = Simulation {
            trials: how.trials,
            seed: SEED,
            cancel: how.cancel.clone(),
            budget: Default::default(),
        };
        let keys = vec![col(BUCKET), col(col::TEAM)];
        let trials = crate::montecarlo::trials(rows, keys, &simulation, spec, new_deals)?;
        self.quantiles.push(tagged(
            quantiles(&trials)?.drop("__cell")?.lazy(),
            day,
            model,
        ));
        Ok(())
    }

    /// These frames and `day`'s, collected.
    fn absorbed(mut self, day: Frames) -> Result<Self, ForecastError> {
        let sizes = [
            day.cells.len(),
            day.deals.len(),
            day.open.len(),
            day.quantiles.len(),
        ];
        let plans: Vec<LazyFrame> = [day.cells, day.deals, day.open, day.quantiles]
            .into_iter()
            .flatten()
            .collect();
        let mut collected = collect_together(plans)?.into_iter().map(|f| f.lazy());
        for (target, size) in [
            &mut self.cells,
            &mut self.deals,
            &mut self.open,
            &mut self.quantiles,
        ]
        .into_iter()
        .zip(sizes)
        {
            target.extend(collected.by_ref().take(size));
        }
        Ok(self)
    }

    fn extend(&mut self, other: Frames) {
        self.cells.extend(other.cells);
        self.deals.extend(other.deals);
        self.open.extend(other.open);
        self.quantiles.extend(other.quantiles);
    }
}

/// The scores of every model's cells and deals.
fn scored(
    frames: Frames,
    known: LazyFrame,
    all_booked: LazyFrame,
    window: DataFrame,
    spec: &ForecastSpec,
    dates: Vec<NaiveDate>,
) -> Result<BacktestResult, ForecastError> {
    // What the deals open on each date actually booked, per bucket and team.
    let outcomes_of_open = concat(frames.open, UnionArgs::default())?.join(
        known.clone(),
        [col(col::OPPORTUNITY_ID)],
        [col(col::OPPORTUNITY_ID)],
        JoinArgs::new(JoinType::Inner),
    );
    let actual = per_cell(outcomes_of_open.clone().filter(col(IS_WON)), REALISED, spec);
    // Everything booked after each date, new deals too.
    let actual_all = per_cell(all_booked, crate::baselines::BOOKED, spec);
    let scored_cells = scored_cells(frames.cells, frames.quantiles, [actual, actual_all], window)?;
    let deals = concat(frames.deals, UnionArgs::default())?
        .join(
            outcomes_of_open.select([col(SNAPSHOT_DATE), col(col::OPPORTUNITY_ID), col(IS_WON)]),
            [col(SNAPSHOT_DATE), col(col::OPPORTUNITY_ID)],
            [col(SNAPSHOT_DATE), col(col::OPPORTUNITY_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .with_column(col(IS_WON).cast(DataType::Float64));
    let brier_aggs = || {
        [
            exact_mean((col(PROBABILITY) - col(IS_WON)).pow(2)).alias(BRIER),
            len().cast(DataType::UInt64).alias(DEALS),
        ]
    };
    let join_on = |left: LazyFrame, right: LazyFrame, keys: &[&str]| {
        let keys: Vec<Expr> = keys.iter().map(|k| col(*k)).collect();
        left.join(right, keys.clone(), keys, JoinArgs::new(JoinType::Left))
    };
    let by_date = join_on(
        scored_cells
            .clone()
            .group_by([col(SNAPSHOT_DATE), col(MODEL)])
            .agg(error_aggs()),
        deals
            .clone()
            .group_by([col(SNAPSHOT_DATE), col(MODEL)])
            .agg(brier_aggs()),
        &[SNAPSHOT_DATE, MODEL],
    )
    .sort([SNAPSHOT_DATE, MODEL], SortMultipleOptions::default());
    let summary = join_on(
        scored_cells
            .clone()
            .group_by([col(MODEL)])
            .agg(error_aggs()),
        deals.clone().group_by([col(MODEL)]).agg(brier_aggs()),
        &[MODEL],
    );
    let by_horizon = scored_cells
        .clone()
        .group_by([col(MODEL), col(HORIZON)])
        .agg(error_aggs());
    let plans = vec![
        by_date,
        summary,
        by_horizon,
        reliability(deals),
        cell_table(scored_cells),
    ];
    let mut frames = collect_together(plans)?;
    let cells = frames.pop().unwrap_or_default();
    let reliability = frames.pop().unwrap_or_default();
    let by_horizon = in_model_order(frames.pop().unwrap_or_default(), &[HORIZON])?;
    let summary = with_value_added(in_model_order(frames.pop().unwrap_or_default(), &[])?)?;
    let by_date = frames.pop().unwrap_or_default();
    Ok(BacktestResult {
        by_date,
        summary,
        by_horizon,
        reliability,
        cells,
        dates,
    })
}

/// What the won deals of `won` booked (their `value`) per snapshot date,
/// bucket of their close and team: a cell's [`ACTUAL`].
fn per_cell(won: LazyFrame, value: &str, spec: &ForecastSpec) -> LazyFrame {
    won.with_column(spec.bucket_of(col(col::CLOSED)).alias(BUCKET))
        .group_by([col(SNAPSHOT_DATE), col(BUCKET), col(col::TEAM)])
        .agg([fixed_sum(col(value)).alias(ACTUAL)])
}

/// The scored cells as a reader wants them: keys, horizon, forecast,
/// actual and the simulated range, in date, model, bucket and team order.
fn cell_table(scored: LazyFrame) -> LazyFrame {
    scored
        .select([
            col(SNAPSHOT_DATE),
            col(MODEL),
            col(BUCKET),
            col(col::TEAM),
            col(HORIZON),
            col(CELL_FORECAST).alias(crate::scores::FORECAST),
            col(ACTUAL),
            quantile(1).alias(P10),
            quantile(9).alias(P50),
            quantile(17).alias(P90),
        ])
        .sort(
            [SNAPSHOT_DATE, MODEL, BUCKET, col::TEAM],
            SortMultipleOptions::default(),
        )
}

/// Every model's and baseline's cells (date, bucket, team) within the
/// scored window, beside what booked there (0 where nothing did) and,
/// for the simulated models, their quantiles; with each cell's scores.
fn scored_cells(
    cells: Vec<LazyFrame>,
    quantiles: Vec<LazyFrame>,
    [open, all]: [LazyFrame; 2],
    window: DataFrame,
) -> Result<LazyFrame, ForecastError> {
    let cells = concat(cells, UnionArgs::default())?;
    let models = cells
        .clone()
        .select([col(SNAPSHOT_DATE), col(MODEL)])
        .unique(None, UniqueKeepStrategy::First);
    // Each model beside the actual it forecasts: what the deals open on
    // the date booked, or everything booked after it.
    let of_all = col(MODEL).is_in(lit(all_bookings_models()).implode(false), false);
    let per_model = |actual: LazyFrame, models: LazyFrame| {
        actual.join(
            models,
            [col(SNAPSHOT_DATE)],
            [col(SNAPSHOT_DATE)],
            JoinArgs::new(JoinType::Inner),
        )
    };
    let actual_per_model = concat(
        [
            per_model(open, models.clone().filter(of_all.clone().not())),
            per_model(all, models.filter(of_all)),
        ],
        UnionArgs::default(),
    )?;
    let keys = [col(SNAPSHOT_DATE), col(MODEL), col(BUCKET), col(col::TEAM)];
    let mut scored = cells
        .join(
            actual_per_model,
            keys.clone(),
            keys.clone(),
            JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
        )
        .join(
            window.lazy(),
            [col(SNAPSHOT_DATE), col(BUCKET)],
            [col(SNAPSHOT_DATE), col(BUCKET)],
            JoinArgs::new(JoinType::Inner),
        )
        .with_columns([
            col(CELL_FORECAST).fill_null(lit(0.0)),
            col(ACTUAL).fill_null(lit(0.0)),
        ]);
    let simulated = if quantiles.is_empty() {
        scored = without_quantiles(scored);
        lit(false)
    } else {
        scored = scored.join(
            concat(quantiles, UnionArgs::default())?,
            keys.clone(),
            keys,
            JoinArgs::new(JoinType::Left),
        );
        col(MODEL).is_in(
            lit(Series::new(
                "simulated".into(),
                [MODELS[1], MODELS[2], WITH_NEW_DEALS],
            ))
            .implode(false),
            false,
        )
    };
    Ok(with_cell_scores(scored, simulated))
}

/// Per model and tenth of win probability: deals, their mean probability
/// and the share won.
fn reliability(deals: LazyFrame) -> LazyFrame {
    deals
        .with_column(
            ((col(PROBABILITY) * lit(10.0))
                .floor()
                .clip(lit(0.0), lit(9.0))
                / lit(10.0))
            .alias(BIN),
        )
        .group_by([col(MODEL), col(BIN)])
        .agg([
            len().cast(DataType::UInt64).alias(DEALS),
            exact_mean(col(PROBABILITY)).alias(MEAN_PROBABILITY),
            col(IS_WON).mean().alias(WON_SHARE),
        ])
        .sort([MODEL, BIN], SortMultipleOptions::default())
}

/// Per snapshot date, the scored buckets with their horizon: the one
/// holding the date (0) and the `horizon − 1` after it.
fn horizon_frame(
    dates: &[NaiveDate],
    spec: &ForecastSpec,
    horizon: u32,
) -> PolarsResult<DataFrame> {
    let bucket = spec.bucket;
    let (mut days, mut starts, mut places) = (Vec::new(), Vec::new(), Vec::new());
    for &day in dates {
        let mut start = spec.bucket_start(day);
        for k in 0..horizon.max(1) {
            days.push(quotecast_pipeline::epoch_days(day));
            starts.push(quotecast_pipeline::epoch_days(start));
            places.push(k as i32);
            start = bucket.next(start);
        }
    }
    DataFrame::new(
        days.len(),
        vec![
            Column::new(SNAPSHOT_DATE.into(), days).cast(&DataType::Date)?,
            Column::new(BUCKET.into(), starts).cast(&DataType::Date)?,
            Column::new(HORIZON.into(), places),
        ],
    )
}

/// The models scored against everything booked after the date.
fn all_bookings_models() -> Series {
    let mut names = vec![WITH_NEW_DEALS];
    names.extend(BASELINES_ALL);
    Series::new("all_bookings".into(), names)
}

/// `frame` sorted by model ([`MODELS`], [`WITH_NEW_DEALS`], then
/// [`BASELINES`] and [`BASELINES_ALL`]) and `then`.
fn in_model_order(frame: DataFrame, then: &[&str]) -> Result<DataFrame, ForecastError> {
    let names: Vec<&str> = MODELS
        .iter()
        .chain([WITH_NEW_DEALS].iter())
        .chain(BASELINES.iter())
        .chain(BASELINES_ALL.iter())
        .copied()
        .collect();
    let order = DataFrame::new(
        names.len(),
        vec![
            Column::new(MODEL.into(), names.clone()),
            Column::new(
                "__order".into(),
                (0..names.len() as u32).collect::<Vec<_>>(),
            ),
        ],
    )?;
    let mut by = vec!["__order"];
    by.extend_from_slice(then);
    Ok(frame
        .lazy()
        .join(
            order.lazy(),
            [col(MODEL)],
            [col(MODEL)],
            JoinArgs::new(JoinType::Left),
        )
        .sort(by, SortMultipleOptions::default())
        .drop(cols(["__order"]))
        .collect()?)
}

/// The summary with the forecast value added over the rules model and
/// over the best baseline (the one with the lowest WAPE).
fn with_value_added(summary: DataFrame) -> Result<DataFrame, ForecastError> {
    let wape_of = |models: &[&str]| -> Result<f64, ForecastError> {
        let list = Series::new("models".into(), models.to_vec());
        Ok(summary
            .clone()
            .lazy()
            .filter(col(MODEL).is_in(lit(list).implode(false), false))
            .select([col(WAPE).min()])
            .collect()?
            .column(WAPE)?
            .f64()?
            .get(0)
            .unwrap_or(f64::NAN))
    };
    let naive = wape_of(&MODELS[..1])?;
    let best_baseline = wape_of(&BASELINES)?;
    let best_of_all = wape_of(&BASELINES_ALL)?;
    // A model forecasting everything booked is held to the baselines
    // that do, and no rules model forecasts that.
    let of_all = col(MODEL).is_in(lit(all_bookings_models()).implode(false), false);
    Ok(summary
        .lazy()
        .with_columns([
            when(of_all.clone())
                .then(lit(NULL).cast(DataType::Float64))
                .otherwise((lit(naive) - col(WAPE)) * lit(100.0))
                .alias(FVA),
            when(of_all)
                .then((lit(best_of_all) - col(WAPE)) * lit(100.0))
                .otherwise((lit(best_baseline) - col(WAPE)) * lit(100.0))
                .alias(FVA_BASELINE),
        ])
        .collect()?)
}
