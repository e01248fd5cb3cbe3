//! The sentence that explains each waterfall step, rendered on demand from
//! the step's typed detail, straight into one buffer.
use quotecast_model::{
    BundleBenefit, ContractParty, Currency, DateRange, DiscountSchedule, Percent,
    QuantityAggregation, TextOut, TierBasis, TierMethod, Trimmed,
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

impl<O: TextOut + ?Sized> Sentence<'_, O> {
    /// What a volume schedule measured: units or an amount, of one SKU or
    /// product line on the quote, or of this line.
    fn measured(
        &mut self,
        schedule: &DiscountSchedule,
        measure: Decimal,
        scope: Option<&str>,
        currency: &Currency,
    ) -> &mut Self {
        match schedule.basis {
            TierBasis::Quantity => self.num(measure, 0).text(" units "),
            TierBasis::Amount => self.money(measure, currency).text(" "),
        };
        match (schedule.aggregation, scope) {
            (QuantityAggregation::Product, Some(sku)) => {
                self.text("of ").text(sku).text(" on the quote")
            }
            (QuantityAggregation::ProductLine, Some(line)) => self
                .text("on the quote's lines of product line ")
                .text(line)
                .text(" that this schedule prices"),
            _ => self.text("on this line"),
        }
    }

    /// The tier a range schedule reached, or each slab's part and the
    /// blended discount.
    fn tiers_reached(
        &mut self,
        schedule: &DiscountSchedule,
        measure: Decimal,
        bound_scale: Decimal,
        discount: Percent,
    ) -> &mut Self {
        match schedule.method {
            TierMethod::Range => self
                .text("; range tier reached: ")
                .percent(discount)
                .text(" off"),
            TierMethod::Slab => {
                self.text("; slabs ");
                let parts = slab_parts(&schedule.tiers, measure, bound_scale);
                for (n, (i, part)) in parts.enumerate() {
                    if n > 0 {
                        self.text(", ");
                    }
                    self.num(part, 0)
                        .text(" at ")
                        .percent(schedule.tiers[i].discount);
                }
                self.text(" = ")
                    .num(discount.0.round_dp(4), 0)
                    .text("% blended")
            }
        }
    }

    /// What a bundle gives the units bought with its parent.
    fn benefit(&mut self, benefit: &BundleBenefit, fixed_price: Option<Decimal>) -> &mut Self {
        match (benefit, fixed_price) {
            (BundleBenefit::PercentOff(p), _) => self.percent(*p).text(" off"),
            (BundleBenefit::FixedPrice(_), Some(price)) => {
                self.text("at ").exact(price).text(" each")
            }
            (BundleBenefit::FixedPrice(_), None) => self.text("at the bundle price"),
            (BundleBenefit::Included, _) => self.text("included at zero"),
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
                s.measured(schedule, measure, scope, currency)
                    .tiers_reached(schedule, measure, bound_scale, discount);
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
                s.benefit(&rule.benefit, fixed_price);
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
