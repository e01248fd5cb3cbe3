//! Shocks that deals share: beyond each deal's own win or loss and
//! slippage, what history shows moves many deals at once. Three
//! multipliers, each gamma-distributed with mean 1, are drawn per trial:
//!
//! * per team, for all its buckets: what the history leaves unknown of the
//!   team's accuracy factor plus the correction's team shock;
//! * per bucket, for all teams: the company's shock of that horizon (the
//!   whole quarter falls short together);
//! * per team and bucket: the team's own shock of that horizon.
//!
//! A won deal's value (or quantity) in a bucket is multiplied by the
//! product of the three. The variances come from the correction (see
//! [`crate::Correction::shock_variance`] and [`crate::calendar`]); without
//! one every variance is 0 and nothing is drawn. The forecast's Monte
//! Carlo and the demand roll-down's trials use the same groups and draws.
use rustc_hash::FxHashMap as HashMap;

use rand::RngExt;
use rand_pcg::Pcg64Mcg;

use crate::{
    Correction,
    columns::{
        COMPANY, COMPANY_RATIO, COMPANY_SHOCK_VARIANCE, FACTOR, FACTOR_VARIANCE, HORIZON,
        SHOCK_VARIANCE,
    },
};
use quotecast_pipeline::columns as col;

/// The relative variances of the three multipliers a deal's value in one
/// team and bucket is drawn with (each 0 to 1).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ShockVariances {
    /// The team's, shared by all its buckets.
    pub team: f64,
    /// The company's in the bucket, shared by all teams.
    pub company: f64,
    /// The team's own in the bucket.
    pub own: f64,
}

/// The variances a correction gives each team and horizon.
#[derive(Debug, Clone, Default)]
pub struct ShockModel {
    /// Per team seen by the correction: its variance.
    teams: Vec<(String, f64)>,
    /// A team the correction has not seen.
    unseen: f64,
    /// Per learned horizon, in order: company and own variances.
    buckets: Vec<(i32, [f64; 2])>,
}

impl ShockModel {
    /// The model of `correction` (all variances 0 without one).
    pub fn new(correction: Option<&Correction>) -> ShockModel {
        let Some(c) = correction else {
            return ShockModel::default();
        };
        let floats = |name: &str| -> Vec<f64> {
            c.accuracy
                .column(name)
                .ok()
                .and_then(|col| {
                    col.f64()
                        .ok()
                        .map(|v| v.iter().map(|x| x.unwrap_or(0.0)).collect())
                })
                .unwrap_or_default()
        };
        let names: Vec<String> = c
            .accuracy
            .column(col::TEAM)
            .ok()
            .and_then(|col| {
                col.str()
                    .ok()
                    .map(|v| v.iter().map(|x| x.unwrap_or("").to_owned()).collect())
            })
            .unwrap_or_default();
        let (factor, variance) = (floats(FACTOR), floats(FACTOR_VARIANCE));
        let company = floats(COMPANY_RATIO).first().copied().unwrap_or(1.0);
        let with_shock = |relative: f64| (c.shock_variance + relative).clamp(0.0, 1.0);
        let unseen = with_shock(if company > 0.0 {
            c.between_teams_variance / (company * company)
        } else {
            0.0
        });
        let teams = names
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let f = factor.get(i).copied().unwrap_or(0.0);
                let v = variance.get(i).copied().unwrap_or(0.0);
                let spread = if f > 0.0 {
                    with_shock(v / (f * f))
                } else {
                    unseen
                };
                (name, spread)
            })
            .collect();
        let mut buckets = Vec::new();
        let calendar = &c.calendar;
        if let (Ok(teams), Ok(horizons), Ok(own), Ok(company)) = (
            calendar.column(col::TEAM).and_then(|c| c.str().cloned()),
            calendar.column(HORIZON).and_then(|c| c.i32().cloned()),
            calendar
                .column(SHOCK_VARIANCE)
                .and_then(|c| c.f64().cloned()),
            calendar
                .column(COMPANY_SHOCK_VARIANCE)
                .and_then(|c| c.f64().cloned()),
        ) {
            for row in 0..calendar.height() {
                if let (Some(COMPANY), Some(h), Some(v), Some(w)) = (
                    teams.get(row),
                    horizons.get(row),
                    own.get(row),
                    company.get(row),
                ) {
                    buckets.push((h, [w, v].map(|x| x.clamp(0.0, 1.0))));
                }
            }
        }
        buckets.sort_by_key(|(h, _)| *h);
        ShockModel {
            teams,
            unseen,
            buckets,
        }
    }

    /// The variance of the multiplier all of `team`'s deals share.
    pub fn team(&self, team: &str) -> f64 {
        self.teams
            .iter()
            .find(|(name, _)| name == team)
            .map_or(self.unseen, |(_, v)| *v)
    }

    /// The variances for `team`'s deals in the bucket at `horizon` (0 the
    /// bucket holding the forecast date; a horizon beyond those learned
    /// takes the furthest one's).
    pub fn variances(&self, team: &str, horizon: i32) -> ShockVariances {
        let [company, own] = self
            .buckets
            .iter()
            .rev()
            .find(|(h, _)| *h <= horizon)
            .map_or([0.0; 2], |(_, v)| *v);
        ShockVariances {
            team: self.team(team),
            company,
            own,
        }
    }
}

/// The shock groups (team and bucket) of a set of deals and how to draw
/// their multipliers in a trial.
#[derive(Debug, Clone, Default)]
pub struct Shocks {
    teams: Vec<f64>,
    buckets: Vec<f64>,
    /// Per group: its team, its bucket and its own variance.
    groups: Vec<(u32, u32, f64)>,
    team_of: HashMap<String, u32>,
    bucket_of: HashMap<i32, u32>,
    group_of: HashMap<(u32, i32), u32>,
}

impl Shocks {
    /// The group of `team` in the bucket at `horizon`, added with the
    /// `variances` asked for only when new (a team's and a bucket's first
    /// variances stand for all their groups). Called once per row: a
    /// known group costs two lookups and no allocation.
    pub fn group(
        &mut self,
        team: &str,
        horizon: i32,
        variances: impl FnOnce() -> ShockVariances,
    ) -> u32 {
        if let Some(&t) = self.team_of.get(team)
            && let Some(&g) = self.group_of.get(&(t, horizon))
        {
            return g;
        }
        let v = variances();
        let next = self.teams.len() as u32;
        let t = *self.team_of.entry(team.to_owned()).or_insert(next);
        if t == next {
            self.teams.push(v.team);
        }
        let next = self.buckets.len() as u32;
        let b = *self.bucket_of.entry(horizon).or_insert(next);
        if b == next {
            self.buckets.push(v.company);
        }
        let g = self.groups.len() as u32;
        self.group_of.insert((t, horizon), g);
        self.groups.push((t, b, v.own));
        g
    }

    /// The number of groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Whether any multiplier varies (else every draw is 1).
    pub fn vary(&self) -> bool {
        self.teams.iter().chain(&self.buckets).any(|v| *v > 0.0)
            || self.groups.iter().any(|g| g.2 > 0.0)
    }

    /// Each group's multiplier for one trial into `out` (1 each when none
    /// varies, drawing nothing); `scratch` holds the team and bucket
    /// draws.
    pub fn draw(&self, rng: &mut Pcg64Mcg, scratch: &mut [Vec<f64>; 2], out: &mut Vec<f64>) {
        out.clear();
        if !self.vary() {
            out.resize(self.groups.len(), 1.0);
            return;
        }
        let [team, bucket] = scratch;
        team.clear();
        team.extend(self.teams.iter().map(|&v| gamma(v, rng)));
        bucket.clear();
        bucket.extend(self.buckets.iter().map(|&v| gamma(v, rng)));
        out.extend(
            self.groups
                .iter()
                .map(|&(t, b, v)| team[t as usize] * bucket[b as usize] * gamma(v, rng)),
        );
    }
}

/// A gamma draw with mean 1 and variance `v` (1, drawing nothing, where
/// that is 0).
fn gamma(v: f64, rng: &mut Pcg64Mcg) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    rand_distr::Gamma::new(1.0 / v, v).map_or(1.0, |g| rng.sample(g))
}
