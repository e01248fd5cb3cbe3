//! New deals for a history without past snapshots (or none old enough to
//! learn a correction from). Many CRM exports hold each deal's stage
//! history and outcome but no weekly snapshots of the pipeline; a
//! forecast of today's pipeline then misses everything deals not yet
//! created will book (most of the next quarter's bookings). What they
//! book does not need a snapshot: a deal was in the pipeline on a day if
//! it had entered its first stage by then, so on every past day of a
//! weekly grid the won deals closed after it split into those already in
//! the pipeline and those not yet in it, per team and horizon, exactly as
//! past snapshots split them (see [`crate::pipeline_share`]). The days
//! are weighted as the calendar weighs snapshots (place in the bucket,
//! then age), and the same [`Tally`] gives the mean and spread of
//! [`crate::pipeline_share::NOT_YET_IN_PIPELINE`] per team and horizon.
//! A deal without stage events is left out (when it entered is unknown).
use std::collections::HashMap;

use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_pipeline::columns as col;

use crate::{
    ForecastError, ForecastSpec,
    calendar::complete_horizons,
    columns::{IS_WON, REALISED},
    pipeline_share::Tally,
    prepare::decided,
    snapshot_weights::snapshot_weight,
};

/// Days between the grid's days.
pub const GRID_DAYS: u64 = 7;

/// The won deals known on the forecast date with their stage entries,
/// collected once for what both learn from them: when each entered the
/// pipeline (here) and which stage it was in on a past day
/// ([`crate::timing`]).
pub(crate) struct WonDeals {
    pub teams: Vec<String>,
    pub stages: Vec<String>,
    /// In deal id order.
    pub deals: Vec<WonDeal>,
}

/// A won deal: its team and stage entries (positions in
/// [`WonDeals::teams`] and [`WonDeals::stages`]; entries by day, none
/// empty), the day it closed and what it booked.
pub(crate) struct WonDeal {
    pub team: u32,
    pub entries: Vec<(NaiveDate, u32)>,
    pub closed: NaiveDate,
    pub booked: f64,
}

/// The [`WonDeals`] of `stage_events` and `outcomes` known on
/// `spec.as_of` (a deal without stage entries is left out).
pub(crate) fn won_deals(
    stage_events: LazyFrame,
    outcomes: LazyFrame,
    spec: &ForecastSpec,
) -> Result<WonDeals, ForecastError> {
    let as_of = lit(spec.as_of).cast(DataType::Date);
    let won = decided(outcomes, spec, spec.as_of)?
        .filter(col(IS_WON))
        .select([
            col(col::OPPORTUNITY_ID),
            col(col::TEAM).cast(DataType::String),
            col(col::CLOSED).cast(DataType::Date),
            col(REALISED),
        ]);
    let frame = stage_events
        .select([
            col(col::OPPORTUNITY_ID),
            col(col::STAGE).cast(DataType::String),
            col(col::AT).cast(DataType::Date),
        ])
        .filter(col(col::AT).lt_eq(as_of))
        .join(
            won,
            [col(col::OPPORTUNITY_ID)],
            [col(col::OPPORTUNITY_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        // By deal and day: the same history gives the same deals in the
        // same order, so the same figures to the bit.
        .sort(
            [col::OPPORTUNITY_ID, col::AT, col::STAGE],
            SortMultipleOptions::default(),
        )
        .collect()?;
    let ids = frame.column(col::OPPORTUNITY_ID)?.str()?;
    let teams = frame.column(col::TEAM)?.str()?;
    let stages = frame.column(col::STAGE)?.str()?;
    let days = frame.column(col::AT)?.date()?;
    let closed = frame.column(col::CLOSED)?.date()?;
    let booked = frame.column(REALISED)?.f64()?;
    let mut out = WonDeals {
        teams: Vec::new(),
        stages: Vec::new(),
        deals: Vec::new(),
    };
    let mut team_of: HashMap<&str, u32> = HashMap::new();
    let mut stage_of: HashMap<&str, u32> = HashMap::new();
    let position = |names: &mut Vec<String>, of: &mut HashMap<_, u32>, name| {
        *of.entry(name).or_insert_with(|| {
            names.push(String::from(name));
            (names.len() - 1) as u32
        })
    };
    let mut last: Option<&str> = None;
    for i in 0..frame.height() {
        let (Some(id), Some(team), Some(stage), Some(day), Some(closed), Some(booked)) = (
            ids.get(i),
            teams.get(i),
            stages.get(i),
            days.physical()
                .get(i)
                .map(quotecast_pipeline::from_epoch_days),
            closed
                .physical()
                .get(i)
                .map(quotecast_pipeline::from_epoch_days),
            booked.get(i),
        ) else {
            continue;
        };
        let stage = position(&mut out.stages, &mut stage_of, stage);
        if last != Some(id) {
            let team = position(&mut out.teams, &mut team_of, team);
            out.deals.push(WonDeal {
                team,
                entries: Vec::new(),
                closed,
                booked,
            });
            last = Some(id);
        }
        if let Some(deal) = out.deals.last_mut() {
            deal.entries.push((day, stage));
        }
    }
    Ok(out)
}

/// A won deal as the grid reads it: its team, the day it entered its
/// first stage, the day it closed and what it booked.
struct Won {
    team: usize,
    created: NaiveDate,
    closed: NaiveDate,
    booked: f64,
}

/// What deals not yet in the pipeline booked per team and horizon after
/// the days of a weekly grid back from `spec.as_of` to the day the
/// earliest won deal entered its first stage (the table of
/// [`Tally::table`]), with the number of days used. None when no day of
/// the grid saw a bucket end or nothing was won.
pub(crate) fn learn_from_stage_entries(
    won: &WonDeals,
    spec: &ForecastSpec,
) -> Result<Option<(DataFrame, usize)>, ForecastError> {
    // In close order (stable: ties stay in id order).
    let mut deals: Vec<Won> = won
        .deals
        .iter()
        .filter_map(|d| {
            Some(Won {
                team: d.team as usize,
                created: d.entries.first()?.0,
                closed: d.closed,
                booked: d.booked,
            })
        })
        .collect();
    deals.sort_by_key(|w| w.closed);
    let Some(first) = deals.iter().map(|w| w.created).min() else {
        return Ok(None);
    };
    let mut tally = Tally::default();
    let mut days = 0;
    let mut day = spec.as_of;
    while let Some(earlier) = day.checked_sub_days(chrono::Days::new(GRID_DAYS)) {
        day = earlier;
        if day < first {
            break;
        }
        let complete = complete_horizons(spec.bucket, spec.fiscal_year, day, spec.as_of);
        if complete == 0 {
            continue;
        }
        add_day(&mut tally, &won.teams, &deals, spec, day, complete);
        days += 1;
    }
    if days == 0 {
        return Ok(None);
    }
    Ok(Some((tally.table()?, days)))
}

/// Adds one day of the grid to `tally`: of the deals won after `day` in
/// the `complete` buckets from the one holding it, per team and horizon,
/// what all booked and what those already in the pipeline booked.
fn add_day(
    tally: &mut Tally,
    teams: &[String],
    won: &[Won],
    spec: &ForecastSpec,
    day: NaiveDate,
    complete: i32,
) {
    let mut ends = Vec::with_capacity(complete as usize);
    let mut end = spec.bucket.next(spec.bucket_start(day));
    for _ in 0..complete {
        ends.push(end);
        end = spec.bucket.next(end);
    }
    // Per team and horizon: [in the pipeline on the day, all].
    let mut sums = vec![[0.0f64; 2]; teams.len() * ends.len()];
    let from = won.partition_point(|w| w.closed <= day);
    // Deals come in close order: the horizon only moves on.
    let mut horizon = 0;
    for w in &won[from..] {
        while horizon < ends.len() && w.closed >= ends[horizon] {
            horizon += 1;
        }
        if horizon == ends.len() {
            break;
        }
        let cell = &mut sums[w.team * ends.len() + horizon];
        cell[1] += w.booked;
        if w.created <= day {
            cell[0] += w.booked;
        }
    }
    for (team, name) in teams.iter().enumerate() {
        for h in 0..ends.len() {
            let [open, all] = sums[team * ends.len() + h];
            if all > 0.0 {
                tally.add_open(name, h as i32, open);
                tally.add_booked(name, h as i32, all);
            }
        }
    }
    tally.end_snapshot(
        spec.bucket_start(day),
        snapshot_weight(spec.bucket, spec.fiscal_year, day, spec.as_of),
        complete,
        &std::collections::BTreeMap::new(),
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{
        Bucket,
        columns::{COMPANY, HORIZON},
        pipeline_share::{NOT_YET_IN_PIPELINE, PIPELINE_SHARE},
    };

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap()
    }

    #[test]
    fn a_deal_is_new_on_a_day_before_it_entered_its_first_stage() {
        let as_of = day(7, 1);
        let spec = crate::rules_spec(&crate::test_common::rules(), as_of, Bucket::Quarter);
        let teams = vec!["a".to_owned(), "b".to_owned()];
        let won = |team, created, closed, booked| Won {
            team,
            created,
            closed,
            booked,
        };
        // In close order, as the frame is sorted.
        let deals = [
            // Closed before the day: not counted.
            won(1, day(2, 1), day(2, 5), 500.0),
            // In the pipeline on the day, booked in its quarter.
            won(0, day(1, 5), day(3, 1), 100.0),
            // Created after the day, booked in the same quarter.
            won(0, day(2, 20), day(3, 15), 40.0),
            // Created after the day, booked in the next quarter.
            won(0, day(3, 1), day(5, 1), 70.0),
            // Closed in a quarter not ended by the forecast date.
            won(1, day(2, 11), day(8, 1), 30.0),
        ];
        let on = day(2, 10);
        let complete = complete_horizons(spec.bucket, spec.fiscal_year, on, as_of);
        assert_eq!(complete, 2);
        let mut tally = Tally::default();
        add_day(&mut tally, &teams, &deals, &spec, on, complete);
        let table = tally.table().unwrap();
        let figure = |column: &str, team: &str, horizon: i32| -> Option<f64> {
            let t = table.column(col::TEAM).unwrap().str().unwrap();
            let h = table.column(HORIZON).unwrap().i32().unwrap();
            let v = table.column(column).unwrap().f64().unwrap();
            (0..table.height())
                .find(|&i| t.get(i) == Some(team) && h.get(i) == Some(horizon))
                .and_then(|i| v.get(i))
        };
        assert_eq!(figure(NOT_YET_IN_PIPELINE, "a", 0), Some(40.0));
        assert_eq!(figure(NOT_YET_IN_PIPELINE, "a", 1), Some(70.0));
        assert_eq!(figure(NOT_YET_IN_PIPELINE, COMPANY, 0), Some(40.0));
        let share = figure(PIPELINE_SHARE, "a", 0).unwrap();
        assert!((share - 100.0 / 140.0).abs() < 1e-4, "{share}");
        // Team b won nothing counted on that day.
        assert_eq!(figure(NOT_YET_IN_PIPELINE, "b", 0), None);
    }
}
