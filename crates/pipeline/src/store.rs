//! Pipelines stored by name in a data directory, as the server keeps them:
//! `<data>/pipelines/<name>/pipeline.parquet|csv` and, optionally,
//! `<data>/pipelines/<name>/history/{stage_events,outcomes,snapshots}.EXT`
//! (the layout `quotecast gen-pipeline --out` writes). A name is a plain
//! word, so no request can reach a path outside the store.
//!
//! Files arrive through [`Upload`]: written to a hidden temporary file
//! next to their place, checked in full, and only then renamed over the
//! stored file, so a bad upload never loses what was stored.
use std::{
    io::Write,
    path::{Path, PathBuf},
};

use crate::{
    PipelineError,
    quota::{Allowance, Quotas, bytes_under},
    read::{HistoryTable, Vocabulary, check_history_table, check_snapshot},
    write::FileFormat,
};

/// The longest pipeline name.
pub const MAX_NAME: usize = 64;

/// The files a stored pipeline can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipelineFile {
    Snapshot,
    StageEvents,
    Outcomes,
    Snapshots,
}

impl PipelineFile {
    /// The file's stem and its place under the pipeline's directory.
    fn relative(self) -> &'static str {
        match self {
            PipelineFile::Snapshot => "pipeline",
            PipelineFile::StageEvents => "history/stage_events",
            PipelineFile::Outcomes => "history/outcomes",
            PipelineFile::Snapshots => "history/snapshots",
        }
    }

    /// The history table the file is (none for the snapshot).
    fn history_table(self) -> Option<HistoryTable> {
        match self {
            PipelineFile::Snapshot => None,
            PipelineFile::StageEvents => Some(HistoryTable::StageEvents),
            PipelineFile::Outcomes => Some(HistoryTable::Outcomes),
            PipelineFile::Snapshots => Some(HistoryTable::Snapshots),
        }
    }
}

/// What a stored pipeline holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPipeline {
    pub name: String,
    pub has_history: bool,
    pub has_snapshots: bool,
}

/// What a checked upload held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub bytes: u64,
    pub rows: u64,
    /// Distinct opportunities (a snapshot only, else 0).
    pub opportunities: u64,
}

/// Pipelines under `<data>/pipelines`, or `<data>/tenants/<tenant>/pipelines`
/// for a tenant's own (see [`PipelineStore::of_tenant`]).
#[derive(Debug, Clone)]
pub struct PipelineStore {
    root: PathBuf,
    /// The data directory the data quota counts.
    data: PathBuf,
    quotas: Quotas,
}

/// Where tenant `tenant`'s pipelines, inventory and plans live under the
/// data directory: `tenants/<tenant>`; the name is checked like a
/// pipeline's.
pub fn tenant_dir(data_dir: &Path, tenant: &str) -> Result<PathBuf, PipelineError> {
    check_name(tenant).map_err(|_| {
        PipelineError::Name(format!(
            "`{tenant}` is not a tenant name (1 to {MAX_NAME} letters, digits, `-` or `_`)"
        ))
    })?;
    Ok(data_dir.join(TENANTS).join(tenant))
}

/// The directory under the data directory that holds each tenant's own.
pub const TENANTS: &str = "tenants";

/// Whether `name` may name a pipeline: 1 to 64 ASCII letters, digits, `-`
/// or `_`.
pub fn check_name(name: &str) -> Result<(), PipelineError> {
    let fine = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if fine {
        Ok(())
    } else {
        Err(PipelineError::Name(format!(
            "`{name}` is not a pipeline name (1 to {MAX_NAME} letters, digits, `-` or `_`)"
        )))
    }
}

impl PipelineStore {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join("pipelines"),
            data: data_dir.to_path_buf(),
            quotas: Quotas::default(),
        }
    }

    /// Tenant `tenant`'s own store, `<data>/tenants/<tenant>/pipelines`,
    /// with the same quotas (the data quota counts the whole directory).
    /// A tenant is named like a pipeline, so no name reaches outside.
    pub fn of_tenant(&self, tenant: &str) -> Result<Self, PipelineError> {
        Ok(Self {
            root: tenant_dir(&self.data, tenant)?.join("pipelines"),
            ..self.clone()
        })
    }

    /// The tenants with a directory of their own under the data
    /// directory, by name.
    pub fn tenants(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.data.join(TENANTS))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|name| check_name(name).is_ok())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The same store with other quotas.
    pub fn with_quotas(self, quotas: Quotas) -> Self {
        Self { quotas, ..self }
    }

    pub fn quotas(&self) -> Quotas {
        self.quotas
    }

    /// Removes the `.upload-*` temporaries a killed server left; returns
    /// how many.
    pub fn remove_leftovers(&self) -> usize {
        crate::remove_leftovers(&self.root, ".upload-", 3)
    }

    fn dir(&self, name: &str) -> Result<PathBuf, PipelineError> {
        check_name(name)?;
        Ok(self.root.join(name))
    }

    /// The stored file, whichever format it is in.
    fn find(&self, name: &str, file: PipelineFile) -> Result<Option<PathBuf>, PipelineError> {
        let base = self.dir(name)?.join(file.relative());
        Ok(["parquet", "csv"]
            .into_iter()
            .map(|ext| base.with_extension(ext))
            .find(|p| p.is_file()))
    }

    /// The snapshot of pipeline `name`.
    pub fn snapshot(&self, name: &str) -> Result<PathBuf, PipelineError> {
        self.find(name, PipelineFile::Snapshot)?
            .ok_or_else(|| PipelineError::NotStored(format!("pipeline `{name}`")))
    }

    /// The data rows of pipeline `name`'s snapshot: as counted when it
    /// was uploaded (kept beside it), else counted now (a file placed or
    /// replaced by hand).
    pub fn snapshot_rows(&self, name: &str) -> Result<u64, PipelineError> {
        let path = self.snapshot(name)?;
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let kept = rows_file(&path);
        if let (Some(file), Some(count)) = (modified(&path), modified(&kept))
            && count >= file
            && let Some(rows) = std::fs::read_to_string(&kept)
                .ok()
                .and_then(|t| t.trim().parse().ok())
        {
            return Ok(rows);
        }
        crate::read::count_rows(&path)
    }

    /// The history directory of pipeline `name` (it must hold stage
    /// events and outcomes).
    pub fn history(&self, name: &str) -> Result<PathBuf, PipelineError> {
        for file in [PipelineFile::StageEvents, PipelineFile::Outcomes] {
            if self.find(name, file)?.is_none() {
                return Err(PipelineError::NotStored(format!(
                    "history of pipeline `{name}` ({})",
                    file.relative()
                )));
            }
        }
        Ok(self.dir(name)?.join("history"))
    }

    /// Every stored pipeline with a snapshot or a history, by name.
    pub fn list(&self) -> Result<Vec<StoredPipeline>, PipelineError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(source) => {
                return Err(PipelineError::Io {
                    path: self.root.clone(),
                    source,
                });
            }
        };
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if check_name(&name).is_err() {
                continue;
            }
            let has = |file| self.find(&name, file).ok().flatten().is_some();
            let has_history = has(PipelineFile::StageEvents) && has(PipelineFile::Outcomes);
            let has_snapshots = has(PipelineFile::Snapshots);
            if has(PipelineFile::Snapshot) || has_history {
                found.push(StoredPipeline {
                    name,
                    has_history,
                    has_snapshots,
                });
            }
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    /// Starts an upload of one file of pipeline `name`, allowed what the
    /// quotas leave once the file it replaces (in either format) is
    /// counted out.
    pub fn upload(
        &self,
        name: &str,
        file: PipelineFile,
        format: FileFormat,
    ) -> Result<Upload, PipelineError> {
        let target = self.dir(name)?.join(file.relative());
        let parent = target
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.clone());
        std::fs::create_dir_all(&parent).map_err(|source| PipelineError::Io {
            path: parent.clone(),
            source,
        })?;
        let ext = match format {
            FileFormat::Parquet => "parquet",
            FileFormat::Csv => "csv",
        };
        let temp = tempfile::Builder::new()
            .prefix(".upload-")
            .suffix(&format!(".{ext}"))
            .tempfile_in(&parent)
            .map_err(|source| PipelineError::Io {
                path: parent.clone(),
                source,
            })?;
        let target = target.with_extension(ext);
        let other = target.with_extension(if ext == "csv" { "parquet" } else { "csv" });
        let replaced = [target.as_path(), other.as_path(), temp.path()];
        let allowance = Allowance::new(
            &self.quotas,
            bytes_under(&self.dir(name)?, &replaced),
            bytes_under(&self.data, &replaced),
        );
        Ok(Upload {
            temp,
            target,
            other,
            file,
            bytes: 0,
            allowance,
        })
    }
}

/// A file being uploaded: bytes go to a temporary file that [`Upload::store`]
/// checks and moves into place. Dropped without storing, it is removed.
pub struct Upload {
    temp: tempfile::NamedTempFile,
    target: PathBuf,
    /// The same file in the other format, removed once this one is stored.
    other: PathBuf,
    file: PipelineFile,
    bytes: u64,
    allowance: Allowance,
}

impl Upload {
    /// Appends `chunk`, or refuses it (and so the upload) when it would
    /// take the upload over its quota.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), PipelineError> {
        self.allowance.check(self.bytes + chunk.len() as u64)?;
        self.temp
            .write_all(chunk)
            .map_err(|source| PipelineError::Io {
                path: self.target.clone(),
                source,
            })?;
        self.bytes += chunk.len() as u64;
        Ok(())
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Checks the whole file (a snapshot against `vocabulary`, row by row;
    /// a history file for its columns and dates) and puts it in place.
    /// Errors name the upload's target path's file name, not the
    /// temporary one.
    pub fn store(mut self, vocabulary: &Vocabulary) -> Result<Stored, PipelineError> {
        self.temp.flush().map_err(|source| PipelineError::Io {
            path: self.target.clone(),
            source,
        })?;
        let shown = PathBuf::from(self.target.file_name().unwrap_or_default());
        let checked =
            check_file(self.temp.path(), self.file, vocabulary).map_err(|e| e.with_path(&shown))?;
        self.temp
            .persist(&self.target)
            .map_err(|e| PipelineError::Io {
                path: self.target.clone(),
                source: e.error,
            })?;
        if self.other.is_file() {
            let _ = std::fs::remove_file(&self.other);
        }
        // The row count, for listings (written after the file, so it is
        // never older than the file it counts; a failure only costs a
        // count later).
        let _ = std::fs::write(rows_file(&self.target), checked.rows.to_string());
        Ok(Stored {
            bytes: self.bytes,
            ..checked
        })
    }
}

fn check_file(
    path: &Path,
    file: PipelineFile,
    vocabulary: &Vocabulary,
) -> Result<Stored, PipelineError> {
    let Some(table) = file.history_table() else {
        let counted = check_snapshot(path, vocabulary)?;
        return Ok(Stored {
            bytes: 0,
            rows: counted.rows,
            opportunities: counted.opportunities,
        });
    };
    let checked = check_history_table(path, table, vocabulary)?;
    Ok(Stored {
        bytes: 0,
        rows: checked.rows,
        opportunities: 0,
    })
}

/// Where the row count of a stored file is kept: `pipeline.rows` beside
/// `pipeline.parquet`.
fn rows_file(path: &Path) -> PathBuf {
    path.with_extension("rows")
}
