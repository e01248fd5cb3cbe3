//! What the forecast learns from past snapshots to correct itself, as
//! data: per-team accuracy factors, slippage points and calendar factors
//! (learned by [`crate::learn_correction`], applied by the corrected
//! forecast, its Monte Carlo and the demand roll-down). Types only.
use chrono::NaiveDate;
use polars::prelude::DataFrame;
use quotecast_model::FiscalYear;

/// A learned correction: per-team accuracy factors and slippage.
#[derive(Debug, Clone)]
pub struct Correction {
    /// One row per team: `observations` (deal-snapshot pairs),
    /// `forecast`, `realised` (reporting currency), `team_ratio`,
    /// `company_ratio`, `credibility` (0 to 1) and `factor`.
    pub accuracy: DataFrame,
    /// One row per team with `won_observations`, `late_share` (won deals
    /// closing after their stated date, 0 to 1) and `median_delay_days`.
    pub slippage: DataFrame,
    /// `team` (or `*` for the company), `point`, `shift_days`: the
    /// slippage points applied to open deals.
    pub slip_points: DataFrame,
    /// Per stage and band of days to the stated close (`days_to_close`):
    /// `observations`, `forecast`, `realised`, `ratio` and the
    /// `close_factor` on the win probability of open deals in it (see
    /// [`crate::close_dates`]); empty: none.
    pub close_factors: DataFrame,
    /// Per team (and `*`) and deal size (`small`, `medium`, `large`, from
    /// `size_from` in the reporting currency): `observations`, `forecast`,
    /// `realised`, `ratio` and the `size_factor` on the win probability
    /// of open deals of that team and size (see [`crate::deal_size`]);
    /// empty: none.
    pub size_factors: DataFrame,
    /// The past snapshots learned from.
    pub snapshots_used: Vec<NaiveDate>,
    /// The variance of the true team ratios (τ²).
    pub between_teams_variance: f64,
    /// How much a team's realised over forecast moves from one snapshot
    /// to the next beyond its deals' own wins and losses: the relative
    /// variance of a shock all deals of a team share in a period (0 to
    /// 1). The Monte Carlo draws it per team and trial.
    pub shock_variance: f64,
    /// Per team (and `*` for the company) and horizon: `deals`,
    /// `forecast`, `realised`, `ratio` and the `calendar_factor` applied
    /// to the open deals' value in that horizon (see [`crate::calendar`]),
    /// `pipeline_share`, the share of all bookings after past snapshots
    /// in that horizon that deals open on them made, and
    /// `not_yet_in_pipeline` and `not_yet_in_pipeline_sd`, what the other
    /// deals booked there per snapshot (mean and spread, the forecast's
    /// `new_deals`, see [`crate::new_deals`]); empty when no snapshot is
    /// old enough for a whole bucket.
    pub calendar: DataFrame,
    /// Where won deals bunch at quarter ends: the quarters the slippage's
    /// quarter-end anchor counts from (see [`crate::slippage`]).
    pub quarter_ends: QuarterEnds,
}

/// The quarters whose ends won deals wait for: of the three ways to cut a
/// year into quarters (a fiscal year starting in January, February or
/// March, or a month three apart), the rules' fiscal year unless the
/// history's wins bunch more at another's quarter ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuarterEnds {
    /// The fiscal year whose quarter ends the anchor counts from.
    pub year: FiscalYear,
    /// The share of won deals that closed in the last days of its
    /// quarters (0 to 1; about a sixth without a push).
    pub share: f64,
    /// The same share in the rules' fiscal year's quarters.
    pub rules_share: f64,
    /// With a push (see `quarter_ends::pushed`), how near to the forecast
    /// date's place in its quarter (days from the quarter's first day)
    /// the past snapshots stood whose won deals the slippage learned
    /// from: when a deal decided closes depends on where in the quarter
    /// it was seen. `None`: from every past snapshot.
    pub slippage_place_days: Option<u32>,
}
