//! `ForecastService` end to end: a generated pipeline uploaded in chunks,
//! forecast, funnel and backtest over gRPC, the same figures as the batch
//! job computes in-process, and bad input refused without losing what is
//! stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::HashMap, path::Path, str::FromStr};

use chrono::NaiveDate;
use quotecast_forecast::{ForecastOptions, Simulation, forecast_report, vocabulary};
use quotecast_pipeline::{
    read::{read_history, read_snapshot},
    synthetic::{GenSpec, World, write_dir},
    write::FileFormat,
};
use quotecast_server::pb::{
    BacktestRequest, Bucket, ForecastRequest, FunnelRequest, ListPipelinesRequest, PipelineFile,
    UploadHeader, UploadPipelineRequest, backtest_response, forecast_response,
    forecast_service_client::ForecastServiceClient, funnel_response, upload_pipeline_request::Part,
};
use quotecast_tests::{
    Table, TestServer, assemble, example_rules, field_violations as violations, tables_of,
};
use rust_decimal::Decimal;
use tonic::{Code, transport::Channel};

const AS_OF: &str = "2026-11-20";

fn as_of() -> NaiveDate {
    NaiveDate::from_str(AS_OF).unwrap()
}

/// A generated pipeline with two years of history and 20 past snapshots
/// under `dir`.
fn generated(dir: &Path, format: FileFormat) {
    let world = World::from_rules(&example_rules(), 11, as_of()).unwrap();
    let spec = GenSpec {
        seed: 11,
        open_opportunities: 1_500,
        as_of: quotecast_pipeline::epoch_days(as_of()),
        history_days: 730,
        with_history: true,
        snapshots: 20,
        snapshot_every_days: 28,
    };
    write_dir(&world, &spec, dir, format, |_| {}).unwrap();
}

/// Sends `path` as file `file` of pipeline `name`, in 64 KiB chunks.
async fn upload(
    client: &mut ForecastServiceClient<Channel>,
    name: &str,
    file: PipelineFile,
    path: &Path,
) -> Result<quotecast_server::pb::UploadPipelineResponse, tonic::Status> {
    let format = if path.extension().unwrap() == "csv" {
        quotecast_server::pb::FileFormat::Csv
    } else {
        quotecast_server::pb::FileFormat::Parquet
    };
    let bytes = std::fs::read(path).unwrap();
    let mut messages = vec![UploadPipelineRequest {
        part: Some(Part::Header(UploadHeader {
            pipeline: name.into(),
            file: file as i32,
            format: format as i32,
        })),
    }];
    for chunk in bytes.chunks(64 * 1024) {
        messages.push(UploadPipelineRequest {
            part: Some(Part::Chunk(chunk.to_vec())),
        });
    }
    client
        .upload_pipeline(tokio_stream::iter(messages))
        .await
        .map(|r| r.into_inner())
}

async fn stored_demo() -> (TestServer, tempfile::TempDir) {
    let source = tempfile::tempdir().unwrap();
    generated(source.path(), FileFormat::Parquet);
    let server = TestServer::start().await;
    let mut client = ForecastServiceClient::new(server.channel().await);
    let files = [
        (PipelineFile::Snapshot, "pipeline.parquet"),
        (PipelineFile::StageEvents, "history/stage_events.parquet"),
        (PipelineFile::Outcomes, "history/outcomes.parquet"),
        (PipelineFile::Snapshots, "history/snapshots.parquet"),
    ];
    for (file, name) in files {
        let path = source.path().join(name);
        let stored = upload(&mut client, "demo", file, &path).await.unwrap();
        assert_eq!(stored.bytes, std::fs::metadata(&path).unwrap().len());
        assert!(stored.rows > 0, "{name}: no rows stored");
    }
    (server, source)
}

async fn forecast_tables(
    client: &mut ForecastServiceClient<Channel>,
    request: ForecastRequest,
) -> (
    quotecast_server::pb::ForecastSummary,
    HashMap<String, Table>,
) {
    let mut stream = client.forecast(request).await.unwrap().into_inner();
    let mut summary = None;
    let mut parts = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        match message.part.unwrap() {
            forecast_response::Part::Summary(s) => {
                assert!(parts.is_empty(), "the summary comes first");
                summary = Some(s);
            }
            forecast_response::Part::Table(h) => parts.push((Some(h), None)),
            forecast_response::Part::Rows(r) => parts.push((None, Some(r))),
        }
    }
    (summary.expect("a summary"), assemble(parts))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_pipeline_forecasts_as_the_batch_job_does() {
    let (server, source) = stored_demo().await;
    let mut client = ForecastServiceClient::new(server.channel().await);
    let listed = client
        .list_pipelines(ListPipelinesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.pipelines.len(), 1);
    assert_eq!(listed.pipelines[0].name, "demo");
    assert!(listed.pipelines[0].has_history && listed.pipelines[0].has_snapshots);
    // Listing reads the row count kept at upload, not the whole file.
    let rows = quotecast_pipeline::read::count_rows(&source.path().join("pipeline.parquet"));
    assert_eq!(listed.pipelines[0].rows, rows.unwrap());
    let kept = server.data.path().join("pipelines/demo/pipeline.rows");
    assert_eq!(
        std::fs::read_to_string(kept).unwrap(),
        listed.pipelines[0].rows.to_string()
    );

    let request = ForecastRequest {
        pipeline: "demo".into(),
        history: "demo".into(),
        bucket: Bucket::Month as i32,
        group_by: vec!["team".into()],
        as_of: AS_OF.into(),
        trials: 500,
        seed: 3,
        prior_strength: 0.0,
        ..Default::default()
    };
    let (summary, tables) = forecast_tables(&mut client, request).await;
    assert_eq!(summary.reporting_currency, "USD");
    assert!(summary.open_opportunities >= 1_500);
    assert!(
        !summary.correction_snapshots.is_empty(),
        "a correction was learned"
    );
    for name in [
        "amounts",
        "quantities",
        "uncertainty",
        "overdue",
        "team_win_rates",
        "team_accuracy",
        "close_factors",
        "size_factors",
        "calendar",
    ] {
        assert!(
            tables.contains_key(name),
            "{name} missing: {:?}",
            tables.keys()
        );
    }
    // Every team's own calibrated rates, not only the company's.
    let rates = &tables["team_win_rates"];
    let calibrated = rates.column("calibrated");
    assert_eq!(rates.columns[calibrated].2, "probability");
    let teams: std::collections::BTreeSet<&str> = rates
        .rows
        .iter()
        .map(|r| r[rates.column("team")].as_str())
        .collect();
    assert!(teams.len() >= 2, "{teams:?}");
    let calendar = &tables["calendar"];
    let shock = calendar.column("company_shock_variance");
    assert_eq!(calendar.columns[shock].2, "relative variance");
    // What new deals booked is money, in the reporting currency.
    for name in ["not_yet_in_pipeline", "not_yet_in_pipeline_sd"] {
        assert_eq!(calendar.columns[calendar.column(name)].2, "USD", "{name}");
    }
    let quantities = &tables["quantities"];
    let units = quantities.column("new_deal_quantity");
    assert_eq!(quantities.columns[units].2, "units");
    let amounts = &tables["amounts"];
    let weighted = amounts.column("weighted");
    assert_eq!(
        amounts.columns[weighted].2, "USD",
        "money carries its currency"
    );

    // The same job in-process on the source files, as `forecast run` does.
    let rules = example_rules();
    let snapshot =
        read_snapshot(&source.path().join("pipeline.parquet"), &vocabulary(&rules)).unwrap();
    let history = read_history(&source.path().join("history"), &vocabulary(&rules)).unwrap();
    let options = ForecastOptions {
        as_of: as_of(),
        bucket: quotecast_forecast::Bucket::Month,
        group_by: vec![quotecast_forecast::Dimension::Team],
        prior_strength: None,
        simulation: Simulation {
            trials: 500,
            seed: 3,
            ..Simulation::default()
        },
    };
    // Polars may block on its own runtime: off the async workers, as the
    // server runs it.
    let report = tokio::task::spawn_blocking(move || {
        forecast_report(snapshot, Some(history), &rules, &options).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(report.forecast.amounts.height(), amounts.rows.len());
    let direct: f64 = report
        .forecast
        .amounts
        .column("corrected")
        .unwrap()
        .as_materialized_series()
        .sum()
        .unwrap();
    let wire = amounts.sum("corrected");
    let cents = Decimal::from_f64_retain(direct).unwrap().round_dp(2);
    // Each wire figure is rounded to the cent: at most half a cent apart
    // per row.
    let tolerance = Decimal::new(5, 3) * Decimal::from(amounts.rows.len());
    assert!(
        (wire - cents).abs() <= tolerance,
        "wire {wire} vs in-process {cents}"
    );

    // The Monte Carlo mean of each bucket is the expected bookings: the
    // corrected value plus new deals, on the wire as their sum.
    let expected = amounts.sum("expected_bookings");
    let parts = wire + amounts.sum("new_deals");
    assert!(
        (expected - parts).abs() <= tolerance,
        "{expected} vs {parts}"
    );
    let by_bucket = &tables["uncertainty_by_bucket"];
    let mean = by_bucket.sum("mean");
    let relative = ((mean - expected) / expected).abs();
    assert!(
        relative < Decimal::new(3, 2),
        "MC mean {mean} vs expected bookings {expected}"
    );
    server.stop().await;
}

/// A server restarted on its data directory (a deploy) finds what the
/// history taught the last one on disk, and forecasts the same figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_reuses_what_the_history_taught_before() {
    let (server, _source) = stored_demo().await;
    let request = ForecastRequest {
        pipeline: "demo".into(),
        history: "demo".into(),
        bucket: Bucket::Quarter as i32,
        group_by: vec!["team".into()],
        as_of: AS_OF.into(),
        ..Default::default()
    };
    let from_disk = |s: &quotecast_server::pb::ForecastSummary| {
        s.notes
            .iter()
            .any(|n| n.contains("reused") && n.contains("kept on disk"))
    };
    let mut client = ForecastServiceClient::new(server.channel().await);
    let (first, first_tables) = forecast_tables(&mut client, request.clone()).await;
    assert!(!from_disk(&first), "{:?}", first.notes);
    let data = server.stop_keeping_data().await;
    assert!(data.path().join("learned").read_dir().unwrap().count() == 1);
    let server = TestServer::start_in(data, |s| s).await;
    let mut client = ForecastServiceClient::new(server.channel().await);
    let (again, again_tables) = forecast_tables(&mut client, request).await;
    assert!(from_disk(&again), "{:?}", again.notes);
    for table in ["amounts", "team_accuracy", "calendar"] {
        assert_eq!(
            first_tables[table].rows, again_tables[table].rows,
            "{table}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_pull_on_the_same_files_reuses_what_the_history_taught() {
    let (server, source) = stored_demo().await;
    let mut client = ForecastServiceClient::new(server.channel().await);
    let request = |by: &str| ForecastRequest {
        pipeline: "demo".into(),
        history: "demo".into(),
        bucket: Bucket::Quarter as i32,
        group_by: vec![by.into()],
        as_of: AS_OF.into(),
        ..Default::default()
    };
    let reused =
        |s: &quotecast_server::pb::ForecastSummary| s.notes.iter().any(|n| n.contains("reused"));
    let (by_team, team_tables) = forecast_tables(&mut client, request("team")).await;
    assert!(!reused(&by_team), "{:?}", by_team.notes);
    // Another grouping of the same forecast: learned once.
    let (by_region, region_tables) = forecast_tables(&mut client, request("region")).await;
    assert!(reused(&by_region), "{:?}", by_region.notes);
    // The same spec: the same totals, and the same learned tables.
    let rows = team_tables["amounts"].rows.len() + region_tables["amounts"].rows.len();
    let cents = Decimal::new(5, 3) * Decimal::from(rows);
    for column in ["corrected", "expected_bookings"] {
        let (team, region) = (
            team_tables["amounts"].sum(column),
            region_tables["amounts"].sum(column),
        );
        assert!(
            (team - region).abs() <= cents,
            "{column}: {team} vs {region}"
        );
    }
    assert_eq!(
        team_tables["team_accuracy"].rows,
        region_tables["team_accuracy"].rows
    );
    // Outcomes uploaded again (the same file): learned afresh, to the
    // same figures.
    let outcomes = source.path().join("history/outcomes.parquet");
    upload(&mut client, "demo", PipelineFile::Outcomes, &outcomes)
        .await
        .unwrap();
    let (fresh, fresh_tables) = forecast_tables(&mut client, request("region")).await;
    assert!(!reused(&fresh), "{:?}", fresh.notes);
    let (a, b) = (&region_tables["amounts"], &fresh_tables["amounts"]);
    assert_eq!(a.rows.len(), b.rows.len());
    let corrected = a.column("corrected");
    for (x, y) in a.rows.iter().zip(&b.rows) {
        let (x, y) = (
            Decimal::from_str(&x[corrected]).unwrap(),
            Decimal::from_str(&y[corrected]).unwrap(),
        );
        assert!((x - y).abs() <= Decimal::new(1, 2), "{x} vs {y}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_without_snapshots_streams_the_new_deals_its_stage_entries_teach() {
    let source = tempfile::tempdir().unwrap();
    generated(source.path(), FileFormat::Parquet);
    let server = TestServer::start().await;
    let mut client = ForecastServiceClient::new(server.channel().await);
    for (file, name) in [
        (PipelineFile::Snapshot, "pipeline.parquet"),
        (PipelineFile::StageEvents, "history/stage_events.parquet"),
        (PipelineFile::Outcomes, "history/outcomes.parquet"),
    ] {
        upload(&mut client, "bare", file, &source.path().join(name))
            .await
            .unwrap();
    }
    let request = ForecastRequest {
        pipeline: "bare".into(),
        history: "bare".into(),
        bucket: Bucket::Quarter as i32,
        group_by: vec!["team".into()],
        as_of: AS_OF.into(),
        trials: 200,
        seed: 3,
        ..Default::default()
    };
    let (summary, tables) = forecast_tables(&mut client, request).await;
    assert!(summary.correction_snapshots.is_empty());
    assert!(
        summary
            .notes
            .iter()
            .any(|n| n.contains("new deals from stage entries")),
        "{:?}",
        summary.notes
    );
    let new_deals = &tables["new_deals"];
    for name in ["not_yet_in_pipeline", "not_yet_in_pipeline_sd"] {
        assert_eq!(new_deals.columns[new_deals.column(name)].2, "USD", "{name}");
    }
    assert!(!tables.contains_key("calendar"));
    // What the teams' stated amounts booked lately, in USD and as a
    // factor near 1.
    let amounts = &tables["amount_factors"];
    assert_eq!(amounts.columns[amounts.column("stated")].2, "USD");
    let company = amounts
        .rows
        .iter()
        .find(|r| r[amounts.column("team")] == "*")
        .map(|r| r[amounts.column("amount_factor")].parse::<f64>().unwrap())
        .unwrap();
    assert!((0.7..1.1).contains(&company), "{company}");
    // When open deals close, by the days won deals in each stage took.
    let timing = &tables["timing"];
    let shift = timing.column("shift_days");
    assert!(
        !timing.rows.is_empty()
            && timing
                .rows
                .iter()
                .all(|r| r[shift].parse::<i64>().is_ok_and(|d| d >= 0)),
        "{:?}",
        timing.rows
    );
    // No streamed table carries the engine's working columns.
    for (name, table) in &tables {
        for column in &table.columns {
            assert!(!column.0.starts_with("__"), "{name}: {}", column.0);
        }
    }
    // The amounts add them to the weighted forecast: no `corrected`.
    let amounts = &tables["amounts"];
    assert!(amounts.columns.iter().all(|c| c.0 != "corrected"));
    let added: f64 = amounts
        .rows
        .iter()
        .map(|r| r[amounts.column("new_deals")].parse::<f64>().unwrap())
        .sum();
    assert!(added > 0.0, "no new deals");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn funnel_and_backtest_stream_their_tables() {
    let (server, _source) = stored_demo().await;
    let mut client = ForecastServiceClient::new(server.channel().await);
    let stream = client
        .funnel(FunnelRequest {
            pipeline: "demo".into(),
            as_of: AS_OF.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let funnel = tables_of(stream, |m| match m.part.unwrap() {
        funnel_response::Part::Table(h) => (Some(h), None),
        funnel_response::Part::Rows(r) => (None, Some(r)),
    })
    .await;
    let company = &funnel["company"];
    let conversion = company.column("conversion");
    assert_eq!(company.columns[conversion].2, "probability");
    for row in &company.rows {
        let c = Decimal::from_str(&row[conversion]).unwrap();
        assert!(c >= Decimal::ZERO && c <= Decimal::ONE, "conversion {c}");
    }
    assert!(!funnel["leaks"].rows.is_empty());

    let stream = client
        .backtest(BacktestRequest {
            pipeline: "demo".into(),
            bucket: Bucket::Month as i32,
            horizon: 2,
            as_of: AS_OF.into(),
            prior_strength: 0.0,
            trials: 100,
        })
        .await
        .unwrap()
        .into_inner();
    let backtest = tables_of(stream, |m| match m.part.unwrap() {
        backtest_response::Part::Table(h) => (Some(h), None),
        backtest_response::Part::Rows(r) => (None, Some(r)),
    })
    .await;
    let summary = &backtest["summary"];
    let model = summary.column("model");
    let models: Vec<&str> = summary.rows.iter().map(|r| r[model].as_str()).collect();
    assert_eq!(
        models,
        [
            "rules",
            "calibrated",
            "corrected",
            "with_new_deals",
            "pipeline_ratio",
            "same_point_of_quarter",
            "last_year",
            "pipeline_ratio_all",
            "same_point_of_quarter_all",
            "last_year_all",
            "last_bucket_all"
        ]
    );
    // Ranges are scored for the Monte Carlo models, per horizon too.
    let coverage = summary.column("coverage_p10_p90");
    assert!(
        summary.rows[2][coverage].parse::<f64>().is_ok(),
        "{:?}",
        summary.rows[2]
    );
    assert!(
        summary.rows[0][coverage].is_empty(),
        "{:?}",
        summary.rows[0]
    );
    let horizons = &backtest["by_horizon"];
    assert_eq!(horizons.rows.len(), 11 * 2);
    // Every scored cell, its money as decimal strings in the corporate
    // currency: the rules' cells without a range, the corrected ones with.
    let cells = &backtest["cells"];
    let (model, p90) = (cells.column("model"), cells.column("p90"));
    assert!(!cells.rows.is_empty());
    for row in &cells.rows {
        match row[model].as_str() {
            "corrected" | "with_new_deals" => {
                assert!(row[p90].parse::<rust_decimal::Decimal>().is_ok(), "{row:?}")
            }
            "rules" => assert!(row[p90].is_empty(), "{row:?}"),
            _ => {}
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_upload_is_refused_by_row_and_column_and_keeps_the_stored_file() {
    let (server, source) = stored_demo().await;
    let mut client = ForecastServiceClient::new(server.channel().await);
    // The same pipeline as CSV, with row 3's amount spoiled.
    let csv_dir = tempfile::tempdir().unwrap();
    generated(csv_dir.path(), FileFormat::Csv);
    let path = csv_dir.path().join("pipeline.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let amount = header.iter().position(|c| *c == "amount").unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut cells: Vec<String> = lines[3].split(',').map(str::to_owned).collect();
    cells[amount] = "twelve".into();
    lines[3] = cells.join(",");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();

    let status = upload(&mut client, "demo", PipelineFile::Snapshot, &path)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let v = violations(&status);
    assert!(
        v.iter().any(|(f, _)| f == "chunk.rows[3].amount"),
        "violations: {v:?}"
    );
    // The Parquet snapshot stored before is still there and still used.
    let stored = server.data.path().join("pipelines/demo/pipeline.parquet");
    assert_eq!(
        std::fs::read(&stored).unwrap(),
        std::fs::read(source.path().join("pipeline.parquet")).unwrap()
    );
    let leftovers: Vec<_> = std::fs::read_dir(stored.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with(".upload-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    server.stop().await;
}

#[tokio::test]
async fn names_are_checked_and_unknown_pipelines_are_not_found() {
    let server = TestServer::start().await;
    let mut client = ForecastServiceClient::new(server.channel().await);
    let request = |pipeline: &str| ForecastRequest {
        pipeline: pipeline.into(),
        as_of: AS_OF.into(),
        ..Default::default()
    };
    for name in ["../../etc", "a/b", "", "x".repeat(65).as_str()] {
        let status = client.forecast(request(name)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{name}");
        assert!(
            violations(&status).iter().any(|(f, _)| f == "pipeline"),
            "{name}"
        );
    }
    let status = client.forecast(request("nowhere")).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    let bad = ForecastRequest {
        pipeline: "demo".into(),
        group_by: vec!["team".into(), "colour".into()],
        as_of: "20/11/2026".into(),
        trials: 1_000_000,
        ..Default::default()
    };
    let status = client.forecast(bad).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> = violations(&status).into_iter().map(|(f, _)| f).collect();
    for field in ["group_by[1]", "as_of", "trials"] {
        assert!(
            fields.iter().any(|f| f == field),
            "{field} not in {fields:?}"
        );
    }

    let header_only = vec![UploadPipelineRequest {
        part: Some(Part::Header(UploadHeader {
            pipeline: "demo".into(),
            file: PipelineFile::Unspecified as i32,
            format: 0,
        })),
    }];
    let status = client
        .upload_pipeline(tokio_stream::iter(header_only))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> = violations(&status).into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["header.file", "header.format"]);
    server.stop().await;
}

#[tokio::test]
async fn history_uploads_are_checked_against_the_rules_vocabulary() {
    let server = TestServer::start().await;
    let mut client = ForecastServiceClient::new(server.channel().await);
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("stage_events.csv");
    std::fs::write(
        &events,
        "opportunity_id,stage,at\nOPP-1,qualify,2026-01-05\nOPP-1,bogus,2026-01-19\nOPP-2,qualify,2026-13-40\n",
    )
    .unwrap();
    let status = upload(&mut client, "h", PipelineFile::StageEvents, &events)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let fields: Vec<String> = violations(&status).into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        fields,
        [
            "chunk.columns.stage",
            "chunk.rows[2].stage",
            "chunk.rows[3].at"
        ],
        "{status:?}"
    );
    let outcomes = dir.path().join("outcomes.csv");
    std::fs::write(
        &outcomes,
        "opportunity_id,team,outcome,closed,currency,amount\nOPP-1,na-enterprise,maybe,2026-02-01,USD,100.00\nOPP-2,na-enterprise,won,2026-02-01,XXX,100.00\n",
    )
    .unwrap();
    let status = upload(&mut client, "h", PipelineFile::Outcomes, &outcomes)
        .await
        .unwrap_err();
    let fields: Vec<String> = violations(&status).into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        fields,
        [
            "chunk.columns.currency",
            "chunk.columns.outcome",
            "chunk.rows[1].outcome",
            "chunk.rows[2].currency"
        ],
        "{status:?}"
    );
    // Nothing was stored.
    let stored = quotecast_tests::files_in(&server.data.path().join("pipelines/h/history"));
    assert!(stored.is_empty(), "{stored:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_monte_carlo_beyond_the_memory_budget_is_refused_before_it_runs() {
    let (server, _source) = stored_demo().await;
    let mut client = ForecastServiceClient::new(server.channel().await);
    // 100,000 trials over every SKU and week: far beyond 512 MiB.
    let request = ForecastRequest {
        pipeline: "demo".into(),
        bucket: Bucket::Week as i32,
        group_by: vec!["sku".into(), "team".into()],
        as_of: AS_OF.into(),
        trials: 100_000,
        ..Default::default()
    };
    let status = client.forecast(request).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("use fewer trials"),
        "{}",
        status.message()
    );
    server.stop().await;
}

/// A won quote for two servers: its number and net total.
async fn a_won_quote(server: &TestServer) -> (i64, Decimal) {
    let saved = quotecast_tests::won_quote(
        server.channel().await,
        quotecast_server::pb::PriceQuoteRequest {
            currency_code: "USD".into(),
            price_date: "2026-03-01".into(),
            segment: "mid_market".into(),
            region: "na".into(),
            lines: vec![quotecast_tests::pb_line("SRV-1U", "2")],
            ..Default::default()
        },
    )
    .await;
    let net = saved.priced.unwrap().totals.unwrap().net;
    (saved.quote_number, Decimal::from_str(&net).unwrap())
}

#[tokio::test]
async fn a_won_order_closes_the_opportunity_that_carried_its_quote() {
    let server = TestServer::start().await;
    let (number, net) = a_won_quote(&server).await;
    let today = chrono::Utc::now().date_naive();
    let day = |offset: i64| (today + chrono::Duration::days(offset)).to_string();
    // O-1 carries the quote (as the CRM shows its number); O-2 does not.
    let snapshot = format!(
        "opportunity_id,owner,team,region,stage,stage_entered,created,expected_close,\
         forecast_category,currency,sku,product_line,quantity,amount,quote_ref\n\
         O-1,ann,A,na,negotiate,{a},{b},{c},,USD,SRV-1U,servers,2,9999.00,Q-{number:05}\n\
         O-2,bob,B,na,propose,{a},{b},{c},,USD,DSP-27,displays,4,2000.00,\n",
        a = day(-10),
        b = day(-60),
        c = day(20),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipeline.csv");
    std::fs::write(&path, snapshot).unwrap();
    let mut client = ForecastServiceClient::new(server.channel().await);
    upload(&mut client, "crm", PipelineFile::Snapshot, &path)
        .await
        .unwrap();
    let request = |won_orders| ForecastRequest {
        pipeline: "crm".into(),
        as_of: today.to_string(),
        won_orders,
        ..Default::default()
    };
    let (without, plain) = forecast_tables(&mut client, request(false)).await;
    let (with, booked) = forecast_tables(&mut client, request(true)).await;
    assert_eq!(
        (without.open_opportunities, without.won_opportunities),
        (2, 0)
    );
    assert_eq!((with.open_opportunities, with.won_opportunities), (1, 1));
    assert_eq!(
        (with.opportunities_closed_by_orders, with.orders_added),
        (1, 0)
    );
    // Closed won is the order's exact net, once; the 9,999 the CRM still
    // showed for O-1 is gone.
    assert_eq!(plain["amounts"].sum("closed_won"), Decimal::ZERO);
    assert_eq!(booked["amounts"].sum("closed_won"), net);
    assert_eq!(
        booked["amounts"].sum("best_case") + booked["amounts"].sum("commit"),
        Decimal::from(2000)
    );

    // The roll-down leaves O-1 out too: the order brings its demand, once.
    let mut demand = quotecast_server::pb::demand_service_client::DemandServiceClient::new(
        server.channel().await,
    );
    let plan = |won_orders| quotecast_server::pb::RunPlanRequest {
        pipeline: "crm".into(),
        as_of: today.to_string(),
        won_orders,
        ..Default::default()
    };
    let plain = demand.run_plan(plan(false)).await.unwrap().into_inner();
    let ordered = demand.run_plan(plan(true)).await.unwrap().into_inner();
    assert_eq!((plain.deals, plain.opportunities_ordered), (2, 0));
    assert_eq!(
        (
            ordered.deals,
            ordered.opportunities_ordered,
            ordered.won_orders
        ),
        (2, 1, 1)
    );

    // The window is checked: it may not start after the forecast's day, and
    // is only read with won_orders.
    let mut late = request(true);
    late.won_orders_since = day(1);
    let refused = client.forecast(late).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(violations(&refused)[0].0, "won_orders_since");
    let mut alone = request(false);
    alone.won_orders_since = day(-1);
    let refused = client.forecast(alone).await.unwrap_err();
    assert_eq!(violations(&refused)[0].0, "won_orders_since");
    server.stop().await;
}
