//! What the demand roll-down plans with: items (components, sub-assemblies,
//! kits, service hours) and their supply data, bills of materials from
//! products and options down to purchased parts, and the planning
//! percentages of options for deals sold without a configuration.
//!
//! A catalog SKU without an [`Item`] record is exploded through (as a
//! phantom): its demand goes straight to its BOM's components.
use rust_decimal::Decimal;

use crate::{DateRange, Percent};

/// How an item is supplied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Supply {
    /// Bought from a supplier: `lead_time_days` is the purchase lead time.
    Buy,
    /// Assembled here from its BOM: `lead_time_days` is the assembly time.
    Make,
    /// A kit: never planned or stocked, exploded through to its components
    /// at the date its parent needs it.
    Phantom,
    /// Hours of work by a skill (installation, configuration): planned as
    /// capacity, not ordered.
    Service,
}

impl Supply {
    pub const ALL: [(&'static str, Supply); 4] = [
        ("buy", Supply::Buy),
        ("make", Supply::Make),
        ("phantom", Supply::Phantom),
        ("service", Supply::Service),
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Buy => "buy",
            Self::Make => "make",
            Self::Phantom => "phantom",
            Self::Service => "service",
        }
    }
}

/// Safety stock kept for an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SafetyStock {
    /// A fixed quantity.
    Fixed(Decimal),
    /// The service-level quantile of demand over the item's cumulative
    /// lead time minus its mean, from the roll-down's Monte Carlo.
    Computed,
}

/// A planned item: a component, a sub-assembly, a kit, a service, or a
/// catalog SKU given supply data (a finished product assembled to order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: String,
    pub name: String,
    pub supply: Supply,
    /// Unit of measure ("each", "hour", "m").
    pub unit: String,
    /// Purchase or assembly lead time (0 for phantoms).
    pub lead_time_days: u32,
    /// The smallest order (0: none).
    pub min_order: Decimal,
    /// Orders are whole multiples of this (1 unit unless set; 0: any
    /// quantity).
    pub order_multiple: Decimal,
    pub supplier: Option<String>,
    pub safety_stock: Option<SafetyStock>,
    /// The skill a service item's hours are worked by.
    pub skill: Option<String>,
    /// Standard cost per unit in the corporate currency (for the value of
    /// planned orders).
    pub unit_cost: Decimal,
}

/// One line of a bill of materials: `quantity_per` units of `component`
/// for each unit of `parent`, plus `scrap` of it lost in the making.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BomLine {
    /// A catalog SKU (product or option) or an item id.
    pub parent: String,
    /// An item id.
    pub component: String,
    /// Units of the component per unit of the parent: exact, above zero.
    pub quantity_per: Decimal,
    /// Share of the component lost in making the parent; the requirement
    /// is `quantity_per × (1 + scrap)`.
    pub scrap: Percent,
    /// Days on which the line is in force (by the date the parent is
    /// needed).
    pub effective: DateRange,
}

impl AttachRate {
    /// Expected units of the option per unit of the product.
    pub fn per_unit(&self) -> Decimal {
        self.percent.of(self.units)
    }
}

impl BomLine {
    /// Units of the component needed per unit of the parent, scrap included.
    pub fn gross_per(&self) -> Decimal {
        self.quantity_per + self.scrap.of(self.quantity_per)
    }
}

/// The planning share of an option for deals of `product` sold without a
/// configuration: `percent` of its units carry `units` units of `option`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachRate {
    pub product: String,
    pub option: String,
    pub percent: Percent,
    /// Units of the option on a product unit that has it (above zero).
    pub units: Decimal,
    /// How many configurations the percentage is worth as evidence (the
    /// strength of its Beta/Dirichlet prior in the Monte Carlo).
    pub weight: u32,
}

/// Items, BOM lines and attach rates, as the rules define them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanningData {
    /// In id order.
    pub items: Vec<Item>,
    /// In (parent, component) order.
    pub bom: Vec<BomLine>,
    /// In (product, option) order.
    pub attach_rates: Vec<AttachRate>,
    /// In id order.
    pub payment_terms: Vec<PaymentTerms>,
    /// In (account, product line) order, account-wide terms first.
    pub account_terms: Vec<AccountTerms>,
}

/// When an installment's days start counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Milestone {
    /// The day the deal is won.
    Signing,
    /// The day its products are delivered (signing + the product line's
    /// delivery days).
    Delivery,
}

impl Milestone {
    pub const ALL: [(&'static str, Milestone); 2] = [
        ("signing", Milestone::Signing),
        ("delivery", Milestone::Delivery),
    ];
}

/// `percent` of a won line's amount, paid `net_days` after `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Installment {
    pub percent: Percent,
    pub at: Milestone,
    pub net_days: u32,
}

/// How a won deal's amount is paid: installments summing to 100 %.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentTerms {
    pub id: String,
    pub name: String,
    pub installments: Vec<Installment>,
    /// The product lines these are the default terms of.
    pub product_lines: Vec<String>,
}

/// An account's own terms for one product line (or, without one, for all
/// its lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountTerms {
    pub account: String,
    pub product_line: Option<String>,
    pub terms: String,
}

impl PlanningData {
    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items
            .binary_search_by(|i| i.id.as_str().cmp(id))
            .ok()
            .map(|at| &self.items[at])
    }

    /// The BOM lines of `parent`.
    pub fn components_of(&self, parent: &str) -> &[BomLine] {
        let start = self.bom.partition_point(|l| l.parent.as_str() < parent);
        let end = self.bom.partition_point(|l| l.parent.as_str() <= parent);
        &self.bom[start..end]
    }

    /// The attach rates written for `product`.
    pub fn attach_rates_of(&self, product: &str) -> &[AttachRate] {
        let start = self
            .attach_rates
            .partition_point(|a| a.product.as_str() < product);
        let end = self
            .attach_rates
            .partition_point(|a| a.product.as_str() <= product);
        &self.attach_rates[start..end]
    }

    pub fn terms(&self, id: &str) -> Option<&PaymentTerms> {
        self.payment_terms
            .binary_search_by(|t| t.id.as_str().cmp(id))
            .ok()
            .map(|at| &self.payment_terms[at])
    }

    /// The terms a line of `product_line` sold to `account` is paid on:
    /// the account's terms for the line, else its terms for all lines,
    /// else the line's default.
    pub fn terms_for(&self, account: &str, product_line: &str) -> Option<&PaymentTerms> {
        let start = self
            .account_terms
            .partition_point(|a| a.account.as_str() < account);
        let own = self.account_terms[start..]
            .iter()
            .take_while(|a| a.account == account);
        let mut whole_account = None;
        for a in own {
            match &a.product_line {
                Some(line) if line == product_line => return self.terms(&a.terms),
                None => whole_account = Some(a.terms.as_str()),
                Some(_) => {}
            }
        }
        match whole_account {
            Some(terms) => self.terms(terms),
            None => self
                .payment_terms
                .iter()
                .find(|t| t.product_lines.iter().any(|l| l == product_line)),
        }
    }

    /// Sorts the records into the orders the look-ups rely on.
    pub fn sorted(mut self) -> Self {
        self.payment_terms.sort_by(|a, b| a.id.cmp(&b.id));
        self.account_terms
            .sort_by(|a, b| (&a.account, &a.product_line).cmp(&(&b.account, &b.product_line)));
        self.items.sort_by(|a, b| a.id.cmp(&b.id));
        self.bom.sort_by(|a, b| {
            (&a.parent, &a.component, a.effective.from).cmp(&(
                &b.parent,
                &b.component,
                b.effective.from,
            ))
        });
        self.attach_rates
            .sort_by(|a, b| (&a.product, &a.option).cmp(&(&b.product, &b.option)));
        self
    }
}
