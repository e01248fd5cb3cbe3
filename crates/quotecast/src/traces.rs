//! OpenTelemetry traces exported over OTLP/gRPC when `serve` is given an
//! endpoint (`--otlp-endpoint`, `otlp_endpoint` in the config file): a
//! span per request (made by the server's `traces` layer, its parent the
//! caller's W3C `traceparent`) with the handlers' and engines' spans
//! inside, batched and sent by tonic to a collector (the OpenTelemetry
//! Collector, Jaeger, Tempo, ...) as service `quotecast`.
use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};

/// The exporter for `endpoint` (`http://HOST:PORT` or `https://…`); must
/// be called within the Tokio runtime the exporter's channel is to use.
pub fn provider(endpoint: &str, source: &str) -> anyhow::Result<SdkTracerProvider> {
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        anyhow::bail!(
            "{source} `{endpoint}`: must be an OTLP/gRPC collector URL such as http://127.0.0.1:4317"
        );
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .with_context(|| format!("{source} `{endpoint}`: cannot make the trace exporter"))?;
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("quotecast").build())
        .build())
}

/// The tracing layer that turns spans into OpenTelemetry spans.
pub fn layer<S>(provider: &SdkTracerProvider) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer("quotecast"))
}
