//! Fresh stores of each backend and the quotes the store tests save.
#![allow(clippy::unwrap_used, dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, NaiveDate, Utc};
use quotecast_store::{Actor, QuoteContent, Store};

/// A fresh store of each backend available, with what keeps it alive.
pub async fn stores() -> Vec<(Store, Option<tempfile::TempDir>)> {
    databases()
        .await
        .into_iter()
        .map(|db| (db.store, db.dir))
        .collect()
}

/// A fresh database: its store, its URL (to reach it behind the store's
/// back) and, for SQLite, the directory that holds it.
pub struct Database {
    pub store: Store,
    pub url: String,
    pub dir: Option<tempfile::TempDir>,
}

/// A fresh database of each backend available.
pub async fn databases() -> Vec<Database> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![Database {
        store: Store::open_in(dir.path()).await.unwrap(),
        url: quotecast_store::sqlite_url(dir.path()),
        dir: Some(dir),
    }];
    match std::env::var("QUOTECAST_TEST_POSTGRES") {
        Ok(base) => {
            let url = fresh_postgres_url(&base).await;
            out.push(Database {
                store: Store::open(&url).await.unwrap(),
                url,
                dir: None,
            });
        }
        Err(_) => say_skipped(),
    }
    out
}

/// Says once, past the test harness's capture, that PostgreSQL was not
/// tried.
pub fn say_skipped() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "quote store: QUOTECAST_TEST_POSTGRES is not set, so the PostgreSQL runs are skipped \
             (SQLite only; .ci/run starts a PostgreSQL for them)"
        );
    });
}

/// A new, empty database on the server at `base`.
pub async fn fresh_postgres(base: &str) -> Store {
    Store::open(&fresh_postgres_url(base).await).await.unwrap()
}

/// The URL of a new, empty database on the server at `base`.
pub async fn fresh_postgres_url(base: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "qc_test_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst),
        Utc::now().timestamp_micros()
    );
    quotecast_store::create_postgres_database(base, &name)
        .await
        .unwrap()
}

pub fn content(account: &str, total: &str) -> QuoteContent {
    QuoteContent {
        account: account.into(),
        currency: "USD".into(),
        total: total.into(),
        valid_until: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
        rules_fingerprint: "rules-0123".into(),
        request: vec![1, 2, 3, 0, 255],
        priced: total.as_bytes().to_vec(),
    }
}

pub fn by(name: &str) -> Actor {
    Actor::new(name, "rep")
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A connection of its own to the database at `url`, behind the store's
/// back.
pub async fn raw(url: &str) -> sqlx::AnyConnection {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(url).await.unwrap()
}
