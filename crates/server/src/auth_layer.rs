//! Every call but health and reflection is authenticated and checked
//! against the permission matrix before any handler runs, so a refused
//! call changes nothing: no credentials or bad ones are UNAUTHENTICATED,
//! a role the method does not allow is PERMISSION_DENIED. The principal
//! travels to the handler in the request's extensions.
use std::{
    sync::Arc,
    task::{Context, Poll},
};

use tonic::{
    Status,
    codegen::{BoxFuture, Service, http},
};

use crate::{
    auth::{Principal, Role},
    reload::LiveAuth,
};

const EVERYONE: &[Role] = &Role::ALL;
/// Who sells: saves quotes and moves them along.
const SELLERS: &[Role] = &[Role::Rep, Role::Admin];
/// Who decides on approvals.
const APPROVERS: &[Role] = &[Role::Approver, Role::Admin];
/// Who feeds the server from an ERP or CRM.
const FEEDERS: &[Role] = &[Role::Service, Role::Admin];
/// Who may change what the whole server runs on.
const ADMINS: &[Role] = &[Role::Admin];

/// The permission matrix: each method of the API and the roles that may
/// call it (the README shows the same table; a test holds them together).
pub const PERMISSIONS: &[(&str, &[Role])] = &[
    ("quotecast.v1.CatalogService/ListProducts", EVERYONE),
    ("quotecast.v1.CatalogService/GetProduct", EVERYONE),
    ("quotecast.v1.ConfiguratorService/Configure", EVERYONE),
    (
        "quotecast.v1.ConfiguratorService/ConfigureSession",
        EVERYONE,
    ),
    ("quotecast.v1.QuoteService/PriceQuote", EVERYONE),
    ("quotecast.v1.QuoteService/SaveQuote", SELLERS),
    ("quotecast.v1.QuoteService/GetQuote", EVERYONE),
    ("quotecast.v1.QuoteService/ListQuotes", EVERYONE),
    ("quotecast.v1.QuoteService/DiffQuoteVersions", EVERYONE),
    ("quotecast.v1.QuoteService/Submit", SELLERS),
    ("quotecast.v1.QuoteService/Recall", SELLERS),
    ("quotecast.v1.QuoteService/Approve", APPROVERS),
    ("quotecast.v1.QuoteService/Reject", APPROVERS),
    ("quotecast.v1.QuoteService/MarkSent", SELLERS),
    ("quotecast.v1.QuoteService/MarkAccepted", SELLERS),
    ("quotecast.v1.QuoteService/MarkLost", SELLERS),
    (
        "quotecast.v1.ApprovalService/ListPendingApprovals",
        APPROVERS,
    ),
    ("quotecast.v1.ApprovalService/Delegate", APPROVERS),
    ("quotecast.v1.OrderService/ListOrders", EVERYONE),
    ("quotecast.v1.ServerService/GetServerInfo", EVERYONE),
    ("quotecast.v1.ServerService/ReloadRules", ADMINS),
    ("quotecast.v1.ForecastService/UploadPipeline", FEEDERS),
    ("quotecast.v1.ForecastService/ListPipelines", EVERYONE),
    ("quotecast.v1.ForecastService/Forecast", EVERYONE),
    ("quotecast.v1.ForecastService/Funnel", EVERYONE),
    ("quotecast.v1.ForecastService/Backtest", EVERYONE),
    ("quotecast.v1.DemandService/RunPlan", EVERYONE),
    ("quotecast.v1.DemandService/ComponentDemand", EVERYONE),
    ("quotecast.v1.DemandService/PlannedOrders", EVERYONE),
    ("quotecast.v1.DemandService/Capacity", EVERYONE),
    ("quotecast.v1.DemandService/SafetyStock", EVERYONE),
    ("quotecast.v1.DemandService/Cash", EVERYONE),
    ("quotecast.v1.DemandService/PushInventory", FEEDERS),
    ("quotecast.v1.DemandService/PushReceipts", FEEDERS),
    ("quotecast.v1.DemandService/ListInventoryVersions", EVERYONE),
];

/// Services anyone may call without credentials.
const OPEN: &[&str] = &[
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Who may call the method at `path` (`/package.Service/Method`): `None`
/// for the open services. A path that is no method of the API is left to
/// the router (UNIMPLEMENTED) for any authenticated caller.
pub fn allowed(path: &str) -> Option<&'static [Role]> {
    let method = path.trim_start_matches('/');
    let service = method.split('/').next().unwrap_or_default();
    if OPEN.contains(&service) {
        return None;
    }
    Some(
        PERMISSIONS
            .iter()
            .find(|(m, _)| *m == method)
            .map_or(EVERYONE, |(_, roles)| *roles),
    )
}

/// Wraps the server's routes in [`Authenticated`].
#[derive(Clone)]
pub struct AuthLayer(pub Arc<LiveAuth>);

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Authenticated<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticated {
            auth: self.0.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct Authenticated<S> {
    auth: Arc<LiveAuth>,
    inner: S,
}

impl<S, B> Service<http::Request<B>> for Authenticated<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let Some(roles) = allowed(request.uri().path()) else {
            return Box::pin(self.inner.call(request));
        };
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
        let principal = match self
            .auth
            .current()
            .authenticate(header("authorization"), header("x-api-key"))
        {
            Ok(principal) => principal,
            Err(refused) => return refuse(Status::unauthenticated(refused.0)),
        };
        if !roles.contains(&principal.role) {
            return refuse(Status::permission_denied(format!(
                "{} is a {}: {} is for {}",
                principal.name,
                principal.role.as_str(),
                request.uri().path().trim_start_matches('/'),
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if let Some(slot) = request.extensions().get::<crate::observe::CallerSlot>() {
            let _ = slot.0.set(principal.name.clone());
        }
        request.extensions_mut().insert(principal);
        Box::pin(self.inner.call(request))
    }
}

fn refuse<E: Send + 'static>(status: Status) -> BoxFuture<http::Response<tonic::body::Body>, E> {
    let response = status.into_http();
    Box::pin(async move { Ok(response) })
}

/// The caller of a request that passed [`Authenticated`]. A handler
/// reached some other way (a test calling the service directly) is
/// refused rather than run as anyone.
pub fn principal<T>(request: &tonic::Request<T>) -> Result<Arc<Principal>, Status> {
    principal_in(request.extensions())
}

/// The caller [`Authenticated`] put in a request's `extensions` (those of
/// the HTTP request, for a handler routed before the generated server).
pub(crate) fn principal_in(extensions: &http::Extensions) -> Result<Arc<Principal>, Status> {
    extensions
        .get::<Arc<Principal>>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("the call carries no authenticated principal"))
}
