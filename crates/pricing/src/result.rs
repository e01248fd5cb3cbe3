//! What the engine returns: priced lines with their waterfalls, totals,
//! subtotals and the approval outcome.
use chrono::NaiveDate;
use quotecast_model::{CurrencyCode, Percent};
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

/// The steps of the price waterfall, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    ListPrice,
    ContractPrice,
    VolumeDiscount,
    Bundle,
    Promotion,
    ManualDiscount,
    HeaderDiscount,
    FloorGuard,
    Rounding,
}

impl StepKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::ListPrice => "list_price",
            Self::ContractPrice => "contract_price",
            Self::VolumeDiscount => "volume_discount",
            Self::Bundle => "bundle",
            Self::Promotion => "promotion",
            Self::ManualDiscount => "manual_discount",
            Self::HeaderDiscount => "header_discount",
            Self::FloorGuard => "floor_guard",
            Self::Rounding => "rounding",
        }
    }
}

/// One step that changed a line's extended amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaterfallStep {
    pub step: StepKind,
    /// The rule that fired; for the manual steps, `manual`.
    pub rule_id: String,
    pub explanation: String,
    /// Change of the extended amount (negative for a discount); for the
    /// list-price step, the list extended amount itself.
    pub amount: Decimal,
    /// Extended amount after this step (exact until the rounding step).
    pub running_total: Decimal,
}

fn percent_2dp<S: Serializer>(p: &Option<Percent>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => s.serialize_str(&p.display_2dp().to_string()),
        None => s.serialize_none(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PricedLine {
    pub line_id: String,
    pub sku: String,
    pub name: String,
    pub product_line: String,
    pub quantity: Decimal,
    pub list_unit_price: Decimal,
    pub list_extended: Decimal,
    /// Net extended / quantity, rounded to the currency.
    pub net_unit_price: Decimal,
    /// The authoritative line amount, rounded to the currency.
    pub net_extended: Decimal,
    pub cost_extended: Decimal,
    /// Discount off list in percent; `None` when list is zero.
    #[serde(serialize_with = "percent_2dp")]
    pub discount_percent: Option<Percent>,
    /// (net − cost) / net in percent; `None` when net is zero.
    #[serde(serialize_with = "percent_2dp")]
    pub margin_percent: Option<Percent>,
    pub waterfall: Vec<WaterfallStep>,
    /// The line's amount before the rep's manual and header discounts.
    #[serde(skip)]
    pub(crate) before_manual: Decimal,
    /// The line's amount after the manual and header discounts.
    #[serde(skip)]
    pub(crate) after_manual: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Totals {
    pub list: Decimal,
    pub discount: Decimal,
    pub net: Decimal,
    pub cost: Decimal,
    pub margin: Decimal,
    #[serde(serialize_with = "percent_2dp")]
    pub discount_percent: Option<Percent>,
    #[serde(serialize_with = "percent_2dp")]
    pub margin_percent: Option<Percent>,
}

impl Totals {
    pub(crate) fn add_line(&mut self, line: &PricedLine) {
        self.list += line.list_extended;
        self.net += line.net_extended;
        self.cost += line.cost_extended;
    }

    pub(crate) fn finish(mut self) -> Self {
        self.discount = self.list - self.net;
        self.margin = self.net - self.cost;
        self.discount_percent = Percent::ratio(self.discount, self.list);
        self.margin_percent = Percent::ratio(self.margin, self.net);
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriggeredApproval {
    pub rule_id: String,
    pub level: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalOutcome {
    /// The highest level any triggered rule requires, or the lowest-ranked
    /// level (normally `none`) when no rule triggers.
    pub level: String,
    pub triggered: Vec<TriggeredApproval>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PricedQuote {
    pub currency: CurrencyCode,
    pub price_date: NaiveDate,
    pub price_book_id: String,
    pub account: Option<String>,
    pub segment: Option<String>,
    pub region: Option<String>,
    pub lines: Vec<PricedLine>,
    pub totals: Totals,
    /// Per product line, in product-line id order.
    pub subtotals: Vec<(String, Totals)>,
    pub approval: ApprovalOutcome,
}
