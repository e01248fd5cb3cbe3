//! Close-date factors: what the distance to a deal's stated close says
//! about its chance, beyond its stage.
//!
//! Per stage and band of days from the snapshot to the deal's stated
//! expected close (past due, 0–14, 15–45, 46–90, 91 and more), the deals
//! open on matured past snapshots realised so much over what their win
//! rates said; over the same ratio for all deals, that is the band's
//! factor on the win probability of the deals in it today. Where owners'
//! dates carry nothing, every band's ratio is the company's and the
//! factors are 1; where they do, history shows it: on the generated
//! histories a qualifying deal whose owner expects it within two weeks
//! (a date already pushed) won 1 % of the time, one expected in two to
//! three months 23 %, against 7 % for the stage. Each factor is shrunk
//! towards 1 by its deals (z = n / (n + [`SHRINK_DEALS`])) and kept
//! within [`BOUNDS`]; the adjusted probability is kept below
//! [`MAX_PROBABILITY`] (an open deal is never certain).
use polars::prelude::*;
use quotecast_pipeline::columns as col;

use crate::{
    Correction, ForecastError,
    columns::{DEAL_FACTOR, REALISED, WIN_RATE},
    deal_size::{SIZE_FACTOR, with_size_factor},
    frames::{fixed_sum, floats},
};

/// The band of days from the forecast date to the stated close.
pub const DAYS_TO_CLOSE: &str = "days_to_close";
pub const OBSERVATIONS: &str = "observations";
pub const FORECAST: &str = "forecast";
pub const RATIO: &str = "ratio";
pub const CLOSE_FACTOR: &str = "close_factor";
/// Where each band starts, in days (the first holds every date before
/// the forecast date), with its label.
const BANDS: [(i64, &str); 5] = [
    (i64::MIN, "past due"),
    (0, "0-14"),
    (15, "15-45"),
    (46, "46-90"),
    (91, "91+"),
];
/// Deals at which a band's own ratio gets half the weight.
pub const SHRINK_DEALS: f64 = 200.0;
const BOUNDS: (f64, f64) = (0.1, 10.0);
pub const MAX_PROBABILITY: f64 = 0.99;

/// The band of `expected_close` (a date) seen from `as_of` (a date).
pub(crate) fn band(expected_close: Expr, as_of: Expr) -> Expr {
    let days = (expected_close - as_of).dt().total_days(false);
    // From the last band back: a day before the next band's start is in
    // this one.
    BANDS
        .windows(2)
        .rev()
        .fold(lit(BANDS[BANDS.len() - 1].1), |later, pair| {
            when(days.clone().lt(lit(pair[1].0)))
                .then(lit(pair[0].1))
                .otherwise(later)
        })
}

/// `frame` (with the stage and the stated expected close of each row)
/// with [`CLOSE_FACTOR`]: its stage and band's in `factors` (see
/// [`close_factors`]; 1 where it has none, or when it is empty) seen from
/// `as_of`.
pub(crate) fn with_close_factor(frame: LazyFrame, factors: &DataFrame, as_of: Expr) -> LazyFrame {
    if factors.height() == 0 {
        return frame.with_column(lit(1.0).alias(CLOSE_FACTOR));
    }
    let keys = [col(col::STAGE), col(DAYS_TO_CLOSE)];
    frame
        .with_column(band(col(col::EXPECTED_CLOSE), as_of).alias(DAYS_TO_CLOSE))
        .join(
            factors
                .clone()
                .lazy()
                .select([col(col::STAGE), col(DAYS_TO_CLOSE), col(CLOSE_FACTOR)]),
            keys.clone(),
            keys,
            JoinArgs::new(JoinType::Left),
        )
        .with_column(col(CLOSE_FACTOR).fill_null(lit(1.0)))
        .drop(cols([DAYS_TO_CLOSE]))
}

/// `frame` (rows with a team, stage and stated expected close, and the
/// stated value of their deal in `deal_value`) with [`DEAL_FACTOR`]: the
/// close-date factor seen from `as_of` times the deal-size factor of
/// `correction` (1 without one).
pub(crate) fn with_deal_factor(
    frame: LazyFrame,
    correction: Option<&Correction>,
    as_of: Expr,
    deal_value: Expr,
) -> LazyFrame {
    let Some(c) = correction else {
        return frame.with_column(lit(1.0).alias(DEAL_FACTOR));
    };
    let frame = with_close_factor(frame, &c.close_factors, as_of);
    with_size_factor(frame, &c.size_factors, deal_value)
        .with_column((col(CLOSE_FACTOR) * col(SIZE_FACTOR)).alias(DEAL_FACTOR))
        .drop(cols([CLOSE_FACTOR, SIZE_FACTOR]))
}

/// A row's win probability with its [`DEAL_FACTOR`]: the win rate where
/// the factor is 1, else their product within 0 and [`MAX_PROBABILITY`].
pub(crate) fn adjusted_probability() -> Expr {
    when(col(DEAL_FACTOR).eq(lit(1.0)))
        .then(col(WIN_RATE))
        .otherwise(
            (col(WIN_RATE) * col(DEAL_FACTOR))
                .clip(lit(0.0), lit(MAX_PROBABILITY))
                .cast(DataType::Float64),
        )
}

/// The plan of the close-date tallies of observed past deals (each with
/// its stage, stated expected close, the snapshot day `as_of` reads it
/// from, its forecast then in `forecast` and what it realised): per stage
/// and band, the deals, their forecast and what they realised.
pub(crate) fn tally_plan(observed: LazyFrame, snapshot_day: Expr) -> LazyFrame {
    observed
        .with_column(band(col(col::EXPECTED_CLOSE), snapshot_day).alias(DAYS_TO_CLOSE))
        .group_by([col(col::STAGE), col(DAYS_TO_CLOSE)])
        .agg([
            len().cast(DataType::UInt64).alias(OBSERVATIONS),
            fixed_sum(col(FORECAST)).round(2, RoundMode::HalfToEven),
            fixed_sum(col(REALISED)).round(2, RoundMode::HalfToEven),
        ])
        .sort([col::STAGE, DAYS_TO_CLOSE], SortMultipleOptions::default())
}

/// The factors from the collected [`tally_plan`]: per stage and band its
/// tallies, `ratio` (its realised over forecast, over all deals' ratio)
/// and [`CLOSE_FACTOR`] (the ratio shrunk towards 1 by deals, within
/// bounds, rounded to 10⁻⁶ so the same history gives the same factors).
pub(crate) fn close_factors(tallies: &DataFrame) -> Result<DataFrame, ForecastError> {
    let floats = |name: &str| floats(tallies, name);
    let (deals, forecast, realised) = (floats(OBSERVATIONS)?, floats(FORECAST)?, floats(REALISED)?);
    let total: f64 = forecast.iter().sum();
    let company = match total > 0.0 {
        true => realised.iter().sum::<f64>() / total,
        false => 1.0,
    };
    let mut ratios = Vec::with_capacity(deals.len());
    let mut factors = Vec::with_capacity(deals.len());
    for i in 0..deals.len() {
        let ratio = match forecast[i] > 0.0 && company > 0.0 {
            true => realised[i] / forecast[i] / company,
            false => 1.0,
        };
        let z = deals[i] / (deals[i] + SHRINK_DEALS);
        let factor = (1.0 + z * (ratio - 1.0)).clamp(BOUNDS.0, BOUNDS.1);
        ratios.push(ratio);
        factors.push((factor * 1e6).round() / 1e6);
    }
    let mut columns = tallies.columns().to_vec();
    columns.push(Column::new(RATIO.into(), ratios));
    columns.push(Column::new(CLOSE_FACTOR.into(), factors));
    Ok(DataFrame::new(tallies.height(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_follow_the_days_to_the_stated_close() {
        let as_of = chrono::NaiveDate::from_ymd_opt(2026, 1, 10).unwrap();
        let days = [-3i64, 0, 14, 15, 45, 46, 90, 91, 400];
        let closes: Vec<chrono::NaiveDate> = days
            .iter()
            .map(|d| as_of + chrono::TimeDelta::days(*d))
            .collect();
        let frame = df!("close" => closes).unwrap();
        let banded = frame
            .lazy()
            .select([band(col("close"), lit(as_of)).alias("band")])
            .collect()
            .unwrap();
        let labels: Vec<&str> = banded
            .column("band")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|s| s.unwrap())
            .collect();
        assert_eq!(
            labels,
            [
                "past due", "0-14", "0-14", "15-45", "15-45", "46-90", "46-90", "91+", "91+"
            ]
        );
    }

    #[test]
    fn factors_are_band_ratios_over_the_company_shrunk_by_deals() {
        let tallies = df!(
            "stage" => ["qualify", "qualify", "qualify"],
            DAYS_TO_CLOSE => ["0-14", "46-90", "91+"],
            OBSERVATIONS => [20_000u64, 2_000, 0],
            FORECAST => [1_400.0, 140.0, 0.0],
            REALISED => [280.0, 460.0, 0.0],
        )
        .unwrap();
        let f = close_factors(&tallies).unwrap();
        let factor: Vec<f64> = f
            .column(CLOSE_FACTOR)
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .map(|v| v.unwrap())
            .collect();
        // All deals: 740 / 1540. The near band's ratio is 0.2 / 0.48 =
        // 0.416, nearly all of it kept; the far band's 3.29 / 0.48 = 6.8,
        // kept at 2000 / 2200; a band without deals stays at 1.
        let company = 740.0 / 1540.0;
        let near = 1.0 + (20_000.0 / 20_200.0) * (0.2 / company - 1.0);
        let far = 1.0 + (2_000.0 / 2_200.0) * (460.0 / 140.0 / company - 1.0);
        assert!((factor[0] - near).abs() < 1e-6, "{factor:?}");
        assert!((factor[1] - far).abs() < 1e-6, "{factor:?}");
        assert_eq!(factor[2], 1.0);
    }
}
