//! Inventory states and demand plans in the data directory:
//!
//! - `<data>/inventory/<version>/{on_hand,receipts}.csv`, one directory
//!   per state, named by the hash of its content (`inv-…`), and
//!   `<data>/inventory/LATEST` naming the newest;
//! - `<data>/plans/<plan id>/<table>.parquet`.
//!
//! Each is written to a hidden temporary directory and renamed into place
//! whole, so a reader never sees half a state or half a plan, and a
//! refused push leaves what was stored untouched.
use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;

use crate::{
    PipelineError,
    inventory::{InventoryState, read_inventory},
    synthetic::write_inventory,
    write::write_table,
};

/// A stored inventory version and its row counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInventory {
    pub version: String,
    pub on_hand_rows: u64,
    pub receipt_rows: u64,
    pub latest: bool,
}

#[derive(Debug, Clone)]
pub struct DemandStore {
    inventory: PathBuf,
    plans: PathBuf,
    /// The data directory, for the tenants' own stores.
    data: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PipelineError + '_ {
    move |source| PipelineError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A version or plan id as stored: letters, digits and `-` only, so no
/// request can name a path outside the store.
fn check_id(id: &str) -> Result<(), PipelineError> {
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(PipelineError::Name(format!(
            "`{id}` is not a stored id (letters, digits and `-`, at most 64)"
        )));
    }
    Ok(())
}

/// A temporary directory beside `dir`'s final place.
fn staging(parent: &Path) -> Result<tempfile::TempDir, PipelineError> {
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(parent)
        .map_err(io(parent))
}

impl DemandStore {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            inventory: data_dir.join("inventory"),
            plans: data_dir.join("plans"),
            data: data_dir.to_path_buf(),
        }
    }

    /// Tenant `tenant`'s own inventory versions and plans, under
    /// `<data>/tenants/<tenant>`.
    pub fn of_tenant(&self, tenant: &str) -> Result<Self, PipelineError> {
        let dir = crate::store::tenant_dir(&self.data, tenant)?;
        Ok(Self {
            inventory: dir.join("inventory"),
            plans: dir.join("plans"),
            data: self.data.clone(),
        })
    }

    /// Removes the `.staging-*` directories a killed server left; returns
    /// how many.
    pub fn remove_leftovers(&self) -> usize {
        crate::remove_leftovers(&self.inventory, ".staging-", 1)
            + crate::remove_leftovers(&self.plans, ".staging-", 1)
    }

    /// Stores `state` (already checked) as a new version and makes it the
    /// latest; returns its version.
    pub fn store_inventory(&self, state: &InventoryState) -> Result<String, PipelineError> {
        let tmp = staging(&self.inventory)?;
        write_inventory(tmp.path(), state)?;
        let version = read_inventory(tmp.path())?.version;
        let place = self.inventory.join(&version);
        if !place.is_dir() {
            let kept = tmp.keep();
            std::fs::rename(&kept, &place).map_err(io(&place))?;
        }
        let latest = self.inventory.join("LATEST");
        let next = self.inventory.join(".LATEST.next");
        std::fs::write(&next, &version).map_err(io(&next))?;
        std::fs::rename(&next, &latest).map_err(io(&latest))?;
        Ok(version)
    }

    /// The latest version, if any was stored.
    pub fn latest_inventory(&self) -> Result<Option<String>, PipelineError> {
        let latest = self.inventory.join("LATEST");
        match std::fs::read_to_string(&latest) {
            Ok(v) => Ok(Some(v.trim().to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&latest)(e)),
        }
    }

    /// A stored version (the latest when `None`); `Ok(None)` when nothing
    /// was ever stored and none was named.
    pub fn inventory(
        &self,
        version: Option<&str>,
    ) -> Result<Option<InventoryState>, PipelineError> {
        let version = match version {
            Some(v) => v.to_owned(),
            None => match self.latest_inventory()? {
                Some(v) => v,
                None => return Ok(None),
            },
        };
        check_id(&version)?;
        let dir = self.inventory.join(&version);
        if !dir.is_dir() {
            return Err(PipelineError::NotStored(format!(
                "inventory version `{version}`"
            )));
        }
        read_inventory(&dir).map(Some)
    }

    /// Every stored version, newest-named first is not guaranteed: in
    /// version order.
    pub fn inventory_versions(&self) -> Result<Vec<StoredInventory>, PipelineError> {
        let latest = self.latest_inventory()?;
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&self.inventory) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io(&self.inventory)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io(&self.inventory))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !entry.path().is_dir() || name.starts_with('.') {
                continue;
            }
            let state = read_inventory(&entry.path())?;
            out.push(StoredInventory {
                latest: latest.as_deref() == Some(name.as_str()),
                version: name,
                on_hand_rows: state.on_hand.len() as u64,
                receipt_rows: state.receipts.len() as u64,
            });
        }
        out.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(out)
    }

    /// Stores a plan's tables as Parquet under its id.
    pub fn store_plan(&self, id: &str, tables: &[(&str, DataFrame)]) -> Result<(), PipelineError> {
        check_id(id)?;
        let place = self.plans.join(id);
        if place.is_dir() {
            // The same id is the same inputs: the same figures.
            return Ok(());
        }
        let tmp = staging(&self.plans)?;
        for (name, frame) in tables {
            write_table(&tmp.path().join(format!("{name}.parquet")), frame)?;
        }
        let kept = tmp.keep();
        std::fs::rename(&kept, &place).map_err(io(&place))?;
        Ok(())
    }

    /// One table of a stored plan.
    pub fn plan_table(&self, id: &str, table: &str) -> Result<DataFrame, PipelineError> {
        check_id(id)?;
        let path = self.plans.join(id).join(format!("{table}.parquet"));
        if !path.is_file() {
            return Err(PipelineError::NotStored(format!("plan `{id}`")));
        }
        let frame = crate::read::scan(&path)?.collect()?;
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::inventory::ReceiptRow;

    #[test]
    fn versions_are_named_by_content_and_the_latest_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = DemandStore::new(dir.path());
        assert_eq!(store.inventory(None).unwrap(), None);
        let mut state = InventoryState {
            on_hand: vec![("CMP-A".into(), "4".parse().unwrap())],
            ..InventoryState::default()
        };
        let first = store.store_inventory(&state).unwrap();
        state.receipts.push(ReceiptRow {
            item: "CMP-A".into(),
            due: chrono::NaiveDate::from_ymd_opt(2026, 3, 9).unwrap(),
            quantity: "10".parse().unwrap(),
            reference: "PO-1".into(),
        });
        let second = store.store_inventory(&state).unwrap();
        assert_ne!(first, second);
        assert_eq!(store.inventory(None).unwrap().unwrap().version, second);
        assert_eq!(
            store
                .inventory(Some(&first))
                .unwrap()
                .unwrap()
                .receipts
                .len(),
            0
        );
        let versions = store.inventory_versions().unwrap();
        assert_eq!(versions.len(), 2);
        assert_eq!(versions.iter().filter(|v| v.latest).count(), 1);
        assert!(store.inventory(Some("../../etc")).is_err());
        assert!(matches!(
            store.inventory(Some("inv-0")),
            Err(PipelineError::NotStored(_))
        ));
    }
}
