//! What a browser needs to call the API: gRPC-Web (tonic-web, over
//! HTTP/1.1 as well as HTTP/2, binary and base64 text), CORS for the
//! origins allowed (`serve --cors-origin`), and a plain HTTP refusal of a
//! request no protocol takes (Connect is served in `connect`, outside).
use std::task::{Context, Poll};

use tonic::codegen::{BoxFuture, http};
use tower::Service;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Request headers a browser client sends beyond the simple ones.
const ALLOWED_HEADERS: &[&str] = &[
    "content-type",
    "x-grpc-web",
    "x-user-agent",
    "grpc-timeout",
    "grpc-accept-encoding",
    "authorization",
    "x-api-key",
    "x-request-id",
    "connect-protocol-version",
    "connect-timeout-ms",
    "connect-content-encoding",
    "connect-accept-encoding",
    "content-encoding",
];

/// Response headers a browser client may read.
const EXPOSED_HEADERS: &[&str] = &[
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "grpc-encoding",
    "connect-content-encoding",
    "x-request-id",
];

/// CORS for exactly `origins` (none: no cross-origin calls; the console
/// served by the server itself is same-origin).
pub(crate) fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<http::HeaderValue> = origins
        .iter()
        .filter_map(|o| http::HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([http::Method::GET, http::Method::POST, http::Method::OPTIONS])
        .allow_headers(
            ALLOWED_HEADERS
                .iter()
                .map(|h| http::HeaderName::from_static(h))
                .collect::<Vec<_>>(),
        )
        .expose_headers(
            EXPOSED_HEADERS
                .iter()
                .map(|h| http::HeaderName::from_static(h))
                .collect::<Vec<_>>(),
        )
        .max_age(std::time::Duration::from_secs(3600))
}

/// Refuses with HTTP 415 a POST whose content type is not gRPC's (a
/// JSON body sent to a method, say), instead of reading it as a gRPC
/// frame.
#[derive(Clone, Copy, Default)]
pub(crate) struct GrpcOnlyLayer;

impl<S> tower::Layer<S> for GrpcOnlyLayer {
    type Service = GrpcOnly<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcOnly(inner)
    }
}

#[derive(Clone)]
pub(crate) struct GrpcOnly<S>(S);

/// Whether `request` may go on to the gRPC routes.
fn is_grpc<B>(request: &http::Request<B>) -> bool {
    request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/grpc"))
}

impl<S, B> Service<http::Request<B>> for GrpcOnly<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.method() != http::Method::POST || is_grpc(&request) {
            return Box::pin(self.0.call(request));
        }
        let found = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .map_or("none".to_owned(), |v| {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            });
        let message = format!(
            "content type {found} is not taken: send application/grpc (or \
             application/grpc-web, application/grpc-web-text from a browser; or Connect's \
             application/json, application/proto, application/connect+json, \
             application/connect+proto)\n"
        );
        let mut response = http::Response::new(tonic::body::Body::new(http_body_util::Full::new(
            tonic::codegen::Bytes::from(message),
        )));
        *response.status_mut() = http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Box::pin(std::future::ready(Ok(response)))
    }
}
