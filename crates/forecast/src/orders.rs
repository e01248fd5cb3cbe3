//! Won orders booked into a snapshot. An accepted quote is a deal won for
//! certain: the opportunity that carried it (a line's `quote_ref` names
//! the quote) closes won, its lines replaced by the order's exact lines
//! and amounts on the day it was accepted; an order no opportunity
//! carried joins the snapshot as a won deal of its own, owned by the rep
//! who made the quote. So the forecast counts each won order once, as
//! closed won, and the demand roll-down does not count a deal twice.
use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_model::{RuleSet, StageOutcome};
use quotecast_pipeline::columns as col;
use rust_decimal::{Decimal, prelude::ToPrimitive};

use crate::ForecastError;

/// One line of a won order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WonOrderLine {
    pub sku: String,
    pub product_line: String,
    pub quantity: Decimal,
    /// The line's net amount, in the order's currency.
    pub net: Decimal,
}

/// A won order (an accepted quote).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WonOrder {
    /// The accepted quote's number.
    pub number: i64,
    pub account: String,
    /// Who made the quote.
    pub owner: String,
    pub currency: String,
    pub accepted_on: NaiveDate,
    pub lines: Vec<WonOrderLine>,
}

/// The quote number a CRM's quote reference names: its last run of
/// digits (`Q-001042`, `1042` and `CPQ 2026/1042` all name quote 1042).
pub fn quote_number_of(reference: &str) -> Option<i64> {
    let digits: String = reference
        .trim_end()
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok()
}

/// The opportunities of `snapshot` whose lines name one of `numbers` as
/// their quote, each with the number it names and its first row.
fn carriers(
    snapshot: &DataFrame,
    numbers: &HashSet<i64>,
) -> Result<HashMap<String, (i64, usize)>, ForecastError> {
    let ids = snapshot.column(col::OPPORTUNITY_ID)?.str()?;
    let refs = snapshot.column(col::QUOTE_REF)?.str()?;
    let mut found = HashMap::new();
    for (row, (id, reference)) in ids.iter().zip(refs.iter()).enumerate() {
        let (Some(id), Some(number)) = (id, reference.and_then(quote_number_of)) else {
            continue;
        };
        if numbers.contains(&number) {
            found.entry(id.to_owned()).or_insert((number, row));
        }
    }
    Ok(found)
}

/// `snapshot` without the opportunities that carried one of `orders`
/// (the orders bring their demand themselves), and how many went.
pub fn without_ordered(
    snapshot: DataFrame,
    orders: &[WonOrder],
) -> Result<(DataFrame, usize), ForecastError> {
    let numbers = orders.iter().map(|o| o.number).collect();
    let carried = carriers(&snapshot, &numbers)?;
    if carried.is_empty() {
        return Ok((snapshot, 0));
    }
    let keep = not_carried(&snapshot, &carried)?;
    Ok((snapshot.filter(&keep)?, carried.len()))
}

fn not_carried(
    snapshot: &DataFrame,
    carried: &HashMap<String, (i64, usize)>,
) -> Result<BooleanChunked, ForecastError> {
    let ids = snapshot.column(col::OPPORTUNITY_ID)?.str()?;
    Ok(ids
        .iter()
        .map(|id| !id.is_some_and(|id| carried.contains_key(id)))
        .collect())
}

/// What booking won orders did to a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Booked {
    /// Opportunities closed won by the order of the quote they carried.
    pub closed: usize,
    /// Orders no opportunity carried, added as won deals of their own.
    pub added: usize,
    /// Order lines now in the snapshot.
    pub lines: usize,
}

/// `snapshot` with `orders` booked as closed won (see the module).
pub fn book_won_orders(
    snapshot: DataFrame,
    orders: &[WonOrder],
    rules: &RuleSet,
) -> Result<(DataFrame, Booked), ForecastError> {
    let won_stage = rules
        .stages()
        .iter()
        .find(|s| s.outcome == Some(StageOutcome::Won))
        .map(|s| s.id.clone())
        .ok_or(ForecastError::NoStages)?;
    let numbers = orders.iter().map(|o| o.number).collect();
    let carried = carriers(&snapshot, &numbers)?;
    let by_number: HashMap<i64, usize> = carried.values().map(|(n, row)| (*n, *row)).collect();
    let owners = owner_teams(&snapshot)?;
    let text = |name: &str, row: usize| -> Result<Option<String>, ForecastError> {
        Ok(snapshot.column(name)?.str()?.get(row).map(str::to_owned))
    };
    let created = snapshot.column(col::CREATED)?.date()?.clone();
    let mut rows = Rows::default();
    let mut booked = Booked::default();
    for order in orders {
        let (id, owner, team, region, created_on) = match by_number.get(&order.number) {
            Some(&row) => {
                booked.closed += 1;
                (
                    text(col::OPPORTUNITY_ID, row)?.unwrap_or_default(),
                    text(col::OWNER, row)?.unwrap_or_default(),
                    text(col::TEAM, row)?.unwrap_or_default(),
                    text(col::REGION, row)?.unwrap_or_default(),
                    created.as_date_iter().nth(row).flatten(),
                )
            }
            None => {
                booked.added += 1;
                let (team, region) = owners
                    .get(order.owner.as_str())
                    .cloned()
                    .unwrap_or_else(|| (UNASSIGNED.into(), UNASSIGNED.into()));
                (
                    format!("order-{}", order.number),
                    order.owner.clone(),
                    team,
                    region,
                    None,
                )
            }
        };
        for (i, line) in order.lines.iter().enumerate() {
            rows.id.push(id.clone());
            rows.account.push(order.account.clone());
            rows.owner.push(owner.clone());
            rows.team.push(team.clone());
            rows.region.push(region.clone());
            rows.stage.push(won_stage.clone());
            rows.created.push(created_on.unwrap_or(order.accepted_on));
            rows.accepted.push(order.accepted_on);
            rows.currency.push(order.currency.clone());
            rows.line.push(u32::try_from(i + 1).unwrap_or(u32::MAX));
            rows.sku.push(line.sku.clone());
            rows.product_line.push(line.product_line.clone());
            rows.quantity
                .push(line.quantity.round().to_u32().unwrap_or(u32::MAX));
            rows.amount.push(line.net.round_dp(2).to_string());
            rows.quote_ref.push(order.number.to_string());
        }
    }
    booked.lines = rows.id.len();
    let keep = not_carried(&snapshot, &carried)?;
    let kept = snapshot.filter(&keep)?;
    let added = rows.frame(&kept)?;
    Ok((kept.vstack(&added)?, booked))
}

/// The team and region an order's rep is given when no opportunity
/// carried the order and the rep owns none in the snapshot: what the
/// snapshot reader gives a deal without them.
pub use quotecast_pipeline::read::UNASSIGNED;

/// Each owner's team and region, as their first row in the snapshot has
/// them.
fn owner_teams(snapshot: &DataFrame) -> Result<HashMap<String, (String, String)>, ForecastError> {
    let owners = snapshot.column(col::OWNER)?.str()?;
    let teams = snapshot.column(col::TEAM)?.str()?;
    let regions = snapshot.column(col::REGION)?.str()?;
    let mut found = HashMap::new();
    for ((owner, team), region) in owners.iter().zip(teams.iter()).zip(regions.iter()) {
        if let (Some(o), Some(t), Some(r)) = (owner, team, region) {
            found
                .entry(o.to_owned())
                .or_insert_with(|| (t.to_owned(), r.to_owned()));
        }
    }
    Ok(found)
}

/// Order lines as snapshot columns.
#[derive(Default)]
struct Rows {
    id: Vec<String>,
    account: Vec<String>,
    owner: Vec<String>,
    team: Vec<String>,
    region: Vec<String>,
    stage: Vec<String>,
    created: Vec<NaiveDate>,
    accepted: Vec<NaiveDate>,
    currency: Vec<String>,
    line: Vec<u32>,
    sku: Vec<String>,
    product_line: Vec<String>,
    quantity: Vec<u32>,
    amount: Vec<String>,
    quote_ref: Vec<String>,
}

impl Rows {
    /// The rows in `like`'s columns, order and types.
    fn frame(self, like: &DataFrame) -> Result<DataFrame, ForecastError> {
        let n = self.id.len();
        let mut columns: HashMap<&str, Column> = HashMap::from([
            (col::OPPORTUNITY_ID, Column::new("".into(), self.id)),
            (col::ACCOUNT, Column::new("".into(), self.account)),
            (col::OWNER, Column::new("".into(), self.owner)),
            (col::TEAM, Column::new("".into(), self.team)),
            (col::REGION, Column::new("".into(), self.region)),
            (col::STAGE, Column::new("".into(), self.stage)),
            (
                col::STAGE_ENTERED,
                Column::new("".into(), self.accepted.clone()),
            ),
            (col::CREATED, Column::new("".into(), self.created)),
            (col::EXPECTED_CLOSE, Column::new("".into(), self.accepted)),
            (col::CURRENCY, Column::new("".into(), self.currency)),
            (col::LINE, Column::new("".into(), self.line)),
            (col::SKU, Column::new("".into(), self.sku)),
            (col::PRODUCT_LINE, Column::new("".into(), self.product_line)),
            (col::QUANTITY, Column::new("".into(), self.quantity)),
            (col::AMOUNT, Column::new("".into(), self.amount)),
            (col::QUOTE_REF, Column::new("".into(), self.quote_ref)),
        ]);
        let mut out = Vec::with_capacity(like.width());
        for field in like.schema().iter_fields() {
            let column = columns
                .remove(field.name().as_str())
                .unwrap_or_else(|| Column::full_null("".into(), n, field.dtype()));
            out.push(
                column
                    .with_name(field.name().clone())
                    .strict_cast(field.dtype())?,
            );
        }
        Ok(DataFrame::new(n, out)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_reference_names_its_last_run_of_digits() {
        assert_eq!(quote_number_of("Q-001042"), Some(1042));
        assert_eq!(quote_number_of("1042"), Some(1042));
        assert_eq!(quote_number_of("CPQ 2026/1042 "), Some(1042));
        assert_eq!(quote_number_of("Q-"), None);
        assert_eq!(quote_number_of(""), None);
    }
}
