//! Where won deals bunch at quarter ends. A company that pushes deals to
//! its quarters' ends closes more of its wins in their last days, and its
//! quarters are those of its fiscal year, which the rules may not give
//! (calendar quarters unless `fiscal_year_start` is set). Of the three
//! ways to cut a year into quarters (starting in January, February or
//! March, and every three months after), the one whose quarters' last
//! [`PUSH_DAYS`] days hold the largest share of the history's wins is
//! taken when that share is at least [`PUSH_MARGIN`] times the rules'
//! quarters' share; the slippage's quarter-end anchor then counts from its
//! ends. Without a push every cut holds about a sixth of the wins there
//! and the rules' quarters stay.
//!
//! With a push, where in its quarter a snapshot stands decides when the
//! deals it shows close: a deal seen in a quarter's first days and decided
//! within two weeks books then, one seen in its middle weeks waits for its
//! end. So with wins bunched at quarter ends at least [`PUSHED`] times as
//! much as even closing would put there, the slippage learns from the past
//! snapshots within [`PLACE_DAYS`] days of the forecast date's place in
//! its quarter ([`near_in_quarter`]), and the calendar of week and month
//! buckets counts past snapshots by their place in the quarter rather
//! than in their bucket ([`places`]). On the other company's histories
//! (`benches/baseline/other_company.py`, 44 % of wins in their quarters'
//! last 14 days) forecast by month, the current month's WAPE went 0.49 to
//! 0.27, 0.44 to 0.27 and 0.37 to 0.18 (seeds 1 to 3), its P10–P90
//! coverage 0.66, 0.70, 0.64 to 0.83, 0.83, 0.74; on `gen-pipeline`'s
//! (about 15 % and 18 %) nothing changes, where the narrower learning
//! only lost to noise (the README gives the backtests).
use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_model::FiscalYear;
use quotecast_pipeline::columns as col;

use crate::{Bucket, ForecastError, columns::IS_WON, correction::QuarterEnds, frames::date_list};

/// The last days of a quarter a push fills.
pub const PUSH_DAYS: i64 = 14;
/// How many times the rules' quarters' share of wins in their last days
/// another cut of the year must hold to be taken instead.
pub const PUSH_MARGIN: f64 = 1.25;
const WINS: &str = "__wins";
/// Wins bunch at quarter ends (a push) when the last [`PUSH_DAYS`] days
/// of quarters hold at least this many times the share of a quarter's
/// days they are (about 0.15): 0.31 and more.
pub const PUSHED: f64 = 2.0;
/// With a push, the slippage learns from past snapshots within this many
/// days of the forecast date's place in its quarter: three weeks, so
/// snapshots every two or four weeks leave one or two a quarter. 14 and
/// 35 days forecast by month about as well on the other company's
/// histories; 21 balanced its current and next quarter.
pub const PLACE_DAYS: u32 = 21;
/// A quarter's days on average.
const QUARTER_DAYS: f64 = 365.25 / 4.0;

/// The quarters the `known` outcomes' wins (`closed`, [`IS_WON`]) bunch
/// at the ends of, against the `rules`' fiscal year.
pub(crate) fn bunching(known: LazyFrame, rules: FiscalYear) -> Result<QuarterEnds, ForecastError> {
    let per_day = known
        .filter(col(IS_WON))
        .group_by([col(col::CLOSED)])
        .agg([len().cast(DataType::Float64).alias(WINS)])
        .collect()?;
    let days = per_day.column(col::CLOSED)?.date()?.phys.clone();
    let wins = per_day.column(WINS)?.f64()?.clone();
    let closes: Vec<(NaiveDate, f64)> = days
        .iter()
        .zip(wins.iter())
        .filter_map(|(d, n)| Some((quotecast_pipeline::from_epoch_days(d?), n?)))
        .collect();
    Ok(choose(&closes, rules))
}

/// The share of `closes` (day, wins) in the last [`PUSH_DAYS`] days of
/// `year`'s quarters.
fn share_at_ends(closes: &[(NaiveDate, f64)], year: FiscalYear) -> f64 {
    let (mut at_end, mut all) = (0.0, 0.0);
    for &(day, wins) in closes {
        let end = Bucket::Quarter.next(Bucket::Quarter.start_of(day, year));
        if (end - day).num_days() <= PUSH_DAYS {
            at_end += wins;
        }
        all += wins;
    }
    if all > 0.0 { at_end / all } else { 0.0 }
}

fn choose(closes: &[(NaiveDate, f64)], rules: FiscalYear) -> QuarterEnds {
    let rules_share = share_at_ends(closes, rules);
    let mut best = QuarterEnds {
        year: rules,
        share: rules_share,
        rules_share,
        slippage_place_days: None,
    };
    for month in 1..=3 {
        let Some(year) = FiscalYear::starting(month) else {
            continue;
        };
        let share = share_at_ends(closes, year);
        if share > best.share && share >= PUSH_MARGIN * rules_share {
            best = QuarterEnds {
                year,
                share,
                rules_share,
                slippage_place_days: None,
            };
        }
    }
    best
}

/// Whether the history's wins bunch at `found`'s quarter ends: at least
/// [`PUSHED`] times the share of a quarter's days its last [`PUSH_DAYS`]
/// days are.
pub(crate) fn pushed(found: &QuarterEnds) -> bool {
    found.share >= PUSHED * PUSH_DAYS as f64 / QUARTER_DAYS
}

/// Whether a snapshot taken on `day` stood within `days` of `as_of`'s
/// place in its quarter of `year` (days from the quarter's first day; a
/// snapshot near a quarter's end is not near the next one's start, where
/// deals decided book at once).
pub(crate) fn near_in_quarter(
    day: NaiveDate,
    as_of: NaiveDate,
    year: FiscalYear,
    days: u32,
) -> bool {
    let place = |d| Bucket::Quarter.days_into(d, year);
    (place(day) - place(as_of)).abs() <= i64::from(days)
}

/// The won deals of past snapshots (their day in `snapshot_day`, one of
/// `snapshot_days`) the slippage learns from: with a push, those of the
/// snapshots within
/// `place_days` of `as_of`'s place in its quarter,
/// unless fewer than `enough` are (then every one, as without a push);
/// and the days it kept them within, for
/// [`QuarterEnds::slippage_place_days`].
pub(crate) fn slippage_learns_from(
    won: LazyFrame,
    (snapshot_day, snapshot_days): (Expr, &[NaiveDate]),
    found: &QuarterEnds,
    (as_of, place_days): (NaiveDate, Option<u32>),
    enough: u64,
) -> Result<(LazyFrame, Option<u32>), ForecastError> {
    let Some(days) = place_days.filter(|_| pushed(found)) else {
        return Ok((won, None));
    };
    let near_days: Vec<NaiveDate> = snapshot_days
        .iter()
        .copied()
        .filter(|d| near_in_quarter(*d, as_of, found.year, days))
        .collect();
    let near = won
        .clone()
        .filter(snapshot_day.is_in(date_list(&near_days), false));
    let counted = near.clone().select([len().alias(WINS)]).collect()?;
    let kept = counted.column(WINS)?.u32()?.get(0).unwrap_or(0);
    if u64::from(kept) < enough {
        return Ok((won, None));
    }
    Ok((near, Some(days)))
}

/// The bucket and fiscal year a past snapshot's place is measured in for
/// the calendar of a forecast by `bucket` in the rules' `year`: in its
/// quarter of the push's year when wins bunch at quarter ends (`found`,
/// see [`pushed`]) and the buckets are weeks or months, else in its
/// bucket.
pub(crate) fn places(
    bucket: Bucket,
    year: FiscalYear,
    found: Option<&QuarterEnds>,
) -> (Bucket, FiscalYear) {
    match found {
        Some(found) if pushed(found) && bucket != Bucket::Quarter => (Bucket::Quarter, found.year),
        _ => (bucket, year),
    }
}

/// The months `year`'s quarters start in (`February, May, August and
/// November`).
pub(crate) fn quarter_months(year: FiscalYear) -> String {
    let names: Vec<String> = (0..4)
        .map(|k| {
            let name = FiscalYear::MONTHS[((year.first_month0() + 3 * k) % 12) as usize];
            let mut letters = name.chars();
            letters
                .next()
                .map(|c| c.to_uppercase().chain(letters).collect())
                .unwrap_or_default()
        })
        .collect();
    format!("{}, {}, {} and {}", names[0], names[1], names[2], names[3])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// One win a day for two years, and `pushed` more on each of the
    /// last five days of every quarter of `year`.
    fn closes(year: FiscalYear, pushed: f64) -> Vec<(NaiveDate, f64)> {
        date(2025, 1, 1)
            .iter_days()
            .take_while(|d| *d < date(2027, 1, 1))
            .map(|d| {
                let end = Bucket::Quarter.next(Bucket::Quarter.start_of(d, year));
                let last_days = (end - d).num_days() <= 5;
                (d, if last_days { 1.0 + pushed } else { 1.0 })
            })
            .collect()
    }

    #[test]
    fn a_push_at_february_years_quarter_ends_is_found_with_calendar_rules() {
        let february = FiscalYear::parse("february").unwrap();
        let found = choose(&closes(february, 3.0), FiscalYear::CALENDAR);
        assert_eq!(found.year.first_month0(), 1);
        assert!(found.share > 1.5 * found.rules_share, "{found:?}");
        // Rules already right: kept, a November start being the same cut.
        let november = FiscalYear::parse("november").unwrap();
        assert_eq!(choose(&closes(february, 3.0), november).year, november);
    }

    #[test]
    fn without_a_push_the_rules_quarters_stay() {
        let found = choose(&closes(FiscalYear::CALENDAR, 0.0), FiscalYear::CALENDAR);
        assert_eq!(found.year, FiscalYear::CALENDAR);
        assert!((found.share - 14.0 / 91.3).abs() < 0.005, "{found:?}");
        let march = FiscalYear::parse("march").unwrap();
        assert_eq!(choose(&closes(march, 0.0), march).year, march);
        assert_eq!(choose(&[], march).year, march);
    }

    #[test]
    fn a_push_is_wins_bunched_at_twice_the_even_share() {
        let found = |share| QuarterEnds {
            year: FiscalYear::CALENDAR,
            share,
            rules_share: share,
            slippage_place_days: None,
        };
        assert!(!pushed(&found(14.0 / 91.3)), "even closing");
        assert!(!pushed(&found(0.19)), "gen-pipeline's shifting company");
        assert!(pushed(&found(0.45)), "the other company's push");
    }

    /// The days of `days` near `as_of`'s place in its quarter of `year`.
    fn near(days: &[NaiveDate], as_of: NaiveDate, year: FiscalYear) -> Vec<NaiveDate> {
        days.iter()
            .copied()
            .filter(|d| near_in_quarter(*d, as_of, year, 21))
            .collect()
    }

    #[test]
    fn snapshots_near_in_their_quarter_are_days_from_its_start_apart() {
        let days = [
            date(2025, 1, 2),
            date(2025, 1, 30),
            date(2025, 3, 29),
            date(2025, 4, 20),
            date(2025, 5, 20),
            date(2025, 12, 30),
        ];
        // The 5th of July is day 4 of its quarter: days 0 to 25 are near;
        // the last days of a quarter are not, though a few days off.
        assert_eq!(
            near(&days, date(2026, 7, 5), FiscalYear::CALENDAR),
            vec![date(2025, 1, 2), date(2025, 4, 20)]
        );
        // In a fiscal year starting in February the 25th of October is
        // day 85 of its quarter: the 30th of January (day 90) and the
        // 20th of April (day 78) are near, the 2nd of January (day 62)
        // and the 30th of December (day 59) are not.
        let february = FiscalYear::parse("february").unwrap();
        assert_eq!(
            near(&days, date(2026, 10, 25), february),
            vec![date(2025, 1, 30), date(2025, 4, 20)]
        );
    }

    #[test]
    fn the_slippage_keeps_every_snapshot_without_a_push_or_enough_near() {
        let days = [date(2025, 1, 2), date(2025, 2, 20), date(2025, 4, 3)];
        let frame = df!("day" => days).unwrap();
        let pushed_found = QuarterEnds {
            year: FiscalYear::CALENDAR,
            share: 0.45,
            rules_share: 0.45,
            slippage_place_days: None,
        };
        let kept = |found: &QuarterEnds, place_days, enough| {
            let (won, days) = slippage_learns_from(
                frame.clone().lazy(),
                (col("day"), &days[..]),
                found,
                (date(2026, 7, 5), place_days),
                enough,
            )
            .unwrap();
            (won.collect().unwrap().height(), days)
        };
        assert_eq!(kept(&pushed_found, Some(21), 2), (2, Some(21)));
        assert_eq!(kept(&pushed_found, Some(21), 3), (3, None), "too few near");
        assert_eq!(kept(&pushed_found, None, 1), (3, None), "not asked");
        let even = QuarterEnds {
            share: 0.15,
            ..pushed_found
        };
        assert_eq!(kept(&even, Some(21), 1), (3, None), "no push");
    }

    #[test]
    fn week_and_month_calendars_place_snapshots_in_the_pushed_quarters() {
        let february = FiscalYear::parse("february").unwrap();
        let found = QuarterEnds {
            year: february,
            share: 0.45,
            rules_share: 0.2,
            slippage_place_days: Some(21),
        };
        let calendar = FiscalYear::CALENDAR;
        assert_eq!(
            places(Bucket::Month, calendar, Some(&found)),
            (Bucket::Quarter, february)
        );
        assert_eq!(
            places(Bucket::Week, calendar, Some(&found)),
            (Bucket::Quarter, february)
        );
        assert_eq!(
            places(Bucket::Quarter, calendar, Some(&found)),
            (Bucket::Quarter, calendar),
            "quarter buckets keep their own quarters"
        );
        let even = QuarterEnds {
            share: 0.15,
            ..found
        };
        assert_eq!(
            places(Bucket::Month, calendar, Some(&even)),
            (Bucket::Month, calendar)
        );
        assert_eq!(
            places(Bucket::Month, calendar, None),
            (Bucket::Month, calendar)
        );
    }

    #[test]
    fn quarters_are_named_by_their_first_months() {
        let february = FiscalYear::parse("february").unwrap();
        assert_eq!(
            quarter_months(february),
            "February, May, August and November"
        );
        assert_eq!(
            quarter_months(FiscalYear::starting(12).unwrap()),
            "December, March, June and September"
        );
    }
}
