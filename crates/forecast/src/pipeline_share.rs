//! How much of what a company books comes from deals already in its
//! pipeline. The forecast counts the deals of today's pipeline (and what
//! is already won); deals created later and won in the same bucket are
//! not in it. On past snapshots this is measured per horizon: of every
//! deal won after the snapshot day in a bucket that has ended, the share
//! of the value booked by deals open on the snapshot, weighted as the
//! calendar weighs snapshots. On `gen-pipeline`'s steady company about
//! 80 % of the current quarter's bookings and a quarter of the next's come
//! from the pipeline already open, so a forecast of the next quarter is
//! far from the quarter's bookings, and the explanation says so.
use std::collections::BTreeMap;

use polars::prelude::*;
use quotecast_pipeline::columns as col;

use crate::{
    Correction, ForecastSpec,
    columns::{COMPANY, HORIZON, IS_WON, REALISED},
    frames::fixed_sum,
};

/// The share of each horizon's bookings that deals already in the
/// pipeline made: the calendar table's column on the company's rows.
pub const PIPELINE_SHARE: &str = "pipeline_share";
/// What deals not yet in the pipeline booked in each horizon after a past
/// snapshot, on average (weighted as the calendar weighs snapshots), in
/// the reporting currency: the calendar table's column on the company's
/// rows.
pub const NOT_YET_IN_PIPELINE: &str = "not_yet_in_pipeline";

/// Per horizon, the share of the bookings that followed past snapshots
/// which deals open on them made (the calendar's [`PIPELINE_SHARE`] on
/// the company's rows); empty without a calendar.
pub fn pipeline_shares(correction: &Correction) -> Vec<(i32, f64)> {
    company_column(correction, PIPELINE_SHARE)
}

/// Per horizon, what deals not yet in the pipeline booked there after a
/// past snapshot on average (the calendar's [`NOT_YET_IN_PIPELINE`]);
/// empty without a calendar.
pub fn not_yet_in_pipeline(correction: &Correction) -> Vec<(i32, f64)> {
    company_column(correction, NOT_YET_IN_PIPELINE)
}

/// The calendar's column `name` on the company's rows, per horizon.
fn company_column(correction: &Correction, name: &str) -> Vec<(i32, f64)> {
    let calendar = &correction.calendar;
    let read = || -> Option<Vec<(i32, f64)>> {
        let teams = calendar.column(col::TEAM).ok()?.str().ok()?;
        let horizons = calendar.column(HORIZON).ok()?.i32().ok()?;
        let shares = calendar.column(name).ok()?.f64().ok()?;
        Some(
            teams
                .iter()
                .zip(horizons.iter())
                .zip(shares.iter())
                .filter_map(|((t, h), s)| (t == Some(COMPANY)).then_some((h?, s?)))
                .collect(),
        )
    };
    read().unwrap_or_default()
}

/// Per horizon below `complete`, the value of every deal in `decided` won
/// after `then.as_of` in that bucket (0 the bucket holding the day).
pub(crate) fn all_bookings_plan(
    decided: &LazyFrame,
    then: &ForecastSpec,
    complete: i32,
) -> LazyFrame {
    let day = lit(then.as_of).cast(DataType::Date);
    let start = lit(then.bucket.start_of(then.as_of)).cast(DataType::Date);
    let horizon = then
        .bucket
        .index(col(col::CLOSED).dt().truncate(lit(then.bucket.every())))
        - then.bucket.index(start);
    decided
        .clone()
        .filter(col(IS_WON).and(col(col::CLOSED).gt(day)))
        .select([horizon.alias(HORIZON), col(REALISED)])
        .filter(
            col(HORIZON)
                .gt_eq(lit(0))
                .and(col(HORIZON).lt(lit(complete))),
        )
        .group_by([col(HORIZON)])
        .agg([fixed_sum(col(REALISED)).alias(REALISED)])
        .sort([HORIZON], SortMultipleOptions::default())
}

/// Weighted sums per horizon of what deals open on past snapshots booked,
/// of everything booked, and of the snapshots' weights, for
/// [`Tally::shares`] and [`Tally::not_yet_in_pipeline`].
#[derive(Debug, Default)]
pub(crate) struct Tally {
    by_horizon: BTreeMap<i32, [f64; 3]>,
}

impl Tally {
    /// Adds what the open deals of one snapshot booked in `horizon`.
    pub(crate) fn add_open(&mut self, horizon: i32, booked: f64, weight: f64) {
        self.by_horizon.entry(horizon).or_default()[0] += booked * weight;
    }

    /// Adds one snapshot's collected [`all_bookings_plan`] over its
    /// `complete` horizons.
    pub(crate) fn add_all(
        &mut self,
        frame: &DataFrame,
        weight: f64,
        complete: i32,
    ) -> PolarsResult<()> {
        for h in 0..complete {
            self.by_horizon.entry(h).or_default()[2] += weight;
        }
        let horizons = frame.column(HORIZON)?.cast(&DataType::Int32)?;
        let booked = frame.column(REALISED)?.f64()?.clone();
        for (h, v) in horizons.i32()?.iter().zip(booked.iter()) {
            if let (Some(h), Some(v)) = (h, v) {
                self.by_horizon.entry(h).or_default()[1] += v * weight;
            }
        }
        Ok(())
    }

    /// Per horizon the share (0 to 1, rounded to 10⁻⁴) of the bookings
    /// that deals open on the snapshots made; none where nothing was booked.
    pub(crate) fn shares(&self) -> BTreeMap<i32, f64> {
        self.by_horizon
            .iter()
            .filter(|(_, [_, all, _])| *all > 0.0)
            .map(|(&h, [open, all, _])| (h, ((open / all).clamp(0.0, 1.0) * 1e4).round() / 1e4))
            .collect()
    }

    /// Per horizon what deals not open on the snapshots booked there, per
    /// snapshot on average (rounded to cents).
    pub(crate) fn not_yet_in_pipeline(&self) -> BTreeMap<i32, f64> {
        self.by_horizon
            .iter()
            .filter(|(_, [_, _, weight])| *weight > 0.0)
            .map(|(&h, [open, all, weight])| {
                (
                    h,
                    (((all - open) / weight).max(0.0) * 100.0).round() / 100.0,
                )
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_share_and_what_new_deals_booked_are_weighted_by_snapshot() {
        let mut tally = Tally::default();
        let all = |h: Vec<i32>, v: Vec<f64>| {
            DataFrame::new(
                h.len(),
                vec![
                    Column::new(HORIZON.into(), h),
                    Column::new(REALISED.into(), v),
                ],
            )
            .unwrap()
        };
        // A snapshot that counts three times another: open deals made 80
        // of 100 in the current quarter and 10 of 100 in the next; on the
        // other snapshot 40 of 100 and 10 of 50.
        tally.add_open(0, 80.0, 3.0);
        tally.add_open(1, 10.0, 3.0);
        tally
            .add_all(&all(vec![0, 1], vec![100.0, 100.0]), 3.0, 2)
            .unwrap();
        tally.add_open(0, 40.0, 1.0);
        tally.add_open(1, 10.0, 1.0);
        tally
            .add_all(&all(vec![0, 1], vec![100.0, 50.0]), 1.0, 2)
            .unwrap();
        let shares = tally.shares();
        assert!((shares[&0] - 0.7).abs() < 1e-9, "{shares:?}");
        assert!((shares[&1] - 40.0 / 350.0).abs() < 1e-4, "{shares:?}");
        // Deals not open on them booked 20 and 60 in the current quarter
        // (weights 3 and 1: 30 a snapshot on average), 90 and 40 in the
        // next (77.5).
        let new = tally.not_yet_in_pipeline();
        assert!((new[&0] - 30.0).abs() < 1e-9, "{new:?}");
        assert!((new[&1] - 77.5).abs() < 1e-9, "{new:?}");
        // A horizon nothing was booked in has no share.
        tally.add_open(2, 0.0, 1.0);
        assert!(!tally.shares().contains_key(&2));
    }
}
