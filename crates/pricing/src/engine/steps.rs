//! Steps 2 to 7 of the waterfall. Each takes all lines because several
//! steps look across the quote (aggregated tiers, bundles, quote totals,
//! header discounts); each records its effect on every line it changes.
use rustc_hash::FxHashMap;

use quotecast_model::{
    BundleBenefit, ContractParty, FloorAction, FloorKind, Percent, QuantityAggregation, TierBasis,
    round_dp,
};
use rust_decimal::{Decimal, RoundingStrategy};

use super::{Context, Line};
use crate::{
    ManualDiscount, RejectReason, Rejection, StepKind,
    result::{RepDiscount, StepDetail},
    tier_discount,
};

/// Step 2: a contracted unit price replaces the list price; an account's
/// contract wins over its segment's.
pub(crate) fn contract_prices<'r>(ctx: &Context<'r>, lines: &mut [Line<'_, 'r>]) {
    for line in lines.iter_mut() {
        let best = line
            .rules
            .contracts
            .iter()
            .filter(|c| c.currency == ctx.currency.code && c.valid.contains(ctx.date))
            .filter_map(|c| match &c.party {
                ContractParty::Account(a) if ctx.account.is_some_and(|acc| acc.id == *a) => {
                    Some((2, c))
                }
                ContractParty::Segment(s) if ctx.segment.as_deref() == Some(s.as_str()) => {
                    Some((1, c))
                }
                _ => None,
            })
            .max_by(|(ra, a), (rb, b)| ra.cmp(rb).then_with(|| b.id.cmp(&a.id)));
        if let Some((_, contract)) = best {
            // Like the list step: the extended amount, rounded.
            let new_running = ctx.currency.round(contract.price * line.request.quantity);
            line.apply(
                StepKind::ContractPrice,
                &contract.id,
                StepDetail::ContractPrice(contract),
                new_running,
            );
        }
    }
}

/// Which lines a schedule measures together: one line, all lines of a
/// product, or all lines of a product line (by ordinal).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Group {
    Line(usize),
    Product(usize),
    ProductLine(usize),
}

/// Step 3: volume schedules. Lines that count together (by the schedule's
/// aggregation) share one measure; the discount it earns, computed once per
/// group, applies to each.
pub(crate) fn volume_discounts<'r>(ctx: &Context<'r>, lines: &mut [Line<'_, 'r>]) {
    let key = |line: &Line<'_, 'r>| {
        line.rules.schedule.map(|(index, schedule)| {
            let group = match schedule.aggregation {
                QuantityAggregation::Line => Group::Line(line.index),
                QuantityAggregation::Product => Group::Product(line.rules.ordinal),
                QuantityAggregation::ProductLine => Group::ProductLine(line.rules.line_ordinal),
            };
            (index, schedule, group)
        })
    };
    let mut groups: FxHashMap<(usize, Group), (Decimal, Percent)> = FxHashMap::default();
    for line in lines.iter() {
        if let Some((index, schedule, group)) = key(line) {
            let measure = match schedule.basis {
                TierBasis::Quantity => line.request.quantity,
                TierBasis::Amount => line.running,
            };
            groups.entry((index, group)).or_default().0 += measure;
        }
    }
    if groups.is_empty() {
        return;
    }
    let schedules = ctx.rules.schedules();
    for ((index, _), (measure, discount)) in groups.iter_mut() {
        let schedule = &schedules[*index];
        let scale = bound_scale(ctx, schedule.basis);
        *discount = tier_discount(&schedule.tiers, schedule.method, *measure, scale);
    }
    for line in lines.iter_mut() {
        let Some((index, schedule, group)) = key(line) else {
            continue;
        };
        let (measure, discount) = groups[&(index, group)];
        let new_running = line.running - discount.of(line.running);
        let scope = match group {
            Group::Line(_) => None,
            Group::Product(_) => Some(line.product.sku.as_str()),
            Group::ProductLine(_) => Some(line.product.product_line.as_str()),
        };
        line.apply(
            StepKind::VolumeDiscount,
            &schedule.id,
            StepDetail::VolumeDiscount {
                schedule,
                measure,
                bound_scale: bound_scale(ctx, schedule.basis),
                scope,
                discount,
                currency: ctx.currency,
            },
            new_running,
        );
    }
}

fn bound_scale(ctx: &Context<'_>, basis: TierBasis) -> Decimal {
    match basis {
        TierBasis::Quantity => Decimal::ONE,
        TierBasis::Amount => ctx.currency.per_corporate,
    }
}

/// Step 4: bundles. Up to `per_parent` units of the component per unit of
/// the parent on the quote get the benefit. Where component units outnumber
/// that allowance, every line of the component gets the same share, so the
/// result does not depend on line order. Rules apply in id order, each to
/// the units earlier rules left.
pub(crate) fn bundles<'r>(ctx: &Context<'r>, lines: &mut [Line<'_, 'r>]) {
    if lines.iter().all(|l| l.rules.bundles.is_empty()) {
        return;
    }
    let mut quantity_by_product = vec![Decimal::ZERO; ctx.rules.product_count()];
    for line in lines.iter() {
        quantity_by_product[line.rules.ordinal] += line.request.quantity;
    }
    for line in lines.iter_mut() {
        let component_total = quantity_by_product[line.rules.ordinal];
        // Each bundle covers its own share of the line's units, at their
        // amount before any bundle: a unit is covered by one bundle at
        // most (`remaining`), in the order the rules list them, and the
        // second bundle's units are not priced at what the first left.
        let before = line.running;
        let quantity = line.request.quantity;
        let unit_price = before / quantity;
        let mut remaining = Decimal::ONE;
        for rule in line.rules.bundles {
            let parents = match ctx.rules.product_rules(&rule.parent_sku) {
                Some(parent) if !quantity_by_product[parent.ordinal].is_zero() => {
                    quantity_by_product[parent.ordinal]
                }
                _ => continue,
            };
            let share = remaining.min(parents * rule.per_parent / component_total);
            if share <= Decimal::ZERO {
                continue;
            }
            remaining -= share;
            let units = quantity * share;
            // The covered units' amount before bundles.
            let covered = before * share;
            let (new_running, fixed_price) = match &rule.benefit {
                BundleBenefit::PercentOff(p) => (line.running - p.of(covered), None),
                BundleBenefit::FixedPrice(prices) => match prices.get(&ctx.currency.code) {
                    Some(price) if *price < unit_price => {
                        (line.running - (covered - price * units), Some(*price))
                    }
                    _ => continue,
                },
                BundleBenefit::Included => {
                    line.included_units += units;
                    (line.running - covered, None)
                }
            };
            line.apply(
                StepKind::Bundle,
                &rule.id,
                StepDetail::Bundle {
                    rule,
                    units,
                    quantity,
                    fixed_price,
                },
                new_running,
            );
        }
    }
}

/// Step 5: promotions. The eligible promotions of a line run highest
/// priority first; an exclusive one at the top applies alone, otherwise the
/// stackable ones compound and lower exclusive ones are passed over.
pub(crate) fn promotions<'r>(ctx: &Context<'r>, lines: &mut [Line<'_, 'r>]) {
    let promotions = ctx.rules.promotions();
    if promotions.is_empty() {
        return;
    }
    let quote_total: Decimal = lines.iter().map(|l| l.running).sum();
    let segment = ctx.segment.as_deref();
    let region = ctx.region.as_deref();
    // Conditions on the quote as a whole are checked once per promotion.
    let quote_eligible: Vec<bool> = promotions
        .iter()
        .map(|p| {
            let c = &p.conditions;
            p.valid.contains(ctx.date)
                && (c.segments.is_empty()
                    || segment.is_some_and(|s| c.segments.iter().any(|x| x == s)))
                && (c.regions.is_empty()
                    || region.is_some_and(|r| c.regions.iter().any(|x| x == r)))
                && c.min_quote_total
                    .is_none_or(|t| quote_total >= ctx.currency.from_corporate(t))
        })
        .collect();
    if !quote_eligible.contains(&true) {
        return;
    }
    for line in lines.iter_mut() {
        // The SKU's promotions (product condition met), in priority order.
        let mut eligible = line
            .rules
            .promotions
            .iter()
            .map(|&i| &promotions[i])
            .zip(line.rules.promotions.iter().map(|&i| quote_eligible[i]))
            .filter(|(p, quote_ok)| {
                *quote_ok
                    && p.conditions
                        .min_line_quantity
                        .is_none_or(|q| line.request.quantity >= q)
            })
            .map(|(p, _)| p);
        let Some(first) = eligible.next() else {
            continue;
        };
        let apply = |line: &mut Line<'_, 'r>, promotion: &'r quotecast_model::Promotion| {
            let new_running = line.running - promotion.discount.of(line.running);
            line.apply(
                StepKind::Promotion,
                &promotion.id,
                StepDetail::Promotion(promotion),
                new_running,
            );
        };
        apply(line, first);
        if !first.exclusive {
            for promotion in eligible.filter(|p| !p.exclusive) {
                apply(line, promotion);
            }
        }
    }
}

fn rep_discount(discount: &ManualDiscount) -> RepDiscount {
    match discount {
        ManualDiscount::Percent(p) => RepDiscount::Percent(*p),
        ManualDiscount::Amount { amount, .. } => RepDiscount::Amount(*amount),
    }
}

/// Step 6a: the rep's discount on each line.
pub(crate) fn manual_discounts<'r>(
    ctx: &Context<'r>,
    lines: &mut [Line<'_, 'r>],
    rejections: &mut Vec<Rejection>,
) {
    for line in lines.iter_mut() {
        line.before_manual = line.running;
        if let Some(discount) = &line.request.discount {
            let off = match discount {
                ManualDiscount::Percent(p) => Percent(*p).of(line.running),
                ManualDiscount::Amount { amount, .. } if *amount > line.running => {
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
                ManualDiscount::Amount { amount, .. } => *amount,
            };
            let new_running = line.running - off;
            line.apply(
                StepKind::ManualDiscount,
                "manual",
                StepDetail::ManualDiscount {
                    discount: rep_discount(discount),
                    currency: ctx.currency,
                },
                new_running,
            );
        }
        line.after_manual = line.running;
    }
}

/// Step 6b: the header discount. A percentage applies to every line; an
/// amount is spread in proportion to the lines' amounts, shares rounded to
/// the minor unit and the remainder given to the largest line (ties: the
/// lowest line id), so the shares add up to the amount exactly.
pub(crate) fn header_discount<'r>(
    ctx: &Context<'r>,
    lines: &mut [Line<'_, 'r>],
    discount: &ManualDiscount,
    rejections: &mut Vec<Rejection>,
) {
    let detail = StepDetail::HeaderDiscount {
        discount: rep_discount(discount),
        currency: ctx.currency,
    };
    let shares: Vec<Decimal> = match discount {
        ManualDiscount::Percent(p) => lines.iter().map(|l| Percent(*p).of(l.running)).collect(),
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
            // The ratio first: amount × ratio stays within the amount, where
            // amount × running could overflow.
            let mut shares: Vec<Decimal> = lines
                .iter()
                .map(|l| ctx.currency.round(*amount * (l.running / total)))
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
            shares
        }
    };
    for (line, share) in lines.iter_mut().zip(shares) {
        let new_running = line.running - share;
        line.apply(StepKind::HeaderDiscount, "manual", detail, new_running);
        line.after_manual = line.running;
    }
}

/// The least net at the currency's precision that meets `floor`: the
/// floor rounded up to the minor unit.
fn least_net(floor: Decimal, scale: u32) -> Decimal {
    let mut least = round_dp(floor, scale, RoundingStrategy::AwayFromZero);
    least.rescale(scale);
    least
}

/// Step 7: the floor guard. Of the floor rules that apply to a line, each
/// sets a lowest net (per unit, times the units not included free by a
/// bundle). A line whose rounded amount falls below a rule's floor is
/// rejected if any such rule says reject, else raised to the highest
/// floor, rounded up to the minor unit so rounding cannot undercut it.
pub(crate) fn floor_guard<'r>(
    ctx: &Context<'r>,
    lines: &mut [Line<'_, 'r>],
    rejections: &mut Vec<Rejection>,
) {
    for line in lines.iter_mut() {
        let mut floors = line.rules.floors().peekable();
        if floors.peek().is_none() {
            continue;
        }
        let chargeable = line.request.quantity - line.included_units;
        let rounded = ctx.currency.round(line.running);
        let mut highest: Option<(Decimal, &'r quotecast_model::FloorRule)> = None;
        let mut rejecting: Option<(Decimal, &'r quotecast_model::FloorRule)> = None;
        for rule in floors {
            // Compare without dividing; compute the floor only when broken.
            let floor = match rule.kind {
                FloorKind::PercentOfList(p) => {
                    let floor = p.of(line.list_unit) * chargeable;
                    if rounded >= floor {
                        continue;
                    }
                    floor
                }
                FloorKind::MinMarginPercent(m) => {
                    // margin >= m  <=>  net × (100 - m) >= cost × 100
                    let keep = Decimal::ONE_HUNDRED - m.0;
                    let cost = ctx.currency.from_corporate(line.product.cost) * chargeable;
                    if rounded * keep >= cost * Decimal::ONE_HUNDRED {
                        continue;
                    }
                    cost * Decimal::ONE_HUNDRED / keep
                }
            };
            if rule.action == FloorAction::Reject && rejecting.is_none() {
                rejecting = Some((floor, rule));
            }
            if highest.is_none_or(|(h, _)| floor > h) {
                highest = Some((floor, rule));
            }
        }
        if let Some((floor, rule)) = rejecting {
            rejections.push(Rejection::new(
                line.field("discount"),
                RejectReason::BelowFloor,
                format!(
                    "line `{}` ({}) nets {} {}, below the floor {} set by rule `{}`: the floor is compared with the rounded net, so the line must net at least {} {}",
                    line.request.line_id,
                    line.product.sku,
                    rounded,
                    ctx.currency.code,
                    floor.normalize(),
                    rule.id,
                    least_net(floor, ctx.currency.scale),
                    ctx.currency.code,
                ),
            ));
        } else if let Some((floor, rule)) = highest {
            let raised = least_net(floor, ctx.currency.scale);
            line.apply(
                StepKind::FloorGuard,
                &rule.id,
                StepDetail::FloorGuard {
                    rule,
                    floor: raised,
                },
                raised,
            );
        }
    }
}
