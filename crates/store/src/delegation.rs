//! Delegations: an approver hands its approval decisions to another for a
//! date range (both days included). Each is appended to the audit log.
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use sqlx::Row;

use crate::{
    Actor, Store, StoreError,
    audit::{self, Record},
    quotes::stamp,
};

/// A delegation, as asked for and as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    pub tenant: String,
    /// Whose decisions are handed on, and to whom.
    pub from: String,
    pub to: String,
    pub starts: NaiveDate,
    pub ends: NaiveDate,
}

impl Store {
    /// Records `delegation` made by `by` (a delegation from the same
    /// principal starting the same day is replaced: the latest word counts).
    pub async fn delegate(
        &self,
        delegation: &Delegation,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = now.trunc_subsecs(6);
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "DELETE FROM delegations WHERE tenant = $1 AND from_principal = $2 AND starts = $3",
        )
        .bind(&delegation.tenant)
        .bind(&delegation.from)
        .bind(delegation.starts.to_string())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO delegations (tenant, from_principal, to_principal, starts, ends, \
             created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&delegation.tenant)
        .bind(&delegation.from)
        .bind(&delegation.to)
        .bind(delegation.starts.to_string())
        .bind(delegation.ends.to_string())
        .bind(&by.name)
        .bind(stamp(now))
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::json!({
            "from": delegation.from,
            "to": delegation.to,
            "starts": delegation.starts.to_string(),
            "ends": delegation.ends.to_string(),
        });
        audit::append(
            &mut tx,
            Record {
                at: now,
                tenant: &delegation.tenant,
                actor: by,
                action: "delegate",
                quote_number: 0,
                quote_version: 0,
                detail: detail.to_string(),
            },
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The delegations in force on `day` to `to` (of one tenant).
    pub async fn delegations_to(
        &self,
        tenant: &str,
        to: &str,
        day: NaiveDate,
    ) -> Result<Vec<Delegation>, StoreError> {
        let rows = sqlx::query(
            "SELECT from_principal, to_principal, starts, ends FROM delegations \
             WHERE tenant = $1 AND to_principal = $2 AND starts <= $3 AND ends >= $3 \
             ORDER BY from_principal",
        )
        .bind(tenant)
        .bind(to)
        .bind(day.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let date = |c: &str| -> Result<NaiveDate, StoreError> {
                    let s: String = row.try_get(c)?;
                    s.parse()
                        .map_err(|_| StoreError::Corrupt(format!("`{s}` in {c} is not a date")))
                };
                Ok(Delegation {
                    tenant: tenant.to_owned(),
                    from: row.try_get("from_principal")?,
                    to: row.try_get("to_principal")?,
                    starts: date("starts")?,
                    ends: date("ends")?,
                })
            })
            .collect()
    }
}
