//! What a CRM's export leaves out or lays out otherwise, put in the shape
//! the checks read, each said in a note: the rules' corporate currency for
//! a file without a currency column (a single-currency CRM's), currencies
//! written by their names as their codes, and HubSpot's `Date entered`
//! columns (one per stage, a row per deal) as stage entries (a row per
//! deal and stage).
use polars::prelude::*;

use super::{Vocabulary, convert::Spec, convert::relabelled};
use crate::columns as col;

/// Whether `specs` read column `name`.
fn reads(specs: &[Spec], name: &str) -> bool {
    specs.iter().any(|s| s.name == name)
}

/// `raw` with the rules' corporate currency as the `currency` of a file
/// that reads one but has none, and the note that says so.
pub(super) fn default_currency(
    raw: LazyFrame,
    schema: &Schema,
    specs: &[Spec],
    vocabulary: &Vocabulary,
) -> (LazyFrame, Option<String>) {
    match &vocabulary.default_currency {
        Some(code) if reads(specs, col::CURRENCY) && !schema.contains(col::CURRENCY) => (
            raw.with_column(lit(code.clone()).alias(col::CURRENCY)),
            Some(format!(
                "no column `{}` (nor one the rules label it): every amount read in {code}, the rules' corporate currency (a single-currency CRM's export; a file with deals in several currencies needs the column)",
                col::CURRENCY
            )),
        ),
        _ => (raw, None),
    }
}

/// `raw` with each currency written by its name in the rules (`US
/// Dollar`, as Dynamics 365 exports it) or in other capitals read as its
/// code, before the amounts are read by it.
pub(super) fn currency_codes(
    raw: LazyFrame,
    schema: &Schema,
    specs: &[Spec],
    vocabulary: &Vocabulary,
) -> LazyFrame {
    if !(reads(specs, col::CURRENCY) && schema.contains(col::CURRENCY)) {
        return raw;
    }
    let codes: Vec<String> = vocabulary
        .currencies
        .iter()
        .map(|c| c.code.as_str().to_owned())
        .collect();
    let names: Vec<(String, String)> = vocabulary
        .currencies
        .iter()
        .map(|c| (c.name.clone(), c.code.as_str().to_owned()))
        .collect();
    raw.with_column(relabelled(col(col::CURRENCY), &names, &codes).alias(col::CURRENCY))
}

/// The stage a `Date entered` column is of (`Date entered "Appointment
/// Scheduled (Sales Pipeline)"` is `Appointment Scheduled`), if it is one.
fn entered_stage(column: &str) -> Option<String> {
    const PREFIX: &str = "date entered ";
    let head = column.get(..PREFIX.len())?;
    if !head.eq_ignore_ascii_case(PREFIX) {
        return None;
    }
    let name = column[PREFIX.len()..]
        .trim()
        .trim_matches(['"', '\'', '“', '”']);
    // HubSpot names the pipeline after the stage: `Won (Sales Pipeline)`.
    let name = match name.rfind(" (") {
        Some(at) if name.ends_with(')') => &name[..at],
        _ => name,
    };
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// For a stage-events file without a `stage` column but with `Date
/// entered` columns (HubSpot's stage properties in a deals export): one
/// row per deal and stage it entered (`opportunity_id`, `stage`, `at`),
/// numbered in `row`, each keeping the file's row number in `file_row` so
/// a bad value is named where it is; and the note that says so. `None`
/// for any other file.
pub(super) fn stage_entries(
    raw: &LazyFrame,
    schema: &Schema,
    specs: &[Spec],
    row: &str,
    file_row: &str,
) -> Option<(LazyFrame, String)> {
    if !reads(specs, col::AT) || schema.contains(col::STAGE) || schema.contains(col::AT) {
        return None;
    }
    let wide: Vec<(PlSmallStr, String)> = schema
        .iter_names()
        .filter_map(|n| Some((n.clone(), entered_stage(n)?)))
        .collect();
    if wide.is_empty() || !schema.contains(col::OPPORTUNITY_ID) {
        return None;
    }
    // One type for every column's dates: text where the file mixes them.
    let same = wide
        .iter()
        .map(|(n, _)| schema.get(n))
        .collect::<Vec<_>>()
        .windows(2)
        .all(|pair| pair[0] == pair[1]);
    let numbered = raw.clone().with_row_index(file_row, Some(1));
    let parts: Vec<LazyFrame> = wide
        .iter()
        .map(|(column, stage)| {
            let at = match same {
                true => col(column.clone()),
                false => col(column.clone()).cast(DataType::String),
            };
            numbered
                .clone()
                .select([
                    col(file_row),
                    col(col::OPPORTUNITY_ID),
                    lit(stage.clone()).alias(col::STAGE),
                    at.alias(col::AT),
                ])
                .filter(col(col::AT).is_not_null())
        })
        .collect();
    let entries = concat(parts, UnionArgs::default())
        .ok()?
        .with_row_index(row, Some(1));
    let stages: Vec<String> = wide.iter().map(|(_, s)| format!("`{s}`")).collect();
    Some((
        entries,
        format!(
            "no column `{}`: each deal's stage entries read from its {} `Date entered` column(s) ({}), one row per stage entered; a bad date is named as column `{}` at the deal's row",
            col::STAGE,
            wide.len(),
            stages.join(", "),
            col::AT
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_entered_column_names_its_stage_without_the_pipeline() {
        let stage = |c: &str| entered_stage(c);
        assert_eq!(
            stage("Date entered \"Appointment Scheduled (Sales Pipeline)\"").as_deref(),
            Some("Appointment Scheduled")
        );
        assert_eq!(
            stage("date entered Closed Won").as_deref(),
            Some("Closed Won")
        );
        assert_eq!(stage("Date exited \"Closed Won (Sales Pipeline)\""), None);
        assert_eq!(stage("Date entered \"\""), None);
        assert_eq!(stage("Date"), None);
    }
}
