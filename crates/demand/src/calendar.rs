//! The planning calendar: buckets of a week (Monday to Sunday) or a
//! calendar month from the one holding the plan date, for a horizon.
use chrono::{Datelike, Days, Months, NaiveDate};

use crate::DemandError;

/// The most buckets a plan may have (ten years of weeks).
pub const MAX_BUCKETS: u32 = 520;

/// The length of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Week,
    Month,
}

impl Period {
    pub fn name(self) -> &'static str {
        match self {
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "week" => Some(Self::Week),
            "month" => Some(Self::Month),
            _ => None,
        }
    }

    /// Days in a bucket, on average (for √LT in the textbook formula).
    pub fn days(self) -> f64 {
        match self {
            Self::Week => 7.0,
            Self::Month => 365.25 / 12.0,
        }
    }
}

/// Where a date falls in the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Before the plan date: needed now, late already.
    PastDue,
    In(usize),
    /// After the horizon.
    Beyond,
}

/// Buckets from the one holding `as_of`, `buckets` of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    pub as_of: NaiveDate,
    pub period: Period,
    starts: Vec<NaiveDate>,
}

impl Calendar {
    pub fn new(as_of: NaiveDate, period: Period, buckets: u32) -> Result<Self, DemandError> {
        if buckets == 0 || buckets > MAX_BUCKETS {
            return Err(DemandError::Invalid(format!(
                "the horizon must be 1 to {MAX_BUCKETS} buckets, not {buckets}"
            )));
        }
        let first = match period {
            Period::Week => as_of - Days::new(u64::from(as_of.weekday().num_days_from_monday())),
            Period::Month => as_of.with_day(1).unwrap_or(as_of),
        };
        let mut starts = Vec::with_capacity(buckets as usize + 1);
        for b in 0..=buckets {
            let start = match period {
                Period::Week => first.checked_add_days(Days::new(7 * u64::from(b))),
                Period::Month => first.checked_add_months(Months::new(b)),
            };
            let Some(start) = start else {
                return Err(DemandError::Invalid(format!(
                    "the horizon from {as_of} runs past the last date the calendar knows"
                )));
            };
            starts.push(start);
        }
        Ok(Self {
            as_of,
            period,
            starts,
        })
    }

    pub fn buckets(&self) -> usize {
        self.starts.len() - 1
    }

    /// The first day of bucket `b`.
    pub fn start(&self, b: usize) -> NaiveDate {
        self.starts[b.min(self.starts.len() - 1)]
    }

    /// The day a requirement in bucket `b` is needed: its first day, or
    /// the plan date in the first bucket.
    pub fn need_date(&self, b: usize) -> NaiveDate {
        self.start(b).max(self.as_of)
    }

    pub fn place(&self, date: NaiveDate) -> Placement {
        if date < self.as_of {
            return Placement::PastDue;
        }
        // The first start after `date`, less one.
        let after = self.starts.partition_point(|s| *s <= date);
        if after >= self.starts.len() {
            Placement::Beyond
        } else {
            Placement::In(after.saturating_sub(1))
        }
    }

    /// The bucket of `date`, past-due dates in the first one.
    pub fn bucket_of(&self, date: NaiveDate) -> Option<usize> {
        match self.place(date) {
            Placement::PastDue => Some(0),
            Placement::In(b) => Some(b),
            Placement::Beyond => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn weeks_start_on_monday_and_dates_fall_in_their_week() {
        // 2026-03-04 is a Wednesday.
        let c = Calendar::new(d("2026-03-04"), Period::Week, 4).unwrap();
        assert_eq!(c.start(0), d("2026-03-02"));
        assert_eq!(c.need_date(0), d("2026-03-04"));
        assert_eq!(c.need_date(1), d("2026-03-09"));
        assert_eq!(c.place(d("2026-03-03")), Placement::PastDue);
        assert_eq!(c.place(d("2026-03-08")), Placement::In(0));
        assert_eq!(c.place(d("2026-03-09")), Placement::In(1));
        assert_eq!(c.place(d("2026-03-29")), Placement::In(3));
        assert_eq!(c.place(d("2026-03-30")), Placement::Beyond);
    }

    #[test]
    fn months_and_bounds() {
        let c = Calendar::new(d("2026-01-31"), Period::Month, 2).unwrap();
        assert_eq!(c.start(1), d("2026-02-01"));
        assert_eq!(c.place(d("2026-02-28")), Placement::In(1));
        assert_eq!(c.place(d("2026-03-01")), Placement::Beyond);
        assert!(Calendar::new(d("2026-01-01"), Period::Week, 0).is_err());
        assert!(Calendar::new(NaiveDate::MAX, Period::Week, 3).is_err());
    }
}
