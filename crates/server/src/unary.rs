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
//!
//! Compression is what tonic's generated services do with gzip and zstd
//! enabled: a request compressed with either (`grpc-encoding`) is read, a
//! client that accepts one (`grpc-accept-encoding`) gets its response so
//! compressed (zstd first), any other encoding is UNIMPLEMENTED naming
//! those taken.
use std::io::Read;

use prost::bytes::{Buf, Bytes};
use tonic::{
    Status,
    body::Body,
    codegen::{Body as HttpBody, StdError, http},
};

/// The largest request message accepted, as tonic's default.
pub(crate) const MAX_REQUEST_BYTES: usize = 4 << 20;

const HEADER_BYTES: usize = 5;

/// The encodings taken and offered, as `grpc-accept-encoding` lists them.
const ACCEPTED: &str = "zstd,gzip,identity";

/// How a message is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Identity,
    Gzip,
    Zstd,
}

impl Encoding {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Zstd => "zstd",
        }
    }

    /// The request's `grpc-encoding`.
    fn of_request(headers: &http::HeaderMap) -> Result<Self, Status> {
        Self::named(headers.get("grpc-encoding").map(|v| v.as_bytes()))
    }

    /// The encoding a header names (none: identity).
    pub(crate) fn named(name: Option<&[u8]>) -> Result<Self, Status> {
        match name {
            None | Some(b"identity") => Ok(Encoding::Identity),
            Some(b"gzip") => Ok(Encoding::Gzip),
            Some(b"zstd") => Ok(Encoding::Zstd),
            Some(other) => Err(Status::unimplemented(format!(
                "the request is compressed with `{}`; this server takes {ACCEPTED}",
                String::from_utf8_lossy(other)
            ))),
        }
    }

    /// The encoding the response gets: the best the client accepts.
    fn for_response(headers: &http::HeaderMap) -> Self {
        Self::accepted_in(headers, "grpc-accept-encoding")
    }

    /// The best encoding the comma-separated lists of header `name` accept
    /// (zstd, then gzip, else identity); an entry weighted `q=0` is
    /// refused, not accepted, as HTTP's `Accept-Encoding` has it.
    pub(crate) fn accepted_in(headers: &http::HeaderMap, name: &str) -> Self {
        let accepts = |wanted: &str| {
            headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .any(|entry| {
                    let mut parts = entry.split(';').map(str::trim);
                    parts.next().is_some_and(|e| e.eq_ignore_ascii_case(wanted))
                        && parts.all(|p| {
                            p.strip_prefix("q=")
                                .and_then(|q| q.parse::<f32>().ok())
                                .is_none_or(|q| q > 0.0)
                        })
                })
        };
        if accepts("zstd") {
            Encoding::Zstd
        } else if accepts("gzip") {
            Encoding::Gzip
        } else {
            Encoding::Identity
        }
    }

    /// `message` decompressed, refused past [`MAX_REQUEST_BYTES`].
    pub(crate) fn decompress(self, message: Bytes) -> Result<Bytes, Status> {
        let limit = MAX_REQUEST_BYTES as u64 + 1;
        let mut out = Vec::new();
        let read = match self {
            Encoding::Identity => return Ok(message),
            Encoding::Gzip => flate2::read::GzDecoder::new(&message[..])
                .take(limit)
                .read_to_end(&mut out),
            Encoding::Zstd => zstd::stream::read::Decoder::new(&message[..])
                .and_then(|d| d.take(limit).read_to_end(&mut out)),
        };
        read.map_err(|e| {
            Status::internal(format!(
                "the request message is not valid {}: {e}",
                self.name()
            ))
        })?;
        if out.len() > MAX_REQUEST_BYTES {
            return Err(Status::resource_exhausted(format!(
                "the request is larger than {MAX_REQUEST_BYTES} bytes once decompressed"
            )));
        }
        Ok(Bytes::from(out))
    }

    /// `message` compressed.
    pub(crate) fn compress(self, message: &[u8]) -> Result<Vec<u8>, Status> {
        use std::io::Write;
        let failed = |e: std::io::Error| Status::internal(format!("compressing the response: {e}"));
        match self {
            Encoding::Identity => Ok(message.to_vec()),
            Encoding::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(message.len() / 4),
                    flate2::Compression::fast(),
                );
                encoder.write_all(message).map_err(failed)?;
                encoder.finish().map_err(failed)
            }
            Encoding::Zstd => zstd::bulk::compress(message, 1).map_err(failed),
        }
    }
}

/// The one message of a unary request, decoded from its encoding, and the
/// encoding its response is to get.
pub(crate) async fn request_message<B>(
    request: http::Request<B>,
) -> Result<(Bytes, Encoding), Status>
where
    B: HttpBody + Send + 'static,
    B::Data: Send,
    B::Error: Into<StdError> + Send + 'static,
{
    let encoding = Encoding::of_request(request.headers())?;
    let respond_with = Encoding::for_response(request.headers());
    let body = collect_limited(request.into_body(), HEADER_BYTES + MAX_REQUEST_BYTES).await?;
    let (compressed, message) = unframe(body)?;
    let message = match (compressed, encoding) {
        (false, _) => message,
        (true, Encoding::Identity) => {
            return Err(Status::internal(
                "the request message is marked compressed but no grpc-encoding was given",
            ));
        }
        (true, encoding) => encoding.decompress(message)?,
    };
    Ok((message, respond_with))
}

/// A whole request body, refused past `limit` bytes (the size named in
/// the refusal is [`MAX_REQUEST_BYTES`], the message's limit).
pub(crate) async fn collect_limited<B>(body: B, limit: usize) -> Result<Bytes, Status>
where
    B: HttpBody + Send + 'static,
    B::Data: Send,
    B::Error: Into<StdError> + Send + 'static,
{
    let limited = http_body_util::Limited::new(body, limit);
    Ok(http_body_util::BodyExt::collect(limited)
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
        .to_bytes())
}

/// The message inside one gRPC frame, which must be the whole body, and
/// whether it is compressed.
fn unframe(mut body: Bytes) -> Result<(bool, Bytes), Status> {
    if body.len() < HEADER_BYTES {
        return Err(Status::internal("the request holds no message"));
    }
    let flag = body.get_u8();
    let length = body.get_u32() as usize;
    let compressed = match flag {
        0 => false,
        1 => true,
        flag => {
            return Err(Status::internal(format!(
                "the request message has an invalid compression flag {flag}"
            )));
        }
    };
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
    Ok((compressed, body))
}

/// A status-only response. It names the encodings this service takes, so
/// that a client refused for its compression knows what to send.
pub(crate) fn refusal(status: Status) -> http::Response<Body> {
    let mut response: http::Response<Body> = status.into_http();
    response.headers_mut().insert(
        "grpc-accept-encoding",
        http::HeaderValue::from_static(ACCEPTED),
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

    /// The OK response carrying the message in `encoding`.
    pub(crate) fn into_response(self, encoding: Encoding) -> Result<http::Response<Body>, Status> {
        let mut frame = match encoding {
            Encoding::Identity => self.0,
            encoding => {
                let packed = encoding.compress(&self.0[HEADER_BYTES..])?;
                let mut frame = Vec::with_capacity(HEADER_BYTES + packed.len());
                frame.extend_from_slice(&[1, 0, 0, 0, 0]);
                frame.extend_from_slice(&packed);
                frame
            }
        };
        let length = u32::try_from(frame.len() - HEADER_BYTES)
            .map_err(|_| Status::resource_exhausted("the response exceeds 4 GiB"))?;
        frame[1..HEADER_BYTES].copy_from_slice(&length.to_be_bytes());
        let mut trailers = http::HeaderMap::with_capacity(1);
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        // Two frames and no size: a body of known size would be sent with
        // a content length, and a gRPC-Web translation (which puts the
        // trailers in the body) would be cut off before them.
        let frames: [Result<http_body::Frame<Bytes>, Status>; 2] = [
            Ok(http_body::Frame::data(Bytes::from(frame))),
            Ok(http_body::Frame::trailers(trailers)),
        ];
        let body = http_body_util::StreamBody::new(tokio_stream::iter(frames));
        let mut response = http::Response::new(Body::new(body));
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/grpc"),
        );
        headers.insert(
            "grpc-accept-encoding",
            http::HeaderValue::from_static(ACCEPTED),
        );
        if encoding != Encoding::Identity {
            headers.insert(
                "grpc-encoding",
                http::HeaderValue::from_static(encoding.name()),
            );
        }
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
        let (compressed, message) = unframe(frame(0, 3, b"abc")).expect("one whole message");
        assert_eq!((compressed, &message[..]), (false, &b"abc"[..]));
        assert!(
            unframe(frame(0, 0, b""))
                .expect("empty message")
                .1
                .is_empty()
        );
        assert!(unframe(frame(1, 3, b"abc")).expect("compressed").0);
    }

    #[test]
    fn a_refusal_carries_its_status_and_the_accepted_encoding() {
        let response = refusal(Status::unimplemented("compressed"));
        let header = |name: &str| response.headers().get(name).map(|v| v.as_bytes().to_vec());
        assert_eq!(header("grpc-status"), Some(b"12".to_vec()));
        assert_eq!(
            header("grpc-accept-encoding"),
            Some(b"zstd,gzip,identity".to_vec())
        );
    }

    #[test]
    fn the_response_gets_the_best_encoding_accepted_and_never_a_refused_one() {
        let accepting = |values: &[&str]| {
            let mut headers = http::HeaderMap::new();
            for value in values {
                headers.append("accept-encoding", value.parse().unwrap());
            }
            Encoding::accepted_in(&headers, "accept-encoding")
        };
        assert_eq!(accepting(&[]), Encoding::Identity);
        assert_eq!(accepting(&["gzip, deflate, br"]), Encoding::Gzip);
        assert_eq!(accepting(&["br", "GZIP"]), Encoding::Gzip);
        assert_eq!(accepting(&["gzip, zstd"]), Encoding::Zstd);
        assert_eq!(accepting(&["zstd;q=0, gzip;q=0.5"]), Encoding::Gzip);
        assert_eq!(accepting(&["gzip;q=0"]), Encoding::Identity);
        assert_eq!(accepting(&["gzipped, xzstd"]), Encoding::Identity);
    }

    #[test]
    fn compressed_messages_read_back_and_a_bomb_is_refused() {
        for encoding in [Encoding::Gzip, Encoding::Zstd] {
            let packed = encoding.compress(b"a priced quote").expect("compresses");
            let read = encoding.decompress(Bytes::from(packed)).expect("reads");
            assert_eq!(&read[..], b"a priced quote");
            let bomb = encoding
                .compress(&vec![0u8; MAX_REQUEST_BYTES + 1])
                .expect("compresses");
            assert!(bomb.len() < 64 * 1024, "{encoding:?}: {}", bomb.len());
            let refused = encoding
                .decompress(Bytes::from(bomb))
                .expect_err("too large");
            assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
            let broken = encoding.decompress(Bytes::from_static(b"not packed"));
            assert_eq!(broken.expect_err("broken").code(), tonic::Code::Internal);
        }
    }

    #[test]
    fn broken_frames_are_refused_with_the_reason() {
        let cases = [
            (frame(0, 5, b"abc"), "cut short: 3 of 5"),
            (frame(0, 2, b"abc"), "exactly one message"),
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
