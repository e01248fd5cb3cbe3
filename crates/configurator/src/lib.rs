//! quotecast's configurator: which options a rep can still pick, click by
//! click, with nothing offered that leads to a dead end.
//!
//! A [`ConfigModel`](quotecast_model::ConfigModel) is compiled once into a
//! binary decision diagram of all its rules ([`compile`]). Each click is
//! then two linear passes over that diagram ([`CompiledModel::configure`]):
//! an option's quantity is offered if and only if some complete valid
//! configuration holds it together with everything already chosen. Options
//! ruled out or brought in automatically come with a minimal explanation
//! (the choices and rules responsible, none superfluous), and a
//! contradictory selection with its conflict and the choices to drop.
//!
//! Pure library: no I/O, no async, no wire types.
mod compile;
mod configure;
mod conjoin;
mod describe;
mod diagram;
mod explain;
mod layout;
mod linear;
mod minimal;
mod order;
mod stored;

pub use compile::{CompiledModel, ConstraintRef, compile};
pub use configure::{
    CLICK_BUDGET, CLICK_SEARCHES, CLICK_WORK, Configuration, Conflict, Explaining,
    ExplanationMemory, OptionState, OptionStatus,
};
pub use describe::{Configurators, compile_all};

/// The most units of one option a model may allow.
pub const MAX_OPTION_QUANTITY: u32 = 63;

/// A rep's choice: `quantity` units of the option at position `option` in
/// the model (0 means "not this option").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Choice {
    pub option: usize,
    pub quantity: u32,
}

/// Why something holds: these choices and these rules together; drop any
/// one of them and it no longer does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Explanation {
    pub choices: Vec<Choice>,
    pub rules: Vec<ConstraintRef>,
    /// Not worked out within a click's budget (the consequence of a long
    /// chain of rules); empty until asked for by option
    /// ([`Explaining::in_full`]); its choices and rules are empty.
    pub deferred: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("product `{sku}` has no valid configuration at all: {}", names(rules))]
    Unsatisfiable {
        sku: String,
        rules: Vec<ConstraintRef>,
    },
    #[error("product `{sku}` needs {bits} decision variables; at most 65535 are supported")]
    TooLarge { sku: String, bits: usize },
    #[error("option `{sku}` allows {max} units; at most {MAX_OPTION_QUANTITY} are supported")]
    TooManyUnits { sku: String, max: u32 },
    #[error("`{sku}` is not an option of `{product}`")]
    UnknownOption { product: String, sku: String },
    #[error("{quantity} × `{sku}` is more than the {max} one configuration can hold")]
    QuantityAboveMax {
        sku: String,
        quantity: u32,
        max: u32,
    },
    #[error("`{sku}` is chosen more than once")]
    DuplicateChoice { sku: String },
    #[error("a stored compiled model is refused: {reason}")]
    Stored { reason: &'static str },
}

fn names(rules: &[ConstraintRef]) -> String {
    rules
        .iter()
        .map(|r| format!("{} ({})", r.id, r.description))
        .collect::<Vec<_>>()
        .join(", ")
}
