//! The forecasts a planner would make without quotecast, from the same
//! files, for the backtest to beat:
//!
//! * `pipeline_ratio`: per team and horizon (the bucket holding the date,
//!   the next one, ...), what the deals open on past snapshots booked in
//!   that bucket per unit of the amount they were expected to close there,
//!   times the amount open today; teams without history take the
//!   company's ratio;
//! * `same_point_of_quarter`: the same ratio from the past snapshots taken
//!   within two weeks of the same day of their quarter (all of them when
//!   none is);
//! * `last_year`: what the deals open on the snapshot nearest a year back
//!   (within three weeks) booked in the corresponding buckets; the
//!   pipeline ratio where there is no such snapshot.
//!
//! Like the models, a baseline made on day `d` learns only from snapshots
//! `maturity_days` older and outcomes known on `d`; and like the backtest's
//! actuals, it counts only deals open on the snapshot dates. Each also
//! comes counting everything booked after the past snapshots, new deals
//! too ([`BASELINES_ALL`]: a sales leader's spreadsheet of bookings over
//! pipeline), scored against everything booked after `d` beside the
//! forecast with new deals.
use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_model::FiscalYear;
use quotecast_pipeline::columns as col;

use crate::{
    Bucket, ForecastError, ForecastSpec,
    columns::{BUCKET, CELL_FORECAST, HORIZON, IS_OPEN, IS_WON, REALISED, VALUE},
    frames::{PastSnapshots, collect_together, date_list, fixed_sum},
    prepare::prepared,
};

pub const BASELINES: [&str; 3] = ["pipeline_ratio", "same_point_of_quarter", "last_year"];
/// [`BASELINES`] counting every booking after the past snapshots, and
/// `last_bucket_all`: per team, what the bucket before the date's booked
/// (for the rest of the date's own bucket: what the bucket before booked
/// after the same point of it), the planner's "next quarter like the last".
pub const BASELINES_ALL: [&str; 4] = [
    "pipeline_ratio_all",
    "same_point_of_quarter_all",
    "last_year_all",
    "last_bucket_all",
];
const OPEN_VALUE: &str = "__open_value";
pub(crate) const BOOKED: &str = "__booked";
const SNAPSHOT_DATE: &str = col::SNAPSHOT_DATE;
const SAME_POINT_DAYS: i64 = 14;
const LAST_YEAR_DAYS: i64 = 364;
const LAST_YEAR_WITHIN_DAYS: i64 = 21;

/// What each past snapshot's open deals were expected to close and what
/// they booked, per team and horizon.
pub(crate) struct SnapshotBookings {
    /// `snapshot_date, team, horizon, __open_value`.
    open: DataFrame,
    /// `snapshot_date, team, horizon, closed, __booked` (won deals).
    booked: DataFrame,
    /// The same for every deal won after the snapshot date.
    all_booked: DataFrame,
    /// Every deal won: `team, closed, __booked`.
    won: DataFrame,
    dates: Vec<NaiveDate>,
    bucket: Bucket,
    fiscal_year: FiscalYear,
}

/// Gathers [`SnapshotBookings`] from every snapshot on `dates`, with
/// `known` outcomes (see `accuracy::decided`).
pub(crate) fn snapshot_bookings(
    snapshots: &PastSnapshots,
    known: LazyFrame,
    spec: &ForecastSpec,
    dates: &[NaiveDate],
) -> Result<SnapshotBookings, ForecastError> {
    let mut open = Vec::with_capacity(dates.len());
    let mut all_booked = Vec::with_capacity(dates.len());
    for &day in dates {
        let mut then = spec.clone();
        then.as_of = day;
        then.correction = None;
        let taken = snapshots.taken_on(day);
        let (lines, _) = prepared(taken, &then)?;
        let start = lit(spec.bucket_start(day)).cast(DataType::Date);
        open.push(
            lines
                .filter(col(IS_OPEN))
                .select([
                    col(col::OPPORTUNITY_ID),
                    col(col::TEAM),
                    (spec.bucket_index(col(BUCKET)) - spec.bucket_index(start.clone()))
                        .alias(HORIZON),
                    col(VALUE),
                    start.alias("__start"),
                ])
                .with_column(lit(day).cast(DataType::Date).alias(SNAPSHOT_DATE)),
        );
        all_booked.push(booked_after(known.clone(), spec, day));
    }
    // Collected date by date: shallow plans, each snapshot prepared once.
    let deals = concat(
        collect_together(open)?
            .into_iter()
            .map(|f| f.lazy())
            .collect::<Vec<_>>(),
        UnionArgs::default(),
    )?;
    let per_team = deals
        .clone()
        .group_by([col(SNAPSHOT_DATE), col(col::TEAM), col(HORIZON)])
        .agg([fixed_sum(col(VALUE)).alias(OPEN_VALUE)]);
    let booked = deals
        .group_by([col(SNAPSHOT_DATE), col(col::OPPORTUNITY_ID)])
        .agg([col(col::TEAM).first(), col("__start").first()])
        .join(
            known.clone().filter(col(IS_WON)),
            [col(col::OPPORTUNITY_ID)],
            [col(col::OPPORTUNITY_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .select([
            col(SNAPSHOT_DATE),
            col(col::TEAM),
            (spec.bucket_index(col(col::CLOSED)) - spec.bucket_index(col("__start")))
                .alias(HORIZON),
            col(col::CLOSED),
            col(REALISED).alias(BOOKED),
        ]);
    let all_booked = concat(all_booked, UnionArgs::default())?;
    let won = known.filter(col(IS_WON)).select([
        col(col::TEAM),
        col(col::CLOSED),
        col(REALISED).alias(BOOKED),
    ]);
    let mut frames = collect_together(vec![per_team, booked, all_booked, won])?;
    let won = frames.pop().unwrap_or_default();
    let all_booked = frames.pop().unwrap_or_default();
    let booked = frames.pop().unwrap_or_default();
    let open = frames.pop().unwrap_or_default();
    Ok(SnapshotBookings {
        open,
        booked,
        all_booked,
        won,
        dates: dates.to_vec(),
        bucket: spec.bucket,
        fiscal_year: spec.fiscal_year,
    })
}

/// Every deal of `known` won after `day`: `snapshot_date` (the day),
/// `team`, `horizon` (0 the bucket holding the day), `closed`, `__booked`.
fn booked_after(known: LazyFrame, spec: &ForecastSpec, day: NaiveDate) -> LazyFrame {
    let (bucket, year) = (spec.bucket, spec.fiscal_year);
    let start = lit(bucket.start_of(day, year)).cast(DataType::Date);
    known
        .filter(col(IS_WON).and(col(col::CLOSED).gt(lit(day).cast(DataType::Date))))
        .select([
            lit(day).cast(DataType::Date).alias(SNAPSHOT_DATE),
            col(col::TEAM),
            (bucket.index(col(col::CLOSED), year) - bucket.index(start, year)).alias(HORIZON),
            col(col::CLOSED),
            col(REALISED).alias(BOOKED),
        ])
}

fn in_dates(dates: &[NaiveDate]) -> Expr {
    col(SNAPSHOT_DATE).is_in(date_list(dates), false)
}

impl SnapshotBookings {
    /// Per team and horizon: `booked` over open value on the `learn`
    /// dates, counting bookings known on `day`.
    fn ratios(&self, booked: &DataFrame, learn: &[NaiveDate], day: NaiveDate) -> LazyFrame {
        let open = self
            .open
            .clone()
            .lazy()
            .filter(in_dates(learn))
            .group_by([col(col::TEAM), col(HORIZON)])
            .agg([fixed_sum(col(OPEN_VALUE))]);
        let booked = booked
            .clone()
            .lazy()
            .filter(in_dates(learn).and(col(col::CLOSED).lt_eq(lit(day).cast(DataType::Date))))
            .group_by([col(col::TEAM), col(HORIZON)])
            .agg([fixed_sum(col(BOOKED))]);
        let keys = [col(col::TEAM), col(HORIZON)];
        let team = open.join(booked, keys.clone(), keys, JoinArgs::new(JoinType::Left));
        let company = team
            .clone()
            .group_by([col(HORIZON)])
            .agg([(fixed_sum(col(BOOKED)) / fixed_sum(col(OPEN_VALUE))).alias("__company_ratio")]);
        team.join(
            company,
            [col(HORIZON)],
            [col(HORIZON)],
            JoinArgs::new(JoinType::Left),
        )
        .select([
            col(col::TEAM),
            col(HORIZON),
            (col(BOOKED).fill_null(lit(0.0)) / col(OPEN_VALUE)).alias("__ratio"),
            col("__company_ratio"),
        ])
    }

    /// The amount open on `day` per team and horizon, times `ratios`.
    fn times_open(&self, ratios: LazyFrame, day: NaiveDate) -> LazyFrame {
        let keys = [col(col::TEAM), col(HORIZON)];
        let company = ratios
            .clone()
            .group_by([col(HORIZON)])
            .agg([col("__company_ratio").first()]);
        self.open
            .clone()
            .lazy()
            .filter(col(SNAPSHOT_DATE).eq(lit(day).cast(DataType::Date)))
            .join(
                ratios.select([col(col::TEAM), col(HORIZON), col("__ratio")]),
                keys.clone(),
                keys,
                JoinArgs::new(JoinType::Left),
            )
            .join(
                company,
                [col(HORIZON)],
                [col(HORIZON)],
                JoinArgs::new(JoinType::Left),
            )
            .select([
                col(col::TEAM),
                col(HORIZON),
                (col(OPEN_VALUE)
                    * col("__ratio")
                        .fill_null(col("__company_ratio"))
                        .fill_null(lit(0.0)))
                .alias(CELL_FORECAST),
            ])
    }

    /// The three baselines made on `day` from snapshots `maturity_days`
    /// older: `team, horizon, __cell_forecast` per baseline, in
    /// [`BASELINES`] order; counting every booking after the past
    /// snapshots when `all` ([`BASELINES_ALL`]).
    pub(crate) fn forecasts(
        &self,
        day: NaiveDate,
        maturity_days: u32,
        all: bool,
        horizons: u32,
    ) -> PolarsResult<Vec<LazyFrame>> {
        let booked = if all { &self.all_booked } else { &self.booked };
        let cutoff = day - chrono::TimeDelta::days(i64::from(maturity_days));
        let learn: Vec<NaiveDate> = self
            .dates
            .iter()
            .copied()
            .filter(|d| *d <= cutoff)
            .collect();
        let point = Bucket::Quarter.days_into(day, self.fiscal_year);
        let same_point: Vec<NaiveDate> = learn
            .iter()
            .copied()
            .filter(|d| {
                (Bucket::Quarter.days_into(*d, self.fiscal_year) - point).abs() <= SAME_POINT_DAYS
            })
            .collect();
        let same_point = if same_point.is_empty() {
            learn.clone()
        } else {
            same_point
        };
        let ratio = self.times_open(self.ratios(booked, &learn, day), day);
        let at_same_point = self.times_open(self.ratios(booked, &same_point, day), day);
        let year_back = day - chrono::TimeDelta::days(LAST_YEAR_DAYS);
        let last_year = learn
            .iter()
            .copied()
            .filter(|d| (*d - year_back).num_days().abs() <= LAST_YEAR_WITHIN_DAYS)
            .min_by_key(|d| (*d - year_back).num_days().abs());
        let last_year = match last_year {
            Some(then) => booked
                .clone()
                .lazy()
                .filter(
                    col(SNAPSHOT_DATE)
                        .eq(lit(then).cast(DataType::Date))
                        .and(col(col::CLOSED).lt_eq(lit(day).cast(DataType::Date))),
                )
                .group_by([col(col::TEAM), col(HORIZON)])
                .agg([fixed_sum(col(BOOKED)).alias(CELL_FORECAST)]),
            None => ratio.clone(),
        };
        let mut forecasts = vec![ratio, at_same_point, last_year];
        if all {
            forecasts.push(self.last_bucket(day, horizons)?);
        }
        Ok(forecasts)
    }

    /// `last_bucket_all` made on `day` over `horizons` buckets (see
    /// [`BASELINES_ALL`]).
    fn last_bucket(&self, day: NaiveDate, horizons: u32) -> PolarsResult<LazyFrame> {
        let start = self.bucket.start_of(day, self.fiscal_year);
        let before = start - chrono::Days::new(1);
        let previous = self.bucket.start_of(before, self.fiscal_year);
        let same_point = (previous + (day - start)).min(before);
        let booked_from = |from: NaiveDate, after: bool| {
            let from = lit(from).cast(DataType::Date);
            let from = if after {
                col(col::CLOSED).gt(from)
            } else {
                col(col::CLOSED).gt_eq(from)
            };
            self.won
                .clone()
                .lazy()
                .filter(from.and(col(col::CLOSED).lt(lit(start).cast(DataType::Date))))
                .group_by([col(col::TEAM)])
                .agg([fixed_sum(col(BOOKED)).alias(CELL_FORECAST)])
        };
        let mut parts = vec![booked_from(same_point, true).with_column(lit(0i32).alias(HORIZON))];
        for h in 1..horizons.max(1) as i32 {
            parts.push(booked_from(previous, false).with_column(lit(h).alias(HORIZON)));
        }
        Ok(concat(parts, UnionArgs::default())?.select([
            col(col::TEAM),
            col(HORIZON),
            col(CELL_FORECAST),
        ]))
    }

    /// Every deal won after each snapshot date (new deals too): what the
    /// backtest scores the forecasts of all bookings against.
    pub(crate) fn all_booked(&self) -> LazyFrame {
        self.all_booked.clone().lazy()
    }

    pub(crate) fn bucket(&self) -> Bucket {
        self.bucket
    }
}
