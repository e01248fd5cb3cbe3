//! Deals not yet in the pipeline: the forecast adds what they booked on
//! past snapshots, per team and bucket, and with it comes near what a
//! later quarter really booked where the pipeline alone falls far short.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_forecast::{
    Bucket, Dimension, EXPECTED_BOOKINGS, ForecastOptions, ForecastSpec, Learning,
    NEW_DEAL_QUANTITY, NEW_DEALS, Simulation, forecast, forecast_spec, learn_correction,
    new_deals_by_team, rules_spec, simulate,
};
use quotecast_pipeline::read::History;

fn spec(as_of: NaiveDate, group_by: Vec<Dimension>) -> ForecastSpec {
    let mut spec = rules_spec(&common::rules(), as_of, Bucket::Quarter);
    spec.group_by = group_by;
    spec
}

fn column(frame: &DataFrame, name: &str) -> Vec<f64> {
    let values = frame
        .column(name)
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap();
    values.f64().unwrap().into_no_null_iter().collect()
}

/// The sum of `name` over the rows of `frame` in the bucket starting on
/// `start`.
fn in_bucket(frame: &DataFrame, name: &str, start: NaiveDate) -> f64 {
    let buckets = frame.column("bucket").unwrap().date().unwrap().clone();
    let day = quotecast_pipeline::epoch_days(start);
    buckets
        .physical()
        .iter()
        .zip(column(frame, name))
        .filter(|(b, _)| *b == Some(day))
        .map(|(_, v)| v)
        .sum()
}

/// A past snapshot's day whose next quarter has ended by the generator's
/// last day: a forecast made then, learning only from what was known
/// then, can be set against what really booked.
fn past_day(data: &common::Generated) -> NaiveDate {
    let days = data
        .snapshots
        .clone()
        .select([col("snapshot_date")])
        .unique(None, UniqueKeepStrategy::First)
        .sort(["snapshot_date"], SortMultipleOptions::default())
        .collect()
        .unwrap();
    let days: Vec<i32> = days
        .column("snapshot_date")
        .unwrap()
        .date()
        .unwrap()
        .physical()
        .iter()
        .flatten()
        .collect();
    let limit = quotecast_pipeline::epoch_days(NaiveDate::from_ymd_opt(2026, 4, 20).unwrap());
    let day = *days.iter().filter(|d| **d <= limit).max().unwrap();
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Days::new(day as u64)
}

/// What really booked in the quarter starting on `start`, from the
/// outcomes (the generated company books in USD).
fn booked_in(data: &common::Generated, start: NaiveDate) -> f64 {
    let after = Bucket::Quarter.next(start);
    let booked = data
        .outcomes
        .clone()
        .filter(
            col("outcome").eq(lit("won")).and(
                col("closed")
                    .gt_eq(lit(start))
                    .and(col("closed").lt(lit(after))),
            ),
        )
        .select([col("amount").cast(DataType::Float64).sum()])
        .collect()
        .unwrap();
    column(&booked, "amount")[0]
}

/// A forecast job's options: quarters, by team.
fn by_team_and_quarter(as_of: NaiveDate) -> ForecastOptions {
    ForecastOptions {
        as_of,
        bucket: Bucket::Quarter,
        group_by: vec![Dimension::Team],
        prior_strength: None,
        simulation: Simulation::default(),
    }
}

/// The past snapshot of `day`, as today's pipeline.
fn snapshot_on(data: &common::Generated, day: NaiveDate) -> LazyFrame {
    data.snapshots
        .clone()
        .filter(col("snapshot_date").eq(lit(day).cast(DataType::Date)))
        .drop(cols(["snapshot_date"]))
}

/// The generated history, with `snapshots` as its past snapshots.
fn history(data: &common::Generated, snapshots: Option<LazyFrame>) -> History {
    History {
        stage_events: data.stage_events.clone(),
        outcomes: data.outcomes.clone(),
        snapshots,
        notes: vec![],
    }
}

#[test]
fn new_deals_bring_a_later_quarter_near_what_really_booked() {
    let world = common::world(3);
    let data = common::generated(&world, 3, 2_000, 24);
    let as_of = past_day(&data);
    let mut spec = spec(as_of, vec![Dimension::Team]);
    let correction = learn_correction(
        data.snapshots.clone(),
        data.outcomes.clone(),
        &spec,
        &Learning {
            as_of,
            maturity_days: 180,
            rates_then: None,
            slippage_place_days: Some(quotecast_forecast::PLACE_DAYS),
        },
    )
    .unwrap();
    let calendar = correction.calendar.clone();
    spec.correction = Some(Box::new(correction));
    let snapshot = snapshot_on(&data, as_of);
    let f = forecast(snapshot.clone(), &spec).unwrap();
    let amounts = &f.amounts;
    // expected_bookings is the corrected forecast plus new deals, cell by
    // cell.
    for ((c, n), e) in column(amounts, "corrected")
        .into_iter()
        .zip(column(amounts, NEW_DEALS))
        .zip(column(amounts, EXPECTED_BOOKINGS))
    {
        assert!((c + n - e).abs() < 0.011, "{c} + {n} against {e}");
    }
    // By team, each team's new deals in the next quarter are the
    // calendar's figure for it at horizon 1.
    let next = Bucket::Quarter
        .next(Bucket::Quarter.start_of(as_of, quotecast_model::FiscalYear::CALENDAR));
    let learned: f64 = {
        let teams = calendar.column("team").unwrap().str().unwrap();
        let horizons = calendar.column("horizon").unwrap().i32().unwrap();
        let new = column(&calendar, "not_yet_in_pipeline");
        (0..calendar.height())
            .filter(|&i| teams.get(i) != Some("*") && horizons.get(i) == Some(1))
            .map(|i| new[i])
            .sum()
    };
    let added = in_bucket(amounts, NEW_DEALS, next);
    assert!(
        learned > 0.0 && (added - learned).abs() < 1.0,
        "{added} against {learned}"
    );
    // New deals buy units too: the generated company sells one product
    // at 4,000 USD a unit (stated amounts off by each team's bias).
    let units = in_bucket(&f.quantities, NEW_DEAL_QUANTITY, next);
    let per_unit = added / units;
    assert!(
        (3_000.0..5_000.0).contains(&per_unit),
        "{added} USD for {units} units"
    );
    // Grouped otherwise, the same new deals are spread, not lost.
    spec.group_by = vec![Dimension::Owner];
    let by_owner = forecast(snapshot.clone(), &spec).unwrap().amounts;
    let spread = in_bucket(&by_owner, NEW_DEALS, next);
    assert!((spread - added).abs() < 1.0, "{spread} against {added}");
    let booked = booked_in(&data, next);
    let corrected = in_bucket(amounts, "corrected", next);
    let expected = in_bucket(amounts, EXPECTED_BOOKINGS, next);
    // The pipeline alone says little of a quarter most of whose deals
    // are not created yet; with new deals the forecast is near it.
    assert!(corrected < 0.6 * booked, "{corrected} of {booked}");
    assert!(
        (expected - booked).abs() < 0.2 * booked,
        "{expected} against {booked} (pipeline alone {corrected})"
    );
    // The Monte Carlo draws them: its mean is the expected bookings, and
    // its range is wider than the pipeline's deals alone would make it.
    spec.group_by = vec![];
    let u = simulate(
        snapshot,
        &spec,
        &Simulation {
            trials: 2_000,
            seed: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let mean = in_bucket(&u.by_bucket, "mean", next);
    let (p10, p90) = (
        in_bucket(&u.by_bucket, "p10", next),
        in_bucket(&u.by_bucket, "p90", next),
    );
    assert!(
        (mean - expected).abs() < 0.03 * expected,
        "{mean} against {expected}"
    );
    assert!(
        p10 < booked && booked < p90,
        "{p10} to {p90}, booked {booked}"
    );
}

#[test]
fn without_past_snapshots_new_deals_are_learned_from_when_deals_entered_their_first_stage() {
    let world = common::world(3);
    let data = common::generated(&world, 3, 2_000, 24);
    let as_of = past_day(&data);
    let options = by_team_and_quarter(as_of);
    let history = |snapshots: Option<LazyFrame>| history(&data, snapshots);
    let snapshot = snapshot_on(&data, as_of);
    let rules = common::rules();
    let spec_of = |snapshots| {
        forecast_spec(
            Some(history(snapshots)),
            Some(snapshot.clone()),
            &rules,
            &options,
        )
        .unwrap()
    };
    let (with_snapshots, _) = spec_of(Some(data.snapshots.clone()));
    let (without, notes) = spec_of(None);
    // The same history in another row order teaches the same figures to
    // the bit.
    let reversed = History {
        stage_events: data.stage_events.clone().reverse(),
        outcomes: data.outcomes.clone().reverse(),
        snapshots: None,
        notes: vec![],
    };
    let (again, _) =
        forecast_spec(Some(reversed), Some(snapshot.clone()), &rules, &options).unwrap();
    assert_eq!(new_deals_by_team(&again), new_deals_by_team(&without));
    assert!(without.correction.is_none());
    assert!(
        notes
            .iter()
            .any(|n| n.contains("new deals from stage entries")),
        "{notes:?}"
    );
    // Per horizon, what the company's new deals booked: the stage entries
    // (a day a week) say about what the snapshots (one every four weeks)
    // say.
    let company = |spec: &ForecastSpec, horizon: i32| -> f64 {
        new_deals_by_team(spec)
            .iter()
            .filter(|n| n.horizon == horizon)
            .map(|n| n.mean)
            .sum()
    };
    for horizon in [0, 1] {
        let (a, b) = (
            company(&without, horizon),
            company(&with_snapshots, horizon),
        );
        assert!(
            b > 0.0 && (a - b).abs() < 0.1 * b,
            "horizon {horizon}: {a} from stage entries, {b} from snapshots"
        );
    }
    // The forecast adds them to today's pipeline, which closes when its
    // stages say rather than on the stated dates: moved between buckets,
    // not lost or made up.
    assert!(without.timing.is_some());
    let f = forecast(snapshot, &without).unwrap();
    let amounts = &f.amounts;
    let total = |name: &str| column(amounts, name).iter().sum::<f64>();
    let pipeline = total(EXPECTED_BOOKINGS) - total(NEW_DEALS);
    assert!(
        (pipeline - total("weighted")).abs() < 0.005 * total("weighted"),
        "{pipeline} against {}",
        total("weighted")
    );
    assert!(amounts.column("corrected").is_err());
    let next = Bucket::Quarter
        .next(Bucket::Quarter.start_of(as_of, quotecast_model::FiscalYear::CALENDAR));
    let booked = booked_in(&data, next);
    let weighted = in_bucket(amounts, "weighted", next);
    let expected = in_bucket(amounts, EXPECTED_BOOKINGS, next);
    assert!(weighted < 0.6 * booked, "{weighted} of {booked}");
    assert!(
        (expected - booked).abs() < 0.15 * booked,
        "{expected} against {booked} (pipeline alone {weighted})"
    );
    assert!(in_bucket(&f.quantities, NEW_DEAL_QUANTITY, next) > 0.0);
}

#[test]
fn a_team_the_history_never_saw_borrows_new_deals_per_unit_of_its_pipeline() {
    let world = common::world(3);
    let data = common::generated(&world, 3, 2_000, 24);
    let as_of = past_day(&data);
    let options = by_team_and_quarter(as_of);
    let snapshot = snapshot_on(&data, as_of);
    let team = snapshot
        .clone()
        .select([col("team").min()])
        .collect()
        .unwrap()
        .column("team")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_owned();
    // The same pipeline with that team renamed, as after a reorganisation.
    let renamed = snapshot.clone().with_column(
        when(col("team").eq(lit(team.as_str())))
            .then(lit("newly-formed"))
            .otherwise(col("team"))
            .alias("team"),
    );
    let rules = common::rules();
    let spec_of = |today: LazyFrame| {
        let history = history(&data, Some(data.snapshots.clone()));
        forecast_spec(Some(history), Some(today), &rules, &options).unwrap()
    };
    let (before, before_notes) = spec_of(snapshot);
    let (after, notes) = spec_of(renamed);
    assert!(
        !before_notes
            .iter()
            .any(|n| n.contains("shows no new deals")),
        "{before_notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("shows no new deals for newly-formed")),
        "{notes:?}"
    );
    let of = |spec: &ForecastSpec, name: &str, horizon: i32| {
        new_deals_by_team(spec)
            .iter()
            .find(|n| n.team == name && n.horizon == horizon)
            .map_or(0.0, |n| n.mean)
    };
    for horizon in [0, 1] {
        // Its own history said so much; borrowed from the median team per
        // unit of pipeline, the new name books the same order of amount
        // rather than nothing.
        let (own, borrowed) = (
            of(&before, &team, horizon),
            of(&after, "newly-formed", horizon),
        );
        assert!(
            own > 0.0 && borrowed > 0.5 * own && borrowed < 2.0 * own,
            "horizon {horizon}: {team} {own}, renamed {borrowed}"
        );
        // The teams the history shows keep their own.
        let others = |spec: &ForecastSpec| -> f64 {
            new_deals_by_team(spec)
                .iter()
                .filter(|n| n.horizon == horizon && n.team != team && n.team != "newly-formed")
                .map(|n| n.mean)
                .sum()
        };
        assert_eq!(others(&before), others(&after));
    }
}
