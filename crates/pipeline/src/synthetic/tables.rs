//! Simulated opportunities written out as the tables a CRM would export:
//! snapshot rows (one per opportunity line), stage-change events and
//! outcomes.
use polars::prelude::*;

use super::{
    simulate::{SimLine, SimOpportunity},
    world::{CatalogItem, World},
};
use crate::columns as col;

/// The id an opportunity is known by.
pub(crate) fn opportunity_id(number: u64) -> String {
    format!("OPP-{number:09}")
}

/// The stated value of a line: its true value with the team's bias.
fn stated_cents(true_cents: i64, bias: f64) -> i128 {
    ((true_cents as f64) * (1.0 + bias)).round() as i128
}

/// Rows of a pipeline snapshot taken on one or more days.
#[derive(Default)]
pub(crate) struct SnapshotRows {
    snapshot_date: Vec<i32>,
    opportunity_id: Vec<String>,
    account: Vec<String>,
    owner: Vec<String>,
    team: Vec<String>,
    region: Vec<String>,
    stage: Vec<String>,
    stage_entered: Vec<i32>,
    created: Vec<i32>,
    expected_close: Vec<i32>,
    currency: Vec<String>,
    line: Vec<u32>,
    sku: Vec<String>,
    product_line: Vec<String>,
    quantity: Vec<u32>,
    amount: Vec<i128>,
}

impl SnapshotRows {
    /// Adds the opportunity as it stood on `day`, one row per line: open
    /// in the stage it had reached, or closed won or lost on its decision
    /// day.
    pub fn add(&mut self, world: &World, o: &SimOpportunity, day: i32) {
        let team = &world.teams[usize::from(o.team)];
        let (stage, entered, expected) = if o.open_on(day) {
            let (s, entered) = o.stage_on(day);
            let id = &world.funnel.open[s].id;
            (id, entered, o.expected_close_on(day))
        } else if o.won {
            (&world.funnel.won, o.decided, o.decided)
        } else {
            (&world.funnel.lost, o.decided, o.decided)
        };
        let id = opportunity_id(o.number);
        // Lines in product line and SKU order, as an "opportunities with
        // products" export lists them (and the forecast counts fastest).
        let mut lines: Vec<&SimLine> = o.lines.iter().collect();
        lines.sort_by_key(|l| {
            let item = &world.catalog[l.item as usize];
            (item.product_line.as_str(), item.sku.as_str())
        });
        for (n, l) in lines.into_iter().enumerate() {
            let item: &CatalogItem = &world.catalog[l.item as usize];
            self.snapshot_date.push(day);
            self.opportunity_id.push(id.clone());
            self.account.push(format!(
                "ACC-{}-{:05}",
                team.region.to_uppercase(),
                o.account
            ));
            self.owner
                .push(format!("{}-rep-{:02}", team.id, o.owner + 1));
            self.team.push(team.id.clone());
            self.region.push(team.region.clone());
            self.stage.push(stage.clone());
            self.stage_entered.push(entered);
            self.created.push(o.created);
            self.expected_close.push(expected);
            self.currency
                .push(world.currencies[team.currency].code.clone());
            self.line.push(n as u32 + 1);
            self.sku.push(item.sku.clone());
            self.product_line.push(item.product_line.clone());
            self.quantity.push(l.quantity);
            self.amount
                .push(stated_cents(l.true_cents, team.amount_bias));
        }
    }

    /// The rows as a data frame; with `snapshot_date` first when asked.
    pub fn into_frame(self, with_snapshot_date: bool) -> PolarsResult<DataFrame> {
        let rows = self.opportunity_id.len();
        let mut columns = Vec::with_capacity(17);
        if with_snapshot_date {
            columns.push(date_column(col::SNAPSHOT_DATE, self.snapshot_date)?);
        }
        columns.extend([
            Column::new(col::OPPORTUNITY_ID.into(), self.opportunity_id),
            Column::new(col::ACCOUNT.into(), self.account),
            Column::new(col::OWNER.into(), self.owner),
            Column::new(col::TEAM.into(), self.team),
            Column::new(col::REGION.into(), self.region),
            Column::new(col::STAGE.into(), self.stage),
            date_column(col::STAGE_ENTERED, self.stage_entered)?,
            date_column(col::CREATED, self.created)?,
            date_column(col::EXPECTED_CLOSE, self.expected_close)?,
            Column::full_null(col::FORECAST_CATEGORY.into(), rows, &DataType::String),
            Column::new(col::CURRENCY.into(), self.currency),
            Column::new(col::LINE.into(), self.line),
            Column::new(col::SKU.into(), self.sku),
            Column::new(col::PRODUCT_LINE.into(), self.product_line),
            Column::new(col::QUANTITY.into(), self.quantity),
            amount_column(col::AMOUNT, self.amount),
            Column::full_null(col::QUOTE_REF.into(), rows, &DataType::String),
        ]);
        DataFrame::new(rows, columns)
    }
}

/// Stage-change events and outcomes up to the snapshot day.
#[derive(Default)]
pub(crate) struct HistoryRows {
    event_opportunity: Vec<String>,
    event_stage: Vec<String>,
    event_at: Vec<i32>,
    outcome_opportunity: Vec<String>,
    outcome_team: Vec<String>,
    outcome: Vec<&'static str>,
    closed: Vec<i32>,
    outcome_currency: Vec<String>,
    outcome_amount: Vec<i128>,
}

impl HistoryRows {
    /// Records what had happened to the opportunity by `as_of`.
    pub fn add(&mut self, world: &World, o: &SimOpportunity, as_of: i32) {
        let id = opportunity_id(o.number);
        for (s, &entered) in o.entries.iter().enumerate() {
            if entered > as_of {
                break;
            }
            self.event_opportunity.push(id.clone());
            self.event_stage.push(world.funnel.open[s].id.clone());
            self.event_at.push(entered);
        }
        if o.decided > as_of {
            return;
        }
        let team = &world.teams[usize::from(o.team)];
        let closing_stage = if o.won {
            &world.funnel.won
        } else {
            &world.funnel.lost
        };
        self.event_opportunity.push(id.clone());
        self.event_stage.push(closing_stage.clone());
        self.event_at.push(o.decided);
        self.outcome_opportunity.push(id);
        self.outcome_team.push(team.id.clone());
        self.outcome.push(if o.won { "won" } else { "lost" });
        self.closed.push(o.decided);
        self.outcome_currency
            .push(world.currencies[team.currency].code.clone());
        // A won deal books its true value; a lost one books nothing.
        let booked: i64 = if o.won {
            o.lines.iter().map(|l| l.true_cents).sum()
        } else {
            0
        };
        self.outcome_amount.push(i128::from(booked));
    }

    pub fn into_frames(self) -> PolarsResult<(DataFrame, DataFrame)> {
        let events = DataFrame::new(
            self.event_opportunity.len(),
            vec![
                Column::new(col::OPPORTUNITY_ID.into(), self.event_opportunity),
                Column::new(col::STAGE.into(), self.event_stage),
                date_column(col::AT, self.event_at)?,
            ],
        )?;
        let outcomes = DataFrame::new(
            self.outcome_opportunity.len(),
            vec![
                Column::new(col::OPPORTUNITY_ID.into(), self.outcome_opportunity),
                Column::new(col::TEAM.into(), self.outcome_team),
                Column::new(col::OUTCOME.into(), self.outcome),
                date_column(col::CLOSED, self.closed)?,
                Column::new(col::CURRENCY.into(), self.outcome_currency),
                amount_column(col::AMOUNT, self.outcome_amount),
            ],
        )?;
        Ok((events, outcomes))
    }
}

fn date_column(name: &str, days: Vec<i32>) -> PolarsResult<Column> {
    Column::new(name.into(), days).cast(&DataType::Date)
}

fn amount_column(name: &str, cents: Vec<i128>) -> Column {
    Int128Chunked::from_vec(name.into(), cents)
        .into_decimal_unchecked(col::AMOUNT_PRECISION, col::AMOUNT_SCALE)
        .into_series()
        .into_column()
}
