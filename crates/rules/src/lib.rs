//! quotecast's rule files: the TOML formats under `rules/`, loading them
//! with every problem reported by file, line and a sentence, compiling them
//! into a [`quotecast_model::RuleSet`], and the quote regression cases under
//! `rules/tests/`.
//!
//! Every `*.toml` file below the rules directory (except `tests/`) may hold
//! any of the top-level arrays (`[[product]]`, `[[price]]`, ...); by
//! convention each file holds one concern. See `rules/README.md`.

mod cases;
mod compile;
mod decimal;
mod format;
mod model_cache;
mod quote_input;
mod source;

use std::{
    fmt,
    path::{Path, PathBuf},
};

pub use cases::{CaseOutcome, Mismatch, RegressionCase, load_cases, run_case};
pub use model_cache::{CacheReport, ModelCache};
pub use quote_input::{LineInput, QuoteInput};
pub use source::Source;

use quotecast_configurator::{CompiledModel, ConfigError, Configurators};
use quotecast_model::{ConfigModel, RuleSet};

/// How loading gets each configuration model compiled. Every model is
/// compiled while the rules load (to report one with no valid
/// configuration), and the compiled models come back with the rules
/// ([`Loaded::configurators`]), so nothing compiles them twice.
pub trait ModelCompiler: Sync {
    fn compile(&self, model: &ConfigModel) -> Result<CompiledModel, ConfigError>;
}

/// Compiles every model afresh.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fresh;

impl ModelCompiler for Fresh {
    fn compile(&self, model: &ConfigModel) -> Result<CompiledModel, ConfigError> {
        quotecast_configurator::compile(model.clone())
    }
}

/// The rules, what was loaded, and every configuration model compiled.
#[derive(Debug)]
pub struct Loaded {
    pub rules: RuleSet,
    pub summary: LoadSummary,
    pub configurators: Configurators,
}

/// One problem in a rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleIssue {
    pub file: PathBuf,
    /// 1-based line; 0 when the problem concerns the file as a whole.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for RuleIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} problem(s) in the rules:\n{}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<RuleIssue>),
}

/// What was loaded, for a one-line summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadSummary {
    pub files: usize,
    pub products: usize,
    pub price_books: usize,
    pub rules: usize,
    /// Approver groups, and the routes that send approval rules to them.
    pub approver_groups: usize,
    pub approval_routes: usize,
    /// Configurable products and their configuration rules.
    pub configurable: usize,
    pub configuration_rules: usize,
    /// Stages of the sales funnel.
    pub stages: usize,
    /// The month the fiscal year starts in (quarters follow it).
    pub fiscal_year: quotecast_model::FiscalYear,
    /// Planned items and BOM lines.
    pub items: usize,
    pub bom_lines: usize,
    /// Valid rules that look unintended, with file and line.
    pub warnings: Vec<RuleIssue>,
}

impl fmt::Display for LoadSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} files, {} products, {} price books, {} pricing and approval rules, {} approver groups with {} routes, {} configurable products with {} configuration rules, {} funnel stages, {} planned items with {} BOM lines",
            self.files,
            self.products,
            self.price_books,
            self.rules,
            self.approver_groups,
            self.approval_routes,
            self.configurable,
            self.configuration_rules,
            self.stages,
            self.items,
            self.bom_lines
        )?;
        if self.fiscal_year != quotecast_model::FiscalYear::CALENDAR {
            write!(f, ", quarters of a fiscal year from {}", self.fiscal_year)?;
        }
        if !self.warnings.is_empty() {
            write!(f, ", {} warning(s)", self.warnings.len())?;
        }
        Ok(())
    }
}

/// Reads every rule file below `dir` (not `dir/tests`), in path order.
pub fn read_dir(dir: &Path) -> Result<Vec<Source>, RulesError> {
    let mut paths = Vec::new();
    collect_toml(dir, dir, &mut paths)?;
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            std::fs::read_to_string(&path)
                .map(|text| Source {
                    path: path.clone(),
                    text,
                })
                .map_err(|source| RulesError::Io { path, source })
        })
        .collect()
}

fn collect_toml(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), RulesError> {
    let io = |source| RulesError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            if path != root.join("tests") {
                collect_toml(root, &path, out)?;
            }
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    Ok(())
}

/// Parses, validates and compiles rule sources. All problems are reported
/// together, in file and line order.
pub fn compile_sources(sources: &[Source]) -> Result<(RuleSet, LoadSummary), RulesError> {
    compile_sources_with(sources, &Fresh).map(|l| (l.rules, l.summary))
}

/// [`compile_sources`], with the configuration models compiled by
/// `models` and returned.
pub fn compile_sources_with(
    sources: &[Source],
    models: &dyn ModelCompiler,
) -> Result<Loaded, RulesError> {
    let mut issues = Vec::new();
    let files: Vec<_> = sources
        .iter()
        .filter_map(|s| format::parse(s, &mut issues))
        .collect();
    if !issues.is_empty() {
        // References into a file that did not parse would all look broken:
        // report the parse errors alone, as a compiler stops after syntax.
        return Err(RulesError::Invalid(issues));
    }
    let (parts, mut warnings, configurators) = compile::compile(&files, &mut issues, models);
    warnings.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    if !issues.is_empty() {
        issues.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        issues.dedup();
        return Err(RulesError::Invalid(issues));
    }
    let summary = LoadSummary {
        files: sources.len(),
        products: parts.products.len(),
        price_books: parts.price_books.len(),
        rules: parts.contract_prices.len()
            + parts.schedules.len()
            + parts.bundles.len()
            + parts.promotions.len()
            + parts.floors.len()
            + parts.approval_rules.len(),
        approver_groups: parts.approver_groups.len(),
        approval_routes: parts.approval_routes.len(),
        configurable: parts.configurations.len(),
        configuration_rules: parts.configurations.iter().map(|m| m.rules.len()).sum(),
        stages: parts.stages.len(),
        fiscal_year: parts.fiscal_year,
        items: parts.planning.items.len(),
        bom_lines: parts.planning.bom.len(),
        warnings,
    };
    let rule_set = quotecast_model::RuleSet::new(parts).map_err(|e| {
        RulesError::Invalid(vec![RuleIssue {
            file: PathBuf::from("<rules>"),
            line: 0,
            message: e.to_string(),
        }])
    })?;
    Ok(Loaded {
        rules: rule_set.with_fingerprint(fingerprint(sources)),
        summary,
        configurators,
    })
}

/// `rules-` and 16 hex digits of BLAKE3 over the files' texts, each
/// hashed alone and the hashes taken in order: the same files give the
/// same fingerprint wherever they lie (a directory, the embedded copy)
/// and whatever they are named.
pub fn fingerprint(sources: &[Source]) -> String {
    let mut texts: Vec<[u8; 32]> = sources
        .iter()
        .map(|s| *blake3::hash(s.text.as_bytes()).as_bytes())
        .collect();
    texts.sort_unstable();
    let mut all = blake3::Hasher::new();
    for text in &texts {
        all.update(text);
    }
    let hex = all.finalize().to_hex();
    format!("rules-{}", &hex[..16])
}

/// Loads and compiles the rules directory.
pub fn load_dir(dir: &Path) -> Result<(RuleSet, LoadSummary), RulesError> {
    compile_sources(&read_dir(dir)?)
}

/// [`load_dir`], with the configuration models compiled by `models` and
/// returned.
pub fn load_dir_with(dir: &Path, models: &dyn ModelCompiler) -> Result<Loaded, RulesError> {
    compile_sources_with(&read_dir(dir)?, models)
}
