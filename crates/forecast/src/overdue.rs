//! Opportunities past their stage's time limit: each goes back to its
//! owner's supervisor, who keeps, returns or reassigns it.
use polars::prelude::*;
use quotecast_pipeline::columns as col;

use crate::{
    ForecastError, ForecastSpec,
    columns::{IS_OPEN, LIMIT, RATE, VALUE},
    frames::fixed_sum,
    prepare::{win_rates, with_funnel_and_rates},
};

pub const DAYS_IN_STAGE: &str = "days_in_stage";
pub const TIME_LIMIT_DAYS: &str = "time_limit_days";
pub const DAYS_OVER: &str = "days_over";

/// Overdue opportunities, most overdue first: `opportunity_id, owner,
/// team, stage, stage_entered, days_in_stage, time_limit_days, days_over,
/// amount` (reporting currency); and per team and owner the count and
/// amount overdue. Opportunities without a `stage_entered` date cannot be
/// judged and are left out.
pub fn overdue(
    snapshot: LazyFrame,
    spec: &ForecastSpec,
) -> Result<(DataFrame, DataFrame), ForecastError> {
    if spec.stages.is_empty() {
        return Err(ForecastError::NoStages);
    }
    // The funnel's time limits and the currencies are all it needs of the
    // prepared lines (not the win rates and deal factors).
    let lines = with_funnel_and_rates(snapshot, spec, &win_rates(spec))?
        .with_column((col(col::AMOUNT).cast(DataType::Float64) / col(RATE)).alias(VALUE));
    let as_of = lit(spec.as_of).cast(DataType::Date);
    let days_in_stage = (as_of - col(col::STAGE_ENTERED)).dt().total_days(false);
    // A deal's lines share its stage and the day it entered it: its
    // lines past the limit are its lines, so they are picked before the
    // deals are summed.
    let per_opportunity = lines
        .filter(col(IS_OPEN))
        .with_column(days_in_stage.alias(DAYS_IN_STAGE))
        .with_column((col(DAYS_IN_STAGE) - col(LIMIT)).alias(DAYS_OVER))
        .filter(col(DAYS_OVER).gt(lit(0)))
        .group_by([
            col(col::OPPORTUNITY_ID),
            col(col::OWNER),
            col(col::TEAM),
            col(col::STAGE),
            col(col::STAGE_ENTERED),
            col(LIMIT),
            col(DAYS_IN_STAGE),
            col(DAYS_OVER),
        ])
        .agg([fixed_sum(col(VALUE)).alias(col::AMOUNT)])
        .select([
            col(col::OPPORTUNITY_ID),
            col(col::OWNER),
            col(col::TEAM),
            col(col::STAGE),
            col(col::STAGE_ENTERED),
            col(DAYS_IN_STAGE),
            col(LIMIT).alias(TIME_LIMIT_DAYS),
            col(DAYS_OVER),
            col(col::AMOUNT).round(spec.rates.scale, RoundMode::HalfToEven),
        ])
        .sort_by_exprs(
            [col(DAYS_OVER), col(col::OPPORTUNITY_ID)],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        // Collected once: the owners' table is summed from it.
        .collect()?;
    let by_owner = per_opportunity
        .clone()
        .lazy()
        .group_by([col(col::TEAM), col(col::OWNER)])
        .agg([
            len().alias("overdue"),
            fixed_sum(col(col::AMOUNT))
                .round(spec.rates.scale, RoundMode::HalfToEven)
                .alias(col::AMOUNT),
            col(DAYS_OVER).max().alias("most_days_over"),
        ])
        .sort_by_exprs(
            [col(col::TEAM), col(col::OWNER)],
            SortMultipleOptions::default(),
        )
        .collect()?;
    Ok((per_opportunity, by_owner))
}
