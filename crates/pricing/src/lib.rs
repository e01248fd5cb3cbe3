//! The quotecast pricing engine: a pure function from a rule set and a quote
//! request to a priced quote whose every figure is explained.
//!
//! Each line goes through the price waterfall in this fixed order (see
//! [`StepKind`]): list price, contract price, volume discount, bundle,
//! promotions, manual line discount, header discount, floor guard, rounding.
//! Quote totals, product-line subtotals and the approval level are computed
//! from the rounded lines. No I/O, no clock, no globals: the pricing date is
//! an input.

mod approval;
pub mod approval_chain;
mod configured;
mod engine;
mod explain;
mod request;
mod result;
mod tiers;

pub use engine::{INTERNAL_SCALE, price_quote};
pub use quotecast_configurator::Configurators;
pub use request::{ConfiguredBy, LineRequest, ManualDiscount, OptionChoice, PartOf, QuoteRequest};
pub use result::{
    ApprovalOutcome, PricedLine, PricedQuote, RepDiscount, StepDetail, StepKind, Totals,
    TriggeredApproval, WaterfallStep,
};
pub use tiers::{slab_parts, tier_discount};

// Input bounds. With rule amounts at most 10^11 and rates at most 10^5
// (enforced by quotecast-rules), a line's amount stays below 10^19 and its
// cost below 10^24, a quote's sums below 10^28, and every product formed in
// the waterfall (tiers, ratios, floors, shares) below Decimal's 7.9 * 10^28:
// no arithmetic on input can overflow, so nothing panics.

/// The largest quantity a line may have (10^8).
pub const MAX_QUANTITY: rust_decimal::Decimal =
    rust_decimal::Decimal::from_parts(100_000_000, 0, 0, false, 0);
/// Most decimals a quantity may have.
pub const MAX_QUANTITY_SCALE: u32 = 6;
/// The most lines a quote may have.
pub const MAX_LINES: usize = 10_000;
/// The largest manual discount amount accepted (10^15).
pub const MAX_DISCOUNT_AMOUNT: rust_decimal::Decimal =
    rust_decimal::Decimal::from_parts(0xA4C6_8000, 0x38D7E, 0, false, 0);

/// Why a request (or part of it) cannot be priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    MissingField,
    UnknownCurrency,
    UnknownSku,
    NotInPriceBook,
    NonPositiveQuantity,
    QuantityOutOfRange,
    DiscountOutOfRange,
    DiscountExceedsAmount,
    CurrencyMismatch,
    UnknownAccount,
    UnknownSegment,
    UnknownRegion,
    ConflictsWithAccount,
    DuplicateLineId,
    TooManyLines,
    BelowFloor,
    /// A configuration given for a product that has no model.
    NotConfigurable,
    /// A chosen option the product's model does not have.
    UnknownOption,
    /// Choices that no valid configuration holds together.
    InvalidConfiguration,
    /// Valid choices that do not yet make an orderable product.
    IncompleteConfiguration,
}

/// One precise reason a request was refused, naming the request field
/// (`lines[2].quantity`, `header_discount.percent`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub field: String,
    pub reason: RejectReason,
    pub message: String,
}

impl Rejection {
    pub fn new(field: impl Into<String>, reason: RejectReason, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason,
            message: message.into(),
        }
    }
}

fn join(rejections: &[Rejection]) -> String {
    rejections
        .iter()
        .map(|r| format!("{}: {}", r.field, r.message))
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// The request itself is wrong: unknown SKU, bad quantity, ...
    #[error("the quote cannot be priced: {}", join(.0))]
    InvalidRequest(Vec<Rejection>),
    /// The request is well-formed but a rule refuses it (a floor rule whose
    /// action is `reject`): the rep must change the discount.
    #[error("the quote breaks a pricing rule: {}", join(.0))]
    RuleViolation(Vec<Rejection>),
}

impl PricingError {
    pub fn rejections(&self) -> &[Rejection] {
        match self {
            Self::InvalidRequest(r) | Self::RuleViolation(r) => r,
        }
    }
}
