//! Per-click configuration latency, p50 / p99, on the example models and on
//! a generated large model (500 options, rules of every kind):
//! sessions of random clicks, each click picking an offered option.
use std::time::{Duration, Instant};

use clap::Parser;
use quotecast_benches::{
    example_rules,
    export::{self, RecordedClick},
    generated_config::{Lcg, Shape, generated_model, shuffled},
};
use quotecast_configurator::{
    CLICK_BUDGET, CLICK_SEARCHES, CLICK_WORK, Choice, CompiledModel, Configuration, Explaining,
    ExplanationMemory, OptionStatus, compile,
};
use quotecast_model::ConfigModel;
use quotecast_rules::{ModelCache, ModelCompiler};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "Per-click configuration latency")]
struct Args {
    /// Sessions per model.
    #[arg(long, default_value_t = 200)]
    sessions: usize,
    /// Clicks per session (fewer when nothing is left to pick).
    #[arg(long, default_value_t = 20)]
    clicks: usize,
    /// Groups and options per group of the generated model.
    #[arg(long, default_value_t = 100)]
    groups: usize,
    #[arg(long, default_value_t = 5)]
    per_group: usize,
    /// Rules of the generated model, resource rules included.
    #[arg(long, default_value_t = 2000)]
    rules: usize,
    /// Add one power budget shared by every option of the generated model.
    #[arg(long)]
    power_budget: bool,
    /// Also time clicks with explanations on the generated model.
    #[arg(long)]
    explain_generated: bool,
    /// List the generated model's options in a random order.
    #[arg(long)]
    shuffle: bool,
    /// Only the generated model (not the example catalog's).
    #[arg(long)]
    generated_only: bool,
    /// Write the generated model and its first `--export-sessions`
    /// sessions (choices, offered quantities, our time per click) as JSON
    /// for the solver baseline, benches/baseline/cpsat_configure.py.
    #[arg(long)]
    export: Option<std::path::PathBuf>,
    #[arg(long, default_value_t = 3)]
    export_sessions: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct Timings {
    bare: Vec<Duration>,
    explained: Vec<Duration>,
    /// The first `record` sessions' clicks, for the solver baseline.
    recorded: Vec<RecordedClick>,
    /// Excluded or added options over the explained clicks, and how many
    /// of their explanations were deferred past the click's budget.
    explained_options: usize,
    deferred: usize,
    /// Clicks that also explain one deferred option in full, and how many
    /// of those explanations ran past the click's work limit.
    asked: Vec<Duration>,
    asked_deferred: usize,
}

/// A click with explanations as the server makes it (a click's budget,
/// the session's memory, `in_full` asked for by SKU), and how long it took.
fn server_click(
    model: &CompiledModel,
    choices: &[Choice],
    in_full: &[usize],
    memory: &mut ExplanationMemory,
) -> (Configuration, Duration) {
    let start = Instant::now();
    let state = model
        .configure_with(
            choices,
            Explaining {
                on: true,
                budget: Some(CLICK_BUDGET),
                searches: Some(CLICK_SEARCHES),
                in_full,
                memory: Some(memory),
                work: Some(CLICK_WORK),
            },
        )
        .expect("valid click");
    (state, start.elapsed())
}

/// Runs the sessions, timing each click without and (when `explain`) with
/// explanations; records the first `record` sessions.
fn clicks(model: &CompiledModel, args: &Args, explain: bool, record: usize) -> Timings {
    let mut rng = Lcg::new(7);
    let (mut bare, mut explained, mut recorded) = (Vec::new(), Vec::new(), Vec::new());
    let (mut explained_options, mut deferred) = (0usize, 0usize);
    let (mut asked, mut asked_deferred) = (Vec::new(), 0);
    for session in 0..args.sessions {
        let mut choices: Vec<Choice> = Vec::new();
        // What the server keeps per session.
        let mut memory = ExplanationMemory::default();
        for _ in 0..args.clicks {
            let start = Instant::now();
            let state = model.configure(&choices, false).expect("valid click");
            let took = start.elapsed();
            bare.push(took);
            if session < record {
                recorded.push(RecordedClick {
                    choices: choices.iter().map(|c| (c.option, c.quantity)).collect(),
                    offered: state.options.iter().map(|o| o.quantities.clone()).collect(),
                    micros: took.as_secs_f64() * 1e6,
                });
            }
            if explain {
                let (state, took) = server_click(model, &choices, &[], &mut memory);
                explained.push(took);
                let mut first_deferred = None;
                for option in &state.options {
                    if let OptionStatus::Excluded(why) | OptionStatus::Added(why) = &option.status {
                        explained_options += 1;
                        deferred += usize::from(why.deferred);
                        if why.deferred && first_deferred.is_none() {
                            first_deferred = Some(option.option);
                        }
                    }
                }
                // The rep asks why about one deferred option (the server's
                // `explain_skus`), on every fifth click.
                if let Some(option) = first_deferred.filter(|_| choices.len() % 5 == 4) {
                    let (state, took) = server_click(model, &choices, &[option], &mut memory);
                    asked.push(took);
                    if let OptionStatus::Excluded(why) | OptionStatus::Added(why) =
                        &state.options[option].status
                    {
                        asked_deferred += usize::from(why.deferred);
                    }
                }
            }
            assert!(state.valid, "an offered pick led to a dead end");
            let open: Vec<_> = state
                .options
                .iter()
                .filter(|o| o.status == OptionStatus::Open && o.quantities.iter().any(|&q| q > 0))
                .collect();
            if open.is_empty() {
                break;
            }
            let o = open[rng.below(open.len())];
            let quantity = *o.quantities.iter().find(|&&q| q > 0).expect("offered");
            choices.push(Choice {
                option: o.option,
                quantity,
            });
        }
    }
    bare.sort();
    explained.sort();
    asked.sort();
    Timings {
        bare,
        explained,
        recorded,
        explained_options,
        deferred,
        asked,
        asked_deferred,
    }
}

/// How long a restart takes to get the compiled model back from the
/// server's cache of compiled models (written by a first start).
fn restart(model: &ConfigModel) -> Duration {
    let dir = std::env::temp_dir().join(format!("configbench-{}", std::process::id()));
    ModelCache::new(&dir)
        .compile(model)
        .expect("the model is satisfiable");
    let cache = ModelCache::new(&dir);
    let start = Instant::now();
    cache.compile(model).expect("the model is satisfiable");
    let took = start.elapsed();
    assert_eq!(cache.report().read, 1, "read back, not compiled");
    let _ = std::fs::remove_dir_all(&dir);
    took
}

fn report(
    name: &str,
    model: ConfigModel,
    args: &Args,
    explain: bool,
    export: Option<&std::path::Path>,
) {
    let start = Instant::now();
    let compiled = compile(model.clone()).expect("the model is satisfiable");
    let compile_time = start.elapsed();
    let restart_time = restart(&model);
    let live = compiled
        .configure(&[], false)
        .expect("no choices")
        .options
        .iter()
        .filter(|o| o.quantities.iter().any(|&q| q > 0))
        .count();
    let record = if export.is_some() {
        args.export_sessions
    } else {
        0
    };
    let Timings {
        bare,
        explained,
        recorded,
        explained_options,
        deferred,
        asked,
        asked_deferred,
    } = clicks(&compiled, args, explain, record);
    if let Some(path) = export {
        let json = export::export(
            compiled.model(),
            compile_time.as_secs_f64() * 1e3,
            &recorded,
        );
        std::fs::write(path, json.to_string()).expect("export file written");
        println!("wrote {} clicks to {}", recorded.len(), path.display());
    }
    let why = |p: f64| {
        if explained.is_empty() {
            "-".to_owned()
        } else {
            format!("{:.1}", percentile(&explained, p).as_secs_f64() * 1e6)
        }
    };
    println!(
        "{name:<28} {:>10} {:>8.1} {:>8.1} {:>8} {:>9.1} {:>9.1} {:>11} {:>11}  ({} clicks{})",
        format!("{live}/{}", compiled.model().options.len()),
        compile_time.as_secs_f64() * 1e3,
        restart_time.as_secs_f64() * 1e3,
        compiled.size(),
        percentile(&bare, 0.5).as_secs_f64() * 1e6,
        percentile(&bare, 0.99).as_secs_f64() * 1e6,
        why(0.5),
        why(0.99),
        bare.len(),
        if explained.is_empty() {
            String::new()
        } else {
            format!("; {deferred} of {explained_options} explanations deferred")
        },
    );
    if !asked.is_empty() {
        let ms = |p: f64| percentile(&asked, p).as_secs_f64() * 1e3;
        println!(
            "{:<28} one deferred option asked for by SKU: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} clicks; {asked_deferred} still deferred past the work limit)",
            "",
            ms(0.5),
            ms(0.99),
            ms(1.0),
            asked.len()
        );
    }
}

fn main() {
    let args = Args::parse();
    println!(
        "{} sessions × up to {} clicks per model; µs per click",
        args.sessions, args.clicks
    );
    println!(
        "{:<28} {:>10} {:>8} {:>8} {:>8} {:>9} {:>9} {:>11} {:>11}",
        "model", "live/opts", "build ms", "read ms", "nodes", "p50", "p99", "p50 +why", "p99 +why"
    );
    let rules = example_rules();
    for model in rules.configurations().filter(|_| !args.generated_only) {
        report(
            &format!("example {}", model.sku),
            model.clone(),
            &args,
            true,
            None,
        );
    }
    let shape = Shape {
        groups: args.groups,
        per_group: args.per_group,
        rules: args.rules,
        power_budget: args.power_budget,
    };
    let mut generated = generated_model(shape, 42);
    if args.shuffle {
        generated = shuffled(&generated, 9);
    }
    let name = format!(
        "generated, {} rules{}",
        generated.rules.len(),
        if args.shuffle { ", shuffled" } else { "" }
    );
    // Explaining every excluded option of the generated model takes
    // seconds (see the closing note); only propagation is timed there.
    report(
        &name,
        generated,
        &args,
        args.explain_generated,
        args.export.as_deref(),
    );
}
