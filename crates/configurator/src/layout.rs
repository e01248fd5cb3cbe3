//! Where each option's quantity lives among the BDD variables: a block of
//! consecutive bits, most significant first, options in model order (so
//! options of one group, which most rules relate, sit side by side).
use biodivine_lib_bdd::BddVariable;
use quotecast_model::ConfigModel;

#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// First variable of each option's block.
    pub first: Vec<usize>,
    /// Bits of each option's block.
    pub width: Vec<usize>,
    /// Option owning each variable.
    pub owner: Vec<usize>,
    pub max: Vec<u32>,
}

/// Bits needed to write `max` in binary (at least one).
fn bits_for(max: u32) -> usize {
    (u32::BITS - max.leading_zeros()).max(1) as usize
}

impl Layout {
    pub fn new(model: &ConfigModel) -> Self {
        let mut layout = Layout {
            first: Vec::with_capacity(model.options.len()),
            width: Vec::with_capacity(model.options.len()),
            owner: Vec::new(),
            max: Vec::with_capacity(model.options.len()),
        };
        for (index, option) in model.options.iter().enumerate() {
            let width = bits_for(option.max_quantity);
            layout.first.push(layout.owner.len());
            layout.width.push(width);
            layout.max.push(option.max_quantity);
            layout.owner.extend(std::iter::repeat_n(index, width));
        }
        layout
    }

    pub fn variables(&self) -> usize {
        self.owner.len()
    }

    /// The option's variables with the power of two each stands for.
    pub fn bits_of(&self, option: usize) -> impl Iterator<Item = (BddVariable, u32)> + '_ {
        let width = self.width[option];
        (0..width).map(move |k| {
            (
                BddVariable::from_index(self.first[option] + k),
                (width - 1 - k) as u32,
            )
        })
    }

    /// Bit `k` (0 = most significant) of `quantity` in `option`'s block.
    pub fn bit(&self, option: usize, quantity: u32, k: usize) -> bool {
        let place = self.width[option] - 1 - k;
        (quantity >> place) & 1 == 1
    }

    /// Fixes the bits of `option` to `quantity` in `fixed`.
    pub fn fix(&self, fixed: &mut [Option<bool>], option: usize, quantity: u32) {
        for k in 0..self.width[option] {
            fixed[self.first[option] + k] = Some(self.bit(option, quantity, k));
        }
    }
}
