//! What a history taught a forecast, kept on disk between processes: the
//! command line's batch jobs (and a restarted server) reuse it where the
//! in-memory [`crate::learned::LearnedCache`] cannot.
//!
//! An entry is a directory under the store's, named by a hash of its key:
//! `learned.json` (the full key, how long learning took, the reader's
//! notes and the [`LearnedManifest`]) and one Parquet file per table of
//! [`quotecast_forecast::stored::TABLES`]. The key is the job's
//! [`LearnKey`] (every file's path, length, modification time and inode,
//! the rules' fingerprint, the as-of date, the bucket, the prior strength)
//! and the build of the program (its executable's length and modification
//! time): a rebuilt program, whose learning may differ, learns afresh. A
//! hash names the entry; the key written inside decides, so a collision
//! is a miss, not a wrong result. An entry is written under a temporary
//! name and renamed into place, so a reader never sees half of one. The
//! [`KEPT_ON_DISK`] most recently used are kept.
use std::{
    fs,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use polars::prelude::*;
use quotecast_forecast::{
    ForecastSpec,
    stored::{LearnedManifest, TABLES, learned_tables, with_learned},
};
use serde::{Deserialize, Serialize};

use quotecast_demand::Taught;

use crate::learned::{LearnKey, LearnedForecast};

/// Entries kept; the least recently used go first.
pub const KEPT_ON_DISK: usize = 16;
const MANIFEST: &str = "learned.json";

/// A directory of kept learning.
#[derive(Debug, Clone)]
pub struct LearnedOnDisk {
    dir: PathBuf,
}

/// What `learned.json` holds.
#[derive(Serialize, Deserialize)]
struct Entry {
    key: String,
    took_seconds: f64,
    /// What the history's reader said (values it read with a
    /// correction), to be said again.
    read_notes: Vec<String>,
    /// Tables without a column (none learned), which Parquet cannot hold.
    empty_tables: Vec<String>,
    learned: LearnedManifest,
    /// What else the job learned (a roll-down's deals won before the
    /// plan date), as the job's kind writes it.
    #[serde(default)]
    extra: serde_json::Value,
}

/// A learned result that can be kept on disk: a forecast's spec and
/// notes, and anything else as JSON.
pub trait Keepable: Sized {
    /// The spec, the notes and the rest.
    fn kept_parts(&self) -> ((&ForecastSpec, &[String]), serde_json::Value);
    /// Back from a spec, notes and the rest (`None`: the rest does not
    /// read).
    fn from_kept(learned: LearnedForecast, extra: serde_json::Value) -> Option<Self>;
    fn notes_mut(&mut self) -> &mut Vec<String>;
}

impl Keepable for LearnedForecast {
    fn kept_parts(&self) -> ((&ForecastSpec, &[String]), serde_json::Value) {
        ((&self.0, &self.1), serde_json::Value::Null)
    }

    fn from_kept(learned: LearnedForecast, _: serde_json::Value) -> Option<Self> {
        Some(learned)
    }

    fn notes_mut(&mut self) -> &mut Vec<String> {
        &mut self.1
    }
}

impl Keepable for Taught {
    fn kept_parts(&self) -> ((&ForecastSpec, &[String]), serde_json::Value) {
        let won = serde_json::json!({ "won_before": self.won_before });
        ((&self.spec, &self.notes), won)
    }

    fn from_kept((spec, notes): LearnedForecast, extra: serde_json::Value) -> Option<Self> {
        let won_before = serde_json::from_value(extra.get("won_before")?.clone()).ok()?;
        Some(Taught {
            spec,
            notes,
            won_before,
        })
    }

    fn notes_mut(&mut self) -> &mut Vec<String> {
        &mut self.notes
    }
}

/// Learning found on disk.
pub struct Found<V> {
    pub value: V,
    pub read_notes: Vec<String>,
    pub took: Duration,
    pub entry: PathBuf,
}

impl LearnedOnDisk {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The learning kept for `key`, put on `base` (the rules' spec for
    /// the same as-of date and bucket); `None` when none is kept or the
    /// entry cannot be read (then it is learned again and replaced).
    pub fn load<V: Keepable>(&self, key: &LearnKey, base: ForecastSpec) -> Option<Found<V>> {
        let identity = identity(key)?;
        let entry = self.dir.join(name(&identity));
        let text = fs::read_to_string(entry.join(MANIFEST)).ok()?;
        let kept: Entry = match serde_json::from_str(&text) {
            Ok(kept) => kept,
            Err(e) => {
                tracing::warn!(entry = %entry.display(), error = %e, "kept learning unreadable");
                return None;
            }
        };
        if kept.key != identity {
            return None;
        }
        let mut tables = Vec::new();
        for table in TABLES {
            if kept.empty_tables.iter().any(|t| t == table) {
                tables.push((table.to_owned(), DataFrame::empty()));
                continue;
            }
            let path = entry.join(format!("{table}.parquet"));
            if !path.is_file() {
                continue;
            }
            match read_table(&path) {
                Ok(frame) => tables.push((table.to_owned(), frame)),
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "kept learning unreadable");
                    return None;
                }
            }
        }
        let value = match with_learned(base, kept.learned, tables) {
            Ok(learned) => V::from_kept(learned, kept.extra),
            Err(e) => {
                tracing::warn!(entry = %entry.display(), error = %e, "kept learning unusable");
                return None;
            }
        }?;
        // Most recently used: the eviction goes by this time.
        let _ = fs::File::options()
            .append(true)
            .open(entry.join(MANIFEST))
            .and_then(|f| f.set_modified(SystemTime::now()));
        Some(Found {
            value,
            read_notes: kept.read_notes,
            took: Duration::from_secs_f64(kept.took_seconds.max(0.0)),
            entry,
        })
    }

    /// Keeps `value` for `key` (learning it took `took`; the history's
    /// reader said `read_notes`) and returns where; the least recently
    /// used entries beyond [`KEPT_ON_DISK`] are removed.
    pub fn save<V: Keepable>(
        &self,
        key: &LearnKey,
        value: &V,
        read_notes: &[String],
        took: Duration,
    ) -> std::io::Result<PathBuf> {
        let identity = identity(key).ok_or_else(|| {
            std::io::Error::other("the program's own file cannot be found to name its build")
        })?;
        fs::create_dir_all(&self.dir)?;
        let name = name(&identity);
        let temporary = self.dir.join(format!(".{name}.{}", std::process::id()));
        let _ = fs::remove_dir_all(&temporary);
        fs::create_dir(&temporary)?;
        let ((spec, notes), extra) = value.kept_parts();
        let (manifest, tables) = learned_tables(spec, notes);
        let entry = Entry {
            key: identity,
            took_seconds: took.as_secs_f64(),
            read_notes: read_notes.to_vec(),
            empty_tables: Vec::new(),
            learned: manifest,
            extra,
        };
        let written = write_entry(&temporary, entry, tables);
        let entry = self.dir.join(&name);
        let placed = written.and_then(|()| {
            let _ = fs::remove_dir_all(&entry);
            fs::rename(&temporary, &entry)
        });
        if let Err(e) = placed {
            let _ = fs::remove_dir_all(&temporary);
            return Err(e);
        }
        self.evict();
        Ok(entry)
    }

    /// Removes the least recently used entries beyond [`KEPT_ON_DISK`].
    fn evict(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        let mut kept: Vec<(SystemTime, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .filter_map(|e| {
                let used = fs::metadata(e.path().join(MANIFEST))
                    .ok()?
                    .modified()
                    .ok()?;
                Some((used, e.path()))
            })
            .collect();
        kept.sort_by_key(|(used, _)| std::cmp::Reverse(*used));
        for (_, path) in kept.into_iter().skip(KEPT_ON_DISK) {
            let _ = fs::remove_dir_all(path);
        }
    }
}

/// Writes `entry`'s manifest and its `tables` into `dir`.
fn write_entry(
    dir: &Path,
    mut entry: Entry,
    tables: Vec<(&'static str, DataFrame)>,
) -> std::io::Result<()> {
    for (table, mut frame) in tables {
        if frame.width() == 0 {
            entry.empty_tables.push(table.to_owned());
            continue;
        }
        let file = fs::File::create(dir.join(format!("{table}.parquet")))?;
        ParquetWriter::new(file)
            .finish(&mut frame)
            .map_err(std::io::Error::other)?;
    }
    let text = serde_json::to_string_pretty(&entry).map_err(std::io::Error::other)?;
    fs::write(dir.join(MANIFEST), text)
}

fn read_table(path: &Path) -> PolarsResult<DataFrame> {
    ParquetReader::new(fs::File::open(path)?).finish()
}

/// The full key of learning for `key` by this build of the program;
/// `None` when the program's own file cannot be read.
fn identity(key: &LearnKey) -> Option<String> {
    let exe = fs::metadata(std::env::current_exe().ok()?).ok()?;
    Some(format!(
        "quotecast {} ({} bytes, built {:?})\n{key:?}",
        env!("CARGO_PKG_VERSION"),
        exe.len(),
        exe.modified().ok()?
    ))
}

/// The entry's directory name: the first 128 bits of the key's BLAKE3.
fn name(identity: &str) -> String {
    blake3::hash(identity.as_bytes()).to_hex()[..32].to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::NaiveDate;
    use quotecast_forecast::{
        Bucket, ForecastOptions, Simulation, forecast_spec, report_with_spec, rules_spec,
        vocabulary,
    };
    use quotecast_model::RuleSet;
    use quotecast_pipeline::{
        read::{read_history, read_snapshot},
        synthetic::{GenSpec, World, write_dir},
        write::FileFormat,
    };

    use super::*;

    fn as_of() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
    }

    fn rules() -> RuleSet {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
        quotecast_rules::load_dir(&dir).unwrap().0
    }

    /// A small generated company with history under `dir`.
    fn company(dir: &Path, rules: &RuleSet) {
        let world = World::from_rules(rules, 5, as_of()).unwrap();
        let spec = GenSpec {
            seed: 5,
            open_opportunities: 300,
            as_of: quotecast_pipeline::epoch_days(as_of()),
            history_days: 730,
            with_history: true,
            snapshots: 14,
            snapshot_every_days: 28,
        };
        write_dir(&world, &spec, dir, FileFormat::Parquet, |_| {}).unwrap();
    }

    /// The small company generated under `dir`, and what its history
    /// teaches with `options`.
    fn learned(
        dir: &Path,
        rules: &RuleSet,
        options: &ForecastOptions,
    ) -> (polars::prelude::DataFrame, LearnedForecast) {
        company(dir, rules);
        let snapshot = read_snapshot(&dir.join("pipeline.parquet"), &vocabulary(rules)).unwrap();
        let history = read_history(&dir.join("history"), &vocabulary(rules)).unwrap();
        let learned =
            forecast_spec(Some(history), Some(snapshot.clone().lazy()), rules, options).unwrap();
        (snapshot, learned)
    }

    fn options(trials: u32) -> ForecastOptions {
        ForecastOptions {
            as_of: as_of(),
            bucket: Bucket::Quarter,
            group_by: Vec::new(),
            prior_strength: None,
            simulation: Simulation {
                trials,
                ..Simulation::default()
            },
        }
    }

    fn key(dir: &Path, rules: &RuleSet, day: NaiveDate) -> LearnKey {
        LearnKey::of(
            &dir.join("pipeline.parquet"),
            &dir.join("history"),
            rules,
            day,
            "Quarter None".into(),
        )
        .unwrap()
    }

    /// A forecast from learning kept on disk and read back is the one
    /// learned afresh: every figure, the Monte Carlo's percentiles and
    /// the notes.
    #[test]
    fn learning_kept_on_disk_forecasts_what_learning_afresh_does() {
        let rules = rules();
        let dir = tempfile::tempdir().unwrap();
        let options = options(300);
        let (snapshot, learned) = learned(dir.path(), &rules, &options);
        assert!(learned.0.correction.is_some());
        let store = LearnedOnDisk::new(dir.path().join("learned"));
        let key = key(dir.path(), &rules, as_of());
        let base = || rules_spec(&rules, as_of(), Bucket::Quarter);
        assert!(store.load::<LearnedForecast>(&key, base()).is_none());
        let read_notes = vec!["a note of the reader".to_owned()];
        // Kept as a roll-down's lesson: the spec and notes, and the deals
        // won before the plan date in the entry's JSON.
        let taught = Taught {
            spec: learned.0.clone(),
            notes: learned.1.clone(),
            won_before: Some(vec![vec!["SRV-1U".into(), "SRV-MEM-64".into()]]),
        };
        let took = Duration::from_millis(1500);
        store.save(&key, &taught, &read_notes, took).unwrap();
        let found = store.load::<Taught>(&key, base()).unwrap();
        assert_eq!(found.read_notes, read_notes);
        assert_eq!(found.value.won_before, taught.won_before);
        assert_eq!(found.took, took);
        // Every value to the bit, every table to the cell: a plan's id
        // hashes the probabilities these give.
        let (manifest, tables) = learned_tables(&learned.0, &learned.1);
        let (read, read_tables) = learned_tables(&found.value.spec, &found.value.notes);
        assert_eq!(manifest, read);
        assert_eq!(tables.len(), read_tables.len());
        for ((name, table), (read_name, read_table)) in tables.iter().zip(&read_tables) {
            assert_eq!(name, read_name);
            assert!(table.equals_missing(read_table), "{name}");
        }
        let found = (found.value.spec, found.value.notes);
        let afresh = report_with_spec(snapshot.clone(), learned, &options).unwrap();
        let kept = report_with_spec(snapshot, found, &options).unwrap();
        assert_eq!(afresh.forecast.amounts, kept.forecast.amounts);
        assert_eq!(
            afresh.uncertainty.unwrap().by_group,
            kept.uncertainty.unwrap().by_group
        );
        assert_eq!(afresh.notes, kept.notes);
        // Another as-of date is another key; a history file written again
        // (another length, another inode) is too.
        assert!(store.load::<Taught>(&key, base()).is_some());
        let other_day = as_of().pred_opt().unwrap();
        assert!(
            store
                .load::<LearnedForecast>(&self::key(dir.path(), &rules, other_day), base())
                .is_none()
        );
        let outcomes = dir.path().join("history/outcomes.parquet");
        let bytes = fs::read(&outcomes).unwrap();
        fs::remove_file(&outcomes).unwrap();
        fs::write(&outcomes, [&bytes[..], b"\n"].concat()).unwrap();
        assert!(
            store
                .load::<LearnedForecast>(&self::key(dir.path(), &rules, as_of()), base())
                .is_none()
        );
    }

    /// A damaged entry is not used (the job learns again and replaces
    /// it), and no more than [`KEPT_ON_DISK`] entries stay, the least
    /// recently used going first.
    #[test]
    fn a_damaged_entry_is_a_miss_and_old_entries_go() {
        let rules = rules();
        let dir = tempfile::tempdir().unwrap();
        let (_, learned) = learned(dir.path(), &rules, &options(0));
        let store = LearnedOnDisk::new(dir.path().join("learned"));
        let base = || rules_spec(&rules, as_of(), Bucket::Quarter);
        let day = |k: u64| as_of() - chrono::Days::new(k);
        let first = store
            .save(
                &key(dir.path(), &rules, day(0)),
                &learned,
                &[],
                Duration::ZERO,
            )
            .unwrap();
        fs::write(first.join("calendar.parquet"), b"not parquet").unwrap();
        assert!(
            store
                .load::<LearnedForecast>(&key(dir.path(), &rules, day(0)), base())
                .is_none()
        );
        for k in 1..=KEPT_ON_DISK as u64 + 2 {
            store
                .save(
                    &key(dir.path(), &rules, day(k)),
                    &learned,
                    &[],
                    Duration::ZERO,
                )
                .unwrap();
            // Modification times a few milliseconds apart order the uses.
            std::thread::sleep(Duration::from_millis(5));
        }
        let entries = fs::read_dir(dir.path().join("learned")).unwrap().count();
        assert_eq!(entries, KEPT_ON_DISK);
        assert!(
            store
                .load::<LearnedForecast>(&key(dir.path(), &rules, day(1)), base())
                .is_none()
        );
        let newest = KEPT_ON_DISK as u64 + 2;
        assert!(
            store
                .load::<LearnedForecast>(&key(dir.path(), &rules, day(newest)), base())
                .is_some()
        );
    }
}
