//! The sales funnel's stages. A funnel the forecast can rely on has open
//! stages with time limits, exactly one won stage at 100 % and at least one
//! lost stage at 0 %; orders and ids are unique.
use std::collections::HashMap;

use quotecast_model::{
    FiscalYear, ForecastCategory, PIPELINE_COLUMNS, Percent, RuleSetParts, Stage, StageOutcome,
};
use rust_decimal::Decimal;

use super::Compiler;
use crate::format::{ColumnDef, ParsedFile, StageDef};

const OUTCOMES: &[(&str, StageOutcome)] =
    &[("won", StageOutcome::Won), ("lost", StageOutcome::Lost)];

pub(super) fn compile(c: &mut Compiler<'_>, files: &[ParsedFile<'_>], parts: &mut RuleSetParts) {
    // order -> (file, line, id) of the stage that took it first.
    let mut orders: HashMap<u32, (std::path::PathBuf, usize, String)> = HashMap::new();
    let mut won = 0;
    let mut last_open_rate: Option<(Decimal, String)> = None;
    let mut defined = Vec::new();
    let mut rejected = false;
    for f in files {
        for at in &f.stages {
            let Some(stage) = stage(c, f, at.line, &at.value) else {
                rejected = true;
                continue;
            };
            if let Some((file, line, id)) = orders.get(&stage.order) {
                let message = format!(
                    "stage `{}`: order {} is already taken by stage `{id}` at {}:{line}",
                    stage.id,
                    stage.order,
                    file.display()
                );
                c.report(f, at.line, message);
                continue;
            }
            orders.insert(
                stage.order,
                (f.source.path.clone(), at.line, stage.id.clone()),
            );
            if stage.outcome == Some(StageOutcome::Won) {
                won += 1;
            }
            defined.push((f, at.line, stage));
        }
    }
    defined.sort_by_key(|(_, _, s)| s.order);
    check_labels(c, &defined);
    let mut open_after_closed = false;
    for (f, line, stage) in &defined {
        if stage.is_open() {
            if open_after_closed {
                let message = format!(
                    "stage `{}` is open but comes after a closed stage: open stages come first",
                    stage.id
                );
                c.report(f, *line, message);
            }
            if let Some((rate, earlier)) = &last_open_rate
                && stage.win_rate.0 < *rate
            {
                let message = format!(
                    "stage `{}` wins less often ({} %) than the earlier stage `{earlier}` ({rate} %)",
                    stage.id, stage.win_rate.0
                );
                c.warn(f, *line, message);
            }
            last_open_rate = Some((stage.win_rate.0, stage.id.clone()));
        } else {
            open_after_closed = true;
        }
    }
    // A funnel-level check over a funnel with a rejected stage would only
    // repeat that stage's problem.
    if !defined.is_empty() && !rejected {
        let (f, line, _) = defined[0];
        if won != 1 {
            let message = format!(
                "the funnel needs exactly one stage with outcome = \"won\", found {}",
                won
            );
            c.report(f, line, message);
        }
        if !defined
            .iter()
            .any(|(_, _, s)| s.outcome == Some(StageOutcome::Lost))
        {
            c.report(f, line, "the funnel needs a stage with outcome = \"lost\"");
        }
    }
    parts.stages = defined.into_iter().map(|(_, _, s)| s).collect();
    parts.column_labels = columns(c, files);
    parts.fiscal_year = fiscal_year(c, files);
}

/// The month the fiscal year starts in: set at most once, a month's name;
/// January (calendar quarters) when no file sets it.
fn fiscal_year(c: &mut Compiler<'_>, files: &[ParsedFile<'_>]) -> FiscalYear {
    let mut found: Option<(FiscalYear, std::path::PathBuf, usize)> = None;
    for f in files {
        let Some(at) = &f.fiscal_year_start else {
            continue;
        };
        if let Some((_, file, line)) = &found {
            let message = format!(
                "fiscal_year_start is set twice: first at {}:{line}",
                file.display()
            );
            c.report(f, at.line, message);
            continue;
        }
        match FiscalYear::parse(&at.value) {
            Some(year) => found = Some((year, f.source.path.clone(), at.line)),
            None => {
                let message = format!(
                    "fiscal_year_start `{}` is not a month (expected one of {})",
                    at.value,
                    FiscalYear::MONTHS.join(", ")
                );
                c.report(f, at.line, message);
            }
        }
    }
    found.map_or(FiscalYear::CALENDAR, |(year, _, _)| year)
}

/// The CRM column names of every `[[column]]`, as (label, column): the
/// column is one pipeline and history files have, given once; a label is
/// not empty, not a column's own name and not given twice for it (one
/// label may name columns of different files, `Close Date` the
/// snapshot's `expected_close` and the outcomes' `closed`).
fn columns(c: &mut Compiler<'_>, files: &[ParsedFile<'_>]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen: HashMap<String, (std::path::PathBuf, usize)> = HashMap::new();
    for f in files {
        for at in &f.columns {
            let ColumnDef { id, labels } = &at.value;
            if !PIPELINE_COLUMNS.contains(&id.as_str()) {
                let message = format!(
                    "column `{id}` is not a column of pipeline or history files (expected one of {})",
                    PIPELINE_COLUMNS.join(", ")
                );
                c.report(f, at.line, message);
                continue;
            }
            if let Some((file, line)) = seen.get(id) {
                let message = format!(
                    "column `{id}` already has its labels at {}:{line}",
                    file.display()
                );
                c.report(f, at.line, message);
                continue;
            }
            seen.insert(id.clone(), (f.source.path.clone(), at.line));
            for (k, label) in labels.iter().enumerate() {
                let problem = if label.trim().is_empty() || label.trim() != label {
                    Some(format!(
                        "column `{id}`: label `{label}` is empty or has spaces around it"
                    ))
                } else if PIPELINE_COLUMNS.contains(&label.as_str()) {
                    Some(format!(
                        "column `{id}`: label `{label}` is the name of a column"
                    ))
                } else if labels[..k].contains(label) {
                    Some(format!("column `{id}`: label `{label}` is given twice"))
                } else {
                    None
                };
                match problem {
                    Some(message) => c.report(f, at.line, message),
                    None => out.push((label.clone(), id.clone())),
                }
            }
        }
    }
    out
}

/// A label names one stage: it is not empty, not another stage's id and
/// not given twice.
fn check_labels(c: &mut Compiler<'_>, defined: &[(&ParsedFile<'_>, usize, Stage)]) {
    let mut named: HashMap<&str, &str> = defined
        .iter()
        .map(|(_, _, s)| (s.id.as_str(), s.id.as_str()))
        .collect();
    for (f, line, stage) in defined {
        for label in &stage.labels {
            let problem = if label.trim().is_empty() || label.trim() != label {
                Some(format!(
                    "stage `{}`: label `{label}` is empty or has spaces around it",
                    stage.id
                ))
            } else {
                match named.get(label.as_str()) {
                    Some(other) if *other == label.as_str() => Some(format!(
                        "stage `{}`: label `{label}` is the id of stage `{other}`",
                        stage.id
                    )),
                    Some(other) => Some(format!(
                        "stage `{}`: label `{label}` already names stage `{other}`",
                        stage.id
                    )),
                    None => None,
                }
            };
            match problem {
                Some(problem) => c.report(f, *line, problem),
                None => {
                    named.insert(label.as_str(), stage.id.as_str());
                }
            }
        }
    }
}

/// One stage with its values checked; `None` after reporting a problem.
fn stage(c: &mut Compiler<'_>, f: &ParsedFile<'_>, line: usize, d: &StageDef) -> Option<Stage> {
    if !c.define(f, line, "stage", &d.id) {
        return None;
    }
    let owner = format!("stage `{}`", d.id);
    if d.id.starts_with('*') {
        // The forecast's tables name rows of every stage so.
        let message = format!(
            "{owner}: an id starting with `*` is kept for the forecast's tables (`*` is every stage)"
        );
        c.report(f, line, message);
        return None;
    }
    let win_rate = c.percent(f, line, &owner, d.win_rate.0)?;
    let category = match ForecastCategory::parse(&d.category) {
        Some(category) => category,
        None => {
            let names: Vec<_> = ForecastCategory::ALL.iter().map(|c| c.name()).collect();
            let message = format!(
                "{owner}: category `{}` is not one of {}",
                d.category,
                names.join(", ")
            );
            c.report(f, line, message);
            return None;
        }
    };
    let outcome = match &d.outcome {
        Some(word) => Some(c.choice(f, line, &owner, "outcome", word, OUTCOMES)?),
        None => None,
    };
    let problem = match (outcome, d.time_limit_days) {
        (None, None) => Some("an open stage needs time_limit_days (the days a deal may stay)"),
        (None, Some(0)) => Some("time_limit_days must be at least 1"),
        (Some(_), Some(_)) => Some("a closed stage has no time limit: remove time_limit_days"),
        (Some(StageOutcome::Won), _) if win_rate != Percent::HUNDRED => {
            Some("the won stage's win_rate must be 100")
        }
        (Some(StageOutcome::Won), _) if category != ForecastCategory::Closed => {
            Some("the won stage's category must be `closed`")
        }
        (Some(StageOutcome::Lost), _) if win_rate != Percent::ZERO => {
            Some("a lost stage's win_rate must be 0")
        }
        (Some(StageOutcome::Lost), _) if category != ForecastCategory::Omitted => {
            Some("a lost stage's category must be `omitted`")
        }
        (None, _)
            if matches!(
                category,
                ForecastCategory::Closed | ForecastCategory::Omitted
            ) =>
        {
            Some("an open stage's category is pipeline, best_case or commit")
        }
        _ => None,
    };
    if let Some(problem) = problem {
        c.report(f, line, format!("{owner}: {problem}"));
        return None;
    }
    Some(Stage {
        id: d.id.clone(),
        name: d.name.clone(),
        order: d.order,
        win_rate,
        category,
        time_limit_days: d.time_limit_days,
        outcome,
        labels: d.labels.clone(),
    })
}
