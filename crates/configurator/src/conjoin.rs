//! The conjunction of a model's constraints over one shared node table.
//!
//! Each conjunction of a standalone diagram copies the whole result, so
//! conjoining thousands of constraints one after another into a growing
//! diagram costs (constraints × diagram size). Here every node lives once
//! in a table with a unique index, and the constraints are conjoined
//! bottom-up: the one whose top variable is deepest first. Each conjunction
//! then walks only the part of the diagram so far that lies within the new
//! constraint's variables and reuses everything below them as it is.
use biodivine_lib_bdd::{Bdd, BddPointer};
use rustc_hash::FxHashMap;

pub(crate) const FALSE: u32 = 0;
pub(crate) const TRUE: u32 = 1;

/// A decision on `var`: `low` when the bit is 0, `high` when it is 1.
/// Terminals sit at the variable one past the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Node {
    pub var: u32,
    pub low: u32,
    pub high: u32,
}

pub(crate) struct Table {
    pub nodes: Vec<Node>,
    unique: FxHashMap<Node, u32>,
    /// Conjunctions computed during the current [`Table::and`].
    memo: FxHashMap<(u32, u32), u32>,
    /// Pairs [`Table::and`] has visited, and how many it may visit: past
    /// the limit it stops and every later conjunction answers `true`, so
    /// the caller must check [`Table::exhausted`] before trusting any
    /// answer (time and memory both grow with the visits).
    pub steps: u64,
    limit: u64,
}

enum Task {
    /// Conjoin the pair and push the result.
    Visit(u32, u32),
    /// Pop the high and low results, make the node on `var`, memoise it
    /// under the pair.
    Build(u32, (u32, u32)),
}

impl Table {
    pub fn new(variables: usize) -> Self {
        let terminal = Node {
            var: variables as u32,
            low: FALSE,
            high: FALSE,
        };
        Table {
            nodes: vec![terminal, terminal],
            unique: FxHashMap::default(),
            memo: FxHashMap::default(),
            steps: 0,
            limit: u64::MAX,
        }
    }

    /// A table whose conjunctions stop after `limit` visits in all.
    pub fn with_limit(variables: usize, limit: u64) -> Self {
        Table {
            limit,
            ..Table::new(variables)
        }
    }

    /// Whether a conjunction ran past the limit (its answers since are
    /// meaningless).
    pub fn exhausted(&self) -> bool {
        self.steps > self.limit
    }

    pub fn var(&self, node: u32) -> u32 {
        self.nodes[node as usize].var
    }

    fn make(&mut self, var: u32, low: u32, high: u32) -> u32 {
        if low == high {
            return low;
        }
        let node = Node { var, low, high };
        let next = self.nodes.len() as u32;
        let index = *self.unique.entry(node).or_insert(next);
        if index == next {
            self.nodes.push(node);
        }
        index
    }

    /// Brings a standalone diagram into the table.
    pub fn import(&mut self, bdd: &Bdd) -> u32 {
        self.import_restricted(bdd, &[])
    }

    /// Brings a standalone diagram into the table with the variables
    /// `fixed` holds (by index; missing or `None` are free) set to their
    /// values: one pass over its nodes, each fixed one replaced by the
    /// child its value selects.
    pub fn import_restricted(&mut self, bdd: &Bdd, fixed: &[Option<bool>]) -> u32 {
        if let Some(value) = bdd.as_bool() {
            return if value { TRUE } else { FALSE };
        }
        // Children sit at deeper variables, so decreasing variable order
        // makes every child before its parents.
        let mut order: Vec<BddPointer> = bdd.pointers().filter(|p| !p.is_terminal()).collect();
        order.sort_by_key(|p| std::cmp::Reverse(bdd.var_of(*p).to_index()));
        let mut position = vec![FALSE; bdd.size()];
        position[BddPointer::one().to_index()] = TRUE;
        for p in order {
            let var = bdd.var_of(p).to_index();
            let low = position[bdd.low_link_of(p).to_index()];
            let high = position[bdd.high_link_of(p).to_index()];
            position[p.to_index()] = match fixed.get(var).copied().flatten() {
                Some(true) => high,
                Some(false) => low,
                None => self.make(var as u32, low, high),
            };
        }
        position[bdd.root_pointer().to_index()]
    }

    /// `a ∧ b`, without recursion (a diagram may have tens of thousands
    /// of levels).
    pub fn and(&mut self, a: u32, b: u32) -> u32 {
        if self.exhausted() {
            return TRUE;
        }
        self.memo.clear();
        let mut tasks = vec![Task::Visit(a, b)];
        let mut results: Vec<u32> = Vec::new();
        while let Some(task) = tasks.pop() {
            match task {
                Task::Visit(a, b) => {
                    self.steps += 1;
                    if self.steps > self.limit {
                        return TRUE;
                    }
                    let done = if a == FALSE || b == FALSE {
                        Some(FALSE)
                    } else if a == TRUE || a == b {
                        Some(b)
                    } else if b == TRUE {
                        Some(a)
                    } else {
                        self.memo.get(&(a.min(b), a.max(b))).copied()
                    };
                    if let Some(done) = done {
                        results.push(done);
                        continue;
                    }
                    let (na, nb) = (self.nodes[a as usize], self.nodes[b as usize]);
                    let var = na.var.min(nb.var);
                    let (a0, a1) = if na.var == var {
                        (na.low, na.high)
                    } else {
                        (a, a)
                    };
                    let (b0, b1) = if nb.var == var {
                        (nb.low, nb.high)
                    } else {
                        (b, b)
                    };
                    tasks.push(Task::Build(var, (a.min(b), a.max(b))));
                    tasks.push(Task::Visit(a1, b1));
                    tasks.push(Task::Visit(a0, b0));
                }
                Task::Build(var, key) => {
                    let high = results.pop().unwrap_or(FALSE);
                    let low = results.pop().unwrap_or(FALSE);
                    let node = self.make(var, low, high);
                    self.memo.insert(key, node);
                    results.push(node);
                }
            }
        }
        results.pop().unwrap_or(FALSE)
    }

    /// The nodes reachable from `root`, children before parents (by
    /// decreasing variable), renumbered with 0 and 1 the terminals; and
    /// the root's new index.
    pub fn extract(&self, root: u32) -> (Vec<Node>, u32) {
        let terminal = self.nodes[FALSE as usize];
        if root <= TRUE {
            return (vec![terminal, terminal], root);
        }
        let mut seen = vec![false; self.nodes.len()];
        let mut stack = vec![root];
        let mut reached = Vec::new();
        seen[root as usize] = true;
        while let Some(n) = stack.pop() {
            reached.push(n);
            let node = self.nodes[n as usize];
            for child in [node.low, node.high] {
                if child > TRUE && !std::mem::replace(&mut seen[child as usize], true) {
                    stack.push(child);
                }
            }
        }
        reached.sort_by_key(|&n| std::cmp::Reverse(self.nodes[n as usize].var));
        // Terminals keep their indices.
        let mut position: Vec<u32> = (0..self.nodes.len() as u32).collect();
        let mut out = vec![terminal, terminal];
        for n in reached {
            let node = self.nodes[n as usize];
            position[n as usize] = out.len() as u32;
            out.push(Node {
                var: node.var,
                low: position[node.low as usize],
                high: position[node.high as usize],
            });
        }
        (out, position[root as usize])
    }
}
