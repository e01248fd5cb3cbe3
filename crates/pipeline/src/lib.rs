//! Pipeline data of quotecast: the flat snapshot and history tables
//! ([`columns`]), reading them from Parquet or CSV with every bad row
//! reported by row and column ([`read`]), writing them ([`write`]), and
//! the seeded synthetic generator ([`synthetic`]).
pub mod columns;
pub mod demand_store;
pub mod inventory;
pub mod quota;
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

/// A column of a data file holding values the rules do not know, with
/// the distinct values found and those expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadColumn {
    pub column: String,
    pub message: String,
}

fn listed(rows: &[BadRow], columns: &[BadColumn]) -> String {
    columns
        .iter()
        .map(|c| format!("  column `{}`: {}", c.column, c.message))
        .chain(rows.iter().map(|r| format!("  {r}")))
        .collect::<Vec<_>>()
        .join("\n")
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
    #[error("{}: {} bad value(s){}:\n{}", path.display(), total, if rows.len() < *total as usize { format!(", the first {}", rows.len()) } else { String::new() }, listed(rows, columns))]
    BadRows {
        path: PathBuf,
        /// The first bad values, in row order.
        rows: Vec<BadRow>,
        /// How many bad values there are in all.
        total: u64,
        /// Columns of coded values holding values the rules do not know.
        columns: Vec<BadColumn>,
    },
    #[error("{0}")]
    Name(String),
    /// An upload would go over a quota; nothing stored changed.
    #[error("over quota: {message}")]
    OverQuota {
        kind: quota::QuotaKind,
        message: String,
    },
    #[error("{0} is not stored")]
    NotStored(String),
    #[error("cannot generate the pipeline: {0}")]
    Generator(String),
    /// A computation failed inside polars; shown without the query plan
    /// polars appends, and not given as the source (a chain of sources
    /// printed in full would show it).
    #[error("reading failed: {}", without_plan(.0))]
    Polars(polars::error::PolarsError),
}

impl From<polars::error::PolarsError> for PipelineError {
    fn from(error: polars::error::PolarsError) -> Self {
        PipelineError::Polars(error)
    }
}

/// Polars' message up to the query plan it appends to some errors: what
/// failed, on one line.
pub fn without_plan(error: &polars::error::PolarsError) -> String {
    let message = error.to_string();
    let cut = ["\n\nResolved plan", "\nResolved plan", "\n"]
        .iter()
        .filter_map(|marker| message.find(marker))
        .min()
        .unwrap_or(message.len());
    message[..cut].trim_end().to_string()
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
            PipelineError::BadRows {
                rows,
                total,
                columns,
                ..
            } => PipelineError::BadRows {
                path: shown.to_path_buf(),
                rows,
                total,
                columns,
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

/// Removes what a killed process left under `root`: files and directories
/// whose names start with `prefix` (the temporaries uploads and stores
/// write before renaming into place), at most `depth` levels down.
/// Returns how many were removed; what cannot be read or removed is left.
pub fn remove_leftovers(root: &std::path::Path, prefix: &str, depth: u32) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if entry.file_name().to_string_lossy().starts_with(prefix) {
            let gone = if is_dir {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed += usize::from(gone.is_ok());
        } else if is_dir && depth > 0 {
            removed += remove_leftovers(&path, prefix, depth - 1);
        }
    }
    removed
}
