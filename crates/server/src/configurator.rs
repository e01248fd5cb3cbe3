//! `ConfiguratorService`: configuration state per selection, one request at
//! a time or as a session of clicks on one stream. Clicks are worked on
//! blocking threads, a few at once ([`AppState::click_jobs`]), each within
//! a work limit: a click that asks for every explanation in full, or
//! contradicts itself on a model with a power budget, costs at most
//! [`AppState::click_work`] steps ([`quotecast_configurator::CLICK_WORK`]
//! by default), never minutes on a runtime worker.
use std::{
    pin::Pin,
    sync::{Arc, Mutex},
};

use quotecast_configurator::{CLICK_BUDGET, CLICK_SEARCHES, Explaining, ExplanationMemory};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::{
    AppState, ServerError,
    convert_config::{ConfigureInput, StateOf},
    pb::{
        ConfigureRequest, ConfigureResponse, ConfigureSessionRequest, ConfigureSessionResponse,
        configurator_service_server::ConfiguratorService,
    },
};

/// Options one click may ask to have explained in full.
pub const MAX_EXPLAIN_SKUS: usize = 16;

pub(crate) struct ConfiguratorApi {
    state: AppState,
}

impl ConfiguratorApi {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

/// A session's explanations so far, for the product it last clicked.
type Memory = Arc<Mutex<Option<(String, ExplanationMemory)>>>;

/// One selection in, the whole state out, on a blocking thread once a
/// click permit is free. `memory`: a session's (kept per product).
async fn click(
    state: &AppState,
    request: ConfigureRequest,
    memory: Option<Memory>,
) -> Result<ConfigureResponse, ServerError> {
    let permit = state
        .click_jobs
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ServerError::Busy("the server is shutting down".into()))?;
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let Some(memory) = memory else {
            return configure(&state, &request, None);
        };
        // Clicks of one session come one at a time: never contended.
        let mut memory = memory
            .lock()
            .map_err(|_| ServerError::Internal("a session's click failed".into()))?;
        let product = request.product_sku.trim();
        if memory.as_ref().is_none_or(|(sku, _)| sku != product) {
            *memory = Some((product.to_owned(), ExplanationMemory::default()));
        }
        configure(&state, &request, memory.as_mut().map(|(_, m)| m))
    })
    .await
    .map_err(|e| ServerError::Internal(format!("click failed: {e}")))?
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
    if request.explain_skus.len() > MAX_EXPLAIN_SKUS {
        return Err(ServerError::invalid(
            "explain_skus",
            format!(
                "asks for {} explanations in full; at most {MAX_EXPLAIN_SKUS} per click \
                 (the others come within the click's budget or on later clicks)",
                request.explain_skus.len()
            ),
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
        work: Some(state.click_work),
    };
    let configuration = model
        .configure_with(&input.choices, explaining)
        .map_err(|e| ServerError::invalid("choices", e.to_string()))?;
    Ok(ConfigureResponse::from(StateOf {
        model,
        configuration: &configuration,
    }))
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<ConfigureSessionResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ConfiguratorService for ConfiguratorApi {
    async fn configure(
        &self,
        request: Request<ConfigureRequest>,
    ) -> Result<Response<ConfigureResponse>, Status> {
        Ok(Response::new(
            click(&self.state.current(), request.into_inner(), None).await?,
        ))
    }

    type ConfigureSessionStream = ResponseStream;

    async fn configure_session(
        &self,
        request: Request<Streaming<ConfigureSessionRequest>>,
    ) -> Result<Response<Self::ConfigureSessionStream>, Status> {
        // A session keeps the rules it started on for its life.
        let state = self.state.current();
        let idle = state.session_idle;
        // Explanations outlive the click that found them, per product.
        let memory: Memory = Arc::default();
        // Counted open while the stream lives.
        let open = crate::metrics::SessionOpen::new(state.metrics.clone());
        // Answers each click in order; a bad click ends the session with
        // its status, as any gRPC stream error does, and so does a
        // session left idle (it holds a stream and its model state).
        let answers = request.into_inner().timeout(idle).then(move |click_in| {
            let (state, memory) = (state.clone(), memory.clone());
            let _open = &open;
            async move {
                match click_in {
                    Err(_) => Err(Status::deadline_exceeded(format!(
                        "the session was idle for {} s: start a new one",
                        idle.as_secs()
                    ))),
                    Ok(Err(status)) => Err(crate::codec::inbound(status)),
                    Ok(Ok(request)) => {
                        Ok(click(&state, request.into(), Some(memory)).await?.into())
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(answers)))
    }
}
