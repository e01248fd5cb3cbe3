//! A generated configuration model of any size with rules of every kind,
//! in which every option can be chosen, by construction: `per_group`
//! witness configurations are fixed first (witness j takes the j-th option
//! of every group), and only rules all witnesses satisfy are kept.
use std::collections::BTreeMap;

use quotecast_model::{ConfigModel, ConfigOption, ConfigRule, ConfigRuleKind, OptionGroup};

/// A small deterministic generator (64-bit LCG), so runs are reproducible
/// without a dependency.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

/// How the generated model is shaped.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub groups: usize,
    pub per_group: usize,
    /// Rules in all, resource rules included.
    pub rules: usize,
    /// Also one power budget over every option (watts in steps of 25), as
    /// a server's power supply is; without it, resources stay local.
    pub power_budget: bool,
}

/// Groups of options and rules, each between options at most three
/// groups apart (real catalogs relate neighbouring choices: CPU and board,
/// memory and slots), one local resource per four neighbouring groups
/// (slots on a board, bays in a cage) and, when asked, one power budget
/// shared by all.
pub fn generated_model(shape: Shape, seed: u64) -> ConfigModel {
    let Shape {
        groups, per_group, ..
    } = shape;
    let mut rng = Lcg::new(seed);
    let mut model = ConfigModel {
        sku: "GEN".into(),
        groups: Vec::new(),
        options: Vec::new(),
        provides: BTreeMap::new(),
        rules: Vec::new(),
        defaults: Vec::new(),
        required: true,
    };
    let mut witnesses = vec![Vec::new(); per_group];
    for g in 0..groups {
        let min = rng.below(2) as u32;
        let max = min + 1 + rng.below(2) as u32;
        let mut members = Vec::new();
        for k in 0..per_group {
            let index = model.options.len();
            let max_quantity = if rng.below(4) == 0 { 3 } else { 1 };
            let mut numbers =
                BTreeMap::from([(format!("slots{}", g / 4), 1 + rng.below(4) as i64)]);
            if shape.power_budget {
                numbers.insert("watts".into(), 25 * (1 + rng.below(8) as i64));
            }
            model.options.push(ConfigOption {
                sku: format!("G{g}-O{k}"),
                group: g,
                max_quantity,
                numbers,
                categories: BTreeMap::from([("colour".to_owned(), rng.below(3).to_string())]),
            });
            members.push(index);
            for (j, w) in witnesses.iter_mut().enumerate() {
                w.push(u32::from(k == j));
            }
        }
        model.groups.push(OptionGroup {
            id: format!("g{g}"),
            name: format!("Group {g}"),
            min,
            max,
            options: members,
        });
    }
    // Capacities: what the hungriest witness uses plus some headroom.
    let mut resources: Vec<String> = (0..groups.div_ceil(4))
        .map(|b| format!("slots{b}"))
        .collect();
    if shape.power_budget {
        resources.push("watts".into());
    }
    for attribute in resources {
        let used = witnesses
            .iter()
            .map(|w| {
                model
                    .options
                    .iter()
                    .zip(w)
                    .map(|(o, q)| o.numbers.get(&attribute).copied().unwrap_or(0) * i64::from(*q))
                    .sum::<i64>()
            })
            .max()
            .unwrap_or(0);
        let capacity = format!("{attribute}-capacity");
        model.provides.insert(capacity.clone(), used + used / 4);
        if model.rules.len() < shape.rules {
            model.rules.push(ConfigRule {
                id: format!("rule{}", model.rules.len()),
                description: format!("{attribute} used within capacity"),
                kind: ConfigRuleKind::Resource {
                    consumes: attribute,
                    provides: capacity,
                },
            });
        }
    }
    let rules = shape.rules;
    let on = |o: usize, w: &[u32]| w[o] > 0;
    let mut made = model.rules.len();
    while made < rules {
        let a = rng.below(model.options.len());
        let ga = model.options[a].group;
        let gb = ga + 1 + rng.below(3);
        if gb >= groups {
            continue;
        }
        let b = gb * per_group + rng.below(per_group);
        let kind = match rng.below(10) {
            0..=2 => ConfigRuleKind::Requires {
                option: a,
                any_of: vec![b, gb * per_group + rng.below(per_group)],
            },
            3..=5 => ConfigRuleKind::Excludes {
                option: a,
                options: vec![b],
            },
            6 => ConfigRuleKind::PerUnit {
                option: a,
                needs: b,
                quantity: 1,
            },
            7 => ConfigRuleKind::Adds {
                when: a,
                add: b,
                quantity: 1,
            },
            8 => ConfigRuleKind::Compatible {
                left: ga,
                right: gb,
                pairs: model.groups[ga]
                    .options
                    .iter()
                    .flat_map(|&x| model.groups[gb].options.iter().map(move |&y| (x, y)))
                    .filter(|&(x, y)| x % per_group == y % per_group || rng.below(3) > 0)
                    .collect(),
            },
            _ => ConfigRuleKind::SameValue {
                group: ga,
                attribute: "colour".into(),
            },
        };
        let holds = witnesses.iter().all(|w| match &kind {
            ConfigRuleKind::Requires { option, any_of } => {
                !on(*option, w) || any_of.iter().any(|&o| on(o, w))
            }
            ConfigRuleKind::Excludes { option, options } => {
                !on(*option, w) || options.iter().all(|&o| !on(o, w))
            }
            ConfigRuleKind::PerUnit {
                option,
                needs,
                quantity,
            } => w[*needs] >= quantity * w[*option],
            ConfigRuleKind::Adds {
                when,
                add,
                quantity,
            } => !on(*when, w) || w[*add] >= *quantity,
            // One option per group in the witness: always one value.
            ConfigRuleKind::SameValue { .. } | ConfigRuleKind::Resource { .. } => true,
            ConfigRuleKind::Compatible { pairs, .. } => {
                let chosen: Vec<usize> = (0..w.len()).filter(|&o| on(o, w)).collect();
                chosen.iter().all(|&x| {
                    chosen.iter().all(|&y| {
                        model.options[x].group != ga
                            || model.options[y].group != gb
                            || pairs.contains(&(x, y))
                    })
                })
            }
        });
        if holds {
            model.rules.push(ConfigRule {
                id: format!("rule{made}"),
                description: format!("generated rule {made}"),
                kind,
            });
            made += 1;
        }
    }
    model
}

/// The same model with its options listed in a random order (groups,
/// rules and defaults renumbered to match), as a catalog written without
/// the constraints' structure in mind would list them.
pub fn shuffled(model: &ConfigModel, seed: u64) -> ConfigModel {
    let mut rng = Lcg::new(seed);
    let n = model.options.len();
    // new position of each old option (Fisher-Yates over positions)
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut at = vec![0; n];
    for (new, &old) in order.iter().enumerate() {
        at[old] = new;
    }
    let map = |o: &usize| at[*o];
    let mut out = model.clone();
    out.options = order
        .iter()
        .map(|&old| model.options[old].clone())
        .collect();
    for group in &mut out.groups {
        group.options = group.options.iter().map(map).collect();
    }
    for rule in &mut out.rules {
        rule.kind = match &rule.kind {
            ConfigRuleKind::Requires { option, any_of } => ConfigRuleKind::Requires {
                option: map(option),
                any_of: any_of.iter().map(map).collect(),
            },
            ConfigRuleKind::Excludes { option, options } => ConfigRuleKind::Excludes {
                option: map(option),
                options: options.iter().map(map).collect(),
            },
            ConfigRuleKind::PerUnit {
                option,
                needs,
                quantity,
            } => ConfigRuleKind::PerUnit {
                option: map(option),
                needs: map(needs),
                quantity: *quantity,
            },
            ConfigRuleKind::Adds {
                when,
                add,
                quantity,
            } => ConfigRuleKind::Adds {
                when: map(when),
                add: map(add),
                quantity: *quantity,
            },
            ConfigRuleKind::Compatible { left, right, pairs } => ConfigRuleKind::Compatible {
                left: *left,
                right: *right,
                pairs: pairs.iter().map(|(a, b)| (map(a), map(b))).collect(),
            },
            other => other.clone(),
        };
    }
    for default in &mut out.defaults {
        default.option = map(&default.option);
        default.when = default.when.iter().map(map).collect();
    }
    out
}
