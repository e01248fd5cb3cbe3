//! Human-readable and JSON renderings of a priced quote. Both work on the
//! wire type, so a quote priced in-process and one priced by a server print
//! the same.
use std::fmt::Write;

use quotecast_server::pb::{
    ConfiguredBy, PriceQuoteResponse, PricedLine, Totals, WaterfallStepKind,
};
use serde_json::{Value, json};

fn signed(a: &str) -> String {
    if a.starts_with('-') {
        a.to_owned()
    } else {
        format!("+{a}")
    }
}

/// "list_price" for WATERFALL_STEP_KIND_LIST_PRICE.
pub fn step_name(step: i32) -> String {
    WaterfallStepKind::try_from(step)
        .map(|k| {
            k.as_str_name()
                .trim_start_matches("WATERFALL_STEP_KIND_")
                .to_lowercase()
        })
        .unwrap_or_else(|_| format!("step_{step}"))
}

fn pct(p: &str) -> String {
    if p.is_empty() {
        "n/a".to_owned()
    } else {
        format!("{p}%")
    }
}

fn totals_line(t: &Totals) -> String {
    format!(
        "list {}  discount {} ({})  net {}  cost {}  margin {} ({})",
        t.list,
        t.discount,
        pct(&t.discount_percent),
        t.net,
        t.cost,
        t.margin,
        pct(&t.margin_percent)
    )
}

/// The waterfall of every line, then totals, subtotals and approval.
pub fn waterfall_table(q: &PriceQuoteResponse) -> String {
    let mut out = String::new();
    let party = match (q.segment.as_str(), q.region.as_str()) {
        ("", "") => String::new(),
        (s, r) => format!(" · segment {} · region {}", or_dash(s), or_dash(r)),
    };
    let _ = writeln!(
        out,
        "Quote in {} on {}{party} · price book {}",
        q.currency_code, q.price_date, q.price_book_id
    );
    for line in &q.lines {
        let _ = writeln!(
            out,
            "\nline {}  {}  {}  × {}{}",
            line.line_id,
            line.sku,
            line.name,
            line.quantity,
            part_of(line)
        );
        let rule_width = line
            .waterfall
            .iter()
            .map(|s| s.rule_id.len())
            .max()
            .unwrap_or(0);
        for s in &line.waterfall {
            let _ = writeln!(
                out,
                "  {:<16} {:<rule_width$}  {:>14}  {:>14}  {}",
                step_name(s.step),
                s.rule_id,
                signed(&s.amount),
                s.running_total,
                s.explanation
            );
        }
        let _ = writeln!(
            out,
            "  = net {} each, {} total · {} off list · margin {}",
            line.net_unit_price,
            line.net_extended,
            pct(&line.discount_percent),
            pct(&line.margin_percent)
        );
    }
    if let Some(t) = &q.totals {
        let _ = writeln!(out, "\nTotals ({}): {}", q.currency_code, totals_line(t));
    }
    for s in &q.subtotals {
        if let Some(t) = &s.totals {
            let _ = writeln!(out, "  {:<10} {}", s.product_line, totals_line(t));
        }
    }
    if let Some(a) = &q.approval {
        let _ = writeln!(out, "\nApproval required: {}", a.level);
        for t in &a.triggered {
            let _ = writeln!(out, "  - {} ({}): {}", t.rule_id, t.level, t.reason);
        }
    }
    out
}

/// "  (option of line 1, chosen)" for a sub-line of a configured line.
fn part_of(line: &PricedLine) -> String {
    if line.parent_line_id.is_empty() {
        return String::new();
    }
    let how = match ConfiguredBy::try_from(line.configured_by) {
        Ok(ConfiguredBy::Chosen) => "chosen".to_owned(),
        Ok(ConfiguredBy::Default) => format!("default {}", line.configured_by_rule),
        Ok(ConfiguredBy::Added) => "added by the rules".to_owned(),
        _ => "configured".to_owned(),
    };
    format!("  (option of line {}, {how})", line.parent_line_id)
}

fn configured_by_name(line: &PricedLine) -> &'static str {
    match ConfiguredBy::try_from(line.configured_by) {
        Ok(ConfiguredBy::Chosen) => "chosen",
        Ok(ConfiguredBy::Default) => "default",
        Ok(ConfiguredBy::Added) => "added",
        _ => "",
    }
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

fn totals_json(t: &Option<Totals>) -> Value {
    t.as_ref().map_or(Value::Null, |t| {
        json!({
            "list": t.list,
            "discount": t.discount,
            "net": t.net,
            "cost": t.cost,
            "margin": t.margin,
            "discount_percent": t.discount_percent,
            "margin_percent": t.margin_percent,
        })
    })
}

/// The response as JSON, field names as in the proto, amounts as decimal
/// strings in `currency_code`.
pub fn json(q: &PriceQuoteResponse) -> Value {
    json!({
        "currency_code": q.currency_code,
        "price_date": q.price_date,
        "segment": q.segment,
        "region": q.region,
        "price_book_id": q.price_book_id,
        "lines": q.lines.iter().map(|l| json!({
            "line_id": l.line_id,
            "sku": l.sku,
            "name": l.name,
            "product_line": l.product_line,
            "quantity": l.quantity,
            "list_unit_price": l.list_unit_price,
            "list_extended": l.list_extended,
            "net_unit_price": l.net_unit_price,
            "net_extended": l.net_extended,
            "cost_extended": l.cost_extended,
            "discount_percent": l.discount_percent,
            "margin_percent": l.margin_percent,
            "rep_discount_percent": l.rep_discount_percent,
            "parent_line_id": l.parent_line_id,
            "configured_by": configured_by_name(l),
            "configured_by_rule": l.configured_by_rule,
            "waterfall": l.waterfall.iter().map(|s| json!({
                "step": step_name(s.step),
                "rule_id": s.rule_id,
                "explanation": s.explanation,
                "amount": s.amount,
                "running_total": s.running_total,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "totals": totals_json(&q.totals),
        "subtotals": q.subtotals.iter().map(|s| json!({
            "product_line": s.product_line,
            "totals": totals_json(&s.totals),
        })).collect::<Vec<_>>(),
        "approval": q.approval.as_ref().map(|a| json!({
            "level": a.level,
            "triggered": a.triggered.iter().map(|t| json!({
                "rule_id": t.rule_id, "level": t.level, "reason": t.reason,
            })).collect::<Vec<_>>(),
        })),
    })
}
