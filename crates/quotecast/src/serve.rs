//! `quotecast serve`.
use std::{net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc};

use anyhow::Context;
use clap::Args;
use quotecast_pipeline::quota::{Quotas, parse_size};
use quotecast_server::AppState;
use tracing_subscriber::EnvFilter;

use crate::config::{DEFAULT_ADDR, DEFAULT_DATA, FileConfig, RulesSource};

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:50051].
    #[arg(long, env = "QUOTECAST_ADDR")]
    addr: Option<String>,
    /// Address of the Prometheus metrics listener (plain HTTP, GET
    /// /metrics), such as 127.0.0.1:9090 [default: none].
    #[arg(long, env = "QUOTECAST_METRICS_ADDR")]
    metrics_addr: Option<String>,
    /// OpenTelemetry: send traces (a span per request, in the caller's
    /// W3C trace context) to this OTLP/gRPC collector, such as
    /// http://127.0.0.1:4317 [default: none].
    #[arg(long, env = "QUOTECAST_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    /// A browser origin allowed to call the API across origins (CORS),
    /// such as https://crm.example.com; repeat for more [default: none].
    #[arg(
        long = "cors-origin",
        env = "QUOTECAST_CORS_ORIGINS",
        value_delimiter = ','
    )]
    cors_origins: Vec<String>,
    /// TLS: the server's certificate chain (PEM); with --tls-key, the
    /// service is served over TLS only [default: clear text].
    #[arg(long, env = "QUOTECAST_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS: the certificate's private key (PEM).
    #[arg(long, env = "QUOTECAST_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// TLS: require client certificates issued by this CA (PEM).
    #[arg(long, env = "QUOTECAST_TLS_CLIENT_CA", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
    /// Rules directory [default: ./rules, else the embedded example rules].
    #[arg(long, env = "QUOTECAST_RULES")]
    rules: Option<PathBuf>,
    /// Data directory, created if missing [default: ./data].
    #[arg(long, env = "QUOTECAST_DATA")]
    data: Option<PathBuf>,
    /// Database for stored quotes: sqlite://PATH or postgres://USER@HOST/DB
    /// [default: sqlite in the data directory, quotes.sqlite].
    #[arg(long, env = "QUOTECAST_DATABASE")]
    database: Option<String>,
    /// Auth file: the principals (API key hashes, roles, tenants, approval
    /// limits) and token issuers. Without one the server runs in
    /// development mode: every call is the anonymous admin, loopback only.
    #[arg(long, env = "QUOTECAST_AUTH")]
    auth: Option<PathBuf>,
    /// Seconds between expiry sweeps of stored quotes; 0: none [default:
    /// 3600].
    #[arg(long, env = "QUOTECAST_SWEEP_EVERY")]
    sweep_every: Option<u64>,
    /// Config file (TOML with addr, metrics_addr, otlp_endpoint, cors_origins, tls_cert,
    /// tls_key, tls_client_ca, rules, data, database, auth, sweep_every, log_format, forecast_jobs,
    /// shutdown_grace, max_upload_bytes, max_pipeline_bytes,
    /// max_data_bytes, max_trial_memory).
    #[arg(long, env = "QUOTECAST_CONFIG")]
    config: Option<PathBuf>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "QUOTECAST_LOG_FORMAT")]
    log_format: Option<String>,
    /// Forecast, funnel and backtest jobs run at once; more wait [default: 2].
    #[arg(long, env = "QUOTECAST_FORECAST_JOBS")]
    forecast_jobs: Option<usize>,
    /// Seconds in-flight requests get to finish after SIGTERM or Ctrl-C;
    /// then (or at a second signal) the server stops anyway [default: 30].
    #[arg(long, env = "QUOTECAST_SHUTDOWN_GRACE")]
    shutdown_grace: Option<u64>,
    /// The largest file an upload may hold, such as 500MiB [default: 8GiB].
    #[arg(long, env = "QUOTECAST_MAX_UPLOAD_BYTES", value_parser = parse_size)]
    max_upload_bytes: Option<u64>,
    /// The most a pipeline's files may hold together [default: 32GiB].
    #[arg(long, env = "QUOTECAST_MAX_PIPELINE_BYTES", value_parser = parse_size)]
    max_pipeline_bytes: Option<u64>,
    /// The most the data directory may hold; uploads that would take it
    /// over are refused [default: 256GiB].
    #[arg(long, env = "QUOTECAST_MAX_DATA_BYTES", value_parser = parse_size)]
    max_data_bytes: Option<u64>,
    /// The memory one forecast's or plan's Monte Carlo trials may keep; a
    /// request that needs more is refused before it starts [default:
    /// 512MiB].
    #[arg(long, env = "QUOTECAST_MAX_TRIAL_MEMORY", value_parser = parse_size)]
    max_trial_memory: Option<u64>,
}

/// Seconds between expiry sweeps unless told.
const DEFAULT_SWEEP_EVERY: u64 = 3600;

/// Seconds in-flight requests get after a shutdown signal.
const DEFAULT_SHUTDOWN_GRACE: u64 = 30;

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

/// Logs to standard error as `format` (text or json) and, with a trace
/// exporter, spans to it too.
fn init_logging(
    format: &str,
    traces: Option<&opentelemetry_sdk::trace::SdkTracerProvider>,
) -> anyhow::Result<()> {
    use tracing_subscriber::{Layer, layer::SubscriberExt, util::SubscriberInitExt};
    let filter =
        EnvFilter::try_from_env("QUOTECAST_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal: a log file or collector
    // gets plain text.
    let log = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(|| LogWriter);
    let log = match format {
        "json" => log.json().boxed(),
        "text" => log.boxed(),
        other => anyhow::bail!("--log-format `{other}`: expected text or json"),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(log)
        .with(traces.map(crate::traces::layer))
        .init();
    Ok(())
}

/// Installs the SIGTERM and Ctrl-C handlers now — before the server says it
/// is serving, so a signal sent from then on is never lost to the default
/// action — and returns the future that completes on the first of them.
/// SIGTERM and Ctrl-C, as many as come.
struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                terminate: signal(SignalKind::terminate())
                    .context("cannot install the SIGTERM handler")?,
                interrupt: signal(SignalKind::interrupt())
                    .context("cannot install the Ctrl-C handler")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.terminate.recv() => {},
            _ = self.interrupt.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The stack of the runtime's threads, blocking job threads included.
const JOB_STACK_BYTES: usize = 16 * 1024 * 1024;

/// Where compiled configuration models are kept, under the data directory.
const COMPILED_MODELS_DIR: &str = "configurators";

/// What loading did with the compiled-model cache; models no longer in
/// the rules are removed from it.
fn log_compiled_models(cache: &quotecast_rules::ModelCache, took: std::time::Duration) {
    let report = cache.report();
    tracing::info!(
        read = report.read,
        compiled = report.compiled,
        refused = report.refused,
        load_ms = took.as_millis() as u64,
        "configuration models ready"
    );
    if let Some(error) = report.unwritable {
        tracing::warn!(%error, "compiled configuration models cannot be kept; a restart compiles them again");
    }
    match cache.prune() {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "compiled models of rules no longer loaded removed"),
        Err(error) => tracing::warn!(%error, "cannot prune compiled configuration models"),
    }
}

/// A database URL without its password, for logs and errors.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user = &url[scheme + 3..at];
            let user = user.split(':').next().unwrap_or("");
            format!("{}{user}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// `text` as a socket address: HOST:PORT with an IP address or a host
/// name (the first address it resolves to); `source` names where it was
/// given (a flag, or a config file's key).
/// The TLS settings of the certificate, key and client CA files given
/// (none: plain text).
fn tls_settings(
    cert: Option<std::path::PathBuf>,
    key: Option<std::path::PathBuf>,
    client_ca: Option<std::path::PathBuf>,
) -> anyhow::Result<Option<Arc<quotecast_server::tls::Tls>>> {
    match (cert, key, client_ca) {
        (Some(cert), Some(key), client_ca) => {
            let files = quotecast_server::tls::TlsFiles {
                cert,
                key,
                client_ca,
            };
            let tls = quotecast_server::tls::Tls::load(files.clone())
                .map_err(|e| anyhow::anyhow!("TLS: {e}"))?;
            tracing::info!(
                cert = %files.cert.display(),
                client_certificates = files.client_ca.is_some(),
                "serving over TLS"
            );
            Ok(Some(Arc::new(tls)))
        }
        (None, None, None) => Ok(None),
        _ => anyhow::bail!("TLS needs both a certificate and its key (tls_cert and tls_key)"),
    }
}

/// The callers of the auth file (its approver-group members that are no
/// principal of it warned about), or development mode without one.
fn callers(
    auth_file: Option<&std::path::Path>,
    rules: &quotecast_model::RuleSet,
) -> anyhow::Result<quotecast_server::reload::LiveAuth> {
    let Some(path) = auth_file else {
        return Ok(quotecast_server::reload::LiveAuth::development(rules));
    };
    let auth = quotecast_server::reload::LiveAuth::from_file(path, rules)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    tracing::info!(auth = %path.display(), "callers authenticated by the auth file");
    for member in auth.current().unknown_members(rules) {
        tracing::warn!(
            %member,
            "an approver group's member is no principal of the auth file: it cannot decide"
        );
    }
    Ok(auth)
}

/// SIGHUP reloads the rules (refused whole when invalid), then the auth
/// file's callers (checked against the rules in service) and the TLS
/// certificates; each outcome is logged.
#[cfg(unix)]
fn reload_on_hangup(state: quotecast_server::AppState) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup()).context("cannot install the SIGHUP handler")?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            // Each outcome is logged by the reload itself.
            let _ = quotecast_server::reload::reload_rules(&state).await;
            let _ = quotecast_server::reload::reload_callers(&state).await;
            if let Some(tls) = &state.tls {
                match tls.reload() {
                    Ok(()) => tracing::info!("TLS certificates reloaded"),
                    Err(error) => tracing::error!(
                        %error,
                        "TLS certificates refused; those in service stay"
                    ),
                }
            }
        }
    });
    Ok(())
}

fn socket_addr(text: &str, source: &str) -> anyhow::Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    let resolved = text
        .to_socket_addrs()
        .with_context(|| {
            format!(
                "{source} `{text}`: must be HOST:PORT, such as 127.0.0.1:50051 or localhost:50051"
            )
        })?
        .next();
    resolved.with_context(|| format!("{source} `{text}`: the host name resolves to no address"))
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let config_key = config_key(args.config.as_deref());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Jobs run polars plans on blocking threads; deep plans (a
        // backtest over many snapshots) recurse deeply.
        .thread_stack_size(JOB_STACK_BYTES)
        .build()
        .context("cannot start the async runtime")?;
    // The trace exporter's channel lives on the runtime.
    let traces = match (args.otlp_endpoint.clone(), file.otlp_endpoint.clone()) {
        (Some(url), _) => Some((url, "--otlp-endpoint".to_owned())),
        (None, Some(url)) => Some((url, config_key("otlp_endpoint"))),
        (None, None) => None,
    }
    .map(|(url, source)| {
        let _entered = runtime.enter();
        crate::traces::provider(&url, &source).map(|p| (p, url))
    })
    .transpose()?;
    let log_format = args
        .log_format
        .clone()
        .or(file.log_format.clone())
        .unwrap_or_else(|| "text".into());
    init_logging(&log_format, traces.as_ref().map(|(p, _)| p))?;
    if let Some((_, url)) = &traces {
        tracing::info!(endpoint = %url, "sending traces over OTLP");
    }
    let settings = Settings::resolve(args, file, &config_key)?;
    let cache = quotecast_rules::ModelCache::new(settings.data.join(COMPILED_MODELS_DIR));
    let started = std::time::Instant::now();
    let loaded = settings.rules.load_with(&cache).map_err(|e| {
        anyhow::anyhow!("cannot load rules from {}: {e}", settings.rules.describe())
    })?;
    for warning in &loaded.summary.warnings {
        tracing::warn!(%warning, "rule warning");
    }
    tracing::info!(
        rules = %settings.rules.describe(),
        summary = %loaded.summary,
        data = %settings.data.display(),
        "rules loaded"
    );
    log_compiled_models(&cache, started.elapsed());
    let auth = callers(settings.auth_file.as_deref(), &loaded.rules)?;
    let code = runtime.block_on(async {
        let addr = settings.addr;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let signals = Signals::install()?;
        let state = settings
            .app_state(loaded.rules, loaded.configurators, auth, traces.is_some())
            .await?;
        serve_until_stopped(listener, signals, state, settings.grace).await
    });
    // The spans not yet sent go now, while the runtime still runs.
    if let Some((provider, _)) = traces
        && let Err(e) = provider.shutdown()
    {
        tracing::warn!(error = %e, "traces not all sent");
    }
    // Jobs still running on blocking threads are not waited for.
    runtime.shutdown_background();
    code
}

/// How a setting is named in messages: `FILE: key` when it came from the
/// configuration file.
fn config_key(config: Option<&std::path::Path>) -> impl Fn(&str) -> String + use<> {
    let config = config.map(|f| f.display().to_string());
    move |key: &str| {
        config
            .as_ref()
            .map_or_else(|| key.to_owned(), |f| format!("{f}: {key}"))
    }
}

/// The server's settings, each from its flag, else the configuration
/// file, else its default; checked before anything starts.
struct Settings {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    cors_origins: Vec<String>,
    tls: Option<Arc<quotecast_server::tls::Tls>>,
    data: PathBuf,
    forecast_jobs: usize,
    grace: std::time::Duration,
    quotas: Quotas,
    trial_budget: quotecast_forecast::TrialBudget,
    database: Option<String>,
    auth_file: Option<PathBuf>,
    sweep_every: u64,
    rules: RulesSource,
}

impl Settings {
    fn resolve(
        args: ServeArgs,
        file: FileConfig,
        config_key: &dyn Fn(&str) -> String,
    ) -> anyhow::Result<Settings> {
        let addr = match (args.addr, file.addr) {
            (Some(text), _) => socket_addr(&text, "--addr")?,
            (None, Some(text)) => socket_addr(&text, &config_key("addr"))?,
            (None, None) => socket_addr(DEFAULT_ADDR, "--addr")?,
        };
        let cors_origins = if args.cors_origins.is_empty() {
            file.cors_origins.unwrap_or_default()
        } else {
            args.cors_origins
        };
        for origin in &cors_origins {
            let ok = (origin.starts_with("http://") || origin.starts_with("https://"))
                && tonic::codegen::http::HeaderValue::from_str(origin).is_ok();
            if !ok {
                anyhow::bail!(
                    "cors origin `{origin}`: must be a browser origin such as https://crm.example.com"
                );
            }
        }
        let metrics_addr = match (args.metrics_addr, file.metrics_addr) {
            (Some(text), _) => Some(socket_addr(&text, "--metrics-addr")?),
            (None, Some(text)) => Some(socket_addr(&text, &config_key("metrics_addr"))?),
            (None, None) => None,
        };
        let tls = tls_settings(
            args.tls_cert.or(file.tls_cert),
            args.tls_key.or(file.tls_key),
            args.tls_client_ca.or(file.tls_client_ca),
        )?;
        if tls.is_none() && !addr.ip().is_loopback() {
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
        let defaults = Quotas::default();
        Ok(Settings {
            addr,
            metrics_addr,
            cors_origins,
            tls,
            data,
            forecast_jobs,
            grace: std::time::Duration::from_secs(
                args.shutdown_grace
                    .or(file.shutdown_grace)
                    .unwrap_or(DEFAULT_SHUTDOWN_GRACE),
            ),
            quotas: Quotas {
                file_bytes: args
                    .max_upload_bytes
                    .or(file.max_upload_bytes.map(|s| s.0))
                    .unwrap_or(defaults.file_bytes),
                pipeline_bytes: args
                    .max_pipeline_bytes
                    .or(file.max_pipeline_bytes.map(|s| s.0))
                    .unwrap_or(defaults.pipeline_bytes),
                data_bytes: args
                    .max_data_bytes
                    .or(file.max_data_bytes.map(|s| s.0))
                    .unwrap_or(defaults.data_bytes),
            },
            trial_budget: quotecast_forecast::TrialBudget {
                bytes: args
                    .max_trial_memory
                    .or(file.max_trial_memory.map(|s| s.0))
                    .unwrap_or(quotecast_forecast::TrialBudget::default().bytes),
            },
            database: args.database.or(file.database),
            auth_file: args.auth.or(file.auth),
            sweep_every: args
                .sweep_every
                .or(file.sweep_every)
                .unwrap_or(DEFAULT_SWEEP_EVERY),
            rules: RulesSource::choose(args.rules.or(file.rules)),
        })
    }

    /// The service's state: the rules and configurators loaded, the quote
    /// store opened (and migrated: a database that cannot be used stops
    /// the start, not the first save), the expiry sweeps, the metrics
    /// listener and the SIGHUP reload started.
    async fn app_state(
        &self,
        rules: quotecast_model::RuleSet,
        configurators: quotecast_server::Configurators,
        auth: quotecast_server::reload::LiveAuth,
        traces: bool,
    ) -> anyhow::Result<AppState> {
        let state = AppState::with_configurators(Arc::new(rules), configurators, &self.data);
        let database = self
            .database
            .clone()
            .unwrap_or_else(|| state.quotes.url().to_owned());
        let store = quotecast_store::Store::open(&database)
            .await
            .with_context(|| format!("cannot open the quote database {}", redacted(&database)))?;
        tracing::info!(database = %redacted(&database), "quote store open");
        let reload_source = self.rules.clone();
        let reload_models = self.data.join(COMPILED_MODELS_DIR);
        let reloader: quotecast_server::reload::Reloader = Arc::new(move || {
            let cache = quotecast_rules::ModelCache::new(reload_models.clone());
            let loaded = reload_source.load_with(&cache).map_err(|e| e.to_string())?;
            Ok((
                loaded.rules,
                loaded.configurators,
                loaded.summary.to_string(),
            ))
        });
        let state = AppState {
            reloader: Some(reloader),
            tls: self.tls.clone(),
            quotes: quotecast_server::QuoteDb::opened(database, store),
            forecast_jobs: Arc::new(tokio::sync::Semaphore::new(self.forecast_jobs)),
            forecast_job_slots: self.forecast_jobs,
            cors_origins: self.cors_origins.clone(),
            traces,
            pipelines: state.pipelines.clone().with_quotas(self.quotas),
            trial_budget: self.trial_budget,
            auth: Arc::new(auth),
            ..state
        };
        if self.sweep_every > 0 {
            let store = state.quotes.store().await?.clone();
            tokio::spawn(quotecast_server::expiry_sweeps(
                store,
                state.live.clone(),
                std::time::Duration::from_secs(self.sweep_every),
                state.today,
            ));
        }
        if let Some(metrics_addr) = self.metrics_addr {
            let listener = tokio::net::TcpListener::bind(metrics_addr)
                .await
                .with_context(|| format!("cannot listen on {metrics_addr} for metrics"))?;
            // Ends with the runtime, after the service has stopped.
            tokio::spawn(quotecast_server::metrics::serve_metrics(
                listener,
                state.clone(),
                std::future::pending(),
            ));
        }
        #[cfg(unix)]
        reload_on_hangup(state.clone())?;
        Ok(state)
    }
}

/// Serves on `listener` until the service stops or a shutdown signal
/// comes; then refuses queued jobs and gives in-flight requests `grace`
/// to finish (a second signal stops at once).
async fn serve_until_stopped(
    listener: tokio::net::TcpListener,
    mut signals: Signals,
    state: AppState,
    grace: std::time::Duration,
) -> anyhow::Result<ExitCode> {
    let (jobs, uploads) = (state.forecast_jobs.clone(), state.upload_jobs.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = quotecast_server::serve(listener, state, async {
        let _ = stopped.await;
    });
    tokio::pin!(serving);
    tokio::select! {
        served = &mut serving => {
            served?;
            tracing::info!("stopped");
            return Ok(ExitCode::SUCCESS);
        }
        () = signals.next() => {}
    }
    tracing::info!(
        grace_seconds = grace.as_secs(),
        "shutdown requested; finishing in-flight requests, refusing queued jobs"
    );
    // Jobs still waiting for a permit are refused (UNAVAILABLE).
    jobs.close();
    uploads.close();
    let _ = stop.send(());
    tokio::select! {
        served = &mut serving => {
            served?;
            tracing::info!("stopped");
        }
        () = tokio::time::sleep(grace) => {
            tracing::warn!("requests still open after the grace period: stopping now");
        }
        () = signals.next() => {
            tracing::warn!("second shutdown signal: stopping now");
        }
    }
    Ok(ExitCode::SUCCESS)
}
