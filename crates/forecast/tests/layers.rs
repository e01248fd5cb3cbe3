//! The forecast crate's modules form layers: a module uses only modules
//! of lower layers, so none of them import each other in a circle. The
//! table below is the map ARCHITECTURE.md describes; this test reads the
//! sources and fails on any `crate::` reference that goes sideways or up.
use std::collections::BTreeMap;

/// Lowest first. Modules of one layer do not use each other.
const LAYERS: &[&[&str]] = &[
    &["columns", "correction", "error", "incidence", "winners"],
    &["tally"],
    &["frames", "orders", "banded"],
    &["calibrate"],
    &["spec"],
    &["deal_size", "then", "stored", "snapshot_weights"],
    &["close_dates"],
    &[
        "prepare",
        "distinct",
        "shocks",
        "funnel",
        "slippage",
        "quarter_ends",
        "pipeline_share",
    ],
    &["new_deals", "realisation", "unseen_teams"],
    &["cells", "corrected", "baselines", "overdue"],
    &["calendar", "montecarlo"],
    &["first_seen"],
    &["accuracy", "scores", "timing", "weighted"],
    &["backtest"],
    &["report"],
];

fn source_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// What the crate root re-exports, name → module (`pub use m::{A, b};`).
fn root_exports(lib: &str) -> BTreeMap<String, String> {
    let mut exports = BTreeMap::new();
    for item in lib.split("pub use ").skip(1) {
        let item = item.split(';').next().unwrap_or_default();
        let Some((module, names)) = item.split_once("::") else {
            continue;
        };
        for name in names.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
            if !name.is_empty() {
                exports.insert(name.to_string(), module.trim().to_string());
            }
        }
    }
    exports
}

/// The crate's top-level names a module's code (tests left out) refers to:
/// every `crate::name`, and every top-level name in `use crate::{...}`.
fn references(source: &str) -> Vec<String> {
    let code: String = source
        .split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut names = Vec::new();
    for part in code.split("crate::").skip(1) {
        if let Some(group) = part.strip_prefix('{') {
            // Top-level names of the group: those at brace depth 0, not
            // the rest of a path (`b::C`).
            let (mut depth, mut in_path) = (0, false);
            let mut name = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => in_path = false,
                    ':' if depth == 0 => in_path = true,
                    c if depth == 0 && !in_path && (c.is_alphanumeric() || c == '_') => {
                        name.push(c)
                    }
                    _ => {}
                }
                if (depth > 0 || in_path || c == ',') && !name.is_empty() {
                    names.push(std::mem::take(&mut name));
                }
            }
            if !name.is_empty() {
                names.push(name);
            }
        } else {
            let name: String = part
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.push(name);
        }
    }
    names
}

#[test]
fn every_module_uses_only_lower_layers() {
    let dir = source_dir();
    let lib = std::fs::read_to_string(dir.join("lib.rs")).expect("lib.rs");
    let exports = root_exports(&lib);
    let layer_of: BTreeMap<&str, usize> = LAYERS
        .iter()
        .enumerate()
        .flat_map(|(i, layer)| layer.iter().map(move |m| (*m, i)))
        .collect();
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("src") {
        let path = entry.expect("entry").path();
        let Some(module) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_none_or(|e| e != "rs") || module == "lib" {
            continue;
        }
        let Some(&own) = layer_of.get(module) else {
            problems.push(format!("{module}.rs is in no layer of this test"));
            continue;
        };
        let source = std::fs::read_to_string(&path).expect("source");
        for name in references(&source) {
            let used = if layer_of.contains_key(name.as_str()) {
                name.clone()
            } else if let Some(m) = exports.get(&name) {
                m.clone()
            } else {
                continue;
            };
            if used == module {
                continue;
            }
            match layer_of.get(used.as_str()) {
                Some(&l) if l < own => {}
                Some(_) => problems.push(format!(
                    "{module} (layer {own}) uses {used} (via `{name}`), which is not below it"
                )),
                None => problems.push(format!("{module} uses {used}, which is in no layer")),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_reader_finds_references_in_groups_and_paths() {
    let source = "use crate::{\n    A, b::{C, d},\n    e::F,\n};\nfn x() { crate::g::h(); }";
    assert_eq!(references(source), ["A", "b", "e", "g"]);
}
