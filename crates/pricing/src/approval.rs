//! Which approval level a priced quote needs, and which rules say so.
use quotecast_model::{ApprovalCondition, Percent};
use rust_decimal::Decimal;

use crate::{
    engine::Context,
    result::{ApprovalOutcome, PricedLine, StepKind, Totals, TriggeredApproval, share_exceeds},
};

fn pct(p: Percent) -> String {
    format!("{}%", p.display_2dp())
}

/// Of the lines whose share `part / whole` exceeds `limit` (checked without
/// dividing), the one with the largest share, and that share.
fn max_line_above<'a, 'r>(
    lines: &'a [PricedLine<'r>],
    limit: Percent,
    share: impl Fn(&PricedLine<'r>) -> (Decimal, Decimal),
) -> Option<(&'a PricedLine<'r>, Percent)> {
    lines
        .iter()
        .filter_map(|l| {
            let (part, whole) = share(l);
            share_exceeds(part, whole, limit)
                .then(|| Percent::ratio(part, whole).map(|p| (l, p)))
                .flatten()
        })
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.line_id.cmp(&a.0.line_id)))
}

pub(crate) fn approve(
    ctx: &Context<'_>,
    lines: &[PricedLine<'_>],
    totals: &Totals,
) -> ApprovalOutcome {
    let mut triggered = Vec::new();
    let off_list = |l: &PricedLine<'_>| (l.list_extended - l.net_extended, l.list_extended);
    let by_rep = |l: &PricedLine<'_>| {
        (
            l.before_rep_discount - l.after_rep_discount,
            l.before_rep_discount,
        )
    };
    for rule in ctx.rules.approval_rules() {
        let found: Option<(String, Option<Decimal>)> = match &rule.condition {
            ApprovalCondition::LineDiscountAbove(limit) => max_line_above(lines, *limit, off_list)
                .map(|(l, d)| {
                    (
                        format!(
                            "line {} ({}) is {} off list, above {}",
                            l.line_id,
                            l.sku,
                            pct(d),
                            pct(*limit)
                        ),
                        Some(d.display_2dp()),
                    )
                }),
            ApprovalCondition::ManualDiscountAbove(limit) => max_line_above(lines, *limit, by_rep)
                .map(|(l, d)| {
                    (
                        format!(
                            "line {} ({}) has a rep discount of {}, above {}",
                            l.line_id,
                            l.sku,
                            pct(d),
                            pct(*limit)
                        ),
                        Some(d.display_2dp()),
                    )
                }),
            ApprovalCondition::QuoteDiscountAbove(limit) => {
                totals.discount_percent().filter(|d| d > limit).map(|d| {
                    (
                        format!("quote is {} off list, above {}", pct(d), pct(*limit)),
                        Some(d.display_2dp()),
                    )
                })
            }
            ApprovalCondition::MarginBelow(limit) => match totals.margin_percent() {
                Some(m) if m < *limit => Some((
                    format!("quote margin {} is below {}", pct(m), pct(*limit)),
                    Some(m.display_2dp()),
                )),
                None if totals.cost > Decimal::ZERO => Some((
                    format!(
                        "quote margin cannot be stated (net {} against cost {})",
                        totals.net, totals.cost
                    ),
                    None,
                )),
                _ => None,
            },
            ApprovalCondition::NetTotalAbove(limit) => {
                let threshold = ctx.currency.from_corporate(*limit);
                (totals.net > threshold).then(|| {
                    (
                        format!(
                            "net total {} {} is above {} {} ({} {})",
                            totals.net,
                            ctx.currency.code,
                            ctx.currency.round(threshold),
                            ctx.currency.code,
                            limit,
                            ctx.rules.corporate_currency().code
                        ),
                        Some(totals.net),
                    )
                })
            }
            ApprovalCondition::LineBelowFloor => lines
                .iter()
                .flat_map(|l| l.waterfall.iter().map(move |s| (l, s)))
                .filter(|(_, s)| s.step == StepKind::FloorGuard && s.running_total > Decimal::ZERO)
                .filter_map(|(l, s)| Percent::ratio(s.amount, s.running_total).map(|p| (l, s, p)))
                .max_by(|a, b| a.2.cmp(&b.2).then_with(|| b.0.line_id.cmp(&a.0.line_id)))
                .map(|(l, s, p)| {
                    (
                        format!(
                            "line {} ({}) was asked {} below its floor ({})",
                            l.line_id,
                            l.sku,
                            pct(p),
                            s.rule_id
                        ),
                        Some(p.display_2dp()),
                    )
                }),
            ApprovalCondition::ProductLinePresent(product_line) => {
                let held: Vec<&PricedLine<'_>> = lines
                    .iter()
                    .filter(|l| l.product_line == product_line)
                    .collect();
                (!held.is_empty()).then(|| {
                    let net: Decimal = held.iter().map(|l| l.net_extended).sum();
                    (
                        format!(
                            "the quote holds {product_line}: {} line(s), net {net} {}",
                            held.len(),
                            ctx.currency.code
                        ),
                        Some(net),
                    )
                })
            }
        };
        if let Some((reason, figure)) = found {
            triggered.push(TriggeredApproval {
                rule_id: rule.id.clone(),
                level: rule.level.clone(),
                reason,
                figure,
            });
        }
    }
    let rank = |id: &str| ctx.rules.approval_level(id).map_or(0, |l| l.rank);
    let level = triggered
        .iter()
        .max_by_key(|t| rank(&t.level))
        .map(|t| t.level.clone())
        .or_else(|| ctx.rules.approval_levels().first().map(|l| l.id.clone()))
        .unwrap_or_else(|| "none".to_owned());
    ApprovalOutcome { level, triggered }
}
