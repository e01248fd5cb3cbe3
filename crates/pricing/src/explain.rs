//! The sentence that explains each waterfall step, rendered on demand from
//! the step's typed detail, straight into one buffer.
use quotecast_model::{
    BundleBenefit, ContractParty, Currency, DateRange, Percent, QuantityAggregation, TextOut,
    TierBasis, TierMethod, Trimmed,
};
use rust_decimal::Decimal;

use crate::{
    result::{RepDiscount, StepDetail, WaterfallStep},
    slab_parts,
};

/// A sentence under construction: appends text and figures straight into
/// one buffer, without going through `fmt`.
struct Sentence<'a, O: ?Sized>(&'a mut O);

impl<O: TextOut + ?Sized> Sentence<'_, O> {
    fn text(&mut self, text: &str) -> &mut Self {
        self.0.push_str(text);
        self
    }

    /// A decimal with trailing zeros dropped down to `min_scale` decimals.
    fn num(&mut self, value: Decimal, min_scale: u32) -> &mut Self {
        Trimmed(value, min_scale).push_to(self.0);
        self
    }

    /// A decimal exactly as written in the rules ("1299.00" stays so).
    fn exact(&mut self, value: Decimal) -> &mut Self {
        self.num(value, value.scale())
    }

    fn percent(&mut self, value: Percent) -> &mut Self {
        value.push_to(self.0);
        self
    }

    fn dates(&mut self, valid: DateRange) -> &mut Self {
        valid.push_to(self.0);
        self
    }

    fn money(&mut self, amount: Decimal, currency: &Currency) -> &mut Self {
        self.num(amount, currency.scale)
            .text(" ")
            .text(currency.code.as_str())
    }

    fn rep(&mut self, discount: RepDiscount, currency: &Currency) -> &mut Self {
        match discount {
            RepDiscount::Percent(p) => self.num(p, 0).text("%"),
            RepDiscount::Amount(a) => self.money(a, currency),
        }
    }
}

impl WaterfallStep<'_> {
    /// What this step did and why, in a sentence.
    pub fn explanation(&self) -> String {
        let mut out = String::with_capacity(96);
        self.push_explanation(&mut out);
        out
    }

    /// Appends [`Self::explanation`] to `out`.
    pub fn push_explanation(&self, out: &mut (impl TextOut + ?Sized)) {
        let s = &mut Sentence(out);
        match self.detail {
            StepDetail::ListPrice {
                entry,
                quantity,
                rounded_from,
            } => {
                s.num(quantity, 0)
                    .text(" × ")
                    .exact(entry.price)
                    .text(" list price (")
                    .dates(entry.valid)
                    .text(")");
                if let Some(exact) = rounded_from {
                    s.text(" = ")
                        .exact(exact.normalize())
                        .text(", rounded to the currency");
                }
            }
            StepDetail::ContractPrice(c) => {
                s.text("contract price ").exact(c.price).text(" for ");
                match &c.party {
                    ContractParty::Account(a) => s.text("account ").text(a),
                    ContractParty::Segment(seg) => s.text("segment ").text(seg),
                };
                s.text(" (").dates(c.valid).text(")");
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
                    TierBasis::Quantity => s.num(measure, 0).text(" units "),
                    TierBasis::Amount => s.money(measure, currency).text(" "),
                };
                match (schedule.aggregation, scope) {
                    (QuantityAggregation::Product, Some(sku)) => {
                        s.text("of ").text(sku).text(" on the quote")
                    }
                    (QuantityAggregation::ProductLine, Some(line)) => s
                        .text("on the quote's lines of product line ")
                        .text(line)
                        .text(" that this schedule prices"),
                    _ => s.text("on this line"),
                };
                match schedule.method {
                    TierMethod::Range => {
                        s.text("; range tier reached: ")
                            .percent(discount)
                            .text(" off");
                    }
                    TierMethod::Slab => {
                        s.text("; slabs ");
                        let parts = slab_parts(&schedule.tiers, measure, bound_scale);
                        for (n, (i, part)) in parts.enumerate() {
                            if n > 0 {
                                s.text(", ");
                            }
                            s.num(part, 0)
                                .text(" at ")
                                .percent(schedule.tiers[i].discount);
                        }
                        s.text(" = ")
                            .num(discount.0.round_dp(4), 0)
                            .text("% blended");
                    }
                }
            }
            StepDetail::Bundle {
                rule,
                units,
                quantity,
                fixed_price,
            } => {
                s.num(units.round_dp(4), 0)
                    .text(" of ")
                    .num(quantity, 0)
                    .text(" units bought with ")
                    .text(&rule.parent_sku)
                    .text(": ");
                match (&rule.benefit, fixed_price) {
                    (BundleBenefit::PercentOff(p), _) => s.percent(*p).text(" off"),
                    (BundleBenefit::FixedPrice(_), Some(price)) => {
                        s.text("at ").exact(price).text(" each")
                    }
                    (BundleBenefit::FixedPrice(_), None) => s.text("at the bundle price"),
                    (BundleBenefit::Included, _) => s.text("included at zero"),
                };
            }
            StepDetail::Promotion(p) => {
                let kind = if p.exclusive {
                    "exclusive"
                } else {
                    "stackable"
                };
                s.text(&p.name)
                    .text(": ")
                    .percent(p.discount)
                    .text(" off (")
                    .text(kind)
                    .text(", priority ")
                    .num(Decimal::from(p.priority), 0)
                    .text(")");
            }
            StepDetail::ManualDiscount { discount, currency } => {
                s.text("rep discount ").rep(discount, currency);
            }
            StepDetail::HeaderDiscount { discount, currency } => {
                s.text(match discount {
                    RepDiscount::Percent(_) => "quote discount ",
                    RepDiscount::Amount(_) => "share of quote discount ",
                })
                .rep(discount, currency);
            }
            StepDetail::FloorGuard { rule, floor } => {
                s.text("raised to the floor ")
                    .exact(floor)
                    .text(" (")
                    .text(&rule.name)
                    .text(")");
            }
            StepDetail::Rounding { exact, scale, mode } => {
                s.text("rounded ")
                    .num(exact, 0)
                    .text(" to ")
                    .num(Decimal::from(scale), 0)
                    .text(" decimals (")
                    .text(mode.name())
                    .text(")");
            }
        }
    }
}
