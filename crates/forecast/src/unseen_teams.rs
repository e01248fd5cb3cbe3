//! Teams of today's pipeline whose new deals the history does not show:
//! a team formed or renamed since the past snapshots, or too young for a
//! bucket after one of its snapshots to have ended. Left alone its
//! `new_deals` would be nothing, and most of a team's next quarter is
//! booked by deals not yet created: renamed from `east`, the other
//! company's east team lost three quarters of its next-quarter forecast.
//!
//! Such a team borrows, per horizon it lacks, what the median team the
//! history shows there books in new deals per unit of its open pipeline
//! (the calendar's, or the stage entries', not_yet_in_pipeline over the
//! team's open value today: stated amounts in the reporting currency),
//! times its own open value, to the cent, with the median team's spread
//! relative to that. The median, not the company's pooled ratio: a
//! renewals team with a large flow of new deals and a small pipeline
//! would lift every new team (on the other company's history the pooled
//! ratio gave the renamed east team twice its own new deals). The borrowed rows
//! leave the history's other figures empty (the company's calendar
//! factor applies to the team), and a note names the teams and what
//! they borrowed.
use std::collections::BTreeMap;

use polars::prelude::*;
use quotecast_pipeline::columns as col;

use crate::{
    ForecastError, ForecastSpec,
    columns::{COMPANY, HORIZON, IS_OPEN, VALUE},
    frames::fixed_sum,
    pipeline_share::{NOT_YET_IN_PIPELINE, NOT_YET_IN_PIPELINE_SD},
    prepare::prepared,
};

/// A borrowed row: team, horizon, mean and spread.
type Borrowed = (String, i32, f64, f64);

/// Adds the borrowed new deals of the teams of `snapshot` the learned
/// new-deal table of `spec` lacks (see the module); the note that says
/// so, if any team borrowed.
pub(crate) fn borrow_new_deals(
    snapshot: Option<&LazyFrame>,
    spec: &mut ForecastSpec,
) -> Result<Option<String>, ForecastError> {
    let Some(snapshot) = snapshot else {
        return Ok(None);
    };
    let has_table = match &spec.correction {
        Some(c) => c.calendar.height() > 0,
        None => spec.new_deal_history.is_some(),
    };
    if !has_table {
        return Ok(None);
    }
    let open = open_value_by_team(snapshot.clone(), spec)?;
    let table = match &mut spec.correction {
        Some(c) => &mut c.calendar,
        None => match &mut spec.new_deal_history {
            Some(table) => table,
            None => return Ok(None),
        },
    };
    let borrowed = borrowed_rows(table, &open)?;
    if borrowed.is_empty() {
        return Ok(None);
    }
    *table = with_rows(table, &borrowed)?;
    Ok(Some(note(&borrowed, &open, spec)))
}

/// Per team, the value of its open lines in `snapshot` (reporting
/// currency), teams with none left out.
fn open_value_by_team(
    snapshot: LazyFrame,
    spec: &ForecastSpec,
) -> Result<BTreeMap<String, f64>, ForecastError> {
    let (lines, _) = prepared(snapshot, spec)?;
    let frame = lines
        .filter(col(IS_OPEN).and(col(col::TEAM).is_not_null()))
        .group_by([col(col::TEAM)])
        .agg([fixed_sum(col(VALUE)).alias(VALUE)])
        .collect()?;
    let teams = frame.column(col::TEAM)?.str()?;
    let values = frame.column(VALUE)?.f64()?;
    Ok(teams
        .iter()
        .zip(values.iter())
        .filter_map(|(t, v)| Some((t?.to_owned(), v.filter(|v| *v > 0.0)?)))
        .collect())
}

/// The rows the teams of `open` borrow: per horizon the company's table
/// has new deals for, each team the table does not show that far gets
/// its open value times the median, over today's teams it shows there,
/// of their new deals per unit of open value, and the median of their
/// spreads relative to their new deals; the company's figures over all
/// of today's open value where it shows none of them.
fn borrowed_rows(
    table: &DataFrame,
    open: &BTreeMap<String, f64>,
) -> Result<Vec<Borrowed>, ForecastError> {
    let teams = table.column(col::TEAM)?.str()?;
    let horizons = table.column(HORIZON)?.i32()?;
    let means = table.column(NOT_YET_IN_PIPELINE)?.f64()?;
    let sds = table.column(NOT_YET_IN_PIPELINE_SD)?.f64()?;
    // Per team and horizon its new deals' mean and spread, and per team
    // its furthest horizon: a team is shown up to it (a gap before it is
    // a horizon it booked nothing in).
    let mut figures: BTreeMap<(&str, i32), (f64, f64)> = BTreeMap::new();
    let mut furthest: BTreeMap<&str, i32> = BTreeMap::new();
    for row in 0..table.height() {
        let (Some(team), Some(h)) = (teams.get(row), horizons.get(row)) else {
            continue;
        };
        let (mean, sd) = (means.get(row).unwrap_or(0.0), sds.get(row).unwrap_or(0.0));
        figures.insert((team, h), (mean, sd));
        if team != COMPANY {
            let last = furthest.entry(team).or_insert(h);
            *last = (*last).max(h);
        }
    }
    let shown = |team: &str, h: i32| furthest.get(team).is_some_and(|last| *last >= h);
    let total: f64 = open.values().sum();
    let mut borrowed = Vec::new();
    for (&(team, h), &(company_mean, company_sd)) in &figures {
        if team != COMPANY || company_mean <= 0.0 {
            continue;
        }
        let (mut per_value, mut relative) = (Vec::new(), Vec::new());
        for (team, value) in open.iter().filter(|(team, _)| shown(team, h)) {
            let (mean, sd) = figures
                .get(&(team.as_str(), h))
                .copied()
                .unwrap_or_default();
            per_value.push(mean / value);
            if mean > 0.0 {
                relative.push(sd / mean);
            }
        }
        let company_spread = company_sd / company_mean;
        let (rate, spread) = match median(&mut per_value) {
            Some(rate) => (rate, median(&mut relative).unwrap_or(company_spread)),
            None => (company_mean / total, company_spread),
        };
        for (team, value) in open.iter().filter(|(team, _)| !shown(team, h)) {
            let cents = |v: f64| (v * 100.0).round() / 100.0;
            let mean = value * rate;
            borrowed.push((team.clone(), h, cents(mean), cents(mean * spread)));
        }
    }
    borrowed.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    Ok(borrowed)
}

/// The median of `values` (the mean of the middle two of an even count).
fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// `table` with the `borrowed` rows, sorted by team and horizon as
/// learned; their other columns empty.
fn with_rows(table: &DataFrame, borrowed: &[Borrowed]) -> Result<DataFrame, ForecastError> {
    let n = borrowed.len();
    let floats = |f: fn(&Borrowed) -> f64| borrowed.iter().map(f).collect::<Vec<_>>();
    let mut columns = Vec::with_capacity(table.width());
    for column in table.columns() {
        let name = column.name().clone();
        let added = match name.as_str() {
            col::TEAM => Column::new(
                name,
                borrowed.iter().map(|b| b.0.as_str()).collect::<Vec<_>>(),
            ),
            HORIZON => Column::new(name, borrowed.iter().map(|b| b.1).collect::<Vec<_>>()),
            NOT_YET_IN_PIPELINE => Column::new(name, floats(|b| b.2)),
            NOT_YET_IN_PIPELINE_SD => Column::new(name, floats(|b| b.3)),
            _ => Column::full_null(name, n, column.dtype()),
        };
        columns.push(added.cast(column.dtype())?);
    }
    let mut out = table.clone();
    out.vstack_mut(&DataFrame::new(n, columns)?)?;
    Ok(out.sort(
        [col::TEAM, HORIZON],
        SortMultipleOptions::default().with_maintain_order(true),
    )?)
}

/// What a team borrowed (its `figures`: horizon, mean), as the note says
/// it.
fn borrowed_where(figures: &[(i32, f64)], currency: &str, bucket: crate::Bucket) -> String {
    let at = |h: i32| figures.iter().find(|f| f.0 == h).map(|f| f.1);
    let first = figures.iter().map(|f| f.0).min().unwrap_or(0);
    if first > 1 {
        let total: f64 = figures.iter().map(|f| f.1).sum();
        return match figures.len() {
            1 => format!(
                "{total:.0} {currency} in the {} {bucket} ahead",
                ordinal(first)
            ),
            n => format!(
                "{total:.0} {currency} over {n} {bucket}s from the {} {bucket} ahead on",
                ordinal(first)
            ),
        };
    }
    let mut said = Vec::new();
    if let Some(mean) = at(0) {
        said.push(format!("{mean:.0} {currency} in the current {bucket}"));
    }
    if let Some(mean) = at(1) {
        said.push(format!("{mean:.0} {currency} in the next"));
    }
    let later = figures.iter().filter(|f| f.0 > 1).count();
    if later > 0 {
        said.push(format!("and {later} {bucket}s further ahead"));
    }
    said.join(", ")
}

/// `2nd`, `3rd`, `14th`.
fn ordinal(n: i32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// Names the borrowing teams, their open pipeline and what they
/// borrowed: in the current and the next bucket when they borrowed
/// there, else from the first bucket ahead they borrowed on.
fn note(borrowed: &[Borrowed], open: &BTreeMap<String, f64>, spec: &ForecastSpec) -> String {
    let mut by_team: BTreeMap<&str, Vec<(i32, f64)>> = BTreeMap::new();
    for (team, h, mean, _) in borrowed {
        by_team.entry(team).or_default().push((*h, *mean));
    }
    let teams: Vec<String> = by_team
        .iter()
        .map(|(team, figures)| {
            format!(
                "{team} ({:.0} {} open; {})",
                open.get(*team).copied().unwrap_or(0.0),
                spec.rates.reporting_currency,
                borrowed_where(figures, &spec.rates.reporting_currency, spec.bucket),
            )
        })
        .collect();
    format!(
        "the history shows no new deals for {} at some horizons (a team formed or renamed since its snapshots, or too young): there they book what the median team it shows books in new deals per unit of open pipeline, times their own open pipeline; their rows in the table of new deals (not_yet_in_pipeline) have no history figures",
        teams.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> DataFrame {
        df!(
            col::TEAM => ["*", "*", "east", "east", "west"],
            HORIZON => [0i32, 1, 0, 1, 0],
            "deals" => [Some(10u64), Some(5), Some(6), Some(3), Some(4)],
            NOT_YET_IN_PIPELINE => [100.0, 400.0, 60.0, 250.0, 40.0],
            NOT_YET_IN_PIPELINE_SD => [20.0, 80.0, 12.0, 50.0, 8.0],
        )
        .expect("table")
    }

    #[test]
    fn a_team_the_history_lacks_borrows_the_median_teams_new_deals_per_unit_of_pipeline() {
        // Today: east and west as before, north new.
        let open: BTreeMap<String, f64> = [("east", 300.0), ("west", 100.0), ("north", 400.0)]
            .map(|(t, v)| (t.to_owned(), v))
            .into();
        let borrowed = borrowed_rows(&table(), &open).expect("rows");
        assert_eq!(
            borrowed,
            vec![
                // East books 0.2 per unit of open value at horizon 0 and
                // west 0.4: north the median 0.3, spread 0.2 as both.
                ("north".to_owned(), 0, 120.0, 24.0),
                // West shows horizon 0 only: both borrow east's 5/6.
                ("north".to_owned(), 1, 333.33, 66.67),
                ("west".to_owned(), 1, 83.33, 16.67),
            ]
        );
        let out = with_rows(&table(), &borrowed).expect("table");
        assert_eq!(out.height(), 8);
        let teams: Vec<_> = out
            .column(col::TEAM)
            .expect("team")
            .str()
            .expect("str")
            .iter()
            .flatten()
            .collect();
        assert_eq!(
            teams,
            ["*", "*", "east", "east", "north", "north", "west", "west"]
        );
        // The history's own figures stay empty on borrowed rows.
        assert_eq!(out.column("deals").expect("deals").null_count(), 3);
    }

    #[test]
    fn teams_the_history_shows_borrow_nothing() {
        let open: BTreeMap<String, f64> = [("east", 300.0)].map(|(t, v)| (t.to_owned(), v)).into();
        assert!(borrowed_rows(&table(), &open).expect("rows").is_empty());
        // A horizon before a team's furthest is one it booked nothing in.
        let gap = df!(
            col::TEAM => ["*", "*", "late"],
            HORIZON => [0i32, 1, 1],
            NOT_YET_IN_PIPELINE => [100.0, 400.0, 250.0],
            NOT_YET_IN_PIPELINE_SD => [20.0, 80.0, 50.0],
        )
        .expect("table");
        let open: BTreeMap<String, f64> = [("late", 300.0)].map(|(t, v)| (t.to_owned(), v)).into();
        assert!(borrowed_rows(&gap, &open).expect("rows").is_empty());
    }

    #[test]
    fn the_note_says_where_a_team_borrowed() {
        let month = crate::Bucket::Month;
        assert_eq!(
            borrowed_where(&[(0, 120.0), (1, 333.4)], "USD", month),
            "120 USD in the current month, 333 USD in the next"
        );
        assert_eq!(
            borrowed_where(&[(1, 50.0), (2, 60.0), (3, 70.0)], "USD", month),
            "50 USD in the next, and 2 months further ahead"
        );
        // Shown in the near months, only the far ones borrowed.
        assert_eq!(
            borrowed_where(&[(14, 100.0), (15, 200.0)], "EUR", month),
            "300 EUR over 2 months from the 14th month ahead on"
        );
        assert_eq!(
            borrowed_where(&[(21, 100.0)], "EUR", month),
            "100 EUR in the 21st month ahead"
        );
        assert_eq!(ordinal(2), "2nd");
        assert_eq!(ordinal(11), "11th");
        assert_eq!(ordinal(23), "23rd");
    }

    #[test]
    fn when_no_team_of_today_is_known_the_company_is_split_by_pipeline() {
        let open: BTreeMap<String, f64> = [("north", 300.0), ("south", 100.0)]
            .map(|(t, v)| (t.to_owned(), v))
            .into();
        let borrowed = borrowed_rows(&table(), &open).expect("rows");
        let at = |team: &str, h: i32| {
            borrowed
                .iter()
                .find(|b| b.0 == team && b.1 == h)
                .map(|b| b.2)
        };
        assert_eq!(at("north", 0), Some(75.0));
        assert_eq!(at("south", 0), Some(25.0));
        assert_eq!(at("north", 1), Some(300.0));
    }
}
