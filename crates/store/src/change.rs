//! Status changes (submit, approve, reject, recall, send, accept, lose,
//! expire): each makes a new version holding the same content in the new
//! status, only from the version the caller names and only along a legal
//! move, and is appended to the audit log in the same transaction.
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use sqlx::Row;

use crate::{
    Actor, QuoteStatus, Store, StoreError,
    audit::{self, Record},
    quotes::{current, stale, stamp},
};

/// One status change asked for.
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub tenant: String,
    pub number: i64,
    /// The version the change starts from.
    pub base: i64,
    pub to: QuoteStatus,
    /// What the caller did: `submit`, `approve`, `expire`, …
    pub action: String,
    pub by: Actor,
    pub comment: String,
    pub now: DateTime<Utc>,
    /// Approval decisions this change records (with them, a pending quote
    /// may stay pending: a decision that completes no chain yet).
    pub decisions: Vec<NewDecision>,
    /// For an acceptance: the lines of the won order it writes.
    pub order_lines: Vec<crate::OrderLine>,
}

/// An approval decision to record with a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDecision {
    /// The version the round's submit made.
    pub round: i64,
    pub seat: String,
    pub member: String,
    pub approver: String,
    pub role: String,
    /// `approve`, `reject` or `carried`.
    pub decision: String,
    /// JSON: the figure of each rule the seat decided.
    pub figures: String,
    pub currency: String,
    pub comment: String,
}

/// A decision as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDecision {
    pub version: i64,
    pub at: DateTime<Utc>,
    pub decision: NewDecision,
}

/// A status change made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub number: i64,
    pub version: i64,
    pub from: QuoteStatus,
    pub status: QuoteStatus,
    pub at: DateTime<Utc>,
}

/// Makes `change` on `conn`, inside the caller's transaction.
pub(crate) async fn apply_change(
    conn: &mut sqlx::AnyConnection,
    change: &StatusChange,
    chain: Option<&mut audit::Chain>,
) -> Result<Changed, StoreError> {
    let now = change.now.trunc_subsecs(6);
    let (tenant, number, base) = (change.tenant.as_str(), change.number, change.base);
    let from = allowed_from(conn, change).await?;
    new_version(conn, change, now).await?;
    if change.to == QuoteStatus::Accepted {
        crate::orders::insert_order(
            conn,
            tenant,
            number,
            base,
            &change.by.name,
            now,
            &change.order_lines,
        )
        .await?;
    }
    insert_decisions(conn, change, now).await?;
    audit::append(
        conn,
        Record {
            at: now,
            tenant,
            actor: &change.by,
            action: &change.action,
            quote_number: number,
            quote_version: base + 1,
            detail: audit_detail(change, from),
        },
        chain,
    )
    .await?;
    Ok(Changed {
        number,
        version: base + 1,
        from,
        status: change.to,
        at: now,
    })
}

/// The quote's status now, if `change` is made on its current version
/// and may move it from that status (a decision keeps it pending).
async fn allowed_from(
    conn: &mut sqlx::AnyConnection,
    change: &StatusChange,
) -> Result<QuoteStatus, StoreError> {
    let (number, base) = (change.number, change.base);
    let (version, from) = current(conn, &change.tenant, number).await?;
    if version != base {
        return Err(StoreError::Stale {
            number,
            base,
            current: version,
        });
    }
    let decides = !change.decisions.is_empty()
        && from == QuoteStatus::PendingApproval
        && change.to == QuoteStatus::PendingApproval;
    if !decides && !from.can_become(change.to) {
        return Err(StoreError::IllegalTransition {
            number,
            from,
            to: change.to,
        });
    }
    Ok(from)
}

/// The quote moved to its new version and status, and that version
/// stored: the old one's content in the new status, copied inside the
/// database.
async fn new_version(
    conn: &mut sqlx::AnyConnection,
    change: &StatusChange,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (tenant, number, base) = (change.tenant.as_str(), change.number, change.base);
    let updated = sqlx::query(
        "UPDATE quotes SET status = $1, version = $2, updated_at = $3 \
         WHERE tenant = $4 AND number = $5 AND version = $6",
    )
    .bind(change.to.as_str())
    .bind(base + 1)
    .bind(stamp(now))
    .bind(tenant)
    .bind(number)
    .bind(base)
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(stale(conn, tenant, number, base).await);
    }
    sqlx::query(
        "INSERT INTO quote_versions (tenant, number, version, status, rules_fingerprint, \
         saved_by, saved_at, valid_until, request, priced, account, currency, total, action, \
         comment) SELECT tenant, number, $1, $2, rules_fingerprint, $3, $4, valid_until, \
         request, priced, account, currency, total, $5, $6 FROM quote_versions \
         WHERE tenant = $7 AND number = $8 AND version = $9",
    )
    .bind(base + 1)
    .bind(change.to.as_str())
    .bind(&change.by.name)
    .bind(stamp(now))
    .bind(&change.action)
    .bind(&change.comment)
    .bind(tenant)
    .bind(number)
    .bind(base)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The approval decisions `change` carries, stored against its new
/// version.
async fn insert_decisions(
    conn: &mut sqlx::AnyConnection,
    change: &StatusChange,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for d in &change.decisions {
        sqlx::query(
            "INSERT INTO approval_decisions (tenant, number, round, version, seat, member, \
             approver, role, decision, figures, currency, comment, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&change.tenant)
        .bind(change.number)
        .bind(d.round)
        .bind(change.base + 1)
        .bind(&d.seat)
        .bind(&d.member)
        .bind(&d.approver)
        .bind(&d.role)
        .bind(&d.decision)
        .bind(&d.figures)
        .bind(&d.currency)
        .bind(&d.comment)
        .bind(stamp(now))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The audit entry's detail of `change`: the statuses, the comment and
/// the decisions.
fn audit_detail(change: &StatusChange, from: QuoteStatus) -> String {
    let decisions: Vec<serde_json::Value> = change
        .decisions
        .iter()
        .map(|d| {
            serde_json::json!({
                "seat": d.seat,
                "member": d.member,
                "approver": d.approver,
                "decision": d.decision,
                "figures": d.figures,
            })
        })
        .collect();
    serde_json::json!({
        "from": from.as_str(),
        "to": change.to.as_str(),
        "comment": change.comment,
        "decisions": decisions,
    })
    .to_string()
}

/// A quote the expiry sweep found past its validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    pub tenant: String,
    pub changed: Changed,
}

impl Store {
    /// Changes a quote's status (a new version), if it is still at
    /// `change.base` and the move is legal.
    pub async fn change_status(&self, change: StatusChange) -> Result<Changed, StoreError> {
        self.writer.change(change).await
    }

    /// Expires every open quote, of every tenant, whose validity ended
    /// before `today`: each a status change by `by` at `now`. A quote
    /// changed by someone else meanwhile is left for the next sweep.
    pub async fn expire_due(
        &self,
        today: NaiveDate,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Vec<Expired>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant, number, version, valid_until FROM quotes WHERE valid_until < $1 \
             AND status NOT IN ($2, $3, $4) ORDER BY tenant, number",
        )
        .bind(today.to_string())
        .bind(QuoteStatus::Accepted.as_str())
        .bind(QuoteStatus::Lost.as_str())
        .bind(QuoteStatus::Expired.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut expired = Vec::new();
        for row in rows {
            let tenant: String = row.try_get("tenant")?;
            let valid_until: String = row.try_get("valid_until")?;
            let change = StatusChange {
                tenant: tenant.clone(),
                number: row.try_get("number")?,
                base: row.try_get("version")?,
                to: QuoteStatus::Expired,
                action: "expire".to_owned(),
                by: by.clone(),
                comment: format!("valid until {valid_until}; swept on {today}"),
                now,
                decisions: Vec::new(),
                order_lines: Vec::new(),
            };
            match self.change_status(change).await {
                Ok(changed) => expired.push(Expired { tenant, changed }),
                Err(StoreError::Stale { .. } | StoreError::IllegalTransition { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(expired)
    }
}

impl Store {
    /// Every approval decision on quote `number`, in the order taken.
    pub async fn decisions(
        &self,
        tenant: &str,
        number: i64,
    ) -> Result<Vec<StoredDecision>, StoreError> {
        let rows = sqlx::query(
            "SELECT round, version, seat, member, approver, role, decision, figures, currency, \
             comment, at FROM approval_decisions WHERE tenant = $1 AND number = $2 \
             ORDER BY version, seat, member",
        )
        .bind(tenant)
        .bind(number)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredDecision {
                    version: row.try_get("version")?,
                    at: crate::quotes::time_of(row, "at")?,
                    decision: NewDecision {
                        round: row.try_get("round")?,
                        seat: row.try_get("seat")?,
                        member: row.try_get("member")?,
                        approver: row.try_get("approver")?,
                        role: row.try_get("role")?,
                        decision: row.try_get("decision")?,
                        figures: row.try_get("figures")?,
                        currency: row.try_get("currency")?,
                        comment: row.try_get("comment")?,
                    },
                })
            })
            .collect()
    }

    /// The version the latest submit of quote `number` made (the current
    /// approval round), with when it was made.
    pub async fn round(
        &self,
        tenant: &str,
        number: i64,
    ) -> Result<Option<(i64, DateTime<Utc>)>, StoreError> {
        let row = sqlx::query(
            "SELECT version, saved_at FROM quote_versions WHERE tenant = $1 AND number = $2 \
             AND action = 'submit' ORDER BY version DESC LIMIT 1",
        )
        .bind(tenant)
        .bind(number)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok((
                r.try_get("version")?,
                crate::quotes::time_of(&r, "saved_at")?,
            ))
        })
        .transpose()
    }
}

impl Store {
    /// Every quote of every tenant in `status`: its tenant, number and
    /// version (for the sweep).
    pub async fn all_in_status(
        &self,
        status: QuoteStatus,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant, number, version FROM quotes WHERE status = $1 ORDER BY tenant, number",
        )
        .bind(status.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("tenant")?,
                    r.try_get("number")?,
                    r.try_get("version")?,
                ))
            })
            .collect()
    }
}
