//! Configuration models: configurable products, their option groups, rules
//! and defaults. Every reference is resolved here; then each model is
//! compiled once to catch models with no valid configuration and options
//! no configuration can hold.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use quotecast_configurator::{CompiledModel, ConfigError, ConstraintRef, OptionStatus};
use quotecast_model::{
    ConfigDefault, ConfigModel, ConfigOption, ConfigRule, ConfigRuleKind, OptionGroup, RuleSetParts,
};

use super::Compiler;
use crate::{
    ModelCompiler,
    format::{ConfigRuleDef, ParsedFile},
};

/// A model under construction with where its parts were written.
struct Draft {
    model: ConfigModel,
    origin: (usize, usize),
    /// File and line of each option, by position.
    option_origin: Vec<(usize, usize)>,
}

impl Draft {
    fn option(&self, sku: &str) -> Option<usize> {
        self.model.option_index(sku)
    }

    fn group(&self, id: &str) -> Option<usize> {
        self.model.groups.iter().position(|g| g.id == id)
    }
}

/// Resolves the SKUs and group ids a rule names within one draft; each
/// unknown one is reported.
struct Resolver<'a, 'c, 'i> {
    c: &'c mut Compiler<'i>,
    f: &'a ParsedFile<'a>,
    line: usize,
    owner: String,
    draft: &'a Draft,
}

impl<'a, 'c, 'i> Resolver<'a, 'c, 'i> {
    /// A resolver for the record `id` of `kind` on `product`, or `None`
    /// (with the problem reported) when the product is not configurable or
    /// the id is taken.
    fn open(
        c: &'c mut Compiler<'i>,
        f: &'a ParsedFile<'a>,
        line: usize,
        kind: &'static str,
        id: &str,
        product: &str,
        drafts: &'a BTreeMap<String, Draft>,
    ) -> Option<Self> {
        let owner = format!("{kind} `{id}`");
        let Some(draft) = drafts.get(product) else {
            c.check_ref(f, line, &owner, "configurable product", product, false);
            return None;
        };
        if !c.define(f, line, kind, id) {
            return None;
        }
        Some(Resolver {
            c,
            f,
            line,
            owner,
            draft,
        })
    }

    fn option(&mut self, sku: &str) -> Option<usize> {
        let found = self.draft.option(sku);
        let what = format!("option of `{}`", self.draft.model.sku);
        self.c
            .check_ref(self.f, self.line, &self.owner, &what, sku, found.is_some());
        found
    }

    fn options(&mut self, skus: &[String]) -> Option<Vec<usize>> {
        let found: Vec<Option<usize>> = skus.iter().map(|s| self.option(s)).collect();
        found.into_iter().collect()
    }

    fn group(&mut self, id: &str) -> Option<usize> {
        let found = self.draft.group(id);
        let what = format!("option group of `{}`", self.draft.model.sku);
        self.c
            .check_ref(self.f, self.line, &self.owner, &what, id, found.is_some());
        found
    }

    fn numeric(&mut self, attribute: &str, on_base: bool) -> bool {
        let model = &self.draft.model;
        let known = model
            .options
            .iter()
            .any(|o| o.numbers.contains_key(attribute))
            || (on_base && model.provides.contains_key(attribute));
        self.c.check_ref(
            self.f,
            self.line,
            &self.owner,
            "numeric attribute",
            attribute,
            known,
        )
    }

    fn kind(&mut self, def: &ConfigRuleDef) -> Option<ConfigRuleKind> {
        let kinds = [
            def.requires.is_some(),
            def.excludes.is_some(),
            def.per_unit.is_some(),
            def.adds.is_some(),
            def.resource.is_some(),
            def.same_value.is_some(),
            def.compatible.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            let message = format!(
                "{} must state exactly one of requires, excludes, per_unit, adds, resource, same_value, compatible",
                self.owner
            );
            self.c.report(self.f, self.line, message);
            return None;
        }
        if let Some(r) = &def.requires {
            return Some(ConfigRuleKind::Requires {
                option: self.option(&r.option)?,
                any_of: self.options(&r.any_of)?,
            });
        }
        if let Some(r) = &def.excludes {
            return Some(ConfigRuleKind::Excludes {
                option: self.option(&r.option)?,
                options: self.options(&r.options)?,
            });
        }
        if let Some(r) = &def.per_unit {
            return Some(ConfigRuleKind::PerUnit {
                option: self.option(&r.option)?,
                needs: self.option(&r.needs)?,
                quantity: r.quantity,
            });
        }
        if let Some(r) = &def.adds {
            return Some(ConfigRuleKind::Adds {
                when: self.option(&r.when)?,
                add: self.option(&r.add)?,
                quantity: r.quantity,
            });
        }
        if let Some(r) = &def.resource {
            let known = self.numeric(&r.consumes, false) & self.numeric(&r.provides, true);
            return known.then(|| ConfigRuleKind::Resource {
                consumes: r.consumes.clone(),
                provides: r.provides.clone(),
            });
        }
        if let Some(r) = &def.same_value {
            let group = self.group(&r.group)?;
            let model = &self.draft.model;
            let missing: Vec<&str> = model.groups[group]
                .options
                .iter()
                .map(|&o| &model.options[o])
                .filter(|o| !o.categories.contains_key(&r.attribute))
                .map(|o| o.sku.as_str())
                .collect();
            if !missing.is_empty() {
                let message = format!(
                    "{}: options {} have no `{}` attribute",
                    self.owner,
                    missing.join(", "),
                    r.attribute
                );
                self.c.report(self.f, self.line, message);
                return None;
            }
            return Some(ConfigRuleKind::SameValue {
                group,
                attribute: r.attribute.clone(),
            });
        }
        let r = def.compatible.as_ref()?;
        let (left, right) = (self.group(&r.left)?, self.group(&r.right)?);
        let mut pairs = Vec::new();
        for (a, b) in &r.pairs {
            let (a, b) = (self.option(a)?, self.option(b)?);
            let model = &self.draft.model;
            if model.options[a].group != left || model.options[b].group != right {
                let message = format!(
                    "{}: pair ({}, {}) is not a `{}` option with a `{}` option",
                    self.owner, model.options[a].sku, model.options[b].sku, r.left, r.right
                );
                self.c.report(self.f, self.line, message);
                return None;
            }
            pairs.push((a, b));
        }
        Some(ConfigRuleKind::Compatible { left, right, pairs })
    }
}

pub(super) fn compile_models(
    c: &mut Compiler<'_>,
    files: &[ParsedFile<'_>],
    parts: &mut RuleSetParts,
) {
    let mut drafts = drafts(c, files);
    // Each group, rule and default's product with the number of problems
    // reported before it: a model with a problem of its own may be
    // incomplete and is not solved; the others still are.
    let mut marks: Vec<(String, usize)> = Vec::new();
    add_groups(c, files, &mut drafts, &mut marks);
    let (mut rules, mut defaults) = rules_and_defaults(c, files, &drafts, &mut marks);
    let broken = broken_products(&marks, c.issues.len());
    let mut ready = Vec::new();
    for (sku, mut draft) in drafts {
        draft.model.rules = rules.remove(&sku).unwrap_or_default();
        draft.model.defaults = defaults.remove(&sku).unwrap_or_default();
        if !broken.contains(sku.as_str()) {
            ready.push(draft);
        }
    }
    let solved = solve_all(c.models, &ready);
    for (draft, solved) in ready.into_iter().zip(solved) {
        if let Some(compiled) = check(c, files, &draft, solved) {
            c.compiled.insert(draft.model.sku.clone(), compiled);
            parts.configurations.push(draft.model);
        }
    }
}

/// An empty model per configurable product defined once, of a known SKU.
fn drafts(c: &mut Compiler<'_>, files: &[ParsedFile<'_>]) -> BTreeMap<String, Draft> {
    let mut drafts = BTreeMap::new();
    for (fi, f) in files.iter().enumerate() {
        for r in &f.configurables {
            let d = &r.value;
            if !c.define(f, r.line, "configurable product", &d.product) {
                continue;
            }
            let base = c.known.products.contains_key(&d.product);
            if !c.check_ref(f, r.line, "configurable", "SKU", &d.product, base) {
                continue;
            }
            let model = ConfigModel {
                sku: d.product.clone(),
                groups: Vec::new(),
                options: Vec::new(),
                provides: d.provides.clone(),
                rules: Vec::new(),
                defaults: Vec::new(),
                required: d.required,
            };
            drafts.insert(
                d.product.clone(),
                Draft {
                    model,
                    origin: (fi, r.line),
                    option_origin: Vec::new(),
                },
            );
        }
    }
    drafts
}

/// Adds every option group, with its options, to its product's draft.
fn add_groups(
    c: &mut Compiler<'_>,
    files: &[ParsedFile<'_>],
    drafts: &mut BTreeMap<String, Draft>,
    marks: &mut Vec<(String, usize)>,
) {
    for (fi, f) in files.iter().enumerate() {
        for r in &f.config_groups {
            let d = &r.value;
            marks.push((d.product.clone(), c.issues.len()));
            let owner = format!("option group `{}`", d.id);
            let known = drafts.contains_key(&d.product);
            if !c.check_ref(f, r.line, &owner, "configurable product", &d.product, known)
                || !c.define(
                    f,
                    r.line,
                    "option group",
                    &format!("{}/{}", d.product, d.id),
                )
            {
                continue;
            }
            if d.min > d.max {
                c.report(
                    f,
                    r.line,
                    format!("{owner}: min {} is above max {}", d.min, d.max),
                );
            }
            let Some(draft) = drafts.get_mut(&d.product) else {
                continue;
            };
            let group = draft.model.groups.len();
            let mut members = Vec::new();
            for o in &d.options {
                let line = f.source.line_of(o.span().start);
                let o = o.get_ref();
                let known = c.known.products.contains_key(&o.sku);
                if !c.check_ref(f, line, &owner, "SKU", &o.sku, known) {
                    continue;
                }
                if draft.option(&o.sku).is_some() {
                    let message = format!("`{}` is an option of `{}` twice", o.sku, d.product);
                    c.report(f, line, message);
                    continue;
                }
                if o.max == 0 || o.max > quotecast_configurator::MAX_OPTION_QUANTITY {
                    let message = format!(
                        "option `{}`: max {} is outside 1 to {}",
                        o.sku,
                        o.max,
                        quotecast_configurator::MAX_OPTION_QUANTITY
                    );
                    c.report(f, line, message);
                    continue;
                }
                members.push(draft.model.options.len());
                draft.option_origin.push((fi, line));
                draft.model.options.push(ConfigOption {
                    sku: o.sku.clone(),
                    group,
                    max_quantity: o.max,
                    numbers: o.numbers.clone(),
                    categories: o.categories.clone(),
                });
            }
            draft.model.groups.push(OptionGroup {
                id: d.id.clone(),
                name: d.name.clone(),
                min: d.min,
                max: d.max,
                options: members,
            });
        }
    }
}

type ByProduct<T> = HashMap<String, Vec<T>>;

/// Every configuration rule and default resolved against its product's
/// draft, per product.
fn rules_and_defaults(
    c: &mut Compiler<'_>,
    files: &[ParsedFile<'_>],
    drafts: &BTreeMap<String, Draft>,
    marks: &mut Vec<(String, usize)>,
) -> (ByProduct<ConfigRule>, ByProduct<ConfigDefault>) {
    let mut rules: ByProduct<ConfigRule> = HashMap::new();
    let mut defaults: ByProduct<ConfigDefault> = HashMap::new();
    for f in files {
        for r in &f.config_rules {
            let d = &r.value;
            marks.push((d.product.clone(), c.issues.len()));
            let kind = "configuration rule";
            let Some(mut resolver) = Resolver::open(c, f, r.line, kind, &d.id, &d.product, drafts)
            else {
                continue;
            };
            if let Some(kind) = resolver.kind(d) {
                rules
                    .entry(d.product.clone())
                    .or_default()
                    .push(ConfigRule {
                        id: d.id.clone(),
                        description: d.description.clone(),
                        kind,
                    });
            }
        }
        for r in &f.config_defaults {
            let d = &r.value;
            marks.push((d.product.clone(), c.issues.len()));
            let kind = "configuration default";
            let Some(mut resolver) = Resolver::open(c, f, r.line, kind, &d.id, &d.product, drafts)
            else {
                continue;
            };
            let (owner, draft) = (resolver.owner.clone(), resolver.draft);
            let (Some(option), Some(when)) =
                (resolver.option(&d.option), resolver.options(&d.when))
            else {
                continue;
            };
            let max = draft.model.options[option].max_quantity;
            if d.quantity > max {
                let message = format!(
                    "{owner}: quantity {} is above the option's max {max}",
                    d.quantity
                );
                c.report(f, r.line, message);
                continue;
            }
            defaults
                .entry(d.product.clone())
                .or_default()
                .push(ConfigDefault {
                    id: d.id.clone(),
                    when,
                    option,
                    quantity: d.quantity,
                });
        }
    }
    (rules, defaults)
}

/// The products a group, rule or default of reported a problem: the
/// problems reported between its mark and the next (or `issues`, the
/// count now).
fn broken_products(marks: &[(String, usize)], issues: usize) -> HashSet<&str> {
    marks
        .iter()
        .enumerate()
        .filter(|(k, (_, before))| {
            let after = marks.get(k + 1).map_or(issues, |m| m.1);
            after > *before
        })
        .map(|(_, (product, _))| product.as_str())
        .collect()
}

/// A model compiled, with the options no configuration can hold and the
/// constraints that rule each out.
type Solved = Result<(CompiledModel, Vec<(usize, Vec<ConstraintRef>)>), ConfigError>;

/// Compiles the models (as many at once as the machine has cores) to find
/// what only solving can: no valid configuration at all, and options no
/// valid configuration holds.
fn solve_all(models: &dyn ModelCompiler, drafts: &[Draft]) -> Vec<Solved> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(drafts.len());
    if workers <= 1 {
        return drafts.iter().map(|d| solve(models, &d.model)).collect();
    }
    let next = AtomicUsize::new(0);
    let mut solved: Vec<(usize, Solved)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let Some(draft) = drafts.get(k) else {
                            return done;
                        };
                        done.push((k, solve(models, &draft.model)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    solved.sort_by_key(|(k, _)| *k);
    solved.into_iter().map(|(_, s)| s).collect()
}

fn solve(models: &dyn ModelCompiler, model: &ConfigModel) -> Solved {
    let compiled = models.compile(model)?;
    // Explained (in full, however long) only when some option is out.
    let quick = compiled.configure(&[], false)?;
    let excluded = |state: &quotecast_configurator::Configuration| {
        state
            .options
            .iter()
            .filter_map(|o| match &o.status {
                OptionStatus::Excluded(why) => Some((o.option, why.rules.clone())),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    if excluded(&quick).is_empty() {
        return Ok((compiled, Vec::new()));
    }
    let explained = compiled.configure(&[], true)?;
    let out = excluded(&explained);
    Ok((compiled, out))
}

/// Reports what solving found; the compiled model when it is sound.
fn check(
    c: &mut Compiler<'_>,
    files: &[ParsedFile<'_>],
    draft: &Draft,
    solved: Solved,
) -> Option<CompiledModel> {
    let (fi, line) = draft.origin;
    let (compiled, excluded) = match solved {
        Ok(solved) => solved,
        Err(ConfigError::Unsatisfiable { rules, .. }) => {
            let names: Vec<String> = rules.iter().map(|r| format!("`{}`", r.id)).collect();
            let message = format!(
                "`{}` has no valid configuration: {} cannot all hold",
                draft.model.sku,
                names.join(", ")
            );
            c.report(&files[fi], line, message);
            return None;
        }
        Err(other) => {
            c.report(&files[fi], line, other.to_string());
            return None;
        }
    };
    for (option, rules) in &excluded {
        let (fi, line) = draft.option_origin[*option];
        let names: Vec<String> = rules.iter().map(|r| format!("`{}`", r.id)).collect();
        let message = format!(
            "option `{}` of `{}` can never be chosen: {} rule it out",
            draft.model.options[*option].sku,
            draft.model.sku,
            names.join(", ")
        );
        c.report(&files[fi], line, message);
    }
    excluded.is_empty().then_some(compiled)
}
