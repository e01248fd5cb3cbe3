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

/// Conflicting prefixes longer than this are minimised carrying the
/// background's conjunction ([`Tests::explain_carried`]).
const CARRY_FROM: usize = 64;

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
    /// `work`: the conjunction steps the tests may take.
    fn new(base: &[&Bdd], bdds: &'c [&'c Bdd], fixed: &'c [Option<bool>], work: u64) -> Tests<'c> {
        let variables = base.first().map_or(0, |b| b.num_vars() as usize);
        let mut table = Table::with_limit(variables, work);
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

    /// `root` conjoined with the candidates at positions `subset`, all of
    /// them bottom-up (deepest top variable first).
    fn and_all(&mut self, root: u32, subset: &[usize]) -> u32 {
        let mut roots: Vec<(u32, u32)> = subset.iter().map(|&i| self.root(i)).collect();
        roots.push((self.table.var(root), root));
        roots.sort_unstable_by_key(|&(top, root)| (std::cmp::Reverse(top), root));
        let mut all = TRUE;
        for (_, part) in roots {
            all = self.table.and(all, part);
            if all == FALSE {
                return FALSE;
            }
        }
        all
    }

    /// Whether the base and the candidates at positions `subset` conflict.
    fn conflict(&mut self, subset: &[usize]) -> bool {
        self.and_all(self.base, subset) == FALSE
    }

    /// Takes the steps the tests took from `work`; whether they stayed
    /// within it (else every answer is void and `work` is spent).
    fn settle(&self, work: &mut u64) -> bool {
        if self.table.exhausted() {
            *work = 0;
            false
        } else {
            *work = work.saturating_sub(self.table.steps);
            true
        }
    }

    /// QuickXplain: the minimal part of `pool` that conflicts with
    /// `background` (which together with all of `pool` conflicts). Each
    /// test conjoins its whole background afresh, bottom-up: cheapest
    /// while backgrounds are small.
    fn explain(&mut self, background: &mut Vec<usize>, added: bool, pool: &[usize]) -> Vec<usize> {
        if self.table.exhausted() || added && self.conflict(background) {
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

    /// [`Self::explain`] with the background conjoined at `background`:
    /// each step conjoins onto the background's root instead of
    /// conjoining the whole background again. Cheaper when backgrounds
    /// grow long (a chain of hundreds of candidates), dearer when they
    /// stay short (every conjunction walks the background's diagram).
    fn explain_carried(&mut self, background: u32, added: bool, pool: &[usize]) -> Vec<usize> {
        if self.table.exhausted() || added && background == FALSE {
            return Vec::new();
        }
        if pool.len() <= 1 {
            return pool.to_vec();
        }
        let (first, second) = pool.split_at(pool.len() / 2);
        let with_first = self.and_all(background, first);
        let mut from_second = self.explain_carried(with_first, true, second);
        let with_second = self.and_all(background, &from_second);
        let from_first = self.explain_carried(with_second, !from_second.is_empty(), first);
        from_second.extend(from_first);
        from_second
    }
}

/// Whether the `base` parts and all of `parts`, with the `fixed` bits
/// set, cannot hold together; `None` when finding out takes more than
/// `work` steps (then spent).
pub(crate) fn conflicts(
    base: &[&Bdd],
    parts: &[&Bdd],
    fixed: &[Option<bool>],
    work: &mut u64,
) -> Option<bool> {
    let all: Vec<usize> = (0..parts.len()).collect();
    let mut tests = Tests::new(base, parts, fixed, *work);
    let conflict = tests.conflict(&all);
    tests.settle(work).then_some(conflict)
}

/// Indices of `candidates` (constraints given by `bdd`) that, with the
/// `base` parts and the `fixed` bits set, cannot all hold, none of them
/// superfluous; sorted. `candidates` in order of preference; together
/// with `base` they must conflict (if they do not, all of them come back).
/// `budget`: `None` when the first this many candidates (or all, when
/// fewer) do not conflict. `work`: the conjunction steps the search may
/// take, less those it took; `None` past them.
pub(crate) fn minimal_rules<'c>(
    bdd: impl Fn(usize) -> &'c Bdd,
    base: &[&Bdd],
    fixed: &[Option<bool>],
    candidates: Vec<usize>,
    budget: Option<usize>,
    work: &mut u64,
) -> Option<Vec<usize>> {
    let within = budget.map_or(candidates.len(), |b| b.min(candidates.len()));
    let bdds: Vec<&Bdd> = candidates[..within].iter().map(|&k| bdd(k)).collect();
    let mut tests = Tests::new(base, &bdds, fixed, *work);
    let found = search(&mut tests, candidates, budget);
    if tests.settle(work) { found } else { None }
}

/// [`minimal_rules`] over `tests`, its candidates in order.
fn search(
    tests: &mut Tests<'_>,
    candidates: Vec<usize>,
    budget: Option<usize>,
) -> Option<Vec<usize>> {
    let within = tests.bdds.len();
    // Most often one rule alone does it.
    if let Some(i) = (0..within.min(32)).find(|&i| tests.conflict(&[i])) {
        return Some(vec![candidates[i]]);
    }
    let positions: Vec<usize> = (0..within).collect();
    if !tests.conflict(&positions) {
        return budget.is_none().then_some(candidates);
    }
    // The shortest conflicting prefix, to a factor of two. Among many
    // candidates, each longer prefix is conjoined onto the shorter one.
    let carry = within > CARRY_FROM;
    let mut length = 8.min(within);
    let mut prefix = tests.and_all(tests.base, &positions[..length]);
    while prefix != FALSE && length < within {
        let longer = (length * 2).min(within);
        prefix = if carry {
            tests.and_all(prefix, &positions[length..longer])
        } else {
            tests.and_all(tests.base, &positions[..longer])
        };
        length = longer;
    }
    let found = if carry {
        let base = tests.base;
        tests.explain_carried(base, false, &positions[..length])
    } else {
        tests.explain(&mut Vec::new(), false, &positions[..length])
    };
    let mut out: Vec<usize> = found.into_iter().map(|i| candidates[i]).collect();
    out.sort_unstable();
    Some(out)
}
