//! What a forecast is asked for: the date it is made on, the period
//! buckets, the grouping, the currency and the win rates.
use std::fmt;

use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_model::{FiscalYear, Stage};
use quotecast_pipeline::columns as col;

/// The period a forecast figure belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Week,
    Month,
    Quarter,
}

impl Bucket {
    /// The first day of each date of `date`'s bucket (weeks start on
    /// Monday, quarters on the fiscal year's first month and every three
    /// months after).
    pub(crate) fn truncate(self, date: Expr, year: FiscalYear) -> Expr {
        match self {
            Bucket::Week => date.dt().truncate(lit("1w")),
            Bucket::Month => date.dt().truncate(lit("1mo")),
            // polars aligns "1q" on January; a fiscal year starting in
            // month m shifts the dates back m − 1 months, truncates and
            // shifts forward again (a month's last days land in the
            // shorter month before, which keeps its quarter).
            Bucket::Quarter => match year.first_month0() {
                0 => date.dt().truncate(lit("1q")),
                shift => date
                    .dt()
                    .offset_by(lit(format!("-{shift}mo")))
                    .dt()
                    .truncate(lit("1q"))
                    .dt()
                    .offset_by(lit(format!("{shift}mo"))),
            },
        }
    }

    /// The first day of the bucket holding `day`.
    pub fn start_of(self, day: NaiveDate, year: FiscalYear) -> NaiveDate {
        use chrono::Datelike;
        let first_of_month =
            |month0: u32| NaiveDate::from_ymd_opt(day.year(), month0 + 1, 1).unwrap_or(day);
        match self {
            Bucket::Week => {
                day - chrono::TimeDelta::days(i64::from(day.weekday().num_days_from_monday()))
            }
            Bucket::Month => first_of_month(day.month0()),
            Bucket::Quarter => {
                let into = (day.month0() + 12 - year.first_month0()) % 3;
                first_of_month(day.month0()) - chrono::Months::new(into)
            }
        }
    }

    /// The days from the first day of the bucket holding `day` to `day`
    /// (its place in the bucket: 0 on the first day).
    pub fn days_into(self, day: NaiveDate, year: FiscalYear) -> i64 {
        (day - self.start_of(day, year)).num_days()
    }

    /// The first day of the bucket after the one starting on `start`.
    pub fn next(self, start: NaiveDate) -> NaiveDate {
        match self {
            Bucket::Week => start + chrono::TimeDelta::days(7),
            Bucket::Month => start + chrono::Months::new(1),
            Bucket::Quarter => start + chrono::Months::new(3),
        }
    }

    /// The number of the bucket holding each date of `date` (consecutive
    /// buckets have consecutive numbers).
    pub(crate) fn index(self, date: Expr, year: FiscalYear) -> Expr {
        let months =
            || date.clone().dt().year() * lit(12) + date.clone().dt().month().cast(DataType::Int32);
        match self {
            Bucket::Week => ((date.clone().cast(DataType::Int32) + lit(3)).cast(DataType::Float64)
                / lit(7.0))
            .floor()
            .cast(DataType::Int32),
            Bucket::Month => months(),
            Bucket::Quarter => ((months() - lit(year.first_month0() as i32 + 1))
                .cast(DataType::Float64)
                / lit(3.0))
            .floor()
            .cast(DataType::Int32),
        }
    }

    pub fn parse(word: &str) -> Option<Bucket> {
        match word {
            "week" => Some(Bucket::Week),
            "month" => Some(Bucket::Month),
            "quarter" => Some(Bucket::Quarter),
            _ => None,
        }
    }
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Bucket::Week => "week",
            Bucket::Month => "month",
            Bucket::Quarter => "quarter",
        })
    }
}

/// A column a forecast can be grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Team,
    Region,
    Owner,
    ProductLine,
    Sku,
}

impl Dimension {
    pub const ALL: [Dimension; 5] = [
        Dimension::Team,
        Dimension::Region,
        Dimension::Owner,
        Dimension::ProductLine,
        Dimension::Sku,
    ];

    /// The snapshot column it groups by (also its name in results).
    pub fn column(self) -> &'static str {
        match self {
            Dimension::Team => col::TEAM,
            Dimension::Region => col::REGION,
            Dimension::Owner => col::OWNER,
            Dimension::ProductLine => col::PRODUCT_LINE,
            Dimension::Sku => col::SKU,
        }
    }

    pub fn parse(word: &str) -> Option<Dimension> {
        Self::ALL.into_iter().find(|d| d.column() == word)
    }
}

/// Exchange rates to the reporting currency: units of each currency per
/// unit of the reporting currency.
#[derive(Debug, Clone)]
pub struct RateTable {
    pub reporting_currency: String,
    /// Minor-unit digits of the reporting currency, for rounding results.
    pub scale: u32,
    pub per_reporting: Vec<(String, f64)>,
}

impl RateTable {
    /// Rates to the rules' corporate currency.
    pub fn from_rules(rules: &quotecast_model::RuleSet) -> RateTable {
        use rust_decimal::prelude::ToPrimitive;
        let corporate = rules.corporate_currency();
        RateTable {
            reporting_currency: corporate.code.to_string(),
            scale: corporate.scale,
            per_reporting: rules
                .currencies()
                .map(|c| {
                    (
                        c.code.to_string(),
                        c.per_corporate.to_f64().unwrap_or(f64::NAN),
                    )
                })
                .collect(),
        }
    }
}

/// Where the probability that an open deal is won comes from.
#[derive(Debug, Clone)]
pub enum WinRates {
    /// Each stage's default win rate from the rules.
    StageDefaults,
    /// Calibrated from history per team and stage (a team or stage the
    /// history lacks falls back to the company's rate, then the rules'),
    /// times the stage's stale factor for a deal past its time limit.
    Calibrated(Box<crate::CalibratedRates>),
}

/// A forecast request.
#[derive(Debug, Clone)]
pub struct ForecastSpec {
    /// The day the forecast is made; open deals whose expected close has
    /// passed are counted in the bucket holding this day.
    pub as_of: NaiveDate,
    pub bucket: Bucket,
    /// The month the fiscal year starts in: quarter buckets, the
    /// quarter-end slippage anchor and the same-point-of-quarter baseline
    /// follow it (from the rules).
    pub fiscal_year: FiscalYear,
    pub group_by: Vec<Dimension>,
    pub rates: RateTable,
    pub win_rates: WinRates,
    /// The funnel, from the rules.
    pub stages: Vec<Stage>,
    /// The team accuracy correction and slippage, when learned: adds the
    /// `corrected` column next to the raw `weighted` one.
    pub correction: Option<Box<crate::Correction>>,
    /// Without a correction (no past snapshots old enough): what deals
    /// not yet in the pipeline booked per team and horizon, learned from
    /// the days deals entered their first stage (the calendar's
    /// `not_yet_in_pipeline` columns, see `crate::first_seen`); the
    /// forecast adds them as it adds the calendar's.
    pub new_deal_history: Option<DataFrame>,
    /// Without a correction: when open deals close, learned from the days
    /// won deals in each stage took to close (slippage points counted
    /// from the forecast date, see `crate::first_seen`); their stated
    /// closes are not used.
    pub timing: Option<DataFrame>,
    /// Without a correction: per team (and `*`), what stated amounts
    /// booked on the deals won lately (`amount_factor`, see
    /// `crate::realisation`); `expected_bookings` scales open deals' value
    /// by it.
    pub amount_factors: Option<DataFrame>,
}

impl ForecastSpec {
    /// The first day of the bucket holding `day` (see [`Bucket::start_of`]).
    pub fn bucket_start(&self, day: NaiveDate) -> NaiveDate {
        self.bucket.start_of(day, self.fiscal_year)
    }

    /// The first day of each date's bucket (see [`Bucket::truncate`]).
    pub(crate) fn bucket_of(&self, date: Expr) -> Expr {
        self.bucket.truncate(date, self.fiscal_year)
    }

    /// The number of each date's bucket (see [`Bucket::index`]).
    pub(crate) fn bucket_index(&self, date: Expr) -> Expr {
        self.bucket.index(date, self.fiscal_year)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Every day of three years: the polars truncation and bucket number
    /// agree with `start_of`, and consecutive buckets have consecutive
    /// numbers.
    fn agree(bucket: Bucket, year: FiscalYear) -> Vec<NaiveDate> {
        let days: Vec<NaiveDate> = date(2025, 1, 1)
            .iter_days()
            .take_while(|d| *d < date(2028, 1, 1))
            .collect();
        let frame = DataFrame::new(days.len(), vec![Column::new("d".into(), days.clone())])
            .unwrap()
            .lazy()
            .select([
                bucket.truncate(col("d"), year).alias("start"),
                bucket.index(col("d"), year).alias("index"),
            ])
            .collect()
            .unwrap();
        let starts = frame.column("start").unwrap().date().unwrap().clone();
        let index = frame.column("index").unwrap().i32().unwrap().clone();
        let mut seen = Vec::new();
        for (k, day) in days.iter().enumerate() {
            let start = bucket.start_of(*day, year);
            let polars_start = starts.phys.get(k).map(quotecast_pipeline::from_epoch_days);
            assert_eq!(polars_start, Some(start), "{day}");
            if seen.last() != Some(&start) {
                if let Some(before) = seen.last() {
                    assert_eq!(bucket.next(*before), start);
                    assert_eq!(index.get(k), index.get(k - 1).map(|i| i + 1), "{day}");
                }
                seen.push(start);
            } else {
                assert_eq!(index.get(k), index.get(k - 1), "{day}");
            }
        }
        seen
    }

    #[test]
    fn fiscal_quarters_start_on_the_fiscal_years_first_month_and_every_three_after() {
        let february = FiscalYear::parse("February").unwrap();
        let starts = agree(Bucket::Quarter, february);
        assert_eq!(
            &starts[..5],
            [
                date(2024, 11, 1),
                date(2025, 2, 1),
                date(2025, 5, 1),
                date(2025, 8, 1),
                date(2025, 11, 1)
            ]
        );
        assert_eq!(
            Bucket::Quarter.start_of(date(2026, 1, 31), february),
            date(2025, 11, 1)
        );
        let calendar = agree(Bucket::Quarter, FiscalYear::CALENDAR);
        assert_eq!(&calendar[..2], [date(2025, 1, 1), date(2025, 4, 1)]);
        let december = agree(Bucket::Quarter, FiscalYear::starting(12).unwrap());
        assert_eq!(&december[..2], [date(2024, 12, 1), date(2025, 3, 1)]);
        agree(Bucket::Month, february);
        agree(Bucket::Week, february);
    }
}
