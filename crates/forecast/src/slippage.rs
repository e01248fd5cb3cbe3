//! Slippage: how many days after the close date its owner stated on a
//! past snapshot a won deal really closed, and which of those learned
//! delays an open deal is spread over.
//!
//! Delays are learned per team and per the stage the deal was in on the
//! snapshot, and within a stage per band of days from the snapshot to the
//! stated close (those of the close-date factors): a deal still being
//! qualified slips further past its stated date than one in negotiation
//! (on the generated histories the median won deal's delay is 18 days
//! from qualify, 0 from negotiate), and where a stage takes about the same
//! time whatever the owner wrote, a deal in negotiation whose stated date
//! is two months away closes weeks before it, which a delay pooled over
//! the stage's dates would put in the next bucket. Six levels are learned:
//! team, stage and band; company, stage and band; team and stage; company
//! and stage; team over all stages; company over all stages. An open deal
//! takes the first level with at least [`MIN_SLIP_OBSERVATIONS`] won
//! observations (the company's over all stages always applies); each
//! level is summarised by [`SLIP_POINTS`] percentile points (the 5th,
//! 15th, ..., 95th), each carrying an equal share of the deal's expected
//! value.
//!
//! A level's points count from what its won deals' closes clustered
//! around most tightly ([`Anchor`]): the stated close, the snapshot day,
//! or the last day of the snapshot's quarter. The last is a quarter-end
//! push: where deals decided in a quarter's middle weeks wait for its
//! last days, a deal seen in negotiation closes at this quarter's end
//! whatever its owner wrote, and an anchor on the stated date or the
//! snapshot day puts much of it in the next quarter (or, forecast by
//! month, in the wrong month of this one).
use polars::prelude::*;
use quotecast_model::FiscalYear;
use quotecast_pipeline::columns as col;

use crate::{
    ForecastError,
    close_dates::band,
    columns::{COMPANY, POINT, SHARE, SHIFT_DAYS, SLIP_POINTS},
};

pub const WON_OBSERVATIONS: &str = "won_observations";
pub const LATE_SHARE: &str = "late_share";
pub const MEDIAN_DELAY_DAYS: &str = "median_delay_days";
/// What a level's points count from: `stated close`, `snapshot` or
/// `quarter end`.
pub const ANCHOR: &str = "anchor";
/// What a level's shifts count from: [`Anchor`] as its code.
pub(crate) const SLIP_ANCHOR: &str = "__slip_anchor";
/// A level with fewer won observations than this gives way to the next.
pub const MIN_SLIP_OBSERVATIONS: u64 = 40;
/// The stage of a level learned over all stages.
pub const ANY_STAGE: &str = "*";
/// Days from the stated expected close to the real one (won deals).
pub(crate) const DELAY: &str = "__delay";
/// Days from the snapshot to the real close (won deals).
const LEAD: &str = "__lead";
/// Days from the end of the snapshot's quarter to the real close.
const TO_QUARTER_END: &str = "__to_quarter_end";
/// The spread (interquartile range) of a level's delays and leads.
const DELAY_SPREAD: &str = "__delay_spread";
const LEAD_SPREAD: &str = "__lead_spread";
const QUARTER_END_SPREAD: &str = "__quarter_end_spread";

/// What a slippage level's shifts count from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// The close date the owner stated: the owner's date carries the
    /// timing.
    StatedClose = 0,
    /// The forecast date: the stage takes about the same time whatever
    /// the owner wrote.
    ForecastDate = 1,
    /// The last day of the forecast date's quarter: deals decided are
    /// held for the quarter's end (a quarter-end push).
    QuarterEnd = 2,
}

impl Anchor {
    const ALL: [Anchor; 3] = [
        Anchor::StatedClose,
        Anchor::ForecastDate,
        Anchor::QuarterEnd,
    ];

    /// As the slippage table says it.
    fn name(self) -> &'static str {
        match self {
            Anchor::StatedClose => "stated close",
            Anchor::ForecastDate => "snapshot",
            Anchor::QuarterEnd => "quarter end",
        }
    }

    /// The prefix of a level's point columns.
    fn points(self) -> &'static str {
        match self {
            Anchor::StatedClose => "__p",
            Anchor::ForecastDate => "__l",
            Anchor::QuarterEnd => "__e",
        }
    }

    fn spread(self) -> &'static str {
        match self {
            Anchor::StatedClose => DELAY_SPREAD,
            Anchor::ForecastDate => LEAD_SPREAD,
            Anchor::QuarterEnd => QUARTER_END_SPREAD,
        }
    }

    pub(crate) fn code(self) -> i32 {
        self as i32
    }
}

/// `points` (team, stage, point, shift days) with every level counting
/// from `anchor`.
pub(crate) fn anchored_at(points: &DataFrame, anchor: Anchor) -> PolarsResult<DataFrame> {
    let mut points = points.clone();
    points.with_column(Column::new(
        SLIP_ANCHOR.into(),
        vec![anchor.code(); points.height()],
    ))?;
    Ok(points)
}

/// The last day of the (fiscal) quarter holding each date of `day`.
pub(crate) fn quarter_end(day: Expr, year: FiscalYear) -> Expr {
    let next = crate::Bucket::Quarter
        .truncate(day, year)
        .dt()
        .offset_by(lit("3mo"));
    (next.cast(DataType::Int32) - lit(1)).cast(DataType::Date)
}

/// The level an open deal's points are taken from.
const SLIP_TEAM: &str = "__slip_team";
const SLIP_STAGE: &str = "__slip_stage";
const FOUND: &str = "__found";

/// The percentile slippage point `k` stands for: 5 %, 15 %, ..., 95 %.
fn slip_quantile(k: u32) -> f64 {
    (f64::from(k) + 0.5) / f64::from(SLIP_POINTS)
}

/// A stage and band as a level's stage (`negotiate 46-90`).
fn stage_band(stage: Expr, stated_close: Expr, seen_from: Expr) -> Expr {
    stage + lit(" ") + band(stated_close, seen_from)
}

/// The six levels' plans from the won deals of past snapshots (their
/// team, stage, stated close, snapshot day and [`DELAY`]): per level row
/// its observations, late share, median delay and the points' delays,
/// most specific level first.
pub(crate) fn slip_plans(won: LazyFrame, snapshot_day: Expr, year: FiscalYear) -> Vec<LazyFrame> {
    let quantile = |days: &str, q: f64| {
        col(days)
            .cast(DataType::Float64)
            .quantile(lit(q), QuantileMethod::Linear)
    };
    let points = (0..SLIP_POINTS).flat_map(|k| {
        [
            quantile(DELAY, slip_quantile(k)).alias(format!("__p{k}")),
            quantile(LEAD, slip_quantile(k)).alias(format!("__l{k}")),
            quantile(TO_QUARTER_END, slip_quantile(k)).alias(format!("__e{k}")),
        ]
    });
    let spread = |days: &str| quantile(days, 0.75) - quantile(days, 0.25);
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
    aggs.extend([
        spread(DELAY).alias(DELAY_SPREAD),
        spread(LEAD).alias(LEAD_SPREAD),
        spread(TO_QUARTER_END).alias(QUARTER_END_SPREAD),
    ]);
    let won = won.with_columns([
        (col(col::CLOSED) - snapshot_day.clone())
            .dt()
            .total_days(false)
            .alias(LEAD),
        (col(col::CLOSED) - quarter_end(snapshot_day.clone(), year))
            .dt()
            .total_days(false)
            .alias(TO_QUARTER_END),
    ]);
    let team = || col(col::TEAM);
    let stage = || col(col::STAGE);
    // A date already past counts from the snapshot day, as an open
    // deal's does on the forecast date.
    let stated = when(col(col::EXPECTED_CLOSE).lt(snapshot_day.clone()))
        .then(snapshot_day.clone())
        .otherwise(col(col::EXPECTED_CLOSE));
    let banded = || stage_band(stage(), stated.clone(), snapshot_day.clone());
    [
        (team(), banded()),
        (lit(COMPANY), banded()),
        (team(), stage()),
        (lit(COMPANY), stage()),
        (team(), lit(ANY_STAGE)),
        (lit(COMPANY), lit(ANY_STAGE)),
    ]
    .into_iter()
    .map(|(t, s)| {
        won.clone()
            .select([
                t.alias(col::TEAM),
                s.alias(col::STAGE),
                col(DELAY),
                col(LEAD),
                col(TO_QUARTER_END),
            ])
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
    let (mut teams, mut stages, mut points, mut shifts, mut anchor_codes) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::<i32>::new(),
    );
    let mut reported = Vec::with_capacity(levels.len());
    for frame in levels {
        let names = frame.column(col::TEAM)?.str()?.clone();
        let stage_names = frame.column(col::STAGE)?.str()?.clone();
        let counts = frame.column(WON_OBSERVATIONS)?.u64()?.clone();
        let anchors = anchors(frame)?;
        for (row, &anchor) in anchors.iter().enumerate() {
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
                    .column(&format!("{}{k}", anchor.points()))?
                    .f64()?
                    .get(row)
                    .unwrap_or(0.0);
                teams.push(name.to_owned());
                stages.push(stage.to_owned());
                points.push(k);
                shifts.push(shift.round() as i64);
                anchor_codes.push(anchor.code());
            }
        }
        let anchor: Vec<&str> = anchors.iter().map(|a| a.name()).collect();
        let mut shown = frame.select([
            col::TEAM,
            col::STAGE,
            WON_OBSERVATIONS,
            LATE_SHARE,
            MEDIAN_DELAY_DAYS,
        ])?;
        shown.with_column(Column::new(ANCHOR.into(), anchor))?;
        reported.push(shown);
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
            Column::new(SLIP_ANCHOR.into(), anchor_codes),
        ],
    )?;
    Ok((table, points))
}

/// Per level row, what its won deals' closes were tightest around: the
/// stated close plus a delay (the owner's date carries the timing), the
/// snapshot day plus a lead (the stage takes about the same time whatever
/// the owner wrote) or the end of the snapshot's quarter (deals decided
/// wait for it): the narrowest interquartile range decides, in that order
/// on a tie.
fn anchors(frame: &DataFrame) -> Result<Vec<Anchor>, ForecastError> {
    let spreads = Anchor::ALL
        .iter()
        .map(|a| Ok(frame.column(a.spread())?.f64()?.clone()))
        .collect::<Result<Vec<_>, ForecastError>>()?;
    Ok((0..frame.height())
        .map(|row| {
            let mut best = (Anchor::StatedClose, f64::INFINITY);
            for (anchor, spread) in Anchor::ALL.iter().zip(&spreads) {
                if let Some(s) = spread.get(row).filter(|s| *s < best.1) {
                    best = (*anchor, s);
                }
            }
            best.0
        })
        .collect())
}

/// `open` deals (with their team and stage, their stated close in
/// `stated_close`, a date past counting as `as_of`, seen from `as_of`) joined to the slippage points of the
/// first level `points` has for them: one row per deal and point, with
/// [`POINT`], [`SHIFT_DAYS`] and the point's [`SHARE`] of the deal (a deal
/// no level covers, when no won deal was ever observed, keeps one row,
/// shifted by 0, with all of it).
pub(crate) fn with_slip_points(
    open: LazyFrame,
    points: &DataFrame,
    stated_close: Expr,
    as_of: Expr,
) -> LazyFrame {
    const ANY_TEAM_COLUMN: &str = "__company";
    const ANY_STAGE_COLUMN: &str = "__any_stage";
    const STAGE_BAND_COLUMN: &str = "__stage_band";
    let levels = points
        .clone()
        .lazy()
        .select([
            col(col::TEAM).alias(SLIP_TEAM),
            col(col::STAGE).alias(SLIP_STAGE),
        ])
        .unique(None, UniqueKeepStrategy::First);
    let tried = [
        (col::TEAM, STAGE_BAND_COLUMN),
        (ANY_TEAM_COLUMN, STAGE_BAND_COLUMN),
        (col::TEAM, col::STAGE),
        (ANY_TEAM_COLUMN, col::STAGE),
        (col::TEAM, ANY_STAGE_COLUMN),
    ];
    let mut keyed = open.with_columns([
        lit(COMPANY).alias(ANY_TEAM_COLUMN),
        lit(ANY_STAGE).alias(ANY_STAGE_COLUMN),
        stage_band(col(col::STAGE), stated_close, as_of).alias(STAGE_BAND_COLUMN),
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
        tried
            .iter()
            .enumerate()
            .rev()
            .fold(lit(last.to_owned()), |later, (i, level)| {
                when(hit(i)).then(col(which(level))).otherwise(later)
            })
    };
    let mut dropped: Vec<String> = (0..tried.len()).map(found).collect();
    dropped.extend(
        [
            ANY_TEAM_COLUMN,
            ANY_STAGE_COLUMN,
            STAGE_BAND_COLUMN,
            SLIP_TEAM,
            SLIP_STAGE,
        ]
        .map(String::from),
    );
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
                col(SLIP_ANCHOR),
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
            col(SLIP_ANCHOR).fill_null(lit(Anchor::StatedClose.code())),
            col(POINT).fill_null(lit(0u32)).cast(DataType::UInt32),
        ])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn day(d: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::TimeDelta::days(d)
    }

    /// Won deals of one team seen on snapshots: (stage, snapshot day,
    /// stated close day, closed day), days from 2026-01-01.
    fn won(deals: &[(&str, i64, i64, i64)]) -> LazyFrame {
        let column = |f: fn(&(&str, i64, i64, i64)) -> i64, name: &str| {
            Column::new(
                name.into(),
                deals.iter().map(|d| day(f(d))).collect::<Vec<_>>(),
            )
        };
        DataFrame::new(
            deals.len(),
            vec![
                Column::new(col::TEAM.into(), vec!["east"; deals.len()]),
                Column::new(
                    col::STAGE.into(),
                    deals.iter().map(|d| d.0).collect::<Vec<_>>(),
                ),
                column(|d| d.1, "__snapshot"),
                column(|d| d.2, col::EXPECTED_CLOSE),
                column(|d| d.3, col::CLOSED),
            ],
        )
        .unwrap()
        .lazy()
        .with_column(
            (col(col::CLOSED) - col(col::EXPECTED_CLOSE))
                .dt()
                .total_days(false)
                .alias(DELAY),
        )
    }

    fn tables(deals: &[(&str, i64, i64, i64)]) -> (DataFrame, DataFrame) {
        let plans = slip_plans(won(deals), col("__snapshot"), FiscalYear::CALENDAR);
        let levels: Vec<DataFrame> = plans.into_iter().map(|p| p.collect().unwrap()).collect();
        slip_tables(&levels).unwrap()
    }

    fn level(points: &DataFrame, team: &str, stage: &str) -> Vec<(i64, Anchor)> {
        let rows = points
            .clone()
            .lazy()
            .filter(
                col(col::TEAM)
                    .eq(lit(team))
                    .and(col(col::STAGE).eq(lit(stage))),
            )
            .sort([POINT], SortMultipleOptions::default())
            .collect()
            .unwrap();
        let shifts = rows.column(SHIFT_DAYS).unwrap().i64().unwrap().clone();
        let anchored = rows.column(SLIP_ANCHOR).unwrap().i32().unwrap().clone();
        shifts
            .iter()
            .zip(anchored.iter())
            .map(|(s, a)| {
                let code = a.unwrap();
                let anchor = Anchor::ALL.into_iter().find(|a| a.code() == code);
                (s.unwrap(), anchor.unwrap())
            })
            .collect()
    }

    /// The anchor the slippage table names for the company's `stage`.
    fn named_anchor(table: DataFrame, stage: &str) -> String {
        let row = table
            .lazy()
            .filter(
                col(col::TEAM)
                    .eq(lit(COMPANY))
                    .and(col(col::STAGE).eq(lit(stage))),
            )
            .collect()
            .unwrap();
        let anchor = row.column(ANCHOR).unwrap().str().unwrap().get(0);
        anchor.unwrap().to_owned()
    }

    #[test]
    fn a_stage_that_takes_its_own_time_counts_from_the_forecast_date() {
        // Negotiations close 8 to 12 days after the snapshot whatever date
        // the owner wrote (5 to 80 days out); qualifying deals close 3 to
        // 7 days after the stated date, which is anything from 10 to 120
        // days out.
        let mut deals = Vec::new();
        for i in 0..60 {
            deals.push(("negotiate", 0, 5 + (i * 5) % 76, 8 + i % 5));
            let stated = 10 + (i * 7) % 111;
            deals.push(("qualify", 0, stated, stated + 3 + i % 5));
        }
        let (table, points) = tables(&deals);
        let negotiate = level(&points, COMPANY, "negotiate");
        assert_eq!(negotiate.len(), SLIP_POINTS as usize);
        assert!(
            negotiate
                .iter()
                .all(|&(s, a)| a == Anchor::ForecastDate && (8..=12).contains(&s)),
            "{negotiate:?}"
        );
        let qualify = level(&points, COMPANY, "qualify");
        assert!(
            qualify
                .iter()
                .all(|&(s, a)| a == Anchor::StatedClose && (3..=7).contains(&s)),
            "{qualify:?}"
        );
        assert_eq!(named_anchor(table, "negotiate"), "snapshot");
    }

    #[test]
    fn deals_held_for_the_quarter_end_count_from_it() {
        // Negotiations seen on snapshots all over the first quarter of
        // 2026 (days 0 to 80), stated to close 10 to 40 days later, close
        // in the quarter's last six days (days 84 to 89) whatever was
        // stated; proposals close 5 days after their stated date.
        let mut deals = Vec::new();
        for i in 0..80 {
            let seen = i;
            deals.push(("negotiate", seen, seen + 10 + (i * 7) % 31, 84 + i % 6));
            deals.push(("propose", seen, seen + 20 + i % 30, seen + 25 + i % 30));
        }
        let (table, points) = tables(&deals);
        let negotiate = level(&points, COMPANY, "negotiate");
        assert!(
            negotiate
                .iter()
                .all(|&(s, a)| a == Anchor::QuarterEnd && (-5..=0).contains(&s)),
            "{negotiate:?}"
        );
        let propose = level(&points, COMPANY, "propose");
        assert!(
            propose
                .iter()
                .all(|&(s, a)| a == Anchor::StatedClose && s == 5),
            "{propose:?}"
        );
        assert_eq!(named_anchor(table, "negotiate"), "quarter end");
    }

    #[test]
    fn the_quarter_end_is_the_last_day_of_each_calendar_or_fiscal_quarter() {
        let ends = |year: FiscalYear| -> Vec<Option<NaiveDate>> {
            let days = [day(0), day(89), day(90), day(200), day(364)];
            let frame = DataFrame::new(5, vec![Column::new("d".into(), days)])
                .unwrap()
                .lazy()
                .select([quarter_end(col("d"), year).alias("end")])
                .collect()
                .unwrap();
            let ends = frame.column("end").unwrap().date().unwrap().clone();
            ends.phys
                .iter()
                .map(|d| d.map(quotecast_pipeline::from_epoch_days))
                .collect()
        };
        let dates = |days: [(i32, u32, u32); 5]| -> Vec<Option<NaiveDate>> {
            days.iter()
                .map(|(y, m, d)| NaiveDate::from_ymd_opt(*y, *m, *d))
                .collect()
        };
        // day(0) is 2026-01-01, day(89) March 31, day(90) April 1,
        // day(200) July 20, day(364) December 31.
        assert_eq!(
            ends(FiscalYear::CALENDAR),
            dates([
                (2026, 3, 31),
                (2026, 3, 31),
                (2026, 6, 30),
                (2026, 9, 30),
                (2026, 12, 31)
            ])
        );
        // A fiscal year from February: quarters end in January, April,
        // July and October.
        assert_eq!(
            ends(FiscalYear::parse("february").unwrap()),
            dates([
                (2026, 1, 31),
                (2026, 4, 30),
                (2026, 4, 30),
                (2026, 7, 31),
                (2027, 1, 31)
            ])
        );
    }

    #[test]
    fn a_deal_takes_the_points_of_its_stage_and_band_of_days_to_its_stated_close() {
        // Negotiations stated to close within two weeks slip 20 days;
        // those stated two to three months out close 40 days early.
        let mut deals = Vec::new();
        for i in 0..50 {
            deals.push(("negotiate", 0, 5 + i % 9, 25 + i % 9));
            deals.push(("negotiate", 0, 50 + i % 40, 10 + i % 40));
        }
        let (_, points) = tables(&deals);
        let near = level(&points, "east", "negotiate 0-14");
        let far = level(&points, "east", "negotiate 46-90");
        assert!(
            near.iter()
                .all(|&(s, a)| a == Anchor::StatedClose && s == 20),
            "{near:?}"
        );
        assert!(
            far.iter()
                .all(|&(s, a)| a == Anchor::StatedClose && s == -40),
            "{far:?}"
        );
        // Open deals seen from day 0 pick their band's level.
        let open = DataFrame::new(
            2,
            vec![
                Column::new(col::TEAM.into(), ["east", "east"]),
                Column::new(col::STAGE.into(), ["negotiate", "negotiate"]),
                Column::new("__stated".into(), [day(7), day(70)]),
                Column::new("deal".into(), [1u32, 2]),
            ],
        )
        .unwrap()
        .lazy();
        let spread = with_slip_points(open, &points, col("__stated"), lit(day(0)))
            .group_by([col("deal")])
            .agg([col(SHIFT_DAYS).mean(), col(SHARE).sum()])
            .sort(["deal"], SortMultipleOptions::default())
            .collect()
            .unwrap();
        let shifts: Vec<Option<f64>> = spread
            .column(SHIFT_DAYS)
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(shifts, [Some(20.0), Some(-40.0)]);
        let shares: Vec<Option<f64>> = spread
            .column(SHARE)
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .collect();
        for share in shares {
            assert!((share.unwrap() - 1.0).abs() < 1e-9);
        }
    }
}
