//! The sentence that explains each waterfall step, rendered on demand from
//! the step's typed detail.
use quotecast_model::{BundleBenefit, ContractParty, QuantityAggregation, TierBasis, TierMethod};

use crate::{
    result::{RepDiscount, StepDetail, WaterfallStep},
    tier_discount,
};

fn rep(discount: RepDiscount, currency: &str) -> String {
    match discount {
        RepDiscount::Percent(p) => format!("{}%", p.normalize()),
        RepDiscount::Amount(a) => format!("{} {currency}", a.normalize()),
    }
}

impl WaterfallStep<'_> {
    /// What this step did and why, in a sentence.
    pub fn explanation(&self) -> String {
        match self.detail {
            StepDetail::ListPrice { entry, quantity } => {
                format!("{} × {} list price ({})", quantity.normalize(), entry.price, entry.valid)
            }
            StepDetail::ContractPrice(c) => {
                let party = match &c.party {
                    ContractParty::Account(a) => format!("account {a}"),
                    ContractParty::Segment(s) => format!("segment {s}"),
                };
                format!("contract price {} for {party} ({})", c.price, c.valid)
            }
            StepDetail::VolumeDiscount {
                schedule,
                measure,
                bound_scale,
                scope,
                discount,
                currency,
            } => {
                let what = match schedule.basis {
                    TierBasis::Quantity => format!("{} units", measure.normalize()),
                    TierBasis::Amount => format!("{} {currency}", measure.normalize()),
                };
                let scope = match (schedule.aggregation, scope) {
                    (QuantityAggregation::Product, Some(s)) => format!("of {s} on the quote"),
                    (QuantityAggregation::ProductLine, Some(s)) => {
                        format!("in product line {s} on the quote")
                    }
                    _ => "on this line".to_owned(),
                };
                let how = match schedule.method {
                    TierMethod::Range => format!("range tier reached: {discount} off"),
                    TierMethod::Slab => {
                        let (_, parts) =
                            tier_discount(&schedule.tiers, schedule.method, measure, bound_scale);
                        let slabs: Vec<String> = parts
                            .iter()
                            .map(|(i, part)| {
                                format!("{} at {}", part.normalize(), schedule.tiers[*i].discount)
                            })
                            .collect();
                        format!(
                            "slabs {} = {}% blended",
                            slabs.join(", "),
                            discount.0.round_dp(4).normalize()
                        )
                    }
                };
                format!("{what} {scope}; {how}")
            }
            StepDetail::Bundle {
                rule,
                units,
                quantity,
                fixed_price,
            } => {
                let benefit = match (&rule.benefit, fixed_price) {
                    (BundleBenefit::PercentOff(p), _) => format!("{p} off"),
                    (BundleBenefit::FixedPrice(_), Some(price)) => format!("at {price} each"),
                    (BundleBenefit::FixedPrice(_), None) => "at the bundle price".to_owned(),
                    (BundleBenefit::Included, _) => "included at zero".to_owned(),
                };
                format!(
                    "{} of {} units bought with {}: {benefit}",
                    units.round_dp(4).normalize(),
                    quantity.normalize(),
                    rule.parent_sku
                )
            }
            StepDetail::Promotion(p) => {
                let kind = if p.exclusive { "exclusive" } else { "stackable" };
                format!("{}: {} off ({kind}, priority {})", p.name, p.discount, p.priority)
            }
            StepDetail::ManualDiscount { discount, currency } => {
                format!("rep discount {}", rep(discount, currency.as_str()))
            }
            StepDetail::HeaderDiscount { discount, currency } => match discount {
                RepDiscount::Percent(_) => {
                    format!("quote discount {}", rep(discount, currency.as_str()))
                }
                RepDiscount::Amount(_) => format!(
                    "share of quote discount {}",
                    rep(discount, currency.as_str())
                ),
            },
            StepDetail::FloorGuard { rule, floor } => {
                format!("raised to the floor {floor} ({})", rule.name)
            }
            StepDetail::Rounding { exact, scale, mode } => format!(
                "rounded {} to {scale} decimals ({})",
                exact.normalize(),
                mode.name()
            ),
        }
    }
}
