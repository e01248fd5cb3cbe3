//! Cash-in: each won line's amount through its payment terms (the
//! account's own for its product line, else the account's, else the
//! line's default), installment by installment, on the day each falls due
//! (signing or delivery, plus net days). The Monte Carlo adds up the
//! payments of the deals each trial wins, at the slippage point it drew,
//! so cash comes from the same trials as component demand.
use chrono::{Days, NaiveDate};
use quotecast_model::{Installment, Milestone, RuleSet};

use crate::{
    CashIn, DemandLine, Explanation, Name, PlanOptions,
    calendar::{Calendar, Placement},
    prepare::Prepared,
    trials::bucket_percentiles,
};

/// One installment of a line: `amount` in `bucket` if its deal is won at
/// `point`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Payment {
    pub point: u32,
    pub bucket: u32,
    pub amount: f64,
    /// The shock group of its line (given by the caller, which knows
    /// the groups).
    pub group: u32,
}

/// The payment terms of the last account and product line asked for,
/// each installment with its percentage as a float: a deal's lines
/// nearly always share both, so the terms are looked up once per deal.
#[derive(Default)]
pub(crate) struct TermsMemo<'a> {
    asked: Option<(&'a Name, &'a str)>,
    found: Option<&'a [Installment]>,
    percents: Vec<f64>,
}

impl<'a> TermsMemo<'a> {
    /// The installments `account` pays `product_line` in (its own terms,
    /// else the product line's default) with their percentages, or `None`
    /// when it has no terms.
    pub fn of(
        &mut self,
        rules: &'a RuleSet,
        account: &'a Name,
        product_line: &'a str,
    ) -> Option<(&'a [Installment], &[f64])> {
        if self.asked != Some((account, product_line)) {
            self.asked = Some((account, product_line));
            self.found = rules
                .planning()
                .terms_for(account, product_line)
                .map(|t| t.installments.as_slice());
            self.percents.clear();
            self.percents.extend(
                self.found
                    .unwrap_or_default()
                    .iter()
                    .map(|i| f64::try_from(i.percent.0).unwrap_or(0.0)),
            );
        }
        self.found.map(|found| (found, self.percents.as_slice()))
    }
}

/// Appends the installments of `line` (paid by `terms`, signed on its
/// close date, delivered on `delivery`) that fall in the horizon; counts
/// those before the plan date and after the horizon, weighted by the
/// chance the line is won at its point, and lines without terms, in
/// `explanation`.
pub(crate) fn payments(
    line: &DemandLine,
    terms: Option<(&[Installment], &[f64])>,
    delivery: NaiveDate,
    calendar: &Calendar,
    explanation: &mut Explanation,
    out: &mut Vec<Payment>,
) {
    if line.amount == 0.0 {
        return;
    }
    let weight = line.probability / f64::from(line.points.max(1));
    let Some((installments, percents)) = terms else {
        explanation.lines_without_terms += 1;
        return;
    };
    for (installment, &share) in installments.iter().zip(percents) {
        let from = match installment.at {
            Milestone::Signing => line.close_date,
            Milestone::Delivery => delivery,
        };
        let due = from
            .checked_add_days(Days::new(u64::from(installment.net_days)))
            .unwrap_or(NaiveDate::MAX);
        let amount = line.amount * share / 100.0;
        match calendar.place(due) {
            Placement::PastDue => explanation.cash_before_plan_date += weight * amount,
            Placement::Beyond => explanation.cash_beyond_horizon += weight * amount,
            Placement::In(b) => out.push(Payment {
                point: line.point,
                bucket: b as u32,
                amount,
                group: 0,
            }),
        }
    }
}

/// The won payments of one trial, per bucket, each times its shock
/// group's multiplier in `m`.
pub(crate) fn add_payments(payments: &[Payment], point: u32, m: &[f64], acc: &mut [f64]) {
    for p in payments.iter().filter(|p| p.point == point) {
        acc[p.bucket as usize] += p.amount * m[p.group as usize];
    }
}

/// Cash-in per bucket: expected (and the part from won deals) and, with
/// trials, P10/P50/P90 of the trial-major `trials` series.
pub(crate) fn cash_in(p: &Prepared, trials: &[f64], options: &PlanOptions) -> Vec<CashIn> {
    let calendar = &options.calendar;
    let buckets = calendar.buckets();
    let n_trials = options.trials as usize;
    let mut expected = vec![(0.0, 0.0); buckets];
    for deal in &p.deals {
        let weight = deal.probability / f64::from(deal.points.max(1));
        for pay in &p.payments[deal.pay_start as usize..deal.pay_end as usize] {
            let e = &mut expected[pay.bucket as usize];
            e.0 += weight * pay.amount;
            if deal.probability >= 1.0 {
                e.1 += pay.amount;
            }
        }
    }
    let mut scratch = Vec::with_capacity(n_trials);
    let mut out = Vec::new();
    for (b, &(mean, won)) in expected.iter().enumerate() {
        let percentiles = (n_trials > 0 && trials.len() >= n_trials * buckets)
            .then(|| bucket_percentiles(trials, n_trials, buckets, b, &mut scratch));
        if mean <= 0.0 && percentiles.is_none_or(|q| q[2] <= 0.0) {
            continue;
        }
        out.push(CashIn {
            bucket: calendar.start(b),
            expected: mean,
            from_won: won,
            percentiles,
        });
    }
    out
}
