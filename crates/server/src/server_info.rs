//! `ServerService`: what is serving, and with which rules; reloading
//! them.
use tonic::{Request, Response, Status};

use crate::{
    AppState,
    pb::{
        GetServerInfoRequest, GetServerInfoResponse, ReloadRulesRequest, ReloadRulesResponse,
        server_service_server::ServerService,
    },
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
        let live = self.state.live.current();
        Ok(Response::new(GetServerInfoResponse {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            git_revision: GIT_REVISION.to_owned(),
            rules_version: live.rules.fingerprint().to_owned(),
            rules_loaded_at: stamp(live.loaded_at),
            started_at: stamp(self.state.started_at),
            development_mode: self.state.auth.is_development(),
        }))
    }

    async fn reload_rules(
        &self,
        _request: Request<ReloadRulesRequest>,
    ) -> Result<Response<ReloadRulesResponse>, Status> {
        let reloaded = crate::reload::reload_rules(&self.state).await?;
        Ok(Response::new(ReloadRulesResponse {
            previous_rules_version: reloaded.previous_version,
            rules_version: reloaded.version,
            rules_loaded_at: reloaded
                .loaded_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            summary: reloaded.summary,
        }))
    }
}
