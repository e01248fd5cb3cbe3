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
