//! Where each option's quantity lives among the BDD variables: a block of
//! consecutive bits, most significant first. Blocks follow a variable
//! order chosen from the constraints' structure ([`crate::order`]), so
//! options that constraints relate sit close together whatever order the
//! model lists them in.
use biodivine_lib_bdd::BddVariable;
use quotecast_model::ConfigModel;

use crate::diagram::Values;

#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// First variable of each option's block.
    pub first: Vec<usize>,
    /// Bits of each option's block.
    pub width: Vec<usize>,
    /// Option owning each variable.
    pub owner: Vec<usize>,
    pub max: Vec<u32>,
    /// Rank of each option's block in the variable order.
    pub rank: Vec<usize>,
    /// Options by rank.
    pub by_rank: Vec<usize>,
    /// Per variable, the quantities of its option whose bit there is 1.
    pub ones: Vec<Values>,
}

/// Bits needed to write `max` in binary (at least one).
fn bits_for(max: u32) -> usize {
    (u32::BITS - max.leading_zeros()).max(1) as usize
}

impl Layout {
    /// Blocks in the order `by_rank` gives (every option exactly once).
    pub fn new(model: &ConfigModel, by_rank: Vec<usize>) -> Self {
        let options = model.options.len();
        let mut layout = Layout {
            first: vec![0; options],
            width: vec![0; options],
            owner: Vec::new(),
            max: model.options.iter().map(|o| o.max_quantity).collect(),
            rank: vec![0; options],
            by_rank,
            ones: Vec::new(),
        };
        for (rank, &option) in layout.by_rank.iter().enumerate() {
            let max = layout.max[option];
            let width = bits_for(max);
            layout.rank[option] = rank;
            layout.first[option] = layout.owner.len();
            layout.width[option] = width;
            layout.owner.extend(std::iter::repeat_n(option, width));
            for k in 0..width {
                let place = width - 1 - k;
                let ones = (0..=max)
                    .filter(|q| (q >> place) & 1 == 1)
                    .fold(0, |set, q| set | (1 << q));
                layout.ones.push(ones);
            }
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

    /// Every quantity of `option`, 0 to its maximum.
    pub fn all(&self, option: usize) -> Values {
        match self.max[option] {
            63.. => Values::MAX,
            max => (1 << (max + 1)) - 1,
        }
    }

    /// The quantities of `var`'s option whose bit there is `bit`.
    pub fn with_bit(&self, var: usize, bit: bool) -> Values {
        if bit {
            self.ones[var]
        } else {
            self.all(self.owner[var]) & !self.ones[var]
        }
    }

    /// The quantities of `option` that agree with the fixed bits.
    pub fn agreeing(&self, fixed: &[Option<bool>], option: usize) -> Values {
        let first = self.first[option];
        (first..first + self.width[option]).fold(self.all(option), |set, var| match fixed[var] {
            Some(bit) => set & self.with_bit(var, bit),
            None => set,
        })
    }
}
