//! Configured lines. A line for a configurable product that carries the
//! rep's choices (or whose model says it must be configured) is configured
//! with the product's compiled model before the waterfall runs. A
//! contradictory configuration is refused with its minimal conflict and
//! the choices to drop; an incomplete one with the groups still to choose.
//! A complete one becomes the base line followed by one sub-line per option
//! in it (chosen, defaulted or added by a rule), each `line quantity ×
//! option quantity` units, each through the whole waterfall.
use quotecast_configurator::{CompiledModel, ConfigError, Configurators, OptionStatus};
use rust_decimal::Decimal;

use crate::{
    ConfiguredBy, LineRequest, ManualDiscount, PartOf, PricingError, QuoteRequest, RejectReason,
    Rejection,
};

/// Where a line of the expanded request came from in the caller's.
enum Origin {
    /// Line `i` itself.
    Line(usize),
    /// The option the rep chose at `configuration[choice]` of line `line`.
    Choice { line: usize, choice: usize },
    /// An option of line `line`'s configuration the rep did not choose.
    Derived { line: usize, sku: String },
}

/// A request with configured lines expanded into sub-lines.
pub(crate) struct Expanded {
    pub request: QuoteRequest,
    origins: Vec<Origin>,
}

fn is_configured(configurators: &Configurators, line: &LineRequest) -> bool {
    line.configuration.is_some()
        || configurators
            .get(&line.sku)
            .is_some_and(|m| m.model().required)
}

/// `None` when no line is configured (the request prices as it is).
pub(crate) fn expand(
    configurators: &Configurators,
    request: &QuoteRequest,
) -> Result<Option<Expanded>, PricingError> {
    // Too many lines is refused (with the caller's count) before any
    // line is expanded.
    if request.lines.len() > crate::MAX_LINES
        || !request
            .lines
            .iter()
            .any(|l| is_configured(configurators, l))
    {
        return Ok(None);
    }
    let mut rejections = Vec::new();
    let mut lines = Vec::with_capacity(request.lines.len());
    let mut origins = Vec::with_capacity(request.lines.len());
    for (i, line) in request.lines.iter().enumerate() {
        let base = LineRequest {
            configuration: None,
            part_of: None,
            ..line.clone()
        };
        if !is_configured(configurators, line) {
            lines.push(base);
            origins.push(Origin::Line(i));
            continue;
        }
        let Some(model) = configurators.get(&line.sku) else {
            let known: Vec<&str> = configurators.keys().map(String::as_str).collect();
            rejections.push(Rejection::new(
                format!("lines[{i}].configuration"),
                RejectReason::NotConfigurable,
                format!(
                    "`{}` is not a configurable product; configurable: {}",
                    line.sku,
                    known.join(", ")
                ),
            ));
            continue;
        };
        let Some(options) = configure_line(model, line, i, &mut rejections) else {
            continue;
        };
        lines.push(base);
        origins.push(Origin::Line(i));
        for (sku, units, configured_by) in options {
            let chosen = line
                .configuration
                .iter()
                .flatten()
                .position(|c| c.sku == sku);
            origins.push(match (&configured_by, chosen) {
                (ConfiguredBy::Chosen, Some(choice)) => Origin::Choice { line: i, choice },
                _ => Origin::Derived {
                    line: i,
                    sku: sku.clone(),
                },
            });
            lines.push(LineRequest {
                line_id: format!("{}/{sku}", line.line_id),
                sku,
                // An overflow is out of range, which pricing refuses.
                quantity: line
                    .quantity
                    .checked_mul(Decimal::from(units))
                    .unwrap_or(Decimal::MAX),
                discount: line.discount.clone(),
                configuration: None,
                part_of: Some(PartOf {
                    line_id: line.line_id.clone(),
                    configured_by,
                }),
            });
        }
    }
    if !rejections.is_empty() {
        return Err(PricingError::InvalidRequest(rejections));
    }
    Ok(Some(Expanded {
        request: QuoteRequest {
            currency: request.currency.clone(),
            price_date: request.price_date,
            account: request.account.clone(),
            segment: request.segment.clone(),
            region: request.region.clone(),
            lines,
            header_discount: request.header_discount.clone(),
        },
        origins,
    }))
}

/// The options (SKU, units per line unit, how each got in) of line `i`'s
/// complete configuration; `None` with the reasons recorded when it is
/// not one.
fn configure_line(
    model: &CompiledModel,
    line: &LineRequest,
    i: usize,
    rejections: &mut Vec<Rejection>,
) -> Option<Vec<(String, u32, ConfiguredBy)>> {
    let field = format!("lines[{i}].configuration");
    let before = rejections.len();
    if let Some(ManualDiscount::Amount { .. }) = &line.discount {
        rejections.push(Rejection::new(
            format!("lines[{i}].discount.amount"),
            RejectReason::DiscountOutOfRange,
            "a configured line takes a percent discount, which applies to each of its options",
        ));
    }
    let mut choices = Vec::new();
    for (j, c) in line.configuration.iter().flatten().enumerate() {
        match model.choice(&c.sku, c.quantity) {
            Ok(choice)
                if choices
                    .iter()
                    .any(|x: &quotecast_configurator::Choice| x.option == choice.option) =>
            {
                rejections.push(Rejection::new(
                    format!("{field}[{j}].sku"),
                    RejectReason::InvalidConfiguration,
                    format!("`{}` is chosen more than once", c.sku),
                ));
            }
            Ok(choice) => choices.push(choice),
            Err(error @ ConfigError::QuantityAboveMax { .. }) => rejections.push(Rejection::new(
                format!("{field}[{j}].quantity"),
                RejectReason::QuantityOutOfRange,
                error.to_string(),
            )),
            Err(error) => rejections.push(Rejection::new(
                format!("{field}[{j}].sku"),
                RejectReason::UnknownOption,
                error.to_string(),
            )),
        }
    }
    if rejections.len() > before {
        return None;
    }
    let state = match model.configure(&choices, false) {
        Ok(state) => state,
        Err(error) => {
            rejections.push(Rejection::new(
                field,
                RejectReason::InvalidConfiguration,
                error.to_string(),
            ));
            return None;
        }
    };
    if let Some(conflict) = &state.conflict {
        rejections.push(Rejection::new(
            field,
            RejectReason::InvalidConfiguration,
            format!(
                "the configuration of `{}` is contradictory: {}; to repair it, {}",
                line.sku,
                model.describe(&conflict.explanation),
                model.describe_repairs(conflict)
            ),
        ));
        return None;
    }
    if !state.complete {
        let m = model.model();
        let missing: Vec<String> = state
            .missing
            .iter()
            .map(|&g| {
                let group = &m.groups[g];
                format!("{} (at least {})", group.name, group.min)
            })
            .collect();
        let message = if missing.is_empty() {
            format!(
                "the configuration of `{}` is not complete: choose more options",
                line.sku
            )
        } else {
            format!(
                "the configuration of `{}` is not complete: choose {}",
                line.sku,
                missing.join(", ")
            )
        };
        rejections.push(Rejection::new(
            field,
            RejectReason::IncompleteConfiguration,
            message,
        ));
        return None;
    }
    let options = state
        .options
        .iter()
        .filter(|s| s.quantity > 0)
        .map(|s| {
            let by = match (&s.status, &s.default) {
                (OptionStatus::Chosen, _) => ConfiguredBy::Chosen,
                (_, Some(default)) => ConfiguredBy::Default(default.clone()),
                _ => ConfiguredBy::Added,
            };
            (model.model().options[s.option].sku.clone(), s.quantity, by)
        })
        .collect();
    Some(options)
}

impl Expanded {
    /// Points the engine's rejections, which name lines of the expanded
    /// request, at the caller's lines and choices.
    pub fn remap(&self, error: PricingError) -> PricingError {
        let remap = |rejections: Vec<Rejection>| {
            rejections.into_iter().map(|r| self.remap_one(r)).collect()
        };
        match error {
            PricingError::InvalidRequest(r) => PricingError::InvalidRequest(remap(r)),
            PricingError::RuleViolation(r) => PricingError::RuleViolation(remap(r)),
        }
    }

    fn remap_one(&self, mut r: Rejection) -> Rejection {
        let Some((index, rest)) = r
            .field
            .strip_prefix("lines[")
            .and_then(|s| s.split_once(']'))
            .and_then(|(n, rest)| Some((n.parse::<usize>().ok()?, rest.to_owned())))
        else {
            return r;
        };
        match self.origins.get(index) {
            Some(Origin::Line(i)) => r.field = format!("lines[{i}]{rest}"),
            Some(Origin::Choice { line, choice }) => {
                r.field = format!("lines[{line}].configuration[{choice}]{rest}");
            }
            Some(Origin::Derived { line, sku }) => {
                r.field = format!("lines[{line}].configuration");
                r.message = format!(
                    "option `{sku}`, which the configuration adds: {}",
                    r.message
                );
            }
            None => {}
        }
        r
    }
}
