//! The audit log: every action appended, in the transaction of the change
//! it records, to one hash chain. An entry's hash covers its own fields and
//! the hash of the entry before it, so an entry altered, removed or
//! inserted behind the store's back shows as the first entry whose hash no
//! longer follows. No API changes or deletes entries; triggers refuse it in
//! the database too.
use chrono::{DateTime, Utc};
use sqlx::{Row, any::AnyRow};

use crate::{Store, StoreError, quotes::stamp, quotes::time_of};

/// Who acts: a principal's name and the role it acted in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub role: String,
}

impl Actor {
    pub fn new(name: impl Into<String>, role: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            role: role.into(),
        }
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the chain, from 1.
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub tenant: String,
    pub actor: String,
    pub role: String,
    /// save, revise, submit, approve, reject, recall, send, accept, lose,
    /// expire.
    pub action: String,
    pub quote_number: i64,
    /// The quote version the action made.
    pub quote_version: i64,
    /// What the action carried (JSON: figures, comment, from and to).
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    /// The hash this entry must carry: BLAKE3 over the previous hash and
    /// every field, each length-prefixed so no two entries encode alike.
    pub fn expected_hash(&self) -> String {
        let mut h = blake3::Hasher::new();
        let at = stamp(self.at);
        let seq = self.seq.to_string();
        let number = self.quote_number.to_string();
        let version = self.quote_version.to_string();
        for field in [
            self.prev_hash.as_str(),
            &seq,
            &at,
            &self.tenant,
            &self.actor,
            &self.role,
            &self.action,
            &number,
            &version,
            &self.detail,
        ] {
            h.update(&(field.len() as u64).to_le_bytes());
            h.update(field.as_bytes());
        }
        h.finalize().to_hex().to_string()
    }
}

/// What an action appends (the chain supplies sequence and hashes).
#[derive(Debug, Clone)]
pub(crate) struct Record<'a> {
    pub at: DateTime<Utc>,
    pub tenant: &'a str,
    pub actor: &'a Actor,
    pub action: &'a str,
    pub quote_number: i64,
    pub quote_version: i64,
    pub detail: String,
}

/// Where the chain stands: its last entry's sequence number and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chain {
    pub seq: i64,
    pub hash: String,
}

/// The chain's head as stored; `lock`: held until the caller's
/// transaction ends (PostgreSQL: other writers wait for it).
pub(crate) async fn head(conn: &mut sqlx::AnyConnection, lock: bool) -> Result<Chain, StoreError> {
    let sql = if lock {
        "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
    } else {
        "SELECT seq, hash FROM audit_head WHERE id = 1"
    };
    let row = sqlx::query(sql).fetch_one(&mut *conn).await?;
    Ok(Chain {
        seq: row.try_get("seq")?,
        hash: row.try_get("hash")?,
    })
}

/// Stores `chain` as the head.
pub(crate) async fn set_head(
    conn: &mut sqlx::AnyConnection,
    chain: &Chain,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(chain.seq)
        .bind(&chain.hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Appends `record` after `chain` and moves `chain` on (only when the
/// entry was written). The head row is the caller's to store: the SQLite
/// writer holds the chain for a whole group commit and stores it once.
pub(crate) async fn append_to(
    conn: &mut sqlx::AnyConnection,
    record: Record<'_>,
    chain: &mut Chain,
) -> Result<(), StoreError> {
    let mut moved = chain.clone();
    let entry = chained(record, &mut moved);
    // One row: numbered parameters serve both backends.
    let sql = entries_sql(1, crate::Backend::Postgres);
    bind_entries(sqlx::query(&sql), std::slice::from_ref(&entry))
        .execute(&mut *conn)
        .await?;
    *chain = moved;
    Ok(())
}

/// The entry `record` makes after `chain`, and `chain` moved on to it.
pub(crate) fn chained(record: Record<'_>, chain: &mut Chain) -> AuditEntry {
    let mut entry = AuditEntry {
        seq: chain.seq + 1,
        at: record.at,
        tenant: record.tenant.to_owned(),
        actor: record.actor.name.clone(),
        role: record.actor.role.clone(),
        action: record.action.to_owned(),
        quote_number: record.quote_number,
        quote_version: record.quote_version,
        detail: record.detail,
        prev_hash: std::mem::take(&mut chain.hash),
        hash: String::new(),
    };
    entry.hash = entry.expected_hash();
    *chain = Chain {
        seq: entry.seq,
        hash: entry.hash.clone(),
    };
    entry
}

/// Inserts `rows` entries into `audit_log`.
pub(crate) fn entries_sql(rows: usize, backend: crate::Backend) -> String {
    format!(
        "INSERT INTO audit_log (seq, at, tenant, actor, role, action, quote_number, \
         quote_version, detail, prev_hash, hash) VALUES {}",
        crate::rows::placeholders(rows, 11, backend)
    )
}

/// Binds `entries` as `audit_log` rows.
pub(crate) fn bind_entries<'q>(
    mut query: crate::quotes::AnyQuery<'q>,
    entries: &'q [AuditEntry],
) -> crate::quotes::AnyQuery<'q> {
    for entry in entries {
        query = query
            .bind(entry.seq)
            .bind(stamp(entry.at))
            .bind(entry.tenant.as_str())
            .bind(entry.actor.as_str())
            .bind(entry.role.as_str())
            .bind(entry.action.as_str())
            .bind(entry.quote_number)
            .bind(entry.quote_version)
            .bind(entry.detail.as_str())
            .bind(entry.prev_hash.as_str())
            .bind(entry.hash.as_str());
    }
    query
}

/// Appends `record` on `conn`, inside the caller's transaction, when the
/// caller holds no chain: taking the head row (`UPDATE … RETURNING`)
/// orders concurrent writers (PostgreSQL holds its lock to the commit), so
/// callers append last, just before they commit.
pub(crate) async fn append(
    conn: &mut sqlx::AnyConnection,
    record: Record<'_>,
    held: Option<&mut Chain>,
) -> Result<(), StoreError> {
    if let Some(chain) = held {
        return append_to(conn, record, chain).await;
    }
    let taken = sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash")
        .fetch_one(&mut *conn)
        .await?;
    let mut chain = Chain {
        seq: taken.try_get("seq")?,
        hash: taken.try_get("hash")?,
    };
    append_to(conn, record, &mut chain).await?;
    set_head(conn, &chain).await
}

/// The outcome of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheck {
    /// Entries read.
    pub entries: u64,
    /// The first entry that does not follow, and why; `None` when the
    /// whole chain holds.
    pub broken: Option<(i64, String)>,
}

/// Entries read per query while verifying or exporting.
const PAGE: i64 = 10_000;

fn entry_of(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        at: time_of(row, "at")?,
        tenant: row.try_get("tenant")?,
        actor: row.try_get("actor")?,
        role: row.try_get("role")?,
        action: row.try_get("action")?,
        quote_number: row.try_get("quote_number")?,
        quote_version: row.try_get("quote_version")?,
        detail: row.try_get("detail")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

impl Store {
    /// Up to `limit` entries after sequence number `after`, in order; of
    /// one tenant when `tenant` is given.
    pub async fn audit_entries(
        &self,
        tenant: Option<&str>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, tenant, actor, role, action, quote_number, quote_version, detail, \
             prev_hash, hash FROM audit_log WHERE seq > $1 AND ($2 = '' OR tenant = $2) \
             ORDER BY seq LIMIT $3",
        )
        .bind(after)
        .bind(tenant.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry_of).collect()
    }

    /// Walks the whole chain as far as the head was when it began (later
    /// appends are left for the next check): every entry must follow the
    /// one before it (sequence without gaps, its `prev_hash` that entry's
    /// hash, its own hash what its fields give) and the last must be the
    /// head.
    pub async fn verify_audit(&self) -> Result<AuditCheck, StoreError> {
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let (head_seq, head_hash): (i64, String) = (head.try_get("seq")?, head.try_get("hash")?);
        let mut entries = 0u64;
        let (mut seq, mut hash) = (0i64, String::new());
        let broken = |entries, at, why: String| {
            Ok(AuditCheck {
                entries,
                broken: Some((at, why)),
            })
        };
        'pages: while seq < head_seq {
            let page = match self
                .audit_entries(None, seq, PAGE.min(head_seq - seq))
                .await
            {
                Ok(page) => page,
                // An unreadable row is a break in itself.
                Err(StoreError::Corrupt(why)) => return broken(entries, seq + 1, why),
                Err(other) => return Err(other),
            };
            if page.is_empty() {
                break 'pages;
            }
            for entry in page {
                entries += 1;
                if entry.seq != seq + 1 {
                    return broken(entries, seq + 1, "is missing".to_owned());
                }
                if entry.prev_hash != hash {
                    return broken(
                        entries,
                        entry.seq,
                        "does not follow the entry before it".to_owned(),
                    );
                }
                if entry.hash != entry.expected_hash() {
                    return broken(
                        entries,
                        entry.seq,
                        "was changed after it was written".to_owned(),
                    );
                }
                seq = entry.seq;
                hash = entry.hash;
            }
        }
        if seq != head_seq {
            return broken(
                entries,
                seq + 1,
                format!("is missing: the log ends at {seq} but {head_seq} entries were written"),
            );
        }
        if hash != head_hash {
            return broken(entries, seq, "was changed after it was written".to_owned());
        }
        Ok(AuditCheck {
            entries,
            broken: None,
        })
    }
}
