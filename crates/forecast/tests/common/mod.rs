//! A generated organisation with a known truth, shared by the tests that
//! learn from history.
#![allow(clippy::unwrap_used, dead_code)]

use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_pipeline::{
    epoch_days,
    synthetic::{CatalogItem, CurrencyRate, Funnel, FunnelStage, GenSpec, World, generate},
};
use rust_decimal::Decimal;

pub fn rules() -> quotecast_model::RuleSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    quotecast_rules::load_dir(&dir).unwrap().0
}

pub fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

/// The rules' funnel, one base product at 4,000 USD, one currency.
pub fn world(seed: u64) -> World {
    let rules = rules();
    let open: Vec<FunnelStage> = rules
        .stages()
        .iter()
        .filter(|s| s.is_open())
        .map(|s| FunnelStage {
            id: s.id.clone(),
            win_rate: f64::try_from(s.win_rate.0).unwrap() / 100.0,
            time_limit_days: s.time_limit_days.unwrap(),
        })
        .collect();
    World::new(
        seed,
        Funnel {
            open,
            won: "won".into(),
            lost: "lost".into(),
        },
        vec![CatalogItem {
            sku: "SRV-1U".into(),
            product_line: "servers".into(),
            unit_price: Decimal::new(4000, 0),
            is_base: true,
        }],
        vec![CurrencyRate {
            code: "USD".into(),
            per_corporate: Decimal::ONE,
        }],
    )
    .unwrap()
}

/// Generated tables, concatenated.
pub struct Generated {
    pub pipeline: LazyFrame,
    pub stage_events: LazyFrame,
    pub outcomes: LazyFrame,
    pub snapshots: LazyFrame,
}

pub fn generated(world: &World, seed: u64, open: u64, snapshots: u32) -> Generated {
    let spec = GenSpec {
        seed,
        open_opportunities: open,
        as_of: epoch_days(as_of()),
        history_days: 730,
        with_history: true,
        snapshots,
        snapshot_every_days: 28,
    };
    let (mut p, mut e, mut o, mut s) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    generate(world, &spec, |b| {
        p.push(b.pipeline.lazy());
        let h = b.history.unwrap();
        e.push(h.stage_events.lazy());
        o.push(h.outcomes.lazy());
        s.push(h.snapshots.lazy());
        Ok(())
    })
    .unwrap();
    let all = |v: Vec<LazyFrame>| {
        concat(v, UnionArgs::default())
            .unwrap()
            .collect()
            .unwrap()
            .lazy()
    };
    Generated {
        pipeline: all(p),
        stage_events: all(e),
        outcomes: all(o),
        snapshots: all(s),
    }
}
