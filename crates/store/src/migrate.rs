//! Schema versions, applied in order on open, each in its own transaction.
//! A database whose schema is newer than this build knows is refused: an
//! older server must not write into tables it does not understand.
use sqlx::{AnyPool, Executor, Row};

use crate::{Backend, StoreError};

/// The migrations of each backend, in order: version N is entry N − 1.
const SQLITE: &[&str] = &[
    include_str!("../migrations/sqlite/0001_quotes.sql"),
    include_str!("../migrations/sqlite/0002_audit.sql"),
    include_str!("../migrations/sqlite/0003_approvals.sql"),
    include_str!("../migrations/sqlite/0004_orders.sql"),
];
const POSTGRES: &[&str] = &[
    include_str!("../migrations/postgres/0001_quotes.sql"),
    include_str!("../migrations/postgres/0002_audit.sql"),
    include_str!("../migrations/postgres/0003_approvals.sql"),
    include_str!("../migrations/postgres/0004_orders.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 4;

fn migrations(backend: Backend) -> &'static [&'static str] {
    match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    }
}

/// Brings the database to [`SCHEMA_VERSION`]; the version it was at.
pub(crate) async fn migrate(pool: &AnyPool, backend: Backend) -> Result<i64, StoreError> {
    sqlx::query("CREATE TABLE IF NOT EXISTS quotecast_schema (version BIGINT NOT NULL)")
        .execute(pool)
        .await?;
    let found: i64 =
        sqlx::query("SELECT COALESCE(MAX(version), 0) AS version FROM quotecast_schema")
            .fetch_one(pool)
            .await?
            .try_get("version")?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found,
            known: SCHEMA_VERSION,
        });
    }
    for (i, script) in migrations(backend).iter().enumerate() {
        let version = i as i64 + 1;
        if version <= found {
            continue;
        }
        let mut tx = pool.begin().await?;
        // Whole, unprepared: both databases take a script of several
        // statements that way, trigger bodies with their own `;` included.
        (&mut *tx).execute(*script).await?;
        sqlx::query("INSERT INTO quotecast_schema (version) VALUES ($1)")
            .bind(version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version, "database schema migrated");
    }
    Ok(found)
}
