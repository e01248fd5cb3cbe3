//! The Connect protocol (connectrpc.com) on every method, beside gRPC and
//! gRPC-Web: plain HTTP POSTs that a browser's `fetch` or `curl` can make.
//! Unary methods take and give one message as JSON (`application/json`)
//! or protobuf (`application/proto`); streaming methods take and give
//! enveloped messages (`application/connect+json`,
//! `application/connect+proto`), over HTTP/1.1 as well as HTTP/2.
//!
//! Each Connect call is translated into the gRPC call it stands for and
//! handed to the same stack as every other call (access log, metrics,
//! authentication, limits, the generated services), and the gRPC answer
//! is translated back: a unary error becomes Connect's error JSON with its
//! HTTP status and the error details (`google.rpc.BadRequest` and the
//! others, each with its `debug` JSON), a stream ends with Connect's
//! end-of-stream message. JSON is transcoded with the API's own
//! descriptors (prost-reflect; the canonical proto3 JSON mapping:
//! lowerCamelCase names, 64-bit integers as strings, enums by name);
//! unknown fields are refused, naming them. Requests compressed with gzip
//! or zstd (`Content-Encoding`, `Connect-Content-Encoding` on streams) are
//! read, and responses of at least [`COMPRESS_MIN_BYTES`] are compressed
//! with the best the caller accepts (`Accept-Encoding`, which browsers
//! send by themselves; `Connect-Accept-Encoding` on streams, per message).
//! `Connect-Timeout-Ms` becomes the call's deadline.
use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::Duration,
};

use base64::Engine;
use http_body::{Body as HttpBody, Frame};
use http_body_util::{BodyExt, Full};
use prost::{Message, bytes::BytesMut};
use prost_reflect::{DescriptorPool, MessageDescriptor};
use tonic::{
    Code, Status,
    body::Body,
    codegen::{BoxFuture, Bytes, http},
};
use tower::{Service, ServiceExt};

use crate::unary::{Encoding, MAX_REQUEST_BYTES, collect_limited};

/// The content types taken, for a refusal to name.
const TAKEN: &str = "application/json and application/proto (unary methods), \
                     application/connect+json and application/connect+proto (streaming methods)";
/// An envelope's flag: the message is compressed.
const COMPRESSED: u8 = 0x01;
/// An envelope's flag: the end-of-stream message.
const END_STREAM: u8 = 0x02;
const ENVELOPE_BYTES: usize = 5;
/// Smaller messages go uncompressed: compressing them saves less than it
/// costs.
pub(crate) const COMPRESS_MIN_BYTES: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    Proto,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Unary,
    Stream,
}

/// The Connect shape and codec a content type names, if it is Connect's.
fn connect_kind(headers: &http::HeaderMap) -> Option<(Shape, Codec)> {
    // Every gRPC request passes here: no allocation on the way.
    let value = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    let media = value.split(';').next()?.trim();
    [
        ("application/proto", Shape::Unary, Codec::Proto),
        ("application/json", Shape::Unary, Codec::Json),
        ("application/connect+proto", Shape::Stream, Codec::Proto),
        ("application/connect+json", Shape::Stream, Codec::Json),
    ]
    .into_iter()
    .find(|(name, _, _)| media.eq_ignore_ascii_case(name))
    .map(|(_, shape, codec)| (shape, codec))
}

/// The API's descriptors and the limits a Connect request is read with.
struct Api {
    pool: DescriptorPool,
    body_idle: Duration,
    session_idle: Duration,
}

/// Serves Connect calls in front of the gRPC stack.
#[derive(Clone)]
pub(crate) struct ConnectLayer(Arc<Api>);

impl ConnectLayer {
    /// The layer for this API, reading request bodies with the server's
    /// idle limits (see [`crate::idle`]).
    pub(crate) fn new(body_idle: Duration, session_idle: Duration) -> Result<Self, String> {
        let pool = crate::json::pool().map_err(|e| e.to_string())?.clone();
        Ok(ConnectLayer(Arc::new(Api {
            pool,
            body_idle,
            session_idle,
        })))
    }
}

impl<S> tower::Layer<S> for ConnectLayer {
    type Service = Connect<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Connect {
            inner,
            api: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Connect<S> {
    inner: S,
    api: Arc<Api>,
}

impl<S> Service<http::Request<Body>> for Connect<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if request.method() == http::Method::GET && is_connect_get(request.uri()) {
            let (inner, api) = (self.inner.clone(), self.api.clone());
            return Box::pin(async move { api.get(inner, request).await });
        }
        let kind = if request.method() == http::Method::POST {
            connect_kind(request.headers())
        } else {
            None
        };
        let Some((shape, codec)) = kind else {
            return Box::pin(self.inner.call(request));
        };
        let (inner, api) = (self.inner.clone(), self.api.clone());
        Box::pin(async move {
            let request = crate::idle::with_idle_limit(request, api.body_idle, api.session_idle);
            let path = request.uri().path().to_owned();
            let Some(method) = api.method(&path) else {
                let status = Status::unimplemented(format!("this server has no method {path}"));
                return Ok(match shape {
                    Shape::Unary => unary_error(&status, &http::HeaderMap::new()),
                    Shape::Stream => stream_error(&status, codec),
                });
            };
            let streaming = method.is_client_streaming() || method.is_server_streaming();
            if streaming != (shape == Shape::Stream) {
                return Ok(wrong_shape(&path, streaming));
            }
            match shape {
                Shape::Unary => api.unary(inner, request, codec, method).await,
                Shape::Stream => api.stream(inner, request, codec, method).await,
            }
        })
    }
}

impl Api {
    /// The method a path (`/package.Service/Method`) names.
    fn method(&self, path: &str) -> Option<prost_reflect::MethodDescriptor> {
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        self.pool
            .get_service_by_name(service)?
            .methods()
            .find(|m| m.name() == method)
    }

    async fn unary<S>(
        &self,
        inner: S,
        request: http::Request<Body>,
        codec: Codec,
        method: prost_reflect::MethodDescriptor,
    ) -> Result<http::Response<Body>, S::Error>
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>>,
    {
        let (parts, body) = request.into_parts();
        let read = async {
            let encoding = Encoding::named(
                parts
                    .headers
                    .get(http::header::CONTENT_ENCODING)
                    .map(|v| v.as_bytes()),
            )?;
            let bytes = collect_limited(body, MAX_REQUEST_BYTES).await?;
            decoded(
                encoding.decompress(bytes).map_err(caller_sent)?,
                codec,
                &method,
            )
        };
        let message = read.await;
        unary_call(inner, parts, message, codec, &method).await
    }

    /// A Connect GET (`?encoding=json&message=...`): the unary call of a
    /// method without side effects, its request in the query, so that it
    /// can be linked to and cached; 405 for a method with side effects.
    async fn get<S>(
        &self,
        inner: S,
        request: http::Request<Body>,
    ) -> Result<http::Response<Body>, S::Error>
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>>,
    {
        let (parts, _) = request.into_parts();
        let path = parts.uri.path();
        let Some(method) = self.method(path) else {
            let status = Status::unimplemented(format!("this server has no method {path}"));
            return Ok(unary_error(&status, &http::HeaderMap::new()));
        };
        if !self.no_side_effects(&method) {
            return Ok(not_a_get(path));
        }
        let query = GetQuery::parse(parts.uri.query().unwrap_or_default());
        let codec = match query.as_ref().map(|q| q.codec) {
            Ok(Some(codec)) => codec,
            Ok(None) => return Ok(unsupported_get_encoding()),
            Err(status) => return Ok(unary_error(status, &http::HeaderMap::new())),
        };
        let message = query.and_then(|q| {
            let bytes = q.encoding.decompress(q.message).map_err(caller_sent)?;
            decoded(bytes, codec, &method)
        });
        unary_call(inner, parts, message, codec, &method).await
    }

    /// Whether the API marks `method` `idempotency_level =
    /// NO_SIDE_EFFECTS`, which lets it be called with GET.
    fn no_side_effects(&self, method: &prost_reflect::MethodDescriptor) -> bool {
        method
            .method_descriptor_proto()
            .options
            .as_ref()
            .is_some_and(|o| {
                o.idempotency_level()
                    == prost_types::method_options::IdempotencyLevel::NoSideEffects
            })
    }
}

/// Whether a GET is a Connect call: a method's path with a query naming
/// the message or its encoding.
fn is_connect_get(uri: &http::Uri) -> bool {
    uri.query().is_some_and(|q| {
        q.split('&')
            .any(|p| p.starts_with("message=") || p.starts_with("encoding="))
    })
}

/// A Connect GET's query: the request message (percent-encoded, or
/// base64url with `base64=1`), its `encoding` and `compression`.
struct GetQuery {
    message: Bytes,
    /// None for an encoding Connect does not have.
    codec: Option<Codec>,
    encoding: Encoding,
}

impl GetQuery {
    fn parse(query: &str) -> Result<GetQuery, Status> {
        let (mut message, mut codec, mut encoding) = (None, None, Encoding::Identity);
        let mut base64 = false;
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*key {
                "message" => message = Some(value.into_owned()),
                "encoding" => {
                    codec = Some(match &*value {
                        "json" => Some(Codec::Json),
                        "proto" => Some(Codec::Proto),
                        _ => None,
                    })
                }
                "compression" => encoding = Encoding::named(Some(value.as_bytes()))?,
                "base64" => base64 = value == "1",
                "connect" if value != "v1" => {
                    return Err(Status::invalid_argument(format!(
                        "connect={value}: this server speaks Connect v1"
                    )));
                }
                _ => {}
            }
        }
        let codec = codec.ok_or_else(|| {
            Status::invalid_argument("a Connect GET names its encoding: encoding=json or proto")
        })?;
        let message = message.ok_or_else(|| {
            Status::invalid_argument("a Connect GET carries its request in message=")
        })?;
        let message = if base64 {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(message.trim_end_matches('='))
                .map_err(|e| Status::invalid_argument(format!("message= is not base64url: {e}")))?
        } else {
            message.into_bytes()
        };
        Ok(GetQuery {
            message: Bytes::from(message),
            codec,
            encoding,
        })
    }
}

/// HTTP 405 for a GET of a method with side effects.
fn not_a_get(path: &str) -> http::Response<Body> {
    let message =
        format!("{path} has side effects: call it with POST (GET takes methods that have none)\n");
    let mut response = plain_text(http::StatusCode::METHOD_NOT_ALLOWED, message);
    response
        .headers_mut()
        .insert(http::header::ALLOW, http::HeaderValue::from_static("POST"));
    response
}

/// HTTP 415 for a GET whose encoding is not Connect's.
fn unsupported_get_encoding() -> http::Response<Body> {
    plain_text(
        http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "a Connect GET takes encoding=json or encoding=proto\n".to_owned(),
    )
}

fn plain_text(status: http::StatusCode, message: String) -> http::Response<Body> {
    let mut response = http::Response::new(Body::new(Full::new(Bytes::from(message))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A request message as protobuf bytes, from its codec.
fn decoded(
    message: Bytes,
    codec: Codec,
    method: &prost_reflect::MethodDescriptor,
) -> Result<Bytes, Status> {
    match codec {
        Codec::Proto => Ok(message),
        Codec::Json => from_json(&method.input(), &message),
    }
}

/// A unary Connect call, its request message read (or refused): the gRPC
/// call it stands for, and the answer as Connect's (the message, in the
/// best encoding the caller accepts, or the error JSON).
async fn unary_call<S>(
    inner: S,
    parts: http::request::Parts,
    message: Result<Bytes, Status>,
    codec: Codec,
    method: &prost_reflect::MethodDescriptor,
) -> Result<http::Response<Body>, S::Error>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
{
    let respond_with = Encoding::accepted_in(&parts.headers, "accept-encoding");
    let message = match message {
        Ok(message) => message,
        Err(status) => return Ok(unary_error(&status, &http::HeaderMap::new())),
    };
    let grpc = match grpc_request(parts, Body::new(Full::new(envelope(0, &message)))) {
        Ok(grpc) => grpc,
        Err(status) => return Ok(unary_error(&status, &http::HeaderMap::new())),
    };
    let (head, body) = inner.oneshot(grpc).await?.into_parts();
    let (data, trailers) = match body.collect().await {
        Ok(collected) => {
            let trailers = collected.trailers().cloned().unwrap_or_default();
            (collected.to_bytes(), trailers)
        }
        Err(e) => {
            let status = Status::internal(format!("the call broke off: {e}"));
            return Ok(unary_error(&status, &head.headers));
        }
    };
    let status = status_of(&head.headers, &trailers);
    if status.code() != Code::Ok {
        return Ok(unary_error(&status, &head.headers));
    }
    let message = match single_message(&data).and_then(|m| match codec {
        Codec::Proto => Ok(m),
        Codec::Json => to_json(&method.output(), &m).map(Bytes::from),
    }) {
        Ok(message) => message,
        Err(status) => return Ok(unary_error(&status, &head.headers)),
    };
    let (message, encoding) = match compressed(message, respond_with) {
        Ok(compressed) => compressed,
        Err(status) => return Ok(unary_error(&status, &head.headers)),
    };
    let mut response = http::Response::new(Body::new(Full::new(message)));
    copy_metadata(&head.headers, response.headers_mut(), "");
    copy_metadata(&trailers, response.headers_mut(), "trailer-");
    response.headers_mut().insert(
        http::header::VARY,
        http::HeaderValue::from_static("accept-encoding"),
    );
    if encoding != Encoding::Identity {
        response.headers_mut().insert(
            http::header::CONTENT_ENCODING,
            http::HeaderValue::from_static(encoding.name()),
        );
    }
    set_content_type(
        response.headers_mut(),
        match codec {
            Codec::Proto => "application/proto",
            Codec::Json => "application/json",
        },
    );
    Ok(response)
}

impl Api {
    async fn stream<S>(
        &self,
        inner: S,
        request: http::Request<Body>,
        codec: Codec,
        method: prost_reflect::MethodDescriptor,
    ) -> Result<http::Response<Body>, S::Error>
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>>,
    {
        let (parts, body) = request.into_parts();
        let respond_with = Encoding::accepted_in(&parts.headers, "connect-accept-encoding");
        let encoding = match Encoding::named(
            parts
                .headers
                .get("connect-content-encoding")
                .map(|v| v.as_bytes()),
        ) {
            Ok(encoding) => encoding,
            Err(status) => return Ok(stream_error(&status, codec)),
        };
        let body = Body::new(ToGrpc {
            inner: body,
            buffer: BytesMut::new(),
            input: method.input(),
            codec,
            encoding,
        });
        let grpc = match grpc_request(parts, body) {
            Ok(grpc) => grpc,
            Err(status) => return Ok(stream_error(&status, codec)),
        };
        let (head, body) = inner.oneshot(grpc).await?.into_parts();
        let trailers_only = head
            .headers
            .contains_key("grpc-status")
            .then(|| status_of(&head.headers, &http::HeaderMap::new()));
        let mut response = http::Response::new(Body::new(ToConnect {
            inner: body,
            buffer: BytesMut::new(),
            output: method.output(),
            codec,
            encoding: respond_with,
            trailers_only,
            done: false,
        }));
        copy_metadata(&head.headers, response.headers_mut(), "");
        set_content_type(response.headers_mut(), stream_content_type(codec));
        if respond_with != Encoding::Identity {
            response.headers_mut().insert(
                "connect-content-encoding",
                http::HeaderValue::from_static(respond_with.name()),
            );
        }
        Ok(response)
    }
}

fn stream_content_type(codec: Codec) -> &'static str {
    match codec {
        Codec::Proto => "application/connect+proto",
        Codec::Json => "application/connect+json",
    }
}

fn set_content_type(headers: &mut http::HeaderMap, value: &'static str) {
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(value),
    );
}

/// Headers of a Connect request that mean nothing to the gRPC call.
fn is_connect_only(name: &http::HeaderName) -> bool {
    let name = name.as_str();
    name.starts_with("connect-")
        || name.starts_with("grpc-")
        || matches!(
            name,
            "content-type" | "content-length" | "content-encoding" | "accept-encoding" | "te"
        )
}

/// The gRPC request a Connect request stands for: its path, metadata and
/// extensions (peer, TLS), `body` as enveloped messages, and
/// `Connect-Timeout-Ms` as `grpc-timeout`.
fn grpc_request(parts: http::request::Parts, body: Body) -> Result<http::Request<Body>, Status> {
    let timeout = parts
        .headers
        .get("connect-timeout-ms")
        .map(|v| {
            v.to_str()
                .ok()
                .filter(|t| (1..=10).contains(&t.len()))
                .and_then(|t| t.parse::<u64>().ok())
                .ok_or_else(|| {
                    Status::invalid_argument(format!(
                        "connect-timeout-ms must be a whole number of milliseconds of at most \
                         10 digits, not {:?}",
                        String::from_utf8_lossy(v.as_bytes())
                    ))
                })
        })
        .transpose()?;
    let mut request = http::Request::new(body);
    *request.method_mut() = http::Method::POST;
    // The path names the method; a GET's query is the request, not the call's.
    *request.uri_mut() = match parts.uri.query() {
        None => parts.uri,
        Some(_) => http::Uri::builder()
            .path_and_query(parts.uri.path())
            .build()
            .map_err(|e| Status::invalid_argument(format!("the path: {e}")))?,
    };
    *request.version_mut() = http::Version::HTTP_2;
    *request.extensions_mut() = parts.extensions;
    let headers = request.headers_mut();
    for (name, value) in &parts.headers {
        if !is_connect_only(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    headers.insert(http::header::TE, http::HeaderValue::from_static("trailers"));
    if let Some(ms) = timeout {
        // gRPC's timeout has at most 8 digits: whole seconds beyond that.
        let value = if ms <= 99_999_999 {
            format!("{ms}m")
        } else {
            format!("{}S", ms.div_ceil(1000).min(99_999_999))
        };
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            headers.insert("grpc-timeout", value);
        }
    }
    Ok(request)
}

/// A body that does not decompress is the caller's mistake (gRPC calls it
/// INTERNAL; an HTTP client is better told 400).
fn caller_sent(status: Status) -> Status {
    if status.code() == Code::Internal {
        Status::invalid_argument(status.message().to_owned())
    } else {
        status
    }
}

/// One message in an envelope: the flags, the length, the bytes.
fn envelope(flags: u8, message: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(ENVELOPE_BYTES + message.len());
    out.push(flags);
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    Bytes::from(out)
}

/// The next whole envelope at the front of `buffer`, taken off it.
fn take_envelope(buffer: &mut BytesMut) -> Result<Option<(u8, Bytes)>, Status> {
    if buffer.len() < ENVELOPE_BYTES {
        return Ok(None);
    }
    let length = u32::from_be_bytes([buffer[1], buffer[2], buffer[3], buffer[4]]) as usize;
    if length > MAX_REQUEST_BYTES {
        return Err(Status::resource_exhausted(format!(
            "a message of {length} bytes is larger than {MAX_REQUEST_BYTES} bytes"
        )));
    }
    if buffer.len() < ENVELOPE_BYTES + length {
        return Ok(None);
    }
    let flags = buffer[0];
    let mut whole = buffer.split_to(ENVELOPE_BYTES + length);
    let message = whole.split_off(ENVELOPE_BYTES).freeze();
    Ok(Some((flags, message)))
}

/// A response message in `encoding` when it is worth compressing, and the
/// encoding it is in.
fn compressed(message: Bytes, encoding: Encoding) -> Result<(Bytes, Encoding), Status> {
    if encoding == Encoding::Identity || message.len() < COMPRESS_MIN_BYTES {
        return Ok((message, Encoding::Identity));
    }
    Ok((Bytes::from(encoding.compress(&message)?), encoding))
}

/// The one message of a unary gRPC response body.
fn single_message(data: &[u8]) -> Result<Bytes, Status> {
    let mut buffer = BytesMut::from(data);
    match take_envelope(&mut buffer)? {
        Some((0, message)) if buffer.is_empty() => Ok(message),
        _ => Err(Status::internal(
            "the response does not hold exactly one uncompressed message",
        )),
    }
}

/// A JSON message as protobuf bytes (an empty body is the empty message).
fn from_json(descriptor: &MessageDescriptor, json: &[u8]) -> Result<Bytes, Status> {
    crate::json::json_to_bytes(descriptor, json)
        .map(Bytes::from)
        .map_err(Status::from)
}

/// Protobuf bytes as a JSON message.
fn to_json(descriptor: &MessageDescriptor, message: &[u8]) -> Result<Vec<u8>, Status> {
    crate::json::bytes_to_json(descriptor, message, false).map_err(Status::from)
}

/// The status of a gRPC response: in its headers (trailers-only) or its
/// trailers; none at all is an error.
fn status_of(headers: &http::HeaderMap, trailers: &http::HeaderMap) -> Status {
    Status::from_header_map(trailers)
        .or_else(|| Status::from_header_map(headers))
        .unwrap_or_else(|| Status::unknown("the call ended without a status"))
}

/// Connect's name of a code.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "canceled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// The HTTP status of a unary Connect error.
fn http_status(code: Code) -> http::StatusCode {
    let status = match code {
        Code::Ok => 200,
        Code::Cancelled => 499,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
        Code::DeadlineExceeded => 504,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted => 409,
        Code::PermissionDenied => 403,
        Code::ResourceExhausted => 429,
        Code::Unimplemented => 501,
        Code::Unavailable => 503,
        Code::Unauthenticated => 401,
        Code::Unknown | Code::Internal | Code::DataLoss => 500,
    };
    http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
}

/// A status as Connect's error JSON: code, message and details, each
/// detail with its type, its bytes (base64) and, where this server knows
/// the type, the same as JSON under `debug`.
fn error_json(status: &Status) -> serde_json::Value {
    let mut error = serde_json::json!({ "code": code_name(status.code()) });
    if !status.message().is_empty() {
        error["message"] = status.message().into();
    }
    let details: Vec<serde_json::Value> = tonic_types::pb::Status::decode(status.details())
        .map(|s| s.details)
        .unwrap_or_default()
        .into_iter()
        .map(|any| {
            let name = any
                .type_url
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            let mut detail = serde_json::json!({
                "type": name,
                "value": base64::engine::general_purpose::STANDARD_NO_PAD.encode(&any.value),
            });
            if let Some(debug) = debug_json(&name, &any.value) {
                detail["debug"] = debug;
            }
            detail
        })
        .collect();
    if !details.is_empty() {
        error["details"] = details.into();
    }
    error
}

/// A detail of a type in the Google error model as JSON.
fn debug_json(type_name: &str, value: &[u8]) -> Option<serde_json::Value> {
    let descriptor = crate::json::descriptor(type_name).ok()?;
    let json = to_json(&descriptor, value).ok()?;
    serde_json::from_slice(&json).ok()
}

/// Copies a gRPC response's metadata (not its gRPC protocol headers) to a
/// Connect response, each name with `prefix`.
fn copy_metadata(from: &http::HeaderMap, to: &mut http::HeaderMap, prefix: &str) {
    for (name, value) in from {
        if name.as_str().starts_with("grpc-")
            || matches!(name.as_str(), "content-type" | "content-length" | "te")
        {
            continue;
        }
        let name = if prefix.is_empty() {
            Some(name.clone())
        } else {
            http::HeaderName::from_bytes(format!("{prefix}{}", name.as_str()).as_bytes()).ok()
        };
        if let Some(name) = name {
            to.append(name, value.clone());
        }
    }
}

/// A unary call's error: Connect's error JSON with the code's HTTP status
/// and the call's metadata.
fn unary_error(status: &Status, metadata: &http::HeaderMap) -> http::Response<Body> {
    let json = serde_json::to_vec(&error_json(status)).unwrap_or_default();
    let mut response = http::Response::new(Body::new(Full::new(Bytes::from(json))));
    *response.status_mut() = http_status(status.code());
    copy_metadata(metadata, response.headers_mut(), "");
    set_content_type(response.headers_mut(), "application/json");
    response
}

/// The end-of-stream message: the error, if any, and the trailers.
fn end_of_stream(status: Option<&Status>, trailers: &http::HeaderMap) -> Bytes {
    let mut end = serde_json::json!({});
    if let Some(status) = status.filter(|s| s.code() != Code::Ok) {
        end["error"] = error_json(status);
    }
    let mut metadata = serde_json::Map::new();
    for (name, value) in trailers {
        if name.as_str().starts_with("grpc-") {
            continue;
        }
        if let Ok(value) = value.to_str() {
            let values = metadata
                .entry(name.as_str().to_owned())
                .or_insert_with(|| serde_json::Value::Array(Vec::new()));
            if let serde_json::Value::Array(values) = values {
                values.push(value.into());
            }
        }
    }
    if !metadata.is_empty() {
        end["metadata"] = metadata.into();
    }
    envelope(END_STREAM, &serde_json::to_vec(&end).unwrap_or_default())
}

/// A streaming call refused before it started: HTTP 200 and only the
/// end-of-stream message.
fn stream_error(status: &Status, codec: Codec) -> http::Response<Body> {
    let body = end_of_stream(Some(status), &http::HeaderMap::new());
    let mut response = http::Response::new(Body::new(Full::new(body)));
    set_content_type(response.headers_mut(), stream_content_type(codec));
    response
}

/// HTTP 415 for a unary content type on a streaming method or the
/// reverse.
fn wrong_shape(path: &str, streaming: bool) -> http::Response<Body> {
    let wanted = if streaming {
        "application/connect+json or application/connect+proto"
    } else {
        "application/json or application/proto"
    };
    let kind = if streaming { "streaming" } else { "unary" };
    let message = format!("{path} is a {kind} method: send {wanted} (Connect takes {TAKEN})\n");
    plain_text(http::StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
}

/// A Connect request stream as gRPC messages: each envelope decompressed
/// and, for JSON, transcoded to protobuf.
struct ToGrpc {
    inner: Body,
    buffer: BytesMut,
    input: MessageDescriptor,
    codec: Codec,
    encoding: Encoding,
}

impl ToGrpc {
    fn next_message(&mut self) -> Result<Option<Bytes>, Status> {
        let Some((flags, message)) = take_envelope(&mut self.buffer)? else {
            return Ok(None);
        };
        let message = if flags & COMPRESSED != 0 {
            if self.encoding == Encoding::Identity {
                return Err(Status::invalid_argument(
                    "a message is marked compressed but no connect-content-encoding was given",
                ));
            }
            self.encoding.decompress(message).map_err(caller_sent)?
        } else {
            message
        };
        let message = match self.codec {
            Codec::Proto => message,
            Codec::Json => from_json(&self.input, &message)?,
        };
        Ok(Some(envelope(0, &message)))
    }
}

impl HttpBody for ToGrpc {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        loop {
            if let Some(message) = self.next_message()? {
                return Poll::Ready(Some(Ok(Frame::data(message))));
            }
            match ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
                Some(Err(status)) => return Poll::Ready(Some(Err(status))),
                None if self.buffer.is_empty() => return Poll::Ready(None),
                None => {
                    return Poll::Ready(Some(Err(Status::invalid_argument(
                        "the request stream ends inside a message",
                    ))));
                }
            }
        }
    }
}

/// A gRPC response stream as Connect envelopes, ended by the
/// end-of-stream message that carries its status and trailers.
struct ToConnect {
    inner: Body,
    buffer: BytesMut,
    output: MessageDescriptor,
    codec: Codec,
    /// What each message worth it is compressed with.
    encoding: Encoding,
    /// The status of a response that had only headers.
    trailers_only: Option<Status>,
    done: bool,
}

impl ToConnect {
    /// The whole messages received so far, as Connect envelopes.
    fn messages(&mut self) -> Result<Bytes, Status> {
        let mut out = BytesMut::new();
        while let Some((_, message)) = take_envelope(&mut self.buffer)? {
            let message = match self.codec {
                Codec::Proto => message,
                Codec::Json => Bytes::from(to_json(&self.output, &message)?),
            };
            let (message, encoding) = compressed(message, self.encoding)?;
            let flags = if encoding == Encoding::Identity {
                0
            } else {
                COMPRESSED
            };
            out.extend_from_slice(&envelope(flags, &message));
        }
        Ok(out.freeze())
    }

    fn end(&mut self, status: Option<&Status>, trailers: &http::HeaderMap) -> Frame<Bytes> {
        self.done = true;
        Frame::data(end_of_stream(status, trailers))
    }
}

impl HttpBody for ToConnect {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            let frame = match ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
                Some(Ok(frame)) => frame,
                Some(Err(status)) => {
                    return Poll::Ready(Some(Ok(self.end(Some(&status), &http::HeaderMap::new()))));
                }
                None => {
                    let status = self
                        .trailers_only
                        .take()
                        .unwrap_or_else(|| Status::unknown("the call ended without a status"));
                    return Poll::Ready(Some(Ok(self.end(Some(&status), &http::HeaderMap::new()))));
                }
            };
            match frame.into_data() {
                Ok(data) => {
                    self.buffer.extend_from_slice(&data);
                    match self.messages() {
                        Ok(out) if out.is_empty() => continue,
                        Ok(out) => return Poll::Ready(Some(Ok(Frame::data(out)))),
                        Err(status) => {
                            return Poll::Ready(Some(Ok(
                                self.end(Some(&status), &http::HeaderMap::new())
                            )));
                        }
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        let status = status_of(&http::HeaderMap::new(), &trailers);
                        return Poll::Ready(Some(Ok(self.end(Some(&status), &trailers))));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn connect_content_types_are_known_whatever_their_case_and_others_pass_on() {
        let kind = |value: &'static str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(value),
            );
            connect_kind(&headers)
        };
        assert_eq!(
            kind("Application/JSON; charset=utf-8"),
            Some((Shape::Unary, Codec::Json))
        );
        assert_eq!(
            kind("application/connect+proto"),
            Some((Shape::Stream, Codec::Proto))
        );
        assert_eq!(kind("application/grpc"), None);
        assert_eq!(kind("application/grpc-web+proto"), None);
    }

    #[test]
    fn every_code_maps_to_connects_name_and_http_status() {
        assert_eq!(code_name(Code::Cancelled), "canceled");
        assert_eq!(http_status(Code::InvalidArgument).as_u16(), 400);
        assert_eq!(http_status(Code::Unauthenticated).as_u16(), 401);
        assert_eq!(http_status(Code::ResourceExhausted).as_u16(), 429);
        assert_eq!(http_status(Code::Unimplemented).as_u16(), 501);
    }

    #[test]
    fn envelopes_come_off_a_buffer_whole_and_oversized_ones_are_refused() {
        let mut buffer = BytesMut::from(&envelope(0, b"abc")[..]);
        buffer.extend_from_slice(&envelope(1, b"de")[..3]);
        assert_eq!(
            take_envelope(&mut buffer).unwrap(),
            Some((0, Bytes::from_static(b"abc")))
        );
        assert_eq!(take_envelope(&mut buffer).unwrap(), None);
        let mut huge = BytesMut::from(&[0u8, 0xff, 0xff, 0xff, 0xff][..]);
        assert_eq!(
            take_envelope(&mut huge).unwrap_err().code(),
            Code::ResourceExhausted
        );
    }

    #[test]
    fn a_bad_request_becomes_connect_error_json_with_its_violations() {
        let mut details = tonic_types::ErrorDetails::new();
        details.add_bad_request_violation("lines[0].sku", "no product NOPE");
        let status = <Status as tonic_types::StatusExt>::with_error_details(
            Code::InvalidArgument,
            "1 field is invalid",
            details,
        );
        let json = error_json(&status);
        assert_eq!(json["code"], "invalid_argument");
        assert_eq!(json["message"], "1 field is invalid");
        assert_eq!(json["details"][0]["type"], "google.rpc.BadRequest");
        assert_eq!(
            json["details"][0]["debug"]["fieldViolations"][0]["field"],
            "lines[0].sku"
        );
    }
}
