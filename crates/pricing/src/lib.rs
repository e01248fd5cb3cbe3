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
mod engine;
mod explain;
mod request;
mod result;
mod tiers;

pub use engine::{INTERNAL_SCALE, price_quote};
pub use request::{LineRequest, ManualDiscount, QuoteRequest};
pub use result::{
    ApprovalOutcome, PricedLine, PricedQuote, RepDiscount, StepDetail, StepKind, Totals,
    TriggeredApproval, WaterfallStep,
};
pub use tiers::tier_discount;

/// The largest quantity a line may have; with rule amounts bounded too, no
/// product or sum in the waterfall can overflow `Decimal`.
pub const MAX_QUANTITY: rust_decimal::Decimal =
    rust_decimal::Decimal::from_parts(1_000_000_000, 0, 0, false, 0);
/// Most decimals a quantity may have.
pub const MAX_QUANTITY_SCALE: u32 = 6;
/// The largest manual discount amount accepted.
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
    BelowFloor,
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
