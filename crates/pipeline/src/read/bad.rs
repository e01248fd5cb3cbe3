//! Reporting a file's bad values: the first ones by row and column, with
//! the value the file holds, how many there are in all, and for a column
//! of coded values (stages, outcomes, currencies) the distinct values
//! found that the rules do not know.
use std::path::Path;

use polars::prelude::*;

use super::{
    FILE_ROW, ROW,
    convert::{Check, flag_name, tally_name},
    format_error,
};
use crate::{BadColumn, BadRow, PipelineError};

/// How many bad values an error lists (the count covers all of them).
pub(crate) const LISTED_BAD_ROWS: usize = 20;
/// How many distinct unknown values a column's summary names.
const LISTED_VALUES: usize = 10;
/// The longest value shown.
const SHOWN_CHARS: usize = 64;
const ROWS: &str = "__rows";

/// Fails with every bad value of `flagged` (a frame with [`ROW`], the
/// typed columns and each check's flag) counted, the first ones named
/// with the file's own value read from `raw` (the file with [`ROW`]);
/// a `reshaped` file's bad values named at [`FILE_ROW`].
/// Returns the number of rows when none is bad, and the rows each of the
/// `tallies` tally flags ([`tally_name`]) holds on.
pub(crate) fn refuse_bad_values(
    path: &Path,
    flagged: LazyFrame,
    raw: LazyFrame,
    checks: &[Check],
    tallies: usize,
    reshaped: bool,
) -> Result<(u64, Vec<u64>), PipelineError> {
    let flags: Vec<Expr> = (0..checks.len()).map(|i| col(flag_name(i))).collect();
    let mut sums: Vec<Expr> = flags
        .iter()
        .chain(&(0..tallies).map(|i| col(tally_name(i))).collect::<Vec<_>>())
        .map(|f| f.clone().cast(DataType::UInt64).sum())
        .collect();
    sums.push(len().cast(DataType::UInt64).alias(ROWS));
    let counts = flagged.clone().select(sums);
    let counts = streamed(counts).map_err(|e| format_error(path, e))?;
    let height = counts
        .column(ROWS)
        .ok()
        .and_then(|c| c.u64().ok().and_then(|c| c.get(0)))
        .unwrap_or(0);
    let sum_of = |name: String| {
        counts
            .column(&name)
            .ok()
            .and_then(|c| c.u64().ok().and_then(|c| c.get(0)))
            .unwrap_or(0)
    };
    let tallied: Vec<u64> = (0..tallies).map(|i| sum_of(tally_name(i))).collect();
    let counts: Vec<u64> = (0..checks.len()).map(|i| sum_of(flag_name(i))).collect();
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return Ok((height, tallied));
    }
    let any = flags
        .iter()
        .cloned()
        .reduce(|a, b| a.or(b))
        .unwrap_or(lit(false));
    let mut keep = vec![col(ROW)];
    if reshaped {
        keep.push(col(FILE_ROW));
    }
    keep.extend(flags.iter().cloned());
    let hits = flagged
        .clone()
        .filter(any)
        .select(keep)
        .limit(LISTED_BAD_ROWS as IdxSize)
        .collect()
        .map_err(|e| format_error(path, e))?;
    let rows = listed(path, &hits, raw, checks)?;
    let mut columns = Vec::new();
    for (check, count) in checks.iter().zip(&counts) {
        if let Some(tail) = &check.vocabulary
            && *count > 0
        {
            columns.push(unknown_values(path, &flagged, check, tail)?);
        }
    }
    Err(PipelineError::BadRows {
        path: path.to_path_buf(),
        rows,
        total,
        columns,
    })
}

/// Collects on polars' streaming engine (a pass over a whole file in
/// bounded memory).
pub(crate) fn streamed(plan: LazyFrame) -> PolarsResult<DataFrame> {
    collected(plan, Engine::Streaming)
}

/// `plan` collected on `engine`.
pub(crate) fn collected(plan: LazyFrame, engine: Engine) -> PolarsResult<DataFrame> {
    let opt = plan.get_current_optimizations();
    LazyFrame::collect_all_with_engine(vec![plan.logical_plan], engine, opt)?
        .into_iter()
        .next()
        .ok_or_else(|| polars_err!(NoData: "the query gave no frame"))
}

/// The bad values of the rows in `hits`, each with the file's value.
fn listed(
    path: &Path,
    hits: &DataFrame,
    raw: LazyFrame,
    checks: &[Check],
) -> Result<Vec<BadRow>, PipelineError> {
    let numbers = |name: &str| -> Result<Vec<u64>, PipelineError> {
        Ok(hits
            .column(name)?
            .cast(&DataType::UInt64)?
            .u64()?
            .iter()
            .map(|r| r.unwrap_or(0))
            .collect())
    };
    let rows = numbers(ROW)?;
    // A reshaped file's rows are named by the file's row they came from.
    let shown_rows = match hits.column(FILE_ROW) {
        Ok(_) => numbers(FILE_ROW)?,
        Err(_) => rows.clone(),
    };
    let schema = raw
        .clone()
        .collect_schema()
        .map_err(|e| format_error(path, e))?;
    let mut names: Vec<&str> = checks
        .iter()
        .map(|c| c.column)
        .filter(|c| schema.get(c).is_some())
        .collect();
    names.sort_unstable();
    names.dedup();
    let wanted = Series::new("rows".into(), rows.clone());
    let mut select = vec![col(ROW).cast(DataType::UInt64)];
    select.extend(names.iter().map(|n| col(*n).cast(DataType::String)));
    let values = raw
        .filter(
            col(ROW)
                .cast(DataType::UInt64)
                .is_in(lit(wanted).implode(false), false),
        )
        .select(select)
        .collect()
        .map_err(|e| format_error(path, e))?;
    let value_rows: Vec<u64> = values
        .column(ROW)?
        .u64()?
        .iter()
        .map(|r| r.unwrap_or(0))
        .collect();
    let mut bad = Vec::new();
    for (i, check) in checks.iter().enumerate() {
        let flag = hits.column(&flag_name(i))?.bool()?;
        for ((row, shown_row), hit) in rows.iter().zip(&shown_rows).zip(flag.iter()) {
            if hit != Some(true) {
                continue;
            }
            let shown = value_rows
                .iter()
                .position(|r| r == row)
                .and_then(|at| values.column(check.column).ok()?.str().ok()?.get(at))
                .map(|v| format!("`{}` ", v.chars().take(SHOWN_CHARS).collect::<String>()))
                .unwrap_or_default();
            bad.push(BadRow {
                row: *shown_row,
                column: check.column.to_owned(),
                reason: format!("{shown}{}", check.reason),
            });
        }
    }
    bad.sort_by(|a, b| (a.row, &a.column).cmp(&(b.row, &b.column)));
    bad.truncate(LISTED_BAD_ROWS);
    Ok(bad)
}

/// The distinct values a vocabulary check refused, most frequent first.
fn unknown_values(
    path: &Path,
    flagged: &LazyFrame,
    check: &Check,
    tail: &str,
) -> Result<BadColumn, PipelineError> {
    let found = flagged
        .clone()
        .filter(check.flag.clone())
        .group_by([col(check.column).cast(DataType::String).alias("value")])
        .agg([len().cast(DataType::UInt64).alias("rows")])
        .sort_by_exprs(
            [col("rows"), col("value")],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        );
    let found = streamed(found).map_err(|e| format_error(path, e))?;
    let values = found.column("value")?.str()?;
    let rows = found.column("rows")?.u64()?;
    let mut listed: Vec<String> = (0..found.height().min(LISTED_VALUES))
        .map(|i| {
            let value: String = values
                .get(i)
                .unwrap_or("")
                .chars()
                .take(SHOWN_CHARS)
                .collect();
            let rows = rows.get(i).unwrap_or(0);
            format!("`{value}` ({rows} row{})", if rows == 1 { "" } else { "s" })
        })
        .collect();
    if found.height() > LISTED_VALUES {
        listed.push(format!("and {} more", found.height() - LISTED_VALUES));
    }
    Ok(BadColumn {
        column: check.column.to_owned(),
        message: format!(
            "{} {} not {tail}",
            listed.join(", "),
            if found.height() == 1 { "is" } else { "are" },
        ),
    })
}
