//! The calibrated rates per team, stage and band of days in stage, from
//! the entry tallies `calibrate` collects: the tallies read back in a
//! fixed order, the company's estimate per band, each team's shrunk
//! towards its prior, and the table the forecast joins on.
use std::collections::BTreeMap;

use polars::prelude::*;
use quotecast_pipeline::columns as col;

use crate::{
    columns::{CALIBRATED, COMPANY_RATE, IN_STAGE_FROM},
    incidence::{AtAge, Incidence, incidence},
    tally::{Counts, Key, WEIGHT_UNIT},
};

pub const ENTRIES: &str = "entries";
pub const WINS: &str = "wins";
/// Decided entries the team's estimate is worth (see `incidence`).
pub const EVIDENCE: &str = "evidence";
pub const TEAM_RATE: &str = "team_rate";
/// A stage's place in the funnel.
pub(crate) const ORDER: &str = "__order";

/// What one team's entries into one stage did, at one age of decision
/// (or of the forecast date), by the band of days in stage they reached.
#[derive(Clone, Copy, Default)]
pub(crate) struct Tally {
    pub(crate) reached: usize,
    pub(crate) entries: u64,
    pub(crate) wins: u64,
    pub(crate) ages: AtAge,
}

/// One team's entries into one stage.
#[derive(Default)]
pub(crate) struct Group {
    pub(crate) tallies: Vec<Tally>,
}

impl Group {
    /// A count over the entries still in the stage at the band's start.
    pub(crate) fn reached(&self, band: usize, count: impl Fn(&Tally) -> u64) -> u64 {
        self.tallies
            .iter()
            .filter(|t| t.reached >= band)
            .map(count)
            .sum()
    }

    /// The entries still in the stage at the band's start, by age.
    pub(crate) fn ages_from(&self, band: usize) -> Vec<AtAge> {
        self.tallies
            .iter()
            .filter(|t| t.reached >= band)
            .map(|t| t.ages)
            .collect()
    }
}

/// The tallies read back, keyed by (team, funnel place, stage).
pub(crate) struct Groups {
    pub(crate) teams: BTreeMap<(String, u32, String), Group>,
    pub(crate) decided: u64,
}

impl Groups {
    /// A day's tallies (see `tally`) under their team's and stage's names
    /// (`teams` by code, `stages` by place in the funnel).
    pub(crate) fn from_tallies(
        tallies: &[(Key, Counts)],
        teams: &[String],
        stages: &[String],
    ) -> Self {
        let name =
            |names: &[String], code: u32| names.get(code as usize).cloned().unwrap_or_default();
        let mut groups = Groups {
            teams: BTreeMap::new(),
            decided: 0,
        };
        for (key, counts) in tallies {
            let group = (name(teams, key.team), key.place, name(stages, key.place));
            groups.decided += counts.decided;
            groups.teams.entry(group).or_default().tallies.push(Tally {
                reached: key.reached as usize,
                entries: counts.entries,
                wins: counts.wins,
                ages: AtAge {
                    age_days: i64::from(key.age),
                    won: counts.won as f64 / WEIGHT_UNIT,
                    lost: counts.lost as f64 / WEIGHT_UNIT,
                    open: counts.open as f64 / WEIGHT_UNIT,
                },
            });
        }
        for g in groups.teams.values_mut() {
            g.tallies.sort_by_key(|t| (t.ages.age_days, t.reached));
        }
        groups
    }

    /// The company's estimate per stage and band: every team's entries
    /// together, summed in a fixed order.
    pub(crate) fn company(&self, bands: usize) -> BTreeMap<(u32, String), Vec<Incidence>> {
        let mut by_stage: BTreeMap<(u32, String), Vec<BTreeMap<i64, AtAge>>> = BTreeMap::new();
        for ((_, order, stage), g) in &self.teams {
            let per_band = by_stage
                .entry((*order, stage.clone()))
                .or_insert_with(|| vec![BTreeMap::new(); bands]);
            for t in &g.tallies {
                for ages in per_band.iter_mut().take(t.reached + 1) {
                    let at = ages.entry(t.ages.age_days).or_insert(AtAge {
                        age_days: t.ages.age_days,
                        ..AtAge::default()
                    });
                    at.won += t.ages.won;
                    at.lost += t.ages.lost;
                    at.open += t.ages.open;
                }
            }
        }
        by_stage
            .into_iter()
            .map(|(k, per_band)| {
                let estimates = per_band
                    .into_iter()
                    .map(|ages| incidence(&ages.into_values().collect::<Vec<_>>()))
                    .collect();
                (k, estimates)
            })
            .collect()
    }
}

/// One row of the rates table before shrinkage: a team's entries into a
/// stage still there `from_days` after entering it.
pub(crate) struct Row {
    pub(crate) team: String,
    pub(crate) stage: String,
    pub(crate) order: u32,
    pub(crate) from_days: i64,
    pub(crate) entries: u64,
    pub(crate) wins: u64,
    pub(crate) estimate: Incidence,
    pub(crate) company: Option<f64>,
}

/// Each row's rate shrunk by `strength` pseudo-entries towards its prior:
/// on entering the stage the company's rate; for later bands the
/// company's rate for the band times the team's ratio to the company on
/// entering (so a team that converts better keeps its edge when the band
/// holds few of its deals). `None` where the company has no rate.
pub(crate) fn shrunk(rows: &[Row], strengths: &Strengths) -> Vec<Option<f64>> {
    let toward = |r: &Row, prior: f64| match r.estimate.win_rate {
        Some(rate) if r.estimate.evidence > 0.0 => {
            let n = r.estimate.evidence;
            let strength = strengths.of(&r.stage);
            (n * rate + strength * prior) / (n + strength)
        }
        _ => prior,
    };
    let mut out = Vec::with_capacity(rows.len());
    let mut ratio = 1.0;
    for r in rows {
        let Some(company) = r.company else {
            out.push(None);
            continue;
        };
        if r.from_days == 0 {
            let entering = toward(r, company);
            ratio = if company > 0.0 {
                entering / company
            } else {
                1.0
            };
            out.push(Some(entering));
        } else {
            out.push(Some(toward(r, (company * ratio).min(1.0))));
        }
    }
    out
}

pub(crate) fn rates_table(rows: &[Row], calibrated: &[Option<f64>]) -> PolarsResult<DataFrame> {
    DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                col::TEAM.into(),
                rows.iter().map(|r| r.team.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                col::STAGE.into(),
                rows.iter().map(|r| r.stage.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                IN_STAGE_FROM.into(),
                rows.iter().map(|r| r.from_days).collect::<Vec<_>>(),
            ),
            Column::new(
                ENTRIES.into(),
                rows.iter().map(|r| r.entries).collect::<Vec<_>>(),
            ),
            Column::new(WINS.into(), rows.iter().map(|r| r.wins).collect::<Vec<_>>()),
            Column::new(
                EVIDENCE.into(),
                rows.iter().map(|r| r.estimate.evidence).collect::<Vec<_>>(),
            ),
            Column::new(
                TEAM_RATE.into(),
                rows.iter().map(|r| r.estimate.win_rate).collect::<Vec<_>>(),
            ),
            Column::new(
                COMPANY_RATE.into(),
                rows.iter().map(|r| r.company).collect::<Vec<_>>(),
            ),
            Column::new(CALIBRATED.into(), calibrated.to_vec()),
        ],
    )
}

/// The prior strength of each stage's rates: how many pseudo-entries of
/// the company's rate each team's rate starts from.
#[derive(Debug, Clone, PartialEq)]
pub struct Strengths {
    /// Per stage, where the teams' spread gave one.
    pub by_stage: Vec<(String, f64)>,
    /// Every other stage's: the stages' own, averaged by evidence (or the
    /// strength given).
    pub otherwise: f64,
}

impl Strengths {
    /// The same strength for every stage (a `--prior-strength` given).
    pub fn given(strength: f64) -> Strengths {
        Strengths {
            by_stage: Vec::new(),
            otherwise: strength,
        }
    }

    pub fn of(&self, stage: &str) -> f64 {
        self.by_stage
            .iter()
            .find(|(s, _)| s == stage)
            .map_or(self.otherwise, |(_, k)| *k)
    }
}

/// Method-of-moments prior strength per stage: with team rates spread by
/// variance `v` around the company rate `p` beyond what sampling
/// explains, a beta prior with mean `p` has strength `p(1 − p)/v − 1`.
/// Each team counts by its evidence; within 1 to 10,000. A stage where
/// the teams convert alike keeps them at the company rate, one where a
/// team really converts otherwise (renewals entering late) lets it keep
/// its own, which a single strength averaged over stages would not.
/// Stages with fewer than two teams take the others' average, weighted
/// by evidence.
pub(crate) fn moments_strengths(rows: &[&Row]) -> Strengths {
    // Per stage: each team's (evidence, rate, company rate).
    let mut by_stage: BTreeMap<(u32, &str), Vec<[f64; 3]>> = BTreeMap::new();
    for r in rows {
        if let (Some(rate), Some(company)) = (r.estimate.win_rate, r.company)
            && r.estimate.evidence > 0.0
        {
            by_stage
                .entry((r.order, r.stage.as_str()))
                .or_default()
                .push([r.estimate.evidence, rate, company]);
        }
    }
    let (mut weighted, mut weight) = (0.0, 0.0);
    let mut strengths = Vec::new();
    for ((_, stage), teams) in &by_stage {
        if teams.len() < 2 {
            continue;
        }
        let p = teams[0][2];
        let n: f64 = teams.iter().map(|t| t[0]).sum();
        // Between-team variance of the rates, less the sampling variance.
        let spread: f64 = teams.iter().map(|t| t[0] * (t[1] - p).powi(2)).sum::<f64>() / n;
        let sampling = p * (1.0 - p) * teams.len() as f64 / n;
        let v = spread - sampling;
        let strength = if v > 0.0 {
            p * (1.0 - p) / v - 1.0
        } else {
            10_000.0
        }
        .clamp(1.0, 10_000.0);
        strengths.push(((*stage).to_owned(), strength));
        weighted += n * strength;
        weight += n;
    }
    Strengths {
        by_stage: strengths,
        otherwise: if weight > 0.0 {
            weighted / weight
        } else {
            100.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(team: &str, stage: &str, order: u32, evidence: f64, rate: f64, company: f64) -> Row {
        Row {
            team: team.into(),
            stage: stage.into(),
            order,
            from_days: 0,
            entries: evidence as u64,
            wins: (evidence * rate) as u64,
            estimate: crate::incidence::Incidence {
                win_rate: Some(rate),
                evidence,
                undecided: 0.0,
            },
            company: Some(company),
        }
    }

    #[test]
    fn a_stage_where_one_team_converts_otherwise_keeps_its_own_rate() {
        // Qualify: four teams alike, many entries. Propose: renewals enter
        // late and win far more than the others.
        let rows = [
            row("a", "qualify", 0, 2_000.0, 0.170, 0.17),
            row("b", "qualify", 0, 2_000.0, 0.171, 0.17),
            row("c", "qualify", 0, 2_000.0, 0.169, 0.17),
            row("renewals", "qualify", 0, 500.0, 0.170, 0.17),
            row("a", "propose", 3, 150.0, 0.66, 0.73),
            row("b", "propose", 3, 150.0, 0.67, 0.73),
            row("c", "propose", 3, 150.0, 0.68, 0.73),
            row("renewals", "propose", 3, 500.0, 0.91, 0.73),
        ];
        let strengths = moments_strengths(&rows.iter().collect::<Vec<_>>());
        assert_eq!(strengths.of("qualify"), 10_000.0);
        assert!(strengths.of("propose") < 50.0, "{strengths:?}");
        let rates = shrunk(&rows, &strengths);
        // Renewals' 91 % at propose stays near 91 %, not near 73 %.
        assert!((rates[7].unwrap() - 0.91).abs() < 0.02, "{rates:?}");
        // One strength for both stages (their average by evidence, as
        // before) would have pulled it most of the way to the company's.
        let pooled = Strengths::given(strengths.otherwise);
        assert!(shrunk(&rows, &pooled)[7].unwrap() < 0.8);
        // A stage no two teams reached takes the average.
        assert_eq!(strengths.of("negotiate"), strengths.otherwise);
    }
}
