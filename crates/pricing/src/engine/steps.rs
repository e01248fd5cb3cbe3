//! Steps 2 to 7 of the waterfall. Each takes all lines because several
//! steps look across the quote (aggregated tiers, bundles, quote totals,
//! header discounts); each records its effect on every line it changes.
use std::collections::HashMap;

use quotecast_model::{
    BundleBenefit, ContractParty, FloorAction, FloorKind, Percent, QuantityAggregation, TierBasis,
    TierMethod,
};
use rust_decimal::Decimal;

use super::{Context, Line};
use crate::{ManualDiscount, RejectReason, Rejection, StepKind, tier_discount};

/// Step 2: a contracted unit price replaces the list price; an account's
/// contract wins over its segment's.
pub(crate) fn contract_prices(ctx: &Context<'_>, lines: &mut [Line<'_, '_>]) {
    for line in lines.iter_mut() {
        let best = ctx
            .rules
            .contract_prices(&line.product.sku)
            .iter()
            .filter(|c| c.currency == ctx.currency.code && c.valid.contains(ctx.date))
            .filter_map(|c| match &c.party {
                ContractParty::Account(a) if ctx.account.is_some_and(|acc| acc.id == *a) => {
                    Some((2, c))
                }
                ContractParty::Segment(s) if ctx.segment == Some(s.as_str()) => Some((1, c)),
                _ => None,
            })
            .max_by(|(ra, a), (rb, b)| ra.cmp(rb).then_with(|| b.id.cmp(&a.id)));
        if let Some((_, contract)) = best {
            let party = match &contract.party {
                ContractParty::Account(a) => format!("account {a}"),
                ContractParty::Segment(s) => format!("segment {s}"),
            };
            let quantity = line.request.quantity;
            line.apply(
                StepKind::ContractPrice,
                &contract.id,
                || format!("contract price {} for {party}", contract.price),
                contract.price * quantity,
            );
        }
    }
}

/// Step 3: volume schedules. Lines that count together (by the schedule's
/// aggregation) share one measure; the discount it earns applies to each.
pub(crate) fn volume_discounts(ctx: &Context<'_>, lines: &mut [Line<'_, '_>]) {
    let group_key = |line: &Line<'_, '_>| -> Option<(String, String)> {
        let schedule = ctx.rules.schedule_for(&line.product.sku)?;
        let within = match schedule.aggregation {
            QuantityAggregation::Line => format!("#{}", line.index),
            QuantityAggregation::Product => line.product.sku.clone(),
            QuantityAggregation::ProductLine => line.product.product_line.clone(),
        };
        Some((schedule.id.clone(), within))
    };
    let mut measures: HashMap<(String, String), Decimal> = HashMap::new();
    for line in lines.iter() {
        if let (Some(key), Some(schedule)) =
            (group_key(line), ctx.rules.schedule_for(&line.product.sku))
        {
            let measure = match schedule.basis {
                TierBasis::Quantity => line.request.quantity,
                TierBasis::Amount => line.running,
            };
            *measures.entry(key).or_default() += measure;
        }
    }
    for line in lines.iter_mut() {
        let (Some(key), Some(schedule)) =
            (group_key(line), ctx.rules.schedule_for(&line.product.sku))
        else {
            continue;
        };
        let measure = measures[&key];
        let bound_scale = match schedule.basis {
            TierBasis::Quantity => Decimal::ONE,
            TierBasis::Amount => ctx.currency.per_corporate,
        };
        let (percent, parts) = tier_discount(&schedule.tiers, schedule.method, measure, bound_scale);
        let new_running = line.running - percent.of(line.running);
        line.apply(
            StepKind::VolumeDiscount,
            &schedule.id,
            || {
                let what = match schedule.basis {
                    TierBasis::Quantity => format!("{} units", measure.normalize()),
                    TierBasis::Amount => format!("{} {}", measure.normalize(), ctx.currency.code),
                };
                let scope = match schedule.aggregation {
                    QuantityAggregation::Line => "on this line".to_owned(),
                    QuantityAggregation::Product => format!("of {} on the quote", key.1),
                    QuantityAggregation::ProductLine => {
                        format!("in product line {} on the quote", key.1)
                    }
                };
                let detail = match schedule.method {
                    TierMethod::Range => format!("range tier reached: {percent} off"),
                    TierMethod::Slab => {
                        let slabs: Vec<String> = parts
                            .iter()
                            .map(|(i, part)| {
                                format!("{} at {}", part.normalize(), schedule.tiers[*i].discount)
                            })
                            .collect();
                        format!(
                            "slabs {} = {}% blended",
                            slabs.join(", "),
                            percent.0.round_dp(4).normalize()
                        )
                    }
                };
                format!("{what} {scope}; {detail}")
            },
            new_running,
        );
    }
}

/// Step 4: bundles. Up to `per_parent` units of the component per unit of
/// the parent on the quote get the benefit. Where component units outnumber
/// that allowance, every line of the component gets the same share, so the
/// result does not depend on line order. Rules apply in id order, each to
/// the units earlier rules left.
pub(crate) fn bundles(ctx: &Context<'_>, lines: &mut [Line<'_, '_>]) {
    let mut quantity_by_sku: HashMap<&str, Decimal> = HashMap::new();
    for line in lines.iter() {
        *quantity_by_sku.entry(line.product.sku.as_str()).or_default() += line.request.quantity;
    }
    let mut shares: Vec<Vec<(usize, Decimal)>> = vec![Vec::new(); lines.len()];
    let mut any = false;
    for (i, line) in lines.iter().enumerate() {
        let rules = ctx.rules.bundles_for_component(&line.product.sku);
        let component_total = quantity_by_sku[line.product.sku.as_str()];
        let mut remaining = Decimal::ONE;
        for (r, rule) in rules.iter().enumerate() {
            let Some(parents) = quantity_by_sku.get(rule.parent_sku.as_str()) else {
                continue;
            };
            let share = remaining.min(*parents * rule.per_parent / component_total);
            if share > Decimal::ZERO {
                remaining -= share;
                shares[i].push((r, share));
                any = true;
            }
        }
    }
    if !any {
        return;
    }
    for (line, shares) in lines.iter_mut().zip(shares) {
        let rules = ctx.rules.bundles_for_component(&line.product.sku);
        for (r, share) in shares {
            let rule = &rules[r];
            let quantity = line.request.quantity;
            let units = quantity * share;
            let unit_price = line.running / quantity;
            let (new_running, what) = match &rule.benefit {
                BundleBenefit::PercentOff(p) => (
                    line.running - p.of(unit_price * units),
                    format!("{p} off"),
                ),
                BundleBenefit::FixedPrice(prices) => match prices.get(&ctx.currency.code) {
                    Some(price) if *price < unit_price => (
                        line.running - (unit_price - price) * units,
                        format!("at {price} each"),
                    ),
                    _ => continue,
                },
                BundleBenefit::Included => {
                    line.included_units += units;
                    (line.running - unit_price * units, "included at zero".into())
                }
            };
            line.apply(
                StepKind::Bundle,
                &rule.id,
                || {
                    format!(
                        "{} of {} units bought with {}: {what}",
                        units.round_dp(4).normalize(),
                        quantity.normalize(),
                        rule.parent_sku
                    )
                },
                new_running,
            );
        }
    }
}

/// Step 5: promotions. The eligible promotions of a line run highest
/// priority first; an exclusive one at the top applies alone, otherwise the
/// stackable ones compound and lower exclusive ones are passed over.
pub(crate) fn promotions(ctx: &Context<'_>, lines: &mut [Line<'_, '_>]) {
    let promotions = ctx.rules.promotions();
    if promotions.is_empty() {
        return;
    }
    let quote_total: Decimal = lines.iter().map(|l| l.running).sum();
    for line in lines.iter_mut() {
        let mut eligible = promotions.iter().filter(|p| {
            let c = &p.conditions;
            p.valid.contains(ctx.date)
                && (c.segments.is_empty() || ctx.segment.is_some_and(|s| c.segments.iter().any(|x| x == s)))
                && (c.regions.is_empty() || ctx.region.is_some_and(|r| c.regions.iter().any(|x| x == r)))
                && c.products.matches(line.product)
                && c.min_line_quantity.is_none_or(|q| line.request.quantity >= q)
                && c
                    .min_quote_total
                    .is_none_or(|t| quote_total >= ctx.currency.from_corporate(t))
        });
        let Some(first) = eligible.next() else {
            continue;
        };
        let chosen: Vec<_> = if first.exclusive {
            vec![first]
        } else {
            std::iter::once(first)
                .chain(eligible.filter(|p| !p.exclusive))
                .collect()
        };
        for promotion in chosen {
            let new_running = line.running - promotion.discount.of(line.running);
            let kind = if promotion.exclusive {
                "exclusive"
            } else {
                "stackable"
            };
            line.apply(
                StepKind::Promotion,
                &promotion.id,
                || {
                    format!(
                        "{}: {} off ({kind}, priority {})",
                        promotion.name, promotion.discount, promotion.priority
                    )
                },
                new_running,
            );
        }
    }
}

/// Step 6a: the rep's discount on each line.
pub(crate) fn manual_discounts(
    ctx: &Context<'_>,
    lines: &mut [Line<'_, '_>],
    rejections: &mut Vec<Rejection>,
) {
    for line in lines.iter_mut() {
        line.before_manual = line.running;
        let Some(discount) = &line.request.discount else {
            continue;
        };
        let off = match discount {
            ManualDiscount::Percent(p) => Percent(*p).of(line.running),
            ManualDiscount::Amount { amount, .. } => {
                if *amount > line.running {
                    rejections.push(Rejection::new(
                        line.field("discount.amount.amount"),
                        RejectReason::DiscountExceedsAmount,
                        format!(
                            "discount {amount} {} exceeds the line amount {}",
                            ctx.currency.code,
                            ctx.currency.round(line.running)
                        ),
                    ));
                    continue;
                }
                *amount
            }
        };
        let new_running = line.running - off;
        line.apply(
            StepKind::ManualDiscount,
            "manual",
            || match discount {
                ManualDiscount::Percent(p) => format!("rep discount {}%", p.normalize()),
                ManualDiscount::Amount { amount, currency } => {
                    format!("rep discount {amount} {currency}")
                }
            },
            new_running,
        );
    }
}

/// Step 6b: the header discount. A percentage applies to every line; an
/// amount is spread in proportion to the lines' amounts, shares rounded to
/// the minor unit and the remainder given to the largest line (ties: the
/// lowest line id), so the shares add up to the amount exactly.
pub(crate) fn header_discount(
    ctx: &Context<'_>,
    lines: &mut [Line<'_, '_>],
    discount: &ManualDiscount,
    rejections: &mut Vec<Rejection>,
) {
    match discount {
        ManualDiscount::Percent(p) => {
            for line in lines.iter_mut() {
                let new_running = line.running - Percent(*p).of(line.running);
                line.apply(
                    StepKind::HeaderDiscount,
                    "manual",
                    || format!("quote discount {}%", p.normalize()),
                    new_running,
                );
            }
        }
        ManualDiscount::Amount { amount, currency } => {
            let total: Decimal = lines.iter().map(|l| l.running).sum();
            if *amount > total {
                rejections.push(Rejection::new(
                    "header_discount.amount.amount",
                    RejectReason::DiscountExceedsAmount,
                    format!(
                        "discount {amount} {currency} exceeds the quote amount {}",
                        ctx.currency.round(total)
                    ),
                ));
                return;
            }
            if total.is_zero() {
                return;
            }
            let mut shares: Vec<Decimal> = lines
                .iter()
                .map(|l| ctx.currency.round(*amount * l.running / total))
                .collect();
            let remainder = *amount - shares.iter().copied().sum::<Decimal>();
            if let Some(largest) = (0..lines.len()).max_by(|&a, &b| {
                lines[a]
                    .running
                    .cmp(&lines[b].running)
                    .then_with(|| lines[b].request.line_id.cmp(&lines[a].request.line_id))
            }) {
                shares[largest] += remainder;
            }
            for (line, share) in lines.iter_mut().zip(shares) {
                let new_running = line.running - share;
                line.apply(
                    StepKind::HeaderDiscount,
                    "manual",
                    || format!("share of quote discount {amount} {currency}"),
                    new_running,
                );
            }
        }
    }
}

/// Step 7: the floor guard. Of the floor rules that apply to a line, each
/// sets a lowest net (per unit, times the units not included free by a
/// bundle). A line whose rounded amount falls below a rule's floor is
/// rejected if any such rule says reject, else raised to the highest
/// floor, rounded up to the minor unit so rounding cannot undercut it.
pub(crate) fn floor_guard(
    ctx: &Context<'_>,
    lines: &mut [Line<'_, '_>],
    rejections: &mut Vec<Rejection>,
) {
    for line in lines.iter_mut() {
        let chargeable = line.request.quantity - line.included_units;
        let rounded = ctx.currency.round(line.running);
        let mut highest: Option<(Decimal, &str)> = None;
        let mut rejecting: Option<(Decimal, &str)> = None;
        for rule in ctx.rules.floors_for(&line.product.sku) {
            let unit_floor = match rule.kind {
                FloorKind::PercentOfList(p) => p.of(line.list_unit),
                FloorKind::MinMarginPercent(m) => {
                    ctx.currency.from_corporate(line.product.cost)
                        / (Decimal::ONE - m.0 / Decimal::ONE_HUNDRED)
                }
            };
            let floor = unit_floor * chargeable;
            if rounded >= floor {
                continue;
            }
            if rule.action == FloorAction::Reject && rejecting.is_none() {
                rejecting = Some((floor, &rule.id));
            }
            if highest.is_none_or(|(h, _)| floor > h) {
                highest = Some((floor, &rule.id));
            }
        }
        if let Some((floor, rule_id)) = rejecting {
            rejections.push(Rejection::new(
                line.field("discount"),
                RejectReason::BelowFloor,
                format!(
                    "line `{}` ({}) nets {} {}, below the floor {} set by rule `{rule_id}`",
                    line.request.line_id,
                    line.product.sku,
                    rounded,
                    ctx.currency.code,
                    ctx.currency.round(floor)
                ),
            ));
        } else if let Some((floor, rule_id)) = highest {
            let raised = floor.round_dp_with_strategy(
                ctx.currency.scale,
                rust_decimal::RoundingStrategy::AwayFromZero,
            );
            line.apply(
                StepKind::FloorGuard,
                rule_id,
                || format!("raised to the floor {raised}"),
                raised,
            );
        }
    }
}
