//! `quotecast forecast funnel`: stage-to-stage conversion and days in
//! stage per team against the company, and where each team leaks.
use std::{fmt::Write as _, io::Write, path::PathBuf, process::ExitCode, time::Instant};

use chrono::NaiveDate;
use clap::Args;
use quotecast_forecast::{MATURITY_DAYS, funnel_report};
use quotecast_pipeline::write::write_table;

use crate::forecast_cmd::{funnel_rules, sibling, table};

#[derive(Args)]
pub struct FunnelArgs {
    /// The history directory (stage_events and outcomes, as `gen-pipeline`
    /// writes them).
    #[arg(long)]
    history: PathBuf,
    /// Today [default: today]; entries younger than 180 days are left out.
    #[arg(long, value_parser = crate::inputs::parse_date)]
    as_of: Option<NaiveDate>,
    /// Write the funnel per team and stage (.parquet or .csv); the company
    /// funnel and the leaks go next to it as NAME.company.EXT and
    /// NAME.leaks.EXT.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Draw the company funnel (deals entering each stage, conversion,
    /// days in stage) as SVG.
    #[arg(long)]
    chart: Option<PathBuf>,
    /// Rules directory [default: ./rules, else the embedded example rules].
    #[arg(long)]
    rules: Option<PathBuf>,
}

pub fn run(args: FunnelArgs) -> anyhow::Result<ExitCode> {
    let rules = funnel_rules(args.rules)?;
    let started = Instant::now();
    let history = crate::inputs::read_history_dir(&args.history, &rules)?;
    let as_of = crate::inputs::as_of(args.as_of, None)?;
    let report = funnel_report(history, &rules, as_of)?;
    let mut out = String::new();
    writeln!(
        out,
        "funnel as of {as_of}: stage entries at least {MATURITY_DAYS} days old of deals since won or lost;\nconversion = moved on (to a later stage or won) / entered; mean_days = days until the deal left the stage\n\ncompany:"
    )?;
    out.push_str(&table(&report.company, 20)?);
    writeln!(
        out,
        "\nwhere each team leaks most (leaked_deals = entered × (company conversion − team conversion)):"
    )?;
    out.push_str(&table(&report.leaks, 40)?);
    writeln!(out, "\nper team and stage:")?;
    out.push_str(&table(&report.by_team, 60)?);
    if let Some(path) = &args.out {
        write_table(path, &report.by_team)?;
        write_table(&sibling(path, "company"), &report.company)?;
        write_table(&sibling(path, "leaks"), &report.leaks)?;
        writeln!(
            out,
            "\nwrote {}, {} and {}",
            path.display(),
            sibling(path, "company").display(),
            sibling(path, "leaks").display()
        )?;
    }
    if let Some(path) = &args.chart {
        let title = format!("Funnel as of {as_of}: stage entries decided by then");
        crate::chart::funnel_chart(path, &title, &crate::chart::funnel_steps(&report.company)?)?;
        writeln!(out, "drew {}", path.display())?;
    }
    writeln!(out, "took {:.2} s", started.elapsed().as_secs_f64())?;
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
