//! From a model to constraints (one BDD each, for explanations) and their
//! conjunction (one BDD, flattened for the per-click passes).
use biodivine_lib_bdd::{Bdd, BddVariableSet};
use quotecast_model::{ConfigModel, ConfigRuleKind};

use crate::{
    ConfigError,
    conjoin::{FALSE, TRUE, Table},
    diagram::Diagram,
    layout::Layout,
    linear::{at_least, at_most},
    order::variable_order,
};

/// A constraint the engine enforces, as an explanation names it: a rule of
/// the model or a group's cardinality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConstraintRef {
    pub id: String,
    pub description: String,
}

pub(crate) struct Constraint {
    pub name: ConstraintRef,
    pub bdd: Bdd,
    /// Options the constraint mentions.
    pub scope: Vec<usize>,
}

/// A model compiled for configuration: build once when rules load, then
/// answer any number of clicks.
pub struct CompiledModel {
    pub(crate) model: ConfigModel,
    pub(crate) layout: Layout,
    pub(crate) vars: BddVariableSet,
    pub(crate) constraints: Vec<Constraint>,
    /// Every option within its largest quantity.
    pub(crate) domain: Bdd,
    pub(crate) diagram: Diagram,
    /// Per option, the constraints that mention it.
    pub(crate) touching: Vec<Vec<usize>>,
    /// Per constraint, whether it is too large for a click's budgeted
    /// explanation ([`crate::explain::BUDGET_NODES`]).
    pub(crate) over_budget: Vec<bool>,
}

impl std::fmt::Debug for CompiledModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledModel")
            .field("sku", &self.model.sku)
            .field("options", &self.model.options.len())
            .field("constraints", &self.constraints.len())
            .field("nodes", &self.diagram.len())
            .finish()
    }
}

struct Build<'a> {
    model: &'a ConfigModel,
    layout: &'a Layout,
    vars: &'a BddVariableSet,
}

impl Build<'_> {
    /// At least one unit of `option`.
    fn chosen(&self, option: usize) -> Bdd {
        self.layout
            .bits_of(option)
            .fold(self.vars.mk_false(), |any, (var, _)| {
                any.or(&self.vars.mk_var(var))
            })
    }

    fn not_both(&self, a: usize, b: usize) -> Bdd {
        self.chosen(a).and(&self.chosen(b)).not()
    }

    fn all<I: IntoIterator<Item = Bdd>>(&self, parts: I) -> Bdd {
        parts
            .into_iter()
            .fold(self.vars.mk_true(), |all, part| all.and(&part))
    }

    fn rule(&self, kind: &ConfigRuleKind) -> Bdd {
        let layout = self.layout;
        match kind {
            ConfigRuleKind::Requires { option, any_of } => {
                let any = any_of
                    .iter()
                    .fold(self.vars.mk_false(), |any, &o| any.or(&self.chosen(o)));
                self.chosen(*option).imp(&any)
            }
            ConfigRuleKind::Excludes { option, options } => {
                self.all(options.iter().map(|&o| self.not_both(*option, o)))
            }
            ConfigRuleKind::PerUnit {
                option,
                needs,
                quantity,
            } => {
                let terms = [(*option, i64::from(*quantity)), (*needs, -1)];
                at_most(self.vars, layout, &terms, 0)
            }
            ConfigRuleKind::Adds {
                when,
                add,
                quantity,
            } => {
                let enough = at_least(self.vars, layout, &[(*add, 1)], i64::from(*quantity));
                self.chosen(*when).imp(&enough)
            }
            ConfigRuleKind::Resource { consumes, provides } => {
                let terms = resource_terms(self.model, consumes, provides);
                let base = self.model.provides.get(provides).copied().unwrap_or(0);
                at_most(self.vars, layout, &terms, base)
            }
            ConfigRuleKind::SameValue { group, attribute } => {
                let members = &self.model.groups[*group].options;
                let value = |o: usize| self.model.options[o].categories.get(attribute);
                let mut parts = Vec::new();
                for (i, &a) in members.iter().enumerate() {
                    for &b in &members[i + 1..] {
                        if value(a) != value(b) {
                            parts.push(self.not_both(a, b));
                        }
                    }
                }
                self.all(parts)
            }
            ConfigRuleKind::Compatible { left, right, pairs } => {
                let lefts = &self.model.groups[*left].options;
                let rights = &self.model.groups[*right].options;
                let mut parts = Vec::new();
                for &a in lefts {
                    for &b in rights {
                        if !pairs.contains(&(a, b)) {
                            parts.push(self.not_both(a, b));
                        }
                    }
                }
                self.all(parts)
            }
        }
    }
}

/// (option, net use) of a resource: what each option consumes less what
/// it provides, options with none left out.
fn resource_terms(model: &ConfigModel, consumes: &str, provides: &str) -> Vec<(usize, i64)> {
    let mut terms = Vec::new();
    for (index, option) in model.options.iter().enumerate() {
        let used = option.numbers.get(consumes).copied().unwrap_or(0);
        let given = option.numbers.get(provides).copied().unwrap_or(0);
        if used != given {
            terms.push((index, used - given));
        }
    }
    terms
}

/// The options a rule mentions.
fn scope(model: &ConfigModel, kind: &ConfigRuleKind) -> Vec<usize> {
    match kind {
        ConfigRuleKind::Requires { option, any_of } => std::iter::once(*option)
            .chain(any_of.iter().copied())
            .collect(),
        ConfigRuleKind::Excludes { option, options } => std::iter::once(*option)
            .chain(options.iter().copied())
            .collect(),
        ConfigRuleKind::PerUnit { option, needs, .. } => vec![*option, *needs],
        ConfigRuleKind::Adds { when, add, .. } => vec![*when, *add],
        ConfigRuleKind::Resource { consumes, provides } => {
            resource_terms(model, consumes, provides)
                .into_iter()
                .map(|(o, _)| o)
                .collect()
        }
        ConfigRuleKind::SameValue { group, .. } => model.groups[*group].options.clone(),
        ConfigRuleKind::Compatible { left, right, .. } => {
            let mut scope = model.groups[*left].options.clone();
            scope.extend(&model.groups[*right].options);
            scope
        }
    }
}

/// The options each constraint mentions: the groups', then the rules'.
fn scopes(model: &ConfigModel) -> Vec<Vec<usize>> {
    model
        .groups
        .iter()
        .map(|g| g.options.clone())
        .chain(model.rules.iter().map(|r| scope(model, &r.kind)))
        .collect()
}

/// The names explanations give the constraints, in [`scopes`]' order.
fn constraint_names(model: &ConfigModel) -> Vec<ConstraintRef> {
    let groups = model.groups.iter().map(|group| {
        let description = if group.min == group.max {
            format!("{}: exactly {}", group.name, group.min)
        } else {
            format!("{}: {} to {}", group.name, group.min, group.max)
        };
        ConstraintRef {
            id: format!("group:{}", group.id),
            description,
        }
    });
    let rules = model.rules.iter().map(|rule| ConstraintRef {
        id: rule.id.clone(),
        description: rule.description.clone(),
    });
    groups.chain(rules).collect()
}

/// Refuses options allowing more units than a block can hold.
pub(crate) fn within_units(model: &ConfigModel) -> Result<(), ConfigError> {
    match model
        .options
        .iter()
        .find(|o| o.max_quantity > crate::MAX_OPTION_QUANTITY)
    {
        Some(option) => Err(ConfigError::TooManyUnits {
            sku: option.sku.clone(),
            max: option.max_quantity,
        }),
        None => Ok(()),
    }
}

/// The BDD variables of `layout`, refusing models too large to compile.
pub(crate) fn variables(
    model: &ConfigModel,
    layout: &Layout,
) -> Result<BddVariableSet, ConfigError> {
    let count = u16::try_from(layout.variables()).map_err(|_| ConfigError::TooLarge {
        sku: model.sku.clone(),
        bits: layout.variables(),
    })?;
    Ok(BddVariableSet::new_anonymous(count))
}

/// Compiles `model`. Fails when no configuration satisfies it at all,
/// naming a smallest set of constraints that cannot hold together.
pub fn compile(model: ConfigModel) -> Result<CompiledModel, ConfigError> {
    within_units(&model)?;
    let scopes = scopes(&model);
    let layout = Layout::new(&model, variable_order(model.options.len(), &scopes));
    let vars = variables(&model, &layout)?;
    let build = Build {
        model: &model,
        layout: &layout,
        vars: &vars,
    };
    // Quantities within their maxima: not a rule anyone can change, so a
    // premise of every explanation rather than part of one.
    let mut domain_parts = Vec::new();
    for (index, option) in model.options.iter().enumerate() {
        // Only when the bits can write more than the maximum.
        if !(option.max_quantity + 1).is_power_of_two() {
            domain_parts.push(at_most(
                &vars,
                &layout,
                &[(index, 1)],
                i64::from(option.max_quantity),
            ));
        }
    }
    let domain = domain_parts
        .iter()
        .fold(vars.mk_true(), |all, part| all.and(part));
    let mut bdds = Vec::new();
    for group in &model.groups {
        let terms: Vec<(usize, i64)> = group.options.iter().map(|&o| (o, 1)).collect();
        bdds.push(
            at_most(&vars, &layout, &terms, i64::from(group.max)).and(&at_least(
                &vars,
                &layout,
                &terms,
                i64::from(group.min),
            )),
        );
    }
    bdds.extend(model.rules.iter().map(|rule| build.rule(&rule.kind)));
    let mut table = Table::new(layout.variables());
    match conjoin_all(&mut table, &domain_parts, &bdds) {
        Ok(root) => {
            let diagram = Diagram::new(&table, root, &layout);
            Ok(CompiledModel::assemble(
                model, layout, vars, bdds, domain, diagram,
            ))
        }
        Err(conjoined) => {
            let mut unlimited = u64::MAX;
            let core = crate::minimal::minimal_rules(
                |k| &bdds[k],
                &[&domain],
                &[],
                conjoined.clone(),
                None,
                &mut unlimited,
            )
            .unwrap_or(conjoined);
            let names = constraint_names(&model);
            Err(ConfigError::Unsatisfiable {
                sku: model.sku.clone(),
                rules: core.into_iter().map(|k| names[k].clone()).collect(),
            })
        }
    }
}

impl CompiledModel {
    /// A compiled model from its parts: `bdds` are the constraints' in
    /// [`scopes`]' order.
    pub(crate) fn assemble(
        model: ConfigModel,
        layout: Layout,
        vars: BddVariableSet,
        bdds: Vec<Bdd>,
        domain: Bdd,
        diagram: Diagram,
    ) -> Self {
        let constraints: Vec<Constraint> = constraint_names(&model)
            .into_iter()
            .zip(scopes(&model))
            .zip(bdds)
            .map(|((name, scope), bdd)| Constraint { name, bdd, scope })
            .collect();
        let mut touching = vec![Vec::new(); model.options.len()];
        for (k, constraint) in constraints.iter().enumerate() {
            for &o in &constraint.scope {
                if touching[o].last() != Some(&k) {
                    touching[o].push(k);
                }
            }
        }
        let over_budget = constraints
            .iter()
            .map(|c| c.bdd.size() > crate::explain::BUDGET_NODES)
            .collect();
        CompiledModel {
            touching,
            over_budget,
            model,
            layout,
            vars,
            constraints,
            domain,
            diagram,
        }
    }
}

/// Conjoins the domain and every constraint bottom-up (deepest top
/// variable first) over `table`, giving the root of the conjunction. When
/// they cannot all hold, the constraints conjoined up to the
/// contradiction, in that order.
fn conjoin_all(table: &mut Table, domain: &[Bdd], constraints: &[Bdd]) -> Result<u32, Vec<usize>> {
    // (top variable, constraint or None for a domain part, root)
    let mut parts: Vec<(u32, Option<usize>, u32)> = domain
        .iter()
        .map(|bdd| (None, bdd))
        .chain(
            constraints
                .iter()
                .enumerate()
                .map(|(k, bdd)| (Some(k), bdd)),
        )
        .map(|(k, bdd)| {
            let root = table.import(bdd);
            (table.var(root), k, root)
        })
        .collect();
    parts.sort_by_key(|&(top, k, _)| (std::cmp::Reverse(top), k));
    let mut all = TRUE;
    for (done, &(_, _, root)) in parts.iter().enumerate() {
        all = table.and(all, root);
        if all == FALSE {
            return Err(parts[..=done].iter().filter_map(|p| p.1).collect());
        }
    }
    Ok(all)
}

impl CompiledModel {
    pub fn model(&self) -> &ConfigModel {
        &self.model
    }

    /// Nodes of the compiled diagram (its size).
    pub fn size(&self) -> usize {
        self.diagram.len()
    }
}
