//! `quotecast quote price FILE.json`.
use std::{
    io::{Write, stderr, stdout},
    path::PathBuf,
    process::ExitCode,
};

use anyhow::Context;
use clap::Args;
use quotecast_pricing::price_quote;
use quotecast_rules::QuoteInput;
use quotecast_server::{
    convert::QuoteResponse,
    pb::{self, PriceQuoteResponse, quote_service_client::QuoteServiceClient},
};
use tonic_types::StatusExt;

use crate::{config::RulesSource, render};

#[derive(Args)]
pub struct PriceArgs {
    /// The quote file (JSON).
    file: PathBuf,
    /// Price through a running server, e.g. http://127.0.0.1:50051;
    /// without it the quote is priced in-process on --rules.
    #[arg(long)]
    server: Option<String>,
    /// Rules directory for in-process pricing [default: ./rules, else the
    /// embedded example rules].
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Print the priced quote as JSON instead of a table.
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

fn read_quote(path: &PathBuf) -> anyhow::Result<QuoteInput> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))
}

pub fn price(args: PriceArgs) -> anyhow::Result<ExitCode> {
    let input = read_quote(&args.file)?;
    let response: PriceQuoteResponse = match &args.server {
        Some(url) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let request = pb::PriceQuoteRequest::from(&input);
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
            let request = match input.to_request(today) {
                Ok(r) => r,
                Err(problems) => {
                    for p in problems {
                        writeln!(stderr(), "{}: {p}", args.file.display())?;
                    }
                    return Ok(ExitCode::FAILURE);
                }
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
            serde_json::to_string_pretty(&render::json(&response))?
        )?;
    } else {
        write!(stdout(), "{}", render::waterfall_table(&response))?;
    }
    Ok(ExitCode::SUCCESS)
}
