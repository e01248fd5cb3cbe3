//! A span per request for OpenTelemetry traces: named after the method,
//! its parent the caller's W3C trace context (`traceparent`,
//! `tracestate`) when the request carries one, so quotecast's work shows
//! inside the caller's trace. The handlers' and engines' spans (pricing,
//! calibration, correction, forecast, Monte Carlo, plan) open inside it;
//! jobs on blocking threads carry it there (see
//! `forecast::run_with_permit`). The exporter itself is the binary's
//! (`quotecast serve --otlp-endpoint`); without one no span is made here
//! and the logs stay as they are.
use std::task::{Context, Poll};

use opentelemetry::propagation::Extractor;
use tonic::codegen::{BoxFuture, http};
use tower::Service;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Spans per request when `.0` is true.
#[derive(Clone, Copy, Default)]
pub struct TraceLayer(pub bool);

impl<S> tower::Layer<S> for TraceLayer {
    type Service = Traced<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Traced { on: self.0, inner }
    }
}

#[derive(Clone)]
pub struct Traced<S> {
    on: bool,
    inner: S,
}

/// Request headers as the propagator reads them.
struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

impl<S, B> Service<http::Request<B>> for Traced<S>
where
    S: Service<http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if !self.on {
            return Box::pin(self.inner.call(request));
        }
        let path = request.uri().path().trim_start_matches('/');
        let (service, method) = path.split_once('/').unwrap_or((path, ""));
        let span = tracing::info_span!(
            "request",
            otel.name = %path,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            request_id = request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        );
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&Headers(request.headers()))
        });
        // Without a propagator or a traceparent the span starts a trace.
        let _ = span.set_parent(parent);
        let call = span.in_scope(|| self.inner.call(request));
        Box::pin(call.instrument(span))
    }
}
