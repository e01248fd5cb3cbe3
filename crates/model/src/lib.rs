//! The quotecast domain model: what the rule files describe, as typed values.
//!
//! Everything here is plain data plus small, pure helpers (rounding, date
//! ranges, selectors, figures as text). Loading and validating files is the job of
//! `quotecast-rules`; computing prices is the job of `quotecast-pricing`.

mod approval_chain;
mod catalog;
mod configuration;
mod money;
mod pipeline;
mod planning;
mod pricing_rules;
mod rule_set;
mod text;

pub use approval_chain::{ApprovalRoute, ApproverGroup, Decide, RouteFor};
pub use catalog::{Account, Product, ProductKind, ProductLine, Region, Segment};
pub use configuration::{
    ConfigDefault, ConfigModel, ConfigOption, ConfigRule, ConfigRuleKind, OptionGroup,
};
pub use money::{
    Currency, CurrencyCode, DateRange, Percent, RoundingMode, parse_strict_decimal, round_dp,
};
pub use pipeline::{FiscalYear, ForecastCategory, PIPELINE_COLUMNS, Stage, StageOutcome};
pub use planning::{
    AccountTerms, AttachRate, BomLine, Installment, Item, Milestone, PaymentTerms, PlanningData,
    SafetyStock, Supply,
};
pub use pricing_rules::{
    ApprovalCondition, ApprovalLevel, ApprovalRule, BundleBenefit, BundleRule, ContractParty,
    ContractPrice, DiscountSchedule, FloorAction, FloorKind, FloorRule, PriceBook, PriceEntry,
    ProductSelector, Promotion, PromotionConditions, QuantityAggregation, Tier, TierBasis,
    TierMethod,
};
pub use rule_set::{ProductRules, RuleSet, RuleSetParts};
pub use text::{MONTH_NAMES, TextOut, Trimmed, push_date};

/// Errors raised while assembling a [`RuleSet`] from parts whose
/// cross-references do not hold. The rules crate reports these with file and
/// line before they can get here; this is the last line of defence.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    #[error("invalid currency code `{0}`: expected three upper-case letters such as USD")]
    InvalidCurrencyCode(String),
    #[error("{kind} `{id}` is defined twice")]
    Duplicate { kind: &'static str, id: String },
    #[error("{kind} `{id}` refers to unknown {target} `{reference}`")]
    UnknownReference {
        kind: &'static str,
        id: String,
        target: &'static str,
        reference: String,
    },
}
