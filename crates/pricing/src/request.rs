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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineRequest {
    pub line_id: String,
    pub sku: String,
    pub quantity: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<ManualDiscount>,
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
