//! Orchestrates the waterfall: validates the request into a pricing
//! context, runs the steps over all lines, rounds, totals and approves.
use std::collections::BTreeMap;

use chrono::NaiveDate;
use quotecast_configurator::Configurators;
use quotecast_model::{Account, Currency, PriceBook, Product, ProductRules, RuleSet, round_dp};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::{
    PricingError, RejectReason, Rejection,
    approval::approve,
    configured,
    request::{LineRequest, ManualDiscount, QuoteRequest},
    result::{PricedLine, PricedQuote, StepDetail, StepKind, Totals, WaterfallStep},
};

mod steps;

/// What every step needs to know about the quote as a whole.
pub(crate) struct Context<'r> {
    pub rules: &'r RuleSet,
    pub currency: &'r Currency,
    pub book: &'r PriceBook,
    pub date: NaiveDate,
    pub account: Option<&'r Account>,
    pub segment: Option<String>,
    pub region: Option<String>,
}

/// Decimals carried by intermediate amounts (steps 1 to 7). A step whose
/// result has more is rounded to this, half to even, so each recorded figure
/// is exactly the one the next step used; step 8 rounds to the currency.
pub const INTERNAL_SCALE: u32 = 6;

/// A line on its way down the waterfall.
pub(crate) struct Line<'q, 'r> {
    pub index: usize,
    pub request: &'q LineRequest,
    pub product: &'r Product,
    /// Every rule that applies to the SKU, resolved once.
    pub rules: ProductRules<'r>,
    pub list_unit: Decimal,
    /// The extended amount so far.
    pub running: Decimal,
    /// Units priced at zero because a bundle includes them.
    pub included_units: Decimal,
    /// The amount before the rep's manual and header discounts.
    pub before_manual: Decimal,
    /// The amount after them (before the floor guard).
    pub after_manual: Decimal,
    pub steps: Vec<WaterfallStep<'r>>,
}

impl<'r> Line<'_, 'r> {
    /// Moves the running amount to `new_running` and records why; a step
    /// that changes nothing is not recorded.
    pub fn apply(
        &mut self,
        step: StepKind,
        rule_id: &'r str,
        detail: StepDetail<'r>,
        new_running: Decimal,
    ) {
        let new_running = if new_running.scale() > INTERNAL_SCALE {
            round_dp(
                new_running,
                INTERNAL_SCALE,
                RoundingStrategy::MidpointNearestEven,
            )
        } else {
            new_running
        };
        let amount = new_running - self.running;
        if amount.is_zero() && step != StepKind::ListPrice {
            return;
        }
        self.running = new_running;
        self.steps.push(WaterfallStep {
            step,
            rule_id,
            amount,
            running_total: new_running,
            detail,
        });
    }

    pub fn field(&self, name: &str) -> String {
        format!("lines[{}].{name}", self.index)
    }
}

/// Prices a quote: the whole waterfall for every line, then totals,
/// product-line subtotals and the approval level.
///
/// Every problem in the request is reported at once, each naming its field.
pub fn price_quote<'r>(
    rules: &'r RuleSet,
    configurators: &Configurators,
    request: &QuoteRequest,
) -> Result<PricedQuote<'r>, PricingError> {
    match configured::expand(configurators, request)? {
        None => price_lines(rules, request),
        Some(expanded) => price_lines(rules, &expanded.request).map_err(|e| expanded.remap(e)),
    }
}

/// The waterfall over lines that are all plain SKUs.
fn price_lines<'r>(
    rules: &'r RuleSet,
    request: &QuoteRequest,
) -> Result<PricedQuote<'r>, PricingError> {
    let (ctx, mut lines) = validate(rules, request)?;
    steps::contract_prices(&ctx, &mut lines);
    steps::volume_discounts(&ctx, &mut lines);
    steps::bundles(&ctx, &mut lines);
    steps::promotions(&ctx, &mut lines);
    let mut rejections = Vec::new();
    steps::manual_discounts(&ctx, &mut lines, &mut rejections);
    if let Some(discount) = &request.header_discount {
        steps::header_discount(&ctx, &mut lines, discount, &mut rejections);
    }
    if !rejections.is_empty() {
        return Err(PricingError::InvalidRequest(rejections));
    }
    steps::floor_guard(&ctx, &mut lines, &mut rejections);
    if !rejections.is_empty() {
        return Err(PricingError::RuleViolation(rejections));
    }
    Ok(finish(ctx, request, lines))
}

fn finish<'r>(
    ctx: Context<'r>,
    request: &QuoteRequest,
    mut lines: Vec<Line<'_, 'r>>,
) -> PricedQuote<'r> {
    let currency = ctx.currency;
    let mut totals = Totals::default();
    let mut subtotals: BTreeMap<&'r str, Totals> = BTreeMap::new();
    // Lines are finished in place: a `Line` is large, and moving each out
    // of the vector showed in profiles.
    let priced: Vec<PricedLine<'r>> = lines
        .iter_mut()
        .map(|line| {
            let quantity = line.request.quantity;
            let exact = line.running;
            let net_extended = currency.round(exact);
            line.apply(
                StepKind::Rounding,
                currency.code.as_str(),
                StepDetail::Rounding {
                    exact,
                    scale: currency.scale,
                    mode: currency.rounding,
                },
                net_extended,
            );
            let exact_list = line.list_unit * quantity;
            let list_extended = currency.round(exact_list);
            // Net per unit: the net over the quantity; where the list
            // extended amount was rounded (a fractional quantity), the list
            // unit price scaled by net over list, so that no discount
            // shows the list unit price and none shows more.
            let net_unit_price = if exact_list == list_extended || list_extended.is_zero() {
                currency.round_quotient(net_extended, quantity)
            } else {
                currency.round_quotient(line.list_unit * net_extended, list_extended)
            };
            let cost_extended =
                currency.round(currency.from_corporate(line.product.cost) * quantity);
            let priced = PricedLine {
                line_id: line.request.line_id.clone(),
                part_of: line.request.part_of.clone(),
                sku: &line.product.sku,
                name: &line.product.name,
                product_line: &line.product.product_line,
                quantity,
                list_unit_price: line.list_unit,
                list_extended,
                net_unit_price,
                net_extended,
                cost_extended,
                before_rep_discount: line.before_manual,
                after_rep_discount: line.after_manual,
                waterfall: std::mem::take(&mut line.steps),
            };
            totals.add_line(&priced);
            subtotals
                .entry(priced.product_line)
                .or_default()
                .add_line(&priced);
            priced
        })
        .collect();
    let totals = totals.finish();
    let approval = approve(&ctx, &priced, &totals);
    PricedQuote {
        currency: currency.code.clone(),
        currency_scale: currency.scale,
        price_date: request.price_date,
        price_book_id: &ctx.book.id,
        rules_version: ctx.rules.fingerprint(),
        account: ctx.account.map(|a| a.id.as_str()),
        segment: ctx.segment,
        region: ctx.region,
        lines: priced,
        totals,
        subtotals: subtotals
            .into_iter()
            .map(|(line, t)| (line, t.finish()))
            .collect(),
        approval,
    }
}

/// Checks a manual discount's range and currency; `field` is its path.
pub(crate) fn check_discount(
    discount: &ManualDiscount,
    field: &str,
    currency: &Currency,
    rejections: &mut Vec<Rejection>,
) {
    match discount {
        ManualDiscount::Percent(p) => {
            if *p < Decimal::ZERO || *p > Decimal::ONE_HUNDRED {
                rejections.push(Rejection::new(
                    format!("{field}.percent"),
                    RejectReason::DiscountOutOfRange,
                    format!("discount of {p}% is outside 0 to 100%"),
                ));
            }
        }
        ManualDiscount::Amount {
            currency: code,
            amount,
        } => {
            if code.trim().is_empty() {
                rejections.push(Rejection::new(
                    format!("{field}.amount.currency_code"),
                    RejectReason::MissingField,
                    format!(
                        "currency is missing: the discount must be in the quote's currency, {}",
                        currency.code
                    ),
                ));
            } else if code != currency.code.as_str() {
                rejections.push(Rejection::new(
                    format!("{field}.amount.currency_code"),
                    RejectReason::CurrencyMismatch,
                    format!(
                        "discount is in {code} but the quote is in {}",
                        currency.code
                    ),
                ));
            }
            if amount.normalize().scale() > currency.scale {
                rejections.push(Rejection::new(
                    format!("{field}.amount.amount"),
                    RejectReason::DiscountOutOfRange,
                    format!(
                        "discount amount {amount} has more decimals than {} has ({})",
                        currency.code, currency.scale
                    ),
                ));
            }
            if *amount < Decimal::ZERO || *amount > crate::MAX_DISCOUNT_AMOUNT {
                rejections.push(Rejection::new(
                    format!("{field}.amount.amount"),
                    RejectReason::DiscountOutOfRange,
                    format!(
                        "discount amount {amount} is outside 0 to {}",
                        crate::MAX_DISCOUNT_AMOUNT
                    ),
                ));
            }
        }
    }
}

impl<'q, 'r> Line<'q, 'r> {
    /// Line `index` of the request at its list price: the list extended
    /// amount, rounded to `currency` (only a fractional quantity can need
    /// it), is its first step.
    fn listed(
        index: usize,
        line: &'q LineRequest,
        product_rules: ProductRules<'r>,
        entry: &'r quotecast_model::PriceEntry,
        currency: Option<&'r Currency>,
    ) -> Self {
        let mut priced = Line {
            index,
            request: line,
            product: product_rules.product,
            rules: product_rules,
            list_unit: entry.price,
            running: Decimal::ZERO,
            included_units: Decimal::ZERO,
            before_manual: Decimal::ZERO,
            after_manual: Decimal::ZERO,
            // List, contract, volume, bundle, promotions, manual, header,
            // floor, rounding: nine at most without stacked promotions.
            steps: Vec::with_capacity(9),
        };
        let exact = entry.price * line.quantity;
        let extended = currency.map_or(exact, |c| c.round(exact));
        priced.apply(
            StepKind::ListPrice,
            &entry.id,
            StepDetail::ListPrice {
                entry,
                quantity: line.quantity,
                rounded_from: (extended != exact).then_some(exact),
            },
            extended,
        );
        priced
    }
}

/// Refuses a quantity that is not positive, or beyond
/// [`crate::MAX_QUANTITY`] or its decimals; whether it can be priced.
fn check_quantity(quantity: Decimal, field: &str, rejections: &mut Vec<Rejection>) -> bool {
    let too_fine = quantity.scale() > crate::MAX_QUANTITY_SCALE
        && quantity.normalize().scale() > crate::MAX_QUANTITY_SCALE;
    if quantity <= Decimal::ZERO {
        rejections.push(Rejection::new(
            field,
            RejectReason::NonPositiveQuantity,
            format!("quantity must be positive, got {quantity}"),
        ));
        false
    } else if quantity > crate::MAX_QUANTITY || too_fine {
        rejections.push(Rejection::new(
            field,
            RejectReason::QuantityOutOfRange,
            format!(
                "quantity {} is out of range: at most {} with at most {} decimals",
                quantity,
                crate::MAX_QUANTITY,
                crate::MAX_QUANTITY_SCALE
            ),
        ));
        false
    } else {
        true
    }
}

fn validate<'q, 'r>(
    rules: &'r RuleSet,
    request: &'q QuoteRequest,
) -> Result<(Context<'r>, Vec<Line<'q, 'r>>), PricingError> {
    let mut rejections = Vec::new();
    let reject = |rejections: &mut Vec<Rejection>, field: &str, reason, message: String| {
        rejections.push(Rejection::new(field, reason, message));
    };
    let currency = rules.currency(&request.currency);
    let book = currency.and_then(|c| rules.price_book(&c.code));
    let book_position = currency.and_then(|c| rules.price_book_position(&c.code));
    if book.is_none() {
        let known: Vec<String> = rules
            .price_books()
            .map(|b| b.currency.to_string())
            .collect();
        reject(
            &mut rejections,
            "currency_code",
            RejectReason::UnknownCurrency,
            format!(
                "no price book for currency `{}`; priced currencies: {}",
                request.currency,
                known.join(", ")
            ),
        );
    }
    let account = match request.account.as_deref().filter(|a| !a.is_empty()) {
        Some(id) => {
            let found = rules.account(id);
            if found.is_none() {
                reject(
                    &mut rejections,
                    "account_id",
                    RejectReason::UnknownAccount,
                    format!("unknown account `{id}`"),
                );
            }
            found
        }
        None => None,
    };
    let segment = resolve_party_field(
        request.segment.as_deref(),
        account.map(|a| a.segment.as_str()),
        |id| rules.segment(id).is_some(),
        ("segment", RejectReason::UnknownSegment),
        &mut rejections,
    );
    let region = resolve_party_field(
        request.region.as_deref(),
        account.map(|a| a.region.as_str()),
        |id| rules.region(id).is_some(),
        ("region", RejectReason::UnknownRegion),
        &mut rejections,
    );
    if request.lines.is_empty() {
        reject(
            &mut rejections,
            "lines",
            RejectReason::MissingField,
            "a quote needs at least one line".into(),
        );
    } else if request.lines.len() > crate::MAX_LINES {
        reject(
            &mut rejections,
            "lines",
            RejectReason::TooManyLines,
            format!(
                "{} lines; a quote has at most {}",
                request.lines.len(),
                crate::MAX_LINES
            ),
        );
        return Err(PricingError::InvalidRequest(rejections));
    }
    let mut lines = Vec::with_capacity(request.lines.len());
    let mut seen_ids = std::collections::HashSet::with_capacity(request.lines.len());
    for (index, line) in request.lines.iter().enumerate() {
        let field = |name: &str| format!("lines[{index}].{name}");
        if !seen_ids.insert(line.line_id.as_str()) {
            reject(
                &mut rejections,
                &field("line_id"),
                RejectReason::DuplicateLineId,
                format!("line id `{}` is used by an earlier line", line.line_id),
            );
        }
        let quantity_ok = check_quantity(line.quantity, &field("quantity"), &mut rejections);
        if let (Some(discount), Some(currency)) = (&line.discount, currency) {
            check_discount(discount, &field("discount"), currency, &mut rejections);
        }
        let Some(product_rules) = rules.product_rules(&line.sku) else {
            reject(
                &mut rejections,
                &field("sku"),
                RejectReason::UnknownSku,
                format!("unknown SKU `{}`", line.sku),
            );
            continue;
        };
        let (Some(book), Some(position)) = (book, book_position) else {
            continue;
        };
        let Some(entry) = product_rules.price_on(position, request.price_date) else {
            reject(
                &mut rejections,
                &field("sku"),
                RejectReason::NotInPriceBook,
                format!(
                    "SKU `{}` has no price in price book `{}` ({}) on {}",
                    line.sku, book.id, book.currency, request.price_date
                ),
            );
            continue;
        };
        if !quantity_ok {
            // Refused above; pricing it could overflow.
            continue;
        }
        lines.push(Line::listed(index, line, product_rules, entry, currency));
    }
    if let (Some(discount), Some(currency)) = (&request.header_discount, currency) {
        check_discount(discount, "header_discount", currency, &mut rejections);
    }
    match (currency, book) {
        (Some(currency), Some(book)) if rejections.is_empty() => Ok((
            Context {
                rules,
                currency,
                book,
                date: request.price_date,
                account,
                segment: segment.map(str::to_owned),
                region: region.map(str::to_owned),
            },
            lines,
        )),
        _ => Err(PricingError::InvalidRequest(rejections)),
    }
}

/// Segment or region: the request's value, else the account's; a request
/// value that contradicts the account's, or that the rules do not know, is
/// rejected.
fn resolve_party_field<'a>(
    requested: Option<&'a str>,
    from_account: Option<&'a str>,
    known: impl Fn(&str) -> bool,
    (field, unknown): (&str, RejectReason),
    rejections: &mut Vec<Rejection>,
) -> Option<&'a str> {
    let requested = requested.filter(|s| !s.is_empty());
    match (requested, from_account) {
        (Some(r), Some(a)) if r != a => {
            rejections.push(Rejection::new(
                field,
                RejectReason::ConflictsWithAccount,
                format!("{field} `{r}` contradicts the account's {field} `{a}`"),
            ));
            Some(a)
        }
        (Some(r), _) if !known(r) => {
            rejections.push(Rejection::new(
                field,
                unknown,
                format!("unknown {field} `{r}`"),
            ));
            None
        }
        (r, a) => r.or(a),
    }
}
