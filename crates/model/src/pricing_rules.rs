//! Price books and the rules of the price waterfall, in waterfall order.
use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::{CurrencyCode, DateRange, Percent, Product};

/// Which products a rule applies to: listed SKUs or whole product lines.
/// A selector that lists neither applies to every product.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProductSelector {
    pub skus: Vec<String>,
    pub product_lines: Vec<String>,
}

impl ProductSelector {
    pub fn matches(&self, product: &Product) -> bool {
        (self.skus.is_empty() && self.product_lines.is_empty())
            || self.skus.contains(&product.sku)
            || self.product_lines.contains(&product.product_line)
    }

    /// 2 for a SKU match, 1 for a product-line match, 0 for match-all; the
    /// more specific rule wins where several could apply.
    pub fn specificity(&self, product: &Product) -> u8 {
        if self.skus.contains(&product.sku) {
            2
        } else if self.product_lines.contains(&product.product_line) {
            1
        } else {
            0
        }
    }
}

/// One dated list price of a SKU in a price book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceEntry {
    /// Stable id: `BOOK:SKU@FROM`.
    pub id: String,
    pub sku: String,
    pub price: Decimal,
    pub valid: DateRange,
}

/// The list prices of one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceBook {
    pub id: String,
    pub name: String,
    pub currency: CurrencyCode,
    /// Entries per SKU; the ranges of one SKU never overlap.
    pub entries: BTreeMap<String, Vec<PriceEntry>>,
}

impl PriceBook {
    /// The entry in force for `sku` on `date`, if any.
    pub fn price_on(&self, sku: &str, date: NaiveDate) -> Option<&PriceEntry> {
        self.entries
            .get(sku)?
            .iter()
            .find(|entry| entry.valid.contains(date))
    }
}

/// Who a contracted price is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContractParty {
    Account(String),
    Segment(String),
}

/// A customer-specific unit price replacing the list price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractPrice {
    pub id: String,
    pub party: ContractParty,
    pub sku: String,
    pub currency: CurrencyCode,
    pub price: Decimal,
    pub valid: DateRange,
}

/// How tiers turn a measure into a discount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierMethod {
    /// Each unit (or each part of the amount) gets the discount of the tier
    /// it falls in.
    Slab,
    /// Everything gets the discount of the tier the total reaches.
    Range,
}

/// What the tiers measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierBasis {
    Quantity,
    /// Amount in the corporate currency; converted through the quote's
    /// currency so one schedule serves all currencies.
    Amount,
}

/// Which lines' quantities (or amounts) count together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantityAggregation {
    /// Each line on its own.
    Line,
    /// All lines of the quote with the same SKU.
    Product,
    /// All lines of the quote in the same product line.
    ProductLine,
}

/// A tier `[from, to)`: from inclusive, to exclusive, `to: None` open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub from: Decimal,
    pub to: Option<Decimal>,
    pub discount: Percent,
}

/// A volume discount schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscountSchedule {
    pub id: String,
    pub name: String,
    pub method: TierMethod,
    pub basis: TierBasis,
    pub aggregation: QuantityAggregation,
    pub applies_to: ProductSelector,
    /// Sorted, contiguous tiers.
    pub tiers: Vec<Tier>,
}

/// What a bundle gives the component bought with its parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleBenefit {
    PercentOff(Percent),
    /// A fixed unit price per currency.
    FixedPrice(BTreeMap<CurrencyCode, Decimal>),
    /// Included in the parent: priced at zero.
    Included,
}

/// "Component bought with parent": up to `per_parent` units of the
/// component per unit of the parent get the benefit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleRule {
    pub id: String,
    pub name: String,
    pub parent_sku: String,
    pub component_sku: String,
    pub per_parent: Decimal,
    pub benefit: BundleBenefit,
}

/// Conditions a line and its quote must meet for a promotion; empty lists
/// mean "any".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PromotionConditions {
    pub segments: Vec<String>,
    pub regions: Vec<String>,
    pub products: ProductSelector,
    pub min_line_quantity: Option<Decimal>,
    /// Minimum quote amount after bundles, in the corporate currency.
    pub min_quote_total: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promotion {
    pub id: String,
    pub name: String,
    pub valid: DateRange,
    pub conditions: PromotionConditions,
    pub discount: Percent,
    /// Higher goes first.
    pub priority: i32,
    /// An exclusive promotion applies alone, or not at all.
    pub exclusive: bool,
}

/// The lowest a line's net unit price may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FloorKind {
    /// At least this share of the list price.
    PercentOfList(Percent),
    /// A margin on standard cost of at least this percent of net price.
    MinMarginPercent(Percent),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloorAction {
    /// Raise the line to the floor.
    Clamp,
    /// Refuse to price the quote.
    Reject,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloorRule {
    pub id: String,
    pub name: String,
    pub applies_to: ProductSelector,
    pub kind: FloorKind,
    pub action: FloorAction,
}

/// An approval level; a higher rank outranks a lower one. Rank 0 is "none".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalLevel {
    pub id: String,
    pub name: String,
    pub rank: u32,
}

/// When an approval rule triggers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalCondition {
    /// Some line's discount off list exceeds this.
    LineDiscountAbove(Percent),
    /// Some line's rep-given (manual + header) discount exceeds this share of
    /// its price before the manual step.
    ManualDiscountAbove(Percent),
    /// The whole quote's discount off list exceeds this.
    QuoteDiscountAbove(Percent),
    /// The quote's margin on cost is below this.
    MarginBelow(Percent),
    /// The net total exceeds this amount of the corporate currency.
    NetTotalAbove(Decimal),
    /// Some line was asked below its price floor (a floor rule raised it).
    LineBelowFloor,
    /// The quote holds a line of this product line.
    ProductLinePresent(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRule {
    pub id: String,
    pub name: String,
    pub level: String,
    pub condition: ApprovalCondition,
}
