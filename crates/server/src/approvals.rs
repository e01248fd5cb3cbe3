//! `ApprovalService`: what waits for the caller, and delegations.
use chrono::{NaiveDate, Utc};
use quotecast_pricing::approval_chain::{Progress, approval_chain, may_take, progress};
use quotecast_store::{Delegation, ListQuotes, QuoteStatus};
use tonic::{Request, Response, Status};

use crate::{
    AppState, FieldViolation, ServerError,
    approval_state::{acting, delegated_by, outcome_of, round, seat_view},
    auth::Role,
    auth_layer::principal,
    pb::{self, approval_service_server::ApprovalService},
    stored_quotes::{MAX_PAGE, page},
};

pub(crate) struct ApprovalsApi {
    state: AppState,
}

impl ApprovalsApi {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

fn invalid(field: &str, description: impl Into<String>) -> ServerError {
    ServerError::InvalidArgument(vec![FieldViolation {
        field: field.to_owned(),
        description: description.into(),
    }])
}

fn date(field: &str, text: &str) -> Result<NaiveDate, ServerError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| invalid(field, format!("`{text}` is not a date YYYY-MM-DD")))
}

#[tonic::async_trait]
impl ApprovalService for ApprovalsApi {
    async fn list_pending_approvals(
        &self,
        request: Request<pb::ListPendingApprovalsRequest>,
    ) -> Result<Response<pb::ListPendingApprovalsResponse>, Status> {
        let caller = principal(&request)?;
        let (limit, _) = page(request.get_ref().page_size, "")
            .map_err(|wrong| invalid(wrong[0].0, wrong[0].1))?;
        let state = &self.state.current();
        let store = state.quotes.store().await?;
        // Who delegated to the caller: read once, not per quote.
        let delegated = delegated_by(state, store, &caller, (state.today)()).await?;
        let mut approvals = Vec::new();
        let mut after = None;
        // Page through the tenant's pending quotes until the page is full.
        'pages: loop {
            let pending = store
                .list(&ListQuotes {
                    tenant: caller.tenant.clone(),
                    account: None,
                    status: Some(QuoteStatus::PendingApproval),
                    after,
                    newest_first: false,
                    limit: MAX_PAGE,
                })
                .await
                .map_err(ServerError::from)?;
            let Some(last) = pending.last() else {
                break;
            };
            after = Some(last.number);
            for summary in &pending {
                let current = store
                    .get(&caller.tenant, summary.number, Some(summary.version))
                    .await
                    .map_err(ServerError::from)?;
                let Some(round) = round(store, &caller.tenant, summary.number).await? else {
                    continue;
                };
                if round.submitted_by == caller.name || current.saved_by == caller.name {
                    continue;
                }
                let (outcome, _) = outcome_of(&current)?;
                let chain = approval_chain(&state.rules, &outcome);
                let Progress::Waiting { open, .. } = progress(&chain, &round.decisions) else {
                    continue;
                };
                let who = acting(state, &caller, &open, &round, delegated.clone());
                if let Some((seat, member)) =
                    open.iter().find_map(|o| may_take(o, &who).map(|m| (o, m)))
                {
                    approvals.push(pb::PendingApproval {
                        quote_number: summary.number,
                        version: summary.version,
                        account_id: summary.account.clone(),
                        currency_code: summary.currency.clone(),
                        net_total: summary.total.clone(),
                        approval_level: outcome.level.clone(),
                        seat: Some(seat_view(seat)),
                        on_behalf_of: member,
                        waiting_since: round
                            .waiting_since
                            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                        submitted_by: round.submitted_by.clone(),
                    });
                    if approvals.len() == limit as usize {
                        break 'pages;
                    }
                }
            }
            if pending.len() < MAX_PAGE as usize {
                break;
            }
        }
        Ok(Response::new(pb::ListPendingApprovalsResponse {
            approvals,
        }))
    }

    async fn delegate(
        &self,
        request: Request<pb::DelegateRequest>,
    ) -> Result<Response<pb::DelegateResponse>, Status> {
        let caller = principal(&request)?;
        let request = request.into_inner();
        let from = match request.from.trim() {
            "" => caller.name.clone(),
            name => name.to_owned(),
        };
        if from != caller.name && caller.role != Role::Admin {
            return Err(ServerError::PermissionDenied(format!(
                "{} may delegate only its own approvals",
                caller.name
            ))
            .into());
        }
        let to = request.to.trim();
        let same_tenant_approver = |name: &str| {
            self.state.auth.principal(name).filter(|p| {
                p.tenant == caller.tenant && matches!(p.role, Role::Approver | Role::Admin)
            })
        };
        if same_tenant_approver(&from).is_none() {
            return Err(invalid("from", format!("`{from}` is no approver of the tenant")).into());
        }
        if to == from || same_tenant_approver(to).is_none() {
            return Err(invalid(
                "to",
                format!("`{to}` is no other approver or admin of the tenant"),
            )
            .into());
        }
        let starts = date("starts", &request.starts)?;
        let ends = date("ends", &request.ends)?;
        if ends < starts {
            return Err(invalid("ends", format!("{ends} is before starts {starts}")).into());
        }
        let store = self.state.quotes.store().await?;
        store
            .delegate(
                &Delegation {
                    tenant: caller.tenant.clone(),
                    from,
                    to: to.to_owned(),
                    starts,
                    ends,
                },
                &caller.actor(),
                Utc::now(),
            )
            .await
            .map_err(ServerError::from)?;
        Ok(Response::new(pb::DelegateResponse {}))
    }
}
