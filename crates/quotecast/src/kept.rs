//! Learning kept between command-line jobs. Reading and checking a
//! history, calibrating its win rates and learning the team correction is
//! most of a forecast job with history (about 25 of 35 seconds on a
//! 200,000-deal pipeline); an analyst re-running the job by another
//! grouping, with more trials or into another file pays it each time.
//! What was learned is kept under the data directory (`learned/`, see
//! [`quotecast_server::learned_disk`]) and reused while the snapshot, every
//! history file, the rules, the as-of date, the bucket, the prior strength
//! and the program stay the same; the job says which it did.
use std::{path::PathBuf, time::Instant};

use quotecast_forecast::ForecastSpec;
use quotecast_model::RuleSet;
use quotecast_pipeline::read::History;
use quotecast_server::{
    learned::LearnKey,
    learned_disk::{Keepable, LearnedOnDisk},
};

/// Where learning is kept and whether a kept result may be used.
pub struct Keeping {
    /// The data directory; learning goes in its `learned/`.
    pub data: PathBuf,
    /// Learn again even where a kept result matches (and keep the new one).
    pub relearn: bool,
}

impl Keeping {
    /// `data` (else `./data`), reused unless `relearn`.
    pub fn new(data: Option<PathBuf>, relearn: bool) -> Self {
        Self {
            data: data.unwrap_or_else(|| crate::config::DEFAULT_DATA.into()),
            relearn,
        }
    }
}

/// What the history in `dir` teaches: the result kept for `key` (put on
/// `base()`, the rules' spec) where one matches, else `learn`'s from the
/// history read and checked, kept for later jobs. A note says which.
pub fn learned<V: Keepable>(
    key: Option<LearnKey>,
    base: impl FnOnce() -> ForecastSpec,
    dir: &std::path::Path,
    rules: &RuleSet,
    keeping: &Keeping,
    learn: impl FnOnce(History) -> anyhow::Result<V>,
) -> anyhow::Result<V> {
    let store = LearnedOnDisk::new(keeping.data.join("learned"));
    if let (Some(key), false) = (&key, keeping.relearn)
        && let Some(found) = store.load::<V>(key, base())
    {
        for note in &found.read_notes {
            eprintln!("note: {note}");
        }
        let mut value = found.value;
        value.notes_mut().push(format!(
            "win rates, team correction, calendar and slippage reused from {} (an earlier job on the same files, rules, as-of date and bucket; learning them took {:.1} s then; --relearn learns them again)",
            found.entry.display(),
            found.took.as_secs_f64()
        ));
        return Ok(value);
    }
    let started = Instant::now();
    let history = crate::inputs::read_history_dir(dir, rules)?;
    let read_notes = history.notes.clone();
    let mut value = learn(history)?;
    let took = started.elapsed();
    if let Some(key) = key {
        match store.save(&key, &value, &read_notes, took) {
            Ok(entry) => value.notes_mut().push(format!(
                "what the history taught (learned in {:.1} s) is kept in {} for later jobs on the same files",
                took.as_secs_f64(),
                entry.display()
            )),
            Err(e) => eprintln!(
                "warning: what the history taught could not be kept in {}: {e}",
                keeping.data.join("learned").display()
            ),
        }
    }
    Ok(value)
}
