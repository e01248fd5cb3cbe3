//! An inventory state from the ERP: `on_hand.{parquet,csv}` (`item`,
//! `on_hand`) and, optionally, `receipts.{parquet,csv}` (`item`, `due`,
//! `quantity`, `reference`: open purchase and assembly orders) in one
//! directory. Every value is checked; a file with any bad value is refused
//! whole, each bad value named by row and column. The state's version is
//! a hash of the files' bytes, so a plan can name the state it used.
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polars::prelude::*;
use rust_decimal::Decimal;

use crate::{BadRow, PipelineError, read::scan};

pub const ITEM: &str = "item";
pub const ON_HAND: &str = "on_hand";
pub const DUE: &str = "due";
pub const QUANTITY: &str = "quantity";
pub const REFERENCE: &str = "reference";

/// An open order: `quantity` of `item` due on `due`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptRow {
    pub item: String,
    pub due: NaiveDate,
    pub quantity: Decimal,
    pub reference: String,
}

/// On hand and open receipts as read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InventoryState {
    pub on_hand: Vec<(String, Decimal)>,
    pub receipts: Vec<ReceiptRow>,
    /// The files read, with their bytes' FNV-1a hash folded into one
    /// version: `inv-` and 16 hex digits.
    pub version: String,
    pub files: Vec<PathBuf>,
}

/// The largest quantity a row may hold (as rule amounts are bounded).
pub const MAX_QUANTITY: Decimal = Decimal::from_parts(0x4876_E800, 0x17, 0, false, 0);

fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    ["parquet", "csv"]
        .iter()
        .map(|ext| dir.join(format!("{name}.{ext}")))
        .find(|p| p.is_file())
}

/// Reads `dir`'s inventory state; `on_hand` is required, `receipts` not.
pub fn read_inventory(dir: &Path) -> Result<InventoryState, PipelineError> {
    let on_hand_path = find(dir, "on_hand").ok_or_else(|| PipelineError::Io {
        path: dir.join("on_hand.csv"),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no on_hand.csv or on_hand.parquet",
        ),
    })?;
    let mut state = InventoryState::default();
    let rows = text_rows(&on_hand_path, &[ITEM, ON_HAND])?;
    let mut bad = Vec::new();
    for (r, values) in rows.iter().enumerate() {
        let row = r as u64 + 1;
        let item = required(&values[0], row, ITEM, &mut bad);
        let q = quantity(&values[1], row, ON_HAND, &mut bad);
        if let (Some(item), Some(q)) = (item, q) {
            state.on_hand.push((item, q));
        }
    }
    refuse(&on_hand_path, bad)?;
    state.files.push(on_hand_path);
    if let Some(path) = find(dir, "receipts") {
        let rows = text_rows(&path, &[ITEM, DUE, QUANTITY, REFERENCE])?;
        let mut bad = Vec::new();
        for (r, values) in rows.iter().enumerate() {
            let row = r as u64 + 1;
            let item = required(&values[0], row, ITEM, &mut bad);
            let due = match values[1]
                .as_deref()
                .map(|t| NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d"))
            {
                Some(Ok(d)) => Some(d),
                _ => {
                    bad.push(bad_row(row, DUE, "is not a date in the form YYYY-MM-DD"));
                    None
                }
            };
            let q = quantity(&values[2], row, QUANTITY, &mut bad);
            let reference = values[3].clone().unwrap_or_default();
            if let (Some(item), Some(due), Some(quantity)) = (item, due, q) {
                state.receipts.push(ReceiptRow {
                    item,
                    due,
                    quantity,
                    reference,
                });
            }
        }
        refuse(&path, bad)?;
        state.files.push(path);
    }
    state.version = version(&state.files)?;
    Ok(state)
}

/// FNV-1a over each file's name and bytes.
fn version(files: &[PathBuf]) -> Result<String, PipelineError> {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for path in files {
        let bytes = std::fs::read(path).map_err(|source| PipelineError::Io {
            path: path.clone(),
            source,
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for b in name.as_bytes().iter().chain(&bytes) {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    Ok(format!("inv-{hash:016x}"))
}

fn bad_row(row: u64, column: &str, reason: &str) -> BadRow {
    BadRow {
        row,
        column: column.to_owned(),
        reason: reason.to_owned(),
    }
}

fn required(
    value: &Option<String>,
    row: u64,
    column: &str,
    bad: &mut Vec<BadRow>,
) -> Option<String> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Some(v.to_owned()),
        _ => {
            bad.push(bad_row(row, column, "is empty"));
            None
        }
    }
}

/// An on-hand or receipt quantity from text: a decimal from 0 to
/// [`MAX_QUANTITY`]; the error says what is wrong. Files and pushes from
/// an ERP are checked by this one rule.
pub fn parse_quantity(text: &str) -> Result<Decimal, String> {
    match text.trim().parse::<Decimal>() {
        Ok(q) if q >= Decimal::ZERO && q <= MAX_QUANTITY => Ok(q),
        Ok(q) => Err(format!("{q} is outside 0 to {MAX_QUANTITY}")),
        Err(_) => Err("is not a decimal quantity".to_owned()),
    }
}

fn quantity(
    value: &Option<String>,
    row: u64,
    column: &str,
    bad: &mut Vec<BadRow>,
) -> Option<Decimal> {
    match parse_quantity(value.as_deref().unwrap_or("")) {
        Ok(q) => Some(q),
        Err(reason) => {
            bad.push(bad_row(row, column, &reason));
            None
        }
    }
}

fn refuse(path: &Path, mut bad: Vec<BadRow>) -> Result<(), PipelineError> {
    if bad.is_empty() {
        return Ok(());
    }
    let total = bad.len() as u64;
    bad.truncate(20);
    Err(PipelineError::BadRows {
        path: path.to_path_buf(),
        rows: bad,
        total,
        columns: Vec::new(),
    })
}

/// The named columns of a table as text, row by row (a missing value is
/// `None`). A missing column is a format error.
fn text_rows(path: &Path, columns: &[&str]) -> Result<Vec<Vec<Option<String>>>, PipelineError> {
    let frame = scan(path)?;
    let schema = frame
        .clone()
        .collect_schema()
        .map_err(|e| PipelineError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    let mut select = Vec::new();
    for name in columns {
        if schema.get(name).is_none() {
            // `reference` may be left out.
            if *name == REFERENCE {
                select.push(lit(NULL).cast(DataType::String).alias(*name));
                continue;
            }
            return Err(PipelineError::Format {
                path: path.to_path_buf(),
                message: format!("no column `{name}`"),
            });
        }
        select.push(col(*name).cast(DataType::String));
    }
    let frame = frame.select(select).collect()?;
    let strings: Vec<&StringChunked> = frame
        .columns()
        .iter()
        .map(|c| c.str())
        .collect::<Result<_, _>>()?;
    Ok((0..frame.height())
        .map(|r| {
            strings
                .iter()
                .map(|c| c.get(r).map(str::to_owned))
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_bad_file_is_refused_with_every_bad_value_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("on_hand.csv"),
            "item,on_hand\nCMP-A,10\n,3\nCMP-B,-1\nCMP-C,x\n",
        )
        .unwrap();
        let e = read_inventory(dir.path()).unwrap_err().to_string();
        assert!(e.contains("3 bad value(s)"), "{e}");
        assert!(e.contains("row 2, column `item`: is empty"), "{e}");
        assert!(e.contains("row 3, column `on_hand`: -1 is outside"), "{e}");
        assert!(
            e.contains("row 4, column `on_hand`: is not a decimal quantity"),
            "{e}"
        );
        std::fs::write(dir.path().join("on_hand.csv"), "item,on_hand\nCMP-A,10.5\n").unwrap();
        std::fs::write(
            dir.path().join("receipts.csv"),
            "item,due,quantity,reference\nCMP-A,2026-13-01,5,PO-1\n",
        )
        .unwrap();
        let e = read_inventory(dir.path()).unwrap_err().to_string();
        assert!(e.contains("row 1, column `due`"), "{e}");
        std::fs::write(
            dir.path().join("receipts.csv"),
            "item,due,quantity\nCMP-A,2026-03-10,5\n",
        )
        .unwrap();
        let state = read_inventory(dir.path()).unwrap();
        assert_eq!(
            state.on_hand,
            [("CMP-A".to_owned(), "10.5".parse().unwrap())]
        );
        assert_eq!(state.receipts[0].due.to_string(), "2026-03-10");
        assert!(state.version.starts_with("inv-"));
        let again = read_inventory(dir.path()).unwrap();
        assert_eq!(state.version, again.version);
    }
}
