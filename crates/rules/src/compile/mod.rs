//! Turns parsed rule files into the model's [`RuleSetParts`], checking every
//! value and every reference on the way. Problems are collected, not
//! returned early, so an author sees them all at once.
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use chrono::NaiveDate;
use quotecast_model::{DateRange, Percent, ProductSelector, RuleSetParts};
use rust_decimal::Decimal;

use quotecast_configurator::Configurators;

use crate::{
    ModelCompiler, RuleIssue,
    format::{ParsedFile, SelectorDef},
};

mod approval_chains;
mod catalog;
mod configuration;
mod payment;
mod pipeline;
mod planning;
mod pricing;

/// The most days from signing to delivery, and the longest net days.
const MAX_DELIVERY_DAYS: u32 = 3650;

/// The largest amount a rule may state (a price, a cost, a threshold):
/// 10^11. With the engine's bounds on quantities and lines (see
/// `quotecast_pricing::MAX_QUANTITY`), no waterfall arithmetic can overflow.
const MAX_RULE_AMOUNT: Decimal = Decimal::from_parts(0x4876_E800, 0x17, 0, false, 0);
/// The largest `per_corporate` rate: 10^5 (units of a currency per unit of
/// the corporate currency).
pub(crate) const MAX_RATE: u32 = 100_000;

/// Where a record was defined, for "first defined at" messages.
type Origin = (PathBuf, usize);

/// The ids each kind of record defines, gathered before references are
/// checked so that files may refer to each other in any order.
#[derive(Default)]
struct Known {
    currencies: HashMap<String, u32>,
    product_lines: HashSet<String>,
    products: HashMap<String, String>,
    segments: HashSet<String>,
    regions: HashSet<String>,
    accounts: HashSet<String>,
    price_books: HashMap<String, String>,
    approval_levels: HashSet<String>,
}

struct Compiler<'i> {
    issues: &'i mut Vec<RuleIssue>,
    /// How configuration models get compiled (afresh, or from a cache).
    models: &'i dyn ModelCompiler,
    /// The configuration models compiled while checking them.
    compiled: Configurators,
    /// Valid but probably unintended: reported, not refused.
    warnings: Vec<RuleIssue>,
    known: Known,
    defined: HashMap<(&'static str, String), Origin>,
}

impl Compiler<'_> {
    fn report(&mut self, file: &ParsedFile<'_>, line: usize, message: impl Into<String>) {
        self.issues.push(file.issue(line, message));
    }

    fn warn(&mut self, file: &ParsedFile<'_>, line: usize, message: impl Into<String>) {
        self.warnings.push(file.issue(line, message));
    }

    /// Records a definition; a second one with the same id is reported.
    fn define(&mut self, file: &ParsedFile<'_>, line: usize, kind: &'static str, id: &str) -> bool {
        if id.trim().is_empty() {
            self.report(file, line, format!("{kind} has an empty id"));
            return false;
        }
        let key = (kind, id.to_owned());
        if let Some((first_file, first_line)) = self.defined.get(&key) {
            let message = format!(
                "duplicate {kind} id `{id}`: first defined at {}:{first_line}",
                first_file.display()
            );
            self.report(file, line, message);
            return false;
        }
        self.defined.insert(key, (file.source.path.clone(), line));
        true
    }

    /// Reports `reference` unless `known` holds; returns whether it did.
    fn check_ref(
        &mut self,
        file: &ParsedFile<'_>,
        line: usize,
        owner: &str,
        what: &str,
        reference: &str,
        known: bool,
    ) -> bool {
        if !known {
            self.report(
                file,
                line,
                format!("{owner} refers to unknown {what} `{reference}`"),
            );
        }
        known
    }

    fn date(
        &mut self,
        file: &ParsedFile<'_>,
        line: usize,
        owner: &str,
        text: &str,
    ) -> Option<NaiveDate> {
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                self.report(
                    file,
                    line,
                    format!("{owner}: `{text}` is not a date in the form YYYY-MM-DD"),
                );
                None
            }
        }
    }

    fn range(
        &mut self,
        file: &ParsedFile<'_>,
        line: usize,
        owner: &str,
        from: &str,
        to: Option<&str>,
    ) -> Option<DateRange> {
        let from = self.date(file, line, owner, from)?;
        let to = match to {
            Some(t) => Some(self.date(file, line, owner, t)?),
            None => None,
        };
        if to.is_some_and(|t| t < from) {
            self.report(
                file,
                line,
                format!(
                    "{owner}: ends ({}) before it starts ({from})",
                    to.unwrap_or(from)
                ),
            );
            return None;
        }
        Some(DateRange { from, to })
    }

    /// A percentage that must lie in `0..=100`.
    fn percent(
        &mut self,
        file: &ParsedFile<'_>,
        line: usize,
        owner: &str,
        value: Decimal,
    ) -> Option<Percent> {
        if value < Decimal::ZERO || value > Decimal::ONE_HUNDRED {
            self.report(
                file,
                line,
                format!("{owner}: percentage {value} is outside 0 to 100"),
            );
            return None;
        }
        Some(Percent(value))
    }

    /// A money amount: not negative and at most [`MAX_RULE_AMOUNT`].
    fn non_negative(
        &mut self,
        file: &ParsedFile<'_>,
        line: usize,
        owner: &str,
        value: Decimal,
    ) -> bool {
        if value < Decimal::ZERO {
            self.report(file, line, format!("{owner}: amount {value} is negative"));
            return false;
        }
        if value > MAX_RULE_AMOUNT {
            self.report(
                file,
                line,
                format!("{owner}: amount {value} is above the largest allowed, {MAX_RULE_AMOUNT}"),
            );
            return false;
        }
        true
    }

    /// A selector whose SKUs and product lines all exist.
    fn selector(
        &mut self,
        file: &ParsedFile<'_>,
        line: usize,
        owner: &str,
        def: &SelectorDef,
    ) -> ProductSelector {
        for sku in &def.skus {
            let known = self.known.products.contains_key(sku);
            self.check_ref(file, line, owner, "SKU", sku, known);
        }
        for pl in &def.product_lines {
            let known = self.known.product_lines.contains(pl);
            self.check_ref(file, line, owner, "product line", pl, known);
        }
        ProductSelector {
            skus: def.skus.clone(),
            product_lines: def.product_lines.clone(),
        }
    }

    /// One of the allowed words for an enumerated setting.
    fn choice<T: Copy>(
        &mut self,
        file: &ParsedFile<'_>,
        line: usize,
        owner: &str,
        setting: &str,
        value: &str,
        allowed: &[(&str, T)],
    ) -> Option<T> {
        let found = allowed
            .iter()
            .find(|(name, _)| *name == value)
            .map(|(_, v)| *v);
        if found.is_none() {
            let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
            self.report(
                file,
                line,
                format!(
                    "{owner}: {setting} `{value}` is not one of {}",
                    names.join(", ")
                ),
            );
        }
        found
    }
}

/// The compiled parts, the warnings (valid rules that look unintended)
/// and the configuration models compiled for clicks.
pub(crate) fn compile(
    files: &[ParsedFile<'_>],
    issues: &mut Vec<RuleIssue>,
    models: &dyn ModelCompiler,
) -> (RuleSetParts, Vec<RuleIssue>, Configurators) {
    let mut compiler = Compiler {
        issues,
        models,
        compiled: Configurators::new(),
        warnings: Vec::new(),
        known: Known::default(),
        defined: HashMap::new(),
    };
    let mut parts = RuleSetParts::default();
    catalog::compile(&mut compiler, files, &mut parts);
    pricing::compile(&mut compiler, files, &mut parts);
    approval_chains::compile(&mut compiler, files, &mut parts);
    configuration::compile_models(&mut compiler, files, &mut parts);
    pipeline::compile(&mut compiler, files, &mut parts);
    planning::compile(&mut compiler, files, &mut parts);
    payment::compile(&mut compiler, files, &mut parts);
    (parts, compiler.warnings, compiler.compiled)
}
