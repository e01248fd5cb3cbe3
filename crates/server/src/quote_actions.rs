//! `QuoteService`'s status flow: Submit, Recall, Approve, Reject,
//! MarkSent, MarkAccepted, MarkLost. The store makes each move (a new
//! version, only from the version named, only along a legal move, with
//! its audit entry and decisions); this decides who may make it: the
//! approval chain of the priced quote and the seats the caller holds in
//! it, never one's own quote, the submitter's recall.
use chrono::Utc;
use quotecast_pricing::approval_chain::{
    Decision, Progress, Step, approval_chain, carried_over, may_take, progress,
};
use quotecast_store::{
    Actor, Changed, NewDecision, QuoteStatus, QuoteVersion, StatusChange, Store,
};

use crate::{
    AppState, ServerError,
    approval_state::{
        acting, all_decisions, delegated_by, figures_json, order_lines, outcome_of, round,
        waiting_for,
    },
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

/// Refuses a decision on one's own quote: who created it or submitted
/// this round decides nothing on it.
async fn not_own(
    store: &Store,
    principal: &Principal,
    current: &QuoteVersion,
    submitted_by: &str,
) -> Result<(), ServerError> {
    let creator = store
        .get(&principal.tenant, current.number, Some(1))
        .await?
        .saved_by;
    if principal.name == creator || principal.name == submitted_by {
        return Err(ServerError::PermissionDenied(format!(
            "{} created or submitted quote {}: someone else decides on it",
            principal.name, current.number
        )));
    }
    Ok(())
}

/// An action on one stored quote: who acts, on what, under which chain.
struct On<'a, 'r> {
    state: &'a AppState,
    store: &'a Store,
    principal: &'a Principal,
    request: &'a pb::QuoteActionRequest,
    current: &'a QuoteVersion,
    chain: &'a [Step<'r>],
    currency: &'a str,
}

impl On<'_, '_> {
    /// A new version with `to`, made by `by` from `base`, recording
    /// `decisions`.
    fn change(
        &self,
        base: i64,
        to: QuoteStatus,
        action: &str,
        by: Actor,
        comment: String,
        decisions: Vec<NewDecision>,
    ) -> StatusChange {
        StatusChange {
            tenant: self.principal.tenant.clone(),
            number: self.current.number,
            base,
            to,
            action: action.to_owned(),
            by,
            comment,
            now: Utc::now(),
            decisions,
            order_lines: Vec::new(),
        }
    }

    /// The caller's comment, trimmed.
    fn comment(&self) -> String {
        self.request.comment.trim().to_owned()
    }
}

/// What an action answers besides the move itself.
struct Answer {
    changed: Changed,
    waiting_for: Vec<pb::ApprovalSeat>,
    carried_over: Vec<String>,
}

/// Submit: a new round, with the earlier approvals that still hold
/// carried into it; approved at once when nothing is left to decide.
async fn submit(on: &On<'_, '_>) -> Result<Answer, ServerError> {
    let (state, store, principal, request, chain, currency) = (
        on.state,
        on.store,
        on.principal,
        on.request,
        on.chain,
        on.currency,
    );
    let earlier = all_decisions(store, &principal.tenant, request.quote_number).await?;
    let carried = carried_over(&state.rules, chain, &earlier, currency);
    let round = request.base_version + 1;
    let records = carried
        .iter()
        .map(|d| NewDecision {
            round,
            seat: d.seat.clone(),
            member: d.member.clone(),
            approver: d.approver.clone(),
            role: "carried".to_owned(),
            decision: "carried".to_owned(),
            figures: serde_json::to_string(
                &d.figures
                    .iter()
                    .map(|(rule, f)| (rule.as_str(), f.to_string()))
                    .collect::<std::collections::BTreeMap<_, _>>(),
            )
            .unwrap_or_default(),
            currency: currency.to_owned(),
            comment: "approved in an earlier round; no figure moved past it".to_owned(),
        })
        .collect();
    let mut changed = store
        .change_status(on.change(
            request.base_version,
            QuoteStatus::PendingApproval,
            "submit",
            principal.actor(),
            on.comment(),
            records,
        ))
        .await?;
    let after = progress(chain, &carried);
    if after == Progress::Approved {
        // Nothing left to decide: the rules approve it, on the record.
        let previous = changed.from;
        let why = if chain.is_empty() {
            "no approval rule triggers"
        } else {
            "every approval still holds from an earlier round"
        };
        changed = store
            .change_status(on.change(
                changed.version,
                QuoteStatus::Approved,
                "approve",
                Actor::new("approval rules", "system"),
                why.to_owned(),
                Vec::new(),
            ))
            .await?;
        changed.from = previous;
    }
    Ok(Answer {
        changed,
        waiting_for: waiting_for(&after),
        carried_over: carried
            .iter()
            .map(|d| format!("{} by {}", d.seat, d.approver))
            .collect(),
    })
}

/// Approve or reject: a decision on an open seat of the current step that
/// the caller holds.
async fn decide(on: &On<'_, '_>, approve: bool) -> Result<Answer, ServerError> {
    let (state, store, principal, request, current, chain, currency) = (
        on.state,
        on.store,
        on.principal,
        on.request,
        on.current,
        on.chain,
        on.currency,
    );
    let verb = if approve { "approve" } else { "reject" };
    if current.status != QuoteStatus::PendingApproval {
        return Err(ServerError::FailedPrecondition(format!(
            "quote {} is {}: only a pending quote is approved or rejected",
            current.number, current.status
        )));
    }
    let round = round(store, &principal.tenant, current.number)
        .await?
        .ok_or_else(|| {
            ServerError::Internal(format!(
                "quote {} is pending without a submit",
                current.number
            ))
        })?;
    not_own(store, principal, current, &round.submitted_by).await?;
    let Progress::Waiting { open, .. } = progress(chain, &round.decisions) else {
        return Err(ServerError::FailedPrecondition(format!(
            "the rules loaded now ask for no further approval of quote {}: recall it and submit it again",
            current.number
        )));
    };
    let delegated = delegated_by(state, store, principal, (state.today)()).await?;
    let who = acting(state, principal, &open, &round, delegated);
    let Some((seat, member)) = open.iter().find_map(|o| may_take(o, &who).map(|m| (o, m))) else {
        let seats: Vec<String> = open
            .iter()
            .map(|o| {
                if o.waiting_for.is_empty() {
                    format!(
                        "{} (an approval limit of {} or above)",
                        o.seat.key, o.seat.level
                    )
                } else {
                    format!("{} ({})", o.seat.key, o.waiting_for.join(", "))
                }
            })
            .collect();
        return Err(ServerError::PermissionDenied(format!(
            "quote {} waits for {}: {} may not {verb} for any of them",
            current.number,
            seats.join("; "),
            principal.name
        )));
    };
    let figures = figures_json(seat.seat);
    let decision = Decision {
        seat: seat.seat.key.clone(),
        member: member.clone(),
        approver: principal.name.clone(),
        approved: approve,
        figures: Default::default(),
        currency: currency.to_owned(),
    };
    let mut decisions = round.decisions.clone();
    decisions.push(decision);
    let after = progress(chain, &decisions);
    let to = match after {
        Progress::Approved => QuoteStatus::Approved,
        Progress::Rejected { .. } => QuoteStatus::Rejected,
        Progress::Waiting { .. } => QuoteStatus::PendingApproval,
    };
    let record = NewDecision {
        round: round.version,
        seat: seat.seat.key.clone(),
        member,
        approver: principal.name.clone(),
        role: principal.role.as_str().to_owned(),
        decision: verb.to_owned(),
        figures,
        currency: currency.to_owned(),
        comment: request.comment.trim().to_owned(),
    };
    let changed = store
        .change_status(on.change(
            request.base_version,
            to,
            verb,
            principal.actor(),
            on.comment(),
            vec![record],
        ))
        .await?;
    Ok(Answer {
        changed,
        waiting_for: waiting_for(&after),
        carried_over: Vec::new(),
    })
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
    let current = store
        .get(&principal.tenant, request.quote_number, None)
        .await?;
    let (outcome, currency) = outcome_of(&current)?;
    let chain = approval_chain(&state.rules, &outcome);
    let on = On {
        state,
        store,
        principal,
        request: &request,
        current: &current,
        chain: &chain,
        currency: &currency,
    };
    let answer = match action {
        Action::Submit => submit(&on).await?,
        Action::Approve => decide(&on, true).await?,
        Action::Reject => decide(&on, false).await?,
        _ => {
            match action {
                Action::Recall
                    if current.status == QuoteStatus::PendingApproval
                        && principal.role != Role::Admin =>
                {
                    let submitter = round(store, &principal.tenant, current.number)
                        .await?
                        .map_or(current.saved_by.clone(), |r| r.submitted_by);
                    if submitter != principal.name {
                        return Err(ServerError::PermissionDenied(format!(
                            "quote {} was submitted by {submitter}: only they (or an admin) recall it",
                            current.number
                        )));
                    }
                }
                Action::Send if current.status == QuoteStatus::Draft && !chain.is_empty() => {
                    return Err(ServerError::FailedPrecondition(format!(
                        "quote {} needs approval at level {} before it is sent: submit it",
                        current.number, outcome.level
                    )));
                }
                _ => {}
            }
            let mut change = on.change(
                request.base_version,
                action.target(),
                action.name(),
                principal.actor(),
                on.comment(),
                Vec::new(),
            );
            if action == Action::Accept {
                // The won order: the version accepted, line by line.
                change.order_lines = order_lines(&current)?;
            }
            let changed = store.change_status(change).await?;
            Answer {
                changed,
                waiting_for: Vec::new(),
                carried_over: Vec::new(),
            }
        }
    };
    let changed = answer.changed;
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
        approval_level: outcome.level,
        approval_reasons: outcome
            .triggered
            .iter()
            .map(|t| format!("{} ({}): {}", t.rule_id, t.level, t.reason))
            .collect(),
        waiting_for: answer.waiting_for,
        carried_over: answer.carried_over,
    })
}
