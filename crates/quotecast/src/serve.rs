//! `quotecast serve`.
use std::{net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc};

use anyhow::Context;
use clap::Args;
use quotecast_server::AppState;
use tracing_subscriber::EnvFilter;

use crate::config::{DEFAULT_ADDR, DEFAULT_DATA, FileConfig, RulesSource};

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:50051].
    #[arg(long, env = "QUOTECAST_ADDR")]
    addr: Option<String>,
    /// Rules directory [default: ./rules, else the embedded example rules].
    #[arg(long, env = "QUOTECAST_RULES")]
    rules: Option<PathBuf>,
    /// Data directory, created if missing [default: ./data].
    #[arg(long, env = "QUOTECAST_DATA")]
    data: Option<PathBuf>,
    /// Config file (TOML with addr, rules, data, log_format, forecast_jobs).
    #[arg(long, env = "QUOTECAST_CONFIG")]
    config: Option<PathBuf>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "QUOTECAST_LOG_FORMAT")]
    log_format: Option<String>,
    /// Forecast, funnel and backtest jobs run at once; more wait [default: 2].
    #[arg(long, env = "QUOTECAST_FORECAST_JOBS")]
    forecast_jobs: Option<usize>,
}

/// Standard error for logs, never failing: a log line that cannot be
/// written (say, the log pipe's reader went away) is dropped, and the
/// service goes on.
struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

fn init_logging(format: &str) -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_from_env("QUOTECAST_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogWriter);
    match format {
        "json" => builder.json().init(),
        "text" => builder.init(),
        other => anyhow::bail!("--log-format `{other}`: expected text or json"),
    }
    Ok(())
}

/// Installs the SIGTERM and Ctrl-C handlers now — before the server says it
/// is serving, so a signal sent from then on is never lost to the default
/// action — and returns the future that completes on the first of them.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate =
            signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
        let mut interrupt =
            signal(SignalKind::interrupt()).context("cannot install the Ctrl-C handler")?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
            tracing::info!("shutdown requested; finishing in-flight requests");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutdown requested; finishing in-flight requests");
        })
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let log_format = args
        .log_format
        .or(file.log_format)
        .unwrap_or_else(|| "text".into());
    init_logging(&log_format)?;
    let addr: SocketAddr = args
        .addr
        .or(file.addr)
        .unwrap_or_else(|| DEFAULT_ADDR.into())
        .parse()
        .context("--addr must be HOST:PORT, such as 127.0.0.1:50051")?;
    if !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "listening beyond this machine without TLS: quotes and forecasts travel in clear text"
        );
    }
    let data = args
        .data
        .or(file.data)
        .unwrap_or_else(|| DEFAULT_DATA.into());
    std::fs::create_dir_all(&data)
        .with_context(|| format!("cannot create data directory {}", data.display()))?;
    let forecast_jobs = args
        .forecast_jobs
        .or(file.forecast_jobs)
        .unwrap_or(quotecast_server::DEFAULT_FORECAST_JOBS);
    if forecast_jobs == 0 {
        anyhow::bail!("--forecast-jobs must be at least 1");
    }
    let source = RulesSource::choose(args.rules.or(file.rules));
    let (rules, summary) = source
        .load()
        .map_err(|e| anyhow::anyhow!("cannot load rules from {}: {e}", source.describe()))?;
    for warning in &summary.warnings {
        tracing::warn!(%warning, "rule warning");
    }
    tracing::info!(rules = %source.describe(), %summary, data = %data.display(), "rules loaded");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let shutdown = shutdown_signal()?;
        let state = AppState {
            forecast_jobs: Arc::new(tokio::sync::Semaphore::new(forecast_jobs)),
            ..AppState::new(Arc::new(rules), &data)
        };
        quotecast_server::serve(listener, state, shutdown).await?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}
