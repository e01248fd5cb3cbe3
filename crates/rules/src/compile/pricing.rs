//! Pricing rules (contracts, volume schedules, bundles, promotions,
//! floors) and approval rules.
use std::collections::BTreeMap;

use quotecast_model::{
    ApprovalCondition, ApprovalLevel, ApprovalRule, BundleBenefit, BundleRule, ContractParty,
    ContractPrice, CurrencyCode, DiscountSchedule, FloorAction, FloorKind, FloorRule, Percent,
    Promotion, PromotionConditions, QuantityAggregation, RuleSetParts, Tier, TierBasis, TierMethod,
};
use rust_decimal::Decimal;

use super::Compiler;
use crate::format::{ParsedFile, ScheduleDef};

const METHODS: &[(&str, TierMethod)] = &[("slab", TierMethod::Slab), ("range", TierMethod::Range)];
const BASES: &[(&str, TierBasis)] = &[
    ("quantity", TierBasis::Quantity),
    ("amount", TierBasis::Amount),
];
const AGGREGATIONS: &[(&str, QuantityAggregation)] = &[
    ("line", QuantityAggregation::Line),
    ("product", QuantityAggregation::Product),
    ("product_line", QuantityAggregation::ProductLine),
];
const ACTIONS: &[(&str, FloorAction)] = &[
    ("clamp", FloorAction::Clamp),
    ("reject", FloorAction::Reject),
];

pub(super) fn compile(c: &mut Compiler<'_>, files: &[ParsedFile<'_>], parts: &mut RuleSetParts) {
    let mut schedule_lines = BTreeMap::new();
    for f in files {
        contracts(c, f, parts);
        for r in &f.schedules {
            if !c.define(f, r.line, "volume schedule", &r.value.id) {
                continue;
            }
            if let Some(s) = schedule(c, f, r.line, &r.value) {
                schedule_lines.insert(s.id.clone(), (f, r.line));
                parts.schedules.push(s);
            }
        }
        bundles(c, f, parts);
        promotions(c, f, parts);
        floors(c, f, parts);
        approvals(c, f, parts);
    }
    ambiguous_schedules(c, parts, &schedule_lines);
}

fn contracts(c: &mut Compiler<'_>, f: &ParsedFile<'_>, parts: &mut RuleSetParts) {
    for r in &f.contract_prices {
        let d = &r.value;
        if !c.define(f, r.line, "contract price", &d.id) {
            continue;
        }
        let owner = format!("contract price `{}`", d.id);
        let party = match (&d.account, &d.segment) {
            (Some(a), None) => {
                let known = c.known.accounts.contains(a);
                c.check_ref(f, r.line, &owner, "account", a, known)
                    .then(|| ContractParty::Account(a.clone()))
            }
            (None, Some(s)) => {
                let known = c.known.segments.contains(s);
                c.check_ref(f, r.line, &owner, "segment", s, known)
                    .then(|| ContractParty::Segment(s.clone()))
            }
            _ => {
                c.report(
                    f,
                    r.line,
                    format!("{owner}: name exactly one of account or segment"),
                );
                None
            }
        };
        let sku_known = c.known.products.contains_key(&d.sku);
        c.check_ref(f, r.line, &owner, "SKU", &d.sku, sku_known);
        let cur_known = c.known.currencies.contains_key(&d.currency);
        c.check_ref(f, r.line, &owner, "currency", &d.currency, cur_known);
        c.non_negative(f, r.line, &owner, d.price.0);
        let valid = c.range(f, r.line, &owner, &d.from, d.to.as_deref());
        if let (Some(party), Some(valid), Ok(currency), true) = (
            party,
            valid,
            CurrencyCode::new(&d.currency),
            sku_known && cur_known,
        ) {
            parts.contract_prices.push(ContractPrice {
                id: d.id.clone(),
                party,
                sku: d.sku.clone(),
                currency,
                price: d.price.0,
                valid,
            });
        }
    }
}

fn schedule(
    c: &mut Compiler<'_>,
    f: &ParsedFile<'_>,
    line: usize,
    d: &ScheduleDef,
) -> Option<DiscountSchedule> {
    let owner = format!("volume schedule `{}`", d.id);
    let method = c.choice(f, line, &owner, "method", &d.method, METHODS);
    let basis = c.choice(f, line, &owner, "basis", &d.basis, BASES);
    let aggregation = c.choice(f, line, &owner, "aggregate", &d.aggregate, AGGREGATIONS);
    let applies_to = c.selector(f, line, &owner, &d.applies_to);
    let mut tiers = Vec::with_capacity(d.tiers.len());
    let mut ok = true;
    if d.tiers.is_empty() {
        c.report(f, line, format!("{owner}: has no tiers"));
        ok = false;
    }
    for (i, t) in d.tiers.iter().enumerate() {
        let n = i + 1;
        let discount = c.percent(f, line, &format!("{owner} tier {n}"), t.percent.0);
        for bound in std::iter::once(t.from).chain(t.to) {
            ok &= c.non_negative(f, line, &format!("{owner} tier {n}"), bound.0);
        }
        if i == 0 && t.from.0 != Decimal::ZERO {
            c.report(
                f,
                line,
                format!("{owner}: tier 1 must start at 0 so every quantity falls in a tier"),
            );
            ok = false;
        }
        if let Some(to) = t.to
            && to.0 <= t.from.0
        {
            c.report(
                f,
                line,
                format!(
                    "{owner}: tier {n} ends ({}) at or before it starts ({})",
                    to.0, t.from.0
                ),
            );
            ok = false;
        }
        if let (Some(prev), _) = (i.checked_sub(1).map(|p| &d.tiers[p]), t.to) {
            match prev.to {
                Some(prev_to) if t.from.0 < prev_to.0 => {
                    c.report(
                        f,
                        line,
                        format!(
                            "{owner}: tier {n} (from {}) overlaps tier {i} (to {})",
                            t.from.0, prev_to.0
                        ),
                    );
                    ok = false;
                }
                Some(prev_to) if t.from.0 > prev_to.0 => {
                    c.report(
                        f,
                        line,
                        format!(
                            "{owner}: gap between tier {i} (to {}) and tier {n} (from {})",
                            prev_to.0, t.from.0
                        ),
                    );
                    ok = false;
                }
                None => {
                    c.report(
                        f,
                        line,
                        format!("{owner}: tier {i} is open-ended but tier {n} follows it"),
                    );
                    ok = false;
                }
                _ => {}
            }
        }
        if let Some(discount) = discount {
            tiers.push(Tier {
                from: t.from.0,
                to: t.to.map(|x| x.0),
                discount,
            });
        } else {
            ok = false;
        }
    }
    if d.tiers.last().is_some_and(|t| t.to.is_some()) {
        c.report(
            f,
            line,
            format!("{owner}: the last tier must be open-ended (no `to`)"),
        );
        ok = false;
    }
    Some(DiscountSchedule {
        id: d.id.clone(),
        name: d.name.clone(),
        method: method?,
        basis: basis?,
        aggregation: aggregation?,
        applies_to,
        tiers: ok.then_some(tiers)?,
    })
}

/// Two schedules that apply to the same product with the same specificity
/// would make its discount depend on rule order: refuse.
fn ambiguous_schedules(
    c: &mut Compiler<'_>,
    parts: &RuleSetParts,
    lines: &BTreeMap<String, (&ParsedFile<'_>, usize)>,
) {
    for product in &parts.products {
        let mut best: Option<(u8, &DiscountSchedule)> = None;
        for s in parts
            .schedules
            .iter()
            .filter(|s| s.applies_to.matches(product))
        {
            let spec = s.applies_to.specificity(product);
            match best {
                Some((b, other)) if b == spec => {
                    if let Some((f, line)) = lines.get(&s.id) {
                        let message = format!(
                            "volume schedule `{}` and `{}` both apply to SKU `{}` equally specifically; make one name the SKU",
                            other.id, s.id, product.sku
                        );
                        c.report(f, *line, message);
                    }
                }
                Some((b, _)) if b > spec => {}
                _ => best = Some((spec, s)),
            }
        }
    }
}

fn bundles(c: &mut Compiler<'_>, f: &ParsedFile<'_>, parts: &mut RuleSetParts) {
    for r in &f.bundles {
        let d = &r.value;
        if !c.define(f, r.line, "bundle", &d.id) {
            continue;
        }
        let owner = format!("bundle `{}`", d.id);
        let parent = c.known.products.contains_key(&d.parent);
        let component = c.known.products.contains_key(&d.component);
        c.check_ref(f, r.line, &owner, "parent SKU", &d.parent, parent);
        c.check_ref(f, r.line, &owner, "component SKU", &d.component, component);
        if d.parent == d.component {
            c.report(
                f,
                r.line,
                format!("{owner}: a SKU cannot be bundled with itself"),
            );
        }
        let per_parent = d.per_parent.map_or(Decimal::ONE, |p| p.0);
        if per_parent <= Decimal::ZERO || !c.non_negative(f, r.line, &owner, per_parent) {
            c.report(f, r.line, format!("{owner}: per_parent must be positive"));
        }
        let benefit = match (&d.percent_off, &d.fixed_price, d.included) {
            (Some(p), None, false) => c
                .percent(f, r.line, &owner, p.0)
                .map(BundleBenefit::PercentOff),
            (None, Some(prices), false) => {
                let mut map = BTreeMap::new();
                for (code, price) in prices {
                    let known = c.known.currencies.contains_key(code);
                    c.check_ref(f, r.line, &owner, "currency", code, known);
                    c.non_negative(f, r.line, &owner, price.0);
                    if let Ok(code) = CurrencyCode::new(code) {
                        map.insert(code, price.0);
                    }
                }
                Some(BundleBenefit::FixedPrice(map))
            }
            (None, None, true) => Some(BundleBenefit::Included),
            _ => {
                c.report(
                    f,
                    r.line,
                    format!(
                        "{owner}: give exactly one of percent_off, fixed_price or included = true"
                    ),
                );
                None
            }
        };
        if let (Some(benefit), true) = (benefit, parent && component && per_parent > Decimal::ZERO)
        {
            parts.bundles.push(BundleRule {
                id: d.id.clone(),
                name: d.name.clone(),
                parent_sku: d.parent.clone(),
                component_sku: d.component.clone(),
                per_parent,
                benefit,
            });
        }
    }
}

fn promotions(c: &mut Compiler<'_>, f: &ParsedFile<'_>, parts: &mut RuleSetParts) {
    for r in &f.promotions {
        let d = &r.value;
        if !c.define(f, r.line, "promotion", &d.id) {
            continue;
        }
        let owner = format!("promotion `{}`", d.id);
        for s in &d.segments {
            let known = c.known.segments.contains(s);
            c.check_ref(f, r.line, &owner, "segment", s, known);
        }
        for reg in &d.regions {
            let known = c.known.regions.contains(reg);
            c.check_ref(f, r.line, &owner, "region", reg, known);
        }
        let products = c.selector(f, r.line, &owner, &d.applies_to);
        for bound in [d.min_line_quantity, d.min_quote_total]
            .into_iter()
            .flatten()
        {
            c.non_negative(f, r.line, &owner, bound.0);
        }
        let discount = c.percent(f, r.line, &owner, d.percent.0);
        let valid = c.range(f, r.line, &owner, &d.from, d.to.as_deref());
        if let (Some(discount), Some(valid)) = (discount, valid) {
            parts.promotions.push(Promotion {
                id: d.id.clone(),
                name: d.name.clone(),
                valid,
                conditions: PromotionConditions {
                    segments: d.segments.clone(),
                    regions: d.regions.clone(),
                    products,
                    min_line_quantity: d.min_line_quantity.map(|q| q.0),
                    min_quote_total: d.min_quote_total.map(|t| t.0),
                },
                discount,
                priority: d.priority,
                exclusive: d.exclusive,
            });
        }
    }
}

fn floors(c: &mut Compiler<'_>, f: &ParsedFile<'_>, parts: &mut RuleSetParts) {
    for r in &f.floors {
        let d = &r.value;
        if !c.define(f, r.line, "floor", &d.id) {
            continue;
        }
        let owner = format!("floor `{}`", d.id);
        let applies_to = c.selector(f, r.line, &owner, &d.applies_to);
        let action = c.choice(f, r.line, &owner, "action", &d.action, ACTIONS);
        let kind = match (d.min_percent_of_list, d.min_margin_percent) {
            (Some(p), None) => c
                .percent(f, r.line, &owner, p.0)
                .map(FloorKind::PercentOfList),
            // At most 99 %: the floor is cost × 100 / (100 - m), so this
            // bounds it to 100 times the cost.
            (None, Some(m)) if m.0 > Decimal::from(99) || m.0 < Decimal::ZERO => {
                c.report(
                    f,
                    r.line,
                    format!("{owner}: min_margin_percent must be from 0 to 99"),
                );
                None
            }
            (None, Some(m)) => Some(FloorKind::MinMarginPercent(Percent(m.0))),
            _ => {
                c.report(
                    f,
                    r.line,
                    format!(
                        "{owner}: give exactly one of min_percent_of_list or min_margin_percent"
                    ),
                );
                None
            }
        };
        if let (Some(kind), Some(action)) = (kind, action) {
            parts.floors.push(FloorRule {
                id: d.id.clone(),
                name: d.name.clone(),
                applies_to,
                kind,
                action,
            });
        }
    }
}

fn approvals(c: &mut Compiler<'_>, f: &ParsedFile<'_>, parts: &mut RuleSetParts) {
    for r in &f.approval_levels {
        let d = &r.value;
        if let Some(other) = parts.approval_levels.iter().find(|l| l.rank == d.rank) {
            let message = format!(
                "approval level `{}` has the same rank {} as `{}`",
                d.id, d.rank, other.id
            );
            c.report(f, r.line, message);
            continue;
        }
        parts.approval_levels.push(ApprovalLevel {
            id: d.id.clone(),
            name: d.name.clone(),
            rank: d.rank,
        });
    }
    for r in &f.approval_rules {
        let d = &r.value;
        if !c.define(f, r.line, "approval rule", &d.id) {
            continue;
        }
        let owner = format!("approval rule `{}`", d.id);
        let known = c.known.approval_levels.contains(&d.level);
        c.check_ref(f, r.line, &owner, "approval level", &d.level, known);
        let mut refs_known = known;
        let conditions: Vec<Option<ApprovalCondition>> = vec![
            d.line_discount_above
                .and_then(|p| c.percent(f, r.line, &owner, p.0))
                .map(ApprovalCondition::LineDiscountAbove),
            d.manual_discount_above
                .and_then(|p| c.percent(f, r.line, &owner, p.0))
                .map(ApprovalCondition::ManualDiscountAbove),
            d.quote_discount_above
                .and_then(|p| c.percent(f, r.line, &owner, p.0))
                .map(ApprovalCondition::QuoteDiscountAbove),
            d.margin_below
                .map(|p| ApprovalCondition::MarginBelow(Percent(p.0))),
            d.net_total_above
                .filter(|a| c.non_negative(f, r.line, &owner, a.0))
                .map(|a| ApprovalCondition::NetTotalAbove(a.0)),
            d.line_below_floor
                .filter(|below| *below)
                .map(|_| ApprovalCondition::LineBelowFloor),
            d.product_line_present.as_ref().map(|pl| {
                let pl_known = c.known.product_lines.contains(pl);
                refs_known &= c.check_ref(f, r.line, &owner, "product line", pl, pl_known);
                ApprovalCondition::ProductLinePresent(pl.clone())
            }),
        ];
        let given: Vec<ApprovalCondition> = conditions.into_iter().flatten().collect();
        if given.len() != 1 {
            c.report(
                f,
                r.line,
                format!(
                    "{owner}: give exactly one condition (line_discount_above, manual_discount_above, quote_discount_above, margin_below, net_total_above, line_below_floor = true or product_line_present)"
                ),
            );
            continue;
        }
        if refs_known && let Some(condition) = given.into_iter().next() {
            parts.approval_rules.push(ApprovalRule {
                id: d.id.clone(),
                name: d.name.clone(),
                level: d.level.clone(),
                condition,
            });
        }
    }
}
