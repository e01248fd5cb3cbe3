//! The quotecast gRPC server: tonic services over the pure engines.
//!
//! Handlers stay thin: they convert the request into domain values
//! ([`convert`]), call an engine, and convert the result back. Errors become
//! `tonic::Status` through [`ServerError`].

/// Generated types, clients and servers of the `quotecast.v1` API; the
/// `.proto` files are in `proto/quotecast/v1/`, compiled by `build.rs` with
/// protox (no system protoc).
pub mod pb {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("quotecast.v1");

    /// Encoded `FileDescriptorSet` of the API, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/quotecast_descriptor.bin"));
}

pub mod allocator;
mod approval_state;
mod approvals;
pub mod auth;
pub mod auth_layer;
mod browser;
mod catalog;
pub mod codec;
mod configurator;
mod connect;
mod console;
mod consolidated;
pub mod convert;
mod convert_config;
mod convert_demand;
mod convert_forecast;
mod demand;
mod error;
mod forecast;
mod idle;
pub mod json;
pub mod learned;
pub mod learned_disk;
pub mod metrics;
pub mod observe;
mod orders;
pub use error::FieldViolation;
mod quote;
mod quote_actions;
pub mod quote_diff;
mod quote_wire;
pub mod reload;
pub mod server_info;
mod stored_quotes;
pub mod tls;
pub mod traces;
mod unary;

use std::{future::Future, net::SocketAddr, path::Path, sync::Arc};

use chrono::{NaiveDate, Utc};
use consolidated::Consolidated;
use pb::{
    catalog_service_server::CatalogServiceServer,
    configurator_service_server::ConfiguratorServiceServer,
    demand_service_server::DemandServiceServer, forecast_service_server::ForecastServiceServer,
};
pub use quotecast_configurator::Configurators;
use quotecast_configurator::compile_all;
use quotecast_model::RuleSet;
use quotecast_pipeline::{demand_store::DemandStore, store::PipelineStore};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_stream::StreamExt;
use tonic::codegen::http;
use tonic::transport::{Server, server::TcpIncoming};

pub use approval_state::{SweepReport, sweep};
pub use error::ServerError;
pub use stored_quotes::{QuoteDb, TENANT, stored_quote};

/// Forecast jobs run at once unless the server is told otherwise.
pub const DEFAULT_FORECAST_JOBS: usize = 2;
/// Uploads checked at once (apart from forecast jobs).
pub const UPLOAD_JOBS: usize = 2;
/// Configuration clicks worked on at once: one per core (clicks are
/// short; a click whose explanations run to the work limit holds its
/// core for about a second, and the others wait their turn).
pub fn click_jobs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

/// Connections served at once; beyond, new ones are closed at once (and
/// logged) rather than left to time out.
pub const MAX_CONNECTIONS: usize = 4096;
/// A configuration session with no click for this long is ended
/// (DEADLINE_EXCEEDED).
pub const SESSION_IDLE: std::time::Duration = std::time::Duration::from_secs(600);
/// A request whose body stops arriving for this long is ended
/// (DEADLINE_EXCEEDED): a unary request sent halfway, an upload or an
/// inventory push gone silent.
pub const BODY_IDLE: std::time::Duration = std::time::Duration::from_secs(60);
/// Any request still without its response after this long is ended: the
/// backstop for a peer that stalls a unary request halfway.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);
/// Requests in flight on one connection; more wait in the client.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 1024;
/// A peer has this long to send the HTTP/2 preface and its first frame.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Jobs that may wait for a permit; beyond, a request is refused at once
/// with RESOURCE_EXHAUSTED rather than queued behind minutes of work.
pub const MAX_QUEUED_JOBS: usize = 32;

/// What every handler shares: the loaded rules, their compiled
/// configuration models, the stored pipelines, the bound on concurrent
/// forecast jobs and the clock.
#[derive(Clone)]
pub struct AppState {
    pub rules: Arc<RuleSet>,
    pub configurators: Arc<Configurators>,
    /// Pipelines under `<data>/pipelines`.
    pub pipelines: PipelineStore,
    /// Inventory versions and demand plans under `<data>`.
    pub demand: DemandStore,
    /// Stored quotes: `<data>/quotes.sqlite` unless the server is given a
    /// database.
    pub quotes: QuoteDb,
    /// One permit per forecast job that may run at once.
    pub forecast_jobs: Arc<Semaphore>,
    /// One permit per upload being checked at once: uploads never wait
    /// behind forecasts, nor forecasts behind uploads.
    pub upload_jobs: Arc<Semaphore>,
    /// One permit per configuration click worked on at once (on blocking
    /// threads, each within [`quotecast_configurator::CLICK_WORK`]).
    pub click_jobs: Arc<Semaphore>,
    /// The conjunction steps one click's explanations may take in all
    /// ([`quotecast_configurator::CLICK_WORK`] unless told otherwise).
    pub click_work: u64,
    /// Jobs waiting for a permit now.
    pub queued_jobs: Arc<std::sync::atomic::AtomicUsize>,
    /// Connections served at once, and how long a new one has to start.
    pub max_connections: usize,
    pub handshake_timeout: std::time::Duration,
    /// A configuration session with no click for this long is ended.
    pub session_idle: std::time::Duration,
    /// An upload or push with no message for this long is ended.
    pub body_idle: std::time::Duration,
    /// The memory each forecast's or plan's trials may keep.
    pub trial_budget: quotecast_forecast::TrialBudget,
    /// Today's date for requests that leave the pricing date empty.
    pub today: fn() -> NaiveDate,
    /// Who calls: the auth file's principals, or development mode's
    /// anonymous caller.
    pub auth: Arc<reload::LiveAuth>,
    /// Browser origins allowed to call across origins (CORS).
    pub cors_origins: Vec<String>,
    /// A span per request, its parent taken from the caller's W3C trace
    /// context (set when traces are exported; see [`traces`]).
    pub traces: bool,
    /// How many forecast jobs may run at once (`forecast_jobs`' permits).
    pub forecast_job_slots: usize,
    /// The request, job and session metrics (`metrics::serve_metrics`).
    pub metrics: Arc<metrics::Metrics>,
    /// When the rules were loaded, and when the server started.
    pub rules_loaded_at: chrono::DateTime<Utc>,
    pub started_at: chrono::DateTime<Utc>,
    /// The rules in service now, swapped whole by a reload; `rules`,
    /// `configurators` and `rules_loaded_at` above are a request's copy of
    /// them (see [`AppState::current`]).
    pub live: Arc<reload::LiveRules>,
    /// TLS settings: certificate, key, client CA (none: clear text).
    pub tls: Option<Arc<tls::Tls>>,
    /// Loads the rules again from where they came from (the server's
    /// `--rules`); `None`: they cannot be reloaded.
    pub reloader: Option<reload::Reloader>,
    /// What histories taught recent jobs, for later jobs on the same files.
    pub learned: Arc<learned::LearnedJobs>,
}

impl AppState {
    /// The state as tenant `tenant` sees it: its own pipelines, inventory
    /// versions and plans (under `<data>/tenants/<tenant>`); the default
    /// tenant (development mode's) keeps `<data>/pipelines` and the rest.
    pub fn for_tenant(&self, tenant: &str) -> Result<Self, ServerError> {
        if tenant == stored_quotes::TENANT {
            return Ok(self.clone());
        }
        Ok(Self {
            pipelines: self.pipelines.of_tenant(tenant)?,
            demand: self.demand.of_tenant(tenant)?,
            ..self.clone()
        })
    }

    /// The state as the caller of `request` sees it (see
    /// [`AppState::for_tenant`]).
    pub fn for_caller<T>(&self, request: &tonic::Request<T>) -> Result<Self, tonic::Status> {
        let caller = auth_layer::principal(request)?;
        Ok(self.for_tenant(&caller.tenant)?)
    }

    /// Compiles every configuration model of `rules` (loading the rules
    /// has already checked that each compiles; one that does not is
    /// logged and left out).
    pub fn new(rules: Arc<RuleSet>, data_dir: &Path) -> Self {
        let (configurators, failed) = compile_all(&rules);
        for (sku, error) in failed {
            tracing::error!(%error, %sku, "configuration model left out");
        }
        Self::with_configurators(rules, configurators, data_dir)
    }

    /// With the configuration models the rules were loaded with
    /// (`quotecast_rules::Loaded::configurators`), compiled once.
    pub fn with_configurators(
        rules: Arc<RuleSet>,
        configurators: Configurators,
        data_dir: &Path,
    ) -> Self {
        let configurators = Arc::new(configurators);
        let now = Utc::now();
        Self {
            configurators: configurators.clone(),
            pipelines: PipelineStore::new(data_dir),
            demand: DemandStore::new(data_dir),
            quotes: QuoteDb::new(quotecast_store::sqlite_url(data_dir)),
            forecast_jobs: Arc::new(Semaphore::new(DEFAULT_FORECAST_JOBS)),
            upload_jobs: Arc::new(Semaphore::new(UPLOAD_JOBS)),
            click_jobs: Arc::new(Semaphore::new(click_jobs())),
            click_work: quotecast_configurator::CLICK_WORK,
            queued_jobs: Arc::default(),
            max_connections: MAX_CONNECTIONS,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            session_idle: SESSION_IDLE,
            body_idle: BODY_IDLE,
            trial_budget: Default::default(),
            today: || Utc::now().date_naive(),
            auth: Arc::new(reload::LiveAuth::development(&rules)),
            rules: rules.clone(),
            cors_origins: Vec::new(),
            traces: false,
            forecast_job_slots: DEFAULT_FORECAST_JOBS,
            metrics: Arc::default(),
            live: Arc::new(reload::LiveRules::new(reload::Rules {
                rules,
                configurators,
                loaded_at: now,
            })),
            reloader: None,
            learned: Arc::new(learned::LearnedJobs::on_disk(data_dir.join("learned"))),
            tls: None,
            rules_loaded_at: now,
            started_at: now,
        }
    }
}

/// A generated service taking and offering gzip and zstd, as the
/// hand-framed `PriceQuote` does (see `unary`).
#[macro_export]
macro_rules! compressed {
    ($server:expr) => {{
        use tonic::codec::CompressionEncoding::{Gzip, Zstd};
        $server
            .accept_compressed(Gzip)
            .accept_compressed(Zstd)
            .send_compressed(Zstd)
            .send_compressed(Gzip)
    }};
}

/// Development mode (no auth file: every call the anonymous admin) only
/// on a loopback address, and said loudly.
fn allowed_to_listen(state: &AppState, addr: Option<SocketAddr>) -> Result<(), ServerError> {
    if state.auth.is_development() {
        if !addr.is_some_and(|a| a.ip().is_loopback()) {
            return Err(ServerError::Startup(format!(
                "no auth file, and {} is not a loopback address: give the server an auth file \
                 (--auth) to listen beyond this machine",
                addr.map_or("the address".to_owned(), |a| a.to_string())
            )));
        }
        tracing::warn!(
            "DEVELOPMENT MODE: no auth file, so every call is the anonymous admin of tenant \
             `default` (loopback only); give --auth FILE to authenticate callers"
        );
    }
    Ok(())
}

/// Removes the temporary files a stopped server left in the stores (every
/// tenant's), saying how many.
async fn remove_leftovers(state: &AppState) {
    let stores = state.clone();
    let removed = tokio::task::spawn_blocking(move || {
        let mut removed = stores.pipelines.remove_leftovers() + stores.demand.remove_leftovers();
        for tenant in stores.pipelines.tenants() {
            if let Ok(own) = stores.for_tenant(&tenant) {
                removed += own.pipelines.remove_leftovers() + own.demand.remove_leftovers();
            }
        }
        removed
    })
    .await
    .unwrap_or(0);
    if removed > 0 {
        tracing::warn!(
            removed,
            "removed temporary files a stopped server left behind"
        );
    }
}

/// The gRPC health service, every API serving, and server reflection v1
/// and v1alpha over the API, health and error-detail descriptors.
async fn health_and_reflection() -> Result<
    (
        tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
        tonic_reflection::server::v1::ServerReflectionServer<
            impl tonic_reflection::server::v1::ServerReflection,
        >,
        tonic_reflection::server::v1alpha::ServerReflectionServer<
            impl tonic_reflection::server::v1alpha::ServerReflection,
        >,
    ),
    ServerError,
> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<quote::QuoteApi>().await;
    health_reporter
        .set_serving::<CatalogServiceServer<catalog::CatalogApi>>()
        .await;
    health_reporter
        .set_serving::<ConfiguratorServiceServer<configurator::ConfiguratorApi>>()
        .await;
    health_reporter
        .set_serving::<ForecastServiceServer<forecast::ForecastApi>>()
        .await;
    health_reporter
        .set_serving::<DemandServiceServer<demand::DemandApi>>()
        .await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        // The error details (google.rpc.BadRequest, ...), so generic
        // clients can show them.
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServerError::Startup(e.to_string()))?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| ServerError::Startup(e.to_string()))?;
    Ok((health_service, reflection_v1, reflection_v1alpha))
}

/// Serves the quotecast API, the gRPC health service and server reflection
/// (v1 and v1alpha) on `listener` until `shutdown` completes; in-flight
/// requests are finished first.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    let listener_addr = listener.local_addr().ok();
    allowed_to_listen(&state, listener_addr)?;
    remove_leftovers(&state).await;
    let (health_service, reflection_v1, reflection_v1alpha) = health_and_reflection().await?;
    // Connections still in their handshake are closed when shutdown
    // begins (they have no request to finish).
    let stopping = Arc::new(tokio::sync::Notify::new());
    let shutdown = {
        let stopping = stopping.clone();
        async move {
            shutdown.await;
            stopping.notify_waiters();
        }
    };
    let (body_idle, session_idle) = (state.body_idle, state.session_idle);
    let max_connections = state.max_connections;
    let places = Arc::new(Semaphore::new(max_connections));
    let handshake = state.handshake_timeout;
    let incoming = accepted(
        listener,
        state.tls.clone(),
        places,
        handshake,
        stopping,
        max_connections,
    );
    let local: Option<SocketAddr> = listener_addr;
    tracing::info!(addr = ?local, "quotecast serving");
    let connect =
        connect::ConnectLayer::new(body_idle, session_idle).map_err(ServerError::Startup)?;
    Server::builder()
        // Streams in flight per connection (advertised in SETTINGS), and
        // pings that find a peer gone quiet.
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(20)))
        .http2_max_header_list_size(64 * 1024)
        .timeout(REQUEST_TIMEOUT)
        // Browsers speak gRPC-Web, over HTTP/1.1 too.
        .accept_http1(true)
        // The web console's static files at /ui/ (GET only).
        .layer(console::ConsoleLayer)
        // Connect (JSON or protobuf over plain HTTP POSTs), translated
        // into the gRPC call it stands for before anything else sees it.
        .layer(connect)
        // One access-log line and the metrics of every call.
        .layer(observe::ObserveLayer::new(state.metrics.clone()))
        // A span per request, in the caller's trace (when traces are on).
        .layer(traces::TraceLayer(state.traces))
        .layer(browser::cors(&state.cors_origins))
        .layer(browser::GrpcOnlyLayer)
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(tower::util::MapResponseLayer::new(
            over_size_is_resource_exhausted,
        ))
        // A request whose body stops arriving is ended (see `idle`).
        .layer(tower::util::MapRequestLayer::new(
            move |request: http::Request<tonic::body::Body>| {
                idle::with_idle_limit(request, body_idle, session_idle)
            },
        ))
        // Who calls, and whether they may (health and reflection stay open).
        .layer(auth_layer::AuthLayer(state.auth.clone()))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(compressed!(CatalogServiceServer::new(
            catalog::CatalogApi::new(state.clone())
        )))
        .add_service(compressed!(ConfiguratorServiceServer::new(
            configurator::ConfiguratorApi::new(state.clone())
        )))
        .add_service(compressed!(ForecastServiceServer::new(
            forecast::ForecastApi::new(state.clone())
        )))
        .add_service(compressed!(DemandServiceServer::new(
            demand::DemandApi::new(state.clone())
        )))
        .add_service(compressed!(
            pb::approval_service_server::ApprovalServiceServer::new(approvals::ApprovalsApi::new(
                state.clone()
            ))
        ))
        .add_service(compressed!(
            pb::order_service_server::OrderServiceServer::new(orders::OrdersApi::new(
                state.clone()
            ))
        ))
        .add_service(compressed!(
            pb::server_service_server::ServerServiceServer::new(server_info::ServerInfoApi::new(
                state.clone()
            ))
        ))
        .add_service(quote::QuoteApi::new(state))
        // NODELAY: a response of several segments must not wait for the
        // peer's delayed ACK (a 40 ms stall per call otherwise). Writes are
        // gathered per poll of a connection instead (see `consolidated`).
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| ServerError::Startup(e.to_string()))
}

/// Sweeps stored quotes every `every` (the first sweep at once): expires
/// those past their validity and escalates approval seats left waiting
/// ([`sweep`]), taking the date from `today`; a failed sweep is logged
/// and the next one tries again.
pub async fn expiry_sweeps(
    store: quotecast_store::Store,
    live: Arc<reload::LiveRules>,
    every: std::time::Duration,
    today: fn() -> NaiveDate,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let rules = live.current().rules.clone();
        match sweep(&store, &rules, today(), Utc::now()).await {
            Ok(report) if report == SweepReport::default() => {}
            Ok(report) => tracing::info!(
                expired = report.expired.len(),
                escalated = report.escalated.len(),
                "swept stored quotes"
            ),
            Err(error) => tracing::error!(%error, "the sweep failed; the next one tries again"),
        }
    }
}

/// The connections accepted on `listener`, within `places`, each through
/// its TLS handshake first when `tls` is given (on its own task, so that a
/// slow handshake holds up no other). Accepting stops when the server no
/// longer takes connections.
fn accepted(
    listener: TcpListener,
    tls: Option<Arc<tls::Tls>>,
    places: Arc<Semaphore>,
    handshake: std::time::Duration,
    stopping: Arc<tokio::sync::Notify>,
    max_connections: usize,
) -> tokio_stream::wrappers::ReceiverStream<std::io::Result<Consolidated<tls::Conn>>> {
    let (found, incoming) = tokio::sync::mpsc::channel(256);
    tokio::spawn(async move {
        let mut tcp = TcpIncoming::from(listener).with_nodelay(Some(true));
        let mut refused: u64 = 0;
        loop {
            let conn = tokio::select! {
                conn = tcp.next() => conn,
                () = found.closed() => break,
            };
            let stream = match conn {
                Some(Ok(stream)) => stream,
                Some(Err(error)) => {
                    if found.send(Err(error)).await.is_err() {
                        break;
                    }
                    continue;
                }
                None => break,
            };
            let Ok(place) = places.clone().try_acquire_owned() else {
                // Closed at once; logged on the first and every 1000th.
                if refused.is_multiple_of(1000) {
                    tracing::warn!(
                        refused = refused + 1,
                        limit = max_connections,
                        "connection limit reached: closing new connections"
                    );
                }
                refused += 1;
                continue;
            };
            match &tls {
                None => {
                    let conn = Consolidated::guarded(
                        tls::Conn::Plain(stream),
                        handshake,
                        stopping.clone(),
                        place,
                    );
                    if found.send(Ok(conn)).await.is_err() {
                        break;
                    }
                }
                Some(tls) => {
                    let (tls, found, stopping) = (tls.clone(), found.clone(), stopping.clone());
                    tokio::spawn(async move {
                        match tls.accept(stream, handshake).await {
                            Ok(conn) => {
                                let conn = Consolidated::guarded(conn, handshake, stopping, place);
                                let _ = found.send(Ok(conn)).await;
                            }
                            Err(error) => tracing::debug!(%error, "TLS handshake failed"),
                        }
                    });
                }
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(incoming)
}

/// tonic refuses a request message over the size limit with OUT_OF_RANGE;
/// a message too large for the server is RESOURCE_EXHAUSTED, as gRPC's
/// status codes have it (and as PriceQuote's own framing says).
fn over_size_is_resource_exhausted<B>(mut response: http::Response<B>) -> http::Response<B> {
    let headers = response.headers_mut();
    let too_large = headers
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .is_some_and(|m| codec::is_over_size(tonic::Code::OutOfRange, &m.replace("%20", " ")));
    if too_large && headers.get("grpc-status").is_some_and(|s| s == "11") {
        headers.insert("grpc-status", http::HeaderValue::from_static("8"));
    }
    response
}
