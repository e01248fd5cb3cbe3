//! Demand roll-down benchmarks on generated structures (the three
//! targets), each run `--runs` times with the wall time of every run and
//! the process's peak memory:
//!
//! - `regen`: full regeneration of 200,000 items on 7 BOM levels, 52
//!   weekly buckets (explosion, netting at every level, lot sizing,
//!   pegging), no Monte Carlo;
//! - `mc`: the Monte Carlo roll-down, 1,000 trials × 2,000 components ×
//!   52 buckets;
//! - `coverage`: on a `gen-pipeline` directory with history, plans from
//!   each matured past snapshot with only what was known then, and counts
//!   how often the realised component demand (the deals that were won,
//!   exploded at the day they closed) falls within the plan's P10–P90;
//! - `duckdb`: 1M forecast lines through a 3-level BOM with 2,000
//!   components; quotecast's explosion and netting, then the same data
//!   written to Parquet for `baseline/demand_query.py` (DuckDB recursive
//!   CTE), run in the same invocation with `--python`: explosion and
//!   lot-for-lot netting of the exploded demand alone; the plan's own
//!   netting (level by level, lot sizes carried in projected stock),
//!   checked to plan quotecast's orders and units; then with pegging kept
//!   per deal line as quotecast's plan does (the 20 largest lines per
//!   item-week).
//!
//! `cargo run --release -p quotecast-benches --bin demandbench -- --scenario regen|mc|duckdb [--runs R] [--python PYTHON]`
use std::{path::PathBuf, time::Instant};

use anyhow::Context;
use chrono::{Days, NaiveDate};
use clap::Parser;
use polars::prelude::*;
use quotecast_demand::{Calendar, DemandLine, Inventory, Name, Names, Period, PlanOptions, plan};
use quotecast_model::{BomLine, DateRange, Item, Percent, PlanningData, Supply};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;
use rust_decimal::Decimal;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "regen")]
    scenario: String,
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// Python with duckdb and pyarrow, for the `duckdb` scenario's baseline.
    #[arg(long)]
    python: Option<PathBuf>,
    /// A `gen-pipeline` directory, for the `coverage` scenario.
    #[arg(long)]
    pipeline: Option<PathBuf>,
    /// The day the generated pipeline was taken (`coverage`).
    #[arg(long, default_value = "2026-11-20")]
    as_of: NaiveDate,
    #[arg(long, default_value = "rules")]
    rules: PathBuf,
}

const AS_OF: NaiveDate = match NaiveDate::from_ymd_opt(2026, 11, 16) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// A generated structure: `levels[l]` items on level `l`; each item above
/// the last level has `children` components, mostly on the next level,
/// one in four on a deeper one (shared across levels); the last level is
/// bought.
fn structure(levels: &[usize], children: usize, seed: u64) -> PlanningData {
    let mut rng = Pcg64::seed_from_u64(seed);
    let id = |l: usize, i: usize| format!("L{l}-{i:06}");
    let mut items = Vec::new();
    let mut bom = Vec::new();
    let always = DateRange {
        from: NaiveDate::MIN,
        to: None,
    };
    for (l, &n) in levels.iter().enumerate() {
        let last = l + 1 == levels.len();
        for i in 0..n {
            items.push(Item {
                id: id(l, i),
                name: id(l, i),
                supply: if last { Supply::Buy } else { Supply::Make },
                unit: "each".into(),
                lead_time_days: if last {
                    rng.random_range(7..60)
                } else {
                    rng.random_range(1..10)
                },
                min_order: Decimal::from(if last { rng.random_range(0..200) } else { 0 }),
                order_multiple: Decimal::from(if last { rng.random_range(1..50) } else { 1 }),
                supplier: last.then(|| format!("S{}", i % 97)),
                safety_stock: None,
                skill: None,
                unit_cost: Decimal::new(rng.random_range(100..100_000), 2),
            });
            if last {
                continue;
            }
            let mut chosen = std::collections::HashSet::new();
            for _ in 0..children {
                let deeper = l + 2 < levels.len() && rng.random_bool(0.25);
                let target = if deeper {
                    rng.random_range(l + 2..levels.len())
                } else {
                    l + 1
                };
                let c = rng.random_range(0..levels[target]);
                if chosen.insert((target, c)) {
                    bom.push(BomLine {
                        parent: id(l, i),
                        component: id(target, c),
                        quantity_per: Decimal::from(rng.random_range(1..5)),
                        scrap: Percent::ZERO,
                        effective: always,
                    });
                }
            }
        }
    }
    PlanningData {
        items,
        bom,
        ..PlanningData::default()
    }
}

/// `n` deal lines on the first-level items, three per deal (one win
/// probability and close date per deal), over 52 weeks; held as
/// `lines_of` holds the forecast's (a deal's lines share its id, every
/// SKU is one shared name, and so is the empty account, product line
/// and team).
fn lines(products: usize, n: usize, seed: u64) -> Vec<DemandLine> {
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut names = Names::default();
    let mut deal: (f64, NaiveDate, Name) = (0.5, AS_OF, Name::default());
    let none = names.get("");
    (0..n)
        .map(|k| {
            if k % 3 == 0 {
                deal = (
                    rng.random_range(0.05..1.0),
                    AS_OF + Days::new(rng.random_range(0..364)),
                    format!("D{:07}", k / 3).into(),
                );
            }
            DemandLine {
                deal: deal.2.clone(),
                sku: names.get(&format!("L0-{:06}", rng.random_range(0..products))),
                quantity: f64::from(rng.random_range(1u32..50)),
                amount: 0.0,
                close_date: deal.1,
                probability: deal.0,
                point: 0,
                points: 1,
                account: none.clone(),
                product_line: none.clone(),
                team: none.clone(),
                ..DemandLine::default()
            }
        })
        .collect()
}

fn options(trials: u32, pegging: bool) -> anyhow::Result<PlanOptions> {
    Ok(PlanOptions {
        calendar: Calendar::new(AS_OF, Period::Week, 52)?,
        service_level: 0.95,
        trials,
        seed: 1,
        fingerprints: vec![],
        won_before: vec![],
        cancel: Default::default(),
        budget: Default::default(),
        pipeline_only: false,
        pegging,
    })
}

fn run(
    args: &Args,
    planning: PlanningData,
    lines: Vec<DemandLine>,
    trials: u32,
    pegging: bool,
) -> anyhow::Result<quotecast_demand::Plan> {
    let (rules, _) = quotecast_rules::load_dir(&args.rules)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("loading rules")?;
    let rules = rules.with_planning(planning);
    let options = options(trials, pegging)?;
    let mut last = None;
    for r in 0..args.runs {
        // The caller hands its lines over: the copy is not the plan's.
        let lines = lines.clone();
        let started = Instant::now();
        let plan = plan(&rules, lines, &Inventory::default(), &options)?;
        println!(
            "run {}: {:.2} s ({} items planned, {} planned orders, {} pegs, {} demand rows)",
            r + 1,
            started.elapsed().as_secs_f64(),
            plan.explanation.items_planned,
            plan.planned_orders.len(),
            plan.pegging.len(),
            plan.component_demand.len()
        );
        last = Some(plan);
    }
    println!("peak memory {:.0} MiB", quotecast_benches::peak_mib());
    last.context("no runs")
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match args.scenario.as_str() {
        "regen" => {
            // 200,000 items on 7 levels; 2,000 end products.
            let levels = [2_000, 6_000, 14_000, 26_000, 40_000, 52_000, 60_000];
            let planning = structure(&levels, 4, 1);
            println!(
                "regen: {} items, {} BOM lines, 7 levels, 52 weekly buckets, 100,000 deal lines, no trials",
                planning.items.len(),
                planning.bom.len()
            );
            run(&args, planning, lines(2_000, 100_000, 2), 0, true)?;
        }
        "mc" => {
            // 2,000 components under 200 products on 3 levels.
            let levels = [200, 600, 1_200];
            let planning = structure(&levels, 5, 3);
            println!(
                "mc: {} items, {} BOM lines, 1,000 trials, 52 weekly buckets, 20,000 deal lines",
                planning.items.len(),
                planning.bom.len()
            );
            run(&args, planning, lines(200, 20_000, 4), 1_000, true)?;
        }
        "duckdb" => duckdb(&args)?,
        "coverage" => coverage(&args)?,
        other => anyhow::bail!("unknown scenario `{other}`: regen, mc, duckdb or coverage"),
    }
    Ok(())
}

/// 1M lines through 3 levels with 2,000 components; the same data for the
/// DuckDB baseline.
fn duckdb(args: &Args) -> anyhow::Result<()> {
    let levels = [500, 1_000, 2_000];
    let planning = structure(&levels, 6, 5);
    let lines = lines(500, 1_000_000, 6);
    println!(
        "duckdb: {} items ({} components on the last level), {} BOM lines, 1,000,000 deal lines, 52 weekly buckets",
        planning.items.len(),
        levels[2],
        planning.bom.len()
    );
    let dir = std::env::temp_dir().join("quotecast-demandbench");
    std::fs::create_dir_all(&dir)?;
    write_inputs(&dir, &planning, &lines)?;
    // The same work as the baseline's plain query (explosion, netting),
    // then the plan with its pegging.
    println!("quotecast without pegging:");
    let bare = run(args, planning.clone(), lines.clone(), 0, false)?;
    println!("quotecast with pegging:");
    let plan = run(args, planning, lines, 0, true)?;
    anyhow::ensure!(
        bare.planned_orders == plan.planned_orders,
        "the plans with and without pegging order differently"
    );
    // The same demand but for the order of its sums (exploded by day
    // without pegging, by cell with it).
    let same_demand = bare.component_demand.len() == plan.component_demand.len()
        && bare
            .component_demand
            .iter()
            .zip(&plan.component_demand)
            .all(|(a, b)| {
                a.item == b.item
                    && a.bucket == b.bucket
                    && (a.expected - b.expected).abs() <= 1e-9 * b.expected.abs().max(1.0)
            });
    anyhow::ensure!(
        same_demand,
        "the plans with and without pegging differ in demand"
    );
    let leaf_total: f64 = plan
        .component_demand
        .iter()
        .filter(|r| r.item.starts_with("L2-"))
        .map(|r| r.expected)
        .sum();
    let orders: Decimal = plan
        .planned_orders
        .iter()
        .filter(|o| o.item.starts_with("L2-"))
        .map(|o| o.quantity)
        .sum();
    let all_orders: Decimal = plan.planned_orders.iter().map(|o| o.quantity).sum();
    println!(
        "quotecast: last-level demand {leaf_total:.1} units, planned {orders} units; {} planned orders of {all_orders} units on every level",
        plan.planned_orders.len()
    );
    if let Some(python) = &args.python {
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("baseline/demand_query.py");
        let status = std::process::Command::new(python)
            .arg(&script)
            .arg(&dir)
            .args([
                "--runs",
                &args.runs.to_string(),
                "--as-of",
                &AS_OF.to_string(),
                "--pegging",
                "--orders",
                &plan.planned_orders.len().to_string(),
                "--units",
                &all_orders.to_string(),
            ])
            .status()
            .with_context(|| format!("running {}", python.display()))?;
        anyhow::ensure!(status.success(), "the baseline failed");
    }
    Ok(())
}

fn write_inputs(
    dir: &std::path::Path,
    planning: &PlanningData,
    lines: &[DemandLine],
) -> anyhow::Result<()> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN);
    let mut demand = DataFrame::new(
        lines.len(),
        vec![
            Column::new(
                "deal".into(),
                lines.iter().map(|l| &*l.deal).collect::<Vec<_>>(),
            ),
            Column::new(
                "sku".into(),
                lines.iter().map(|l| &*l.sku).collect::<Vec<_>>(),
            ),
            Column::new(
                "quantity".into(),
                lines.iter().map(|l| l.quantity).collect::<Vec<_>>(),
            ),
            Column::new(
                "probability".into(),
                lines.iter().map(|l| l.probability).collect::<Vec<_>>(),
            ),
            Column::new(
                "need_date".into(),
                lines
                    .iter()
                    .map(|l| (l.close_date - epoch).num_days() as i32)
                    .collect::<Vec<_>>(),
            )
            .cast(&DataType::Date)?,
        ],
    )?;
    let lead = |id: &str| planning.item(id).map_or(0, |i| i.lead_time_days as i32);
    let mut bom = DataFrame::new(
        planning.bom.len(),
        vec![
            Column::new(
                "parent".into(),
                planning
                    .bom
                    .iter()
                    .map(|b| b.parent.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "component".into(),
                planning
                    .bom
                    .iter()
                    .map(|b| b.component.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "quantity_per".into(),
                planning
                    .bom
                    .iter()
                    .map(|b| f64::try_from(b.quantity_per).unwrap_or(0.0))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "parent_lead_days".into(),
                planning
                    .bom
                    .iter()
                    .map(|b| lead(&b.parent))
                    .collect::<Vec<_>>(),
            ),
        ],
    )?;
    let mut items = DataFrame::new(
        planning.items.len(),
        vec![
            Column::new(
                "item".into(),
                planning
                    .items
                    .iter()
                    .map(|i| i.id.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "lead_days".into(),
                planning
                    .items
                    .iter()
                    .map(|i| i.lead_time_days as i32)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "min_order".into(),
                planning
                    .items
                    .iter()
                    .map(|i| f64::try_from(i.min_order).unwrap_or(0.0))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "order_multiple".into(),
                planning
                    .items
                    .iter()
                    .map(|i| f64::try_from(i.order_multiple).unwrap_or(1.0))
                    .collect::<Vec<_>>(),
            ),
            // The low-level code: `L{level}-…` (BOM lines only go deeper).
            Column::new(
                "level".into(),
                planning
                    .items
                    .iter()
                    .map(|i| {
                        i.id[1..]
                            .split('-')
                            .next()
                            .and_then(|l| l.parse::<i32>().ok())
                            .unwrap_or(0)
                    })
                    .collect::<Vec<_>>(),
            ),
        ],
    )?;
    for (name, frame) in [
        ("demand", &mut demand),
        ("bom", &mut bom),
        ("items", &mut items),
    ] {
        let path = dir.join(format!("{name}.parquet"));
        let file = std::fs::File::create(&path)?;
        ParquetWriter::new(file).finish(frame)?;
    }
    Ok(())
}

/// Realised against forecast component demand over past snapshots.
fn coverage(args: &Args) -> anyhow::Result<()> {
    use quotecast_forecast::{Bucket, ForecastOptions, Simulation, demand_lines, forecast_spec};
    use quotecast_pipeline::{columns as col, read::read_history};
    let dir = args
        .pipeline
        .clone()
        .context("--pipeline DIR (a gen-pipeline directory)")?;
    let (rules, _) = quotecast_rules::load_dir(&args.rules)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("loading rules")?;
    let history = read_history(
        &dir.join("history"),
        &quotecast_forecast::vocabulary(&rules),
    )?;
    let snapshots = history
        .snapshots
        .clone()
        .context("the history has no snapshots")?
        .collect()?;
    let outcomes = history.outcomes.clone().collect()?;
    let mut closed: std::collections::HashMap<String, (bool, NaiveDate)> = Default::default();
    {
        let ids = outcomes.column(col::OPPORTUNITY_ID)?.str()?;
        let outcome = outcomes.column(col::OUTCOME)?.str()?;
        let day = outcomes.column(col::CLOSED)?.cast(&DataType::Int32)?;
        let day = day.i32()?;
        for r in 0..outcomes.height() {
            if let (Some(id), Some(o), Some(d)) = (ids.get(r), outcome.get(r), day.get(r)) {
                closed.insert(
                    id.to_owned(),
                    (o == "won", quotecast_pipeline::from_epoch_days(d)),
                );
            }
        }
    }
    let weeks = 13u32;
    let dates = snapshots
        .column(col::SNAPSHOT_DATE)?
        .cast(&DataType::Int32)?;
    let mut dates: Vec<i32> = dates.i32()?.iter().flatten().collect();
    dates.sort_unstable();
    dates.dedup();
    let matured: Vec<NaiveDate> = dates
        .into_iter()
        .map(quotecast_pipeline::from_epoch_days)
        .filter(|d| *d + Days::new(7 * u64::from(weeks)) <= args.as_of)
        .collect();
    let (mut inside, mut cells, mut below, mut above) = (0u64, 0u64, 0u64, 0u64);
    // Per week ahead: cells below P10, within, above P90.
    let mut by_week: std::collections::BTreeMap<i64, [u64; 3]> = Default::default();
    // Per week ahead: expected and realised units of every item (by need
    // week), to tell a centre that is off from ranges that are narrow.
    let mut units: std::collections::BTreeMap<i64, [f64; 2]> = Default::default();
    let week_of = |day: NaiveDate, on: NaiveDate| (on - day).num_days().div_euclid(7);
    for &day in matured.iter().rev().take(8) {
        let snap = snapshots
            .clone()
            .lazy()
            .filter(col(col::SNAPSHOT_DATE).eq(lit(day).cast(DataType::Date)))
            .collect()?;
        let forecast = ForecastOptions {
            as_of: day,
            bucket: Bucket::Week,
            group_by: vec![],
            prior_strength: None,
            simulation: Simulation::default(),
        };
        let history = read_history(
            &dir.join("history"),
            &quotecast_forecast::vocabulary(&rules),
        )?;
        let (spec, _) = forecast_spec(Some(history), Some(snap.clone().lazy()), &rules, &forecast)?;
        let lines = quotecast_demand::lines_of(
            &demand_lines(snap.clone().lazy(), &spec)?,
            &quotecast_forecast::ShockModel::new(spec.correction.as_deref())
                .with_rates(&spec.win_rates),
        )?;
        let options = PlanOptions {
            calendar: Calendar::new(day, Period::Week, weeks)?,
            service_level: 0.95,
            trials: 1_000,
            seed: 1,
            fingerprints: vec![],
            won_before: vec![],
            cancel: Default::default(),
            budget: Default::default(),
            pipeline_only: false,
            pegging: true,
        };
        let planned = plan(&rules, lines, &Inventory::default(), &options)?;
        // What was won: each line once, needed the day its deal closed.
        let ids = snap.column(col::OPPORTUNITY_ID)?.str()?;
        let skus = snap.column(col::SKU)?.str()?;
        let quantity = snap.column(col::QUANTITY)?.cast(&DataType::Float64)?;
        let quantity = quantity.f64()?;
        let mut realised = Vec::new();
        for r in 0..snap.height() {
            let (Some(id), Some(sku)) = (ids.get(r), skus.get(r)) else {
                continue;
            };
            if let Some((true, on)) = closed.get(id) {
                realised.push(DemandLine {
                    deal: id.into(),
                    sku: sku.into(),
                    quantity: quantity.get(r).unwrap_or(0.0),
                    amount: 0.0,
                    close_date: *on,
                    probability: 1.0,
                    point: 0,
                    points: 1,
                    ..DemandLine::default()
                });
            }
        }
        let actual = plan(
            &rules,
            realised,
            &Inventory::default(),
            &PlanOptions {
                trials: 0,
                ..options
            },
        )?;
        let mut truth: std::collections::HashMap<(quotecast_demand::Name, NaiveDate), f64> =
            Default::default();
        for r in &actual.component_demand {
            *truth.entry((r.item.clone(), r.bucket)).or_default() += r.expected;
            units.entry(week_of(day, r.bucket)).or_default()[1] += r.expected;
        }
        for r in &planned.component_demand {
            units.entry(week_of(day, r.bucket)).or_default()[0] += r.expected;
        }
        let (mut i, mut n) = (0, 0);
        for r in &planned.component_demand {
            let Some([p10, _, p90]) = r.percentiles else {
                continue;
            };
            let real = truth.remove(&(r.item.clone(), r.bucket)).unwrap_or(0.0);
            n += 1;
            let w = (r.bucket - day).num_days() / 7;
            let e = by_week.entry(w).or_default();
            if real + 1e-9 >= p10 && real <= p90 + 1e-9 {
                i += 1;
                e[1] += 1;
            } else if real < p10 {
                below += 1;
                e[0] += 1;
            } else {
                above += 1;
                e[2] += 1;
            }
        }
        // Realised demand where the plan expected none: outside.
        let missed = truth.values().filter(|v| **v > 0.0).count() as u64;
        above += missed;
        n += missed;
        println!(
            "snapshot {day}: {i} of {n} item-week cells within P10–P90 ({:.0} %)",
            100.0 * i as f64 / n.max(1) as f64
        );
        inside += i;
        cells += n;
    }
    println!("weeks ahead  below  within  above  realised / expected units");
    for (w, [b, i, a]) in &by_week {
        let ratio = units
            .get(w)
            .filter(|[e, _]| *e > 0.0)
            .map_or("-".to_owned(), |[e, r]| format!("{:.2}", r / e));
        println!("{w:>11}  {b:>5}  {i:>6}  {a:>5}  {ratio:>24}");
    }
    println!(
        "coverage: {inside} of {cells} item-week cells ({:.1} %) within P10–P90; {below} below P10, {above} above P90",
        100.0 * inside as f64 / cells.max(1) as f64
    );
    Ok(())
}
