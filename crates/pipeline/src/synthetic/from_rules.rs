//! The generator's world drawn from a rule set, and a generated pipeline
//! written to a directory in the layout the server's store reads.
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use quotecast_model::{ProductKind, RuleSet, StageOutcome};
use rust_decimal::prelude::ToPrimitive;

use super::{CatalogItem, CurrencyRate, Funnel, FunnelStage, GenSpec, World, generate};
use crate::{
    PipelineError,
    write::{FileFormat, TableWriter},
};

impl World {
    /// The world of `rules`: their funnel, every product that is not an
    /// option with its list price in the corporate currency on `as_of`,
    /// and their currencies.
    pub fn from_rules(
        rules: &RuleSet,
        seed: u64,
        as_of: NaiveDate,
    ) -> Result<World, PipelineError> {
        let stage = |outcome| {
            rules
                .stages()
                .iter()
                .find(|s| s.outcome == Some(outcome))
                .map(|s| s.id.clone())
                .ok_or_else(|| {
                    PipelineError::Generator(
                        "the rules define no funnel stages (rules/pipeline/stages.toml)".into(),
                    )
                })
        };
        let funnel = Funnel {
            open: rules
                .stages()
                .iter()
                .filter(|s| s.is_open())
                .map(|s| FunnelStage {
                    id: s.id.clone(),
                    win_rate: s.win_rate.0.to_f64().unwrap_or(0.0) / 100.0,
                    time_limit_days: s.time_limit_days.unwrap_or(30),
                })
                .collect(),
            won: stage(StageOutcome::Won)?,
            lost: stage(StageOutcome::Lost)?,
        };
        let corporate = &rules.corporate_currency().code;
        let book = rules.price_book_position(corporate).ok_or_else(|| {
            PipelineError::Generator(format!(
                "no price book in the corporate currency {corporate}"
            ))
        })?;
        let catalog = rules
            .products()
            .filter(|p| p.kind != ProductKind::Option)
            .filter_map(|p| {
                let price = rules.product_rules(&p.sku)?.price_on(book, as_of)?;
                Some(CatalogItem {
                    sku: p.sku.clone(),
                    product_line: p.product_line.clone(),
                    unit_price: price.price,
                    is_base: p.kind == ProductKind::Base,
                })
            })
            .collect();
        let currencies = rules
            .currencies()
            .map(|c| CurrencyRate {
                code: c.code.to_string(),
                per_corporate: c.per_corporate,
            })
            .collect();
        let world = World::new(seed, funnel, catalog, currencies)?;
        // Configurable base products: their models, compiled, and their
        // options with list prices and the rules' attach rates.
        let mut configurable = Vec::new();
        for (base, item) in world.catalog.iter().enumerate() {
            let Some(model) = rules.configuration(&item.sku) else {
                continue;
            };
            let rates = rules.planning().attach_rates_of(&item.sku);
            let options = model
                .options
                .iter()
                .map(|o| {
                    let price = rules
                        .product_rules(&o.sku)
                        .and_then(|r| r.price_on(book, as_of))
                        .map_or(rust_decimal::Decimal::ZERO, |p| p.price);
                    let rate = rates
                        .iter()
                        .find(|r| r.option == o.sku)
                        .map(|r| r.percent.0.to_f64().unwrap_or(0.0) / 100.0);
                    let product_line = rules
                        .product(&o.sku)
                        .map_or(item.product_line.clone(), |p| p.product_line.clone());
                    let option = CatalogItem {
                        sku: o.sku.clone(),
                        product_line,
                        unit_price: price,
                        is_base: false,
                    };
                    (option, rate)
                })
                .collect();
            match quotecast_configurator::compile(model.clone()) {
                Ok(compiled) => configurable.push((base, compiled, options)),
                Err(e) => {
                    return Err(PipelineError::Generator(format!(
                        "the configuration model of {} does not compile: {e}",
                        item.sku
                    )));
                }
            }
        }
        Ok(world.with_configurations(configurable))
    }
}

/// Generates the pipeline of `spec` into `dir`: `pipeline.EXT` and, with
/// history, `history/{stage_events,outcomes,snapshots}.EXT`, batch by
/// batch; `progress` gets the open opportunities of each batch. Returns
/// each file written with its rows, the snapshot first.
pub fn write_dir(
    world: &World,
    spec: &GenSpec,
    dir: &Path,
    format: FileFormat,
    mut progress: impl FnMut(u64),
) -> Result<Vec<(PathBuf, u64)>, PipelineError> {
    let ext = match format {
        FileFormat::Parquet => "parquet",
        FileFormat::Csv => "csv",
    };
    let path = |name: &str| dir.join(format!("{name}.{ext}"));
    let mut pipeline = TableWriter::create(&path("pipeline"))?;
    let history_names = ["stage_events", "outcomes", "snapshots"];
    let mut history = if spec.with_history {
        let mut writers = Vec::new();
        for name in history_names {
            writers.push(TableWriter::create(&path(&format!("history/{name}")))?);
        }
        Some(writers)
    } else {
        None
    };
    generate(world, spec, |batch| {
        pipeline.write(&batch.pipeline)?;
        if let (Some(writers), Some(h)) = (history.as_mut(), batch.history) {
            writers[0].write(&h.stage_events)?;
            writers[1].write(&h.outcomes)?;
            writers[2].write(&h.snapshots)?;
        }
        progress(batch.open);
        Ok(())
    })?;
    let mut written = vec![(path("pipeline"), pipeline.finish(None)?)];
    for (writer, name) in history.into_iter().flatten().zip(history_names) {
        let rows = writer.finish(None)?;
        written.push((path(&format!("history/{name}")), rows));
    }
    Ok(written)
}
