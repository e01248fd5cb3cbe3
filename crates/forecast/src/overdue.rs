//! Opportunities past their stage's time limit: each goes back to its
//! owner's supervisor, who keeps, returns or reassigns it.
use polars::prelude::*;
use quotecast_pipeline::columns as col;

use crate::{
    ForecastError, ForecastSpec,
    columns::{IS_OPEN, LIMIT, VALUE},
    frames::{collect_together, fixed_sum},
    prepare::prepared,
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
    let (lines, _) = prepared(snapshot, spec)?;
    let as_of = lit(spec.as_of).cast(DataType::Date);
    let days_in_stage = (as_of - col(col::STAGE_ENTERED)).dt().total_days(false);
    let per_opportunity = lines
        .filter(col(IS_OPEN))
        .group_by([
            col(col::OPPORTUNITY_ID),
            col(col::OWNER),
            col(col::TEAM),
            col(col::STAGE),
            col(col::STAGE_ENTERED),
            col(LIMIT),
        ])
        .agg([fixed_sum(col(VALUE)).alias(col::AMOUNT)])
        .with_column(days_in_stage.alias(DAYS_IN_STAGE))
        .with_column((col(DAYS_IN_STAGE) - col(LIMIT)).alias(DAYS_OVER))
        .filter(col(DAYS_OVER).gt(lit(0)))
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
        );
    let by_owner = per_opportunity
        .clone()
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
        );
    let mut frames = collect_together(vec![per_opportunity, by_owner])?;
    let by_owner = frames.pop().unwrap_or_default();
    Ok((frames.pop().unwrap_or_default(), by_owner))
}
