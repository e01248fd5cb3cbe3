//! `quotecast audit verify|export`: the audit log of the quote store.
use std::{io::Write, path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Args, Subcommand};
use polars::prelude::*;
use quotecast_store::AuditEntry;

use crate::quotes_cmd::{Database, open};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain of the whole log; exits non-zero, naming the
    /// first entry that does not follow, when it is broken.
    Verify(VerifyArgs),
    /// Write the log (or one tenant's entries) as Parquet or CSV.
    Export(ExportArgs),
}

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    db: Database,
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    db: Database,
    /// The file to write: .parquet or .csv.
    #[arg(long)]
    out: PathBuf,
    /// Every tenant's entries, not just --tenant's.
    #[arg(long)]
    all_tenants: bool,
}

/// Entries read per query.
const PAGE: i64 = 10_000;

pub fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Verify(args) => verify(args),
        AuditCommand::Export(args) => export(args),
    }
}

fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let (runtime, store) = open(&args.db)?;
    let check = runtime.block_on(store.verify_audit())?;
    let mut out = std::io::stdout();
    match check.broken {
        None => {
            writeln!(out, "audit log intact: {} entries chained", check.entries)?;
            Ok(ExitCode::SUCCESS)
        }
        Some((seq, why)) => {
            writeln!(
                out,
                "audit log BROKEN at entry {seq}: {why} ({} entries read)",
                check.entries
            )?;
            Ok(ExitCode::FAILURE)
        }
    }
}

fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let parquet = match args.out.extension().and_then(|e| e.to_str()) {
        Some("parquet") => true,
        Some("csv") => false,
        _ => anyhow::bail!("--out {}: name a .parquet or .csv file", args.out.display()),
    };
    let (runtime, store) = open(&args.db)?;
    let tenant = (!args.all_tenants).then_some(args.db.tenant.as_str());
    let mut entries: Vec<AuditEntry> = Vec::new();
    loop {
        let after = entries.last().map_or(0, |e| e.seq);
        let page = runtime.block_on(store.audit_entries(tenant, after, PAGE))?;
        if page.is_empty() {
            break;
        }
        entries.extend(page);
    }
    let mut frame = frame(&entries)?;
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    if parquet {
        ParquetWriter::new(file).finish(&mut frame)?;
    } else {
        CsvWriter::new(file).finish(&mut frame)?;
    }
    writeln!(
        std::io::stdout(),
        "{} audit entries written to {}",
        entries.len(),
        args.out.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

fn frame(entries: &[AuditEntry]) -> anyhow::Result<DataFrame> {
    let text = |name: &str, f: fn(&AuditEntry) -> &str| {
        Column::new(name.into(), entries.iter().map(f).collect::<Vec<_>>())
    };
    let number = |name: &str, f: fn(&AuditEntry) -> i64| {
        Column::new(name.into(), entries.iter().map(f).collect::<Vec<_>>())
    };
    let at: Vec<String> = entries
        .iter()
        .map(|e| e.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .collect();
    Ok(DataFrame::new(
        entries.len(),
        vec![
            number("seq", |e| e.seq),
            Column::new("at".into(), at),
            text("tenant", |e| &e.tenant),
            text("actor", |e| &e.actor),
            text("role", |e| &e.role),
            text("action", |e| &e.action),
            number("quote_number", |e| e.quote_number),
            number("quote_version", |e| e.quote_version),
            text("detail", |e| &e.detail),
            text("prev_hash", |e| &e.prev_hash),
            text("hash", |e| &e.hash),
        ],
    )?)
}
