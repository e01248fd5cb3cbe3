//! Frame helpers every module may use: exact sums, collecting several
//! plans in one run, and past snapshots by date. A leaf: it
//! imports nothing from the crate but the error type.
use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_pipeline::columns as col;

use crate::ForecastError;

/// The sum of `values` added one by one in sorted order: the same values
/// give the same sum to the bit whatever order or chunks polars gathered
/// them in (a plan's id hashes the figures learned from such sums).
/// Polars' own `sum` adds in blocks whose bounds move with the chunks a
/// group arrives in, so even sorted values summed with it differed in
/// their last bits under load. It costs a sort per group, but keeps full
/// precision at any magnitude: the learned figures add values far below
/// a millionth (probabilities' squares, variances) and squared amounts
/// near what 38 digits hold at six decimals, which [`fixed_sum`] would
/// round away or lose. Sums of money and quantities over many rows use
/// [`fixed_sum`].
pub(crate) fn exact_sum(values: Expr) -> Expr {
    values
        .sort(SortOptions::default())
        .cum_sum(false)
        .last()
        .fill_null(lit(0.0))
}

/// The mean of `values` (nulls left out) from their [`exact_sum`], where
/// polars' `mean` adds them in whatever order they come (a group-by's
/// output order varies from run to run under load).
pub(crate) fn exact_mean(values: Expr) -> Expr {
    exact_sum(values.clone()) / values.count().cast(DataType::Float64)
}

/// The sum of float `values` the same to the bit whatever order polars
/// added them in, without sorting: each value is fixed to a millionth
/// (of a currency unit or a unit) and the fixed values are added exactly
/// as 38-digit decimals, whose sum does not depend on the order. For
/// sums over many rows (a snapshot's lines, or cells the streaming engine
/// gathers in any order) that are reported rounded to cents: two runs on
/// the same file must give the same cents.
pub(crate) fn fixed_sum(values: Expr) -> Expr {
    values
        .cast(DataType::Decimal(38, FIXED_DECIMALS))
        .sum()
        .cast(DataType::Float64)
}

/// The decimals [`fixed_sum`] keeps of each value.
const FIXED_DECIMALS: usize = 6;

/// Collects several plans over the same input in one run, so that polars
/// can share the work they have in common (one scan of the snapshot).
pub(crate) fn collect_together(plans: Vec<LazyFrame>) -> Result<Vec<DataFrame>, PolarsError> {
    collect_with(plans, Engine::Auto)
}

/// [`collect_together`] on polars' streaming engine, for a pass over a
/// whole snapshot: on the 10M-opportunity forecast it was a third faster
/// than the in-memory engine at a third of its peak memory
/// (forecastbench); on small frames the in-memory engine is faster.
pub(crate) fn collect_streaming(plans: Vec<LazyFrame>) -> Result<Vec<DataFrame>, PolarsError> {
    collect_with(plans, Engine::Streaming)
}

fn collect_with(plans: Vec<LazyFrame>, engine: Engine) -> Result<Vec<DataFrame>, PolarsError> {
    let opt = plans
        .first()
        .map(|p| p.get_current_optimizations())
        .unwrap_or_default();
    LazyFrame::collect_all_with_engine(
        plans.into_iter().map(|p| p.logical_plan).collect(),
        engine,
        opt,
    )
}

/// The distinct snapshot dates, oldest first.
pub(crate) fn snapshot_dates(snapshots: LazyFrame) -> Result<Vec<NaiveDate>, ForecastError> {
    let frame = snapshots
        .select([col(col::SNAPSHOT_DATE)
            .unique()
            .sort(SortOptions::default())])
        .collect()?;
    let days = frame
        .column(col::SNAPSHOT_DATE)?
        .cast(&DataType::Int32)?
        .i32()?
        .iter()
        .flatten()
        .map(quotecast_pipeline::from_epoch_days)
        .collect();
    Ok(days)
}

/// Past snapshots held in memory, split by the day each was taken: one
/// pass over the rows, where a filter per day reads them all once per day
/// (24 monthly snapshots, 12M rows: the filters took longer than the
/// models they fed).
pub(crate) struct PastSnapshots {
    /// Oldest first.
    days: Vec<(NaiveDate, DataFrame)>,
    /// The columns of an empty day.
    schema: Option<SchemaRef>,
}

impl PastSnapshots {
    /// Reads `snapshots` (the snapshot columns plus `snapshot_date`).
    /// Rows already in date order are sliced by day, not copied; others
    /// (an export in deal order) are made one chunk and gathered day by
    /// day, each day's rows in the file's order: on 12M rows in deal
    /// order, 2.3 s where a stable sort of the rows took 5.3 s (and
    /// gathering from the many chunks a Parquet read leaves as long).
    /// Rows without a date are left out.
    pub(crate) fn read(snapshots: LazyFrame) -> Result<Self, ForecastError> {
        let frame = snapshots.collect()?;
        let schema = Some(frame.schema().clone());
        let numbers: Vec<Option<i32>> = frame
            .column(col::SNAPSHOT_DATE)?
            .cast(&DataType::Int32)?
            .i32()?
            .iter()
            .collect();
        let day = quotecast_pipeline::from_epoch_days;
        let mut days = Vec::new();
        if numbers.is_sorted() {
            let mut start = 0;
            for run in numbers.chunk_by(|a, b| a == b) {
                if let Some(Some(number)) = run.first() {
                    days.push((day(*number), frame.slice(start as i64, run.len())));
                }
                start += run.len();
            }
        } else {
            let mut frame = frame;
            frame.rechunk_mut_par();
            let mut rows: std::collections::BTreeMap<i32, Vec<IdxSize>> = Default::default();
            for (i, number) in numbers.iter().enumerate() {
                if let Some(number) = number {
                    rows.entry(*number).or_default().push(i as IdxSize);
                }
            }
            for (number, rows) in rows {
                let rows = IdxCa::from_vec("rows".into(), rows);
                days.push((day(number), frame.take(&rows)?));
            }
        }
        Ok(PastSnapshots { days, schema })
    }

    /// The days snapshots were taken, oldest first.
    pub(crate) fn dates(&self) -> Vec<NaiveDate> {
        self.days.iter().map(|(day, _)| *day).collect()
    }

    /// The rows of the snapshot taken on `day` (none if there is none).
    pub(crate) fn taken_on(&self, day: NaiveDate) -> LazyFrame {
        match self.days.binary_search_by_key(&day, |(d, _)| *d) {
            Ok(i) => self.days[i].1.clone().lazy(),
            Err(_) => self.empty(),
        }
    }

    /// The rows of every snapshot taken by `day`.
    pub(crate) fn up_to(&self, day: NaiveDate) -> Result<LazyFrame, ForecastError> {
        let parts: Vec<LazyFrame> = self
            .days
            .iter()
            .take_while(|(d, _)| *d <= day)
            .map(|(_, frame)| frame.clone().lazy())
            .collect();
        if parts.is_empty() {
            return Ok(self.empty());
        }
        Ok(concat(parts, UnionArgs::default())?)
    }

    fn empty(&self) -> LazyFrame {
        match &self.schema {
            Some(schema) => DataFrame::empty_with_schema(schema).lazy(),
            None => DataFrame::empty().lazy(),
        }
    }
}

/// The first value of float column `name` of `frame`, if it has a row
/// (polars' `get` panics on an empty column rather than answering none).
pub(crate) fn first_float(frame: &DataFrame, name: &str) -> Option<f64> {
    let values = frame.column(name).ok()?.f64().ok()?;
    values.iter().next().flatten()
}

/// The numbers of column `name` of `frame` as floats, a missing value as
/// 0.
pub(crate) fn floats(frame: &DataFrame, name: &str) -> PolarsResult<Vec<f64>> {
    Ok(frame
        .column(name)?
        .cast(&DataType::Float64)?
        .f64()?
        .iter()
        .map(|v| v.unwrap_or(0.0))
        .collect())
}

/// `dates` as a list literal, for `is_in`.
pub(crate) fn date_list(dates: &[NaiveDate]) -> Expr {
    let days: Vec<i32> = dates
        .iter()
        .map(|d| quotecast_pipeline::epoch_days(*d))
        .collect();
    lit(Series::new("dates".into(), days)
        .cast(&DataType::Date)
        .unwrap_or_default())
    .implode(false)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn exact_sums_and_means_are_the_same_to_the_bit_whatever_the_rows_order_and_chunks() {
        // Values of very different sizes, so that the order of additions
        // shows in the last bits; two groups of 700 rows each.
        let values: Vec<f64> = (0..1400u32)
            .map(|i| {
                let x = f64::from((i * 7919) % 1009) + 0.1;
                x.powi(3) * 1e-7 + 1.0 / x
            })
            .collect();
        let groups: Vec<u32> = (0..1400).map(|i| i % 2).collect();
        let expected = |group: u32| {
            let mut own: Vec<f64> = values
                .iter()
                .zip(&groups)
                .filter(|(_, g)| **g == group)
                .map(|(v, _)| *v)
                .collect();
            own.sort_by(f64::total_cmp);
            let sum = own.iter().fold(0.0, |a, b| a + b);
            (sum, sum / own.len() as f64)
        };
        for (rotation, pieces) in [(0, 1), (333, 3), (901, 7), (1399, 13)] {
            let (mut v, mut g) = (values.clone(), groups.clone());
            v.rotate_left(rotation);
            g.rotate_left(rotation);
            let whole = df!("group" => g, "value" => v).unwrap();
            // The same rows in `pieces` chunks, as a join or a concat
            // hands them on.
            let step = whole.height().div_ceil(pieces);
            let parts: Vec<LazyFrame> = (0..pieces)
                .map(|k| whole.slice((k * step) as i64, step).lazy())
                .collect();
            let out = concat(parts, UnionArgs::default())
                .unwrap()
                .group_by([col("group")])
                .agg([
                    exact_sum(col("value")).alias("sum"),
                    exact_mean(col("value")).alias("mean"),
                ])
                .sort(["group"], SortMultipleOptions::default())
                .collect()
                .unwrap();
            for group in [0u32, 1] {
                let (sum, mean) = expected(group);
                let at = group as usize;
                assert_eq!(floats(&out, "sum").unwrap()[at].to_bits(), sum.to_bits());
                assert_eq!(floats(&out, "mean").unwrap()[at].to_bits(), mean.to_bits());
            }
        }
    }

    #[test]
    fn past_snapshots_out_of_date_order_are_split_by_day_oldest_first() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
        // Rows as an export ordered by opportunity has them.
        let dates = [2, 1, 3, 2, 1, 2].map(|d| quotecast_pipeline::epoch_days(day(d)));
        let frame = DataFrame::new(
            6,
            vec![
                Column::new(col::SNAPSHOT_DATE.into(), dates)
                    .cast(&DataType::Date)
                    .unwrap(),
                Column::new(col::OPPORTUNITY_ID.into(), ["a", "a", "a", "b", "b", "c"]),
            ],
        )
        .unwrap();
        let past = PastSnapshots::read(frame.lazy()).unwrap();
        assert_eq!(past.dates(), vec![day(1), day(2), day(3)]);
        let ids = |d: u32| -> Vec<String> {
            let taken = past.taken_on(day(d)).collect().unwrap();
            let ids = taken.column(col::OPPORTUNITY_ID).unwrap().str().unwrap();
            ids.iter().map(|s| s.unwrap_or("").to_owned()).collect()
        };
        // Each day's rows in the order they were read.
        assert_eq!(ids(1), ["a", "b"]);
        assert_eq!(ids(2), ["a", "b", "c"]);
        assert_eq!(ids(3), ["a"]);
        // A day without a snapshot has no rows but the same columns.
        let none = past.taken_on(day(4)).collect().unwrap();
        assert_eq!((none.height(), none.width()), (0, 2));
        assert_eq!(past.up_to(day(2)).unwrap().collect().unwrap().height(), 5);
    }
}
