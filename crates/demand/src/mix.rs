//! The planning BOM of configurable products sold without a
//! configuration: each option's expected units per product unit, and
//! draws of the whole mix for the Monte Carlo.
//!
//! A group whose rates sum to 100 % is a mix its options share: a
//! Dirichlet with `α = weight × rate + deals that chose the option`. Any
//! other rate is a Beta with `α = weight × rate + deals with it` and
//! `β = weight × (1 − rate) + deals without it`. The deals counted are the
//! won, configured deals of the product among the demand lines. A group
//! with no rates plans the model's unconditional defaults.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use quotecast_model::{ConfigModel, RuleSet};
use rand::Rng;
use rand_distr::{Beta, Distribution, Gamma};
use rust_decimal::prelude::ToPrimitive;

use crate::structure::{Node, Structure};

#[derive(Debug, Clone)]
pub(crate) enum Draw {
    /// Always the expected units.
    Fixed,
    Beta {
        alpha: f64,
        beta: f64,
    },
    /// A member of a Dirichlet group (see `Mix::groups`) with this `alpha`.
    Dirichlet {
        alpha: f64,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub product: String,
    /// The option group's id: a deal that chose in it is not given it.
    pub group: String,
    /// The group needs a choice (min ≥ 1): a configured deal that chose
    /// nothing in it is still given it; an optional group it left empty
    /// stays empty.
    pub required: bool,
    pub option: String,
    pub option_node: Node,
    /// Units of the option on a product unit that has it.
    pub units: f64,
    /// Expected share of product units with the option.
    pub share: f64,
    pub draw: Draw,
    /// `rules` or `rules + N won configurations` or `default`.
    pub source: String,
}

impl Slot {
    pub fn expected_per_unit(&self) -> f64 {
        self.share * self.units
    }
}

/// The mixes of every configurable product the demand needs.
#[derive(Debug, Default)]
pub(crate) struct Mix {
    pub slots: Vec<Slot>,
    /// Per configurable product: its slots.
    pub by_product: BTreeMap<String, Vec<usize>>,
    /// Dirichlet groups: their slots.
    groups: Vec<Vec<usize>>,
    /// Options of products with neither rates nor a default in a group:
    /// (product, group id).
    pub unplanned_groups: Vec<(String, String)>,
}

/// Won configurations seen: per (product, group) how many deals chose in
/// the group, and per (product, option) how many chose the option.
#[derive(Debug, Default)]
pub(crate) struct Evidence {
    pub deals: HashMap<(String, String), u32>,
    pub chose: HashMap<(String, String), u32>,
}

impl Mix {
    pub fn new(
        rules: &RuleSet,
        structure: &Structure<'_>,
        products: &BTreeSet<String>,
        evidence: &Evidence,
    ) -> Self {
        let mut mix = Mix::default();
        for product in products {
            let Some(model) = rules.configuration(product) else {
                continue;
            };
            mix.add_product(rules, structure, model, evidence);
        }
        mix
    }

    fn add_product(
        &mut self,
        rules: &RuleSet,
        structure: &Structure<'_>,
        model: &ConfigModel,
        evidence: &Evidence,
    ) {
        let rates = rules.planning().attach_rates_of(&model.sku);
        let mut slots = Vec::new();
        for group in &model.groups {
            let seen = evidence
                .deals
                .get(&(model.sku.clone(), group.id.clone()))
                .copied()
                .unwrap_or(0);
            let in_group: Vec<_> = rates
                .iter()
                .filter(|r| {
                    model
                        .option_index(&r.option)
                        .is_some_and(|o| group.options.contains(&o))
                })
                .collect();
            if in_group.is_empty() {
                // The model's unconditional default for the group, if any.
                let default = model
                    .defaults
                    .iter()
                    .find(|d| d.when.is_empty() && group.options.contains(&d.option));
                match default {
                    Some(d) => {
                        let sku = &model.options[d.option].sku;
                        if let Some(node) = structure.node(sku) {
                            slots.push(self.push(Slot {
                                product: model.sku.clone(),
                                group: group.id.clone(),
                                required: group.min > 0,
                                option: sku.clone(),
                                option_node: node,
                                units: f64::from(d.quantity),
                                share: 1.0,
                                draw: Draw::Fixed,
                                source: format!("default {}", d.id),
                            }));
                        }
                    }
                    None if group.min > 0 => self
                        .unplanned_groups
                        .push((model.sku.clone(), group.id.clone())),
                    None => {}
                }
                continue;
            }
            let sum: f64 = in_group
                .iter()
                .map(|r| r.percent.0.to_f64().unwrap_or(0.0))
                .sum();
            let shared = (sum - 100.0).abs() < 1e-9;
            let group_index = self.groups.len();
            if shared {
                self.groups.push(Vec::new());
            }
            let mut alphas = Vec::new();
            for r in &in_group {
                let Some(node) = structure.node(&r.option) else {
                    continue;
                };
                let rate = r.percent.0.to_f64().unwrap_or(0.0) / 100.0;
                let weight = f64::from(r.weight);
                let chose = evidence
                    .chose
                    .get(&(model.sku.clone(), r.option.clone()))
                    .copied()
                    .unwrap_or(0);
                let alpha = weight * rate + f64::from(chose);
                let draw = if shared {
                    Draw::Dirichlet { alpha }
                } else {
                    Draw::Beta {
                        alpha,
                        beta: weight * (1.0 - rate) + f64::from(seen.saturating_sub(chose)),
                    }
                };
                let share = match &draw {
                    Draw::Beta { alpha, beta } if alpha + beta > 0.0 => alpha / (alpha + beta),
                    _ => rate,
                };
                alphas.push(alpha);
                let source = if seen > 0 {
                    format!("rules + {seen} won configurations")
                } else {
                    "rules".to_owned()
                };
                let at = self.push(Slot {
                    product: model.sku.clone(),
                    group: group.id.clone(),
                    required: group.min > 0,
                    option: r.option.clone(),
                    option_node: node,
                    units: r.units.to_f64().unwrap_or(1.0),
                    share,
                    draw,
                    source,
                });
                if shared {
                    self.groups[group_index].push(at);
                }
                slots.push(at);
            }
            if shared {
                // Posterior means of the shared mix.
                let total: f64 = alphas.iter().sum();
                for (&slot, alpha) in self.groups[group_index].iter().zip(&alphas) {
                    if total > 0.0 {
                        self.slots[slot].share = alpha / total;
                    }
                }
            }
        }
        self.by_product.insert(model.sku.clone(), slots);
    }

    fn push(&mut self, slot: Slot) -> usize {
        self.slots.push(slot);
        self.slots.len() - 1
    }

    /// Expected units per product unit, per slot.
    pub fn expected(&self) -> Vec<f64> {
        self.slots.iter().map(Slot::expected_per_unit).collect()
    }

    /// One draw of every mix: units per product unit, per slot.
    pub fn draw(&self, rng: &mut impl Rng, out: &mut Vec<f64>) {
        out.clear();
        out.extend(self.slots.iter().map(|s| match s.draw {
            Draw::Fixed => s.expected_per_unit(),
            Draw::Beta { alpha, beta } => {
                if alpha <= 0.0 {
                    0.0
                } else if beta <= 0.0 {
                    s.units
                } else {
                    Beta::new(alpha, beta).map_or(s.share, |d| d.sample(rng)) * s.units
                }
            }
            Draw::Dirichlet { alpha, .. } => {
                if alpha <= 0.0 {
                    0.0
                } else {
                    Gamma::new(alpha, 1.0).map_or(alpha, |d| d.sample(rng))
                }
            }
        }));
        for group in &self.groups {
            let total: f64 = group.iter().map(|&s| out[s]).sum();
            for &s in group {
                out[s] = if total > 0.0 {
                    out[s] / total * self.slots[s].units
                } else {
                    self.slots[s].expected_per_unit()
                };
            }
        }
    }
}
