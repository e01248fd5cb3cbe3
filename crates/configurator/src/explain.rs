//! Minimal explanations: which of the rep's choices and which rules, taken
//! together, rule something out; dropping any one of them would let it in.
//!
//! Choices are minimised first, by deletion against the whole compiled
//! diagram (one linear pass per test); then rules, among the constraints
//! with the kept choices' bits fixed, in order of closeness to the options
//! involved ([`crate::minimal`]). Every element of the result is necessary.
use biodivine_lib_bdd::{Bdd, BddVariable};

use crate::{
    Choice, Explanation,
    compile::CompiledModel,
    diagram::Values,
    minimal::{conflicts, minimal_rules},
};

/// The largest constraint diagram a click's budgeted search uses: not one
/// whose own diagram is larger (a power budget over the whole product),
/// which would cost more than the click. An explanation that needs it is
/// deferred.
pub(crate) const BUDGET_NODES: usize = 4096;

/// The budgets an explanation without one tries before searching every
/// constraint.
const ESCALATION: [usize; 2] = [64, 512];

/// Something that must not happen: `option` taking one of `values`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Goal {
    pub option: usize,
    pub values: Values,
}

impl CompiledModel {
    pub(crate) fn fixed(&self, choices: &[Choice]) -> Vec<Option<bool>> {
        let mut fixed = vec![None; self.layout.variables()];
        for c in choices {
            self.layout.fix(&mut fixed, c.option, c.quantity);
        }
        fixed
    }

    /// Whether the choices, with the goal's option at any of its values,
    /// have no valid completion.
    pub(crate) fn rules_out(&self, choices: &[Choice], goal: Option<Goal>) -> bool {
        let mut fixed = self.fixed(choices);
        match goal {
            None => !self.diagram.consistent(&fixed),
            Some(goal) => (0..=self.layout.max[goal.option])
                .filter(|q| goal.values & (1 << q) != 0)
                .all(|q| {
                    self.layout.fix(&mut fixed, goal.option, q);
                    !self.diagram.consistent(&fixed)
                }),
        }
    }

    /// The bits the choices fix.
    fn literals(&self, choices: &[Choice]) -> Vec<(BddVariable, bool)> {
        let mut literals = Vec::new();
        for c in choices {
            for (k, (var, _)) in self.layout.bits_of(c.option).enumerate() {
                literals.push((var, self.layout.bit(c.option, c.quantity, k)));
            }
        }
        literals
    }

    fn cube(&self, choices: &[Choice]) -> Bdd {
        self.literals(choices)
            .iter()
            .fold(self.vars.mk_true(), |all, &(var, value)| {
                all.and(&self.vars.mk_literal(var, value))
            })
    }

    fn goal_bdd(&self, goal: Goal) -> Bdd {
        (0..=self.layout.max[goal.option])
            .filter(|q| goal.values & (1 << q) != 0)
            .fold(self.vars.mk_false(), |any, q| {
                any.or(&self.cube(&[Choice {
                    option: goal.option,
                    quantity: q,
                }]))
            })
    }

    /// Constraints ordered by closeness to `seeds` in the graph where a
    /// constraint links the options it mentions. With `narrowed` (options
    /// the selection has fixed, excluded, added or limited), first those
    /// reached through narrowed options only: a chain of consequences runs
    /// through options it narrowed, and the whole graph is reached within
    /// a few steps.
    /// `limit`: only the closest this many, of those a budgeted search
    /// may use ([`BUDGET_NODES`]; the others neither count nor
    /// link options).
    fn by_closeness(
        &self,
        seeds: &[usize],
        narrowed: Option<&[bool]>,
        limit: Option<usize>,
    ) -> Vec<usize> {
        let mut taken = match limit {
            Some(_) => self.over_budget.clone(),
            None => vec![false; self.constraints.len()],
        };
        let limit = limit.unwrap_or(usize::MAX);
        let mut order = Vec::new();
        if let Some(narrowed) = narrowed {
            self.breadth_first(seeds, |o| narrowed[o], &mut taken, &mut order, limit);
        }
        self.breadth_first(seeds, |_| true, &mut taken, &mut order, limit);
        if order.len() < limit {
            // Constraints over no option at all come last.
            order.extend((0..self.constraints.len()).filter(|&k| !taken[k]));
        }
        order.truncate(limit);
        order
    }

    /// Appends to `order` the constraints not yet `taken` that touch the
    /// seeds, then those that touch options they reach through options
    /// `through` allows, level by level, until `order` holds `limit`.
    fn breadth_first(
        &self,
        seeds: &[usize],
        through: impl Fn(usize) -> bool,
        taken: &mut [bool],
        order: &mut Vec<usize>,
        limit: usize,
    ) {
        let mut option_seen = vec![false; self.model.options.len()];
        let mut frontier: Vec<usize> = Vec::new();
        for &o in seeds {
            if !option_seen[o] {
                option_seen[o] = true;
                frontier.push(o);
            }
        }
        while !frontier.is_empty() && order.len() < limit {
            let mut next = Vec::new();
            let start = order.len();
            for o in frontier {
                for &k in &self.touching[o] {
                    if taken[k] {
                        continue;
                    }
                    taken[k] = true;
                    order.push(k);
                    for &p in &self.constraints[k].scope {
                        if !option_seen[p] && through(p) {
                            option_seen[p] = true;
                            next.push(p);
                        }
                    }
                }
            }
            // Within one distance, small constraints first: cheaper to
            // conjoin, and a conflict among them is the likelier story.
            order[start..].sort_by_key(|&k| self.constraints[k].bdd.size());
            frontier = next;
        }
    }

    /// A minimal explanation of why `choices` rule out `goal` (or, without
    /// a goal, conflict among themselves). The caller has checked that they
    /// do. `narrowed`: the options the choices narrow, when known.
    /// `budget`: give up (a deferred explanation) when the closest this
    /// many constraints do not explain it. Without a budget, the closest
    /// [`ESCALATION`] constraints are searched first, then all: a search
    /// costs about the size of what it searches, and most explanations
    /// lie close by. `work`: the conjunction steps the search may still
    /// take (less those it took); past them it is deferred.
    pub(crate) fn explain(
        &self,
        choices: &[Choice],
        goal: Option<Goal>,
        narrowed: Option<&[bool]>,
        budget: Option<usize>,
        work: &mut u64,
    ) -> Explanation {
        let mut kept = None;
        if budget.is_none() && goal.is_some() {
            for limit in ESCALATION {
                let why =
                    self.explain_within(choices, goal, narrowed, Some(limit), &mut kept, work);
                if !why.deferred {
                    return why;
                }
            }
        }
        self.explain_within(choices, goal, narrowed, budget, &mut kept, work)
    }

    /// [`Self::explain`] within one budget; `kept`: the choices that
    /// explain it, once worked out.
    fn explain_within(
        &self,
        choices: &[Choice],
        goal: Option<Goal>,
        narrowed: Option<&[bool]>,
        budget: Option<usize>,
        kept: &mut Option<Vec<Choice>>,
        work: &mut u64,
    ) -> Explanation {
        let deferred = Explanation {
            deferred: true,
            ..Explanation::default()
        };
        if *work == 0 {
            return deferred;
        }
        let goal_option = goal.map(|g| g.option);
        if let (Some(limit), Some(goal)) = (budget, goal) {
            // First the cheap test: with every choice made, do the closest
            // constraints rule it out at all?
            let fixed = self.fixed(choices);
            let goal = self.goal_bdd(goal);
            let seeds: Vec<usize> = choices
                .iter()
                .map(|c| c.option)
                .chain(goal_option)
                .collect();
            let closest: Vec<&Bdd> = self
                .by_closeness(&seeds, narrowed, Some(limit))
                .into_iter()
                .map(|k| &self.constraints[k].bdd)
                .collect();
            if conflicts(&[&self.domain, &goal], &closest, &fixed, work) != Some(true) {
                return deferred;
            }
        }
        let kept = kept
            .get_or_insert_with(|| self.fewest_choices(choices, goal))
            .clone();
        // Constraints with the kept choices' bits fixed: smaller, and
        // those the choices already satisfy become `true`.
        let fixed = self.fixed(&kept);
        let goal_bdd = goal.map(|g| self.goal_bdd(g));
        let base: Vec<&Bdd> = std::iter::once(&self.domain)
            .chain(goal_bdd.as_ref())
            .collect();
        let seeds = kept
            .iter()
            .map(|c| c.option)
            .chain(goal_option)
            .collect::<Vec<_>>();
        let rules = minimal_rules(
            |k| &self.constraints[k].bdd,
            &base,
            &fixed,
            self.by_closeness(&seeds, narrowed, budget),
            budget,
            work,
        );
        match rules {
            Some(rules) => Explanation {
                choices: kept,
                rules: rules
                    .into_iter()
                    .map(|k| self.constraints[k].name.clone())
                    .collect(),
                deferred: false,
            },
            None => deferred,
        }
    }

    /// A minimal subset of `choices` that still rules out `goal`: none
    /// when the rules alone do, one choice alone when one does (the latest first: what a click just
    /// ruled out, its choice usually explains), else by deletion, earliest
    /// first.
    fn fewest_choices(&self, choices: &[Choice], goal: Option<Goal>) -> Vec<Choice> {
        if goal.is_some() {
            if self.rules_out(&[], goal) {
                return Vec::new();
            }
            if let Some(c) = choices.iter().rev().find(|c| self.rules_out(&[**c], goal)) {
                return vec![*c];
            }
        }
        let mut kept = choices.to_vec();
        let mut j = 0;
        while j < kept.len() {
            let mut trial = kept.clone();
            trial.remove(j);
            if self.rules_out(&trial, goal) {
                kept = trial;
            } else {
                j += 1;
            }
        }
        kept
    }
}
