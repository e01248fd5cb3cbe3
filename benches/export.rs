//! Writes a configuration model and click sessions as JSON for the
//! side-by-side solver baseline (`benches/baseline/cpsat_configure.py`):
//! the model in plain constraint form (quantities, group bounds, implications,
//! linear inequalities, forbidden pairs), each click's choices, the valid
//! quantities our engine computed and the time it took, so the script can
//! check the two agree and compare the times.
use serde_json::{Value, json};

use quotecast_model::{ConfigModel, ConfigRuleKind};

/// One click as recorded: the choices before it (option, quantity), the
/// quantities offered per option, and our engine's time in microseconds.
pub struct RecordedClick {
    pub choices: Vec<(usize, u32)>,
    pub offered: Vec<Vec<u32>>,
    pub micros: f64,
}

fn constraint(model: &ConfigModel, kind: &ConfigRuleKind) -> Value {
    let not_both = |pairs: Vec<(usize, usize)>| json!({ "kind": "not_both", "pairs": pairs });
    match kind {
        ConfigRuleKind::Requires { option, any_of } => {
            json!({ "kind": "requires", "option": option, "any_of": any_of })
        }
        ConfigRuleKind::Excludes { option, options } => {
            not_both(options.iter().map(|&o| (*option, o)).collect())
        }
        ConfigRuleKind::PerUnit {
            option,
            needs,
            quantity,
        } => json!({
            "kind": "linear",
            "terms": [[option, quantity], [needs, -1]],
            "at_most": 0,
        }),
        ConfigRuleKind::Adds {
            when,
            add,
            quantity,
        } => json!({ "kind": "adds", "when": when, "add": add, "quantity": quantity }),
        ConfigRuleKind::Resource { consumes, provides } => {
            let terms: Vec<(usize, i64)> = model
                .options
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    let used = o.numbers.get(consumes).copied().unwrap_or(0);
                    let given = o.numbers.get(provides).copied().unwrap_or(0);
                    (i, used - given)
                })
                .filter(|(_, c)| *c != 0)
                .collect();
            let base = model.provides.get(provides).copied().unwrap_or(0);
            json!({ "kind": "linear", "terms": terms, "at_most": base })
        }
        ConfigRuleKind::SameValue { group, attribute } => {
            let members = &model.groups[*group].options;
            let value = |o: usize| model.options[o].categories.get(attribute);
            let mut pairs = Vec::new();
            for (i, &a) in members.iter().enumerate() {
                for &b in &members[i + 1..] {
                    if value(a) != value(b) {
                        pairs.push((a, b));
                    }
                }
            }
            not_both(pairs)
        }
        ConfigRuleKind::Compatible { left, right, pairs } => {
            let mut forbidden = Vec::new();
            for &a in &model.groups[*left].options {
                for &b in &model.groups[*right].options {
                    if !pairs.contains(&(a, b)) {
                        forbidden.push((a, b));
                    }
                }
            }
            not_both(forbidden)
        }
    }
}

/// The model, our compile time and the clicks as one JSON document.
pub fn export(model: &ConfigModel, compile_ms: f64, clicks: &[RecordedClick]) -> Value {
    json!({
        "sku": model.sku,
        "compile_ms": compile_ms,
        "options": model.options.iter().map(|o| json!({ "sku": o.sku, "max": o.max_quantity })).collect::<Vec<_>>(),
        "groups": model.groups.iter().map(|g| json!({ "min": g.min, "max": g.max, "options": g.options })).collect::<Vec<_>>(),
        "constraints": model.rules.iter().map(|r| constraint(model, &r.kind)).collect::<Vec<_>>(),
        "clicks": clicks.iter().map(|c| json!({
            "choices": c.choices,
            "offered": c.offered,
            "micros": c.micros,
        })).collect::<Vec<_>>(),
    })
}
