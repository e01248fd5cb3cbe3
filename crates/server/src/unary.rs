//! One unary gRPC exchange, framed here: the request's single message out of
//! its HTTP/2 body, and a response of one message and an OK status.
//!
//! `QuoteService` uses this instead of tonic's generic server path, which
//! streams the body through a codec, copies the encoded response once more
//! into its own buffer and builds its trailers per call. For a priced quote
//! that is a tenth of the server's time. A gRPC message is a flag byte
//! (compressed or not), a 4-byte big-endian length and the bytes; the
//! status travels in the trailers. Everything else (routing, timeouts,
//! error responses) is still tonic's.
use prost::bytes::{Buf, Bytes};
use tonic::{
    Status,
    body::Body,
    codegen::{Body as HttpBody, StdError, http},
};

/// The largest request message accepted, as tonic's default.
pub(crate) const MAX_REQUEST_BYTES: usize = 4 << 20;

const HEADER_BYTES: usize = 5;

/// The one message of a unary request, still encoded.
pub(crate) async fn request_message<B>(request: http::Request<B>) -> Result<Bytes, Status>
where
    B: HttpBody + Send + 'static,
    B::Data: Send,
    B::Error: Into<StdError> + Send + 'static,
{
    if let Some(encoding) = request.headers().get("grpc-encoding")
        && encoding != "identity"
    {
        return Err(Status::unimplemented(format!(
            "the request is compressed with `{}`; this server accepts only uncompressed requests",
            String::from_utf8_lossy(encoding.as_bytes())
        )));
    }
    let limited =
        http_body_util::Limited::new(request.into_body(), HEADER_BYTES + MAX_REQUEST_BYTES);
    let body = http_body_util::BodyExt::collect(limited)
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Status::resource_exhausted(format!(
                    "the request is larger than {MAX_REQUEST_BYTES} bytes"
                ))
            } else if let Some(status) = e.downcast_ref::<Status>() {
                // The body's own verdict (it stopped arriving: see `idle`).
                status.clone()
            } else {
                Status::unknown(format!("reading the request: {e}"))
            }
        })?
        .to_bytes();
    unframe(body)
}

/// The message inside one gRPC frame, which must be the whole body.
fn unframe(mut body: Bytes) -> Result<Bytes, Status> {
    if body.len() < HEADER_BYTES {
        return Err(Status::internal("the request holds no message"));
    }
    let compressed = body.get_u8();
    let length = body.get_u32() as usize;
    match compressed {
        0 => {}
        1 => {
            return Err(Status::internal(
                "the request message is marked compressed but no grpc-encoding was given",
            ));
        }
        flag => {
            return Err(Status::internal(format!(
                "the request message has an invalid compression flag {flag}"
            )));
        }
    }
    if body.len() != length {
        return Err(Status::internal(if body.len() < length {
            format!(
                "the request message is cut short: {} of {length} bytes",
                body.len()
            )
        } else {
            "a unary request holds exactly one message".to_owned()
        }));
    }
    Ok(body)
}

/// A status-only response. It names the one encoding this service takes
/// (`identity`), so that a client refused for compressing knows what to send.
pub(crate) fn refusal(status: Status) -> http::Response<Body> {
    let mut response: http::Response<Body> = status.into_http();
    response.headers_mut().insert(
        "grpc-accept-encoding",
        http::HeaderValue::from_static("identity"),
    );
    response
}

/// A response message being written after room for its frame header.
pub(crate) struct ResponseMessage(Vec<u8>);

impl ResponseMessage {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let mut out = Vec::with_capacity(HEADER_BYTES + capacity);
        out.resize(HEADER_BYTES, 0);
        Self(out)
    }

    /// Where the encoded message goes.
    pub(crate) fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }

    /// The OK response carrying the message.
    pub(crate) fn into_response(self) -> Result<http::Response<Body>, Status> {
        let mut frame = self.0;
        let length = u32::try_from(frame.len() - HEADER_BYTES)
            .map_err(|_| Status::resource_exhausted("the response exceeds 4 GiB"))?;
        frame[1..HEADER_BYTES].copy_from_slice(&length.to_be_bytes());
        let mut trailers = http::HeaderMap::with_capacity(1);
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        let body = http_body_util::BodyExt::with_trailers(
            http_body_util::Full::new(Bytes::from(frame)),
            std::future::ready(Some(Ok(trailers))),
        );
        let mut response = http::Response::new(Body::new(body));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/grpc"),
        );
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(flag: u8, declared: u32, message: &[u8]) -> Bytes {
        let mut out = vec![flag];
        out.extend_from_slice(&declared.to_be_bytes());
        out.extend_from_slice(message);
        Bytes::from(out)
    }

    #[test]
    fn a_frame_gives_back_exactly_its_message() {
        let message = unframe(frame(0, 3, b"abc")).expect("one whole message");
        assert_eq!(&message[..], b"abc");
        assert!(unframe(frame(0, 0, b"")).expect("empty message").is_empty());
    }

    #[test]
    fn a_refusal_carries_its_status_and_the_accepted_encoding() {
        let response = refusal(Status::unimplemented("compressed"));
        let header = |name: &str| response.headers().get(name).map(|v| v.as_bytes().to_vec());
        assert_eq!(header("grpc-status"), Some(b"12".to_vec()));
        assert_eq!(header("grpc-accept-encoding"), Some(b"identity".to_vec()));
    }

    #[test]
    fn broken_frames_are_refused_with_the_reason() {
        let cases = [
            (frame(0, 5, b"abc"), "cut short: 3 of 5"),
            (frame(0, 2, b"abc"), "exactly one message"),
            (frame(1, 3, b"abc"), "marked compressed"),
            (frame(7, 3, b"abc"), "compression flag 7"),
            (Bytes::from_static(b"\0\0"), "no message"),
        ];
        for (body, reason) in cases {
            let status = unframe(body).expect_err(reason);
            assert_eq!(status.code(), tonic::Code::Internal, "{reason}");
            assert!(status.message().contains(reason), "{}", status.message());
        }
    }
}
