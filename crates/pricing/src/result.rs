//! What the engine returns: priced lines with their waterfalls, totals,
//! subtotals and the approval outcome. Results borrow names and rules from
//! the rule set they were priced with, so pricing builds no strings; the
//! sentence explaining a step is rendered only when asked for.
use chrono::NaiveDate;
use quotecast_model::{
    BundleRule, ContractPrice, Currency, CurrencyCode, DiscountSchedule, FloorRule, Percent,
    PriceEntry, Promotion, RoundingMode,
};
use rust_decimal::Decimal;

use crate::PartOf;

/// The steps of the price waterfall, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StepKind {
    ListPrice,
    ContractPrice,
    VolumeDiscount,
    Bundle,
    Promotion,
    ManualDiscount,
    HeaderDiscount,
    FloorGuard,
    Rounding,
}

impl StepKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::ListPrice => "list_price",
            Self::ContractPrice => "contract_price",
            Self::VolumeDiscount => "volume_discount",
            Self::Bundle => "bundle",
            Self::Promotion => "promotion",
            Self::ManualDiscount => "manual_discount",
            Self::HeaderDiscount => "header_discount",
            Self::FloorGuard => "floor_guard",
            Self::Rounding => "rounding",
        }
    }
}

/// A discount the rep typed: percent, or amount in the quote's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepDiscount {
    Percent(Decimal),
    Amount(Decimal),
}

/// Why a step changed the line: the rule that fired and the figures it used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepDetail<'r> {
    ListPrice {
        entry: &'r PriceEntry,
        quantity: Decimal,
        /// Price × quantity before rounding to the currency, where it had
        /// more decimals (a fractional quantity).
        rounded_from: Option<Decimal>,
    },
    ContractPrice(&'r ContractPrice),
    VolumeDiscount {
        schedule: &'r DiscountSchedule,
        /// The quantity or amount the tiers measured.
        measure: Decimal,
        /// Tier bounds were multiplied by this (the currency's rate for
        /// amount tiers, 1 for quantities).
        bound_scale: Decimal,
        /// The SKU or product line measured together; `None` for one line.
        scope: Option<&'r str>,
        discount: Percent,
        currency: &'r Currency,
    },
    Bundle {
        rule: &'r BundleRule,
        /// Units of this line that got the benefit.
        units: Decimal,
        quantity: Decimal,
        /// The fixed unit price, for fixed-price bundles.
        fixed_price: Option<Decimal>,
    },
    Promotion(&'r Promotion),
    ManualDiscount {
        discount: RepDiscount,
        currency: &'r Currency,
    },
    HeaderDiscount {
        discount: RepDiscount,
        currency: &'r Currency,
    },
    FloorGuard {
        rule: &'r FloorRule,
        floor: Decimal,
    },
    Rounding {
        exact: Decimal,
        scale: u32,
        mode: RoundingMode,
    },
}

/// One step that changed a line's extended amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaterfallStep<'r> {
    pub step: StepKind,
    /// The rule that fired: a price entry, contract, schedule, bundle,
    /// promotion or floor id; `manual` for the rep's discounts; the
    /// currency code for rounding.
    pub rule_id: &'r str,
    /// Change of the extended amount (negative for a discount); for the
    /// list-price step, the list extended amount itself.
    pub amount: Decimal,
    /// Extended amount after this step (exact until the rounding step).
    pub running_total: Decimal,
    pub detail: StepDetail<'r>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine<'r> {
    pub line_id: String,
    /// For an option of a configured line: that line and how the option
    /// got into its configuration.
    pub part_of: Option<PartOf>,
    pub sku: &'r str,
    pub name: &'r str,
    pub product_line: &'r str,
    pub quantity: Decimal,
    pub list_unit_price: Decimal,
    pub list_extended: Decimal,
    /// Net extended / quantity, rounded to the currency.
    pub net_unit_price: Decimal,
    /// The authoritative line amount, rounded to the currency.
    pub net_extended: Decimal,
    pub cost_extended: Decimal,
    /// The line's amount before the rep's manual and header discounts.
    pub before_rep_discount: Decimal,
    /// The line's amount after them (before the floor guard).
    pub after_rep_discount: Decimal,
    pub waterfall: Vec<WaterfallStep<'r>>,
}

/// Whether `part / whole` exceeds `limit`, by cross-multiplication (exact,
/// no division); false when `whole` is not positive.
pub(crate) fn share_exceeds(part: Decimal, whole: Decimal, limit: Percent) -> bool {
    whole > Decimal::ZERO && part * Decimal::ONE_HUNDRED > limit.0 * whole
}

/// The line's percentages are for display: each is rounded to two decimals
/// (half away from zero), exactly, from the line's amounts.
impl PricedLine<'_> {
    /// Discount off list; `None` when list is zero.
    pub fn discount_percent(&self) -> Option<Decimal> {
        Percent::ratio_2dp(self.list_extended - self.net_extended, self.list_extended)
    }

    /// (net − cost) / net; `None` when net is zero.
    pub fn margin_percent(&self) -> Option<Decimal> {
        Percent::ratio_2dp(self.net_extended - self.cost_extended, self.net_extended)
    }

    /// The rep's manual and header discounts as a share of the line's amount
    /// before them; `None` when that amount is zero.
    pub fn rep_discount_percent(&self) -> Option<Decimal> {
        if self.before_rep_discount == self.after_rep_discount {
            return Some(Decimal::ZERO);
        }
        Percent::ratio_2dp(
            self.before_rep_discount - self.after_rep_discount,
            self.before_rep_discount,
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Totals {
    pub list: Decimal,
    pub discount: Decimal,
    pub net: Decimal,
    pub cost: Decimal,
    pub margin: Decimal,
}

impl Totals {
    pub(crate) fn add_line(&mut self, line: &PricedLine<'_>) {
        self.list += line.list_extended;
        self.net += line.net_extended;
        self.cost += line.cost_extended;
    }

    pub(crate) fn finish(mut self) -> Self {
        self.discount = self.list - self.net;
        self.margin = self.net - self.cost;
        self
    }

    /// Discount off list, exact; `None` when list is zero. Computed when
    /// asked: a quote's subtotals need it only for display.
    pub fn discount_percent(&self) -> Option<Percent> {
        Percent::ratio(self.discount, self.list)
    }

    /// Margin on net, exact; `None` when net is zero.
    pub fn margin_percent(&self) -> Option<Percent> {
        Percent::ratio(self.margin, self.net)
    }

    /// [`Self::discount_percent`] rounded to two decimals for display.
    pub fn discount_percent_2dp(&self) -> Option<Decimal> {
        Percent::ratio_2dp(self.discount, self.list)
    }

    /// [`Self::margin_percent`] rounded to two decimals for display.
    pub fn margin_percent_2dp(&self) -> Option<Decimal> {
        Percent::ratio_2dp(self.margin, self.net)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggeredApproval {
    pub rule_id: String,
    pub level: String,
    pub reason: String,
    /// The figure the rule compared, as the reason shows it: a percent
    /// (two decimals) or the net total in the quote's currency; `None`
    /// when it cannot be stated (a margin without a net).
    pub figure: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalOutcome {
    /// The highest level any triggered rule requires, or the lowest-ranked
    /// level (normally `none`) when no rule triggers.
    pub level: String,
    pub triggered: Vec<TriggeredApproval>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedQuote<'r> {
    pub currency: CurrencyCode,
    /// Decimals of the currency's minor unit.
    pub currency_scale: u32,
    pub price_date: NaiveDate,
    pub price_book_id: &'r str,
    /// The fingerprint of the rule files it was priced with.
    pub rules_version: &'r str,
    pub account: Option<&'r str>,
    pub segment: Option<String>,
    pub region: Option<String>,
    pub lines: Vec<PricedLine<'r>>,
    pub totals: Totals,
    /// Per product line, in product-line id order.
    pub subtotals: Vec<(&'r str, Totals)>,
    pub approval: ApprovalOutcome,
}
