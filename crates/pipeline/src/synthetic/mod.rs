//! `quotecast gen-pipeline`: a seeded, reproducible synthetic pipeline
//! with a known truth.
//!
//! The generating process (see also README "Synthetic pipelines"):
//! 1. Six teams in three regions (each region sells in its currency) get
//!    their hidden habits from the seed: a *skill* multiplying the
//!    company's chance of moving a deal to the next stage, an *optimism*
//!    of 0 to 35 days by which their expected close dates run early, and
//!    an *amount bias* of −5 % to +30 % on stated amounts.
//! 2. The company's chance of moving on from stage s is the ratio of the
//!    rules' default win rates of s and of the next stage, so an average
//!    team wins as the rules say.
//! 3. Each opportunity is created on a uniform day in the history window,
//!    spends an exponential number of days in each open stage (means 14,
//!    20, 20, 15, 10), then moves on with its team's chance, halved if it
//!    outstayed the stage's time limit (stale deals win less), or is lost.
//!    Lines: one base product (quantity 1 + exponential, mean 20 for
//!    enterprise and 5 for commercial teams) and up to two services or
//!    accessories, at list less 0–20 %, in the team's currency. About
//!    40 % of the deals for a configurable base carry a configuration:
//!    its option lines (base units × option units, at the base line's
//!    discount) from a pool of valid, complete configurations drawn
//!    through the configurator by the rules' attach rates
//!    (`configure.rs`; each deal picks from its own stream, so the other
//!    figures do not change with it).
//! 4. The owner's expected close date is the decision day less the team's
//!    optimism (± 7 days); once that date has passed while the deal is
//!    still open, the owner pushes it 1 to 14 days ahead (slippage).
//! 5. With the shifting shape ([`Shape::shifting`]), each team's chances
//!    drift over the history window (half the teams improve, half
//!    decline) and half the deals won in the first three weeks of a
//!    quarter are pulled into the last days of the quarter before.
//! 6. The stream of opportunities runs until the snapshot holds the asked
//!    number of open ones. The snapshot (as of `as_of`) holds them plus
//!    the deals closed since the start of the quarter; the history holds
//!    every stage change and outcome up to `as_of` and past snapshots
//!    every `snapshot_every_days`.
//!
//! The stream is cut into chunks, each with its own random stream derived
//! from the seed and the chunk's number, so the output does not depend on
//! the number of threads.
mod configure;
mod from_rules;
mod inventory;
mod simulate;
mod tables;
mod world;

use rand::SeedableRng;
use rand_pcg::Pcg64;
use rayon::prelude::*;

use polars::prelude::DataFrame;

pub use from_rules::write_dir;
pub use inventory::{inventory_for, write_inventory};
pub use world::{CatalogItem, CurrencyRate, Funnel, FunnelStage, STALE_FACTOR, Shape, Team, World};

use crate::PipelineError;
use simulate::{SimOpportunity, simulate};
use tables::{HistoryRows, SnapshotRows};

/// Candidates simulated per chunk.
const CHUNK: u64 = 100_000;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenSpec {
    pub seed: u64,
    /// Open opportunities in the snapshot.
    pub open_opportunities: u64,
    /// Days since 1970-01-01 of the snapshot.
    pub as_of: i32,
    /// Opportunities are created up to this many days before `as_of`.
    pub history_days: u32,
    /// Write stage events, outcomes and past snapshots.
    pub with_history: bool,
    /// Past snapshots: how many, and how many days apart.
    pub snapshots: u32,
    pub snapshot_every_days: u32,
}

/// One chunk's share of every table, in stream order.
pub struct Batch {
    pub pipeline: DataFrame,
    /// Open opportunities in `pipeline`.
    pub open: u64,
    pub history: Option<HistoryBatch>,
}

pub struct HistoryBatch {
    pub stage_events: DataFrame,
    pub outcomes: DataFrame,
    pub snapshots: DataFrame,
}

/// Runs the generator, handing each chunk's tables to `sink` in order.
pub fn generate(
    world: &World,
    spec: &GenSpec,
    mut sink: impl FnMut(Batch) -> Result<(), PipelineError>,
) -> Result<(), PipelineError> {
    if spec.open_opportunities == 0 {
        return Ok(());
    }
    let wave = (rayon::current_num_threads() * 2) as u64;
    let mut open = 0u64;
    let mut next_chunk = 0u64;
    loop {
        let chunks: Vec<u64> = (next_chunk..next_chunk + wave).collect();
        next_chunk += wave;
        let batches: Vec<Result<Batch, PipelineError>> = chunks
            .par_iter()
            .map(|&k| run_chunk(world, spec, k, None))
            .collect();
        for (k, batch) in chunks.into_iter().zip(batches) {
            let batch = batch?;
            let left = spec.open_opportunities - open;
            if batch.open >= left {
                // The last chunk: run it again, stopping at the last open
                // opportunity needed.
                return sink(run_chunk(world, spec, k, Some(left))?);
            }
            open += batch.open;
            sink(batch)?;
        }
        if next_chunk > 1_000_000 {
            return Err(PipelineError::Generator(
                "too few opportunities stay open: lengthen the history window".into(),
            ));
        }
    }
}

/// Chunk `k` of the stream, stopping after `limit` open opportunities.
fn run_chunk(
    world: &World,
    spec: &GenSpec,
    k: u64,
    limit: Option<u64>,
) -> Result<Batch, PipelineError> {
    let mut rng = Pcg64::seed_from_u64(spec.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ k);
    let created_from = spec.as_of - spec.history_days as i32;
    let quarter_start = quarter_start(spec.as_of);
    let snapshot_days: Vec<i32> = (1..=spec.snapshots)
        .map(|i| spec.as_of - (i * spec.snapshot_every_days) as i32)
        .collect();
    let mut pipeline = SnapshotRows::default();
    let mut snapshots = SnapshotRows::default();
    let mut history = HistoryRows::default();
    let mut open = 0u64;
    for i in 0..CHUNK {
        if limit.is_some_and(|l| open >= l) {
            break;
        }
        let o: SimOpportunity = simulate(world, &mut rng, k * CHUNK + i, created_from, spec.as_of);
        let is_open = o.open_on(spec.as_of);
        if is_open || o.decided >= quarter_start {
            pipeline.add(world, &o, spec.as_of);
        }
        open += u64::from(is_open);
        if spec.with_history {
            history.add(world, &o, spec.as_of);
            for &day in &snapshot_days {
                if o.open_on(day) {
                    snapshots.add(world, &o, day);
                }
            }
        }
    }
    let history = if spec.with_history {
        let (stage_events, outcomes) = history.into_frames()?;
        Some(HistoryBatch {
            stage_events,
            outcomes,
            snapshots: snapshots.into_frame(true)?,
        })
    } else {
        None
    };
    Ok(Batch {
        pipeline: pipeline.into_frame(false)?,
        open,
        history,
    })
}

/// The first day of the calendar quarter holding `day`.
pub(crate) fn quarter_start(day: i32) -> i32 {
    use chrono::{Datelike, NaiveDate};
    let date = crate::from_epoch_days(day);
    NaiveDate::from_ymd_opt(date.year(), date.month0() / 3 * 3 + 1, 1)
        .map_or(day, crate::epoch_days)
}
