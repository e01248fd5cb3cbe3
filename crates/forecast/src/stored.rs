//! What a forecast learned from a history, as named tables and a manifest
//! of plain values: the calibrated win rates, the team correction
//! (accuracy, slippage, close-date and size factors, calendar), and
//! without a correction the timing, amount factors and new deals learned
//! from stage entries, with the notes the learning wrote. A process keeps
//! them (the server's data directory, the command line's) so that a later
//! job on the same files, rules, as-of date and bucket need not learn them
//! again. Everything else in a [`ForecastSpec`] comes from the rules and
//! the request ([`crate::rules_spec`]). No I/O here: the caller writes the
//! tables and the manifest where it keeps them.
use chrono::NaiveDate;
use polars::prelude::DataFrame;
use quotecast_model::FiscalYear;
use serde::{Deserialize, Serialize};

use crate::{
    CalibratedRates, Correction, ForecastError, ForecastSpec, QuarterEnds, Strengths, WinRates,
};

/// The plain values of what was learned; its tables go beside it, by the
/// names of [`TABLES`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnedManifest {
    pub notes: Vec<String>,
    pub calibrated: Option<CalibratedValues>,
    pub correction: Option<CorrectionValues>,
}

/// [`CalibratedRates`] but its table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibratedValues {
    pub prior_strength_by_stage: Vec<(String, f64)>,
    pub prior_strength_otherwise: f64,
    pub stage_entries: u64,
    pub decided_entries: u64,
    pub days_in_stage_from: Vec<i64>,
    pub undecided: Vec<(String, f64)>,
}

/// [`Correction`] but its tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorrectionValues {
    pub snapshots_used: Vec<NaiveDate>,
    pub between_teams_variance: f64,
    pub shock_variance: f64,
    /// The first month (1 to 12) of the quarters won deals bunch at the
    /// ends of.
    pub quarter_ends_first_month: u32,
    pub quarter_ends_share: f64,
    pub quarter_ends_rules_share: f64,
    /// See [`QuarterEnds::slippage_place_days`].
    #[serde(default)]
    pub slippage_place_days: Option<u32>,
}

/// The names of the tables a learned spec can hold.
pub const TABLES: [&str; 10] = [
    "win_rates",
    "accuracy",
    "slippage",
    "slip_points",
    "close_factors",
    "size_factors",
    "calendar",
    "new_deal_history",
    "timing",
    "amount_factors",
];

/// What `spec` learned (with `notes`): the manifest and the tables it
/// holds, each by its name in [`TABLES`].
pub fn learned_tables(
    spec: &ForecastSpec,
    notes: &[String],
) -> (LearnedManifest, Vec<(&'static str, DataFrame)>) {
    let mut tables = Vec::new();
    let calibrated = match &spec.win_rates {
        WinRates::StageDefaults => None,
        WinRates::Calibrated(rates) => {
            tables.push(("win_rates", rates.table.clone()));
            Some(CalibratedValues {
                prior_strength_by_stage: rates.prior_strength.by_stage.clone(),
                prior_strength_otherwise: rates.prior_strength.otherwise,
                stage_entries: rates.stage_entries,
                decided_entries: rates.decided_entries,
                days_in_stage_from: rates.days_in_stage_from.clone(),
                undecided: rates.undecided.clone(),
            })
        }
    };
    let correction = spec.correction.as_deref().map(|c| {
        tables.extend([
            ("accuracy", c.accuracy.clone()),
            ("slippage", c.slippage.clone()),
            ("slip_points", c.slip_points.clone()),
            ("close_factors", c.close_factors.clone()),
            ("size_factors", c.size_factors.clone()),
            ("calendar", c.calendar.clone()),
        ]);
        CorrectionValues {
            snapshots_used: c.snapshots_used.clone(),
            between_teams_variance: c.between_teams_variance,
            shock_variance: c.shock_variance,
            quarter_ends_first_month: c.quarter_ends.year.first_month0() + 1,
            quarter_ends_share: c.quarter_ends.share,
            quarter_ends_rules_share: c.quarter_ends.rules_share,
            slippage_place_days: c.quarter_ends.slippage_place_days,
        }
    });
    for (name, table) in [
        ("new_deal_history", &spec.new_deal_history),
        ("timing", &spec.timing),
        ("amount_factors", &spec.amount_factors),
    ] {
        if let Some(table) = table {
            tables.push((name, table.clone()));
        }
    }
    let manifest = LearnedManifest {
        notes: notes.to_vec(),
        calibrated,
        correction,
    };
    (manifest, tables)
}

/// `base` (the rules' spec for the same as-of date and bucket) with what
/// `manifest` and its `tables` say was learned, and the learning's notes;
/// an error names what is missing or wrong.
pub fn with_learned(
    mut base: ForecastSpec,
    manifest: LearnedManifest,
    mut tables: Vec<(String, DataFrame)>,
) -> Result<(ForecastSpec, Vec<String>), ForecastError> {
    let mut take = |name: &str| -> Option<DataFrame> {
        let at = tables.iter().position(|(n, _)| n == name)?;
        Some(tables.swap_remove(at).1)
    };
    let missing = |name: &str| ForecastError::Stored(format!("the table `{name}` is missing"));
    if let Some(c) = manifest.calibrated {
        base.win_rates = WinRates::Calibrated(Box::new(CalibratedRates {
            table: take("win_rates").ok_or_else(|| missing("win_rates"))?,
            prior_strength: Strengths {
                by_stage: c.prior_strength_by_stage,
                otherwise: c.prior_strength_otherwise,
            },
            stage_entries: c.stage_entries,
            decided_entries: c.decided_entries,
            days_in_stage_from: c.days_in_stage_from,
            undecided: c.undecided,
        }));
    }
    if let Some(c) = manifest.correction {
        let mut table = |name: &str| take(name).ok_or_else(|| missing(name));
        let year = FiscalYear::starting(c.quarter_ends_first_month).ok_or_else(|| {
            ForecastError::Stored(format!(
                "the quarter ends' first month {} is not 1 to 12",
                c.quarter_ends_first_month
            ))
        })?;
        base.correction = Some(Box::new(Correction {
            accuracy: table("accuracy")?,
            slippage: table("slippage")?,
            slip_points: table("slip_points")?,
            close_factors: table("close_factors")?,
            size_factors: table("size_factors")?,
            snapshots_used: c.snapshots_used,
            between_teams_variance: c.between_teams_variance,
            shock_variance: c.shock_variance,
            calendar: table("calendar")?,
            quarter_ends: QuarterEnds {
                year,
                share: c.quarter_ends_share,
                rules_share: c.quarter_ends_rules_share,
                slippage_place_days: c.slippage_place_days,
            },
        }));
    }
    base.new_deal_history = take("new_deal_history");
    base.timing = take("timing");
    base.amount_factors = take("amount_factors");
    Ok((base, manifest.notes))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use polars::prelude::IntoLazy;

    use super::*;
    use crate::{Bucket, ForecastOptions, Simulation, report_with_spec, rules_spec, test_common};

    /// A spec learned from a generated history, taken apart and put back
    /// on the rules' spec, forecasts what it did, Monte Carlo and all.
    #[test]
    fn a_learned_spec_put_back_together_forecasts_the_same() {
        let rules = test_common::rules();
        let data = test_common::generated(&test_common::world(3), 3, 400, 14);
        let history = quotecast_pipeline::read::History {
            stage_events: data.stage_events,
            outcomes: data.outcomes,
            snapshots: Some(data.snapshots),
            notes: Vec::new(),
        };
        let options = ForecastOptions {
            as_of: test_common::as_of(),
            bucket: Bucket::Quarter,
            group_by: Vec::new(),
            prior_strength: None,
            simulation: Simulation {
                trials: 300,
                ..Simulation::default()
            },
        };
        let snapshot = data.pipeline.collect().unwrap();
        let learned = crate::forecast_spec(
            Some(history),
            Some(snapshot.clone().lazy()),
            &rules,
            &options,
        )
        .unwrap();
        assert!(learned.0.correction.is_some());
        assert!(matches!(learned.0.win_rates, WinRates::Calibrated(_)));
        let (manifest, tables) = learned_tables(&learned.0, &learned.1);
        assert_eq!(manifest.notes, learned.1);
        let tables = tables.into_iter().map(|(n, t)| (n.to_owned(), t)).collect();
        let base = rules_spec(&rules, options.as_of, options.bucket);
        let again = with_learned(base, manifest, tables).unwrap();
        let first = report_with_spec(snapshot.clone(), learned, &options).unwrap();
        let second = report_with_spec(snapshot, again, &options).unwrap();
        assert_eq!(first.forecast.amounts, second.forecast.amounts);
        let (a, b) = (first.uncertainty.unwrap(), second.uncertainty.unwrap());
        assert_eq!(a.by_group, b.by_group);
        assert_eq!(first.notes, second.notes);
    }

    #[test]
    fn a_correction_without_its_tables_is_refused_by_name() {
        let rules = test_common::rules();
        let base = rules_spec(&rules, test_common::as_of(), Bucket::Month);
        let manifest = LearnedManifest {
            notes: Vec::new(),
            calibrated: None,
            correction: Some(CorrectionValues {
                snapshots_used: Vec::new(),
                between_teams_variance: 0.0,
                shock_variance: 0.0,
                quarter_ends_first_month: 1,
                quarter_ends_share: 0.2,
                quarter_ends_rules_share: 0.2,
                slippage_place_days: Some(21),
            }),
        };
        let error = with_learned(base, manifest, Vec::new()).unwrap_err();
        assert!(error.to_string().contains("`accuracy`"), "{error}");
    }
}
