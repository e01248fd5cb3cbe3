//! Deals not yet in the pipeline. The corrected forecast counts the deals
//! of today's snapshot and what is already won; deals created later and
//! won in the same bucket are not in it, and on past snapshots they made
//! a tenth to a quarter of the rest of the current quarter's bookings and
//! most of the next quarter's (see [`crate::pipeline_share`]). Per team
//! and horizon the calendar learns what they booked after a past
//! snapshot on average and how much that varied
//! ([`NOT_YET_IN_PIPELINE`], [`NOT_YET_IN_PIPELINE_SD`]); the forecast
//! adds that as [`NEW_DEALS`] beside the corrected figure, and
//! [`EXPECTED_BOOKINGS`] is the two together.
//!
//! A team's new deals are spread over the result's groups (regions,
//! owners, SKUs, ...) as its expected bookings in today's forecast are,
//! over all buckets: a new deal is taken to look like the team's current
//! business. A team with nothing open or won in the snapshot has no such
//! mix, and its new deals are left out. The units they buy per SKU
//! ([`NEW_DEAL_QUANTITY`]) are the team's won deals' units per unit of
//! what they booked (its open deals' expected units per unit of expected
//! value where none is won yet).
//!
//! The Monte Carlo draws each team's new deals in a bucket once per trial
//! from a gamma distribution with that mean and standard deviation (they
//! are never negative and skew to the right as bookings do), spread over
//! the groups by the same mix; the variation learned from history already
//! holds the team's and the bucket's shocks, so none is applied on top.
use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_pipeline::columns as col;

use crate::{
    ForecastSpec,
    columns::{BUCKET, COMPANY, CORRECTED, HORIZON, IF_WON, IS_WON, PROBABILITY, SHARE, VALUE},
    frames::fixed_sum,
    pipeline_share::{NOT_YET_IN_PIPELINE, NOT_YET_IN_PIPELINE_SD},
};

/// Result column: what deals not yet in the pipeline are expected to
/// book in the bucket (reporting currency).
pub const NEW_DEALS: &str = "new_deals";
/// Result column: the corrected forecast plus [`NEW_DEALS`].
pub const EXPECTED_BOOKINGS: &str = "expected_bookings";
/// Quantities' column: the units of a SKU deals not yet in the pipeline
/// are expected to buy in the bucket.
pub const NEW_DEAL_QUANTITY: &str = "new_deal_quantity";
/// A piece's share of its team's new deals in its bucket.
pub(crate) const MIX: &str = "__mix";
/// A piece's team's new deals in its bucket: mean and standard deviation.
pub(crate) const TEAM_MEAN: &str = "__team_mean";
pub(crate) const TEAM_SD: &str = "__team_sd";
const TEAM_VALUE: &str = "__team_value";

/// What deals not yet in the pipeline are expected to book in one
/// team's bucket, in the reporting currency: the calendar's figures for
/// the bucket's horizon.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamNewDeals {
    pub team: String,
    /// The bucket: its first day, the first day after it, and its
    /// horizon (0 the bucket holding the forecast date).
    pub starts: NaiveDate,
    pub ends: NaiveDate,
    pub horizon: i32,
    pub mean: f64,
    pub sd: f64,
}

/// The table new deals are read from: the correction's calendar, else
/// what the history's stage entries taught (see [`crate::first_seen`]).
fn learned(spec: &ForecastSpec) -> Option<&DataFrame> {
    match &spec.correction {
        Some(correction) => Some(&correction.calendar),
        None => spec.new_deal_history.as_ref(),
    }
}

/// Every team's and bucket's new deals with a mean above zero (see
/// [`TeamNewDeals`]); empty without a calendar or stage entries to learn
/// them from.
pub fn new_deals_by_team(spec: &ForecastSpec) -> Vec<TeamNewDeals> {
    let read = || -> Option<Vec<TeamNewDeals>> {
        let calendar = learned(spec)?;
        let teams = calendar.column(col::TEAM).ok()?.str().ok()?;
        let horizons = calendar.column(HORIZON).ok()?.i32().ok()?;
        let means = calendar.column(NOT_YET_IN_PIPELINE).ok()?.f64().ok()?;
        let sds = calendar.column(NOT_YET_IN_PIPELINE_SD).ok()?.f64().ok()?;
        let mut out = Vec::new();
        for i in 0..calendar.height() {
            let (Some(team), Some(horizon), Some(mean)) =
                (teams.get(i), horizons.get(i), means.get(i))
            else {
                continue;
            };
            if team == COMPANY || mean <= 0.0 || horizon < 0 {
                continue;
            }
            let starts = bucket_at(spec, horizon);
            out.push(TeamNewDeals {
                team: team.to_owned(),
                starts,
                ends: spec.bucket.next(starts),
                horizon,
                mean,
                sd: sds.get(i).unwrap_or(0.0),
            });
        }
        Some(out)
    };
    read().unwrap_or_default()
}

/// Per team and bucket, what deals not yet in the pipeline are expected
/// to book there ([`TEAM_MEAN`], [`TEAM_SD`]). None when there are none.
fn by_team_and_bucket(spec: &ForecastSpec) -> Option<DataFrame> {
    let new = new_deals_by_team(spec);
    if new.is_empty() {
        return None;
    }
    DataFrame::new(
        new.len(),
        vec![
            Column::new(
                col::TEAM.into(),
                new.iter().map(|n| n.team.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                BUCKET.into(),
                new.iter()
                    .map(|n| quotecast_pipeline::epoch_days(n.starts))
                    .collect::<Vec<_>>(),
            )
            .cast(&DataType::Date)
            .ok()?,
            Column::new(
                TEAM_MEAN.into(),
                new.iter().map(|n| n.mean).collect::<Vec<_>>(),
            ),
            Column::new(TEAM_SD.into(), new.iter().map(|n| n.sd).collect::<Vec<_>>()),
        ],
    )
    .ok()
}

/// The first day of the bucket `horizon` buckets after the one holding
/// the forecast date.
fn bucket_at(spec: &ForecastSpec, horizon: i32) -> NaiveDate {
    let mut start = spec.bucket_start(spec.as_of);
    for _ in 0..horizon {
        start = spec.bucket.next(start);
    }
    start
}

/// The pieces the new deals are spread into: per team, bucket and the
/// result's group (the columns of `keys` after the bucket), the team's
/// [`TEAM_MEAN`] and [`TEAM_SD`] in the bucket and the group's [`MIX`]
/// of it: its share of the team's expected bookings in `rows` (see
/// [`crate::corrected::expected_rows`]) over all buckets. None when
/// there are no new deals to spread.
pub(crate) fn pieces(rows: LazyFrame, spec: &ForecastSpec) -> PolarsResult<Option<LazyFrame>> {
    let Some(teams) = by_team_and_bucket(spec) else {
        return Ok(None);
    };
    let mut by = vec![col(col::TEAM)];
    by.extend(
        spec.group_by
            .iter()
            .filter(|d| d.column() != col::TEAM)
            .map(|d| col(d.column())),
    );
    let mix = rows
        .group_by(by)
        .agg([fixed_sum(col(PROBABILITY) * col(IF_WON) * col(SHARE)).alias(TEAM_VALUE)])
        .filter(col(TEAM_VALUE).gt(lit(0.0)))
        .with_column((col(TEAM_VALUE) / col(TEAM_VALUE).sum().over([col(col::TEAM)])?).alias(MIX));
    Ok(Some(teams.lazy().join(
        mix,
        [col(col::TEAM)],
        [col(col::TEAM)],
        JoinArgs::new(JoinType::Inner),
    )))
}

/// `corrected` (per `keys`, with [`CORRECTED`]) with [`NEW_DEALS`], the
/// new deals' [`pieces`] of `rows` summed per key, and
/// [`EXPECTED_BOOKINGS`]; cells only new deals reach are added.
pub(crate) fn with_new_deals(
    corrected: LazyFrame,
    rows: LazyFrame,
    spec: &ForecastSpec,
    keys: &[Expr],
) -> PolarsResult<LazyFrame> {
    let with_total = |frame: LazyFrame| {
        frame.with_column((col(CORRECTED) + col(NEW_DEALS)).alias(EXPECTED_BOOKINGS))
    };
    let Some(pieces) = pieces(rows, spec)? else {
        return Ok(with_total(corrected.with_column(lit(0.0).alias(NEW_DEALS))));
    };
    let new = pieces
        .group_by(keys)
        .agg([fixed_sum(col(TEAM_MEAN) * col(MIX)).alias(NEW_DEALS)]);
    Ok(with_total(
        corrected
            .join(
                new,
                keys.to_vec(),
                keys.to_vec(),
                JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
            )
            .with_columns([
                col(CORRECTED).fill_null(lit(0.0)),
                col(NEW_DEALS).fill_null(lit(0.0)),
            ]),
    ))
}

/// Per bucket, group and SKU (`keys`, the bucket first), the units deals
/// not yet in the pipeline are expected to buy ([`NEW_DEAL_QUANTITY`],
/// rounded to 10⁻²): each team's new deals in the bucket times the units
/// of the SKU (in the group) it sold per unit of value (see [`per_value`]).
/// None without new deals.
pub(crate) fn new_deal_quantities(
    rows: LazyFrame,
    spec: &ForecastSpec,
    keys: &[Expr],
) -> PolarsResult<Option<LazyFrame>> {
    let Some(teams) = by_team_and_bucket(spec) else {
        return Ok(None);
    };
    // The team, the result's groups and the SKU (`keys` without the
    // bucket).
    let mut by: Vec<Expr> = Vec::new();
    let names = spec.group_by.iter().map(|d| d.column());
    for name in std::iter::once(col::TEAM).chain(names).chain([col::SKU]) {
        if !by.iter().any(|e| e == &col(name)) {
            by.push(col(name));
        }
    }
    Ok(Some(
        per_value(rows, by)
            .join(
                teams.lazy(),
                [col(col::TEAM)],
                [col(col::TEAM)],
                JoinArgs::new(JoinType::Inner),
            )
            .with_column((col(TEAM_MEAN) * col(PER_VALUE)).alias(NEW_DEAL_QUANTITY))
            .group_by(keys)
            .agg([fixed_sum(col(NEW_DEAL_QUANTITY)).round(2, RoundMode::HalfToEven)]),
    ))
}

const PER_VALUE: &str = "__per_value";

/// Per team and `by` (the team first, the SKU among them), the units of
/// the SKU the team sold per unit of value ([`PER_VALUE`]): over its deals
/// already won in `rows`, at what they booked, where it has any; else over
/// its open deals, expected units over expected stated value.
fn per_value(rows: LazyFrame, by: Vec<Expr>) -> LazyFrame {
    let weight = |won: bool| {
        let mut w = col(PROBABILITY) * col(SHARE);
        if won {
            w = when(col(IS_WON)).then(w).otherwise(lit(0.0));
        }
        w
    };
    let value = rows.clone().group_by([col(col::TEAM)]).agg([
        fixed_sum(weight(true) * col(VALUE)).alias("__won_value"),
        fixed_sum(weight(false) * col(VALUE)).alias(TEAM_VALUE),
    ]);
    let quantity = || col(col::QUANTITY).cast(DataType::Float64);
    rows.filter(col(col::SKU).is_not_null())
        .group_by(by)
        .agg([
            fixed_sum(weight(true) * quantity()).alias("__won_units"),
            fixed_sum(weight(false) * quantity()).alias("__units"),
        ])
        .join(
            value,
            [col(col::TEAM)],
            [col(col::TEAM)],
            JoinArgs::new(JoinType::Inner),
        )
        .with_column(
            when(col("__won_value").gt(lit(0.0)))
                .then(col("__won_units") / col("__won_value"))
                .when(col(TEAM_VALUE).gt(lit(0.0)))
                .then(col("__units") / col(TEAM_VALUE))
                .otherwise(lit(0.0))
                .alias(PER_VALUE),
        )
}

/// Per trial, each source (a team's new deals in one bucket) drawn once
/// and spread over its cells.
#[derive(Debug, Default)]
pub(crate) struct NewDealDraws {
    sources: Vec<Source>,
}

#[derive(Debug)]
struct Source {
    draw: Draw,
    /// Cells and their shares of the source.
    cells: Vec<(u32, f64)>,
}

#[derive(Debug)]
enum Draw {
    Fixed(f64),
    Gamma(rand_distr::Gamma<f64>),
}

impl NewDealDraws {
    /// The sources of `pieces` (collected, with a `cell` column of u32
    /// naming the trial's cell of each piece).
    pub(crate) fn new(pieces: &DataFrame, cell: &str) -> PolarsResult<Self> {
        let teams = pieces.column(col::TEAM)?.str()?;
        let buckets = pieces.column(BUCKET)?.cast(&DataType::Int32)?;
        let buckets = buckets.i32()?;
        let cells = pieces.column(cell)?.cast(&DataType::UInt32)?;
        let cells = cells.u32()?;
        let means = pieces.column(TEAM_MEAN)?.f64()?;
        let sds = pieces.column(TEAM_SD)?.f64()?;
        let mixes = pieces.column(MIX)?.f64()?;
        let mut sources: Vec<Source> = Vec::new();
        let mut previous: Option<(Option<&str>, Option<i32>)> = None;
        for i in 0..pieces.height() {
            let key = (teams.get(i), buckets.get(i));
            if previous != Some(key) {
                let mean = means.get(i).unwrap_or(0.0);
                let sd = sds.get(i).unwrap_or(0.0);
                sources.push(Source {
                    draw: draw(mean, sd),
                    cells: Vec::new(),
                });
                previous = Some(key);
            }
            if let (Some(source), Some(c)) = (sources.last_mut(), cells.get(i)) {
                source.cells.push((c, mixes.get(i).unwrap_or(0.0)));
            }
        }
        Ok(NewDealDraws { sources })
    }

    /// Adds one trial's new deals to its cells in `acc`.
    pub(crate) fn add(&self, rng: &mut impl rand::Rng, acc: &mut [f64]) {
        use rand_distr::Distribution;
        for source in &self.sources {
            let value = match &source.draw {
                Draw::Fixed(v) => *v,
                Draw::Gamma(g) => g.sample(rng),
            };
            for &(c, share) in &source.cells {
                if let Some(a) = acc.get_mut(c as usize) {
                    *a += value * share;
                }
            }
        }
    }
}

/// A gamma distribution with `mean` and standard deviation `sd` (shape
/// mean²/sd², scale sd²/mean); the mean itself when it does not vary.
fn draw(mean: f64, sd: f64) -> Draw {
    if mean <= 0.0 || sd <= 0.0 {
        return Draw::Fixed(mean.max(0.0));
    }
    let shape = (mean / sd).powi(2);
    match rand_distr::Gamma::new(shape, mean / shape) {
        Ok(g) => Draw::Gamma(g),
        Err(_) => Draw::Fixed(mean),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_sources_draws_have_its_mean_and_spread_and_split_by_its_mix() {
        let pieces = df!(
            col::TEAM => ["a", "a", "b"],
            BUCKET => [0i32, 0, 0],
            "__cell" => [0u32, 1, 1],
            TEAM_MEAN => [100.0, 100.0, 50.0],
            TEAM_SD => [40.0, 40.0, 0.0],
            MIX => [0.25, 0.75, 1.0],
        )
        .unwrap();
        let draws = NewDealDraws::new(&pieces, "__cell").unwrap();
        let mut rng = crate::trial_rng(7, 0);
        let n = 20_000;
        let (mut sum, mut square, mut shares) = (0.0, 0.0, 0.0);
        for _ in 0..n {
            let mut acc = [0.0, 0.0];
            draws.add(&mut rng, &mut acc);
            let a = acc[0] / 0.25;
            // b's 50 never varies: the rest of cell 1 is a's 75 %.
            assert!((acc[1] - 50.0 - 0.75 * a).abs() < 1e-9);
            assert!(a >= 0.0);
            sum += a;
            square += a * a;
            shares += acc[0] / (acc[0] + acc[1] - 50.0).max(f64::MIN_POSITIVE);
        }
        let mean = sum / f64::from(n);
        let sd = (square / f64::from(n) - mean * mean).sqrt();
        assert!((mean - 100.0).abs() < 1.5, "{mean}");
        assert!((sd - 40.0).abs() < 1.5, "{sd}");
        assert!((shares / f64::from(n) - 0.25).abs() < 1e-6);
    }
}
