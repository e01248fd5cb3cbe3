//! Which deals win in one Monte Carlo trial, in time that grows with the
//! winners rather than with the deals.
//!
//! Every deal is won independently with its own probability. Drawing a
//! number per deal and trial costs the same for a deal at 2 % as for one
//! at 80 %, and a real pipeline is mostly early-stage deals that rarely
//! win. Here deals are sorted into bands of probability, each with a
//! ceiling `q` at most 2^¼ times its lowest member's probability (deals
//! above one half share the ceiling 1: each is tested in turn). Within a
//! band the trial jumps from candidate to candidate: the number of deals
//! skipped before the next one is geometric (`⌊ln U / ln(1 − q)⌋`), as it
//! is between successes of coin flips at `q`, and a candidate is won with
//! probability `p / q`. Each deal is so won with probability `q · p / q =
//! p`, independently of the others, as if flipped on its own, and a trial
//! costs about one random number and one logarithm per candidate (about
//! 1.1 × the expected winners), not one number per deal.
//!
//! One 64-bit draw serves a candidate: its high half the jump to the next
//! candidate, its low half the acceptance (both resolve to 2⁻³²). Where
//! a won deal's acceptance draw fell below its threshold is uniform and
//! independent of the win: [`Won::point`] picks its slippage point from
//! it.
use rand::Rng;

/// Bands per halving of the probability: a band's ceiling is at most
/// 2^(1/BANDS_PER_HALVING) times its members' probabilities, so at least
/// 84 % of candidates are won (50 % in the band of ceiling 1).
const BANDS_PER_HALVING: f64 = 4.0;
/// The lowest band's ceiling is 2^-(LOWEST / BANDS_PER_HALVING) = 2⁻²⁰:
/// deals below it share that band and are accepted rarely.
const LOWEST: usize = 80;
/// Deals above 2^-(DENSE / BANDS_PER_HALVING) = 1/2 share the band of
/// ceiling 1: each is a candidate, tested without a jump or a logarithm,
/// which costs less than jumping once the probability is this high.
const DENSE: usize = 4;
/// 2³², the scale of 32-bit thresholds.
pub(crate) const TWO_POW_32: f64 = 4_294_967_296.0;

/// A band of deals with probabilities at most `ceiling`.
#[derive(Debug, Clone, Copy)]
struct Band {
    /// Its deals are `order[first..end]`.
    first: usize,
    end: usize,
    /// `1 / ln(1 − ceiling)` (−0 for a ceiling of 1: no deal is skipped).
    per_log: f64,
}

/// The deals of a trial set, sorted into bands of probability.
#[derive(Debug, Clone, Default)]
pub struct WinDraw {
    bands: Vec<Band>,
    /// Deal numbers, band by band, in their given order within a band.
    order: Vec<u32>,
    /// Per position in `order`: a candidate is won when its 32 low bits
    /// are below this (`p / ceiling` scaled to 2³², up to 2³²: always).
    accept: Vec<u64>,
}

impl WinDraw {
    /// Deals numbered by their place in `probabilities`; a probability of 0
    /// or less (or NaN) never wins, 1 or more always does.
    pub fn new(probabilities: impl IntoIterator<Item = f64>) -> Self {
        let mut by_band: Vec<Vec<(u32, u64)>> = vec![Vec::new(); LOWEST + 1];
        for (deal, p) in probabilities.into_iter().enumerate() {
            // Probabilities of 0, below 0 or NaN are never won.
            if p.is_nan() || p <= 0.0 {
                continue;
            }
            let band = band_of(p);
            let accept = (p / ceiling(band) * TWO_POW_32)
                .round()
                .clamp(0.0, TWO_POW_32) as u64;
            by_band[band].push((deal as u32, accept));
        }
        let mut draw = WinDraw::default();
        for (band, deals) in by_band.into_iter().enumerate() {
            if deals.is_empty() {
                continue;
            }
            let first = draw.order.len();
            for (deal, accept) in deals {
                draw.order.push(deal);
                draw.accept.push(accept);
            }
            draw.bands.push(Band {
                first,
                end: draw.order.len(),
                per_log: 1.0 / (-ceiling(band)).ln_1p(),
            });
        }
        draw
    }

    /// The deals that can win, by number, in the order a trial draws
    /// them: band by band, in their given order within a band. Deals
    /// numbered in this order are read front to back by a trial.
    pub fn order(&self) -> &[u32] {
        &self.order
    }

    /// The same draw for the deals renumbered in draw order: deal `i` is
    /// the `i`th of [`WinDraw::order`] (for a caller that stores its deals
    /// so, which a trial then reads front to back).
    pub fn renumbered(mut self) -> Self {
        self.order = (0..self.order.len() as u32).collect();
        self
    }

    /// The deals that can win.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Draws one trial from `rng`: calls `won` for each deal won, band by
    /// band, [`Won::deal`] its number.
    pub fn draw<R: Rng + ?Sized>(&self, rng: &mut R, mut won: impl FnMut(Won)) {
        let mut walk = self.start(rng);
        self.walk_to(&mut walk, rng, usize::MAX, |w| {
            won(Won {
                deal: self.order[w.deal] as usize,
                ..w
            });
        });
    }

    /// A trial's walk, standing at its first candidate. Walks of several
    /// trials taken a stretch of deals at a time ([`WinDraw::walk_to`])
    /// draw exactly what [`WinDraw::draw`] draws for each, while the
    /// stretch's deals stay in the processor's cache for all of them.
    pub fn start<R: Rng + ?Sized>(&self, rng: &mut R) -> Walk {
        let mut walk = Walk {
            band: 0,
            next: 0,
            low: 0,
        };
        if let Some(band) = self.bands.first() {
            self.jump(&mut walk, rng, band.first);
        } else {
            walk.next = usize::MAX;
        }
        walk
    }

    /// Goes on with `walk` up to the deal at position `end` of the draw
    /// order (not included): calls `won` for each deal won, [`Won::deal`]
    /// its position in the draw order (`order()[position]` is its number).
    pub fn walk_to<R: Rng + ?Sized>(
        &self,
        walk: &mut Walk,
        rng: &mut R,
        end: usize,
        mut won: impl FnMut(Won),
    ) {
        while walk.next < end {
            let at = walk.next;
            let accept = self.accept[at];
            if walk.low < accept {
                won(Won {
                    deal: at,
                    low: walk.low,
                    accept,
                });
            }
            self.jump(walk, rng, at + 1);
        }
    }

    /// Moves `walk` to the next candidate at or after position `from` of
    /// its band, or of the bands after it when its band has none left.
    fn jump<R: Rng + ?Sized>(&self, walk: &mut Walk, rng: &mut R, mut from: usize) {
        while let Some(band) = self.bands.get(walk.band) {
            let x = rng.next_u64();
            // U in (0, 1]: ln U ≤ 0 and `per_log` < 0, so the jump is ≥ 0;
            // float to integer casts saturate.
            let u = ((x >> 32) as f64 + 1.0) / TWO_POW_32;
            // A ceiling of 1 skips no deal: no logarithm needed.
            let skip = if band.per_log == 0.0 {
                0
            } else {
                (u.ln() * band.per_log) as usize
            };
            let at = from.saturating_add(skip);
            if at < band.end {
                walk.next = at;
                walk.low = x & 0xFFFF_FFFF;
                return;
            }
            walk.band += 1;
            from = self.bands.get(walk.band).map_or(usize::MAX, |b| b.first);
        }
        walk.next = usize::MAX;
    }
}

/// A deal won in a trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Won {
    /// Its number ([`WinDraw::draw`]) or position in the draw order
    /// ([`WinDraw::walk_to`]).
    pub deal: usize,
    /// The acceptance draw, below `accept`: uniform there.
    low: u64,
    accept: u64,
}

impl Won {
    /// One of `points` equally likely points (slippage points), chosen by
    /// where the acceptance draw fell below its threshold: independent of
    /// the win, and free of a further draw.
    pub fn point(&self, points: u32) -> u32 {
        if points <= 1 {
            return 0;
        }
        let point = self.low * u64::from(points) / self.accept.max(1);
        (point as u32).min(points - 1)
    }
}

/// Where one trial's walk through the deals stands: its band and next
/// candidate, with the low half of the draw that decides it.
#[derive(Debug, Clone, Copy)]
pub struct Walk {
    band: usize,
    next: usize,
    low: u64,
}

/// The band of probability `p` > 0: the `b` with `2^-((b+1)/4) < p ≤
/// 2^-(b/4)`, at most [`LOWEST`], and 0 above 2^-(DENSE/4).
fn band_of(p: f64) -> usize {
    let b = (-p.log2() * BANDS_PER_HALVING).floor();
    if b.is_nan() || b < DENSE as f64 {
        0
    } else {
        (b as usize).min(LOWEST)
    }
}

fn ceiling(band: usize) -> f64 {
    (-(band as f64) / BANDS_PER_HALVING).exp2()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    /// Wins per deal and pairs of neighbouring deals won together, with
    /// the `u` of each win counted in `slots` equal parts.
    fn tally(p: &[f64], trials: u64, slots: usize) -> (Vec<u64>, Vec<u64>, Vec<Vec<u64>>) {
        let draw = WinDraw::new(p.iter().copied());
        let mut wins = vec![0u64; p.len()];
        let mut pairs = vec![0u64; p.len()];
        let mut spread = vec![vec![0u64; slots]; p.len()];
        let mut won_now = vec![false; p.len()];
        for t in 0..trials {
            won_now.fill(false);
            let mut rng = Pcg64Mcg::seed_from_u64(t);
            draw.draw(&mut rng, |won| {
                let deal = won.deal;
                assert!(!won_now[deal], "deal {deal} won twice in a trial");
                won_now[deal] = true;
                wins[deal] += 1;
                spread[deal][won.point(slots as u32) as usize] += 1;
            });
            for i in 1..p.len() {
                pairs[i] += u64::from(won_now[i] && won_now[i - 1]);
            }
        }
        (wins, pairs, spread)
    }

    #[test]
    fn each_deal_wins_as_often_as_its_probability_says_and_on_its_own() {
        // Probabilities across every band, repeated so bands hold many
        // deals, with the extremes.
        let base = [
            0.0, 1e-7, 1e-3, 0.02, 0.05, 0.071, 0.15, 0.33, 0.5, 0.57, 0.76, 0.84, 0.9, 0.999, 1.0,
            1.5, -0.2,
        ];
        let p: Vec<f64> = (0..40).flat_map(|_| base).collect();
        let trials = 40_000u64;
        let (wins, pairs, _) = tally(&p, trials, 1);
        for (i, (&p, &w)) in p.iter().zip(&wins).enumerate() {
            let expected = p.clamp(0.0, 1.0) * trials as f64;
            // Four binomial standard deviations, at least one win.
            let slack = 4.0 * (expected * (1.0 - p.clamp(0.0, 1.0))).sqrt() + 1.0;
            assert!(
                (w as f64 - expected).abs() <= slack,
                "deal {i} at {p}: {w} wins of {trials}, expected {expected:.0}"
            );
        }
        // Neighbours are independent: both win as often as the product
        // of their probabilities says.
        for i in 1..p.len() {
            let (a, b) = (p[i].clamp(0.0, 1.0), p[i - 1].clamp(0.0, 1.0));
            let expected = a * b * trials as f64;
            let slack = 4.0 * (expected * (1.0 - a * b)).sqrt() + 1.0;
            assert!(
                (pairs[i] as f64 - expected).abs() <= slack,
                "deals {i} and {}: both won {} times, expected {expected:.0}",
                i - 1,
                pairs[i]
            );
        }
    }

    #[test]
    fn a_trials_total_varies_as_independent_wins_would() {
        // 3,000 deals of every band and size: the total won per trial has
        // the mean Σ v·p and the variance Σ v²·p·(1 − p) of independent
        // coins, so the simulated ranges are as wide as they should be.
        let deals: Vec<(f64, f64)> = (0..3_000u32)
            .map(|i| {
                let p = [0.004, 0.03, 0.08, 0.2, 0.37, 0.6, 0.95][i as usize % 7];
                (p, f64::from(1 + (i * 7_919) % 100))
            })
            .collect();
        let draw = WinDraw::new(deals.iter().map(|d| d.0));
        let mean: f64 = deals.iter().map(|(p, v)| p * v).sum();
        let variance: f64 = deals.iter().map(|(p, v)| v * v * p * (1.0 - p)).sum();
        let trials = 20_000u64;
        let totals: Vec<f64> = (0..trials)
            .map(|t| {
                let mut total = 0.0;
                draw.draw(&mut Pcg64Mcg::seed_from_u64(t), |won| {
                    total += deals[won.deal].1
                });
                total
            })
            .collect();
        let n = trials as f64;
        let sample_mean = totals.iter().sum::<f64>() / n;
        let sample_variance = totals
            .iter()
            .map(|x| (x - sample_mean).powi(2))
            .sum::<f64>()
            / (n - 1.0);
        // The mean within four standard errors; the variance within 5 %
        // (its standard error here is about 1 %).
        assert!(
            (sample_mean - mean).abs() < 4.0 * (variance / n).sqrt(),
            "mean {sample_mean:.1}, expected {mean:.1}"
        );
        assert!(
            (sample_variance / variance - 1.0).abs() < 0.05,
            "variance {sample_variance:.0}, expected {variance:.0}"
        );
    }

    #[test]
    fn a_won_deal_lands_on_each_point_equally_often() {
        let p = [0.03, 0.3, 0.9, 1.0];
        let trials = 60_000u64;
        let (wins, _, spread) = tally(&p, trials, 5);
        for (i, slots) in spread.iter().enumerate() {
            let each = wins[i] as f64 / 5.0;
            for &n in slots {
                assert!(
                    (n as f64 - each).abs() <= 4.0 * each.sqrt() + 1.0,
                    "deal at {}: {slots:?}",
                    p[i]
                );
            }
        }
    }

    #[test]
    fn walks_taken_a_stretch_at_a_time_draw_what_one_walk_draws() {
        let p: Vec<f64> = (0..5_000).map(|i| f64::from(i % 97) / 90.0).collect();
        let draw = WinDraw::new(p.iter().copied());
        for stretch in [1, 7, 500, 10_000] {
            for t in 0..20 {
                let mut whole = Vec::new();
                draw.draw(&mut Pcg64Mcg::seed_from_u64(t), |won| whole.push(won));
                let mut rng = Pcg64Mcg::seed_from_u64(t);
                let mut walk = draw.start(&mut rng);
                let mut parts = Vec::new();
                for end in (stretch..draw.len() + stretch).step_by(stretch) {
                    draw.walk_to(&mut walk, &mut rng, end, |won| {
                        parts.push(Won {
                            deal: draw.order()[won.deal] as usize,
                            ..won
                        });
                    });
                }
                assert_eq!(parts, whole, "stretches of {stretch}, trial {t}");
                // Renumbered, the same draw names positions in draw order.
                let mut renumbered = Vec::new();
                let positions = draw.clone().renumbered();
                positions.draw(&mut Pcg64Mcg::seed_from_u64(t), |won| {
                    renumbered.push(Won {
                        deal: draw.order()[won.deal] as usize,
                        ..won
                    });
                });
                assert_eq!(renumbered, whole, "renumbered, trial {t}");
            }
        }
    }

    #[test]
    fn bands_hold_their_probabilities_under_the_ceiling() {
        for p in [
            1e-9,
            2f64.powi(-20),
            0.0123,
            0.25,
            0.2500001,
            0.7,
            0.99,
            1.0,
        ] {
            let band = band_of(p);
            assert!(p <= ceiling(band) * (1.0 + 1e-12), "{p} in band {band}");
            let floor = match band {
                0 => ceiling(DENSE),
                LOWEST => 0.0,
                _ => ceiling(band + 1),
            };
            assert!(p > floor * (1.0 - 1e-12), "{p} in band {band}");
        }
    }
}
