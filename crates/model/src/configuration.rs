//! Configurable products: option groups, options with quantities and
//! attributes, and the rules that say which combinations can be built.
//!
//! Options and groups are referred to by position (`usize`) inside their
//! [`ConfigModel`]; the rules crate resolves SKUs and group ids to positions
//! when it loads the files, so a model that exists is well-formed.
use std::collections::BTreeMap;

/// A group of options with a cardinality on the total quantity chosen in
/// it: exactly one CPU (1..=1), one to four memory modules (1..=4),
/// any number of accessories (0..=max).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionGroup {
    pub id: String,
    pub name: String,
    pub min: u32,
    pub max: u32,
    /// Positions of the group's options in [`ConfigModel::options`].
    pub options: Vec<usize>,
}

/// One option of a configurable product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigOption {
    pub sku: String,
    /// Position of its group in [`ConfigModel::groups`].
    pub group: usize,
    /// The most units of this option one configuration can hold.
    pub max_quantity: u32,
    /// Numeric attributes per unit: watts, slots, GB, U height.
    pub numbers: BTreeMap<String, i64>,
    /// Categorical attributes: socket, form factor, memory speed.
    pub categories: BTreeMap<String, String>,
}

/// What a configuration rule demands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigRuleKind {
    /// `option` needs at least one of `any_of`.
    Requires { option: usize, any_of: Vec<usize> },
    /// `option` cannot be combined with any of `options`.
    Excludes { option: usize, options: Vec<usize> },
    /// Each unit of `option` needs `quantity` units of `needs` (each GPU
    /// needs one riser).
    PerUnit {
        option: usize,
        needs: usize,
        quantity: u32,
    },
    /// Choosing `when` brings `add` in automatically, at least `quantity`
    /// units (a rack kit adds rails).
    Adds {
        when: usize,
        add: usize,
        quantity: u32,
    },
    /// The options' `consumes` attribute, summed over units, may not exceed
    /// the base product's `provides` attribute plus what the chosen options
    /// provide (component watts <= power supply watts).
    Resource { consumes: String, provides: String },
    /// All chosen options of `group` share one value of `attribute` (all
    /// memory modules the same speed).
    SameValue { group: usize, attribute: String },
    /// Only the listed (left, right) pairs may be chosen together from the
    /// two groups (allowed CPU x board combinations).
    Compatible {
        left: usize,
        right: usize,
        pairs: Vec<(usize, usize)>,
    },
}

/// A rule with its stable id and a sentence saying what it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigRule {
    pub id: String,
    pub description: String,
    pub kind: ConfigRuleKind,
}

/// A soft rule: when every option in `when` is in the configuration and
/// nothing in the option's group was chosen, propose `option` x `quantity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigDefault {
    pub id: String,
    pub when: Vec<usize>,
    pub option: usize,
    pub quantity: u32,
}

/// The configuration model of one base product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigModel {
    /// SKU of the base product this model configures.
    pub sku: String,
    pub groups: Vec<OptionGroup>,
    pub options: Vec<ConfigOption>,
    /// Numeric attributes of the base product itself (memory slots, drive
    /// bays, power budget) that resource rules draw on.
    pub provides: BTreeMap<String, i64>,
    pub rules: Vec<ConfigRule>,
    pub defaults: Vec<ConfigDefault>,
    /// The product is never sold unconfigured: a quote line for it is
    /// always configured (with no choices, its defaults must complete it).
    pub required: bool,
}

impl ConfigModel {
    /// Position of the option with this SKU.
    pub fn option_index(&self, sku: &str) -> Option<usize> {
        self.options.iter().position(|o| o.sku == sku)
    }
}
