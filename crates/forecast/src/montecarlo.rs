//! Uncertainty: a seeded Monte Carlo over the open deals.
//!
//! In each trial every open deal is won with its win probability, as a
//! whole (all its lines together); a won deal books its value (times its
//! team's accuracy factor when a correction is given) in the bucket of one
//! of its team's slippage points, drawn uniformly. With a correction,
//! deals also move together: each trial draws a multiplier per team, per
//! bucket and per team and bucket ([`crate::Shocks`], with the variances
//! the correction learned), and multiplies each won deal's value in a
//! bucket by its three. Deals already won count in every trial. Per
//! bucket and group, and per bucket over all groups, the trials give the
//! mean and the 10th, 50th and 90th percentiles (linear interpolation
//! between order statistics).
//!
//! Each trial has its own random stream derived from the seed and the
//! trial's number, so results do not depend on the number of threads.
//! A trial draws its winners with [`WinDraw`]: in time that grows with
//! the deals won, not with the deals, each won independently with its
//! probability, and with a uniform number that picks its slippage point.
use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use rayon::prelude::*;

use crate::{
    ForecastError, ForecastSpec,
    columns::{BUCKET, DEAL, HORIZON, IF_WON, POINT, PROBABILITY, SHARE},
    corrected::expected_deal_rows,
    frames::{collect_together, fixed_sum},
    new_deals::NewDealDraws,
    prepare::horizon_of,
    shocks::{ShockModel, Shocks},
    winners::{TWO_POW_32, Walk, WinDraw, Won},
};
use quotecast_pipeline::columns as col;

pub const MEAN: &str = "mean";
pub const P10: &str = "p10";
pub const P50: &str = "p50";
pub const P90: &str = "p90";
const CELL: &str = "__cell";
/// Trials per chunk of work: one block of trials drawn together.
const CHUNK: u32 = WIDE as u32;
/// The most trial × cell figures kept in memory (8 bytes each) unless the
/// job is given another [`TrialBudget`]: 512 MiB.
pub const MAX_FIGURES: u64 = 64 * 1024 * 1024;

/// How much memory a job's trials may keep; a simulation that would keep
/// more is refused before anything is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrialBudget {
    pub bytes: u64,
}

impl Default for TrialBudget {
    fn default() -> Self {
        TrialBudget {
            bytes: MAX_FIGURES * 8,
        }
    }
}

impl TrialBudget {
    /// Refuses `trials` × `cells` figures (of `what`) beyond the budget.
    pub fn check(&self, trials: u32, cells: usize, what: &str) -> Result<(), String> {
        let bytes = u64::from(trials)
            .saturating_mul(cells as u64)
            .saturating_mul(8);
        if bytes <= self.bytes {
            return Ok(());
        }
        Err(format!(
            "{trials} trials × {cells} {what} need {} MiB, more than the {} MiB a job's trials may keep (max_trial_memory): use fewer trials",
            bytes.div_ceil(1 << 20),
            self.bytes >> 20
        ))
    }
}

/// How to simulate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Simulation {
    pub trials: u32,
    pub seed: u64,
    /// Set by the caller to stop the trials early (its client went away):
    /// the simulation then ends with [`ForecastError::Cancelled`].
    pub cancel: Cancel,
    pub budget: TrialBudget,
}

/// A flag a job's owner sets to stop it; checked between chunks of work.
#[derive(Debug, Clone, Default)]
pub struct Cancel(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// [`ForecastError::Cancelled`] once the job's owner has cancelled:
    /// checked between the phases of a job (reading, calibrating,
    /// learning the correction, each backtest date).
    pub fn check(&self) -> Result<(), ForecastError> {
        match self.is_cancelled() {
            true => Err(ForecastError::Cancelled),
            false => Ok(()),
        }
    }
}

/// Flags never make two simulations differ.
impl PartialEq for Cancel {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Cancel {}

/// Monte Carlo results, in the reporting currency, rounded to its scale.
#[derive(Debug, Clone)]
pub struct Uncertainty {
    /// Per bucket and group: `mean`, `p10`, `p50`, `p90`.
    pub by_group: DataFrame,
    /// Per bucket over all groups: `mean`, `p10`, `p50`, `p90`.
    pub by_bucket: DataFrame,
    pub trials: u32,
    pub open_opportunities: u64,
}

/// The deals as the trials need them, in [`WinDraw`]'s order (deals of
/// one band of probability together, so a trial reads them front to back):
/// which win, and per deal and row what a win adds.
struct Deals {
    /// Deals of one row, no slippage and a probability above
    /// [`DENSE_FROM`]: each drawn in every trial, without a branch.
    dense: Vec<DenseDeal>,
    wins: WinDraw,
    deals: Vec<Deal>,
    /// Ordered by deal, point, line.
    rows: Vec<Row>,
    /// Open deals, those that cannot win included.
    open: u64,
    shocks: Shocks,
    /// What deals already won add to each cell in every trial.
    booked: Vec<f64>,
    /// What deals not yet in the pipeline add, drawn per trial.
    new_deals: NewDealDraws,
}

#[derive(Debug, Clone, Copy)]
struct Deal {
    /// Its rows are `rows[start..end]`.
    start: u32,
    end: u32,
    points: u32,
    /// Whether its rows are its points in order, one each (the won
    /// point's row is then found without a search).
    one_row_per_point: bool,
}

#[derive(Debug, Clone, Copy)]
struct DenseDeal {
    /// Its probability scaled to 2³².
    threshold: u32,
    cell: u32,
    value: f64,
    group: u32,
}

/// Deals of one row won this often or more are cheaper drawn one by one
/// in every trial ([`dense_deals`]) than jumped to ([`WinDraw`]): on
/// 100,000 such deals (the Monte Carlo bench) 1.7 s against 2.0 s.
const DENSE_FROM: f64 = 0.35;

#[derive(Debug, Clone, Copy)]
struct Row {
    value: f64,
    cell: u32,
    /// Its shock group (its team and bucket).
    group: u32,
    /// Its slippage point.
    point: u32,
}

/// Simulates `how.trials` outcomes of the snapshot's open deals.
pub fn simulate(
    snapshot: LazyFrame,
    spec: &ForecastSpec,
    how: &Simulation,
) -> Result<Uncertainty, ForecastError> {
    let rows = tracing::info_span!("deal_rows").in_scope(|| expected_deal_rows(snapshot, spec))?;
    simulate_rows(rows, spec, how)
}

/// [`simulate`] from the snapshot's [`expected_deal_rows`].
pub(crate) fn simulate_rows(
    rows: DataFrame,
    spec: &ForecastSpec,
    how: &Simulation,
) -> Result<Uncertainty, ForecastError> {
    let mut keys = vec![col(BUCKET)];
    keys.extend(spec.group_by.iter().map(|d| col(d.column())));
    let Trials {
        cells,
        totals,
        open,
    } = {
        // Collected (by the caller): the cells, the deals' plan and the
        // new deals' pieces all start from it, and polars computes a lazy
        // input again for each plan collected together (the plan of the
        // 200,000-deal history job took 3.7 s, then 1.8 s).
        let rows = rows.lazy();
        let new_deals = crate::new_deals::pieces(rows.clone(), spec)?;
        trials(rows, keys, how, spec, new_deals)?
    };
    let n_cells = cells.height();
    let scale = spec.rates.scale;
    let by_group = summarise(&cells, &totals, n_cells, scale)?;
    // Per bucket: add up the cells of each bucket within each trial.
    let buckets = cells.column(BUCKET)?.as_materialized_series().clone();
    let mut bucket_of = Vec::with_capacity(n_cells);
    let mut bucket_values = Vec::new();
    for i in 0..n_cells {
        let b = buckets.get(i)?.into_static();
        if bucket_values.last() != Some(&b) {
            bucket_values.push(b);
        }
        bucket_of.push(bucket_values.len() - 1);
    }
    let n_buckets = bucket_values.len();
    let mut bucket_totals = vec![0.0; how.trials as usize * n_buckets];
    for t in 0..how.trials as usize {
        for c in 0..n_cells {
            bucket_totals[t * n_buckets + bucket_of[c]] += totals[t * n_cells + c];
        }
    }
    let bucket_frame = DataFrame::new(
        n_buckets,
        vec![Series::from_any_values(BUCKET.into(), &bucket_values, true)?.into_column()],
    )?;
    let by_bucket = summarise(&bucket_frame, &bucket_totals, n_buckets, scale)?;
    Ok(Uncertainty {
        by_group: by_group.drop(CELL)?,
        by_bucket,
        trials: how.trials,
        open_opportunities: open,
    })
}

/// The outcome of each trial per cell.
pub(crate) struct Trials {
    /// One row per cell: its `keys` and [`CELL`], in key order.
    pub cells: DataFrame,
    /// Trial-major: the figure of trial `t` and cell `c` is at
    /// `t * cells.height() + c`.
    pub totals: Vec<f64>,
    /// Open deals drawn.
    pub open: u64,
}

/// Runs `how.trials` trials of the rows of [`expected_rows`] (of rows
/// with [`crate::corrected::numbered_deals`]), summed per
/// cell of `keys`, with the deals not yet in the pipeline of `new_deals`
/// (the [`crate::new_deals::pieces`] of the rows) when given.
pub(crate) fn trials(
    rows: LazyFrame,
    keys: Vec<Expr>,
    how: &Simulation,
    spec: &ForecastSpec,
    new_deals: Option<LazyFrame>,
) -> Result<Trials, ForecastError> {
    let correction = spec.correction.as_deref();
    let mut cell_keys = vec![rows.clone().select(keys.clone())];
    cell_keys.extend(new_deals.clone().map(|n| n.select(keys.clone())));
    let cells = concat(cell_keys, UnionArgs::default())?
        .unique(None, UniqueKeepStrategy::First)
        .sort_by_exprs(keys.clone(), SortMultipleOptions::default())
        .with_row_index(CELL, None);
    let ordered = rows
        .join(
            cells.clone(),
            keys.clone(),
            keys.clone(),
            JoinArgs::new(JoinType::Left),
        )
        // A deal's lines in the same cell (and slippage point) add up
        // before the trials: fewer additions per won deal.
        .group_by([col(DEAL), col(POINT), col(CELL)])
        .agg([
            col(PROBABILITY).first(),
            fixed_sum(col(IF_WON)).alias(IF_WON),
            col(SHARE).first(),
            col(col::TEAM).first(),
            col(col::STAGE).first(),
        ])
        .sort([DEAL, POINT, CELL], SortMultipleOptions::default());
    let mut plans = vec![cells.clone(), ordered];
    plans.extend(new_deals.map(|n| {
        n.join(
            cells,
            keys.clone(),
            keys.clone(),
            JoinArgs::new(JoinType::Left),
        )
        .sort([col::TEAM, BUCKET], SortMultipleOptions::default())
    }));
    let mut frames = tracing::info_span!("trial_plan")
        .in_scope(|| collect_together(plans))?
        .into_iter();
    let cells = frames.next().unwrap_or_default();
    let ordered = frames.next().unwrap_or_default();
    let new_deals = match frames.next() {
        Some(pieces) => NewDealDraws::new(&pieces, CELL)?,
        None => NewDealDraws::default(),
    };
    let n_cells = cells.height();
    how.budget
        .check(
            how.trials,
            n_cells,
            "bucket-group cells (a coarser bucket or fewer groups need fewer)",
        )
        .map_err(ForecastError::TooLarge)?;
    let horizons = cell_horizons(&cells, spec)?;
    let model = ShockModel::new(correction).with_rates(&spec.win_rates);
    let mut deals = deals(&ordered, &horizons, &model)?;
    deals.new_deals = new_deals;
    let open = deals.open;
    let chunks: Vec<u32> = (0..how.trials.div_ceil(CHUNK)).collect();
    let _span = tracing::info_span!("trials").entered();
    let results: Vec<Vec<f64>> = chunks
        .par_iter()
        .map(|&k| {
            if how.cancel.is_cancelled() {
                return Vec::new();
            }
            let trials = CHUNK.min(how.trials - k * CHUNK);
            run_chunk(&deals, n_cells, u64::from(k * CHUNK), trials, how.seed)
        })
        .collect();
    if how.cancel.is_cancelled() {
        return Err(ForecastError::Cancelled);
    }
    Ok(Trials {
        cells,
        totals: results.concat(),
        open,
    })
}

/// Each cell's horizon (0 the bucket holding the forecast date), all 0
/// when the cells have no bucket or the correction no calendar.
fn cell_horizons(cells: &DataFrame, spec: &ForecastSpec) -> Result<Vec<i32>, ForecastError> {
    let calendar = spec.correction.as_ref().map_or(0, |c| c.calendar.height());
    if calendar == 0 || cells.column(BUCKET).is_err() {
        return Ok(vec![0; cells.height()]);
    }
    let frame = cells
        .clone()
        .lazy()
        .select([horizon_of(spec).cast(DataType::Int32)])
        .collect()?;
    Ok(frame
        .column(HORIZON)?
        .i32()?
        .iter()
        .map(|h| h.unwrap_or(0))
        .collect())
}

fn deals(
    ordered: &DataFrame,
    horizons: &[i32],
    model: &ShockModel,
) -> Result<Deals, ForecastError> {
    let ids = ordered.column(DEAL)?.u32()?;
    let team_names = ordered.column(col::TEAM)?.str()?;
    let stage_names = ordered.column(col::STAGE)?.str()?;
    let cell = ordered.column(CELL)?.cast(&DataType::UInt32)?;
    let cell = cell.u32()?;
    let probability = ordered.column(PROBABILITY)?.f64()?;
    let value = ordered.column(IF_WON)?.f64()?;
    let share = ordered.column(SHARE)?.f64()?;
    let point = ordered.column(POINT)?.u32()?;
    let mut shocks = Shocks::default();
    let mut booked = vec![0.0; horizons.len()];
    // Per deal: its probability, points and first row, in row order.
    let mut found: Vec<(f64, u32, u32)> = Vec::new();
    let mut rows = Vec::new();
    let mut previous: Option<u32> = None;
    let (mut team, mut stage) = ("", "");
    for row in 0..ordered.height() {
        let id = ids.get(row);
        let p = probability.get(row).unwrap_or(0.0);
        let v = value.get(row).unwrap_or(0.0);
        let c = cell.get(row).unwrap_or(0);
        if p >= 1.0 {
            // Won for certain: its slippage points share its value.
            booked[c as usize] += v * share.get(row).unwrap_or(1.0);
            previous = None;
            continue;
        }
        if id != previous || previous.is_none() {
            let points = (1.0 / share.get(row).unwrap_or(1.0)).round().max(1.0) as u32;
            found.push((p, points, rows.len() as u32));
            team = team_names.get(row).unwrap_or("");
            stage = stage_names.get(row).unwrap_or("");
            previous = id;
        }
        let horizon = horizons.get(c as usize).copied().unwrap_or(0);
        let group = shocks.group(team, model.stage_place(stage), horizon, || {
            model.variances(team, stage, horizon)
        });
        rows.push(Row {
            value: v,
            cell: c,
            group,
            point: point.get(row).unwrap_or(0),
        });
    }
    // The deals that can win, in the order a trial draws them, each with
    // its rows.
    let rows_of = |i: usize| {
        let to = found.get(i + 1).map_or(rows.len(), |f| f.2 as usize);
        &rows[found[i].2 as usize..to]
    };
    // Per deal the probability it is jumped to with: 0 (left out) for
    // the dense ones.
    let mut dense = Vec::new();
    let mut jumped = Vec::with_capacity(found.len());
    for (i, &(p, points, _)) in found.iter().enumerate() {
        match rows_of(i) {
            [row] if points == 1 && p > DENSE_FROM => {
                dense.push(DenseDeal {
                    threshold: (p * TWO_POW_32).round().min(f64::from(u32::MAX)) as u32,
                    cell: row.cell,
                    value: row.value,
                    group: row.group,
                });
                jumped.push(0.0);
            }
            _ => jumped.push(p),
        }
    }
    let wins = WinDraw::new(jumped);
    let (mut deals, mut in_order) = (Vec::new(), Vec::new());
    for &i in wins.order() {
        let i = i as usize;
        let points = found[i].1;
        let own = rows_of(i);
        deals.push(Deal {
            start: in_order.len() as u32,
            end: (in_order.len() + own.len()) as u32,
            points,
            one_row_per_point: own.iter().map(|r| r.point).eq(0..points),
        });
        in_order.extend_from_slice(own);
    }
    Ok(Deals {
        dense,
        // The deals are stored in draw order.
        wins: wins.renumbered(),
        deals,
        rows: in_order,
        open: found.len() as u64,
        shocks,
        booked,
        new_deals: NewDealDraws::default(),
    })
}

/// The random stream of trial `t` (the demand roll-down draws its trials
/// the same way).
pub fn trial_rng(seed: u64, t: u64) -> Pcg64Mcg {
    Pcg64Mcg::seed_from_u64(seed ^ (t + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Trials drawn together: each stretch of [`STRETCH`] deals is read
/// from memory once for all of them. A trial wins about one deal in eight
/// on a typical pipeline, each reading one row of ten slippage points, so
/// a trial alone would read a new cache line for nearly every win; 128
/// trials reuse each line several times (200,000 deals, 10,000 trials,
/// stretches of 2,048 deals: 4.8 s 32 at a time, 3.6 s 128; of 512
/// deals: 3.3 s 128 or 256).
const WIDE: usize = 128;
/// Deals (in draw order) the trials of a block walk through before the
/// next stretch: 512 deals' rows, about 120 KB with ten slippage points
/// each, stay in a core's cache (3.3 s; 3.6 s with 2,048 and 3.8 s with
/// 8,192 at 128 trials).
const STRETCH: usize = 512;

/// Trials `first..first + trials`, each with its own random stream: per
/// trial its shocks, then the deals won ([`WinDraw`]) and the deals not
/// yet in the pipeline, in that order.
fn run_chunk(deals: &Deals, n_cells: usize, first: u64, trials: u32, seed: u64) -> Vec<f64> {
    let mut out = Vec::with_capacity(trials as usize * n_cells);
    let shocks = deals.shocks.vary();
    let mut m: Vec<Vec<f64>> = (0..WIDE).map(|_| vec![1.0; deals.shocks.len()]).collect();
    let mut scratch = [Vec::new(), Vec::new()];
    let mut won = Vec::new();
    let mut t = 0usize;
    while t < trials as usize {
        let width = WIDE.min(trials as usize - t);
        let mut rngs: Vec<Pcg64Mcg> = (0..width)
            .map(|j| trial_rng(seed, first + (t + j) as u64))
            .collect();
        let m = &mut m[..width];
        if shocks {
            for (rng, m) in rngs.iter_mut().zip(m.iter_mut()) {
                deals.shocks.draw(rng, &mut scratch, m);
            }
        }
        let base = out.len();
        for _ in 0..width {
            out.extend_from_slice(&deals.booked);
        }
        let block = &mut out[base..];
        let lanes = block
            .chunks_mut(4 * n_cells.max(1))
            .zip(rngs.chunks_mut(4))
            .zip(m.chunks(4));
        for ((block, rngs), m) in lanes {
            dense_deals(&deals.dense, block, rngs, m);
        }
        let mut walks: Vec<Walk> = rngs.iter_mut().map(|r| deals.wins.start(r)).collect();
        let mut end = 0;
        while end < deals.deals.len() {
            end = (end + STRETCH).min(deals.deals.len());
            let lanes = walks
                .iter_mut()
                .zip(rngs.iter_mut())
                .zip(block.chunks_exact_mut(n_cells.max(1)).zip(m.iter()));
            for ((walk, rng), (acc, m)) in lanes {
                // Winners first, then their rows: loads that do not wait
                // on the walk's arithmetic overlap in the processor.
                won.clear();
                deals.wins.walk_to(walk, rng, end, |w| won.push(w));
                for w in &won {
                    add_won(deals, w, m, acc);
                }
            }
        }
        for (rng, acc) in rngs.iter_mut().zip(block.chunks_exact_mut(n_cells.max(1))) {
            deals.new_deals.add(rng, acc);
        }
        t += width;
    }
    out
}

/// The trials of `rngs` (at most four, each lane's cells one after the
/// other in `block`) for the dense deals, each won deal's value times its
/// shock group's multiplier in its lane's `m`, added whether won or not
/// (0 when lost): no branch to mispredict. With four lanes one 64-bit
/// draw decides two trials: its halves are compared with the threshold.
fn dense_deals(dense: &[DenseDeal], block: &mut [f64], rngs: &mut [Pcg64Mcg], m: &[Vec<f64>]) {
    let n_cells = block.len() / rngs.len().max(1);
    if let ([rng_a, rng_b, _, _], [m0, m1, m2, m3]) = (&mut *rngs, m) {
        let (left, right) = block.split_at_mut(2 * n_cells);
        let (acc0, acc1) = left.split_at_mut(n_cells);
        let (acc2, acc3) = right.split_at_mut(n_cells);
        for deal in dense {
            let (c, k) = (deal.cell as usize, deal.group as usize);
            let (a, b) = (rng_a.next_u64(), rng_b.next_u64());
            let pick = |draw: u32| {
                if draw < deal.threshold {
                    deal.value
                } else {
                    0.0
                }
            };
            acc0[c] += pick(a as u32) * m0[k];
            acc1[c] += pick((a >> 32) as u32) * m1[k];
            acc2[c] += pick(b as u32) * m2[k];
            acc3[c] += pick((b >> 32) as u32) * m3[k];
        }
        return;
    }
    for deal in dense {
        let (c, k) = (deal.cell as usize, deal.group as usize);
        for (j, rng) in rngs.iter_mut().enumerate() {
            let won = (rng.next_u64() as u32) < deal.threshold;
            block[j * n_cells + c] += if won { deal.value * m[j][k] } else { 0.0 };
        }
    }
}

/// Adds the won deal's rows at the slippage point its draw picks, each
/// times its shock group's multiplier in `m`, to `acc`.
fn add_won(deals: &Deals, won: &Won, m: &[f64], acc: &mut [f64]) {
    let Some(&deal) = deals.deals.get(won.deal) else {
        return;
    };
    let rows = deals
        .rows
        .get(deal.start as usize..deal.end as usize)
        .unwrap_or_default();
    let add = |row: &Row| {
        if let (Some(total), Some(shock)) =
            (acc.get_mut(row.cell as usize), m.get(row.group as usize))
        {
            *total += row.value * shock;
        }
    };
    if deal.points <= 1 {
        rows.iter().for_each(add);
        return;
    }
    let chosen = won.point(deal.points);
    if deal.one_row_per_point {
        rows.get(chosen as usize).into_iter().for_each(add);
        return;
    }
    rows.iter().filter(|r| r.point == chosen).for_each(add);
}

/// `keys` with the mean and percentiles of each column of the trial-major
/// `totals`.
fn summarise(
    keys: &DataFrame,
    totals: &[f64],
    n_cells: usize,
    scale: u32,
) -> Result<DataFrame, ForecastError> {
    let trials = totals.len().checked_div(n_cells).unwrap_or(0);
    let mut stats: [Vec<f64>; 4] = std::array::from_fn(|_| Vec::with_capacity(n_cells));
    let mut column = Vec::with_capacity(trials);
    for c in 0..n_cells {
        column.clear();
        column.extend((0..trials).map(|t| totals[t * n_cells + c]));
        column.sort_by(f64::total_cmp);
        let mean = column.iter().sum::<f64>() / trials.max(1) as f64;
        stats[0].push(mean);
        stats[1].push(percentile(&column, 0.1));
        stats[2].push(percentile(&column, 0.5));
        stats[3].push(percentile(&column, 0.9));
    }
    let mut columns = keys.columns().to_vec();
    for (name, values) in [MEAN, P10, P50, P90].into_iter().zip(stats) {
        columns.push(Column::new(name.into(), values));
    }
    let rounded: Vec<Expr> = [MEAN, P10, P50, P90]
        .into_iter()
        .map(|c| col(c).round(scale, RoundMode::HalfToEven))
        .collect();
    Ok(DataFrame::new(n_cells, columns)?
        .lazy()
        .with_columns(rounded)
        .collect()?)
}

/// The `q` quantile of sorted values, interpolating linearly.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n => {
            let at = q * (n - 1) as f64;
            let (low, high) = (at.floor() as usize, at.ceil() as usize);
            sorted[low] + (sorted[high] - sorted[low]) * (at - low as f64)
        }
    }
}
