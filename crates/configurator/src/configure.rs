//! One click: the state of every option given the rep's choices, the
//! defaults that apply, the configuration they add up to, and, for a
//! contradictory selection, the conflict and how to repair it.
use rustc_hash::{FxHashMap, FxHashSet};

use crate::{
    Choice, ConfigError, Explanation, compile::CompiledModel, diagram::Values, explain::Goal,
};

/// How a click explains the options it excludes or adds.
#[derive(Debug, Default)]
pub struct Explaining<'a> {
    /// Explain at all.
    pub on: bool,
    /// Constraints (closest first) an explanation may search before it is
    /// deferred; `None`: no limit.
    pub budget: Option<usize>,
    /// New explanations this click may search for (those remembered from
    /// earlier clicks cost nothing); the rest are deferred. `None`: all.
    pub searches: Option<usize>,
    /// Options explained in full whatever the budget (asked for by name).
    pub in_full: &'a [usize],
    /// Explanations of the session's earlier clicks, reused while their
    /// choices are all still made, and kept for the next click.
    pub memory: Option<&'a mut ExplanationMemory>,
    /// Conjunction steps all of this click's searches together may take
    /// (a conflict's explanation and those asked for in full included);
    /// past them the rest are deferred. `None`: no limit. What a client
    /// can make the server work for one click.
    pub work: Option<u64>,
}

/// The budget the server gives each explanation of a click: the closest
/// 64 constraints (most explanations take one or two).
pub const CLICK_BUDGET: usize = 64;

/// Conjunction steps the server lets one click's explanations take in
/// all, whatever the click asks for: at most about 2 s and 200 MB on one
/// core of the reference machine (a model with a power budget over 500
/// options). Explanations asked for by SKU rarely need more (1 of 80 on
/// the 2,000-option benchmark model); those that do are deferred.
pub const CLICK_WORK: u64 = 8_000_000;

/// Choices beyond which a conflict's repairs are not searched pair by
/// pair (pairs cost the square of the choices).
const PAIR_REPAIRS_UP_TO: usize = 64;

/// New explanations the server searches for per click; a click that rules
/// out hundreds of options explains the rest over the next clicks, or at
/// once for the options asked for by name.
pub const CLICK_SEARCHES: usize = 16;

/// Explanations a session has worked out, by option and what they rule
/// out. An explanation stays true while its choices are all made, so
/// later clicks reuse it instead of searching again.
#[derive(Debug, Default)]
pub struct ExplanationMemory {
    known: FxHashMap<(usize, Values), Explanation>,
    /// Searched for within a click's budget and not found: searched again
    /// only when the budget has room after the others.
    failed: FxHashSet<(usize, Values)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionStatus {
    /// The rep chose this quantity.
    Chosen,
    /// Not chosen, but every valid configuration holds at least
    /// [`OptionState::quantities`]`[0]` units: added automatically.
    Added(Explanation),
    /// No valid configuration holds any unit of it.
    Excluded(Explanation),
    /// Still the rep's decision.
    Open,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionState {
    pub option: usize,
    pub status: OptionStatus,
    /// Quantities some complete valid configuration gives this option
    /// together with the choices, ascending.
    pub quantities: Vec<u32>,
    /// Units in the proposed configuration: the choice, the default, or
    /// the least quantity possible.
    pub quantity: u32,
    /// The default rule that proposed [`Self::quantity`], if one did.
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// A smallest set of choices and rules that cannot hold together.
    pub explanation: Explanation,
    /// Ways out: each is a set of choices whose removal makes the
    /// selection consistent: every single choice that does, else every
    /// pair that does, else the choices set aside.
    pub repairs: Vec<Vec<Choice>>,
    /// Choices left out (the later of conflicting choices) so the rest
    /// could be propagated.
    pub set_aside: Vec<Choice>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configuration {
    /// The choices can be completed to a valid configuration.
    pub valid: bool,
    /// The proposed configuration (choices, defaults, added items, nothing
    /// else) is valid as it stands: it can be ordered.
    pub complete: bool,
    /// Every option of the model, in model order.
    pub options: Vec<OptionState>,
    /// Groups whose minimum the proposed configuration does not reach.
    pub missing: Vec<usize>,
    pub conflict: Option<Conflict>,
}

/// Runs `search` with the steps `work` allows (all, when `None`), and
/// takes those it took from `work`.
fn spending<T>(work: &mut Option<u64>, search: impl FnOnce(&mut u64) -> T) -> T {
    let mut left = work.unwrap_or(u64::MAX);
    let found = search(&mut left);
    if let Some(work) = work {
        *work = left;
    }
    found
}

fn list(mut values: Values) -> Vec<u32> {
    let mut out = Vec::with_capacity(values.count_ones() as usize);
    while values != 0 {
        out.push(values.trailing_zeros());
        values &= values - 1;
    }
    out
}

impl CompiledModel {
    /// The choice of `quantity` units of the option with this SKU.
    pub fn choice(&self, sku: &str, quantity: u32) -> Result<Choice, ConfigError> {
        let option = self
            .model
            .option_index(sku)
            .ok_or_else(|| ConfigError::UnknownOption {
                product: self.model.sku.clone(),
                sku: sku.to_owned(),
            })?;
        let max = self.model.options[option].max_quantity;
        if quantity > max {
            return Err(ConfigError::QuantityAboveMax {
                sku: sku.to_owned(),
                quantity,
                max,
            });
        }
        Ok(Choice { option, quantity })
    }

    /// The state after `choices` (in the order the rep made them).
    /// `explain`: also say why each excluded or added option is so, in
    /// full however long that takes (a click of a session that must stay
    /// interactive uses [`Self::configure_with`]).
    pub fn configure(
        &self,
        choices: &[Choice],
        explain: bool,
    ) -> Result<Configuration, ConfigError> {
        self.configure_with(
            choices,
            Explaining {
                on: explain,
                ..Explaining::default()
            },
        )
    }

    /// The state after `choices`, explained as `explaining` says.
    pub fn configure_with(
        &self,
        choices: &[Choice],
        mut explaining: Explaining<'_>,
    ) -> Result<Configuration, ConfigError> {
        let mut seen = vec![false; self.model.options.len()];
        for c in choices {
            let option =
                self.model
                    .options
                    .get(c.option)
                    .ok_or_else(|| ConfigError::UnknownOption {
                        product: self.model.sku.clone(),
                        sku: format!("#{}", c.option),
                    })?;
            if c.quantity > option.max_quantity {
                return Err(ConfigError::QuantityAboveMax {
                    sku: option.sku.clone(),
                    quantity: c.quantity,
                    max: option.max_quantity,
                });
            }
            if std::mem::replace(&mut seen[c.option], true) {
                return Err(ConfigError::DuplicateChoice {
                    sku: option.sku.clone(),
                });
            }
        }
        // The valid domains say whether the choices are consistent; only
        // a conflict costs more passes.
        let (conflict, kept, values) = match self.diagram.values(&self.layout, &self.fixed(choices))
        {
            Some(values) => (None, choices.to_vec(), values),
            None => {
                let conflict = self.conflict(choices, &mut explaining.work);
                let kept: Vec<Choice> = choices
                    .iter()
                    .filter(|x| !conflict.set_aside.contains(x))
                    .copied()
                    .collect();
                let values = self
                    .diagram
                    .values(&self.layout, &self.fixed(&kept))
                    .unwrap_or_default();
                (Some(conflict), kept, values)
            }
        };
        let chosen = |o: usize| kept.iter().find(|c| c.option == o).map(|c| c.quantity);
        // Options the selection narrows, where explanations look first.
        let narrowed: Vec<bool> = (0..self.model.options.len())
            .map(|o| values.get(o).is_some_and(|&v| v != self.layout.all(o)))
            .collect();
        // Excluded and added options, explained once every state is known.
        let mut pending: Vec<Goal> = Vec::new();
        let mut options: Vec<OptionState> = (0..self.model.options.len())
            .map(|o| {
                let v = values.get(o).copied().unwrap_or(0);
                let least = v.trailing_zeros();
                let status = if chosen(o).is_some() {
                    OptionStatus::Chosen
                } else if v == 1 && self.model.options[o].max_quantity > 0 {
                    let why = Goal {
                        option: o,
                        values: !1,
                    };
                    pending.push(why);
                    OptionStatus::Excluded(Explanation::default())
                } else if least > 0 && least < Values::BITS {
                    let why = Goal {
                        option: o,
                        values: (1 << least) - 1,
                    };
                    pending.push(why);
                    OptionStatus::Added(Explanation::default())
                } else {
                    OptionStatus::Open
                };
                OptionState {
                    option: o,
                    status,
                    quantities: list(v),
                    quantity: chosen(o).unwrap_or(least.min(Values::BITS - 1)),
                    default: None,
                }
            })
            .collect();
        if explaining.on {
            // Searches go first to options this session has not yet
            // failed to explain, so a click's budget is not spent on the
            // same long chains every time.
            let failed = |goal: &Goal| {
                explaining
                    .memory
                    .as_ref()
                    .is_some_and(|m| m.failed.contains(&(goal.option, goal.values)))
            };
            pending.sort_by_key(|goal| (failed(goal), goal.option));
            for goal in pending {
                let why = self.why(&mut explaining, &kept, goal, &narrowed);
                if let OptionStatus::Excluded(e) | OptionStatus::Added(e) =
                    &mut options[goal.option].status
                {
                    *e = why;
                }
            }
        }
        self.apply_defaults(&kept, &values, &mut options);
        let proposal: Vec<Choice> = options
            .iter()
            .map(|s| Choice {
                option: s.option,
                quantity: s.quantity,
            })
            .collect();
        // Every option has a quantity: one walk down the diagram.
        let complete = conflict.is_none() && self.diagram.accepts(&self.fixed(&proposal));
        let missing = self
            .model
            .groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.options.iter().map(|&o| options[o].quantity).sum::<u32>() < g.min)
            .map(|(i, _)| i)
            .collect();
        Ok(Configuration {
            valid: conflict.is_none(),
            complete,
            options,
            missing,
            conflict,
        })
    }

    fn why(
        &self,
        explaining: &mut Explaining<'_>,
        choices: &[Choice],
        goal: Goal,
        narrowed: &[bool],
    ) -> Explanation {
        if !explaining.on {
            return Explanation::default();
        }
        let key = (goal.option, goal.values);
        if let Some(known) = explaining.memory.as_ref().and_then(|m| m.known.get(&key)) {
            // Still a reason: its choices are all still made.
            if known.choices.iter().all(|c| choices.contains(c)) {
                return known.clone();
            }
        }
        let budget = if explaining.in_full.contains(&goal.option) {
            None
        } else {
            explaining.budget
        };
        if budget.is_some() {
            // This click's searches are spent: later clicks will find it.
            match &mut explaining.searches {
                Some(0) => {
                    return Explanation {
                        deferred: true,
                        ..Explanation::default()
                    };
                }
                Some(left) => *left -= 1,
                None => {}
            }
        }
        let why = spending(&mut explaining.work, |work| {
            self.explain(choices, Some(goal), Some(narrowed), budget, work)
        });
        if let Some(memory) = explaining.memory.as_deref_mut() {
            if why.deferred {
                memory.failed.insert(key);
            } else {
                memory.failed.remove(&key);
                memory.known.insert(key, why.clone());
            }
        }
        why
    }

    /// What conflicts among choices that cannot be completed, how to
    /// repair it, and which choices to set aside meanwhile.
    /// `work`: as [`Explaining::work`], less what the explanation took.
    fn conflict(&self, choices: &[Choice], work: &mut Option<u64>) -> Conflict {
        let explanation = spending(work, |work| self.explain(choices, None, None, None, work));
        // Smallest repairs: single choices to drop, else pairs.
        let fixes = |drop: &[Choice]| {
            let rest: Vec<Choice> = choices
                .iter()
                .filter(|x| !drop.contains(x))
                .copied()
                .collect();
            !self.rules_out(&rest, None)
        };
        let mut repairs: Vec<Vec<Choice>> = choices
            .iter()
            .filter(|c| fixes(&[**c]))
            .map(|c| vec![*c])
            .collect();
        if repairs.is_empty() && choices.len() <= PAIR_REPAIRS_UP_TO {
            for (i, a) in choices.iter().enumerate() {
                for b in &choices[i + 1..] {
                    if fixes(&[*a, *b]) {
                        repairs.push(vec![*a, *b]);
                    }
                }
            }
        }
        // Keep choices in the order made, each only if it fits with those
        // kept before it.
        let mut kept: Vec<Choice> = Vec::new();
        let mut set_aside = Vec::new();
        for c in choices {
            kept.push(*c);
            if self.rules_out(&kept, None) {
                kept.pop();
                set_aside.push(*c);
            }
        }
        if repairs.is_empty() {
            repairs.push(set_aside.clone());
        }
        Conflict {
            explanation,
            repairs,
            set_aside,
        }
    }

    /// Applies each default whose conditions hold, in model order, when
    /// its option's group holds no chosen unit, it is still open at that
    /// quantity, and it fits with the choices and the defaults before it.
    /// Then settles the added items of the configuration so proposed.
    fn apply_defaults(&self, choices: &[Choice], values: &[Values], options: &mut [OptionState]) {
        let mut with_defaults = choices.to_vec();
        for default in &self.model.defaults {
            let target = default.option;
            let group = self.model.options[target].group;
            let group_chosen = self.model.groups[group]
                .options
                .iter()
                .any(|&o| choices.iter().any(|c| c.option == o && c.quantity > 0));
            let conditions = default.when.iter().all(|&o| options[o].quantity > 0);
            let offered = values
                .get(target)
                .is_some_and(|v| v & (1 << default.quantity) != 0);
            if group_chosen
                || !conditions
                || !offered
                || options[target].status != OptionStatus::Open
            {
                continue;
            }
            let trial = Choice {
                option: target,
                quantity: default.quantity,
            };
            with_defaults.push(trial);
            if self.rules_out(&with_defaults, None) {
                with_defaults.pop();
                continue;
            }
            options[target].quantity = default.quantity;
            options[target].default = Some(default.id.clone());
        }
        if with_defaults.len() == choices.len() {
            return;
        }
        // Items the defaults bring in (a default rack kit adds rails).
        if let Some(after) = self
            .diagram
            .values(&self.layout, &self.fixed(&with_defaults))
        {
            for state in options.iter_mut() {
                if state.status == OptionStatus::Open && state.default.is_none() {
                    state.quantity = after[state.option].trailing_zeros().min(Values::BITS - 1);
                }
            }
        }
    }
}
