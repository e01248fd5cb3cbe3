//! `kill -9` of `quotecast serve` during a burst of saves from several
//! clients: after a restart every acknowledged save reads back exactly as
//! it was acknowledged, and every stored quote reads back whole (nothing
//! half-written). On SQLite in the data directory, and on PostgreSQL when
//! `QUOTECAST_TEST_POSTGRES` names a server to create a database on.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use common::{free_port, start_server};
use quotecast_server::pb::{
    GetQuoteRequest, ListQuotesRequest, PriceQuoteRequest, QuoteLineInput, SaveQuoteRequest,
    StoredQuote, quote_service_client::QuoteServiceClient,
};

/// Clients saving at once, and saves acknowledged before the kill.
const CLIENTS: usize = 6;
const ACKNOWLEDGED_BEFORE_KILL: usize = 60;

fn quote(i: usize) -> PriceQuoteRequest {
    PriceQuoteRequest {
        currency_code: "USD".into(),
        price_date: "2026-03-02".into(),
        account_id: if i.is_multiple_of(2) { "acme" } else { "" }.into(),
        lines: vec![QuoteLineInput {
            sku: "DSP-24".into(),
            quantity: (1 + i % 50).to_string(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Saves from `CLIENTS` clients (each a new quote, then versions of it)
/// until the server dies; what was acknowledged.
async fn burst(url: String) -> Vec<StoredQuote> {
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (url, acknowledged) = (url.clone(), acknowledged.clone());
        clients.push(tokio::spawn(async move {
            let Ok(mut client) = QuoteServiceClient::connect(url).await else {
                return;
            };
            let mut mine: Option<(i64, i64)> = None;
            for i in 0.. {
                let (quote_number, base_version) = mine.unwrap_or((0, 0));
                let request = SaveQuoteRequest {
                    quote_number,
                    base_version,
                    quote: Some(quote(c * 1000 + i)),
                    valid_until: String::new(),
                };
                match client.save_quote(request).await {
                    Ok(saved) => {
                        let saved = saved.into_inner();
                        // Every fourth save starts a new quote.
                        mine = (i % 4 != 3).then_some((saved.quote_number, saved.version));
                        acknowledged.lock().unwrap().push(saved);
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    for client in clients {
        let _ = client.await;
    }
    std::mem::take(&mut *acknowledged.lock().unwrap())
}

fn survives(extra: &[&str]) {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap().to_owned();
    let port = free_port().to_string();
    let addr = format!("127.0.0.1:{port}");
    let mut args = vec!["--addr", &addr, "--data", &data_dir];
    args.extend_from_slice(extra);
    let (mut child, log, _) = start_server(&args, &[]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = format!("http://{addr}");
    let watcher = {
        let url = url.clone();
        runtime.spawn(async move { burst(url).await })
    };
    // Kill -9 once enough saves are acknowledged (or after a while).
    let pid = child.id();
    runtime.block_on(async {
        let mut client = QuoteServiceClient::connect(url.clone()).await.unwrap();
        for _ in 0..600 {
            let listed = client
                .list_quotes(ListQuotesRequest {
                    page_size: 500,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            let versions: i64 = listed.quotes.iter().map(|q| q.version).sum();
            if versions as usize >= ACKNOWLEDGED_BEFORE_KILL {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    child.kill().unwrap();
    child.wait().unwrap();
    drop(log);
    let acknowledged = runtime.block_on(watcher).unwrap();
    assert!(
        acknowledged.len() >= ACKNOWLEDGED_BEFORE_KILL / 2,
        "only {} saves acknowledged (pid {pid})",
        acknowledged.len()
    );
    // Restart on the same data and database.
    let (mut child, _log, _) = start_server(&args, &[]);
    runtime.block_on(async {
        let mut client = QuoteServiceClient::connect(url.clone()).await.unwrap();
        for saved in &acknowledged {
            let read = client
                .get_quote(GetQuoteRequest {
                    quote_number: saved.quote_number,
                    version: saved.version,
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(&read, saved, "an acknowledged save was lost or changed");
        }
        let listed = client
            .list_quotes(ListQuotesRequest {
                page_size: 500,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        for q in &listed.quotes {
            for version in 1..=q.version {
                let read = client
                    .get_quote(GetQuoteRequest {
                        quote_number: q.quote_number,
                        version,
                    })
                    .await
                    .unwrap()
                    .into_inner();
                assert!(read.priced.is_some() && read.quote.is_some());
            }
        }
    });
    common::stop(&mut child);
}

#[test]
fn every_acknowledged_save_survives_kill_9_on_sqlite() {
    survives(&[]);
}

#[test]
fn every_acknowledged_save_survives_kill_9_on_postgres() {
    let Ok(base) = std::env::var("QUOTECAST_TEST_POSTGRES") else {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "kill -9 on PostgreSQL: QUOTECAST_TEST_POSTGRES is not set, skipped"
        );
        return;
    };
    let name = format!("qc_crash_{}", std::process::id());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = runtime
        .block_on(quotecast_store::create_postgres_database(&base, &name))
        .unwrap();
    survives(&["--database", &url]);
}
