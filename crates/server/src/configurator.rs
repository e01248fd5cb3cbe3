//! `ConfiguratorService`: configuration state per selection, one request at
//! a time or as a session of clicks on one stream.
use std::pin::Pin;

use quotecast_configurator::{CLICK_BUDGET, CLICK_SEARCHES, Explaining, ExplanationMemory};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::{
    AppState, ServerError,
    convert_config::{ConfigureInput, StateOf},
    pb::{ConfigureRequest, ConfigureResponse, configurator_service_server::ConfiguratorService},
};

pub(crate) struct ConfiguratorApi {
    state: AppState,
}

impl ConfiguratorApi {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

/// One selection in, the whole state out. `memory`: the explanations of a
/// session's earlier clicks (for this product).
fn configure(
    state: &AppState,
    request: &ConfigureRequest,
    memory: Option<&mut ExplanationMemory>,
) -> Result<ConfigureResponse, ServerError> {
    let sku = request.product_sku.trim();
    if sku.is_empty() {
        return Err(ServerError::invalid(
            "product_sku",
            "is required: the SKU of a configurable product such as SRV-2U",
        ));
    }
    let model = state
        .configurators
        .get(sku)
        .ok_or_else(|| ServerError::NotFound {
            kind: "configurable product",
            name: sku.to_owned(),
        })?;
    let input = ConfigureInput::try_from((model, request))?;
    let explaining = Explaining {
        on: !request.skip_explanations,
        budget: Some(CLICK_BUDGET),
        searches: Some(CLICK_SEARCHES),
        in_full: &input.explain,
        memory,
    };
    let configuration = model
        .configure_with(&input.choices, explaining)
        .map_err(|e| ServerError::invalid("choices", e.to_string()))?;
    Ok(ConfigureResponse::from(StateOf {
        model,
        configuration: &configuration,
    }))
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<ConfigureResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ConfiguratorService for ConfiguratorApi {
    async fn configure(
        &self,
        request: Request<ConfigureRequest>,
    ) -> Result<Response<ConfigureResponse>, Status> {
        Ok(Response::new(configure(
            &self.state,
            request.get_ref(),
            None,
        )?))
    }

    type ConfigureSessionStream = ResponseStream;

    async fn configure_session(
        &self,
        request: Request<Streaming<ConfigureRequest>>,
    ) -> Result<Response<Self::ConfigureSessionStream>, Status> {
        let state = self.state.clone();
        let idle = state.session_idle;
        // Explanations outlive the click that found them, per product.
        let mut memory: Option<(String, ExplanationMemory)> = None;
        // Answers each click in order; a bad click ends the session with
        // its status, as any gRPC stream error does, and so does a
        // session left idle (it holds a stream and its model state).
        let answers = request
            .into_inner()
            .timeout(idle)
            .map(move |click| match click {
                Err(_) => Err(Status::deadline_exceeded(format!(
                    "the session was idle for {} s: start a new one",
                    idle.as_secs()
                ))),
                Ok(click) => click.map_err(crate::codec::inbound).and_then(|request| {
                    let product = request.product_sku.trim();
                    if memory.as_ref().is_none_or(|(sku, _)| sku != product) {
                        memory = Some((product.to_owned(), ExplanationMemory::default()));
                    }
                    let memory = memory.as_mut().map(|(_, m)| m);
                    configure(&state, &request, memory).map_err(Status::from)
                }),
            });
        Ok(Response::new(Box::pin(answers)))
    }
}
