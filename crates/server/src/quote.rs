//! `QuoteService`: prices quotes.
//!
//! The service is routed here rather than by the generated
//! `QuoteServiceServer`, because its response leaves as the bytes
//! [`crate::quote_wire`] writes from the priced quote, not as a generated
//! struct: the codec below sends those bytes as they are and decodes the
//! request with prost. The generated client is unchanged.
use std::{
    convert::Infallible,
    sync::Arc,
    task::{Context, Poll},
};

use prost::{Message, bytes::BufMut};
use quotecast_pricing::{QuoteRequest, price_quote};
use tonic::{
    Request, Response, Status,
    body::Body,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    codegen::{Body as HttpBody, BoxFuture, Service, StdError, http},
    server::{Grpc, NamedService, UnaryService},
};

use crate::{
    AppState, ServerError,
    convert::{PriceQuoteInput, QuoteResponse},
    pb::{PriceQuoteRequest, PriceQuoteView},
};

/// An encoded `PriceQuoteResponse`.
pub(crate) struct EncodedResponse(Vec<u8>);

#[derive(Clone)]
pub(crate) struct QuoteApi {
    state: Arc<AppState>,
}

impl QuoteApi {
    pub(crate) fn new(state: AppState) -> Self {
        Self {
            state: Arc::new(state),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(lines = request.get_ref().lines.len()))]
    fn price_quote(
        &self,
        request: Request<PriceQuoteRequest>,
    ) -> Result<Response<EncodedResponse>, Status> {
        let view = PriceQuoteView::try_from(request.get_ref().view).map_err(|_| {
            ServerError::invalid("view", format!("unknown view {}", request.get_ref().view))
        })?;
        let domain = QuoteRequest::try_from(PriceQuoteInput {
            request: request.into_inner(),
            today: (self.state.today)(),
        })?;
        let priced = price_quote(&self.state.rules, &self.state.configurators, &domain)
            .map_err(ServerError::from)?;
        let bytes = QuoteResponse {
            quote: &priced,
            view,
        }
        .to_bytes();
        Ok(Response::new(EncodedResponse(bytes)))
    }
}

impl NamedService for QuoteApi {
    const NAME: &'static str = "quotecast.v1.QuoteService";
}

const PRICE_QUOTE: &str = "/quotecast.v1.QuoteService/PriceQuote";

struct PriceQuoteMethod(QuoteApi);

impl UnaryService<PriceQuoteRequest> for PriceQuoteMethod {
    type Response = EncodedResponse;
    type Future = std::future::Ready<Result<Response<EncodedResponse>, Status>>;

    fn call(&mut self, request: Request<PriceQuoteRequest>) -> Self::Future {
        // Pricing does no I/O and takes microseconds: it runs on the
        // request's own task.
        std::future::ready(self.0.price_quote(request))
    }
}

impl<B> Service<http::Request<B>> for QuoteApi
where
    B: HttpBody + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != PRICE_QUOTE {
            return Box::pin(async { Ok(Status::unimplemented("").into_http()) });
        }
        let method = PriceQuoteMethod(self.clone());
        Box::pin(async move { Ok(Grpc::new(QuoteCodec).unary(method, request).await) })
    }
}

/// Decodes the request with prost; sends the response's bytes as they are.
#[derive(Clone, Copy, Default)]
struct QuoteCodec;

impl Codec for QuoteCodec {
    type Encode = EncodedResponse;
    type Decode = PriceQuoteRequest;
    type Encoder = QuoteCodec;
    type Decoder = QuoteCodec;

    fn encoder(&mut self) -> Self::Encoder {
        QuoteCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        QuoteCodec
    }
}

impl Encoder for QuoteCodec {
    type Item = EncodedResponse;
    type Error = Status;

    fn encode(&mut self, item: EncodedResponse, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item.0);
        Ok(())
    }
}

impl Decoder for QuoteCodec {
    type Item = PriceQuoteRequest;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<PriceQuoteRequest>, Status> {
        let request = PriceQuoteRequest::decode(src)
            .map_err(|e| Status::invalid_argument(format!("not a PriceQuoteRequest: {e}")))?;
        Ok(Some(request))
    }
}
