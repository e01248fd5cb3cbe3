//! `QuoteService`: prices quotes.
//!
//! The service is routed here rather than by the generated
//! `QuoteServiceServer`: the request is framed by [`crate::unary`] and
//! decoded with prost, and the response leaves as the bytes
//! [`crate::quote_wire`] writes from the priced quote, not as a generated
//! struct. SaveQuote is answered here too, with the bytes it stored
//! ([`crate::stored_quotes::StoredQuoteBytes`]). The generated client is
//! unchanged.
use std::{
    convert::Infallible,
    sync::Arc,
    task::{Context, Poll},
};

use prost::Message;
use quotecast_pricing::{QuoteRequest, price_quote};
use tonic::{
    Status,
    body::Body,
    codegen::{Body as HttpBody, BoxFuture, Service, StdError, http},
    server::NamedService,
};

use crate::{
    AppState, ServerError,
    auth_layer::principal_in,
    codec::undecodable,
    convert::{PriceQuoteInput, QuoteResponse},
    pb::{
        PriceQuoteRequest, PriceQuoteView, SaveQuoteRequest,
        quote_service_server::QuoteServiceServer,
    },
    stored_quotes::{StoredQuoteBytes, StoredQuotesApi, save},
    unary::{Encoding, ResponseMessage, refusal, request_message},
};

#[derive(Clone)]
pub(crate) struct QuoteApi {
    state: Arc<AppState>,
    /// The other methods (reading and moving stored quotes), through the
    /// generated server.
    stored: QuoteServiceServer<StoredQuotesApi>,
}

impl QuoteApi {
    pub(crate) fn new(state: AppState) -> Self {
        Self {
            stored: crate::compressed!(QuoteServiceServer::new(StoredQuotesApi::new(
                state.clone()
            ))),
            state: Arc::new(state),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(lines = request.lines.len()))]
    fn price_quote(
        &self,
        request: PriceQuoteRequest,
        encoding: Encoding,
    ) -> Result<http::Response<Body>, Status> {
        let view = PriceQuoteView::try_from(request.view)
            .map_err(|_| ServerError::invalid("view", format!("unknown view {}", request.view)))?;
        let domain = QuoteRequest::try_from(PriceQuoteInput {
            request,
            today: (self.state.today)(),
        })?;
        let live = self.state.live.current();
        let priced =
            price_quote(&live.rules, &live.configurators, &domain).map_err(ServerError::from)?;
        let response = QuoteResponse {
            quote: &priced,
            view,
        };
        let mut message = ResponseMessage::with_capacity(response.size_hint());
        response.write_to(message.buffer());
        message.into_response(encoding)
    }
}

impl QuoteApi {
    /// SaveQuote, answered with the stored version's bytes as
    /// [`StoredQuoteBytes`] writes them (the generated server would decode
    /// the quote it just priced to encode it again).
    fn save_quote<B>(
        &self,
        request: http::Request<B>,
    ) -> BoxFuture<http::Response<Body>, Infallible>
    where
        B: HttpBody + Send + 'static,
        B::Data: Send,
        B::Error: Into<StdError> + Send + 'static,
    {
        let state = self.state.clone();
        Box::pin(async move {
            let caller = principal_in(request.extensions());
            let response = async {
                let caller = caller?;
                let (message, encoding) = request_message(request).await?;
                let request = SaveQuoteRequest::decode(message).map_err(undecodable)?;
                let (loaded, saved) = save(&state, &caller, request).await?;
                let stored = StoredQuoteBytes::new(&loaded, saved);
                let mut message = ResponseMessage::with_capacity(stored.encoded_len());
                stored
                    .encode(message.buffer())
                    .map_err(|e| Status::internal(e.to_string()))?;
                message.into_response(encoding)
            }
            .await;
            Ok(response.unwrap_or_else(refusal))
        })
    }
}

impl NamedService for QuoteApi {
    const NAME: &'static str = "quotecast.v1.QuoteService";
}

const PRICE_QUOTE: &str = "/quotecast.v1.QuoteService/PriceQuote";
const SAVE_QUOTE: &str = "/quotecast.v1.QuoteService/SaveQuote";

/// Decodes the one request message with prost.
fn decode(message: prost::bytes::Bytes) -> Result<PriceQuoteRequest, Status> {
    PriceQuoteRequest::decode(message)
        .map_err(|e| Status::invalid_argument(format!("not a PriceQuoteRequest: {e}")))
}

impl<B> Service<http::Request<B>> for QuoteApi
where
    B: HttpBody + Send + 'static,
    B::Data: Send,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        match request.uri().path() {
            PRICE_QUOTE => {}
            SAVE_QUOTE => return self.save_quote(request),
            _ => return self.stored.call(request),
        }
        let api = self.clone();
        Box::pin(async move {
            // Pricing does no I/O and takes microseconds: it runs on the
            // request's own task.
            let response = match request_message(request).await {
                Ok((message, encoding)) => {
                    decode(message).and_then(|request| api.price_quote(request, encoding))
                }
                Err(status) => Err(status),
            };
            Ok(response.unwrap_or_else(refusal))
        })
    }
}
