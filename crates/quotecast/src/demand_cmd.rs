//! `quotecast demand plan`: the roll-down of a pipeline file to component
//! demand, a purchase and assembly plan with pegging, safety stock and
//! service capacity, written to Parquet or CSV with a readable summary.
use std::{
    fmt::Write as _,
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Instant,
};

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use quotecast_demand::{
    Calendar, FirmDemand, Inventory, Period, Plan, PlanOptions, learn_plan, plan_taught,
};
use quotecast_forecast::{Bucket, rules_spec};
use quotecast_pipeline::{inventory::read_inventory, write::write_table};
use quotecast_server::learned::LearnKey;
use rust_decimal::Decimal;

#[derive(Subcommand)]
pub enum DemandCommand {
    /// Roll the pipeline's forecast down to components, lead times and a
    /// purchase plan.
    Plan(PlanArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Parquet,
    Csv,
}

#[derive(Args)]
pub struct PlanArgs {
    /// The pipeline snapshot (.parquet or .csv), one row per opportunity line.
    #[arg(long)]
    pipeline: PathBuf,
    /// History directory (as `gen-pipeline` writes it): win rates are
    /// calibrated per team and stage, and with past snapshots each team's
    /// accuracy factor and slippage move and scale its deals' demand.
    #[arg(long)]
    history: Option<PathBuf>,
    /// Data directory: what the history taught is kept in its `learned/`
    /// and reused by later plans on the same files, rules and plan date
    /// [default: ./data].
    #[arg(long, env = "QUOTECAST_DATA")]
    data: Option<PathBuf>,
    /// Learn from the history again even where a kept result matches (and
    /// keep the new one).
    #[arg(long, requires = "history")]
    relearn: bool,
    /// Inventory directory: on_hand.{csv,parquet} (item, on_hand) and
    /// optionally receipts.{csv,parquet} (item, due, quantity, reference).
    #[arg(long)]
    inventory: Option<PathBuf>,
    /// The day the plan is made [default: today].
    #[arg(long, value_parser = crate::inputs::parse_date)]
    as_of: Option<NaiveDate>,
    /// Buckets to plan.
    #[arg(long, default_value_t = 52)]
    horizon: u32,
    /// Bucket length: week or month.
    #[arg(long, default_value = "week", value_parser = parse_period)]
    bucket: Period,
    /// Monte Carlo trials for P10/P50/P90 and computed safety stock (0: none).
    #[arg(long, default_value_t = 1000)]
    trials: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Probability that demand over an item's cumulative lead time is
    /// covered by its suggested safety stock.
    #[arg(long, default_value_t = 0.95)]
    service_level: f64,
    /// Plan only the pipeline's deals, not what deals not yet in it are
    /// expected to book (the forecast's new_deals, planned by default when
    /// the history allows).
    #[arg(long)]
    pipeline_only: bool,
    /// Plan without pegging: the same orders, demand and stock, without
    /// the deal lines behind each order (faster on large pipelines).
    #[arg(long)]
    no_pegging: bool,
    /// Directory for component_demand, planned_orders, pegging,
    /// safety_stock, capacity, projected and cash.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
    /// Draw demand P10–P90 against projected on hand and receipts as SVG.
    #[arg(long)]
    chart: Option<PathBuf>,
    /// Items to chart [default: the five with the most planned value].
    #[arg(long)]
    component: Vec<String>,
    /// Rules directory [default: ./rules, else the embedded example rules].
    #[arg(long)]
    rules: Option<PathBuf>,
}

fn parse_period(word: &str) -> Result<Period, String> {
    Period::parse(word).ok_or_else(|| format!("`{word}` is not week or month"))
}

pub fn run(command: DemandCommand) -> anyhow::Result<ExitCode> {
    match command {
        DemandCommand::Plan(args) => plan(args),
    }
}

fn inventory(dir: Option<&Path>) -> anyhow::Result<Inventory> {
    let Some(dir) = dir else {
        return Ok(Inventory {
            version: "none (nothing on hand)".into(),
            ..Inventory::default()
        });
    };
    Ok(Inventory::from(read_inventory(dir)?))
}

fn plan(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let rules = crate::forecast_cmd::funnel_rules(args.rules)?;
    let started = Instant::now();
    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar.set_message("reading the pipeline");
    let snapshot = crate::inputs::read_pipeline(&args.pipeline, &rules)?;
    let as_of = crate::inputs::as_of(args.as_of, Some((&args.pipeline, &rules)))?;
    let inventory = inventory(args.inventory.as_deref())?;
    let options = PlanOptions {
        calendar: Calendar::new(as_of, args.bucket, args.horizon)?,
        service_level: args.service_level,
        trials: args.trials,
        seed: args.seed,
        // The lines carry the calibrated rates, team factors and
        // slippage; the file's hash names the pipeline itself.
        fingerprints: vec![file_fingerprint(&args.pipeline)?],
        won_before: vec![],
        cancel: Default::default(),
        budget: Default::default(),
        pipeline_only: args.pipeline_only,
        pegging: !args.no_pegging,
    };
    bar.set_message(format!(
        "learning from history, planning with {} trials",
        args.trials
    ));
    let taught = match args.history.as_deref() {
        None => learn_plan(&snapshot, None, &rules, &options)?,
        Some(dir) => crate::kept::learned(
            LearnKey::of_plan(&args.pipeline, dir, &rules, as_of),
            || rules_spec(&rules, as_of, Bucket::Week),
            dir,
            &rules,
            &crate::kept::Keeping::new(args.data.clone(), args.relearn),
            |history| Ok(learn_plan(&snapshot, Some(history), &rules, &options)?),
        )?,
    };
    let firm = FirmDemand::default();
    let plan = plan_taught(snapshot, taught, &rules, &inventory, &options, firm)?;
    bar.set_message("writing");
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let ext = match args.format {
        Format::Parquet => "parquet",
        Format::Csv => "csv",
    };
    let mut written = Vec::new();
    let writing = tracing::info_span!("write_tables").entered();
    for (name, table) in quotecast_demand::tables(&plan)? {
        let path = args.out.join(format!("{name}.{ext}"));
        let rows = write_table(&path, &table)?;
        written.push(format!("{} ({rows} rows)", path.display()));
    }
    if let Some(path) = &args.chart {
        let chosen = crate::demand_chart::chosen(&plan, &args.component);
        crate::demand_chart::draw(path, &plan, &chosen, &rules)?;
        written.push(format!(
            "{} (chart of {})",
            path.display(),
            chosen.join(", ")
        ));
    }
    drop(writing);
    bar.finish_and_clear();
    let mut out = summary(&plan, &options, &rules)?;
    for w in written {
        writeln!(out, "wrote {w}")?;
    }
    writeln!(out, "took {:.2} s", started.elapsed().as_secs_f64())?;
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// The file's size and a hash of its bytes.
fn file_fingerprint(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(format!("{}:{}", bytes.len(), blake3::hash(&bytes).to_hex()))
}

/// The readable summary: what was planned from what, then the top
/// components by expedite and by planned value.
fn summary(
    plan: &Plan,
    options: &PlanOptions,
    rules: &quotecast_model::RuleSet,
) -> anyhow::Result<String> {
    let corporate = rules.corporate_currency();
    let mut out = String::new();
    inputs_summary(&mut out, plan, options)?;
    orders_summary(&mut out, plan, corporate)?;
    capacity_summary(&mut out, plan)?;
    cash_summary(&mut out, plan, corporate)?;
    writeln!(out)?;
    Ok(out)
}

/// What was planned from what: the plan, its deals and lines, what could
/// not be planned, notes, and the items, levels and trials.
fn inputs_summary(out: &mut String, plan: &Plan, options: &PlanOptions) -> anyhow::Result<()> {
    let e = &plan.explanation;
    writeln!(
        out,
        "plan {} as of {} ({} {}s), inventory {}",
        plan.id,
        options.calendar.as_of,
        options.calendar.buckets(),
        options.calendar.period.name(),
        plan.inventory_version
    )?;
    writeln!(
        out,
        "{} deals, {} lines: {} configurable lines with their own options, {} given attach rates (learned with {} deals won before); {} after the horizon left out",
        e.deals, e.lines, e.configured_lines, e.attach_rate_lines, e.won_before, e.beyond_horizon
    )?;
    if !e.unplanned_skus.is_empty() {
        let skus: Vec<String> = e
            .unplanned_skus
            .iter()
            .map(|(s, n)| format!("{s} ({n} lines)"))
            .collect();
        writeln!(
            out,
            "no BOM or supply data, not planned: {}",
            skus.join(", ")
        )?;
    }
    for (product, group) in &e.unplanned_groups {
        writeln!(
            out,
            "{product}: group `{group}` has no attach rate or default, not planned"
        )?;
    }
    if let Some(note) = &e.expected_only {
        writeln!(out, "note: {note}")?;
    }
    if e.without_pegging {
        writeln!(
            out,
            "note: planned without pegging (--no-pegging): orders name no deals"
        )?;
    }
    for note in &e.forecast_notes {
        writeln!(out, "note: {note}")?;
    }
    if !e.unknown_inventory.is_empty() {
        writeln!(
            out,
            "inventory rows naming no planned item (ignored): {}",
            e.unknown_inventory.join(", ")
        )?;
    }
    writeln!(
        out,
        "{} items planned over {} BOM levels; {} trials (seed {}), safety stock at {} % service\n",
        e.items_planned,
        e.levels,
        e.trials,
        options.seed,
        options.service_level * 100.0
    )?;
    Ok(())
}

/// The planned orders' worth, the top items by planned value and the
/// most overdue releases.
fn orders_summary(
    out: &mut String,
    plan: &Plan,
    corporate: &quotecast_model::Currency,
) -> anyhow::Result<()> {
    let orders = &plan.planned_orders;
    let value: Decimal = orders.iter().map(|o| o.value).sum();
    let expedite: Vec<_> = orders.iter().filter(|o| o.expedite).collect();
    writeln!(
        out,
        "{} planned orders worth {} {}; {} to expedite (release date already passed)",
        orders.len(),
        corporate.round(value),
        corporate.code,
        expedite.len()
    )?;
    let mut by_value: std::collections::BTreeMap<&str, (Decimal, Decimal, usize)> =
        std::collections::BTreeMap::new();
    for o in orders {
        let entry = by_value.entry(&*o.item).or_default();
        entry.0 += o.value;
        entry.1 += o.quantity;
        entry.2 += usize::from(o.expedite);
    }
    let mut ranked: Vec<_> = by_value.into_iter().collect();
    ranked.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    writeln!(out, "\ntop items by planned value:")?;
    writeln!(
        out,
        "{:<20} {:>12} {:>14} {:>9}",
        "item", "quantity", "value", "expedite"
    )?;
    for (item, (v, q, x)) in ranked.iter().take(10) {
        writeln!(
            out,
            "{item:<20} {:>12} {:>14} {x:>9}",
            q.normalize(),
            corporate.round(*v)
        )?;
    }
    let mut late: Vec<_> = expedite.clone();
    late.sort_by(|a, b| a.release_date.cmp(&b.release_date).then(a.id.cmp(&b.id)));
    if !late.is_empty() {
        writeln!(out, "\nmost overdue releases:")?;
        writeln!(
            out,
            "{:<32} {:>10} {:>12} {:>12}",
            "order", "quantity", "release", "need"
        )?;
        for o in late.iter().take(10) {
            writeln!(
                out,
                "{:<32} {:>10} {:>12} {:>12}",
                o.id,
                o.quantity.normalize(),
                o.release_date,
                o.need_date
            )?;
        }
    }
    Ok(())
}

/// Service hours per skill over the horizon, when the plan has any.
fn capacity_summary(out: &mut String, plan: &Plan) -> anyhow::Result<()> {
    if !plan.capacity.is_empty() {
        let mut hours: std::collections::BTreeMap<&str, (f64, f64)> = Default::default();
        for c in &plan.capacity {
            let h = hours.entry(c.skill.as_str()).or_default();
            h.0 += c.expected_hours;
            h.1 = h.1.max(c.p90_hours.unwrap_or(0.0));
        }
        writeln!(
            out,
            "\nservice hours over the horizon (expected; highest bucket P90):"
        )?;
        for (skill, (total, p90)) in hours {
            writeln!(out, "{skill:<20} {total:>10.1} h {p90:>10.1} h")?;
        }
    }
    Ok(())
}

/// Cash-in over the horizon and in its first buckets.
fn cash_summary(
    out: &mut String,
    plan: &Plan,
    corporate: &quotecast_model::Currency,
) -> anyhow::Result<()> {
    let e = &plan.explanation;
    let amount = |v: f64| corporate.round_statistic(v).unwrap_or_default();
    let total: f64 = plan.cash.iter().map(|c| c.expected).sum();
    let won: f64 = plan.cash.iter().map(|c| c.from_won).sum();
    writeln!(
        out,
        "\ncash-in over the horizon: {} {} expected, {} of it from deals already won; {} due before the plan date (collected or overdue)",
        amount(total),
        corporate.code,
        amount(won),
        amount(e.cash_before_plan_date),
    )?;
    if e.lines_without_terms > 0 {
        writeln!(
            out,
            "{} lines have no payment terms (left out of cash)",
            e.lines_without_terms
        )?;
    }
    if plan.cash.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "{:<12} {:>14} {:>14} {:>14} {:>14}",
        "bucket", "expected", "from won", "P10", "P90"
    )?;
    for c in plan.cash.iter().take(6) {
        let (p10, p90) = c.percentiles.map_or((String::new(), String::new()), |p| {
            (amount(p[0]).to_string(), amount(p[2]).to_string())
        });
        writeln!(
            out,
            "{:<12} {:>14} {:>14} {p10:>14} {p90:>14}",
            c.bucket.to_string(),
            amount(c.expected),
            amount(c.from_won)
        )?;
    }
    Ok(())
}
