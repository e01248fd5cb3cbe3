//! Forecast benchmark: the stage-weighted forecast of a pipeline Parquet
//! file per month × team × product line, timed from the scan to the
//! collected result, with the process's peak memory. Compare with
//! `baseline/forecast_query.py` (DuckDB and pandas) on the same file.
//!
//! `cargo run --release -p quotecast-benches --bin forecastbench -- --pipeline FILE [--runs R] [--python PYTHON]`
//!
//! With `--python`, the same run then starts the baseline once per engine
//! (each in its own process, so each peak memory is its own) and prints
//! the best times side by side with their ratios.
//!
//! With `--history DIR` it also measures the path a forecast job with
//! history takes (`quotecast forecast run --history DIR`: the files read
//! and checked, win rates calibrated, the team correction learned, the
//! forecast and, with `--trials`, the Monte Carlo) against the plain job
//! on the same file, and the calibration and correction alone against
//! `baseline/history_query.py` (the same joins in DuckDB SQL) when
//! `--python` is given. Its last row is the same job with history and
//! trials as a later job on the same files runs it: what the history
//! taught read back from where an earlier job kept it (see
//! `quotecast_server::learned_disk`).
use std::{path::PathBuf, time::Instant};

use anyhow::Context;
use chrono::NaiveDate;
use clap::Parser;
use quotecast_forecast::{Bucket, Dimension, forecast, rules_spec};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Args {
    /// A pipeline snapshot in Parquet (`quotecast gen-pipeline --no-history`).
    #[arg(long)]
    pipeline: PathBuf,
    #[arg(long, default_value_t = 3)]
    runs: u32,
    #[arg(long, default_value = "2026-11-20")]
    as_of: NaiveDate,
    #[arg(long, default_value = "rules")]
    rules: PathBuf,
    /// A Python with `benches/baseline/requirements.txt` installed: run
    /// the DuckDB and pandas baselines too.
    #[arg(long)]
    python: Option<PathBuf>,
    /// The pipeline's history directory: also time the forecast job with
    /// it (see the module).
    #[arg(long)]
    history: Option<PathBuf>,
    /// Monte Carlo trials of the job with history.
    #[arg(long, default_value_t = 10_000)]
    trials: u32,
    /// With `--history`: time only reading, calibrating and learning the
    /// correction (no whole jobs, no baselines).
    #[arg(long)]
    learn_only: bool,
}

/// One engine's best run and its peak memory (NaN figures for a baseline
/// that did not finish, with `why`).
struct Measured {
    engine: String,
    why: Option<String>,
    best_s: f64,
    peak_mib: f64,
    weighted: f64,
}

/// Runs the Python baseline for `engine` and reads its result lines
/// (`ENGINE run N: T s, G groups, weighted W, peak P MiB`).
fn baseline(python: &std::path::Path, args: &Args, engine: &str) -> anyhow::Result<Measured> {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("baseline/forecast_query.py");
    let output = std::process::Command::new(python)
        .arg(&script)
        .arg(&args.pipeline)
        .args(["--engine", engine, "--runs", &args.runs.to_string()])
        .args(["--as-of", &args.as_of.to_string()])
        .arg("--rules")
        .arg(&args.rules)
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    print!("{text}");
    if !output.status.success() {
        use std::os::unix::process::ExitStatusExt;
        // A killed baseline (the machine's memory ran out) is a result too.
        let why = match output.status.signal() {
            Some(9) => "killed (signal 9: out of memory?)".to_owned(),
            Some(signal) => format!("killed by signal {signal}"),
            None => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        };
        println!("{engine}: did not finish: {why}");
        return Ok(Measured {
            engine: engine.into(),
            why: Some(why),
            best_s: f64::NAN,
            peak_mib: f64::NAN,
            weighted: f64::NAN,
        });
    }
    let mut best = f64::INFINITY;
    let (mut peak, mut weighted) = (0.0f64, 0.0);
    for line in text.lines() {
        let field = |after: &str, before: &str| -> Option<f64> {
            let start = line.find(after)? + after.len();
            let rest = &line[start..];
            rest[..rest.find(before)?].trim().parse().ok()
        };
        if let Some(t) = field(": ", " s,") {
            best = best.min(t);
        }
        if let Some(p) = field("peak ", " MiB") {
            peak = peak.max(p);
        }
        if let Some(w) = field("weighted ", ", peak") {
            weighted = w;
        }
    }
    Ok(Measured {
        engine: engine.into(),
        why: None,
        best_s: best,
        peak_mib: peak,
        weighted,
    })
}

fn main() -> anyhow::Result<()> {
    // As `quotecast forecast run` does: the jobs timed are the command line's.
    quotecast_server::allocator::keep_freed_memory();
    let args = Args::parse();
    let (rules, _) = quotecast_rules::load_dir(&args.rules)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("loading rules")?;
    let mut spec = rules_spec(&rules, args.as_of, Bucket::Month);
    spec.group_by = vec![Dimension::Team, Dimension::ProductLine];
    // The baselines run first, while this process is still small: a child
    // shares the machine's memory with it.
    let others = match &args.python {
        Some(python) => Some([
            baseline(python, &args, "duckdb")?,
            baseline(python, &args, "pandas")?,
        ]),
        None => None,
    };
    let mut best = f64::INFINITY;
    let mut total = 0.0;
    for run in 1..=args.runs {
        let started = Instant::now();
        let scan = quotecast_pipeline::read::scan(&args.pipeline)?;
        let result = forecast(scan, &spec)?;
        let took = started.elapsed();
        best = best.min(took.as_secs_f64());
        let weighted: f64 = result
            .amounts
            .column("weighted")?
            .as_materialized_series()
            .sum()?;
        total = weighted;
        println!(
            "run {run}: {:.3} s, {} lines{}, {} groups, weighted {:.2}, peak {:.0} MiB",
            took.as_secs_f64(),
            result.explanation.lines,
            if result.explanation.in_opportunity_order {
                ""
            } else {
                " (not in opportunity order: counted by hashing)"
            },
            result.amounts.height(),
            weighted,
            quotecast_benches::peak_mib()
        );
    }
    if let Some(history) = &args.history {
        history_path(&args, &rules, history)?;
    }
    let Some(others) = others else {
        return Ok(());
    };
    let ours = Measured {
        engine: "quotecast (polars)".into(),
        why: None,
        best_s: best,
        peak_mib: quotecast_benches::peak_mib(),
        weighted: total,
    };
    println!("\nbest of {} runs, month × team × product line:", args.runs);
    println!(
        "{:<20} {:>9} {:>10} {:>12} {:>18}",
        "engine", "best s", "peak MiB", "vs quotecast", "weighted"
    );
    for m in std::iter::once(&ours).chain(&others) {
        if let Some(why) = &m.why {
            println!("{:<20} did not finish: {why}", m.engine);
            continue;
        }
        println!(
            "{:<20} {:>9.3} {:>10.0} {:>11.2}x {:>18.2}",
            m.engine,
            m.best_s,
            m.peak_mib,
            m.best_s / ours.best_s,
            m.weighted
        );
    }
    Ok(())
}

/// A forecast job as the CLI runs it: the snapshot read and checked, the
/// history too when given, the report with `trials`; its seconds.
fn job(
    args: &Args,
    rules: &quotecast_model::RuleSet,
    history: Option<&std::path::Path>,
    trials: u32,
) -> anyhow::Result<f64> {
    use quotecast_forecast::{forecast_report, vocabulary};
    let started = Instant::now();
    let vocabulary = vocabulary(rules);
    let snapshot = quotecast_pipeline::read::read_snapshot_noted(&args.pipeline, &vocabulary)?;
    let history = history
        .map(|dir| quotecast_pipeline::read::read_history(dir, &vocabulary))
        .transpose()?;
    let options = month_options(args, trials);
    forecast_report(snapshot.frame, history, rules, &options)?;
    Ok(started.elapsed().as_secs_f64())
}

/// A job as the benchmark runs it: month buckets, no grouping, `trials`.
fn month_options(args: &Args, trials: u32) -> quotecast_forecast::ForecastOptions {
    quotecast_forecast::ForecastOptions {
        as_of: args.as_of,
        bucket: Bucket::Month,
        group_by: Vec::new(),
        prior_strength: None,
        simulation: quotecast_forecast::Simulation {
            trials,
            ..quotecast_forecast::Simulation::default()
        },
    }
}

/// The job with history and `trials` as a later job on the same files
/// runs it: what the history taught read back from where an earlier job
/// kept it (the command line's data directory; the store is filled first,
/// untimed), then the forecast and the Monte Carlo.
fn kept_job(
    args: &Args,
    rules: &quotecast_model::RuleSet,
    history: &std::path::Path,
    trials: u32,
) -> anyhow::Result<f64> {
    use quotecast_forecast::{IntoLazy, forecast_spec, report_with_spec, rules_spec, vocabulary};
    use quotecast_server::{learned::LearnKey, learned_disk::LearnedOnDisk};
    let options = month_options(args, trials);
    let key = || LearnKey::of_forecast(&args.pipeline, history, rules, &options);
    let kept = tempfile::tempdir()?;
    let store = LearnedOnDisk::new(kept.path());
    {
        let vocabulary = vocabulary(rules);
        let snapshot = quotecast_pipeline::read::read_snapshot(&args.pipeline, &vocabulary)?;
        let read = quotecast_pipeline::read::read_history(history, &vocabulary)?;
        let learned = forecast_spec(Some(read), Some(snapshot.lazy()), rules, &options)?;
        let key = key().context("the files' versions cannot be read")?;
        store.save(&key, &learned, &[], std::time::Duration::ZERO)?;
    }
    let started = Instant::now();
    let snapshot = quotecast_pipeline::read::read_snapshot(&args.pipeline, &vocabulary(rules))?;
    let base = rules_spec(rules, args.as_of, Bucket::Month);
    let found = key()
        .and_then(|k| store.load(&k, base))
        .context("the kept learning was not found")?;
    report_with_spec(snapshot, found.value, &options)?;
    Ok(started.elapsed().as_secs_f64())
}

/// The job with history against the plain one, and its calibration and
/// correction against DuckDB's (see the module).
fn history_path(
    args: &Args,
    rules: &quotecast_model::RuleSet,
    history: &std::path::Path,
) -> anyhow::Result<()> {
    let plain = if args.learn_only {
        f64::NAN
    } else {
        job(args, rules, None, 0)?
    };
    let peak_plain = quotecast_benches::peak_mib();
    // The history read and checked, the rates calibrated and the
    // correction learned (what the DuckDB baseline does), each timed.
    let started = Instant::now();
    let vocabulary = quotecast_forecast::vocabulary(rules);
    let read = quotecast_pipeline::read::read_history(history, &vocabulary)?;
    let read_s = started.elapsed().as_secs_f64();
    let snapshot = quotecast_pipeline::read::scan(&args.pipeline)?;
    let step = Instant::now();
    let teams = std::iter::once(snapshot)
        .chain(read.snapshots.clone())
        .collect();
    // As the forecast job calibrates: the entries prepared once for
    // today's rates and the past months' the correction learns against.
    let rates_then = quotecast_forecast::RatesThen::new(
        read.stage_events,
        read.outcomes.clone(),
        teams,
        rules.stages(),
        &quotecast_forecast::Calibration {
            as_of: args.as_of,
            maturity_days: quotecast_forecast::MATURITY_DAYS,
            prior_strength: None,
        },
    )?;
    let rates = rates_then.calibrated_on(args.as_of)?;
    let calibrate_s = step.elapsed().as_secs_f64();
    let step = Instant::now();
    let mut spec = rules_spec(rules, args.as_of, Bucket::Month);
    spec.win_rates = quotecast_forecast::WinRates::Calibrated(Box::new(rates));
    if let Some(snapshots) = read.snapshots {
        quotecast_forecast::learn_correction(
            snapshots,
            read.outcomes,
            &spec,
            &quotecast_forecast::Learning {
                as_of: args.as_of,
                maturity_days: quotecast_forecast::MATURITY_DAYS,
                rates_then: Some(std::sync::Arc::new(rates_then)),
                slippage_place_days: Some(quotecast_forecast::PLACE_DAYS),
            },
        )?;
    }
    let correction_s = step.elapsed().as_secs_f64();
    let learned = started.elapsed().as_secs_f64();
    if args.learn_only {
        println!(
            "read {read_s:.2} s, calibrated {calibrate_s:.2} s, correction {correction_s:.2} s; peak {:.0} MiB",
            quotecast_benches::peak_mib()
        );
        return Ok(());
    }
    let without_trials = job(args, rules, Some(history), 0)?;
    let with_trials = job(args, rules, Some(history), args.trials)?;
    let peak = quotecast_benches::peak_mib();
    let kept = kept_job(args, rules, history, args.trials)?;
    println!(
        "\nforecast job on {} (month buckets):",
        args.pipeline.display()
    );
    println!("{:<44} {:>9} {:>10}", "", "seconds", "vs plain");
    for (name, seconds) in [
        ("plain (rules' stage rates)", plain),
        ("history: read and checked", read_s),
        ("history: win rates calibrated", calibrate_s),
        ("history: team correction learned", correction_s),
        ("history: the three together", learned),
        ("with history, no Monte Carlo", without_trials),
        (
            &*format!("with history and {} trials", args.trials),
            with_trials,
        ),
        ("the same, learning kept by an earlier job", kept),
    ] {
        println!("{name:<44} {seconds:>9.2} {:>9.1}x", seconds / plain);
    }
    println!("peak memory: {peak_plain:.0} MiB after the plain job, {peak:.0} MiB after all");
    if let Some(python) = &args.python {
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("baseline/history_query.py");
        let output = std::process::Command::new(python)
            .arg(&script)
            .arg(history)
            .args(["--runs", "3", "--as-of", &args.as_of.to_string()])
            .output()
            .with_context(|| format!("running {}", python.display()))?;
        print!("{}", String::from_utf8_lossy(&output.stdout));
        if !output.status.success() {
            println!(
                "duckdb history baseline did not finish: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
    }
    Ok(())
}
