//! What every call leaves behind: one access-log line (method, gRPC
//! status, duration, request id, peer, principal) and the request metrics
//! (count by method and code, latency per method), both taken when the
//! response's last frame is sent, or when the call is dropped before it
//! (the client went away: CANCELLED). The request id is the caller's
//! `x-request-id` when it sends one, else a new one; the response carries
//! it back.
use std::{
    pin::Pin,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Instant,
};

use http_body::{Body, Frame, SizeHint};
use tonic::{
    codegen::{BoxFuture, Bytes, http},
    transport::server::TcpConnectInfo,
};
use tower::Service;

use crate::metrics::Metrics;

/// The header a request id travels in, both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// Filled by the auth layer with the caller's name once it is known.
#[derive(Clone, Default)]
pub(crate) struct CallerSlot(pub Arc<OnceLock<String>>);

/// Wraps the server's routes in [`Observed`].
#[derive(Clone)]
pub struct ObserveLayer {
    pub metrics: Arc<Metrics>,
    /// Request ids given out, for ids the server makes itself.
    next_id: Arc<AtomicU64>,
    /// A per-process prefix, so ids of two runs do not collide.
    prefix: Arc<str>,
}

impl ObserveLayer {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros());
        Self {
            metrics,
            next_id: Arc::default(),
            prefix: format!("{:x}-{:x}", std::process::id(), started & 0xff_ffff).into(),
        }
    }
}

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = Observed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observed {
            layer: self.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct Observed<S> {
    layer: ObserveLayer,
    inner: S,
}

impl<S, B> Service<http::Request<B>> for Observed<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let started = Instant::now();
        let request_id = request
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                let n = self.layer.next_id.fetch_add(1, Ordering::Relaxed);
                format!("{}-{n:x}", self.layer.prefix)
            });
        let peer = request
            .extensions()
            .get::<TcpConnectInfo>()
            .and_then(|c| c.remote_addr())
            .map_or_else(|| "-".to_owned(), |a| a.to_string());
        let caller = CallerSlot::default();
        request.extensions_mut().insert(caller.clone());
        let call = Call {
            metrics: self.layer.metrics.clone(),
            method: request.uri().path().to_owned(),
            request_id: request_id.clone(),
            peer,
            caller,
            started,
            code: None,
            logged: false,
        };
        call.metrics.in_flight(1);
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut response = response.await?;
            if let Ok(id) = http::HeaderValue::from_str(&request_id) {
                response.headers_mut().insert(REQUEST_ID, id);
            }
            let mut call = call;
            // A trailers-only response (an error before any message)
            // carries its status in the headers.
            call.code = grpc_code(response.headers());
            Ok(response.map(|inner| tonic::body::Body::new(ObservedBody { inner, call })))
        })
    }
}

/// The gRPC status code a header map carries, if any.
fn grpc_code(headers: &http::HeaderMap) -> Option<tonic::Code> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(tonic::Code::from)
}

/// One call being answered; logged and counted once, when it ends.
struct Call {
    metrics: Arc<Metrics>,
    method: String,
    request_id: String,
    peer: String,
    caller: CallerSlot,
    started: Instant,
    code: Option<tonic::Code>,
    logged: bool,
}

impl Call {
    fn finish(&mut self, code: tonic::Code) {
        if self.logged {
            return;
        }
        self.logged = true;
        let seconds = self.started.elapsed().as_secs_f64();
        let method = self.method.trim_start_matches('/');
        self.metrics.finished(method, code, seconds);
        let principal = self.caller.0.get().map_or("-", String::as_str);
        tracing::info!(
            target: "quotecast::access",
            method = %method,
            status = %code_name(code),
            duration_ms = (seconds * 1e6).round() / 1e3,
            request_id = %self.request_id,
            peer = %self.peer,
            principal = %principal,
            "request"
        );
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.metrics.in_flight(-1);
        // Dropped before its last frame: the client went away.
        let code = self.code.unwrap_or(tonic::Code::Cancelled);
        self.finish(code);
    }
}

/// A code's name as gRPC writes it (`OK`, `INVALID_ARGUMENT`, ...).
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code as C;
    match code {
        C::Ok => "OK",
        C::Cancelled => "CANCELLED",
        C::Unknown => "UNKNOWN",
        C::InvalidArgument => "INVALID_ARGUMENT",
        C::DeadlineExceeded => "DEADLINE_EXCEEDED",
        C::NotFound => "NOT_FOUND",
        C::AlreadyExists => "ALREADY_EXISTS",
        C::PermissionDenied => "PERMISSION_DENIED",
        C::ResourceExhausted => "RESOURCE_EXHAUSTED",
        C::FailedPrecondition => "FAILED_PRECONDITION",
        C::Aborted => "ABORTED",
        C::OutOfRange => "OUT_OF_RANGE",
        C::Unimplemented => "UNIMPLEMENTED",
        C::Internal => "INTERNAL",
        C::Unavailable => "UNAVAILABLE",
        C::DataLoss => "DATA_LOSS",
        C::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The response body, watched for its trailers and its end.
struct ObservedBody {
    inner: tonic::body::Body,
    call: Call,
}

impl Body for ObservedBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(grpc_code) {
                    self.call.code = Some(code);
                    self.call.finish(code);
                }
            }
            Poll::Ready(Some(Err(status))) => {
                let code = status.code();
                self.call.code = Some(code);
                self.call.finish(code);
            }
            Poll::Ready(None) => {
                // Ended without trailers: a trailers-only response, whose
                // code came in the headers.
                let code = self.call.code.unwrap_or(tonic::Code::Unknown);
                self.call.code = Some(code);
                self.call.finish(code);
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
