//! The compiled rules as a flat node array, children before parents, and
//! the two linear passes every click runs over it:
//!
//! 1. bottom-up: which nodes still reach `true` under the fixed bits (the
//!    selection is consistent iff the root does);
//! 2. top-down from the root along edges that do: the values each option
//!    takes on some path, which are exactly the values some complete valid
//!    configuration extending the selection gives it.
use crate::{
    conjoin::{FALSE, Node, TRUE, Table},
    layout::Layout,
};

#[derive(Debug, Clone)]
pub(crate) struct Diagram {
    /// 0 is `false`, 1 is `true`; every other node's children come before it.
    nodes: Vec<Step>,
    root: u32,
}

/// A node with the rank of its option's block (terminals: one past the
/// last), so the passes need no lookups through the layout, and a child's
/// fields share one cache line.
#[derive(Debug, Clone, Copy)]
struct Step {
    var: u32,
    low: u32,
    high: u32,
    block: u32,
}

/// Values of one option as a bit set: bit q set when q units are possible.
pub(crate) type Values = u64;

/// Per variable, the edges the fixed bits allow: 1 the low one, 2 the
/// high one, 3 both.
fn allowed(fixed: &[Option<bool>]) -> Vec<u8> {
    fixed
        .iter()
        .map(|f| match f {
            None => 3,
            Some(false) => 1,
            Some(true) => 2,
        })
        .collect()
}

impl Diagram {
    /// The diagram below `root` in `table`, flattened.
    pub fn new(table: &Table, root: u32, layout: &Layout) -> Self {
        let (nodes, root) = table.extract(root);
        Self::with_blocks(&nodes, root, layout)
    }

    fn with_blocks(nodes: &[Node], root: u32, layout: &Layout) -> Self {
        let nodes = nodes
            .iter()
            .map(|n| Step {
                var: n.var,
                low: n.low,
                high: n.high,
                block: match layout.owner.get(n.var as usize) {
                    Some(&option) => layout.rank[option] as u32,
                    None => layout.by_rank.len() as u32,
                },
            })
            .collect();
        Diagram { nodes, root }
    }

    /// A diagram read back from [`Self::nodes`] and [`Self::root`];
    /// `None` unless it is well formed over `layout`'s variables: the two
    /// terminals first, then nodes whose children come before them and
    /// decide later variables.
    pub fn from_nodes(nodes: &[Node], root: u32, layout: &Layout) -> Option<Self> {
        let end = layout.variables() as u32;
        let terminal = Node {
            var: end,
            low: FALSE,
            high: FALSE,
        };
        let well_formed = nodes.len() >= 2
            && nodes[..2].iter().all(|&n| n == terminal)
            && (root as usize) < nodes.len()
            && nodes.iter().enumerate().skip(2).all(|(i, n)| {
                let below = |child: u32| (child as usize) < i && nodes[child as usize].var > n.var;
                n.var < end && n.low != n.high && below(n.low) && below(n.high)
            });
        well_formed.then(|| Self::with_blocks(nodes, root, layout))
    }

    /// The nodes without their blocks, for [`Self::from_nodes`].
    pub fn nodes(&self) -> impl Iterator<Item = Node> + '_ {
        self.nodes.iter().map(|s| Node {
            var: s.var,
            low: s.low,
            high: s.high,
        })
    }

    pub fn root(&self) -> u32 {
        self.root
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Pass 1: per node, its live edges: bit 1 the low one, bit 2 the
    /// high one, each set when the fixed bits allow it and it reaches
    /// `true`. A node with none is dead.
    fn live(&self, allow: &[u8]) -> Vec<u8> {
        let mut live = vec![0u8; self.nodes.len()];
        live[TRUE as usize] = 3;
        for i in 2..self.nodes.len() {
            let n = self.nodes[i];
            let a = allow[n.var as usize];
            let low = u8::from(live[n.low as usize] != 0);
            let high = u8::from(live[n.high as usize] != 0) << 1;
            live[i] = a & (low | high);
        }
        live
    }

    /// Whether some complete configuration agrees with the fixed bits:
    /// depth first from the root, stopping at the first path to `true`
    /// (nodes found dead are not entered twice).
    pub fn consistent(&self, fixed: &[Option<bool>]) -> bool {
        if self.root <= TRUE {
            return self.root == TRUE;
        }
        // One bit per node: a click's tests run this many times, and a
        // bit set stays small enough to be allocated without zeroing
        // fresh pages each time.
        let mut dead = vec![0u64; self.nodes.len().div_ceil(64)];
        let is_dead = |dead: &[u64], n: u32| dead[n as usize / 64] & (1 << (n % 64)) != 0;
        dead[0] |= 1 << FALSE;
        let mut stack = vec![self.root];
        while let Some(&at) = stack.last() {
            if at == TRUE {
                return true;
            }
            let n = self.nodes[at as usize];
            let next = [(false, n.low), (true, n.high)]
                .into_iter()
                .find(|&(bit, child)| {
                    fixed[n.var as usize].is_none_or(|f| f == bit) && !is_dead(&dead, child)
                });
            match next {
                Some((_, child)) => stack.push(child),
                None => {
                    dead[at as usize / 64] |= 1 << (at % 64);
                    stack.pop();
                }
            }
        }
        false
    }

    /// Whether the complete assignment `fixed` (every bit set) is a valid
    /// configuration: one walk from the root.
    pub fn accepts(&self, fixed: &[Option<bool>]) -> bool {
        let mut at = self.root;
        while at > TRUE {
            let n = self.nodes[at as usize];
            at = match fixed[n.var as usize] {
                Some(true) => n.high,
                Some(false) => n.low,
                None => return self.consistent(fixed),
            };
        }
        at == TRUE
    }

    /// Pass 2: per option, the quantities some valid configuration agreeing
    /// with `fixed` gives it; `None` when there is none.
    ///
    /// Top-down over the live edges, each node carries the quantities of
    /// its option that some path to it allows so far (bits its option's
    /// block skipped before it are free); an edge leaving the block hands
    /// them, narrowed by its own bit, to the option. Options whose whole
    /// block an edge skips take every value that agrees with the fixed
    /// bits, marked as ranges of blocks with a difference array.
    pub fn values(&self, layout: &Layout, fixed: &[Option<bool>]) -> Option<Vec<Values>> {
        let blocks = layout.by_rank.len();
        // By rank until the end.
        let agreeing: Vec<Values> = layout
            .by_rank
            .iter()
            .map(|&o| layout.agreeing(fixed, o))
            .collect();
        let mut values = vec![0 as Values; blocks];
        let mut skipped = vec![0i32; blocks + 1];
        let root = self.root as usize;
        if self.root == FALSE {
            return None;
        }
        if self.root == TRUE {
            skipped[0] += 1;
            skipped[blocks] -= 1;
        } else {
            let live = self.live(&allowed(fixed));
            if live[root] == 0 {
                return None;
            }
            // Quantities of the node's option some path to it allows; 0:
            // not reached.
            let mut partial = vec![0 as Values; self.nodes.len()];
            let root_block = self.nodes[root].block as usize;
            partial[root] = agreeing[root_block];
            skipped[0] += 1;
            skipped[root_block] -= 1;
            for i in (2..self.nodes.len()).rev() {
                let here = partial[i];
                if here == 0 {
                    continue;
                }
                let n = self.nodes[i];
                let block = n.block;
                let edges = live[i];
                let ones = layout.ones[n.var as usize];
                for (edge, child, with) in [(1, n.low, !ones), (2, n.high, ones)] {
                    if edges & edge == 0 {
                        continue;
                    }
                    let child = child as usize;
                    let here = here & with;
                    let to = self.nodes[child].block;
                    if to == block {
                        partial[child] |= here;
                        continue;
                    }
                    values[block as usize] |= here;
                    // Blocks strictly between this one and the child's.
                    if block + 1 < to {
                        skipped[block as usize + 1] += 1;
                        skipped[to as usize] -= 1;
                    }
                    if (to as usize) < blocks {
                        partial[child] |= agreeing[to as usize];
                    }
                }
            }
        }
        let mut running = 0;
        for (rank, value) in values.iter_mut().enumerate() {
            running += skipped[rank];
            if running > 0 {
                *value |= agreeing[rank];
            }
        }
        // By option.
        let mut by_option = vec![0 as Values; blocks];
        for (rank, &option) in layout.by_rank.iter().enumerate() {
            by_option[option] = values[rank];
        }
        Some(by_option)
    }
}
