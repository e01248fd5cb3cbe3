//! The forecast's one pass over a snapshot: rows summed into cells before
//! anything is looked up.
//!
//! Everything the forecast needs from the funnel (win rate, forecast
//! category, open or won) and from the currency table (the rate) depends
//! on a row only through its stage and currency, and every figure is a sum
//! of amounts or quantities. So the pass groups the rows by what the
//! result is grouped by plus stage, currency, forecast-category override,
//! the bucket of the expected close date and whether that date has
//! passed, and sums amounts and quantities per cell; the lookups are then
//! joins on a few thousand cells instead of on every row. An amount's
//! conversion is linear, so converting a cell's sum is converting its rows.
use polars::prelude::*;
use quotecast_pipeline::columns as col;

use crate::{
    ForecastSpec, WinRates,
    columns::{BUCKET, DEALS, IS_OPEN, LINES, OPPORTUNITIES, RATE, VALUE},
    distinct::{OPPORTUNITY_START, OUT_OF_ORDER, RUN_START, runs_where},
    prepare::{calibrated, in_stage_from, win_rates, with_funnel_and_rates},
};

/// Per cell: the bucket of the expected close date, and whether that date
/// is before the forecast date.
const CLOSE_BUCKET: &str = "__close_bucket";
pub(crate) const PAST_DUE: &str = "__past_due";
/// Per cell (calibrated win rates only): the band of days in stage its
/// deals are in.
pub(crate) const IN_STAGE: &str = "__in_stage_from";

/// The plan of the pass: `rows` (with their run flags) summed per cell.
/// `line_keys` are the result's keys without the bucket, SKU included.
pub(crate) fn summed(rows: LazyFrame, spec: &ForecastSpec, line_keys: &[Expr]) -> LazyFrame {
    let as_of = lit(spec.as_of).cast(DataType::Date);
    let mut keys = vec![
        spec.bucket_of(col(col::EXPECTED_CLOSE)).alias(CLOSE_BUCKET),
        col(col::EXPECTED_CLOSE).lt(as_of).alias(PAST_DUE),
        col(col::STAGE),
        col(col::CURRENCY),
        col(col::FORECAST_CATEGORY),
    ];
    keys.extend(line_keys.iter().cloned());
    if matches!(spec.win_rates, WinRates::Calibrated(_)) {
        // Calibrated rates are per team and band of days in stage.
        if !spec.group_by.contains(&crate::Dimension::Team) {
            keys.push(col(col::TEAM));
        }
        keys.push(in_stage_from(spec).alias(IN_STAGE));
    }
    rows.group_by(keys).agg([
        len().cast(DataType::UInt64).alias(LINES),
        runs_where(OPPORTUNITY_START, None).alias(DEALS),
        runs_where(RUN_START, None).alias(OPPORTUNITIES),
        col(OUT_OF_ORDER)
            .sum()
            .cast(DataType::UInt64)
            .alias(OUT_OF_ORDER),
        // Amounts are decimals: summed as such, exactly and in any order.
        col(col::AMOUNT).sum().cast(DataType::Float64).alias(VALUE),
        col(col::QUANTITY)
            .cast(DataType::Float64)
            .sum()
            .alias(col::QUANTITY),
    ])
}

/// The summed cells with what the funnel and the rates say of them, as
/// `prepared` has it per row: win rate, category, open or won, value in
/// the reporting currency (null rate where the currency has none) and
/// bucket (an open deal past its date in the forecast date's bucket).
pub(crate) fn looked_up(cells: DataFrame, spec: &ForecastSpec) -> PolarsResult<LazyFrame> {
    let as_of_bucket = lit(spec.bucket_start(spec.as_of)).cast(DataType::Date);
    let frame = with_funnel_and_rates(cells.lazy(), spec, &win_rates(spec))?.with_columns([
        (col(VALUE) / col(RATE)).alias(VALUE),
        when(col(IS_OPEN).and(col(PAST_DUE)))
            .then(as_of_bucket)
            .otherwise(col(CLOSE_BUCKET))
            .alias(BUCKET),
    ]);
    Ok(calibrated(frame, spec, col(IN_STAGE)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    //! The pass over cells gives what the per-row path (`prepared`, which
    //! the Monte Carlo and the correction use) gives, row by row summed.
    use polars::prelude::*;
    use quotecast_pipeline::columns as col;

    use crate::{
        Bucket, Calibration, Dimension, ForecastSpec, RateTable, WinRates, calibrate,
        columns::{BUCKET, IS_OPEN, IS_WON, VALUE, WIN_RATE},
        forecast,
        prepare::prepared,
        test_common as common,
        weighted::WEIGHTED,
    };

    /// Weighted amount per (bucket, region) from `prepared` rows.
    fn per_row(pipeline: LazyFrame, spec: &ForecastSpec) -> Vec<(i32, String, f64)> {
        let (rows, _) = prepared(pipeline, spec).unwrap();
        let frame = rows
            .filter(col(IS_OPEN).or(col(IS_WON)))
            .with_column(
                when(col(IS_WON))
                    .then(col(VALUE))
                    .otherwise(col(VALUE) * col(WIN_RATE))
                    .alias(WEIGHTED),
            )
            .group_by([col(BUCKET), col(col::REGION)])
            .agg([col(WEIGHTED).sum()])
            .sort([BUCKET, col::REGION], SortMultipleOptions::default())
            .collect()
            .unwrap();
        rows_of(&frame)
    }

    fn rows_of(frame: &DataFrame) -> Vec<(i32, String, f64)> {
        let bucket = frame
            .column(BUCKET)
            .unwrap()
            .date()
            .unwrap()
            .physical()
            .clone();
        let region = frame.column(col::REGION).unwrap().str().unwrap().clone();
        let weighted = frame.column(WEIGHTED).unwrap().f64().unwrap().clone();
        (0..frame.height())
            .map(|i| {
                (
                    bucket.get(i).unwrap(),
                    region.get(i).unwrap().to_owned(),
                    weighted.get(i).unwrap(),
                )
            })
            .collect()
    }

    fn assert_same(cells: &[(i32, String, f64)], rows: &[(i32, String, f64)]) {
        assert_eq!(cells.len(), rows.len());
        for (c, r) in cells.iter().zip(rows) {
            assert_eq!((c.0, &c.1), (r.0, &r.1));
            // The cells' figure is rounded to the cent.
            assert!(
                (c.2 - r.2).abs() <= 0.005 + 1e-9 * r.2.abs(),
                "{c:?} vs {r:?}"
            );
        }
    }

    #[test]
    fn cells_agree_with_rows_for_default_and_calibrated_win_rates() {
        let world = common::world(11);
        let data = common::generated(&world, 11, 3_000, 0);
        let rules = common::rules();
        let mut spec = ForecastSpec {
            as_of: common::as_of(),
            bucket: Bucket::Month,
            fiscal_year: quotecast_model::FiscalYear::CALENDAR,
            // Not by team: calibrated rates still differ per team.
            group_by: vec![Dimension::Region],
            rates: RateTable {
                reporting_currency: "USD".into(),
                scale: 2,
                per_reporting: vec![("USD".into(), 1.0)],
            },
            win_rates: WinRates::StageDefaults,
            stages: rules.stages().to_vec(),
            correction: None,
            new_deal_history: None,
            timing: None,
            amount_factors: None,
        };
        let by_cells = |spec: &ForecastSpec| {
            let f = forecast(data.pipeline.clone(), spec).unwrap();
            rows_of(&f.amounts)
        };
        let defaults = by_cells(&spec);
        assert_same(&defaults, &per_row(data.pipeline.clone(), &spec));

        let rates = calibrate(
            data.stage_events.clone(),
            data.outcomes.clone(),
            vec![data.pipeline.clone()],
            &spec.stages,
            &Calibration {
                as_of: common::as_of(),
                maturity_days: 180,
                prior_strength: None,
            },
        )
        .unwrap();
        spec.win_rates = WinRates::Calibrated(Box::new(rates));
        let calibrated = by_cells(&spec);
        assert_same(&calibrated, &per_row(data.pipeline.clone(), &spec));
        // The calibration changed the figures (so the comparison above
        // covered the per-team and stale-deal lookups).
        let total = |v: &[(i32, String, f64)]| v.iter().map(|r| r.2).sum::<f64>();
        assert!((total(&calibrated) / total(&defaults) - 1.0).abs() > 0.01);
    }
}
