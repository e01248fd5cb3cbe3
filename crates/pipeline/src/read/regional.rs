//! Dates and numbers as CRM reports write them in their user's locale:
//! `11/20/2026` (a US user), `20/11/2026` or `20.11.2026` (most others),
//! `20-Nov-2026` or `Nov 20, 2026` (a month by name, as Excel's medium
//! date and English reports write it), with a time of day and `AM`/`PM`
//! or not; `USD 12,500.00`, `$12,500.00`,
//! `12.500,00 €`, `1 234,56`. Salesforce and Dynamics report exports write
//! both that way.
//!
//! Nothing is guessed from one value. A column's day-month order is the
//! one its values show: a first number above 12 is a day (day first), a
//! second above 12 is a day (month first). A column that shows neither
//! (every day of the month 12 or less), or both, has its slash dates
//! refused. Likewise a column's decimal separator is the one its values
//! show (`1,234.50`: the point; `1.234,50` or `12,5`: the comma); a value
//! such as `1,234` alone says nothing and is read with the column's.
use polars::prelude::*;

/// A day, month and year read from `d/m/y`, `m/d/y` or `d.m.y` text.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Parts {
    first: u32,
    second: u32,
    year: i32,
    /// Written with dots: always day first.
    dotted: bool,
}

/// The date part of `text` if it is a regional date with an optional
/// time of day (`HH:MM[:SS]`, optionally `AM`/`PM`), else `None`.
fn parts(text: &str) -> Option<Parts> {
    let text = text.trim();
    // `YYYY-...`: ISO, read elsewhere (most values of most files).
    if text.as_bytes().get(4) == Some(&b'-') {
        return None;
    }
    let date = date_part(text)?;
    let separator = if date.contains('/') {
        '/'
    } else if date.contains('.') {
        '.'
    } else {
        return None;
    };
    let mut fields = date.split(separator);
    let (first, second, year) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some() || year.len() != 4 {
        return None;
    }
    let parts = Parts {
        first: day_or_month(first)?,
        second: day_or_month(second)?,
        year: year
            .parse()
            .ok()
            .filter(|_| year.bytes().all(|b| b.is_ascii_digit()))?,
        dotted: separator == '.',
    };
    (parts.first >= 1 && parts.second >= 1 && parts.first.max(parts.second) <= 31).then_some(parts)
}

/// `text`'s date, if what follows it after a space is a time of day.
fn date_part(text: &str) -> Option<&str> {
    match text.split_once(char::is_whitespace) {
        Some((date, time)) => is_time(time.trim()).then_some(date),
        None => Some(text),
    }
}

/// A day or a month written as one or two digits.
fn day_or_month(text: &str) -> Option<u32> {
    (!text.is_empty() && text.len() <= 2 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// `HH:MM`, `HH:MM:SS` (fractions allowed), then optionally `AM`/`PM`.
fn is_time(time: &str) -> bool {
    let clock = match time.rsplit_once(char::is_whitespace) {
        Some((clock, "AM" | "PM" | "am" | "pm")) => clock,
        _ => time,
    };
    let mut fields = clock.split(':');
    let digits = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    let (Some(h), Some(m)) = (fields.next(), fields.next()) else {
        return false;
    };
    let seconds_ok = fields.next().is_none_or(|s| {
        let whole = s.split_once('.').map_or(s, |(w, _)| w);
        digits(whole)
    });
    digits(h) && digits(m) && seconds_ok && fields.next().is_none()
}

/// The day-month order a column's slash dates are read in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum DayOrder {
    DayFirst,
    MonthFirst,
}

impl DayOrder {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DayOrder::DayFirst => "day first",
            DayOrder::MonthFirst => "month first",
        }
    }
}

/// Which orders `texts`' slash dates show: (day first, month first).
fn shown_orders<'a>(texts: impl Iterator<Item = &'a str>) -> (bool, bool) {
    let (mut day_first, mut month_first) = (false, false);
    for p in texts.filter_map(parts).filter(|p| !p.dotted) {
        day_first |= p.first > 12;
        month_first |= p.second > 12;
    }
    (day_first, month_first)
}

/// The one order `shown` holds, if it holds exactly one.
fn one_order((day_first, month_first): (bool, bool)) -> Option<DayOrder> {
    match (day_first, month_first) {
        (true, false) => Some(DayOrder::DayFirst),
        (false, true) => Some(DayOrder::MonthFirst),
        _ => None,
    }
}

/// The order `texts`' slash dates show, if they show exactly one.
#[cfg(test)]
fn column_order<'a>(texts: impl Iterator<Item = &'a str>) -> Option<DayOrder> {
    one_order(shown_orders(texts))
}

/// Where a column's order comes from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Shown {
    /// Its own days above 12.
    Column,
    /// The file's other date columns (its own days never pass 12: a file
    /// is written in one locale).
    File,
}

/// The order to read `own` in: the one its values show; where they show
/// none (no day above 12), the one `others` (the file's other date
/// columns) show together; none where either shows both.
fn order_in_file(own: &StringChunked, others: &[&StringChunked]) -> Option<(DayOrder, Shown)> {
    match shown_orders(own.iter().flatten()) {
        (false, false) => {
            let file = shown_orders(others.iter().flat_map(|c| c.iter().flatten()));
            one_order(file).map(|o| (o, Shown::File))
        }
        shown => one_order(shown).map(|o| (o, Shown::Column)),
    }
}

/// Month names as English exports write them, by number from 1: the
/// three-letter form, the whole name, or `Sept`.
const MONTHS: [&str; 12] = quotecast_model::MONTH_NAMES;

/// The month `word` names (`Nov`, `november`, `Sept.`), in any capitals.
fn month_named(word: &str) -> Option<u32> {
    let word = word.trim_end_matches('.');
    if word.len() < 3 || !word.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let word = word.to_ascii_lowercase();
    let place = MONTHS.iter().position(|m| {
        m.starts_with(word.as_str()) && (word.len() == 3 || word.len() == m.len() || word == "sept")
    })?;
    u32::try_from(place + 1).ok()
}

/// A date whose fields need no day-month order: a month named, or the
/// year first.
fn unordered(text: &str) -> Option<chrono::NaiveDate> {
    named(text).or_else(|| year_first(text))
}

/// `YYYY/MM/DD` or `YYYY.MM.DD` (as East Asian locales write dates), with
/// a time of day or not.
fn year_first(text: &str) -> Option<chrono::NaiveDate> {
    let text = text.trim();
    let bytes = text.as_bytes();
    let separator = *bytes.get(4)?;
    if !matches!(separator, b'/' | b'.') || !bytes[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut fields = date_part(text)?.split(char::from(separator));
    let (year, month, day) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some() {
        return None;
    }
    chrono::NaiveDate::from_ymd_opt(year.parse().ok()?, day_or_month(month)?, day_or_month(day)?)
}

/// A date with its month by name, as Excel's medium date and English
/// reports write it: `20-Nov-2026`, `20 Nov 2026`, `Nov 20, 2026`,
/// `November 20, 2026`, optionally followed by a time of day. Never
/// ambiguous, so read whatever the rest of the column holds.
fn named(text: &str) -> Option<chrono::NaiveDate> {
    let text = text.trim();
    // `YYYY-...` (ISO, read elsewhere: most values of most files) and
    // anything without a letter: no month name.
    if text.as_bytes().get(4) == Some(&b'-') || !text.bytes().any(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    // The time of day, if any, from the first field holding a `:`.
    let (date, time) = match text.find(':') {
        Some(colon) => {
            let start = text[..colon].rfind(char::is_whitespace)?;
            (&text[..start], Some(text[start..].trim()))
        }
        None => (text, None),
    };
    if time.is_some_and(|t| !is_time(t)) {
        return None;
    }
    let fields: Vec<&str> = date
        .split(|c: char| c.is_whitespace() || c == '-' || c == ',')
        .filter(|f| !f.is_empty())
        .collect();
    let [a, b, year] = fields.as_slice() else {
        return None;
    };
    let (day, month) = match (month_named(a), month_named(b)) {
        (None, Some(month)) => (day_or_month(a)?, month),
        (Some(month), None) => (day_or_month(b)?, month),
        _ => return None,
    };
    let year = (year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()))
        .then(|| year.parse::<i32>().ok())
        .flatten()?;
    chrono::NaiveDate::from_ymd_opt(year, month, day)
}

/// The date `text` stands for, as `YYYY-MM-DD`, in the column's `order`
/// (a month by name needs none).
fn iso(text: &str, order: Option<DayOrder>) -> Option<String> {
    let Some(p) = parts(text) else {
        return unordered(text).map(|d| d.to_string());
    };
    let (day, month) = match (p.dotted, order) {
        (true, _) | (false, Some(DayOrder::DayFirst)) => (p.first, p.second),
        (false, Some(DayOrder::MonthFirst)) => (p.second, p.first),
        (false, None) => return None,
    };
    chrono::NaiveDate::from_ymd_opt(p.year, month, day).map(|d| d.to_string())
}

/// A text column mapped into text by `f`, which sees the whole column at
/// once: polars' `apply`, not `map`, since a map may be handed a column
/// in pieces (and a piece may not show the column's order).
fn whole_column<F>(raw: Expr, f: F) -> Expr
where
    F: Fn(&StringChunked) -> StringChunked + Send + Sync + 'static,
{
    raw.apply(
        move |column: Column| {
            Ok(f(column.str()?)
                .with_name(column.name().clone())
                .into_column())
        },
        |_, field| Ok(Field::new(field.name().clone(), DataType::String)),
    )
}

/// Column `raw`'s values each read by `read` with the day-month order
/// the whole column shows, else the order the file's other date columns
/// `others` show (see [`order_in_file`]); all null when no value is a
/// regional date.
fn in_file_order<F>(raw: Expr, others: Vec<Expr>, read: F) -> Expr
where
    F: Fn(&str, Option<(DayOrder, Shown)>) -> Option<String> + Send + Sync + 'static,
{
    let read_all = move |texts: &StringChunked, others: &[&StringChunked]| -> StringChunked {
        if !texts
            .iter()
            .flatten()
            .any(|v| parts(v).is_some() || unordered(v).is_some())
        {
            return StringChunked::full_null(texts.name().clone(), texts.len());
        }
        let order = order_in_file(texts, others);
        texts
            .iter()
            .map(|v| v.and_then(|v| read(v, order)))
            .collect()
    };
    if others.is_empty() {
        return whole_column(raw, move |texts| read_all(texts, &[]));
    }
    let mut fields = vec![raw];
    fields.extend(others);
    as_struct(fields).apply(
        move |column: Column| {
            let fields = column.struct_()?.fields_as_series();
            let Some((own, others)) = fields.split_first() else {
                return Ok(column);
            };
            let others: Vec<&StringChunked> = others.iter().filter_map(|f| f.str().ok()).collect();
            Ok(read_all(own.str()?, &others)
                .with_name(own.name().clone())
                .into_column())
        },
        |_, field| Ok(Field::new(field.name().clone(), DataType::String)),
    )
}

/// Column `raw`'s regional dates as `YYYY-MM-DD` text (null where a value
/// is none, or neither its column nor the file's other date columns
/// `others` show one order).
pub(crate) fn dates(raw: Expr, others: Vec<Expr>) -> Expr {
    in_file_order(raw, others, |v, order| iso(v, order.map(|(o, _)| o)))
}

/// Per value of column `raw`: the order it was read in and what showed
/// it (`day first`, `month first`, each followed by ` (file)` where the
/// file's other date columns `others` did), null for a value that is not
/// a regional date or was not read.
pub(crate) fn date_orders(raw: Expr, others: Vec<Expr>) -> Expr {
    in_file_order(raw, others, |v, order| {
        let p = parts(v)?;
        iso(v, order.map(|(o, _)| o))?;
        let (read, shown) = match p.dotted {
            true => (DayOrder::DayFirst, Shown::Column),
            false => order?,
        };
        Some(order_label(read, shown))
    })
}

/// How [`date_orders`] writes an order and what showed it.
pub(crate) fn order_label(order: DayOrder, shown: Shown) -> String {
    match shown {
        Shown::Column => order.as_str().to_owned(),
        Shown::File => format!("{} (file)", order.as_str()),
    }
}

/// Currency symbols a report puts before or after an amount.
const SYMBOLS: [char; 6] = ['$', '€', '£', '¥', '₹', '₩'];

/// An amount's text split into its currency code (three capital letters
/// before or after it, if any) and the number without symbols, spaces
/// or apostrophes used to group digits; `None` when nothing was there to
/// take away.
fn stripped(text: &str) -> Option<(Option<&str>, String)> {
    // Most amounts are plain (`12500.00`, `-3`): nothing to take away,
    // told without building the text.
    let plain = text
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+');
    if plain && text.bytes().filter(|&b| b == b'.').count() <= 1 {
        return None;
    }
    let trimmed = text.trim();
    let is_code = |s: &str| s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase());
    let (code, number) = match trimmed.split_once(char::is_whitespace) {
        Some((head, rest)) if is_code(head) => (Some(head), rest),
        _ => match trimmed.rsplit_once(char::is_whitespace) {
            Some((rest, tail)) if is_code(tail) => (Some(tail), rest),
            _ => (None, trimmed),
        },
    };
    let number: String = number
        .chars()
        .filter(|c| !SYMBOLS.contains(c) && !c.is_whitespace() && *c != '\'' && *c != '’')
        .collect();
    let changed = code.is_some() || number.len() != trimmed.len();
    let grouped = number.contains(',') || number.matches('.').count() > 1;
    (changed || grouped).then_some((code, number))
}

/// What one number's separators say of the decimal separator.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Decimal {
    Point,
    Comma,
}

fn says(number: &str) -> Option<Decimal> {
    let last = number.rfind([',', '.'])?;
    let mark = number.as_bytes()[last];
    let other = if mark == b',' { '.' } else { ',' };
    let as_decimal = if mark == b',' {
        Decimal::Comma
    } else {
        Decimal::Point
    };
    let as_grouping = if mark == b',' {
        Decimal::Point
    } else {
        Decimal::Comma
    };
    if number.contains(other) {
        // `1,234.50`, `1.234,50`: the last mark is the decimal one.
        return Some(as_decimal);
    }
    let marks = number.matches(mark as char).count();
    let after = number.len() - last - 1;
    if marks > 1 {
        // `1,234,567`: a mark used more than once groups digits.
        Some(as_grouping)
    } else if after == 3 {
        // `1,234` or `1.234`: either.
        None
    } else {
        Some(as_decimal)
    }
}

/// `number` as plain text with a point for the decimal separator when
/// written with `decimal` (`None`: the column said nothing; a lone mark
/// followed by three digits then groups only when it is a comma).
fn plain(number: &str, decimal: Option<Decimal>) -> String {
    let decimal = decimal.unwrap_or(Decimal::Point);
    let (group, point) = match decimal {
        Decimal::Point => (',', '.'),
        Decimal::Comma => ('.', ','),
    };
    number
        .chars()
        .filter(|&c| c != group)
        .map(|c| if c == point { '.' } else { c })
        .collect()
}

/// What a column's numbers show, from one reading of each value.
#[derive(Debug, Default, Clone, Copy)]
struct Separators {
    /// Some value has something to take away (a code, a symbol, a
    /// grouping mark) or groups its digits.
    formatted: bool,
    /// Some value's marks say the point, or the comma, is its decimal one.
    point: bool,
    comma: bool,
}

impl Separators {
    fn of<'a>(texts: impl Iterator<Item = &'a str>) -> Self {
        let mut seen = Separators::default();
        for (_, number) in texts.filter_map(stripped) {
            seen.formatted = true;
            match says(&number) {
                Some(Decimal::Point) => seen.point = true,
                Some(Decimal::Comma) => seen.comma = true,
                None => {}
            }
        }
        seen
    }

    /// The decimal separator the column shows, if only one.
    fn decimal(self) -> Option<Decimal> {
        match (self.point, self.comma) {
            (true, false) => Some(Decimal::Point),
            (false, true) => Some(Decimal::Comma),
            _ => None,
        }
    }

    /// Values that say the point and values that say the comma.
    fn mixed(self) -> bool {
        self.point && self.comma
    }
}

/// `text` as a plain number when the column writes numbers with
/// `decimal` (codes, symbols and grouping taken away, a point for the
/// decimal separator); as written when nothing is to change.
fn read_number(text: &str, decimal: Option<Decimal>) -> Option<String> {
    match stripped(text) {
        Some((_, number)) => Some(plain(&number, decimal)),
        None if decimal == Some(Decimal::Comma) && text.contains([',', '.']) => {
            Some(plain(text.trim(), decimal))
        }
        None => None,
    }
}

/// Column `raw`'s values with currency codes and symbols, spaces and
/// grouping marks taken away and a point for the decimal separator, in
/// the separator the whole column shows. A column whose values show both
/// separators is kept as written (and refused as numbers later).
pub(crate) fn numbers(raw: Expr) -> Expr {
    whole_column(raw, |texts| {
        let seen = Separators::of(texts.iter().flatten());
        if !seen.formatted || seen.mixed() {
            return texts.clone();
        }
        let decimal = seen.decimal();
        texts
            .iter()
            .map(|v| v.map(|v| read_number(v, decimal).unwrap_or_else(|| v.to_owned())))
            .collect()
    })
}

/// Per value of column `raw`: the currency code written with it, if any.
pub(crate) fn codes(raw: Expr) -> Expr {
    whole_column(raw, |texts| {
        texts
            .iter()
            .map(|v| v.and_then(stripped).and_then(|(code, _)| code))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_with_the_month_by_name_are_read_whatever_the_column_shows() {
        let read = |t: &str| iso(t, None);
        for text in [
            "20-Nov-2026",
            "20 Nov 2026",
            "Nov 20, 2026",
            "November 20, 2026",
            "20-NOV-2026",
            "Sept. 20, 2026",
            "nov 20 2026 9:30 AM",
            "20-Nov-2026 17:45:10",
        ] {
            let month = if text.starts_with("Sept") { "09" } else { "11" };
            assert_eq!(read(text), Some(format!("2026-{month}-20")), "{text}");
        }
        // Not a date: a day the month lacks, a word that is no month, a
        // two-digit year, two months, a bad time.
        for text in [
            "31-Nov-2026",
            "20-Nom-2026",
            "20-Nov-26",
            "Nov Dec 2026",
            "20-Nov-2026 25:99:00x",
            "No 20, 2026",
        ] {
            assert_eq!(read(text), None, "{text}");
        }
    }

    #[test]
    fn dates_with_the_year_first_are_read_whatever_the_column_shows() {
        let read = |t: &str| iso(t, None);
        for text in [
            "2026/11/20",
            "2026.11.20",
            "2026/11/20 09:30:15",
            "2026/1/2 9:30 PM",
        ] {
            let day = if text.ends_with("20") || text.contains("/20 ") {
                "11-20"
            } else {
                "01-02"
            };
            assert_eq!(read(text), Some(format!("2026-{day}")), "{text}");
        }
        for text in [
            "2026/11/31",
            "2026/13/01",
            "2026/11",
            "2026/11/20/1",
            "20261/1/20",
            "2026/11/20 noon",
        ] {
            assert_eq!(read(text), None, "{text}");
        }
    }

    #[test]
    fn a_columns_day_month_order_is_the_one_its_days_above_12_show() {
        let us = ["11/20/2026", "12/01/2026 10:15 AM", "1/2/2026"];
        let order = column_order(us.into_iter());
        assert_eq!(order, Some(DayOrder::MonthFirst));
        let read: Vec<_> = us.iter().map(|t| iso(t, order)).collect();
        assert_eq!(
            read,
            [
                Some("2026-11-20".to_owned()),
                Some("2026-12-01".to_owned()),
                Some("2026-01-02".to_owned())
            ]
        );
        let uk = ["20/11/2026 17:05", "01/12/2026"];
        let order = column_order(uk.into_iter());
        assert_eq!(order, Some(DayOrder::DayFirst));
        assert_eq!(iso("01/12/2026", order).as_deref(), Some("2026-12-01"));
        // Nothing says, or both say: not read.
        assert_eq!(column_order(["01/12/2026", "03/04/2026"].into_iter()), None);
        assert_eq!(column_order(["13/01/2026", "01/13/2026"].into_iter()), None);
        assert_eq!(iso("01/12/2026", None), None);
        // Dots are always day first; a 31 February is no date.
        assert_eq!(iso("20.11.2026", None).as_deref(), Some("2026-11-20"));
        assert_eq!(iso("31/02/2026", Some(DayOrder::DayFirst)), None);
        for not_a_date in [
            "2026-11-20",
            "11/20/26",
            "11/20/2026 noon",
            "1.5",
            "a/b/2026",
        ] {
            assert_eq!(parts(not_a_date), None, "{not_a_date}");
        }
    }

    #[test]
    fn report_amounts_lose_their_codes_symbols_and_grouping_in_the_columns_separator() {
        let us = ["USD 12,500.00", "$1,234", "7.5", "1,000,000"];
        let decimal = Separators::of(us.into_iter()).decimal();
        assert_eq!(decimal, Some(Decimal::Point));
        let read: Vec<String> = us
            .iter()
            .map(|t| read_number(t, decimal).unwrap_or_else(|| (*t).to_owned()))
            .collect();
        assert_eq!(read, ["12500.00", "1234", "7.5", "1000000"]);
        assert_eq!(stripped("USD 12,500.00").and_then(|s| s.0), Some("USD"));
        assert_eq!(stripped("12.500,00 EUR").and_then(|s| s.0), Some("EUR"));
        let de = ["12.500,00 €", "1.234", "1 234,5"];
        let decimal = Separators::of(de.into_iter()).decimal();
        assert_eq!(decimal, Some(Decimal::Comma));
        let read: Vec<String> = de
            .iter()
            .map(|t| read_number(t, decimal).unwrap_or_else(|| (*t).to_owned()))
            .collect();
        assert_eq!(read, ["12500.00", "1234", "1234.5"]);
        // Plain numbers are left alone.
        assert_eq!(stripped("12500.00"), None);
        assert_eq!(stripped("-3"), None);
    }
}
