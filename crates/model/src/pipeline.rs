//! The sales funnel: the stages an opportunity passes through, each with
//! its default win rate, forecast category and time limit.
use std::fmt;

use crate::Percent;

/// Where a stage's opportunities count in the forecast roll-up, from the
/// least to the most certain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ForecastCategory {
    /// Excluded from the forecast (lost or disqualified).
    Omitted,
    Pipeline,
    BestCase,
    Commit,
    /// Won and booked.
    Closed,
}

impl ForecastCategory {
    pub const ALL: [ForecastCategory; 5] = [
        Self::Omitted,
        Self::Pipeline,
        Self::BestCase,
        Self::Commit,
        Self::Closed,
    ];

    /// The word used in rule files and data files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Omitted => "omitted",
            Self::Pipeline => "pipeline",
            Self::BestCase => "best_case",
            Self::Commit => "commit",
            Self::Closed => "closed",
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == word)
    }
}

impl fmt::Display for ForecastCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a closed stage ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StageOutcome {
    Won,
    Lost,
}

/// One stage of the funnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub id: String,
    pub name: String,
    /// Position in the funnel; open stages come first, lower is earlier.
    pub order: u32,
    /// The default probability that an opportunity now in this stage is
    /// won, before any calibration from history.
    pub win_rate: Percent,
    pub category: ForecastCategory,
    /// Days an opportunity may stay in this stage before it is overdue and
    /// goes back to the owner's supervisor; `None` for closed stages.
    pub time_limit_days: Option<u32>,
    /// `Some` for the closed stages.
    pub outcome: Option<StageOutcome>,
    /// A CRM's own names for this stage (`Qualification`, `Closed Won`):
    /// snapshot and history files may use them, and they are read as the
    /// stage's id. A closed stage's labels also name its outcome in an
    /// outcomes file.
    pub labels: Vec<String>,
}

impl Stage {
    pub fn is_open(&self) -> bool {
        self.outcome.is_none()
    }
}

/// The columns pipeline snapshots and history files may hold (the
/// pipeline crate's `columns`): what a rule file's `[[column]]` may give
/// a CRM's own names for.
pub const PIPELINE_COLUMNS: &[&str] = &[
    "opportunity_id",
    "account",
    "owner",
    "team",
    "region",
    "stage",
    "stage_entered",
    "created",
    "expected_close",
    "forecast_category",
    "currency",
    "line",
    "sku",
    "product_line",
    "quantity",
    "amount",
    "quote_ref",
    "snapshot_date",
    "at",
    "outcome",
    "closed",
];

/// The month a company's fiscal year starts in: its quarters start then
/// and every three months after (`February`: February–April is the first
/// quarter, ..., November–January the fourth). The forecast's quarter
/// buckets, its quarter-end slippage anchor and its same-point-of-quarter
/// baseline follow it. January (the default) gives calendar quarters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FiscalYear {
    /// 0 for January ... 11 for December.
    first_month0: u32,
}

impl FiscalYear {
    /// Calendar quarters: the year starts in January.
    pub const CALENDAR: FiscalYear = FiscalYear { first_month0: 0 };

    /// The months' names, January first.
    pub const MONTHS: [&'static str; 12] = crate::text::MONTH_NAMES;

    /// The year starting in `month` (1 to 12).
    pub fn starting(month: u32) -> Option<FiscalYear> {
        (1..=12).contains(&month).then_some(FiscalYear {
            first_month0: month - 1,
        })
    }

    /// The year starting in the month named `word` (any case: `February`).
    pub fn parse(word: &str) -> Option<FiscalYear> {
        let lower = word.trim().to_lowercase();
        let month = Self::MONTHS.iter().position(|m| *m == lower)?;
        Self::starting(month as u32 + 1)
    }

    /// The first month, 0 for January ... 11 for December.
    pub fn first_month0(self) -> u32 {
        self.first_month0
    }

    /// The first month's name, in lower case.
    pub fn name(self) -> &'static str {
        Self::MONTHS[self.first_month0 as usize]
    }
}

impl Default for FiscalYear {
    fn default() -> Self {
        Self::CALENDAR
    }
}

impl fmt::Display for FiscalYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
