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
//!   (skipped on dates with none).
//!
//! Nothing after `d` feeds a model: calibration and correction are made
//! as of `d`. Scores: WAPE (Σ|forecast − actual| / Σ actual over bucket ×
//! team cells), bias (Σ(forecast − actual) / Σ actual), the Brier score
//! of each deal's win probability against its outcome, a reliability
//! table (deals binned by probability: mean probability against the
//! share won), and the forecast value added: the rules model's WAPE less
//! the model's, in points.
use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_pipeline::columns as col;

use crate::{
    Bucket, Calibration, ForecastError, ForecastSpec, Learning, WinRates,
    accuracy::{REALISED, decided},
    calibrate,
    corrected::{IF_WON, PROBABILITY, SHARE, expected_rows},
    learn_correction,
    weighted::{BUCKET, IS_OPEN, prepared},
};

pub const SNAPSHOT_DATE: &str = col::SNAPSHOT_DATE;
pub const MODEL: &str = "model";
pub const FORECAST: &str = "forecast";
pub const ACTUAL: &str = "actual";
pub const WAPE: &str = "wape";
pub const BIAS: &str = "bias";
pub const BRIER: &str = "brier";
pub const FVA: &str = "fva_points";
pub const DEALS: &str = "deals";
pub const BIN: &str = "probability_bin";
pub const MEAN_PROBABILITY: &str = "mean_probability";
pub const WON_SHARE: &str = "won_share";
const WON: &str = "__won";
const CELL_FORECAST: &str = "__cell_forecast";
const FROM: &str = "__from";
const UNTIL: &str = "__until";

/// The models compared, naive first.
pub const MODELS: [&str; 3] = ["rules", "calibrated", "corrected"];

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
}

/// Backtest results.
#[derive(Debug, Clone)]
pub struct BacktestResult {
    /// Per snapshot date and model: `forecast`, `actual`, `wape`, `bias`,
    /// `brier`, `deals`.
    pub by_date: DataFrame,
    /// Per model over all dates: `forecast`, `actual`, `wape`, `bias`,
    /// `brier`, `deals`, `fva_points`.
    pub summary: DataFrame,
    /// Per model and probability bin (0.0, 0.1, ... 0.9): `deals`,
    /// `mean_probability`, `won_share`.
    pub reliability: DataFrame,
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
    let cutoff = how.as_of - chrono::TimeDelta::days(i64::from(how.maturity_days));
    let dates: Vec<NaiveDate> = crate::accuracy::snapshot_dates(snapshots.clone())?
        .into_iter()
        .filter(|d| *d <= cutoff)
        .collect();
    if dates.is_empty() {
        return Err(ForecastError::NoHistory(format!(
            "no past snapshot is at least {} days older than {}",
            how.maturity_days, how.as_of
        )));
    }
    // Score every model on the same dates: those with a matured snapshot
    // to learn the correction from, when there are any.
    let maturity = chrono::TimeDelta::days(i64::from(how.maturity_days));
    let correctable: Vec<NaiveDate> = dates
        .iter()
        .copied()
        .filter(|d| dates.first().is_some_and(|first| *first <= *d - maturity))
        .collect();
    let dates = if correctable.is_empty() {
        dates
    } else {
        correctable
    };
    let known = decided(outcomes.clone(), spec, how.as_of)?;
    let mut deal_frames = Vec::new();
    let mut cell_frames = Vec::new();
    // The deals open on each date: the ones scored (a deal already won or
    // lost then is neither forecast nor counted as actual).
    let mut open_frames = Vec::new();
    for &day in &dates {
        let taken = snapshots
            .clone()
            .filter(col(col::SNAPSHOT_DATE).eq(lit(day).cast(DataType::Date)));
        let mut rules = spec.clone();
        rules.as_of = day;
        rules.win_rates = WinRates::StageDefaults;
        rules.correction = None;
        let mut calibrated = rules.clone();
        calibrated.win_rates = WinRates::Calibrated(Box::new(calibrate(
            stage_events.clone(),
            outcomes.clone(),
            &spec.stages,
            &Calibration {
                as_of: day,
                maturity_days: how.maturity_days,
                prior_strength: how.prior_strength,
            },
        )?));
        let mut models = vec![(MODELS[0], rules), (MODELS[1], calibrated.clone())];
        let learning = Learning {
            as_of: day,
            maturity_days: how.maturity_days,
        };
        match learn_correction(snapshots.clone(), outcomes.clone(), &calibrated, &learning) {
            Ok(correction) => {
                let mut corrected = calibrated;
                corrected.correction = Some(Box::new(correction));
                models.push((MODELS[2], corrected));
            }
            Err(ForecastError::NoHistory(_)) => {}
            Err(e) => return Err(e),
        }
        for (model, model_spec) in models {
            let (lines, _) = prepared(taken.clone(), &model_spec)?;
            let open = lines.filter(col(IS_OPEN));
            if model == MODELS[0] {
                open_frames.push(
                    open.clone()
                        .group_by([col(col::OPPORTUNITY_ID)])
                        .agg([col(col::TEAM).first()])
                        .with_column(lit(day).cast(DataType::Date).alias(SNAPSHOT_DATE)),
                );
            }
            let rows = expected_rows(open, &model_spec)?;
            let tag = |frame: LazyFrame| {
                frame.with_columns([
                    lit(day).cast(DataType::Date).alias(SNAPSHOT_DATE),
                    lit(model).alias(MODEL),
                ])
            };
            deal_frames.push(tag(rows
                .clone()
                .group_by([col(col::OPPORTUNITY_ID)])
                .agg([col(PROBABILITY).first()])));
            cell_frames.push(tag(rows.group_by([col(BUCKET), col(col::TEAM)]).agg([
                (col(PROBABILITY) * col(IF_WON) * col(SHARE))
                    .sum()
                    .alias(CELL_FORECAST),
            ])));
        }
    }
    let window = horizon_frame(&dates, spec.bucket, how.horizon)?;
    // What the deals open on each date actually booked, per bucket and team.
    let open_deals = concat(open_frames, UnionArgs::default())?;
    let outcomes_of_open = open_deals.join(
        known,
        [col(col::OPPORTUNITY_ID)],
        [col(col::OPPORTUNITY_ID)],
        JoinArgs::new(JoinType::Inner),
    );
    let actual = outcomes_of_open
        .clone()
        .filter(col(WON))
        .with_column(
            col(col::CLOSED)
                .dt()
                .truncate(lit(spec.bucket.every()))
                .alias(BUCKET),
        )
        .group_by([col(SNAPSHOT_DATE), col(BUCKET), col(col::TEAM)])
        .agg([col(REALISED).sum().alias(ACTUAL)]);
    let cells = concat(cell_frames, UnionArgs::default())?;
    let models = cells
        .clone()
        .select([col(SNAPSHOT_DATE), col(MODEL)])
        .unique(None, UniqueKeepStrategy::First);
    let actual_per_model = actual.join(
        models,
        [col(SNAPSHOT_DATE)],
        [col(SNAPSHOT_DATE)],
        JoinArgs::new(JoinType::Inner),
    );
    let keys = [col(SNAPSHOT_DATE), col(MODEL), col(BUCKET), col(col::TEAM)];
    let scored_cells = cells
        .join(
            actual_per_model,
            keys.clone(),
            keys.clone(),
            JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
        )
        .join(
            window.lazy(),
            [col(SNAPSHOT_DATE)],
            [col(SNAPSHOT_DATE)],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(col(BUCKET).gt_eq(col(FROM)).and(col(BUCKET).lt(col(UNTIL))))
        .with_columns([
            col(CELL_FORECAST).fill_null(lit(0.0)),
            col(ACTUAL).fill_null(lit(0.0)),
        ]);
    let deals = concat(deal_frames, UnionArgs::default())?
        .join(
            outcomes_of_open.select([col(SNAPSHOT_DATE), col(col::OPPORTUNITY_ID), col(WON)]),
            [col(SNAPSHOT_DATE), col(col::OPPORTUNITY_ID)],
            [col(SNAPSHOT_DATE), col(col::OPPORTUNITY_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .with_column(col(WON).cast(DataType::Float64));
    let error_aggs = || {
        [
            col(CELL_FORECAST).sum().alias(FORECAST),
            col(ACTUAL).sum(),
            (absolute(col(CELL_FORECAST) - col(ACTUAL)).sum() / col(ACTUAL).sum()).alias(WAPE),
            ((col(CELL_FORECAST) - col(ACTUAL)).sum() / col(ACTUAL).sum()).alias(BIAS),
        ]
    };
    let brier_aggs = || {
        [
            (col(PROBABILITY) - col(WON)).pow(2).mean().alias(BRIER),
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
        scored_cells.group_by([col(MODEL)]).agg(error_aggs()),
        deals.clone().group_by([col(MODEL)]).agg(brier_aggs()),
        &[MODEL],
    );
    let reliability = deals
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
            col(PROBABILITY).mean().alias(MEAN_PROBABILITY),
            col(WON).mean().alias(WON_SHARE),
        ])
        .sort([MODEL, BIN], SortMultipleOptions::default());
    let mut frames = crate::collect_together(vec![by_date, summary, reliability])?;
    let reliability = frames.pop().unwrap_or_default();
    let summary = order_models(frames.pop().unwrap_or_default())?;
    let by_date = frames.pop().unwrap_or_default();
    Ok(BacktestResult {
        by_date,
        summary,
        reliability,
        dates,
    })
}

fn absolute(x: Expr) -> Expr {
    when(x.clone().lt(lit(0.0))).then(-x.clone()).otherwise(x)
}

/// Per snapshot date, the scored window of buckets: from the start of the
/// bucket holding it until `horizon` buckets later.
fn horizon_frame(dates: &[NaiveDate], bucket: Bucket, horizon: u32) -> PolarsResult<DataFrame> {
    let (mut from, mut until) = (Vec::new(), Vec::new());
    for &day in dates {
        let start = bucket.start_of(day);
        let mut end = start;
        for _ in 0..horizon.max(1) {
            end = bucket.next(end);
        }
        from.push(quotecast_pipeline::epoch_days(start));
        until.push(quotecast_pipeline::epoch_days(end));
    }
    let days: Vec<i32> = dates
        .iter()
        .map(|d| quotecast_pipeline::epoch_days(*d))
        .collect();
    DataFrame::new(
        dates.len(),
        vec![
            Column::new(SNAPSHOT_DATE.into(), days).cast(&DataType::Date)?,
            Column::new(FROM.into(), from).cast(&DataType::Date)?,
            Column::new(UNTIL.into(), until).cast(&DataType::Date)?,
        ],
    )
}

/// The summary in [`MODELS`] order with the forecast value added over the
/// rules model.
fn order_models(summary: DataFrame) -> Result<DataFrame, ForecastError> {
    let naive = summary
        .clone()
        .lazy()
        .filter(col(MODEL).eq(lit(MODELS[0])))
        .select([col(WAPE).first()])
        .collect()?
        .column(WAPE)?
        .f64()?
        .get(0)
        .unwrap_or(f64::NAN);
    let order = DataFrame::new(
        MODELS.len(),
        vec![
            Column::new(MODEL.into(), MODELS.to_vec()),
            Column::new(
                "__order".into(),
                (0..MODELS.len() as u32).collect::<Vec<_>>(),
            ),
        ],
    )?;
    Ok(summary
        .lazy()
        .join(
            order.lazy(),
            [col(MODEL)],
            [col(MODEL)],
            JoinArgs::new(JoinType::Left),
        )
        .sort(["__order"], SortMultipleOptions::default())
        .with_column(((lit(naive) - col(WAPE)) * lit(100.0)).alias(FVA))
        .select([
            col(MODEL),
            col(FORECAST),
            col(ACTUAL),
            col(WAPE),
            col(BIAS),
            col(BRIER),
            col(DEALS),
            col(FVA),
        ])
        .collect()?)
}
