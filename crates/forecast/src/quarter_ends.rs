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
use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_model::FiscalYear;
use quotecast_pipeline::columns as col;

use crate::{Bucket, ForecastError, columns::IS_WON, correction::QuarterEnds};

/// The last days of a quarter a push fills.
pub const PUSH_DAYS: i64 = 14;
/// How many times the rules' quarters' share of wins in their last days
/// another cut of the year must hold to be taken instead.
pub const PUSH_MARGIN: f64 = 1.25;
const WINS: &str = "__wins";

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
            };
        }
    }
    best
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
