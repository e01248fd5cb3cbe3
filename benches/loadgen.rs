//! Load generator: PriceQuote throughput and latency over loopback at
//! several concurrency levels, with the same server's health check as the
//! no-op baseline in the same run.
//!
//! By default it starts quotecast in-process on 127.0.0.1:0 with the example
//! rules; `--addr http://HOST:PORT` targets a running server instead (only
//! loopback addresses are accepted). Every run is bounded by `--seconds`
//! and `--rounds`: each round measures the no-op, the full and the summary
//! quote in turn, and the column `per round` gives the spread of the ratio.
//!
//! Client and server share the machine's cores, so by default the client
//! does as little as it can, the same for every RPC: it sends requests
//! encoded once up front and checks each response by its status and size
//! without decoding the body (as h2load does). The server does all its work.
//! `--decode` makes the client decode every response into the generated
//! types instead, as an application would.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use clap::Parser;
use prost::{Message, bytes::Bytes};
use quotecast_benches::{example_rules, quote_with_lines};
use quotecast_server::{
    AppState,
    pb::{
        PriceQuoteRequest, PriceQuoteView, SaveQuoteRequest,
        quote_service_client::QuoteServiceClient,
    },
};
use quotecast_tests::raw_call;
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
    /// Seconds measured per RPC, concurrency level and round.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Rounds per concurrency level: each measures the no-op, the full and
    /// the summary quote in turn, so that a slow spell of the machine falls
    /// on all three; a row sums its rounds.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds of warm-up before each measurement.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Lines per quote.
    #[arg(long, default_value_t = 10)]
    lines: usize,
    /// HTTP/2 connections the requests in flight are spread over (as
    /// several CRM front ends would open), like ghz's `--connections`.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Decode every response into the generated types (client CPU counted).
    #[arg(long)]
    decode: bool,
    /// With --addr: the server's process id, to report the server's own CPU
    /// time per request (from /proc/PID/stat) for each cell.
    #[arg(long, requires = "addr")]
    server_pid: Option<u32>,
    /// Also SaveQuote (each call a new stored quote) beside PriceQuote.
    #[arg(long)]
    save: bool,
    /// The in-process server's quote database [default: SQLite in a
    /// fresh temporary data directory].
    #[arg(long, conflicts_with = "addr")]
    database: Option<String>,
}

/// User plus system CPU time of a process so far, from /proc/PID/stat.
fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may hold
    // spaces): state is field 3, utime field 14, stime field 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports these in USER_HZ, which is 100 on every mainstream
    // configuration.
    Some(Duration::from_millis(ticks * 10))
}

/// What one worker sends: the decoded request and its encoding per RPC.
struct Requests {
    quote: PriceQuoteRequest,
    quote_full: Bytes,
    quote_summary: Bytes,
    save: Bytes,
    health: Bytes,
    decode: bool,
}

impl Requests {
    fn new(quote: PriceQuoteRequest, decode: bool) -> Self {
        let mut summary = quote.clone();
        summary.view = PriceQuoteView::Summary as i32;
        Self {
            quote_full: Bytes::from(quote.encode_to_vec()),
            quote_summary: Bytes::from(summary.encode_to_vec()),
            save: Bytes::from(save_request(&quote).encode_to_vec()),
            health: Bytes::from(
                HealthCheckRequest {
                    service: String::new(),
                }
                .encode_to_vec(),
            ),
            quote,
            decode,
        }
    }
}

/// A new quote of `quote` to store.
fn save_request(quote: &PriceQuoteRequest) -> SaveQuoteRequest {
    SaveQuoteRequest {
        quote: Some(quote.clone()),
        ..Default::default()
    }
}

async fn call_raw(channel: &Channel, path: &'static str, body: Bytes) -> bool {
    raw_call(channel.clone(), path, body)
        .await
        .is_ok_and(|size| size > 0 || path.ends_with("Check"))
}

const QUOTE_PATH: &str = "/quotecast.v1.QuoteService/PriceQuote";
const HEALTH_PATH: &str = "/grpc.health.v1.Health/Check";
const SAVE_PATH: &str = "/quotecast.v1.QuoteService/SaveQuote";

#[derive(Clone, Copy)]
enum Rpc {
    /// PriceQuote with the default (full, explained) view.
    QuoteFull,
    /// PriceQuote with view = SUMMARY (no waterfall).
    QuoteSummary,
    /// grpc.health.v1 Check: the no-op baseline.
    Health,
    /// SaveQuote of a new quote: priced, stored, acknowledged.
    Save,
}

impl Rpc {
    fn name(self) -> &'static str {
        match self {
            Self::QuoteFull => "PriceQuote (full)",
            Self::QuoteSummary => "PriceQuote (summary)",
            Self::Health => "Health.Check (no-op)",
            Self::Save => "SaveQuote (new quote)",
        }
    }
}

#[derive(Default)]
struct Measurement {
    /// Server CPU time over the whole cell (warm-up included), if known.
    server_cpu: Option<Duration>,
    /// This process's CPU time over the whole cell, when the server runs
    /// in a process of its own (`--server-pid`).
    client_cpu: Option<Duration>,
    /// Requests completed over the whole cell (warm-up included).
    all_requests: usize,
    /// Latency of each request completed in the measured window.
    latencies: Vec<Duration>,
    elapsed: Duration,
    errors: usize,
}

impl Measurement {
    fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// Another round of the same cell, added in.
    fn add(&mut self, round: Measurement) {
        let sum = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        self.server_cpu = sum(self.server_cpu, round.server_cpu);
        self.client_cpu = sum(self.client_cpu, round.client_cpu);
        self.all_requests += round.all_requests;
        self.latencies.extend(round.latencies);
        self.elapsed += round.elapsed;
        self.errors += round.errors;
    }

    fn percentile(&mut self, q: f64) -> Duration {
        self.latencies.sort_unstable();
        let at = ((self.latencies.len() as f64 * q) as usize)
            .min(self.latencies.len().saturating_sub(1));
        self.latencies.get(at).copied().unwrap_or_default()
    }
}

async fn call(rpc: Rpc, channel: &Channel, requests: &Requests) -> bool {
    if !requests.decode {
        return match rpc {
            Rpc::QuoteFull => call_raw(channel, QUOTE_PATH, requests.quote_full.clone()).await,
            Rpc::QuoteSummary => {
                call_raw(channel, QUOTE_PATH, requests.quote_summary.clone()).await
            }
            Rpc::Health => call_raw(channel, HEALTH_PATH, requests.health.clone()).await,
            Rpc::Save => call_raw(channel, SAVE_PATH, requests.save.clone()).await,
        };
    }
    let quote = &requests.quote;
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
        Rpc::Save => QuoteServiceClient::new(channel.clone())
            .save_quote(save_request(quote))
            .await
            .is_ok(),
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
    channels: &[Channel],
    requests: Arc<Requests>,
    concurrency: usize,
    warmup: Duration,
    window: Duration,
    server_pid: Option<u32>,
) -> Measurement {
    let cpu_before = server_pid.and_then(process_cpu);
    let own_before = server_pid.and_then(|_| process_cpu(std::process::id()));
    let start = Instant::now();
    let measure_from = start + warmup;
    let deadline = measure_from + window;
    let workers: Vec<_> = (0..concurrency)
        .map(|worker| {
            let channel = channels[worker % channels.len()].clone();
            let requests = requests.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                let mut total = 0;
                loop {
                    let t0 = Instant::now();
                    if t0 >= deadline {
                        break;
                    }
                    let ok = call(rpc, &channel, &requests).await;
                    total += 1;
                    if t0 >= measure_from {
                        if ok {
                            latencies.push(t0.elapsed());
                        } else {
                            errors += 1;
                        }
                    }
                }
                (latencies, errors, total)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    let mut all_requests = 0;
    for w in workers {
        if let Ok((l, e, t)) = w.await {
            all.extend(l);
            errors += e;
            all_requests += t;
        }
    }
    let server_cpu = cpu_before
        .zip(server_pid.and_then(process_cpu))
        .map(|(before, after)| after.saturating_sub(before));
    let client_cpu = own_before
        .zip(process_cpu(std::process::id()))
        .map(|(before, after)| after.saturating_sub(before));
    Measurement {
        server_cpu,
        client_cpu,
        all_requests,
        latencies: all,
        elapsed: window,
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
    let requests = Arc::new(Requests::new(
        PriceQuoteRequest::from(&quote_with_lines(&rules, args.lines)),
        args.decode,
    ));
    // The in-process server's data directory, removed at the end.
    let data = std::env::temp_dir().join(format!("quotecast-loadgen-{}", std::process::id()));
    // The in-process server's quote store, to report its group commits.
    let mut quotes = None;
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
            std::fs::create_dir_all(&data)?;
            let state = AppState::new(Arc::new(rules), &data);
            let state = match &args.database {
                Some(url) => AppState {
                    quotes: quotecast_server::QuoteDb::new(url.clone()),
                    ..state
                },
                None => state,
            };
            quotes = Some(state.quotes.clone());
            tokio::spawn(async move {
                let _ = quotecast_server::serve(listener, state, async {
                    let _ = stopped.await;
                })
                .await;
            });
            (url, Some(stop))
        }
    };
    anyhow::ensure!(args.connections > 0, "--connections must be at least 1");
    anyhow::ensure!(args.rounds > 0, "--rounds must be at least 1");
    let mut channels = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        channels.push(
            tonic::transport::Endpoint::from_shared(url.clone())?
                .connect()
                .await
                .with_context(|| format!("cannot connect to {url}"))?,
        );
    }
    let channel = channels[0].clone();
    let mut rpcs = vec![Rpc::Health, Rpc::QuoteFull, Rpc::QuoteSummary];
    if args.save {
        rpcs.push(Rpc::Save);
    }
    for &rpc in &rpcs {
        anyhow::ensure!(call(rpc, &channel, &requests).await, "{} fails", rpc.name());
    }
    let size = |body: &Bytes| raw_call(channel.clone(), QUOTE_PATH, body.clone());
    let (full_bytes, summary_bytes) = (
        size(&requests.quote_full).await?,
        size(&requests.quote_summary).await?,
    );
    println!(
        "server {url} over {} HTTP/2 connection(s); {}-line quotes ({full_bytes} B response \
         in full, {summary_bytes} B in summary); {} round(s) of {:.0} s per cell after {:.0} s \
         warm-up; client {}",
        args.connections,
        args.lines,
        args.rounds,
        args.seconds,
        args.warmup,
        if args.decode {
            "decodes every response"
        } else {
            "sends pre-encoded requests, checks status and size"
        }
    );
    println!(
        "{:>11}  {:<22} {:>9} {:>9} {:>9} {:>11} {:>13} {:>16} {:>16}",
        "concurrency",
        "rpc",
        "req/s",
        "p50 ms",
        "p99 ms",
        "vs no-op",
        "per round",
        "server µs/req",
        "client µs/req"
    );
    let warmup = Duration::from_secs_f64(args.warmup);
    let window = Duration::from_secs_f64(args.seconds);
    let store_stats = || quotes.as_ref()?.if_open().map(|s| s.write_stats());
    for &c in &args.concurrency {
        let commits_before = store_stats().unwrap_or_default();
        let mut rows: Vec<Measurement> = rpcs.iter().map(|_| Measurement::default()).collect();
        // Each round's throughput against that round's no-op.
        let mut round_ratios = vec![Vec::new(); rpcs.len()];
        for _ in 0..args.rounds {
            let mut baseline = None;
            for (i, &rpc) in rpcs.iter().enumerate() {
                let m = measure(
                    rpc,
                    &channels,
                    requests.clone(),
                    c,
                    warmup,
                    window,
                    args.server_pid,
                )
                .await;
                anyhow::ensure!(m.errors == 0, "{} errors on {}", m.errors, rpc.name());
                let baseline = *baseline.get_or_insert(m.per_second());
                round_ratios[i].push(m.per_second() / baseline);
                rows[i].add(m);
            }
        }
        let baseline = rows[0].per_second();
        for ((rpc, m), ratios) in rpcs.iter().zip(&mut rows).zip(&round_ratios) {
            let (p50, p99) = (m.percentile(0.50), m.percentile(0.99));
            let per_request = |cpu: Option<Duration>| {
                cpu.filter(|_| m.all_requests > 0)
                    .map_or("-".to_owned(), |cpu| {
                        format!("{:.1}", cpu.as_secs_f64() * 1e6 / m.all_requests as f64)
                    })
            };
            let (low, high) = ratios
                .iter()
                .fold((f64::INFINITY, 0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
            println!(
                "{:>11}  {:<22} {:>9.0} {:>9} {:>9} {:>10.2}x {:>13} {:>16} {:>16}",
                c,
                rpc.name(),
                m.per_second(),
                ms(p50),
                ms(p99),
                m.per_second() / baseline,
                format!("{low:.2}–{high:.2}"),
                per_request(m.server_cpu),
                per_request(m.client_cpu)
            );
        }
        if args.save {
            // Saving against pricing alone, in the same rounds.
            let (full, save) = (
                &mut rows[1].latencies.clone(),
                &mut rows[3].latencies.clone(),
            );
            full.sort_unstable();
            save.sort_unstable();
            let p99 = |l: &Vec<Duration>| l.get(l.len() * 99 / 100).copied().unwrap_or_default();
            println!(
                "{:>11}  SaveQuote against PriceQuote (full): {:.2}x the time per request by throughput, p99 {} against {} ms",
                c,
                rows[1].per_second() / rows[3].per_second(),
                ms(p99(save)),
                ms(p99(full)),
            );
            // The writer's side of those saves (warm-ups included): how
            // many shared a commit, and what a commit took.
            if let Some(after) = store_stats() {
                let commits = after.batches - commits_before.batches;
                let per = |x: f64| x / commits.max(1) as f64;
                println!(
                    "{:>11}  store: {} group commits, {:.1} writes and {:.3} ms each",
                    c,
                    commits,
                    per((after.writes - commits_before.writes) as f64),
                    per((after.commit_seconds - commits_before.commit_seconds) * 1000.0),
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}
