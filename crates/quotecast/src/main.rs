//! `quotecast`: the service and its command line.
//!
//! * `quotecast serve` runs the gRPC service;
//! * `quotecast rules check|test` validates rule files and runs the quote
//!   regression cases;
//! * `quotecast quote price FILE.json` prices a quote, in-process or through
//!   a running server;
//! * `quotecast configure PRODUCT --select SKU[=QTY]` shows a product's
//!   configuration state after the given choices;
//! * `quotecast gen-pipeline` writes a synthetic pipeline and its history;
//! * `quotecast forecast run|backtest|funnel` forecasts a pipeline file,
//!   scores the forecast models on past snapshots, or reports the funnel;
//! * `quotecast demand plan` rolls a pipeline's forecast down to component
//!   demand, a purchase and assembly plan, safety stock and capacity;
//! * `quotecast quotes list|show|diff` reads the stored quotes.

mod audit_cmd;
mod auth_cmd;
mod backtest_cmd;
mod chart;
mod config;
mod configure_cmd;
mod demand_chart;
mod demand_cmd;
mod forecast_cmd;
mod funnel_cmd;
mod gen_cmd;
mod health_cmd;
mod inputs;
mod kept;
mod quote_cmd;
mod quotes_cmd;
mod render;
mod rules_cmd;
mod serve;
mod traces;

use std::{io::Write, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

// A gRPC service builds and drops many small strings per request; mimalloc
// handles that far better than the system allocator (measured in
// benches/loadgen.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "quotecast",
    version,
    about = "CPQ pricing and pipeline forecasting over gRPC"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gRPC service.
    Serve(Box<serve::ServeArgs>),
    /// Validate rule files and run quote regression cases.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Work with quotes.
    #[command(subcommand)]
    Quote(QuoteCommand),
    /// Show what can still be chosen for a configurable product after the
    /// given choices, with what was added or excluded and why.
    Configure(configure_cmd::ConfigureArgs),
    /// Write a seeded synthetic pipeline snapshot and its history (stage
    /// changes, outcomes, past snapshots) with a known truth.
    GenPipeline(gen_cmd::GenArgs),
    /// Forecast batch jobs over pipeline files.
    #[command(subcommand)]
    Forecast(forecast_cmd::ForecastCommand),
    /// Roll the forecast down to component demand and a purchase plan.
    #[command(subcommand)]
    Demand(demand_cmd::DemandCommand),
    /// Stored quotes: list them, show a version, diff two versions, expire
    /// those past their validity.
    #[command(subcommand)]
    Quotes(quotes_cmd::QuotesCommand),
    /// The audit log of stored quotes: verify its hash chain, export it.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Ask a running server whether it is serving (gRPC health); exits 0
    /// when it is.
    Health(health_cmd::HealthArgs),
    /// Callers: make an API key for the auth file.
    #[command(subcommand)]
    Auth(AuthCommand),
}

#[derive(Subcommand)]
enum AuthCommand {
    /// Print a new random API key and the hash the auth file keeps of it.
    NewKey,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Validate every rule file in DIR; exits non-zero on any problem.
    Check {
        /// The rules directory.
        #[arg(default_value = "rules")]
        dir: PathBuf,
    },
    /// Price every regression case in DIR/tests and compare with its
    /// expected figures; exits non-zero on any mismatch.
    Test {
        /// The rules directory.
        #[arg(default_value = "rules")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum QuoteCommand {
    /// Price a quote file (JSON) and print its waterfall.
    Price(quote_cmd::PriceArgs),
}

/// For the batch commands: with `QUOTECAST_LOG` set (`info` for every
/// step), each step of a job is logged on standard error as it ends, with
/// its time (`time.busy`, `time.idle`). The server sets up its own log.
fn init_step_log() {
    let Ok(setting) = std::env::var("QUOTECAST_LOG") else {
        return;
    };
    let filter = match tracing_subscriber::EnvFilter::try_new(&setting) {
        Ok(filter) => filter,
        Err(e) => {
            // Not eprintln!: it panics when standard error is closed.
            let _ = writeln!(
                std::io::stderr(),
                "note: QUOTECAST_LOG `{setting}` is not a log filter ({e}); expected e.g. `info`: no step log"
            );
            return;
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        // Ends with its job: see quotecast_server::allocator.
        quotecast_server::allocator::keep_freed_memory();
        init_step_log();
    }
    let result = match cli.command {
        Command::Serve(args) => serve::run(*args),
        Command::Rules(RulesCommand::Check { dir }) => rules_cmd::check(&dir),
        Command::Rules(RulesCommand::Test { dir }) => rules_cmd::test(&dir),
        Command::Quote(QuoteCommand::Price(args)) => quote_cmd::price(args),
        Command::Configure(args) => configure_cmd::configure(args),
        Command::GenPipeline(args) => gen_cmd::run(args),
        Command::Forecast(command) => forecast_cmd::run(command),
        Command::Demand(command) => demand_cmd::run(command),
        Command::Quotes(command) => quotes_cmd::run(command),
        Command::Audit(command) => audit_cmd::run(command),
        Command::Auth(AuthCommand::NewKey) => auth_cmd::new_key(),
        Command::Health(args) => health_cmd::run(args),
    };
    match result {
        Ok(code) => code,
        // The reader of our output went away (`quotecast ... | head`): stop
        // quietly, as command-line tools do.
        Err(error)
            if error
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(error) => {
            // Not eprintln!: it panics when standard error is closed.
            let _ = writeln!(std::io::stderr(), "error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
