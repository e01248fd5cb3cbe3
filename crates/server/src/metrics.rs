//! Prometheus metrics, served as text on `GET /metrics` of their own
//! plain-HTTP listener (`serve --metrics-addr`): requests by method and
//! gRPC code, latency per method, forecast and plan jobs (running,
//! waiting, cancelled), configuration sessions open, the rules version and
//! when it was loaded, the quote store's group commits (how many, the
//! writes they held, their time), and the process (CPU, memory, open
//! files).
use std::{convert::Infallible, sync::Arc};

use http_body_util::Full;
use hyper::{Request, Response, body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;
use prometheus::{
    Counter, Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use tokio::net::TcpListener;
use tonic::codegen::Bytes;

use crate::{AppState, ServerError, observe::code_name};

/// Latency buckets, in seconds: a price is a fraction of a millisecond, a
/// forecast may take minutes.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 300.0,
];

/// Every metric the server keeps (none, and the page says why, in the
/// case that cannot happen of a metric the registry refuses).
pub struct Metrics(Result<Kept, String>);

struct Kept {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    in_flight: IntGauge,
    jobs_cancelled: IntCounter,
    sessions_open: IntGauge,
    jobs_running: IntGauge,
    jobs_waiting: IntGauge,
    rules: IntGaugeVec,
    rules_loaded: Gauge,
    store: StoreCounters,
}

/// The quote store writer's counts, brought up to the store's own at each
/// scrape.
struct StoreCounters {
    commits: IntCounter,
    writes: IntCounter,
    failed: IntCounter,
    seconds: Counter,
}

impl StoreCounters {
    fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let counters = Self {
            commits: IntCounter::new(
                "store_commits_total",
                "Group commits of the quote store's writer (each one flush)",
            )?,
            writes: IntCounter::new(
                "store_writes_total",
                "Saves and status changes written by those commits",
            )?,
            failed: IntCounter::new(
                "store_failed_commits_total",
                "Group commits that failed (none of their writes stored)",
            )?,
            seconds: Counter::new(
                "store_commit_seconds_total",
                "Time spent in group commits, from the first statement to the commit",
            )?,
        };
        registry.register(Box::new(counters.commits.clone()))?;
        registry.register(Box::new(counters.writes.clone()))?;
        registry.register(Box::new(counters.failed.clone()))?;
        registry.register(Box::new(counters.seconds.clone()))?;
        Ok(counters)
    }

    /// Adds what the store counted since the last scrape (the store's
    /// counts only grow while it is open).
    fn catch_up(&self, stats: quotecast_store::WriteStats) {
        let up = |counter: &IntCounter, to: u64| counter.inc_by(to.saturating_sub(counter.get()));
        up(&self.commits, stats.batches);
        up(&self.writes, stats.writes);
        up(&self.failed, stats.failed_batches);
        let behind = stats.commit_seconds - self.seconds.get();
        if behind > 0.0 {
            self.seconds.inc_by(behind);
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self(Kept::new().map_err(|error| {
            tracing::error!(%error, "metrics cannot be kept");
            error.to_string()
        }))
    }
}

impl Kept {
    fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("quotecast".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new("requests_total", "Calls answered, by method and gRPC code"),
            &["method", "code"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "request_duration_seconds",
                "Time from a call's arrival to its last frame, by method",
            )
            .buckets(BUCKETS.to_vec()),
            &["method"],
        )?;
        let in_flight = IntGauge::new("requests_in_flight", "Calls being answered now")?;
        let jobs_cancelled = IntCounter::new(
            "jobs_cancelled_total",
            "Forecast, backtest and plan jobs stopped because their caller went away",
        )?;
        let sessions_open = IntGauge::new(
            "configure_sessions_open",
            "Configuration sessions (ConfigureSession streams) open now",
        )?;
        let jobs_running = IntGauge::new(
            "jobs_running",
            "Forecast, funnel, backtest and plan jobs running now",
        )?;
        let jobs_waiting = IntGauge::new(
            "jobs_waiting",
            "Forecast, funnel, backtest and plan jobs waiting for a slot",
        )?;
        let rules = IntGaugeVec::new(
            Opts::new(
                "rules_info",
                "The loaded rules: 1 for their version (the fingerprint priced quotes carry)",
            ),
            &["version"],
        )?;
        let rules_loaded = Gauge::new(
            "rules_loaded_timestamp_seconds",
            "When the loaded rules were loaded, in Unix seconds",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(jobs_cancelled.clone()))?;
        registry.register(Box::new(sessions_open.clone()))?;
        registry.register(Box::new(jobs_running.clone()))?;
        registry.register(Box::new(jobs_waiting.clone()))?;
        registry.register(Box::new(rules.clone()))?;
        registry.register(Box::new(rules_loaded.clone()))?;
        let store = StoreCounters::new(&registry)?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Self {
            registry,
            requests,
            latency,
            in_flight,
            jobs_cancelled,
            sessions_open,
            jobs_running,
            jobs_waiting,
            rules,
            rules_loaded,
            store,
        })
    }
}

impl Metrics {
    /// Counts a finished call.
    pub(crate) fn finished(&self, method: &str, code: tonic::Code, seconds: f64) {
        if let Ok(m) = &self.0 {
            m.requests
                .with_label_values(&[method, code_name(code)])
                .inc();
            m.latency.with_label_values(&[method]).observe(seconds);
        }
    }

    /// A call began (`1`) or ended (`-1`).
    pub(crate) fn in_flight(&self, change: i64) {
        if let Ok(m) = &self.0 {
            m.in_flight.add(change);
        }
    }

    /// A configuration session opened (`1`) or closed (`-1`).
    fn session(&self, change: i64) {
        if let Ok(m) = &self.0 {
            m.sessions_open.add(change);
        }
    }

    /// A job stopped because its caller went away.
    pub(crate) fn job_cancelled(&self) {
        if let Ok(m) = &self.0 {
            m.jobs_cancelled.inc();
        }
    }

    /// The metrics as Prometheus text, with the gauges read from `state`
    /// now.
    pub fn render(&self, state: &AppState) -> Vec<u8> {
        match &self.0 {
            Ok(m) => m.render(state),
            Err(error) => format!("# metrics cannot be kept: {error}\n").into_bytes(),
        }
    }
}

impl Kept {
    fn render(&self, state: &AppState) -> Vec<u8> {
        let slots = state.forecast_job_slots;
        let free = state.forecast_jobs.available_permits();
        self.jobs_running
            .set(slots.saturating_sub(free).try_into().unwrap_or(i64::MAX));
        self.jobs_waiting.set(
            state
                .queued_jobs
                .load(std::sync::atomic::Ordering::Relaxed)
                .try_into()
                .unwrap_or(i64::MAX),
        );
        self.rules.reset();
        self.rules
            .with_label_values(&[state.rules.fingerprint()])
            .set(1);
        self.rules_loaded
            .set(state.rules_loaded_at.timestamp_millis() as f64 / 1000.0);
        if let Some(store) = state.quotes.if_open() {
            self.store.catch_up(store.write_stats());
        }
        let mut out = Vec::new();
        // Encoding into memory fails only on a metric the registry holds
        // in a broken state; then the page says so.
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            out = format!("# metrics could not be encoded: {error}\n").into_bytes();
        }
        out
    }
}

/// A configuration session counted open until dropped.
pub(crate) struct SessionOpen(Arc<Metrics>);

impl SessionOpen {
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        metrics.session(1);
        Self(metrics)
    }
}

impl Drop for SessionOpen {
    fn drop(&mut self) {
        self.0.session(-1);
    }
}

/// Serves `GET /metrics` (and 404 elsewhere) over plain HTTP/1.1 on
/// `listener` until `shutdown` completes.
pub async fn serve_metrics(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    tokio::pin!(shutdown);
    tracing::info!(addr = ?listener.local_addr().ok(), "metrics serving on /metrics");
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "metrics listener: accept failed");
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(page(&state, &request)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn page(state: &AppState, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let response = |status: u16, content_type: &str, body: Vec<u8>| {
        Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
    };
    match (request.method().as_str(), request.uri().path()) {
        ("GET", "/metrics") => response(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            state.metrics.render(&state.current()),
        ),
        _ => response(
            404,
            "text/plain; charset=utf-8",
            b"quotecast metrics are at GET /metrics\n".to_vec(),
        ),
    }
}
