//! `quotecast quotes list|show|diff` on the quotes a server stored.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{free_port, repo, start_server, stop};
use quotecast_server::pb::{
    PriceQuoteRequest, QuoteLineInput, SaveQuoteRequest, quote_service_client::QuoteServiceClient,
};

fn quotes(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_quotecast"))
        .arg("quotes")
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn stored_quotes_are_listed_shown_and_diffed_from_the_data_directory() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap().to_owned();
    let addr = format!("127.0.0.1:{}", free_port());
    let (mut child, _log, _) = start_server(&["--addr", &addr, "--data", &dir], &[]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut client = QuoteServiceClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        let mut quote = PriceQuoteRequest {
            currency_code: "USD".into(),
            price_date: "2026-03-02".into(),
            account_id: "acme".into(),
            lines: vec![QuoteLineInput {
                line_id: "displays".into(),
                sku: "DSP-24".into(),
                quantity: "10".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let save = |number, base, quote: &PriceQuoteRequest| SaveQuoteRequest {
            quote_number: number,
            base_version: base,
            quote: Some(quote.clone()),
            valid_until: String::new(),
        };
        client.save_quote(save(0, 0, &quote)).await.unwrap();
        quote.lines[0].quantity = "12".into();
        client.save_quote(save(1, 1, &quote)).await.unwrap();
    });
    stop(&mut child);
    let (ok, listed, err) = quotes(&["list", "--data", &dir]);
    assert!(ok, "{err}");
    assert!(
        listed.contains("draft") && listed.contains("acme"),
        "{listed}"
    );
    assert!(listed.contains("2268.00 USD"), "{listed}");
    assert!(listed.contains("1 quote(s)"), "{listed}");
    let (ok, shown, err) = quotes(&["show", "1", "--version", "1", "--data", &dir]);
    assert!(ok, "{err}");
    assert!(shown.contains("quote 1 version 1 (draft)"), "{shown}");
    assert!(
        shown.contains("DSP-24") && shown.contains("1890.00"),
        "{shown}"
    );
    let (ok, diffed, err) = quotes(&["diff", "1", "1", "--data", &dir]);
    assert!(ok, "{err}");
    assert!(diffed.contains("version 1 → 2"), "{diffed}");
    assert!(
        diffed.contains("line displays (DSP-24) changed"),
        "{diffed}"
    );
    assert!(diffed.contains("quantity: 10 → 12"), "{diffed}");
    assert!(diffed.contains("net: 1890.00 → 2268.00"), "{diffed}");
    // A version that is not there, and a data directory with no quotes.
    let (ok, _, err) = quotes(&["show", "1", "--version", "9", "--data", &dir]);
    assert!(!ok && err.contains("quote 1 version 9 not found"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let (ok, _, err) = quotes(&["list", "--data", empty.path().to_str().unwrap()]);
    assert!(!ok && err.contains("no stored quotes"), "{err}");
}
