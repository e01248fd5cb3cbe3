//! A snapshot's lines made ready for every model: each line's stage facts
//! from the funnel (win rate, forecast category, open or won, time limit),
//! its value in the reporting currency, its close date and bucket, and its
//! calibrated win rate where history has one; and past deals' outcomes in
//! the reporting currency. Uses only the leaves ([`crate::columns`],
//! [`crate::frames`]), the specification and the correction's close-date
//! factors ([`crate::close_dates`]).
use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_model::{ForecastCategory, StageOutcome};
use quotecast_pipeline::columns as col;

use crate::{
    ForecastError, ForecastSpec, WinRates,
    close_dates::with_deal_factor,
    columns::{
        BUCKET, CALIBRATED, CATEGORY, CLOSE, COMPANY_RATE, DEAL_FACTOR, HORIZON, IN_STAGE_FROM,
        IS_OPEN, IS_WON, LIMIT, RATE, REALISED, VALUE, WIN_RATE,
    },
    deal_size::{STATED, sizes_matter},
    frames::fixed_sum,
};

/// The rules' default win rate per stage, 0 to 1.
pub(crate) fn win_rates(spec: &ForecastSpec) -> Vec<(String, f64)> {
    spec.stages
        .iter()
        .map(|s| {
            let percent: f64 = s.win_rate.0.try_into().unwrap_or(0.0);
            (s.id.clone(), percent / 100.0)
        })
        .collect()
}

/// Replaces the default win rate by the calibrated one where history has
/// it: the team's (else the company's) for the stage and the band of days
/// the deal has been in it, `in_stage_from` (see [`in_stage_from`]).
pub(crate) fn calibrated(lines: LazyFrame, spec: &ForecastSpec, in_stage_from: Expr) -> LazyFrame {
    let WinRates::Calibrated(rates) = &spec.win_rates else {
        return lines;
    };
    let team_rates = rates.table.clone().lazy().select([
        col(col::TEAM),
        col(col::STAGE),
        col(IN_STAGE_FROM),
        col(CALIBRATED),
    ]);
    let company = rates
        .table
        .clone()
        .lazy()
        .group_by([col(col::STAGE), col(IN_STAGE_FROM)])
        .agg([col(COMPANY_RATE).first()]);
    let keys = |with_team: bool| {
        let mut keys = vec![col(col::STAGE), col(IN_STAGE_FROM)];
        if with_team {
            keys.insert(0, col(col::TEAM));
        }
        keys
    };
    lines
        .with_column(in_stage_from.alias(IN_STAGE_FROM))
        .join(
            team_rates,
            keys(true),
            keys(true),
            JoinArgs::new(JoinType::Left),
        )
        .join(
            company,
            keys(false),
            keys(false),
            JoinArgs::new(JoinType::Left),
        )
        .with_column(
            col(CALIBRATED)
                .fill_null(col(COMPANY_RATE))
                .fill_null(col(WIN_RATE))
                .alias(WIN_RATE),
        )
}

/// The funnel as a small frame to join on: stage, win rate, category and
/// whether it is open or won.
fn stage_frame(spec: &ForecastSpec, rates: &[(String, f64)]) -> PolarsResult<DataFrame> {
    let stages = &spec.stages;
    DataFrame::new(
        stages.len(),
        vec![
            Column::new(
                col::STAGE.into(),
                stages.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                WIN_RATE.into(),
                rates.iter().map(|r| r.1).collect::<Vec<_>>(),
            ),
            Column::new(
                CATEGORY.into(),
                stages.iter().map(|s| s.category.name()).collect::<Vec<_>>(),
            ),
            Column::new(
                IS_OPEN.into(),
                stages.iter().map(|s| s.is_open()).collect::<Vec<_>>(),
            ),
            Column::new(
                LIMIT.into(),
                stages
                    .iter()
                    .map(|s| s.time_limit_days.map(i64::from))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                IS_WON.into(),
                stages
                    .iter()
                    .map(|s| s.outcome == Some(StageOutcome::Won))
                    .collect::<Vec<_>>(),
            ),
        ],
    )
}

/// The snapshot's rows of open and won deals, and those of the rest (lost,
/// or in a stage the funnel does not have).
pub(crate) fn by_stage_outcome(snapshot: LazyFrame, spec: &ForecastSpec) -> (LazyFrame, LazyFrame) {
    let counted: Vec<&str> = spec
        .stages
        .iter()
        .filter(|s| s.is_open() || s.outcome == Some(StageOutcome::Won))
        .map(|s| s.id.as_str())
        .collect();
    let in_forecast = col(col::STAGE)
        .is_in(
            lit(Series::new("stages".into(), counted)).implode(false),
            false,
        )
        .fill_null(lit(false));
    (
        snapshot.clone().filter(in_forecast.clone()),
        snapshot.filter(in_forecast.not()),
    )
}

/// The snapshot's lines with, per line: the win rate, the effective
/// forecast category, whether the deal is open or won, its value in the
/// reporting currency, and its bucket.
pub(crate) fn prepared(
    snapshot: LazyFrame,
    spec: &ForecastSpec,
) -> Result<(LazyFrame, Vec<(String, f64)>), ForecastError> {
    if spec.stages.is_empty() {
        return Err(ForecastError::NoStages);
    }
    let rates = win_rates(spec);
    let as_of = lit(spec.as_of).cast(DataType::Date);
    let close = when(col(IS_OPEN).and(col(col::EXPECTED_CLOSE).lt(as_of.clone())))
        .then(as_of)
        .otherwise(col(col::EXPECTED_CLOSE));
    let frame = with_funnel_and_rates(snapshot, spec, &rates)?
        .with_columns([
            (col(col::AMOUNT).cast(DataType::Float64) / col(RATE)).alias(VALUE),
            close.alias(CLOSE),
        ])
        .with_column(spec.bucket_of(col(CLOSE)).alias(BUCKET));
    // The correction's close-date and size factor of each line's deal (1
    // without one): the corrected forecast's win probability, not the
    // weighted's. A deal's size is the value of all its lines.
    let as_of = lit(spec.as_of).cast(DataType::Date);
    let frame = match spec.correction.as_deref() {
        Some(c) if sizes_matter(&c.size_factors) => {
            let sizes = frame
                .clone()
                .group_by([col(col::OPPORTUNITY_ID)])
                .agg([fixed_sum(col(VALUE)).alias(STATED)]);
            let frame = frame.join(
                sizes,
                [col(col::OPPORTUNITY_ID)],
                [col(col::OPPORTUNITY_ID)],
                JoinArgs::new(JoinType::Left),
            );
            with_deal_factor(frame, Some(c), as_of, col(STATED)).drop(cols([STATED]))
        }
        correction => with_deal_factor(frame, correction, as_of, col(VALUE)),
    };
    Ok((calibrated(frame, spec, in_stage_from(spec)), rates))
}

/// The columns of a snapshot line that [`prepared`] and
/// `corrected::deal_rows` tell a deal's rows apart by (besides the
/// result's groups): with its amount, all a deal's forecast is computed
/// from.
pub(crate) const DEAL_LINE_KEYS: [&str; 7] = [
    col::OPPORTUNITY_ID,
    col::TEAM,
    col::STAGE,
    col::STAGE_ENTERED,
    col::EXPECTED_CLOSE,
    col::FORECAST_CATEGORY,
    col::CURRENCY,
];

/// The snapshot's lines summed per run of lines alike in everything
/// [`prepared`] and the deal rows tell a deal's rows apart by (the deal,
/// its stage, dates, category and currency: [`DEAL_LINE_KEYS`]) and in
/// the columns of `groups` (the result's), amounts as exact decimals. A deal's lines come
/// together in an export and share all of that but their product, so the
/// funnel, rates and factors are joined per deal rather than per line (a
/// deal of the 200,000-opportunity snapshot has seven lines). Runs are
/// found by comparing each line with the one before, not by hashing the
/// ids; a file in another order only sums less here, since the deal
/// rows and [`open_deals`] sum a deal's rows again.
pub(crate) fn deal_lines(snapshot: LazyFrame, groups: &[&str]) -> LazyFrame {
    const RUN: &str = "__run";
    let changed = DEAL_LINE_KEYS
        .iter()
        .map(|k| col(*k).neq_missing(col(*k).shift(lit(1))))
        .reduce(|a, b| a.or(b))
        .unwrap_or(lit(true));
    let mut keys = vec![col(RUN)];
    let mut names: Vec<&str> = Vec::new();
    for &name in groups {
        if !DEAL_LINE_KEYS.contains(&name) && !names.contains(&name) {
            names.push(name);
            keys.push(col(name));
        }
    }
    let mut sums: Vec<Expr> = DEAL_LINE_KEYS.map(|k| col(k).first()).to_vec();
    sums.push(col(col::AMOUNT).sum());
    snapshot
        .with_column(
            changed
                .fill_null(lit(true))
                .cast(DataType::UInt32)
                .cum_sum(false)
                .alias(RUN),
        )
        .group_by(keys)
        .agg(sums)
        .drop(cols([RUN]))
}

/// What a deal's prepared lines share: its id, team, stage, stated and
/// effective close, bucket, win rate and deal factor.
pub(crate) const DEAL_COLUMNS: [&str; 8] = [
    col::OPPORTUNITY_ID,
    col::TEAM,
    col::STAGE,
    col::EXPECTED_CLOSE,
    CLOSE,
    BUCKET,
    WIN_RATE,
    DEAL_FACTOR,
];

/// The open deals of `prepared` lines: one row per opportunity (with the
/// team, stage, stated and effective close, bucket and win rate its lines
/// share), its [`VALUE`] the sum of its lines'. The amounts are summed as
/// the exact decimals they are and converted once, so a deal's value does
/// not depend on the order its lines were added in. What is computed
/// per deal from here on is done once where it was done per line (two to
/// seven lines a deal in the snapshots we have seen).
pub(crate) fn open_deals(lines: LazyFrame) -> LazyFrame {
    let shared = DEAL_COLUMNS.map(col);
    let mut keys = shared.to_vec();
    keys.push(col(RATE));
    let mut deal = shared.to_vec();
    deal.extend([
        (col(col::AMOUNT).cast(DataType::Float64) / col(RATE)).alias(VALUE),
        lit(true).alias(IS_OPEN),
        lit(false).alias(IS_WON),
    ]);
    lines
        .filter(col(IS_OPEN))
        .group_by(keys)
        .agg([col(col::AMOUNT).sum()])
        .select(deal)
}

/// `frame` (snapshot rows, or cells of them) with what the funnel says of
/// its stage (win rate, open, won, time limit), its currency's [`RATE`],
/// and [`CATEGORY`]: the row's forecast-category override, else its
/// stage's. A row its owner marked `omitted` is neither open nor won: it
/// is left out like a lost one.
pub(crate) fn with_funnel_and_rates(
    frame: LazyFrame,
    spec: &ForecastSpec,
    rates: &[(String, f64)],
) -> PolarsResult<LazyFrame> {
    let stages = stage_frame(spec, rates)?;
    let fx = fx_frame(spec)?;
    Ok(frame
        .join(
            stages.lazy(),
            [col(col::STAGE)],
            [col(col::STAGE)],
            JoinArgs::new(JoinType::Left),
        )
        .join(
            fx.lazy(),
            [col(col::CURRENCY)],
            [col(col::CURRENCY)],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(
            col(col::FORECAST_CATEGORY)
                .fill_null(col(CATEGORY))
                .alias(CATEGORY),
        )
        .with_columns(
            // An owner's `omitted` takes the deal out of the forecast.
            [IS_OPEN, IS_WON].map(|flag| {
                col(flag)
                    .and(col(CATEGORY).neq(lit(ForecastCategory::Omitted.name())))
                    .alias(flag)
            }),
        ))
}

/// Units of each currency per unit of the reporting currency, to join on
/// `currency`.
pub(crate) fn fx_frame(spec: &ForecastSpec) -> PolarsResult<DataFrame> {
    let fx = &spec.rates.per_reporting;
    DataFrame::new(
        fx.len(),
        vec![
            Column::new(
                col::CURRENCY.into(),
                fx.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(RATE.into(), fx.iter().map(|r| r.1).collect::<Vec<_>>()),
        ],
    )
}

/// The start of the calibrated rates' band of days in stage that a row's
/// deal is in on the forecast date: 0 without calibrated rates, or when
/// the snapshot does not say when the deal entered its stage.
pub(crate) fn in_stage_from(spec: &ForecastSpec) -> Expr {
    let WinRates::Calibrated(rates) = &spec.win_rates else {
        return lit(0i64);
    };
    let as_of = lit(spec.as_of).cast(DataType::Date);
    let days = (as_of - col(col::STAGE_ENTERED)).dt().total_days(false);
    rates
        .days_in_stage_from
        .iter()
        .skip(1)
        .fold(lit(0i64), |band, &from| {
            when(days.clone().gt_eq(lit(from)))
                .then(lit(from))
                .otherwise(band)
        })
}

/// The horizon of each row's `bucket` from the bucket holding `as_of`.
pub(crate) fn horizon_of(spec: &ForecastSpec) -> Expr {
    let start = lit(spec.bucket_start(spec.as_of)).cast(DataType::Date);
    (spec.bucket_index(col(BUCKET)) - spec.bucket_index(start)).alias(HORIZON)
}

/// Outcomes known by `as_of`, with the booked value in the reporting
/// currency (`realised`, 0 for a lost deal).
pub(crate) fn decided(
    outcomes: LazyFrame,
    spec: &ForecastSpec,
    as_of: NaiveDate,
) -> Result<LazyFrame, ForecastError> {
    let fx = fx_frame(spec)?;
    Ok(outcomes
        .filter(col(col::CLOSED).lt_eq(lit(as_of).cast(DataType::Date)))
        .join(
            fx.lazy(),
            [col(col::CURRENCY)],
            [col(col::CURRENCY)],
            JoinArgs::new(JoinType::Left),
        )
        .select([
            col(col::OPPORTUNITY_ID),
            col(col::TEAM),
            col(col::CLOSED),
            col(col::OUTCOME).eq(lit("won")).alias(IS_WON),
            when(col(col::OUTCOME).eq(lit("won")))
                .then(col(col::AMOUNT).cast(DataType::Float64) / col(RATE))
                .otherwise(lit(0.0))
                .alias(REALISED),
        ]))
}
