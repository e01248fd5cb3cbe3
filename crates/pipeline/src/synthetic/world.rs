//! The synthetic sales organisation and its hidden truth: teams with their
//! own win rates, optimism about close dates and amounts, and the funnel
//! they sell through. Tests compare what the forecast learns with the
//! truth kept here.
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;
use rust_decimal::Decimal;

use super::configure::GenConfiguration;
use crate::PipelineError;
use quotecast_configurator::CompiledModel;

/// A product the generator may put on an opportunity line.
#[derive(Debug, Clone)]
pub struct CatalogItem {
    pub sku: String,
    pub product_line: String,
    /// List price per unit in the corporate currency.
    pub unit_price: Decimal,
    /// Base units are sold in larger quantities than services and
    /// accessories, and every opportunity has one base line.
    pub is_base: bool,
}

/// An open stage of the funnel as the generator needs it.
#[derive(Debug, Clone)]
pub struct FunnelStage {
    pub id: String,
    /// The rules' default win rate, 0 to 1.
    pub win_rate: f64,
    pub time_limit_days: u32,
}

/// The funnel: open stages in order, then the won and lost stage ids.
#[derive(Debug, Clone)]
pub struct Funnel {
    pub open: Vec<FunnelStage>,
    pub won: String,
    pub lost: String,
}

/// A currency opportunities may be written in, with its rate.
#[derive(Debug, Clone)]
pub struct CurrencyRate {
    pub code: String,
    /// Units of this currency per unit of the corporate currency.
    pub per_corporate: Decimal,
}

/// A sales team and its hidden habits.
#[derive(Debug, Clone)]
pub struct Team {
    pub id: String,
    pub region: String,
    /// Position in [`World::currencies`].
    pub currency: usize,
    pub owners: u32,
    /// Multiplies the company's chance of moving a deal to the next stage.
    pub skill: f64,
    /// How many days too early the team's expected close dates are.
    pub optimism_days: f64,
    /// Stated amounts are the true amount times `1 + amount_bias`.
    pub amount_bias: f64,
}

/// Teams by region and the currency each region sells in.
const TEAMS: &[(&str, &str, &str)] = &[
    ("na-enterprise", "na", "USD"),
    ("na-commercial", "na", "USD"),
    ("emea-enterprise", "emea", "EUR"),
    ("emea-commercial", "emea", "EUR"),
    ("apac-enterprise", "apac", "CNY"),
    ("apac-commercial", "apac", "CNY"),
];

/// Mean days in each open stage, earliest first (later stages repeat the
/// last value).
const MEAN_DWELL_DAYS: &[f64] = &[14.0, 20.0, 20.0, 15.0, 10.0];

/// A deal that outstays its stage's time limit moves on this much less
/// often: stale deals win less.
pub const STALE_FACTOR: f64 = 0.5;

/// A configurable base product for [`World::with_configurations`]: its
/// position in the catalog, its compiled model, and per model option the
/// option as a catalog item with its attach rate (a probability).
pub type ConfigurableProduct = (usize, CompiledModel, Vec<(CatalogItem, Option<f64>)>);

/// The whole synthetic organisation. Everything is drawn from the seed.
#[derive(Debug, Clone)]
pub struct World {
    pub teams: Vec<Team>,
    pub funnel: Funnel,
    pub catalog: Vec<CatalogItem>,
    pub currencies: Vec<CurrencyRate>,
    /// Chance that a fresh (not stale) deal of team `t` in open stage `s`
    /// moves on: `advance[t][s]`.
    pub advance: Vec<Vec<f64>>,
    pub mean_dwell_days: Vec<f64>,
    /// Positions in `catalog` of the base products and of the rest.
    pub(crate) base_items: Vec<usize>,
    pub(crate) other_items: Vec<usize>,
    /// Configurable base products whose deals may carry a configuration
    /// (none unless [`World::with_configurations`] gives them).
    pub(crate) configurations: std::sync::Arc<Vec<GenConfiguration>>,
    /// The seed of the configurations' draws.
    pub(crate) configuration_seed: u64,
    /// How the organisation changes over time (steady unless
    /// [`World::with_shape`] says otherwise).
    pub shape: Shape,
}

/// How the synthetic organisation changes over the history window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shape {
    /// Per team: how much its chance of moving a deal on changes from the
    /// start of the history to the snapshot (−0.2: a fifth less at the
    /// end than at the start, each stage). Empty: no team changes.
    pub drift: Vec<f64>,
    /// The chance that a deal won in the first three weeks of a quarter
    /// is pulled into the last days of the quarter before (a quarter-end
    /// push).
    pub quarter_end_push: f64,
}

impl Shape {
    /// Teams that change (half improving, half declining, by 10 to 25 %
    /// per stage over the history) and a quarter-end push on half the
    /// deals that could be pulled in, drawn from `seed`.
    pub fn shifting(seed: u64, teams: usize) -> Shape {
        let mut rng = Pcg64::seed_from_u64(seed ^ 0x5A1F_7000_0000_0005);
        let drift = (0..teams)
            .map(|t| {
                let size = rng.random_range(0.1..0.25);
                if t % 2 == 0 { size } else { -size }
            })
            .collect();
        Shape {
            drift,
            quarter_end_push: 0.5,
        }
    }

    /// Team `t`'s multiplier on its chances at `progress` (0 at the start
    /// of the history window, 1 at the snapshot): 1 when it does not
    /// change.
    pub fn skill_at(&self, t: usize, progress: f64) -> f64 {
        self.drift
            .get(t)
            .map_or(1.0, |d| 1.0 + d * (progress - 0.5))
    }
}

impl World {
    /// Draws the teams' habits from `seed`. The company's chance of moving
    /// on from stage `s` is the ratio of the rules' default win rates of
    /// `s` and the stage after it, so that a company-average team wins as
    /// often as the rules say (before stale deals are taken into account).
    pub fn new(
        seed: u64,
        funnel: Funnel,
        catalog: Vec<CatalogItem>,
        currencies: Vec<CurrencyRate>,
    ) -> Result<World, PipelineError> {
        if funnel.open.is_empty() {
            return Err(PipelineError::Generator(
                "the funnel has no open stage".into(),
            ));
        }
        if !catalog.iter().any(|c| c.is_base) {
            return Err(PipelineError::Generator(
                "the catalog has no base product with a price".into(),
            ));
        }
        if currencies.is_empty() {
            return Err(PipelineError::Generator("no currency to sell in".into()));
        }
        let mut rates = funnel.open.iter().map(|s| s.win_rate).collect::<Vec<_>>();
        rates.push(1.0);
        if rates.iter().any(|r| !(*r > 0.0 && *r <= 1.0)) {
            return Err(PipelineError::Generator(
                "every open stage needs a win rate above 0".into(),
            ));
        }
        let company: Vec<f64> = rates.windows(2).map(|w| (w[0] / w[1]).min(1.0)).collect();
        let mut rng = Pcg64::seed_from_u64(seed ^ 0x7EA5_0000_0000_0001);
        let teams: Vec<Team> = TEAMS
            .iter()
            .map(|(id, region, code)| Team {
                id: (*id).to_owned(),
                region: (*region).to_owned(),
                currency: currencies.iter().position(|c| c.code == *code).unwrap_or(0),
                owners: rng.random_range(5..=12),
                skill: rng.random_range(0.75..1.2),
                optimism_days: rng.random_range(0.0..35.0),
                amount_bias: rng.random_range(-0.05..0.3),
            })
            .collect();
        let advance = teams
            .iter()
            .map(|t| company.iter().map(|a| (a * t.skill).min(0.97)).collect())
            .collect();
        let mean_dwell_days = (0..funnel.open.len())
            .map(|s| MEAN_DWELL_DAYS[s.min(MEAN_DWELL_DAYS.len() - 1)])
            .collect();
        let (base_items, other_items) = (0..catalog.len()).partition(|&i| catalog[i].is_base);
        Ok(World {
            base_items,
            other_items,
            configurations: std::sync::Arc::new(Vec::new()),
            configuration_seed: seed ^ 0xC0F1_6000_0000_0003,
            shape: Shape::default(),
            teams,
            funnel,
            catalog,
            currencies,
            advance,
            mean_dwell_days,
        })
    }

    /// The same world with configurable products: `options` of each
    /// (SKU, list price, attach rate) are appended to the catalog (never
    /// sold on their own) and part of the deals for its base carry a
    /// configuration drawn by its compiled model.
    pub fn with_configurations(mut self, products: Vec<ConfigurableProduct>) -> World {
        let mut configurations = Vec::new();
        for (base, model, options) in products {
            let mut positions = Vec::with_capacity(options.len());
            for (item, rate) in options {
                let at = match self.catalog.iter().position(|c| c.sku == item.sku) {
                    Some(at) => at,
                    None => {
                        self.catalog.push(item);
                        self.catalog.len() - 1
                    }
                };
                positions.push((at, rate));
            }
            configurations.push(GenConfiguration::new(
                base,
                model,
                positions,
                self.configuration_seed,
            ));
        }
        self.configurations = std::sync::Arc::new(configurations);
        self
    }

    /// The same world changing over time as `shape` says.
    pub fn with_shape(mut self, shape: Shape) -> World {
        self.shape = shape;
        self
    }

    /// Chance that a deal outstays stage `s`'s time limit (dwell times are
    /// exponential).
    pub fn stale_chance(&self, s: usize) -> f64 {
        (-f64::from(self.funnel.open[s].time_limit_days) / self.mean_dwell_days[s]).exp()
    }

    /// The chance that team `t` moves a deal on from stage `s`, averaged
    /// over stale and fresh deals.
    fn mean_advance(&self, t: usize, s: usize) -> f64 {
        let q = self.stale_chance(s);
        self.advance[t][s] * (1.0 - q + q * STALE_FACTOR)
    }

    /// The true P(win | the deal has entered open stage `s`) for team `t`:
    /// what calibrating from history should recover.
    pub fn true_win_rate(&self, t: usize, s: usize) -> f64 {
        (s..self.funnel.open.len())
            .map(|k| self.mean_advance(t, k))
            .product()
    }

    /// The true P(win | the deal has entered stage `s` and outstayed its
    /// time limit there) for team `t`.
    pub fn true_stale_win_rate(&self, t: usize, s: usize) -> f64 {
        self.advance[t][s] * STALE_FACTOR * self.true_win_rate(t, s + 1)
    }
}
