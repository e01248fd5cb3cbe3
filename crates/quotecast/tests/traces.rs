//! Traces over OTLP: `serve --otlp-endpoint` sends a span per request, in
//! the caller's W3C trace, with the forecast's steps inside it, to a
//! collector (here one made in the test); the spans still batched are
//! sent on shutdown.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    trace::v1::Span,
};
use quotecast_server::pb::{
    FileFormat, ForecastRequest, PipelineFile, PriceQuoteRequest, QuoteLineInput, UploadHeader,
    UploadPipelineRequest, forecast_service_client::ForecastServiceClient,
    quote_service_client::QuoteServiceClient, upload_pipeline_request::Part,
};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// Every span exported to it, with the service name of its resource.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<(String, Span)>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| a.value.as_ref())
                .map(|v| format!("{:?}", v.value))
                .unwrap_or_default();
            for scope in resource.scope_spans {
                for span in scope.spans {
                    spans.push((service.clone(), span));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn traced<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-{CALLER_SPAN}-01").parse().unwrap(),
    );
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_traced_in_the_callers_trace_with_the_engines_steps_inside() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_url = format!("http://{}", listener.local_addr().unwrap());
    let serving = collector.clone();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(serving))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    let data = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", common::free_port());
    let args = [
        "--addr".to_owned(),
        addr.clone(),
        "--data".to_owned(),
        data.path().display().to_string(),
        "--otlp-endpoint".to_owned(),
        collector_url,
    ];
    let (mut child, _log, startup) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        common::start_server(&args, &[])
    })
    .await
    .unwrap();
    assert!(startup.contains("sending traces over OTLP"), "{startup}");

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    QuoteServiceClient::new(channel.clone())
        .price_quote(traced(PriceQuoteRequest {
            currency_code: "USD".into(),
            price_date: "2026-03-01".into(),
            lines: vec![QuoteLineInput {
                sku: "LT-14-PRO".into(),
                quantity: "2".into(),
                ..Default::default()
            }],
            ..Default::default()
        }))
        .await
        .unwrap();
    let mut forecasts = ForecastServiceClient::new(channel);
    let csv = "opportunity_id,owner,team,region,stage,created,expected_close,currency,sku,product_line,quantity,amount\n\
               O-1,ann,na-east,na,propose,2026-03-01,2026-06-15,USD,SRV-1U,servers,2,8000.00\n";
    let upload = vec![
        UploadPipelineRequest {
            part: Some(Part::Header(UploadHeader {
                pipeline: "p".into(),
                file: PipelineFile::Snapshot as i32,
                format: FileFormat::Csv as i32,
            })),
        },
        UploadPipelineRequest {
            part: Some(Part::Chunk(csv.as_bytes().to_vec())),
        },
    ];
    forecasts
        .upload_pipeline(tokio_stream::iter(upload))
        .await
        .unwrap();
    let mut stream = forecasts
        .forecast(traced(ForecastRequest {
            pipeline: "p".into(),
            as_of: "2026-05-12".into(),
            trials: 100,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    while stream.message().await.unwrap().is_some() {}
    // Shutdown sends what is still batched.
    tokio::task::spawn_blocking(move || common::stop(&mut child))
        .await
        .unwrap();

    let spans = collector.0.lock().unwrap().clone();
    let named = |name: &str| {
        spans
            .iter()
            .find(|(_, s)| s.name == name)
            .unwrap_or_else(|| {
                let names: Vec<&str> = spans.iter().map(|(_, s)| s.name.as_str()).collect();
                panic!("no span {name} among {names:?}")
            })
            .clone()
    };
    let (service, price) = named("quotecast.v1.QuoteService/PriceQuote");
    assert!(service.contains("quotecast"), "{service}");
    assert_eq!(hex(&price.trace_id), TRACE_ID);
    assert_eq!(hex(&price.parent_span_id), CALLER_SPAN);
    assert_eq!(price.kind, 2, "a server span");
    // The Monte Carlo ran on a blocking thread, inside the request's span.
    let (_, request) = named("quotecast.v1.ForecastService/Forecast");
    let (_, simulate) = named("simulate");
    assert_eq!(hex(&simulate.trace_id), TRACE_ID);
    let mut parent = simulate.parent_span_id.clone();
    let mut chain = Vec::new();
    while let Some((_, up)) = spans.iter().find(|(_, s)| s.span_id == parent) {
        chain.push(up.name.clone());
        parent = up.parent_span_id.clone();
    }
    assert!(
        chain.contains(&request.name),
        "simulate's ancestors {chain:?} hold the request"
    );
    assert!(chain.contains(&"job".to_owned()), "{chain:?}");
}
