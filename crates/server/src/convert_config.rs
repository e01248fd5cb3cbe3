//! proto ⇄ domain for the configurator.
use quotecast_configurator::{
    Choice, CompiledModel, ConfigError, Configuration, Explanation, OptionStatus,
};

use crate::{
    error::{FieldViolation, ServerError},
    pb,
};

/// A request's choices resolved against a model.
pub struct ConfigureInput {
    pub choices: Vec<Choice>,
    /// Options to explain in full.
    pub explain: Vec<usize>,
}

impl TryFrom<(&CompiledModel, &pb::ConfigureRequest)> for ConfigureInput {
    type Error = ServerError;

    fn try_from(
        (model, request): (&CompiledModel, &pb::ConfigureRequest),
    ) -> Result<Self, Self::Error> {
        let mut violations = Vec::new();
        let mut choices: Vec<Choice> = Vec::with_capacity(request.choices.len());
        for (i, c) in request.choices.iter().enumerate() {
            match model.choice(c.sku.trim(), c.quantity) {
                Ok(choice) if choices.iter().any(|x| x.option == choice.option) => {
                    violations.push(FieldViolation {
                        field: format!("choices[{i}].sku"),
                        description: format!("`{}` is chosen more than once", c.sku),
                    });
                }
                Ok(choice) => choices.push(choice),
                Err(e @ ConfigError::QuantityAboveMax { .. }) => violations.push(FieldViolation {
                    field: format!("choices[{i}].quantity"),
                    description: e.to_string(),
                }),
                Err(e) => violations.push(FieldViolation {
                    field: format!("choices[{i}].sku"),
                    description: e.to_string(),
                }),
            }
        }
        let mut explain = Vec::with_capacity(request.explain_skus.len());
        for (i, sku) in request.explain_skus.iter().enumerate() {
            match model.model().option_index(sku.trim()) {
                Some(option) => explain.push(option),
                None => violations.push(FieldViolation {
                    field: format!("explain_skus[{i}]"),
                    description: format!("`{sku}` is not an option of `{}`", model.model().sku),
                }),
            }
        }
        if violations.is_empty() {
            Ok(Self { choices, explain })
        } else {
            Err(ServerError::InvalidArgument(violations))
        }
    }
}

fn choice(model: &CompiledModel, c: &Choice) -> pb::OptionChoice {
    pb::OptionChoice {
        sku: model.model().options[c.option].sku.clone(),
        quantity: c.quantity,
    }
}

fn explanation(model: &CompiledModel, e: &Explanation) -> pb::Explanation {
    pb::Explanation {
        choices: e.choices.iter().map(|c| choice(model, c)).collect(),
        rules: e
            .rules
            .iter()
            .map(|r| pb::RuleRef {
                rule_id: r.id.clone(),
                description: r.description.clone(),
            })
            .collect(),
        deferred: e.deferred,
    }
}

/// A configuration state with the model it belongs to.
pub struct StateOf<'a> {
    pub model: &'a CompiledModel,
    pub configuration: &'a Configuration,
}

impl From<StateOf<'_>> for pb::ConfigureResponse {
    fn from(
        StateOf {
            model,
            configuration: c,
        }: StateOf<'_>,
    ) -> Self {
        let m = model.model();
        let options = c
            .options
            .iter()
            .map(|s| {
                let (status, why) = match &s.status {
                    OptionStatus::Chosen => (pb::OptionStatus::Chosen, None),
                    OptionStatus::Added(why) => (pb::OptionStatus::Added, Some(why)),
                    OptionStatus::Excluded(why) => (pb::OptionStatus::Excluded, Some(why)),
                    OptionStatus::Open => (pb::OptionStatus::Open, None),
                };
                let option = &m.options[s.option];
                pb::OptionState {
                    sku: option.sku.clone(),
                    group_id: m.groups[option.group].id.clone(),
                    status: status as i32,
                    quantities: s.quantities.clone(),
                    quantity: s.quantity,
                    default_rule_id: s.default.clone().unwrap_or_default(),
                    explanation: why.map(|w| explanation(model, w)),
                }
            })
            .collect();
        let groups = m
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| pb::OptionGroupState {
                group_id: g.id.clone(),
                name: g.name.clone(),
                min: g.min,
                max: g.max,
                missing: c.missing.contains(&i),
            })
            .collect();
        let conflict = c.conflict.as_ref().map(|k| pb::Conflict {
            explanation: Some(explanation(model, &k.explanation)),
            repairs: k
                .repairs
                .iter()
                .map(|r| pb::Repair {
                    drop: r.iter().map(|x| choice(model, x)).collect(),
                })
                .collect(),
            set_aside: k.set_aside.iter().map(|x| choice(model, x)).collect(),
        });
        Self {
            product_sku: m.sku.clone(),
            valid: c.valid,
            complete: c.complete,
            groups,
            options,
            conflict,
        }
    }
}

// A session's messages are a one-shot call's under their own names (same
// fields, same numbers).
impl From<pb::ConfigureSessionRequest> for pb::ConfigureRequest {
    fn from(r: pb::ConfigureSessionRequest) -> Self {
        pb::ConfigureRequest {
            product_sku: r.product_sku,
            choices: r.choices,
            skip_explanations: r.skip_explanations,
            explain_skus: r.explain_skus,
        }
    }
}

impl From<pb::ConfigureRequest> for pb::ConfigureSessionRequest {
    fn from(r: pb::ConfigureRequest) -> Self {
        pb::ConfigureSessionRequest {
            product_sku: r.product_sku,
            choices: r.choices,
            skip_explanations: r.skip_explanations,
            explain_skus: r.explain_skus,
        }
    }
}

impl From<pb::ConfigureResponse> for pb::ConfigureSessionResponse {
    fn from(r: pb::ConfigureResponse) -> Self {
        pb::ConfigureSessionResponse {
            product_sku: r.product_sku,
            valid: r.valid,
            complete: r.complete,
            groups: r.groups,
            options: r.options,
            conflict: r.conflict,
        }
    }
}

impl From<pb::ConfigureSessionResponse> for pb::ConfigureResponse {
    fn from(r: pb::ConfigureSessionResponse) -> Self {
        pb::ConfigureResponse {
            product_sku: r.product_sku,
            valid: r.valid,
            complete: r.complete,
            groups: r.groups,
            options: r.options,
            conflict: r.conflict,
        }
    }
}
