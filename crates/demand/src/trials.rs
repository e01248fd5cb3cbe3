//! Component demand: expected, and over Monte Carlo trials.
//!
//! Each (SKU, bucket) cell is exploded once into the planned items it
//! uses and the buckets they are needed in. Expected demand is then a sum
//! over cells. A trial draws which deals win (whole, each with its
//! probability, at one of its slippage points;
//! [`quotecast_forecast::WinDraw`] draws them in time that grows with the
//! winners, not the deals) and every option mix, adds up the won quantity
//! per cell, and explodes the same way; trial `t` draws from its
//! own stream seeded by `(seed, t)`, so results do not depend on threads.
//! Every item's trial series comes from the same cell totals, so items
//! used by the same products stay correlated.
use std::collections::BTreeMap;

use chrono::NaiveDate;
use quotecast_forecast::{percentile as quantile, trial_rng};
use quotecast_model::Supply;
use rand_pcg::Pcg64Mcg;
use rayon::prelude::*;

use crate::{
    Capacity, ComponentDemand, DemandError, PlanOptions,
    calendar::Placement,
    cash::{add_payments, cash_in},
    prepare::{NO_SLOT, Prepared},
    structure::{Node, Structure},
};

/// The most (cell, day) uses kept while exploding per cell (for the Monte
/// Carlo and pegging), about 24 bytes each.
pub const MAX_ENTRIES: usize = 30_000_000;

/// One use of an item by a cell: `per` units per unit of the cell, in
/// `bucket` (`past_due` when needed before the plan date).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub cell: u32,
    pub per: f64,
    pub bucket: u32,
    pub past_due: bool,
}

/// Per-item statistics the MRP needs.
#[derive(Debug, Clone, Default)]
pub(crate) struct ItemStats {
    pub cumulative_lead_days: u32,
    pub window_mean: f64,
    pub window_percentiles: [f64; 3],
    pub suggested: f64,
    pub textbook: f64,
}

pub(crate) struct Demand {
    pub rows: Vec<crate::ComponentDemand>,
    pub capacity: Vec<Capacity>,
    pub cash: Vec<crate::CashIn>,
    /// Per node: its uses by cells, by bucket, each bucket's in cell order
    /// (empty for nodes no cell reaches; all empty when the structure has
    /// more than [`MAX_ENTRIES`] uses).
    pub entries: Vec<Vec<Entry>>,
    /// Why uses per cell were not kept (no pegging), if they were not.
    pub without_cells: Option<String>,
    /// Per node with trials: demand over its cumulative lead time.
    pub stats: BTreeMap<u32, ItemStats>,
}

/// What one trial draws besides the deals: the option mix and the shock
/// groups' multipliers (with the team and bucket draws behind them).
#[derive(Default)]
struct Draws {
    mix: Vec<f64>,
    shocks: Vec<f64>,
    shared: [Vec<f64>; 2],
}

/// The won quantity per cell and the cash per bucket in one trial.
fn trial(p: &Prepared, rng: &mut Pcg64Mcg, draws: &mut Draws, acc: &mut [f64], cash: &mut [f64]) {
    p.mix.draw(rng, &mut draws.mix);
    p.shocks.draw(rng, &mut draws.shared, &mut draws.shocks);
    let (mix, m) = (&draws.mix, &draws.shocks);
    p.wins.draw(rng, |won| {
        let Some(deal) = p.deals.get(won.deal) else {
            return;
        };
        let point = won.point(deal.points);
        add_payments(
            &p.payments[deal.pay_start as usize..deal.pay_end as usize],
            point,
            m,
            cash,
        );
        for row in &p.rows[deal.start as usize..deal.end as usize] {
            if row.point != point {
                continue;
            }
            let units = if row.slot == NO_SLOT {
                1.0
            } else {
                mix[row.slot as usize]
            };
            acc[row.cell as usize] += row.quantity * units * m[row.group as usize];
        }
    });
}

/// The standard normal quantile (Acklam's rational approximation,
/// relative error below 1.2e-9).
pub(crate) fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Every cell's uses, per planned item, merged by (cell, bucket): the
/// sum over every BOM path of the units one unit of the cell needs, each
/// path offset by the lead times above it.
///
/// Computed level by level (low-level codes: every parent before its
/// components) rather than path by path, so a structure with many shared
/// paths costs its edges × the distinct (cell, day) pairs reaching each
/// node, not the number of paths. The same figures as walking each path:
/// a BOM line counts when in force on the day its parent is needed.
///
/// `None` when they would be more than [`MAX_ENTRIES`]: a structure with
/// that many distinct uses is planned on expected values alone.
pub(crate) fn entries(
    s: &Structure<'_>,
    p: &Prepared,
    options: &PlanOptions,
) -> Option<Vec<Vec<Entry>>> {
    let calendar = &options.calendar;
    let mut out: Vec<Vec<Entry>> = vec![Vec::new(); s.len()];
    let mut held = 0usize;
    // Per node, uses still to pass on: (cell, day needed, units).
    let mut pending: Vec<Vec<(u32, NaiveDate, f64)>> = vec![Vec::new(); s.len()];
    for (cell, &(node, bucket)) in p.cells.iter().enumerate() {
        pending[node as usize].push((cell as u32, calendar.need_date(bucket), 1.0));
    }
    for &n in &s.order {
        let mut uses = std::mem::take(&mut pending[n as usize]);
        if uses.is_empty() {
            continue;
        }
        uses.sort_by_key(|u| (u.0, u.1));
        uses.dedup_by(|later, first| {
            let same = (later.0, later.1) == (first.0, first.1);
            if same {
                first.2 += later.2;
            }
            same
        });
        if s.is_planned(n) {
            let entries = &mut out[n as usize];
            for &(cell, day, per) in &uses {
                let (bucket, past_due) = match calendar.place(day) {
                    Placement::PastDue => (0, true),
                    Placement::In(b) => (b as u32, false),
                    Placement::Beyond => continue,
                };
                match entries.last_mut() {
                    Some(e) if e.cell == cell && e.bucket == bucket && e.past_due == past_due => {
                        e.per += per;
                    }
                    _ => entries.push(Entry {
                        cell,
                        per,
                        bucket,
                        past_due,
                    }),
                }
            }
        }
        // The day work on `n` starts for each use, once for all children.
        let starts: Vec<NaiveDate> = uses.iter().map(|u| s.start_of(n, u.1)).collect();
        for child in &s.children[n as usize] {
            let target = &mut pending[child.node as usize];
            for (&(cell, day, per), &start) in uses.iter().zip(&starts) {
                if child.effective.contains(day) {
                    target.push((cell, start, per * child.per));
                }
            }
            held += uses.len();
        }
        held += out[n as usize].len();
        if held > MAX_ENTRIES {
            return None;
        }
    }
    Some(out)
}

/// Expected demand per planned item and bucket, (expected, past due),
/// propagated level by level by day without following cells: what a
/// structure too large for [`entries`] is planned with.
pub(crate) fn expected_by_day(
    s: &Structure<'_>,
    p: &Prepared,
    options: &PlanOptions,
) -> Vec<Vec<(usize, f64, f64)>> {
    let calendar = &options.calendar;
    let mut out: Vec<Vec<(usize, f64, f64)>> = vec![Vec::new(); s.len()];
    let mut pending: Vec<Vec<(NaiveDate, f64)>> = vec![Vec::new(); s.len()];
    for (&(node, bucket), &qty) in p.cells.iter().zip(&p.expected_cells) {
        if qty > 0.0 {
            pending[node as usize].push((calendar.need_date(bucket), qty));
        }
    }
    // The nodes of one low-level code pass uses only to deeper ones:
    // each merges its uses by day in parallel, then they are passed on
    // node by node in planning order (the same sums in the same order).
    for level in s.levels() {
        let taken: Vec<(Node, Vec<(NaiveDate, f64)>)> = level
            .iter()
            .map(|&n| (n, std::mem::take(&mut pending[n as usize])))
            .filter(|(_, uses)| !uses.is_empty())
            .collect();
        let merged: Vec<Merged> = taken
            .into_par_iter()
            .map(|(n, mut uses)| {
                uses.sort_by_key(|u| u.0);
                uses.dedup_by(|later, first| {
                    let same = later.0 == first.0;
                    if same {
                        first.1 += later.1;
                    }
                    same
                });
                let rows = if s.is_planned(n) {
                    by_bucket(calendar, &uses)
                } else {
                    Vec::new()
                };
                let starts = uses.iter().map(|u| s.start_of(n, u.0)).collect();
                (n, uses, starts, rows)
            })
            .collect();
        for (n, uses, starts, rows) in merged {
            out[n as usize] = rows;
            for child in &s.children[n as usize] {
                let target = &mut pending[child.node as usize];
                for (&(day, qty), &start) in uses.iter().zip(&starts) {
                    if child.effective.contains(day) {
                        target.push((start, qty * child.per));
                    }
                }
            }
        }
    }
    out
}

/// A node's uses merged by day, the day work on it starts for each, and
/// its demand rows by bucket.
type Merged = (
    Node,
    Vec<(NaiveDate, f64)>,
    Vec<NaiveDate>,
    Vec<(usize, f64, f64)>,
);

/// A node's uses by day (in day order) summed per bucket: (bucket,
/// expected, past due part); days beyond the horizon left out.
fn by_bucket(calendar: &crate::Calendar, uses: &[(NaiveDate, f64)]) -> Vec<(usize, f64, f64)> {
    let mut rows: Vec<(usize, f64, f64)> = Vec::new();
    for &(day, qty) in uses {
        let (bucket, past_due) = match calendar.place(day) {
            Placement::PastDue => (0, qty),
            Placement::In(b) => (b, 0.0),
            Placement::Beyond => continue,
        };
        match rows.last_mut() {
            Some(r) if r.0 == bucket => {
                r.1 += qty;
                r.2 += past_due;
            }
            _ => rows.push((bucket, qty, past_due)),
        }
    }
    rows
}

/// What the trials drew, trial-major.
pub(crate) struct Trials {
    /// Won quantity of cell `c` in trial `t` at `t × cells + c`.
    pub cells: Vec<f64>,
    /// Cash in bucket `b` in trial `t` at `t × buckets + b`.
    pub cash: Vec<f64>,
}

fn run_trials(p: &Prepared, options: &PlanOptions) -> Result<Trials, DemandError> {
    let n_cells = p.cells.len();
    let buckets = options.calendar.buckets();
    options
        .budget
        .check(
            options.trials,
            n_cells + buckets,
            "SKU-bucket and cash cells (a shorter horizon needs fewer)",
        )
        .map_err(DemandError::TooLarge)?;
    let trials = options.trials as usize;
    // A trial's cells in a chunk of at least one figure (chunks of none
    // cannot be split), unused when there are no cells.
    let mut cells = vec![0.0; trials * n_cells.max(1)];
    let mut cash = vec![0.0; trials * buckets.max(1)];
    cells
        .par_chunks_mut(n_cells.max(1))
        .zip(cash.par_chunks_mut(buckets.max(1)))
        .enumerate()
        .for_each_init(Draws::default, |draws, (t, (acc, cash))| {
            if options.cancel.is_cancelled() {
                return;
            }
            let mut rng = trial_rng(options.seed, t as u64);
            trial(p, &mut rng, draws, acc, cash);
        });
    if options.cancel.is_cancelled() {
        return Err(DemandError::Cancelled);
    }
    cells.truncate(trials * n_cells);
    Ok(Trials { cells, cash })
}

/// The trial series (trial-major, `buckets` per trial) of a set of entries.
fn series(
    entries: &[Entry],
    totals: &[f64],
    n_cells: usize,
    trials: usize,
    buckets: usize,
) -> Vec<f64> {
    let mut out = vec![0.0; trials * buckets];
    for t in 0..trials {
        let cells = &totals[t * n_cells..(t + 1) * n_cells];
        let row = &mut out[t * buckets..(t + 1) * buckets];
        for e in entries {
            row[e.bucket as usize] += cells[e.cell as usize] * e.per;
        }
    }
    out
}

/// P10/P50/P90 of bucket `b` of a series.
pub(crate) fn bucket_percentiles(
    series: &[f64],
    trials: usize,
    buckets: usize,
    b: usize,
    scratch: &mut Vec<f64>,
) -> [f64; 3] {
    scratch.clear();
    scratch.extend((0..trials).map(|t| series[t * buckets + b]));
    scratch.sort_by(f64::total_cmp);
    [
        quantile(scratch, 0.1),
        quantile(scratch, 0.5),
        quantile(scratch, 0.9),
    ]
}

/// Expected demand per entry set and bucket: (expected, past due part).
fn expected_by_bucket(entries: &[Entry], cells: &[f64], buckets: usize) -> Vec<(f64, f64)> {
    let mut out = vec![(0.0, 0.0); buckets];
    for e in entries {
        let q = cells[e.cell as usize] * e.per;
        out[e.bucket as usize].0 += q;
        if e.past_due {
            out[e.bucket as usize].1 += q;
        }
    }
    out
}

pub(crate) fn component_demand(
    s: &Structure<'_>,
    p: &Prepared,
    options: &PlanOptions,
) -> Result<Demand, DemandError> {
    let calendar = &options.calendar;
    let buckets = calendar.buckets();
    let trials = options.trials as usize;
    let n_cells = p.cells.len();
    // Without trials or pegging nothing follows a cell through the
    // structure: demand is exploded by day, as a larger one is.
    if trials == 0 && !options.pegging {
        return Ok(expected_only(s, p, options, None));
    }
    let Some(mut entries) = entries(s, p, options) else {
        if trials > 0 {
            return Err(DemandError::TooLarge(format!(
                "the structure has more than {MAX_ENTRIES} distinct uses of items by SKU-bucket cells: plan it without trials"
            )));
        }
        return Ok(expected_only(
            s,
            p,
            options,
            Some(format!(
                "more than {MAX_ENTRIES} distinct uses of items by SKU-bucket cells: demand is expected values only and orders are not pegged"
            )),
        ));
    };
    // By bucket, for pegging's windows of buckets. The sort is stable and
    // a node's uses come in cell order, so every bucket's uses keep the
    // order they are summed in.
    entries
        .par_iter_mut()
        .for_each(|uses| uses.sort_by_key(|e| e.bucket));
    let expected_cells = &p.expected_cells;
    let Trials {
        cells: totals,
        cash,
    } = run_trials(p, options)?;
    let clt = s.cumulative_lead_days();
    let z = normal_quantile(options.service_level);
    let nodes: Vec<u32> = (0..s.len() as u32)
        .filter(|&n| !entries[n as usize].is_empty())
        .collect();
    let per_item: Vec<(Vec<ComponentDemand>, Option<ItemStats>)> = nodes
        .par_iter()
        .map(|&n| {
            let e = &entries[n as usize];
            let expected = expected_by_bucket(e, expected_cells, buckets);
            let series = (trials > 0).then(|| series(e, &totals, n_cells, trials, buckets));
            let mut scratch = Vec::with_capacity(trials);
            let mut rows = Vec::new();
            for (b, &(mean, past_due)) in expected.iter().enumerate() {
                let percentiles = series
                    .as_ref()
                    .map(|sr| bucket_percentiles(sr, trials, buckets, b, &mut scratch));
                if mean <= 0.0 && percentiles.is_none_or(|q| q[2] <= 0.0) {
                    continue;
                }
                rows.push(ComponentDemand {
                    item: s.names[n as usize].clone(),
                    bucket: calendar.start(b),
                    expected: mean,
                    past_due,
                    percentiles,
                });
            }
            let stats = series.map(|sr| {
                window_stats(
                    &sr,
                    trials,
                    buckets,
                    clt[n as usize],
                    calendar,
                    z,
                    options.service_level,
                )
            });
            (rows, stats)
        })
        .collect();
    let mut rows = Vec::new();
    let mut stats = BTreeMap::new();
    for (&n, (r, st)) in nodes.iter().zip(per_item) {
        rows.extend(r);
        if let Some(st) = st {
            stats.insert(n, st);
        }
    }
    let capacity = capacity(s, &entries, expected_cells, &totals, options);
    Ok(Demand {
        rows,
        capacity,
        cash: cash_in(p, &cash, options),
        entries,
        without_cells: None,
        stats,
    })
}

/// Component demand and capacity from expected values alone; `note`
/// says why, when it leaves out what was asked for.
pub(crate) fn expected_only(
    s: &Structure<'_>,
    p: &Prepared,
    options: &PlanOptions,
    note: Option<String>,
) -> Demand {
    let calendar = &options.calendar;
    let by_node = expected_by_day(s, p, options);
    let mut rows = Vec::new();
    let mut hours: BTreeMap<(&str, usize), f64> = BTreeMap::new();
    for (n, buckets) in by_node.iter().enumerate() {
        let item = s.item(n as u32);
        for &(b, mean, past_due) in buckets {
            if mean <= 0.0 {
                continue;
            }
            rows.push(ComponentDemand {
                item: s.names[n].clone(),
                bucket: calendar.start(b),
                expected: mean,
                past_due,
                percentiles: None,
            });
            if let Some(i) = item
                && i.supply == Supply::Service
                && let Some(skill) = &i.skill
            {
                *hours.entry((skill.as_str(), b)).or_default() += mean;
            }
        }
    }
    Demand {
        rows,
        capacity: hours
            .into_iter()
            .map(|((skill, b), h)| Capacity {
                skill: skill.to_owned(),
                bucket: calendar.start(b),
                expected_hours: h,
                p90_hours: None,
            })
            .collect(),
        cash: cash_in(p, &[], options),
        entries: vec![Vec::new(); s.len()],
        without_cells: note,
        stats: BTreeMap::new(),
    }
}

/// Demand over the cumulative lead time from the plan date: the buckets
/// starting before `as_of + clt` (the first always).
#[allow(clippy::too_many_arguments)]
fn window_stats(
    series: &[f64],
    trials: usize,
    buckets: usize,
    clt: u32,
    calendar: &crate::Calendar,
    z: f64,
    service_level: f64,
) -> ItemStats {
    let end = calendar
        .as_of
        .checked_add_days(chrono::Days::new(u64::from(clt)))
        .unwrap_or(calendar.as_of);
    let window = (1..buckets)
        .take_while(|&b| calendar.start(b) < end)
        .count()
        + 1;
    let mut sums: Vec<f64> = (0..trials)
        .map(|t| series[t * buckets..t * buckets + window].iter().sum())
        .collect();
    sums.sort_by(f64::total_cmp);
    let mean = sums.iter().sum::<f64>() / trials.max(1) as f64;
    // σ of one bucket's demand, averaged (as variance) over the window.
    let mut variance = 0.0;
    for b in 0..window {
        let m = (0..trials).map(|t| series[t * buckets + b]).sum::<f64>() / trials.max(1) as f64;
        variance += (0..trials)
            .map(|t| (series[t * buckets + b] - m).powi(2))
            .sum::<f64>()
            / (trials.max(2) - 1) as f64;
    }
    let sigma = (variance / window as f64).sqrt();
    let lead_buckets = f64::from(clt) / calendar.period.days();
    ItemStats {
        cumulative_lead_days: clt,
        window_mean: mean,
        window_percentiles: [
            quantile(&sums, 0.1),
            quantile(&sums, 0.5),
            quantile(&sums, 0.9),
        ],
        suggested: (quantile(&sums, service_level) - mean).max(0.0),
        textbook: z * sigma * lead_buckets.sqrt(),
    }
}

/// Service hours per skill and bucket: expected, and the P90 of the
/// skill's total (its items summed within each trial).
fn capacity(
    s: &Structure<'_>,
    entries: &[Vec<Entry>],
    expected_cells: &[f64],
    totals: &[f64],
    options: &PlanOptions,
) -> Vec<Capacity> {
    let buckets = options.calendar.buckets();
    let trials = options.trials as usize;
    let mut by_skill: BTreeMap<&str, Vec<Entry>> = BTreeMap::new();
    for (n, uses) in entries.iter().enumerate() {
        if let Some(item) = s.item(n as u32)
            && item.supply == Supply::Service
            && let Some(skill) = &item.skill
        {
            by_skill.entry(skill).or_default().extend(uses);
        }
    }
    let mut out = Vec::new();
    let mut scratch = Vec::new();
    for (skill, e) in by_skill {
        let expected = expected_by_bucket(&e, expected_cells, buckets);
        let sr = (trials > 0).then(|| series(&e, totals, expected_cells.len(), trials, buckets));
        for (b, &(mean, _)) in expected.iter().enumerate() {
            if mean <= 0.0 {
                continue;
            }
            out.push(Capacity {
                skill: skill.to_owned(),
                bucket: options.calendar.start(b),
                expected_hours: mean,
                p90_hours: sr
                    .as_ref()
                    .map(|sr| bucket_percentiles(sr, trials, buckets, b, &mut scratch)[2]),
            });
        }
    }
    out
}

/// A trial's won quantities per cell, for tests of the draws.
#[cfg(test)]
pub(crate) fn trial_totals(p: &Prepared, options: &PlanOptions) -> Result<Vec<f64>, DemandError> {
    Ok(run_trials(p, options)?.cells)
}

#[cfg(test)]
pub(crate) fn item_series(
    s: &Structure<'_>,
    p: &Prepared,
    options: &PlanOptions,
    totals: &[f64],
    item: &str,
) -> Vec<f64> {
    let e = entries(s, p, options).unwrap_or_default();
    let n = s.node(item).map_or(0, |n| n as usize);
    series(
        &e[n],
        totals,
        p.cells.len(),
        options.trials as usize,
        options.calendar.buckets(),
    )
}
