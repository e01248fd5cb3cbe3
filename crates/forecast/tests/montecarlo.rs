//! The Monte Carlo agrees with the weighted forecast on average, orders
//! its percentiles, adds up across groups and is reproducible by seed.
#![allow(clippy::unwrap_used)]

mod common;

use polars::prelude::*;
use quotecast_forecast::{
    Bucket, Calibration, Dimension, ForecastSpec, Learning, RateTable, Simulation, WinRates,
    calibrate, forecast, learn_correction, simulate,
};

fn spec() -> ForecastSpec {
    ForecastSpec {
        as_of: common::as_of(),
        bucket: Bucket::Month,
        fiscal_year: quotecast_model::FiscalYear::CALENDAR,
        group_by: vec![Dimension::Team],
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

fn sum(frame: &DataFrame, column: &str) -> f64 {
    frame
        .column(column)
        .unwrap()
        .as_materialized_series()
        .sum::<f64>()
        .unwrap()
}

fn floats(frame: &DataFrame, column: &str) -> Vec<f64> {
    frame
        .column(column)
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .map(|v| v.unwrap())
        .collect()
}

#[test]
fn simulated_mean_matches_the_weighted_and_corrected_forecasts() {
    let world = common::world(7);
    let data = common::generated(&world, 7, 2_000, 24);
    let how = Simulation {
        trials: 4_000,
        seed: 42,
        ..Simulation::default()
    };
    let mut spec = spec();
    let weighted = forecast(data.pipeline.clone(), &spec).unwrap();
    let mc = simulate(data.pipeline.clone(), &spec, &how).unwrap();
    assert_eq!(mc.open_opportunities, 2_000);
    let expected = sum(&weighted.amounts, "weighted");
    let simulated = sum(&mc.by_bucket, "mean");
    // 4,000 trials: the standard error of the total is well under 1 %.
    assert!(
        (simulated / expected - 1.0).abs() < 0.01,
        "simulated {simulated}, weighted {expected}"
    );
    // Groups add up to their bucket; percentiles are ordered.
    assert!((sum(&mc.by_group, "mean") - simulated).abs() < 1.0);
    for frame in [&mc.by_group, &mc.by_bucket] {
        let (p10, p50, p90) = (
            floats(frame, "p10"),
            floats(frame, "p50"),
            floats(frame, "p90"),
        );
        for i in 0..p10.len() {
            assert!(p10[i] <= p50[i] && p50[i] <= p90[i]);
        }
    }
    // The month holding the forecast date is uncertain: a real spread.
    let p10 = floats(&mc.by_bucket, "p10");
    let p90 = floats(&mc.by_bucket, "p90");
    let widest = (0..p10.len()).map(|i| p90[i] - p10[i]).fold(0.0, f64::max);
    assert!(widest > 0.05 * simulated, "{widest} of {simulated}");
    // Reproducible by seed.
    let again = simulate(data.pipeline.clone(), &spec, &how).unwrap();
    assert_eq!(again.by_group, mc.by_group);
    let other = simulate(
        data.pipeline.clone(),
        &spec,
        &Simulation {
            seed: 43,
            ..how.clone()
        },
    )
    .unwrap();
    assert_ne!(other.by_group, mc.by_group);

    // With the correction: the mean follows the expected bookings (the
    // corrected column plus new deals).
    let rates = calibrate(
        data.stage_events,
        data.outcomes.clone(),
        vec![data.pipeline.clone()],
        &spec.stages,
        &Calibration {
            as_of: common::as_of(),
            maturity_days: 180,
            prior_strength: None,
        },
    )
    .unwrap();
    spec.win_rates = WinRates::Calibrated(Box::new(rates));
    let correction = learn_correction(
        data.snapshots,
        data.outcomes,
        &spec,
        &Learning {
            as_of: common::as_of(),
            maturity_days: 180,
            rates_then: None,
            slippage_place_days: Some(quotecast_forecast::PLACE_DAYS),
        },
    )
    .unwrap();
    // The generator's teams share no shock beyond their deals' own draws.
    assert!(
        correction.shock_variance < 0.02,
        "{}",
        correction.shock_variance
    );
    spec.correction = Some(Box::new(correction));
    let corrected = forecast(data.pipeline.clone(), &spec).unwrap();
    let mc = simulate(data.pipeline.clone(), &spec, &how).unwrap();
    let expected = sum(&corrected.amounts, "expected_bookings");
    let simulated = sum(&mc.by_bucket, "mean");
    assert!(
        (simulated / expected - 1.0).abs() < 0.01,
        "simulated {simulated}, expected bookings {expected}"
    );
    // The shocks below act on the pipeline's deals: new deals, whose
    // spread history gives whole, are left out from here on.
    if let Some(c) = spec.correction.as_mut() {
        c.calendar = c.calendar.drop("not_yet_in_pipeline").unwrap();
    }
    let corrected = forecast(data.pipeline.clone(), &spec).unwrap();
    let mc = simulate(data.pipeline.clone(), &spec, &how).unwrap();
    let expected = sum(&corrected.amounts, "corrected");
    assert!((sum(&mc.by_bucket, "mean") / expected - 1.0).abs() < 0.01);
    // And bucket by bucket: a won deal lands on each of its slippage
    // points as often as the corrected column spreads it.
    let per_bucket = |frame: &DataFrame, column: &str| {
        frame
            .clone()
            .lazy()
            .group_by([col("bucket")])
            .agg([col(column).sum()])
            .sort(["bucket"], SortMultipleOptions::default())
            .collect()
            .unwrap()
    };
    let (want, got) = (
        per_bucket(&corrected.amounts, "corrected"),
        per_bucket(&mc.by_bucket, "mean"),
    );
    assert_eq!(
        want.column("bucket").unwrap(),
        got.column("bucket").unwrap()
    );
    let (want, got) = (floats(&want, "corrected"), floats(&got, "mean"));
    for (w, g) in want.iter().zip(&got) {
        if *w > 0.05 * expected {
            assert!(
                (g / w - 1.0).abs() < 0.03,
                "bucket: simulated {g}, corrected {w}"
            );
        }
    }
    assert!(want.iter().filter(|w| **w > 0.05 * expected).count() >= 3);
    // Teams whose deals move together: the same mean, wider ranges.
    let mut shocked = spec.clone();
    if let Some(c) = shocked.correction.as_mut() {
        c.shock_variance = 0.2;
    }
    let wide = simulate(data.pipeline.clone(), &shocked, &how).unwrap();
    let total = |u: &quotecast_forecast::Uncertainty, c: &str| sum(&u.by_bucket, c);
    assert!(
        (total(&wide, "mean") / expected - 1.0).abs() < 0.02,
        "{} against {expected}",
        total(&wide, "mean")
    );
    let spread = |u: &quotecast_forecast::Uncertainty| total(u, "p90") - total(u, "p10");
    assert!(
        spread(&wide) > 1.25 * spread(&mc),
        "{} against {}",
        spread(&wide),
        spread(&mc)
    );
    // A shock all teams share in a bucket (the company's quarter falls
    // short together): the same mean, wider company ranges.
    let mut together = spec.clone();
    if let Some(c) = together.correction.as_mut() {
        assert!(c.calendar.height() > 0);
        c.calendar = c
            .calendar
            .clone()
            .lazy()
            .with_column(lit(0.1).alias("company_shock_variance"))
            .collect()
            .unwrap();
    }
    let shared = simulate(data.pipeline.clone(), &together, &how).unwrap();
    assert!(
        (total(&shared, "mean") / expected - 1.0).abs() < 0.03,
        "{} against {expected}",
        total(&shared, "mean")
    );
    assert!(
        spread(&shared) > 1.3 * spread(&mc),
        "{} against {}",
        spread(&shared),
        spread(&mc)
    );
    // Slippage spreads value over as many buckets as the corrected column.
    assert_eq!(
        mc.by_bucket.height(),
        corrected
            .amounts
            .column("bucket")
            .unwrap()
            .n_unique()
            .unwrap()
    );
}

#[test]
fn a_cancelled_simulation_stops_with_cancelled() {
    let world = common::world(7);
    let data = common::generated(&world, 7, 500, 12);
    let how = Simulation {
        trials: 2_000,
        seed: 1,
        ..Simulation::default()
    };
    how.cancel.cancel();
    let outcome = simulate(data.pipeline.clone(), &spec(), &how);
    assert!(
        matches!(outcome, Err(quotecast_forecast::ForecastError::Cancelled)),
        "{:?}",
        outcome.map(|u| u.open_opportunities)
    );
}
