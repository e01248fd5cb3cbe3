//! Reading a pipeline snapshot from Parquet or CSV. Columns come out in
//! one canonical set of types whatever the file held; every bad value is
//! reported with its row and column, and nothing is read past a file with
//! bad rows.
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::{BadRow, PipelineError, columns as col, write::FileFormat};

/// How many bad values an error lists (the count covers all of them).
const LISTED_BAD_ROWS: usize = 20;
const ROW: &str = "__row";

/// What a column must hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Date,
    Count,
    Amount,
}

impl Kind {
    fn dtype(self) -> DataType {
        match self {
            Kind::Text => DataType::String,
            Kind::Date => DataType::Date,
            Kind::Count => DataType::UInt32,
            Kind::Amount => DataType::Decimal(col::AMOUNT_PRECISION, col::AMOUNT_SCALE),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Date => "a date (YYYY-MM-DD)",
            Kind::Count => "a whole number of units",
            Kind::Amount => "a decimal amount with at most 2 decimals",
        }
    }
}

/// A snapshot column: its kind, whether the file must have it, and
/// whether every row must have a value.
struct Spec {
    name: &'static str,
    kind: Kind,
    column_required: bool,
    value_required: bool,
}

const fn spec(name: &'static str, kind: Kind, column: bool, value: bool) -> Spec {
    Spec {
        name,
        kind,
        column_required: column,
        value_required: value,
    }
}

const SNAPSHOT: &[Spec] = &[
    spec(col::OPPORTUNITY_ID, Kind::Text, true, true),
    spec(col::ACCOUNT, Kind::Text, false, false),
    spec(col::OWNER, Kind::Text, true, true),
    spec(col::TEAM, Kind::Text, true, true),
    spec(col::REGION, Kind::Text, true, true),
    spec(col::STAGE, Kind::Text, true, true),
    spec(col::STAGE_ENTERED, Kind::Date, false, false),
    spec(col::CREATED, Kind::Date, true, true),
    spec(col::EXPECTED_CLOSE, Kind::Date, true, true),
    spec(col::FORECAST_CATEGORY, Kind::Text, false, false),
    spec(col::CURRENCY, Kind::Text, true, true),
    spec(col::LINE, Kind::Count, false, false),
    spec(col::SKU, Kind::Text, false, false),
    spec(col::PRODUCT_LINE, Kind::Text, false, false),
    spec(col::QUANTITY, Kind::Count, false, false),
    spec(col::AMOUNT, Kind::Amount, true, true),
    spec(col::QUOTE_REF, Kind::Text, false, false),
];

/// The values a snapshot's coded columns may take.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    pub stages: Vec<String>,
    pub currencies: Vec<String>,
    pub forecast_categories: Vec<String>,
}

/// Reads and checks a pipeline snapshot (`.parquet` or `.csv`); the frame
/// has every column of [`col`] in its canonical type (missing optional
/// columns are added empty), in file order.
pub fn read_snapshot(path: &Path, vocabulary: &Vocabulary) -> Result<DataFrame, PipelineError> {
    let raw = scan(path)?;
    let schema = raw
        .clone()
        .collect_schema()
        .map_err(|e| format_error(path, e))?;
    let mut typed = vec![col(ROW)];
    let mut checks: Vec<(String, Expr)> = Vec::new();
    for s in SNAPSHOT {
        let Some(dtype) = schema.get(s.name) else {
            if s.column_required {
                return Err(PipelineError::Format {
                    path: path.to_path_buf(),
                    message: format!("no column `{}` ({})", s.name, s.kind.describe()),
                });
            }
            typed.push(lit(NULL).cast(s.kind.dtype()).alias(s.name));
            continue;
        };
        if !convertible(dtype, s.kind) {
            return Err(PipelineError::Format {
                path: path.to_path_buf(),
                message: format!(
                    "column `{}` holds {dtype}, not {}",
                    s.name,
                    s.kind.describe()
                ),
            });
        }
        let value = if s.kind == Kind::Date && dtype == &DataType::String {
            col(s.name).str().to_date(StrptimeOptions {
                format: Some("%Y-%m-%d".into()),
                strict: false,
                exact: true,
                cache: true,
            })
        } else {
            col(s.name).cast(s.kind.dtype())
        };
        // A value that was there but did not convert: flagged while the
        // file's own value is still at hand.
        let flag = check_name(checks.len());
        checks.push((
            format!("{}|is not {}", s.name, s.kind.describe()),
            col(&flag),
        ));
        typed.push(
            col(s.name)
                .is_not_null()
                .and(value.clone().is_null())
                .alias(flag.as_str()),
        );
        typed.push(value.alias(s.name));
        if s.value_required {
            let empty = col(s.name).is_null().and(col(&flag).not());
            checks.push((format!("{}|is empty", s.name), empty));
        }
    }
    let known = |name: &'static str, words: &[String], what: &str| {
        let list = Series::new("known".into(), words.to_vec());
        (
            format!("{name}|is not a {what} of the rules ({})", words.join(", ")),
            col(name)
                .is_not_null()
                .and(col(name).is_in(lit(list).implode(false), false).not()),
        )
    };
    checks.push(known(col::STAGE, &vocabulary.stages, "stage"));
    checks.push(known(col::CURRENCY, &vocabulary.currencies, "currency"));
    checks.push(known(
        col::FORECAST_CATEGORY,
        &vocabulary.forecast_categories,
        "forecast category",
    ));
    checks.push((
        format!("{}|must be at least 1 on a line with a SKU", col::QUANTITY),
        col(col::SKU).is_not_null().and(
            col(col::QUANTITY)
                .is_null()
                .or(col(col::QUANTITY).eq(lit(0u32))),
        ),
    ));
    checks.push((
        format!("{}|is negative", col::AMOUNT),
        col(col::AMOUNT).lt(lit(0)),
    ));
    let flags: Vec<Expr> = checks
        .iter()
        .enumerate()
        .map(|(i, (_, e))| e.clone().fill_null(lit(false)).alias(check_name(i)))
        .collect();
    let mut frame = raw
        .with_row_index(ROW, Some(1))
        .select(typed)
        .with_columns(flags)
        .collect()
        .map_err(|e| format_error(path, e))?;
    report_bad_rows(path, &frame, &checks)?;
    let names: Vec<PlSmallStr> = SNAPSHOT.iter().map(|s| s.name.into()).collect();
    frame = frame.select(names)?;
    Ok(frame)
}

fn check_name(i: usize) -> String {
    format!("__check{i}")
}

/// A lazy scan of a Parquet or CSV file as it is, unchecked (CSV columns
/// as text). [`read_snapshot`] is the checked way in; a benchmark or a
/// trusted Parquet file may take this one.
pub fn scan(path: &Path) -> Result<LazyFrame, PipelineError> {
    if !path.is_file() {
        return Err(PipelineError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    let pl_path = PlRefPath::new(path.to_string_lossy().as_ref());
    let frame = match FileFormat::of(path)? {
        FileFormat::Parquet => LazyFrame::scan_parquet(pl_path, ScanArgsParquet::default()),
        // Every CSV column is read as text and converted here, so that a
        // bad value is reported by row and column instead of failing the
        // whole read.
        FileFormat::Csv => LazyCsvReader::new(pl_path)
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .finish(),
    };
    frame.map_err(|e| format_error(path, e))
}

fn format_error(path: &Path, e: PolarsError) -> PipelineError {
    PipelineError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Whether a file column of type `dtype` can be read as `kind`.
fn convertible(dtype: &DataType, kind: Kind) -> bool {
    match kind {
        Kind::Text => matches!(dtype, DataType::String | DataType::Null),
        Kind::Date => matches!(
            dtype,
            DataType::Date | DataType::Datetime(..) | DataType::String | DataType::Null
        ),
        Kind::Count => dtype.is_integer() || matches!(dtype, DataType::String | DataType::Null),
        Kind::Amount => {
            dtype.is_integer()
                || matches!(
                    dtype,
                    DataType::Decimal(..) | DataType::String | DataType::Null
                )
        }
    }
}

/// Every hit of a check becomes a [`BadRow`].
fn report_bad_rows(
    path: &Path,
    frame: &DataFrame,
    checks: &[(String, Expr)],
) -> Result<(), PipelineError> {
    let mut any: Option<BooleanChunked> = None;
    for i in 0..checks.len() {
        let flag = frame.column(&check_name(i))?.bool()?.clone();
        any = Some(match any {
            Some(a) => &a | &flag,
            None => flag,
        });
    }
    let Some(any) = any.filter(|a| a.any()) else {
        return Ok(());
    };
    let hits = frame.filter(&any)?;
    let rows = hits.column(ROW)?.cast(&DataType::UInt64)?;
    let rows = rows.u64()?;
    let mut bad = Vec::new();
    let mut total = 0u64;
    for (i, (label, _)) in checks.iter().enumerate() {
        let flag = hits.column(&check_name(i))?.bool()?.clone();
        let (column, reason) = label.split_once('|').unwrap_or((label, ""));
        for (row, hit) in rows.iter().zip(flag.iter()) {
            if hit == Some(true) {
                total += 1;
                if bad.len() < LISTED_BAD_ROWS * checks.len() {
                    bad.push(BadRow {
                        row: row.unwrap_or(0),
                        column: column.to_owned(),
                        reason: reason.to_owned(),
                    });
                }
            }
        }
    }
    bad.sort_by(|a, b| (a.row, &a.column).cmp(&(b.row, &b.column)));
    bad.truncate(LISTED_BAD_ROWS);
    Err(PipelineError::BadRows {
        path: path.to_path_buf(),
        rows: bad,
        total,
    })
}

/// A history directory as `gen-pipeline` writes it (and a CRM export can
/// fill), scanned lazily.
pub struct History {
    /// `opportunity_id, stage, at`: the day a deal entered a stage.
    pub stage_events: LazyFrame,
    /// `opportunity_id, team, outcome, closed, currency, amount`.
    pub outcomes: LazyFrame,
    /// Past snapshots: the snapshot columns after `snapshot_date`; absent
    /// when the directory has no `snapshots` file.
    pub snapshots: Option<LazyFrame>,
}

/// Scans the history directory: `stage_events`, `outcomes` and, when
/// present, `snapshots`, each as `.parquet` or `.csv`. Dates are converted
/// from text where needed.
pub fn scan_history(dir: &Path) -> Result<History, PipelineError> {
    let find = |name: &str| -> Option<PathBuf> {
        let parquet = dir.join(format!("{name}.parquet"));
        let csv = dir.join(format!("{name}.csv"));
        [parquet, csv].into_iter().find(|p| p.is_file())
    };
    let table = |name: &str, dates: &[&str]| -> Result<LazyFrame, PipelineError> {
        let path = find(name).unwrap_or_else(|| dir.join(format!("{name}.parquet")));
        scan_table(&path, dates)
    };
    let snapshots = match find("snapshots") {
        Some(_) => Some(table(
            "snapshots",
            &[col::SNAPSHOT_DATE, col::EXPECTED_CLOSE, col::STAGE_ENTERED],
        )?),
        None => None,
    };
    Ok(History {
        stage_events: table("stage_events", &[col::AT])?,
        outcomes: table("outcomes", &[col::CLOSED])?,
        snapshots,
    })
}

/// Scans one history table, converting the `dates` columns from text
/// where needed; a missing date column is an error.
pub fn scan_table(path: &Path, dates: &[&str]) -> Result<LazyFrame, PipelineError> {
    scan_dates(path, dates, true)
}

/// Like [`scan_table`], with text that is not a date read as null (for a
/// check that names each bad row).
pub(crate) fn scan_dates(
    path: &Path,
    dates: &[&str],
    strict: bool,
) -> Result<LazyFrame, PipelineError> {
    let mut frame = scan(path)?;
    let schema = frame
        .clone()
        .collect_schema()
        .map_err(|e| format_error(path, e))?;
    for &date in dates {
        match schema.get(date) {
            Some(DataType::Date) => {}
            Some(DataType::String) => {
                frame = frame.with_column(col(date).str().to_date(StrptimeOptions {
                    format: Some("%Y-%m-%d".into()),
                    strict,
                    exact: true,
                    cache: true,
                }));
            }
            _ => {
                return Err(PipelineError::Format {
                    path: path.to_path_buf(),
                    message: format!("no column `{date}` holding dates"),
                });
            }
        }
    }
    Ok(frame)
}

/// The number of data rows of a Parquet or CSV file.
pub fn count_rows(path: &Path) -> Result<u64, PipelineError> {
    let counted = scan(path)?
        .select([len().alias("rows")])
        .collect()
        .map_err(|e| format_error(path, e))?;
    let rows = counted.column("rows")?.cast(&DataType::UInt64)?;
    Ok(rows.u64()?.get(0).unwrap_or(0))
}
