//! `QuoteService`'s status flow: Submit, Recall, Approve, Reject,
//! MarkSent, MarkAccepted, MarkLost. The store makes each move (a new
//! version, only from the version named, only along a legal move, with
//! its audit entry); this decides who may make it: the approval level the
//! priced quote needs against the approver's limit, never one's own quote,
//! the submitter's recall.
use chrono::Utc;
use prost::Message;
use quotecast_store::{Actor, QuoteStatus, QuoteVersion, StatusChange, Store};

use crate::{
    AppState, ServerError,
    auth::{Principal, Role},
    pb,
    stored_quotes::status_of,
};

/// The most characters of a comment.
pub const MAX_COMMENT_CHARS: usize = 2000;

/// What a caller does to a stored quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Submit,
    Recall,
    Approve,
    Reject,
    Send,
    Accept,
    Lose,
}

impl Action {
    /// The name its versions and audit entries carry.
    fn name(self) -> &'static str {
        match self {
            Action::Submit => "submit",
            Action::Recall => "recall",
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Send => "send",
            Action::Accept => "accept",
            Action::Lose => "lose",
        }
    }

    fn target(self) -> QuoteStatus {
        match self {
            Action::Submit => QuoteStatus::PendingApproval,
            Action::Recall => QuoteStatus::Draft,
            Action::Approve => QuoteStatus::Approved,
            Action::Reject => QuoteStatus::Rejected,
            Action::Send => QuoteStatus::Sent,
            Action::Accept => QuoteStatus::Accepted,
            Action::Lose => QuoteStatus::Lost,
        }
    }
}

/// The approval a stored version's priced quote needs: its level's id
/// (`none` when none), that level's rank under the loaded rules, and the
/// reasons.
struct Needed {
    level: String,
    rank: u32,
    reasons: Vec<String>,
}

fn needed(state: &AppState, version: &QuoteVersion) -> Result<Needed, ServerError> {
    let priced =
        pb::PriceQuoteResponse::decode(version.content.priced.as_slice()).map_err(|e| {
            ServerError::Internal(format!(
                "quote {} version {}: its stored priced result is unreadable: {e}",
                version.number, version.version
            ))
        })?;
    let approval = priced.approval.unwrap_or_default();
    let level = if approval.level.is_empty() {
        "none".to_owned()
    } else {
        approval.level
    };
    // A level the loaded rules no longer know is treated as the highest:
    // only who may approve everything approves it.
    let rank = match state.rules.approval_level(&level) {
        Some(l) => l.rank,
        None if level == "none" => 0,
        None => u32::MAX,
    };
    Ok(Needed {
        level,
        rank,
        reasons: approval
            .triggered
            .into_iter()
            .map(|t| format!("{} ({}): {}", t.rule_id, t.level, t.reason))
            .collect(),
    })
}

fn check_request(action: Action, request: &pb::QuoteActionRequest) -> Result<(), ServerError> {
    let mut violations = Vec::new();
    if request.quote_number < 1 {
        violations.push(("quote_number", "is required: a quote's number".to_owned()));
    }
    if request.base_version < 1 {
        violations.push((
            "base_version",
            "is required: the version the action starts from".to_owned(),
        ));
    }
    if action == Action::Reject && request.comment.trim().is_empty() {
        violations.push((
            "comment",
            "is required for a rejection: say what must change".to_owned(),
        ));
    }
    if request.comment.chars().count() > MAX_COMMENT_CHARS {
        violations.push((
            "comment",
            format!("is longer than {MAX_COMMENT_CHARS} characters"),
        ));
    }
    if violations.is_empty() {
        return Ok(());
    }
    Err(ServerError::InvalidArgument(
        violations
            .into_iter()
            .map(|(field, description)| crate::FieldViolation {
                field: field.to_owned(),
                description,
            })
            .collect(),
    ))
}

/// Whether `principal` may decide (approve or reject) on `current`.
async fn may_decide(
    state: &AppState,
    store: &Store,
    principal: &Principal,
    current: &QuoteVersion,
    need: &Needed,
) -> Result<(), ServerError> {
    let creator = store
        .get(&principal.tenant, current.number, Some(1))
        .await?
        .saved_by;
    if principal.name == creator || principal.name == current.saved_by {
        return Err(ServerError::PermissionDenied(format!(
            "{} created or submitted quote {}: someone else decides on it",
            principal.name, current.number
        )));
    }
    let limit = principal
        .approval_limit
        .as_deref()
        .and_then(|id| state.rules.approval_level(id));
    if limit.is_none_or(|l| l.rank < need.rank) {
        return Err(ServerError::PermissionDenied(format!(
            "quote {} needs approval at level {}; {}'s approval limit is {}",
            current.number,
            need.level,
            principal.name,
            principal.approval_limit.as_deref().unwrap_or("none")
        )));
    }
    Ok(())
}

/// Makes `action` on the quote `request` names, as `principal`.
pub(crate) async fn act(
    state: &AppState,
    principal: &Principal,
    action: Action,
    request: pb::QuoteActionRequest,
) -> Result<pb::QuoteActionResponse, ServerError> {
    check_request(action, &request)?;
    let store = state.quotes.store().await?;
    let tenant = principal.tenant.as_str();
    let current = store.get(tenant, request.quote_number, None).await?;
    let need = needed(state, &current)?;
    match action {
        Action::Approve | Action::Reject if current.status == QuoteStatus::PendingApproval => {
            may_decide(state, store, principal, &current, &need).await?;
        }
        Action::Recall
            if current.status == QuoteStatus::PendingApproval
                && principal.role != Role::Admin
                && principal.name != current.saved_by =>
        {
            return Err(ServerError::PermissionDenied(format!(
                "quote {} was submitted by {}: only they (or an admin) recall it",
                current.number, current.saved_by
            )));
        }
        Action::Send if current.status == QuoteStatus::Draft && need.rank > 0 => {
            return Err(ServerError::FailedPrecondition(format!(
                "quote {} needs approval at level {} before it is sent: submit it",
                current.number, need.level
            )));
        }
        _ => {}
    }
    let now = Utc::now();
    let change = |base, to, action: &str, by: Actor, comment: String| StatusChange {
        tenant: tenant.to_owned(),
        number: request.quote_number,
        base,
        to,
        action: action.to_owned(),
        by,
        comment,
        now,
    };
    let mut changed = store
        .change_status(change(
            request.base_version,
            action.target(),
            action.name(),
            principal.actor(),
            request.comment.trim().to_owned(),
        ))
        .await?;
    if action == Action::Submit && need.rank == 0 {
        // Nothing to approve: the rules approve it at once, on the record.
        let previous = changed.from;
        changed = store
            .change_status(change(
                changed.version,
                QuoteStatus::Approved,
                "approve",
                Actor::new("approval rules", "system"),
                "no approval rule triggers".to_owned(),
            ))
            .await?;
        changed.from = previous;
    }
    tracing::info!(
        quote = changed.number,
        version = changed.version,
        action = action.name(),
        by = %principal.name,
        status = %changed.status,
        "quote status changed"
    );
    Ok(pb::QuoteActionResponse {
        quote_number: changed.number,
        version: changed.version,
        previous_status: status_of(changed.from) as i32,
        status: status_of(changed.status) as i32,
        approval_level: need.level,
        approval_reasons: need.reasons,
    })
}
