//! Human-readable and JSON renderings of a priced quote. Both work on the
//! wire type, so a quote priced in-process and one priced by a server print
//! the same.
use std::fmt::Write;

use quotecast_server::pb::{Money, PriceQuoteResponse, Totals};
use serde_json::{Value, json};

fn amount(m: &Option<Money>) -> &str {
    m.as_ref().map_or("", |m| m.amount.as_str())
}

fn signed(m: &Option<Money>) -> String {
    let a = amount(m);
    if a.starts_with('-') { a.to_owned() } else { format!("+{a}") }
}

fn pct(p: &str) -> String {
    if p.is_empty() { "n/a".to_owned() } else { format!("{p}%") }
}

fn totals_line(t: &Totals) -> String {
    format!(
        "list {}  discount {} ({})  net {}  cost {}  margin {} ({})",
        amount(&t.list),
        amount(&t.discount),
        pct(&t.discount_percent),
        amount(&t.net),
        amount(&t.cost),
        amount(&t.margin),
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
            "\nline {}  {}  {}  × {}",
            line.line_id, line.sku, line.name, line.quantity
        );
        let rule_width = line.waterfall.iter().map(|s| s.rule_id.len()).max().unwrap_or(0);
        for s in &line.waterfall {
            let _ = writeln!(
                out,
                "  {:<16} {:<rule_width$}  {:>14}  {:>14}  {}",
                s.step,
                s.rule_id,
                signed(&s.amount),
                amount(&s.running_total),
                s.explanation
            );
        }
        let _ = writeln!(
            out,
            "  = net {} each, {} total · {} off list · margin {}",
            amount(&line.net_unit_price),
            amount(&line.net_extended),
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

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

fn money_json(m: &Option<Money>) -> Value {
    m.as_ref()
        .map_or(Value::Null, |m| json!({"currency_code": m.currency_code, "amount": m.amount}))
}

fn totals_json(t: &Option<Totals>) -> Value {
    t.as_ref().map_or(Value::Null, |t| {
        json!({
            "list": money_json(&t.list),
            "discount": money_json(&t.discount),
            "net": money_json(&t.net),
            "cost": money_json(&t.cost),
            "margin": money_json(&t.margin),
            "discount_percent": t.discount_percent,
            "margin_percent": t.margin_percent,
        })
    })
}

/// The response as JSON, field names as in the proto, money as decimal
/// strings.
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
            "list_unit_price": money_json(&l.list_unit_price),
            "list_extended": money_json(&l.list_extended),
            "net_unit_price": money_json(&l.net_unit_price),
            "net_extended": money_json(&l.net_extended),
            "cost_extended": money_json(&l.cost_extended),
            "discount_percent": l.discount_percent,
            "margin_percent": l.margin_percent,
            "waterfall": l.waterfall.iter().map(|s| json!({
                "step": s.step,
                "rule_id": s.rule_id,
                "explanation": s.explanation,
                "amount": money_json(&s.amount),
                "running_total": money_json(&s.running_total),
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
