//! `quotecast health`: asks a running server's gRPC health service, for
//! container health checks and scripts that wait for a start. Exits 0 when
//! it answers SERVING, 1 otherwise (not serving, unreachable, too slow).
use std::{io::Write, process::ExitCode, time::Duration};

use anyhow::Context;
use clap::Args;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

#[derive(Args)]
pub struct HealthArgs {
    /// The server, such as http://127.0.0.1:50051.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    server: String,
    /// A service to ask about, such as quotecast.v1.QuoteService [default:
    /// the server as a whole].
    #[arg(long, default_value = "")]
    service: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 3)]
    timeout: u64,
}

pub fn run(args: HealthArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let limit = Duration::from_secs(args.timeout.max(1));
    let answer = runtime.block_on(async {
        tokio::time::timeout(limit, async {
            let channel = tonic::transport::Endpoint::from_shared(args.server.clone())
                .with_context(|| format!("`{}` is not a server URL", args.server))?
                .connect()
                .await
                .with_context(|| format!("cannot connect to {}", args.server))?;
            let response = HealthClient::new(channel)
                .check(HealthCheckRequest {
                    service: args.service.clone(),
                })
                .await
                .map_err(|status| anyhow::anyhow!("{}: {}", args.server, status.message()))?;
            anyhow::Ok(response.into_inner().status())
        })
        .await
        .map_err(|_| anyhow::anyhow!("{}: no answer within {} s", args.server, limit.as_secs()))?
    });
    let mut out = std::io::stdout();
    match answer {
        Ok(ServingStatus::Serving) => {
            writeln!(out, "SERVING")?;
            Ok(ExitCode::SUCCESS)
        }
        Ok(status) => {
            writeln!(out, "{}", status.as_str_name())?;
            Ok(ExitCode::FAILURE)
        }
        Err(error) => {
            writeln!(std::io::stderr(), "{error:#}")?;
            Ok(ExitCode::FAILURE)
        }
    }
}
