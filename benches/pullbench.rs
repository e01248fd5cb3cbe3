//! An ERP's pulls over gRPC, timed as its caller sees them: a server
//! started in-process on a fresh data directory holding a `gen-pipeline`
//! directory's snapshot and history (placed as an upload leaves them),
//! then, on one connection,
//!
//! 1. `Forecast` by team, quarters, history on, 10,000 trials;
//! 2. the same by region, and 3. by product line;
//! 4. `RunPlan` (weekly, 26 weeks, 1,000 trials), and 5. the same at
//!    another service level (a what-if).
//!
//! Pulls 2, 3 and 5 reuse what the history taught pulls 1 and 4 (see
//! `quotecast_server::learned`); each line says whether its notes say so.
//! Then the server is stopped and a new one started on the same data
//! directory (a deploy), and pulls 1 and 4 run again: they find what the
//! last server learned on disk (`quotecast_server::learned_disk`).
//! `--runs` repeats the whole sequence on a new server and data directory.
//!
//! `cargo run --release -p quotecast-benches --bin pullbench -- --pipeline /tmp/gp200k [--runs N]`
use std::{path::PathBuf, sync::Arc, time::Instant};

use anyhow::Context;
use clap::Parser;
use quotecast_server::{
    AppState,
    pb::{
        Bucket, ForecastRequest, PlanBucket, RunPlanRequest,
        demand_service_client::DemandServiceClient, forecast_response,
        forecast_service_client::ForecastServiceClient,
    },
};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Args {
    /// A `gen-pipeline` directory: `pipeline.parquet` (or `.csv`) and
    /// `history/`.
    #[arg(long)]
    pipeline: PathBuf,
    #[arg(long, default_value = "2026-11-20")]
    as_of: String,
    #[arg(long, default_value_t = 1)]
    runs: u32,
    #[arg(long, default_value = "rules")]
    rules: PathBuf,
}

/// Copies the snapshot and history files of `from` where the server's
/// store keeps pipeline `name`.
fn place(from: &std::path::Path, data: &std::path::Path, name: &str) -> anyhow::Result<()> {
    let to = data.join("pipelines").join(name);
    std::fs::create_dir_all(to.join("history"))?;
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        let file = path.file_name().context("a file name")?;
        if path.file_stem().is_some_and(|s| s == "pipeline") {
            std::fs::copy(&path, to.join(file))?;
        }
    }
    for entry in std::fs::read_dir(from.join("history"))? {
        let path = entry?.path();
        let file = path.file_name().context("a file name")?;
        std::fs::copy(&path, to.join("history").join(file))?;
    }
    Ok(())
}

/// Whether the pull's notes say it reused what the history taught, and
/// how long learning it took then.
fn reused(notes: &[String]) -> String {
    match notes.iter().find(|n| n.contains("reused")) {
        Some(note) => match note.find("learning them took") {
            Some(at) => format!("reused: {}", note[at..].trim_end_matches(')')),
            None => "reused".into(),
        },
        None => "history learned".into(),
    }
}

/// A server on `data`, its address and what stops it.
async fn start(
    rules: Arc<quotecast_model::RuleSet>,
    data: &std::path::Path,
) -> anyhow::Result<(tonic::transport::Channel, Running)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = AppState::new(rules, data);
    let server = tokio::spawn(async move {
        let _ = quotecast_server::serve(listener, state, async {
            let _ = stopped.await;
        })
        .await;
    });
    let channel = tonic::transport::Endpoint::from_shared(url)?
        .connect()
        .await?;
    Ok((channel, Running { stop, server }))
}

/// A running server: stopped by [`Running::stop`].
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.server.await;
    }
}

/// `Forecast` by `by`, quarters, history on, 10,000 trials: seconds and
/// what its notes say of the history.
async fn forecast_pull(
    channel: &tonic::transport::Channel,
    as_of: &str,
    by: &str,
) -> anyhow::Result<(f64, usize, String)> {
    let mut forecasts =
        ForecastServiceClient::new(channel.clone()).max_decoding_message_size(64 << 20);
    let started = Instant::now();
    let request = ForecastRequest {
        pipeline: "erp".into(),
        history: "erp".into(),
        bucket: Bucket::Quarter as i32,
        group_by: vec![by.into()],
        as_of: as_of.into(),
        trials: 10_000,
        seed: 1,
        ..Default::default()
    };
    let mut stream = forecasts.forecast(request).await?.into_inner();
    let (mut notes, mut messages) = (Vec::new(), 0);
    while let Some(message) = stream.message().await? {
        messages += 1;
        if let Some(forecast_response::Part::Summary(s)) = message.part {
            notes = s.notes;
        }
    }
    Ok((started.elapsed().as_secs_f64(), messages, reused(&notes)))
}

/// `RunPlan` (weekly, 26 weeks, 1,000 trials) at `service_level`:
/// seconds and its line.
async fn plan_pull(
    channel: &tonic::transport::Channel,
    as_of: &str,
    service_level: f64,
) -> anyhow::Result<(f64, String)> {
    let mut plans = DemandServiceClient::new(channel.clone());
    let started = Instant::now();
    let plan = plans
        .run_plan(RunPlanRequest {
            pipeline: "erp".into(),
            history: "erp".into(),
            as_of: as_of.into(),
            horizon: 26,
            bucket: PlanBucket::Week as i32,
            service_level,
            trials: 1_000,
            seed: 1,
            ..Default::default()
        })
        .await?
        .into_inner();
    let line = format!(
        "{}, {} planned orders, {}",
        plan.plan_id,
        plan.planned_orders,
        reused(&plan.forecast_notes)
    );
    Ok((started.elapsed().as_secs_f64(), line))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (rules, _) = quotecast_rules::load_dir(&args.rules)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("loading rules")?;
    let rules = Arc::new(rules);
    for run in 1..=args.runs {
        let data = tempfile::tempdir()?;
        place(&args.pipeline, data.path(), "erp")?;
        let (channel, server) = start(rules.clone(), data.path()).await?;
        let mut total = 0.0;
        for (pull, by) in [(1, "team"), (2, "region"), (3, "product_line")] {
            let (took, messages, said) = forecast_pull(&channel, &args.as_of, by).await?;
            total += took;
            println!(
                "run {run} pull {pull}: Forecast by {by}: {took:.2} s ({messages} messages, {said})"
            );
        }
        for (pull, service_level) in [(4, 0.95), (5, 0.98)] {
            let (took, line) = plan_pull(&channel, &args.as_of, service_level).await?;
            total += took;
            println!(
                "run {run} pull {pull}: RunPlan at service level {service_level}: {took:.2} s ({line})"
            );
        }
        println!(
            "run {run}: all five pulls {total:.2} s, peak {:.0} MiB",
            quotecast_benches::peak_mib()
        );
        server.stop().await;
        // A deploy: a new server on the same data directory, whose first
        // pulls find what the last one learned on disk.
        let (channel, server) = start(rules.clone(), data.path()).await?;
        let (took, messages, said) = forecast_pull(&channel, &args.as_of, "team").await?;
        println!(
            "run {run} after a restart: Forecast by team: {took:.2} s ({messages} messages, {said})"
        );
        let (took, line) = plan_pull(&channel, &args.as_of, 0.95).await?;
        println!("run {run} after a restart: RunPlan at service level 0.95: {took:.2} s ({line})");
        server.stop().await;
    }
    Ok(())
}
