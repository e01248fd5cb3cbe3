//! `QuoteService`: prices quotes.
use crate::pb::{PriceQuoteRequest, PriceQuoteResponse, quote_service_server::QuoteService};
use quotecast_pricing::{QuoteRequest, price_quote};
use tonic::{Request, Response, Status};

use crate::{
    AppState, ServerError,
    convert::{PriceQuoteInput, QuoteResponse},
    pb::PriceQuoteView,
};

pub(crate) struct QuoteApi {
    state: AppState,
}

impl QuoteApi {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl QuoteService for QuoteApi {
    #[tracing::instrument(level = "debug", skip_all, fields(lines = request.get_ref().lines.len()))]
    async fn price_quote(
        &self,
        request: Request<PriceQuoteRequest>,
    ) -> Result<Response<PriceQuoteResponse>, Status> {
        let view = PriceQuoteView::try_from(request.get_ref().view).map_err(|_| {
            ServerError::invalid("view", format!("unknown view {}", request.get_ref().view))
        })?;
        let domain = QuoteRequest::try_from(PriceQuoteInput {
            request: request.get_ref(),
            today: (self.state.today)(),
        })?;
        let priced = price_quote(&self.state.rules, &self.state.configurators, &domain)
            .map_err(ServerError::from)?;
        Ok(Response::new(PriceQuoteResponse::from(QuoteResponse {
            quote: &priced,
            view,
        })))
    }
}
