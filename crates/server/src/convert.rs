//! proto ⇄ domain. Requests become domain values through `TryFrom`, with
//! every unparsable field reported by name; results become responses
//! through `From`, except a priced quote, which `quote_wire` writes as
//! bytes.
use std::str::FromStr;

use crate::pb;
use chrono::{Datelike, NaiveDate};
use quotecast_model::{Product, ProductKind, RuleSet};
use quotecast_pricing::{
    LineRequest, ManualDiscount, OptionChoice, PricedQuote, QuoteRequest, StepKind,
};
use rust_decimal::Decimal;

use crate::error::{FieldViolation, ServerError};

fn violation(field: &str, description: String) -> FieldViolation {
    FieldViolation {
        field: field.to_owned(),
        description,
    }
}

/// A decimal string such as "12.50"; no exponent, no separators. `field`
/// names the field, and is only called when the text is wrong.
pub fn parse_decimal(
    field: impl FnOnce() -> String,
    text: &str,
    out: &mut Vec<FieldViolation>,
) -> Option<Decimal> {
    if text.is_empty() {
        out.push(FieldViolation {
            field: field(),
            description: "is required: a decimal string such as \"3\" or \"12.50\"".into(),
        });
        return None;
    }
    match quotecast_model::parse_strict_decimal(text) {
        Ok(d) => Some(d),
        Err(why) => {
            out.push(FieldViolation {
                field: field(),
                description: why,
            });
            None
        }
    }
}

/// A date YYYY-MM-DD, or `today` when empty.
pub fn parse_date(
    field: &str,
    text: &str,
    today: NaiveDate,
    out: &mut Vec<FieldViolation>,
) -> Option<NaiveDate> {
    if text.trim().is_empty() {
        return Some(today);
    }
    // `FromStr` reads exactly the ISO form (much cheaper than a strftime
    // pattern), but also signed and five-digit years: only YYYY-MM-DD in
    // [`DATE_YEARS`] is a date here, so no date arithmetic can overflow.
    let text = text.trim();
    let iso = text.len() == 10 && text.as_bytes()[..4].iter().all(u8::is_ascii_digit);
    match NaiveDate::from_str(text) {
        Ok(d) if iso && DATE_YEARS.contains(&d.year()) => Some(d),
        Ok(_) if iso => {
            out.push(violation(
                field,
                format!(
                    "`{text}` is outside the years {} to {}",
                    DATE_YEARS.start(),
                    DATE_YEARS.end()
                ),
            ));
            None
        }
        _ => {
            out.push(violation(
                field,
                format!(
                    "`{}` is not a date in the form YYYY-MM-DD",
                    crate::error::capped(text.to_owned(), crate::error::ECHO_CHARS)
                ),
            ));
            None
        }
    }
}

/// The years a date on the API may fall in.
pub const DATE_YEARS: std::ops::RangeInclusive<i32> = 1900..=2199;

fn discount(
    field: impl Fn() -> String,
    d: &pb::ManualDiscount,
    out: &mut Vec<FieldViolation>,
) -> Option<ManualDiscount> {
    match &d.kind {
        None => None,
        Some(pb::manual_discount::Kind::Percent(p)) => {
            parse_decimal(|| format!("{}.percent", field()), p, out).map(ManualDiscount::Percent)
        }
        Some(pb::manual_discount::Kind::Amount(m)) => {
            let amount = parse_decimal(|| format!("{}.amount.amount", field()), &m.amount, out)?;
            Some(ManualDiscount::Amount {
                currency: m.currency_code.clone(),
                amount,
            })
        }
    }
}

/// A `PriceQuoteRequest` together with the date that stands in for an
/// empty pricing date.
pub struct PriceQuoteInput {
    pub request: pb::PriceQuoteRequest,
    pub today: NaiveDate,
}

/// `text` without surrounding white space, reusing its buffer when it has
/// none.
fn trimmed_owned(text: String) -> String {
    if text.trim().len() == text.len() {
        text
    } else {
        text.trim().to_owned()
    }
}

impl TryFrom<PriceQuoteInput> for QuoteRequest {
    type Error = ServerError;

    fn try_from(input: PriceQuoteInput) -> Result<Self, Self::Error> {
        let r = input.request;
        let mut out = Vec::new();
        if r.currency_code.trim().is_empty() {
            out.push(violation(
                "currency_code",
                "is required: an ISO 4217 code such as USD".into(),
            ));
        }
        if r.lines.is_empty() {
            out.push(violation(
                "lines",
                "is required: a quote needs at least one line".into(),
            ));
        }
        let price_date = parse_date("price_date", &r.price_date, input.today, &mut out);
        let lines = r
            .lines
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                if l.sku.trim().is_empty() {
                    out.push(violation(&format!("lines[{i}].sku"), "is required".into()));
                }
                let quantity =
                    parse_decimal(|| format!("lines[{i}].quantity"), &l.quantity, &mut out);
                let discount = l
                    .discount
                    .as_ref()
                    .and_then(|d| discount(|| format!("lines[{i}].discount"), d, &mut out));
                LineRequest {
                    line_id: if l.line_id.is_empty() {
                        (i + 1).to_string()
                    } else {
                        l.line_id
                    },
                    sku: trimmed_owned(l.sku),
                    quantity: quantity.unwrap_or_default(),
                    discount,
                    configuration: (!l.configuration.is_empty()).then(|| {
                        l.configuration
                            .into_iter()
                            .map(|o| OptionChoice {
                                sku: trimmed_owned(o.sku),
                                quantity: o.quantity,
                            })
                            .collect()
                    }),
                    part_of: None,
                }
            })
            .collect();
        let header_discount = r
            .header_discount
            .as_ref()
            .and_then(|d| discount(|| "header_discount".to_owned(), d, &mut out));
        if !out.is_empty() {
            return Err(ServerError::InvalidArgument(out));
        }
        let non_empty = |s: String| (!s.trim().is_empty()).then(|| trimmed_owned(s));
        Ok(QuoteRequest {
            currency: trimmed_owned(r.currency_code),
            price_date: price_date.unwrap_or(input.today),
            account: non_empty(r.account_id),
            segment: non_empty(r.segment),
            region: non_empty(r.region),
            lines,
            header_discount,
        })
    }
}

/// Money of a known currency.
pub fn money(currency: &str, amount: Decimal) -> pb::Money {
    pb::Money {
        currency_code: currency.to_owned(),
        amount: amount.to_string(),
    }
}

/// A priced quote with the view the client asked for.
pub struct QuoteResponse<'a, 'r> {
    pub quote: &'a PricedQuote<'r>,
    pub view: pb::PriceQuoteView,
}

impl From<StepKind> for pb::WaterfallStepKind {
    fn from(kind: StepKind) -> Self {
        match kind {
            StepKind::ListPrice => Self::ListPrice,
            StepKind::ContractPrice => Self::ContractPrice,
            StepKind::VolumeDiscount => Self::VolumeDiscount,
            StepKind::Bundle => Self::Bundle,
            StepKind::Promotion => Self::Promotion,
            StepKind::ManualDiscount => Self::ManualDiscount,
            StepKind::HeaderDiscount => Self::HeaderDiscount,
            StepKind::FloorGuard => Self::FloorGuard,
            StepKind::Rounding => Self::Rounding,
        }
    }
}

impl From<ProductKind> for pb::ProductKind {
    fn from(kind: ProductKind) -> Self {
        match kind {
            ProductKind::Base => Self::Base,
            ProductKind::Option => Self::Option,
            ProductKind::Accessory => Self::Accessory,
            ProductKind::Service => Self::Service,
        }
    }
}

impl TryFrom<pb::ProductKind> for Option<ProductKind> {
    type Error = ServerError;
    fn try_from(kind: pb::ProductKind) -> Result<Self, Self::Error> {
        Ok(match kind {
            pb::ProductKind::Unspecified => None,
            pb::ProductKind::Base => Some(ProductKind::Base),
            pb::ProductKind::Option => Some(ProductKind::Option),
            pb::ProductKind::Accessory => Some(ProductKind::Accessory),
            pb::ProductKind::Service => Some(ProductKind::Service),
        })
    }
}

/// A catalog product with the list prices in force on a date.
pub struct ProductOn<'a> {
    pub rules: &'a RuleSet,
    pub product: &'a Product,
    pub date: NaiveDate,
}

impl From<ProductOn<'_>> for pb::Product {
    fn from(p: ProductOn<'_>) -> Self {
        let list_prices = p
            .rules
            .price_books()
            .filter_map(|book| {
                book.price_on(&p.product.sku, p.date)
                    .map(|e| money(book.currency.as_str(), e.price))
            })
            .collect();
        Self {
            sku: p.product.sku.clone(),
            name: p.product.name.clone(),
            product_line: p.product.product_line.clone(),
            kind: pb::ProductKind::from(p.product.kind) as i32,
            option_group: p.product.option_group.clone().unwrap_or_default(),
            unit: p.product.unit.clone(),
            list_prices,
        }
    }
}

fn discount_to_proto(
    currency: &str,
    percent: Option<Decimal>,
    amount: Option<Decimal>,
) -> Option<pb::ManualDiscount> {
    let kind = match (percent, amount) {
        (Some(p), _) => pb::manual_discount::Kind::Percent(p.to_string()),
        (None, Some(a)) => pb::manual_discount::Kind::Amount(money(currency, a)),
        (None, None) => return None,
    };
    Some(pb::ManualDiscount { kind: Some(kind) })
}

/// A hand-written quote file as the request a client would send.
impl From<&quotecast_rules::QuoteInput> for pb::PriceQuoteRequest {
    fn from(q: &quotecast_rules::QuoteInput) -> Self {
        Self {
            currency_code: q.currency.clone(),
            price_date: q.date.clone().unwrap_or_default(),
            account_id: q.account.clone().unwrap_or_default(),
            segment: q.segment.clone().unwrap_or_default(),
            region: q.region.clone().unwrap_or_default(),
            lines: q
                .lines
                .iter()
                .enumerate()
                .map(|(i, l)| pb::QuoteLineInput {
                    line_id: q.line_id(i),
                    sku: l.sku.clone(),
                    quantity: l.quantity.to_string(),
                    discount: discount_to_proto(&q.currency, l.discount_percent, l.discount_amount),
                    configuration: l
                        .configuration
                        .iter()
                        .flatten()
                        .map(|o| pb::ConfiguredOption {
                            sku: o.sku.clone(),
                            quantity: o.quantity,
                        })
                        .collect(),
                })
                .collect(),
            header_discount: discount_to_proto(
                &q.currency,
                q.header_discount_percent,
                q.header_discount_amount,
            ),
            view: pb::PriceQuoteView::Full as i32,
        }
    }
}
