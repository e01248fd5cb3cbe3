//! The compiled, cross-checked rule set with the look-up indexes the pricing
//! engine needs on its hot path.
use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::{
    Account, ApprovalLevel, ApprovalRoute, ApprovalRule, ApproverGroup, BundleRule, ConfigModel,
    ContractParty, ContractPrice, Currency, CurrencyCode, DiscountSchedule, FiscalYear, FloorRule,
    ModelError, PlanningData, PriceBook, PriceEntry, Product, ProductLine, Promotion, Region,
    RouteFor, Segment, Stage,
};

/// Everything the rule files define, before indexing.
#[derive(Debug, Clone, Default)]
pub struct RuleSetParts {
    pub corporate_currency: Option<CurrencyCode>,
    pub currencies: Vec<Currency>,
    pub product_lines: Vec<ProductLine>,
    pub products: Vec<Product>,
    pub segments: Vec<Segment>,
    pub regions: Vec<Region>,
    pub accounts: Vec<Account>,
    pub price_books: Vec<PriceBook>,
    pub contract_prices: Vec<ContractPrice>,
    pub schedules: Vec<DiscountSchedule>,
    pub bundles: Vec<BundleRule>,
    pub promotions: Vec<Promotion>,
    pub floors: Vec<FloorRule>,
    pub approval_levels: Vec<ApprovalLevel>,
    pub approval_rules: Vec<ApprovalRule>,
    /// Who decides approvals, and which rules go to whom.
    pub approver_groups: Vec<ApproverGroup>,
    pub approval_routes: Vec<ApprovalRoute>,
    pub configurations: Vec<ConfigModel>,
    /// The funnel's stages, in any order.
    pub stages: Vec<Stage>,
    /// A CRM's own names for the columns of pipeline and history files:
    /// (label, column).
    pub column_labels: Vec<(String, String)>,
    /// The month the fiscal year starts in (quarters follow it).
    pub fiscal_year: FiscalYear,
    /// Items, BOMs and attach rates for the demand roll-down.
    pub planning: PlanningData,
}

/// Everything that applies to one SKU, resolved once at load time so that
/// pricing a line takes a single look-up.
#[derive(Debug, Clone, Copy)]
pub struct ProductRules<'r> {
    pub product: &'r Product,
    /// Position of the product in SKU order (0-based, dense).
    pub ordinal: usize,
    /// Position of its product line in id order (0-based, dense).
    pub line_ordinal: usize,
    /// The governing volume schedule and its position in `schedules()`.
    pub schedule: Option<(usize, &'r DiscountSchedule)>,
    pub contracts: &'r [ContractPrice],
    /// Bundle rules with this SKU as the component, in id order.
    pub bundles: &'r [BundleRule],
    /// Positions in `floors` of the floor rules that apply.
    floors: &'r [usize],
    all_floors: &'r [FloorRule],
    /// Positions in `promotions()` of the promotions whose product
    /// condition this SKU meets, highest priority first.
    pub promotions: &'r [usize],
    /// This SKU's entries in each price book, by book position.
    prices: &'r [Vec<PriceEntry>],
}

impl<'r> ProductRules<'r> {
    pub fn floors(&self) -> impl Iterator<Item = &'r FloorRule> + use<'r> {
        let all = self.all_floors;
        self.floors.iter().map(move |&i| &all[i])
    }

    /// The list price in force on `date` in the price book at position
    /// `book` (see [`RuleSet::price_book_position`]).
    pub fn price_on(&self, book: usize, date: chrono::NaiveDate) -> Option<&'r PriceEntry> {
        self.prices
            .get(book)?
            .iter()
            .find(|e| e.valid.contains(date))
    }
}

#[derive(Debug, Clone, Default)]
struct ProductIndex {
    ordinal: usize,
    line_ordinal: usize,
    schedule: Option<usize>,
    contracts: Vec<ContractPrice>,
    bundles: Vec<BundleRule>,
    floors: Vec<usize>,
    promotions: Vec<usize>,
    prices: Vec<Vec<PriceEntry>>,
}

/// The sorted rules the per-SKU index points into.
struct Resolved<'a> {
    price_books: &'a BTreeMap<CurrencyCode, PriceBook>,
    schedules: &'a [DiscountSchedule],
    promotions: &'a [Promotion],
    floors: &'a [FloorRule],
}

/// Resolves, for every SKU, everything that applies to it, so that pricing
/// a line takes one look-up. References were checked by the caller.
fn build_index(
    products: &BTreeMap<String, Product>,
    product_lines: &BTreeMap<String, ProductLine>,
    rules: Resolved<'_>,
    contracts: Vec<ContractPrice>,
    mut bundles: Vec<BundleRule>,
) -> FxHashMap<String, ProductIndex> {
    let positions = |matches: &dyn Fn(usize) -> bool, count: usize| -> Vec<usize> {
        (0..count).filter(|&i| matches(i)).collect()
    };
    let mut index: FxHashMap<String, ProductIndex> = products
        .values()
        .enumerate()
        .map(|(ordinal, product)| {
            // The most specific schedule wins; ties go to the lowest id.
            let schedule = rules
                .schedules
                .iter()
                .enumerate()
                .filter(|(_, s)| s.applies_to.matches(product))
                .max_by_key(|(i, s)| (s.applies_to.specificity(product), std::cmp::Reverse(*i)))
                .map(|(i, _)| i);
            let entry = ProductIndex {
                ordinal,
                line_ordinal: product_lines
                    .keys()
                    .position(|id| *id == product.product_line)
                    .unwrap_or(0),
                schedule,
                contracts: Vec::new(),
                bundles: Vec::new(),
                floors: positions(
                    &|i| rules.floors[i].applies_to.matches(product),
                    rules.floors.len(),
                ),
                promotions: positions(
                    &|i| rules.promotions[i].conditions.products.matches(product),
                    rules.promotions.len(),
                ),
                prices: rules
                    .price_books
                    .values()
                    .map(|book| book.entries.get(&product.sku).cloned().unwrap_or_default())
                    .collect(),
            };
            (product.sku.clone(), entry)
        })
        .collect();
    for contract in contracts {
        if let Some(entry) = index.get_mut(&contract.sku) {
            entry.contracts.push(contract);
        }
    }
    bundles.sort_by(|a, b| a.id.cmp(&b.id));
    for bundle in bundles {
        if let Some(entry) = index.get_mut(&bundle.component_sku) {
            entry.bundles.push(bundle);
        }
    }
    index
}

/// A complete, consistent rule set. Built once at load time and shared
/// read-only (it is `Send + Sync`); every reference in it resolves.
#[derive(Debug, Clone)]
pub struct RuleSet {
    corporate_currency: CurrencyCode,
    currencies: BTreeMap<CurrencyCode, Currency>,
    product_lines: BTreeMap<String, ProductLine>,
    /// In SKU order; a product's ordinal is its position here.
    products: Vec<Product>,
    segments: BTreeMap<String, Segment>,
    regions: BTreeMap<String, Region>,
    accounts: BTreeMap<String, Account>,
    price_books: BTreeMap<CurrencyCode, PriceBook>,
    schedules: Vec<DiscountSchedule>,
    index: FxHashMap<String, ProductIndex>,
    promotions: Vec<Promotion>,
    floors: Vec<FloorRule>,
    approval_levels: Vec<ApprovalLevel>,
    approval_rules: Vec<ApprovalRule>,
    approver_groups: Vec<ApproverGroup>,
    approval_routes: Vec<ApprovalRoute>,
    /// Configuration models by base product SKU.
    configurations: BTreeMap<String, ConfigModel>,
    /// In funnel order.
    stages: Vec<Stage>,
    /// (label, column), in file order.
    column_labels: Vec<(String, String)>,
    fiscal_year: FiscalYear,
    planning: PlanningData,
    /// Identifies the rule files it was loaded from (empty when built
    /// otherwise): what a stored quote names as the rules it was priced
    /// with.
    fingerprint: String,
}

fn index_unique<T>(
    items: Vec<T>,
    kind: &'static str,
    key: impl Fn(&T) -> String,
) -> Result<BTreeMap<String, T>, ModelError> {
    let mut map = BTreeMap::new();
    for item in items {
        let id = key(&item);
        if map.insert(id.clone(), item).is_some() {
            return Err(ModelError::Duplicate { kind, id });
        }
    }
    Ok(map)
}

fn require(
    known: bool,
    kind: &'static str,
    id: &str,
    target: &'static str,
    reference: &str,
) -> Result<(), ModelError> {
    if known {
        Ok(())
    } else {
        Err(ModelError::UnknownReference {
            kind,
            id: id.to_owned(),
            target,
            reference: reference.to_owned(),
        })
    }
}

/// The currencies by code, each once, the corporate currency among them.
fn index_currencies(
    list: Vec<Currency>,
    corporate_currency: &CurrencyCode,
) -> Result<BTreeMap<CurrencyCode, Currency>, ModelError> {
    let mut currencies = BTreeMap::new();
    for currency in list {
        let code = currency.code.clone();
        if currencies.insert(code.clone(), currency).is_some() {
            return Err(ModelError::Duplicate {
                kind: "currency",
                id: code.to_string(),
            });
        }
    }
    require(
        currencies.contains_key(corporate_currency),
        "rule set",
        "corporate_currency",
        "currency",
        corporate_currency.as_str(),
    )?;
    Ok(currencies)
}

/// Every account's segment and region known.
fn check_accounts(
    accounts: &BTreeMap<String, Account>,
    segments: &BTreeMap<String, Segment>,
    regions: &BTreeMap<String, Region>,
) -> Result<(), ModelError> {
    for a in accounts.values() {
        require(
            segments.contains_key(&a.segment),
            "account",
            &a.id,
            "segment",
            &a.segment,
        )?;
        require(
            regions.contains_key(&a.region),
            "account",
            &a.id,
            "region",
            &a.region,
        )?;
    }
    Ok(())
}

/// The price books by currency, one per currency, each in a known
/// currency and pricing known SKUs only.
fn index_price_books(
    books: Vec<PriceBook>,
    currencies: &BTreeMap<CurrencyCode, Currency>,
    products: &BTreeMap<String, Product>,
) -> Result<BTreeMap<CurrencyCode, PriceBook>, ModelError> {
    let mut price_books = BTreeMap::new();
    for book in books {
        require(
            currencies.contains_key(&book.currency),
            "price book",
            &book.id,
            "currency",
            book.currency.as_str(),
        )?;
        for sku in book.entries.keys() {
            require(
                products.contains_key(sku),
                "price book",
                &book.id,
                "SKU",
                sku,
            )?;
        }
        let currency = book.currency.clone();
        if let Some(previous) = price_books.insert(currency.clone(), book) {
            return Err(ModelError::Duplicate {
                kind: "price book for currency",
                id: format!("{currency} ({})", previous.id),
            });
        }
    }
    Ok(price_books)
}

/// Contract prices for known parties and SKUs; bundles of known SKUs.
fn check_contracts_and_bundles(
    contract_prices: &[ContractPrice],
    bundles: &[BundleRule],
    (accounts, segments): (&BTreeMap<String, Account>, &BTreeMap<String, Segment>),
    products: &BTreeMap<String, Product>,
) -> Result<(), ModelError> {
    for c in contract_prices {
        let (known, target, reference) = match &c.party {
            ContractParty::Account(a) => (accounts.contains_key(a), "account", a),
            ContractParty::Segment(s) => (segments.contains_key(s), "segment", s),
        };
        require(known, "contract price", &c.id, target, reference)?;
        require(
            products.contains_key(&c.sku),
            "contract price",
            &c.id,
            "SKU",
            &c.sku,
        )?;
    }
    for b in bundles {
        for sku in [&b.parent_sku, &b.component_sku] {
            require(products.contains_key(sku), "bundle", &b.id, "SKU", sku)?;
        }
    }
    Ok(())
}

/// The configuration models by base SKU, one each, of known SKUs.
fn index_configurations(
    models: Vec<ConfigModel>,
    products: &BTreeMap<String, Product>,
) -> Result<BTreeMap<String, ConfigModel>, ModelError> {
    let mut configurations = BTreeMap::new();
    for model in models {
        require(
            products.contains_key(&model.sku),
            "configuration",
            &model.sku,
            "SKU",
            &model.sku,
        )?;
        for option in &model.options {
            require(
                products.contains_key(&option.sku),
                "configuration",
                &model.sku,
                "SKU",
                &option.sku,
            )?;
        }
        if let Some(first) = configurations.insert(model.sku.clone(), model) {
            return Err(ModelError::Duplicate {
                kind: "configuration",
                id: first.sku,
            });
        }
    }
    Ok(configurations)
}

/// Every BOM line's parent a product or planned item, its component a
/// planned item.
fn check_bom(
    planning: &PlanningData,
    products: &BTreeMap<String, Product>,
) -> Result<(), ModelError> {
    let items: std::collections::HashSet<&str> =
        planning.items.iter().map(|i| i.id.as_str()).collect();
    for line in &planning.bom {
        let parent_known =
            products.contains_key(&line.parent) || items.contains(line.parent.as_str());
        require(
            parent_known,
            "BOM line",
            &line.parent,
            "parent",
            &line.parent,
        )?;
        let known = items.contains(line.component.as_str());
        require(known, "BOM line", &line.parent, "item", &line.component)?;
    }
    Ok(())
}

impl RuleSet {
    pub fn new(parts: RuleSetParts) -> Result<Self, ModelError> {
        let corporate_currency =
            parts
                .corporate_currency
                .ok_or_else(|| ModelError::UnknownReference {
                    kind: "rule set",
                    id: "currencies".into(),
                    target: "corporate currency",
                    reference: String::new(),
                })?;
        let currencies = index_currencies(parts.currencies, &corporate_currency)?;
        let product_lines = index_unique(parts.product_lines, "product line", |l| l.id.clone())?;
        let products = index_unique(parts.products, "product", |p| p.sku.clone())?;
        for p in products.values() {
            require(
                product_lines.contains_key(&p.product_line),
                "product",
                &p.sku,
                "product line",
                &p.product_line,
            )?;
        }
        let segments = index_unique(parts.segments, "segment", |s| s.id.clone())?;
        let regions = index_unique(parts.regions, "region", |r| r.id.clone())?;
        let accounts = index_unique(parts.accounts, "account", |a| a.id.clone())?;
        check_accounts(&accounts, &segments, &regions)?;
        let price_books = index_price_books(parts.price_books, &currencies, &products)?;
        check_contracts_and_bundles(
            &parts.contract_prices,
            &parts.bundles,
            (&accounts, &segments),
            &products,
        )?;
        let mut schedules = parts.schedules;
        schedules.sort_by(|a, b| a.id.cmp(&b.id));
        let mut promotions = parts.promotions;
        promotions.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
        let mut floors = parts.floors;
        floors.sort_by(|a, b| a.id.cmp(&b.id));
        let index = build_index(
            &products,
            &product_lines,
            Resolved {
                price_books: &price_books,
                schedules: &schedules,
                promotions: &promotions,
                floors: &floors,
            },
            parts.contract_prices,
            parts.bundles,
        );
        let mut approval_levels = parts.approval_levels;
        approval_levels.sort_by_key(|l| l.rank);
        for rule in &parts.approval_rules {
            require(
                approval_levels.iter().any(|l| l.id == rule.level),
                "approval rule",
                &rule.id,
                "approval level",
                &rule.level,
            )?;
        }
        let configurations = index_configurations(parts.configurations, &products)?;
        let mut stages = parts.stages;
        stages.sort_by_key(|s| s.order);
        index_unique(stages.clone(), "stage", |s| s.id.clone())?;
        check_bom(&parts.planning, &products)?;
        Ok(Self {
            stages,
            column_labels: parts.column_labels,
            fiscal_year: parts.fiscal_year,
            planning: parts.planning.sorted(),
            configurations,
            corporate_currency,
            currencies,
            product_lines,
            products: products.into_values().collect(),
            segments,
            regions,
            accounts,
            price_books,
            schedules,
            index,
            promotions,
            floors,
            approval_levels,
            approval_rules: parts.approval_rules,
            approver_groups: parts.approver_groups,
            approval_routes: parts.approval_routes,
            fingerprint: String::new(),
        })
    }

    /// The same rules, identified by `fingerprint`.
    pub fn with_fingerprint(self, fingerprint: String) -> Self {
        Self {
            fingerprint,
            ..self
        }
    }

    /// Identifies the rule files this set was loaded from (empty when it
    /// was not loaded from files).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn corporate_currency(&self) -> &Currency {
        &self.currencies[&self.corporate_currency]
    }

    pub fn currency(&self, code: &str) -> Option<&Currency> {
        let code = CurrencyCode::new(code).ok()?;
        self.currencies.get(&code)
    }

    pub fn currencies(&self) -> impl Iterator<Item = &Currency> {
        self.currencies.values()
    }

    pub fn product_lines(&self) -> impl Iterator<Item = &ProductLine> {
        self.product_lines.values()
    }

    pub fn product_line(&self, id: &str) -> Option<&ProductLine> {
        self.product_lines.get(id)
    }

    /// All products in SKU order.
    pub fn products(&self) -> impl Iterator<Item = &Product> {
        self.products.iter()
    }

    pub fn product(&self, sku: &str) -> Option<&Product> {
        self.products.get(self.index.get(sku)?.ordinal)
    }

    pub fn segment(&self, id: &str) -> Option<&Segment> {
        self.segments.get(id)
    }

    pub fn region(&self, id: &str) -> Option<&Region> {
        self.regions.get(id)
    }

    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.get(id)
    }

    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    pub fn price_book(&self, currency: &CurrencyCode) -> Option<&PriceBook> {
        self.price_books.get(currency)
    }

    pub fn price_books(&self) -> impl Iterator<Item = &PriceBook> {
        self.price_books.values()
    }

    /// The position of a currency's price book among `price_books()`.
    pub fn price_book_position(&self, currency: &CurrencyCode) -> Option<usize> {
        self.price_books.keys().position(|c| c == currency)
    }

    /// Everything that applies to a SKU, in one look-up.
    pub fn product_rules(&self, sku: &str) -> Option<ProductRules<'_>> {
        let entry = self.index.get(sku)?;
        Some(ProductRules {
            product: self.products.get(entry.ordinal)?,
            ordinal: entry.ordinal,
            line_ordinal: entry.line_ordinal,
            schedule: entry.schedule.map(|i| (i, &self.schedules[i])),
            contracts: &entry.contracts,
            bundles: &entry.bundles,
            floors: &entry.floors,
            all_floors: &self.floors,
            promotions: &entry.promotions,
            prices: &entry.prices,
        })
    }

    /// Contract prices for a SKU (any party, currency, date).
    pub fn contract_prices(&self, sku: &str) -> &[ContractPrice] {
        self.index.get(sku).map_or(&[], |e| e.contracts.as_slice())
    }

    pub fn schedules(&self) -> &[DiscountSchedule] {
        &self.schedules
    }

    /// Floor rules that apply to a SKU.
    pub fn floors_for(&self, sku: &str) -> impl Iterator<Item = &FloorRule> {
        self.product_rules(sku).into_iter().flat_map(|r| r.floors())
    }

    /// Number of products (ordinals run from 0 to this).
    pub fn product_count(&self) -> usize {
        self.products.len()
    }

    /// Promotions, highest priority first, ties by id.
    pub fn promotions(&self) -> &[Promotion] {
        &self.promotions
    }

    /// Approval levels, lowest rank first.
    pub fn approval_levels(&self) -> &[ApprovalLevel] {
        &self.approval_levels
    }

    pub fn approval_level(&self, id: &str) -> Option<&ApprovalLevel> {
        self.approval_levels.iter().find(|l| l.id == id)
    }

    pub fn approval_rules(&self) -> &[ApprovalRule] {
        &self.approval_rules
    }

    pub fn approval_rule(&self, id: &str) -> Option<&ApprovalRule> {
        self.approval_rules.iter().find(|r| r.id == id)
    }

    pub fn approver_groups(&self) -> &[ApproverGroup] {
        &self.approver_groups
    }

    pub fn approver_group(&self, id: &str) -> Option<&ApproverGroup> {
        self.approver_groups.iter().find(|g| g.id == id)
    }

    /// The groups a triggered rule goes to: its own route, else its
    /// level's; `None` when neither has one (approval limits decide).
    pub fn approval_route(&self, rule: &str, level: &str) -> Option<&[String]> {
        let find = |key: &RouteFor| {
            self.approval_routes
                .iter()
                .find(|r| &r.applies_to == key)
                .map(|r| r.groups.as_slice())
        };
        find(&RouteFor::Rule(rule.to_owned())).or_else(|| find(&RouteFor::Level(level.to_owned())))
    }

    /// The configuration model of a base product, if it is configurable.
    pub fn configuration(&self, sku: &str) -> Option<&ConfigModel> {
        self.configurations.get(sku)
    }

    /// Configuration models in SKU order.
    pub fn configurations(&self) -> impl Iterator<Item = &ConfigModel> {
        self.configurations.values()
    }

    /// Items, bills of materials and attach rates (sorted for look-ups).
    pub fn planning(&self) -> &PlanningData {
        &self.planning
    }

    /// The same rules planning with `planning` instead (benchmarks plan
    /// generated structures with the example catalog's other rules). Its
    /// references are not checked here: the roll-down refuses BOM lines
    /// naming unknown items.
    pub fn with_planning(mut self, planning: PlanningData) -> Self {
        self.planning = planning.sorted();
        self
    }

    /// The funnel's stages in order, open stages first.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// A CRM's own names for the columns of pipeline and history files,
    /// as (label, column).
    pub fn column_labels(&self) -> &[(String, String)] {
        &self.column_labels
    }

    /// The month the fiscal year starts in: the forecast's quarters.
    pub fn fiscal_year(&self) -> FiscalYear {
        self.fiscal_year
    }

    pub fn stage(&self, id: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == id)
    }
}
