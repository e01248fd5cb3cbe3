//! What a hostile client costs the server, measured on a real
//! `quotecast serve` process: its idle RSS, its RSS holding 4,000 idle
//! configuration sessions, the time to refuse a 100,000-line quote, and
//! how long SIGTERM takes with a silent peer connected; with `--upload
//! FILE.csv|.parquet`, the server's peak RSS while it checks that file
//! uploaded as a pipeline snapshot.
//!
//! `cargo run --release -p quotecast-benches --bin hostilebench -- --quotecast target/release/quotecast [--upload FILE]`
use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;
use clap::Parser;
use quotecast_server::pb::{
    ConfigureSessionRequest, PriceQuoteRequest, QuoteLineInput,
    configurator_service_client::ConfiguratorServiceClient,
    quote_service_client::QuoteServiceClient,
};

#[derive(Parser)]
struct Args {
    /// The quotecast binary to serve with.
    #[arg(long, default_value = "target/release/quotecast")]
    quotecast: PathBuf,
    /// Idle configuration sessions to hold.
    #[arg(long, default_value_t = 4000)]
    sessions: usize,
    /// Lines of the quote that must be refused.
    #[arg(long, default_value_t = 100_000)]
    lines: usize,
    /// Seconds the server gives in-flight work after SIGTERM.
    #[arg(long, default_value_t = 5)]
    grace: u64,
    /// A snapshot file to upload first, reporting the server's peak RSS.
    #[arg(long)]
    upload: Option<PathBuf>,
}

fn rss_mib(pid: u32) -> f64 {
    status_mib(pid, "VmRSS:")
}

/// A memory figure of `/proc/PID/status` (`VmRSS:`, `VmHWM:`), in MiB.
fn status_mib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let data = tempfile_dir()?;
    let mut child = Command::new(&args.quotecast)
        .args(["serve", "--addr", &addr, "--data"])
        .arg(&data)
        .args(["--shutdown-grace", &args.grace.to_string()])
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", args.quotecast.display()))?;
    let mut log = BufReader::new(child.stderr.take().context("no stderr")?);
    let mut line = String::new();
    while !line.contains("quotecast serving") {
        line.clear();
        anyhow::ensure!(log.read_line(&mut line)? > 0, "the server exited");
    }
    std::thread::spawn(move || for _ in log.lines() {});
    let pid = child.id();
    let url = format!("http://{addr}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!("idle RSS: {:.1} MiB", rss_mib(pid));
    if let Some(file) = &args.upload {
        upload(&url, pid, file).await?;
    }

    // Idle sessions: one click each, then silence, over connections of at
    // most 1,000 streams.
    let mut held = Vec::new();
    let connections = args.sessions.div_ceil(1000).max(1);
    for c in 0..connections {
        let channel = tonic::transport::Endpoint::from_shared(url.clone())?
            .connect()
            .await?;
        for _ in (c * 1000)..((c + 1) * 1000).min(args.sessions) {
            let mut client = ConfiguratorServiceClient::new(channel.clone());
            let (clicks, rx) = tokio::sync::mpsc::channel::<ConfigureSessionRequest>(1);
            clicks
                .send(ConfigureSessionRequest {
                    product_sku: "SRV-2U".into(),
                    choices: vec![],
                    skip_explanations: true,
                    explain_skus: vec![],
                })
                .await?;
            let mut answers = client
                .configure_session(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await?
                .into_inner();
            answers.message().await?;
            held.push((clicks, answers));
        }
    }
    println!(
        "RSS with {} idle sessions: {:.1} MiB",
        held.len(),
        rss_mib(pid)
    );
    drop(held);

    // The quote far over the line limit.
    let request = PriceQuoteRequest {
        currency_code: "USD".into(),
        price_date: "2026-03-01".into(),
        lines: (0..args.lines)
            .map(|_| QuoteLineInput {
                line_id: String::new(),
                sku: "SRV-2U".into(),
                quantity: "1".into(),
                discount: None,
                configuration: vec![],
            })
            .collect(),
        ..Default::default()
    };
    let channel = tonic::transport::Endpoint::from_shared(url.clone())?
        .connect()
        .await?;
    let mut quotes = QuoteServiceClient::new(channel)
        .max_encoding_message_size(64 << 20)
        .max_decoding_message_size(64 << 20);
    let started = Instant::now();
    let refused = quotes.price_quote(request).await;
    let took = started.elapsed();
    let code = refused.as_ref().err().map(|s| s.code());
    println!(
        "{}-line quote: {:?} in {:.1} ms",
        args.lines,
        code,
        took.as_secs_f64() * 1e3
    );

    // SIGTERM with a silent peer connected.
    let silent = std::net::TcpStream::connect(&addr)?;
    let asked = Instant::now();
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if asked.elapsed() > Duration::from_secs(args.grace + 30) {
            let _ = child.kill();
            anyhow::bail!("the server did not stop");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    println!(
        "shutdown with a silent peer: {:.2} s ({status})",
        asked.elapsed().as_secs_f64()
    );
    drop(silent);
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}

/// Uploads `file` as the snapshot of pipeline `big` and reports the time
/// and the server's peak RSS (its high-water mark, taken before anything
/// else ran) against the file's size.
async fn upload(url: &str, pid: u32, file: &std::path::Path) -> anyhow::Result<()> {
    use quotecast_server::pb::{
        FileFormat, PipelineFile, UploadHeader, UploadPipelineRequest,
        forecast_service_client::ForecastServiceClient, upload_pipeline_request::Part,
    };
    let format = match file.extension().and_then(|e| e.to_str()) {
        Some("csv") => FileFormat::Csv,
        _ => FileFormat::Parquet,
    };
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let size_mib = bytes.len() as f64 / (1024.0 * 1024.0);
    let mut parts = vec![UploadPipelineRequest {
        part: Some(Part::Header(UploadHeader {
            pipeline: "big".into(),
            file: PipelineFile::Snapshot as i32,
            format: format as i32,
        })),
    }];
    parts.extend(bytes.chunks(1 << 20).map(|c| UploadPipelineRequest {
        part: Some(Part::Chunk(c.to_vec())),
    }));
    drop(bytes);
    let mut client = ForecastServiceClient::connect(url.to_string()).await?;
    // The heap's peak, sampled: RSS also counts the file's pages the
    // reader maps, which the kernel reclaims at will.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0.0f64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(status_mib(pid, "RssAnon:"));
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let started = Instant::now();
    let stored = client
        .upload_pipeline(tokio_stream::iter(parts))
        .await?
        .into_inner();
    let took = started.elapsed();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let anon = sampler.join().unwrap_or(f64::NAN);
    let hwm = status_mib(pid, "VmHWM:");
    println!(
        "upload of {size_mib:.0} MiB ({} rows, {} opportunities): {:.1} s, server peak RSS {hwm:.0} MiB ({:.2}x the file) of which heap {anon:.0} MiB ({:.2}x)",
        stored.rows,
        stored.opportunities,
        took.as_secs_f64(),
        hwm / size_mib,
        anon / size_mib
    );
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("hostilebench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
