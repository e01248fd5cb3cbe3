//! The quote file format people write by hand (JSON for the CLI, TOML in
//! regression cases) and its conversion into a pricing request.
use chrono::NaiveDate;
use quotecast_pricing::{LineRequest, ManualDiscount, OptionChoice, QuoteRequest};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::decimal::{exact, exact_opt};

/// One line of a quote file. Decimals may be strings or integers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    /// Defaults to the 1-based position.
    #[serde(default)]
    pub id: Option<String>,
    pub sku: String,
    #[serde(deserialize_with = "exact")]
    pub quantity: Decimal,
    #[serde(
        default,
        deserialize_with = "exact_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub discount_percent: Option<Decimal>,
    /// Amount off the line, in the quote's currency.
    #[serde(
        default,
        deserialize_with = "exact_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub discount_amount: Option<Decimal>,
    /// Options of a configurable product, per unit of the line:
    /// `[{ sku = "SRV-CPU-32C", quantity = 2 }]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<Vec<OptionChoice>>,
}

/// A quote as written in a file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteInput {
    pub currency: String,
    /// Pricing date, YYYY-MM-DD; today when absent.
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub segment: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    pub lines: Vec<LineInput>,
    #[serde(
        default,
        deserialize_with = "exact_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub header_discount_percent: Option<Decimal>,
    #[serde(
        default,
        deserialize_with = "exact_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub header_discount_amount: Option<Decimal>,
}

fn discount(
    field: &str,
    currency: &str,
    percent: Option<Decimal>,
    amount: Option<Decimal>,
    problems: &mut Vec<String>,
) -> Option<ManualDiscount> {
    match (percent, amount) {
        (Some(_), Some(_)) => {
            problems.push(format!("{field}: give a percent or an amount, not both"));
            None
        }
        (Some(p), None) => Some(ManualDiscount::Percent(p)),
        (None, Some(a)) => Some(ManualDiscount::Amount {
            currency: currency.to_owned(),
            amount: a,
        }),
        (None, None) => None,
    }
}

impl QuoteInput {
    /// The line id of line `index` (0-based).
    pub fn line_id(&self, index: usize) -> String {
        self.lines[index]
            .id
            .clone()
            .unwrap_or_else(|| (index + 1).to_string())
    }

    /// The pricing request; `today` stands in for a missing date.
    pub fn to_request(&self, today: NaiveDate) -> Result<QuoteRequest, Vec<String>> {
        let mut problems = Vec::new();
        let price_date = match &self.date {
            Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap_or_else(|_| {
                problems.push(format!("date: `{d}` is not a date in the form YYYY-MM-DD"));
                today
            }),
            None => today,
        };
        let lines = self
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| LineRequest {
                line_id: self.line_id(i),
                sku: l.sku.clone(),
                quantity: l.quantity,
                discount: discount(
                    &format!("lines[{i}]"),
                    &self.currency,
                    l.discount_percent,
                    l.discount_amount,
                    &mut problems,
                ),
                configuration: l.configuration.clone(),
                part_of: None,
            })
            .collect();
        let header_discount = discount(
            "header_discount",
            &self.currency,
            self.header_discount_percent,
            self.header_discount_amount,
            &mut problems,
        );
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(QuoteRequest {
            currency: self.currency.clone(),
            price_date,
            account: self.account.clone(),
            segment: self.segment.clone(),
            region: self.region.clone(),
            lines,
            header_discount,
        })
    }
}
