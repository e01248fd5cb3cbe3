//! One opportunity's life, drawn from the world's truth: created on a day,
//! it spends an exponential number of days in each open stage, then moves
//! on with its team's chance (halved when it outstayed the stage's time
//! limit) or is lost; after the last open stage it is won.
use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp};
use rust_decimal::prelude::ToPrimitive;

use super::{
    configure::draw,
    world::{STALE_FACTOR, World},
};

/// Accounts per team the generator draws customers from.
pub(crate) const ACCOUNTS_PER_TEAM: u32 = 2_000;

pub(crate) struct SimLine {
    /// Position in the world's catalog.
    pub item: u32,
    pub quantity: u32,
    /// The line's true value in the team's currency, in hundredths.
    pub true_cents: i64,
}

pub(crate) struct SimOpportunity {
    /// Position in the generator's stream; the opportunity id is made
    /// from it.
    pub number: u64,
    pub team: u16,
    pub owner: u16,
    pub account: u32,
    /// Days since 1970-01-01.
    pub created: i32,
    /// The day it entered each open stage it reached, in funnel order.
    pub entries: Vec<i32>,
    /// The day it was won or lost.
    pub decided: i32,
    pub won: bool,
    /// Days its owner's expected close date runs ahead of the decision.
    pub optimism: i32,
    /// Days ahead the owner pushes an expected close date that has passed.
    pub push: i32,
    pub lines: Vec<SimLine>,
}

impl SimOpportunity {
    /// Open on `day`: created, not yet decided.
    pub fn open_on(&self, day: i32) -> bool {
        self.created <= day && day < self.decided
    }

    /// The open stage it is in on `day` (it must be open then) and the day
    /// it entered it.
    pub fn stage_on(&self, day: i32) -> (usize, i32) {
        let s = self.entries.iter().rposition(|&e| e <= day).unwrap_or(0);
        (s, self.entries[s])
    }

    /// The close date its owner states on `day`: the decision day moved
    /// earlier by the team's optimism; a stated date that has already
    /// passed is pushed just beyond `day`.
    pub fn expected_close_on(&self, day: i32) -> i32 {
        let stated = self.decided - self.optimism;
        if stated <= day {
            day + self.push
        } else {
            stated
        }
    }
}

/// Draws one opportunity created on a day in `created_from..=as_of`.
pub(crate) fn simulate(
    world: &World,
    rng: &mut impl Rng,
    number: u64,
    created_from: i32,
    as_of: i32,
) -> SimOpportunity {
    let t = rng.random_range(0..world.teams.len());
    let team = &world.teams[t];
    let created = rng.random_range(created_from..=as_of);
    let window = f64::from((as_of - created_from).max(1));
    let mut day = f64::from(created);
    let mut entries = Vec::with_capacity(world.funnel.open.len());
    let mut won = false;
    for (s, stage) in world.funnel.open.iter().enumerate() {
        entries.push(day.floor() as i32);
        let dwell = exponential(rng, world.mean_dwell_days[s]);
        let stale = dwell > f64::from(stage.time_limit_days);
        let skill = world
            .shape
            .skill_at(t, (day - f64::from(created_from)) / window);
        let chance =
            (world.advance[t][s] * skill).min(0.97) * if stale { STALE_FACTOR } else { 1.0 };
        day += dwell;
        if rng.random::<f64>() >= chance {
            break;
        }
        won = s + 1 == world.funnel.open.len();
    }
    let first_day = entries.last().copied().unwrap_or(created) + 1;
    let mut decided = (day.floor() as i32).max(first_day);
    if won && world.shape.quarter_end_push > 0.0 {
        decided = pushed_into_quarter_end(world, rng, decided, first_day);
    }
    let optimism = (team.optimism_days + 7.0 * normal(rng)).round().max(0.0) as i32;
    SimOpportunity {
        number,
        team: t as u16,
        owner: rng.random_range(0..team.owners) as u16,
        account: rng.random_range(0..ACCOUNTS_PER_TEAM),
        created,
        entries,
        decided,
        won,
        optimism,
        push: rng.random_range(1..=14),
        lines: lines(world, rng, t, number),
    }
}

/// One base product line (with its options when deal `number` is
/// configured), then up to two service or accessory lines.
fn lines(world: &World, rng: &mut impl Rng, t: usize, number: u64) -> Vec<SimLine> {
    let rate = world.currencies[world.teams[t].currency]
        .per_corporate
        .to_f64()
        .unwrap_or(1.0);
    let enterprise = world.teams[t].id.ends_with("enterprise");
    let (bases, others) = (&world.base_items, &world.other_items);
    let mean_quantity = if enterprise { 20.0 } else { 5.0 };
    let base_quantity = (1.0 + exponential(rng, mean_quantity)).min(500.0) as u32;
    let base = bases[rng.random_range(0..bases.len())];
    let mut picks = vec![(base, base_quantity)];
    if !others.is_empty() {
        for _ in 0..rng.random_range(0..=2) {
            let item = others[rng.random_range(0..others.len())];
            picks.push((item, rng.random_range(1..=base_quantity)));
        }
    }
    let line = |item: usize, quantity: u32, discount: f64| {
        let unit = world.catalog[item].unit_price.to_f64().unwrap_or(0.0);
        let value = f64::from(quantity) * unit * (1.0 - discount) * rate;
        SimLine {
            item: item as u32,
            quantity,
            true_cents: (value * 100.0).round() as i64,
        }
    };
    let mut base_discount = 0.0;
    let mut out: Vec<SimLine> = picks
        .into_iter()
        .enumerate()
        .map(|(k, (item, quantity))| {
            let discount = rng.random_range(0.0..0.2);
            if k == 0 {
                base_discount = discount;
            }
            line(item, quantity, discount)
        })
        .collect();
    // The options of a configured base line, at its discount (drawn from
    // the deal's own stream: the other figures stay as they were).
    if let Some(config) = world.configurations.iter().find(|c| c.base == base) {
        let options = draw(config, world.configuration_seed, number);
        if !options.is_empty() {
            // What the model offers comes from the configuration, not
            // from lines of its own.
            out.retain(|l| !config.options.iter().any(|o| o.0 == l.item as usize));
        }
        for (item, units) in options {
            out.push(line(
                item,
                base_quantity.saturating_mul(units),
                base_discount,
            ));
        }
    }
    out
}

/// A deal won in the first three weeks of a quarter is, with the shape's
/// chance, closed in the last five days of the quarter before instead
/// (never before `first_day`).
fn pushed_into_quarter_end(world: &World, rng: &mut impl Rng, decided: i32, first_day: i32) -> i32 {
    let start = super::quarter_start(decided);
    if decided - start >= 21 || rng.random::<f64>() >= world.shape.quarter_end_push {
        return decided;
    }
    let pulled = start - 1 - rng.random_range(0..5);
    if pulled >= first_day { pulled } else { decided }
}

fn exponential(rng: &mut impl Rng, mean: f64) -> f64 {
    Exp::new(1.0 / mean).map_or(mean, |d| d.sample(rng))
}

/// A standard normal draw.
fn normal(rng: &mut impl Rng) -> f64 {
    rand_distr::StandardNormal.sample(rng)
}
