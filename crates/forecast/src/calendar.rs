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
//! second week of a quarter most; the kernel is as wide as the snapshots
//! are apart, see [`PlaceKernel::for_factors`]) and by their age. Where
//! wins bunch at quarter ends, weeks and months are placed in their
//! quarter instead ([`crate::quarter_ends::places`]): a month's first days
//! book differently in a quarter's first month and in its last. The
//! company's factor is shrunk towards its ratio over snapshots at every
//! place in their bucket (weighted by age alone; by
//! [`COMPANY_SHRINK_DEALS`]; that ratio is shrunk towards 1): a young or
//! small history has few deals at the forecast date's place, but what it
//! says about the horizon as a whole is still better than nothing. A
//! team's factor is shrunk towards the company's, by the (weighted)
//! number of deals forecast in that horizon (z = n / (n +
//! [`SHRINK_DEALS`])), geometrically (ratio^z · prior^(1 − z): a ratio
//! of a seventh is as far from 1 as one of seven); horizons the
//! history cannot have seen complete (their bucket ends after the forecast
//! date) get no factor, and the forecast leaves them as they are.
//!
//! The same cells give each horizon its bucket shock: how much more a
//! team's bookings in one bucket varied around the factor's forecast than
//! the deal-level trials allow (each deal won or lost on its own, its
//! slippage, the team's multiplier). Deals of one team in one bucket move
//! together (a push at quarter end, a budget freeze, a key rep leaving),
//! so the Monte Carlo draws a multiplier per team and bucket with that
//! relative variance; without it the P10–P90 ranges hold the actual far
//! less often than 80 % of the time.
use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_model::FiscalYear;
use quotecast_pipeline::columns as col;

use crate::{
    ForecastError, ForecastSpec,
    close_dates::{adjusted_probability, with_deal_factor},
    columns::{
        BUCKET, CALENDAR_FACTOR, CLOSE, COMPANY, COMPANY_SHOCK_VARIANCE, DEAL_FACTOR, HORIZON,
        IF_WON, IS_OPEN, IS_WON, REALISED, SHARE, SHOCK_VARIANCE, VALUE, WIN_RATE,
    },
    corrected::expected_rows,
    frames::{collect_together, exact_sum, fixed_sum},
    pipeline_share::{Tally, all_bookings_plan, won_per_day},
    prepare::horizon_of,
    shocks::ShockModel,
    snapshot_weights::{PlaceKernel, recency_weight, snapshot_weight},
};

pub const DEALS: &str = "deals";
/// The company's sums over snapshots at every place in their bucket (a
/// name no file's team may have: the readers refuse a team starting with
/// `*`).
const POOLED: &str = "*pooled";
pub const FORECAST: &str = "forecast";
pub const RATIO: &str = "ratio";
/// The variance of a cell's bookings under the deal-level model.
const VARIANCE: &str = "__variance";
const WEIGHT: &str = "__weight";
/// Deals at which a team's own ratio gets half the weight (and the
/// company's over every place in the bucket against 1).
pub const SHRINK_DEALS: f64 = 200.0;
/// Deals at which the company's ratio at the forecast date's place in the
/// bucket gets half the weight against its ratio over every place: that
/// prior already speaks for the company, so it needs fewer deals than 1
/// would (50 against 200 gave equal or lower CRPS on all eleven generated
/// companies; the README gives the backtests).
pub const COMPANY_SHRINK_DEALS: f64 = 50.0;
/// Sums are rounded to cents before they are divided: the same history
/// gives the same factors to the bit, whatever order the rows were summed
/// in (a plan's id hashes the values they scale).
const CENTS: u32 = 2;
/// Factors are kept within these bounds.
const BOUNDS: (f64, f64) = (0.25, 4.0);

/// Learns the factors from the open `deals` of past snapshots (see
/// [`crate::prepare::open_deals`]; their outcomes in `decided`, known on
/// `spec.as_of`), with `spec`'s win rates and correction (whose own
/// calendar is left out); what deals not open on a snapshot booked is
/// scaled by its day's `conversion` index per team.
pub(crate) fn learn_calendar(
    deals: &[(NaiveDate, DataFrame)],
    decided: LazyFrame,
    spec: &ForecastSpec,
    conversion: &BTreeMap<NaiveDate, BTreeMap<String, f64>>,
) -> Result<DataFrame, ForecastError> {
    // Only snapshots with a horizon whose bucket had ended by the
    // forecast date.
    let learned: Vec<(NaiveDate, &DataFrame, i32)> = deals
        .iter()
        .map(|(day, open)| {
            (
                *day,
                open,
                complete_horizons(spec.bucket, spec.fiscal_year, *day, spec.as_of),
            )
        })
        .filter(|(_, _, complete)| *complete > 0)
        .collect();
    // What each snapshot's open deals booked and what every deal booked,
    // joined and grouped once for all snapshots: one join per snapshot
    // against millions of outcomes took most of the calendar's time.
    let won_by_open = won_by_open_deals(&learned, &decided)?;
    let won_per_day = won_per_day(&decided)?;
    let all_days: Vec<NaiveDate> = deals.iter().map(|(day, _)| *day).collect();
    let (place_bucket, place_year) = crate::quarter_ends::places(
        spec.bucket,
        spec.fiscal_year,
        spec.correction.as_deref().map(|c| &c.quarter_ends),
    );
    let kernel = PlaceKernel::for_factors(place_bucket, place_year, &all_days, spec.as_of);
    let mut days = Vec::with_capacity(learned.len());
    // Per snapshot: its cells, then everything booked after it.
    let mut plans = Vec::with_capacity(2 * learned.len());
    for (day, open, complete) in learned {
        let then = as_it_stood(spec, day);
        // The factors' cells by their own kernel; what deals not yet in
        // the pipeline booked by the new deals' one.
        let weight = snapshot_weight(place_bucket, place_year, day, spec.as_of);
        let factor_weight = kernel.weight(place_bucket, place_year, day, spec.as_of)
            * recency_weight(day, spec.as_of);
        let won = won_by_open
            .clone()
            .lazy()
            .filter(col(SNAPSHOT).eq(lit(day).cast(DataType::Date)));
        plans.push(snapshot_cells(
            open.clone().lazy(),
            won,
            &then,
            complete,
            factor_weight,
        )?);
        plans.push(all_bookings_plan(&won_per_day, &then, complete));
        days.push((day, weight, complete));
    }
    // Summed in Rust, date by date in order: the same history gives the
    // same factors to the bit (a plan's id hashes the values they scale).
    let mut sums: BTreeMap<(String, i32), Sums> = BTreeMap::new();
    let mut cells = Vec::new();
    let mut tally = Tally::default();
    let mut frames = collect_together(plans)?.into_iter();
    for (day, weight, complete) in days {
        let (Some(frame), Some(all)) = (frames.next(), frames.next()) else {
            break;
        };
        for cell in cells_of(&frame, day, spec, spec.as_of)? {
            add_to_sums(&mut sums, &cell);
            tally.add_open(&cell.team, cell.horizon, cell.realised);
            cells.push(cell);
        }
        tally.add_all(&all)?;
        let index = conversion.get(&day).cloned().unwrap_or_default();
        tally.end_snapshot(spec.bucket_start(day), weight, complete, &index);
    }
    let keys = [col(col::TEAM), col(HORIZON)];
    let table = factors(&sums)?.lazy().join(
        tally.table()?.lazy(),
        keys.clone(),
        keys,
        JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
    );
    let model = ShockModel::new(spec.correction.as_deref());
    let spread = |team: &str| model.team(team);
    let shocks = bucket_shocks(&cells, &spread)?;
    Ok(table
        .join(
            shocks.lazy(),
            [col(HORIZON)],
            [col(HORIZON)],
            JoinArgs::new(JoinType::Left),
        )
        .with_columns([
            col(SHOCK_VARIANCE).fill_null(lit(0.0)),
            col(COMPANY_SHOCK_VARIANCE).fill_null(lit(0.0)),
        ])
        .sort([col::TEAM, HORIZON], SortMultipleOptions::default())
        .collect()?)
}

/// The day a snapshot was taken, in [`won_by_open_deals`].
const SNAPSHOT: &str = "__snapshot";

/// Per snapshot of `learned` ([`SNAPSHOT`]), each deal open on it and won
/// since (in `decided`): its team there (its first line's), the day it
/// closed and what it booked.
fn won_by_open_deals(
    learned: &[(NaiveDate, &DataFrame, i32)],
    decided: &LazyFrame,
) -> PolarsResult<DataFrame> {
    if learned.is_empty() {
        return Ok(DataFrame::empty());
    }
    let open: Vec<LazyFrame> = learned
        .iter()
        .map(|(day, open, _)| {
            (*open)
                .clone()
                .lazy()
                .group_by([col(col::OPPORTUNITY_ID)])
                .agg([col(col::TEAM).first()])
                .with_column(lit(*day).cast(DataType::Date).alias(SNAPSHOT))
        })
        .collect();
    concat(open, UnionArgs::default())?
        .join(
            decided.clone().filter(col(IS_WON)).select([
                col(col::OPPORTUNITY_ID),
                col(col::CLOSED),
                col(REALISED),
            ]),
            [col(col::OPPORTUNITY_ID)],
            [col(col::OPPORTUNITY_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .select([
            col(SNAPSHOT),
            col(col::TEAM),
            col(col::CLOSED),
            col(REALISED),
        ])
        .collect()
}

/// `spec` as a forecast made on `day` had it: its correction without the
/// calendar being learned.
fn as_it_stood(spec: &ForecastSpec, day: NaiveDate) -> ForecastSpec {
    let mut then = spec.clone();
    then.as_of = day;
    if let Some(c) = then.correction.as_mut() {
        c.calendar = DataFrame::empty();
    }
    then
}

/// How many buckets from the one holding `day` had ended by `as_of`.
pub(crate) fn complete_horizons(
    bucket: crate::Bucket,
    year: FiscalYear,
    day: NaiveDate,
    as_of: NaiveDate,
) -> i32 {
    let mut complete = 0i32;
    let mut end = bucket.next(bucket.start_of(day, year));
    while end <= as_of {
        complete += 1;
        end = bucket.next(end);
    }
    complete
}

/// Per close group (see [`snapshot_cells`]): the number of deals, and
/// the sums over them of p·v, p·v² and (p·v)², with p a deal's win rate
/// and v its value.
const GROUP_DEALS: &str = "__group_deals";
const P_V2: &str = "__p_v2";
const P2_V2: &str = "__p2_v2";
/// A close group's own close day (slippage moves [`CLOSE`]).
const CLOSE_GROUP: &str = "__close_group";

/// The plan of one past snapshot's cells from its `open` deals (see
/// [`crate::prepare::open_deals`]): per team and complete horizon, what they were
/// forecast to book there (with the correction as it stood `then`), the
/// variance of that under the deal-level model, and what they booked;
/// with the snapshot's `weight` (its place in its bucket and its age).
///
/// A deal of value v and win rate p whose slippage points put a share s
/// of it in a horizon books there p·s·v on average, with variance
/// p·s·v² − (p·s·v)² (its points exclude each other). Deals of one team
/// and stage closing on the same day have the same shares (slippage is
/// learned per team and stage), so they are summed into
/// one close group first (Σp·v, Σp·v², Σ(p·v)², a few thousand groups
/// where there are a few hundred thousand deals), and only the groups are
/// spread over the slippage points by [`expected_rows`]: the group's
/// value there is Σp·v at rate 1, its team's factor f is read back as
/// what the value became, and the cell sums s·f·Σp·v and
/// s·f²·Σp·v² − s²·f²·Σ(p·v)². Lines of one deal with different close
/// days count as deals of their own here.
fn snapshot_cells(
    open: LazyFrame,
    won: LazyFrame,
    then: &ForecastSpec,
    complete: i32,
    weight: f64,
) -> Result<LazyFrame, ForecastError> {
    let within = |horizon: Expr| horizon.clone().gt_eq(lit(0)).and(horizon.lt(lit(complete)));
    // Each deal's win probability as the corrected forecast made then
    // gives it: its close-date factor seen from that day, its size factor.
    let day = lit(then.as_of).cast(DataType::Date);
    let p_v = adjusted_probability() * col(VALUE);
    let open = open.drop(cols([DEAL_FACTOR]));
    let groups = with_deal_factor(open.clone(), then.correction.as_deref(), day, col(VALUE))
        .group_by([col(col::TEAM), col(col::STAGE), col(CLOSE), col(BUCKET)])
        .agg([
            len().cast(DataType::Float64).alias(GROUP_DEALS),
            fixed_sum(p_v.clone()).alias(VALUE),
            exact_sum(p_v.clone() * col(VALUE)).alias(P_V2),
            exact_sum(p_v.pow(2)).alias(P2_V2),
        ])
        .with_columns([
            col(CLOSE).alias(CLOSE_GROUP),
            lit(1.0).alias(WIN_RATE),
            lit(1.0).alias(DEAL_FACTOR),
            lit(true).alias(IS_OPEN),
            lit(false).alias(IS_WON),
        ]);
    let factor = when(col(VALUE).gt(lit(0.0)))
        .then(col(IF_WON) / col(VALUE))
        .otherwise(lit(1.0));
    let forecast = expected_rows(groups, then)?
        .with_column(horizon_of(then))
        .filter(col(HORIZON).lt(lit(complete)))
        .with_column(factor.alias("__factor"))
        .group_by([
            col(col::TEAM),
            col(col::STAGE),
            col(CLOSE_GROUP),
            col(HORIZON),
        ])
        .agg([
            // Counted, not summed: the same on every run to the bit.
            (len().cast(DataType::Float64) * col(SHARE).first()).alias("__share"),
            col("__factor").first(),
            col(VALUE).first(),
            col(P_V2).first(),
            col(P2_V2).first(),
            col(GROUP_DEALS).first(),
        ])
        .group_by([col(col::TEAM), col(HORIZON)])
        .agg([
            fixed_sum(col("__share") * col("__factor") * col(VALUE))
                .round(CENTS, RoundMode::HalfToEven)
                .alias(FORECAST),
            exact_sum(
                col("__factor").pow(2)
                    * (col("__share") * col(P_V2) - col("__share").pow(2) * col(P2_V2)),
            )
            .round(0, RoundMode::HalfToEven)
            .alias(VARIANCE),
            col(GROUP_DEALS).sum().alias(DEALS),
        ]);
    let start = lit(then.bucket_start(then.as_of)).cast(DataType::Date);
    let booked = won
        .select([
            col(col::TEAM),
            (then.bucket_index(col(col::CLOSED)) - then.bucket_index(start)).alias(HORIZON),
            col(REALISED),
        ])
        .filter(within(col(HORIZON)))
        .group_by([col(col::TEAM), col(HORIZON)])
        .agg([fixed_sum(col(REALISED)).round(CENTS, RoundMode::HalfToEven)]);
    let keys = [col(col::TEAM), col(HORIZON)];
    Ok(forecast
        .join(
            booked,
            keys.clone(),
            keys,
            JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
        )
        .with_columns([
            col(FORECAST).fill_null(lit(0.0)),
            col(REALISED).fill_null(lit(0.0)),
            col(DEALS).fill_null(lit(0.0)),
            col(VARIANCE).fill_null(lit(0.0)),
            lit(weight).alias(WEIGHT),
        ])
        // In key order: the company's sums add the teams' figures in the
        // same order on every run.
        .sort([col::TEAM, HORIZON], SortMultipleOptions::default()))
}

/// The cells of the snapshot taken on `day`, read from its collected
/// plan (see [`snapshot_cells`]).
fn cells_of(
    frame: &DataFrame,
    day: NaiveDate,
    spec: &ForecastSpec,
    as_of: NaiveDate,
) -> PolarsResult<Vec<Cell>> {
    let bucket = spec.bucket;
    let teams = frame.column(col::TEAM)?.str()?;
    let horizons = frame.column(HORIZON)?.cast(&DataType::Int32)?;
    let horizons = horizons.i32()?;
    let figure = |name: &str| frame.column(name).and_then(|c| c.f64().cloned());
    let (deals, forecast, realised) = (figure(DEALS)?, figure(FORECAST)?, figure(REALISED)?);
    let (variance, weight) = (figure(VARIANCE)?, figure(WEIGHT)?);
    Ok((0..frame.height())
        .map(|row| {
            let horizon = horizons.get(row).unwrap_or(0);
            let mut ends = bucket.next(spec.bucket_start(day));
            for _ in 0..horizon {
                ends = bucket.next(ends);
            }
            Cell {
                day,
                ends,
                team: teams.get(row).unwrap_or("").to_owned(),
                horizon,
                weight: weight.get(row).unwrap_or(0.0),
                recency: recency_weight(day, as_of),
                deals: deals.get(row).unwrap_or(0.0),
                forecast: forecast.get(row).unwrap_or(0.0),
                realised: realised.get(row).unwrap_or(0.0),
                variance: variance.get(row).unwrap_or(0.0),
            }
        })
        .collect())
}

/// One team's figures in one horizon on one past snapshot.
struct Cell {
    day: NaiveDate,
    /// The day its bucket ended: from then on it could be learned from.
    ends: NaiveDate,
    team: String,
    horizon: i32,
    weight: f64,
    /// Its weight by age alone, whatever its place in its bucket.
    recency: f64,
    deals: f64,
    forecast: f64,
    realised: f64,
    /// The variance of what the cell books under the deal-level model.
    variance: f64,
}

/// Per horizon, the relative variance of a shock the deals of a team
/// share in one bucket, by the method of moments on forecasts made as
/// they would have been: each past snapshot's cells are forecast with the
/// calendar factors of the cells whose bucket had ended by then (the ones
/// a forecast made then could have learned from), and what their
/// squared errors exceed the variance the trials already draw (each
/// deal's own win or loss and slippage, and the team's multiplier of
/// `spread`) is set over their squared forecasts, each cell weighted as
/// for its factor. So the shock holds how far the factors drift, not only
/// how cells scatter around them. A horizon with fewer than
/// [`SHRINK_DEALS`] deals so forecast takes the nearest shorter one's.
/// The same done on each day's cells added up gives the part all teams
/// share (a company-wide shock: the company's total misses together);
/// the team's own part is the rest. Each between 0 and 1, rounded to
/// 10⁻⁶.
fn bucket_shocks(cells: &[Cell], spread: &dyn Fn(&str) -> f64) -> PolarsResult<DataFrame> {
    let mut days: Vec<NaiveDate> = cells.iter().map(|c| c.day).collect();
    days.dedup();
    // Per horizon: the cells' excess, squared forecasts and deals; the
    // company's excess and squared forecasts.
    let mut moments: BTreeMap<i32, [f64; 5]> = BTreeMap::new();
    for &day in &days {
        let Some(learned) = factors_known_on(cells, day)? else {
            continue;
        };
        let mut totals: BTreeMap<i32, [f64; 4]> = BTreeMap::new();
        for cell in cells.iter().filter(|c| c.day == day) {
            let Some(&c) = learned
                .get(&(cell.team.clone(), cell.horizon))
                .or_else(|| learned.get(&(COMPANY.to_owned(), cell.horizon)))
            else {
                continue;
            };
            let expected = c * cell.forecast;
            let drawn = c * c * cell.variance + expected * expected * spread(&cell.team);
            let m = moments.entry(cell.horizon).or_insert([0.0; 5]);
            m[0] += cell.weight * ((cell.realised - expected).powi(2) - drawn);
            m[1] += cell.weight * expected * expected;
            m[2] += cell.weight * cell.deals;
            let t = totals.entry(cell.horizon).or_insert([0.0; 4]);
            for (t, v) in t
                .iter_mut()
                .zip([expected, cell.realised, drawn, cell.weight])
            {
                *t += v;
            }
        }
        // The company's cells of the day together: what all teams missed
        // by at once.
        for (h, [expected, realised, drawn, weight]) in totals {
            let m = moments.entry(h).or_insert([0.0; 5]);
            m[3] += weight * ((realised - expected).powi(2) - drawn);
            m[4] += weight * expected * expected;
        }
    }
    let last = cells.iter().map(|c| c.horizon).max().unwrap_or(-1);
    shock_table(&moments, last)
}

/// Adds `cell`'s weighted deals, forecast and realised to its team's and
/// the company's sums at its horizon, and weighted by age alone to the
/// company's over every place in the bucket ([`POOLED`]).
fn add_to_sums(sums: &mut BTreeMap<(String, i32), Sums>, cell: &Cell) {
    for (team, weight) in [
        (cell.team.as_str(), cell.weight),
        (COMPANY, cell.weight),
        (POOLED, cell.recency),
    ] {
        sums.entry((team.to_owned(), cell.horizon))
            .or_default()
            .add(cell, weight);
    }
}

/// A team's (or the company's) cells in one horizon, each weighted by
/// its snapshot's weight.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    /// Σ w·n over the cells' deals.
    deals: f64,
    forecast: f64,
    realised: f64,
}

impl Sums {
    fn add(&mut self, cell: &Cell, weight: f64) {
        self.deals += weight * cell.deals;
        self.forecast += weight * cell.forecast;
        self.realised += weight * cell.realised;
    }

    /// Realised over forecast (1 with nothing forecast).
    fn ratio(&self) -> f64 {
        if self.forecast > 0.0 {
            self.realised / self.forecast
        } else {
            1.0
        }
    }
}

/// The calendar factors per team (and company) and horizon as they could
/// be learned on `day`: from the cells whose bucket had ended by then.
fn factors_known_on(
    cells: &[Cell],
    day: NaiveDate,
) -> PolarsResult<Option<BTreeMap<(String, i32), f64>>> {
    let mut sums = BTreeMap::new();
    for cell in cells.iter().filter(|c| c.ends <= day) {
        add_to_sums(&mut sums, cell);
    }
    if sums.is_empty() {
        return Ok(None);
    }
    let table = factors(&sums)?;
    let teams = table.column(col::TEAM)?.str()?;
    let horizons = table.column(HORIZON)?.i32()?;
    let factor = table.column(CALENDAR_FACTOR)?.f64()?;
    let mut learned = BTreeMap::new();
    for row in 0..table.height() {
        if let (Some(t), Some(h), Some(f)) = (teams.get(row), horizons.get(row), factor.get(row)) {
            learned.insert((t.to_owned(), h), f);
        }
    }
    Ok(Some(learned))
}

/// Per horizon 0 to `last`, the team and company shock variances from the
/// method-of-moments sums; a horizon with too few deals keeps the one
/// before it.
fn shock_table(moments: &BTreeMap<i32, [f64; 5]>, last: i32) -> PolarsResult<DataFrame> {
    let relative = |excess: f64, squares: f64| {
        let v = excess / squares;
        if v.is_finite() {
            v.clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    let (mut horizon, mut own, mut shared) = (Vec::new(), Vec::<f64>::new(), Vec::<f64>::new());
    for h in 0..=last {
        let [excess, squares, deals, company_excess, company_squares] =
            moments.get(&h).copied().unwrap_or_default();
        let (cell, company) = if deals < SHRINK_DEALS {
            (
                own.last().copied().unwrap_or(0.0) + shared.last().copied().unwrap_or(0.0),
                shared.last().copied().unwrap_or(0.0),
            )
        } else {
            (
                relative(excess, squares),
                relative(company_excess, company_squares),
            )
        };
        let company = company.min(cell);
        horizon.push(h);
        own.push(((cell - company) * 1e6).round() / 1e6);
        shared.push((company * 1e6).round() / 1e6);
    }
    DataFrame::new(
        horizon.len(),
        vec![
            Column::new(HORIZON.into(), horizon),
            Column::new(SHOCK_VARIANCE.into(), own),
            Column::new(COMPANY_SHOCK_VARIANCE.into(), shared),
        ],
    )
}

/// The table of [`learn_calendar`] from the summed deals, forecast and
/// realised per team (and `*`) and horizon.
fn factors(sums: &BTreeMap<(String, i32), Sums>) -> PolarsResult<DataFrame> {
    let shrunk = |team: &str, h: i32, towards: f64| {
        let deals = if team == COMPANY {
            COMPANY_SHRINK_DEALS
        } else {
            SHRINK_DEALS
        };
        sums.get(&(team.to_owned(), h)).map_or(towards, |s| {
            let z = s.deals / (s.deals + deals);
            // Shrunk as a ratio: geometrically, so a team whose deals book
            // a seventh of their forecast there is not lifted towards 1 by
            // the same weight that would lift seven times its ratio down.
            let own = s.ratio();
            if own > 0.0 && towards > 0.0 {
                (z * own.ln() + (1.0 - z) * towards.ln()).exp()
            } else {
                z * own + (1.0 - z) * towards
            }
        })
    };
    // The company's ratio at the forecast date's place in the bucket,
    // shrunk towards its ratio over every place (itself shrunk towards
    // 1), for teams to shrink towards.
    let company = |h: i32| shrunk(COMPANY, h, shrunk(POOLED, h, 1.0));
    let mut rows: Vec<(&str, i32, Sums, f64)> = Vec::new();
    for ((team, h), s) in sums
        .iter()
        .filter(|((team, _), s)| s.forecast > 0.0 && team != POOLED)
    {
        let factor = if team == COMPANY {
            company(*h)
        } else {
            shrunk(team, *h, company(*h))
        };
        let factor = if factor.is_finite() {
            factor.clamp(BOUNDS.0, BOUNDS.1)
        } else {
            1.0
        };
        rows.push((team, *h, *s, factor));
    }
    let figure = |f: fn(&Sums) -> f64| -> Vec<f64> { rows.iter().map(|r| f(&r.2)).collect() };
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
                    .map(|r| r.2.deals.round() as u64)
                    .collect::<Vec<_>>(),
            ),
            Column::new(FORECAST.into(), figure(|s| s.forecast)),
            Column::new(REALISED.into(), figure(|s| s.realised)),
            Column::new(RATIO.into(), figure(Sums::ratio)),
            Column::new(
                CALENDAR_FACTOR.into(),
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            ),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four teams over 24 monthly snapshots, each forecast 1,000,000 in
    /// horizon 0 with no deal-level variance; `miss(day, team)` is the
    /// relative amount they booked above or below it.
    fn cells(miss: impl Fn(usize, usize) -> f64) -> Vec<Cell> {
        let start = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
        let mut out = Vec::new();
        for d in 0..24 {
            let day = start + chrono::Months::new(d as u32);
            for t in 0..4 {
                out.push(Cell {
                    day,
                    ends: day + chrono::TimeDelta::days(30),
                    team: format!("team-{t}"),
                    horizon: 0,
                    weight: 1.0,
                    recency: 1.0,
                    deals: 100.0,
                    forecast: 1_000_000.0,
                    realised: 1_000_000.0 * (1.0 + miss(d, t)),
                    variance: 0.0,
                });
            }
        }
        out
    }

    impl Sums {
        /// Sums of deals of weight 1.
        fn plain(deals: f64, forecast: f64, realised: f64) -> Self {
            Sums {
                deals,
                forecast,
                realised,
            }
        }
    }

    fn shocks(cells: &[Cell]) -> (f64, f64) {
        let table = bucket_shocks(cells, &|_| 0.0).unwrap();
        let value = |name: &str| table.column(name).unwrap().f64().unwrap().get(0).unwrap();
        (value(SHOCK_VARIANCE), value(COMPANY_SHOCK_VARIANCE))
    }

    #[test]
    fn teams_missing_together_is_a_company_shock() {
        // Every team 30 % over or under in the same months.
        let (own, company) = shocks(&cells(|d, _| if d.is_multiple_of(2) { 0.3 } else { -0.3 }));
        assert!((company - 0.09).abs() < 0.02, "company {company}");
        assert!(own < 0.01, "own {own}");
    }

    #[test]
    fn teams_missing_apart_is_their_own_shock() {
        // Half the teams over, half under, every month: the company's
        // total is right every time.
        let miss = |d: usize, t: usize| if (d + t).is_multiple_of(2) { 0.3 } else { -0.3 };
        let (own, company) = shocks(&cells(miss));
        assert!((own - 0.09).abs() < 0.02, "own {own}");
        assert!(company < 0.01, "company {company}");
    }

    #[test]
    fn a_model_that_already_draws_the_misses_adds_no_shock() {
        // Misses of 10 % where the deal-level draws already vary 20 %.
        let mut cells = cells(|d, _| if d.is_multiple_of(2) { 0.1 } else { -0.1 });
        for c in &mut cells {
            c.variance = (0.2 * c.forecast).powi(2);
        }
        assert_eq!(shocks(&cells), (0.0, 0.0));
    }

    #[test]
    fn a_team_far_below_the_company_is_shrunk_as_a_ratio() {
        // Renewals book a seventh of what their deals forecast next
        // quarter (they close early), the company about what it forecast.
        let mut sums = BTreeMap::new();
        sums.insert(
            (COMPANY.to_owned(), 1),
            Sums::plain(2_000.0, 10_000_000.0, 9_800_000.0),
        );
        sums.insert(
            (POOLED.to_owned(), 1),
            Sums::plain(5_000.0, 20_000_000.0, 19_600_000.0),
        );
        sums.insert(
            ("renewals".to_owned(), 1),
            Sums::plain(200.0, 4_000_000.0, 560_000.0),
        );
        let table = factors(&sums).unwrap();
        let factor = table.column(CALENDAR_FACTOR).unwrap().f64().unwrap();
        let renewals = factor.get(1).unwrap();
        // Half weight each: √(0.14 · 0.98) = 0.37, where the arithmetic
        // mean (0.56) would forecast four times what they book.
        assert!((renewals - 0.37).abs() < 0.01, "{table}");
    }

    #[test]
    fn the_company_factor_leans_on_its_ratio_at_every_place_in_the_bucket_not_on_one() {
        // Few deals at the forecast date's place in the quarter, many over
        // every place, all booking half the forecast.
        let mut sums = BTreeMap::new();
        sums.insert(
            (COMPANY.to_owned(), 1),
            Sums::plain(20.0, 1_000_000.0, 500_000.0),
        );
        sums.insert(
            ("east".to_owned(), 1),
            Sums::plain(20.0, 1_000_000.0, 500_000.0),
        );
        sums.insert(
            (POOLED.to_owned(), 1),
            Sums::plain(5_000.0, 9_000_000.0, 4_500_000.0),
        );
        let table = factors(&sums).unwrap();
        let factor = table.column(CALENDAR_FACTOR).unwrap().f64().unwrap();
        let teams: Vec<Option<&str>> = table
            .column(col::TEAM)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(
            teams,
            [Some(COMPANY), Some("east")],
            "the pooled sums are not a row"
        );
        // Shrunk towards the pooled ratio (0.5 shrunk geometrically by
        // 5,000 deals: 0.514), not towards 1 (which would give 0.95).
        for f in factor.iter() {
            assert!((f.unwrap() - 0.51).abs() < 0.01, "{table}");
        }
    }
}
