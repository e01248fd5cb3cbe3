//! Human-readable and JSON renderings of a priced quote. Both work on the
//! wire type, so a quote priced in-process and one priced by a server print
//! the same.
use std::fmt::Write;

use quotecast_server::pb::{
    ConfiguredBy, PriceQuoteResponse, PricedLine, Totals, WaterfallStepKind,
};

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

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}
