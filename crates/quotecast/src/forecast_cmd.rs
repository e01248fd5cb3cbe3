//! `quotecast forecast run`: an analyst's batch job over a pipeline file —
//! the stage-weighted forecast per bucket and grouping, written to Parquet
//! or CSV, with a readable summary and the overdue deals.
use std::{fmt::Write as _, io::Write, path::PathBuf, process::ExitCode, time::Instant};

use anyhow::{Context, anyhow};
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use quotecast_forecast::{
    Bucket, Correction, DataFrame, Dimension, ForecastOptions, ForecastReport, ForecastSpec,
    IntoLazy, Simulation, Uncertainty, WinRates, forecast_spec, report_with_spec, rules_spec,
};
use quotecast_model::RuleSet;
use quotecast_pipeline::write::write_table;
use quotecast_server::learned::LearnKey;

use crate::config::RulesSource;

#[derive(Subcommand)]
pub enum ForecastCommand {
    /// The stage-weighted forecast of a pipeline snapshot.
    Run(RunArgs),
    /// Score the forecast models on past snapshots against what closed.
    Backtest(crate::backtest_cmd::BacktestArgs),
    /// Stage-to-stage conversion and days in stage per team, and where
    /// each team leaks against the company.
    Funnel(crate::funnel_cmd::FunnelArgs),
}

#[derive(Args)]
pub struct RunArgs {
    /// The pipeline snapshot (.parquet or .csv), one row per opportunity line.
    #[arg(long)]
    pipeline: PathBuf,
    /// Period buckets: week, month or quarter.
    #[arg(long, default_value = "month", value_parser = parse_bucket)]
    bucket: Bucket,
    /// Group by any of team, region, owner, product_line, sku
    /// (comma-separated).
    #[arg(long, value_delimiter = ',', value_parser = parse_dimension)]
    by: Vec<Dimension>,
    /// The day the forecast is made [default: today].
    #[arg(long, value_parser = crate::inputs::parse_date)]
    as_of: Option<NaiveDate>,
    /// Calibrate win rates per team and stage from this history directory
    /// (stage_events and outcomes, as `gen-pipeline` writes them) instead
    /// of using the rules' stage defaults.
    #[arg(long)]
    history: Option<PathBuf>,
    /// Prior strength of the company rate when calibrating, for every
    /// stage [default: estimated per stage from the spread between teams].
    #[arg(long)]
    prior_strength: Option<f64>,
    /// Data directory: what a history taught is kept in its `learned/`
    /// and reused by later jobs on the same files, rules, as-of date and
    /// bucket [default: ./data].
    #[arg(long, env = "QUOTECAST_DATA")]
    data: Option<PathBuf>,
    /// Learn from the history again even where a kept result matches (and
    /// keep the new one).
    #[arg(long, requires = "history")]
    relearn: bool,
    /// Monte Carlo trials for P10 / P50 / P90 per bucket and group (0: none).
    #[arg(long, default_value_t = 10_000)]
    trials: u32,
    /// Seed of the Monte Carlo: the same seed gives the same percentiles.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the forecast (.parquet or .csv); quantities per SKU go next to
    /// it as NAME.quantities.EXT, overdue deals as NAME.overdue.EXT and the
    /// Monte Carlo percentiles as NAME.uncertainty.EXT.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Draw the P10–P90 fan chart per bucket (all groups) as SVG; needs
    /// --trials above 0.
    #[arg(long)]
    chart: Option<PathBuf>,
    /// Rules directory [default: ./rules, else the embedded example rules].
    #[arg(long)]
    rules: Option<PathBuf>,
}

pub fn parse_bucket(word: &str) -> Result<Bucket, String> {
    Bucket::parse(word).ok_or_else(|| format!("`{word}` is not week, month or quarter"))
}

fn parse_dimension(word: &str) -> Result<Dimension, String> {
    Dimension::parse(word)
        .ok_or_else(|| format!("`{word}` is not one of team, region, owner, product_line, sku"))
}

pub fn run(command: ForecastCommand) -> anyhow::Result<ExitCode> {
    match command {
        ForecastCommand::Run(args) => run_forecast(args),
        ForecastCommand::Backtest(args) => crate::backtest_cmd::run(args),
        ForecastCommand::Funnel(args) => crate::funnel_cmd::run(args),
    }
}

/// The rules, which must define the funnel.
pub fn funnel_rules(dir: Option<PathBuf>) -> anyhow::Result<RuleSet> {
    let source = RulesSource::choose(dir);
    let (rules, _) = source
        .load()
        .with_context(|| format!("loading rules from {}", source.describe()))?;
    if rules.stages().is_empty() {
        return Err(anyhow!(
            "the rules in {} define no funnel stages",
            source.describe()
        ));
    }
    Ok(rules)
}

fn run_forecast(args: RunArgs) -> anyhow::Result<ExitCode> {
    let rules = funnel_rules(args.rules.clone())?;
    if args.chart.is_some() && args.trials == 0 {
        anyhow::bail!("--chart draws the Monte Carlo percentiles: give --trials above 0");
    }
    let started = Instant::now();
    let snapshot = crate::inputs::read_pipeline(&args.pipeline, &rules)?;
    let read_took = started.elapsed();
    let as_of = crate::inputs::as_of(args.as_of, Some((&args.pipeline, &rules)))?;
    let options = ForecastOptions {
        as_of,
        bucket: args.bucket,
        group_by: args.by.clone(),
        prior_strength: args.prior_strength,
        simulation: Simulation {
            trials: args.trials,
            seed: args.seed,
            ..Simulation::default()
        },
    };
    let learned = match args.history.as_deref() {
        None => forecast_spec(None, Some(snapshot.clone().lazy()), &rules, &options)?,
        Some(dir) => crate::kept::learned(
            LearnKey::of_forecast(&args.pipeline, dir, &rules, &options),
            || rules_spec(&rules, options.as_of, options.bucket),
            dir,
            &rules,
            &crate::kept::Keeping::new(args.data.clone(), args.relearn),
            |history| {
                let snapshot = Some(snapshot.clone().lazy());
                Ok(forecast_spec(Some(history), snapshot, &rules, &options)?)
            },
        )?,
    };
    let report = report_with_spec(snapshot, learned, &options)?;
    let took = started.elapsed();
    let mut out = String::new();
    write_inputs(&mut out, &args, &report, &rules)?;
    if let Some(c) = &report.spec.correction {
        write_correction(&mut out, c, &report.spec)?;
    } else if let Some(new_deals) = &report.spec.new_deal_history {
        writeln!(
            out,
            "new deals from stage entries (per team and horizon, 0 the {} holding the forecast date, over past days a week apart: pipeline_share the share of what was won after a day in that horizon by deals that had entered a stage by then, not_yet_in_pipeline what the others booked there on average (the forecast's new_deals), not_yet_in_pipeline_sd how much that varied (drawn by the Monte Carlo)):",
            report.spec.bucket
        )?;
        out.push_str(&table(new_deals, 60)?);
        if let Some(timing) = &report.spec.timing {
            writeln!(
                out,
                "\nwhen open deals close (per stage, `*` all stages: the days from a past day to the close of each deal won after it, in the stage it was in that day, past days a week apart and at least a year old (in a younger history at least 8 weeks old, each lead weighted by the inverse share of days old enough to show it); point k is the (10k + 5)th percentile, each carrying a tenth of a deal's expected value, counted from the forecast date):"
            )?;
            out.push_str(&table(timing, 120)?);
        }
        if let Some(factors) = &report.spec.amount_factors {
            writeln!(
                out,
                "\nwhat stated amounts book (per team, `*` the company: the won deals of today's snapshot whose bookings the outcomes hold, their value as stated and as booked; amount_factor the team's booked over stated shrunk to the company's by deals, on open deals' value in `expected_bookings`):"
            )?;
            out.push_str(&table(factors, 40)?);
        }
        writeln!(
            out,
            "\n`weighted` is the forecast of today's pipeline at its stated close dates, `new_deals` what deals not yet in it are expected to book, `expected_bookings` today's pipeline when its stages say it closes (times what its stated amounts book) plus `new_deals`\n"
        )?;
    }
    out.push_str(&table(&report.forecast.amounts, 40)?);
    if let Some(u) = &report.uncertainty {
        write_uncertainty(&mut out, u, &report.spec, args.seed)?;
    }
    write_overdue(&mut out, &report)?;
    if let Some(path) = &args.out {
        write_files(&mut out, path, &report)?;
    }
    if let (Some(path), Some(u)) = (&args.chart, &report.uncertainty) {
        draw_chart(&mut out, path, u, &report.spec)?;
    }
    writeln!(
        out,
        "took {:.2} s (reading and checking {:.2} s)",
        took.as_secs_f64(),
        read_took.as_secs_f64()
    )?;
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// What was read and the win rates used: the counts of lines and deals,
/// the rates per open stage (and per team when calibrated), the history's
/// notes and the reporting currency.
fn write_inputs(
    out: &mut String,
    args: &RunArgs,
    report: &ForecastReport,
    rules: &RuleSet,
) -> anyhow::Result<()> {
    let spec = &report.spec;
    let e = &report.forecast.explanation;
    writeln!(
        out,
        "{}: {} lines, {} open opportunities ({} past their expected close, counted in the current {}), {} won, {} lost or omitted left out",
        args.pipeline.display(),
        e.lines,
        e.open_opportunities,
        e.past_due_moved,
        spec.bucket,
        e.won_opportunities,
        e.left_out_opportunities
    )?;
    let rates: Vec<String> = e
        .win_rates
        .iter()
        .filter(|(id, _)| rules.stage(id).is_some_and(|s| s.is_open()))
        .map(|(id, p)| format!("{id} {:.0} %", p * 100.0))
        .collect();
    writeln!(
        out,
        "win rates ({}): {}",
        e.win_rate_source,
        rates.join(", ")
    )?;
    if let WinRates::Calibrated(r) = &spec.win_rates {
        writeln!(
            out,
            "calibrated win rates per team and stage on entering it (entries made by the as-of date, decided or not, and wins among them; evidence = decided entries the estimate is worth, open ones counted for the days they have been open; team_rate raw, calibrated shrunk to company_rate):"
        )?;
        out.push_str(&table(&r.on_entering()?, 60)?);
        writeln!(
            out,
            "company win rates by days in stage (deals still in the stage that many days after entering it; each team's rate moves with the company's, shrunk as above; --out writes every team's):"
        )?;
        out.push_str(&table(&r.company_by_days_in_stage()?, 120)?);
    }
    for note in &report.notes {
        writeln!(out, "note: {note}")?;
    }
    writeln!(
        out,
        "as of {}, amounts in {} (expected values, rounded to {} decimals)\n",
        spec.as_of, spec.rates.reporting_currency, spec.rates.scale
    )?;
    Ok(())
}

/// The learned correction, each part with what it means: team accuracy,
/// the team shock, the calendar, slippage, close-date and size factors.
fn write_correction(out: &mut String, c: &Correction, spec: &ForecastSpec) -> anyhow::Result<()> {
    let days: Vec<String> = c.snapshots_used.iter().map(|d| d.to_string()).collect();
    writeln!(
        out,
        "team accuracy (realised / forecast on {} past snapshots: {}), shrunk to the company ratio by credibility:",
        days.len(),
        days.join(", ")
    )?;
    out.push_str(&table(&c.accuracy, 40)?);
    writeln!(
        out,
        "a team's deals move together by a shock of relative variance {:.4} per period (what its realised over forecast varied between snapshots beyond its deals' own wins and losses); the Monte Carlo draws it, and each factor_variance, per team and trial",
        c.shock_variance
    )?;
    if c.calendar.height() > 0 {
        writeln!(
            out,
            "\ncalendar (per team and horizon, 0 the {} holding the forecast date: what past snapshots' deals booked there over the corrected forecast; calendar_factor shrunk to the company's `*` by deals, the company's to its ratio over snapshots at every place in their bucket, that to 1; pipeline_share the share of all bookings after past snapshots in that horizon that deals open on them made, not_yet_in_pipeline what deals not open on them booked there, per snapshot on average (the forecast's new_deals), not_yet_in_pipeline_sd how much that varied (drawn by the Monte Carlo); shock_variance the relative variance of a multiplier a team's deals share in one bucket of that horizon, drawn per team, bucket and trial):",
            spec.bucket
        )?;
        out.push_str(&table(&c.calendar, 60)?);
    }
    writeln!(
        out,
        "\nslippage (won deals' closes against their stated date, per team, the stage they were in and within it the band of days to that date (`negotiate 15-45`); `*` is the company or all stages; a deal takes the first of team, stage and band; company, stage and band; team and stage; company and stage; team; company with 40 won observations; anchor: what a level's points count from, the stated close (plus a delay), the forecast date (plus a lead) or the end of its quarter (deals held for a quarter-end push), whichever held its won deals' closes tightest):"
    )?;
    out.push_str(&table(&c.slippage, 60)?);
    if c.close_factors.height() > 0 {
        writeln!(
            out,
            "\nclose dates (per stage and days from the snapshot to the stated close: what past snapshots' deals realised over their win rates' forecast, over all deals' ratio; close_factor, shrunk to 1 by deals, multiplies the win probability of today's deals in that stage and band):"
        )?;
        out.push_str(&table(&c.close_factors, 40)?);
    }
    if c.size_factors.height() > 0 {
        writeln!(
            out,
            "\ndeal size (per team, `*` the company, and size: small below the company's median deal, large from its 90th percentile, size_from in {}; ratio = realised over forecast against the team's all-size ratio; size_factor, weighted by credibility towards the company's and the company's towards 1 (all 1 where sizes convert alike), multiplies the win probability of today's deals of that team and size):",
            spec.rates.reporting_currency
        )?;
        out.push_str(&table(&c.size_factors, 40)?);
    }
    writeln!(
        out,
        "\n`weighted` is the raw forecast, `corrected` applies each deal's close-date and size factors, its team's factor and slippage; `new_deals` is what deals not yet in the pipeline are expected to book (the calendar's not_yet_in_pipeline per team), `expected_bookings` the two together\n"
    )?;
    Ok(())
}

/// The Monte Carlo's percentiles per bucket, all groups together.
fn write_uncertainty(
    out: &mut String,
    u: &Uncertainty,
    spec: &ForecastSpec,
    seed: u64,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "\nuncertainty: {} trials (seed {}) over {} open opportunities, each won whole with its win probability{}; per {}, all groups:",
        u.trials,
        seed,
        u.open_opportunities,
        if spec.correction.is_some() {
            ", booking its corrected value in a bucket drawn from its team's slippage, and each team's new deals per bucket drawn from their history (mean = expected_bookings)"
        } else if spec.new_deal_history.is_some() {
            ", and each team's new deals per bucket drawn from what the history's stage entries show (mean = expected_bookings)"
        } else {
            ""
        },
        spec.bucket
    )?;
    out.push_str(&table(&u.by_bucket, 40)?);
    Ok(())
}

/// The overdue deals counted per owner, most first.
fn write_overdue(out: &mut String, report: &ForecastReport) -> anyhow::Result<()> {
    writeln!(
        out,
        "\noverdue: {} opportunities past their stage's time limit; by owner, most first:",
        report.overdue.height()
    )?;
    let by_count = report.overdue_by_owner.sort(
        ["overdue", "owner"],
        polars::prelude::SortMultipleOptions::default().with_order_descending_multi([true, false]),
    )?;
    out.push_str(&table(&by_count, 10)?);
    Ok(())
}

/// The forecast at `path` and its sibling tables (quantities, overdue,
/// uncertainty, calibrated win rates), saying what was written.
fn write_files(
    out: &mut String,
    path: &std::path::Path,
    report: &ForecastReport,
) -> anyhow::Result<()> {
    let sibling = |kind: &str| sibling(path, kind);
    write_table(path, &report.forecast.amounts)?;
    write_table(&sibling("quantities"), &report.forecast.quantities)?;
    write_table(&sibling("overdue"), &report.overdue)?;
    if let Some(u) = &report.uncertainty {
        write_table(&sibling("uncertainty"), &u.by_group)?;
    }
    if let WinRates::Calibrated(r) = &report.spec.win_rates {
        write_table(&sibling("win_rates"), &r.table)?;
        writeln!(
            out,
            "\nwrote {} (every team's calibrated rate per stage and days in stage)",
            sibling("win_rates").display()
        )?;
    }
    writeln!(
        out,
        "\nwrote {}, {}, {}{}",
        path.display(),
        sibling("quantities").display(),
        sibling("overdue").display(),
        if report.uncertainty.is_some() {
            format!(" and {}", sibling("uncertainty").display())
        } else {
            String::new()
        }
    )?;
    Ok(())
}

/// The P10–P90 fan chart per bucket at `path`.
fn draw_chart(
    out: &mut String,
    path: &std::path::Path,
    u: &Uncertainty,
    spec: &ForecastSpec,
) -> anyhow::Result<()> {
    let title = format!(
        "Forecast as of {}: {} per {}, P10–P90 of {} trials",
        spec.as_of, spec.rates.reporting_currency, spec.bucket, u.trials
    );
    crate::chart::fan_chart(
        path,
        &title,
        &spec.rates.reporting_currency,
        &crate::chart::fan_points(&u.by_bucket)?,
    )?;
    writeln!(out, "drew {}", path.display())?;
    Ok(())
}

/// NAME.KIND.EXT next to NAME.EXT.
pub fn sibling(path: &std::path::Path, kind: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{stem}.{kind}.{ext}"))
}

/// A plain-text table of the first `limit` rows, numbers right-aligned.
pub fn table(frame: &DataFrame, limit: usize) -> anyhow::Result<String> {
    let columns = frame.columns();
    let rows = frame.height().min(limit);
    let cells: Vec<Vec<String>> = columns
        .iter()
        .map(|c| {
            let mut cells = vec![c.name().to_string()];
            for r in 0..rows {
                let value = c.get(r)?;
                cells.push(match value {
                    polars::prelude::AnyValue::Float64(v) => format!("{v:.2}"),
                    polars::prelude::AnyValue::Null => String::new(),
                    other => other.str_value().into_owned(),
                });
            }
            Ok(cells)
        })
        .collect::<anyhow::Result<_>>()?;
    let numeric: Vec<bool> = columns
        .iter()
        .map(|c| c.dtype().is_primitive_numeric())
        .collect();
    let widths: Vec<usize> = cells
        .iter()
        .map(|c| c.iter().map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in 0..=rows {
        let line: Vec<String> = cells
            .iter()
            .zip(&widths)
            .zip(&numeric)
            .map(|((c, &w), &n)| {
                if n {
                    format!("{:>w$}", c[r])
                } else {
                    format!("{:<w$}", c[r])
                }
            })
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    if frame.height() > rows {
        writeln!(out, "... {} more rows", frame.height() - rows)?;
    }
    Ok(out)
}
