//! `quotecast gen-pipeline`: writes a seeded synthetic pipeline snapshot and
//! its history, drawn from the rules' catalog, currencies and funnel.
use std::{path::PathBuf, process::ExitCode, time::Instant};

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use quotecast_pipeline::{
    epoch_days,
    synthetic::{GenSpec, Shape, World, inventory_for, write_dir, write_inventory},
    write::FileFormat,
};

use crate::config::RulesSource;

/// How the synthetic organisation changes over time.
#[derive(Clone, Copy, ValueEnum)]
enum ShapeArg {
    /// Teams keep their habits.
    Steady,
    /// Teams drift (half improve, half decline, 10-25 % per stage over the
    /// history) and half the deals won early in a quarter are pushed into
    /// the quarter before's last days.
    Shifting,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Parquet,
    Csv,
}

#[derive(Args)]
pub struct GenArgs {
    /// Open opportunities in the snapshot.
    #[arg(long, default_value_t = 10_000)]
    opportunities: u64,
    /// Seed of every random draw: the same seed and settings give the same
    /// files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The snapshot's date (YYYY-MM-DD).
    #[arg(long, default_value = "2026-11-20")]
    as_of: NaiveDate,
    /// Opportunities are created up to this many days before --as-of.
    #[arg(long, default_value_t = 730)]
    history_days: u32,
    /// Past snapshots in the history, and the days between them.
    #[arg(long, default_value_t = 24)]
    snapshots: u32,
    #[arg(long, default_value_t = 28)]
    snapshot_every_days: u32,
    /// Write only the snapshot, no history.
    #[arg(long)]
    no_history: bool,
    /// How the organisation changes over the history window.
    #[arg(long, value_enum, default_value_t = ShapeArg::Steady)]
    shape: ShapeArg,
    #[arg(long, value_enum, default_value_t = Format::Parquet)]
    format: Format,
    /// Directory to write pipeline.EXT, history/*.EXT and (when the rules
    /// plan items) inventory/{on_hand,receipts}.csv into.
    #[arg(long)]
    out: PathBuf,
    /// Rules directory [default: ./rules, else the embedded example rules].
    #[arg(long)]
    rules: Option<PathBuf>,
}

pub fn run(args: GenArgs) -> anyhow::Result<ExitCode> {
    let source = RulesSource::choose(args.rules);
    let (rules, _) = source
        .load()
        .with_context(|| format!("loading rules from {}", source.describe()))?;
    let mut world = World::from_rules(&rules, args.seed, args.as_of)?;
    if let ShapeArg::Shifting = args.shape {
        let teams = world.teams.len();
        world = world.with_shape(Shape::shifting(args.seed, teams));
    }
    let spec = GenSpec {
        seed: args.seed,
        open_opportunities: args.opportunities,
        as_of: epoch_days(args.as_of),
        history_days: args.history_days,
        with_history: !args.no_history,
        snapshots: args.snapshots,
        snapshot_every_days: args.snapshot_every_days,
    };
    let format = match args.format {
        Format::Parquet => FileFormat::Parquet,
        Format::Csv => FileFormat::Csv,
    };
    let bar = ProgressBar::new(args.opportunities).with_style(
        ProgressStyle::with_template(
            "{msg} {wide_bar} {human_pos}/{human_len} open opportunities, {eta} left",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("generating");
    let started = Instant::now();
    let written = write_dir(&world, &spec, &args.out, format, |open| bar.inc(open))?;
    bar.finish_and_clear();
    println!(
        "{}: {} open opportunities, {} rows (seed {}, as of {})",
        written[0].0.display(),
        args.opportunities,
        written[0].1,
        args.seed,
        args.as_of
    );
    for (path, rows) in &written[1..] {
        println!("{}: {rows} rows", path.display());
    }
    if !rules.planning().items.is_empty() {
        let state = inventory_for(&rules, args.seed, args.as_of);
        let dir = args.out.join("inventory");
        write_inventory(&dir, &state)?;
        println!(
            "{}: on hand of {} items, {} open receipts",
            dir.display(),
            state.on_hand.len(),
            state.receipts.len()
        );
    }
    println!("took {:.1} s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}
