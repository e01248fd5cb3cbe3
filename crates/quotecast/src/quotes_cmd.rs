//! `quotecast quotes list|show|diff|sweep`: the stored quotes of a data
//! directory (or a database), read directly from the store; the sweep
//! expires those past their validity.
use std::{fmt::Write as _, io::Write, path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Args, Subcommand};
use quotecast_server::{TENANT, pb, stored_quote};
use quotecast_store::{ListQuotes, QuoteStatus, Store};

use crate::config::DEFAULT_DATA;

#[derive(Subcommand)]
pub enum QuotesCommand {
    /// The stored quotes, by number (their latest versions).
    List(ListArgs),
    /// One stored version: its terms, lines and totals as priced.
    Show(ShowArgs),
    /// What changed between two versions of a quote.
    Diff(DiffArgs),
    /// Expire every open quote (of every tenant) whose validity ended
    /// before today, and escalate approval seats left waiting past their
    /// group's escalate_after_days; each is a new version and an audit
    /// entry.
    Sweep(SweepArgs),
}

#[derive(Args)]
pub struct SweepArgs {
    #[command(flatten)]
    db: Database,
    /// The day the sweep takes as today, YYYY-MM-DD [default: today, UTC].
    #[arg(long)]
    today: Option<chrono::NaiveDate>,
    /// Rules directory (approval chains) [default: ./rules, else the
    /// embedded example rules].
    #[arg(long, env = "QUOTECAST_RULES")]
    rules: Option<PathBuf>,
}

#[derive(Args)]
pub struct Database {
    /// Data directory holding quotes.sqlite [default: ./data].
    #[arg(long, env = "QUOTECAST_DATA")]
    data: Option<PathBuf>,
    /// The database instead (sqlite://PATH or postgres://…).
    #[arg(long, env = "QUOTECAST_DATABASE")]
    database: Option<String>,
    /// Whose quotes (the tenant of the auth file's principals).
    #[arg(long, default_value = TENANT)]
    pub tenant: String,
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    db: Database,
    /// Only this account's quotes.
    #[arg(long)]
    account: Option<String>,
    /// Only quotes in this status (draft, pending_approval, approved, …).
    #[arg(long)]
    status: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

#[derive(Args)]
pub struct ShowArgs {
    #[command(flatten)]
    db: Database,
    /// The quote's number.
    number: i64,
    /// The version [default: the latest].
    #[arg(long)]
    version: Option<i64>,
}

#[derive(Args)]
pub struct DiffArgs {
    #[command(flatten)]
    db: Database,
    /// The quote's number.
    number: i64,
    /// The version compared from.
    from: i64,
    /// The version compared to [default: the latest].
    to: Option<i64>,
}

/// A current-thread runtime and the store `db` names.
pub fn open(db: &Database) -> anyhow::Result<(tokio::runtime::Runtime, Store)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let url = match &db.database {
        Some(url) => url.clone(),
        None => {
            let data = db.data.clone().unwrap_or_else(|| DEFAULT_DATA.into());
            let file = data.join("quotes.sqlite");
            anyhow::ensure!(
                file.is_file(),
                "no stored quotes: {} does not exist",
                file.display()
            );
            quotecast_store::sqlite_url(&data)
        }
    };
    let store = runtime
        .block_on(Store::open(&url))
        .context("cannot open the quote database")?;
    Ok((runtime, store))
}

pub fn run(command: QuotesCommand) -> anyhow::Result<ExitCode> {
    let text = match command {
        QuotesCommand::List(args) => list(args)?,
        QuotesCommand::Show(args) => show(args)?,
        QuotesCommand::Diff(args) => diff(args)?,
        QuotesCommand::Sweep(args) => sweep(args)?,
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn list(args: ListArgs) -> anyhow::Result<String> {
    let status = match &args.status {
        Some(s) => Some(QuoteStatus::parse(s).with_context(|| {
            let known: Vec<&str> = QuoteStatus::ALL.iter().map(|s| s.as_str()).collect();
            format!("--status `{s}` is not one of {}", known.join(", "))
        })?),
        None => None,
    };
    let (runtime, store) = open(&args.db)?;
    let quotes = runtime.block_on(store.list(&ListQuotes {
        tenant: args.db.tenant.clone(),
        account: args.account.clone(),
        status,
        after: None,
        newest_first: false,
        limit: args.limit,
    }))?;
    let mut out = format!(
        "{:>6} {:>4}  {:<17} {:<12} {:>14}  {:<10}  updated\n",
        "quote", "ver", "status", "account", "net", "valid to"
    );
    for q in &quotes {
        let _ = writeln!(
            out,
            "{:>6} {:>4}  {:<17} {:<12} {:>10} {}  {}  {}",
            q.number,
            q.version,
            q.status,
            if q.account.is_empty() {
                "-"
            } else {
                &q.account
            },
            q.total,
            q.currency,
            q.valid_until,
            q.updated_at.format("%Y-%m-%d %H:%M")
        );
    }
    let _ = writeln!(out, "{} quote(s)", quotes.len());
    Ok(out)
}

fn read(
    store: &Store,
    runtime: &tokio::runtime::Runtime,
    tenant: &str,
    number: i64,
    version: Option<i64>,
) -> anyhow::Result<pb::StoredQuote> {
    let found = runtime.block_on(store.get(tenant, number, version))?;
    // The CLI loads no rules: whether they are loaded is not its to say.
    Ok(stored_quote("", found)?)
}

fn show(args: ShowArgs) -> anyhow::Result<String> {
    let (runtime, store) = open(&args.db)?;
    let q = read(&store, &runtime, &args.db.tenant, args.number, args.version)?;
    let priced = q.priced.clone().unwrap_or_default();
    let mut out = format!(
        "quote {} version {} ({}), account {}, {} priced {}, valid until {}\nrules {}, {} by {} at {}{}\n\n",
        q.quote_number,
        q.version,
        status_name(q.status),
        if q.account_id.is_empty() {
            "-"
        } else {
            &q.account_id
        },
        priced.currency_code,
        priced.price_date,
        q.valid_until,
        q.rules_fingerprint,
        done(&q.action),
        q.saved_by,
        q.saved_at,
        if q.comment.is_empty() {
            String::new()
        } else {
            format!(": {}", q.comment)
        }
    );
    let _ = writeln!(
        out,
        "{:<10} {:<16} {:>8} {:>12} {:>12} {:>7}",
        "line", "sku", "qty", "net unit", "net", "disc %"
    );
    for l in &priced.lines {
        let _ = writeln!(
            out,
            "{:<10} {:<16} {:>8} {:>12} {:>12} {:>7}",
            l.line_id, l.sku, l.quantity, l.net_unit_price, l.net_extended, l.discount_percent
        );
    }
    let t = priced.totals.unwrap_or_default();
    let _ = writeln!(
        out,
        "\ntotal: list {} - discount {} = net {} {} (margin {} %); approval: {}",
        t.list,
        t.discount,
        t.net,
        priced.currency_code,
        t.margin_percent,
        priced.approval.map(|a| a.level).unwrap_or_default()
    );
    Ok(out)
}

/// What a version's action did, as a sentence says it.
fn done(action: &str) -> &str {
    match action {
        "" | "save" => "saved",
        "revise" => "revised",
        "submit" => "submitted",
        "recall" => "recalled",
        "approve" => "approved",
        "reject" => "rejected",
        "send" => "sent",
        "accept" => "accepted",
        "lose" => "lost",
        "expire" => "expired",
        other => other,
    }
}

fn status_name(status: i32) -> String {
    pb::QuoteStatus::try_from(status)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("QUOTE_STATUS_")
                .to_lowercase()
        })
        .unwrap_or_else(|_| status.to_string())
}

fn diff(args: DiffArgs) -> anyhow::Result<String> {
    let (runtime, store) = open(&args.db)?;
    let tenant = &args.db.tenant;
    let from = read(&store, &runtime, tenant, args.number, Some(args.from))?;
    let to = read(&store, &runtime, tenant, args.number, args.to)?;
    let d = quotecast_server::quote_diff::diff(&from, &to);
    let mut out = format!(
        "quote {}: version {} → {}\n",
        d.quote_number, d.from_version, d.to_version
    );
    let figures = |out: &mut String, indent: &str, changes: &[pb::FigureChange]| {
        for f in changes {
            let side = |v: &str| {
                if v.is_empty() {
                    "-".to_owned()
                } else {
                    v.to_owned()
                }
            };
            let _ = writeln!(
                out,
                "{indent}{}: {} → {}",
                f.figure,
                side(&f.before),
                side(&f.after)
            );
        }
    };
    figures(&mut out, "  ", &d.header);
    for l in &d.lines {
        let kind = match pb::LineChangeKind::try_from(l.kind) {
            Ok(pb::LineChangeKind::Added) => "added",
            Ok(pb::LineChangeKind::Removed) => "removed",
            _ => "changed",
        };
        let _ = writeln!(out, "  line {} ({}) {kind}", l.line_id, l.sku);
        if kind == "changed" {
            figures(&mut out, "    ", &l.figures);
        }
    }
    if !d.totals.is_empty() {
        let _ = writeln!(out, "  totals");
        figures(&mut out, "    ", &d.totals);
    }
    if d.header.is_empty() && d.lines.is_empty() && d.totals.is_empty() {
        let _ = writeln!(out, "  no change");
    }
    Ok(out)
}

fn sweep(args: SweepArgs) -> anyhow::Result<String> {
    let source = crate::config::RulesSource::choose(args.rules.clone());
    let (rules, _) = source
        .load()
        .with_context(|| format!("loading rules from {}", source.describe()))?;
    let (runtime, store) = open(&args.db)?;
    let today = args
        .today
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let report = runtime.block_on(quotecast_server::sweep(
        &store,
        &rules,
        today,
        chrono::Utc::now(),
    ))?;
    let mut out = String::new();
    for e in &report.expired {
        let _ = writeln!(
            out,
            "expired: tenant {} quote {} ({} → expired, version {})",
            e.tenant, e.changed.number, e.changed.from, e.changed.version
        );
    }
    for (tenant, number) in &report.escalated {
        let _ = writeln!(out, "escalated: tenant {tenant} quote {number}");
    }
    let _ = writeln!(
        out,
        "{} quote(s) expired, {} escalated as of {today}",
        report.expired.len(),
        report.escalated.len()
    );
    Ok(out)
}
