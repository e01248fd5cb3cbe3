//! proto ⇄ domain. Requests become domain values through `TryFrom`, with
//! every unparsable field reported by name; results become responses
//! through `From`.
use std::str::FromStr;

use crate::pb;
use chrono::NaiveDate;
use quotecast_model::{Percent, Product, ProductKind, RuleSet, Trimmed};
use quotecast_pricing::{
    ApprovalOutcome, ConfiguredBy, LineRequest, ManualDiscount, OptionChoice, PricedLine,
    PricedQuote, QuoteRequest, StepKind, Totals, WaterfallStep,
};
use rust_decimal::Decimal;

use crate::error::{FieldViolation, ServerError};

fn violation(field: &str, description: String) -> FieldViolation {
    FieldViolation {
        field: field.to_owned(),
        description,
    }
}

/// A decimal string such as "12.50"; no exponent, no separators.
pub fn parse_decimal(field: &str, text: &str, out: &mut Vec<FieldViolation>) -> Option<Decimal> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        out.push(violation(
            field,
            "is required: a decimal string such as \"3\" or \"12.50\"".into(),
        ));
        return None;
    }
    match Decimal::from_str(trimmed) {
        Ok(d) => Some(d),
        Err(_) => {
            out.push(violation(
                field,
                format!("`{text}` is not a decimal number"),
            ));
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
    // `FromStr` reads exactly the ISO form; much cheaper than a strftime
    // pattern.
    match NaiveDate::from_str(text.trim()) {
        Ok(d) => Some(d),
        Err(_) => {
            out.push(violation(
                field,
                format!("`{text}` is not a date in the form YYYY-MM-DD"),
            ));
            None
        }
    }
}

fn discount(
    field: &str,
    d: &pb::ManualDiscount,
    out: &mut Vec<FieldViolation>,
) -> Option<ManualDiscount> {
    match &d.kind {
        None => None,
        Some(pb::manual_discount::Kind::Percent(p)) => {
            parse_decimal(&format!("{field}.percent"), p, out).map(ManualDiscount::Percent)
        }
        Some(pb::manual_discount::Kind::Amount(m)) => {
            let amount = parse_decimal(&format!("{field}.amount.amount"), &m.amount, out)?;
            Some(ManualDiscount::Amount {
                currency: m.currency_code.clone(),
                amount,
            })
        }
    }
}

/// A `PriceQuoteRequest` together with the date that stands in for an
/// empty pricing date.
pub struct PriceQuoteInput<'a> {
    pub request: &'a pb::PriceQuoteRequest,
    pub today: NaiveDate,
}

impl TryFrom<PriceQuoteInput<'_>> for QuoteRequest {
    type Error = ServerError;

    fn try_from(input: PriceQuoteInput<'_>) -> Result<Self, Self::Error> {
        let r = input.request;
        let mut out = Vec::new();
        if r.currency_code.trim().is_empty() {
            out.push(violation(
                "currency_code",
                "is required: an ISO 4217 code such as USD".into(),
            ));
        }
        let price_date = parse_date("price_date", &r.price_date, input.today, &mut out);
        let lines = r
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                if l.sku.trim().is_empty() {
                    out.push(violation(&format!("lines[{i}].sku"), "is required".into()));
                }
                let quantity =
                    parse_decimal(&format!("lines[{i}].quantity"), &l.quantity, &mut out);
                let discount = l
                    .discount
                    .as_ref()
                    .and_then(|d| discount(&format!("lines[{i}].discount"), d, &mut out));
                LineRequest {
                    line_id: if l.line_id.is_empty() {
                        (i + 1).to_string()
                    } else {
                        l.line_id.clone()
                    },
                    sku: l.sku.trim().to_owned(),
                    quantity: quantity.unwrap_or_default(),
                    discount,
                    configuration: (!l.configuration.is_empty()).then(|| {
                        l.configuration
                            .iter()
                            .map(|o| OptionChoice {
                                sku: o.sku.trim().to_owned(),
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
            .and_then(|d| discount("header_discount", d, &mut out));
        if !out.is_empty() {
            return Err(ServerError::InvalidArgument(out));
        }
        let non_empty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        Ok(QuoteRequest {
            currency: r.currency_code.trim().to_owned(),
            price_date: price_date.unwrap_or(input.today),
            account: non_empty(&r.account_id),
            segment: non_empty(&r.segment),
            region: non_empty(&r.region),
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

/// An amount of the quote's currency as a decimal string, trailing zeros
/// beyond the currency's scale dropped ("18096.000000" is sent as
/// "18096.00"); the value is unchanged.
struct QuoteMoney {
    scale: u32,
}

impl QuoteMoney {
    fn of(&self, amount: Decimal) -> String {
        Trimmed(amount, self.scale).to_text()
    }
}

fn percent(p: Option<Percent>) -> String {
    percent_2dp(p.map(Percent::display_2dp))
}

/// A percentage already rounded to two decimals.
fn percent_2dp(p: Option<Decimal>) -> String {
    p.map(|p| Trimmed(p, 2).to_text()).unwrap_or_default()
}

fn totals(m: &QuoteMoney, t: &Totals) -> pb::Totals {
    pb::Totals {
        list: m.of(t.list),
        discount: m.of(t.discount),
        net: m.of(t.net),
        cost: m.of(t.cost),
        margin: m.of(t.margin),
        discount_percent: percent(t.discount_percent),
        margin_percent: percent(t.margin_percent),
    }
}

fn step(m: &QuoteMoney, s: &WaterfallStep<'_>) -> pb::WaterfallStep {
    pb::WaterfallStep {
        step: pb::WaterfallStepKind::from(s.step) as i32,
        rule_id: s.rule_id.to_owned(),
        explanation: s.explanation(),
        amount: m.of(s.amount),
        running_total: m.of(s.running_total),
    }
}

fn line(m: &QuoteMoney, l: &PricedLine<'_>, waterfall: bool) -> pb::PricedLine {
    pb::PricedLine {
        line_id: l.line_id.clone(),
        sku: l.sku.to_owned(),
        name: l.name.to_owned(),
        product_line: l.product_line.to_owned(),
        quantity: Trimmed(l.quantity, 0).to_text(),
        list_unit_price: m.of(l.list_unit_price),
        list_extended: m.of(l.list_extended),
        net_unit_price: m.of(l.net_unit_price),
        net_extended: m.of(l.net_extended),
        cost_extended: m.of(l.cost_extended),
        discount_percent: percent_2dp(l.discount_percent()),
        margin_percent: percent_2dp(l.margin_percent()),
        waterfall: if waterfall {
            l.waterfall.iter().map(|s| step(m, s)).collect()
        } else {
            Vec::new()
        },
        rep_discount_percent: percent_2dp(l.rep_discount_percent()),
        parent_line_id: l
            .part_of
            .as_ref()
            .map(|p| p.line_id.clone())
            .unwrap_or_default(),
        configured_by: match l.part_of.as_ref().map(|p| &p.configured_by) {
            None => pb::ConfiguredBy::Unspecified,
            Some(ConfiguredBy::Chosen) => pb::ConfiguredBy::Chosen,
            Some(ConfiguredBy::Default(_)) => pb::ConfiguredBy::Default,
            Some(ConfiguredBy::Added) => pb::ConfiguredBy::Added,
        } as i32,
        configured_by_rule: match l.part_of.as_ref().map(|p| &p.configured_by) {
            Some(ConfiguredBy::Default(rule)) => rule.clone(),
            _ => String::new(),
        },
    }
}

fn approval(a: &ApprovalOutcome) -> pb::Approval {
    pb::Approval {
        level: a.level.clone(),
        triggered: a
            .triggered
            .iter()
            .map(|t| pb::TriggeredApprovalRule {
                rule_id: t.rule_id.clone(),
                level: t.level.clone(),
                reason: t.reason.clone(),
            })
            .collect(),
    }
}

/// A priced quote with the view the client asked for.
pub struct QuoteResponse<'a, 'r> {
    pub quote: &'a PricedQuote<'r>,
    pub view: pb::PriceQuoteView,
}

impl From<&PricedQuote<'_>> for pb::PriceQuoteResponse {
    fn from(quote: &PricedQuote<'_>) -> Self {
        Self::from(QuoteResponse {
            quote,
            view: pb::PriceQuoteView::Full,
        })
    }
}

impl From<QuoteResponse<'_, '_>> for pb::PriceQuoteResponse {
    fn from(response: QuoteResponse<'_, '_>) -> Self {
        let q = response.quote;
        let waterfall = response.view != pb::PriceQuoteView::Summary;
        let m = QuoteMoney {
            scale: q.currency_scale,
        };
        Self {
            currency_code: q.currency.to_string(),
            price_date: q.price_date.to_string(),
            segment: q.segment.clone().unwrap_or_default(),
            region: q.region.clone().unwrap_or_default(),
            lines: q.lines.iter().map(|l| line(&m, l, waterfall)).collect(),
            totals: Some(totals(&m, &q.totals)),
            subtotals: q
                .subtotals
                .iter()
                .map(|(pl, t)| pb::ProductLineSubtotal {
                    product_line: (*pl).to_owned(),
                    totals: Some(totals(&m, t)),
                })
                .collect(),
            approval: Some(approval(&q.approval)),
            price_book_id: q.price_book_id.to_owned(),
        }
    }
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
