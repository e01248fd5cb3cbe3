//! The funnel finds where each team leaks against the company, as the
//! generator's hidden skill says.
#![allow(clippy::unwrap_used)]

mod common;

use polars::prelude::*;
use quotecast_forecast::{Calibration, funnel};

#[test]
fn funnel_conversions_follow_each_teams_skill() {
    let world = common::world(11);
    let data = common::generated(&world, 11, 2_000, 0);
    let report = funnel(
        data.stage_events,
        data.outcomes,
        common::rules().stages(),
        &Calibration {
            as_of: common::as_of(),
            maturity_days: 180,
            prior_strength: None,
        },
    )
    .unwrap();
    let t = &report.by_team;
    let text = |f: &DataFrame, c: &str, r: usize| {
        f.column(c)
            .unwrap()
            .get(r)
            .unwrap()
            .str_value()
            .into_owned()
    };
    let number = |f: &DataFrame, c: &str, r: usize| {
        f.column(c)
            .unwrap()
            .get(r)
            .unwrap()
            .extract::<f64>()
            .unwrap()
    };
    assert_eq!(t.height(), world.teams.len() * world.funnel.open.len());
    for r in 0..t.height() {
        let team = world
            .teams
            .iter()
            .position(|x| x.id == text(t, "team", r))
            .unwrap();
        let stage = world
            .funnel
            .open
            .iter()
            .position(|x| x.id == text(t, "stage", r))
            .unwrap();
        // The true conversion: the team's chance of moving on, averaged
        // over fresh and stale deals.
        let q = world.stale_chance(stage);
        let truth = world.advance[team][stage]
            * (1.0 - q + q * quotecast_pipeline::synthetic::STALE_FACTOR);
        let conversion = number(t, "conversion", r);
        let entered = number(t, "entered", r);
        let tolerance = 4.0 * (truth * (1.0 - truth) / entered).sqrt() + 0.005;
        assert!(
            (conversion - truth).abs() < tolerance,
            "{} {}: conversion {conversion:.3} from {entered} entries, truth {truth:.3}",
            text(t, "team", r),
            text(t, "stage", r)
        );
        // Moved on never exceeds entered; the gap is team less company.
        assert!(number(t, "moved_on", r) <= entered);
        let gap = (conversion - number(t, "company_conversion", r)) * 100.0;
        // (conversions are reported to 3 decimals, the gap to 3 as well)
        assert!((gap - number(t, "gap_points", r)).abs() < 0.11);
        assert!(number(t, "mean_days", r) > 0.0);
    }
    // The least skilled team leaks: its worst stage loses deals the
    // company's conversion would have kept.
    let weakest = world
        .teams
        .iter()
        .min_by(|a, b| a.skill.total_cmp(&b.skill))
        .unwrap();
    let leaks = &report.leaks;
    let row = (0..leaks.height())
        .find(|&r| text(leaks, "team", r) == weakest.id)
        .unwrap();
    assert!(number(leaks, "leaked_deals", row) > 50.0, "{}", weakest.id);
    assert!(number(leaks, "gap_points", row) < -3.0);
    // Company rows add up the teams' entries.
    let company_entered: f64 = (0..report.company.height())
        .map(|r| number(&report.company, "entered", r))
        .sum();
    let team_entered: f64 = (0..t.height()).map(|r| number(t, "entered", r)).sum();
    assert_eq!(company_entered, team_entered);
}
