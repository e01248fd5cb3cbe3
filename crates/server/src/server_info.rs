//! `ServerService`: what is serving, and with which rules.
use tonic::{Request, Response, Status};

use crate::{
    AppState,
    pb::{GetServerInfoRequest, GetServerInfoResponse, server_service_server::ServerService},
};

/// The commit the server was built from (see `build.rs`).
pub const GIT_REVISION: &str = env!("QUOTECAST_GIT_REVISION");

pub(crate) struct ServerInfoApi {
    state: AppState,
}

impl ServerInfoApi {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl ServerService for ServerInfoApi {
    async fn get_server_info(
        &self,
        _request: Request<GetServerInfoRequest>,
    ) -> Result<Response<GetServerInfoResponse>, Status> {
        let stamp = |t: chrono::DateTime<chrono::Utc>| {
            t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        Ok(Response::new(GetServerInfoResponse {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            git_revision: GIT_REVISION.to_owned(),
            rules_version: self.state.rules.fingerprint().to_owned(),
            rules_loaded_at: stamp(self.state.rules_loaded_at),
            started_at: stamp(self.state.started_at),
            development_mode: self.state.auth.is_development(),
        }))
    }
}
