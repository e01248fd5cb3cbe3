//! Slippage: how many days after the close date its owner stated on a
//! past snapshot a won deal really closed, and which of those learned
//! delays an open deal is spread over.
//!
//! Delays are learned per team and per the stage the deal was in on the
//! snapshot: a deal still being qualified slips further past its stated
//! date than one in negotiation (on the generated histories the median
//! won deal's delay is 18 days from qualify, 0 from negotiate), so
//! a pooled delay would put early deals' value in the current bucket that
//! later ones book in the next. Four levels are learned: team and stage,
//! company and stage, team over all stages, company over all stages. An
//! open deal takes the first level with at least
//! [`MIN_SLIP_OBSERVATIONS`] won observations (the company's over all
//! stages always applies); each level is summarised by [`SLIP_POINTS`]
//! percentile points (the 5th, 15th, ..., 95th), each carrying an equal
//! share of the deal's expected value.
use polars::prelude::*;
use quotecast_pipeline::columns as col;

use crate::{
    ForecastError,
    columns::{COMPANY, POINT, SHARE, SHIFT_DAYS, SLIP_POINTS},
};

pub const WON_OBSERVATIONS: &str = "won_observations";
pub const LATE_SHARE: &str = "late_share";
pub const MEDIAN_DELAY_DAYS: &str = "median_delay_days";
/// A level with fewer won observations than this gives way to the next.
pub const MIN_SLIP_OBSERVATIONS: u64 = 40;
/// The stage of a level learned over all stages.
pub const ANY_STAGE: &str = "*";
/// Days from the stated expected close to the real one (won deals).
pub(crate) const DELAY: &str = "__delay";
/// The level an open deal's points are taken from.
const SLIP_TEAM: &str = "__slip_team";
const SLIP_STAGE: &str = "__slip_stage";
const FOUND: &str = "__found";

/// The percentile slippage point `k` stands for: 5 %, 15 %, ..., 95 %.
fn slip_quantile(k: u32) -> f64 {
    (f64::from(k) + 0.5) / f64::from(SLIP_POINTS)
}

/// The four levels' plans from the won deals of past snapshots (their
/// team, stage and [`DELAY`]): per level row its observations, late share,
/// median delay and the points' delays, most specific level first.
pub(crate) fn slip_plans(won: LazyFrame) -> Vec<LazyFrame> {
    let points = (0..SLIP_POINTS).map(|k| {
        col(DELAY)
            .cast(DataType::Float64)
            .quantile(lit(slip_quantile(k)), QuantileMethod::Linear)
            .alias(format!("__p{k}"))
    });
    let mut aggs = vec![
        len().cast(DataType::UInt64).alias(WON_OBSERVATIONS),
        col(DELAY)
            .gt(lit(0))
            .cast(DataType::Float64)
            .mean()
            .alias(LATE_SHARE),
        col(DELAY)
            .cast(DataType::Float64)
            .median()
            .alias(MEDIAN_DELAY_DAYS),
    ];
    aggs.extend(points);
    let team = || col(col::TEAM);
    let stage = || col(col::STAGE);
    [
        (team(), stage()),
        (lit(COMPANY), stage()),
        (team(), lit(ANY_STAGE)),
        (lit(COMPANY), lit(ANY_STAGE)),
    ]
    .into_iter()
    .map(|(t, s)| {
        won.clone()
            .select([t.alias(col::TEAM), s.alias(col::STAGE), col(DELAY)])
            .group_by([col(col::TEAM), col(col::STAGE)])
            .agg(aggs.clone())
    })
    .collect()
}

/// From the collected [`slip_plans`]: the slippage table (every level's
/// team, stage, observations, late share and median delay, in team and
/// stage order) and the long table of the points open deals use
/// (`team`, `stage`, `point`, `shift_days`) for each level with enough
/// observations, and always the company's over all stages.
pub(crate) fn slip_tables(levels: &[DataFrame]) -> Result<(DataFrame, DataFrame), ForecastError> {
    let (mut teams, mut stages, mut points, mut shifts) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut reported = Vec::with_capacity(levels.len());
    for frame in levels {
        let names = frame.column(col::TEAM)?.str()?.clone();
        let stage_names = frame.column(col::STAGE)?.str()?.clone();
        let counts = frame.column(WON_OBSERVATIONS)?.u64()?.clone();
        for row in 0..frame.height() {
            let (name, stage) = (
                names.get(row).unwrap_or(COMPANY),
                stage_names.get(row).unwrap_or(ANY_STAGE),
            );
            let always = name == COMPANY && stage == ANY_STAGE;
            if !always && counts.get(row).unwrap_or(0) < MIN_SLIP_OBSERVATIONS {
                continue;
            }
            for k in 0..SLIP_POINTS {
                let shift = frame
                    .column(&format!("__p{k}"))?
                    .f64()?
                    .get(row)
                    .unwrap_or(0.0);
                teams.push(name.to_owned());
                stages.push(stage.to_owned());
                points.push(k);
                shifts.push(shift.round() as i64);
            }
        }
        reported.push(frame.select([
            col::TEAM,
            col::STAGE,
            WON_OBSERVATIONS,
            LATE_SHARE,
            MEDIAN_DELAY_DAYS,
        ])?);
    }
    let mut table = reported.pop().unwrap_or_default();
    for frame in reported {
        table.vstack_mut(&frame)?;
    }
    let table = table.sort([col::TEAM, col::STAGE], SortMultipleOptions::default())?;
    let points = DataFrame::new(
        teams.len(),
        vec![
            Column::new(col::TEAM.into(), teams),
            Column::new(col::STAGE.into(), stages),
            Column::new(POINT.into(), points),
            Column::new(SHIFT_DAYS.into(), shifts),
        ],
    )?;
    Ok((table, points))
}

/// `open` deals (with their team and stage) joined to the slippage
/// points of the first level `points` has for them: one row per deal and
/// point, with [`POINT`], [`SHIFT_DAYS`] and the point's [`SHARE`] of the
/// deal (a deal no level covers, when no won deal was ever observed,
/// keeps one row, shifted by 0, with all of it).
pub(crate) fn with_slip_points(open: LazyFrame, points: &DataFrame) -> LazyFrame {
    const ANY_TEAM_COLUMN: &str = "__company";
    const ANY_STAGE_COLUMN: &str = "__any_stage";
    let levels = points
        .clone()
        .lazy()
        .select([
            col(col::TEAM).alias(SLIP_TEAM),
            col(col::STAGE).alias(SLIP_STAGE),
        ])
        .unique(None, UniqueKeepStrategy::First);
    let tried = [
        (col::TEAM, col::STAGE),
        (ANY_TEAM_COLUMN, col::STAGE),
        (col::TEAM, ANY_STAGE_COLUMN),
    ];
    let mut keyed = open.with_columns([
        lit(COMPANY).alias(ANY_TEAM_COLUMN),
        lit(ANY_STAGE).alias(ANY_STAGE_COLUMN),
    ]);
    let found = |i: usize| format!("{FOUND}{i}");
    for (i, (team, stage)) in tried.into_iter().enumerate() {
        keyed = keyed.join(
            levels.clone().with_column(lit(true).alias(found(i))),
            [col(team), col(stage)],
            [col(SLIP_TEAM), col(SLIP_STAGE)],
            JoinArgs::new(JoinType::Left),
        );
    }
    let pick = |which: fn(&(&'static str, &'static str)) -> &'static str, last: &str| {
        let hit = |i: usize| col(found(i).as_str()).fill_null(lit(false));
        when(hit(0))
            .then(col(which(&tried[0])))
            .when(hit(1))
            .then(col(which(&tried[1])))
            .when(hit(2))
            .then(col(which(&tried[2])))
            .otherwise(lit(last.to_owned()))
    };
    let mut dropped: Vec<String> = (0..tried.len()).map(found).collect();
    dropped.extend([ANY_TEAM_COLUMN, ANY_STAGE_COLUMN, SLIP_TEAM, SLIP_STAGE].map(String::from));
    keyed
        .with_columns([
            pick(|t| t.0, COMPANY).alias(SLIP_TEAM),
            pick(|t| t.1, ANY_STAGE).alias(SLIP_STAGE),
        ])
        .join(
            points.clone().lazy().select([
                col(col::TEAM).alias(SLIP_TEAM),
                col(col::STAGE).alias(SLIP_STAGE),
                col(SHIFT_DAYS),
                col(POINT).cast(DataType::UInt32),
            ]),
            [col(SLIP_TEAM), col(SLIP_STAGE)],
            [col(SLIP_TEAM), col(SLIP_STAGE)],
            JoinArgs::new(JoinType::Left),
        )
        .drop(cols(dropped))
        .with_columns([
            when(col(SHIFT_DAYS).is_null())
                .then(lit(1.0))
                .otherwise(lit(1.0 / f64::from(SLIP_POINTS)))
                .alias(SHARE),
            col(SHIFT_DAYS).fill_null(lit(0i64)),
            col(POINT).fill_null(lit(0u32)).cast(DataType::UInt32),
        ])
}
