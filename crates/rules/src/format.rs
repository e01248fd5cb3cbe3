//! The TOML shapes of rule files, as written by people. Each record keeps
//! its span so problems can be reported with a line number.
use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::{RuleIssue, decimal::ExactDecimal, source::Source};

/// A record with the line it starts on.
pub(crate) struct At<T> {
    pub line: usize,
    pub value: T,
}

/// One parsed rule file.
pub(crate) struct ParsedFile<'s> {
    pub source: &'s Source,
    pub corporate_currency: Option<At<String>>,
    pub fiscal_year_start: Option<At<String>>,
    pub currencies: Vec<At<CurrencyDef>>,
    pub product_lines: Vec<At<ProductLineDef>>,
    pub products: Vec<At<ProductDef>>,
    pub segments: Vec<At<NamedDef>>,
    pub regions: Vec<At<NamedDef>>,
    pub accounts: Vec<At<AccountDef>>,
    pub price_books: Vec<At<PriceBookDef>>,
    pub prices: Vec<At<PriceDef>>,
    pub contract_prices: Vec<At<ContractPriceDef>>,
    pub schedules: Vec<At<ScheduleDef>>,
    pub bundles: Vec<At<BundleDef>>,
    pub promotions: Vec<At<PromotionDef>>,
    pub floors: Vec<At<FloorDef>>,
    pub approval_levels: Vec<At<ApprovalLevelDef>>,
    pub approval_rules: Vec<At<ApprovalRuleDef>>,
    pub approver_groups: Vec<At<ApproverGroupDef>>,
    pub approval_routes: Vec<At<ApprovalRouteDef>>,
    pub configurables: Vec<At<ConfigurableDef>>,
    pub config_groups: Vec<At<ConfigGroupDef>>,
    pub config_rules: Vec<At<ConfigRuleDef>>,
    pub config_defaults: Vec<At<ConfigDefaultDef>>,
    pub stages: Vec<At<StageDef>>,
    pub columns: Vec<At<ColumnDef>>,
    pub items: Vec<At<ItemDef>>,
    pub bom: Vec<At<BomDef>>,
    pub attach_rates: Vec<At<AttachRateDef>>,
    pub payment_terms: Vec<At<PaymentTermsDef>>,
    pub account_terms: Vec<At<AccountTermsDef>>,
}

impl ParsedFile<'_> {
    pub fn issue(&self, line: usize, message: impl Into<String>) -> RuleIssue {
        RuleIssue {
            file: self.source.path.clone(),
            line,
            message: message.into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    corporate_currency: Option<Spanned<String>>,
    fiscal_year_start: Option<Spanned<String>>,
    #[serde(default)]
    currency: Vec<Spanned<CurrencyDef>>,
    #[serde(default)]
    product_line: Vec<Spanned<ProductLineDef>>,
    #[serde(default)]
    product: Vec<Spanned<ProductDef>>,
    #[serde(default)]
    segment: Vec<Spanned<NamedDef>>,
    #[serde(default)]
    region: Vec<Spanned<NamedDef>>,
    #[serde(default)]
    account: Vec<Spanned<AccountDef>>,
    #[serde(default)]
    price_book: Vec<Spanned<PriceBookDef>>,
    #[serde(default)]
    price: Vec<Spanned<PriceDef>>,
    #[serde(default)]
    contract_price: Vec<Spanned<ContractPriceDef>>,
    #[serde(default)]
    volume_schedule: Vec<Spanned<ScheduleDef>>,
    #[serde(default)]
    bundle: Vec<Spanned<BundleDef>>,
    #[serde(default)]
    promotion: Vec<Spanned<PromotionDef>>,
    #[serde(default)]
    floor: Vec<Spanned<FloorDef>>,
    #[serde(default)]
    approval_level: Vec<Spanned<ApprovalLevelDef>>,
    #[serde(default)]
    approval_rule: Vec<Spanned<ApprovalRuleDef>>,
    #[serde(default)]
    approver_group: Vec<Spanned<ApproverGroupDef>>,
    #[serde(default)]
    approval_route: Vec<Spanned<ApprovalRouteDef>>,
    #[serde(default)]
    configurable: Vec<Spanned<ConfigurableDef>>,
    #[serde(default)]
    config_group: Vec<Spanned<ConfigGroupDef>>,
    #[serde(default)]
    config_rule: Vec<Spanned<ConfigRuleDef>>,
    #[serde(default)]
    config_default: Vec<Spanned<ConfigDefaultDef>>,
    #[serde(default)]
    stage: Vec<Spanned<StageDef>>,
    #[serde(default)]
    column: Vec<Spanned<ColumnDef>>,
    #[serde(default)]
    item: Vec<Spanned<ItemDef>>,
    #[serde(default)]
    bom: Vec<Spanned<BomDef>>,
    #[serde(default)]
    attach_rate: Vec<Spanned<AttachRateDef>>,
    #[serde(default)]
    payment_terms: Vec<Spanned<PaymentTermsDef>>,
    #[serde(default)]
    account_terms: Vec<Spanned<AccountTermsDef>>,
}

/// A planned item and its supply data.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ItemDef {
    pub id: String,
    /// Optional for an item that is a catalog SKU (its product's name).
    pub name: Option<String>,
    /// `buy`, `make`, `phantom` or `service`.
    pub supply: String,
    #[serde(default = "default_unit")]
    pub unit: String,
    pub lead_time_days: Option<u32>,
    pub min_order: Option<ExactDecimal>,
    pub order_multiple: Option<ExactDecimal>,
    pub supplier: Option<String>,
    /// A quantity, or `"computed"`.
    pub safety_stock: Option<ExactOrWord>,
    pub skill: Option<String>,
    pub cost: Option<ExactDecimal>,
}

/// A decimal, or a word such as `"computed"`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum ExactOrWord {
    Number(ExactDecimal),
    Word(String),
}

/// One line of a bill of materials.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BomDef {
    pub parent: String,
    pub component: String,
    pub quantity: ExactDecimal,
    pub scrap_percent: Option<ExactDecimal>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A planning percentage of an option of a configurable product.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AttachRateDef {
    pub product: String,
    pub option: String,
    pub percent: ExactDecimal,
    /// Units of the option on a product unit that has it (default 1).
    pub units: Option<ExactDecimal>,
    pub weight: Option<u32>,
}

/// How a won deal's amount is paid, and the product lines it is the
/// default for.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PaymentTermsDef {
    pub id: String,
    pub name: String,
    pub installments: Vec<InstallmentDef>,
    #[serde(default)]
    pub product_lines: Vec<String>,
}

/// One installment: `percent` of the amount, due `net_days` after the
/// milestone `at` (`signing` or `delivery`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InstallmentDef {
    pub percent: ExactDecimal,
    pub at: String,
    #[serde(default)]
    pub net_days: u32,
}

/// An account's own terms, for one product line or all of them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountTermsDef {
    pub account: String,
    pub product_line: Option<String>,
    pub terms: String,
}

/// A product line and the days from signing to delivery of its products.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProductLineDef {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub delivery_days: u32,
}

/// A stage of the sales funnel.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StageDef {
    pub id: String,
    pub name: String,
    pub order: u32,
    /// Percent.
    pub win_rate: ExactDecimal,
    pub category: String,
    pub time_limit_days: Option<u32>,
    /// `won` or `lost` for closed stages.
    pub outcome: Option<String>,
    /// A CRM's own names for the stage.
    #[serde(default)]
    pub labels: Vec<String>,
}

/// A CRM's own names for a column of pipeline and history files.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ColumnDef {
    /// The column (`opportunity_id`, `expected_close`, ...).
    pub id: String,
    pub labels: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CurrencyDef {
    pub code: String,
    pub name: String,
    pub scale: u32,
    pub rounding: String,
    pub per_corporate: ExactDecimal,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NamedDef {
    pub id: String,
    pub name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProductDef {
    pub sku: String,
    pub name: String,
    pub product_line: String,
    pub kind: String,
    pub option_group: Option<String>,
    #[serde(default = "default_unit")]
    pub unit: String,
    pub cost: ExactDecimal,
}

fn default_unit() -> String {
    "each".to_owned()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountDef {
    pub id: String,
    pub name: String,
    pub segment: String,
    pub region: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PriceBookDef {
    pub id: String,
    pub name: String,
    pub currency: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PriceDef {
    pub book: String,
    pub sku: String,
    pub price: ExactDecimal,
    pub from: String,
    pub to: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContractPriceDef {
    pub id: String,
    pub account: Option<String>,
    pub segment: Option<String>,
    pub sku: String,
    pub currency: String,
    pub price: ExactDecimal,
    pub from: String,
    pub to: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct SelectorDef {
    #[serde(default)]
    pub skus: Vec<String>,
    #[serde(default)]
    pub product_lines: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TierDef {
    pub from: ExactDecimal,
    pub to: Option<ExactDecimal>,
    pub percent: ExactDecimal,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScheduleDef {
    pub id: String,
    pub name: String,
    pub method: String,
    pub basis: String,
    pub aggregate: String,
    #[serde(default)]
    pub applies_to: SelectorDef,
    pub tiers: Vec<TierDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BundleDef {
    pub id: String,
    pub name: String,
    pub parent: String,
    pub component: String,
    pub per_parent: Option<ExactDecimal>,
    pub percent_off: Option<ExactDecimal>,
    pub fixed_price: Option<std::collections::BTreeMap<String, ExactDecimal>>,
    #[serde(default)]
    pub included: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PromotionDef {
    pub id: String,
    pub name: String,
    pub from: String,
    pub to: Option<String>,
    pub percent: ExactDecimal,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub exclusive: bool,
    #[serde(default)]
    pub segments: Vec<String>,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub applies_to: SelectorDef,
    pub min_line_quantity: Option<ExactDecimal>,
    pub min_quote_total: Option<ExactDecimal>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FloorDef {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub applies_to: SelectorDef,
    pub min_percent_of_list: Option<ExactDecimal>,
    pub min_margin_percent: Option<ExactDecimal>,
    pub action: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApprovalLevelDef {
    pub id: String,
    pub name: String,
    pub rank: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApprovalRuleDef {
    pub id: String,
    pub name: String,
    pub level: String,
    pub line_discount_above: Option<ExactDecimal>,
    pub manual_discount_above: Option<ExactDecimal>,
    pub quote_discount_above: Option<ExactDecimal>,
    pub margin_below: Option<ExactDecimal>,
    pub net_total_above: Option<ExactDecimal>,
    /// `true`: some line was asked below its price floor.
    pub line_below_floor: Option<bool>,
    /// A product line the quote holds a line of.
    pub product_line_present: Option<String>,
}

/// A group of approvers (principals' names).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApproverGroupDef {
    pub id: String,
    pub name: String,
    pub members: Vec<String>,
    /// `first` (the first member's decision counts, the default) or `all`.
    pub decide: Option<String>,
    pub escalate_after_days: Option<u32>,
    pub escalate_to: Option<String>,
}

/// Which groups decide when an approval rule (or any rule of a level)
/// triggers.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApprovalRouteDef {
    pub rule: Option<String>,
    pub level: Option<String>,
    pub groups: Vec<String>,
}

/// A base product that is configured from option groups.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigurableDef {
    pub product: String,
    /// Numeric attributes of the base unit itself: slots, bays, watts.
    #[serde(default)]
    pub provides: BTreeMap<String, i64>,
    /// Quote lines for the product must be configured.
    #[serde(default)]
    pub required: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigOptionDef {
    pub sku: String,
    #[serde(default = "one")]
    pub max: u32,
    #[serde(default)]
    pub numbers: BTreeMap<String, i64>,
    #[serde(default)]
    pub categories: BTreeMap<String, String>,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigGroupDef {
    pub product: String,
    pub id: String,
    pub name: String,
    pub min: u32,
    pub max: u32,
    pub options: Vec<Spanned<ConfigOptionDef>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequiresDef {
    pub option: String,
    pub any_of: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExcludesDef {
    pub option: String,
    pub options: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PerUnitDef {
    pub option: String,
    pub needs: String,
    #[serde(default = "one")]
    pub quantity: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddsDef {
    pub when: String,
    pub add: String,
    #[serde(default = "one")]
    pub quantity: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResourceDef {
    pub consumes: String,
    pub provides: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SameValueDef {
    pub group: String,
    pub attribute: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompatibleDef {
    pub left: String,
    pub right: String,
    pub pairs: Vec<(String, String)>,
}

/// One configuration rule: exactly one of the kinds.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigRuleDef {
    pub id: String,
    pub product: String,
    pub description: String,
    pub requires: Option<RequiresDef>,
    pub excludes: Option<ExcludesDef>,
    pub per_unit: Option<PerUnitDef>,
    pub adds: Option<AddsDef>,
    pub resource: Option<ResourceDef>,
    pub same_value: Option<SameValueDef>,
    pub compatible: Option<CompatibleDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigDefaultDef {
    pub id: String,
    pub product: String,
    pub option: String,
    #[serde(default = "one")]
    pub quantity: u32,
    #[serde(default)]
    pub when: Vec<String>,
}

pub(crate) fn located<T>(source: &Source, items: Vec<Spanned<T>>) -> Vec<At<T>> {
    items
        .into_iter()
        .map(|s| At {
            line: source.line_of(s.span().start),
            value: s.into_inner(),
        })
        .collect()
}

/// Parses one file; a syntax or shape error becomes an issue at its line.
pub(crate) fn parse<'s>(source: &'s Source, issues: &mut Vec<RuleIssue>) -> Option<ParsedFile<'s>> {
    let raw: RawFile = match toml::from_str(&source.text) {
        Ok(raw) => raw,
        Err(e) => {
            let line = e.span().map_or(0, |s| source.line_of(s.start));
            issues.push(RuleIssue {
                file: source.path.clone(),
                line,
                message: e.message().trim().to_owned(),
            });
            return None;
        }
    };
    Some(ParsedFile {
        source,
        corporate_currency: raw.corporate_currency.map(|s| At {
            line: source.line_of(s.span().start),
            value: s.into_inner(),
        }),
        fiscal_year_start: raw.fiscal_year_start.map(|s| At {
            line: source.line_of(s.span().start),
            value: s.into_inner(),
        }),
        currencies: located(source, raw.currency),
        product_lines: located(source, raw.product_line),
        products: located(source, raw.product),
        segments: located(source, raw.segment),
        regions: located(source, raw.region),
        accounts: located(source, raw.account),
        price_books: located(source, raw.price_book),
        prices: located(source, raw.price),
        contract_prices: located(source, raw.contract_price),
        schedules: located(source, raw.volume_schedule),
        bundles: located(source, raw.bundle),
        promotions: located(source, raw.promotion),
        floors: located(source, raw.floor),
        approval_levels: located(source, raw.approval_level),
        approval_rules: located(source, raw.approval_rule),
        approver_groups: located(source, raw.approver_group),
        approval_routes: located(source, raw.approval_route),
        configurables: located(source, raw.configurable),
        config_groups: located(source, raw.config_group),
        config_rules: located(source, raw.config_rule),
        config_defaults: located(source, raw.config_default),
        stages: located(source, raw.stage),
        columns: located(source, raw.column),
        items: located(source, raw.item),
        bom: located(source, raw.bom),
        attach_rates: located(source, raw.attach_rate),
        payment_terms: located(source, raw.payment_terms),
        account_terms: located(source, raw.account_terms),
    })
}
