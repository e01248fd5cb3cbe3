//! What a CRM's report export writes around its table: title lines above
//! the header (a report's name, the date it was run) and footer lines
//! below the last row (Salesforce's `Confidential Information - Do Not
//! Distribute` and copyright lines). Both are lines with at most one
//! value, in the first field; they are found from the file's first and
//! last 64 KiB, without reading the rest.
use polars::prelude::*;
use std::{
    fs::File,
    io::{Read, Seek, SeekFrom},
    path::Path,
};

/// How much of each end of a file is looked at.
const WINDOW: u64 = 64 * 1024;
/// The separators a CSV file may use, the first preferred on a tie.
const SEPARATORS: [u8; 3] = [b',', b';', b'\t'];

/// Where a CSV file's table is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    pub separator: u8,
    /// Records above the header (a report's title), skipped.
    pub title_lines: usize,
    /// The text of each footer record below the last row, in file order
    /// (empty for a blank one); none when they are all blank (blank lines
    /// are left to the reader's count of them).
    pub footer: Vec<String>,
    /// The first value of a totals row ending the table (`Total`, `Grand
    /// Totals (3 records)`), left out whatever its other values.
    pub totals: Option<String>,
}

/// The layout of the CSV file at `path` (a plain file: `,`, no title, no
/// footer, when it cannot be read).
pub(crate) fn layout(path: &Path) -> Layout {
    let head = read_window(path, false).unwrap_or_default();
    let tail = read_window(path, true).unwrap_or_default();
    layout_of(&head, &tail)
}

/// The layout of the CSV text `text`, held in memory.
pub(crate) fn layout_in(text: &[u8]) -> Layout {
    let window = WINDOW as usize;
    let start = text.len().saturating_sub(window);
    let tail = from_line_start(&text[start..], start > 0);
    layout_of(&text[..text.len().min(window)], tail)
}

fn layout_of(head: &[u8], tail: &[u8]) -> Layout {
    let (separator, title_lines) = header(head);
    let tail_records = records(tail, separator, false);
    Layout {
        separator,
        title_lines,
        footer: footer(&tail_records),
        totals: totals(&tail_records),
    }
}

/// The first (or last) [`WINDOW`] bytes of the file; the last ones start
/// at a line's start.
fn read_window(path: &Path, tail: bool) -> std::io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let length = file.metadata()?.len();
    let start = match tail {
        true => length.saturating_sub(WINDOW),
        false => 0,
    };
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(WINDOW).read_to_end(&mut bytes)?;
    let line_start = bytes.len() - from_line_start(&bytes, start > 0).len();
    bytes.drain(..line_start);
    Ok(bytes)
}

/// `bytes` from the start of its first whole line when it `cut` one.
fn from_line_start(bytes: &[u8], cut: bool) -> &[u8] {
    match cut {
        true => bytes
            .iter()
            .position(|&b| b == b'\n')
            .map_or(&[][..], |i| &bytes[i + 1..]),
        false => bytes,
    }
}

/// One record's fields, unquoted and trimmed.
type Record = Vec<String>;

/// The records of `bytes` split by `separator`, quotes respected; with
/// `complete`, a last record the window cut short is dropped.
fn records(bytes: &[u8], separator: u8, complete: bool) -> Vec<Record> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = Vec::new();
    let mut quoted = false;
    let finish = |field: &mut Vec<u8>| {
        let text = String::from_utf8_lossy(field).trim().to_owned();
        field.clear();
        text
    };
    let mut bytes = bytes.iter().copied().peekable();
    while let Some(byte) = bytes.next() {
        match byte {
            b'"' if quoted && bytes.peek() == Some(&b'"') => {
                field.push(b'"');
                bytes.next();
            }
            b'"' => quoted = !quoted,
            b'\r' if !quoted => {}
            b'\n' if !quoted => {
                record.push(finish(&mut field));
                records.push(std::mem::take(&mut record));
            }
            b if b == separator && !quoted => record.push(finish(&mut field)),
            b => field.push(b),
        }
    }
    if !complete && (!field.is_empty() || !record.is_empty()) {
        record.push(finish(&mut field));
        records.push(record);
    }
    records
}

/// How many of a record's fields hold a value.
fn filled(record: &Record) -> usize {
    record.iter().filter(|f| !f.is_empty()).count()
}

/// The separator and the number of records above the header. The header
/// is the first record with two values or more that is at least as wide
/// as the next record with a value (a title such as `Pipeline, Q4` is narrower
/// than the header below it). The separator is the one whose header
/// comes first, then the widest.
fn header(head: &[u8]) -> (u8, usize) {
    let whole = (head.len() as u64) < WINDOW;
    SEPARATORS
        .iter()
        .enumerate()
        .filter_map(|(order, &separator)| {
            let records = records(head, separator, !whole);
            let at = (0..records.len()).find(|&i| {
                filled(&records[i]) >= 2
                    && records[i + 1..]
                        .iter()
                        .find(|next| filled(next) > 0)
                        .is_none_or(|next| records[i].len() >= next.len())
            })?;
            Some((at, std::cmp::Reverse(records[at].len()), order, separator))
        })
        .min()
        .map_or((b',', 0), |(at, _, _, separator)| (separator, at))
}

/// The place of the table's last row among `records`: the last record
/// with two values or more.
fn last_row(records: &[Record]) -> Option<usize> {
    records.iter().rposition(|r| filled(r) >= 2)
}

/// Whether each of `records` has no value past its first field.
fn first_values_only(records: &[Record]) -> bool {
    records
        .iter()
        .all(|r| r.iter().skip(1).all(String::is_empty))
}

/// The footer records ending `records` (a file's tail): the records after
/// the table's last row, each with at most one value, in its first field,
/// set apart from the table by a blank one (a row right below the table
/// with only its first value is a row missing the others).
fn footer(records: &[Record]) -> Vec<String> {
    let Some(last) = last_row(records) else {
        return Vec::new();
    };
    let trailing = &records[last + 1..];
    let decorations =
        trailing.first().is_some_and(|r| filled(r) == 0) && first_values_only(trailing);
    let texts: Vec<String> = trailing.iter().map(|r| r[0].clone()).collect();
    match decorations && texts.iter().any(|t| !t.is_empty()) {
        true => texts,
        false => Vec::new(),
    }
}

/// The first value of the table's last row among `records` (a file's
/// tail) when that row is a report's totals (its first value starts with
/// `Total` or `Grand Total`, in any case) and nothing but decorations
/// follows it.
fn totals(records: &[Record]) -> Option<String> {
    let last = last_row(records)?;
    if last == 0 || !first_values_only(&records[last + 1..]) {
        return None;
    }
    let first = records[last].first()?;
    let lower = first.to_lowercase();
    (lower.starts_with("total") || lower.starts_with("grand total")).then(|| first.clone())
}

impl Layout {
    /// The notes that say what of the file was not read as its table.
    pub(crate) fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.title_lines > 0 {
            notes.push(format!(
                "the {} line(s) above the header (a report's title) were skipped",
                self.title_lines
            ));
        }
        if let Some(totals) = &self.totals {
            notes.push(format!(
                "the report's totals row ending the table (`{totals}`) was left out"
            ));
        }
        if !self.footer.is_empty() {
            let quoted: Vec<String> = self
                .footer
                .iter()
                .filter(|t| !t.is_empty())
                .map(|t| format!("`{t}`"))
                .collect();
            notes.push(format!(
                "the report's footer line(s) below the table were left out: {}",
                quoted.join(", ")
            ));
        }
        notes
    }
}

/// True on a row of a CSV file read as text with `columns` that is one of
/// the `footer` records (its first column holds one of them and every
/// other is empty) or the `totals` row (its first column holds that).
/// None without either (or columns).
pub(crate) fn footer_rows(
    columns: &Schema,
    footer: &[String],
    totals: Option<&str>,
) -> Option<Expr> {
    let mut names = columns.iter_names();
    let first = col(names.next()?.clone()).str().strip_chars(lit(NULL));
    let totals = totals.map(|text| first.clone().eq(lit(text.to_owned())));
    if footer.is_empty() {
        return totals;
    }
    let texts = Series::new("footer".into(), footer);
    let empty = |name: &PlSmallStr| {
        let value = col(name.clone());
        value
            .clone()
            .is_null()
            .or(value.str().strip_chars(lit(NULL)).eq(lit("")))
    };
    let rows =
        std::iter::once(first.is_in(lit(texts).implode(false), false)).chain(names.map(empty));
    let decorations = all_horizontal(rows.collect::<Vec<_>>()).ok()?;
    Some(match totals {
        Some(totals) => decorations.or(totals),
        None => decorations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(bytes: &[u8]) -> Vec<Record> {
        records(bytes, b',', false)
    }

    const SALESFORCE_FOOTER: &str = "\n\"\"\n\"Confidential Information - Do Not Distribute\"\n\"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved.\"\n";

    #[test]
    fn a_plain_file_has_no_title_nor_footer() {
        let file = b"id,team,amount\na,east,10\nb,west,20\n";
        assert_eq!(header(file), (b',', 0));
        assert!(footer(&tail(file)).is_empty());
    }

    #[test]
    fn title_lines_above_the_header_are_counted_even_with_a_comma() {
        let file = b"\"Pipeline, Q4\"\nAs of 11/20/2026\n\nid;team;amount\na;east;12,50\n";
        assert_eq!(header(file), (b';', 3));
        let unquoted = b"Pipeline, Q4\n\nid,team,amount\na,east,10\n";
        assert_eq!(header(unquoted), (b',', 2));
    }

    #[test]
    fn decimal_commas_do_not_make_a_semicolon_file_comma_separated() {
        let file = b"id;amount\na;12,50\nb;7,25\n";
        assert_eq!(header(file), (b';', 0));
    }

    #[test]
    fn salesforce_footer_lines_are_found_in_order() {
        let file = format!("id,team,amount\na,east,10{SALESFORCE_FOOTER}");
        assert_eq!(
            footer(&tail(file.as_bytes())),
            vec![
                String::new(),
                "Confidential Information - Do Not Distribute".to_owned(),
                "Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved.".to_owned(),
            ]
        );
    }

    #[test]
    fn a_last_row_with_two_values_is_data_and_a_value_past_the_first_field_is_no_footer() {
        assert!(footer(&tail(b"id,team,amount\na,east,\n")).is_empty());
        assert!(footer(&tail(b"id,team,amount\na,east,10\n,,Total\n")).is_empty());
        assert!(footer(&tail(b"id,team,amount\na,east,10\nO-9\n")).is_empty());
    }

    #[test]
    fn a_totals_row_ending_the_table_is_found_before_or_without_a_footer() {
        let file =
            format!("id,team,amount\na,east,10\nGrand Totals (1 records),,10{SALESFORCE_FOOTER}");
        assert_eq!(
            totals(&tail(file.as_bytes())),
            Some("Grand Totals (1 records)".to_owned())
        );
        assert_eq!(footer(&tail(file.as_bytes())).len(), 3);
        assert_eq!(
            totals(&tail(b"id,team,amount\na,east,10\nTOTAL,,10\n")),
            Some("TOTAL".to_owned())
        );
        assert_eq!(totals(&tail(b"id,team,amount\na,east,10\n")), None);
        assert_eq!(
            totals(&tail(b"id,team,amount\nTotal,east,10\nb,west,5\n")),
            None
        );
    }

    #[test]
    fn a_header_alone_has_no_footer() {
        assert_eq!(header(b"id,team,amount\n"), (b',', 0));
        assert!(footer(&tail(b"id,team,amount\n")).is_empty());
    }
}
