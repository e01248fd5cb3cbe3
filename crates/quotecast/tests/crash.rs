//! `kill -9` of `quotecast serve` during a burst of saves, submits,
//! approvals and sends from several clients (reps and approvers of an
//! auth file): after a restart every acknowledged save reads back exactly
//! as it was acknowledged, every acknowledged status change is there,
//! every stored quote reads back whole (nothing half-written), and the
//! audit chain verifies (`quotecast audit verify`). On SQLite in the data
//! directory, and on PostgreSQL when `QUOTECAST_TEST_POSTGRES` names a
//! server to create a database on.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use common::{free_port, start_server};
use quotecast_server::pb::{
    GetQuoteRequest, ListQuotesRequest, ManualDiscount, PriceQuoteRequest, QuoteActionRequest,
    QuoteLineInput, SaveQuoteRequest, StoredQuote, manual_discount,
    quote_service_client::QuoteServiceClient,
};
use tonic::{Request, Status, service::Interceptor, transport::Channel};

/// Sends one principal's API key with every call.
#[derive(Clone)]
struct As(&'static str);

impl Interceptor for As {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let bearer = format!("Bearer qc_crash_{}", self.0);
        request
            .metadata_mut()
            .insert("authorization", bearer.parse().unwrap());
        Ok(request)
    }
}

type Client = QuoteServiceClient<tonic::service::interceptor::InterceptedService<Channel, As>>;

async fn client(url: &str, who: &'static str) -> Option<Client> {
    let channel = Channel::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .ok()?;
    Some(QuoteServiceClient::with_interceptor(channel, As(who)))
}

/// A rep and the sales managers of rules/approval_chains.toml.
fn write_auth(dir: &std::path::Path) -> String {
    let mut text = String::new();
    for (name, role) in [("ana", "rep"), ("mia", "approver"), ("max", "approver")] {
        text += &format!(
            "[[principal]]\nname = \"{name}@acme.example\"\ntenant = \"acme\"\nrole = \"{role}\"\n\
             api_key_blake3 = [\"{}\"]\n\n",
            quotecast_server::auth::key_hash(&format!("qc_crash_{name}"))
        );
    }
    let path = dir.join("auth.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Clients saving at once, and saves acknowledged before the kill.
const CLIENTS: usize = 6;
const ACKNOWLEDGED_BEFORE_KILL: usize = 60;

/// A quote a sales manager must approve (12 % off).
fn quote(i: usize) -> PriceQuoteRequest {
    PriceQuoteRequest {
        currency_code: "USD".into(),
        price_date: "2026-03-02".into(),
        account_id: if i.is_multiple_of(2) { "acme" } else { "" }.into(),
        lines: vec![QuoteLineInput {
            sku: "DSP-24".into(),
            quantity: (1 + i % 50).to_string(),
            discount: Some(ManualDiscount {
                kind: Some(manual_discount::Kind::Percent("12".into())),
            }),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// What was acknowledged: saves whole, status changes by number, version
/// and status.
#[derive(Default)]
struct Acknowledged {
    saves: Vec<StoredQuote>,
    changes: Vec<(i64, i64, i32)>,
}

/// Each client: Ana saves a quote, revises it, submits it, a manager
/// approves it and Ana sends it; then a new quote, until the server dies.
async fn burst(url: String) -> Acknowledged {
    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (url, acknowledged) = (url.clone(), acknowledged.clone());
        clients.push(tokio::spawn(async move {
            let approver = if c % 2 == 0 { "mia" } else { "max" };
            let (Some(mut rep), Some(mut manager)) =
                (client(&url, "ana").await, client(&url, approver).await)
            else {
                return;
            };
            let mut at: Option<(i64, i64)> = None;
            for i in 0.. {
                let (number, version) = at.unwrap_or((0, 0));
                let act = |comment: &str| QuoteActionRequest {
                    quote_number: number,
                    base_version: version,
                    comment: comment.into(),
                };
                let done = match i % 5 {
                    0 | 1 => rep
                        .save_quote(SaveQuoteRequest {
                            quote_number: number,
                            base_version: version,
                            quote: Some(quote(c * 1000 + i)),
                            valid_until: "2099-12-31".into(),
                        })
                        .await
                        .map(|saved| {
                            let saved = saved.into_inner();
                            let next = (saved.quote_number, saved.version);
                            acknowledged.lock().unwrap().saves.push(saved);
                            next
                        }),
                    step => {
                        let answer = match step {
                            2 => rep.submit(act("")).await,
                            3 => manager.approve(act("ok")).await,
                            _ => rep.mark_sent(act("")).await,
                        };
                        answer.map(|r| {
                            let r = r.into_inner();
                            acknowledged.lock().unwrap().changes.push((
                                r.quote_number,
                                r.version,
                                r.status,
                            ));
                            (r.quote_number, r.version)
                        })
                    }
                };
                match done {
                    // After the send, a new quote.
                    Ok(next) => at = (i % 5 != 4).then_some(next),
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
    let auth = write_auth(data.path());
    let mut args = vec!["--addr", &addr, "--data", &data_dir, "--auth", &auth];
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
        let mut client = client(&url, "ana").await.unwrap();
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
        acknowledged.saves.len() >= ACKNOWLEDGED_BEFORE_KILL / 4
            && acknowledged.changes.len() >= ACKNOWLEDGED_BEFORE_KILL / 4,
        "only {} saves and {} changes acknowledged (pid {pid})",
        acknowledged.saves.len(),
        acknowledged.changes.len()
    );
    // Restart on the same data and database.
    let (mut child, _log, _) = start_server(&args, &[]);
    runtime.block_on(async {
        let mut client = client(&url, "ana").await.unwrap();
        for saved in &acknowledged.saves {
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
        for &(quote_number, version, status) in &acknowledged.changes {
            let read = client
                .get_quote(GetQuoteRequest {
                    quote_number,
                    version,
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                read.status, status,
                "an acknowledged status change was lost"
            );
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
    // The audit chain holds every entry written, in order.
    let mut verify = std::process::Command::new(env!("CARGO_BIN_EXE_quotecast"));
    verify.args(["audit", "verify", "--data", &data_dir]);
    if let Some(database) = extra.iter().skip_while(|a| **a != "--database").nth(1) {
        verify.args(["--database", database]);
    }
    let out = verify.output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.contains("intact"), "{said}");
}

#[test]
fn every_acknowledged_save_and_approval_survives_kill_9_on_sqlite() {
    survives(&[]);
}

#[test]
fn every_acknowledged_save_and_approval_survives_kill_9_on_postgres() {
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
