//! Configurations for generated deals: part of the deals for a
//! configurable product carry option lines, drawn the way a rep clicks
//! through the configurator (group by group, an option the model still
//! allows, by the rules' attach rates), completed with the model's
//! defaults and checked complete and valid, so every generated
//! configuration could be ordered. A pool of them is drawn per product
//! up front; each deal picks from its own stream seeded by its number, so
//! configurations leave every other generated figure as it was.
use quotecast_configurator::{Choice, CompiledModel, OptionStatus};
use rand::{Rng, RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// The share of deals for a configurable product that carry a
/// configuration.
pub const CONFIGURED_SHARE: f64 = 0.4;

/// Configurations drawn per configurable product up front; a configured
/// deal takes one of them at random (clicking through the model for
/// every deal would cost more than the rest of the generator).
pub const POOL: usize = 256;

/// A configurable base product of the generator's catalog.
pub struct GenConfiguration {
    /// Position of the base product in the catalog.
    pub base: usize,
    pub model: CompiledModel,
    /// Per model option: its position in the catalog (options are
    /// appended to it) and its attach rate (a probability; `None`: no
    /// rate written).
    pub options: Vec<(usize, Option<f64>)>,
    /// Valid, complete configurations drawn by the attach rates: option
    /// lines as (catalog position, units per base unit).
    pub pool: Vec<Vec<(usize, u32)>>,
}

impl GenConfiguration {
    /// Compiles nothing: draws the pool of `model`'s configurations from
    /// `seed`.
    pub fn new(
        base: usize,
        model: CompiledModel,
        options: Vec<(usize, Option<f64>)>,
        seed: u64,
    ) -> Self {
        let mut config = GenConfiguration {
            base,
            model,
            options,
            pool: Vec::new(),
        };
        let mut rng = Pcg64Mcg::seed_from_u64(seed ^ base as u64);
        // Some draws may dead-end; a bounded number of tries.
        for _ in 0..POOL * 4 {
            if config.pool.len() == POOL {
                break;
            }
            if let Some(c) = choose(&config, &mut rng) {
                config.pool.push(c);
            }
        }
        config
    }
}

impl std::fmt::Debug for GenConfiguration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenConfiguration")
            .field("base", &self.base)
            .field("product", &self.model.model().sku)
            .field("options", &self.options)
            .finish()
    }
}

/// The option lines (catalog position, units per base unit) of deal
/// `number`'s configuration, or none when the deal is not configured.
pub(crate) fn draw(config: &GenConfiguration, seed: u64, number: u64) -> Vec<(usize, u32)> {
    let mut rng = Pcg64Mcg::seed_from_u64(seed ^ number.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    if config.pool.is_empty() || rng.random::<f64>() >= CONFIGURED_SHARE {
        return Vec::new();
    }
    config.pool[rng.random_range(0..config.pool.len())].clone()
}

fn valid(model: &CompiledModel, choices: &[Choice]) -> bool {
    model
        .configure(choices, false)
        .is_ok_and(|s| s.valid && s.conflict.is_none())
}

fn choose(config: &GenConfiguration, rng: &mut impl Rng) -> Option<Vec<(usize, u32)>> {
    let model = &config.model;
    let m = model.model();
    let mut choices: Vec<Choice> = Vec::new();
    for group in &m.groups {
        let state = model.configure(&choices, false).ok()?;
        // Options still open, each at the least units a valid
        // configuration gives it.
        let open: Vec<(usize, u32)> = group
            .options
            .iter()
            .filter_map(|&o| {
                let s = &state.options[o];
                let units = s.quantities.iter().copied().find(|&q| q > 0)?;
                matches!(s.status, OptionStatus::Open).then_some((o, units))
            })
            .collect();
        if open.is_empty() {
            continue;
        }
        if group.min > 0 {
            let weights: Vec<f64> = open
                .iter()
                .map(|&(o, _)| config.options[o].1.unwrap_or(1.0).max(0.0))
                .collect();
            let total: f64 = weights.iter().sum();
            let mut at = rng.random::<f64>() * total;
            let mut pick = open[open.len() - 1];
            for (&candidate, w) in open.iter().zip(&weights) {
                if at < *w {
                    pick = candidate;
                    break;
                }
                at -= w;
            }
            choices.push(Choice {
                option: pick.0,
                quantity: pick.1,
            });
        } else {
            for &(o, units) in &open {
                if rng.random::<f64>() < config.options[o].1.unwrap_or(0.0) {
                    choices.push(Choice {
                        option: o,
                        quantity: units,
                    });
                    if !valid(model, &choices) {
                        choices.pop();
                    }
                }
            }
        }
        if !valid(model, &choices) {
            return None;
        }
    }
    let state = model.configure(&choices, false).ok()?;
    if !state.complete || state.conflict.is_some() {
        return None;
    }
    Some(
        state
            .options
            .iter()
            .filter(|s| s.quantity > 0)
            .map(|s| (config.options[s.option].0, s.quantity))
            .collect(),
    )
}
