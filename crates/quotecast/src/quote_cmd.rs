//! `quotecast quote price FILE.json`.
use std::{
    io::{Write, stderr, stdout},
    path::PathBuf,
    process::ExitCode,
};

use anyhow::Context;
use clap::Args;
use quotecast_pricing::QuoteRequest;
use quotecast_pricing::price_quote;
use quotecast_rules::QuoteInput;
use quotecast_server::{
    convert::{PriceQuoteInput, QuoteResponse},
    pb::{self, PriceQuoteResponse, quote_service_client::QuoteServiceClient},
};
use tonic_types::StatusExt;

use crate::{config::RulesSource, render};

#[derive(Args)]
pub struct PriceArgs {
    /// The quote file: the API's `PriceQuoteRequest` in JSON (the old
    /// quote-file keys still read, with a deprecation note).
    file: PathBuf,
    /// Price through a running server, e.g. http://127.0.0.1:50051;
    /// without it the quote is priced in-process on --rules.
    #[arg(long)]
    server: Option<String>,
    /// Rules directory for in-process pricing [default: ./rules, else the
    /// embedded example rules].
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Print the priced quote as JSON (the API's `PriceQuoteResponse` in the
    /// proto3 JSON mapping) instead of a table.
    #[arg(long)]
    json: bool,
}

/// A refused request: the status code, then one line per field violation
/// carried in the status details.
fn describe_status(status: &tonic::Status) -> String {
    let mut out = format!("{:?}: {}", status.code(), status.message());
    if let Some(bad_request) = status.get_details_bad_request() {
        for v in bad_request.field_violations {
            match v.reason.as_str() {
                "" => out.push_str(&format!("\n  {}: {}", v.field, v.description)),
                reason => out.push_str(&format!("\n  {}: {reason}: {}", v.field, v.description)),
            }
        }
    }
    out
}

/// Keys only the old quote-file vocabulary has (before the files took the
/// API's JSON), at the top and in a line.
const OLD_KEYS: &[&str] = &[
    "currency",
    "date",
    "account",
    "header_discount_percent",
    "header_discount_amount",
];
const OLD_LINE_KEYS: &[&str] = &["id", "discount_percent", "discount_amount"];

/// Whether a quote file is written in the old vocabulary: one of its keys,
/// or a quantity as a JSON number.
fn is_old_vocabulary(file: &serde_json::Value) -> bool {
    let old_line = |line: &serde_json::Value| {
        OLD_LINE_KEYS.iter().any(|k| line.get(k).is_some())
            || line
                .get("quantity")
                .is_some_and(serde_json::Value::is_number)
    };
    OLD_KEYS.iter().any(|k| file.get(k).is_some())
        || file
            .get("lines")
            .and_then(serde_json::Value::as_array)
            .is_some_and(|lines| lines.iter().any(old_line))
}

/// The quote of a file: the API's JSON (`PriceQuoteRequest` in the
/// proto3 JSON mapping, as any gRPC JSON client writes it), or the old
/// vocabulary, read with a note on standard error naming the new keys.
fn read_quote(path: &PathBuf) -> anyhow::Result<pb::PriceQuoteRequest> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let at = |e: serde_json::Error| {
        anyhow::anyhow!("{}:{}:{}: {e}", path.display(), e.line(), e.column())
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(at)?;
    if is_old_vocabulary(&value) {
        let input: QuoteInput = serde_json::from_str(&text).map_err(at)?;
        eprintln!(
            "note: {}: the old quote-file keys are deprecated; write the API's JSON \
             (currencyCode, priceDate, accountId, lines[].lineId, quantities as strings, \
             lines[].discount and headerDiscount as {{\"percent\": ...}} or {{\"amount\": ...}}), \
             which any gRPC JSON client reads too",
            path.display()
        );
        return Ok(pb::PriceQuoteRequest::from(&input));
    }
    quotecast_server::json::from_json("quotecast.v1.PriceQuoteRequest", &text).map_err(
        |e| match e {
            quotecast_server::ServerError::BadJson {
                line,
                column,
                reason,
                ..
            } => anyhow::anyhow!("{}:{line}:{column}: {reason}", path.display()),
            other => anyhow::anyhow!("{}: {other}", path.display()),
        },
    )
}

pub fn price(args: PriceArgs) -> anyhow::Result<ExitCode> {
    let input = read_quote(&args.file)?;
    let response: PriceQuoteResponse = match &args.server {
        Some(url) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let request = input;
            let result = runtime.block_on(async {
                let mut client = QuoteServiceClient::connect(url.clone())
                    .await
                    .with_context(|| format!("cannot connect to {url}"))?;
                anyhow::Ok(client.price_quote(request).await)
            })?;
            match result {
                Ok(response) => response.into_inner(),
                Err(status) => {
                    writeln!(
                        stderr(),
                        "{}: {}",
                        args.file.display(),
                        describe_status(&status)
                    )?;
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        None => {
            let source = RulesSource::choose(args.rules.clone());
            let loaded = source.load_with(&quotecast_rules::Fresh).map_err(|e| {
                anyhow::anyhow!("cannot load rules from {}: {e}", source.describe())
            })?;
            let (rules, configurators) = (loaded.rules, loaded.configurators);
            let today = chrono::Utc::now().date_naive();
            let request = match QuoteRequest::try_from(PriceQuoteInput {
                request: input,
                today,
            }) {
                Ok(r) => r,
                Err(quotecast_server::ServerError::InvalidArgument(violations)) => {
                    for v in violations {
                        writeln!(
                            stderr(),
                            "{}: {}: {}",
                            args.file.display(),
                            v.field,
                            v.description
                        )?;
                    }
                    return Ok(ExitCode::FAILURE);
                }
                Err(other) => return Err(other.into()),
            };
            match price_quote(&rules, &configurators, &request) {
                Ok(priced) => PriceQuoteResponse::try_from(QuoteResponse {
                    quote: &priced,
                    view: pb::PriceQuoteView::Full,
                })?,
                Err(error) => {
                    for r in error.rejections() {
                        writeln!(
                            stderr(),
                            "{}: {}: {}",
                            args.file.display(),
                            r.field,
                            r.message
                        )?;
                    }
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
    };
    if args.json {
        writeln!(
            stdout(),
            "{}",
            quotecast_server::json::to_json_pretty("quotecast.v1.PriceQuoteResponse", &response)?
        )?;
    } else {
        write!(stdout(), "{}", render::waterfall_table(&response))?;
    }
    Ok(ExitCode::SUCCESS)
}
