//! Win rates calibrated from history: P(win | the deal has been in stage s
//! for at least d days), per team where its history suffices, shrunk
//! towards the company's rate otherwise (empirical Bayes with a beta
//! prior). The bands of days in stage (`DAYS_IN_STAGE_FROM` and each
//! stage's time limit) let the rates fall as deals age in a stage, as
//! history shows they do, where a single stale factor past the limit
//! could not.
//!
//! Every entry made by the forecast date counts, decided or not: entries
//! still open are right-censored at their age (see `incidence`), so recent
//! entries inform the rates at once without favouring deals that resolve
//! fast, and each entry is weighted by its age, halved every
//! [`RATE_HALF_LIFE_DAYS`], so a team whose conversion moves is followed.
//! The rate of band d counts the entries that were still in the stage d
//! days after entering it (left truncation): an entry younger than d that
//! is still there says nothing about it yet.

use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_model::Stage;
use quotecast_pipeline::columns as col;

pub use crate::tally::RATE_HALF_LIFE_DAYS;
use crate::{
    ForecastError,
    banded::{ENTRIES, Groups, ORDER, Row, Strengths, moments_strengths, rates_table, shrunk},
    columns::{COMPANY_RATE, IN_STAGE_FROM},
    frames::collect_together,
    incidence::{Incidence, incidence},
    tally::{Entry, Tallies},
};
use std::collections::BTreeMap;

const STALE: &str = "__stale";
/// Set on a stage event whose deal has an outcome row.
const HAS_OUTCOME: &str = "__has_outcome";
/// The team a snapshot names for a deal with no outcome.
const SNAPSHOT_TEAM: &str = "__snapshot_team";
const REPEATED: &str = "__repeated";
pub(crate) const WON: &str = "__won";
pub(crate) const LEFT: &str = "__left";
pub(crate) const NEXT: &str = "__next";
/// Where the days-in-stage bands start (each stage's time limit is added):
/// a deal that has sat in its stage for weeks wins less often than one
/// that just entered it, and the rates follow that from history.
pub const DAYS_IN_STAGE_FROM: [i64; 9] = [0, 7, 14, 21, 30, 45, 60, 90, 180];

/// Above this undecided share of a stage's entries (see
/// [`CalibratedRates::undecided`]) the rates extrapolate from a young
/// history: the forecast notes it, and a past day's rates are not used
/// for learning (see `then.rs`).
pub(crate) const YOUNG_HISTORY_UNDECIDED: f64 = 0.2;
/// Decided entries' worth of the previous band's rate each later band of
/// the company's starts from.
const BAND_PRIOR_ENTRIES: f64 = 10.0;

/// How history is turned into win rates.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    pub as_of: NaiveDate,
    /// Entries younger than this are left out of the funnel report
    /// (default 180 days); the rates use every entry.
    pub maturity_days: u32,
    /// Pseudo-observations of the company rate each team starts from;
    /// `None` estimates one per stage from the spread between teams (method of
    /// moments), within 1 to 10,000.
    pub prior_strength: Option<f64>,
}

/// Calibrated win rates: one row per team, open stage and band of days in
/// stage (`days_in_stage_from`) with `entries` (made by the forecast date
/// and still in the stage at the band's start, decided or not), `wins`
/// (of those, won by then), `evidence`, `team_rate` (raw), `company_rate`
/// and `calibrated` (shrunk); and the prior strength used.
#[derive(Debug, Clone)]
pub struct CalibratedRates {
    pub table: DataFrame,
    /// The prior strength of each stage's rates.
    pub prior_strength: Strengths,
    /// Stage entries the rates were estimated from.
    pub stage_entries: u64,
    /// Of those, the ones decided by the forecast date.
    pub decided_entries: u64,
    /// Where the table's days-in-stage bands start, from 0.
    pub days_in_stage_from: Vec<i64>,
    /// Per stage, in funnel order: the share of the company's entries'
    /// outcome probability still undecided at the oldest age the history
    /// shows, which the rate splits like the decided (large when the
    /// history is young).
    pub undecided: Vec<(String, f64)>,
}

/// Calibrates from stage-change events (`opportunity_id, stage, at`) and
/// outcomes (`opportunity_id, team, outcome, closed`; one row per deal, as
/// the history reader enforces). `teams` (frames
/// with `opportunity_id, team`: the snapshot forecast, past snapshots)
/// name the team of deals not yet decided; an open entry of a deal whose
/// team is known nowhere is left out.
pub fn calibrate(
    stage_events: LazyFrame,
    outcomes: LazyFrame,
    teams: Vec<LazyFrame>,
    stages: &[Stage],
    how: &Calibration,
) -> Result<CalibratedRates, ForecastError> {
    KnownEntries::prepare(stage_events, outcomes, teams, stages, how.as_of)?.rates_on(how)
}

/// Every entry into an open stage made by a day, with its exit, its
/// deal's outcome and team: what the rates of that day or any earlier one
/// are tallied from, prepared once (the sort and joins are most of a
/// calibration; see `tally` for a day's tallies). Kept compact: the team
/// as a code into `teams`, the stage as its place in the funnel (`stages`
/// by place), whether the deal was won and when it was decided.
pub(crate) struct KnownEntries {
    tallies: Tallies,
    teams: Vec<String>,
    stages: Vec<String>,
    bands: Vec<i64>,
    prepared_on: NaiveDate,
    /// The day of the first entry (none: no entries).
    pub(crate) first_entry: Option<NaiveDate>,
    /// Events made by the day that repeated their deal's stage (see
    /// [`sorted_events`]), read as one entry with the event before.
    pub(crate) repeated_events: u64,
}

/// An entry's team, as its place in [`KnownEntries`]' teams.
const TEAM_CODE: &str = "__team_code";

impl KnownEntries {
    /// The entries made by `as_of` (see [`calibrate`] for the inputs).
    pub(crate) fn prepare(
        stage_events: LazyFrame,
        outcomes: LazyFrame,
        teams: Vec<LazyFrame>,
        stages: &[Stage],
        as_of: NaiveDate,
    ) -> Result<Self, ForecastError> {
        // The team from the outcome row, else the snapshots; an entry
        // whose team is known nowhere is left out.
        let (known, repeated_events) = known_entries(stage_events, outcomes, teams, stages, as_of)?;
        let named = known
            .lazy()
            .with_column(col(col::TEAM).fill_null(col(SNAPSHOT_TEAM)))
            .filter(col(col::TEAM).is_not_null());
        let team_codes = named
            .clone()
            .select([col(col::TEAM)])
            .unique(None, UniqueKeepStrategy::Any)
            .sort([col::TEAM], SortMultipleOptions::default())
            .with_row_index(TEAM_CODE, None)
            .collect()?;
        let days = |name: &str| col(name).cast(DataType::Int32);
        let frame = named
            .join(
                team_codes.clone().lazy(),
                [col(col::TEAM)],
                [col(col::TEAM)],
                JoinArgs::new(JoinType::Inner),
            )
            .select([
                col(TEAM_CODE).cast(DataType::UInt32),
                col(ORDER).cast(DataType::UInt32),
                days(col::AT),
                days(LEFT),
                col(col::OUTCOME)
                    .eq(lit("won"))
                    .fill_null(lit(false))
                    .alias(WON),
                days(col::CLOSED),
            ])
            .collect()?;
        let entries = compact(&frame)?;
        drop(frame);
        let first_entry = entries
            .iter()
            .map(|e| e.at)
            .min()
            .map(quotecast_pipeline::from_epoch_days);
        let teams = team_codes
            .column(col::TEAM)?
            .str()?
            .iter()
            .map(|t| t.unwrap_or_default().to_owned())
            .collect();
        let bands = band_starts(stages);
        Ok(KnownEntries {
            tallies: Tallies::new(entries, &bands, quotecast_pipeline::epoch_days(as_of)),
            teams,
            // By place in the funnel, as `open_stages` numbers them.
            stages: stages
                .iter()
                .filter(|s| s.is_open())
                .map(|s| s.id.clone())
                .collect(),
            bands,
            prepared_on: as_of,
            first_entry,
            repeated_events,
        })
    }

    /// The rates calibrated on `how.as_of` (at most the day prepared for):
    /// the entries made by then, each left on its next event only if that
    /// came by then, decided only if by then.
    pub(crate) fn rates_on(&self, how: &Calibration) -> Result<CalibratedRates, ForecastError> {
        debug_assert!(how.as_of <= self.prepared_on);
        let tallies = self.tallies.on(quotecast_pipeline::epoch_days(how.as_of));
        let groups = Groups::from_tallies(&tallies, &self.teams, &self.stages);
        rates_from(&groups, &self.bands, how)
    }
}

/// The entries of a frame of `TEAM_CODE, ORDER, AT, LEFT, WON, CLOSED`
/// (days as epoch days).
fn compact(frame: &DataFrame) -> Result<Vec<Entry>, ForecastError> {
    let codes = |name: &str| -> Result<Vec<u32>, ForecastError> {
        Ok(frame
            .column(name)?
            .u32()?
            .iter()
            .map(|v| v.unwrap_or(0))
            .collect())
    };
    let days = |name: &str| -> Result<Vec<Option<i32>>, ForecastError> {
        Ok(frame.column(name)?.i32()?.iter().collect())
    };
    let (team, place) = (codes(TEAM_CODE)?, codes(ORDER)?);
    let (at, left, closed) = (days(col::AT)?, days(LEFT)?, days(col::CLOSED)?);
    let won: Vec<bool> = frame
        .column(WON)?
        .bool()?
        .iter()
        .map(|w| w.unwrap_or(false))
        .collect();
    Ok((0..frame.height())
        .filter_map(|i| {
            Some(Entry {
                team: team[i],
                place: place[i],
                at: at[i]?,
                left: Entry::day_or_never(left[i]),
                closed: Entry::day_or_never(closed[i]),
                won: won[i],
            })
        })
        .collect())
}

/// The rates from a day's tallies (see [`KnownEntries::tallied_on`]).
fn rates_from(
    groups: &Groups,
    bands: &[i64],
    how: &Calibration,
) -> Result<CalibratedRates, ForecastError> {
    let bands = bands.to_vec();
    let estimates = groups.company(bands.len());
    let company: BTreeMap<(u32, String), Vec<Option<f64>>> = estimates
        .iter()
        .map(|(stage, bands)| (stage.clone(), company_by_band(bands)))
        .collect();
    let mut rows = Vec::new();
    for ((team, order, stage), g) in &groups.teams {
        let rates = company.get(&(*order, stage.clone()));
        for (band, &from_days) in bands.iter().enumerate() {
            rows.push(Row {
                team: team.clone(),
                stage: stage.clone(),
                order: *order,
                from_days,
                entries: g.reached(band, |t| t.entries),
                wins: g.reached(band, |t| t.wins),
                estimate: incidence(&g.ages_from(band)),
                company: rates.and_then(|r| r.get(band).copied().flatten()),
            });
        }
    }
    let prior_strength = match how.prior_strength {
        Some(given) => Strengths::given(given),
        None => moments_strengths(&rows.iter().filter(|r| r.from_days == 0).collect::<Vec<_>>()),
    };
    let calibrated = shrunk(&rows, &prior_strength);
    let entered = rows.iter().filter(|r| r.from_days == 0);
    let undecided = estimates
        .iter()
        .filter_map(|((_, stage), bands)| Some((stage.clone(), bands.first()?.undecided)))
        .collect();
    Ok(CalibratedRates {
        undecided,
        table: rates_table(&rows, &calibrated)?,
        prior_strength,
        stage_entries: entered.clone().map(|r| r.entries).sum(),
        decided_entries: groups.decided,
        days_in_stage_from: bands,
    })
}

impl CalibratedRates {
    /// The rates of deals just entering their stage: one row per team and
    /// stage.
    pub fn on_entering(&self) -> PolarsResult<DataFrame> {
        self.table
            .clone()
            .lazy()
            .filter(col(IN_STAGE_FROM).eq(lit(0i64)))
            .drop(cols([IN_STAGE_FROM]))
            .collect()
    }

    /// How the company's rate falls with days in stage: per stage and
    /// band, the company rate and the entries still in the stage then.
    pub fn company_by_days_in_stage(&self) -> PolarsResult<DataFrame> {
        self.table
            .clone()
            .lazy()
            .group_by_stable([col(col::STAGE), col(IN_STAGE_FROM)])
            .agg([col(ENTRIES).sum(), col(COMPANY_RATE).first()])
            .collect()
    }
}

/// The company's rate per band: band 0 as estimated, each later band
/// shrunk towards the band before it by [`BAND_PRIOR_ENTRIES`], so a band
/// few deals reach neither jumps nor goes without a rate.
fn company_by_band(bands: &[Incidence]) -> Vec<Option<f64>> {
    let mut before: Option<f64> = None;
    bands
        .iter()
        .map(|b| {
            let rate = match (b.win_rate, before) {
                (Some(r), Some(prior)) => Some(
                    (b.evidence * r + BAND_PRIOR_ENTRIES * prior)
                        / (b.evidence + BAND_PRIOR_ENTRIES),
                ),
                (rate, prior) => rate.or(prior),
            };
            before = rate;
            rate
        })
        .collect()
}

/// Where the days-in-stage bands start: every [`DAYS_IN_STAGE_FROM`] and
/// every stage's time limit, so the deals past a limit have rates of
/// their own.
fn band_starts(stages: &[Stage]) -> Vec<i64> {
    let mut starts: Vec<i64> = DAYS_IN_STAGE_FROM
        .iter()
        .copied()
        .chain(
            stages
                .iter()
                .filter_map(|s| s.time_limit_days.map(i64::from)),
        )
        .collect();
    starts.sort_unstable();
    starts.dedup();
    starts
}

/// The open stages with their place in the funnel and time limit.
fn open_stages(stages: &[Stage]) -> Result<DataFrame, ForecastError> {
    let open: Vec<&Stage> = stages.iter().filter(|s| s.is_open()).collect();
    if open.is_empty() {
        return Err(ForecastError::NoStages);
    }
    Ok(DataFrame::new(
        open.len(),
        vec![
            Column::new(
                col::STAGE.into(),
                open.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(ORDER.into(), (0..open.len() as u32).collect::<Vec<_>>()),
            Column::new(
                "__limit".into(),
                open.iter()
                    .map(|s| i64::from(s.time_limit_days.unwrap_or(u32::MAX)))
                    .collect::<Vec<_>>(),
            ),
        ],
    )?)
}

/// Every entry into an open stage made by `as_of`, with the day of its
/// deal's next event (`LEFT`), its deal's outcome and close date (however
/// late) and team: from the outcome row, else the snapshots (`teams`) as
/// `SNAPSHOT_TEAM`.
fn known_entries(
    stage_events: LazyFrame,
    outcomes: LazyFrame,
    teams: Vec<LazyFrame>,
    stages: &[Stage],
    as_of: NaiveDate,
) -> Result<(DataFrame, u64), ForecastError> {
    let as_of = lit(as_of).cast(DataType::Date);
    // Every deal's outcome row (one per deal, as the reader enforces)
    // gives its team; one decided after `as_of` is still open then.
    let outcome_rows = outcomes.select([
        col(col::OPPORTUNITY_ID),
        col(col::TEAM),
        col(col::OUTCOME),
        col(col::CLOSED),
    ]);
    let events = sorted_events(stage_events.filter(col(col::AT).lt_eq(as_of.clone())));
    // Counted from the same sorted events, collected together.
    let repeated = events
        .clone()
        .select([col(REPEATED).sum().cast(DataType::UInt64).alias(REPEATED)]);
    let with_exit = events
        .filter(col(REPEATED).not())
        .drop(cols([REPEATED]))
        .with_column(next_in_deal(col::AT, DataType::Date).alias(LEFT));
    let with_outcome = with_exit
        .join(
            open_stages(stages)?
                .lazy()
                .select([col(col::STAGE), col(ORDER)]),
            [col(col::STAGE)],
            [col(col::STAGE)],
            JoinArgs::new(JoinType::Inner),
        )
        .join(
            outcome_rows.with_column(lit(true).alias(HAS_OUTCOME)),
            [col(col::OPPORTUNITY_ID)],
            [col(col::OPPORTUNITY_ID)],
            JoinArgs::new(JoinType::Left),
        );
    let mut frames = collect_together(vec![with_outcome, repeated])?.into_iter();
    let with_outcome = frames.next().unwrap_or_default();
    let repeated = frames
        .next()
        .and_then(|f| f.column(REPEATED).ok()?.u64().ok()?.get(0))
        .unwrap_or(0);
    // Only deals with events and no outcome row need the snapshots' team:
    // the snapshot lines are matched against those few rather than told
    // apart from every outcome.
    let without_outcome = with_outcome
        .clone()
        .lazy()
        .filter(col(HAS_OUTCOME).is_null())
        .select([col(col::OPPORTUNITY_ID)])
        .unique(None, UniqueKeepStrategy::Any);
    let known = with_outcome
        .lazy()
        .drop(cols([HAS_OUTCOME]))
        .join(
            undecided_teams(teams, without_outcome)?,
            [col(col::OPPORTUNITY_ID)],
            [col(col::OPPORTUNITY_ID)],
            JoinArgs::new(JoinType::Left),
        )
        .collect()?;
    Ok((known, repeated))
}

/// The team the snapshots (`teams`) name for each deal of `deals` (its
/// `opportunity_id`s: deals without an outcome row), as `SNAPSHOT_TEAM`,
/// the first line naming it: only their lines are deduplicated (a
/// group-by over every snapshot line costs more than the rest of the
/// calibration).
fn undecided_teams(teams: Vec<LazyFrame>, deals: LazyFrame) -> Result<LazyFrame, ForecastError> {
    let mut named: Vec<LazyFrame> = teams
        .into_iter()
        .map(|t| {
            t.select([
                col(col::OPPORTUNITY_ID),
                col(col::TEAM).alias(SNAPSHOT_TEAM),
            ])
        })
        .collect();
    if named.is_empty() {
        named.push(
            DataFrame::new(
                0,
                [col::OPPORTUNITY_ID, SNAPSHOT_TEAM]
                    .map(|name| Column::new_empty(name.into(), &DataType::String))
                    .to_vec(),
            )?
            .lazy(),
        );
    }
    Ok(concat(named, UnionArgs::default())?
        .join(
            deals,
            [col(col::OPPORTUNITY_ID)],
            [col(col::OPPORTUNITY_ID)],
            JoinArgs::new(JoinType::Semi),
        )
        .unique_stable(Some(cols([col::OPPORTUNITY_ID])), UniqueKeepStrategy::First))
}

/// Stage events sorted by deal and day, with [`REPEATED`]: whether the
/// deal's event before was in the same stage. A field-history export
/// (Salesforce's Opportunity History) writes a row for every change of
/// amount or close date too, in the stage the deal already was in; read
/// as entries, each would enter the stage again and restart its days in
/// stage. A run of a deal's events in one stage is one entry, its first.
/// A deal's events on one day keep the file's order (an export lists
/// them as they happened): an unstable sort would let the rates depend
/// on how the rows were listed.
fn sorted_events(stage_events: LazyFrame) -> LazyFrame {
    let previous = |name: &str| col(name).shift(lit(1)).eq(col(name));
    stage_events
        .sort_by_exprs(
            [col(col::OPPORTUNITY_ID), col(col::AT)],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .with_column(
            previous(col::OPPORTUNITY_ID)
                .and(previous(col::STAGE))
                .fill_null(lit(false))
                .alias(REPEATED),
        )
}

/// The stage entries of `stage_events` (see [`sorted_events`]) in deal
/// order.
fn in_deal_order(stage_events: LazyFrame) -> LazyFrame {
    sorted_events(stage_events)
        .filter(col(REPEATED).not())
        .drop(cols([REPEATED]))
}

/// Of events [`in_deal_order`]: `column` of the deal's next event, null
/// (of `dtype`) on its last.
fn next_in_deal(column: &str, dtype: DataType) -> Expr {
    when(
        col(col::OPPORTUNITY_ID)
            .shift(lit(-1))
            .eq(col(col::OPPORTUNITY_ID)),
    )
    .then(col(column).shift(lit(-1)))
    .otherwise(lit(NULL).cast(dtype))
}

/// Matured entries into open stages of deals decided by `how.as_of`: one
/// row per entry with `opportunity_id, stage, at`, `__order` (the stage's
/// place in the funnel), the day it was left (`__left`) and the stage the
/// deal went to (`__next`, null if none yet), the deal's `team` and
/// `outcome`, whether it was won (`__won`) and whether it outstayed the
/// stage's time limit (`__stale`).
pub(crate) fn matured_entries(
    stage_events: LazyFrame,
    outcomes: LazyFrame,
    stages: &[Stage],
    how: &Calibration,
) -> Result<LazyFrame, ForecastError> {
    let limits = open_stages(stages)?;
    let cutoff = how.as_of - chrono::TimeDelta::days(i64::from(how.maturity_days));
    Ok(in_deal_order(stage_events)
        .with_columns([
            next_in_deal(col::AT, DataType::Date).alias(LEFT),
            next_in_deal(col::STAGE, DataType::String).alias(NEXT),
        ])
        .join(
            limits.lazy(),
            [col(col::STAGE)],
            [col(col::STAGE)],
            JoinArgs::new(JoinType::Inner),
        )
        .join(
            outcomes
                .filter(col(col::CLOSED).lt_eq(lit(how.as_of).cast(DataType::Date)))
                .select([col(col::OPPORTUNITY_ID), col(col::TEAM), col(col::OUTCOME)]),
            [col(col::OPPORTUNITY_ID)],
            [col(col::OPPORTUNITY_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(col(col::AT).lt_eq(lit(cutoff).cast(DataType::Date)))
        .with_columns([
            col(col::OUTCOME).eq(lit("won")).alias(WON),
            ((col(LEFT) - col(col::AT))
                .dt()
                .total_days(false)
                .gt(col("__limit")))
            .fill_null(lit(false))
            .alias(STALE),
        ]))
}
