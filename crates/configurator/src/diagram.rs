//! The compiled rules as a flat node array, children before parents, and
//! the two linear passes every click runs over it:
//!
//! 1. bottom-up: which nodes still reach `true` under the fixed bits (the
//!    selection is consistent iff the root does);
//! 2. top-down from the root along edges that do: the values each option
//!    takes on some path, which are exactly the values some complete valid
//!    configuration extending the selection gives it.
use biodivine_lib_bdd::{Bdd, BddPointer};

use crate::layout::Layout;

const FALSE: u32 = 0;
const TRUE: u32 = 1;

#[derive(Debug, Clone, Copy)]
struct Node {
    var: u32,
    low: u32,
    high: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Diagram {
    /// 0 is `false`, 1 is `true`; every other node's children come before it.
    nodes: Vec<Node>,
    root: u32,
    /// Variable index the terminals sit at (one past the last variable).
    end: u32,
}

/// Values of one option as a bit set: bit q set when q units are possible.
pub(crate) type Values = u64;

impl Diagram {
    pub fn new(bdd: &Bdd, variables: usize) -> Self {
        let end = variables as u32;
        let terminal = Node {
            var: end,
            low: FALSE,
            high: FALSE,
        };
        if let Some(value) = bdd.as_bool() {
            return Diagram {
                nodes: vec![terminal, terminal],
                root: if value { TRUE } else { FALSE },
                end,
            };
        }
        // Children sit at deeper variables than their parents, so ordering
        // inner nodes by decreasing variable puts children first.
        let mut order: Vec<BddPointer> = bdd.pointers().filter(|p| !p.is_terminal()).collect();
        order.sort_by_key(|p| std::cmp::Reverse(bdd.var_of(*p).to_index()));
        let mut position = vec![0u32; bdd.size()];
        position[BddPointer::one().to_index()] = TRUE;
        let mut nodes = vec![terminal, terminal];
        for p in order {
            position[p.to_index()] = nodes.len() as u32;
            nodes.push(Node {
                var: bdd.var_of(p).to_index() as u32,
                low: position[bdd.low_link_of(p).to_index()],
                high: position[bdd.high_link_of(p).to_index()],
            });
        }
        let root = position[bdd.root_pointer().to_index()];
        Diagram { nodes, root, end }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Pass 1: `alive[n]` when node `n` reaches `true` through edges the
    /// fixed bits allow.
    fn alive(&self, fixed: &[Option<bool>]) -> Vec<bool> {
        let mut alive = vec![false; self.nodes.len()];
        alive[TRUE as usize] = true;
        for i in 2..self.nodes.len() {
            let n = self.nodes[i];
            alive[i] = match fixed[n.var as usize] {
                Some(false) => alive[n.low as usize],
                Some(true) => alive[n.high as usize],
                None => alive[n.low as usize] || alive[n.high as usize],
            };
        }
        alive
    }

    /// Whether some complete configuration agrees with the fixed bits.
    pub fn consistent(&self, fixed: &[Option<bool>]) -> bool {
        self.root == TRUE || (self.root != FALSE && self.alive(fixed)[self.root as usize])
    }

    /// Pass 2: per option, the quantities some valid configuration agreeing
    /// with `fixed` gives it; `None` when there is none.
    pub fn values(&self, layout: &Layout, fixed: &[Option<bool>]) -> Option<Vec<Values>> {
        let options = layout.max.len();
        let mut values = vec![0 as Values; options];
        // Options skipped wholly by some live edge take every value; marked
        // as ranges of options with a difference array.
        let mut skipped = vec![0i32; options + 1];
        let mut skip = |from_var: i64, to_var: u32| {
            // Options whose whole block lies strictly between the two.
            let first = match usize::try_from(from_var) {
                Ok(v) => layout.owner[v] + 1,
                Err(_) => 0,
            };
            // The option the edge lands in is enumerated from its node
            // (leading bits free when it lands mid-block).
            let last = if to_var >= self.end {
                options
            } else {
                layout.owner[to_var as usize]
            };
            if first < last {
                skipped[first] += 1;
                skipped[last] -= 1;
            }
        };
        if self.root == FALSE {
            return None;
        }
        if self.root == TRUE {
            skip(-1, self.end);
        } else {
            let alive = self.alive(fixed);
            if !alive[self.root as usize] {
                return None;
            }
            let mut reached = vec![false; self.nodes.len()];
            let mut entry = vec![false; self.nodes.len()];
            reached[self.root as usize] = true;
            entry[self.root as usize] = true;
            skip(-1, self.nodes[self.root as usize].var);
            for i in (2..self.nodes.len()).rev() {
                if !reached[i] {
                    continue;
                }
                let n = self.nodes[i];
                let block = layout.owner[n.var as usize];
                for (bit, child) in [(false, n.low), (true, n.high)] {
                    if fixed[n.var as usize].is_some_and(|f| f != bit) || !alive[child as usize] {
                        continue;
                    }
                    reached[child as usize] = true;
                    let to = self.nodes[child as usize].var;
                    skip(i64::from(n.var), to);
                    if to < self.end && layout.owner[to as usize] != block {
                        entry[child as usize] = true;
                    }
                }
            }
            for (i, _) in entry.iter().enumerate().filter(|(_, e)| **e) {
                self.enumerate(layout, fixed, &alive, i as u32, &mut values);
            }
        }
        let mut running = 0;
        for option in 0..options {
            running += skipped[option];
            if running > 0 {
                values[option] |= all_patterns(layout, fixed, option);
            }
        }
        Some(values)
    }

    /// The values of the option whose block node `start` is in, over the
    /// live paths from `start` until they leave the block.
    fn enumerate(
        &self,
        layout: &Layout,
        fixed: &[Option<bool>],
        alive: &[bool],
        start: u32,
        values: &mut [Values],
    ) {
        let option = layout.owner[self.nodes[start as usize].var as usize];
        let first = layout.first[option];
        let width = layout.width[option];
        // (node, bits decided on the path: mask and values, by position k)
        let mut stack = vec![(start, 0u64, 0u64)];
        while let Some((at, mask, bits)) = stack.pop() {
            let n = self.nodes[at as usize];
            let k = n.var as usize - first;
            for (bit, child) in [(false, n.low), (true, n.high)] {
                if fixed[n.var as usize].is_some_and(|f| f != bit) || !alive[child as usize] {
                    continue;
                }
                let mask = mask | (1 << k);
                let bits = bits | (u64::from(bit) << k);
                let to = self.nodes[child as usize].var;
                if to < self.end && layout.owner[to as usize] == option {
                    stack.push((child, mask, bits));
                } else {
                    values[option] |= matching(layout, fixed, option, width, mask, bits);
                }
            }
        }
    }
}

/// Quantities of `option` whose bits agree with `bits` where `mask` is set
/// and with the fixed bits.
fn matching(
    layout: &Layout,
    fixed: &[Option<bool>],
    option: usize,
    width: usize,
    mask: u64,
    bits: u64,
) -> Values {
    let first = layout.first[option];
    let mut out = 0;
    for quantity in 0..=layout.max[option] {
        let fits = (0..width).all(|k| {
            let bit = layout.bit(option, quantity, k);
            let path = mask & (1 << k) == 0 || ((bits >> k) & 1 == 1) == bit;
            path && fixed[first + k].is_none_or(|f| f == bit)
        });
        if fits {
            out |= 1 << quantity;
        }
    }
    out
}

fn all_patterns(layout: &Layout, fixed: &[Option<bool>], option: usize) -> Values {
    matching(layout, fixed, option, layout.width[option], 0, 0)
}
