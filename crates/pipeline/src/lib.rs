//! Pipeline data of quotecast: the flat snapshot and history tables
//! ([`columns`]), reading them from Parquet or CSV with every bad row
//! reported by row and column ([`read`]), writing them ([`write`]), and
//! the seeded synthetic generator ([`synthetic`]).
pub mod columns;
pub mod demand_store;
pub mod inventory;
pub mod read;
pub mod store;
pub mod synthetic;
pub mod write;

use std::path::PathBuf;

use chrono::NaiveDate;

/// One bad value in a data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// 1-based data row (a CSV file's header is row 0).
    pub row: u64,
    pub column: String,
    pub reason: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "row {}, column `{}`: {}",
            self.row, self.column, self.reason
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Format { path: PathBuf, message: String },
    #[error("{}: {} bad row(s):\n{}", path.display(), total, rows.iter().map(|r| format!("  {r}")).collect::<Vec<_>>().join("\n"))]
    BadRows {
        path: PathBuf,
        /// The first bad values, in row order.
        rows: Vec<BadRow>,
        /// How many bad values there are in all.
        total: u64,
    },
    #[error("{0}")]
    Name(String),
    #[error("{0} is not stored")]
    NotStored(String),
    #[error("cannot generate the pipeline: {0}")]
    Generator(String),
    #[error(transparent)]
    Polars(#[from] polars::error::PolarsError),
}

impl PipelineError {
    /// The same error about the file shown as `path` (an upload's stored
    /// name rather than its temporary file).
    pub fn with_path(self, shown: &std::path::Path) -> Self {
        match self {
            PipelineError::Io { source, .. } => PipelineError::Io {
                path: shown.to_path_buf(),
                source,
            },
            PipelineError::Format { message, .. } => PipelineError::Format {
                path: shown.to_path_buf(),
                message,
            },
            PipelineError::BadRows { rows, total, .. } => PipelineError::BadRows {
                path: shown.to_path_buf(),
                rows,
                total,
            },
            other => other,
        }
    }
}

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");

/// Days since 1970-01-01, as Parquet and polars store dates.
pub fn epoch_days(date: NaiveDate) -> i32 {
    (date - EPOCH).num_days() as i32
}

/// The date `days` after 1970-01-01.
pub fn from_epoch_days(days: i32) -> NaiveDate {
    EPOCH + chrono::TimeDelta::days(i64::from(days))
}
