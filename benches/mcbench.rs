//! Monte Carlo benchmark: P10 / P50 / P90 per month × team for a generated
//! pipeline of open opportunities (default 100,000) over 10,000 trials.
//!
//! `cargo run --release -p quotecast-benches --bin mcbench [-- --open N --trials T --runs R]`
use std::{path::PathBuf, time::Instant};

use anyhow::Context;
use chrono::NaiveDate;
use clap::Parser;
use polars::prelude::*;
use quotecast_forecast::{
    Bucket, Dimension, ForecastSpec, RateTable, Simulation, WinRates, forecast, simulate,
};
use quotecast_pipeline::{
    epoch_days,
    synthetic::{CatalogItem, CurrencyRate, Funnel, FunnelStage, GenSpec, World, generate},
};
use rust_decimal::Decimal;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    open: u64,
    #[arg(long, default_value_t = 10_000)]
    trials: u32,
    #[arg(long, default_value_t = 3)]
    runs: u32,
    #[arg(long, default_value = "rules")]
    rules: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (rules, _) = quotecast_rules::load_dir(&args.rules)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("loading rules")?;
    let open: Vec<FunnelStage> = rules
        .stages()
        .iter()
        .filter(|s| s.is_open())
        .map(|s| FunnelStage {
            id: s.id.clone(),
            win_rate: f64::try_from(s.win_rate.0).unwrap_or(0.0) / 100.0,
            time_limit_days: s.time_limit_days.unwrap_or(30),
        })
        .collect();
    let world = World::new(
        1,
        Funnel {
            open,
            won: "won".into(),
            lost: "lost".into(),
        },
        vec![
            CatalogItem {
                sku: "SRV-1U".into(),
                product_line: "servers".into(),
                unit_price: Decimal::new(4000, 0),
                is_base: true,
            },
            CatalogItem {
                sku: "SVC-INSTALL".into(),
                product_line: "services".into(),
                unit_price: Decimal::new(300, 0),
                is_base: false,
            },
        ],
        vec![CurrencyRate {
            code: "USD".into(),
            per_corporate: Decimal::ONE,
        }],
    )?;
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 20).context("date")?;
    let spec = GenSpec {
        seed: 1,
        open_opportunities: args.open,
        as_of: epoch_days(as_of),
        history_days: 730,
        with_history: false,
        snapshots: 0,
        snapshot_every_days: 28,
    };
    let mut frames = Vec::new();
    generate(&world, &spec, |b| {
        frames.push(b.pipeline.lazy());
        Ok(())
    })?;
    let pipeline = concat(frames, UnionArgs::default())?.collect()?;
    let spec = ForecastSpec {
        as_of,
        bucket: Bucket::Month,
        fiscal_year: quotecast_model::FiscalYear::CALENDAR,
        group_by: vec![Dimension::Team],
        rates: RateTable {
            reporting_currency: "USD".into(),
            scale: 2,
            per_reporting: vec![("USD".into(), 1.0)],
        },
        win_rates: WinRates::StageDefaults,
        stages: rules.stages().to_vec(),
        correction: None,
        new_deal_history: None,
        timing: None,
        amount_factors: None,
    };
    let weighted = forecast(pipeline.clone().lazy(), &spec)?;
    let expected: f64 = weighted
        .amounts
        .column("weighted")?
        .as_materialized_series()
        .sum()?;
    println!(
        "{} open opportunities, {} rows, {} trials, month × team, {} threads",
        args.open,
        pipeline.height(),
        args.trials,
        rayon::current_num_threads()
    );
    for run in 1..=args.runs {
        let how = Simulation {
            trials: args.trials,
            seed: u64::from(run),
            ..Simulation::default()
        };
        let started = Instant::now();
        let u = simulate(pipeline.clone().lazy(), &spec, &how)?;
        let took = started.elapsed();
        let mean: f64 = u.by_bucket.column("mean")?.as_materialized_series().sum()?;
        println!(
            "run {run}: {:.3} s, {} cells, simulated mean {:.0} vs weighted {:.0} ({:+.3} %)",
            took.as_secs_f64(),
            u.by_group.height(),
            mean,
            expected,
            (mean / expected - 1.0) * 100.0
        );
    }
    Ok(())
}
