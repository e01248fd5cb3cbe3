//! When open deals close, for a forecast without a correction. Without
//! past snapshots nothing says how the owners' stated close dates turn
//! out, and they can be far off (on one day each of the generated and
//! the other company's histories, the stated dates put 52 % and 3 % of
//! what the open deals went on to win in the current quarter, where 26 %
//! and 31 % closed there). The stage history says it without them:
//! on past days a week apart, every deal open that day that was won
//! later, in the stage it was in then, took so many days to close. Per
//! stage (and over all stages) those leads are summarised by the
//! slippage's percentile points counted from the forecast date (see
//! [`crate::slippage`]), and the forecast spreads each open deal over
//! its stage's points instead of putting it at its stated close. Days
//! are weighted by age as snapshots are; only days at least
//! [`MATURITY_DAYS`] old count, so that slow deals had time to close. A
//! history with no such day takes days at least [`YOUNG_MATURITY_DAYS`]
//! old, each lead weighted by the inverse of the share of those days old
//! enough to have shown it (the leads are right-truncated by each day's
//! age): leads longer than its oldest day are not seen.
use std::collections::BTreeMap;

use polars::prelude::*;
use quotecast_pipeline::columns as col;

use crate::{
    ForecastError, ForecastSpec,
    columns::{COMPANY, POINT, SHIFT_DAYS, SLIP_POINTS},
    first_seen::{GRID_DAYS, WonDeals},
    slippage::{ANY_STAGE, MIN_SLIP_OBSERVATIONS},
    snapshot_weights::recency_weight,
};

/// A day of the grid counts once its won deals had this long to close.
pub const MATURITY_DAYS: u64 = 365;
/// In a history with no day [`MATURITY_DAYS`] old: days at least this old
/// count, each lead weighted up by the share of those days old enough to
/// have shown it (a lead of 90 days cannot be seen from a day 60 days
/// old).
pub const YOUNG_MATURITY_DAYS: u64 = 56;

/// The slippage points (team `*`, per stage and over all stages) of the
/// days the `won` deals took to close from past days a week apart; None
/// when no day is old enough or fewer than [`MIN_SLIP_OBSERVATIONS`]
/// leads were seen.
pub(crate) fn learn_timing(
    won: &WonDeals,
    spec: &ForecastSpec,
) -> Result<Option<DataFrame>, ForecastError> {
    let Some(first) = won
        .deals
        .iter()
        .filter_map(|w| w.entries.first())
        .map(|e| e.0)
        .min()
    else {
        return Ok(None);
    };
    // The grid's days, newest first, with their age.
    let mut days = Vec::new();
    let mut day = spec.as_of;
    while let Some(earlier) = day.checked_sub_days(chrono::Days::new(GRID_DAYS)) {
        day = earlier;
        if day < first {
            break;
        }
        days.push((day, (spec.as_of - day).num_days()));
    }
    let young = days.iter().all(|&(_, age)| age < MATURITY_DAYS as i64);
    let oldest_enough = if young {
        YOUNG_MATURITY_DAYS
    } else {
        MATURITY_DAYS
    } as i64;
    days.retain(|&(_, age)| age >= oldest_enough);
    // The share of the days' weight on days at least a lead old: days by
    // age, oldest first (the grid runs newest first), with the weight of
    // each and all older ones.
    let mut older: Vec<(i64, f64)> = days
        .iter()
        .rev()
        .map(|&(day, age)| (age, recency_weight(day, spec.as_of)))
        .collect();
    let mut sum = 0.0;
    for w in &mut older {
        sum += w.1;
        w.1 = sum;
    }
    let coverage = |lead: i64| -> f64 {
        if !young || sum <= 0.0 {
            return 1.0;
        }
        // The last day (youngest) still at least `lead` old.
        let at = older.partition_point(|w| w.0 >= lead);
        at.checked_sub(1).map_or(0.0, |i| older[i].1 / sum)
    };
    // Per stage: (lead in days, weight) of every won deal open on a day.
    let mut leads: Vec<Vec<(i64, f64)>> = vec![Vec::new(); won.stages.len()];
    for &(day, _) in &days {
        let weight = recency_weight(day, spec.as_of);
        for w in &won.deals {
            if w.closed <= day {
                continue;
            }
            let entered = w.entries.partition_point(|e| e.0 <= day);
            if let Some(&(_, stage)) = entered.checked_sub(1).and_then(|i| w.entries.get(i)) {
                let lead = (w.closed - day).num_days();
                let seen = coverage(lead);
                if seen > 0.0 {
                    leads[stage as usize].push((lead, weight / seen));
                }
            }
        }
    }
    points(&won.stages, leads)
}

/// The weighted `q` quantile of `values` sorted by value.
fn quantile(values: &[(i64, f64)], total: f64, q: f64) -> i64 {
    let mut seen = 0.0;
    for &(v, w) in values {
        seen += w;
        if seen >= q * total {
            return v;
        }
    }
    values.last().map_or(0, |v| v.0)
}

/// The points table of each stage's leads (and all stages' as `*`), in
/// the slippage's layout.
fn points(
    stages: &[String],
    leads: Vec<Vec<(i64, f64)>>,
) -> Result<Option<DataFrame>, ForecastError> {
    let mut all: Vec<(i64, f64)> = leads.iter().flatten().copied().collect();
    let mut levels: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for (stage, observed) in stages.iter().zip(leads) {
        if observed.len() as u64 >= MIN_SLIP_OBSERVATIONS {
            levels.insert(stage.clone(), observed);
        }
    }
    if (all.len() as u64) < MIN_SLIP_OBSERVATIONS {
        return Ok(None);
    }
    all.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let (mut stage_col, mut point_col, mut shift_col) = (Vec::new(), Vec::new(), Vec::new());
    let mut add = |stage: &str, observed: &[(i64, f64)]| {
        let total: f64 = observed.iter().map(|o| o.1).sum();
        for k in 0..SLIP_POINTS {
            let q = (f64::from(k) + 0.5) / f64::from(SLIP_POINTS);
            stage_col.push(stage.to_owned());
            point_col.push(k);
            shift_col.push(quantile(observed, total, q));
        }
    };
    add(ANY_STAGE, &all);
    for (stage, mut observed) in levels {
        observed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        add(&stage, &observed);
    }
    let n = stage_col.len();
    Ok(Some(DataFrame::new(
        n,
        vec![
            Column::new(col::TEAM.into(), vec![COMPANY; n]),
            Column::new(col::STAGE.into(), stage_col),
            Column::new(POINT.into(), point_col),
            Column::new(SHIFT_DAYS.into(), shift_col),
        ],
    )?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::Bucket;

    fn day(d: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::TimeDelta::days(d)
    }

    /// 200 deals, one every 3 days from `day(0)`: each enters `qualify`,
    /// then `propose` 50 days later; the even ones close won 10 days
    /// after that, the odd ones lost in `qualify` after 20.
    fn history() -> (LazyFrame, LazyFrame) {
        let (mut ids, mut stages, mut ats) = (Vec::new(), Vec::new(), Vec::new());
        let (mut out_ids, mut outcomes, mut closes) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..200i64 {
            let id = format!("O-{i:03}");
            let start = day(3 * i);
            ids.extend([id.clone(), id.clone()]);
            stages.extend(["qualify", "propose"]);
            ats.extend([start, start + chrono::TimeDelta::days(50)]);
            out_ids.push(id);
            let won = i % 2 == 0;
            outcomes.push(if won { "won" } else { "lost" });
            closes.push(start + chrono::TimeDelta::days(if won { 60 } else { 20 }));
        }
        let stage_events = df!(
            col::OPPORTUNITY_ID => ids,
            col::STAGE => stages,
            col::AT => ats,
        )
        .unwrap()
        .lazy();
        let n = out_ids.len();
        let outcomes = df!(
            col::OPPORTUNITY_ID => out_ids,
            col::TEAM => vec!["east"; n],
            col::OUTCOME => outcomes,
            col::CLOSED => closes,
            col::CURRENCY => vec!["USD"; n],
            col::AMOUNT => vec![100.0; n],
        )
        .unwrap()
        .lazy();
        (stage_events, outcomes)
    }

    fn shifts_of(points: &DataFrame, stage: &str) -> Vec<i64> {
        let stages = points.column(col::STAGE).unwrap().str().unwrap();
        let shifts = points.column(SHIFT_DAYS).unwrap().i64().unwrap();
        (0..points.height())
            .filter(|&i| stages.get(i) == Some(stage))
            .filter_map(|i| shifts.get(i))
            .collect()
    }

    #[test]
    fn a_history_younger_than_a_year_times_from_days_eight_weeks_old() {
        let (stage_events, outcomes) = history();
        // 250 days of history: no day a year old.
        let spec = crate::rules_spec(&crate::test_common::rules(), day(250), Bucket::Quarter);
        let won = crate::first_seen::won_deals(stage_events, outcomes, &spec).unwrap();
        let points = learn_timing(&won, &spec).unwrap().expect("young timing");
        let propose = shifts_of(&points, "propose");
        assert!(propose.iter().all(|d| (1..=10).contains(d)), "{propose:?}");
        let qualify = shifts_of(&points, "qualify");
        assert!(qualify.iter().all(|d| (11..=60).contains(d)), "{qualify:?}");
        // Uniform over 11 to 60 days: the median near 35, as a history of
        // any age shows it (long leads weighted up for the days too young
        // to have shown them).
        assert!((30..=40).contains(&qualify[5]), "{qualify:?}");
    }

    #[test]
    fn open_deals_close_after_the_days_won_deals_in_their_stage_took() {
        let (stage_events, outcomes) = history();
        let spec = crate::rules_spec(&crate::test_common::rules(), day(1200), Bucket::Quarter);
        let won = crate::first_seen::won_deals(stage_events, outcomes, &spec).unwrap();
        let points = learn_timing(&won, &spec).unwrap().unwrap();
        let shifts = |stage: &str| shifts_of(&points, stage);
        // Seen in `propose`, a won deal had 1 to 10 days to go; in
        // `qualify`, 11 to 60; the lost ones teach nothing.
        let propose = shifts("propose");
        assert_eq!(propose.len(), SLIP_POINTS as usize);
        assert!(propose.iter().all(|d| (1..=10).contains(d)), "{propose:?}");
        let qualify = shifts("qualify");
        assert!(qualify.iter().all(|d| (11..=60).contains(d)), "{qualify:?}");
        assert!(qualify.windows(2).all(|w| w[0] <= w[1]), "{qualify:?}");
        // All stages together, the fallback.
        assert_eq!(shifts(ANY_STAGE).len(), SLIP_POINTS as usize);
    }
}
