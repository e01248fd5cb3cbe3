//! Reading pipeline files (a snapshot, and the history of stage changes,
//! outcomes and past snapshots) from Parquet or CSV, as a CRM exports
//! them. Columns come out in one canonical set of types whatever the file
//! held (see [`convert`]); every bad value is reported with its row and
//! column, and nothing is read past a file with bad rows.
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::{PipelineError, columns as col, write::FileFormat};

mod bad;
mod convert;
mod decorations;
mod encoding;
mod names;
mod noise;
mod regional;
mod shapes;
mod spreadsheet;

use convert::{Kind, Spec, amount_or_zero, spec, text_or};

/// The team or region of a deal a file does not give one.
pub const UNASSIGNED: &str = "unassigned";

const ROW: &str = "__row";
/// The row of the file a reshaped file's row came from (see
/// [`shapes::stage_entries`]).
const FILE_ROW: &str = "__file_row";

const SNAPSHOT: &[Spec] = &[
    spec(col::OPPORTUNITY_ID, Kind::Text, true, true),
    spec(col::ACCOUNT, Kind::Text, false, false),
    spec(col::OWNER, Kind::Text, true, true),
    text_or(col::TEAM, UNASSIGNED),
    text_or(col::REGION, UNASSIGNED),
    spec(col::STAGE, Kind::Text, true, true),
    spec(col::STAGE_ENTERED, Kind::Date, false, false),
    spec(col::CREATED, Kind::Date, false, false),
    spec(col::EXPECTED_CLOSE, Kind::Date, true, true),
    spec(col::FORECAST_CATEGORY, Kind::Text, false, false),
    spec(col::CURRENCY, Kind::Text, true, true),
    spec(col::LINE, Kind::Count, false, false),
    spec(col::SKU, Kind::Text, false, false),
    spec(col::PRODUCT_LINE, Kind::Text, false, false),
    spec(col::QUANTITY, Kind::Count, false, false),
    amount_or_zero(col::AMOUNT),
    spec(col::QUOTE_REF, Kind::Text, false, false),
];

/// The values a file's coded columns may take, and how a CRM's own
/// labels and floating-point amounts are read.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    pub stages: Vec<String>,
    /// The rules' currencies: their codes, and the minor unit and rounding
    /// a floating-point amount is rounded with.
    pub currencies: Vec<quotecast_model::Currency>,
    pub forecast_categories: Vec<String>,
    /// A CRM's stage labels and the stage id each stands for.
    pub stage_labels: Vec<(String, String)>,
    /// Words an outcomes file may use beyond `won` and `lost` (a closed
    /// stage's id or label), and the outcome each stands for.
    pub outcome_labels: Vec<(String, String)>,
    /// A CRM's column names and the column each stands for (see
    /// [`names`]).
    pub column_labels: Vec<(String, String)>,
    /// The currency of every amount of a file without a `currency`
    /// column (a single-currency CRM's export: Salesforce without
    /// multi-currency, HubSpot): the rules' corporate currency. `None`:
    /// the column is required.
    pub default_currency: Option<String>,
}

/// A snapshot as read, with what the reader did that the user should be
/// told (floating-point amounts rounded), once.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub frame: DataFrame,
    pub notes: Vec<String>,
}

/// A file opened for reading: its scan with row numbers from 1, and the
/// typed columns and checks of its specs.
struct Table {
    path: PathBuf,
    raw: LazyFrame,
    typed: convert::Typed,
    /// True on a row that is not data for this file, left out before any
    /// check and counted: a row whose every value is empty (a blank line
    /// of a CSV, a row of separators alone as spreadsheets save), and
    /// what [`Table::leave_out`] adds.
    blank: Expr,
    /// The places of the left-out rows' counts among the typed tallies.
    left_out_tallies: Vec<usize>,
    /// Whether the file was reshaped (see [`shapes::stage_entries`]): its
    /// rows then carry the file's row they came from in [`FILE_ROW`].
    reshaped: bool,
    /// The rows left out that [`Table::refuse_bad`] counted: only a file
    /// that has some is filtered (a filter on every column would read them
    /// all where a reader wants a few).
    blanks: u64,
}

/// The column [`Table::flagged`] marks blank rows in.
const BLANK: &str = "__blank_row";

impl Table {
    fn open(path: &Path, specs: &[Spec], vocabulary: &Vocabulary) -> Result<Self, PipelineError> {
        let (raw, decorations) = scan_noted(path)?;
        let schema = raw
            .clone()
            .collect_schema()
            .map_err(|e| format_error(path, e))?;
        let renamed = names::renames(path, &schema, specs, &vocabulary.column_labels)?;
        let raw = names::apply(raw, &renamed);
        let read_schema = |raw: &LazyFrame| {
            raw.clone()
                .collect_schema()
                .map_err(|e| format_error(path, e))
        };
        let schema = read_schema(&raw)?;
        let mut notes = decorations;
        notes.extend(names::note(&renamed));
        let (raw, currency) = shapes::default_currency(raw, &schema, specs, vocabulary);
        notes.extend(currency);
        let schema = read_schema(&raw)?;
        let raw = shapes::currency_codes(raw, &schema, specs, vocabulary);
        // Rows numbered as the file has them, before any is reshaped.
        let entries = shapes::stage_entries(&raw, &schema, specs, ROW, FILE_ROW);
        let reshaped = entries.is_some();
        let (raw, schema) = match entries {
            Some((entries, note)) => {
                notes.push(note);
                let schema: Schema = read_schema(&entries)?
                    .iter()
                    .filter(|(name, _)| ![ROW, FILE_ROW].contains(&name.as_str()))
                    .map(|(name, dtype)| Field::new(name.clone(), dtype.clone()))
                    .collect();
                (entries, std::sync::Arc::new(schema))
            }
            None => (raw.with_row_index(ROW, Some(1)), schema),
        };
        let mut typed = convert::typed(path, &schema, specs, vocabulary)?;
        typed.notes.extend(notes);
        let empty: Vec<Expr> = schema
            .iter_names()
            .map(|n| col(n.clone()).is_null())
            .collect();
        let blank = match empty.is_empty() {
            true => lit(false),
            false => all_horizontal(empty).map_err(|e| format_error(path, e))?,
        };
        let left_out_tallies = vec![typed.tallies.len()];
        typed.tallies.push((
            "row(s) with every value empty (blank lines) were left out".into(),
            blank.clone(),
        ));
        Ok(Self {
            path: path.to_path_buf(),
            raw,
            typed,
            blank,
            left_out_tallies,
            reshaped,
            blanks: 0,
        })
    }

    /// Leaves out the rows `rows` (over the file's columns) marks, before
    /// any check, counted in a note that follows the count.
    fn leave_out(&mut self, note: &str, rows: Expr) {
        let rows = rows.fill_null(lit(false)).and(self.blank.clone().not());
        self.left_out_tallies.push(self.typed.tallies.len());
        self.typed.tallies.push((note.to_owned(), rows.clone()));
        self.blank = self.blank.clone().or(rows);
    }

    /// Adds a check over the typed columns.
    fn check(&mut self, column: &'static str, reason: &str, flag: Expr) {
        self.typed.checks.push(convert::Check {
            column,
            reason: reason.to_owned(),
            flag,
            vocabulary: None,
        });
    }

    /// Whether no two rows (left-out rows too) hold the same values of the
    /// typed `columns` (nulls count as one value), from one aggregate over
    /// those columns alone; false where that cannot be told (the checks
    /// then say why).
    fn all_distinct(&self, columns: &[&str]) -> bool {
        let key = match columns {
            [one] => col(*one),
            _ => key_hash(columns),
        };
        self.raw
            .clone()
            .select(self.typed.columns.clone())
            .select([key.n_unique().eq(len()).alias("distinct")])
            .collect()
            .ok()
            .and_then(|counted| counted.column("distinct").ok()?.bool().ok()?.get(0))
            .unwrap_or(false)
    }

    /// The typed columns with [`ROW`] and every check's flag.
    /// A blank row is flagged by no check.
    fn flagged(&self) -> LazyFrame {
        let kept = || col(BLANK).not();
        let mut select = vec![col(ROW), self.blank.clone().alias(BLANK)];
        if self.reshaped {
            select.push(col(FILE_ROW));
        }
        select.extend(self.typed.columns.iter().cloned());
        select.extend(
            self.typed
                .conversion_flags
                .iter()
                .enumerate()
                .map(|(i, flag)| {
                    flag.clone()
                        .and(self.blank.clone().not())
                        .alias(convert::flag_name(i))
                }),
        );
        select.extend(self.typed.tallies.iter().enumerate().map(|(i, (_, flag))| {
            // A row left out counts only for why it was.
            let flag = match self.left_out_tallies.contains(&i) {
                true => flag.clone(),
                false => flag.clone().and(self.blank.clone().not()),
            };
            flag.alias(convert::tally_name(i))
        }));
        let later: Vec<Expr> = self
            .typed
            .checks
            .iter()
            .enumerate()
            .skip(self.typed.conversion_flags.len())
            .map(|(i, c)| {
                c.flag
                    .clone()
                    .fill_null(lit(false))
                    .and(kept())
                    .alias(convert::flag_name(i))
            })
            .collect();
        self.raw.clone().select(select).with_columns(later)
    }

    /// Fails naming every bad value of `flagged`; else the row count, and
    /// each tally that counted rows becomes a note.
    fn refuse_bad(&mut self, flagged: LazyFrame) -> Result<u64, PipelineError> {
        let (rows, tallied) = bad::refuse_bad_values(
            &self.path,
            flagged,
            self.raw.clone(),
            &self.typed.checks,
            self.typed.tallies.len(),
            self.reshaped,
        )?;
        self.blanks = self
            .left_out_tallies
            .iter()
            .map(|&i| tallied.get(i).copied().unwrap_or(0))
            .sum();
        for ((note, _), count) in self.typed.tallies.iter().zip(tallied) {
            if count > 0 {
                self.typed.notes.push(format!("{count} {note}"));
            }
        }
        Ok(rows - self.blanks)
    }

    /// Whether `path` is text or a spreadsheet, not Parquet.
    fn is_text(path: &Path) -> Result<bool, PipelineError> {
        Ok(spreadsheet::is_spreadsheet(path) || FileFormat::of(path)? != FileFormat::Parquet)
    }

    /// The table with its file's values parsed once into memory when the
    /// file is text or a spreadsheet: later passes (a distinct count, the
    /// checks) then read them there rather than parse the text again.
    fn held(mut self) -> Result<Self, PipelineError> {
        if Self::is_text(&self.path)? {
            let frame = bad::streamed(self.raw.clone());
            self.raw = frame.map_err(|e| format_error(&self.path, e))?.lazy();
        }
        Ok(self)
    }

    /// The typed columns of `specs`, checked ([`Table::refuse_bad`]), and
    /// the rows checked, from one pass over the file collected on
    /// `engine`: the checks then run on the frame in memory.
    fn checked_in_memory(
        &mut self,
        specs: &[Spec],
        engine: Engine,
    ) -> Result<(DataFrame, u64), PipelineError> {
        let path = self.path.clone();
        let collect =
            |plan: LazyFrame| bad::collected(plan, engine).map_err(|e| format_error(&path, e));
        let frame = collect(self.flagged())?;
        let rows = self.refuse_bad(frame.clone().lazy())?;
        // Copied without its blank rows only when it has some.
        let frame = match self.blanks {
            0 => frame,
            _ => collect(frame.lazy().filter(col(BLANK).not()))?,
        };
        let names: Vec<PlSmallStr> = specs.iter().map(|s| s.name.into()).collect();
        Ok((frame.select(names)?, rows))
    }

    /// The typed columns, unchecked (after [`Table::refuse_bad`]).
    fn values(&self) -> LazyFrame {
        let rows = match self.blanks {
            0 => self.raw.clone(),
            _ => self.raw.clone().filter(self.blank.clone().not()),
        };
        rows.select(self.typed.columns.clone())
    }
}

/// The checks a snapshot's lines have beyond their types.
fn line_checks(table: &mut Table) {
    table.check(
        col::QUANTITY,
        "must be at least 1 on a line with a SKU",
        col(col::SKU).is_not_null().and(
            col(col::QUANTITY)
                .is_null()
                .or(col(col::QUANTITY).eq(lit(0u32))),
        ),
    );
    table.check(col::AMOUNT, "is negative", col(col::AMOUNT).lt(lit(0)));
    company_is_no_team(table);
}

/// A team called as the forecast's tables call the company (or any of
/// their own rows, all starting with `*`) would be read as those rows
/// (every team's figures mixed with its own).
fn company_is_no_team(table: &mut Table) {
    table.check(
        col::TEAM,
        "starts with `*`, which the forecast's tables keep for their own rows (`*` is the company, every team): the team needs another name",
        col(col::TEAM)
            .str()
            .starts_with(lit(col::COMPANY))
            .fill_null(lit(false)),
    );
}

/// One 64-bit hash per row of the `keys` columns (text, counts or
/// dates), to tell whether two rows share their keys from 8 bytes a row
/// (a grouping by the keys themselves took 4.6 s over 11.8M past
/// snapshot rows): equal keys hash alike, and where unequal ones collide
/// the exact check after it runs for nothing.
fn key_hash(keys: &[&str]) -> Expr {
    use std::hash::{Hash, Hasher};
    fn mix(hash: &mut u64, value: impl Hash) {
        let mut hasher = rustc_hash::FxHasher::default();
        hash.hash(&mut hasher);
        value.hash(&mut hasher);
        *hash = hasher.finish();
    }
    as_struct(keys.iter().map(|k| col(*k)).collect()).map(
        |column: Column| {
            let mut hashes = vec![0u64; column.len()];
            for field in column.struct_()?.fields_as_series() {
                match field.dtype() {
                    DataType::String => {
                        for (hash, value) in hashes.iter_mut().zip(field.str()?.iter()) {
                            mix(hash, value);
                        }
                    }
                    _ => {
                        let numbers = field.to_physical_repr().cast(&DataType::Int64)?;
                        for (hash, value) in hashes.iter_mut().zip(numbers.i64()?.iter()) {
                            mix(hash, value);
                        }
                    }
                }
            }
            Ok(UInt64Chunked::from_vec(column.name().clone(), hashes).into_column())
        },
        |_, field| Ok(Field::new(field.name().clone(), DataType::UInt64)),
    )
}

/// A numbered line of an opportunity is one row (of a snapshot: `keys`
/// are the snapshot's date, if any, the opportunity and the line): a
/// report that joins lines to another object repeats them, and each
/// repeat would count again. Lines without a number are not checked (an
/// export without line numbers has a row per line item). Counting each
/// key's rows costs a window over every row; only a file whose keys
/// repeat (one distinct count first) needs it, to name the rows.
fn one_row_per_line(table: &mut Table, keys: &[&str]) {
    if table.all_distinct(keys) {
        return;
    }
    table.check(
        col::LINE,
        "repeats a line of its opportunity (one row per opportunity line)",
        col(col::LINE).is_not_null().and(
            len()
                .over(keys.iter().map(|k| col(*k)).collect::<Vec<_>>())
                .map_or(lit(false), |n| n.gt(lit(1))),
        ),
    );
}

/// Reads and checks a pipeline snapshot (`.parquet` or `.csv`); the frame
/// has every column of [`col`] in its canonical type (missing optional
/// columns are added empty), in file order.
pub fn read_snapshot(path: &Path, vocabulary: &Vocabulary) -> Result<DataFrame, PipelineError> {
    Ok(read_snapshot_noted(path, vocabulary)?.frame)
}

/// [`read_snapshot`] with the reader's notes.
pub fn read_snapshot_noted(
    path: &Path,
    vocabulary: &Vocabulary,
) -> Result<Snapshot, PipelineError> {
    let mut table = Table::open(path, SNAPSHOT, vocabulary)?.held()?;
    line_checks(&mut table);
    one_row_per_line(&mut table, &[col::OPPORTUNITY_ID, col::LINE]);
    let (frame, _) = table.checked_in_memory(SNAPSHOT, Engine::InMemory)?;
    Ok(Snapshot {
        frame,
        notes: table.typed.notes,
    })
}

/// What a snapshot file holds, checked as [`read_snapshot`] checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotCount {
    pub rows: u64,
    pub opportunities: u64,
}

/// Checks a snapshot file in full as [`read_snapshot`] does, without
/// holding it: each pass runs on polars' streaming engine, so a file of
/// any size is checked in bounded memory (what grows is one 64-bit hash
/// per distinct opportunity). Every bad value is named by row and column.
pub fn check_snapshot(
    path: &Path,
    vocabulary: &Vocabulary,
) -> Result<SnapshotCount, PipelineError> {
    let mut table = Table::open(path, SNAPSHOT, vocabulary)?;
    line_checks(&mut table);
    one_row_per_line(&mut table, &[col::OPPORTUNITY_ID, col::LINE]);
    let rows = table.refuse_bad(table.flagged())?;
    // Distinct ids counted by their 64-bit hashes: 8 bytes an opportunity
    // rather than its id (a collision among a million ids has a chance of
    // about 1 in 30 million).
    let hashed = col(col::OPPORTUNITY_ID).map(
        |ids| {
            let hashes: UInt64Chunked = ids.str()?.iter().map(|id| id.map(id_hash)).collect();
            Ok(hashes.into_column())
        },
        |_, field| Ok(Field::new(field.name().clone(), DataType::UInt64)),
    );
    let counted = bad::streamed(
        table.values().select([hashed
            .n_unique()
            .cast(DataType::UInt64)
            .alias("opportunities")]),
    )
    .map_err(|e| format_error(path, e))?;
    let opportunities = counted.column("opportunities")?.u64()?.get(0).unwrap_or(0);
    Ok(SnapshotCount {
        rows,
        opportunities,
    })
}

fn id_hash(id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut hasher);
    hasher.finish()
}

/// The `snapshot_date` a snapshot file holds, when it has that column and
/// one date in it (a CRM's snapshot export): the day the forecast is as
/// of.
pub fn snapshot_date(
    path: &Path,
    vocabulary: &Vocabulary,
) -> Result<Option<chrono::NaiveDate>, PipelineError> {
    let specs = [spec(col::SNAPSHOT_DATE, Kind::Date, false, false)];
    let raw = scan(path)?;
    let schema = raw
        .clone()
        .collect_schema()
        .map_err(|e| format_error(path, e))?;
    // A CRM's name for the column (`As Of Date`) is read as ours.
    let renamed = names::renames(path, &schema, &specs, &vocabulary.column_labels)?;
    let raw = names::apply(raw, &renamed);
    let schema = raw
        .clone()
        .collect_schema()
        .map_err(|e| format_error(path, e))?;
    let typed = convert::typed(path, &schema, &specs, &Vocabulary::default())?;
    if schema.get(col::SNAPSHOT_DATE).is_none() {
        return Ok(None);
    }
    let days = raw
        .select(typed.columns)
        .select([col(col::SNAPSHOT_DATE).drop_nulls().unique()])
        .collect()
        .map_err(|e| format_error(path, e))?;
    let days = days.column(col::SNAPSHOT_DATE)?.cast(&DataType::Int32)?;
    let days: Vec<i32> = days.i32()?.iter().flatten().collect();
    match days.as_slice() {
        [day] => Ok(Some(crate::from_epoch_days(*day))),
        _ => Ok(None),
    }
}

/// A lazy scan of a Parquet or CSV file as it is, unchecked (CSV columns
/// as text). [`read_snapshot`] is the checked way in; a benchmark or a
/// trusted Parquet file may take this one.
pub fn scan(path: &Path) -> Result<LazyFrame, PipelineError> {
    scan_noted(path).map(|(frame, _)| frame)
}

/// [`scan`], with a note on what was done to read a CSV file as a table:
/// a spreadsheet's first sheet written out as CSV (see [`spreadsheet`]),
/// its text decoded when it is not UTF-8 (see [`encoding`]), a report's
/// title lines above the header skipped and its footer lines below the
/// table left out (see [`decorations`]).
fn scan_noted(path: &Path) -> Result<(LazyFrame, Vec<String>), PipelineError> {
    if !path.is_file() {
        return Err(PipelineError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    let pl_path = PlRefPath::new(path.to_string_lossy().as_ref());
    let sheet = match spreadsheet::is_spreadsheet(path) {
        true => Some(
            tracing::info_span!("spreadsheet")
                .in_scope(|| spreadsheet::as_csv(path))
                .map_err(|message| PipelineError::Format {
                    path: path.to_path_buf(),
                    message,
                })?,
        ),
        false => None,
    };
    if sheet.is_none() && FileFormat::of(path)? == FileFormat::Parquet {
        let frame = LazyFrame::scan_parquet(pl_path, ScanArgsParquet::default());
        return Ok((frame.map_err(|e| format_error(path, e))?, Vec::new()));
    }
    let mut notes = Vec::new();
    let transcoded = match sheet {
        Some(sheet) => Some(sheet),
        None => tracing::info_span!("text_encoding").in_scope(|| encoding::transcoded(path))?,
    };
    let (reader, layout) = match transcoded {
        Some(transcoded) => {
            notes.push(transcoded.note);
            let layout = decorations::layout_in(&transcoded.text);
            let text = polars_buffer::Buffer::from(transcoded.text);
            let sources = ScanSources::Buffers([text].into());
            (LazyCsvReader::new_with_sources(sources), layout)
        }
        None => (LazyCsvReader::new(pl_path), decorations::layout(path)),
    };
    // Every CSV column is read as text and converted here, so that a bad
    // value is reported by row and column instead of failing the whole
    // read.
    let frame = reader
        .with_has_header(true)
        .with_separator(layout.separator)
        .with_skip_rows(layout.title_lines)
        .with_infer_schema_length(Some(0))
        .finish()
        .map_err(|e| format_error(path, e))?;
    // A quoted empty field (`""`, as Salesforce quotes every value) is
    // as empty as an unquoted one, which polars reads as null.
    let columns = frame
        .clone()
        .collect_schema()
        .map_err(|e| format_error(path, e))?;
    let emptied: Vec<Expr> = columns
        .iter_names()
        .map(|name| {
            let value = col(name.clone());
            when(value.clone().str().len_bytes().eq(lit(0u32)))
                .then(lit(NULL).cast(DataType::String))
                .otherwise(value)
                .alias(name.clone())
        })
        .collect();
    let frame = frame.with_columns(emptied);
    notes.extend(layout.notes());
    match decorations::footer_rows(&columns, &layout.footer, layout.totals.as_deref()) {
        Some(rows) => Ok((frame.filter(rows.not()), notes)),
        None => Ok((frame, notes)),
    }
}

fn format_error(path: &Path, e: PolarsError) -> PipelineError {
    PipelineError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The tables of a history directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryTable {
    /// `opportunity_id, stage, at`: the day a deal entered a stage.
    StageEvents,
    /// `opportunity_id, team, outcome, closed, currency, amount`: one row
    /// per decided deal.
    Outcomes,
    /// Past snapshots: `snapshot_date` and the snapshot's columns.
    Snapshots,
}

impl HistoryTable {
    /// The file's stem in a history directory.
    pub fn stem(self) -> &'static str {
        match self {
            HistoryTable::StageEvents => "stage_events",
            HistoryTable::Outcomes => "outcomes",
            HistoryTable::Snapshots => "snapshots",
        }
    }

    fn specs(self) -> Vec<Spec> {
        match self {
            HistoryTable::StageEvents => vec![
                spec(col::OPPORTUNITY_ID, Kind::Text, true, true),
                spec(col::STAGE, Kind::Text, true, true),
                spec(col::AT, Kind::Date, true, true),
            ],
            HistoryTable::Outcomes => vec![
                spec(col::OPPORTUNITY_ID, Kind::Text, true, true),
                text_or(col::TEAM, UNASSIGNED),
                spec(col::OUTCOME, Kind::Text, true, true),
                spec(col::CLOSED, Kind::Date, true, true),
                spec(col::CURRENCY, Kind::Text, true, true),
                amount_or_zero(col::AMOUNT),
            ],
            HistoryTable::Snapshots => {
                let mut specs = vec![spec(col::SNAPSHOT_DATE, Kind::Date, true, true)];
                specs.extend(SNAPSHOT.iter().copied());
                specs
            }
        }
    }
}

/// On an outcomes file's rows: whether the outcome names an open stage
/// (its id or a label, in any capitals) or is `open`.
fn undecided(vocabulary: &Vocabulary) -> Expr {
    let closed: Vec<&str> = vocabulary
        .outcome_labels
        .iter()
        .map(|(label, _)| label.as_str())
        .chain(["won", "lost"])
        .collect();
    let mut open: Vec<String> = vocabulary
        .stages
        .iter()
        .filter(|s| !closed.contains(&s.as_str()))
        .cloned()
        .collect();
    open.push("open".into());
    let open = Series::new("open".into(), open);
    let mut labels = vocabulary.stage_labels.clone();
    labels.push(("open".into(), "open".into()));
    let mut ids = vocabulary.stages.clone();
    ids.push("open".into());
    convert::relabelled(col(col::OUTCOME).cast(DataType::String), &labels, &ids)
        .is_in(lit(open).implode(false), false)
}

/// Rows whose outcome is Pipedrive's status `deleted` (any capitals).
fn deleted() -> Expr {
    col(col::OUTCOME).cast(DataType::String).map(
        |column: Column| {
            // Compared in place, where lowering a copy of every value took
            // a third of the check of 5M outcomes. The same test: no other
            // letter lowers to one of `deleted`'s (only the Kelvin sign
            // lowers to an ASCII letter, `k`).
            let flags: BooleanChunked = column
                .str()?
                .iter()
                .map(|status| status.map(|s| s.eq_ignore_ascii_case("deleted")))
                .collect();
            Ok(flags.with_name(column.name().clone()).into_column())
        },
        |_, field| Ok(Field::new(field.name().clone(), DataType::Boolean)),
    )
}

/// A checked history table: its typed columns (scanned lazily), its rows
/// and the reader's notes.
pub struct HistoryFile {
    pub frame: LazyFrame,
    pub rows: u64,
    pub notes: Vec<String>,
}

/// Checks one history table in full, in bounded memory: every column's
/// type, the rules' stages, outcomes and currencies (a CRM's labels read
/// as the rules' ids), one outcome per deal, no negative amount. Each bad
/// value is named by row and column; a column of unknown codes also by
/// the distinct values found and those expected. The frame reads the
/// file again wherever it is scanned.
pub fn check_history_table(
    path: &Path,
    table: HistoryTable,
    vocabulary: &Vocabulary,
) -> Result<HistoryFile, PipelineError> {
    let mut checked = with_history_checks(
        Table::open(path, &table.specs(), vocabulary)?,
        table,
        vocabulary,
    );
    let rows = checked.refuse_bad(checked.flagged())?;
    Ok(HistoryFile {
        frame: checked.values(),
        rows,
        notes: checked.typed.notes,
    })
}

/// [`check_history_table`] for a job that reads the table: a table in
/// text (or a spreadsheet) is parsed once, checked and held in memory,
/// since every query that scanned it would parse and convert the text
/// again (the learning reads the history a dozen times). A Parquet file
/// stays on disk, read column by column as each query needs.
pub fn read_history_table(
    path: &Path,
    table: HistoryTable,
    vocabulary: &Vocabulary,
) -> Result<HistoryFile, PipelineError> {
    if !Table::is_text(path)? {
        return check_history_table(path, table, vocabulary);
    }
    let specs = table.specs();
    let opened = Table::open(path, &specs, vocabulary)?.held()?;
    let mut checked = with_history_checks(opened, table, vocabulary);
    let (frame, rows) = checked.checked_in_memory(&specs, Engine::Streaming)?;
    Ok(HistoryFile {
        frame: frame.lazy(),
        rows,
        notes: checked.typed.notes,
    })
}

/// `checked` with the checks of `table` beyond its columns' types.
fn with_history_checks(mut checked: Table, table: HistoryTable, vocabulary: &Vocabulary) -> Table {
    match table {
        HistoryTable::StageEvents => {}
        HistoryTable::Outcomes => {
            // A CRM's export of every opportunity, or Pipedrive's status
            // `open`: deals not decided yet are no outcome.
            checked.leave_out(
                "row(s) named an open stage or `open` (deals not decided yet) and were left out",
                undecided(vocabulary),
            );
            checked.leave_out(
                "row(s) had the status `deleted` (deals removed in the CRM, neither won nor lost) and were left out",
                deleted(),
            );
            // Counting each id's rows costs a window over every id (over
            // a second on 5M outcomes); only a file with a repeated id
            // needs it, to name the rows.
            if !checked.all_distinct(&[col::OPPORTUNITY_ID]) {
                checked.check(
                    col::OPPORTUNITY_ID,
                    "has more than one outcome (one row per decided deal)",
                    col(col::OPPORTUNITY_ID)
                        .count()
                        .over([col(col::OPPORTUNITY_ID)])
                        .map_or(lit(false), |n| n.gt(lit(1))),
                );
            }
            checked.check(col::AMOUNT, "is negative", col(col::AMOUNT).lt(lit(0)));
            company_is_no_team(&mut checked);
        }
        HistoryTable::Snapshots => {
            line_checks(&mut checked);
            one_row_per_line(
                &mut checked,
                &[col::SNAPSHOT_DATE, col::OPPORTUNITY_ID, col::LINE],
            );
        }
    }
    checked
}

/// A history directory as `gen-pipeline` writes it (and a CRM export can
/// fill), checked and scanned lazily.
pub struct History {
    /// `opportunity_id, stage, at`: the day a deal entered a stage.
    pub stage_events: LazyFrame,
    /// `opportunity_id, team, outcome, closed, currency, amount`.
    pub outcomes: LazyFrame,
    /// Past snapshots: the snapshot columns after `snapshot_date`; absent
    /// when the directory has no `snapshots` file.
    pub snapshots: Option<LazyFrame>,
    /// What the reader did that the user should be told, once.
    pub notes: Vec<String>,
}

/// Reads the history directory: `stage_events`, `outcomes` and, when
/// present, `snapshots`, each in any format a snapshot may be (Parquet,
/// CSV, a spreadsheet), each checked in full by [`read_history_table`].
pub fn read_history(dir: &Path, vocabulary: &Vocabulary) -> Result<History, PipelineError> {
    let find = |table: HistoryTable| -> Option<PathBuf> {
        ["parquet", "csv", "tsv", "txt"]
            .into_iter()
            .chain(spreadsheet::EXTENSIONS)
            .map(|ext| dir.join(format!("{}.{ext}", table.stem())))
            .find(|p| p.is_file())
    };
    let mut notes = Vec::new();
    let mut read = |table: HistoryTable| -> Result<LazyFrame, PipelineError> {
        let path = find(table).unwrap_or_else(|| dir.join(format!("{}.parquet", table.stem())));
        let file = tracing::info_span!("check", table = table.stem())
            .in_scope(|| read_history_table(&path, table, vocabulary))?;
        notes.extend(
            file.notes
                .into_iter()
                .map(|n| format!("{}: {n}", path.display())),
        );
        Ok(file.frame)
    };
    let stage_events = read(HistoryTable::StageEvents)?;
    let outcomes = read(HistoryTable::Outcomes)?;
    let snapshots = match find(HistoryTable::Snapshots) {
        Some(_) => Some(read(HistoryTable::Snapshots)?),
        None => None,
    };
    Ok(History {
        stage_events,
        outcomes,
        snapshots,
        notes,
    })
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
