//! Spreadsheets as CRMs export reports: `.xlsx` (Salesforce's formatted
//! reports, Dynamics 365's Export to Excel), `.xlsm`, `.xlsb`, `.xls` and
//! `.ods`. The first sheet that holds a value is written out as CSV text
//! in memory and read as any CSV file is, so every check, label, date
//! order and note of a CSV export applies to it: dates as `YYYY-MM-DD`
//! (with the time when they have one), numbers as the shortest text that
//! gives back the number the cell holds, a cell's error as Excel shows
//! it (`#N/A`), refused by row where a value is needed.
use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};

use super::encoding::Transcoded;

/// The extensions read as spreadsheets.
pub(crate) const EXTENSIONS: [&str; 5] = ["xlsx", "xlsm", "xlsb", "xls", "ods"];

/// Whether the file at `path` is named as a spreadsheet.
pub(crate) fn is_spreadsheet(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|s| e.eq_ignore_ascii_case(s)))
}

/// The first sheet with a value of the workbook at `path`, as CSV text;
/// else what is wrong with the file.
pub(crate) fn as_csv(path: &Path) -> Result<Transcoded, String> {
    let mut workbook =
        open_workbook_auto(path).map_err(|e| format!("not a spreadsheet that can be read: {e}"))?;
    let names = workbook.sheet_names();
    for name in &names {
        let sheet = workbook
            .worksheet_range(name)
            .map_err(|e| format!("sheet `{name}` cannot be read: {e}"))?;
        if sheet.is_empty() {
            continue;
        }
        let mut text = Vec::new();
        for row in sheet.rows() {
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    text.push(b',');
                }
                quoted(&mut text, &cell_text(cell));
            }
            text.push(b'\n');
        }
        let others = match names.len() {
            1 => String::new(),
            n => format!(", the first of its {n} sheets with a value"),
        };
        return Ok(Transcoded {
            text,
            note: format!("the workbook's sheet `{name}` was read{others}"),
        });
    }
    Err("the workbook has no sheet with a value".into())
}

/// `value` as one CSV field, quoted.
fn quoted(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
    out.extend_from_slice(value.replace('"', "\"\"").as_bytes());
    out.push(b'"');
}

/// A cell as the text a CSV export would hold.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number(*f),
        Data::Bool(b) => b.to_string(),
        Data::Error(e) => e.to_string(),
        Data::DateTime(d) if d.is_datetime() => {
            let (year, month, day, hour, minute, second, _) = d.to_ymd_hms_milli();
            let date = format!("{year:04}-{month:02}-{day:02}");
            match (hour, minute, second) {
                (0, 0, 0) => date,
                _ => format!("{date} {hour:02}:{minute:02}:{second:02}"),
            }
        }
        Data::DateTime(d) => number(d.as_f64()),
    }
}

/// A number as the shortest text that reads back as it (a whole number
/// without `.0`: a count or an id stored as a number).
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{CellErrorType, ExcelDateTime, ExcelDateTimeType};

    #[test]
    fn cells_read_as_a_csv_export_would_write_them() {
        let date = |serial| {
            Data::DateTime(ExcelDateTime::new(
                serial,
                ExcelDateTimeType::DateTime,
                false,
            ))
        };
        assert_eq!(cell_text(&date(46346.0)), "2026-11-20");
        assert_eq!(cell_text(&date(46346.5)), "2026-11-20 12:00:00");
        assert_eq!(cell_text(&Data::Float(37.0)), "37");
        assert_eq!(cell_text(&Data::Float(24878.38)), "24878.38");
        assert_eq!(cell_text(&Data::Float(6000005246.0)), "6000005246");
        assert_eq!(cell_text(&Data::Error(CellErrorType::NA)), "#N/A");
        assert_eq!(cell_text(&Data::String("Closed Won".into())), "Closed Won");
        let mut field = Vec::new();
        quoted(&mut field, "say \"hi\", twice");
        assert_eq!(field, b"\"say \"\"hi\"\", twice\"");
    }
}
