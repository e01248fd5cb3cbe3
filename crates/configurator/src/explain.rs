//! Minimal explanations: which of the rep's choices and which rules, taken
//! together, rule something out; dropping any one of them would let it in.
//!
//! Choices are minimised first, by deletion against the whole compiled
//! diagram (one linear pass per test); then rules, by growing a set in
//! order of closeness to the options involved until it conflicts and
//! shrinking it by deletion. Every element of the result is necessary.
use biodivine_lib_bdd::Bdd;

use crate::{
    Choice, Explanation,
    compile::{CompiledModel, Constraint},
    diagram::Values,
};

/// Indices of `candidates` (in `constraints`) that, with `base`, cannot all
/// hold, none of them superfluous. `candidates` in order of preference;
/// together with `base` they must conflict.
///
/// Insertion-based: conjoin candidates in order until the conjunction
/// fails; the one that failed it is necessary. Start again from the base
/// and the necessary ones over the candidates before it, until the
/// necessary ones alone fail. About (size of the result) × (prefix length)
/// conjunctions, rather than the square of the prefix that deletion costs.
pub(crate) fn minimal_rules(
    constraints: &[Constraint],
    base: Bdd,
    candidates: Vec<usize>,
) -> Vec<usize> {
    // Most often one rule alone does it.
    if let Some(&k) = candidates
        .iter()
        .take(32)
        .find(|&&k| base.and(&constraints[k].bdd).is_false())
    {
        return vec![k];
    }
    let mut necessary: Vec<usize> = Vec::new();
    let mut pool = candidates;
    loop {
        let mut acc = necessary
            .iter()
            .fold(base.clone(), |acc, &k| acc.and(&constraints[k].bdd));
        if acc.is_false() {
            break;
        }
        let mut failed_at = None;
        for (j, &k) in pool.iter().enumerate() {
            acc = acc.and(&constraints[k].bdd);
            if acc.is_false() {
                failed_at = Some(j);
                break;
            }
        }
        // The candidates all together conflict, so one always fails it;
        // without one (a caller's mistake) return what is known.
        let Some(j) = failed_at else { break };
        necessary.push(pool[j]);
        pool.truncate(j);
    }
    necessary.sort_unstable();
    necessary
}

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

    fn cube(&self, choices: &[Choice]) -> Bdd {
        let mut literals = Vec::new();
        for c in choices {
            for (k, (var, _)) in self.layout.bits_of(c.option).enumerate() {
                literals.push((var, self.layout.bit(c.option, c.quantity, k)));
            }
        }
        literals
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
    /// constraint links the options it mentions.
    fn by_closeness(&self, seeds: impl IntoIterator<Item = usize>) -> Vec<usize> {
        let mut option_seen = vec![false; self.model.options.len()];
        let mut taken = vec![false; self.constraints.len()];
        let mut frontier: Vec<usize> = Vec::new();
        for o in seeds {
            if !option_seen[o] {
                option_seen[o] = true;
                frontier.push(o);
            }
        }
        let mut order = Vec::with_capacity(self.constraints.len());
        while !frontier.is_empty() {
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
                        if !option_seen[p] {
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
        // Constraints over no option at all come last.
        order.extend((0..self.constraints.len()).filter(|&k| !taken[k]));
        order
    }

    /// A minimal explanation of why `choices` rule out `goal` (or, without
    /// a goal, conflict among themselves). The caller has checked that they
    /// do.
    pub(crate) fn explain(&self, choices: &[Choice], goal: Option<Goal>) -> Explanation {
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
        let mut base = self.cube(&kept).and(&self.domain);
        if let Some(goal) = goal {
            base = base.and(&self.goal_bdd(goal));
        }
        let seeds = kept
            .iter()
            .map(|c| c.option)
            .chain(goal.map(|g| g.option))
            .collect::<Vec<_>>();
        let rules = minimal_rules(&self.constraints, base, self.by_closeness(seeds));
        Explanation {
            choices: kept,
            rules: rules
                .into_iter()
                .map(|k| self.constraints[k].name.clone())
                .collect(),
        }
    }
}
