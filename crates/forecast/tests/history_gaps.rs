//! History as it comes: a backtest scores only the deals open on each
//! snapshot date (closed deals in a snapshot change nothing), and history
//! too young to learn from gives the rules' rates and says what it lacks
//! instead of failing or pretending.
#![allow(clippy::unwrap_used)]

mod common;

use polars::prelude::*;
use quotecast_forecast::{
    Backtest, Bucket, ForecastOptions, RateTable, Simulation, WinRates, backtest, forecast_report,
    forecast_spec,
};
use quotecast_pipeline::{columns as col, read::History};

fn spec() -> quotecast_forecast::ForecastSpec {
    quotecast_forecast::ForecastSpec {
        as_of: common::as_of(),
        bucket: Bucket::Month,
        fiscal_year: quotecast_model::FiscalYear::CALENDAR,
        group_by: vec![],
        rates: RateTable {
            reporting_currency: "USD".into(),
            scale: 2,
            per_reporting: vec![("USD".into(), 1.0)],
        },
        win_rates: WinRates::StageDefaults,
        stages: common::rules().stages().to_vec(),
        correction: None,
        new_deal_history: None,
        timing: None,
        amount_factors: None,
    }
}

fn numbers(frame: &DataFrame, column: &str) -> Vec<f64> {
    frame
        .column(column)
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect()
}

/// Each snapshot date gains a large deal already won that day, in the
/// snapshot and in the outcomes.
fn with_closed_deals(snapshots: LazyFrame, outcomes: LazyFrame) -> (LazyFrame, LazyFrame) {
    let one_per_date = snapshots
        .clone()
        .filter(col(col::LINE).eq(lit(1u32)))
        .sort(
            [col::SNAPSHOT_DATE, col::OPPORTUNITY_ID],
            SortMultipleOptions::default(),
        )
        .group_by_stable([col(col::SNAPSHOT_DATE)])
        .head(Some(1))
        .with_columns([
            (lit("CLOSED-") + col(col::SNAPSHOT_DATE).cast(DataType::String))
                .alias(col::OPPORTUNITY_ID),
            lit("won").alias(col::STAGE),
            col(col::SNAPSHOT_DATE).alias(col::EXPECTED_CLOSE),
            (col(col::AMOUNT) * lit(1000)).alias(col::AMOUNT),
        ]);
    let snapshot_columns: Vec<Expr> = snapshots
        .clone()
        .collect_schema()
        .unwrap()
        .iter_names()
        .map(|n| col(n.clone()))
        .collect();
    let outcome_columns: Vec<Expr> = outcomes
        .clone()
        .collect_schema()
        .unwrap()
        .iter_names()
        .map(|n| col(n.clone()))
        .collect();
    let extra_outcomes = one_per_date
        .clone()
        .with_columns([
            lit("won").alias(col::OUTCOME),
            col(col::SNAPSHOT_DATE).alias(col::CLOSED),
        ])
        .select(outcome_columns.clone());
    let collected = |parts: [LazyFrame; 2]| {
        concat(parts, UnionArgs::default())
            .unwrap()
            .collect()
            .unwrap()
            .lazy()
    };
    (
        collected([snapshots, one_per_date.select(snapshot_columns)]),
        collected([outcomes.select(outcome_columns), extra_outcomes]),
    )
}

/// A backtest as of the generated history's date, on snapshots at least
/// 180 days old, over `horizon` buckets with `trials` trials per date.
fn how(horizon: u32, trials: u32) -> Backtest {
    Backtest {
        as_of: common::as_of(),
        maturity_days: 180,
        horizon,
        prior_strength: None,
        trials,
        cancel: Default::default(),
    }
}

#[test]
fn deals_already_closed_on_a_snapshot_date_change_no_backtest_figure() {
    let world = common::world(11);
    let data = common::generated(&world, 11, 1_500, 14);
    let how = how(3, 200);
    let plain = backtest(
        data.stage_events.clone(),
        data.outcomes.clone(),
        data.snapshots.clone(),
        &spec(),
        &how,
    )
    .unwrap();
    let (snapshots, outcomes) = with_closed_deals(data.snapshots, data.outcomes);
    let padded = backtest(data.stage_events, outcomes, snapshots, &spec(), &how).unwrap();
    // Of the models scored against the deals open on each date: a deal
    // won on a snapshot's date is a booking after every earlier one, so
    // the forecast with new deals and the baselines of all bookings count
    // it there, as they should.
    let of_open_deals = |by_date: &DataFrame| {
        by_date
            .clone()
            .lazy()
            .filter(
                col("model")
                    .neq(lit("with_new_deals"))
                    .and(col("model").str().ends_with(lit("_all")).not()),
            )
            .collect()
            .unwrap()
    };
    let (plain, padded) = (
        of_open_deals(&plain.by_date),
        of_open_deals(&padded.by_date),
    );
    for column in ["forecast", "actual", "wape", "bias", "deals"] {
        let (a, b) = (numbers(&plain, column), numbers(&padded, column));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            let same = (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-6 * x.abs().max(1.0);
            assert!(same, "{column}: {a:?}\n{b:?}");
        }
    }
}

#[test]
fn the_same_history_gives_the_same_backtest_to_the_bit() {
    // Sums polars gathers in any order used to differ in their last bits
    // from one run to the next, and the scores and cells with them; and
    // polars' mean of the deals' squared errors (the Brier score) did
    // under load even once the money sums were fixed.
    let world = common::world(17);
    let data = common::generated(&world, 17, 1_200, 12);
    let how = how(2, 100);
    let run = || {
        backtest(
            data.stage_events.clone(),
            data.outcomes.clone(),
            data.snapshots.clone(),
            &spec(),
            &how,
        )
        .unwrap()
    };
    // Runs side by side share polars' threads, so a group-by hands its
    // rows on in a different order each time (as under a loaded server).
    let first = run();
    let others: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3).map(|_| s.spawn(run)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(first.by_date.height() > 0 && first.cells.height() > 0);
    for other in &others {
        for (table, a, b) in [
            ("by date", &first.by_date, &other.by_date),
            ("summary", &first.summary, &other.summary),
            ("by horizon", &first.by_horizon, &other.by_horizon),
            ("reliability", &first.reliability, &other.reliability),
            ("cells", &first.cells, &other.cells),
        ] {
            assert_eq!(a.get_column_names(), b.get_column_names());
            for (x, y) in a.columns().iter().zip(b.columns()) {
                assert!(x.equals_missing(y), "{table}, {} differs", x.name());
            }
        }
    }
}

#[test]
fn a_backtest_without_trials_scores_the_same_point_forecasts_and_no_ranges() {
    let world = common::world(13);
    let data = common::generated(&world, 13, 800, 12);
    let mut how = Backtest {
        as_of: common::as_of(),
        maturity_days: 180,
        horizon: 2,
        prior_strength: None,
        trials: 100,
        cancel: Default::default(),
    };
    let run = |how: &Backtest| {
        backtest(
            data.stage_events.clone(),
            data.outcomes.clone(),
            data.snapshots.clone(),
            &spec(),
            how,
        )
        .unwrap()
    };
    let ranged = run(&how);
    how.trials = 0;
    let point = run(&how);
    for column in ["forecast", "actual", "wape", "bias"] {
        let (a, b) = (
            numbers(&ranged.summary, column),
            numbers(&point.summary, column),
        );
        let same = a.len() == b.len()
            && a.iter()
                .zip(&b)
                .all(|(x, y)| (x - y).abs() <= 1e-9 * x.abs().max(1.0));
        assert!(same, "{column}: {a:?}\n{b:?}");
    }
    let coverage = numbers(&point.summary, "coverage_p10_p90");
    assert!(coverage.iter().all(|c| c.is_nan()), "{coverage:?}");
    assert!(
        numbers(&ranged.summary, "coverage_p10_p90")
            .iter()
            .any(|c| c.is_finite())
    );
}

#[test]
fn history_too_young_to_learn_from_says_what_it_needs_and_keeps_the_rules_rates_until_a_deal_is_decided()
 {
    let world = common::world(12);
    let data = common::generated(&world, 12, 600, 6);
    let rules = common::rules();
    // As of a day when no stage entry and no past snapshot is 180 days old.
    let as_of = data
        .snapshots
        .clone()
        .select([col(col::SNAPSHOT_DATE).min()])
        .collect()
        .unwrap()
        .column(col::SNAPSHOT_DATE)
        .unwrap()
        .cast(&DataType::Int32)
        .unwrap()
        .i32()
        .unwrap()
        .get(0)
        .map(quotecast_pipeline::from_epoch_days)
        .unwrap()
        + chrono::TimeDelta::days(30);
    let young = |frame: LazyFrame, column: &str| {
        frame.filter(col(column).gt(lit(as_of - chrono::TimeDelta::days(60)).cast(DataType::Date)))
    };
    let history = |outcomes: LazyFrame| History {
        stage_events: young(data.stage_events.clone(), col::AT),
        outcomes,
        snapshots: Some(data.snapshots.clone()),
        notes: vec![],
    };
    let options = ForecastOptions {
        as_of,
        bucket: Bucket::Month,
        group_by: vec![],
        prior_strength: None,
        simulation: Simulation {
            trials: 0,
            ..Simulation::default()
        },
    };
    let snapshot = data.pipeline.collect().unwrap();
    // Sixty days of stage entries, some decided: the rates learn from
    // them and say how much they extrapolate.
    let report = forecast_report(
        snapshot.clone(),
        Some(history(data.outcomes.clone())),
        &rules,
        &options,
    )
    .unwrap();
    assert!(matches!(report.spec.win_rates, WinRates::Calibrated(_)));
    let notes = report.notes.join("\n");
    assert!(notes.contains("the history is young"), "{notes}");
    // None decided by the day: the rules' rates, said so.
    let undecided = data
        .outcomes
        .clone()
        .filter(col(col::CLOSED).gt(lit(as_of).cast(DataType::Date)));
    let report = forecast_report(snapshot, Some(history(undecided)), &rules, &options).unwrap();
    assert!(matches!(report.spec.win_rates, WinRates::StageDefaults));
    assert!(report.spec.correction.is_none());
    let notes = report.notes.join("\n");
    assert!(
        notes.contains("the rules' stage win rates are used"),
        "{notes}"
    );
    assert!(
        notes.contains("so they need 150 more days of snapshot history"),
        "{notes}"
    );
    assert_eq!(
        report.forecast.explanation.win_rate_source,
        "the rules' stage defaults"
    );
}

#[test]
fn a_cancelled_backtest_stops_with_cancelled_before_its_first_date() {
    let world = common::world(14);
    let data = common::generated(&world, 14, 300, 10);
    let how = how(2, 100);
    how.cancel.cancel();
    let outcome = backtest(
        data.stage_events,
        data.outcomes,
        data.snapshots,
        &spec(),
        &how,
    );
    assert!(
        matches!(outcome, Err(quotecast_forecast::ForecastError::Cancelled)),
        "{:?}",
        outcome.map(|r| r.dates)
    );
}

#[test]
fn a_forecast_with_history_stops_with_cancelled_before_learning() {
    let world = common::world(15);
    let data = common::generated(&world, 15, 300, 10);
    let history = History {
        stage_events: data.stage_events,
        outcomes: data.outcomes,
        snapshots: Some(data.snapshots),
        notes: vec![],
    };
    let options = ForecastOptions {
        as_of: common::as_of(),
        bucket: Bucket::Quarter,
        group_by: vec![],
        prior_strength: None,
        simulation: Simulation::default(),
    };
    options.simulation.cancel.cancel();
    let outcome = forecast_spec(Some(history), None, &common::rules(), &options);
    assert!(
        matches!(outcome, Err(quotecast_forecast::ForecastError::Cancelled)),
        "{:?}",
        outcome.map(|(_, notes)| notes)
    );
}

/// Quarters as of the generated day, no Monte Carlo.
fn quarters_without_trials() -> ForecastOptions {
    ForecastOptions {
        as_of: common::as_of(),
        bucket: Bucket::Quarter,
        group_by: vec![],
        prior_strength: None,
        simulation: Simulation {
            trials: 0,
            ..Simulation::default()
        },
    }
}

#[test]
fn past_snapshots_whose_ids_the_outcomes_do_not_share_teach_nothing_and_say_so() {
    let world = common::world(13);
    let data = common::generated(&world, 13, 400, 12);
    let rules = common::rules();
    let options = quarters_without_trials();
    // The snapshots write every id otherwise (as a report's 15-character
    // ids against an API's 18): no deal of theirs has an outcome, which
    // must not read as every deal lost.
    let renamed = data
        .snapshots
        .clone()
        .with_column((lit("X-") + col(col::OPPORTUNITY_ID)).alias(col::OPPORTUNITY_ID));
    let history = History {
        stage_events: data.stage_events.clone(),
        outcomes: data.outcomes.clone(),
        snapshots: Some(renamed),
        notes: vec![],
    };
    let snapshot = data.pipeline.collect().unwrap();
    let report = forecast_report(snapshot, Some(history), &rules, &options).unwrap();
    assert!(report.spec.correction.is_none());
    assert!(report.spec.new_deal_history.is_some());
    let notes = report.notes.join("\n");
    assert!(
        notes.contains(
            "no deal of the past snapshots at least 180 days old has a row in `outcomes`"
        ),
        "{notes}"
    );
    assert!(
        report.forecast.amounts.column("expected_bookings").is_ok(),
        "the forecast still adds new deals from the stage entries"
    );
}

#[test]
fn without_snapshots_open_deals_book_what_the_teams_stated_amounts_booked_lately() {
    let world = common::world(14);
    let data = common::generated(&world, 14, 600, 6);
    let rules = common::rules();
    let options = quarters_without_trials();
    let history = History {
        stage_events: data.stage_events.clone(),
        outcomes: data.outcomes.clone(),
        snapshots: None,
        notes: vec![],
    };
    let snapshot = data.pipeline.collect().unwrap();
    let report = forecast_report(snapshot.clone(), Some(history), &rules, &options).unwrap();
    let factors = report.spec.amount_factors.clone().expect("learned");
    // The company's factor is what the won deals of the snapshot booked
    // over what it states for them, counted here from the two files.
    let stated = snapshot
        .clone()
        .lazy()
        .filter(col(col::STAGE).eq(lit("won")))
        .group_by([col(col::OPPORTUNITY_ID)])
        .agg([col(col::AMOUNT)
            .cast(DataType::Float64)
            .sum()
            .alias("stated")])
        .join(
            data.outcomes
                .clone()
                .filter(col(col::OUTCOME).eq(lit("won")))
                .select([
                    col(col::OPPORTUNITY_ID),
                    col(col::AMOUNT).cast(DataType::Float64).alias("booked"),
                ]),
            [col(col::OPPORTUNITY_ID)],
            [col(col::OPPORTUNITY_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .select([col("stated").sum(), col("booked").sum()])
        .collect()
        .unwrap();
    let ratio = numbers(&stated, "booked")[0] / numbers(&stated, "stated")[0];
    let company = numbers(&factors, quotecast_forecast::AMOUNT_FACTOR);
    let company = company[company.len() - 1];
    assert!(ratio < 0.98, "the generated teams overstate: {ratio}");
    assert!((company - ratio).abs() < 0.03, "{company} against {ratio}");
    assert!(report.notes.join("\n").contains("stated amounts book at"));
    // The open deals' value scales by it; their units do not.
    let mut plain = report.spec.clone();
    plain.amount_factors = None;
    let scaled = quotecast_forecast::demand_lines(snapshot.clone().lazy(), &report.spec).unwrap();
    let unscaled = quotecast_forecast::demand_lines(snapshot.lazy(), &plain).unwrap();
    let sum = |f: &DataFrame, c: &str| numbers(f, c).iter().sum::<f64>();
    assert_eq!(
        sum(&scaled, quotecast_forecast::QUANTITY_IF_WON),
        sum(&unscaled, quotecast_forecast::QUANTITY_IF_WON)
    );
    let amounts = sum(&scaled, quotecast_forecast::AMOUNT_IF_WON)
        / sum(&unscaled, quotecast_forecast::AMOUNT_IF_WON);
    assert!(amounts < 0.99 && amounts > 0.8, "{amounts}");
}
