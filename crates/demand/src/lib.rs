//! The demand roll-down (the Dell step): from the pipeline's expected
//! deal lines to the components they use, when, with what uncertainty,
//! and what to buy or build against stock on hand and open receipts.
//!
//! Pure: the caller hands in the deal lines the forecast expects (each
//! with its win probability and the day it is needed after slippage), the
//! rule set (items, BOMs, attach rates, configuration models) and an
//! inventory state, and gets back typed tables with an [`Explanation`].
//! [`plan_pipeline`] is the whole job from a checked snapshot and its
//! history, as the CLI and the server run it; [`tables`] gives the plan
//! as data frames for files and the wire.
//!
//! 1. **Planning BOM** (`prepare.rs`, `mix.rs`): a deal line of a
//!    configurable product is exploded through the option lines its deal
//!    carries; each option group the deal chose nothing in is given the
//!    product's attach rates (rules, updated by the won configurations
//!    among the lines) or the model's default.
//! 2. **Component demand** (`trials.rs`): the explosion is linear, so
//!    expected demand per item and bucket is the sum over (SKU, bucket)
//!    cells of the cell's expected quantity × units per use, each use
//!    offset by the lead times above it. The Monte Carlo draws per trial
//!    which deals are won (whole), their slippage point and the option
//!    mixes, and explodes the same way: P10/P50/P90 per item and bucket,
//!    demand over each item's cumulative lead time and the safety stock
//!    that covers it at the service level. Items sharing products stay
//!    correlated because every item is computed from the same trials.
//! 3. **MRP** (`mrp.rs`): items in low-level-code order; gross = demand
//!    from the pipeline + components of the parents' planned orders;
//!    netted against on hand and receipts to safety stock; lot-for-lot
//!    with minimum and multiple; released lead time before need, as late
//!    as possible; releases before the plan date flagged `expedite`;
//!    pegged to the deals behind the demand each order covers.
mod calendar;
mod cash;
mod mix;
mod mrp;
mod new_deals;
mod orders;
mod prepare;
mod report;
mod structure;
mod tables;
mod trials;
#[cfg(test)]
mod trials_tests;
/// The integration tests' rule helpers, for unit tests too (they name
/// this crate by its name).
#[cfg(test)]
extern crate self as quotecast_demand;
#[cfg(test)]
#[path = "../tests/common/mod.rs"]
mod test_common;

use std::{borrow::Cow, collections::HashSet, sync::Arc};

use chrono::NaiveDate;
pub use quotecast_forecast::ShockVariances;
use rust_decimal::Decimal;

pub use calendar::{Calendar, MAX_BUCKETS, Period, Placement};
pub use orders::{FirmDemand, WonOrder, WonOrderLine, firm_demand};
pub use report::{Taught, learn_plan, lines_of, plan_pipeline, plan_taught, plan_with_orders};
pub use tables::{TABLES, tables, unit_of};

#[derive(Debug, thiserror::Error)]
pub enum DemandError {
    #[error("{0}")]
    Invalid(String),
    #[error("too large to simulate: {0}")]
    TooLarge(String),
    #[error("cancelled: the caller went away")]
    Cancelled,
    #[error(transparent)]
    Forecast(#[from] quotecast_forecast::ForecastError),
    /// A computation failed inside polars: a defect. Shown without the
    /// query plan, and not given as the source (see the forecast's).
    #[error("the plan's computation failed: {}", quotecast_pipeline::without_plan(.0))]
    Polars(polars::error::PolarsError),
}

impl From<polars::error::PolarsError> for DemandError {
    fn from(error: polars::error::PolarsError) -> Self {
        DemandError::Polars(error)
    }
}

/// A name a line carries (deal, account, product line, SKU, team):
/// shared, so that lines naming the same deal or team can hold one copy
/// (see [`Names`]) and are told equal without reading it.
pub type Name = Arc<str>;

/// Hands out one shared [`Name`] per distinct name: a million lines of a
/// few hundred SKUs and teams then hold a few hundred strings, and the
/// plan compares a line's names with the previous line's by address.
#[derive(Debug, Default)]
pub struct Names {
    seen: HashSet<Name>,
}

impl Names {
    /// The shared copy of `name`.
    pub fn get(&mut self, name: &str) -> Name {
        if let Some(known) = self.seen.get(name) {
            return known.clone();
        }
        let new: Name = name.into();
        self.seen.insert(new.clone());
        new
    }

    /// The shared copy of `name`, taken from `previous` (the same field of
    /// the line before) without a lookup when that names it already: a
    /// deal's lines mostly repeat their account, product line and team.
    pub fn get_after(&mut self, previous: Option<&Name>, name: &str) -> Name {
        match previous {
            Some(known) if **known == *name => known.clone(),
            _ => self.get(name),
        }
    }
}

/// One line of an expected deal as the forecast sees it: `quantity` of
/// `sku`, worth `amount`, signed on `close_date` if the deal is won, with
/// probability `probability`. Its products are needed on delivery, the
/// product line's delivery days after signing. A deal whose close may
/// slip has one row per slippage point (`point` of `points`, each equally
/// likely); rows of one deal share its probability and points.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DemandLine {
    pub deal: Name,
    pub account: Name,
    /// Its product line (empty: the SKU's, from the catalog).
    pub product_line: Name,
    /// Empty for a line with no product (it still brings cash).
    pub sku: Name,
    pub quantity: f64,
    /// What the line books if won, corporate currency (for cash-in).
    pub amount: f64,
    pub close_date: NaiveDate,
    pub probability: f64,
    pub point: u32,
    pub points: u32,
    /// Its deal's team and the forecast bucket its close falls in (0 the
    /// one holding the forecast date), and the variances of the shocks its
    /// quantity and amount are drawn with there (all 0: drawn alone).
    pub team: Name,
    pub horizon: i32,
    pub shocks: ShockVariances,
}

/// On hand and open receipts of items.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    /// The stored version this state is (named by the plan).
    pub version: String,
    pub on_hand: Vec<(String, Decimal)>,
    pub receipts: Vec<Receipt>,
}

/// An open purchase or assembly order.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    pub item: String,
    pub due: NaiveDate,
    pub quantity: Decimal,
    pub reference: String,
}

/// How to plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanOptions {
    pub calendar: Calendar,
    /// Probability that demand over an item's cumulative lead time is
    /// covered by its suggested safety stock (0.5 to 0.9999).
    pub service_level: f64,
    /// Monte Carlo trials (0: expected values only).
    pub trials: u32,
    pub seed: u64,
    /// Identities of inputs the engine does not see whole (the pipeline
    /// file's checksum, the rules' hash), hashed into the plan id.
    pub fingerprints: Vec<String>,
    /// The SKUs of each deal won before the plan (from history): their
    /// configurations teach the attach rates, as the won deals among the
    /// lines do.
    pub won_before: Vec<Vec<String>>,
    /// Set by the caller to stop the trials early (not part of the plan).
    pub cancel: quotecast_forecast::Cancel,
    /// The memory the trials may keep (not part of the plan).
    pub budget: quotecast_forecast::TrialBudget,
    /// Plan only the pipeline's deals and won orders, not what deals not
    /// yet in the pipeline are expected to book (the forecast's
    /// `new_deals`, planned by default when the history has a calendar).
    pub pipeline_only: bool,
    /// Peg every planned order to the deal lines behind it (the default).
    /// Off, the plan has no pegging: the same orders, demand and stock,
    /// found without following each deal line to the orders it drives
    /// (what-if runs and pulls of quantities only; Oracle ASCP's "Enable
    /// Pegging" plan option is the same choice). Hashed into the plan id.
    pub pegging: bool,
}

/// Expected and simulated demand of one item in one bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentDemand {
    pub item: Name,
    pub bucket: NaiveDate,
    pub expected: f64,
    /// Part of `expected` needed before the plan date (lead times that
    /// have already run out).
    pub past_due: f64,
    /// P10/P50/P90 over the trials (`None` without trials).
    pub percentiles: Option<[f64; 3]>,
}

/// A suggested purchase or assembly order.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedOrder {
    /// `item@need date`.
    pub id: String,
    pub item: Name,
    /// `buy` or `make`.
    pub supply: &'static str,
    pub supplier: Option<Name>,
    pub quantity: Decimal,
    /// The net requirement it covers before lot sizing.
    pub net_requirement: Decimal,
    pub need_date: NaiveDate,
    pub release_date: NaiveDate,
    /// The release date has passed: order now and ask for it sooner.
    pub expedite: bool,
    /// Quantity × unit cost, corporate currency (unrounded).
    pub value: Decimal,
}

/// A deal behind a planned order (at most 20 per order, largest first;
/// then one row for the rest, with their units-weighted probability).
/// Names are positions in the plan's tables: [`Plan::peg_order`],
/// [`Plan::peg_deal`] and [`Plan::peg_sku`] give them.
#[derive(Debug, Clone, PartialEq)]
pub struct Peg {
    /// Position of the order in [`Plan::planned_orders`].
    pub order: u32,
    pub pegged: Pegged,
    /// Expected units of the order's item the deal needs in the buckets
    /// the order covers.
    pub expected_units: f64,
    /// Its share of the pegged demand of the order.
    pub share: f64,
    pub probability: f64,
}

/// What a [`Peg`] points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pegged {
    /// A deal's line: positions in [`Plan::deals`] and [`Plan::skus`].
    Line { deal: u32, sku: u32 },
    /// The order's other deal lines, summed.
    Others { lines: u32 },
}

/// Projected stock of a planned item per bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub item: Name,
    pub bucket: NaiveDate,
    pub gross: f64,
    pub receipts: f64,
    pub planned_receipts: f64,
    pub on_hand: f64,
    pub safety_stock: f64,
}

/// Demand over an item's cumulative lead time and what covers it.
#[derive(Debug, Clone, PartialEq)]
pub struct SafetyStockRow {
    pub item: Name,
    pub cumulative_lead_days: u32,
    pub mean: f64,
    pub percentiles: [f64; 3],
    /// Service-level quantile minus the mean (not below zero).
    pub suggested: f64,
    /// z · σ(bucket demand) · √(lead time in buckets), for comparison.
    pub textbook: f64,
    /// The safety stock the plan netted to.
    pub used: f64,
}

/// Service hours per skill and bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Capacity {
    pub skill: String,
    pub bucket: NaiveDate,
    pub expected_hours: f64,
    pub p90_hours: Option<f64>,
}

/// Cash expected in one bucket through the payment terms of won orders
/// and of the pipeline's deals, corporate currency (unrounded).
#[derive(Debug, Clone, PartialEq)]
pub struct CashIn {
    pub bucket: NaiveDate,
    pub expected: f64,
    /// Of `expected`, what deals already won bring.
    pub from_won: f64,
    /// P10/P50/P90 over the trials (`None` without trials).
    pub percentiles: Option<[f64; 3]>,
}

/// How the plan was reached.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Explanation {
    pub deals: usize,
    pub lines: usize,
    /// Lines of configurable products whose deal carries option lines
    /// for them (exploded through those, group by group).
    pub configured_lines: usize,
    /// Lines of configurable products given attach rates for the option
    /// groups their deal did not choose in.
    pub attach_rate_lines: usize,
    /// Each attach rate used: product, option, expected units per product
    /// unit, where it came from.
    pub attach_rates: Vec<(String, String, f64, String)>,
    /// Deals the history saw won whose configurations taught the attach
    /// rates (besides the won deals among the lines).
    pub won_before: usize,
    /// Required groups with no rate and no default: not planned.
    pub unplanned_groups: Vec<(String, String)>,
    /// SKUs with no BOM and no supply data, with their lines.
    pub unplanned_skus: Vec<(String, usize)>,
    /// Lines needed after the horizon.
    pub beyond_horizon: usize,
    /// Inventory rows naming no planned item.
    pub unknown_inventory: Vec<String>,
    pub items_planned: usize,
    pub levels: u32,
    pub trials: u32,
    /// Lines with an amount whose account and product line have no
    /// payment terms (left out of cash).
    pub lines_without_terms: usize,
    /// Expected cash due before the plan date (won orders' installments
    /// already collected or overdue): not in any bucket.
    pub cash_before_plan_date: f64,
    /// Expected cash due after the horizon.
    pub cash_beyond_horizon: f64,
    /// Set when the structure was too large to follow each SKU-bucket cell
    /// through it: why, and what is left out (percentiles, pegging).
    pub expected_only: Option<String>,
    /// What the history was too young to teach the forecast the plan is
    /// rolled down from (the rules' win rates kept, no team correction).
    pub forecast_notes: Vec<String>,
    /// The plan was asked for without pegging ([`PlanOptions::pegging`]).
    pub without_pegging: bool,
}

/// A whole plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Hash of every input (lines, rules' planning data, inventory,
    /// options, fingerprints): the same inputs give the same id.
    pub id: String,
    pub inventory_version: String,
    /// The corporate currency: values and cash are in it, rounded to it.
    pub currency: quotecast_model::Currency,
    pub component_demand: Vec<ComponentDemand>,
    pub planned_orders: Vec<PlannedOrder>,
    pub pegging: Vec<Peg>,
    /// The deals of the lines, in canonical order (named by pegs).
    pub deals: Vec<Name>,
    /// The SKUs of the lines (named by pegs).
    pub skus: Vec<String>,
    pub projections: Vec<Projection>,
    pub safety_stock: Vec<SafetyStockRow>,
    pub capacity: Vec<Capacity>,
    pub cash: Vec<CashIn>,
    pub explanation: Explanation,
}

impl Plan {
    /// The order a peg is for.
    pub fn peg_order(&self, peg: &Peg) -> Option<&PlannedOrder> {
        self.planned_orders.get(peg.order as usize)
    }

    /// The deal a peg names, or `(other N deal lines)`.
    pub fn peg_deal(&self, peg: &Peg) -> Cow<'_, str> {
        match peg.pegged {
            Pegged::Line { deal, .. } => self
                .deals
                .get(deal as usize)
                .map_or(Cow::Borrowed(""), |d| Cow::Borrowed(&**d)),
            Pegged::Others { lines } => Cow::Owned(format!("(other {lines} deal lines)")),
        }
    }

    /// The SKU of the deal line a peg names (empty for the others).
    pub fn peg_sku(&self, peg: &Peg) -> &str {
        match peg.pegged {
            Pegged::Line { sku, .. } => self.skus.get(sku as usize).map_or("", String::as_str),
            Pegged::Others { .. } => "",
        }
    }
}

/// Plans `lines` against `inventory` with the rules' items and BOMs.
pub fn plan(
    rules: &quotecast_model::RuleSet,
    lines: Vec<DemandLine>,
    inventory: &Inventory,
    options: &PlanOptions,
) -> Result<Plan, DemandError> {
    if !(0.5..=0.9999).contains(&options.service_level) {
        return Err(DemandError::Invalid(format!(
            "the service level must be 0.5 to 0.9999, not {}",
            options.service_level
        )));
    }
    let structure = structure::Structure::new(rules.planning())?;
    let preparing = tracing::info_span!("prepare").entered();
    let (inputs, prepared) = rayon::join(
        || prepare::inputs_digest(rules, inventory, options),
        || {
            prepare::prepare(
                rules,
                &structure,
                lines,
                &options.calendar,
                &options.won_before,
            )
        },
    );
    let prepared = prepared?;
    let id = prepare::plan_id(&prepared, &inputs);
    drop(preparing);
    let demand = tracing::info_span!("component_demand", trials = options.trials)
        .in_scope(|| trials::component_demand(&structure, &prepared, options))?;
    let planned = tracing::info_span!("net_and_peg")
        .in_scope(|| mrp::run(&structure, &prepared, &demand, inventory, options));
    let mut explanation = prepared.explanation.clone();
    explanation.unknown_inventory = planned.unknown_inventory;
    explanation.items_planned = planned.items_planned;
    explanation.levels = structure.level.iter().copied().max().unwrap_or(0) + 1;
    explanation.trials = options.trials;
    explanation.won_before = options.won_before.len();
    explanation.expected_only = demand.without_cells.clone();
    explanation.without_pegging = !options.pegging;
    Ok(Plan {
        id,
        inventory_version: inventory.version.clone(),
        currency: rules.corporate_currency().clone(),
        component_demand: demand.rows,
        planned_orders: planned.orders,
        pegging: planned.pegging,
        deals: prepared.deals.into_iter().map(|d| d.id).collect(),
        skus: prepared.skus,
        projections: planned.projections,
        safety_stock: planned.safety_stock,
        capacity: demand.capacity,
        cash: demand.cash,
        explanation,
    })
}

#[cfg(test)]
mod names_tests {
    use super::*;

    #[test]
    fn lines_naming_the_same_sku_or_team_hold_one_shared_copy() {
        let mut names = Names::default();
        let skus: Vec<Name> = (0..10_000)
            .map(|i| names.get(if i % 2 == 0 { "LT-14" } else { "SRV-2U" }))
            .collect();
        assert_eq!(&*skus[0], "LT-14");
        assert_eq!(&*skus[1], "SRV-2U");
        // Two allocations, each held by half the lines (and the table).
        assert!(skus.iter().step_by(2).all(|s| Arc::ptr_eq(s, &skus[0])));
        assert!(
            skus.iter()
                .skip(1)
                .step_by(2)
                .all(|s| Arc::ptr_eq(s, &skus[1]))
        );
        assert_eq!(Arc::strong_count(&skus[0]), 5_001);
        // A name asked for again after others is still the same copy.
        assert!(Arc::ptr_eq(&names.get("LT-14"), &skus[0]));
    }
}
