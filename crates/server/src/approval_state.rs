//! A stored quote's approval state: the chain its priced quote needs
//! (`quotecast_pricing::approval_chain`), the current round's decisions
//! read back from the store, who may take which seat, and the sweep that
//! expires lapsed quotes and escalates seats left waiting.
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use prost::Message;
use quotecast_model::RuleSet;
use quotecast_pricing::{
    ApprovalOutcome, TriggeredApproval,
    approval_chain::{Acting, Decision, OpenSeat, Progress, Seat, SeatHolder, progress},
};
use quotecast_store::{
    Actor, NewDecision, QuoteStatus, QuoteVersion, StatusChange, Store, StoreError, StoredDecision,
};
use rust_decimal::Decimal;

use crate::{ServerError, auth::Principal, pb};

/// The approval a stored version's priced quote needs, and its currency.
pub(crate) fn outcome_of(version: &QuoteVersion) -> Result<(ApprovalOutcome, String), ServerError> {
    let priced =
        pb::PriceQuoteResponse::decode(version.content.priced.as_slice()).map_err(|e| {
            ServerError::Internal(format!(
                "quote {} version {}: its stored priced result is unreadable: {e}",
                version.number, version.version
            ))
        })?;
    let approval = priced.approval.unwrap_or_default();
    let outcome = ApprovalOutcome {
        level: if approval.level.is_empty() {
            "none".to_owned()
        } else {
            approval.level
        },
        triggered: approval
            .triggered
            .into_iter()
            .map(|t| TriggeredApproval {
                figure: t.figure.parse().ok(),
                rule_id: t.rule_id,
                level: t.level,
                reason: t.reason,
            })
            .collect(),
    };
    Ok((outcome, priced.currency_code))
}

/// A seat's rules and figures as stored with a decision (JSON).
pub(crate) fn figures_json(seat: &Seat<'_>) -> String {
    let figures: BTreeMap<&str, String> = seat
        .rules
        .iter()
        .filter_map(|(rule, figure)| figure.map(|f| (rule.as_str(), f.to_string())))
        .collect();
    serde_json::to_string(&figures).unwrap_or_default()
}

fn decision_of(stored: &StoredDecision) -> Decision {
    let d = &stored.decision;
    let figures: BTreeMap<String, String> = serde_json::from_str(&d.figures).unwrap_or_default();
    Decision {
        seat: d.seat.clone(),
        member: d.member.clone(),
        approver: d.approver.clone(),
        approved: d.decision != "reject",
        figures: figures
            .into_iter()
            .filter_map(|(rule, f)| f.parse::<Decimal>().ok().map(|f| (rule, f)))
            .collect(),
        currency: d.currency.clone(),
    }
}

/// What a decision row says.
fn is_decision(stored: &StoredDecision) -> bool {
    matches!(
        stored.decision.decision.as_str(),
        "approve" | "reject" | "carried"
    )
}

/// The current approval round of a pending quote.
pub(crate) struct Round {
    /// The version its submit made, by whom and when.
    pub version: i64,
    pub submitted_by: String,
    /// The round's decisions, and the seats the sweep escalated.
    pub decisions: Vec<Decision>,
    pub escalated: Vec<String>,
    /// When the quote last moved in this round (submit or decision).
    pub waiting_since: DateTime<Utc>,
}

/// Every decision on quote `number` (all rounds), for smart re-approval.
pub(crate) async fn all_decisions(
    store: &Store,
    tenant: &str,
    number: i64,
) -> Result<Vec<Decision>, ServerError> {
    Ok(store
        .decisions(tenant, number)
        .await?
        .iter()
        .filter(|d| is_decision(d))
        .map(decision_of)
        .collect())
}

/// The current round of quote `number` (`None` if it was never submitted).
pub(crate) async fn round(
    store: &Store,
    tenant: &str,
    number: i64,
) -> Result<Option<Round>, ServerError> {
    let Some((version, started)) = store.round(tenant, number).await? else {
        return Ok(None);
    };
    let submitted_by = store.get(tenant, number, Some(version)).await?.saved_by;
    let stored: Vec<StoredDecision> = store
        .decisions(tenant, number)
        .await?
        .into_iter()
        .filter(|d| d.decision.round == version)
        .collect();
    let waiting_since = stored
        .iter()
        .map(|d| d.at)
        .max()
        .unwrap_or(started)
        .max(started);
    Ok(Some(Round {
        version,
        submitted_by,
        decisions: stored
            .iter()
            .filter(|d| is_decision(d))
            .map(decision_of)
            .collect(),
        escalated: stored
            .iter()
            .filter(|d| d.decision.decision == "escalated")
            .map(|d| d.decision.seat.clone())
            .collect(),
        waiting_since,
    }))
}

/// A seat as the wire shows it, with the members it still waits for.
pub(crate) fn seat_view(open: &OpenSeat<'_, '_>) -> pb::ApprovalSeat {
    pb::ApprovalSeat {
        seat: open.seat.key.clone(),
        level: open.seat.level.clone(),
        members: open.waiting_for.clone(),
        rules: open
            .seat
            .rules
            .iter()
            .map(|(rule, figure)| match figure {
                Some(f) => format!("{rule}: {f}"),
                None => rule.clone(),
            })
            .collect(),
    }
}

/// The seats a progress still waits for.
pub(crate) fn waiting_for(p: &Progress<'_, '_>) -> Vec<pb::ApprovalSeat> {
    match p {
        Progress::Waiting { open, .. } => open.iter().map(seat_view).collect(),
        _ => Vec::new(),
    }
}

/// The rank of an approval limit (a level id) under the loaded rules.
fn limit_rank(state: &crate::AppState, limit: Option<&str>) -> Option<u32> {
    limit
        .and_then(|id| state.rules.approval_level(id))
        .map(|l| l.rank)
}

/// Who delegated their decisions to `principal` for `today`, with their
/// limits' ranks.
pub(crate) async fn delegated_by(
    state: &crate::AppState,
    store: &Store,
    principal: &Principal,
    today: NaiveDate,
) -> Result<Vec<(String, Option<u32>)>, ServerError> {
    Ok(store
        .delegations_to(&principal.tenant, &principal.name, today)
        .await?
        .into_iter()
        .map(|d| {
            let limit = state
                .auth
                .principal(&d.from)
                .and_then(|p| limit_rank(state, p.approval_limit.as_deref()));
            (d.from, limit)
        })
        .collect())
}

/// How `principal` may act on `round`: its limit, those who delegated to
/// it ([`delegated_by`]), and the escalated seats whose escalation group
/// it belongs to.
pub(crate) fn acting<'p>(
    state: &crate::AppState,
    principal: &'p Principal,
    open: &[OpenSeat<'_, '_>],
    round: &Round,
    delegated_by: Vec<(String, Option<u32>)>,
) -> Acting<'p> {
    let escalated_for = open
        .iter()
        .filter(|o| round.escalated.contains(&o.seat.key))
        .filter_map(|o| match &o.seat.holder {
            SeatHolder::Group(g) => g
                .escalate_to
                .as_deref()
                .and_then(|e| state.rules.approver_group(e))
                .filter(|e| e.members.contains(&principal.name))
                .map(|_| g.id.clone()),
            SeatHolder::Limit => None,
        })
        .collect();
    Acting {
        name: &principal.name,
        limit_rank: limit_rank(state, principal.approval_limit.as_deref()),
        delegated_by,
        escalated_for,
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub expired: Vec<quotecast_store::Expired>,
    /// Quotes (tenant, number) whose waiting seats were escalated.
    pub escalated: Vec<(String, i64)>,
}

/// Expires open quotes past their validity, then escalates every seat of
/// a pending quote whose group has waited its `escalate_after_days`: the
/// members of its `escalate_to` group may then decide in its place. Each
/// is a new version and an audit entry by "expiry sweep"; a quote changed
/// meanwhile is left for the next sweep.
pub async fn sweep(
    store: &Store,
    rules: &RuleSet,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<SweepReport, ServerError> {
    let sweeper = Actor::new("expiry sweep", "system");
    let mut report = SweepReport {
        expired: store.expire_due(today, &sweeper, now).await?,
        ..Default::default()
    };
    for (tenant, number, version) in store.all_in_status(QuoteStatus::PendingApproval).await? {
        let current = store.get(&tenant, number, Some(version)).await?;
        let (outcome, currency) = outcome_of(&current)?;
        let chain = quotecast_pricing::approval_chain::approval_chain(rules, &outcome);
        let Some(round) = round(store, &tenant, number).await? else {
            continue;
        };
        let Progress::Waiting { open, .. } = progress(&chain, &round.decisions) else {
            continue;
        };
        let waited = (today - round.waiting_since.date_naive()).num_days();
        let marks: Vec<NewDecision> = open
            .iter()
            .filter(|o| !round.escalated.contains(&o.seat.key))
            .filter_map(|o| match &o.seat.holder {
                SeatHolder::Group(g) => match (g.escalate_after_days, &g.escalate_to) {
                    (Some(days), Some(to)) if waited >= i64::from(days) => Some(NewDecision {
                        round: round.version,
                        seat: o.seat.key.clone(),
                        member: to.clone(),
                        approver: sweeper.name.clone(),
                        role: sweeper.role.clone(),
                        decision: "escalated".to_owned(),
                        figures: "{}".to_owned(),
                        currency: currency.clone(),
                        comment: format!(
                            "{} has not decided in {waited} days: {to} may decide for it",
                            g.id
                        ),
                    }),
                    _ => None,
                },
                SeatHolder::Limit => None,
            })
            .collect();
        if marks.is_empty() {
            continue;
        }
        let comment = marks
            .iter()
            .map(|m| m.comment.clone())
            .collect::<Vec<_>>()
            .join("; ");
        let change = StatusChange {
            tenant: tenant.clone(),
            number,
            base: version,
            to: QuoteStatus::PendingApproval,
            action: "escalate".to_owned(),
            by: sweeper.clone(),
            comment,
            now,
            decisions: marks,
            order_lines: Vec::new(),
        };
        match store.change_status(change).await {
            Ok(_) => report.escalated.push((tenant, number)),
            Err(StoreError::Stale { .. } | StoreError::IllegalTransition { .. }) => {}
            Err(other) => return Err(other.into()),
        }
    }
    Ok(report)
}

/// The lines of a stored version's priced quote, as a won order keeps
/// them (configured lines' options included).
pub(crate) fn order_lines(
    version: &QuoteVersion,
) -> Result<Vec<quotecast_store::OrderLine>, ServerError> {
    let priced = pb::PriceQuoteResponse::decode(version.content.priced.as_slice())
        .map_err(|e| ServerError::Internal(format!("quote {}: {e}", version.number)))?;
    Ok(priced
        .lines
        .into_iter()
        .map(|l| quotecast_store::OrderLine {
            line_id: l.line_id,
            sku: l.sku,
            product_line: l.product_line,
            quantity: l.quantity,
            net: l.net_extended,
        })
        .collect())
}
