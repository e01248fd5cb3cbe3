//! Shocks that deals share: beyond each deal's own win or loss and
//! slippage, what history shows moves many deals at once, and what it
//! leaves unknown of the rates the forecast uses. Four multipliers, each
//! gamma-distributed with mean 1, are drawn per trial:
//!
//! * per team, for all its buckets: what the history leaves unknown of the
//!   team's accuracy factor plus the correction's team shock;
//! * per bucket, for all teams: the company's shock of that horizon (the
//!   whole quarter falls short together);
//! * per team and bucket: the team's own shock of that horizon;
//! * per team and stage, for all its buckets: its calibrated win rate
//!   drawn from its posterior (a beta with the rate as mean and the
//!   evidence behind it plus the prior strength as concentration, so
//!   relative variance (1 − r) / (r (n + 1))), as a multiplier on the
//!   value of its deals: the same mean as drawing their probability, and
//!   the same spread of their sum between trials.
//!
//! A won deal's value (or quantity) in a bucket is multiplied by the
//! product of the four. The first three variances come from the
//! correction (see [`crate::Correction::shock_variance`] and
//! [`crate::calendar`]), the rates' from calibrated win rates (the rules'
//! defaults carry none); where none is given nothing is drawn. The
//! forecast's Monte Carlo and the demand roll-down's trials use the same
//! groups and draws.
use rustc_hash::FxHashMap as HashMap;

use polars::prelude::*;
use rand::RngExt;
use rand_pcg::Pcg64Mcg;

use crate::{
    Correction, WinRates,
    banded::EVIDENCE,
    columns::{
        CALIBRATED, COMPANY, COMPANY_RATIO, COMPANY_SHOCK_VARIANCE, FACTOR, FACTOR_VARIANCE,
        HORIZON, IN_STAGE_FROM, SHOCK_VARIANCE,
    },
};
use quotecast_pipeline::columns as col;

/// The relative variances of the four multipliers a deal's value in one
/// team, stage and bucket is drawn with (each 0 to 1).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ShockVariances {
    /// The team's, shared by all its buckets.
    pub team: f64,
    /// The company's in the bucket, shared by all teams.
    pub company: f64,
    /// The team's own in the bucket.
    pub own: f64,
    /// The team's win rate in the deal's stage, shared by all buckets.
    pub rate: f64,
    /// Which stage's rate: its place among the model's stages (see
    /// [`ShockModel::stage_place`]).
    pub stage: u32,
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
    /// The stages with calibrated rates, in the order of the rates' table.
    stages: Vec<String>,
    /// Per team and stage (place in `stages`): the relative variance of
    /// its rate on entering the stage.
    rates: Vec<(String, u32, f64)>,
    /// Per stage: the variance of a team the rates have not seen (its
    /// rate is the company's, known as well as the prior strength says).
    unseen_rates: Vec<f64>,
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
            ..ShockModel::default()
        }
    }

    /// The model with the uncertainty of calibrated `rates` (none for the
    /// rules' defaults): per team and stage, the relative variance of the
    /// beta posterior of its rate on entering the stage.
    pub fn with_rates(mut self, rates: &WinRates) -> ShockModel {
        let WinRates::Calibrated(c) = rates else {
            return self;
        };
        let Ok(entering) = c
            .table
            .clone()
            .lazy()
            .filter(col(IN_STAGE_FROM).eq(lit(0i64)))
            .collect()
        else {
            return self;
        };
        let text = |name: &str| -> Vec<String> {
            entering
                .column(name)
                .ok()
                .and_then(|c| c.str().ok().cloned())
                .map(|v| v.iter().map(|x| x.unwrap_or("").to_owned()).collect())
                .unwrap_or_default()
        };
        let float = |name: &str| -> Vec<Option<f64>> {
            entering
                .column(name)
                .ok()
                .and_then(|c| c.cast(&DataType::Float64).ok())
                .and_then(|c| c.f64().ok().map(|v| v.iter().collect()))
                .unwrap_or_default()
        };
        let (teams, stages) = (
            text(quotecast_pipeline::columns::TEAM),
            text(quotecast_pipeline::columns::STAGE),
        );
        let (rate, evidence, company) = (
            float(CALIBRATED),
            float(EVIDENCE),
            float(crate::columns::COMPANY_RATE),
        );
        let mut unseen: Vec<f64> = Vec::new();
        for row in 0..teams.len() {
            let place = match self.stages.iter().position(|s| *s == stages[row]) {
                Some(p) => p,
                None => {
                    self.stages.push(stages[row].clone());
                    unseen.push(0.0);
                    self.stages.len() - 1
                }
            };
            let strength = c.prior_strength.of(&stages[row]).max(0.0);
            let concentration = evidence.get(row).copied().flatten().unwrap_or(0.0) + strength;
            if let Some(Some(r)) = rate.get(row) {
                self.rates.push((
                    teams[row].clone(),
                    place as u32,
                    rate_variance(*r, concentration),
                ));
            }
            if let Some(Some(r)) = company.get(row) {
                unseen[place] = rate_variance(*r, strength);
            }
        }
        self.unseen_rates = unseen;
        self
    }

    /// The variance of the multiplier all of `team`'s deals share.
    pub fn team(&self, team: &str) -> f64 {
        self.teams
            .iter()
            .find(|(name, _)| name == team)
            .map_or(self.unseen, |(_, v)| *v)
    }

    /// The place of `stage` among the stages with rates: 0 for every
    /// stage when the model has no rates, [`u32::MAX`] for a stage without
    /// one (its deals share a rate group with none to draw).
    pub fn stage_place(&self, stage: &str) -> u32 {
        match self.stages.iter().position(|s| s == stage) {
            Some(p) => p as u32,
            None if self.stages.is_empty() => 0,
            None => u32::MAX,
        }
    }

    /// The variances for `team`'s deals in `stage` in the bucket at
    /// `horizon` (0 the bucket holding the forecast date; a horizon beyond
    /// those learned takes the furthest one's).
    pub fn variances(&self, team: &str, stage: &str, horizon: i32) -> ShockVariances {
        let [company, own] = self
            .buckets
            .iter()
            .rev()
            .find(|(h, _)| *h <= horizon)
            .map_or([0.0; 2], |(_, v)| *v);
        let place = self.stage_place(stage);
        let rate = self
            .rates
            .iter()
            .find(|(t, s, _)| t == team && *s == place)
            .map_or_else(
                || {
                    let unseen = self.unseen_rates.get(place as usize);
                    unseen.copied().unwrap_or(0.0)
                },
                |r| r.2,
            );
        ShockVariances {
            team: self.team(team),
            company,
            own,
            rate,
            stage: place,
        }
    }
}

/// The relative variance of a beta-distributed rate of mean `r` and
/// concentration `n`: (1 − r) / (r (n + 1)), within 0 and 1.
fn rate_variance(r: f64, n: f64) -> f64 {
    if r <= 0.0 || r >= 1.0 || !n.is_finite() {
        return 0.0;
    }
    ((1.0 - r) / (r * (n + 1.0))).clamp(0.0, 1.0)
}

/// The shock groups (team, stage and bucket) of a set of deals and how to
/// draw their multipliers in a trial.
#[derive(Debug, Clone, Default)]
pub struct Shocks {
    teams: Vec<f64>,
    buckets: Vec<f64>,
    /// Per team and bucket: its team, its bucket and its own variance.
    cells: Vec<(u32, u32, f64)>,
    /// Per team and stage: its rate's variance.
    rates: Vec<f64>,
    /// Per group: its team and bucket, and its team and stage.
    groups: Vec<(u32, u32)>,
    team_of: HashMap<String, u32>,
    bucket_of: HashMap<i32, u32>,
    cell_of: HashMap<(u32, i32), u32>,
    rate_of: HashMap<(u32, u32), u32>,
    group_of: HashMap<(u32, i32, u32), u32>,
}

impl Shocks {
    /// The group of `team`'s deals in the stage at place `stage` (see
    /// [`ShockModel::stage_place`]) in the bucket at `horizon`, added with
    /// the `variances` asked for only when new (a team's, a bucket's, a
    /// team and bucket's and a team and stage's first variances stand for
    /// all their groups). Called once per row: a known group costs two
    /// lookups and no allocation.
    pub fn group(
        &mut self,
        team: &str,
        stage: u32,
        horizon: i32,
        variances: impl FnOnce() -> ShockVariances,
    ) -> u32 {
        if let Some(&t) = self.team_of.get(team)
            && let Some(&g) = self.group_of.get(&(t, horizon, stage))
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
        let next = self.cells.len() as u32;
        let c = *self.cell_of.entry((t, horizon)).or_insert(next);
        if c == next {
            self.cells.push((t, b, v.own));
        }
        let next = self.rates.len() as u32;
        let r = *self.rate_of.entry((t, stage)).or_insert(next);
        if r == next {
            self.rates.push(v.rate);
        }
        let g = self.groups.len() as u32;
        self.group_of.insert((t, horizon, stage), g);
        self.groups.push((c, r));
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
        self.teams
            .iter()
            .chain(&self.buckets)
            .chain(&self.rates)
            .any(|v| *v > 0.0)
            || self.cells.iter().any(|c| c.2 > 0.0)
    }

    /// Each group's multiplier for one trial into `out` (1 each when none
    /// varies, drawing nothing); `scratch` holds the team, bucket, team and
    /// bucket, and rate draws.
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
        // The team and bucket draws, then the rates', after them in the
        // same scratch: one allocation per chunk of trials.
        let teams = team.len();
        for &(t, b, v) in &self.cells {
            let m = team[t as usize] * bucket[b as usize] * gamma(v, rng);
            team.push(m);
        }
        let cells = team.len();
        for &v in &self.rates {
            let m = gamma(v, rng);
            team.push(m);
        }
        out.extend(
            self.groups
                .iter()
                .map(|&(c, r)| team[teams + c as usize] * team[cells + r as usize]),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CalibratedRates;

    /// Rates on entering two stages for one team, with the evidence
    /// behind each, and the company's.
    fn calibrated(prior_strength: f64) -> WinRates {
        let table = df!(
            "team" => ["east", "east"],
            "stage" => ["qualify", "negotiate"],
            IN_STAGE_FROM => [0i64, 0],
            EVIDENCE => [40.0, 4_000.0],
            crate::columns::COMPANY_RATE => [0.2, 0.8],
            CALIBRATED => [0.1, 0.75],
        )
        .unwrap();
        WinRates::Calibrated(Box::new(CalibratedRates {
            table,
            prior_strength: crate::Strengths::given(prior_strength),
            stage_entries: 0,
            decided_entries: 0,
            days_in_stage_from: vec![0],
            undecided: vec![],
        }))
    }

    #[test]
    fn a_rate_known_from_little_evidence_varies_more_than_one_known_from_much() {
        let model = ShockModel::new(None).with_rates(&calibrated(10.0));
        let thin = model.variances("east", "qualify", 0);
        let thick = model.variances("east", "negotiate", 0);
        // Beta with mean 0.1 and concentration 40 + 10: (1 − r) / (r (n + 1)).
        assert!((thin.rate - 0.9 / (0.1 * 51.0)).abs() < 1e-12, "{thin:?}");
        assert!(
            (thick.rate - 0.25 / (0.75 * 4_011.0)).abs() < 1e-12,
            "{thick:?}"
        );
        assert_ne!(thin.stage, thick.stage);
        // A team the rates have not seen has the company's rate, known
        // only as well as the prior strength says.
        let unseen = model.variances("west", "qualify", 0);
        assert!(
            (unseen.rate - 0.8 / (0.2 * 11.0)).abs() < 1e-12,
            "{unseen:?}"
        );
        // The rules' default rates carry no such uncertainty.
        let rules = ShockModel::new(None).with_rates(&WinRates::StageDefaults);
        assert_eq!(rules.variances("east", "qualify", 0).rate, 0.0);
    }

    #[test]
    fn deals_of_one_team_and_stage_share_their_rate_draw_in_every_bucket() {
        let model = ShockModel::new(None).with_rates(&calibrated(10.0));
        let mut shocks = Shocks::default();
        let mut group = |stage: &str, h: i32| {
            let place = model.stage_place(stage);
            shocks.group("east", place, h, || model.variances("east", stage, h))
        };
        let (now, next, late) = (
            group("qualify", 0),
            group("qualify", 1),
            group("negotiate", 0),
        );
        assert_eq!(shocks.len(), 3);
        assert!(shocks.vary());
        let mut rng = crate::trial_rng(7, 0);
        let (mut scratch, mut out) = ([Vec::new(), Vec::new()], Vec::new());
        let mut spread = [0.0f64; 2];
        for _ in 0..2_000 {
            shocks.draw(&mut rng, &mut scratch, &mut out);
            // No bucket shocks here: the two buckets of one stage move
            // by the same rate draw.
            assert_eq!(out[now as usize], out[next as usize]);
            spread[0] += (out[now as usize] - 1.0).powi(2);
            spread[1] += (out[late as usize] - 1.0).powi(2);
        }
        let (thin, thick) = (spread[0] / 2_000.0, spread[1] / 2_000.0);
        assert!((thin / (0.9 / 5.1) - 1.0).abs() < 0.15, "{thin}");
        assert!(thick < thin / 100.0, "{thick} against {thin}");
    }
}
