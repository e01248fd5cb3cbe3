//! The compiled, cross-checked rule set with the look-up indexes the pricing
//! engine needs on its hot path.
use std::collections::{BTreeMap, HashMap};

use crate::{
    Account, ApprovalLevel, ApprovalRule, BundleRule, ContractParty, ContractPrice, Currency,
    CurrencyCode, DiscountSchedule, FloorRule, ModelError, PriceBook, Product, ProductLine,
    Promotion, Region, Segment,
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
}

/// A complete, consistent rule set. Built once at load time and shared
/// read-only (it is `Send + Sync`); every reference in it resolves.
#[derive(Debug, Clone)]
pub struct RuleSet {
    corporate_currency: CurrencyCode,
    currencies: BTreeMap<CurrencyCode, Currency>,
    product_lines: BTreeMap<String, ProductLine>,
    products: BTreeMap<String, Product>,
    segments: BTreeMap<String, Segment>,
    regions: BTreeMap<String, Region>,
    accounts: BTreeMap<String, Account>,
    price_books: BTreeMap<CurrencyCode, PriceBook>,
    contract_prices: HashMap<String, Vec<ContractPrice>>,
    schedules: Vec<DiscountSchedule>,
    schedule_by_sku: HashMap<String, usize>,
    bundles_by_component: HashMap<String, Vec<BundleRule>>,
    promotions: Vec<Promotion>,
    floors: Vec<FloorRule>,
    floors_by_sku: HashMap<String, Vec<usize>>,
    approval_levels: Vec<ApprovalLevel>,
    approval_rules: Vec<ApprovalRule>,
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

impl RuleSet {
    pub fn new(parts: RuleSetParts) -> Result<Self, ModelError> {
        let corporate_currency = parts
            .corporate_currency
            .ok_or_else(|| ModelError::UnknownReference {
                kind: "rule set",
                id: "currencies".into(),
                target: "corporate currency",
                reference: String::new(),
            })?;
        let mut currencies = BTreeMap::new();
        for currency in parts.currencies {
            let code = currency.code.clone();
            if currencies.insert(code.clone(), currency).is_some() {
                return Err(ModelError::Duplicate {
                    kind: "currency",
                    id: code.to_string(),
                });
            }
        }
        require(
            currencies.contains_key(&corporate_currency),
            "rule set",
            "corporate_currency",
            "currency",
            corporate_currency.as_str(),
        )?;
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
        let mut price_books = BTreeMap::new();
        for book in parts.price_books {
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
        let mut contract_prices: HashMap<String, Vec<ContractPrice>> = HashMap::new();
        for c in parts.contract_prices {
            require(
                products.contains_key(&c.sku),
                "contract price",
                &c.id,
                "SKU",
                &c.sku,
            )?;
            match &c.party {
                ContractParty::Account(a) => {
                    require(accounts.contains_key(a), "contract price", &c.id, "account", a)?
                }
                ContractParty::Segment(s) => {
                    require(segments.contains_key(s), "contract price", &c.id, "segment", s)?
                }
            }
            contract_prices.entry(c.sku.clone()).or_default().push(c);
        }
        let mut schedules = parts.schedules;
        schedules.sort_by(|a, b| a.id.cmp(&b.id));
        let mut schedule_by_sku = HashMap::new();
        for product in products.values() {
            let best = schedules
                .iter()
                .enumerate()
                .filter(|(_, s)| s.applies_to.matches(product))
                .max_by_key(|(i, s)| (s.applies_to.specificity(product), std::cmp::Reverse(*i)));
            if let Some((i, _)) = best {
                schedule_by_sku.insert(product.sku.clone(), i);
            }
        }
        let mut bundles_by_component: HashMap<String, Vec<BundleRule>> = HashMap::new();
        for b in parts.bundles {
            for sku in [&b.parent_sku, &b.component_sku] {
                require(products.contains_key(sku), "bundle", &b.id, "SKU", sku)?;
            }
            bundles_by_component
                .entry(b.component_sku.clone())
                .or_default()
                .push(b);
        }
        for rules in bundles_by_component.values_mut() {
            rules.sort_by(|a, b| a.id.cmp(&b.id));
        }
        let mut promotions = parts.promotions;
        promotions.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
        let mut floors = parts.floors;
        floors.sort_by(|a, b| a.id.cmp(&b.id));
        let mut floors_by_sku: HashMap<String, Vec<usize>> = HashMap::new();
        for product in products.values() {
            let matching: Vec<usize> = floors
                .iter()
                .enumerate()
                .filter(|(_, f)| f.applies_to.matches(product))
                .map(|(i, _)| i)
                .collect();
            if !matching.is_empty() {
                floors_by_sku.insert(product.sku.clone(), matching);
            }
        }
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
        Ok(Self {
            corporate_currency,
            currencies,
            product_lines,
            products,
            segments,
            regions,
            accounts,
            price_books,
            contract_prices,
            schedules,
            schedule_by_sku,
            bundles_by_component,
            promotions,
            floors,
            floors_by_sku,
            approval_levels,
            approval_rules: parts.approval_rules,
        })
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
        self.products.values()
    }

    pub fn product(&self, sku: &str) -> Option<&Product> {
        self.products.get(sku)
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

    /// Contract prices for a SKU (any party, currency, date).
    pub fn contract_prices(&self, sku: &str) -> &[ContractPrice] {
        self.contract_prices.get(sku).map_or(&[], Vec::as_slice)
    }

    /// The volume schedule that governs a SKU: the most specific match,
    /// ties broken by id.
    pub fn schedule_for(&self, sku: &str) -> Option<&DiscountSchedule> {
        self.schedule_by_sku.get(sku).map(|&i| &self.schedules[i])
    }

    pub fn schedules(&self) -> &[DiscountSchedule] {
        &self.schedules
    }

    /// Bundle rules whose component is `sku`, in id order.
    pub fn bundles_for_component(&self, sku: &str) -> &[BundleRule] {
        self.bundles_by_component.get(sku).map_or(&[], Vec::as_slice)
    }

    /// Promotions, highest priority first, ties by id.
    pub fn promotions(&self) -> &[Promotion] {
        &self.promotions
    }

    /// Floor rules that apply to a SKU.
    pub fn floors_for(&self, sku: &str) -> impl Iterator<Item = &FloorRule> {
        self.floors_by_sku
            .get(sku)
            .into_iter()
            .flatten()
            .map(|&i| &self.floors[i])
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
}
