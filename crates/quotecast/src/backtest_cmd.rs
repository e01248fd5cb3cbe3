//! `quotecast forecast backtest`: the forecast models scored on past
//! snapshots against what their deals actually booked.
use std::{fmt::Write as _, io::Write, path::PathBuf, process::ExitCode, time::Instant};

use chrono::NaiveDate;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use quotecast_forecast::{BacktestOptions, Bucket, backtest_report};
use quotecast_pipeline::write::write_table;

use crate::forecast_cmd::{funnel_rules, parse_bucket, sibling, table};

#[derive(Args)]
pub struct BacktestArgs {
    /// The history directory (stage_events, outcomes and snapshots, as
    /// `gen-pipeline` writes them).
    #[arg(long)]
    history: PathBuf,
    /// Period buckets: week, month or quarter.
    #[arg(long, default_value = "month", value_parser = parse_bucket)]
    bucket: Bucket,
    /// Buckets scored from each snapshot date, its own first.
    #[arg(long, default_value_t = 3)]
    horizon: u32,
    /// Today: outcomes up to here are known [default: today].
    #[arg(long, value_parser = crate::inputs::parse_date)]
    as_of: Option<NaiveDate>,
    /// Prior strength of the company rate when calibrating, for every
    /// stage [default: estimated per stage from the spread between teams].
    #[arg(long)]
    prior_strength: Option<f64>,
    /// Monte Carlo trials per snapshot date for the calibrated and
    /// corrected models' range scores (coverage, CRPS); 0: none.
    #[arg(long, default_value_t = 500)]
    trials: u32,
    /// Write the scores per date (.parquet or .csv); the summary, the
    /// scores per horizon, the reliability table and every scored cell
    /// (date, model, bucket, team: forecast, actual, P10, P50, P90) go
    /// next to it as NAME.summary.EXT, NAME.horizon.EXT,
    /// NAME.reliability.EXT and NAME.cells.EXT.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Rules directory [default: ./rules, else the embedded example rules].
    #[arg(long)]
    rules: Option<PathBuf>,
}

pub fn run(args: BacktestArgs) -> anyhow::Result<ExitCode> {
    let rules = funnel_rules(args.rules)?;
    let started = Instant::now();
    let history = crate::inputs::read_history_dir(&args.history, &rules)?;
    if history.snapshots.is_none() {
        anyhow::bail!(
            "{}: no snapshots file (past pipeline snapshots are what the backtest forecasts from)",
            args.history.display()
        );
    }
    let as_of = crate::inputs::as_of(args.as_of, None)?;
    let how = BacktestOptions {
        as_of,
        bucket: args.bucket,
        horizon: args.horizon,
        prior_strength: args.prior_strength,
        trials: args.trials,
        cancel: Default::default(),
    };
    let spinner = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.set_message("calibrating, learning and forecasting on every past snapshot");
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let result = backtest_report(history, &rules, &how);
    spinner.finish_and_clear();
    let result = result?;
    let mut out = String::new();
    let days: Vec<String> = result.dates.iter().map(|d| d.to_string()).collect();
    writeln!(
        out,
        "backtest on {} past snapshots ({}), each scored over {} {}s from its date, in {}:",
        days.len(),
        days.join(", "),
        how.horizon,
        how.bucket,
        rules.corporate_currency().code
    )?;
    if rules.fiscal_year() != quotecast_model::FiscalYear::CALENDAR {
        writeln!(
            out,
            "  quarters: those of a fiscal year starting in {} (the rules' fiscal_year_start), named by their first day",
            rules.fiscal_year()
        )?;
    }
    writeln!(
        out,
        "  rules: the rules' stage win rates; calibrated: win rates from the history known on the date;\n  corrected: calibrated, with each deal's close-date and size factors, its team's accuracy factor,\n  its slippage and its team's calendar factor;\n  baselines: pipeline_ratio (per team and horizon, booked per unit of open amount on past snapshots,\n  times today's), same_point_of_quarter (the same from snapshots at the same point of their quarter),\n  last_year (what the pipeline of a year before booked); all scored against what the deals open on\n  the date booked;\n  with_new_deals: corrected plus what deals not yet in the pipeline booked on past snapshots, and the\n  baselines ending in _all counting every booking after past snapshots, and last_bucket_all (each\n  team's last {0} again): scored against everything booked after the date (new deals too),\n  fva_vs_best_baseline against the best _all baseline\n  wape = Σ|forecast − actual| / Σ actual per {} × team; bias = Σ(forecast − actual) / Σ actual;\n  crps = continuous ranked probability score / Σ actual (a point forecast's is its wape);\n  coverage = share of cells whose actual fell within P10–P90 / P5–P95 ({} trials per date);\n  brier = mean (win probability − won)² per deal; fva_points = the rules' wape less the model's, × 100;\n  fva_vs_best_baseline = the best baseline's wape less the model's, × 100\n",
        how.bucket, how.trials
    )?;
    out.push_str(&table(&result.summary, 20)?);
    writeln!(
        out,
        "\nper horizon (0: the bucket holding the snapshot date):"
    )?;
    out.push_str(&table(&result.by_horizon, 60)?);
    writeln!(out, "\nper snapshot date:")?;
    out.push_str(&table(&result.by_date, 60)?);
    writeln!(
        out,
        "\nreliability (deals binned by the win probability they were given):"
    )?;
    out.push_str(&table(&result.reliability, 40)?);
    if let Some(path) = &args.out {
        write_table(path, &result.by_date)?;
        write_table(&sibling(path, "summary"), &result.summary)?;
        write_table(&sibling(path, "horizon"), &result.by_horizon)?;
        write_table(&sibling(path, "reliability"), &result.reliability)?;
        write_table(&sibling(path, "cells"), &result.cells)?;
        writeln!(
            out,
            "\nwrote {}, {}, {}, {} and {}",
            path.display(),
            sibling(path, "summary").display(),
            sibling(path, "horizon").display(),
            sibling(path, "reliability").display(),
            sibling(path, "cells").display()
        )?;
    }
    writeln!(out, "took {:.2} s", started.elapsed().as_secs_f64())?;
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
