//! Stored quotes: every save is a new immutable version of its quote, read
//! back whole at any version; a change names the version it starts from,
//! and of two concurrent changes exactly one wins (the other is told the
//! current version). SQLite in the data directory by default (WAL,
//! `synchronous=FULL`: an acknowledged save survives a killed process),
//! PostgreSQL by connection URL for several replicas; one SQL text for
//! both through sqlx's `Any` driver, migrations per backend.
//!
//! The store keeps the pricing request and priced result as the caller
//! encodes them (the server: protobuf) and never interprets them, so a
//! version reads back byte for byte what was priced.
mod audit;
mod change;
mod delegation;
mod migrate;
mod orders;
mod quotes;
mod rows;
mod status;
mod writer;

use std::{str::FromStr, time::Duration};

use sqlx::{
    AnyPool, Executor,
    any::{AnyPoolOptions, install_default_drivers},
};

pub use audit::{Actor, AuditCheck, AuditEntry};
pub use change::{Changed, Expired, NewDecision, StatusChange, StoredDecision};
pub use delegation::Delegation;
pub use migrate::SCHEMA_VERSION;
pub use orders::{ListOrders as ListOrdersQuery, Order, OrderLine};
pub use quotes::{ListQuotes, QuoteContent, QuoteSummary, QuoteVersion, content_hash};
pub use status::QuoteStatus;
pub use writer::WriteStats;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(
        "the database's schema is version {found}, newer than this build knows ({known}): \
         run a newer quotecast, or point it at another database"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("`{0}` is not a database URL this build knows: sqlite://PATH or postgres://…")]
    BadUrl(String),
    #[error("quote {number}{} not found", version.map(|v| format!(" version {v}")).unwrap_or_default())]
    NotFound { number: i64, version: Option<i64> },
    #[error(
        "quote {number} is at version {current}, not {base}: read it again and apply the change to version {current}"
    )]
    Stale {
        number: i64,
        base: i64,
        current: i64,
    },
    #[error("quote {number} is {from}: it cannot become {to}")]
    IllegalTransition {
        number: i64,
        from: QuoteStatus,
        to: QuoteStatus,
    },
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

/// Which database a store writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn of(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::BadUrl(url.to_owned()))
        }
    }
}

/// How long a writer waits for SQLite's lock before giving up.
const SQLITE_BUSY: Duration = Duration::from_secs(10);

/// A quote store: a connection pool on a migrated database (and, on
/// SQLite, the task that group-commits its writes).
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    writer: writer::Writer,
}

impl Store {
    /// Opens (and creates, for SQLite) the database at `url`, bringing its
    /// schema up to date; refuses a schema newer than this build's.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        install_default_drivers();
        let backend = Backend::of(url)?;
        let pool = match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') {
                    url.to_owned()
                } else {
                    format!("{url}?mode=rwc")
                };
                // One writer at a time is SQLite's own rule: the writer
                // task holds one connection, readers the other (WAL lets
                // them read while it writes).
                AnyPoolOptions::new()
                    .max_connections(2)
                    // A file's connection does not go stale: no ping (a
                    // round trip to its thread) before each use.
                    .test_before_acquire(false)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA synchronous = FULL").await?;
                            conn.execute(
                                format!("PRAGMA busy_timeout = {}", SQLITE_BUSY.as_millis())
                                    .as_str(),
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .connect(url)
                    .await?
            }
        };
        migrate::migrate(&pool, backend).await?;
        let writer = writer::Writer::start(pool.clone(), backend)?;
        Ok(Self {
            pool,
            backend,
            writer,
        })
    }

    /// Writes one version through the group-committing writer: saves
    /// waiting together share one transaction and one flush, on SQLite as
    /// on PostgreSQL (where a transaction per save queued on the audit
    /// chain's head row until its commit).
    async fn write(&self, save: quotes::Save) -> Result<QuoteVersion, StoreError> {
        self.writer.write(save).await
    }

    /// The SQLite database `quotes.sqlite` in `data_dir`.
    pub async fn open_in(data_dir: &std::path::Path) -> Result<Self, StoreError> {
        Self::open(&sqlite_url(data_dir)).await
    }

    /// What the group-committing writer has done since the store opened.
    pub fn write_stats(&self) -> WriteStats {
        self.writer.stats()
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Creates the empty PostgreSQL database `name` on the server that
/// `server_url` (any database of it) reaches, and returns its URL: a new
/// deployment's database, or a test's own.
pub async fn create_postgres_database(server_url: &str, name: &str) -> Result<String, StoreError> {
    use sqlx::Connection;
    install_default_drivers();
    if Backend::of(server_url)? != Backend::Postgres
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(StoreError::BadUrl(format!(
            "{server_url} (database {name})"
        )));
    }
    let mut admin = sqlx::AnyConnection::connect(server_url).await?;
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await?;
    admin.close().await?;
    let (server, _) = server_url
        .split_once('?')
        .map_or(server_url, |(u, _)| u)
        .rsplit_once('/')
        .ok_or_else(|| StoreError::BadUrl(server_url.to_owned()))?;
    Ok(format!("{server}/{name}"))
}

/// The URL of the default database in `data_dir`.
pub fn sqlite_url(data_dir: &std::path::Path) -> String {
    format!("sqlite://{}", data_dir.join("quotes.sqlite").display())
}

impl FromStr for Backend {
    type Err = StoreError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Backend::of(url)
    }
}
