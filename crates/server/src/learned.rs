//! What a history teaches a job, kept between jobs on the same files.
//!
//! Calibrating win rates and learning the team correction, calendar and
//! slippage is most of a forecast with history (about 20 of 32 seconds on
//! a 200,000-deal pipeline) and of a roll-down, and it depends only on the
//! files, the rules, the as-of date, the bucket and the prior strength,
//! not on the grouping, the Monte Carlo or the inventory. An ERP pulling
//! the forecast by team, then by region, then by SKU, or a planner trying
//! plans against several inventory versions, would pay it each time; the
//! server learns it once per set of files and keeps the last few.
//!
//! A kept result is found by the identity of every file the job reads
//! (path, length, modification time and inode: an upload renames a new
//! file into place, so it is learned afresh), the rules' fingerprint, the as-of date, the
//! bucket, the prior strength and the won orders booked into the
//! snapshot. The job says so in its notes.
use std::{
    collections::VecDeque,
    hash::{DefaultHasher, Hash, Hasher},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime},
};

use chrono::NaiveDate;
use quotecast_demand::Taught;
use quotecast_forecast::ForecastSpec;
use quotecast_model::RuleSet;

use crate::learned_disk::{Keepable, LearnedOnDisk};

/// What a history taught a forecast: its spec and the notes learning
/// wrote.
pub type LearnedForecast = (ForecastSpec, Vec<String>);

/// What the server keeps per kind of job: forecasts' specs and notes,
/// roll-downs' [`Taught`]; in memory, and on disk where a restarted
/// server finds them.
#[derive(Default)]
pub struct LearnedJobs {
    pub forecasts: LearnedCache<LearnedForecast>,
    pub plans: LearnedCache<Taught>,
    pub on_disk: Option<LearnedOnDisk>,
}

/// The note a result read back from disk adds to its job's.
fn from_disk_note(took: Duration) -> String {
    format!(
        "win rates, team correction, calendar and slippage reused from an earlier job on the same files, rules, as-of date and bucket, kept on disk (learning them took {:.1} s then)",
        took.as_secs_f64()
    )
}

impl LearnedJobs {
    /// Learning kept in memory and under `dir`.
    pub fn on_disk(dir: PathBuf) -> Self {
        Self {
            on_disk: Some(LearnedOnDisk::new(dir)),
            ..Self::default()
        }
    }

    /// A forecast's spec and notes for `key` (see [`LearnedJobs::kept_or`]).
    pub fn forecast_or<E>(
        &self,
        key: Option<LearnKey>,
        base: impl FnOnce() -> ForecastSpec,
        learn: impl FnOnce() -> Result<LearnedForecast, E>,
    ) -> Result<(Arc<LearnedForecast>, Option<String>), E> {
        self.kept_or(&self.forecasts, key, base, learn)
    }

    /// A roll-down's [`Taught`] for `key` (see [`LearnedJobs::kept_or`]).
    pub fn plan_or<E>(
        &self,
        key: Option<LearnKey>,
        base: impl FnOnce() -> ForecastSpec,
        learn: impl FnOnce() -> Result<Taught, E>,
    ) -> Result<(Arc<Taught>, Option<String>), E> {
        self.kept_or(&self.plans, key, base, learn)
    }

    /// The result for `key`: kept in `cache`, else on disk (put on
    /// `base()`, the rules' spec), else `learn()`'s, kept in both; and the
    /// note a result reused from memory adds to the job's (one read from
    /// disk carries its own).
    fn kept_or<V: Keepable, E>(
        &self,
        cache: &LearnedCache<V>,
        key: Option<LearnKey>,
        base: impl FnOnce() -> ForecastSpec,
        learn: impl FnOnce() -> Result<V, E>,
    ) -> Result<(Arc<V>, Option<String>), E> {
        let disk = self.on_disk.as_ref().zip(key.clone());
        learned_or(cache, key, || {
            if let Some(found) = disk.as_ref().and_then(|(d, k)| d.load::<V>(k, base())) {
                tracing::info!(entry = %found.entry.display(), "history's learning read from disk");
                let mut value = found.value;
                value.notes_mut().push(from_disk_note(found.took));
                return Ok(value);
            }
            let started = Instant::now();
            let value = learn()?;
            if let Some((d, k)) = &disk
                && let Err(e) = d.save(k, &value, &[], started.elapsed())
            {
                tracing::warn!(error = %e, "history's learning not kept on disk");
            }
            Ok(value)
        })
    }
}

/// Results kept per kind of job (forecast, roll-down); the oldest used
/// goes first. Each is a few tables per team and stage (well under a
/// megabyte on a 200,000-deal history).
pub const KEPT: usize = 8;

/// One file as a job read it. The inode tells a file renamed into place
/// (as an upload stores one) from the one it replaced, even where the
/// file system keeps modification times to the second.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileVersion {
    path: PathBuf,
    bytes: u64,
    modified: SystemTime,
    inode: u64,
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}

/// What a learned result depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnKey {
    files: Vec<FileVersion>,
    rules: String,
    as_of: NaiveDate,
    /// The bucket, prior strength and anything else the job's learning
    /// reads, as the caller writes it.
    setting: String,
    /// A hash of the won orders booked into the snapshot (0: none).
    orders: u64,
}

impl LearnKey {
    /// The key of learning from `snapshot` and the files of `history` (a
    /// directory) with `rules` on `as_of`; `None` where the result must
    /// not be kept: a file whose version cannot be read, rules without a
    /// fingerprint.
    pub fn of(
        snapshot: &Path,
        history: &Path,
        rules: &RuleSet,
        as_of: NaiveDate,
        setting: String,
    ) -> Option<Self> {
        if rules.fingerprint().is_empty() {
            return None;
        }
        let mut paths = vec![snapshot.to_path_buf()];
        let mut in_history: Vec<PathBuf> = std::fs::read_dir(history)
            .ok()?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .ok()?;
        in_history.sort();
        paths.extend(in_history);
        let files = paths
            .into_iter()
            .map(|path| {
                let meta = std::fs::metadata(&path).ok()?;
                Some(FileVersion {
                    bytes: meta.len(),
                    modified: meta.modified().ok()?,
                    inode: inode(&meta),
                    path,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            files,
            rules: rules.fingerprint().to_owned(),
            as_of,
            setting,
            orders: 0,
        })
    }

    /// The key of a forecast's learning: [`LearnKey::of`] with the
    /// options' as-of date, bucket and prior strength.
    pub fn of_forecast(
        snapshot: &Path,
        history: &Path,
        rules: &RuleSet,
        options: &quotecast_forecast::ForecastOptions,
    ) -> Option<Self> {
        let setting = format!("{:?} {:?}", options.bucket, options.prior_strength);
        Self::of(snapshot, history, rules, options.as_of, setting)
    }

    /// The key of a roll-down's learning (weekly buckets, the prior
    /// strength estimated: only the plan date varies).
    pub fn of_plan(
        snapshot: &Path,
        history: &Path,
        rules: &RuleSet,
        as_of: NaiveDate,
    ) -> Option<Self> {
        Self::of(snapshot, history, rules, as_of, "plan".into())
    }

    /// The same key for a snapshot with `orders` booked into it (hashed
    /// as written by `Debug`).
    pub fn with_orders<T: std::fmt::Debug>(mut self, orders: &[T]) -> Self {
        if !orders.is_empty() {
            let mut hasher = DefaultHasher::new();
            for order in orders {
                format!("{order:?}").hash(&mut hasher);
            }
            self.orders = hasher.finish().max(1);
        }
        self
    }
}

/// A learned result, with how long learning it took.
pub struct Kept<V> {
    pub value: Arc<V>,
    pub took: Duration,
}

/// The last [`KEPT`] results of one kind of job, by key.
pub struct LearnedCache<V> {
    entries: Mutex<VecDeque<(LearnKey, Arc<V>, Duration)>>,
}

impl<V> Default for LearnedCache<V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(VecDeque::new()),
        }
    }
}

impl<V> LearnedCache<V> {
    /// The result kept for `key`, made the most recently used.
    pub fn get(&self, key: &LearnKey) -> Option<Kept<V>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let at = entries.iter().position(|(k, _, _)| k == key)?;
        let entry = entries.remove(at)?;
        let kept = Kept {
            value: entry.1.clone(),
            took: entry.2,
        };
        entries.push_back(entry);
        Some(kept)
    }

    /// Keeps `value` for `key`, learned in `took`; the least recently used
    /// goes beyond [`KEPT`], and so does any result of the same files of an
    /// older version (a file replaced: its old version will not be asked
    /// for again).
    pub fn put(&self, key: LearnKey, value: Arc<V>, took: Duration) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let same_paths = |k: &LearnKey| {
            k.files.len() == key.files.len()
                && k.files
                    .iter()
                    .zip(&key.files)
                    .all(|(a, b)| a.path == b.path)
        };
        entries.retain(|(k, _, _)| !(same_paths(k) && k.files != key.files) && *k != key);
        entries.push_back((key, value, took));
        while entries.len() > KEPT {
            entries.pop_front();
        }
    }

    /// How many results are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }
}

/// The result kept for `key` (with `None`, none is looked for or kept),
/// else `learn()`'s, kept; and the note a reused result adds to the job's.
pub fn learned_or<V, E>(
    cache: &LearnedCache<V>,
    key: Option<LearnKey>,
    learn: impl FnOnce() -> Result<V, E>,
) -> Result<(Arc<V>, Option<String>), E> {
    let Some(key) = key else {
        return Ok((Arc::new(learn()?), None));
    };
    if let Some(kept) = cache.get(&key) {
        tracing::info!(took = ?kept.took, "history's learning reused");
        let note = format!(
            "win rates, team correction, calendar and slippage reused from an earlier job on the same files, rules, as-of date and bucket (learning them took {:.1} s then)",
            kept.took.as_secs_f64()
        );
        return Ok((kept.value, Some(note)));
    }
    let started = Instant::now();
    let value = Arc::new(learn()?);
    cache.put(key, value.clone(), started.elapsed());
    Ok((value, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(dir: &Path, as_of: u32) -> LearnKey {
        let rules_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
        let rules = quotecast_rules::load_dir(&rules_dir).unwrap().0;
        LearnKey::of(
            &dir.join("pipeline.csv"),
            &dir.join("history"),
            &rules,
            NaiveDate::from_ymd_opt(2026, 1, as_of).unwrap(),
            "quarter".into(),
        )
        .unwrap()
    }

    #[test]
    fn a_result_is_reused_until_a_file_it_was_learned_from_changes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("history")).unwrap();
        std::fs::write(dir.path().join("pipeline.csv"), "a").unwrap();
        std::fs::write(dir.path().join("history/outcomes.csv"), "b").unwrap();
        let cache = LearnedCache::<u32>::default();
        let mut learned = 0;
        let mut run = |as_of| {
            learned_or(&cache, Some(key(dir.path(), as_of)), || {
                learned += 1;
                Ok::<_, ()>(learned)
            })
            .unwrap()
        };
        let (first, note) = run(1);
        assert!(note.is_none());
        let (again, note) = run(1);
        assert_eq!((*first, *again), (1, 1), "learned once");
        assert!(note.unwrap().contains("reused"));
        // Another as-of date is learned on its own.
        assert_eq!(*run(2).0, 2);
        // A history file written again (another length) is learned afresh,
        // and what was learned from its old version is dropped.
        std::fs::write(dir.path().join("history/outcomes.csv"), "bb").unwrap();
        assert_eq!(*run(1).0, 3);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn no_more_than_kept_results_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("history")).unwrap();
        std::fs::write(dir.path().join("pipeline.csv"), "a").unwrap();
        let cache = LearnedCache::<u32>::default();
        for day in 1..=(KEPT as u32 + 3) {
            learned_or(&cache, Some(key(dir.path(), day)), || Ok::<_, ()>(day)).unwrap();
        }
        assert_eq!(cache.len(), KEPT);
        // The first ones went first.
        let (value, note) =
            learned_or(&cache, Some(key(dir.path(), 1)), || Ok::<_, ()>(0)).unwrap();
        assert_eq!((*value, note), (0, None));
    }

    #[test]
    fn orders_booked_into_the_snapshot_are_part_of_the_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("history")).unwrap();
        std::fs::write(dir.path().join("pipeline.csv"), "a").unwrap();
        let plain = key(dir.path(), 1);
        assert_ne!(plain, plain.clone().with_orders(&["order 1"]));
        assert_eq!(plain, plain.clone().with_orders::<&str>(&[]));
    }
}
