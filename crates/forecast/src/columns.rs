//! Column names more than one module reads or writes: the prepared
//! snapshot lines (see [`crate::prepare`]), the deal rows of the corrected
//! forecast, and the tables of a learned [`crate::Correction`]. A leaf:
//! it imports nothing from the crate, and every module may use it.
//! Names a single module keeps to itself stay in that module.

// --- Prepared snapshot lines (`prepare::prepared`) ---
/// The period bucket of a line's (possibly moved) close date.
pub const BUCKET: &str = "bucket";
/// The line's win rate (the rules', or calibrated), 0 to 1.
pub(crate) const WIN_RATE: &str = "__win_rate";
/// The effective forecast category: the row's override, else its stage's.
pub(crate) const CATEGORY: &str = "__category";
/// Units of the line's currency per unit of the reporting currency.
pub(crate) const RATE: &str = "__rate";
/// The line's amount in the reporting currency.
pub(crate) const VALUE: &str = "__value";
pub(crate) const IS_OPEN: &str = "__open";
pub(crate) const IS_WON: &str = "__won";
/// The day an open deal is expected to close (not before the forecast
/// date), or a won deal closed.
pub(crate) const CLOSE: &str = "__close";
/// The stage's time limit in days, if it has one.
pub(crate) const LIMIT: &str = "__limit";

// --- Per-cell counts of the one pass over the snapshot ---
pub const OPPORTUNITIES: &str = "opportunities";
pub(crate) const LINES: &str = "lines";
pub(crate) const DEALS: &str = "__deals";
/// What an opportunity is to the explanation's counts.
pub(crate) const KIND: &str = "__kind";

// --- Calibrated win rates (`calibrate`) ---
pub const COMPANY_RATE: &str = "company_rate";
/// The calibrated rates' band: the rates of deals in their stage at least
/// this many days.
pub const IN_STAGE_FROM: &str = "days_in_stage_from";
pub const CALIBRATED: &str = "calibrated";

// --- Deal rows of the corrected forecast (`corrected::expected_rows`) ---
/// Result column: the corrected expected amount.
pub const CORRECTED: &str = "corrected";
/// The deal's win probability.
pub(crate) const PROBABILITY: &str = "__probability";
/// The value the row books if won (accuracy factor applied).
pub(crate) const IF_WON: &str = "__if_won";
/// The share of the line the row carries (its slippage point's).
pub(crate) const SHARE: &str = "__share";
/// The deal's factor on its win probability in the corrected forecast:
/// its close-date factor times its size factor (1 without a correction).
pub(crate) const DEAL_FACTOR: &str = "__deal_factor";
/// The deal's number in the order of the opportunity ids (see
/// `corrected::numbered_deals`): the trials group and order deals on it
/// rather than on the text of their ids.
pub(crate) const DEAL: &str = "__deal";

// --- A learned correction's tables (`Correction`) ---
/// What a past deal or cell booked, in the reporting currency.
pub const REALISED: &str = "realised";
pub const COMPANY_RATIO: &str = "company_ratio";
pub const FACTOR: &str = "factor";
/// The variance of a team's true factor given its history (credibility
/// theory: τ²σ²ₜ / (τ² + σ²ₜ)), in squared ratio units.
pub const FACTOR_VARIANCE: &str = "factor_variance";
pub const POINT: &str = "point";
pub const SHIFT_DAYS: &str = "shift_days";
/// The team key of the company's slippage points and calendar factors
/// (the files' readers refuse a team so named).
pub const COMPANY: &str = quotecast_pipeline::columns::COMPANY;
/// Slippage points per team, each carrying this share of a deal.
pub const SLIP_POINTS: u32 = 10;
/// A bucket's place from the bucket holding the forecast (or snapshot)
/// date, which is 0.
pub const HORIZON: &str = "horizon";
pub const CALENDAR_FACTOR: &str = "calendar_factor";
/// The horizon's bucket shock: the relative variance of a multiplier the
/// deals of one team share in one bucket.
pub const SHOCK_VARIANCE: &str = "shock_variance";
/// The horizon's company shock: the relative variance of a multiplier
/// the deals of all teams share in one bucket.
pub const COMPANY_SHOCK_VARIANCE: &str = "company_shock_variance";

// --- Backtest cells ---
/// A model's or baseline's forecast for one bucket × team cell.
pub(crate) const CELL_FORECAST: &str = "__cell_forecast";
