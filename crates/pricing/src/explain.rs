//! The sentence that explains each waterfall step, rendered on demand from
//! the step's typed detail, straight into one buffer.
use std::fmt::{self, Write};

use quotecast_model::{
    BundleBenefit, ContractParty, Currency, QuantityAggregation, TierBasis, TierMethod, Trimmed,
};

use crate::{
    result::{RepDiscount, StepDetail, WaterfallStep},
    tier_discount,
};

fn rep(out: &mut impl Write, discount: RepDiscount, currency: &Currency) -> fmt::Result {
    match discount {
        RepDiscount::Percent(p) => write!(out, "{}%", Trimmed(p, 0)),
        RepDiscount::Amount(a) => write!(out, "{} {}", Trimmed(a, currency.scale), currency.code),
    }
}

impl WaterfallStep<'_> {
    /// What this step did and why, in a sentence.
    pub fn explanation(&self) -> String {
        let mut out = String::with_capacity(96);
        // Writing into a String cannot fail.
        let _ = self.write_explanation(&mut out);
        out
    }

    /// Writes [`Self::explanation`] into `out`.
    pub fn write_explanation(&self, out: &mut impl Write) -> fmt::Result {
        match self.detail {
            StepDetail::ListPrice { entry, quantity } => write!(
                out,
                "{} × {} list price ({})",
                Trimmed(quantity, 0),
                entry.price,
                entry.valid
            ),
            StepDetail::ContractPrice(c) => {
                write!(out, "contract price {} for ", c.price)?;
                match &c.party {
                    ContractParty::Account(a) => write!(out, "account {a}")?,
                    ContractParty::Segment(s) => write!(out, "segment {s}")?,
                }
                write!(out, " ({})", c.valid)
            }
            StepDetail::VolumeDiscount {
                schedule,
                measure,
                bound_scale,
                scope,
                discount,
                currency,
            } => {
                match schedule.basis {
                    TierBasis::Quantity => write!(out, "{} units ", Trimmed(measure, 0))?,
                    TierBasis::Amount => write!(
                        out,
                        "{} {} ",
                        Trimmed(measure, currency.scale),
                        currency.code
                    )?,
                }
                match (schedule.aggregation, scope) {
                    (QuantityAggregation::Product, Some(s)) => write!(out, "of {s} on the quote")?,
                    (QuantityAggregation::ProductLine, Some(s)) => {
                        write!(out, "in product line {s} on the quote")?
                    }
                    _ => out.write_str("on this line")?,
                }
                match schedule.method {
                    TierMethod::Range => write!(out, "; range tier reached: {discount} off"),
                    TierMethod::Slab => {
                        out.write_str("; slabs ")?;
                        let (_, parts) =
                            tier_discount(&schedule.tiers, schedule.method, measure, bound_scale);
                        for (n, (i, part)) in parts.iter().enumerate() {
                            if n > 0 {
                                out.write_str(", ")?;
                            }
                            write!(
                                out,
                                "{} at {}",
                                Trimmed(*part, 0),
                                schedule.tiers[*i].discount
                            )?;
                        }
                        write!(out, " = {}% blended", Trimmed(discount.0.round_dp(4), 0))
                    }
                }
            }
            StepDetail::Bundle {
                rule,
                units,
                quantity,
                fixed_price,
            } => {
                write!(
                    out,
                    "{} of {} units bought with {}: ",
                    Trimmed(units.round_dp(4), 0),
                    Trimmed(quantity, 0),
                    rule.parent_sku
                )?;
                match (&rule.benefit, fixed_price) {
                    (BundleBenefit::PercentOff(p), _) => write!(out, "{p} off"),
                    (BundleBenefit::FixedPrice(_), Some(price)) => write!(out, "at {price} each"),
                    (BundleBenefit::FixedPrice(_), None) => out.write_str("at the bundle price"),
                    (BundleBenefit::Included, _) => out.write_str("included at zero"),
                }
            }
            StepDetail::Promotion(p) => {
                let kind = if p.exclusive {
                    "exclusive"
                } else {
                    "stackable"
                };
                write!(
                    out,
                    "{}: {} off ({kind}, priority {})",
                    p.name, p.discount, p.priority
                )
            }
            StepDetail::ManualDiscount { discount, currency } => {
                out.write_str("rep discount ")?;
                rep(out, discount, currency)
            }
            StepDetail::HeaderDiscount { discount, currency } => {
                out.write_str(match discount {
                    RepDiscount::Percent(_) => "quote discount ",
                    RepDiscount::Amount(_) => "share of quote discount ",
                })?;
                rep(out, discount, currency)
            }
            StepDetail::FloorGuard { rule, floor } => {
                write!(out, "raised to the floor {floor} ({})", rule.name)
            }
            StepDetail::Rounding { exact, scale, mode } => write!(
                out,
                "rounded {} to {scale} decimals ({})",
                Trimmed(exact, 0),
                mode.name()
            ),
        }
    }
}
