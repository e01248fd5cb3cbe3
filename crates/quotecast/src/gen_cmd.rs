//! `quotecast gen-pipeline`: writes a seeded synthetic pipeline snapshot and
//! its history, drawn from the rules' catalog, currencies and funnel.
use std::{path::PathBuf, process::ExitCode, time::Instant};

use anyhow::{Context, anyhow};
use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use quotecast_model::{ProductKind, RuleSet, StageOutcome};
use quotecast_pipeline::{
    epoch_days,
    synthetic::{CatalogItem, CurrencyRate, Funnel, FunnelStage, GenSpec, World, generate},
    write::TableWriter,
};
use rust_decimal::prelude::ToPrimitive;

use crate::config::RulesSource;

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
    #[arg(long, value_enum, default_value_t = Format::Parquet)]
    format: Format,
    /// Directory to write pipeline.EXT and history/*.EXT into.
    #[arg(long)]
    out: PathBuf,
    /// Rules directory [default: ./rules, else the embedded example rules].
    #[arg(long)]
    rules: Option<PathBuf>,
}

/// The generator's world from the rules: the funnel, the products with a
/// list price in the corporate currency on the snapshot date, and the
/// currencies.
fn world_from_rules(rules: &RuleSet, seed: u64, as_of: NaiveDate) -> anyhow::Result<World> {
    let stage = |outcome| {
        rules
            .stages()
            .iter()
            .find(|s| s.outcome == Some(outcome))
            .map(|s| s.id.clone())
            .ok_or_else(|| {
                anyhow!("the rules define no funnel stages (rules/pipeline/stages.toml)")
            })
    };
    let funnel = Funnel {
        open: rules
            .stages()
            .iter()
            .filter(|s| s.is_open())
            .map(|s| FunnelStage {
                id: s.id.clone(),
                win_rate: s.win_rate.0.to_f64().unwrap_or(0.0) / 100.0,
                time_limit_days: s.time_limit_days.unwrap_or(30),
            })
            .collect(),
        won: stage(StageOutcome::Won)?,
        lost: stage(StageOutcome::Lost)?,
    };
    let corporate = &rules.corporate_currency().code;
    let book = rules
        .price_book_position(corporate)
        .ok_or_else(|| anyhow!("no price book in the corporate currency {corporate}"))?;
    let catalog = rules
        .products()
        .filter(|p| p.kind != ProductKind::Option)
        .filter_map(|p| {
            let price = rules.product_rules(&p.sku)?.price_on(book, as_of)?;
            Some(CatalogItem {
                sku: p.sku.clone(),
                product_line: p.product_line.clone(),
                unit_price: price.price,
                is_base: p.kind == ProductKind::Base,
            })
        })
        .collect();
    let currencies = rules
        .currencies()
        .map(|c| CurrencyRate {
            code: c.code.to_string(),
            per_corporate: c.per_corporate,
        })
        .collect();
    Ok(World::new(seed, funnel, catalog, currencies)?)
}

pub fn run(args: GenArgs) -> anyhow::Result<ExitCode> {
    let source = RulesSource::choose(args.rules);
    let (rules, _) = source
        .load()
        .with_context(|| format!("loading rules from {}", source.describe()))?;
    let world = world_from_rules(&rules, args.seed, args.as_of)?;
    let spec = GenSpec {
        seed: args.seed,
        open_opportunities: args.opportunities,
        as_of: epoch_days(args.as_of),
        history_days: args.history_days,
        with_history: !args.no_history,
        snapshots: args.snapshots,
        snapshot_every_days: args.snapshot_every_days,
    };
    let ext = match args.format {
        Format::Parquet => "parquet",
        Format::Csv => "csv",
    };
    let path = |name: &str| args.out.join(format!("{name}.{ext}"));
    let mut pipeline = TableWriter::create(&path("pipeline"))?;
    let mut history = if spec.with_history {
        Some([
            TableWriter::create(&path("history/stage_events"))?,
            TableWriter::create(&path("history/outcomes"))?,
            TableWriter::create(&path("history/snapshots"))?,
        ])
    } else {
        None
    };
    let bar = ProgressBar::new(args.opportunities).with_style(
        ProgressStyle::with_template(
            "{msg} {wide_bar} {human_pos}/{human_len} open opportunities, {eta} left",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("generating");
    let started = Instant::now();
    generate(&world, &spec, |batch| {
        pipeline.write(&batch.pipeline)?;
        if let (Some(writers), Some(h)) = (history.as_mut(), batch.history) {
            writers[0].write(&h.stage_events)?;
            writers[1].write(&h.outcomes)?;
            writers[2].write(&h.snapshots)?;
        }
        bar.inc(batch.open);
        Ok(())
    })?;
    bar.finish_and_clear();
    let rows = pipeline.finish(None)?;
    println!(
        "{}: {} open opportunities, {rows} rows (seed {}, as of {})",
        path("pipeline").display(),
        args.opportunities,
        args.seed,
        args.as_of
    );
    if let Some(writers) = history {
        for (writer, name) in writers
            .into_iter()
            .zip(["stage_events", "outcomes", "snapshots"])
        {
            let rows = writer.finish(None)?;
            println!(
                "{}: {rows} rows",
                path(&format!("history/{name}")).display()
            );
        }
    }
    println!("took {:.1} s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}
