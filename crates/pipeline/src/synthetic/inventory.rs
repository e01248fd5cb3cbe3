//! A seeded inventory state that fits a rule set's items: some stock of
//! every bought or made item in whole order multiples, and for about half
//! of them an open order due within its lead time, as an ERP would hold
//! them mid-cycle.
use std::{fmt::Write as _, path::Path};

use chrono::{Days, NaiveDate};
use quotecast_model::{RuleSet, Supply};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;
use rust_decimal::Decimal;

use crate::{
    PipelineError,
    inventory::{InventoryState, ReceiptRow},
};

/// The inventory state of `rules`' items on `as_of`, from `seed`.
pub fn inventory_for(rules: &RuleSet, seed: u64, as_of: NaiveDate) -> InventoryState {
    let mut rng = Pcg64::seed_from_u64(seed ^ 0x1A7E_5EED);
    let mut state = InventoryState::default();
    for item in &rules.planning().items {
        if !matches!(item.supply, Supply::Buy | Supply::Make) {
            continue;
        }
        let lot = item.order_multiple.max(Decimal::ONE);
        let on_hand = lot * Decimal::from(rng.random_range(0u32..=12));
        state.on_hand.push((item.id.clone(), on_hand));
        if rng.random_bool(0.5) {
            let lots = Decimal::from(rng.random_range(1u32..=10));
            let quantity = (lot * lots).max(item.min_order);
            let days = rng.random_range(0..=u64::from(item.lead_time_days.max(1)));
            state.receipts.push(ReceiptRow {
                item: item.id.clone(),
                due: as_of.checked_add_days(Days::new(days)).unwrap_or(as_of),
                quantity,
                reference: format!("PO-{}-{}", item.id, state.receipts.len() + 1),
            });
        }
    }
    state
}

/// Writes `on_hand.csv` and `receipts.csv` into `dir`.
pub fn write_inventory(dir: &Path, state: &InventoryState) -> Result<(), PipelineError> {
    std::fs::create_dir_all(dir).map_err(|source| PipelineError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut on_hand = String::from("item,on_hand\n");
    for (item, q) in &state.on_hand {
        let _ = writeln!(on_hand, "{item},{q}");
    }
    let mut receipts = String::from("item,due,quantity,reference\n");
    for r in &state.receipts {
        let _ = writeln!(
            receipts,
            "{},{},{},{}",
            r.item, r.due, r.quantity, r.reference
        );
    }
    for (name, text) in [("on_hand.csv", on_hand), ("receipts.csv", receipts)] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| PipelineError::Io { path, source })?;
    }
    Ok(())
}
