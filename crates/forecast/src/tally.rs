//! A day's entry tallies, the counts `calibrate` estimates the rates from:
//! per team, stage, age and band of days in stage reached, the entries
//! made by that day, their wins and decisions, and their wins, losses and
//! still-open entries weighted by age.
//!
//! The correction asks for the rates of every month of the history (see
//! `then.rs`), and tallying every entry again each month cost most of it.
//! Most entries stop changing once their deal is decided and they have
//! left the stage (or sat in it past the last band): from that day on only
//! their weight moves, halving every [`RATE_HALF_LIFE_DAYS`] with the same
//! factor for all of them. So entries are swept in the order they settle:
//! a settled entry is added once, its weight kept as its value on the
//! day of the history's first entry, and a day's weighted sums of settled
//! entries are those scaled to the day; only the entries still moving on
//! a day (deals open then) are tallied afresh. Days asked for in
//! increasing order cost one pass over the entries in all.
use std::sync::Mutex;

use rayon::slice::ParallelSliceMut;
use rustc_hash::FxHashMap;

/// Weights are summed as integers of this many parts, so sums are exact
/// whatever order they are added in (a plan id hashes the rates).
pub(crate) const WEIGHT_UNIT: f64 = 1_048_576.0;
/// The age at which a stage entry counts half as much as one made on the
/// forecast date, chosen by backtest (ARCHITECTURE.md has the figures).
pub const RATE_HALF_LIFE_DAYS: f64 = 365.0;

/// No such day (an entry never left its stage, a deal never decided, an
/// entry never settles).
const NEVER: i32 = i32::MAX;
/// Half-lives of weight kept between the oldest entry weighed on its own
/// and the last day prepared: older entries weigh as at that day, less
/// than 2^-60 of a new entry's weight, nothing in [`WEIGHT_UNIT`] parts.
const SPAN_HALF_LIVES: f64 = 60.0;

/// One entry into an open stage, in days since the epoch.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) team: u32,
    pub(crate) place: u32,
    pub(crate) at: i32,
    /// The deal's next event ([`NEVER`] for none).
    pub(crate) left: i32,
    /// The day its deal was decided ([`NEVER`] for not yet).
    pub(crate) closed: i32,
    pub(crate) won: bool,
}

impl Entry {
    /// `day` of an optional date in epoch days, [`NEVER`] for none.
    pub(crate) fn day_or_never(day: Option<i32>) -> i32 {
        day.unwrap_or(NEVER)
    }
}

/// An entry's place in a day's tallies.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Key {
    pub(crate) team: u32,
    pub(crate) place: u32,
    /// Days from the entry to its deal's decision, or to the day while
    /// undecided then (at least 0).
    pub(crate) age: i32,
    /// How many bands after the first its days in stage reached.
    pub(crate) reached: u32,
}

/// What a key's entries did by a day: counts, and weighted outcomes in
/// [`WEIGHT_UNIT`] parts.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) entries: u64,
    pub(crate) wins: u64,
    pub(crate) decided: u64,
    pub(crate) won: i64,
    pub(crate) lost: i64,
    pub(crate) open: i64,
}

/// Settled entries' counts, their weights kept as on the base day.
#[derive(Clone, Copy, Default)]
struct Settled {
    entries: u64,
    wins: u64,
    won: u128,
    lost: u128,
}

/// How far the sweep has come: every entry settled by `day` is in
/// `settled`, and `next` is the first of the rest.
struct Sweep {
    day: i32,
    next: usize,
    settled: FxHashMap<Key, Settled>,
}

impl Sweep {
    fn start() -> Self {
        Sweep {
            day: i32::MIN,
            next: 0,
            settled: FxHashMap::default(),
        }
    }
}

/// The entries, in the order they settle, and the sweep over them.
pub(crate) struct Tallies {
    /// Sorted by `settles`.
    entries: Vec<Entry>,
    /// Per entry (in the same order): the first day from which its key
    /// stays the same ([`NEVER`] for an undecided deal).
    settles: Vec<i32>,
    /// Where the days-in-stage bands start, from 0.
    bands: Vec<i64>,
    /// The day weights of settled entries are kept as on.
    base: i32,
    sweep: Mutex<Sweep>,
}

impl Tallies {
    /// From every entry known on `last` (an epoch day: the latest day
    /// the tallies will be asked for) and the bands' starts.
    pub(crate) fn new(mut entries: Vec<Entry>, bands: &[i64], last: i32) -> Self {
        let last_band = bands.last().copied().unwrap_or(0);
        let settles_of = |e: &Entry| settles(e, last_band);
        entries.par_sort_unstable_by_key(settles_of);
        let settles = entries.iter().map(settles_of).collect();
        let oldest = entries.iter().map(|e| e.at).min().unwrap_or(last);
        let span = (SPAN_HALF_LIVES * RATE_HALF_LIFE_DAYS) as i32;
        Tallies {
            entries,
            settles,
            bands: bands.to_vec(),
            base: oldest.max(last.saturating_sub(span)),
            sweep: Mutex::new(Sweep::start()),
        }
    }

    /// The tallies of `day` (an epoch day), in key order.
    pub(crate) fn on(&self, day: i32) -> Vec<(Key, Counts)> {
        let mut sweep = self
            .sweep
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if day < sweep.day {
            *sweep = Sweep::start();
        }
        let end = self.settles.partition_point(|&s| s <= day);
        for e in &self.entries[sweep.next..end] {
            let key = self.key(e, day);
            let weight = self.base_weight(e.at);
            let s = sweep.settled.entry(key).or_default();
            s.entries += 1;
            if e.won {
                s.wins += 1;
                s.won += weight;
            } else {
                s.lost += weight;
            }
        }
        sweep.next = end;
        sweep.day = day;
        // The settled entries' weights from the base day to `day`.
        let scale = 0.5f64.powf(f64::from(day - self.base) / RATE_HALF_LIFE_DAYS);
        let parts = |w: u128| (w as f64 * scale).round_ties_even() as i64;
        let mut tallies: FxHashMap<Key, Counts> = sweep
            .settled
            .iter()
            .map(|(key, s)| {
                let counts = Counts {
                    entries: s.entries,
                    wins: s.wins,
                    decided: s.entries,
                    won: parts(s.won),
                    lost: parts(s.lost),
                    open: 0,
                };
                (*key, counts)
            })
            .collect();
        drop(sweep);
        // Entries still moving on `day`, tallied as they stand then.
        for e in self.entries[end..].iter().filter(|e| e.at <= day) {
            let c = tallies.entry(self.key(e, day)).or_default();
            let weight = weight_parts(day - e.at);
            let decided = e.closed <= day;
            c.entries += 1;
            match (decided, e.won) {
                (true, true) => {
                    c.wins += 1;
                    c.decided += 1;
                    c.won += weight;
                }
                (true, false) => {
                    c.decided += 1;
                    c.lost += weight;
                }
                (false, _) => c.open += weight,
            }
        }
        let mut tallies: Vec<(Key, Counts)> = tallies.into_iter().collect();
        tallies.sort_unstable_by_key(|(key, _)| *key);
        tallies
    }

    /// The entry's key on `day` (at least its entry day).
    fn key(&self, e: &Entry, day: i32) -> Key {
        let decided_on = if e.closed <= day { e.closed } else { day };
        let in_stage = i64::from(e.left.min(day) - e.at);
        Key {
            team: e.team,
            place: e.place,
            age: (decided_on - e.at).max(0),
            reached: self
                .bands
                .iter()
                .skip(1)
                .filter(|&&b| in_stage >= b)
                .count() as u32,
        }
    }

    /// An entry's weight on the base day, in [`WEIGHT_UNIT`] parts.
    fn base_weight(&self, at: i32) -> u128 {
        let ahead = f64::from(at.max(self.base) - self.base);
        (2f64.powf(ahead / RATE_HALF_LIFE_DAYS) * WEIGHT_UNIT).round_ties_even() as u128
    }
}

/// The first day from which `e`'s key no longer changes: its deal decided,
/// and its days in stage fixed (it left) or past the last band; never for
/// an undecided deal.
fn settles(e: &Entry, last_band: i64) -> i32 {
    if e.closed == NEVER {
        return NEVER;
    }
    let band_passed = i64::from(e.at).saturating_add(last_band.max(0));
    let fixed = i64::from(e.left).min(band_passed);
    i64::from(e.closed)
        .max(fixed)
        .max(i64::from(e.at))
        .min(i64::from(NEVER - 1)) as i32
}

/// The weight of an entry `age` days old, in [`WEIGHT_UNIT`] parts:
/// halved every [`RATE_HALF_LIFE_DAYS`].
fn weight_parts(age: i32) -> i64 {
    (0.5f64.powf(f64::from(age.max(0)) / RATE_HALF_LIFE_DAYS) * WEIGHT_UNIT).round_ties_even()
        as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every entry tallied on `day` from scratch, as the sweep must.
    fn direct(entries: &[Entry], bands: &[i64], day: i32) -> Vec<(Key, Counts)> {
        let t = Tallies::new(Vec::new(), bands, day);
        let mut out: FxHashMap<Key, Counts> = FxHashMap::default();
        for e in entries.iter().filter(|e| e.at <= day) {
            let c = out.entry(t.key(e, day)).or_default();
            let w = weight_parts(day - e.at);
            c.entries += 1;
            if e.closed <= day {
                c.decided += 1;
                if e.won {
                    c.wins += 1;
                    c.won += w;
                } else {
                    c.lost += w;
                }
            } else {
                c.open += w;
            }
        }
        let mut out: Vec<_> = out.into_iter().collect();
        out.sort_unstable_by_key(|(k, _)| *k);
        out
    }

    fn entries() -> Vec<Entry> {
        // A few deterministic entries of every kind: decided or not, left
        // or not, re-opened (next event after the decision), decided
        // before entering.
        let mut out = Vec::new();
        let mut seed = 7u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % n) as i32
        };
        for i in 0..2000 {
            let at = next(700);
            let left = match next(4) {
                0 => NEVER,
                _ => at + next(200),
            };
            let closed = match next(5) {
                0 => NEVER,
                1 => at - next(3),
                _ => at + next(400),
            };
            out.push(Entry {
                team: i % 3,
                place: (i / 3) % 4,
                at,
                left,
                closed,
                won: next(3) == 0,
            });
        }
        out
    }

    fn close(a: &[(Key, Counts)], b: &[(Key, Counts)]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|((ka, ca), (kb, cb))| {
                let near = |x: i64, y: i64| (x - y).abs() <= 2 + x.abs().max(y.abs()) / 100_000;
                ka == kb
                    && (ca.entries, ca.wins, ca.decided) == (cb.entries, cb.wins, cb.decided)
                    && near(ca.won, cb.won)
                    && near(ca.lost, cb.lost)
                    && ca.open == cb.open
            })
    }

    #[test]
    fn a_swept_day_tallies_as_every_entry_counted_afresh() {
        let bands = [0, 7, 30, 90, 180];
        let tallies = Tallies::new(entries(), &bands, 800);
        // Forward, then back (the sweep starts again), then forward.
        for day in [100, 250, 251, 400, 799, 800, 50, 300, 600] {
            let swept = tallies.on(day);
            assert!(!swept.is_empty());
            assert!(close(&swept, &direct(&entries(), &bands, day)), "day {day}");
        }
    }
}
