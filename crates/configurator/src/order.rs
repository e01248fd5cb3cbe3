//! The order of the options' blocks among the variables.
//!
//! A diagram stays small when the options a constraint relates sit close
//! together: then few partial assignments are pending at any level. Models
//! list options in whatever order their authors wrote them, so the order is
//! chosen from the constraints themselves. Candidates: the model's own
//! order, a Cuthill–McKee order (breadth first from a peripheral option,
//! which lays a chain of related options out along the chain), and rounds
//! of the FORCE heuristic (Aloul, Markov and Sakallah, 2003: each option
//! moves to the mean centre of the constraints it is in) from each. The
//! one with the least total span (Σ over constraints of last rank − first
//! rank) is kept; the model's own order wins ties.
//!
//! Constraints over more than half of the options (a power budget over the
//! whole product) span the diagram whatever the order, so they do not pull.

/// Rounds of FORCE; it settles within a few on real models.
const ROUNDS: usize = 24;

/// Options by rank, from the constraints' scopes (options each mentions).
pub(crate) fn variable_order(options: usize, scopes: &[Vec<usize>]) -> Vec<usize> {
    let local: Vec<&[usize]> = scopes
        .iter()
        .filter(|s| s.len() >= 2 && s.len() * 2 <= options.max(2))
        .map(Vec::as_slice)
        .collect();
    let model_order: Vec<usize> = (0..options).collect();
    if local.is_empty() {
        return model_order;
    }
    let mut touching = vec![Vec::new(); options];
    for (k, scope) in local.iter().enumerate() {
        for &o in *scope {
            touching[o].push(k);
        }
    }
    let breadth_first = cuthill_mckee(&local, &touching);
    let mut best = model_order.clone();
    let mut best_span = span(&local, &best);
    for start in [model_order, breadth_first] {
        for candidate in force(&local, &touching, start) {
            let s = span(&local, &candidate);
            if s < best_span {
                best_span = s;
                best = candidate;
            }
        }
    }
    best
}

/// Breadth-first order from a peripheral option, neighbours (options
/// sharing a constraint) least connected first, component after
/// component: options a constraint relates land in neighbouring levels.
fn cuthill_mckee(local: &[&[usize]], touching: &[Vec<usize>]) -> Vec<usize> {
    let options = touching.len();
    let degree: Vec<usize> = touching
        .iter()
        .map(|ks| ks.iter().map(|&k| local[k].len() - 1).sum())
        .collect();
    let mut placed = vec![false; options];
    let mut order = Vec::with_capacity(options);
    let mut by_degree: Vec<usize> = (0..options).collect();
    by_degree.sort_by_key(|&o| degree[o]);
    for &seed in &by_degree {
        if placed[seed] {
            continue;
        }
        // A far end of the component: the last option reached from the
        // seed, twice over.
        let mut start = seed;
        for _ in 0..2 {
            let levels = breadth_first(start, local, touching, &degree, &placed);
            start = levels.last().copied().unwrap_or(start);
        }
        for o in breadth_first(start, local, touching, &degree, &placed) {
            placed[o] = true;
            order.push(o);
        }
    }
    order
}

/// The options reachable from `start` among those not `placed`, level by
/// level, each option's new neighbours least connected first.
fn breadth_first(
    start: usize,
    local: &[&[usize]],
    touching: &[Vec<usize>],
    degree: &[usize],
    placed: &[bool],
) -> Vec<usize> {
    let mut seen = placed.to_vec();
    seen[start] = true;
    let mut out = vec![start];
    let mut next = 0;
    while next < out.len() {
        let o = out[next];
        next += 1;
        let first_new = out.len();
        for &k in &touching[o] {
            for &p in local[k] {
                if !std::mem::replace(&mut seen[p], true) {
                    out.push(p);
                }
            }
        }
        out[first_new..].sort_by_key(|&p| degree[p]);
    }
    out
}

/// FORCE from `start`: every round's order (the caller keeps the best).
fn force(local: &[&[usize]], touching: &[Vec<usize>], start: Vec<usize>) -> Vec<Vec<usize>> {
    let options = touching.len();
    let mut rank = vec![0f64; options];
    for (r, &o) in start.iter().enumerate() {
        rank[o] = r as f64;
    }
    let mut by_rank = start;
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        let centre: Vec<f64> = local
            .iter()
            .map(|s| s.iter().map(|&o| rank[o]).sum::<f64>() / s.len() as f64)
            .collect();
        let pull: Vec<f64> = (0..options)
            .map(|o| match touching[o].len() {
                0 => rank[o],
                n => touching[o].iter().map(|&k| centre[k]).sum::<f64>() / n as f64,
            })
            .collect();
        let mut next = by_rank.clone();
        next.sort_by(|&a, &b| {
            pull[a]
                .total_cmp(&pull[b])
                .then(rank[a].total_cmp(&rank[b]))
        });
        if next == by_rank {
            break;
        }
        by_rank = next;
        for (r, &o) in by_rank.iter().enumerate() {
            rank[o] = r as f64;
        }
        rounds.push(by_rank.clone());
    }
    rounds.insert(0, by_rank);
    rounds
}

/// Σ over scopes of the distance between their first and last option.
fn span(scopes: &[&[usize]], by_rank: &[usize]) -> usize {
    let mut rank = vec![0; by_rank.len()];
    for (r, &o) in by_rank.iter().enumerate() {
        rank[o] = r;
    }
    scopes
        .iter()
        .map(|s| {
            let (lo, hi) = s.iter().fold((usize::MAX, 0), |(lo, hi), &o| {
                (lo.min(rank[o]), hi.max(rank[o]))
            });
            hi - lo
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_listed_out_of_order_is_laid_out_along_the_chain() {
        // Constraints link 0-5, 5-2, 2-7, 7-1, ...: a chain the model
        // lists scrambled; the order found follows it.
        let chain = [0, 5, 2, 7, 1, 6, 3, 4];
        let scopes: Vec<Vec<usize>> = chain.windows(2).map(|w| w.to_vec()).collect();
        let order = variable_order(8, &scopes);
        let local: Vec<&[usize]> = scopes.iter().map(Vec::as_slice).collect();
        let identity: Vec<usize> = (0..8).collect();
        assert!(span(&local, &order) < span(&local, &identity));
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, identity, "every option exactly once");
    }

    #[test]
    fn a_model_already_in_a_good_order_keeps_it() {
        let scopes: Vec<Vec<usize>> = (0..9).map(|i| vec![i, i + 1]).collect();
        assert_eq!(variable_order(10, &scopes), (0..10).collect::<Vec<_>>());
    }
}
