//! A hostile client: values no decimal or date can hold, errors that
//! would be megabytes long, requests too large to expand, uploads over a
//! quota, and raw HTTP/2 streams sent halfway or reset. Each call is
//! refused with a well-formed, readable status; nothing panics, and the
//! server serves on.
#![allow(clippy::unwrap_used)]

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use quotecast_server::pb::{
    BacktestRequest, ConfiguredOption, ForecastRequest, FunnelRequest,
    ListInventoryVersionsRequest, ListPipelinesRequest, PriceQuoteRequest, QuoteLineInput,
    demand_service_client::DemandServiceClient, forecast_service_client::ForecastServiceClient,
    quote_service_client::QuoteServiceClient,
};
use quotecast_tests::{TestServer, field_violations, pb_line as line};
use tonic::Code;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

fn quote(lines: Vec<QuoteLineInput>) -> PriceQuoteRequest {
    PriceQuoteRequest {
        currency_code: "USD".into(),
        price_date: "2026-03-01".into(),
        lines,
        ..Default::default()
    }
}

#[tokio::test]
async fn quantities_no_decimal_can_multiply_are_invalid_arguments() {
    let server = TestServer::start().await;
    let mut client = QuoteServiceClient::new(server.channel().await);
    for quantity in [
        "100000000000000000000000000",
        "79228162514264337593543950335",
        "-79228162514264337593543950335",
    ] {
        let plain = quote(vec![line("DSP-24", quantity)]);
        let e = client.price_quote(plain).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        assert_eq!(field_violations(&e)[0].0, "lines[0].quantity");
        let mut configured = line("SRV-2U", quantity);
        configured.configuration = vec![ConfiguredOption {
            sku: "SRV-CPU-32C".into(),
            quantity: 2,
        }];
        let e = client
            .price_quote(quote(vec![configured]))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    }
    // The server still answers.
    let ok = client
        .price_quote(quote(vec![line("DSP-24", "2")]))
        .await
        .unwrap();
    assert!(!ok.into_inner().lines.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn errors_stay_readable_however_much_is_wrong() {
    let server = TestServer::start().await;
    let mut client = QuoteServiceClient::new(server.channel().await);
    // 5,000 unknown SKUs: at most 100 violations, then one counting the rest.
    let lines = (0..5000).map(|i| line(&format!("NOPE-{i}"), "1")).collect();
    let e = client.price_quote(quote(lines)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let violations = field_violations(&e);
    assert_eq!(violations.len(), 101);
    assert_eq!(violations[100].1, "and 4900 more");
    assert!(e.message().chars().count() < 1100, "{}", e.message().len());
    // A 3 MB SKU is not echoed whole.
    let huge = "X".repeat(3_000_000);
    let e = client
        .price_quote(quote(vec![line(&huge, "1")]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().len() < 2000, "{}", e.message().len());
    assert!(field_violations(&e).iter().all(|(_, d)| d.len() < 1000));
    server.stop().await;
}

#[tokio::test]
async fn an_empty_quote_names_every_missing_field() {
    let server = TestServer::start().await;
    let mut client = QuoteServiceClient::new(server.channel().await);
    let e = client
        .price_quote(PriceQuoteRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let fields: Vec<String> = field_violations(&e).into_iter().map(|(f, _)| f).collect();
    assert!(fields.contains(&"currency_code".to_owned()), "{fields:?}");
    assert!(fields.contains(&"lines".to_owned()), "{fields:?}");
    server.stop().await;
}

#[tokio::test]
async fn dates_outside_sane_years_are_invalid_arguments_on_every_call() {
    let server = TestServer::start().await;
    let mut client = ForecastServiceClient::new(server.channel().await);
    for as_of in [
        "-262143-01-01",
        "+262142-12-31",
        "0001-01-01",
        "99999-01-01",
    ] {
        let forecast = ForecastRequest {
            pipeline: "demo".into(),
            as_of: as_of.into(),
            ..Default::default()
        };
        let e = client.forecast(forecast).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{as_of}: {e:?}");
        assert_eq!(field_violations(&e)[0].0, "as_of");
        let funnel = FunnelRequest {
            pipeline: "demo".into(),
            as_of: as_of.into(),
        };
        let e = client.funnel(funnel).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{as_of}: {e:?}");
        let backtest = BacktestRequest {
            pipeline: "demo".into(),
            as_of: as_of.into(),
            ..Default::default()
        };
        let e = client.backtest(backtest).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{as_of}: {e:?}");
    }
    let mut quotes = QuoteServiceClient::new(server.channel().await);
    let mut far = quote(vec![line("DSP-24", "1")]);
    far.price_date = "-262143-01-01".into();
    let e = quotes.price_quote(far).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    server.stop().await;
}

#[tokio::test]
async fn listing_never_waits_behind_forecast_jobs() {
    // No forecast permit is ever free: every job waits. Listing pipelines
    // and inventory versions answers all the same.
    let server = TestServer::start_with_state(
        |_| {},
        |state| quotecast_server::AppState {
            forecast_jobs: Arc::new(tokio::sync::Semaphore::new(0)),
            ..state
        },
    )
    .await;
    let mut forecasts = ForecastServiceClient::new(server.channel().await);
    let listed = tokio::time::timeout(
        Duration::from_secs(10),
        forecasts.list_pipelines(ListPipelinesRequest {}),
    )
    .await
    .expect("ListPipelines waited behind the forecast jobs")
    .unwrap();
    assert!(listed.into_inner().pipelines.is_empty());
    let mut demand = DemandServiceClient::new(server.channel().await);
    let versions = tokio::time::timeout(
        Duration::from_secs(10),
        demand.list_inventory_versions(ListInventoryVersionsRequest {}),
    )
    .await
    .expect("ListInventoryVersions waited behind the forecast jobs")
    .unwrap();
    assert!(versions.into_inner().versions.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn temporaries_a_killed_server_left_are_removed_at_start() {
    let server = TestServer::start_with(|data| {
        let pipeline = data.join("pipelines/demo");
        std::fs::create_dir_all(pipeline.join("history")).unwrap();
        std::fs::write(pipeline.join(".upload-a1b2.csv"), "half a file").unwrap();
        std::fs::write(pipeline.join("history/.upload-c3d4.parquet"), "x").unwrap();
        std::fs::create_dir_all(data.join("plans/.staging-e5f6")).unwrap();
        std::fs::write(pipeline.join("keep.txt"), "not ours to remove").unwrap();
    })
    .await;
    // A call is answered only once serving has begun.
    let mut demand = DemandServiceClient::new(server.channel().await);
    demand
        .list_inventory_versions(ListInventoryVersionsRequest {})
        .await
        .unwrap();
    let root = server.data.path();
    let left: Vec<String> = walk(root)
        .into_iter()
        .filter(|p| p.contains(".upload-") || p.contains(".staging-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(root.join("pipelines/demo/keep.txt").is_file());
    server.stop().await;
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        out.push(path.display().to_string());
        if path.is_dir() {
            out.extend(walk(&path));
        }
    }
    out
}

#[tokio::test]
async fn a_full_queue_refuses_at_once_and_cancelled_waiters_leave_it() {
    // No permit is ever free: every forecast waits in the queue.
    let server = TestServer::start_with_state(
        |_| {},
        |state| quotecast_server::AppState {
            forecast_jobs: Arc::new(tokio::sync::Semaphore::new(0)),
            ..state
        },
    )
    .await;
    let channel = server.channel().await;
    let request = || ForecastRequest {
        pipeline: "demo".into(),
        as_of: "2026-11-20".into(),
        ..Default::default()
    };
    let waiting: Vec<_> = (0..quotecast_server::MAX_QUEUED_JOBS)
        .map(|_| {
            let mut client = ForecastServiceClient::new(channel.clone());
            let r = request();
            tokio::spawn(async move { client.forecast(r).await })
        })
        .collect();
    // Let them all reach the queue; the next is refused at once.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut client = ForecastServiceClient::new(channel.clone());
    let refused = tokio::time::timeout(Duration::from_secs(5), client.forecast(request()))
        .await
        .expect("a full queue must refuse at once")
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused.message().contains("waiting"),
        "{}",
        refused.message()
    );
    // Callers that give up leave the queue: a new one waits again.
    for w in waiting {
        w.abort();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let queued = tokio::time::timeout(Duration::from_millis(500), client.forecast(request())).await;
    assert!(queued.is_err(), "the request should wait for a permit");
    server.stop().await;
}

/// Every method of the API.
const METHODS: [&str; 19] = [
    "/quotecast.v1.QuoteService/PriceQuote",
    "/quotecast.v1.CatalogService/ListProducts",
    "/quotecast.v1.CatalogService/GetProduct",
    "/quotecast.v1.ConfiguratorService/Configure",
    "/quotecast.v1.ConfiguratorService/ConfigureSession",
    "/quotecast.v1.ForecastService/UploadPipeline",
    "/quotecast.v1.ForecastService/ListPipelines",
    "/quotecast.v1.ForecastService/Forecast",
    "/quotecast.v1.ForecastService/Funnel",
    "/quotecast.v1.ForecastService/Backtest",
    "/quotecast.v1.DemandService/RunPlan",
    "/quotecast.v1.DemandService/ComponentDemand",
    "/quotecast.v1.DemandService/PlannedOrders",
    "/quotecast.v1.DemandService/Capacity",
    "/quotecast.v1.DemandService/SafetyStock",
    "/quotecast.v1.DemandService/Cash",
    "/quotecast.v1.DemandService/PushInventory",
    "/quotecast.v1.DemandService/PushReceipts",
    "/quotecast.v1.DemandService/ListInventoryVersions",
];

#[tokio::test]
async fn undecodable_and_oversize_messages_get_the_same_codes_on_every_method() {
    use prost::bytes::Bytes;
    use quotecast_tests::raw_call;
    let server = TestServer::start().await;
    for method in METHODS {
        // Field 1 with a length running past the end of the message.
        let garbage = raw_call(
            server.channel().await,
            method,
            Bytes::from_static(&[0x0a, 0x7f, 0x01]),
        )
        .await
        .unwrap_err();
        assert_eq!(
            garbage.code(),
            Code::InvalidArgument,
            "{method}: {garbage:?}"
        );
        let huge = raw_call(
            server.channel().await,
            method,
            Bytes::from(vec![0u8; 5 << 20]),
        )
        .await
        .unwrap_err();
        assert_eq!(huge.code(), Code::ResourceExhausted, "{method}: {huge:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn silent_peers_are_closed_and_connections_beyond_the_cap_refused() {
    use tokio::io::AsyncReadExt;
    let server = TestServer::start_with_state(
        |_| {},
        |state| quotecast_server::AppState {
            max_connections: 3,
            handshake_timeout: Duration::from_millis(500),
            ..state
        },
    )
    .await;
    let addr = server.url.trim_start_matches("http://").to_owned();
    // A peer that never speaks is closed after the handshake timeout.
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut byte))
        .await
        .expect("the silent peer was not closed");
    assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
    // Three silent peers take every place: a fourth is closed at once...
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut fourth = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let refused = tokio::time::timeout(Duration::from_millis(400), fourth.read(&mut byte))
        .await
        .expect("a connection over the cap must be closed at once");
    assert!(matches!(refused, Ok(0) | Err(_)), "{refused:?}");
    // ... and once their time is up, the places are free again.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut client = QuoteServiceClient::new(server.channel().await);
    let ok = client.price_quote(quote(vec![line("DSP-24", "1")])).await;
    assert!(ok.is_ok(), "{ok:?}");
    drop(held);
    server.stop().await;
}

#[tokio::test]
async fn an_idle_configuration_session_is_ended() {
    use quotecast_server::pb::{
        ConfigureSessionRequest, configurator_service_client::ConfiguratorServiceClient,
    };
    let server = TestServer::start_with_state(
        |_| {},
        |state| quotecast_server::AppState {
            session_idle: Duration::from_millis(300),
            ..state
        },
    )
    .await;
    let mut client = ConfiguratorServiceClient::new(server.channel().await);
    let (clicks, rx) = tokio::sync::mpsc::channel::<ConfigureSessionRequest>(4);
    let mut answers = client
        .configure_session(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    clicks
        .send(ConfigureSessionRequest {
            product_sku: "SRV-2U".into(),
            choices: vec![],
            skip_explanations: true,
            explain_skus: vec![],
        })
        .await
        .unwrap();
    assert!(answers.message().await.unwrap().is_some());
    // No further click: the session ends on its own, the sender still open.
    let ended = tokio::time::timeout(Duration::from_secs(5), answers.message())
        .await
        .expect("the idle session was not ended")
        .unwrap_err();
    assert_eq!(ended.code(), Code::DeadlineExceeded, "{ended:?}");
    drop(clicks);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_closes_peers_that_never_started_at_once() {
    let server = TestServer::start().await;
    let addr = server.url.trim_start_matches("http://").to_owned();
    let silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut preface = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut preface, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Without a grace period to cut it short, stopping waits for every
    // connection: the two that never started must not hold it.
    tokio::time::timeout(Duration::from_secs(3), server.stop())
        .await
        .expect("the server waited for peers that never started HTTP/2");
    drop((silent, preface));
}

#[tokio::test]
async fn an_upload_that_stalls_halfway_is_ended_and_stores_nothing() {
    use quotecast_server::pb::{
        PipelineFile, UploadHeader, UploadPipelineRequest, upload_pipeline_request::Part,
    };
    let server = TestServer::start_with_state(
        |_| {},
        |state| quotecast_server::AppState {
            body_idle: Duration::from_millis(300),
            ..state
        },
    )
    .await;
    let mut client = ForecastServiceClient::new(server.channel().await);
    let (send, rx) = tokio::sync::mpsc::channel::<UploadPipelineRequest>(4);
    send.send(UploadPipelineRequest {
        part: Some(Part::Header(UploadHeader {
            pipeline: "stalled".into(),
            file: PipelineFile::Snapshot as i32,
            format: quotecast_server::pb::FileFormat::Csv as i32,
        })),
    })
    .await
    .unwrap();
    send.send(UploadPipelineRequest {
        part: Some(Part::Chunk(b"opportunity_id,account\n".to_vec())),
    })
    .await
    .unwrap();
    // The sender stays open and silent.
    let ended = tokio::time::timeout(
        Duration::from_secs(5),
        client.upload_pipeline(tokio_stream::wrappers::ReceiverStream::new(rx)),
    )
    .await
    .expect("the stalled upload was not ended")
    .unwrap_err();
    assert_eq!(ended.code(), Code::DeadlineExceeded, "{ended:?}");
    let files = quotecast_tests::files_in(&server.data.path().join("pipelines/stalled"));
    assert!(files.is_empty(), "{files:?}");
    drop(send);
    server.stop().await;
}

#[tokio::test]
async fn decimals_in_any_form_but_the_documented_one_are_refused_by_field() {
    let server = TestServer::start().await;
    let mut client = QuoteServiceClient::new(server.channel().await);
    for quantity in [
        "1e3",
        "1E1",
        "+5",
        ".5",
        "5.",
        " 5",
        "5 ",
        "1_0",
        "1.00000000000000000000000000001",
    ] {
        let e = client
            .price_quote(quote(vec![line("DSP-24", quantity)]))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "`{quantity}`: {e:?}");
        let v = field_violations(&e);
        assert_eq!(v[0].0, "lines[0].quantity", "`{quantity}`: {v:?}");
    }
    server.stop().await;
}

/// A snapshot CSV of `rows` valid lines (about 80 bytes each).
fn snapshot_csv(rows: usize) -> Vec<u8> {
    let mut csv = String::from(
        "opportunity_id,owner,team,region,stage,created,expected_close,currency,sku,product_line,quantity,amount\n",
    );
    for i in 0..rows {
        csv.push_str(&format!(
            "O-{i:04},ann,na-east,na,qualify,2026-10-01,2026-12-15,USD,SRV-1U,servers,2,8000.00\n"
        ));
    }
    csv.into_bytes()
}

async fn send_file(
    client: &mut ForecastServiceClient<tonic::transport::Channel>,
    pipeline: &str,
    file: quotecast_server::pb::PipelineFile,
    bytes: &[u8],
) -> Result<quotecast_server::pb::UploadPipelineResponse, tonic::Status> {
    use quotecast_server::pb::{
        UploadHeader, UploadPipelineRequest, upload_pipeline_request::Part,
    };
    let mut messages = vec![UploadPipelineRequest {
        part: Some(Part::Header(UploadHeader {
            pipeline: pipeline.into(),
            file: file as i32,
            format: quotecast_server::pb::FileFormat::Csv as i32,
        })),
    }];
    messages.extend(bytes.chunks(1000).map(|c| UploadPipelineRequest {
        part: Some(Part::Chunk(c.to_vec())),
    }));
    client
        .upload_pipeline(tokio_stream::iter(messages))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn uploads_over_a_quota_are_refused_and_keep_what_is_stored() {
    use quotecast_pipeline::quota::Quotas;
    use quotecast_server::pb::PipelineFile;
    let quotas = Quotas {
        file_bytes: 5_000,
        pipeline_bytes: 6_000,
        data_bytes: 8_000,
    };
    let server = TestServer::start_with_state(
        |_| {},
        |state| quotecast_server::AppState {
            pipelines: state.pipelines.clone().with_quotas(quotas),
            ..state
        },
    )
    .await;
    let mut client = ForecastServiceClient::new(server.channel().await);
    let small = snapshot_csv(20);
    let stored = send_file(&mut client, "a", PipelineFile::Snapshot, &small)
        .await
        .unwrap();
    assert_eq!(stored.rows, 20);
    let refused = |status: tonic::Status, setting: &str| {
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert!(status.message().contains(setting), "{}", status.message());
        let details = tonic_types::StatusExt::get_error_details(&status);
        let quota = details.quota_failure().expect("a QuotaFailure detail");
        assert_eq!(quota.violations[0].subject, setting);
    };
    // One file over the file quota.
    let e = send_file(&mut client, "a", PipelineFile::Snapshot, &vec![b'x'; 6_000]).await;
    refused(e.unwrap_err(), "max_upload_bytes");
    // A history file the pipeline's quota has no room for beside its snapshot.
    let e = send_file(&mut client, "a", PipelineFile::Outcomes, &vec![b'x'; 4_900]).await;
    refused(e.unwrap_err(), "max_pipeline_bytes");
    // The file an upload replaces is not counted against it.
    let large = snapshot_csv(55);
    assert!(large.len() < 5_000 && small.len() + large.len() > 6_000);
    let stored = send_file(&mut client, "a", PipelineFile::Snapshot, &large)
        .await
        .unwrap();
    assert_eq!(stored.rows, 55);
    // Another pipeline as large would take the data directory over.
    let e = send_file(&mut client, "b", PipelineFile::Snapshot, &large).await;
    refused(e.unwrap_err(), "max_data_bytes");
    // What was stored is intact and nothing half-written is left.
    let dir = server.data.path().join("pipelines");
    assert_eq!(std::fs::read(dir.join("a/pipeline.csv")).unwrap(), large);
    let left: Vec<_> = ["a", "b", "a/history"]
        .iter()
        .flat_map(|d| quotecast_tests::files_in(&dir.join(d)))
        .filter(|f| f.to_string_lossy().starts_with(".upload-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    server.stop().await;
}

/// A raw HTTP/2 connection to `server`, with the server's SETTINGS
/// received (a health check is sent and answered first); the connection
/// is driven on its own task.
async fn raw_h2(server: &TestServer) -> (h2::client::SendRequest<Bytes>, usize) {
    let addr = server.url.trim_start_matches("http://").to_string();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut client, mut connection) = h2::client::handshake(tcp).await.unwrap();
    let health = grpc_request("/grpc.health.v1.Health/Check");
    let (answer, _) = client.send_request(health, true).unwrap();
    let answered = async {
        let response = answer.await.unwrap();
        let mut body = response.into_body();
        while body.data().await.is_some() {}
    };
    tokio::select! {
        _ = &mut connection => panic!("the connection ended"),
        () = answered => {}
    }
    let streams = connection.max_concurrent_send_streams();
    tokio::spawn(connection);
    (client, streams)
}

fn grpc_request(path: &str) -> http::Request<()> {
    http::Request::builder()
        .method("POST")
        .uri(format!("http://localhost{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap()
}

/// The `grpc-status` of a response: in its headers (trailers-only) or its
/// trailers.
async fn grpc_status(response: http::Response<h2::RecvStream>) -> Option<String> {
    if let Some(status) = response.headers().get("grpc-status") {
        return status.to_str().ok().map(str::to_owned);
    }
    let mut body = response.into_body();
    while body.data().await.is_some() {}
    let trailers = body.trailers().await.ok()??;
    trailers
        .get("grpc-status")
        .and_then(|s| s.to_str().ok())
        .map(str::to_owned)
}

#[tokio::test]
async fn the_server_advertises_its_stream_limit() {
    let server = TestServer::start().await;
    let (_, streams) = raw_h2(&server).await;
    assert_eq!(
        streams,
        quotecast_server::MAX_STREAMS_PER_CONNECTION as usize
    );
    server.stop().await;
}

#[tokio::test]
async fn requests_whose_body_stops_halfway_are_ended_and_the_server_serves_on() {
    let server = TestServer::start_with_state(
        |_| {},
        |state| quotecast_server::AppState {
            body_idle: Duration::from_millis(300),
            ..state
        },
    )
    .await;
    let (mut client, _) = raw_h2(&server).await;
    // A gRPC message that says 100 bytes and sends 10; headers with no body
    // at all; on the hand-framed PriceQuote and a generated service alike.
    let mut pending = Vec::new();
    for path in [
        "/quotecast.v1.QuoteService/PriceQuote",
        "/quotecast.v1.CatalogService/GetProduct",
        "/quotecast.v1.ConfiguratorService/Configure",
    ] {
        for body in [Some(half_message()), None] {
            let (answer, mut send) = client.send_request(grpc_request(path), false).unwrap();
            if let Some(bytes) = body {
                send.send_data(bytes, false).unwrap();
            }
            pending.push((path, answer, send));
        }
    }
    for (path, answer, _send) in pending {
        let response = tokio::time::timeout(Duration::from_secs(10), answer)
            .await
            .unwrap_or_else(|_| panic!("{path}: a half-sent request was held"))
            .unwrap();
        let status = grpc_status(response).await;
        assert_eq!(status.as_deref(), Some("4"), "{path}: DEADLINE_EXCEEDED");
    }
    // A stream the peer resets halfway leaves the connection serving.
    let (answer, mut send) = client
        .send_request(grpc_request("/quotecast.v1.QuoteService/PriceQuote"), false)
        .unwrap();
    send.send_data(half_message(), false).unwrap();
    send.send_reset(h2::Reason::CANCEL);
    drop(answer);
    let mut health = HealthClient::new(server.channel().await);
    health
        .check(HealthCheckRequest::default())
        .await
        .expect("the server still serves");
    server.stop().await;
}

/// The start of a gRPC message: its 5-byte prefix says 100 bytes follow;
/// 10 do.
fn half_message() -> Bytes {
    let mut bytes = vec![0u8, 0, 0, 0, 100];
    bytes.extend([0x0a; 10]);
    Bytes::from(bytes)
}

#[tokio::test]
async fn trials_beyond_the_memory_budget_are_refused_before_they_start() {
    use quotecast_server::pb::PipelineFile;
    let server = TestServer::start_with_state(
        |_| {},
        |state| quotecast_server::AppState {
            trial_budget: quotecast_forecast::TrialBudget { bytes: 64 << 10 },
            ..state
        },
    )
    .await;
    let mut client = ForecastServiceClient::new(server.channel().await);
    send_file(&mut client, "p", PipelineFile::Snapshot, &snapshot_csv(20))
        .await
        .unwrap();
    let request = |trials| ForecastRequest {
        pipeline: "p".into(),
        as_of: "2026-11-20".into(),
        trials,
        ..Default::default()
    };
    // One cell (every deal closes in the same bucket, no grouping): 8,192
    // trials fit in 64 KiB, 10,000 do not.
    let refused = client.forecast(request(10_000)).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused.message().contains("max_trial_memory"),
        "{}",
        refused.message()
    );
    client.forecast(request(8_000)).await.unwrap();
    server.stop().await;
}

/// A click that asks for every explanation it may on a model with a power
/// budget over every option (where explanations run into whole-product
/// conjunctions), and one that contradicts itself there, are answered
/// within the server's work limit: the states are exact, what the limit
/// cut short is marked deferred, the session goes on; a click asking for
/// more explanations in full than allowed is refused by field.
#[tokio::test]
async fn clicks_asking_for_unbounded_explanations_are_answered_within_the_work_limit() {
    use quotecast_configurator::compile;
    use quotecast_server::pb::{
        ConfigureRequest, ConfigureResponse, OptionChoice, OptionStatus,
        configurator_service_client::ConfiguratorServiceClient,
    };
    use quotecast_tests::generated_config::{Shape, generated_model};
    let shape = Shape {
        groups: 40,
        per_group: 5,
        rules: 600,
        power_budget: true,
    };
    let model = generated_model(shape, 42);
    let sku = model.sku.clone();
    let compiled = compile(model).unwrap();
    let server = TestServer::start_with_state(
        |_| {},
        |state| quotecast_server::AppState {
            configurators: Arc::new([(sku.clone(), compiled)].into()),
            click_work: 20_000,
            ..state
        },
    )
    .await;
    let mut client = ConfiguratorServiceClient::new(server.channel().await);
    let request = |choices: &[OptionChoice], explain: Vec<String>| ConfigureRequest {
        product_sku: sku.clone(),
        choices: choices.to_vec(),
        skip_explanations: false,
        explain_skus: explain,
    };
    let narrowed = |state: &ConfigureResponse| -> Vec<String> {
        state
            .options
            .iter()
            .filter(|o| {
                o.status == OptionStatus::Excluded as i32 || o.status == OptionStatus::Added as i32
            })
            .map(|o| o.sku.clone())
            .collect()
    };
    // Clicks a rep could make: the most power-hungry quantity offered.
    let mut choices: Vec<OptionChoice> = Vec::new();
    let mut state = client
        .configure(request(&choices, vec![]))
        .await
        .unwrap()
        .into_inner();
    while choices.len() < 12 {
        let Some(open) = state
            .options
            .iter()
            .find(|o| o.status == OptionStatus::Open as i32 && o.quantities.iter().any(|&q| q > 0))
        else {
            break;
        };
        choices.push(OptionChoice {
            sku: open.sku.clone(),
            quantity: *open.quantities.iter().max().unwrap(),
        });
        state = client
            .configure(request(&choices, vec![]))
            .await
            .unwrap()
            .into_inner();
        assert!(state.valid);
    }
    let asked: Vec<String> = narrowed(&state).into_iter().take(16).collect();
    assert!(!asked.is_empty(), "the clicks narrowed nothing");
    let answered = client
        .configure(request(&choices, asked.clone()))
        .await
        .unwrap()
        .into_inner();
    let mut cut_short = 0;
    for o in answered.options.iter().filter(|o| asked.contains(&o.sku)) {
        let why = o.explanation.as_ref().unwrap();
        if why.deferred {
            assert!(why.rules.is_empty() && why.choices.is_empty(), "{why:?}");
            cut_short += 1;
        } else {
            assert!(!why.rules.is_empty() || !why.choices.is_empty(), "{why:?}");
        }
    }
    assert!(cut_short > 0, "the work limit never applied");
    // The same states as without explanations.
    let plain = client
        .configure(ConfigureRequest {
            skip_explanations: true,
            ..request(&choices, vec![])
        })
        .await
        .unwrap()
        .into_inner();
    for (a, b) in answered.options.iter().zip(&plain.options) {
        assert_eq!((a.status, &a.quantities), (b.status, &b.quantities));
    }
    // Contradicting itself: every option chosen at once.
    let all: Vec<OptionChoice> = plain
        .options
        .iter()
        .map(|o| OptionChoice {
            sku: o.sku.clone(),
            quantity: 1,
        })
        .collect();
    let conflicted = client
        .configure(request(&all, vec![]))
        .await
        .unwrap()
        .into_inner();
    assert!(!conflicted.valid);
    // More explanations in full than a click may ask for.
    let too_many: Vec<String> = plain.options.iter().map(|o| o.sku.clone()).collect();
    let e = client.configure(request(&[], too_many)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert_eq!(field_violations(&e)[0].0, "explain_skus");
    server.stop().await;
}
