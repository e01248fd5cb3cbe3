//! Calendar factors: per team and horizon (the bucket holding the
//! forecast date is 0, the next 1, ...), what the deals open on past
//! snapshots booked in that bucket over what the corrected forecast, team
//! factor and slippage applied, said they would. They carry what the
//! deal-level model misses about timing: a quarter-end push, deals further
//! out slipping more, the part of a bucket already gone by the forecast
//! date. This is the planner's pipeline-to-booking ratio per horizon,
//! learned on top of the deal-level model instead of in its place.
//!
//! Snapshots count by how near their place in their bucket is to the
//! forecast date's (a snapshot in the second week of a quarter teaches the
//! second week of a quarter most). The company's factor is shrunk
//! towards 1, and a team's towards the company's, by the (weighted)
//! number of deals forecast in that horizon (z = n / (n +
//! [`SHRINK_DEALS`])); horizons the
//! history cannot have seen complete (their bucket ends after the forecast
//! date) get no factor, and the forecast leaves them as they are.
use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_pipeline::columns as col;

use crate::{
    ForecastError, ForecastSpec,
    accuracy::{COMPANY, REALISED},
    corrected::{IF_WON, PROBABILITY, SHARE, expected_rows},
    weighted::{BUCKET, IS_OPEN, prepared},
};

pub const HORIZON: &str = crate::baselines::HORIZON;
pub const DEALS: &str = "deals";
pub const FORECAST: &str = "forecast";
pub const RATIO: &str = "ratio";
pub const CALENDAR_FACTOR: &str = "calendar_factor";
/// Deals at which a team's own ratio gets half the weight.
pub const SHRINK_DEALS: f64 = 200.0;
/// The width of the kernel on the place in the bucket (share of it gone).
pub const POSITION_WIDTH: f64 = 0.2;
/// The least weight a snapshot at another place in its bucket keeps.
pub const POSITION_FLOOR: f64 = 0.05;
/// Sums are rounded to cents before they are divided: the same history
/// gives the same factors to the bit, whatever order the rows were summed
/// in (a plan's id hashes the values they scale).
const CENTS: u32 = 2;
/// Factors are kept within these bounds.
const BOUNDS: (f64, f64) = (0.25, 4.0);

/// How much a snapshot taken on `day` counts for a forecast made on
/// `as_of`: by how near their places in their buckets are (the share of
/// the bucket gone by), a Gaussian kernel of width [`POSITION_WIDTH`],
/// never below [`POSITION_FLOOR`].
fn position_weight(bucket: crate::Bucket, day: NaiveDate, as_of: NaiveDate) -> f64 {
    let place = |d: NaiveDate| {
        let start = bucket.start_of(d);
        let length = (bucket.next(start) - start).num_days().max(1) as f64;
        (d - start).num_days() as f64 / length
    };
    let distance = (place(day) - place(as_of)) / POSITION_WIDTH;
    (-distance * distance).exp().max(POSITION_FLOOR)
}

/// The horizon of each row's `bucket` from the bucket holding `as_of`.
pub(crate) fn horizon_of(spec: &ForecastSpec) -> Expr {
    let start = lit(spec.bucket.start_of(spec.as_of)).cast(DataType::Date);
    (spec.bucket.index(col(BUCKET)) - spec.bucket.index(start)).alias(HORIZON)
}

/// Learns the factors from the past snapshots on `used` (their deals'
/// outcomes in `decided`, known on `spec.as_of`), with `spec`'s win rates
/// and correction (whose own calendar is left out).
pub(crate) fn learn_calendar(
    snapshots: &LazyFrame,
    decided: LazyFrame,
    spec: &ForecastSpec,
    used: &[NaiveDate],
) -> Result<DataFrame, ForecastError> {
    let mut per_date = Vec::with_capacity(used.len());
    for &day in used {
        let mut then = spec.clone();
        then.as_of = day;
        if let Some(c) = then.correction.as_mut() {
            c.calendar = DataFrame::empty();
        }
        // Only horizons whose bucket had ended by the forecast date.
        let mut complete = 0i32;
        let mut end = spec.bucket.next(spec.bucket.start_of(day));
        while end <= spec.as_of {
            complete += 1;
            end = spec.bucket.next(end);
        }
        if complete == 0 {
            continue;
        }
        let weight = lit(position_weight(spec.bucket, day, spec.as_of));
        let taken = crate::accuracy::taken_on(snapshots, day);
        let (lines, _) = prepared(taken, &then)?;
        let open = lines.filter(col(IS_OPEN)).collect()?.lazy();
        let forecast = expected_rows(open.clone(), &then)?
            .with_column(horizon_of(&then))
            .filter(col(HORIZON).lt(lit(complete)))
            .group_by([col(col::TEAM), col(HORIZON)])
            .agg([
                crate::exact_sum(col(PROBABILITY) * col(IF_WON) * col(SHARE))
                    .round(CENTS, RoundMode::HalfToEven)
                    .alias(FORECAST),
                col(col::OPPORTUNITY_ID)
                    .n_unique()
                    .cast(DataType::Float64)
                    .alias(DEALS),
            ]);
        let start = lit(spec.bucket.start_of(day)).cast(DataType::Date);
        let booked = open
            .group_by([col(col::OPPORTUNITY_ID)])
            .agg([col(col::TEAM).first()])
            .join(
                decided.clone().filter(col("__won")),
                [col(col::OPPORTUNITY_ID)],
                [col(col::OPPORTUNITY_ID)],
                JoinArgs::new(JoinType::Inner),
            )
            .select([
                col(col::TEAM),
                (spec
                    .bucket
                    .index(col(col::CLOSED).dt().truncate(lit(spec.bucket.every())))
                    - spec.bucket.index(start))
                .alias(HORIZON),
                col(REALISED),
            ])
            .filter(
                col(HORIZON)
                    .gt_eq(lit(0))
                    .and(col(HORIZON).lt(lit(complete))),
            )
            .group_by([col(col::TEAM), col(HORIZON)])
            .agg([crate::exact_sum(col(REALISED)).round(CENTS, RoundMode::HalfToEven)]);
        let keys = [col(col::TEAM), col(HORIZON)];
        per_date.push(
            forecast
                .join(
                    booked,
                    keys.clone(),
                    keys,
                    JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
                )
                .with_columns([
                    col(FORECAST).fill_null(lit(0.0)) * weight.clone(),
                    col(REALISED).fill_null(lit(0.0)) * weight.clone(),
                    col(DEALS).fill_null(lit(0.0)) * weight,
                ]),
        );
    }
    // Summed in Rust, date by date in order: the same history gives the
    // same factors to the bit (a plan's id hashes the values they scale).
    let mut sums: BTreeMap<(String, i32), [f64; 3]> = BTreeMap::new();
    for frame in crate::collect_together(per_date)? {
        let teams = frame.column(col::TEAM)?.str()?.clone();
        let horizons = frame.column(HORIZON)?.cast(&DataType::Int32)?;
        let horizons = horizons.i32()?;
        let figures = [DEALS, FORECAST, REALISED]
            .map(|name| frame.column(name).and_then(|c| c.f64().cloned()));
        let [deals, forecast, realised] = figures;
        let (deals, forecast, realised) = (deals?, forecast?, realised?);
        for row in 0..frame.height() {
            let key = (
                teams.get(row).unwrap_or("").to_owned(),
                horizons.get(row).unwrap_or(0),
            );
            let figures =
                [deals.get(row), forecast.get(row), realised.get(row)].map(|v| v.unwrap_or(0.0));
            for company in [false, true] {
                let key = if company {
                    (COMPANY.to_owned(), key.1)
                } else {
                    key.clone()
                };
                let sum = sums.entry(key).or_insert([0.0; 3]);
                for (s, v) in sum.iter_mut().zip(figures) {
                    *s += v;
                }
            }
        }
    }
    Ok(factors(&sums)?)
}

/// The table of [`learn_calendar`] from the summed deals, forecast and
/// realised per team (and `*`) and horizon.
fn factors(sums: &BTreeMap<(String, i32), [f64; 3]>) -> PolarsResult<DataFrame> {
    let shrink = |n: f64| n / (n + SHRINK_DEALS);
    let ratio = |s: &[f64; 3]| if s[1] > 0.0 { s[2] / s[1] } else { 1.0 };
    // The company's ratio shrunk towards 1, for teams to shrink towards.
    let company = |h: i32| {
        sums.get(&(COMPANY.to_owned(), h)).map_or(1.0, |s| {
            let z = shrink(s[0]);
            z * ratio(s) + (1.0 - z)
        })
    };
    let mut rows: Vec<(&str, i32, [f64; 3], f64)> = Vec::new();
    for ((team, h), s) in sums.iter().filter(|(_, s)| s[1] > 0.0) {
        let factor = if team == COMPANY {
            company(*h)
        } else {
            let z = shrink(s[0]);
            z * ratio(s) + (1.0 - z) * company(*h)
        };
        let factor = if factor.is_finite() {
            factor.clamp(BOUNDS.0, BOUNDS.1)
        } else {
            1.0
        };
        rows.push((team, *h, *s, factor));
    }
    let figure = |i: usize| -> Vec<f64> { rows.iter().map(|r| r.2[i]).collect() };
    DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                col::TEAM.into(),
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            ),
            Column::new(HORIZON.into(), rows.iter().map(|r| r.1).collect::<Vec<_>>()),
            Column::new(
                DEALS.into(),
                rows.iter()
                    .map(|r| r.2[0].round() as u64)
                    .collect::<Vec<_>>(),
            ),
            Column::new(FORECAST.into(), figure(1)),
            Column::new(REALISED.into(), figure(2)),
            Column::new(
                RATIO.into(),
                rows.iter().map(|r| ratio(&r.2)).collect::<Vec<_>>(),
            ),
            Column::new(
                CALENDAR_FACTOR.into(),
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            ),
        ],
    )
}
