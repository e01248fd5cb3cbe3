//! The client examples run against a live server: Python (grpcio, stubs
//! generated from proto/ at run time) and Node (@grpc/grpc-js with
//! proto-loader), each pricing a quote, decoding a BadRequest, uploading
//! and forecasting a pipeline, and running a configuration session. Each
//! example checks its own answers and exits non-zero otherwise.
//!
//! They need a Python with `examples/clients/python/requirements.txt`
//! (`QUOTECAST_PYTHON`, else `python3`) and node with `npm ci` run in
//! `examples/clients/node`; `.ci/run` provides both and sets
//! `QUOTECAST_CLIENT_TESTS=required`. Without them each test says it was
//! skipped, unless that variable makes it fail.
#![allow(clippy::unwrap_used)]

use std::{path::PathBuf, process::Command};

use quotecast_tests::TestServer;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/clients")
}

/// Runs `program args` against a fresh server, or says why it cannot.
async fn run_example(program: &str, args: &[&str], missing: Option<String>) {
    if let Some(what) = missing {
        assert!(
            std::env::var("QUOTECAST_CLIENT_TESTS").as_deref() != Ok("required"),
            "the client example cannot run: {what}"
        );
        eprintln!("skipped: {what}");
        return;
    }
    let server = TestServer::start().await;
    let address = server.url.trim_start_matches("http://").to_owned();
    let (program, mut args) = (
        program.to_owned(),
        args.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
    );
    args.push(address);
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&program)
            .current_dir(examples())
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.trim_end().ends_with("ok"),
        "the example failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("refused: lines[0].sku"), "{stdout}");
    server.stop().await;
}

#[tokio::test]
async fn the_python_client_example_works() {
    let python = std::env::var("QUOTECAST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ready = Command::new(&python)
        .args(["-c", "import grpc, grpc_tools, grpc_status"])
        .output()
        .is_ok_and(|o| o.status.success());
    let missing = (!ready).then(|| {
        format!(
            "{python} lacks grpcio, grpcio-tools or grpcio-status \
             (pip install -r examples/clients/python/requirements.txt)"
        )
    });
    run_example(&python, &["python/client.py"], missing).await;
}

#[tokio::test]
async fn the_node_client_example_works() {
    let missing = if Command::new("node").arg("--version").output().is_err() {
        Some("no node on PATH".to_owned())
    } else if !examples().join("node/node_modules/@grpc/grpc-js").exists() {
        Some("@grpc/grpc-js not installed (npm ci in examples/clients/node)".to_owned())
    } else {
        None
    };
    run_example("node", &["node/client.mjs"], missing).await;
}
