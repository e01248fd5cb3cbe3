//! The data files a forecast, backtest, funnel or plan job reads, as a
//! CRM exports them: checked against the rules, with what the reader did
//! said once on standard error, and the day the job is as of.
use std::path::Path;

use anyhow::Context;
use chrono::NaiveDate;
use quotecast_forecast::{DataFrame, vocabulary};
use quotecast_model::RuleSet;
use quotecast_pipeline::read::{History, read_history, read_snapshot_noted, snapshot_date};

/// `--as-of` and the like: a date in the form YYYY-MM-DD.
pub fn parse_date(word: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(word, "%Y-%m-%d")
        .map_err(|_| format!("`{word}` is not a date in the form YYYY-MM-DD"))
}

/// The checked snapshot.
pub fn read_pipeline(path: &Path, rules: &RuleSet) -> anyhow::Result<DataFrame> {
    let snapshot = read_snapshot_noted(path, &vocabulary(rules))?;
    for note in &snapshot.notes {
        eprintln!("note: {}: {note}", path.display());
    }
    Ok(snapshot.frame)
}

/// The checked history directory.
pub fn read_history_dir(dir: &Path, rules: &RuleSet) -> anyhow::Result<History> {
    let history = tracing::info_span!("read_history")
        .in_scope(|| read_history(dir, &vocabulary(rules)))
        .with_context(|| format!("reading the history in {}", dir.display()))?;
    for note in &history.notes {
        eprintln!("note: {note}");
    }
    Ok(history)
}

/// The day a job is as of: the one given, else the snapshot's own
/// `snapshot_date` when the file holds one date there, else today, said on
/// standard error.
pub fn as_of(
    given: Option<NaiveDate>,
    pipeline: Option<(&Path, &RuleSet)>,
) -> anyhow::Result<NaiveDate> {
    if let Some(day) = given {
        return Ok(day);
    }
    if let Some((path, rules)) = pipeline
        && let Some(day) = snapshot_date(path, &vocabulary(rules))?
    {
        eprintln!(
            "note: as of {day}, the snapshot_date {} holds (give --as-of to change it)",
            path.display()
        );
        return Ok(day);
    }
    let today = chrono::Local::now().date_naive();
    eprintln!(
        "warning: as of today, {today}: {}give --as-of YYYY-MM-DD for the day the data was taken",
        if pipeline.is_some() {
            "the snapshot has no snapshot_date column; "
        } else {
            ""
        }
    );
    Ok(today)
}
