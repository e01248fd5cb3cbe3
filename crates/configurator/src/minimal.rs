//! A smallest set of constraints that cannot hold together with a base:
//! none of them superfluous.
//!
//! Every test conjoins a subset bottom-up over one shared node table (as
//! the compile does), so a test costs about the size of the constraints
//! involved, not of everything conjoined before. The conflicting prefix of
//! the candidates (in order of preference) is found by doubling; within it,
//! QuickXplain (Junker, 2004) finds a minimal subset with about
//! k · log(n / k) tests for k necessary constraints out of n, preferring
//! earlier candidates.
use biodivine_lib_bdd::Bdd;

use crate::conjoin::{FALSE, TRUE, Table};

struct Tests<'c> {
    /// The candidates' constraints.
    bdds: &'c [&'c Bdd],
    /// Bits the tests hold fixed (by variable; `None` free).
    fixed: &'c [Option<bool>],
    table: Table,
    base: u32,
    /// Each candidate's root in the table and its top variable, once
    /// imported.
    imported: Vec<Option<(u32, u32)>>,
}

impl<'c> Tests<'c> {
    /// `base`: parts that always hold, conjoined.
    fn new(base: &[&Bdd], bdds: &'c [&'c Bdd], fixed: &'c [Option<bool>]) -> Tests<'c> {
        let variables = base.first().map_or(0, |b| b.num_vars() as usize);
        let mut table = Table::new(variables);
        let mut root = TRUE;
        for part in base {
            let part = table.import_restricted(part, fixed);
            root = table.and(root, part);
        }
        Tests {
            bdds,
            fixed,
            table,
            base: root,
            imported: vec![None; bdds.len()],
        }
    }

    fn root(&mut self, i: usize) -> (u32, u32) {
        if let Some(done) = self.imported[i] {
            return done;
        }
        let root = self.table.import_restricted(self.bdds[i], self.fixed);
        let done = (self.table.var(root), root);
        self.imported[i] = Some(done);
        done
    }

    /// Whether the base and the candidates at positions `subset` conflict.
    fn conflict(&mut self, subset: &[usize]) -> bool {
        let mut roots: Vec<(u32, u32)> = subset.iter().map(|&i| self.root(i)).collect();
        roots.push((self.table.var(self.base), self.base));
        roots.sort_unstable_by_key(|&(top, root)| (std::cmp::Reverse(top), root));
        let mut all = TRUE;
        for (_, root) in roots {
            all = self.table.and(all, root);
            if all == FALSE {
                return true;
            }
        }
        false
    }

    /// QuickXplain: the minimal part of `pool` that conflicts with
    /// `background` (which together with all of `pool` conflicts).
    fn explain(&mut self, background: &mut Vec<usize>, added: bool, pool: &[usize]) -> Vec<usize> {
        if added && self.conflict(background) {
            return Vec::new();
        }
        if pool.len() <= 1 {
            return pool.to_vec();
        }
        let (first, second) = pool.split_at(pool.len() / 2);
        let mark = background.len();
        background.extend_from_slice(first);
        let mut from_second = self.explain(background, true, second);
        background.truncate(mark);
        background.extend_from_slice(&from_second);
        let from_first = self.explain(background, !from_second.is_empty(), first);
        background.truncate(mark);
        from_second.extend(from_first);
        from_second
    }
}

/// Whether the `base` parts and all of `parts`, with the `fixed` bits
/// set, cannot hold together.
pub(crate) fn conflicts(base: &[&Bdd], parts: &[&Bdd], fixed: &[Option<bool>]) -> bool {
    let all: Vec<usize> = (0..parts.len()).collect();
    Tests::new(base, parts, fixed).conflict(&all)
}

/// Indices of `candidates` (constraints given by `bdd`) that, with the
/// `base` parts and the `fixed` bits set, cannot all hold, none of them
/// superfluous; sorted. `candidates` in order of preference; together
/// with `base` they must conflict (if they do not, all of them come back).
/// `budget`: `None` when the first this many candidates (or all, when
/// fewer) do not conflict.
pub(crate) fn minimal_rules<'c>(
    bdd: impl Fn(usize) -> &'c Bdd,
    base: &[&Bdd],
    fixed: &[Option<bool>],
    candidates: Vec<usize>,
    budget: Option<usize>,
) -> Option<Vec<usize>> {
    let within = budget.map_or(candidates.len(), |b| b.min(candidates.len()));
    let bdds: Vec<&Bdd> = candidates[..within].iter().map(|&k| bdd(k)).collect();
    let mut tests = Tests::new(base, &bdds, fixed);
    // Most often one rule alone does it.
    if let Some(i) = (0..within.min(32)).find(|&i| tests.conflict(&[i])) {
        return Some(vec![candidates[i]]);
    }
    let positions: Vec<usize> = (0..within).collect();
    if !tests.conflict(&positions) {
        return budget.is_none().then_some(candidates);
    }
    // The shortest conflicting prefix, to a factor of two.
    let mut length = 8.min(within);
    while !tests.conflict(&positions[..length]) {
        length = (length * 2).min(within);
    }
    let found = tests.explain(&mut Vec::new(), false, &positions[..length]);
    let mut out: Vec<usize> = found.into_iter().map(|i| candidates[i]).collect();
    out.sort_unstable();
    Some(out)
}
