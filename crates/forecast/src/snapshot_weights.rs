//! How much a past snapshot counts for a forecast made on another day:
//! by how near its place in its bucket is to the forecast date's (a
//! snapshot in the second week of a quarter teaches the second week of a
//! quarter most), and by its age.
use chrono::NaiveDate;
use quotecast_model::FiscalYear;

use crate::Bucket;

/// The width of the kernel on the place in the bucket (share of it gone)
/// for what deals not yet in the pipeline booked, and the widest the
/// calendar factors' kernel gets.
pub const POSITION_WIDTH: f64 = 0.2;
/// The narrowest the calendar factors' kernel gets.
pub const NARROWEST_POSITION_WIDTH: f64 = 0.1;
/// The calendar factors' kernel is this many times the usual distance
/// between neighbouring snapshots' places: a neighbour counts about an
/// eighth (e^−(1/0.7)²) as much as a snapshot at the forecast date's
/// place. Snapshots every 14 days give quarters a width of about 0.11;
/// every 28 days, the widest, 0.2, in a quarter of any length. Where a
/// next quarter's bookings grow fivefold from the quarter's first weeks
/// to its last (the other company's quarter-end push), 0.2 over
/// snapshots 14 days apart mixed in places that book twice as much: its
/// next-quarter forecast WAPE 0.488 → 0.461 (seed 1), 0.400 → 0.384
/// (seed 2), 0.243 → 0.206 (seed 3); the README gives the backtests.
pub const WIDTH_PER_SPACING: f64 = 0.7;
/// The least weight a snapshot at another place in its bucket keeps in
/// what deals not yet in the pipeline booked: 0.01 against 0.05 gave
/// equal or lower CRPS on ten of eleven generated companies (the README
/// gives the backtests). The calendar factors' kernel keeps it at its
/// widest, so snapshots 28 days apart and monthly buckets learn as
/// before, and has none narrowed: snapshots near together leave enough
/// near the forecast date's place.
pub const POSITION_FLOOR: f64 = 0.01;
/// A snapshot this many days older than another counts half as much.
/// Chosen by backtest (quarters, two ahead, with the close-date factors)
/// on `gen-pipeline --opportunities 5000` with `--seed 1` and with
/// `--seed 2 --shape shifting`: CRPS over actual, current and next
/// quarter, steady then shifting, 0.109, 0.101, 0.171, 0.248 at 365 days;
/// 0.109, 0.101, 0.167, 0.245 at 180; 0.110, 0.102, 0.164, 0.243 at 120;
/// 0.112, 0.103, 0.161, 0.240 at 90. 180 days follows the drifting
/// teams better at no cost on the steady company, where shorter ones
/// start to lose to noise.
pub const HALF_LIFE_DAYS: f64 = 180.0;

/// A Gaussian kernel on the place in the bucket, never below its floor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PlaceKernel {
    pub width: f64,
    pub floor: f64,
}

impl PlaceKernel {
    /// For what deals not yet in the pipeline booked.
    pub const NEW_DEALS: PlaceKernel = PlaceKernel {
        width: POSITION_WIDTH,
        floor: POSITION_FLOOR,
    };

    /// For the calendar factors of a forecast made on `as_of` from
    /// snapshots taken on `days`: [`WIDTH_PER_SPACING`] times the median
    /// days between neighbouring snapshots over the length of the bucket
    /// holding `as_of`, within [`NARROWEST_POSITION_WIDTH`] and
    /// [`POSITION_WIDTH`]; the floor of [`POSITION_FLOOR`] only at the
    /// widest.
    pub fn for_factors(
        bucket: Bucket,
        year: FiscalYear,
        days: &[NaiveDate],
        as_of: NaiveDate,
    ) -> Self {
        let mut sorted = days.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut gaps: Vec<i64> = sorted
            .windows(2)
            .map(|w| (w[1] - w[0]).num_days())
            .collect();
        gaps.sort_unstable();
        let width = match gaps.get(gaps.len() / 2) {
            Some(&gap) => {
                let start = bucket.start_of(as_of, year);
                let length = (bucket.next(start) - start).num_days().max(1) as f64;
                (WIDTH_PER_SPACING * gap as f64 / length)
                    .clamp(NARROWEST_POSITION_WIDTH, POSITION_WIDTH)
            }
            None => POSITION_WIDTH,
        };
        // Left at its widest (snapshots far apart in their buckets), the
        // kernel keeps the floor: the far snapshots are needed there.
        let floor = if width < POSITION_WIDTH {
            0.0
        } else {
            POSITION_FLOOR
        };
        PlaceKernel { width, floor }
    }

    /// How much a snapshot taken on `day` counts for a forecast made on
    /// `as_of` by how near their places in their buckets are.
    pub fn weight(
        &self,
        bucket: Bucket,
        year: FiscalYear,
        day: NaiveDate,
        as_of: NaiveDate,
    ) -> f64 {
        let place = |d: NaiveDate| {
            let start = bucket.start_of(d, year);
            let length = (bucket.next(start) - start).num_days().max(1) as f64;
            (d - start).num_days() as f64 / length
        };
        let distance = (place(day) - place(as_of)) / self.width;
        (-distance * distance).exp().max(self.floor)
    }
}

/// How much a snapshot taken on `day` counts for a forecast made on
/// `as_of` by its age: halved every [`HALF_LIFE_DAYS`].
pub(crate) fn recency_weight(day: NaiveDate, as_of: NaiveDate) -> f64 {
    let age = (as_of - day).num_days().max(0) as f64;
    0.5f64.powf(age / HALF_LIFE_DAYS)
}

/// How much a snapshot taken on `day` counts for a forecast made on
/// `as_of` in what deals not yet in the pipeline booked: its place in
/// its bucket ([`PlaceKernel::NEW_DEALS`]), then its age.
pub(crate) fn snapshot_weight(
    bucket: Bucket,
    year: FiscalYear,
    day: NaiveDate,
    as_of: NaiveDate,
) -> f64 {
    PlaceKernel::NEW_DEALS.weight(bucket, year, day, as_of) * recency_weight(day, as_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    fn every(days: i64, n: i64) -> Vec<NaiveDate> {
        (0..n)
            .map(|i| day(2025, 1, 3) + chrono::TimeDelta::days(i * days))
            .collect()
    }

    #[test]
    fn the_factors_kernel_narrows_with_snapshots_nearer_together() {
        let as_of = day(2026, 11, 20);
        let year = FiscalYear::default();
        let width =
            |gap| PlaceKernel::for_factors(Bucket::Quarter, year, &every(gap, 40), as_of).width;
        assert!((0.105..0.11).contains(&width(14)), "{}", width(14));
        assert_eq!(width(28), POSITION_WIDTH);
        assert_eq!(width(7), NARROWEST_POSITION_WIDTH);
        assert_eq!(width(56), POSITION_WIDTH);
        // Monthly buckets: even snapshots 14 days apart are far apart,
        // and the widest kernel keeps its floor.
        let months = PlaceKernel::for_factors(Bucket::Month, year, &every(14, 40), as_of);
        assert_eq!(months, PlaceKernel::NEW_DEALS);
        // One snapshot alone: the widest.
        let one = PlaceKernel::for_factors(Bucket::Quarter, year, &every(14, 1), as_of);
        assert_eq!(one.width, POSITION_WIDTH);
    }

    #[test]
    fn a_neighbouring_snapshot_counts_about_an_eighth() {
        let as_of = day(2026, 1, 16);
        let year = FiscalYear::default();
        let days = every(14, 40);
        let kernel = PlaceKernel::for_factors(Bucket::Quarter, year, &days, as_of);
        let same_place = kernel.weight(Bucket::Quarter, year, day(2025, 10, 16), as_of);
        let neighbour = kernel.weight(Bucket::Quarter, year, day(2025, 10, 30), as_of);
        let far = kernel.weight(Bucket::Quarter, year, day(2025, 12, 18), as_of);
        assert!(same_place > 0.99, "{same_place}");
        assert!((0.1..0.2).contains(&neighbour), "{neighbour}");
        assert!(far < 1e-6, "no floor narrowed: {far}");
        // What deals not yet in the pipeline booked keeps its kernel.
        let new_deals =
            PlaceKernel::NEW_DEALS.weight(Bucket::Quarter, year, day(2025, 12, 18), as_of);
        assert_eq!(new_deals, POSITION_FLOOR);
    }
}
