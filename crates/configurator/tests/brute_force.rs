//! The configurator against brute-force enumeration on generated small
//! models: offered quantities are exactly those of some valid completion
//! (sound and complete), and every explanation is minimal.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use quotecast_configurator::{
    Choice, CompiledModel, ConfigError, Explaining, Explanation, ExplanationMemory, OptionStatus,
    compile,
};
use quotecast_model::{ConfigModel, ConfigOption, ConfigRule, ConfigRuleKind, OptionGroup};

/// Whether the rule or implicit constraint named `id` holds for `q`.
fn holds(model: &ConfigModel, id: &str, q: &[u32]) -> bool {
    if let Some(group) = id.strip_prefix("group:") {
        let g = model.groups.iter().find(|g| g.id == group).unwrap();
        let total: u32 = g.options.iter().map(|&o| q[o]).sum();
        return g.min <= total && total <= g.max;
    }
    if let Some(sku) = id.strip_suffix(":max") {
        let o = model.option_index(sku).unwrap();
        return q[o] <= model.options[o].max_quantity;
    }
    let rule = model.rules.iter().find(|r| r.id == id).unwrap();
    let on = |o: usize| q[o] > 0;
    match &rule.kind {
        ConfigRuleKind::Requires { option, any_of } => {
            !on(*option) || any_of.iter().any(|&o| on(o))
        }
        ConfigRuleKind::Excludes { option, options } => {
            !on(*option) || options.iter().all(|&o| !on(o))
        }
        ConfigRuleKind::PerUnit {
            option,
            needs,
            quantity,
        } => q[*needs] >= quantity * q[*option],
        ConfigRuleKind::Adds {
            when,
            add,
            quantity,
        } => !on(*when) || q[*add] >= *quantity,
        ConfigRuleKind::Resource { consumes, provides } => {
            let sum = |attr: &str| -> i64 {
                model
                    .options
                    .iter()
                    .enumerate()
                    .map(|(i, o)| o.numbers.get(attr).copied().unwrap_or(0) * i64::from(q[i]))
                    .sum()
            };
            sum(consumes) <= sum(provides) + model.provides.get(provides).copied().unwrap_or(0)
        }
        ConfigRuleKind::SameValue { group, attribute } => {
            let values: Vec<_> = model.groups[*group]
                .options
                .iter()
                .filter(|&&o| on(o))
                .map(|&o| model.options[o].categories.get(attribute))
                .collect();
            values.windows(2).all(|w| w[0] == w[1])
        }
        ConfigRuleKind::Compatible { left, right, pairs } => {
            model.groups[*left].options.iter().all(|&a| {
                model.groups[*right]
                    .options
                    .iter()
                    .all(|&b| !(on(a) && on(b)) || pairs.contains(&(a, b)))
            })
        }
    }
}

fn all_ids(model: &ConfigModel) -> Vec<String> {
    let mut ids: Vec<String> = model
        .groups
        .iter()
        .map(|g| format!("group:{}", g.id))
        .collect();
    ids.extend(model.rules.iter().map(|r| r.id.clone()));
    ids
}

/// Every assignment of quantities, each option from 0 to its maximum.
fn assignments(model: &ConfigModel) -> Vec<Vec<u32>> {
    let mut all = vec![vec![]];
    for o in &model.options {
        all = all
            .into_iter()
            .flat_map(|prefix: Vec<u32>| {
                (0..=o.max_quantity).map(move |q| {
                    let mut next = prefix.clone();
                    next.push(q);
                    next
                })
            })
            .collect();
    }
    all
}

fn agrees(q: &[u32], choices: &[Choice]) -> bool {
    choices.iter().all(|c| q[c.option] == c.quantity)
}

/// Valid assignments under the constraints named `ids` that agree with
/// `choices`.
fn solutions<'a>(
    model: &'a ConfigModel,
    all: &'a [Vec<u32>],
    ids: &'a [String],
    choices: &'a [Choice],
) -> impl Iterator<Item = &'a Vec<u32>> + 'a {
    all.iter()
        .filter(move |q| agrees(q, choices) && ids.iter().all(|id| holds(model, id, q)))
}

fn arb_model() -> impl Strategy<Value = ConfigModel> {
    // 2 or 3 groups of 1 to 3 options, quantities up to 1 to 3.
    (2usize..=3, prop::collection::vec((1usize..=3, 1u32..=3), 3))
        .prop_flat_map(|(groups, shapes)| {
            let shapes: Vec<(usize, u32)> = shapes.into_iter().take(groups).collect();
            let options: usize = shapes.iter().map(|s| s.0).sum();
            let rule = (
                0usize..7,
                0..options,
                0..options,
                1u32..=2,
                0..groups,
                0..groups,
            );
            (
                Just(shapes),
                prop::collection::vec((0u32..=1, 1u32..=3), groups),
                prop::collection::vec(rule, 0..5),
                prop::collection::vec((0i64..=4, 0i64..=6, 0usize..=1), options),
                0i64..=6,
            )
        })
        .prop_map(|(shapes, cards, rules, attrs, base)| {
            let mut model = ConfigModel {
                sku: "BASE".into(),
                groups: vec![],
                options: vec![],
                provides: BTreeMap::from([("budget".to_owned(), base)]),
                rules: vec![],
                defaults: vec![],
                required: false,
            };
            for (g, (count, max_q)) in shapes.iter().enumerate() {
                let (min, extra) = cards[g];
                let mut members = vec![];
                for _ in 0..*count {
                    let index = model.options.len();
                    let (uses, gives, colour) = attrs[index];
                    model.options.push(ConfigOption {
                        sku: format!("O{index}"),
                        group: g,
                        max_quantity: *max_q,
                        numbers: BTreeMap::from([
                            ("uses".to_owned(), uses),
                            (
                                "budget".to_owned(),
                                if index.is_multiple_of(3) { gives } else { 0 },
                            ),
                        ]),
                        categories: BTreeMap::from([("colour".to_owned(), colour.to_string())]),
                    });
                    members.push(index);
                }
                model.groups.push(OptionGroup {
                    id: format!("g{g}"),
                    name: format!("group {g}"),
                    min,
                    max: min + extra,
                    options: members,
                });
            }
            for (i, (kind, a, b, k, g1, g2)) in rules.into_iter().enumerate() {
                let kind = match kind {
                    0 => ConfigRuleKind::Requires {
                        option: a,
                        any_of: vec![b],
                    },
                    1 => ConfigRuleKind::Excludes {
                        option: a,
                        options: vec![b],
                    },
                    2 if a != b => ConfigRuleKind::PerUnit {
                        option: a,
                        needs: b,
                        quantity: k,
                    },
                    3 if a != b => ConfigRuleKind::Adds {
                        when: a,
                        add: b,
                        quantity: k.min(model.options[b].max_quantity),
                    },
                    4 => ConfigRuleKind::Resource {
                        consumes: "uses".into(),
                        provides: "budget".into(),
                    },
                    5 => ConfigRuleKind::SameValue {
                        group: g1,
                        attribute: "colour".into(),
                    },
                    _ => {
                        let pairs = model.groups[g1]
                            .options
                            .iter()
                            .flat_map(|&x| model.groups[g2].options.iter().map(move |&y| (x, y)))
                            .filter(|(x, y)| (x + y + a) % 2 == 0)
                            .collect();
                        ConfigRuleKind::Compatible {
                            left: g1,
                            right: g2,
                            pairs,
                        }
                    }
                };
                model.rules.push(ConfigRule {
                    id: format!("r{i}"),
                    description: format!("rule {i}"),
                    kind,
                });
            }
            model
        })
}

fn arb_case() -> impl Strategy<Value = (ConfigModel, Vec<(usize, u32)>)> {
    arb_model().prop_flat_map(|model| {
        let options = model.options.len();
        let maxes: Vec<u32> = model.options.iter().map(|o| o.max_quantity).collect();
        let choices = prop::collection::vec((0..options, 0u32..=3), 0..4).prop_map(move |raw| {
            let mut seen = vec![false; maxes.len()];
            raw.into_iter()
                .filter(|(o, _)| !std::mem::replace(&mut seen[*o], true))
                .map(|(o, q)| (o, q.min(maxes[o])))
                .collect()
        });
        (Just(model), choices)
    })
}

/// `explanation` rules out what `goal` says (with the named constraints
/// only), and dropping any one choice or rule lets it back in.
fn check_minimal(
    model: &ConfigModel,
    all: &[Vec<u32>],
    explanation: &Explanation,
    goal: impl Fn(&[u32]) -> bool,
) {
    let ids: Vec<String> = explanation.rules.iter().map(|r| r.id.clone()).collect();
    let possible =
        |ids: &[String], choices: &[Choice]| solutions(model, all, ids, choices).any(|q| goal(q));
    assert!(
        !possible(&ids, &explanation.choices),
        "not a conflict: {explanation:?}"
    );
    for i in 0..explanation.choices.len() {
        let mut fewer = explanation.choices.clone();
        fewer.remove(i);
        assert!(
            possible(&ids, &fewer),
            "choice {i} superfluous: {explanation:?}"
        );
    }
    for i in 0..ids.len() {
        let mut fewer = ids.clone();
        fewer.remove(i);
        assert!(
            possible(&fewer, &explanation.choices),
            "rule {} superfluous",
            ids[i]
        );
    }
}

fn compile_or_skip(model: &ConfigModel) -> Option<CompiledModel> {
    match compile(model.clone()) {
        Ok(compiled) => Some(compiled),
        Err(ConfigError::Unsatisfiable { rules, .. }) => {
            // Then brute force finds nothing either, and the named rules
            // are a minimal conflict.
            let all = assignments(model);
            let ids = all_ids(model);
            assert!(solutions(model, &all, &ids, &[]).next().is_none());
            check_minimal(
                model,
                &all,
                &Explanation {
                    choices: vec![],
                    rules,
                    deferred: false,
                },
                |_| true,
            );
            None
        }
        Err(other) => panic!("{other}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn offered_quantities_are_exactly_those_of_valid_completions((model, raw) in arb_case()) {
        let Some(compiled) = compile_or_skip(&model) else { return Ok(()) };
        let all = assignments(&model);
        let ids = all_ids(&model);
        let choices: Vec<Choice> = raw.iter().map(|&(option, quantity)| Choice { option, quantity }).collect();
        let state = compiled.configure(&choices, true).unwrap();
        let valid: Vec<&Vec<u32>> = solutions(&model, &all, &ids, &choices).collect();
        prop_assert_eq!(state.valid, !valid.is_empty());
        if let Some(conflict) = &state.conflict {
            check_minimal(&model, &all, &conflict.explanation, |_| true);
            for repair in &conflict.repairs {
                let rest: Vec<Choice> = choices.iter().filter(|c| !repair.contains(c)).copied().collect();
                prop_assert!(solutions(&model, &all, &ids, &rest).next().is_some());
            }
        }
        // Against the choices that were kept.
        let kept: Vec<Choice> = match &state.conflict {
            Some(c) => choices.iter().filter(|x| !c.set_aside.contains(x)).copied().collect(),
            None => choices.clone(),
        };
        let valid: Vec<&Vec<u32>> = solutions(&model, &all, &ids, &kept).collect();
        prop_assert!(!valid.is_empty());
        for option in &state.options {
            let mut expected: Vec<u32> = valid.iter().map(|q| q[option.option]).collect();
            expected.sort_unstable();
            expected.dedup();
            prop_assert_eq!(&option.quantities, &expected, "option {}", option.option);
            match &option.status {
                OptionStatus::Excluded(why) => {
                    prop_assert!(!why.deferred, "explained in full");
                    check_minimal(&model, &all, why, |q| q[option.option] > 0);
                }
                OptionStatus::Added(why) => {
                    let least = expected[0];
                    check_minimal(&model, &all, why, |q| q[option.option] < least);
                }
                _ => {}
            }
        }
        // The proposed configuration is valid exactly when complete says so.
        let proposal: Vec<u32> = state.options.iter().map(|o| o.quantity).collect();
        let proposal_valid = ids.iter().all(|id| holds(&model, id, &proposal)) && agrees(&proposal, &kept);
        prop_assert_eq!(state.complete, proposal_valid && state.valid);
    }

    /// A session's clicks on a small budget: what is deferred is only
    /// deferred, what is explained (found now or remembered from an
    /// earlier click) is a minimal explanation under the current choices.
    #[test]
    fn budgeted_session_explanations_are_minimal_or_deferred((model, raw) in arb_case()) {
        let Some(compiled) = compile_or_skip(&model) else { return Ok(()) };
        let all = assignments(&model);
        let mut memory = ExplanationMemory::default();
        let choices: Vec<Choice> = raw.iter().map(|&(option, quantity)| Choice { option, quantity }).collect();
        for made in 0..=choices.len() {
            let state = compiled.configure_with(&choices[..made], Explaining {
                on: true,
                budget: Some(2),
                searches: Some(2),
                in_full: &[0],
                memory: Some(&mut memory),
                work: None,
            }).unwrap();
            if state.conflict.is_some() {
                break;
            }
            for option in &state.options {
                match &option.status {
                    OptionStatus::Excluded(why) if !why.deferred => {
                        prop_assert!(why.choices.iter().all(|c| choices[..made].contains(c)));
                        check_minimal(&model, &all, why, |q| q[option.option] > 0);
                    }
                    OptionStatus::Added(why) if !why.deferred => {
                        let least = option.quantities[0];
                        check_minimal(&model, &all, why, |q| q[option.option] < least);
                    }
                    OptionStatus::Excluded(why) | OptionStatus::Added(why) => {
                        prop_assert!(option.option != 0, "asked for in full");
                        prop_assert!(why.choices.is_empty() && why.rules.is_empty());
                    }
                    _ => {}
                }
            }
        }
    }

    /// A click whose explanations may take only so many steps (what the
    /// server allows a client) answers the same states and quantities as
    /// one without explanations; each explanation, a conflict's included,
    /// is minimal or deferred, and nothing it could not finish is passed
    /// off as found.
    #[test]
    fn work_limited_clicks_answer_the_same_and_explain_minimally_or_defer(
        (model, raw) in arb_case(),
        work in 0u64..400,
    ) {
        let Some(compiled) = compile_or_skip(&model) else { return Ok(()) };
        let all = assignments(&model);
        let choices: Vec<Choice> = raw.iter().map(|&(option, quantity)| Choice { option, quantity }).collect();
        let in_full: Vec<usize> = (0..model.options.len()).collect();
        let limited = compiled.configure_with(&choices, Explaining {
            on: true,
            in_full: &in_full,
            work: Some(work),
            ..Explaining::default()
        }).unwrap();
        let plain = compiled.configure(&choices, false).unwrap();
        prop_assert_eq!(limited.valid, plain.valid);
        prop_assert_eq!(limited.complete, plain.complete);
        if let (Some(limited), Some(plain)) = (&limited.conflict, &plain.conflict) {
            prop_assert_eq!(&limited.set_aside, &plain.set_aside);
            prop_assert_eq!(&limited.repairs, &plain.repairs);
            if limited.explanation.deferred {
                prop_assert!(limited.explanation.rules.is_empty());
            } else {
                check_minimal(&model, &all, &limited.explanation, |_| true);
            }
        }
        for (option, same) in limited.options.iter().zip(&plain.options) {
            prop_assert_eq!(&option.quantities, &same.quantities);
            prop_assert_eq!(option.quantity, same.quantity);
            prop_assert_eq!(
                std::mem::discriminant(&option.status),
                std::mem::discriminant(&same.status)
            );
            match &option.status {
                OptionStatus::Excluded(why) | OptionStatus::Added(why) if why.deferred => {
                    prop_assert!(why.choices.is_empty() && why.rules.is_empty());
                }
                OptionStatus::Excluded(why) => {
                    check_minimal(&model, &all, why, |q| q[option.option] > 0);
                }
                OptionStatus::Added(why) => {
                    let least = option.quantities[0];
                    check_minimal(&model, &all, why, |q| q[option.option] < least);
                }
                _ => {}
            }
        }
    }
}
