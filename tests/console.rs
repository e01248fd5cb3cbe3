//! The web console in a real headless Chromium: `tests/console/drive.mjs`
//! (puppeteer-core) clicks through a server configuration until it is
//! complete, prices it, forecasts a stored pipeline and takes a
//! screenshot; this test checks the console's total against the same
//! quote priced over gRPC, and that the page painted something.
//!
//! It needs Chromium (`CHROMIUM`, else `/usr/bin/chromium`), node and
//! `npm ci` run in `tests/console`; `.ci/run` provides all three and sets
//! `QUOTECAST_BROWSER_TESTS=required`. Without them the test says it was
//! skipped, unless that variable makes it fail.
#![allow(clippy::unwrap_used)]

use std::{path::PathBuf, process::Command};

use quotecast_server::pb::{
    ConfiguredOption, PipelineFile, PriceQuoteRequest, QuoteLineInput,
    forecast_service_client::ForecastServiceClient, quote_service_client::QuoteServiceClient,
};
use quotecast_tests::{TestServer, csv_upload};
use serde_json::Value;

fn driver_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("console")
}

/// What is missing to run a browser, if anything.
fn missing() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromium).exists() {
        return Some(format!(
            "no Chromium at {chromium} (apt-get install chromium)"
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("no node on PATH".into());
    }
    if !driver_dir().join("node_modules/puppeteer-core").exists() {
        return Some("puppeteer-core not installed (npm ci in tests/console)".into());
    }
    None
}

#[tokio::test]
async fn a_rep_configures_prices_and_forecasts_in_the_console() {
    if let Some(what) = missing() {
        assert!(
            std::env::var("QUOTECAST_BROWSER_TESTS").as_deref() != Ok("required"),
            "the browser test cannot run: {what}"
        );
        eprintln!("skipped: {what}");
        return;
    }
    let server = TestServer::start().await;
    let mut csv = String::from(
        "opportunity_id,owner,team,region,stage,created,expected_close,currency,sku,product_line,quantity,amount\n",
    );
    for i in 0..30 {
        let stage = ["qualify", "propose", "negotiate"][i % 3];
        csv += &format!(
            "O-{i:03},ann,na-east,na,{stage},2026-03-01,2026-{:02}-15,USD,SRV-1U,servers,2,8000.00\n",
            6 + i % 6
        );
    }
    ForecastServiceClient::new(server.channel().await)
        .upload_pipeline(tokio_stream::iter(csv_upload(
            "demo",
            PipelineFile::Snapshot,
            csv.as_bytes(),
        )))
        .await
        .unwrap();
    let shot = tempfile::tempdir().unwrap();
    let png = shot.path().join("console.png");
    let url = server.url.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .current_dir(driver_dir())
            .args(["drive.mjs", &url, "SRV-2U", "demo", "2026-05-12"])
            .arg(&png)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the driver failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(seen["pageErrors"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["complete"], true, "{seen}");
    assert!(!seen["clicks"].as_array().unwrap().is_empty(), "{seen}");
    assert!(seen["excludedShown"].as_u64().unwrap() > 0, "{seen}");
    assert!(seen["waterfallSteps"].as_u64().unwrap() > 1, "{seen}");

    // The total the console shows is what gRPC prices for the same lines.
    let line = &seen["request"]["lines"][0];
    let configuration = line["configuration"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| ConfiguredOption {
            sku: o["sku"].as_str().unwrap().into(),
            quantity: o["quantity"].as_u64().unwrap() as u32,
        })
        .collect();
    let priced = QuoteServiceClient::new(server.channel().await)
        .price_quote(PriceQuoteRequest {
            currency_code: "USD".into(),
            lines: vec![QuoteLineInput {
                sku: "SRV-2U".into(),
                quantity: line["quantity"].as_str().unwrap().into(),
                configuration,
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen["net"], priced.totals.unwrap().net.as_str());

    // The forecast drew a P10–P90 range per quarter; the page is not blank.
    assert!(seen["fanBuckets"].as_u64().unwrap() >= 2, "{seen}");
    assert!(seen["painted"].as_f64().unwrap() > 0.05, "{seen}");
    assert!(
        std::fs::metadata(shot.path().join("console.png"))
            .unwrap()
            .len()
            > 10_000
    );
    server.stop().await;
}
