//! `ForecastService` requests to forecast options, and result tables to
//! streamed table parts.
use chrono::NaiveDate;
use polars::prelude::{AnyValue, DataFrame, DataType};
use quotecast_forecast::{BacktestOptions, Bucket, Dimension, ForecastOptions, Simulation};
use quotecast_pipeline::store::check_name;
use rust_decimal::{Decimal, RoundingStrategy, prelude::FromPrimitive};

use crate::{
    FieldViolation, ServerError,
    convert::parse_date,
    pb::{self, ColumnKind},
};

/// The most Monte Carlo trials a request may ask for.
pub const MAX_TRIALS: u32 = 100_000;
/// A backtest's Monte Carlo trials per date: the default and the most.
pub const BACKTEST_TRIALS: u32 = 500;
pub const MAX_BACKTEST_TRIALS: u32 = 10_000;
/// Rows per streamed batch.
pub const ROWS_PER_BATCH: usize = 1_000;
/// Decimal places of non-money figures.
const NUMBER_PLACES: u32 = 4;

fn violation(field: &str, description: impl Into<String>) -> FieldViolation {
    FieldViolation {
        field: field.to_owned(),
        description: description.into(),
    }
}

/// A pipeline name from a request field (required).
pub(crate) fn pipeline_name(field: &str, name: &str, out: &mut Vec<FieldViolation>) -> String {
    let name = name.trim();
    if name.is_empty() {
        out.push(violation(
            field,
            "is required: the name of a stored pipeline",
        ));
    } else if let Err(e) = check_name(name) {
        out.push(violation(field, e.to_string()));
    }
    name.to_owned()
}

fn bucket(field: &str, value: i32, out: &mut Vec<FieldViolation>) -> Bucket {
    match pb::Bucket::try_from(value) {
        Ok(pb::Bucket::Unspecified | pb::Bucket::Month) => Bucket::Month,
        Ok(pb::Bucket::Week) => Bucket::Week,
        Ok(pb::Bucket::Quarter) => Bucket::Quarter,
        Err(_) => {
            out.push(violation(field, format!("unknown bucket {value}")));
            Bucket::Month
        }
    }
}

fn prior_strength(field: &str, value: f64, out: &mut Vec<FieldViolation>) -> Option<f64> {
    if value == 0.0 {
        None
    } else if value.is_finite() && value > 0.0 {
        Some(value)
    } else {
        out.push(violation(field, "must be a positive number (0: estimated)"));
        None
    }
}

fn done<T>(value: T, violations: Vec<FieldViolation>) -> Result<T, ServerError> {
    if violations.is_empty() {
        Ok(value)
    } else {
        Err(ServerError::InvalidArgument(violations))
    }
}

/// A checked `ForecastRequest`.
pub struct ForecastJob {
    pub pipeline: String,
    pub history: Option<String>,
    pub options: ForecastOptions,
    /// Book the won orders accepted from this day to `as_of` as closed
    /// won.
    pub won_orders_since: Option<NaiveDate>,
}

impl TryFrom<(&pb::ForecastRequest, NaiveDate)> for ForecastJob {
    type Error = ServerError;

    fn try_from((r, today): (&pb::ForecastRequest, NaiveDate)) -> Result<Self, ServerError> {
        let mut v = Vec::new();
        let pipeline = pipeline_name("pipeline", &r.pipeline, &mut v);
        let history = if r.history.trim().is_empty() {
            None
        } else {
            Some(pipeline_name("history", &r.history, &mut v))
        };
        let mut group_by = Vec::new();
        for (i, word) in r.group_by.iter().enumerate() {
            match Dimension::parse(word.trim()) {
                Some(d) if group_by.contains(&d) => v.push(violation(
                    &format!("group_by[{i}]"),
                    format!("`{word}` twice"),
                )),
                Some(d) => group_by.push(d),
                None => v.push(violation(
                    &format!("group_by[{i}]"),
                    format!("`{word}` is not one of team, region, owner, product_line, sku"),
                )),
            }
        }
        if r.trials > MAX_TRIALS {
            v.push(violation(
                "trials",
                format!("{} is more than the {MAX_TRIALS} allowed", r.trials),
            ));
        }
        let options = ForecastOptions {
            as_of: parse_date("as_of", &r.as_of, today, &mut v).unwrap_or(today),
            bucket: bucket("bucket", r.bucket, &mut v),
            group_by,
            prior_strength: prior_strength("prior_strength", r.prior_strength, &mut v),
            simulation: Simulation {
                trials: r.trials,
                seed: r.seed,
                ..Simulation::default()
            },
        };
        let since = r.won_orders_since.trim();
        let won_orders_since = match (r.won_orders, since.is_empty()) {
            (false, true) => None,
            (false, false) => {
                v.push(violation(
                    "won_orders_since",
                    "is only read with won_orders set",
                ));
                None
            }
            (true, _) => {
                let start = quarter_start(options.as_of);
                let day = parse_date("won_orders_since", since, start, &mut v).unwrap_or(start);
                if day > options.as_of {
                    v.push(violation(
                        "won_orders_since",
                        format!("{day} is after as_of {}", options.as_of),
                    ));
                }
                Some(day)
            }
        };
        done(
            ForecastJob {
                pipeline,
                history,
                options,
                won_orders_since,
            },
            v,
        )
    }
}

/// The first day of the calendar quarter `day` is in.
fn quarter_start(day: NaiveDate) -> NaiveDate {
    use chrono::Datelike;
    let month = (day.month0() / 3) * 3 + 1;
    NaiveDate::from_ymd_opt(day.year(), month, 1).unwrap_or(day)
}

/// A checked `FunnelRequest`: the pipeline and the day.
pub fn funnel_job(
    r: &pb::FunnelRequest,
    today: NaiveDate,
) -> Result<(String, NaiveDate), ServerError> {
    let mut v = Vec::new();
    let pipeline = pipeline_name("pipeline", &r.pipeline, &mut v);
    let as_of = parse_date("as_of", &r.as_of, today, &mut v).unwrap_or(today);
    done((pipeline, as_of), v)
}

/// A checked `BacktestRequest`.
pub fn backtest_job(
    r: &pb::BacktestRequest,
    today: NaiveDate,
) -> Result<(String, BacktestOptions), ServerError> {
    let mut v = Vec::new();
    let pipeline = pipeline_name("pipeline", &r.pipeline, &mut v);
    let horizon = match r.horizon {
        0 => 3,
        h if h > 24 => {
            v.push(violation(
                "horizon",
                format!("{h} buckets is more than the 24 allowed"),
            ));
            3
        }
        h => h,
    };
    let trials = match r.trials {
        0 => BACKTEST_TRIALS,
        t if t > MAX_BACKTEST_TRIALS => {
            v.push(violation(
                "trials",
                format!("{t} is more than the {MAX_BACKTEST_TRIALS} allowed per date"),
            ));
            BACKTEST_TRIALS
        }
        t => t,
    };
    let options = BacktestOptions {
        as_of: parse_date("as_of", &r.as_of, today, &mut v).unwrap_or(today),
        bucket: bucket("bucket", r.bucket, &mut v),
        horizon,
        prior_strength: prior_strength("prior_strength", r.prior_strength, &mut v),
        trials,
        cancel: Default::default(),
    };
    done((pipeline, options), v)
}

/// How a result column is reported: money in the reporting currency, or
/// a number with its unit.
pub(crate) fn number_unit(column: &str) -> &'static str {
    if column.contains("days") {
        "days"
    } else if column.contains("quantity") {
        "units"
    } else if column.contains("points") {
        "points"
    } else if column.contains("deals") {
        "deals"
    } else if column == "entries" || column == "wins" {
        "stage entries"
    } else if column.contains("variance") {
        "relative variance"
    } else if [
        "probability",
        "conversion",
        "share",
        "brier",
        "rate",
        "credibility",
    ]
    .iter()
    .any(|w| column.contains(w))
    {
        "probability"
    } else {
        "ratio"
    }
}

/// A result table, described for the wire: which of its float columns
/// are money (in `currency`, rounded to `scale` places).
pub struct WireTable<'a> {
    pub name: &'a str,
    pub frame: &'a DataFrame,
    pub money: &'a [&'a str],
    pub currency: &'a str,
    pub scale: u32,
    /// The unit of a number column, by its name.
    pub unit_of: fn(&str) -> &'static str,
}

fn column_kind(dtype: &DataType, money: bool) -> ColumnKind {
    match dtype {
        DataType::String => ColumnKind::Text,
        DataType::Date => ColumnKind::Date,
        d if d.is_integer() => ColumnKind::Count,
        DataType::Boolean => ColumnKind::Text,
        _ if money => ColumnKind::Amount,
        _ => ColumnKind::Number,
    }
}

/// `value` as a decimal string with exactly `places` decimals ("" for a
/// value that is not a finite number).
pub fn rounded(value: f64, places: u32) -> String {
    Decimal::from_f64(value)
        .map(|d| {
            let mut d = d.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
            d.rescale(places);
            d.to_string()
        })
        .unwrap_or_default()
}

/// A probability rounded to 4 decimals, for the summary.
pub fn probability(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

/// How a column's values are written: floats rounded to `places`; exact
/// decimals that are not money without trailing zeros (`124`, not
/// `124.000000`).
#[derive(Clone, Copy)]
struct CellFormat {
    places: u32,
    trim: bool,
}

fn cell(value: AnyValue<'_>, format: CellFormat) -> String {
    match value {
        AnyValue::Null => String::new(),
        AnyValue::Float64(v) => rounded(v, format.places),
        AnyValue::Float32(v) => rounded(f64::from(v), format.places),
        AnyValue::String(s) => s.to_owned(),
        AnyValue::StringOwned(s) => s.to_string(),
        other => {
            let text = other.str_value();
            match format.trim.then(|| text.parse::<Decimal>().ok()).flatten() {
                Some(exact) => exact.normalize().to_string(),
                None => text.into_owned(),
            }
        }
    }
}

impl WireTable<'_> {
    /// The header, then the rows in batches of [`ROWS_PER_BATCH`].
    pub fn parts(&self) -> Result<(pb::TableHeader, Vec<pb::RowBatch>), ServerError> {
        let columns = self.frame.columns();
        let mut header = pb::TableHeader {
            name: self.name.to_owned(),
            columns: Vec::with_capacity(columns.len()),
            rows: self.frame.height() as u64,
        };
        let mut places = Vec::with_capacity(columns.len());
        for c in columns {
            let name = c.name().as_str();
            let is_money = self.money.contains(&name);
            let kind = column_kind(c.dtype(), is_money);
            let unit = match kind {
                ColumnKind::Amount => self.currency,
                ColumnKind::Number => (self.unit_of)(name),
                _ => "",
            };
            places.push(CellFormat {
                places: if is_money { self.scale } else { NUMBER_PLACES },
                trim: !is_money && matches!(c.dtype(), DataType::Decimal(..)),
            });
            header.columns.push(pb::Column {
                name: name.to_owned(),
                kind: kind as i32,
                unit: unit.to_owned(),
            });
        }
        let mut batches = Vec::new();
        let mut rows = Vec::with_capacity(ROWS_PER_BATCH.min(self.frame.height()));
        for r in 0..self.frame.height() {
            let mut values = Vec::with_capacity(columns.len());
            for (c, &p) in columns.iter().zip(&places) {
                let value = c.get(r).map_err(|e| ServerError::Internal(e.to_string()))?;
                values.push(cell(value, p));
            }
            rows.push(pb::Row { values });
            if rows.len() == ROWS_PER_BATCH {
                batches.push(pb::RowBatch {
                    rows: std::mem::take(&mut rows),
                });
            }
        }
        if !rows.is_empty() {
            batches.push(pb::RowBatch { rows });
        }
        Ok((header, batches))
    }
}

#[cfg(test)]
mod tests {
    use super::rounded;

    #[test]
    fn figures_keep_every_decimal_of_their_scale() {
        assert_eq!(rounded(13_142_195.1, 2), "13142195.10");
        assert_eq!(rounded(0.0, 2), "0.00");
        assert_eq!(rounded(2.675, 2), "2.68");
        assert_eq!(rounded(-0.125, 2), "-0.13");
        assert_eq!(rounded(0.58039011, 4), "0.5804");
        assert_eq!(rounded(f64::NAN, 2), "");
    }
}
