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
    // The teams differ by far more than sampling: the prior is weak.
    assert!(rates.prior_strength < 1_000.0, "{}", rates.prior_strength);
    eprintln!(
        "worst error {worst:.4}, prior strength {:.1}, {} stage entries, {} decided",
        rates.prior_strength, rates.stage_entries, rates.decided_entries
    );
}
