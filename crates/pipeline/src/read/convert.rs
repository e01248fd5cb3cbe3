//! From a file's columns, typed as its writer chose, to quotecast's
//! canonical types: dates from dates, timestamps or text with or without
//! a time of day; amounts from decimals, integers, text or floating point;
//! a CRM's stage and outcome labels to the rules' ids. Every value that
//! does not convert is flagged, so that it can be named by row and column.
use std::str::FromStr;

use polars::prelude::*;
use quotecast_model::Currency;
use rust_decimal::Decimal;
use rustc_hash::{FxHashMap, FxHashSet};

use super::{Vocabulary, noise::without_float_noise, regional};
use crate::{PipelineError, columns as col};

/// What a column must hold.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Date,
    Count,
    Amount,
}

impl Kind {
    pub(crate) fn dtype(self) -> DataType {
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
            Kind::Date => {
                "a date (YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS], ISO 8601 with T and Z or an offset, YYYY/MM/DD, DD.MM.YYYY, DD-Mon-YYYY, Mon DD, YYYY, or DD/MM/YYYY or MM/DD/YYYY in the order the column's days above 12, else the file's other dates, show)"
            }
            Kind::Count => "a whole number of units",
            Kind::Amount => "a decimal amount",
        }
    }
}

/// A column: its kind, whether the file must have it, whether every row
/// must have a value, and whether an empty value is read as zero.
#[derive(Clone, Copy)]
pub(crate) struct Spec {
    pub name: &'static str,
    pub kind: Kind,
    pub column_required: bool,
    pub value_required: bool,
    pub empty_is_zero: bool,
    /// What a row without a value is read as, and a file without the
    /// column (said in a note).
    pub default_text: Option<&'static str>,
}

pub(crate) const fn spec(name: &'static str, kind: Kind, column: bool, value: bool) -> Spec {
    Spec {
        name,
        kind,
        column_required: column,
        value_required: value,
        empty_is_zero: false,
        default_text: None,
    }
}

/// A grouping column many exports do not have (Salesforce's opportunities
/// carry no team or region of their own): a row without one, or a file
/// without the column, is read as `default` and said in a note, so the
/// forecast treats those deals as one group.
pub(crate) const fn text_or(name: &'static str, default: &'static str) -> Spec {
    Spec {
        name,
        kind: Kind::Text,
        column_required: false,
        value_required: false,
        empty_is_zero: false,
        default_text: Some(default),
    }
}

/// An amount column the file must have, whose empty values are read as
/// zero and counted in a note: a CRM leaves an early opportunity's amount,
/// or a lost deal's booking, empty.
pub(crate) const fn amount_or_zero(name: &'static str) -> Spec {
    Spec {
        name,
        kind: Kind::Amount,
        column_required: true,
        value_required: false,
        empty_is_zero: true,
        default_text: None,
    }
}

/// One check over a column: the rows where `flag` holds are bad for
/// `reason`. A vocabulary check also lists the distinct values it found,
/// followed by its text (`a stage of the rules; expected ...`).
pub(crate) struct Check {
    pub column: &'static str,
    pub reason: String,
    pub flag: Expr,
    pub vocabulary: Option<String>,
}

/// The typed columns of a table, what to check, and what the reader did
/// that a user should be told once (floating-point amounts rounded).
pub(crate) struct Typed {
    /// Expressions over the file's columns, each aliased to its name.
    pub columns: Vec<Expr>,
    /// Flags computed alongside [`Typed::columns`] (a value that was there
    /// but did not convert), named [`flag_name`]`(i)` for check `i`.
    pub conversion_flags: Vec<Expr>,
    /// Every check; those past the conversion flags are over the typed
    /// columns.
    pub checks: Vec<Check>,
    pub notes: Vec<String>,
    /// What the reader changed that the user is told with a count: a note
    /// and the flag of the rows it changed (over the file's values,
    /// computed alongside the typed columns, named [`tally_name`]`(i)`).
    pub tallies: Vec<(String, Expr)>,
}

impl Typed {
    /// A check over the file's own values, computed alongside the typed
    /// columns.
    fn raw_check(&mut self, column: &'static str, reason: String, flag: Expr) {
        let i = self.checks.len();
        self.conversion_flags.push(flag.alias(flag_name(i)));
        self.checks.push(Check {
            column,
            reason,
            flag: col(flag_name(i)),
            vocabulary: None,
        });
    }
}

pub(crate) fn flag_name(i: usize) -> String {
    format!("__check{i}")
}

pub(crate) fn tally_name(i: usize) -> String {
    format!("__tally{i}")
}

/// The date formats read from text, tried in this order: a date; a date
/// and time (seconds optional); ISO 8601 as APIs and data loaders export
/// it, in UTC (`Z`) or with an offset (the date as written, in the
/// writer's zone).
const DATE_FORMATS: [&str; 8] = [
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%dT%H:%M:%S%.f%z",
];

/// Builds the typed columns and checks of `specs` over a file whose schema
/// is `schema`.
pub(crate) fn typed(
    path: &std::path::Path,
    schema: &Schema,
    specs: &[Spec],
    vocabulary: &Vocabulary,
) -> Result<Typed, PipelineError> {
    let mut typed = Typed {
        columns: Vec::new(),
        conversion_flags: Vec::new(),
        checks: Vec::new(),
        notes: Vec::new(),
        tallies: Vec::new(),
    };
    let mut later: Vec<Check> = Vec::new();
    // The file's date columns written as text.
    let text_dates: Vec<&str> = specs
        .iter()
        .filter(|o| o.kind == Kind::Date && schema.get(o.name) == Some(&DataType::String))
        .map(|o| o.name)
        .collect();
    for s in specs {
        let Some(dtype) = schema.get(s.name) else {
            if s.column_required {
                let found: Vec<String> = schema
                    .iter_names()
                    .take(40)
                    .map(|n| format!("`{}`", n.chars().take(64).collect::<String>()))
                    .collect();
                let labels: Vec<String> = vocabulary
                    .column_labels
                    .iter()
                    .filter(|(_, column)| column == s.name)
                    .map(|(label, _)| format!("`{label}`"))
                    .collect();
                let named = if labels.is_empty() {
                    String::new()
                } else {
                    format!(", nor one the rules label it: {}", labels.join(", "))
                };
                return Err(PipelineError::Format {
                    path: path.to_path_buf(),
                    message: format!(
                        "no column `{}` ({}){named}; the file's columns are {}",
                        s.name,
                        s.kind.describe(),
                        found.join(", ")
                    ),
                });
            }
            if let Some(default) = s.default_text {
                typed.notes.push(format!(
                    "no column `{}` (nor one the rules label it): every row read as `{default}`",
                    s.name
                ));
                typed.columns.push(lit(default).alias(s.name));
                continue;
            }
            typed
                .columns
                .push(lit(NULL).cast(s.kind.dtype()).alias(s.name));
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
        // The file's other date columns written as text: where this
        // one's days never pass 12, their order is the file's.
        let other_dates: Vec<Expr> = text_dates
            .iter()
            .filter(|&&name| name != s.name)
            .map(|&name| col(name))
            .collect();
        let (value, precision) = converted(s, dtype, vocabulary, other_dates, &mut typed);
        let unconverted = col(s.name).is_not_null().and(value.clone().is_null());
        typed.raw_check(s.name, format!("is not {}", s.kind.describe()), unconverted);
        if let Some((reason, flag)) = precision {
            typed.raw_check(s.name, reason, flag);
        }
        if s.kind == Kind::Amount && dtype == &DataType::String && schema.contains(col::CURRENCY) {
            // `EUR 1,200.00` on a row in USD is not read as dollars.
            let other = regional::codes(col(s.name))
                .neq(col(col::CURRENCY))
                .fill_null(lit(false));
            typed.raw_check(
                s.name,
                format!("names a currency other than the row's `{}`", col::CURRENCY),
                other,
            );
        }
        let value = if let Some(default) = s.default_text {
            typed.tallies.push((
                format!("row(s) had no `{}` and were read as `{default}`", s.name),
                col(s.name).is_null(),
            ));
            value.fill_null(lit(default))
        } else if s.empty_is_zero {
            typed.tallies.push((
                format!("value(s) of column `{}` were empty and read as 0", s.name),
                col(s.name).is_null(),
            ));
            value.fill_null(lit(0).cast(s.kind.dtype()))
        } else {
            value
        };
        typed.columns.push(value.alias(s.name));
        if s.value_required {
            typed.raw_check(s.name, "is empty".into(), col(s.name).is_null());
        }
    }
    let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
    let outcomes: Vec<String> = ["won", "lost"].map(String::from).to_vec();
    let currencies: Vec<String> = vocabulary
        .currencies
        .iter()
        .map(|c| c.code.as_str().to_owned())
        .collect();
    let labels = "or a label that rules/pipeline/stages.toml gives a stage";
    let words: [(&'static str, &[String], &str, &str); 4] = [
        (
            col::STAGE,
            &vocabulary.stages,
            "a stage of the rules",
            labels,
        ),
        (col::CURRENCY, &currencies, "a currency of the rules", ""),
        (
            col::FORECAST_CATEGORY,
            &vocabulary.forecast_categories,
            "a forecast category",
            "",
        ),
        (
            col::OUTCOME,
            &outcomes,
            "an outcome",
            "or a label that rules/pipeline/stages.toml gives a closed stage",
        ),
    ];
    for (name, known, what, or) in words {
        if !names.contains(&name) {
            continue;
        }
        let expected = format!(
            "{}{}{or}",
            known.join(", "),
            if or.is_empty() { "" } else { ", " }
        );
        let list = Series::new("known".into(), known.to_vec());
        later.push(Check {
            column: name,
            reason: format!("is not {what}"),
            flag: col(name)
                .is_not_null()
                .and(col(name).is_in(lit(list).implode(false), false).not()),
            vocabulary: Some(format!("{what}; expected {expected}")),
        });
    }
    typed.checks.extend(later);
    Ok(typed)
}

/// Whether a file column of type `dtype` can be read as `kind`.
fn convertible(dtype: &DataType, kind: Kind) -> bool {
    let blank = matches!(dtype, DataType::String | DataType::Null);
    match kind {
        Kind::Text => blank,
        Kind::Date => blank || matches!(dtype, DataType::Date | DataType::Datetime(..)),
        Kind::Count | Kind::Amount => {
            blank || dtype.is_integer() || dtype.is_float() || dtype.is_decimal()
        }
    }
}

/// The expression reading column `s` of type `dtype` as its kind, and
/// for exact amounts the check that none has more decimals than its
/// currency (over the file's values).
fn converted(
    s: &Spec,
    dtype: &DataType,
    vocabulary: &Vocabulary,
    other_dates: Vec<Expr>,
    typed: &mut Typed,
) -> (Expr, Option<(String, Expr)>) {
    let raw = col(s.name);
    let value = match s.kind {
        Kind::Text if s.name == col::STAGE => {
            relabelled(raw, &vocabulary.stage_labels, &vocabulary.stages)
        }
        Kind::Text if s.name == col::FORECAST_CATEGORY => relabelled(
            raw,
            &category_labels(&vocabulary.forecast_categories),
            &vocabulary.forecast_categories,
        ),
        Kind::Text if s.name == col::OUTCOME => relabelled(
            raw,
            &vocabulary.outcome_labels,
            &["won", "lost"].map(String::from),
        ),
        Kind::Text if s.name == col::OPPORTUNITY_ID => {
            typed.tallies.push((
                format!(
                    "value(s) of column `{}` were Salesforce 18-character ids, read as their 15-character form (as Salesforce's reports write them), so they match ids written either way",
                    s.name
                ),
                salesforce_long(raw.clone()),
            ));
            salesforce_short(raw)
        }
        Kind::Text => raw,
        Kind::Date if dtype == &DataType::String => {
            let parse = |text: Expr, format: &str| {
                text.str().to_date(StrptimeOptions {
                    format: Some(format.into()),
                    strict: false,
                    exact: true,
                    cache: true,
                })
            };
            // The first format that reads a value wins; the others are
            // tried only on values it did not read (a date written
            // `2026-11-20` is parsed once, not once per format).
            let plain_date = parse(raw.clone(), DATE_FORMATS[0]);
            let unread = when(plain_date.clone().is_null())
                .then(raw.clone())
                .otherwise(lit(NULL).cast(DataType::String));
            let mut tries = vec![plain_date];
            tries.extend(
                DATE_FORMATS[1..]
                    .iter()
                    .map(|format| parse(unread.clone(), format)),
            );
            tries.push(
                regional::dates(raw.clone(), other_dates.clone())
                    .str()
                    .to_date(StrptimeOptions {
                        format: Some("%Y-%m-%d".into()),
                        strict: false,
                        exact: true,
                        cache: true,
                    }),
            );
            let orders = regional::date_orders(raw.clone(), other_dates);
            for order in [regional::DayOrder::DayFirst, regional::DayOrder::MonthFirst] {
                let written = match order {
                    regional::DayOrder::DayFirst => "day first (DD/MM/YYYY or DD.MM.YYYY)",
                    regional::DayOrder::MonthFirst => "month first (MM/DD/YYYY)",
                };
                for (shown, why) in [
                    (regional::Shown::Column, "its days above 12 show it"),
                    (
                        regional::Shown::File,
                        "its own days never pass 12; the file's other date columns show it",
                    ),
                ] {
                    typed.tallies.push((
                        format!(
                            "value(s) of column `{}` were written with the {written} and read so ({why})",
                            s.name
                        ),
                        orders
                            .clone()
                            .eq(lit(regional::order_label(order, shown)))
                            .fill_null(lit(false)),
                    ));
                }
            }
            coalesce(&tries)
        }
        Kind::Date => raw.cast(DataType::Date),
        Kind::Count if dtype.is_float() => when(raw.clone().eq(raw.clone().floor()))
            .then(raw.strict_cast(DataType::UInt32))
            .otherwise(lit(NULL).cast(DataType::UInt32)),
        // A whole number written as a float (pandas writes a column of
        // counts with a gap as `37.0`) is the count it names.
        Kind::Count if dtype == &DataType::String => {
            let raw = regional::numbers(raw);
            let number = raw.clone().cast(DataType::Float64);
            let whole = number
                .clone()
                .eq(number.clone().floor())
                .and(number.clone().gt_eq(lit(0.0)))
                .and(number.clone().lt_eq(lit(f64::from(u32::MAX))));
            coalesce(&[
                raw.cast(DataType::UInt32),
                when(whole)
                    .then(number.cast(DataType::UInt32))
                    .otherwise(lit(NULL).cast(DataType::UInt32)),
            ])
        }
        Kind::Count => raw.cast(DataType::UInt32),
        Kind::Amount if dtype.is_float() => {
            typed
                .notes
                .push(rounding_note(s.name, &vocabulary.currencies));
            rounded_floats(s.name, &vocabulary.currencies)
        }
        // Integers and decimals with no more places than every currency
        // allows cannot be too precise: no check over the rows.
        Kind::Amount if within_every_scale(dtype, &vocabulary.currencies) => {
            raw.cast(s.kind.dtype())
        }
        Kind::Amount => {
            let reason = format!(
                "has more decimals than its currency has ({})",
                currency_scales(&vocabulary.currencies)
            );
            // Text may carry a float's binary noise (pandas writes a sum of
            // cents as `24878.379999999997`): such values are read as the
            // amount they stand for, and counted in a note.
            let amount = if dtype == &DataType::String {
                let written = regional::numbers(raw.clone());
                typed.tallies.push((
                    regional_note(s.name),
                    raw.clone()
                        .is_not_null()
                        .and(written.clone().neq(raw.clone())),
                ));
                let text = noise_rounded(written.clone(), &vocabulary.currencies);
                typed.tallies.push((
                    noise_note(s.name),
                    written.clone().is_not_null().and(text.clone().neq(written)),
                ));
                text
            } else {
                raw
            };
            let flag = too_precise(amount.clone(), &vocabulary.currencies);
            return (amount.cast(s.kind.dtype()), Some((reason, flag)));
        }
    };
    (value, None)
}

/// Each label replaced by the id it stands for, and each id or label
/// written in other capitals or with spaces around it (`closed won`,
/// `WON`, ` Qualify`, as CRMs and hand-edited exports write them) by its
/// id: an exact label first (the first pair naming it wins), then the
/// label or id equal but for case and surrounding spaces. Other values
/// are unchanged (the vocabulary check names them). One pass looks each
/// value up; a column holding nothing to replace (a file already in the
/// rules' ids) is returned as it is, without a copy.
pub(crate) fn relabelled(raw: Expr, labels: &[(String, String)], ids: &[String]) -> Expr {
    let relabel = std::sync::Arc::new(Relabel::new(labels, ids));
    raw.map(
        move |column: Column| {
            let Ok(texts) = column.str() else {
                return Ok(column);
            };
            if !texts.iter().flatten().any(|v| relabel.id_of(v).is_some()) {
                return Ok(column);
            }
            let out: StringChunked = texts
                .iter()
                .map(|v| v.map(|v| relabel.id_of(v).unwrap_or(v)))
                .collect();
            Ok(out.with_name(column.name().clone()).into_column())
        },
        |_, field| Ok(field.clone()),
    )
}

/// The lookups of [`relabelled`].
struct Relabel {
    ids: FxHashSet<String>,
    exact: FxHashMap<String, String>,
    folded: FxHashMap<String, String>,
}

impl Relabel {
    fn new(labels: &[(String, String)], ids: &[String]) -> Self {
        let mut exact = FxHashMap::default();
        for (label, id) in labels {
            exact.entry(label.clone()).or_insert_with(|| id.clone());
        }
        let mut folded = FxHashMap::default();
        let named = ids.iter().map(|id| (id, id));
        for (label, id) in named.chain(labels.iter().map(|(l, i)| (l, i))) {
            folded.entry(fold(label)).or_insert_with(|| id.clone());
        }
        Relabel {
            ids: ids.iter().cloned().collect(),
            exact,
            folded,
        }
    }

    /// The id `value` stands for, if it is not one already.
    fn id_of(&self, value: &str) -> Option<&str> {
        if self.ids.contains(value) {
            return None;
        }
        self.exact
            .get(value)
            .or_else(|| self.folded.get(&fold(value)))
            .map(String::as_str)
    }
}

/// What CRMs write for the forecast categories, beyond the categories'
/// own names in any capitals (`PIPELINE`, HubSpot's `BEST_CASE`) and
/// with a space for the underscore (Salesforce's `Best Case`): the API
/// values of Salesforce's `ForecastCategory` (`BestCase`, and `Forecast`
/// for commit) and HubSpot's `OMIT` and `Not forecasted`.
const CATEGORY_LABELS: [(&str, &str); 4] = [
    ("BestCase", "best_case"),
    ("Forecast", "commit"),
    ("Omit", "omitted"),
    ("Not forecasted", "omitted"),
];

/// The labels of the forecast categories `ids`: each with a space for
/// its underscores, and the [`CATEGORY_LABELS`] of those it has.
fn category_labels(ids: &[String]) -> Vec<(String, String)> {
    ids.iter()
        .filter(|id| id.contains('_'))
        .map(|id| (id.replace('_', " "), id.clone()))
        .chain(
            CATEGORY_LABELS
                .iter()
                .filter(|(_, id)| ids.iter().any(|i| i == id))
                .map(|(label, id)| ((*label).to_owned(), (*id).to_owned())),
        )
        .collect()
}

/// A label as compared when its capitals and surrounding spaces differ.
fn fold(label: &str) -> String {
    label.trim().to_lowercase()
}

/// The 15-character form of a Salesforce 18-character id: `id` when its
/// last three characters are the checksum Salesforce appends (for each
/// five characters of the fifteen, which of them are capitals, as one of
/// `A`–`Z`, `0`–`5`), which another system's id of 18 letters and digits
/// has by chance about once in 32,768.
pub(crate) fn salesforce_15(id: &str) -> Option<&str> {
    const SUFFIX: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    let bytes = id.as_bytes();
    if bytes.len() != 18 || !bytes.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    for (chunk, check) in bytes[..15].chunks(5).zip(&bytes[15..]) {
        let capitals = chunk
            .iter()
            .enumerate()
            .filter(|(_, b)| b.is_ascii_uppercase())
            .fold(0usize, |bits, (i, _)| bits | 1 << i);
        if !check.eq_ignore_ascii_case(&SUFFIX[capitals]) {
            return None;
        }
    }
    id.get(..15)
}

/// Opportunity ids, Salesforce 18-character ones read as their
/// 15-character form.
fn salesforce_short(raw: Expr) -> Expr {
    raw.map(
        |column: Column| {
            let Ok(ids) = column.str() else {
                return Ok(column);
            };
            if !ids.iter().flatten().any(|v| salesforce_15(v).is_some()) {
                return Ok(column);
            }
            let out: StringChunked = ids
                .iter()
                .map(|v| v.map(|v| salesforce_15(v).unwrap_or(v)))
                .collect();
            Ok(out.with_name(column.name().clone()).into_column())
        },
        |_, field| Ok(field.clone()),
    )
}

/// Whether each opportunity id is a Salesforce 18-character id.
fn salesforce_long(raw: Expr) -> Expr {
    raw.map(
        |column: Column| {
            let Ok(ids) = column.str() else {
                let none = BooleanChunked::full(column.name().clone(), false, column.len());
                return Ok(none.into_column());
            };
            let flags: BooleanChunked = ids
                .iter()
                .map(|v| Some(v.is_some_and(|v| salesforce_15(v).is_some())))
                .collect();
            Ok(flags.with_name(column.name().clone()).into_column())
        },
        |_, field| Ok(Field::new(field.name().clone(), DataType::Boolean)),
    )
}

/// The decimals a file may give an amount in `currency`: its minor unit,
/// at most the file format's 2.
fn allowed_decimals(currency: &Currency) -> u32 {
    currency.scale.min(col::AMOUNT_SCALE as u32)
}

fn currency_scales(currencies: &[Currency]) -> String {
    currencies
        .iter()
        .map(|c| format!("{} {}", c.code.as_str(), allowed_decimals(c)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether every value of type `dtype` has no more decimals than any of
/// `currencies` allows: integers, and decimals of at most that scale.
fn within_every_scale(dtype: &DataType, currencies: &[Currency]) -> bool {
    let fewest = currencies.iter().map(allowed_decimals).min().unwrap_or(0);
    match dtype {
        DataType::Decimal(_, scale) => *scale as u32 <= fewest,
        other => other.is_integer(),
    }
}

/// An exact amount (text, decimal, integer) with more decimals than its
/// currency's minor unit: compared with itself cut to those decimals.
fn too_precise(amount: Expr, currencies: &[Currency]) -> Expr {
    let wide = || amount.clone().cast(DataType::Decimal(38, 12));
    let mut flag = lit(false);
    for currency in currencies {
        let cut = wide()
            .cast(DataType::Decimal(38, allowed_decimals(currency) as usize))
            .cast(DataType::Decimal(38, 12));
        flag = flag.or(col(col::CURRENCY)
            .eq(lit(currency.code.as_str()))
            .and(wide().neq(cut)));
    }
    flag
}

/// Column `name`'s text with every value whose extra places are a
/// double's binary noise (see [`super::noise`]) written at its currency's
/// places; other values, and values of an unknown currency, as they are.
fn noise_rounded(input: Expr, currencies: &[Currency]) -> Expr {
    let mut by_places: Vec<(u32, Vec<String>)> = Vec::new();
    for currency in currencies {
        let places = allowed_decimals(currency);
        let code = currency.code.as_str().to_owned();
        match by_places.iter_mut().find(|(p, _)| *p == places) {
            Some((_, codes)) => codes.push(code),
            None => by_places.push((places, vec![code])),
        }
    }
    by_places
        .into_iter()
        .rev()
        .fold(input.clone(), |rest, (places, codes)| {
            let codes = Series::new("codes".into(), codes);
            let value = input.clone().map(
                move |column: Column| {
                    let texts = column.str()?;
                    if !texts.iter().flatten().any(|v| v.len() > 16) {
                        return Ok(column);
                    }
                    let out: StringChunked = texts
                        .iter()
                        .map(|v| v.map(|v| without_float_noise(v, places).unwrap_or(v.to_owned())))
                        .collect();
                    Ok(out.with_name(column.name().clone()).into_column())
                },
                |_, field| Ok(field.clone()),
            );
            when(col(col::CURRENCY).is_in(lit(codes).implode(false), false))
                .then(value)
                .otherwise(rest)
        })
}

fn regional_note(name: &str) -> String {
    format!(
        "value(s) of column `{name}` were written as reports format numbers (a currency code or symbol, digits grouped, a decimal comma) and read as the number they show (`USD 12,500.00` as 12500.00, `12.500,00 €` as 12500.00)"
    )
}

fn noise_note(name: &str) -> String {
    format!(
        "value(s) of column `{name}` carried a double's binary noise past their currency's minor unit (as pandas writes a sum of cents: `24878.379999999997`) and were read as the amount they stand for (24878.38)"
    )
}

fn rounding_note(name: &str, currencies: &[Currency]) -> String {
    let rules: Vec<String> = currencies
        .iter()
        .map(|c| {
            format!(
                "{} to {} decimals {}",
                c.code.as_str(),
                allowed_decimals(c),
                c.rounding.name()
            )
        })
        .collect();
    format!(
        "column `{name}` holds floating-point numbers: each was read as the shortest decimal that prints it and rounded to its currency's minor unit ({})",
        rules.join(", ")
    )
}

/// Floating-point amounts rounded per row to their currency's minor unit
/// with the currency's rounding; an unknown currency gives null (refused
/// by the currency check).
fn rounded_floats(name: &str, currencies: &[Currency]) -> Expr {
    let amount = DataType::Decimal(col::AMOUNT_PRECISION, col::AMOUNT_SCALE);
    currencies
        .iter()
        .rev()
        .fold(lit(NULL).cast(amount.clone()), |rest, currency| {
            let value = col(name)
                .cast(DataType::Float64)
                .map(round_with(currency.clone()), |_, field| {
                    Ok(Field::new(field.name().clone(), DataType::String))
                })
                .cast(amount.clone());
            when(col(col::CURRENCY).eq(lit(currency.code.as_str())))
                .then(value)
                .otherwise(rest)
        })
}

/// The column's floats as decimal text rounded for `currency` (null for
/// NaN, infinities and values too large).
fn round_with(currency: Currency) -> impl Fn(Column) -> PolarsResult<Column> + Send + Sync {
    move |column: Column| {
        let floats = column.f64()?;
        let texts: StringChunked = floats
            .iter()
            .map(|v| {
                let v = v.filter(|v| v.is_finite())?;
                let exact = Decimal::from_str(&v.to_string()).ok()?;
                let mut rounded = currency.round(exact);
                rounded.rescale(allowed_decimals(&currency));
                Some(rounded.to_string())
            })
            .collect();
        Ok(texts.with_name(column.name().clone()).into_column())
    }
}
