//! The forecast engine: from a pipeline snapshot (one row per opportunity
//! line, see `quotecast_pipeline::columns`) to a stage-weighted forecast
//! per period bucket and any grouping, computed with polars.
//!
//! Pure: the caller hands in a [`LazyFrame`] (a validated snapshot, or a
//! scan of one) and typed settings, and gets data frames back with an
//! [`Explanation`] of how they were reached. Collecting is CPU work, so the
//! server runs these functions on a blocking thread.
//!
//! Money in the snapshot is exact decimal; the forecast's figures are
//! expected values, computed in `f64` in the reporting currency and
//! reported rounded to its minor unit.
mod accuracy;
mod backtest;
mod banded;
mod baselines;
mod calendar;
mod calibrate;
mod cells;
mod close_dates;
mod columns;
mod corrected;
mod correction;
mod deal_size;
mod distinct;
mod error;
mod first_seen;
mod frames;
mod funnel;
mod incidence;
mod montecarlo;
mod new_deals;
mod orders;
mod overdue;
mod pipeline_share;
mod prepare;
mod quarter_ends;
mod realisation;
mod report;
mod scores;
mod shocks;
mod slippage;
mod snapshot_weights;
mod spec;
pub mod stored;
mod tally;
/// The integration tests' generated organisation, for unit tests too.
#[cfg(test)]
#[path = "../tests/common/mod.rs"]
mod test_common;
mod then;
mod timing;
mod unseen_teams;
mod weighted;
mod winners;

pub use accuracy::{Learning, learn_correction};
pub use backtest::{Backtest, BacktestResult, MODELS, backtest};
pub use banded::Strengths;
pub use baselines::BASELINES;
pub use calibrate::{CalibratedRates, Calibration, calibrate};
pub use columns::HORIZON;
pub use corrected::{
    AMOUNT_IF_WON, CLOSE_DATE, QUANTITY_IF_WON, SLIP_POINT, SLIP_POINTS_OF_DEAL, WIN_PROBABILITY,
    demand_lines,
};
pub use correction::{Correction, QuarterEnds};
pub use error::ForecastError;
pub use funnel::{FunnelReport, funnel};
pub use montecarlo::{
    Cancel, Simulation, TrialBudget, Uncertainty, percentile, simulate, trial_rng,
};
pub use new_deals::{
    EXPECTED_BOOKINGS, NEW_DEAL_QUANTITY, NEW_DEALS, TeamNewDeals, new_deals_by_team,
};
pub use orders::{
    Booked, UNASSIGNED, WonOrder, WonOrderLine, book_won_orders, quote_number_of, without_ordered,
};
pub use overdue::overdue;
pub use pipeline_share::{
    NOT_YET_IN_PIPELINE, NOT_YET_IN_PIPELINE_SD, PIPELINE_SHARE, not_yet_in_pipeline,
    pipeline_shares,
};
pub use polars::prelude::{DataFrame, IntoLazy, LazyFrame};
pub use quarter_ends::PLACE_DAYS;
pub use realisation::AMOUNT_FACTOR;
pub use report::{
    BacktestOptions, ForecastOptions, ForecastReport, MATURITY_DAYS, MONEY_COLUMNS,
    backtest_report, forecast_report, forecast_spec, funnel_report, report_with_spec, rules_spec,
    vocabulary,
};
pub use shocks::{ShockModel, ShockVariances, Shocks};
pub use slippage::{ANY_STAGE, MIN_SLIP_OBSERVATIONS};
pub use spec::{Bucket, Dimension, ForecastSpec, RateTable, WinRates};
pub use then::RatesThen;
pub use weighted::{Explanation, Forecast, forecast};
pub use winners::{Walk, WinDraw, Won};
