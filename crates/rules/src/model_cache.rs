//! Compiled configuration models kept on disk, by model, so a restart
//! with the same rules reads them back instead of compiling again.
//!
//! One file per model, named by a BLAKE3 hash of the model as loaded
//! (every option, group, rule and default) and of this build's version;
//! it holds a BLAKE3 checksum of its contents, then the compiled model's
//! bytes ([`CompiledModel::to_bytes`]). A file that is missing, torn,
//! altered or of another format is compiled afresh and written again:
//! the cache can only save time, never change an answer. Files are
//! written to a temporary name and renamed into place.
use std::{
    fs,
    path::{Path, PathBuf},
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use quotecast_configurator::{CompiledModel, ConfigError};
use quotecast_model::ConfigModel;

use crate::ModelCompiler;

/// A directory of compiled models (`<data>/configurators` in the server).
#[derive(Debug)]
pub struct ModelCache {
    dir: PathBuf,
    read: AtomicUsize,
    compiled: AtomicUsize,
    refused: AtomicUsize,
    /// Files this cache read or wrote, for [`ModelCache::prune`].
    used: Mutex<Vec<PathBuf>>,
    /// The first write that failed.
    unwritable: Mutex<Option<String>>,
}

/// What a load did with the cache.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CacheReport {
    /// Models read back from their files.
    pub read: usize,
    /// Models compiled (no file, or a file refused).
    pub compiled: usize,
    /// Files refused as torn, altered or of another format.
    pub refused: usize,
    /// Why a compiled model could not be written, if one could not.
    pub unwritable: Option<String>,
}

const EXTENSION: &str = "qccm";

impl ModelCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ModelCache {
            dir: dir.into(),
            read: AtomicUsize::new(0),
            compiled: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
            used: Mutex::default(),
            unwritable: Mutex::default(),
        }
    }

    pub fn report(&self) -> CacheReport {
        CacheReport {
            read: self.read.load(Ordering::Relaxed),
            compiled: self.compiled.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            unwritable: self.unwritable.lock().map(|u| u.clone()).unwrap_or(None),
        }
    }

    /// Removes every file of the directory this cache did not use: the
    /// compiled models of models since changed or removed, and the
    /// temporary files of a write that was cut off. How many it removed.
    pub fn prune(&self) -> std::io::Result<usize> {
        let used = self.used.lock().map(|u| u.clone()).unwrap_or_default();
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        for entry in entries {
            let path = entry?.path();
            if path.is_file() && !used.contains(&path) {
                fs::remove_file(&path)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn path_of(&self, model: &ConfigModel) -> PathBuf {
        let mut key = blake3::Hasher::new();
        key.update(b"quotecast compiled configuration model\0");
        key.update(env!("CARGO_PKG_VERSION").as_bytes());
        key.update(b"\0");
        key.update(format!("{model:?}").as_bytes());
        let hex = key.finalize().to_hex();
        self.dir.join(format!("{}.{EXTENSION}", &hex[..32]))
    }

    fn read_back(model: &ConfigModel, path: &Path) -> Option<Result<CompiledModel, ()>> {
        let bytes = fs::read(path).ok()?;
        let Some((sum, body)) = bytes.split_at_checked(32) else {
            return Some(Err(()));
        };
        if blake3::hash(body).as_bytes() != sum {
            return Some(Err(()));
        }
        Some(CompiledModel::from_bytes(model.clone(), body).map_err(|_| ()))
    }

    fn write(&self, path: &Path, compiled: &CompiledModel) -> std::io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let body = compiled.to_bytes();
        let mut bytes = Vec::with_capacity(32 + body.len());
        bytes.extend_from_slice(blake3::hash(&body).as_bytes());
        bytes.extend_from_slice(&body);
        let temporary = path.with_extension(format!("{}.tmp", std::process::id()));
        fs::write(&temporary, &bytes)?;
        fs::rename(&temporary, path).inspect_err(|_| {
            let _ = fs::remove_file(&temporary);
        })
    }

    fn used(&self, path: PathBuf) {
        if let Ok(mut used) = self.used.lock() {
            used.push(path);
        }
    }
}

impl ModelCompiler for ModelCache {
    fn compile(&self, model: &ConfigModel) -> Result<CompiledModel, ConfigError> {
        let path = self.path_of(model);
        match Self::read_back(model, &path) {
            Some(Ok(compiled)) => {
                self.read.fetch_add(1, Ordering::Relaxed);
                self.used(path);
                return Ok(compiled);
            }
            Some(Err(())) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
            }
            None => {}
        }
        let compiled = quotecast_configurator::compile(model.clone())?;
        self.compiled.fetch_add(1, Ordering::Relaxed);
        match self.write(&path, &compiled) {
            Ok(()) => self.used(path),
            Err(e) => {
                if let Ok(mut first) = self.unwritable.lock() {
                    first.get_or_insert_with(|| format!("{}: {e}", path.display()));
                }
            }
        }
        Ok(compiled)
    }
}
