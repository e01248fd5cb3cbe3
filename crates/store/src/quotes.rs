//! Saving, revising, reading and listing quotes.
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use sqlx::{Row, any::AnyRow};

use crate::{
    Actor, Backend, QuoteStatus, Store, StoreError,
    audit::{self, Record},
};

/// What one version of a quote holds besides its number and status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteContent {
    pub account: String,
    pub currency: String,
    /// The priced net total, a decimal string (for lists).
    pub total: String,
    pub valid_until: NaiveDate,
    /// The rule set it was priced with ([`quotecast_model`'s fingerprint]).
    pub rules_fingerprint: String,
    /// The pricing request as the caller encoded it.
    pub request: Vec<u8>,
    /// The priced result as the caller encoded it.
    pub priced: Vec<u8>,
}

/// One stored version of a quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteVersion {
    pub tenant: String,
    pub number: i64,
    pub version: i64,
    pub status: QuoteStatus,
    pub saved_by: String,
    pub saved_at: DateTime<Utc>,
    /// What made this version: `save`, `revise`, or the status change
    /// (`submit`, `approve`, …).
    pub action: String,
    /// The comment given with it.
    pub comment: String,
    pub content: QuoteContent,
}

/// A quote as lists show it: its latest version's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteSummary {
    pub number: i64,
    pub account: String,
    pub status: QuoteStatus,
    pub version: i64,
    pub currency: String,
    pub total: String,
    pub valid_until: NaiveDate,
    pub updated_at: DateTime<Utc>,
}

/// Which quotes to list: of a tenant, optionally of one account or status,
/// by number, those after `after` (the last number of the previous page).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuotes {
    pub tenant: String,
    pub account: Option<String>,
    pub status: Option<QuoteStatus>,
    pub after: Option<i64>,
    /// Newest first (by number) instead of oldest first.
    pub newest_first: bool,
    pub limit: u32,
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn status_of(row: &AnyRow) -> Result<QuoteStatus, StoreError> {
    let s: String = row.try_get("status")?;
    QuoteStatus::parse(&s).ok_or_else(|| corrupt(format!("unknown status `{s}`")))
}

fn date_of(row: &AnyRow, column: &str) -> Result<NaiveDate, StoreError> {
    let s: String = row.try_get(column)?;
    s.parse()
        .map_err(|_| corrupt(format!("`{s}` in {column} is not a date")))
}

pub(crate) fn time_of(row: &AnyRow, column: &str) -> Result<DateTime<Utc>, StoreError> {
    let s: String = row.try_get(column)?;
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| corrupt(format!("`{s}` in {column} is not a time")))
}

pub(crate) fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl Store {
    /// Saves a new quote as version 1, draft, under the tenant's next
    /// quote number.
    pub async fn create(
        &self,
        tenant: &str,
        by: &Actor,
        content: QuoteContent,
        now: DateTime<Utc>,
    ) -> Result<QuoteVersion, StoreError> {
        self.write(Save {
            tenant: tenant.to_owned(),
            by: by.clone(),
            content,
            now,
            revise: None,
        })
        .await
    }

    /// Saves `content` as the next version of quote `number`, back to
    /// draft, if the quote is still at `base` and may be edited.
    pub async fn revise(
        &self,
        tenant: &str,
        number: i64,
        base: i64,
        by: &Actor,
        content: QuoteContent,
        now: DateTime<Utc>,
    ) -> Result<QuoteVersion, StoreError> {
        self.write(Save {
            tenant: tenant.to_owned(),
            by: by.clone(),
            content,
            now,
            revise: Some((number, base)),
        })
        .await
    }

    /// Version `version` of quote `number` (the latest when `None`).
    pub async fn get(
        &self,
        tenant: &str,
        number: i64,
        version: Option<i64>,
    ) -> Result<QuoteVersion, StoreError> {
        let not_found = || StoreError::NotFound { number, version };
        let version = match version {
            Some(v) => v,
            None => {
                let mut conn = self.pool.acquire().await?;
                current(&mut conn, tenant, number).await?.0
            }
        };
        let row = sqlx::query(
            "SELECT version, status, saved_by, saved_at, action, comment, valid_until, \
             rules_fingerprint, request, priced, account, currency, total FROM quote_versions \
             WHERE tenant = $1 AND number = $2 AND version = $3",
        )
        .bind(tenant)
        .bind(number)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(not_found)?;
        Ok(QuoteVersion {
            tenant: tenant.to_owned(),
            number,
            version: row.try_get("version")?,
            status: status_of(&row)?,
            saved_by: row.try_get("saved_by")?,
            saved_at: time_of(&row, "saved_at")?,
            action: row.try_get("action")?,
            comment: row.try_get("comment")?,
            content: QuoteContent {
                account: row.try_get("account")?,
                currency: row.try_get("currency")?,
                total: row.try_get("total")?,
                valid_until: date_of(&row, "valid_until")?,
                rules_fingerprint: row.try_get("rules_fingerprint")?,
                request: row.try_get("request")?,
                priced: row.try_get("priced")?,
            },
        })
    }

    /// Quotes matching `query`, at most `query.limit`, by number.
    pub async fn list(&self, query: &ListQuotes) -> Result<Vec<QuoteSummary>, StoreError> {
        let order = if query.newest_first { "DESC" } else { "ASC" };
        let after = if query.newest_first { "<" } else { ">" };
        let sql = format!(
            "SELECT number, account, status, version, currency, total, valid_until, updated_at \
             FROM quotes WHERE tenant = $1 AND ($2 = '' OR account = $2) \
             AND ($3 = '' OR status = $3) AND ($4 = 0 OR number {after} $4) \
             ORDER BY number {order} LIMIT $5"
        );
        let rows = sqlx::query(&sql)
            .bind(&query.tenant)
            .bind(query.account.as_deref().unwrap_or(""))
            .bind(query.status.map_or("", QuoteStatus::as_str))
            .bind(query.after.unwrap_or(0))
            .bind(i64::from(query.limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(QuoteSummary {
                    number: row.try_get("number")?,
                    account: row.try_get("account")?,
                    status: status_of(row)?,
                    version: row.try_get("version")?,
                    currency: row.try_get("currency")?,
                    total: row.try_get("total")?,
                    valid_until: date_of(row, "valid_until")?,
                    updated_at: time_of(row, "updated_at")?,
                })
            })
            .collect()
    }
}

/// One version to write: a new quote, or the next version of quote
/// `revise.0` made from version `revise.1`.
#[derive(Debug)]
pub(crate) struct Save {
    pub tenant: String,
    pub by: Actor,
    pub content: QuoteContent,
    pub now: DateTime<Utc>,
    pub revise: Option<(i64, i64)>,
}

/// Takes the next `count` quote numbers of `tenant` on `conn`: the last
/// of them.
async fn take_numbers(
    conn: &mut sqlx::AnyConnection,
    tenant: &str,
    count: i64,
) -> Result<i64, StoreError> {
    Ok(sqlx::query(
        "INSERT INTO quote_numbers (tenant, last) VALUES ($1, $2) \
         ON CONFLICT (tenant) DO UPDATE SET last = quote_numbers.last + $2 RETURNING last",
    )
    .bind(tenant)
    .bind(count)
    .fetch_one(&mut *conn)
    .await?
    .try_get("last")?)
}

/// Writes `saves`, all new quotes, on `conn` inside the caller's
/// transaction: numbers taken once per tenant, rows inserted many to a
/// statement, audit entries chained after `chain` in the order given.
pub(crate) async fn create_all(
    conn: &mut sqlx::AnyConnection,
    saves: Vec<Save>,
    chain: &mut audit::Chain,
    backend: Backend,
) -> Result<Vec<QuoteVersion>, StoreError> {
    let mut counts: Vec<(&str, i64)> = Vec::new();
    for save in &saves {
        match counts.iter_mut().find(|(t, _)| *t == save.tenant) {
            Some((_, n)) => *n += 1,
            None => counts.push((&save.tenant, 1)),
        }
    }
    // The first number each tenant's saves take, in the order given.
    let mut next: Vec<(String, i64)> = Vec::with_capacity(counts.len());
    for (tenant, count) in counts {
        let last = take_numbers(conn, tenant, count).await?;
        next.push((tenant.to_owned(), last - count + 1));
    }
    let mut saved = Vec::with_capacity(saves.len());
    let mut entries = Vec::with_capacity(saves.len());
    for save in saves {
        let slot = next
            .iter_mut()
            .find(|(t, _)| *t == save.tenant)
            .map(|(_, n)| n)
            .ok_or_else(|| StoreError::Corrupt("a save's tenant took no number".into()))?;
        let number = *slot;
        *slot += 1;
        let version = QuoteVersion {
            number,
            version: 1,
            status: QuoteStatus::Draft,
            saved_by: save.by.name.clone(),
            // Kept to the microsecond: what is returned is what reads back.
            saved_at: save.now.trunc_subsecs(6),
            action: "save".to_owned(),
            comment: String::new(),
            tenant: save.tenant,
            content: save.content,
        };
        entries.push(audit::chained(audit_record(&version, &save.by), chain));
        saved.push(version);
    }
    // As many entries as versions: their chunks pair up.
    for (rows, entries) in crate::rows::chunks(&saved).zip(crate::rows::chunks(&entries)) {
        let n = rows.len();
        let [quotes, versions, audit] = [
            quotes_sql(n, backend),
            versions_sql(n, backend),
            audit::entries_sql(n, backend),
        ];
        match backend {
            // SQLite runs a text of several statements in one round trip
            // to its connection's thread, each taking its `?` in turn.
            Backend::Sqlite => {
                let sql = format!("{quotes}; {versions}; {audit}");
                let query = bind_quotes(sqlx::query(&sql), rows);
                let query = audit::bind_entries(bind_versions(query, rows), entries);
                query.execute(&mut *conn).await?;
            }
            Backend::Postgres => {
                bind_quotes(sqlx::query(&quotes), rows)
                    .execute(&mut *conn)
                    .await?;
                bind_versions(sqlx::query(&versions), rows)
                    .execute(&mut *conn)
                    .await?;
                audit::bind_entries(sqlx::query(&audit), entries)
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    Ok(saved)
}

/// A statement being bound.
pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Inserts `rows` new quotes' rows into `quotes`.
fn quotes_sql(rows: usize, backend: Backend) -> String {
    format!(
        "INSERT INTO quotes (tenant, number, account, status, version, currency, total, \
         valid_until, created_at, updated_at) VALUES {}",
        crate::rows::placeholders(rows, 10, backend)
    )
}

/// Binds the `quotes` rows of new quotes `saved`.
fn bind_quotes<'q>(mut query: AnyQuery<'q>, saved: &'q [QuoteVersion]) -> AnyQuery<'q> {
    for v in saved {
        let at = stamp(v.saved_at);
        query = query
            .bind(v.tenant.as_str())
            .bind(v.number)
            .bind(v.content.account.as_str())
            .bind(v.status.as_str())
            .bind(v.version)
            .bind(v.content.currency.as_str())
            .bind(v.content.total.as_str())
            .bind(v.content.valid_until.to_string())
            .bind(at.clone())
            .bind(at);
    }
    query
}

/// Writes `save` on `conn`, inside the caller's transaction.
pub(crate) async fn apply(
    conn: &mut sqlx::AnyConnection,
    save: Save,
    chain: &mut audit::Chain,
    backend: Backend,
) -> Result<QuoteVersion, StoreError> {
    let Some((number, base)) = save.revise else {
        return create_all(conn, vec![save], chain, backend)
            .await?
            .pop()
            .ok_or_else(|| StoreError::Corrupt("a new quote was not written".into()));
    };
    // Kept to the microsecond: what is returned is what reads back.
    let now = save.now.trunc_subsecs(6);
    let tenant = save.tenant.as_str();
    let (current_version, status) = current(conn, tenant, number).await?;
    if current_version != base {
        return Err(StoreError::Stale {
            number,
            base,
            current: current_version,
        });
    }
    if !status.is_editable() {
        return Err(StoreError::IllegalTransition {
            number,
            from: status,
            to: QuoteStatus::Draft,
        });
    }
    let saved = QuoteVersion {
        tenant: save.tenant.clone(),
        number,
        version: base + 1,
        status: QuoteStatus::Draft,
        saved_by: save.by.name.clone(),
        saved_at: now,
        action: "revise".to_owned(),
        comment: String::new(),
        content: save.content,
    };
    // The version in the WHERE clause makes the change conditional in
    // the database itself: a concurrent writer that got there first
    // leaves no row to update.
    let updated = sqlx::query(
        "UPDATE quotes SET account = $1, status = $2, version = $3, currency = $4, total = $5, \
         valid_until = $6, updated_at = $7 WHERE tenant = $8 AND number = $9 AND version = $10",
    )
    .bind(&saved.content.account)
    .bind(saved.status.as_str())
    .bind(saved.version)
    .bind(&saved.content.currency)
    .bind(&saved.content.total)
    .bind(saved.content.valid_until.to_string())
    .bind(stamp(now))
    .bind(tenant)
    .bind(number)
    .bind(base)
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(stale(conn, tenant, number, base).await);
    }
    let one = std::slice::from_ref(&saved);
    bind_versions(sqlx::query(&versions_sql(1, backend)), one)
        .execute(&mut *conn)
        .await?;
    audit::append_to(conn, audit_record(&saved, &save.by), chain).await?;
    Ok(saved)
}

/// BLAKE3 of what was priced and its result, as the audit log keeps it.
pub fn content_hash(c: &QuoteContent) -> String {
    let mut h = blake3::Hasher::new();
    h.update(&(c.request.len() as u64).to_le_bytes());
    h.update(&c.request);
    h.update(&c.priced);
    h.finalize().to_hex().to_string()
}

/// The audit record of a saved version, with the figures it holds.
fn audit_record<'a>(saved: &'a QuoteVersion, by: &'a Actor) -> Record<'a> {
    let c = &saved.content;
    let detail = serde_json::json!({
        "account": c.account,
        "currency": c.currency,
        "total": c.total,
        "valid_until": c.valid_until.to_string(),
        "rules": c.rules_fingerprint,
        "content_hash": content_hash(c),
    });
    Record {
        at: saved.saved_at,
        tenant: &saved.tenant,
        actor: by,
        action: &saved.action,
        quote_number: saved.number,
        quote_version: saved.version,
        detail: detail.to_string(),
    }
}

/// The refusal of a change from `base` that a concurrent writer beat:
/// naming the version it made (or why that could not be read).
pub(crate) async fn stale(
    conn: &mut sqlx::AnyConnection,
    tenant: &str,
    number: i64,
    base: i64,
) -> StoreError {
    match current(conn, tenant, number).await {
        Ok((current, _)) => StoreError::Stale {
            number,
            base,
            current,
        },
        Err(error) => error,
    }
}

/// The latest version and status of quote `number`.
pub(crate) async fn current(
    conn: &mut sqlx::AnyConnection,
    tenant: &str,
    number: i64,
) -> Result<(i64, QuoteStatus), StoreError> {
    let row = sqlx::query("SELECT version, status FROM quotes WHERE tenant = $1 AND number = $2")
        .bind(tenant)
        .bind(number)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound {
            number,
            version: None,
        })?;
    Ok((row.try_get("version")?, status_of(&row)?))
}

/// Inserts `rows` versions into `quote_versions`.
fn versions_sql(rows: usize, backend: Backend) -> String {
    format!(
        "INSERT INTO quote_versions (tenant, number, version, status, rules_fingerprint, \
         saved_by, saved_at, valid_until, request, priced, account, currency, total, action, \
         comment) VALUES {}",
        crate::rows::placeholders(rows, 15, backend)
    )
}

/// Binds the `quote_versions` rows of `saved`.
fn bind_versions<'q>(mut query: AnyQuery<'q>, saved: &'q [QuoteVersion]) -> AnyQuery<'q> {
    for v in saved {
        query = query
            .bind(v.tenant.as_str())
            .bind(v.number)
            .bind(v.version)
            .bind(v.status.as_str())
            .bind(v.content.rules_fingerprint.as_str())
            .bind(v.saved_by.as_str())
            .bind(stamp(v.saved_at))
            .bind(v.content.valid_until.to_string())
            .bind(v.content.request.as_slice())
            .bind(v.content.priced.as_slice())
            .bind(v.content.account.as_str())
            .bind(v.content.currency.as_str())
            .bind(v.content.total.as_str())
            .bind(v.action.as_str())
            .bind(v.comment.as_str());
    }
    query
}
