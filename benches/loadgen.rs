//! Load generator: PriceQuote throughput and latency over loopback at
//! several concurrency levels, with the same server's health check as the
//! no-op baseline in the same run.
//!
//! By default it starts quotecast in-process on 127.0.0.1:0 with the example
//! rules; `--addr http://HOST:PORT` targets a running server instead (only
//! loopback addresses are accepted). Every run is bounded by `--seconds`.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use clap::Parser;
use quotecast_benches::{example_rules, quote_with_lines};
use quotecast_server::{
    AppState,
    pb::{PriceQuoteRequest, PriceQuoteView, quote_service_client::QuoteServiceClient},
};
use tonic::transport::Channel;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

// The same allocator as the quotecast binary, so the server measured here
// is the server that ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "PriceQuote vs health-check throughput and latency over loopback")]
struct Args {
    /// A running server (loopback only); default: start one in-process.
    #[arg(long)]
    addr: Option<String>,
    /// Concurrent requests in flight, one measurement per value.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    concurrency: Vec<usize>,
    /// Seconds measured per RPC and concurrency level.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Seconds of warm-up before each measurement.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Lines per quote.
    #[arg(long, default_value_t = 10)]
    lines: usize,
}

#[derive(Clone, Copy)]
enum Rpc {
    /// PriceQuote with the default (full, explained) view.
    QuoteFull,
    /// PriceQuote with view = SUMMARY (no waterfall).
    QuoteSummary,
    /// grpc.health.v1 Check: the no-op baseline.
    Health,
}

impl Rpc {
    fn name(self) -> &'static str {
        match self {
            Self::QuoteFull => "PriceQuote (full)",
            Self::QuoteSummary => "PriceQuote (summary)",
            Self::Health => "Health.Check (no-op)",
        }
    }
}

struct Measurement {
    requests: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
    errors: usize,
}

async fn call(rpc: Rpc, channel: &Channel, quote: &PriceQuoteRequest) -> bool {
    match rpc {
        Rpc::QuoteFull | Rpc::QuoteSummary => {
            let mut request = quote.clone();
            if matches!(rpc, Rpc::QuoteSummary) {
                request.view = PriceQuoteView::Summary as i32;
            }
            QuoteServiceClient::new(channel.clone())
                .price_quote(request)
                .await
                .is_ok()
        }
        Rpc::Health => HealthClient::new(channel.clone())
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .is_ok(),
    }
}

async fn measure(
    rpc: Rpc,
    channel: &Channel,
    quote: Arc<PriceQuoteRequest>,
    concurrency: usize,
    warmup: Duration,
    window: Duration,
) -> Measurement {
    let start = Instant::now();
    let measure_from = start + warmup;
    let deadline = measure_from + window;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let channel = channel.clone();
            let quote = quote.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                loop {
                    let t0 = Instant::now();
                    if t0 >= deadline {
                        break;
                    }
                    let ok = call(rpc, &channel, &quote).await;
                    if t0 >= measure_from {
                        if ok {
                            latencies.push(t0.elapsed());
                        } else {
                            errors += 1;
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        if let Ok((l, e)) = w.await {
            all.extend(l);
            errors += e;
        }
    }
    all.sort();
    let pick = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Measurement {
        requests: all.len(),
        elapsed: window,
        p50: pick(0.50),
        p99: pick(0.99),
        errors,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rules = example_rules();
    let quote = Arc::new(PriceQuoteRequest::from(&quote_with_lines(
        &rules, args.lines,
    )));
    let (url, _server) = match &args.addr {
        Some(addr) => {
            let host: SocketAddr = addr
                .trim_start_matches("http://")
                .parse()
                .context("--addr must be http://IP:PORT")?;
            anyhow::ensure!(host.ip().is_loopback(), "--addr must be a loopback address");
            (addr.clone(), None)
        }
        None => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let url = format!("http://{}", listener.local_addr()?);
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let state = AppState::new(Arc::new(rules));
            tokio::spawn(async move {
                let _ = quotecast_server::serve(listener, state, async {
                    let _ = stopped.await;
                })
                .await;
            });
            (url, Some(stop))
        }
    };
    let channel = tonic::transport::Endpoint::from_shared(url.clone())?
        .connect()
        .await
        .with_context(|| format!("cannot connect to {url}"))?;
    anyhow::ensure!(
        call(Rpc::QuoteFull, &channel, &quote).await,
        "the generated quote does not price"
    );
    println!(
        "server {url}; {}-line quotes; {:.0} s per cell after {:.0} s warm-up",
        args.lines, args.seconds, args.warmup
    );
    println!(
        "{:>11}  {:<22} {:>9} {:>9} {:>9} {:>11}",
        "concurrency", "rpc", "req/s", "p50 ms", "p99 ms", "vs no-op"
    );
    let warmup = Duration::from_secs_f64(args.warmup);
    let window = Duration::from_secs_f64(args.seconds);
    for &c in &args.concurrency {
        let mut rows = Vec::new();
        for rpc in [Rpc::Health, Rpc::QuoteFull, Rpc::QuoteSummary] {
            let m = measure(rpc, &channel, quote.clone(), c, warmup, window).await;
            anyhow::ensure!(m.errors == 0, "{} errors on {}", m.errors, rpc.name());
            rows.push((rpc, m));
        }
        let rps = |m: &Measurement| m.requests as f64 / m.elapsed.as_secs_f64();
        let baseline = rps(&rows[0].1);
        for (rpc, m) in &rows {
            println!(
                "{:>11}  {:<22} {:>9.0} {:>9} {:>9} {:>10.2}x",
                c,
                rpc.name(),
                rps(m),
                ms(m.p50),
                ms(m.p99),
                rps(m) / baseline
            );
        }
    }
    Ok(())
}
