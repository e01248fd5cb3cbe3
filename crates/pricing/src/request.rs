//! What a caller asks the engine to price.
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A discount given by the rep, on a line or on the whole quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManualDiscount {
    /// Percent off, 0 to 100.
    Percent(Decimal),
    /// Amount off, in the currency named (which must be the quote's).
    Amount { currency: String, amount: Decimal },
}

/// `quantity` units of one option of a configurable product, per unit of
/// the line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionChoice {
    pub sku: String,
    pub quantity: u32,
}

/// How an option came to be in a configured line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfiguredBy {
    /// The rep chose it.
    Chosen,
    /// A default of the model proposed it (the default's id).
    Default(String),
    /// The rules require it given the rest of the configuration.
    Added,
}

/// The configured line a sub-line belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartOf {
    pub line_id: String,
    pub configured_by: ConfiguredBy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineRequest {
    pub line_id: String,
    pub sku: String,
    pub quantity: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<ManualDiscount>,
    /// The rep's choices for a configurable product; `None` prices the
    /// SKU alone (unless its model says it must be configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<Vec<OptionChoice>>,
    /// Set by pricing on the sub-lines a configured line expands into.
    #[serde(skip)]
    pub part_of: Option<PartOf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteRequest {
    /// ISO 4217 code; selects the price book.
    pub currency: String,
    pub price_date: NaiveDate,
    /// Named account; gives segment and region.
    #[serde(default)]
    pub account: Option<String>,
    /// Customer segment when no account is named (or the account's own).
    #[serde(default)]
    pub segment: Option<String>,
    /// Sales region when no account is named (or the account's own).
    #[serde(default)]
    pub region: Option<String>,
    pub lines: Vec<LineRequest>,
    #[serde(default)]
    pub header_discount: Option<ManualDiscount>,
}
