//! Win rates calibrated from a generated history recover the generator's
//! hidden per-team truth.
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
    let rates = calibrate(events, outcomes, rules.stages(), &how).unwrap();
    let t = &rates.table;
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
        // Stale deals: the true factor is the same for every team,
        // STALE_FACTOR / (1 - q + q STALE_FACTOR) with q the stale chance.
        let q = world.stale_chance(stage);
        let stale_truth = STALE_FACTOR / (1.0 - q + q * STALE_FACTOR);
        assert!(
            (number("stale_factor", r) - stale_truth).abs() < 0.1,
            "{}: stale factor {:.3}, truth {stale_truth:.3}",
            text("stage", r),
            number("stale_factor", r)
        );
    }
    // The teams differ by far more than sampling: the prior is weak.
    assert!(rates.prior_strength < 1_000.0, "{}", rates.prior_strength);
    eprintln!(
        "worst error {worst:.4}, prior strength {:.1}, {} matured entries",
        rates.prior_strength, rates.matured_entries
    );
}
