//! In-process pricing of 10-, 1,000- and 10,000-line quotes, and the
//! response of a 10-line quote: priced and written, and written alone.
//! Target (issue 2): 1,000 lines in at most 2 ms on a 2-core machine.
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use quotecast_benches::{example_rules, quote_with_lines};
use quotecast_configurator::{Configurators, compile_all};
use quotecast_model::RuleSet;
use quotecast_pricing::{QuoteRequest, price_quote};
use quotecast_server::{convert::QuoteResponse, pb::PriceQuoteView};

// The allocator of the quotecast binary, so this measures what ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn price(c: &mut Criterion) {
    let rules = example_rules();
    let (models, _) = compile_all(&rules);
    let today = chrono::NaiveDate::from_ymd_opt(2026, 5, 12).expect("valid date");
    let mut group = c.benchmark_group("price_quote");
    for lines in [10usize, 1_000, 10_000] {
        let request = quote_with_lines(&rules, lines)
            .to_request(today)
            .expect("generated quote is valid");
        // Fails loudly rather than benchmarking an error path.
        price_quote(&rules, &models, &request).expect("generated quote prices");
        group.throughput(Throughput::Elements(lines as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(lines),
            &request,
            |b, request| b.iter(|| price_quote(black_box(&rules), &models, black_box(request))),
        );
    }
    group.finish();
}

/// The example rules, their configuration models and a 10-line quote.
fn ten_line_quote() -> (RuleSet, Configurators, QuoteRequest) {
    let rules = example_rules();
    let (models, _) = compile_all(&rules);
    let today = chrono::NaiveDate::from_ymd_opt(2026, 5, 12).expect("valid date");
    let request = quote_with_lines(&rules, 10)
        .to_request(today)
        .expect("generated quote is valid");
    (rules, models, request)
}

/// What the server does for one 10-line PriceQuote besides HTTP/2: price,
/// build the response for each view, encode it.
fn respond(c: &mut Criterion) {
    let (rules, models, request) = ten_line_quote();
    let mut group = c.benchmark_group("price_quote_response_10_lines");
    for view in [PriceQuoteView::Full, PriceQuoteView::Summary] {
        group.bench_function(view.as_str_name(), |b| {
            b.iter(|| {
                let priced = price_quote(black_box(&rules), &models, black_box(&request))
                    .expect("generated quote prices");
                QuoteResponse {
                    quote: &priced,
                    view,
                }
                .to_bytes()
            })
        });
    }
    group.finish();
}

/// Writing the response alone, from an already priced 10-line quote.
fn encode(c: &mut Criterion) {
    let (rules, models, request) = ten_line_quote();
    let priced = price_quote(&rules, &models, &request).expect("generated quote prices");
    let mut group = c.benchmark_group("encode_response_10_lines");
    for view in [PriceQuoteView::Full, PriceQuoteView::Summary] {
        group.bench_function(view.as_str_name(), |b| {
            b.iter(|| {
                QuoteResponse {
                    quote: black_box(&priced),
                    view,
                }
                .to_bytes()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, price, respond, encode);
criterion_main!(benches);
