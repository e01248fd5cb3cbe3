//! Linear inequalities over option quantities, built directly as BDDs.
//!
//! A quantity of up to `max` units is a block of bits, most significant
//! first; `Σ weight × quantity <= bound` becomes a pseudo-Boolean
//! constraint over those bits, built bottom-up with one node per distinct
//! (bit, partial sum) that can still go either way.
use biodivine_lib_bdd::{Bdd, BddNode, BddPointer, BddVariable, BddVariableSet};
use rustc_hash::FxHashMap;

use crate::layout::Layout;

/// `Σ weight × quantity(option) <= bound` over `terms` of (option, weight).
pub(crate) fn at_most(
    vars: &BddVariableSet,
    layout: &Layout,
    terms: &[(usize, i64)],
    bound: i64,
) -> Bdd {
    let mut bits: Vec<(BddVariable, i64)> = Vec::new();
    for &(option, weight) in terms {
        for (var, place) in layout.bits_of(option) {
            bits.push((var, weight.saturating_mul(1i64 << place)));
        }
    }
    bits.sort_by_key(|(var, _)| *var);
    // The same option named twice: add the weights of its bits.
    bits.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            earlier.1 = earlier.1.saturating_add(later.1);
            true
        } else {
            false
        }
    });
    bits.retain(|(_, w)| *w != 0);
    // Smallest and largest sum the bits from position i on can add.
    let mut least = vec![0i64; bits.len() + 1];
    let mut most = vec![0i64; bits.len() + 1];
    for i in (0..bits.len()).rev() {
        let w = bits[i].1;
        least[i] = least[i + 1].saturating_add(w.min(0));
        most[i] = most[i + 1].saturating_add(w.max(0));
    }
    let mut builder = Builder {
        bits: &bits,
        least: &least,
        most: &most,
        memo: FxHashMap::default(),
        unique: FxHashMap::default(),
        nodes: vec![
            BddNode::mk_zero(vars.num_vars()),
            BddNode::mk_one(vars.num_vars()),
        ],
    };
    let root = builder.node(0, bound);
    if root == BddPointer::zero() {
        return vars.mk_false();
    }
    if root == BddPointer::one() {
        return vars.mk_true();
    }
    // Built children first, so the root is the last node, as a Bdd's is.
    Bdd::from_nodes(&builder.nodes).unwrap_or_else(|_| vars.mk_false())
}

/// `Σ weight × quantity >= bound`.
pub(crate) fn at_least(
    vars: &BddVariableSet,
    layout: &Layout,
    terms: &[(usize, i64)],
    bound: i64,
) -> Bdd {
    let negated: Vec<(usize, i64)> = terms.iter().map(|&(o, w)| (o, -w)).collect();
    at_most(vars, layout, &negated, bound.saturating_neg())
}

/// Builds the reduced diagram node by node: one node per distinct
/// (bit, slack) still undecided, shared through a unique table.
struct Builder<'a> {
    bits: &'a [(BddVariable, i64)],
    least: &'a [i64],
    most: &'a [i64],
    memo: FxHashMap<(usize, i64), BddPointer>,
    unique: FxHashMap<(BddVariable, BddPointer, BddPointer), BddPointer>,
    nodes: Vec<BddNode>,
}

impl Builder<'_> {
    /// The constraint on bits `i..` given `slack` left under the bound.
    fn node(&mut self, i: usize, slack: i64) -> BddPointer {
        if self.most[i] <= slack {
            return BddPointer::one();
        }
        if self.least[i] > slack {
            return BddPointer::zero();
        }
        if let Some(done) = self.memo.get(&(i, slack)) {
            return *done;
        }
        let (var, weight) = self.bits[i];
        let high = self.node(i + 1, slack.saturating_sub(weight));
        let low = self.node(i + 1, slack);
        let result = if high == low {
            low
        } else {
            *self.unique.entry((var, low, high)).or_insert_with(|| {
                self.nodes.push(BddNode::mk_node(var, low, high));
                BddPointer::from_index(self.nodes.len() - 1)
            })
        };
        self.memo.insert((i, slack), result);
        result
    }
}
