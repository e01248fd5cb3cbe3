//! The command line as a user runs it.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    io::BufRead,
    path::Path,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use common::{free_port, repo, start_server, stop};

fn quotecast(args: &[&str]) -> Output {
    quotecast_with(args, &[])
}

/// `quotecast` with these environment variables set.
fn quotecast_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    // A forecast keeps what a history taught under the data directory:
    // the tests' own in cargo's scratch directory, not the repository's
    // `data/` nor one left in the system's temporary directory per run
    // (what it keeps is bounded: the 16 most recent entries).
    let data = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-data");
    Command::new(env!("CARGO_BIN_EXE_quotecast"))
        .args(args)
        .env("QUOTECAST_DATA", data)
        .envs(env.iter().copied())
        .current_dir(repo())
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn rules_check_accepts_the_example_rules() {
    let o = quotecast(&["rules", "check", "rules"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("ok (27 files, 49 products, 3 price books, 25 pricing and approval rules, 4 approver groups with 5 routes, 2 configurable products with 11 configuration rules, 7 funnel stages, 105 planned items with 169 BOM lines)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn rules_check_names_file_and_line_and_fails() {
    let o = quotecast(&["rules", "check", "tests/fixtures/broken_rules"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("tests/fixtures/broken_rules/rules.toml:42: approval rule `big` refers to unknown approval level `ceo`"),
        "{err}"
    );
    assert!(err.contains("4 problem(s) found"), "{err}");
}

#[test]
fn rules_test_runs_the_regression_cases() {
    let o = quotecast(&["rules", "test", "rules"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("PASS acme-contract-laptops"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains(", 0 failed"), "{}", stdout(&o));
}

#[test]
fn quote_price_prints_the_waterfall() {
    let o = quotecast(&["quote", "price", "examples/quotes/acme-server-refresh.json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("contract_price   ctr-acme-lt14pro-2026"),
        "{out}"
    );
    // The configured server: its options as sub-lines, with how each got in.
    assert!(
        out.contains("line 1/SRV-BRD-SP6  SRV-BRD-SP6  Server mainboard, socket SP6, 16 DIMM slots  × 4  (option of line 1, added by the rules)"),
        "{out}"
    );
    assert!(
        out.contains("× 8  (option of line 1, default srv2u-default-psu)"),
        "{out}"
    );
    assert!(out.contains("Approval required: none"), "{out}");
}

#[test]
fn quote_price_json_is_machine_readable() {
    let o = quotecast(&[
        "quote",
        "price",
        "--json",
        "examples/quotes/acme-server-refresh.json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The API's JSON (proto3 JSON mapping), as Connect and any gRPC JSON
    // client write it.
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["currencyCode"], "USD");
    // SRV-2U and its 7 options, then the laptops and the warranty.
    assert_eq!(v["lines"].as_array().unwrap().len(), 10);
    assert_eq!(v["lines"][2]["sku"], "SRV-CPU-32C");
    assert_eq!(v["lines"][2]["parentLineId"], "1");
    assert_eq!(v["lines"][2]["configuredBy"], "CONFIGURED_BY_CHOSEN");
    assert!(v["lines"][8].get("parentLineId").is_none());
    // The header discount of 1500.00 is spread exactly: net + discount = list.
    let totals = &v["totals"];
    let list: rust_decimal::Decimal = totals["list"].as_str().unwrap().parse().unwrap();
    let net: rust_decimal::Decimal = totals["net"].as_str().unwrap().parse().unwrap();
    let discount: rust_decimal::Decimal = totals["discount"].as_str().unwrap().parse().unwrap();
    assert_eq!(list - discount, net);
}

/// A quote file in the old vocabulary still prices, the same as the
/// API's JSON, with a note naming the new keys; a file in the API's JSON
/// with a key it does not have is refused at its line.
#[test]
fn old_quote_files_price_the_same_with_a_deprecation_note() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.json");
    std::fs::write(
        &old,
        r#"{"currency": "USD", "date": "2026-05-12", "account": "acme",
            "lines": [{"id": "1", "sku": "SRV-2U", "quantity": 4, "discount_percent": "5",
                       "configuration": [{"sku": "SRV-CPU-32C", "quantity": 2},
                                         {"sku": "SRV-MEM-64", "quantity": 12},
                                         {"sku": "SRV-SSD-3T8", "quantity": 4},
                                         {"sku": "SRV-RACK-KIT", "quantity": 1}]},
                      {"id": "2", "sku": "LT-14-PRO", "quantity": 30},
                      {"id": "3", "sku": "SVC-WTY-5Y-SRV", "quantity": 4}],
            "header_discount_amount": "1500.00"}"#,
    )
    .unwrap();
    let from_old = quotecast(&["quote", "price", old.to_str().unwrap()]);
    assert!(from_old.status.success(), "{}", stderr(&from_old));
    assert!(
        stderr(&from_old).contains("deprecated") && stderr(&from_old).contains("currencyCode"),
        "{}",
        stderr(&from_old)
    );
    let from_new = quotecast(&["quote", "price", "examples/quotes/acme-server-refresh.json"]);
    assert!(stderr(&from_new).is_empty(), "{}", stderr(&from_new));
    assert_eq!(stdout(&from_old), stdout(&from_new));

    let wrong = dir.path().join("wrong.json");
    std::fs::write(
        &wrong,
        "{\n  \"currencyCode\": \"USD\",\n  \"priceDay\": \"2026-05-12\"\n}",
    )
    .unwrap();
    let o = quotecast(&["quote", "price", wrong.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("wrong.json:3:") && stderr(&o).contains("priceDay"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn quote_price_reports_bad_lines_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.json");
    std::fs::write(
        &file,
        r#"{"currency":"USD","date":"2026-03-01","lines":[{"sku":"NOPE","quantity":1}]}"#,
    )
    .unwrap();
    let o = quotecast(&["quote", "price", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("lines[0].sku: unknown SKU `NOPE`"),
        "{}",
        stderr(&o)
    );
    std::fs::write(
        &file,
        r#"{"currency":"USD","lines":[{"sku":"DSP-24","quantity":1.5}]}"#,
    )
    .unwrap();
    let o = quotecast(&["quote", "price", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("bad.json:1:"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("write decimals as strings"),
        "{}",
        stderr(&o)
    );
}

/// Flags win over the environment, which wins over the config file.
#[test]
fn serve_settings_precedence() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (from_file, from_env, from_flag) = (free_port(), free_port(), free_port());
    let config = dir.join("quotecast.toml");
    let data = dir.join("data-from-file");
    std::fs::write(
        &config,
        format!(
            "addr = \"127.0.0.1:{from_file}\"\ndata = {:?}\nlog_format = \"json\"\n",
            data.to_str().unwrap()
        ),
    )
    .unwrap();
    let config_arg = config.to_str().unwrap();
    // The file alone: its address, its data directory, JSON logs.
    let (mut child, _, line) = start_server(&["--config", config_arg], &[]);
    assert!(line.contains(&format!("127.0.0.1:{from_file}")), "{line}");
    assert!(
        line.trim_start().starts_with('{'),
        "JSON log expected: {line}"
    );
    assert!(data.is_dir());
    stop(&mut child);
    // The environment overrides the file. (Here and below the log reader is
    // dropped at once: the server must survive its log pipe closing, and
    // still shut down with status 0.)
    let env_addr = format!("127.0.0.1:{from_env}");
    let (mut child, _, line) =
        start_server(&["--config", config_arg], &[("QUOTECAST_ADDR", &env_addr)]);
    assert!(line.contains(&env_addr), "{line}");
    stop(&mut child);
    // A flag overrides both.
    let flag_addr = format!("127.0.0.1:{from_flag}");
    let (mut child, _, line) = start_server(
        &["--config", config_arg, "--addr", &flag_addr],
        &[("QUOTECAST_ADDR", &env_addr)],
    );
    assert!(line.contains(&flag_addr), "{line}");
    stop(&mut child);
    // A host name serves as well as an address.
    let named = format!("localhost:{}", free_port());
    let (mut child, _, line) = start_server(&["--addr", &named], &[]);
    assert!(line.contains("quotecast serving"), "{line}");
    stop(&mut child);
    // A bad value in the file names the file and its key, not a flag.
    std::fs::write(&config, "addr = \"nowhere\"\n").unwrap();
    let o = quotecast(&["serve", "--config", config_arg]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("quotecast.toml: addr `nowhere`"),
        "{}",
        stderr(&o)
    );
    // A broken config file is reported with its line.
    std::fs::write(&config, "addr = \"127.0.0.1:1\"\nport = 9\n").unwrap();
    let o = quotecast(&["serve", "--config", config_arg]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("quotecast.toml:2:"), "{}", stderr(&o));
}

/// `serve` on a free port, quotes priced through it with `--server` (the
/// same output as in-process; refusals name the field), then SIGTERM: the
/// server shuts down gracefully and exits 0.
#[test]
fn serve_prices_over_grpc_and_stops_on_sigterm() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let metrics_port = free_port();
    let args = [
        "--addr",
        &format!("127.0.0.1:{port}"),
        "--data",
        data.to_str().unwrap(),
        "--metrics-addr",
        &format!("127.0.0.1:{metrics_port}"),
    ];
    let (mut child, log, startup) = start_server(&args, &[]);
    assert!(data.is_dir(), "the data directory is created");
    assert!(startup.contains("read=0"), "{startup}");
    assert!(
        std::fs::read_dir(data.join("configurators"))
            .unwrap()
            .count()
            >= 2,
        "compiled configuration models are kept"
    );
    let health = quotecast(&["health", "--server", &url]);
    assert!(health.status.success(), "{}", stderr(&health));
    assert_eq!(stdout(&health).trim(), "SERVING");
    let example = "examples/quotes/acme-server-refresh.json";
    let remote = quotecast(&["quote", "price", "--server", &url, example]);
    let local = quotecast(&["quote", "price", example]);
    assert!(remote.status.success(), "{}", stderr(&remote));
    assert_eq!(
        stdout(&remote),
        stdout(&local),
        "server and in-process pricing agree"
    );
    let bad = data.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"currency":"USD","date":"2026-03-01","lines":[{"sku":"NOPE","quantity":1}]}"#,
    )
    .unwrap();
    let refused = quotecast(&["quote", "price", "--server", &url, bad.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("InvalidArgument"),
        "{}",
        stderr(&refused)
    );
    assert!(
        stderr(&refused).contains("lines[0].sku: UNKNOWN_SKU"),
        "{}",
        stderr(&refused)
    );
    // The metrics count both calls by code and time them.
    let metrics = http_get(metrics_port, "/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    for expected in [
        "quotecast_requests_total{code=\"OK\",method=\"quotecast.v1.QuoteService/PriceQuote\"} 1",
        "quotecast_requests_total{code=\"INVALID_ARGUMENT\",method=\"quotecast.v1.QuoteService/PriceQuote\"} 1",
        "quotecast_request_duration_seconds_count{method=\"quotecast.v1.QuoteService/PriceQuote\"} 2",
        "quotecast_rules_info{version=\"rules-",
        "quotecast_jobs_running 0",
        "quotecast_configure_sessions_open 0",
        "quotecast_process_resident_memory_bytes",
    ] {
        assert!(metrics.contains(expected), "{expected} in {metrics}");
    }
    assert!(http_get(metrics_port, "/").starts_with("HTTP/1.1 404"));
    // SIGHUP reloads the rules (the same files: the same version).
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    std::thread::sleep(std::time::Duration::from_millis(1500));
    stop(&mut child);
    // Stopped: the health check fails, saying why.
    let health = quotecast(&["health", "--server", &url, "--timeout", "2"]);
    assert_eq!(health.status.code(), Some(1));
    assert!(
        stderr(&health).contains("cannot connect"),
        "{}",
        stderr(&health)
    );
    let rest: Vec<String> = log.lines().map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("shutdown requested")),
        "{rest:?}"
    );
    assert!(
        rest.iter().any(|l| l.contains("rules reloaded")),
        "{rest:?}"
    );
    // One access-log line per call: values, not `Some(...)`, and no
    // colour codes into a pipe.
    let access: Vec<&String> = rest
        .iter()
        .filter(|l| l.contains("quotecast::access") && l.contains("PriceQuote"))
        .collect();
    assert_eq!(access.len(), 2, "{rest:?}");
    // The health check is logged too; health is open, so without a
    // principal.
    assert!(
        rest.iter()
            .any(|l| l.contains("method=grpc.health.v1.Health/Check") && l.contains("principal=-")),
        "{rest:?}"
    );
    for (line, status) in access.iter().zip(["OK", "INVALID_ARGUMENT"]) {
        for field in [
            "method=quotecast.v1.QuoteService/PriceQuote",
            &format!("status={status}"),
            "principal=anonymous",
            "peer=127.0.0.1:",
            "request_id=",
            "duration_ms=",
        ] {
            assert!(line.contains(field), "{field} in {line}");
        }
        assert!(
            !line.contains("Some(") && !line.contains('\u{1b}'),
            "{line}"
        );
    }
    // A restart reads the compiled models back instead of compiling.
    let (mut child, _, startup) = start_server(&args, &[]);
    assert!(startup.contains("compiled=0"), "{startup}");
    stop(&mut child);
}

/// A reader that goes away (`quotecast ... | head`) ends the command quietly,
/// never with a panic.
#[test]
fn a_closed_output_pipe_is_not_a_crash() {
    for args in [
        &[
            "quote",
            "price",
            "--json",
            "examples/quotes/acme-server-refresh.json",
        ][..],
        &["rules", "test", "rules"][..],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_quotecast"))
            .args(args)
            .current_dir(repo())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end before the command has written anything.
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            output.status.success(),
            "{args:?}: {:?} {err}",
            output.status
        );
    }
}

#[test]
fn configure_shows_added_excluded_and_defaulted_options_with_reasons() {
    let o = quotecast(&[
        "configure",
        "SRV-2U",
        "--select",
        "SRV-CPU-64C=2",
        "--select",
        "SRV-GPU-L4",
        "--select",
        "SRV-RACK-KIT",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let row = |sku: &str| -> String {
        out.lines()
            .find(|l| l.contains(&format!("] {sku} ")))
            .unwrap_or_else(|| panic!("no row for {sku} in\n{out}"))
            .to_owned()
    };
    assert!(out.starts_with("SRV-2U: valid, complete"), "{out}");
    // 64-core CPUs fit only the SP6 board: SP5 excluded, SP6 added.
    assert!(row("SRV-BRD-SP5").contains("[-]") && row("SRV-BRD-SP5").contains("srv2u-cpu-board"));
    assert!(row("SRV-BRD-SP6").contains("[+] SRV-BRD-SP6    ×1"));
    // A GPU brings its riser; the rack kit its rails; HDDs are out.
    assert!(row("SRV-RISER-X16").contains("srv2u-gpu-riser"));
    assert!(
        row("SRV-RAIL-KIT").contains("[+]") && row("SRV-RAIL-KIT").contains("srv2u-rack-rails")
    );
    assert!(row("SRV-HDD-8T").contains("srv2u-hdd-airflow"));
    // With a GPU the default supplies are two 1600 W units.
    assert!(row("SRV-PSU-1600").contains("[d] SRV-PSU-1600   ×2"));
}

#[test]
fn configure_reports_a_conflict_with_repairs_and_fails() {
    let o = quotecast(&[
        "configure",
        "LT-14-PRO",
        "--select",
        "LT-CPU-I5",
        "--select",
        "LT-MEM-64",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let out = stdout(&o);
    assert!(
        out.contains("conflict: you chose LT-CPU-I5 ×1, LT-MEM-64 ×1; lt14pro-i5-memory"),
        "{out}"
    );
    assert!(out.contains("repair: drop LT-CPU-I5 ×1"), "{out}");
    assert!(out.contains("repair: drop LT-MEM-64 ×1"), "{out}");
    let bad = quotecast(&["configure", "LT-14-PRO", "--select", "LT-CPU-I5=x"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("`x` is not a whole number"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn gen_pipeline_writes_the_same_files_for_the_same_seed() {
    let dir = std::env::temp_dir().join(format!("quotecast-gen-{}", std::process::id()));
    let run = |out: &str| {
        let out = dir.join(out);
        let o = quotecast(&[
            "gen-pipeline",
            "--opportunities",
            "300",
            "--seed",
            "5",
            "--snapshots",
            "2",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stdout(&o).contains("300 open opportunities"),
            "{}",
            stdout(&o)
        );
        out
    };
    let (a, b) = (run("a"), run("b"));
    for file in [
        "pipeline.parquet",
        "history/stage_events.parquet",
        "history/outcomes.parquet",
        "history/snapshots.parquet",
    ] {
        let read = |d: &Path| std::fs::read(d.join(file)).unwrap();
        assert_eq!(
            read(&a),
            read(&b),
            "{file} differs between two runs with seed 5"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn forecast_run_summarises_a_generated_pipeline_and_writes_its_tables() {
    let dir = std::env::temp_dir().join(format!("quotecast-fc-{}", std::process::id()));
    let d = dir.to_str().unwrap();
    let o = quotecast(&[
        "gen-pipeline",
        "--opportunities",
        "400",
        "--format",
        "csv",
        "--out",
        d,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pipeline = dir.join("pipeline.csv");
    let out = dir.join("forecast.parquet");
    let o = quotecast(&[
        "forecast",
        "run",
        "--pipeline",
        pipeline.to_str().unwrap(),
        "--as-of",
        "2026-11-20",
        "--by",
        "team,product_line",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("400 open opportunities"), "{text}");
    assert!(text.contains("win rates (the rules' stage defaults): qualify 10 %, discover 20 %, sponsor 50 %, propose 65 %, negotiate 80 %"), "{text}");
    assert!(text.contains("bucket      team"), "{text}");
    for file in [
        "forecast.parquet",
        "forecast.quantities.parquet",
        "forecast.overdue.parquet",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    // With `QUOTECAST_LOG=info` each step of the job is timed on standard
    // error; the report on standard output is the same.
    let history = dir.join("history");
    let run = [
        "forecast",
        "run",
        "--pipeline",
        pipeline.to_str().unwrap(),
        "--as-of",
        "2026-11-20",
        "--history",
        history.to_str().unwrap(),
        "--trials",
        "200",
    ];
    let o = quotecast_with(&run, &[("QUOTECAST_LOG", "info")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("win rates (calibrated from ") && !stdout(&o).contains("time.busy"),
        "{}",
        stdout(&o)
    );
    for step in [
        "read_history",
        "calibrate",
        "learn_correction",
        "learn_correction:calendar",
        "forecast",
        "simulate{trials=200}:trials",
    ] {
        let timed = stderr(&o)
            .lines()
            .any(|l| l.contains(&format!(" {step}:")) && l.contains("close time.busy="));
        assert!(timed, "{step} not timed:\n{}", stderr(&o));
    }
    // A setting that is no filter is said, and the job still runs.
    let o = quotecast_with(&run, &[("QUOTECAST_LOG", "info,=[")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("QUOTECAST_LOG `info,=[` is not a log filter")
            && !stderr(&o).contains("time.busy"),
        "{}",
        stderr(&o)
    );
    // A broken row is named by file, row and column, and nothing is written.
    let mut csv = std::fs::read_to_string(&pipeline).unwrap();
    csv = csv.replacen(",USD,", ",XYZ,", 1);
    std::fs::write(&pipeline, csv).unwrap();
    std::fs::remove_file(&out).unwrap();
    let o = quotecast(&[
        "forecast",
        "run",
        "--pipeline",
        pipeline.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("pipeline.csv: 1 bad value(s):")
            && stderr(&o).contains("column `currency`: `XYZ` is not a currency of the rules")
            && stderr(&o)
                .contains("`XYZ` (1 row) is not a currency of the rules; expected CNY, EUR, USD"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A second job on the same files reuses what the history taught (kept
/// under the data directory) and prints the same forecast; `--relearn`
/// learns it again, and a history file written again is learned afresh.
#[test]
fn forecast_run_reuses_what_the_history_taught_an_earlier_job() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o = quotecast(&["gen-pipeline", "--opportunities", "300", "--out", d]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (pipeline, history) = (
        dir.path().join("pipeline.parquet"),
        dir.path().join("history"),
    );
    let data = dir.path().join("data");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "forecast",
            "run",
            "--pipeline",
            pipeline.to_str().unwrap(),
            "--history",
            history.to_str().unwrap(),
            "--as-of",
            "2026-11-20",
            "--bucket",
            "quarter",
            "--trials",
            "300",
            "--data",
            data.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = quotecast(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    // The report without its notes and timing, which say how it was made.
    let figures = |text: &str| -> String {
        text.lines()
            .filter(|l| !l.starts_with("note:") && !l.starts_with("took "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let first = run(&[]);
    assert!(first.contains("is kept in"), "{first}");
    assert_eq!(data.join("learned").read_dir().unwrap().count(), 1);
    let again = run(&["--by", "team"]);
    assert!(again.contains("reused from"), "{again}");
    let same = run(&[]);
    assert!(same.contains("reused from"), "{same}");
    assert_eq!(figures(&first), figures(&same));
    let relearned = run(&["--relearn"]);
    assert!(!relearned.contains("reused from") && relearned.contains("is kept in"));
    assert_eq!(figures(&first), figures(&relearned));
    // Outcomes written again: another file, learned afresh.
    let outcomes = history.join("outcomes.parquet");
    let bytes = std::fs::read(&outcomes).unwrap();
    std::fs::remove_file(&outcomes).unwrap();
    std::fs::write(&outcomes, bytes).unwrap();
    let fresh = run(&[]);
    assert!(!fresh.contains("reused from"), "{fresh}");
    assert_eq!(figures(&first), figures(&fresh));
}

/// HubSpot's deal export: no currency, team, line or SKU; an amount with
/// its digits grouped. One deal won on November 3, three open: December
/// 15 and 31, January 20.
fn hubspot_deals(dir: &Path) -> std::path::PathBuf {
    let deals = dir.join("deals.csv");
    std::fs::write(
        &deals,
        "Record ID,Deal Name,Deal Stage,Close Date,Amount,Deal owner,Create Date\n\
         1001,Acme renewal,Closed Won,2026-11-03,12000,Jane Doe,2026-08-01\n\
         1002,Globex expansion,Contract Sent,2026-12-15,48000.50,John Roe,2026-09-12\n\
         1003,Initech pilot,Appointment Scheduled,2027-01-20,9000,Jane Doe,2026-11-01\n\
         1004,Umbrella deal,Qualified To Buy,2026-12-31,\"25,000\",John Roe,2026-10-05\n",
    )
    .unwrap();
    deals
}

/// `forecast run` by quarter on `deals`, with `extra` arguments.
fn by_quarter(deals: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "forecast",
        "run",
        "--pipeline",
        deals.to_str().unwrap(),
        "--as-of",
        "2026-11-20",
        "--bucket",
        "quarter",
        "--trials",
        "0",
    ];
    args.extend(extra);
    quotecast(&args)
}

/// The result line of the bucket starting on `start`.
fn bucket_line(out: &str, start: &str) -> String {
    out.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_hubspot_deal_export_is_forecast_as_it_comes() {
    let dir = tempfile::tempdir().unwrap();
    let o = by_quarter(&hubspot_deals(dir.path()), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no column `currency`") && stderr(&o).contains("read in USD"),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("3 open opportunities") && stdout(&o).contains("1 won"),
        "{}",
        stdout(&o)
    );
    // The won deal's 12,000 is this quarter's closed won.
    let quarter = bucket_line(&stdout(&o), "2026-10-01");
    assert!(quarter.contains(" 12000.00 "), "{}", stdout(&o));
}

/// Rules whose fiscal year starts in February: the November to January
/// quarter holds the won deal and all three open ones.
#[test]
fn quarters_follow_the_fiscal_year_the_rules_give() {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    copy(&repo().join("rules"), &rules);
    let calendar = rules.join("pipeline/calendar.toml");
    let text = std::fs::read_to_string(&calendar).unwrap();
    std::fs::write(&calendar, text.replace("= \"january\"", "= \"February\"")).unwrap();
    let check = quotecast(&["rules", "check", rules.to_str().unwrap()]);
    assert!(
        stdout(&check).contains("BOM lines, quarters of a fiscal year from february"),
        "{}",
        stdout(&check)
    );
    let deals = hubspot_deals(dir.path());
    let calendar_quarters = stdout(&by_quarter(&deals, &[]));
    let opportunities = |line: String| line.split_whitespace().nth(1).map(str::to_owned);
    assert_eq!(
        opportunities(bucket_line(&calendar_quarters, "2027-01-01")).as_deref(),
        Some("1"),
        "{calendar_quarters}"
    );
    let o = by_quarter(&deals, &["--rules", rules.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("note: quarters are those of a fiscal year starting in february"),
        "{out}"
    );
    let quarter = bucket_line(&out, "2026-11-01");
    assert!(quarter.contains(" 12000.00 "), "{out}");
    assert_eq!(opportunities(quarter).as_deref(), Some("4"), "{out}");
    assert!(
        !out.contains("2027-01-01") && !out.contains("2026-10-01"),
        "{out}"
    );
}

#[test]
fn forecast_run_is_as_of_the_snapshots_own_date_and_names_a_bad_date_format() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("crm.csv");
    std::fs::write(
        &snapshot,
        "snapshot_date;opportunity_id;owner;team;region;stage;created;expected_close;currency;amount\n\
         2026-06-30 00:00:00;O-1;ann;east;na;Qualification;2026-06-01;2026-07-15;USD;1000.00\n\
         2026-06-30 00:00:00;O-2;ann;east;na;Negotiation/Review;2026-05-01;2026-08-15;USD;500.00\n",
    )
    .unwrap();
    let path = snapshot.to_str().unwrap();
    let o = quotecast(&["forecast", "run", "--pipeline", path, "--trials", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("note: as of 2026-06-30, the snapshot_date"),
        "{}",
        stderr(&o)
    );
    // Salesforce's stage names, read through the rules' labels: qualify
    // 10 % of 1,000 in July and negotiate 80 % of 500 in August.
    let out = stdout(&o);
    assert!(out.contains("as of 2026-06-30"), "{out}");
    assert!(
        out.contains("2 open opportunities") && out.contains("100.00") && out.contains("400.00"),
        "{out}"
    );
    let o = quotecast(&[
        "forecast",
        "run",
        "--pipeline",
        path,
        "--as-of",
        "30/06/2026",
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("`30/06/2026` is not a date in the form YYYY-MM-DD"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn forecast_run_reads_a_crm_report_with_its_own_column_names() {
    // A Salesforce report as exported: its own headers (the example
    // rules' column labels), its stage names, `Won` outcomes.
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("report.csv");
    std::fs::write(
        &snapshot,
        "As Of Date,Opportunity ID,Opportunity Owner,Sales Team,Region,Stage,Created Date,Close Date,Opportunity Currency,Amount\n\
         2026-06-30,O-1,ann,east,na,Qualification,2026-06-01,2026-07-15,USD,1000.00\n\
         2026-06-30,O-2,ann,east,na,Negotiation/Review,2026-05-01,2026-08-15,USD,500.00\n",
    )
    .unwrap();
    let path = snapshot.to_str().unwrap();
    let o = quotecast(&["forecast", "run", "--pipeline", path, "--trials", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("note: as of 2026-06-30")
            && err.contains("the CRM's columns read as ours")
            && err.contains("`Close Date` as `expected_close`"),
        "{err}"
    );
    let out = stdout(&o);
    assert!(
        out.contains("2 open opportunities") && out.contains("100.00") && out.contains("400.00"),
        "{out}"
    );
    // A column the rules have no label for and no name of ours: named,
    // with the labels that would stand for it.
    std::fs::write(
        &snapshot,
        "Opportunity ID,Opportunity Owner,Sales Team,Region,Stage,Created Date,Closing,Opportunity Currency,Amount\n\
         O-1,ann,east,na,Qualification,2026-06-01,2026-07-15,USD,1000.00\n",
    )
    .unwrap();
    let o = quotecast(&[
        "forecast",
        "run",
        "--pipeline",
        path,
        "--as-of",
        "2026-06-30",
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no column `expected_close`")
            && stderr(&o).contains("nor one the rules label it: `Close Date`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn demand_plan_rolls_a_generated_pipeline_down_to_a_purchase_plan() {
    let dir = std::env::temp_dir().join(format!("quotecast-demand-{}", std::process::id()));
    let d = dir.to_str().unwrap();
    let o = quotecast(&[
        "gen-pipeline",
        "--opportunities",
        "300",
        "--snapshots",
        "10",
        "--out",
        d,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("inventory: on hand of"),
        "{}",
        stdout(&o)
    );
    let plan_with = |out: &str, more: &[&str]| {
        let (pipeline, history) = (dir.join("pipeline.parquet"), dir.join("history"));
        let (inventory, out) = (dir.join("inventory"), dir.join(out));
        let mut args = vec![
            "demand",
            "plan",
            "--pipeline",
            pipeline.to_str().unwrap(),
            "--history",
            history.to_str().unwrap(),
            "--inventory",
            inventory.to_str().unwrap(),
            "--as-of",
            "2026-11-20",
            "--horizon",
            "26",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(more);
        let o = quotecast(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let chart = dir.join("a").join("chart.svg");
    let plan = |out: &str| {
        plan_with(
            out,
            &["--trials", "200", "--chart", chart.to_str().unwrap()],
        )
    };
    let text = plan("a");
    assert!(
        text.contains("as of 2026-11-20 (26 weeks), inventory inv-"),
        "{text}"
    );
    assert!(text.contains("top items by planned value:"), "{text}");
    assert!(text.contains("service hours over the horizon"), "{text}");
    assert!(text.contains("cash-in over the horizon: "), "{text}");
    // The history's won deals teach the attach rates.
    let learned: u32 = text
        .split("(learned with ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(learned > 0, "{text}");
    for file in [
        "cash.csv",
        "component_demand.csv",
        "planned_orders.csv",
        "pegging.csv",
        "safety_stock.csv",
        "capacity.csv",
        "projected.csv",
        "chart.svg",
    ] {
        let path = dir.join("a").join(file);
        assert!(
            std::fs::metadata(&path).unwrap().len() > 200,
            "{file} is missing or empty"
        );
    }
    // Deals not yet in the pipeline are planned too, and pegged by name.
    assert!(
        text.contains("deals not yet in the pipeline are planned too"),
        "{text}"
    );
    let pegging = std::fs::read_to_string(dir.join("a/pegging.csv")).unwrap();
    assert!(pegging.contains("new deals "), "{pegging}");
    // --pipeline-only plans today's deals alone: fewer orders, none pegged
    // to deals not yet created.
    let text_only = plan_with("p", &["--trials", "0", "--pipeline-only"]);
    let only = std::fs::read_to_string(dir.join("p/pegging.csv")).unwrap();
    assert!(!only.contains("new deals ") && only.lines().count() < pegging.lines().count());
    assert!(!text_only.contains("deals not yet in the pipeline are planned too"));
    let orders = std::fs::read_to_string(dir.join("a/planned_orders.csv")).unwrap();
    assert!(orders.starts_with(
        "order,item,supply,supplier,quantity,net_requirement,release_date,need_date,expedite,value"
    ));
    // The same inputs give the same plan id and the same figures, the
    // history's lesson kept by the first plan and reused since.
    let again = plan("b");
    let id = |t: &str| t.split_whitespace().nth(1).unwrap().to_owned();
    assert_eq!(id(&text), id(&again));
    assert!(text.contains("is kept in"), "{text}");
    assert!(text_only.contains("reused from") && again.contains("reused from"));
    assert_eq!(
        orders,
        std::fs::read_to_string(dir.join("b/planned_orders.csv")).unwrap()
    );
    // A bad inventory file is refused with its row and column.
    std::fs::write(
        dir.join("inventory/on_hand.csv"),
        "item,on_hand\nCMP-FAN-60,ten\n",
    )
    .unwrap();
    let o = quotecast(&[
        "demand",
        "plan",
        "--pipeline",
        dir.join("pipeline.parquet").to_str().unwrap(),
        "--inventory",
        dir.join("inventory").to_str().unwrap(),
        "--out",
        dir.join("c").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("row 1, column `on_hand`"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.join("c").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An open configuration session whose stream has gone quiet: the
/// runtime that drives it and what keeps it open.
fn idle_session(addr: &str) -> (tokio::runtime::Runtime, Box<dyn std::any::Any>) {
    use quotecast_server::pb::{
        ConfigureSessionRequest, configurator_service_client::ConfiguratorServiceClient,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = format!("http://{addr}");
    let held = runtime.block_on(async move {
        let mut client = ConfiguratorServiceClient::connect(url).await.unwrap();
        let (clicks, rx) = tokio::sync::mpsc::channel::<ConfigureSessionRequest>(1);
        clicks
            .send(ConfigureSessionRequest {
                product_sku: "SRV-2U".into(),
                choices: vec![],
                skip_explanations: true,
                explain_skus: vec![],
            })
            .await
            .unwrap();
        let clicked = tokio_stream::wrappers::ReceiverStream::new(rx);
        let mut answers = client
            .configure_session(clicked)
            .await
            .unwrap()
            .into_inner();
        answers.message().await.unwrap().expect("the first answer");
        (clicks, answers, client)
    });
    (runtime, Box::new(held))
}

/// A peer that never speaks, one that stops after the HTTP/2 preface and
/// an open configuration session gone quiet cannot hold the server past
/// its shutdown grace.
#[test]
fn shutdown_ends_within_the_grace_period_despite_silent_peers() {
    use std::io::Write;
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let data = std::env::temp_dir().join(format!("quotecast-grace-{}", std::process::id()));
    let (mut child, _log, _) = start_server(
        &[
            "--addr",
            &addr,
            "--data",
            data.to_str().unwrap(),
            "--shutdown-grace",
            "2",
        ],
        &[],
    );
    let silent = std::net::TcpStream::connect(&addr).unwrap();
    let mut preface = std::net::TcpStream::connect(&addr).unwrap();
    preface
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .unwrap();
    let (runtime, session) = idle_session(&addr);
    std::thread::sleep(Duration::from_millis(300));
    let asked = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if asked.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("the server did not stop within 20 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    assert!(
        asked.elapsed() < Duration::from_secs(8),
        "{:?}",
        asked.elapsed()
    );
    drop((silent, preface, session));
    runtime.shutdown_background();
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn serve_without_an_auth_file_stays_on_loopback_and_a_bad_auth_file_is_named_by_line() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let open = quotecast(&["serve", "--addr", "0.0.0.0:0", "--data", data_dir]);
    assert!(!open.status.success());
    assert!(
        stderr(&open).contains("give the server an auth file"),
        "{}",
        stderr(&open)
    );
    let auth = data.path().join("auth.toml");
    std::fs::write(
        &auth,
        "[[principal]]\nname = \"ana@acme.example\"\ntenant = \"acme\"\nrole = \"boss\"\n",
    )
    .unwrap();
    let bad = quotecast(&[
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--data",
        data_dir,
        "--auth",
        auth.to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    let said = stderr(&bad);
    assert!(
        said.contains("auth.toml:4: role `boss` is not one of rep, approver, admin, service"),
        "{said}"
    );
    let keyed = quotecast(&["auth", "new-key"]);
    let out = stdout(&keyed);
    let key = out
        .split_whitespace()
        .find(|w| w.starts_with("qc_"))
        .unwrap();
    assert!(
        out.contains(&quotecast_server::auth::key_hash(key)),
        "the printed hash is the key's: {out}"
    );
}

/// The response to `GET path` on the loopback port, as text.
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}
