//! Deal-size factors: whether large deals convert differently from small
//! ones, per team, beyond what their stage and close date say.
//!
//! Deals open on matured past snapshots are put in three size bands by
//! their stated value in the reporting currency: `small` below the
//! company's median deal, `large` from its 90th percentile, `medium`
//! between. Per band, what they realised over what the forecast (with the
//! close-date factors) said, over the same ratio for all deals, is the
//! company's band ratio; a team's is its band's over its own. Each is
//! weighted by credibility, τ² / (τ² + σ²): σ² the sampling variance of
//! the ratio (residuals summed per deal, since one deal is seen on many
//! snapshots), τ² how far band ratios spread beyond that noise; the
//! company's towards 1, a team's towards the company's. Where size says
//! nothing τ² is 0 and every factor is 1. The factor multiplies the
//! win probability of today's deals of that team and size, beside the
//! close-date factor (see [`crate::close_dates`]).
use std::collections::BTreeMap;

use polars::prelude::*;
use quotecast_pipeline::columns as col;

use crate::{
    ForecastError,
    columns::{COMPANY, REALISED},
    frames::{exact_sum, fixed_sum},
};

pub const SIZE: &str = "size";
/// The band's lowest stated value, in the reporting currency.
pub const SIZE_FROM: &str = "size_from";
pub const OBSERVATIONS: &str = "observations";
pub const FORECAST: &str = "forecast";
pub const RATIO: &str = "ratio";
pub const SIZE_FACTOR: &str = "size_factor";
/// A deal's stated value (all its lines), reporting currency.
pub(crate) const STATED: &str = "__stated";
/// Where the bands start: the company's quantiles of stated deal values.
const EDGES: [(f64, &str); 2] = [(0.5, "medium"), (0.9, "large")];
const SMALLEST: &str = "small";
const BOUNDS: (f64, f64) = (0.25, 4.0);

/// The band of a deal of `value`, with the band edges of `factors` (the
/// [`size_factors`] table: each band's [`SIZE_FROM`]).
fn band(value: Expr, edges: &[(f64, String)]) -> Expr {
    edges.iter().fold(lit(SMALLEST), |smaller, (from, name)| {
        when(value.clone().gt_eq(lit(*from)))
            .then(lit(name.clone()))
            .otherwise(smaller)
    })
}

/// The bands' lower edges as `factors` holds them, smallest first,
/// without the first band's.
fn edges_of(factors: &DataFrame) -> Vec<(f64, String)> {
    let (Ok(names), Ok(from)) = (
        factors.column(SIZE).and_then(|c| c.str().cloned()),
        factors.column(SIZE_FROM).and_then(|c| c.f64().cloned()),
    ) else {
        return Vec::new();
    };
    let mut edges: Vec<(f64, String)> = (0..factors.height())
        .filter_map(|r| Some((from.get(r)?, names.get(r)?.to_owned())))
        .filter(|(_, name)| name != SMALLEST)
        .collect();
    edges.sort_by(|a, b| a.0.total_cmp(&b.0));
    edges.dedup_by(|a, b| a.1 == b.1);
    edges
}

/// `frame` (with the team and the stated value of each row's deal in
/// `value`) with [`SIZE_FACTOR`]: its team's factor for the deal's band in
/// `factors`, else the company's, else 1 (also when `factors` is empty).
pub(crate) fn with_size_factor(frame: LazyFrame, factors: &DataFrame, value: Expr) -> LazyFrame {
    if !sizes_matter(factors) {
        return frame.with_column(lit(1.0).alias(SIZE_FACTOR));
    }
    const BAND: &str = "__size_band";
    const COMPANY_FACTOR: &str = "__company_size_factor";
    let table =
        factors
            .clone()
            .lazy()
            .select([col(col::TEAM), col(SIZE).alias(BAND), col(SIZE_FACTOR)]);
    let company = table
        .clone()
        .filter(col(col::TEAM).eq(lit(COMPANY)))
        .select([col(BAND), col(SIZE_FACTOR).alias(COMPANY_FACTOR)]);
    let keys = [col(col::TEAM), col(BAND)];
    frame
        .with_column(band(value, &edges_of(factors)).alias(BAND))
        .join(table, keys.clone(), keys, JoinArgs::new(JoinType::Left))
        .join(
            company,
            [col(BAND)],
            [col(BAND)],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(
            col(SIZE_FACTOR)
                .fill_null(col(COMPANY_FACTOR))
                .fill_null(lit(1.0)),
        )
        .drop(cols([BAND, COMPANY_FACTOR]))
}

/// Whether any factor of `factors` differs from 1: where none does
/// (sizes convert alike, or nothing was learned) deals need no size.
pub(crate) fn sizes_matter(factors: &DataFrame) -> bool {
    factors
        .column(SIZE_FACTOR)
        .ok()
        .and_then(|c| c.f64().ok().cloned())
        .is_some_and(|f| f.iter().any(|v| v.is_some_and(|v| v != 1.0)))
}

/// The plan of the company's band edges: the [`EDGES`] quantiles of the
/// observed deals' [`STATED`] values.
pub(crate) fn edges_plan(observed: LazyFrame) -> LazyFrame {
    observed.select(
        EDGES
            .iter()
            .map(|(q, name)| {
                col(STATED)
                    .quantile(lit(*q), QuantileMethod::Linear)
                    .alias(*name)
            })
            .collect::<Vec<_>>(),
    )
}

const ANY: &str = "*";

/// One team's (or the company's) band: its tallies, its ratio against
/// its team's over all bands and that ratio's sampling variance.
struct BandRow {
    team: String,
    size: String,
    tally: Tally,
    ratio: f64,
    variance: f64,
}

/// One cell's observed deals, forecast and realised.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    deals: f64,
    forecast: f64,
    realised: f64,
}

/// The tallies of `banded` observations per `keys` (a team and a size
/// column), each also summed over all teams as the company's (`*`).
fn tallies(
    banded: LazyFrame,
    keys: &[Expr],
) -> Result<BTreeMap<(String, String), Tally>, ForecastError> {
    let frame = banded
        .group_by(keys)
        .agg([
            len().cast(DataType::Float64).alias(OBSERVATIONS),
            fixed_sum(col(FORECAST)).round(2, RoundMode::HalfToEven),
            fixed_sum(col(REALISED)).round(2, RoundMode::HalfToEven),
        ])
        .sort([col::TEAM, SIZE], SortMultipleOptions::default())
        .collect()?;
    let teams = frame.column(col::TEAM)?.str()?.clone();
    let sizes = frame.column(SIZE)?.str()?.clone();
    let float = |name: &str| -> Result<Float64Chunked, ForecastError> {
        Ok(frame.column(name)?.cast(&DataType::Float64)?.f64()?.clone())
    };
    let (deals, forecast, realised) = (float(OBSERVATIONS)?, float(FORECAST)?, float(REALISED)?);
    let mut out: BTreeMap<(String, String), Tally> = BTreeMap::new();
    for row in 0..frame.height() {
        let size = sizes.get(row).unwrap_or("").to_owned();
        for team in [teams.get(row).unwrap_or(""), COMPANY] {
            let t = out.entry((team.to_owned(), size.clone())).or_default();
            t.deals += deals.get(row).unwrap_or(0.0);
            t.forecast += forecast.get(row).unwrap_or(0.0);
            t.realised += realised.get(row).unwrap_or(0.0);
        }
    }
    Ok(out)
}

/// Per team (and `*`) and band: the squared residuals against the cell's
/// ratio, summed per deal first.
fn residual_squares(
    banded: LazyFrame,
    cells: &BTreeMap<(String, String), Tally>,
) -> Result<BTreeMap<(String, String), f64>, ForecastError> {
    const CELL_RATIO: &str = "__cell_ratio";
    const RESIDUAL: &str = "__residual";
    let ratios = |team: &dyn Fn(&str) -> bool| {
        let (mut teams, mut sizes, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for ((t, size), c) in cells.iter().filter(|((t, _), _)| team(t)) {
            teams.push(t.clone());
            sizes.push(size.clone());
            values.push(if c.forecast > 0.0 {
                c.realised / c.forecast
            } else {
                1.0
            });
        }
        df!(col::TEAM => teams, SIZE => sizes, CELL_RATIO => values)
    };
    let mut out = BTreeMap::new();
    for (company, table) in [
        (false, ratios(&|t| t != COMPANY)?),
        (true, ratios(&|t| t == COMPANY)?),
    ] {
        let keyed = match company {
            true => banded.clone().with_column(lit(COMPANY).alias(col::TEAM)),
            false => banded.clone(),
        };
        let keys = [col(col::TEAM), col(SIZE)];
        let squares = keyed
            .join(
                table.lazy(),
                keys.clone(),
                keys,
                JoinArgs::new(JoinType::Inner),
            )
            .with_column((col(REALISED) - col(CELL_RATIO) * col(FORECAST)).alias(RESIDUAL))
            .group_by([col(col::TEAM), col(SIZE), col(col::OPPORTUNITY_ID)])
            .agg([fixed_sum(col(RESIDUAL)).alias(RESIDUAL)])
            .group_by([col(col::TEAM), col(SIZE)])
            .agg([exact_sum(col(RESIDUAL).pow(2)).round(0, RoundMode::HalfToEven)])
            .collect()?;
        let teams = squares.column(col::TEAM)?.str()?.clone();
        let sizes = squares.column(SIZE)?.str()?.clone();
        let values = squares.column(RESIDUAL)?.f64()?.clone();
        for row in 0..squares.height() {
            if let (Some(t), Some(s), Some(v)) = (teams.get(row), sizes.get(row), values.get(row)) {
                out.insert((t.to_owned(), s.to_owned()), v);
            }
        }
    }
    Ok(out)
}

/// The factors from the observed past deals (team, [`STATED`] value,
/// `forecast` with the close-date factors, `realised`) and the collected
/// [`edges_plan`]: per team (and `*`) and band, the tallies, `ratio` and
/// [`SIZE_FACTOR`], rounded to 10⁻⁶.
pub(crate) fn size_factors(
    observed: LazyFrame,
    edges: &DataFrame,
) -> Result<DataFrame, ForecastError> {
    let bands = size_bands(edges);
    let banded = observed
        .with_column(band(col(STATED), &bands).alias(SIZE))
        .collect()?
        .lazy();
    let rows = band_rows(banded)?;
    let factors = shrunk_factors(&rows);
    factor_table(&rows, &factors, &bands)
}

/// The bands of stated value the collected [`edges_plan`] gives: each
/// from its lower edge, edges that are not above the one before left out.
fn size_bands(edges: &DataFrame) -> Vec<(f64, String)> {
    let mut bands: Vec<(f64, String)> = Vec::new();
    for (_, name) in EDGES {
        let from = crate::frames::first_float(edges, name).unwrap_or(f64::INFINITY);
        if from.is_finite() && bands.last().is_none_or(|b| b.0 < from) {
            bands.push((from, name.to_owned()));
        }
    }
    bands
}

/// Per team (and `*`) and band of the `banded` deals: the tallies, the
/// band's ratio relative to its team's over all bands, and the sampling
/// variance of that from the residuals summed per deal (a deal is seen on
/// many snapshots, so its residuals are one draw, not many).
fn band_rows(banded: LazyFrame) -> Result<Vec<BandRow>, ForecastError> {
    let cells = tallies(banded.clone(), &[col(col::TEAM), col(SIZE)])?;
    let totals = tallies(banded.clone(), &[col(col::TEAM), lit(ANY).alias(SIZE)])?;
    let ratio = |s: &Tally| {
        if s.forecast > 0.0 {
            s.realised / s.forecast
        } else {
            1.0
        }
    };
    let all = |team: &str| {
        totals
            .get(&(team.to_owned(), ANY.to_owned()))
            .map_or(1.0, ratio)
    };
    let squares = residual_squares(banded, &cells)?;
    let mut rows: Vec<BandRow> = Vec::new();
    for ((team, size), t) in &cells {
        let scale = all(team);
        let r = if scale > 0.0 { ratio(t) / scale } else { 1.0 };
        let variance = match t.forecast > 0.0 && scale > 0.0 {
            true => {
                squares
                    .get(&(team.clone(), size.clone()))
                    .copied()
                    .unwrap_or(0.0)
                    / (t.forecast * scale).powi(2)
            }
            false => f64::INFINITY,
        };
        rows.push(BandRow {
            team: team.clone(),
            size: size.clone(),
            tally: *t,
            ratio: r,
            variance,
        });
    }
    Ok(rows)
}

/// Each row's factor: the company's band ratio shrunk towards 1, a team's
/// towards the company's, by credibility τ² / (τ² + its variance), where
/// τ² is how far true band ratios spread beyond their noise (method of
/// moments over every row, weighted by forecast; at least 0); within
/// [`BOUNDS`], rounded to 10⁻⁶.
fn shrunk_factors(rows: &[BandRow]) -> Vec<f64> {
    let known = || rows.iter().filter(|r| r.variance.is_finite());
    let weight: f64 = known().map(|r| r.tally.forecast).sum();
    let moment = |f: &dyn Fn(&BandRow) -> f64| {
        known().map(|r| r.tally.forecast * f(r)).sum::<f64>() / weight.max(f64::MIN_POSITIVE)
    };
    let tau2 = (moment(&|r| (r.ratio - 1.0).powi(2)) - moment(&|r| r.variance)).max(0.0);
    let credibility = |v: f64| match tau2 > 0.0 && v.is_finite() {
        true => tau2 / (tau2 + v),
        false => 0.0,
    };
    let company = |size: &str| {
        rows.iter()
            .find(|r| r.team == COMPANY && r.size == size)
            .map_or(1.0, |r| 1.0 + credibility(r.variance) * (r.ratio - 1.0))
    };
    rows.iter()
        .map(|row| {
            let toward = company(&row.size);
            let factor = match row.team.as_str() {
                COMPANY => toward,
                _ => toward + credibility(row.variance) * (row.ratio - toward),
            };
            match factor.is_finite() {
                true => (factor.clamp(BOUNDS.0, BOUNDS.1) * 1e6).round() / 1e6,
                false => 1.0,
            }
        })
        .collect()
}

/// The rows with their `factors` as the size factors' table.
fn factor_table(
    rows: &[BandRow],
    factors: &[f64],
    bands: &[(f64, String)],
) -> Result<DataFrame, ForecastError> {
    let size_from = |size: &str| bands.iter().find(|b| b.1 == size).map_or(0.0, |b| b.0);
    let floats = |f: &dyn Fn(&BandRow) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    Ok(DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                col::TEAM.into(),
                rows.iter().map(|r| r.team.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                SIZE.into(),
                rows.iter().map(|r| r.size.clone()).collect::<Vec<_>>(),
            ),
            Column::new(SIZE_FROM.into(), floats(&|r| size_from(&r.size))),
            Column::new(
                OBSERVATIONS.into(),
                rows.iter()
                    .map(|r| r.tally.deals as u64)
                    .collect::<Vec<_>>(),
            ),
            Column::new(FORECAST.into(), floats(&|r| r.tally.forecast)),
            Column::new(REALISED.into(), floats(&|r| r.tally.realised)),
            Column::new(RATIO.into(), floats(&|r| r.ratio)),
            Column::new(SIZE_FACTOR.into(), factors.to_vec()),
        ],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 4,000 past deals of two teams, each seen on two snapshots, with
    /// stated values 1 to 4,000; a deal realises its forecast times
    /// `realised(value)` when it wins, and every third deal loses.
    fn observed(realised: impl Fn(f64) -> f64) -> LazyFrame {
        let (mut ids, mut teams, mut stated, mut forecast, mut booked) =
            (vec![], vec![], vec![], vec![], vec![]);
        for snapshot in 0..2 {
            for i in 0..4_000u32 {
                let value = f64::from(i + 1);
                ids.push(format!("o{i}"));
                teams.push(if i % 2 == 0 { "east" } else { "west" });
                stated.push(value);
                forecast.push(value * 0.6);
                let won = (i + snapshot) % 3 != 0;
                booked.push(if won {
                    value * 0.9 * realised(value)
                } else {
                    0.0
                });
            }
        }
        df!(
            col::OPPORTUNITY_ID => ids,
            col::TEAM => teams,
            STATED => stated,
            FORECAST => forecast,
            REALISED => booked,
        )
        .unwrap()
        .lazy()
    }

    /// The factors learned from `frame`, and whether deals then need
    /// their size at all.
    fn factors(frame: LazyFrame) -> (BTreeMap<(String, String), f64>, bool) {
        let edges = edges_plan(frame.clone()).collect().unwrap();
        let table = size_factors(frame, &edges).unwrap();
        let matter = sizes_matter(&table);
        let (teams, sizes) = (
            table.column(col::TEAM).unwrap().str().unwrap().clone(),
            table.column(SIZE).unwrap().str().unwrap().clone(),
        );
        let values = table.column(SIZE_FACTOR).unwrap().f64().unwrap().clone();
        let f = (0..table.height())
            .map(|r| {
                let key = (
                    teams.get(r).unwrap().to_owned(),
                    sizes.get(r).unwrap().to_owned(),
                );
                (key, values.get(r).unwrap())
            })
            .collect();
        (f, matter)
    }

    #[test]
    fn large_deals_that_book_less_get_a_factor_below_one() {
        // The largest tenth books half its value.
        let (f, matter) = factors(observed(|v| if v > 3_600.0 { 0.5 } else { 1.0 }));
        assert!(matter);
        let company = |size: &str| f[&(COMPANY.to_owned(), size.to_owned())];
        assert!(company("large") < 0.75, "{f:?}");
        assert!(company("small") > 1.0 && company("medium") > 1.0, "{f:?}");
        for team in ["east", "west"] {
            assert!(f[&(team.to_owned(), "large".to_owned())] < 0.8, "{f:?}");
        }
    }

    #[test]
    fn where_size_says_nothing_every_factor_is_one() {
        let (f, matter) = factors(observed(|_| 1.0));
        assert!(f.values().all(|v| *v == 1.0), "{f:?}");
        // So the forecast does not size its deals at all.
        assert!(!matter);
    }
}
