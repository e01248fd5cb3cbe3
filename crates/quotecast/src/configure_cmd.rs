//! `quotecast configure PRODUCT --select SKU[=QTY] ...`: the configuration
//! state after the given choices, computed in-process on the rules.
use std::{
    fmt::Write as _,
    io::{Write, stdout},
    path::PathBuf,
    process::ExitCode,
};

use anyhow::{Context, anyhow};
use clap::Args;
use quotecast_configurator::{Choice, CompiledModel, Configuration, OptionStatus};

use crate::config::RulesSource;

#[derive(Args)]
pub struct ConfigureArgs {
    /// SKU of the configurable base product, e.g. SRV-2U.
    product: String,
    /// A choice, in the order made: SKU (one unit), SKU=QTY, or SKU=0 to
    /// rule an option out. Repeatable.
    #[arg(long = "select", value_name = "SKU[=QTY]")]
    select: Vec<String>,
    /// Rules directory [default: ./rules, else the embedded example rules].
    #[arg(long)]
    rules: Option<PathBuf>,
}

/// `SKU` or `SKU=QTY`.
fn parse_choice(model: &CompiledModel, text: &str) -> anyhow::Result<Choice> {
    let (sku, quantity) = match text.split_once('=') {
        Some((sku, qty)) => {
            let qty: u32 = qty
                .trim()
                .parse()
                .map_err(|_| anyhow!("--select {text}: `{qty}` is not a whole number of units"))?;
            (sku.trim(), qty)
        }
        None => (text.trim(), 1),
    };
    model
        .choice(sku, quantity)
        .map_err(|e| anyhow!("--select {text}: {e}"))
}

pub fn configure(args: ConfigureArgs) -> anyhow::Result<ExitCode> {
    let source = RulesSource::choose(args.rules);
    let mut loaded = source
        .load_with(&quotecast_rules::Fresh)
        .with_context(|| format!("cannot load rules from {}", source.describe()))?;
    let compiled = loaded.configurators.remove(&args.product).ok_or_else(|| {
        let known: Vec<&str> = loaded.configurators.keys().map(String::as_str).collect();
        anyhow!(
            "`{}` is not a configurable product; configurable: {}",
            args.product,
            known.join(", ")
        )
    })?;
    let choices = args
        .select
        .iter()
        .map(|s| parse_choice(&compiled, s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let state = compiled.configure(&choices, true)?;
    let mut out = stdout().lock();
    out.write_all(render(&compiled, &state).as_bytes())?;
    Ok(if state.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// The state as a table, one group at a time.
pub fn render(model: &CompiledModel, state: &Configuration) -> String {
    let m = model.model();
    let mut out = String::new();
    let verdict = match (state.valid, state.complete) {
        (false, _) => "CONFLICT",
        (true, true) => "valid, complete: ready to quote",
        (true, false) => "valid, not complete yet",
    };
    let _ = writeln!(out, "{}: {verdict}", m.sku);
    if let Some(conflict) = &state.conflict {
        let _ = writeln!(out, "  conflict: {}", model.describe(&conflict.explanation));
        for repair in &conflict.repairs {
            let drop: Vec<String> = repair.iter().map(|c| model.describe_choice(c)).collect();
            let _ = writeln!(out, "  repair: drop {}", drop.join(" and "));
        }
        let aside: Vec<String> = conflict
            .set_aside
            .iter()
            .map(|c| model.describe_choice(c))
            .collect();
        let _ = writeln!(out, "  set aside to show the rest: {}", aside.join(", "));
    }
    for (g, group) in m.groups.iter().enumerate() {
        let range = if group.min == group.max {
            format!("exactly {}", group.min)
        } else {
            format!("{} to {}", group.min, group.max)
        };
        let missing = if state.missing.contains(&g) {
            "  <- choose"
        } else {
            ""
        };
        let _ = writeln!(out, "\n{} ({range}){missing}", group.name);
        for &o in &group.options {
            let s = &state.options[o];
            let sku = &m.options[o].sku;
            let (mark, note) = match &s.status {
                OptionStatus::Chosen => ("x", "chosen".to_owned()),
                OptionStatus::Added(why) => ("+", format!("added: {}", model.describe(why))),
                OptionStatus::Excluded(why) => ("-", format!("excluded: {}", model.describe(why))),
                OptionStatus::Open => match &s.default {
                    Some(rule) => ("d", format!("default ({rule})")),
                    None => (" ", "open".to_owned()),
                },
            };
            let quantity = if s.quantity > 0 {
                format!("×{}", s.quantity)
            } else {
                String::new()
            };
            let possible = match (s.quantities.first(), s.quantities.last()) {
                (Some(lo), Some(hi)) if lo != hi => format!("{lo}-{hi}"),
                (Some(only), _) => only.to_string(),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "  [{mark}] {sku:<14} {quantity:<4} {possible:<6} {note}"
            );
        }
    }
    out.push_str("\n[x] chosen  [+] added by a rule  [d] default  [-] excluded; the range is what can still be chosen\n");
    out
}
