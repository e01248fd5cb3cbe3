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

use chrono::NaiveDate;

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
/// How much what deals not yet in the pipeline booked varied from one
/// past snapshot to the next (a weighted standard deviation, reporting
/// currency): the calendar table's column.
pub const NOT_YET_IN_PIPELINE_SD: &str = "not_yet_in_pipeline_sd";
/// The effective number of buckets (weighted) a horizon's spread of what
/// new deals booked is read from; fewer borrow it (see [`Tally::table`]).
pub const MIN_BUCKETS: f64 = 3.0;

/// Per horizon, the share of the bookings that followed past snapshots
/// which deals open on them made (the calendar's [`PIPELINE_SHARE`] on
/// the company's rows); empty without a calendar.
pub fn pipeline_shares(correction: &Correction) -> Vec<(i32, f64)> {
    company_column(&correction.calendar, PIPELINE_SHARE)
}

/// Per horizon, what deals not yet in the pipeline booked there after a
/// past snapshot on average (the calendar's [`NOT_YET_IN_PIPELINE`]);
/// empty without a calendar.
pub fn not_yet_in_pipeline(correction: &Correction) -> Vec<(i32, f64)> {
    company_column(&correction.calendar, NOT_YET_IN_PIPELINE)
}

/// The column `name` of a calendar (or [`Tally::table`]) on the
/// company's rows, per horizon.
pub(crate) fn company_column(calendar: &DataFrame, name: &str) -> Vec<(i32, f64)> {
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

/// Per team and day, the value of the deals in `decided` won that day:
/// what [`all_bookings_plan`] reads for every snapshot, grouped once (a
/// scan of every outcome per snapshot took a third of the calendar's
/// time on a history of millions of deals).
pub(crate) fn won_per_day(decided: &LazyFrame) -> PolarsResult<DataFrame> {
    decided
        .clone()
        .filter(col(IS_WON))
        .group_by([col(col::TEAM), col(col::CLOSED)])
        .agg([fixed_sum(col(REALISED)).alias(REALISED)])
        .collect()
}

/// Per team and horizon below `complete`, the value of every deal won
/// after `then.as_of` in that bucket (0 the bucket holding the day), from
/// the [`won_per_day`] sums.
pub(crate) fn all_bookings_plan(
    won_per_day: &DataFrame,
    then: &ForecastSpec,
    complete: i32,
) -> LazyFrame {
    let day = lit(then.as_of).cast(DataType::Date);
    let start = lit(then.bucket_start(then.as_of)).cast(DataType::Date);
    let horizon = then.bucket_index(col(col::CLOSED)) - then.bucket_index(start);
    won_per_day
        .clone()
        .lazy()
        .filter(col(col::CLOSED).gt(day))
        .select([col(col::TEAM), horizon.alias(HORIZON), col(REALISED)])
        .filter(
            col(HORIZON)
                .gt_eq(lit(0))
                .and(col(HORIZON).lt(lit(complete))),
        )
        .group_by([col(col::TEAM), col(HORIZON)])
        .agg([fixed_sum(col(REALISED)).alias(REALISED)])
        .sort([col::TEAM, HORIZON], SortMultipleOptions::default())
}

/// Weighted sums per team (and the company, [`COMPANY`]) and horizon of
/// what deals open on past snapshots booked and of everything booked,
/// per target bucket too, and of the snapshots' weights: for
/// [`Tally::table`].
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Per team and horizon: Σw·open, Σw·all, and per target bucket (the
    /// first day of the bucket holding the snapshot: with the horizon it
    /// names the bucket booked in) Σw·(all − open).
    sums: BTreeMap<(String, i32), Sums>,
    /// Per horizon and target bucket: Σw.
    weights: BTreeMap<(i32, NaiveDate), f64>,
    /// The snapshot being added: per team and horizon, open and all.
    snapshot: BTreeMap<(String, i32), [f64; 2]>,
}

/// One team's and horizon's figures (see [`Tally::figures`]).
struct Figures {
    share: Option<f64>,
    mean: f64,
    variance: f64,
    buckets: f64,
}

#[derive(Debug, Default)]
struct Sums {
    open: f64,
    all: f64,
    new_by_bucket: BTreeMap<NaiveDate, f64>,
}

impl Tally {
    /// Adds what a team's open deals of the snapshot being added booked
    /// in `horizon`.
    pub(crate) fn add_open(&mut self, team: &str, horizon: i32, booked: f64) {
        self.snapshot.entry((team.to_owned(), horizon)).or_default()[0] += booked;
    }

    /// Adds what all of a team's deals won after the snapshot being added
    /// booked in `horizon`.
    pub(crate) fn add_booked(&mut self, team: &str, horizon: i32, booked: f64) {
        self.snapshot.entry((team.to_owned(), horizon)).or_default()[1] += booked;
    }

    /// Adds the snapshot's collected [`all_bookings_plan`].
    pub(crate) fn add_all(&mut self, frame: &DataFrame) -> PolarsResult<()> {
        let teams = frame.column(col::TEAM)?.str()?.clone();
        let horizons = frame.column(HORIZON)?.cast(&DataType::Int32)?;
        let booked = frame.column(REALISED)?.f64()?.clone();
        for ((t, h), v) in teams.iter().zip(horizons.i32()?.iter()).zip(booked.iter()) {
            if let (Some(t), Some(h), Some(v)) = (t, h, v) {
                self.add_booked(t, h, v);
            }
        }
        Ok(())
    }

    /// Ends the snapshot being added, taken in the bucket starting on
    /// `bucket`, which counts `weight` and saw horizons below `complete`
    /// end. What a team's deals not open on it booked is scaled by the
    /// team's `index` (see `then::conversion_index`; none: 1).
    pub(crate) fn end_snapshot(
        &mut self,
        bucket: NaiveDate,
        weight: f64,
        complete: i32,
        index: &BTreeMap<String, f64>,
    ) {
        for h in 0..complete {
            *self.weights.entry((h, bucket)).or_default() += weight;
        }
        let mut company: BTreeMap<i32, [f64; 2]> = BTreeMap::new();
        for ((team, h), [open, all]) in std::mem::take(&mut self.snapshot) {
            let all = match index.get(&team) {
                Some(scale) if all > open => open + (all - open) * scale,
                _ => all,
            };
            let total = company.entry(h).or_default();
            total[0] += open;
            total[1] += all;
            self.add_sums(team, h, bucket, [open, all], weight);
        }
        for (h, figures) in company {
            self.add_sums(COMPANY.to_owned(), h, bucket, figures, weight);
        }
    }

    fn add_sums(
        &mut self,
        team: String,
        horizon: i32,
        bucket: NaiveDate,
        [open, all]: [f64; 2],
        weight: f64,
    ) {
        let sums = self.sums.entry((team, horizon)).or_default();
        sums.open += open * weight;
        sums.all += all * weight;
        *sums.new_by_bucket.entry(bucket).or_default() += (all - open).max(0.0) * weight;
    }

    /// Per team (and the company) and horizon with a past bucket: what
    /// new deals booked per snapshot on average, the weighted variance of
    /// the buckets' means around it, and the effective number of buckets.
    fn figures(&self) -> BTreeMap<(String, i32), Figures> {
        let mut out = BTreeMap::new();
        for ((team, h), sums) in &self.sums {
            let buckets: Vec<(f64, f64)> = self
                .weights
                .range((*h, NaiveDate::MIN)..=(*h, NaiveDate::MAX))
                .filter(|(_, w)| **w > 0.0)
                .map(|((_, b), w)| (*w, sums.new_by_bucket.get(b).copied().unwrap_or(0.0) / w))
                .collect();
            let weight: f64 = buckets.iter().map(|(w, _)| w).sum();
            if weight <= 0.0 {
                continue;
            }
            let mean = buckets.iter().map(|(w, x)| w * x).sum::<f64>() / weight;
            let variance = buckets
                .iter()
                .map(|(w, x)| w * (x - mean).powi(2))
                .sum::<f64>()
                / weight;
            let share = (sums.all > 0.0)
                .then(|| ((sums.open / sums.all).clamp(0.0, 1.0) * 1e4).round() / 1e4);
            out.insert(
                (team.clone(), *h),
                Figures {
                    share,
                    mean,
                    variance,
                    buckets: weight * weight / buckets.iter().map(|(w, _)| w * w).sum::<f64>(),
                },
            );
        }
        out
    }

    /// Per team (and the company) and horizon: [`PIPELINE_SHARE`], the
    /// share (0 to 1, rounded to 10⁻⁴) of the bookings that deals open on
    /// the snapshots made (null where nothing was booked);
    /// [`NOT_YET_IN_PIPELINE`], what the other deals booked there per
    /// snapshot on average, and [`NOT_YET_IN_PIPELINE_SD`], how far what
    /// they book in one bucket is from that (both rounded to cents).
    ///
    /// Snapshots of one bucket forecast the same bucket's new deals, so
    /// the spread is read between buckets: each bucket's weighted mean
    /// around the overall mean, weighted by the bucket's snapshots, over
    /// n = (ΣW)² / ΣW² effective buckets, the variance corrected by
    /// n / (n − 1). A horizon fewer than [`MIN_BUCKETS`] but at least two
    /// effective buckets saw end takes the relative spread of all teams
    /// pooled (Σ variance / Σ mean², corrected alike); fewer than two, the
    /// relative spread of the team's nearest shorter horizon, or one as
    /// large as its mean: one bucket says what new deals booked, not how
    /// much that varies.
    pub(crate) fn table(&self) -> PolarsResult<DataFrame> {
        let figures = self.figures();
        // Per horizon over the teams (not the company): Σ variance and
        // Σ mean², for the pooled relative spread.
        let mut pooled: BTreeMap<i32, [f64; 2]> = BTreeMap::new();
        for ((team, h), f) in &figures {
            if team != COMPANY {
                let sums = pooled.entry(*h).or_default();
                sums[0] += f.variance;
                sums[1] += f.mean * f.mean;
            }
        }
        let (mut teams, mut horizons, mut shares) = (Vec::new(), Vec::new(), Vec::new());
        let (mut means, mut sds) = (Vec::new(), Vec::new());
        let cents = |v: f64| (v * 100.0).round() / 100.0;
        let unbiased = |variance: f64, n: f64| variance * n / (n - 1.0);
        // The relative spread of the team's last horizon with enough
        // buckets (horizons come in order within a team).
        let mut spread: Option<(String, f64)> = None;
        for ((team, h), f) in &figures {
            let relative = if f.buckets >= MIN_BUCKETS {
                Some(unbiased(f.variance, f.buckets).sqrt() / f.mean)
            } else if f.buckets >= 2.0 {
                pooled
                    .get(h)
                    .filter(|[_, squares]| *squares > 0.0)
                    .map(|[variance, squares]| (unbiased(*variance, f.buckets) / squares).sqrt())
            } else {
                None
            }
            .filter(|r| r.is_finite());
            let sd = match (relative, &spread) {
                (Some(r), _) => f.mean * r,
                (None, Some((t, r))) if t == team => f.mean * r,
                _ => f.mean,
            };
            if let Some(r) = relative {
                spread = Some((team.clone(), r));
            }
            teams.push(team.clone());
            horizons.push(*h);
            shares.push(f.share);
            means.push(cents(f.mean));
            sds.push(cents(sd));
        }
        DataFrame::new(
            teams.len(),
            vec![
                Column::new(col::TEAM.into(), teams),
                Column::new(HORIZON.into(), horizons),
                Column::new(PIPELINE_SHARE.into(), shares),
                Column::new(NOT_YET_IN_PIPELINE.into(), means),
                Column::new(NOT_YET_IN_PIPELINE_SD.into(), sds),
            ],
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn bookings(rows: &[(&str, i32, f64)]) -> DataFrame {
        DataFrame::new(
            rows.len(),
            vec![
                Column::new(
                    col::TEAM.into(),
                    rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                ),
                Column::new(HORIZON.into(), rows.iter().map(|r| r.1).collect::<Vec<_>>()),
                Column::new(
                    REALISED.into(),
                    rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                ),
            ],
        )
        .unwrap()
    }

    /// The table's figure in `column` for `team` and `horizon`.
    fn figure(table: &DataFrame, column: &str, team: &str, horizon: i32) -> Option<f64> {
        let teams = table.column(col::TEAM).unwrap().str().unwrap();
        let horizons = table.column(HORIZON).unwrap().i32().unwrap();
        let values = table.column(column).unwrap().f64().unwrap();
        (0..table.height())
            .find(|&i| teams.get(i) == Some(team) && horizons.get(i) == Some(horizon))
            .and_then(|i| values.get(i))
    }

    /// New deals of a day whose team wins 1.5 times as often today count
    /// 1.5 times what they booked then; what the open deals booked does
    /// not move, nor does a team without an index.
    #[test]
    fn what_new_deals_booked_is_scaled_by_the_team_s_conversion_since() {
        let mut tally = Tally::default();
        tally.add_open("a", 0, 10.0);
        tally.add_open("b", 0, 10.0);
        tally
            .add_all(&bookings(&[("a", 0, 30.0), ("b", 0, 30.0)]))
            .unwrap();
        let index = BTreeMap::from([("a".to_owned(), 1.5)]);
        tally.end_snapshot(day(1), 1.0, 1, &index);
        let table = tally.table().unwrap();
        let new = |team| figure(&table, NOT_YET_IN_PIPELINE, team, 0).unwrap();
        assert!((new("a") - 30.0).abs() < 1e-9, "{}", new("a"));
        assert!((new("b") - 20.0).abs() < 1e-9, "{}", new("b"));
        assert!((new(COMPANY) - 50.0).abs() < 1e-9, "{}", new(COMPANY));
        let share = figure(&table, PIPELINE_SHARE, "a", 0).unwrap();
        assert!((share - 10.0 / 40.0).abs() < 1e-9, "{share}");
    }

    #[test]
    fn the_share_and_what_new_deals_booked_are_weighted_by_snapshot_per_team() {
        let mut tally = Tally::default();
        // A snapshot that counts three times another. On the first, team
        // a's open deals made 80 of 100 in the current quarter and 10 of
        // 100 in the next; team b's open deals booked nothing, new ones
        // 50 in the next quarter.
        tally.add_open("a", 0, 80.0);
        tally.add_open("a", 1, 10.0);
        tally
            .add_all(&bookings(&[
                ("a", 0, 100.0),
                ("a", 1, 100.0),
                ("b", 1, 50.0),
            ]))
            .unwrap();
        tally.end_snapshot(day(1), 3.0, 2, &BTreeMap::new());
        // On the other, a's open deals made 40 of 100 and 10 of 50; b's
        // nothing at all.
        tally.add_open("a", 0, 40.0);
        tally.add_open("a", 1, 10.0);
        tally
            .add_all(&bookings(&[("a", 0, 100.0), ("a", 1, 50.0)]))
            .unwrap();
        tally.end_snapshot(day(4), 1.0, 2, &BTreeMap::new());
        let table = tally.table().unwrap();
        let share = |team, h| figure(&table, PIPELINE_SHARE, team, h).unwrap();
        assert!((share("a", 0) - 0.7).abs() < 1e-9);
        assert!((share("a", 1) - 40.0 / 350.0).abs() < 1e-4);
        assert!((share(COMPANY, 1) - 40.0 / 500.0).abs() < 1e-4);
        // a's new deals booked 20 and 60 in the current quarter (weights
        // 3 and 1: 30 a snapshot on average), 90 and 40 in the next
        // (77.5); b's 50 and 0 in the next (37.5); the company's the sum.
        let new = |team, h| figure(&table, NOT_YET_IN_PIPELINE, team, h).unwrap();
        assert!((new("a", 0) - 30.0).abs() < 1e-9);
        assert!((new("a", 1) - 77.5).abs() < 1e-9);
        assert!((new("b", 1) - 37.5).abs() < 1e-9);
        assert!((new(COMPANY, 1) - 115.0).abs() < 1e-9);
        // Two buckets weighted 3 and 1 are 1.6 effective ones: too few to
        // say how much new deals vary, so the spread is as large as the
        // mean.
        let sd = figure(&table, NOT_YET_IN_PIPELINE_SD, "a", 0).unwrap();
        assert!((sd - 30.0).abs() < 0.01, "{sd}");
        // A team that booked nothing has no share.
        assert_eq!(figure(&table, PIPELINE_SHARE, "b", 0), None);
    }

    /// The first day of month `m` of 2026.
    fn day(m: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, 1).unwrap()
    }

    #[test]
    fn the_spread_of_new_deals_is_read_between_buckets_where_enough_saw_them() {
        let spread = |snapshots: &[(u32, f64)]| {
            let mut tally = Tally::default();
            // Equal snapshots; the first also saw the next bucket end
            // (new deals 100 there).
            for (k, (month, new)) in snapshots.iter().enumerate() {
                let mut rows = vec![("a", 0, *new)];
                if k == 0 {
                    rows.push(("a", 1, 100.0));
                }
                tally.add_all(&bookings(&rows)).unwrap();
                tally.end_snapshot(
                    day(*month),
                    1.0,
                    if k == 0 { 2 } else { 1 },
                    &BTreeMap::new(),
                );
            }
            let table = tally.table().unwrap();
            let sd = |h| figure(&table, NOT_YET_IN_PIPELINE_SD, "a", h).unwrap();
            (sd(0), sd(1))
        };
        // Four buckets whose new deals booked 20, 40, 60 and 80 (mean 50,
        // variance 500, 4/3 of it unbiased).
        let (now, next) = spread(&[(1, 20.0), (4, 40.0), (7, 60.0), (10, 80.0)]);
        let expected = (500.0f64 * 4.0 / 3.0).sqrt();
        assert!((now - expected).abs() < 0.01, "{now}");
        // The next bucket, seen end once, takes the current one's
        // relative spread.
        assert!((next - 100.0 * expected / 50.0).abs() < 0.01, "{next}");
        // The same four snapshots taken two by two in two buckets are two
        // buckets' worth (means 30 and 70): the teams' pooled spread, here
        // the one team's, variance 400, twice that unbiased.
        let (now, _) = spread(&[(1, 20.0), (1, 40.0), (4, 60.0), (4, 80.0)]);
        assert!((now - 800f64.sqrt()).abs() < 0.01, "{now}");
    }
}
