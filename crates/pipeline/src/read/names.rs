//! A CRM's own column names read as ours. An export names its columns as
//! the CRM shows them (`Opportunity ID`, `Close Date`, `Deal Stage`); a
//! file column that is not one of the file's own columns is read as the
//! column whose label (from the rules' `[[column]]`) it is, else as the
//! column its name becomes once written as ours are (lower case, words
//! joined by `_`: `Opportunity ID` is `opportunity_id`), labels compared
//! the same way. A file column with our own name is always read as is;
//! of two file columns read as one of ours the stronger match is read,
//! and two as strong are refused, naming both.
use polars::prelude::*;

use super::convert::Spec;
use crate::PipelineError;

/// `name` in lower case with every run of other characters than letters
/// and digits as one `_`, none at the ends.
fn normalized(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// How a file column names one of ours, strongest first: a label as
/// written, a label written otherwise, our name written otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Match {
    Label,
    LabelLoosely,
    Name,
}

/// The file's columns to read as ours: (the file's name, ours), in the
/// file's order. `labels` are (label, column). Where several file columns
/// name one of ours, the strongest match is read (a Salesforce report's
/// `Total Price`, a label of `amount`, rather than its `Amount`, the
/// opportunity's); two as strong are refused.
pub(crate) fn renames(
    path: &std::path::Path,
    schema: &Schema,
    specs: &[Spec],
    labels: &[(String, String)],
) -> Result<Vec<(String, &'static str)>, PipelineError> {
    let ours = |name: &str| specs.iter().any(|s| s.name == name);
    let labelled = |name: &str, how: Match| {
        specs.iter().map(|s| s.name).find(|column| {
            labels.iter().any(|(label, c)| {
                c == column
                    && match how {
                        Match::Label => label == name,
                        _ => normalized(label) == normalized(name),
                    }
            })
        })
    };
    // (file column, ours, how), in the file's order.
    let mut found: Vec<(&str, &'static str, Match)> = Vec::new();
    for name in schema.iter_names() {
        let name = name.as_str();
        if ours(name) {
            continue;
        }
        let target = labelled(name, Match::Label)
            .map(|t| (t, Match::Label))
            .or_else(|| labelled(name, Match::LabelLoosely).map(|t| (t, Match::LabelLoosely)))
            .or_else(|| {
                specs
                    .iter()
                    .map(|s| s.name)
                    .find(|column| *column == normalized(name))
                    .map(|t| (t, Match::Name))
            });
        if let Some((target, how)) = target
            && !schema.contains(target)
        {
            found.push((name, target, how));
        }
    }
    let mut out: Vec<(String, &'static str)> = Vec::new();
    for &(name, target, how) in &found {
        let strongest = found
            .iter()
            .filter(|(_, t, _)| *t == target)
            .map(|(_, _, h)| *h)
            .min();
        if strongest != Some(how) {
            continue;
        }
        if let Some((other, _)) = out.iter().find(|(_, t)| *t == target) {
            return Err(PipelineError::Format {
                path: path.to_path_buf(),
                message: format!(
                    "columns `{other}` and `{name}` would both be read as `{target}`: rename or drop one"
                ),
            });
        }
        out.push((name.to_owned(), target));
    }
    Ok(out)
}

/// `raw` with the file's columns in `renamed` under our names.
pub(crate) fn apply(raw: LazyFrame, renamed: &[(String, &'static str)]) -> LazyFrame {
    if renamed.is_empty() {
        return raw;
    }
    raw.rename(
        renamed.iter().map(|(from, _)| from.as_str()),
        renamed.iter().map(|(_, to)| *to),
        true,
    )
}

/// The note telling which columns were read as ours (the caller names
/// the file).
pub(crate) fn note(renamed: &[(String, &'static str)]) -> Option<String> {
    (!renamed.is_empty()).then(|| {
        let pairs: Vec<String> = renamed
            .iter()
            .map(|(from, to)| format!("`{from}` as `{to}`"))
            .collect();
        format!("the CRM's columns read as ours: {}", pairs.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{columns as col, read::convert::Kind};

    fn specs() -> Vec<Spec> {
        [
            col::OPPORTUNITY_ID,
            col::STAGE,
            col::EXPECTED_CLOSE,
            col::AMOUNT,
        ]
        .map(|name| super::super::convert::spec(name, Kind::Text, true, true))
        .to_vec()
    }

    fn schema(names: &[&str]) -> Schema {
        names
            .iter()
            .map(|n| Field::new((*n).into(), DataType::String))
            .collect()
    }

    #[test]
    fn a_crm_export_s_columns_are_read_by_label_and_by_name_written_as_ours() {
        let labels = vec![
            ("Close Date".to_owned(), "expected_close".to_owned()),
            ("Deal Stage".to_owned(), "stage".to_owned()),
        ];
        let path = std::path::Path::new("export.csv");
        let found = renames(
            path,
            &schema(&[
                "Opportunity ID",
                "deal stage",
                "Close Date",
                "amount",
                "Probability (%)",
            ]),
            &specs(),
            &labels,
        )
        .unwrap();
        assert_eq!(
            found,
            vec![
                ("Opportunity ID".to_owned(), "opportunity_id"),
                ("deal stage".to_owned(), "stage"),
                ("Close Date".to_owned(), "expected_close"),
            ]
        );
        // A column with our own name wins over a CRM's.
        let found = renames(
            path,
            &schema(&["Close Date", "expected_close"]),
            &specs(),
            &labels,
        )
        .unwrap();
        assert!(found.is_empty(), "{found:?}");
        // A label beats our name written otherwise: a report's line
        // amount over its opportunity's.
        let labels_with_price = [
            labels.clone(),
            vec![("Total Price".to_owned(), "amount".to_owned())],
        ]
        .concat();
        let found = renames(
            path,
            &schema(&["Opportunity ID", "Amount", "Total Price"]),
            &specs(),
            &labels_with_price,
        )
        .unwrap();
        assert_eq!(
            found,
            vec![
                ("Opportunity ID".to_owned(), "opportunity_id"),
                ("Total Price".to_owned(), "amount"),
            ]
        );
        // Two of the file's columns read as one of ours as strongly: refused.
        let clash = renames(path, &schema(&["STAGE", "Stage-"]), &specs(), &labels)
            .unwrap_err()
            .to_string();
        assert!(
            clash.contains("`STAGE` and `Stage-` would both be read as `stage`"),
            "{clash}"
        );
        // A weaker match gives way: `Deal Stage` is a label, `STAGE` only
        // our name written otherwise.
        let found = renames(path, &schema(&["Deal Stage", "STAGE"]), &specs(), &labels).unwrap();
        assert_eq!(found, vec![("Deal Stage".to_owned(), "stage")]);
    }
}
