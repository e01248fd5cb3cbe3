//! Without past snapshots: what a team's stated amounts turn into at
//! booking. Today's snapshot still shows the deals won lately with the
//! amount the CRM held for them; the outcomes hold what each booked (an
//! ERP's figure, after the last discount). Their ratio per team, shrunk
//! towards the company's by the number of deals, scales the value of the
//! open deals in `expected_bookings` (a CRM that writes the booked amount
//! back on the deal gives 1, and changes nothing). With a correction the
//! team accuracy factor already holds this, and it is not learned.
use polars::prelude::*;
use quotecast_pipeline::columns as col;

use crate::{
    ForecastError, ForecastSpec,
    columns::{COMPANY, IS_WON, RATE, REALISED, VALUE},
    frames::floats,
    prepare::{decided, win_rates, with_funnel_and_rates},
};

/// The factor on an open deal's value, per team (`*`: the company's).
pub const AMOUNT_FACTOR: &str = "amount_factor";
pub const STATED: &str = "stated";
pub const BOOKED: &str = "booked";
const DEALS: &str = "deals";
/// Won deals in both files below which nothing is learned.
pub const MIN_DEALS: usize = 30;
/// Deals at which a team's own ratio gets half the weight.
const SHRINK_DEALS: f64 = 30.0;

/// Per team and `*`: the won deals found in both `snapshot` and
/// `outcomes`, their stated and booked value (reporting currency), and
/// the [`AMOUNT_FACTOR`]; `None` with fewer than [`MIN_DEALS`] such deals.
pub(crate) fn learn_amount_factors(
    snapshot: LazyFrame,
    outcomes: LazyFrame,
    spec: &ForecastSpec,
) -> Result<Option<DataFrame>, ForecastError> {
    // Only the won lines' value: no win rates, bands or buckets.
    let stated = with_funnel_and_rates(snapshot, spec, &win_rates(spec))?
        .filter(col(IS_WON))
        .with_column((col(col::AMOUNT).cast(DataType::Float64) / col(RATE)).alias(VALUE))
        .group_by([col(col::OPPORTUNITY_ID), col(col::TEAM)])
        .agg([col(VALUE).sum().alias(STATED)]);
    let booked = decided(outcomes, spec, spec.as_of)?
        .filter(col(IS_WON))
        .select([col(col::OPPORTUNITY_ID), col(REALISED).alias(BOOKED)]);
    let teams = stated
        .join(
            booked,
            [col(col::OPPORTUNITY_ID)],
            [col(col::OPPORTUNITY_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(col(STATED).gt(lit(0.0)))
        .group_by([col(col::TEAM)])
        .agg([
            col(col::OPPORTUNITY_ID).count().alias(DEALS),
            col(STATED).sum(),
            col(BOOKED).sum(),
        ])
        .sort([col::TEAM], SortMultipleOptions::default())
        .collect()?;
    let deals = floats(&teams, DEALS)?;
    let total: f64 = deals.iter().sum();
    if total < MIN_DEALS as f64 {
        return Ok(None);
    }
    let stated = floats(&teams, STATED)?;
    let booked = floats(&teams, BOOKED)?;
    let company = booked.iter().sum::<f64>() / stated.iter().sum::<f64>();
    let factors: Vec<f64> = (0..teams.height())
        .map(|t| {
            let weight = deals[t] / (deals[t] + SHRINK_DEALS);
            weight * booked[t] / stated[t] + (1.0 - weight) * company
        })
        .collect();
    let names: Vec<String> = teams
        .column(col::TEAM)?
        .str()?
        .iter()
        .map(|t| t.unwrap_or_default().to_owned())
        .chain(std::iter::once(COMPANY.to_owned()))
        .collect();
    let column = |values: &[f64], extra: f64| {
        values
            .iter()
            .copied()
            .chain(std::iter::once(extra))
            .collect::<Vec<f64>>()
    };
    let frame = DataFrame::new(
        names.len(),
        vec![
            Column::new(col::TEAM.into(), names),
            Column::new(
                DEALS.into(),
                column(&deals, total)
                    .into_iter()
                    .map(|d| d as u32)
                    .collect::<Vec<u32>>(),
            ),
            Column::new(STATED.into(), column(&stated, stated.iter().sum())),
            Column::new(BOOKED.into(), column(&booked, booked.iter().sum())),
            Column::new(AMOUNT_FACTOR.into(), column(&factors, company)),
        ],
    )?;
    Ok(Some(frame))
}

/// `open` rows with [`AMOUNT_FACTOR`]: their team's, else the company's,
/// else 1.
pub(crate) fn with_amount_factor(open: LazyFrame, factors: Option<&DataFrame>) -> LazyFrame {
    let Some(factors) = factors else {
        return open.with_column(lit(1.0).alias(AMOUNT_FACTOR));
    };
    let company = company_factor(factors).map_or(1.0, |(factor, _)| factor);
    open.join(
        factors
            .clone()
            .lazy()
            .select([col(col::TEAM), col(AMOUNT_FACTOR)]),
        [col(col::TEAM)],
        [col(col::TEAM)],
        JoinArgs::new(JoinType::Left),
    )
    .with_column(col(AMOUNT_FACTOR).fill_null(lit(company)))
}

/// The company's factor and the deals it was learned from.
pub(crate) fn company_factor(factors: &DataFrame) -> Option<(f64, f64)> {
    let teams = factors.column(col::TEAM).ok()?.str().ok()?;
    let at = teams.iter().position(|t| t == Some(COMPANY))?;
    let factor = floats(factors, AMOUNT_FACTOR).ok()?.get(at).copied()?;
    let deals = floats(factors, DEALS).ok()?.get(at).copied()?;
    Some((factor, deals))
}
