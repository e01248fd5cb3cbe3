//! Explanations and conflicts as sentences, the way the CLI and the error
//! messages of pricing state them.
use std::collections::BTreeMap;

use quotecast_model::RuleSet;

use crate::{Choice, CompiledModel, ConfigError, Conflict, Explanation, compile};

/// Configuration models compiled for clicks, by base product SKU.
pub type Configurators = BTreeMap<String, CompiledModel>;

/// Compiles every configuration model of `rules`; the models that do not
/// compile come back with their error instead (loading the rules has
/// already reported those, with file and line).
pub fn compile_all(rules: &RuleSet) -> (Configurators, Vec<(String, ConfigError)>) {
    let mut compiled = Configurators::new();
    let mut failed = Vec::new();
    for model in rules.configurations() {
        match compile(model.clone()) {
            Ok(c) => {
                compiled.insert(model.sku.clone(), c);
            }
            Err(error) => failed.push((model.sku.clone(), error)),
        }
    }
    (compiled, failed)
}

impl CompiledModel {
    /// "SRV-GPU-L4 ×1".
    pub fn describe_choice(&self, choice: &Choice) -> String {
        format!(
            "{} ×{}",
            self.model.options[choice.option].sku, choice.quantity
        )
    }

    /// "you chose A ×1, B ×2; r1 (…); r2 (…)".
    pub fn describe(&self, why: &Explanation) -> String {
        let mut parts = Vec::new();
        if !why.choices.is_empty() {
            let chosen: Vec<String> = why
                .choices
                .iter()
                .map(|c| self.describe_choice(c))
                .collect();
            parts.push(format!("you chose {}", chosen.join(", ")));
        }
        for rule in &why.rules {
            parts.push(format!("{} ({})", rule.id, rule.description));
        }
        parts.join("; ")
    }

    /// "drop A ×1, or drop B ×2 and C ×1".
    pub fn describe_repairs(&self, conflict: &Conflict) -> String {
        let ways: Vec<String> = conflict
            .repairs
            .iter()
            .map(|repair| {
                let drop: Vec<String> = repair.iter().map(|c| self.describe_choice(c)).collect();
                format!("drop {}", drop.join(" and "))
            })
            .collect();
        ways.join(", or ")
    }
}
