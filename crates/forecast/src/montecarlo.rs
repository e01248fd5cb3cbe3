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
//! Win draws compare 32 random bits with the probability scaled to 2³²
//! for deals booked in one cell (the common case; probabilities resolve to
//! 2⁻³²), 64 bits otherwise; a deal with slippage points draws one
//! 64-bit number per trial, which decides both whether it is won and
//! (where it falls below the win threshold) on which point.
use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use rayon::prelude::*;

use crate::{
    ForecastError, ForecastSpec,
    columns::{
        BUCKET, CLOSE, DEAL_FACTOR, HORIZON, IF_WON, IS_OPEN, IS_WON, POINT, PROBABILITY, SHARE,
        VALUE, WIN_RATE,
    },
    corrected::expected_rows,
    frames::{collect_together, fixed_sum},
    new_deals::NewDealDraws,
    prepare::{horizon_of, prepared},
    shocks::{ShockModel, Shocks},
};
use quotecast_pipeline::columns as col;

pub const MEAN: &str = "mean";
pub const P10: &str = "p10";
pub const P50: &str = "p50";
pub const P90: &str = "p90";
const CELL: &str = "__cell";
/// Trials per chunk of work.
const CHUNK: u32 = 50;
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

/// The deals as the trials need them: per deal its win threshold, its
/// number of slippage points and where its rows start; per row (ordered by
/// deal, point, line) its cell and value.
struct Deals {
    /// Deals with one row (no slippage, one cell): drawn without a branch.
    simple: Vec<SimpleDeal>,
    threshold: Vec<u64>,
    points: Vec<u32>,
    /// Per deal: its points over its threshold, which turns a winning
    /// draw (uniform below the threshold) into its point (see
    /// [`point_of`]).
    pick: Vec<f64>,
    /// Per deal: whether its rows are its points in order, one each (the
    /// won point's row is then found without a search).
    one_row_per_point: Vec<bool>,
    start: Vec<u32>,
    cell: Vec<u32>,
    value: Vec<f64>,
    /// Each row's slippage point.
    point: Vec<u32>,
    /// Each row's shock group (its team and bucket).
    group: Vec<u32>,
    shocks: Shocks,
    /// What deals already won add to each cell in every trial.
    booked: Vec<f64>,
    /// What deals not yet in the pipeline add, drawn per trial.
    new_deals: NewDealDraws,
}

/// Simulates `how.trials` outcomes of the snapshot's open deals.
pub fn simulate(
    snapshot: LazyFrame,
    spec: &ForecastSpec,
    how: &Simulation,
) -> Result<Uncertainty, ForecastError> {
    let (lines, _) = prepared(snapshot, spec)?;
    let mut keys = vec![col(BUCKET)];
    keys.extend(spec.group_by.iter().map(|d| col(d.column())));
    let Trials {
        cells,
        totals,
        open,
    } = {
        // Collected once: the cells, the deals' plan and the new deals'
        // pieces all start from it, and polars computes a lazy input again
        // for each plan collected together (the plan of the 200,000-deal
        // history job took 3.7 s, now 1.8 s).
        let rows = tracing::info_span!("deal_rows")
            .in_scope(|| expected_rows(deal_rows(lines, spec), spec)?.collect())?
            .lazy();
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

/// The open and won `lines` summed per deal and whatever else the
/// trials tell lines apart by (cell keys, close day, win rate), before
/// they are spread over the slippage points: a deal has several lines,
/// and each would otherwise be spread and grouped on its own.
fn deal_rows(lines: LazyFrame, spec: &ForecastSpec) -> LazyFrame {
    let mut names = vec![
        col::OPPORTUNITY_ID,
        col::TEAM,
        col::STAGE,
        col::EXPECTED_CLOSE,
        CLOSE,
        BUCKET,
        WIN_RATE,
        DEAL_FACTOR,
        IS_OPEN,
        IS_WON,
    ];
    for dimension in &spec.group_by {
        if !names.contains(&dimension.column()) {
            names.push(dimension.column());
        }
    }
    lines
        .filter(col(IS_OPEN).or(col(IS_WON)))
        .group_by(names.into_iter().map(col).collect::<Vec<_>>())
        .agg([fixed_sum(col(VALUE)).alias(VALUE)])
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

/// Runs `how.trials` trials of the rows of [`expected_rows`], summed per
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
        .group_by([col(col::OPPORTUNITY_ID), col(POINT), col(CELL)])
        .agg([
            col(PROBABILITY).first(),
            fixed_sum(col(IF_WON)).alias(IF_WON),
            col(SHARE).first(),
            col(col::TEAM).first(),
            col(col::STAGE).first(),
        ])
        .sort(
            [col::OPPORTUNITY_ID, POINT, CELL],
            SortMultipleOptions::default(),
        );
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
    let open = (deals.simple.len() + deals.threshold.len()) as u64;
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
    let ids = ordered.column(col::OPPORTUNITY_ID)?.str()?;
    let team_names = ordered.column(col::TEAM)?.str()?;
    let stage_names = ordered.column(col::STAGE)?.str()?;
    let cell = ordered.column(CELL)?.cast(&DataType::UInt32)?;
    let cell = cell.u32()?;
    let probability = ordered.column(PROBABILITY)?.f64()?;
    let value = ordered.column(IF_WON)?.f64()?;
    let share = ordered.column(SHARE)?.f64()?;
    let point = ordered.column(POINT)?.u32()?;
    let mut d = Deals {
        simple: Vec::new(),
        threshold: Vec::new(),
        points: Vec::new(),
        pick: Vec::new(),
        one_row_per_point: Vec::new(),
        start: Vec::new(),
        cell: Vec::new(),
        value: Vec::new(),
        point: Vec::new(),
        group: Vec::new(),
        shocks: Shocks::default(),
        booked: vec![0.0; horizons.len()],
        new_deals: NewDealDraws::default(),
    };
    let mut previous: Option<&str> = None;
    let (mut team, mut stage) = ("", "");
    for row in 0..ordered.height() {
        let id = ids.get(row);
        let p = probability.get(row).unwrap_or(0.0);
        let v = value.get(row).unwrap_or(0.0);
        let c = cell.get(row).unwrap_or(0);
        if p >= 1.0 {
            // Won for certain: its slippage points share its value.
            d.booked[c as usize] += v * share.get(row).unwrap_or(1.0);
            previous = None;
            continue;
        }
        if id != previous || previous.is_none() {
            d.threshold.push(threshold(p));
            d.points
                .push((1.0 / share.get(row).unwrap_or(1.0)).round().max(1.0) as u32);
            d.start.push(d.cell.len() as u32);
            team = team_names.get(row).unwrap_or("");
            stage = stage_names.get(row).unwrap_or("");
            previous = id;
        }
        let horizon = horizons.get(c as usize).copied().unwrap_or(0);
        let group = d.shocks.group(team, model.stage_place(stage), horizon, || {
            model.variances(team, stage, horizon)
        });
        d.cell.push(c);
        d.value.push(v);
        d.point.push(point.get(row).unwrap_or(0));
        d.group.push(group);
    }
    d.start.push(d.cell.len() as u32);
    Ok(split_simple(d))
}

#[derive(Clone, Copy)]
struct SimpleDeal {
    threshold: u64,
    cell: u32,
    value: f64,
    group: u32,
}

/// Moves the deals with a single row and no slippage into `simple`.
fn split_simple(d: Deals) -> Deals {
    let mut out = Deals {
        simple: Vec::new(),
        threshold: Vec::new(),
        points: Vec::new(),
        pick: Vec::new(),
        one_row_per_point: Vec::new(),
        start: Vec::new(),
        cell: Vec::new(),
        value: Vec::new(),
        point: Vec::new(),
        group: Vec::new(),
        shocks: d.shocks,
        booked: d.booked,
        new_deals: d.new_deals,
    };
    for i in 0..d.threshold.len() {
        let (from, to) = (d.start[i] as usize, d.start[i + 1] as usize);
        if to - from == 1 && d.points[i] == 1 {
            out.simple.push(SimpleDeal {
                threshold: d.threshold[i],
                cell: d.cell[from],
                value: d.value[from],
                group: d.group[from],
            });
            continue;
        }
        out.threshold.push(d.threshold[i]);
        out.points.push(d.points[i]);
        out.pick
            .push(f64::from(d.points[i]) / d.threshold[i].max(1) as f64);
        out.one_row_per_point
            .push(d.point[from..to].iter().copied().eq(0..d.points[i]));
        out.start.push(out.cell.len() as u32);
        out.cell.extend_from_slice(&d.cell[from..to]);
        out.value.extend_from_slice(&d.value[from..to]);
        out.point.extend_from_slice(&d.point[from..to]);
        out.group.extend_from_slice(&d.group[from..to]);
    }
    out.start.push(out.cell.len() as u32);
    out
}

/// `p` as a threshold on a uniform 64-bit draw.
fn threshold(p: f64) -> u64 {
    if p <= 0.0 {
        0
    } else {
        (p * 2f64.powi(64)).min(u64::MAX as f64) as u64
    }
}

/// Trials drawn side by side: independent random streams let the
/// processor overlap their work.
const LANES: usize = 4;
/// Trials that go through the deals with several rows together: a deal's
/// rows are read once for all of them (10,000 trials of 200,000 deals with
/// slippage points: 7.8 s four at a time, 5.6 s sixteen, 5.3 s 32). A
/// multiple of [`LANES`], so the simple deals' lanes stay aligned.
const WIDE: usize = 32;

/// The random stream of trial `t` (the demand roll-down draws its trials
/// the same way).
pub fn trial_rng(seed: u64, t: u64) -> Pcg64Mcg {
    Pcg64Mcg::seed_from_u64(seed ^ (t + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Trials `first..first + trials`, each with its own random stream: per
/// trial its shocks, then the simple deals, the others and the deals not
/// yet in the pipeline, in that order.
fn run_chunk(deals: &Deals, n_cells: usize, first: u64, trials: u32, seed: u64) -> Vec<f64> {
    let mut out = Vec::with_capacity(trials as usize * n_cells);
    let shocks = deals.shocks.vary();
    let mut m: Vec<Vec<f64>> = (0..WIDE).map(|_| vec![1.0; deals.shocks.len()]).collect();
    let mut scratch = [Vec::new(), Vec::new()];
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
            .chunks_mut(LANES * n_cells.max(1))
            .zip(rngs.chunks_mut(LANES))
            .zip(m.chunks(LANES));
        for ((block, rngs), m) in lanes {
            simple_deals(deals, block, rngs, m);
        }
        general_deals(deals, block, &mut rngs, m);
        for (j, rng) in rngs.iter_mut().enumerate() {
            deals
                .new_deals
                .add(rng, &mut block[j * n_cells..(j + 1) * n_cells]);
        }
        t += width;
    }
    out
}

/// The trials of `rngs` (at most [`LANES`], each lane's cells one after
/// the other in `block`) for the deals with one row, each won deal's value
/// times its shock group's multiplier in its lane's `m`. With four lanes
/// one 64-bit draw decides two trials: its halves are compared with the
/// 32-bit threshold.
fn simple_deals(deals: &Deals, block: &mut [f64], rngs: &mut [Pcg64Mcg], m: &[Vec<f64>]) {
    let n_cells = block.len() / rngs.len().max(1);
    if let ([rng_a, rng_b, _, _], [m0, m1, m2, m3]) = (&mut *rngs, m) {
        let (left, right) = block.split_at_mut(2 * n_cells);
        let (acc0, acc1) = left.split_at_mut(n_cells);
        let (acc2, acc3) = right.split_at_mut(n_cells);
        for deal in &deals.simple {
            let (c, k) = (deal.cell as usize, deal.group as usize);
            let threshold = (deal.threshold >> 32) as u32;
            let (a, b) = (rng_a.next_u64(), rng_b.next_u64());
            let pick = |draw: u32| if draw < threshold { deal.value } else { 0.0 };
            acc0[c] += pick(a as u32) * m0[k];
            acc1[c] += pick((a >> 32) as u32) * m1[k];
            acc2[c] += pick(b as u32) * m2[k];
            acc3[c] += pick((b >> 32) as u32) * m3[k];
        }
        return;
    }
    for deal in &deals.simple {
        let (c, k) = (deal.cell as usize, deal.group as usize);
        for (j, rng) in rngs.iter_mut().enumerate() {
            let won = rng.next_u64() < deal.threshold;
            block[j * n_cells + c] += if won { deal.value * m[j][k] } else { 0.0 };
        }
    }
}

/// The trials of `rngs` (one per lane, each lane's cells one after the
/// other in `block`) for the deals with several rows or slippage points,
/// each won row's value times its shock group's multiplier in its lane's
/// `m`. The lanes go through the deals together, so a deal's rows are
/// read once for all of them; each lane draws one number per deal from
/// its own stream, as it would alone: the deal is won when the draw is
/// below its threshold, and that draw also picks the slippage point the
/// win lands on ([`point_of`]). A deal whose rows are its points adds its
/// won point's row without a branch (a zero where it lost), where a
/// second draw for the point and a search of the rows took longer.
fn general_deals(deals: &Deals, block: &mut [f64], rngs: &mut [Pcg64Mcg], m: &[Vec<f64>]) {
    let n_cells = block.len() / rngs.len().max(1);
    if n_cells == 0 {
        return;
    }
    for (i, &threshold) in deals.threshold.iter().enumerate() {
        let (from, to) = (deals.start[i] as usize, deals.start[i + 1] as usize);
        let (points, pick) = (deals.points[i], deals.pick[i]);
        let (cells, values, groups) = (
            &deals.cell[from..to],
            &deals.value[from..to],
            &deals.group[from..to],
        );
        let lanes = rngs.iter_mut().zip(block.chunks_exact_mut(n_cells)).zip(m);
        if deals.one_row_per_point[i] {
            for ((rng, acc), m) in lanes {
                let draw = rng.next_u64();
                let r = point_of(draw, pick, points) as usize;
                let won = f64::from(u8::from(draw < threshold));
                let (Some(&c), Some(&v), Some(&k)) = (cells.get(r), values.get(r), groups.get(r))
                else {
                    continue;
                };
                if let (Some(total), Some(shock)) = (acc.get_mut(c as usize), m.get(k as usize)) {
                    *total += won * v * shock;
                }
            }
            continue;
        }
        let points_of_rows = &deals.point[from..to];
        for ((rng, acc), m) in lanes {
            let draw = rng.next_u64();
            if draw >= threshold {
                continue;
            }
            let chosen = point_of(draw, pick, points);
            for (r, &point) in points_of_rows.iter().enumerate() {
                if points == 1 || point == chosen {
                    acc[cells[r] as usize] += values[r] * m[groups[r] as usize];
                }
            }
        }
    }
}

/// The slippage point (of `points`) a winning `draw` lands on: a draw
/// below the deal's threshold is uniform there, so where it falls in that
/// range, cut in `points` equal parts, is a uniform point independent of
/// the win (`pick` is points over threshold). A losing draw gives some
/// point, unused.
fn point_of(draw: u64, pick: f64, points: u32) -> u32 {
    // Float to integer casts saturate: a draw far above the threshold
    // gives the last point.
    ((draw as f64 * pick) as u32).min(points.saturating_sub(1))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_winning_draw_lands_on_each_slippage_point_equally_often() {
        for (p, points) in [(0.3, 3u32), (0.9, 5), (1e-6, 2), (0.5, 1)] {
            let threshold = threshold(p);
            let pick = f64::from(points) / threshold as f64;
            // Winning draws spread evenly below the threshold, as uniform
            // draws that won are.
            let n = 60_000u64;
            let mut landed = vec![0u64; points as usize];
            for k in 0..n {
                let draw =
                    ((u128::from(threshold) * u128::from(2 * k + 1)) / u128::from(2 * n)) as u64;
                assert!(draw < threshold);
                landed[point_of(draw, pick, points) as usize] += 1;
            }
            let each = n / u64::from(points);
            for count in &landed {
                assert!(count.abs_diff(each) <= 1, "{p} over {points}: {landed:?}");
            }
        }
        // A deal that cannot win (its pick as `split_simple` makes it), or
        // a draw at the very top, still names one of the deal's points.
        for pick in [4.0, 4.0 / threshold(0.999_999) as f64] {
            for draw in [0, 1 << 40, u64::MAX] {
                assert!(point_of(draw, pick, 4) < 4);
            }
        }
    }
}
