//! Win rates calibrated from a generated history recover the generator's
//! hidden per-team truth, and how it falls for deals that outstay their
//! stage.
#![allow(clippy::unwrap_used)]

mod common;

use quotecast_forecast::{Calibration, calibrate};
use quotecast_pipeline::synthetic::STALE_FACTOR;

#[test]
fn calibrated_rates_recover_each_teams_true_win_rate() {
    let rules = common::rules();
    let world = common::world(11);
    let as_of = common::as_of();
    let data = common::generated(&world, 11, 3_000, 0);
    let (events, outcomes) = (data.stage_events, data.outcomes);
    let how = Calibration {
        as_of,
        maturity_days: 180,
        prior_strength: None,
    };
    let rates = calibrate(events, outcomes, vec![data.pipeline], rules.stages(), &how).unwrap();
    let t = &rates.on_entering().unwrap();
    let text = |c: &str, r: usize| {
        t.column(c)
            .unwrap()
            .get(r)
            .unwrap()
            .str_value()
            .into_owned()
    };
    let number = |c: &str, r: usize| {
        t.column(c)
            .unwrap()
            .get(r)
            .unwrap()
            .extract::<f64>()
            .unwrap()
    };
    assert_eq!(t.height(), world.teams.len() * world.funnel.open.len());
    let mut worst: f64 = 0.0;
    for r in 0..t.height() {
        let team = world
            .teams
            .iter()
            .position(|x| x.id == text("team", r))
            .unwrap();
        let stage = world
            .funnel
            .open
            .iter()
            .position(|x| x.id == text("stage", r))
            .unwrap();
        let truth = world.true_win_rate(team, stage);
        let error = (number("calibrated", r) - truth).abs();
        worst = worst.max(error);
        assert!(
            error < 0.05,
            "{} {}: calibrated {:.3} from {} entries, truth {truth:.3}",
            text("team", r),
            text("stage", r),
            number("calibrated", r),
            number("entries", r)
        );
    }
    // Deals still in their stage at its time limit (they will outstay it)
    // win less, by the same factor for every team: STALE_FACTOR /
    // (1 − q + q STALE_FACTOR) of the rate on entering, q the stale chance.
    let bands = rates.company_by_days_in_stage().unwrap();
    let company = |stage: &str, from: i64| -> f64 {
        (0..bands.height())
            .find(|&r| {
                bands.column("stage").unwrap().get(r).unwrap().str_value() == stage
                    && bands
                        .column("days_in_stage_from")
                        .unwrap()
                        .get(r)
                        .unwrap()
                        .extract::<i64>()
                        == Some(from)
            })
            .map(|r| {
                bands
                    .column("company_rate")
                    .unwrap()
                    .get(r)
                    .unwrap()
                    .extract::<f64>()
                    .unwrap()
            })
            .unwrap()
    };
    for (s, stage) in world.funnel.open.iter().enumerate() {
        let q = world.stale_chance(s);
        let truth = STALE_FACTOR / (1.0 - q + q * STALE_FACTOR);
        let limit = i64::from(stage.time_limit_days);
        let found = company(&stage.id, limit) / company(&stage.id, 0);
        assert!(
            (found - truth).abs() < 0.1,
            "{}: rate at the time limit over rate on entering {found:.3}, truth {truth:.3}",
            stage.id
        );
    }
    // The teams differ by far more than sampling in every stage: each
    // stage's prior is weak.
    let strengths = &rates.prior_strength;
    assert_eq!(
        strengths.by_stage.len(),
        world.funnel.open.len(),
        "{strengths:?}"
    );
    assert!(
        strengths.by_stage.iter().all(|(_, k)| *k < 1_000.0),
        "{strengths:?}"
    );
    eprintln!(
        "worst error {worst:.4}, prior strength {:?}, {} stage entries, {} decided",
        rates.prior_strength, rates.stage_entries, rates.decided_entries
    );
}

#[test]
fn an_entry_counts_for_its_outcomes_team_else_a_snapshots_and_is_left_out_when_neither_names_one() {
    use polars::prelude::*;
    let rules = common::rules();
    let day = |d: &str| d.parse::<chrono::NaiveDate>().unwrap();
    let dates = |name: &str, ds: &[&str]| {
        DateChunked::from_naive_date(name.into(), ds.iter().map(|d| day(d)).collect::<Vec<_>>())
            .into_column()
    };
    let events = DataFrame::new(
        5,
        vec![
            Column::new("opportunity_id".into(), ["W", "O", "L", "X", "N"]),
            Column::new("stage".into(), ["qualify"; 5]),
            dates("at", &["2026-01-05"; 5]),
        ],
    )
    .unwrap();
    // W won in March for team A (a snapshot calling it B is overruled);
    // L lost after the as-of date, so open then, for team A too.
    let outcomes = DataFrame::new(
        2,
        vec![
            Column::new("opportunity_id".into(), ["W", "L"]),
            Column::new("team".into(), ["A", "A"]),
            Column::new("outcome".into(), ["won", "lost"]),
            dates("closed", &["2026-03-01", "2026-12-01"]),
        ],
    )
    .unwrap();
    // O and X are open in snapshots: O for team B (twice), X named by no
    // one; N has no outcome and is in no snapshot, so it is left out.
    let snapshot = df!(
        "opportunity_id" => ["W", "O", "O"],
        "team" => ["B", "B", "B"],
    )
    .unwrap();
    let how = Calibration {
        as_of: day("2026-06-01"),
        maturity_days: 180,
        prior_strength: None,
    };
    let rates = calibrate(
        events.lazy(),
        outcomes.lazy(),
        vec![snapshot.lazy()],
        rules.stages(),
        &how,
    )
    .unwrap();
    let t = rates.on_entering().unwrap();
    let counted = |team: &str, what: &str| -> u64 {
        let teams = t.column("team").unwrap().str().unwrap().clone();
        let stages = t.column("stage").unwrap().str().unwrap().clone();
        let values = t.column(what).unwrap().cast(&DataType::UInt64).unwrap();
        let values = values.u64().unwrap();
        (0..t.height())
            .find(|&r| teams.get(r) == Some(team) && stages.get(r) == Some("qualify"))
            .and_then(|r| values.get(r))
            .unwrap_or(0)
    };
    assert_eq!(counted("A", "entries"), 2, "W and L: {t}");
    assert_eq!(counted("A", "wins"), 1, "W only (L is undecided then): {t}");
    assert_eq!(counted("B", "entries"), 1, "O once, not W: {t}");
    assert_eq!(rates.stage_entries, 3, "X and N are left out: {t}");
}

#[test]
fn rates_do_not_depend_on_the_order_events_are_listed_in() {
    use polars::prelude::*;
    let rules = common::rules();
    let world = common::world(12);
    let data = common::generated(&world, 12, 400, 0);
    let how = Calibration {
        as_of: common::as_of(),
        maturity_days: 180,
        prior_strength: None,
    };
    let in_order = data.stage_events.clone().collect().unwrap();
    // The same events listed by day, as an event log is (each deal's
    // events on one day still in their order): a deal's events are no
    // longer next to each other.
    let by_day = in_order
        .clone()
        .lazy()
        .sort_by_exprs(
            [col("at")],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .collect()
        .unwrap();
    assert_ne!(
        in_order.column("opportunity_id").unwrap(),
        by_day.column("opportunity_id").unwrap()
    );
    let rates = |events: DataFrame| {
        calibrate(
            events.lazy(),
            data.outcomes.clone(),
            vec![data.pipeline.clone()],
            rules.stages(),
            &how,
        )
        .unwrap()
        .table
    };
    assert_eq!(rates(in_order), rates(by_day));
}

#[test]
fn a_field_historys_rows_in_the_stage_a_deal_is_in_are_not_entries() {
    use polars::prelude::*;
    let rules = common::rules();
    let world = common::world(12);
    let data = common::generated(&world, 12, 400, 0);
    let as_of = common::as_of();
    let how = Calibration {
        as_of,
        maturity_days: 180,
        prior_strength: None,
    };
    let events = data
        .stage_events
        .clone()
        .sort_by_exprs(
            [col("opportunity_id"), col("at")],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .collect()
        .unwrap();
    // As a field history writes it: a row in the same stage halfway to
    // the deal's next stage change (a change of amount or close date).
    let same_deal = col("opportunity_id")
        .shift(lit(-1))
        .eq(col("opportunity_id"));
    let halfway = (col("at").cast(DataType::Int32)
        + (col("at").shift(lit(-1)).cast(DataType::Int32) - col("at").cast(DataType::Int32))
            / lit(2))
    .cast(DataType::Date);
    let repeats = events
        .clone()
        .lazy()
        .with_column(
            when(same_deal)
                .then(halfway)
                .otherwise(lit(NULL))
                .alias("mid"),
        )
        .filter(
            col("mid")
                .gt(col("at"))
                .and(col("mid").lt_eq(lit(as_of).cast(DataType::Date))),
        )
        .select([col("opportunity_id"), col("stage"), col("mid").alias("at")])
        .collect()
        .unwrap();
    assert!(repeats.height() > 500, "{}", repeats.height());
    let with_repeats = concat(
        [events.clone().lazy(), repeats.clone().lazy()],
        UnionArgs::default(),
    )
    .unwrap();
    let rates = |events: LazyFrame| {
        let then = quotecast_forecast::RatesThen::new(
            events,
            data.outcomes.clone(),
            vec![data.pipeline.clone()],
            rules.stages(),
            &how,
        )
        .unwrap();
        let rates = then.calibrated_on(as_of).unwrap();
        (rates.table, rates.stage_entries, then.repeated_events())
    };
    let (plain, entries, none) = rates(events.lazy());
    let (read, read_entries, repeated) = rates(with_repeats);
    assert_eq!(none, 0);
    assert_eq!(repeated, repeats.height() as u64);
    // The same entries, each with its days in stage from its first row:
    // the same rates to the bit.
    assert_eq!(read_entries, entries);
    assert_eq!(read, plain);
}
