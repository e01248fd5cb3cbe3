//! Deals not yet in the pipeline, as the roll-down plans them. The
//! forecast adds, per team and bucket, what deals created after today
//! are expected to book (`quotecast_forecast::new_deals_by_team`); their
//! products are not known, so each team's new deals are taken to buy
//! what its deals of today buy: the team's expected quantity of every
//! product per unit of its expected value, over the pipeline's lines and
//! what is won (its won deals' alone where it has any: what they booked
//! is what a unit sells for). Option lines are left out of that mix: new deals come
//! unconfigured and the roll-down gives them the attach-rate options of
//! their products, as it does any deal sold without a configuration.
//!
//! So the trials draw them with the spread history shows, a team's new
//! deals in a bucket are a few equally likely deals, each won or not:
//! with `K` deals of probability `p`, value `v` each, the mean K·p·v and
//! the relative variance (1 − p) / (K·p) are the calendar's; `K` is the
//! whole number nearest 1 / cv² (at most [`MAX_DEALS`]), `p` then follows.
//! They are named `new deals TEAM BUCKET k/K` in the pegging, so a buyer
//! sees which part of a purchase bets on deals nobody has created yet.
use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use quotecast_forecast::TeamNewDeals;
use quotecast_model::RuleSet;

use crate::{DemandLine, Name, Names};

/// The most deals a team's new deals in one bucket are split into.
pub const MAX_DEALS: u32 = 8;
/// The highest win probability a new deal is given: below one, so that
/// none counts as a won deal whose products teach the attach rates.
const MAX_PROBABILITY: f64 = 0.95;

/// What one team's deals of today buy per unit of their expected value:
/// per product line and SKU, (quantity, amount).
type Mix = BTreeMap<(Name, Name), (f64, f64)>;

/// The lines of the new deals `new` (see the module), with each team's
/// mix from `pipeline`, the plan's other lines; signed in the middle of
/// their bucket, never before `as_of`.
pub(crate) fn new_deal_lines(
    rules: &RuleSet,
    pipeline: &[DemandLine],
    new: &[TeamNewDeals],
    as_of: NaiveDate,
) -> Vec<DemandLine> {
    let options: HashSet<&str> = rules
        .configurations()
        .flat_map(|m| m.options.iter().map(|o| o.sku.as_str()))
        .collect();
    // Per team, over its won deals and over all: the value, and per
    // product the quantity and amount (expected, for open deals).
    let mut mixes: BTreeMap<&str, [(f64, Mix); 2]> = BTreeMap::new();
    for line in pipeline {
        let weight = line.probability / f64::from(line.points.max(1));
        let team = mixes.entry(&line.team).or_default();
        let won = usize::from(line.probability < 1.0);
        for (value, mix) in &mut team[won..] {
            *value += weight * line.amount;
            if options.contains(&*line.sku) {
                continue;
            }
            let entry = mix
                .entry((line.product_line.clone(), line.sku.clone()))
                .or_default();
            entry.0 += weight * line.quantity;
            entry.1 += weight * line.amount;
        }
    }
    let mut names = Names::default();
    let mut out = Vec::new();
    for team_new in new {
        // What the team's won deals bought, where it has any.
        let Some((value, mix)) = mixes
            .get(team_new.team.as_str())
            .and_then(|[won, all]| [won, all].into_iter().find(|(v, _)| *v > 0.0))
        else {
            continue;
        };
        if *value <= 0.0 || team_new.mean <= 0.0 {
            continue;
        }
        let (deals, probability) = split(team_new.mean, team_new.sd);
        // Each deal's value, its units as the mix's per unit of value, and
        // its amount shared by its lines as the mix's amounts are (option
        // lines' amounts go to the products': the deal books its value).
        let each = team_new.mean / (f64::from(deals) * probability);
        let scale = each / value;
        let amounts: f64 = mix.values().map(|(_, a)| a).sum();
        let share = |amount: f64| match amounts > 0.0 {
            true => each * amount / amounts,
            false => 0.0,
        };
        let half = (team_new.ends - team_new.starts).num_days() / 2;
        let signed = (team_new.starts + chrono::Days::new(half.max(0) as u64)).max(as_of);
        let team = names.get(&team_new.team);
        for k in 1..=deals {
            let deal: Name = format!(
                "new deals {} {} {k}/{deals}",
                team_new.team, team_new.starts
            )
            .into();
            for ((product_line, sku), (quantity, amount)) in mix {
                out.push(DemandLine {
                    deal: deal.clone(),
                    account: names.get(""),
                    product_line: product_line.clone(),
                    sku: sku.clone(),
                    quantity: quantity * scale,
                    amount: share(*amount),
                    close_date: signed,
                    probability,
                    point: 0,
                    points: 1,
                    team: team.clone(),
                    horizon: team_new.horizon,
                    shocks: Default::default(),
                });
            }
        }
    }
    out
}

/// What the plan says of the new deals' `lines`: how many deals, over
/// how many buckets, and their expected value; none without any.
pub(crate) fn note(lines: &[DemandLine], currency: &str) -> Option<String> {
    if lines.is_empty() {
        return None;
    }
    let deals: HashSet<&str> = lines.iter().map(|l| &*l.deal).collect();
    let buckets: HashSet<(&str, NaiveDate)> =
        lines.iter().map(|l| (&*l.team, l.close_date)).collect();
    let value: f64 = lines.iter().map(|l| l.probability * l.amount).sum();
    Some(format!(
        "deals not yet in the pipeline are planned too: {} deals over {} team-buckets, {value:.0} {currency} expected (the forecast's new_deals), each team's buying per unit of value what its won deals bought (else its open deals), options by attach rates; pegged as `new deals TEAM BUCKET k/K`",
        deals.len(),
        buckets.len(),
    ))
}

/// The number of deals and their win probability that give a total of
/// mean `mean` and standard deviation `sd` (see the module).
fn split(mean: f64, sd: f64) -> (u32, f64) {
    let cv2 = (sd / mean).powi(2);
    if !cv2.is_finite() || cv2 <= 0.0 {
        return (1, MAX_PROBABILITY);
    }
    let deals = (1.0 / cv2).round().clamp(1.0, f64::from(MAX_DEALS)) as u32;
    let probability = (1.0 / (1.0 + f64::from(deals) * cv2)).min(MAX_PROBABILITY);
    (deals, probability)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_common::{d, example_rules, line};

    #[test]
    fn new_deals_buy_the_teams_products_per_unit_of_value_without_options() {
        let with = |deal: &str, sku: &str, quantity: f64, amount: f64, p: f64| DemandLine {
            team: "a".into(),
            amount,
            ..line(deal, sku, quantity, "2026-12-01", p)
        };
        // Team a: a half-likely deal of 10 laptops for 40,000 with a CPU
        // option for 10,000, and 2 laptops won for 10,000.
        let pipeline = [
            with("x", "LT-14-PRO", 10.0, 40_000.0, 0.5),
            with("x", "LT-CPU-I7", 10.0, 10_000.0, 0.5),
            with("y", "LT-14-PRO", 2.0, 10_000.0, 1.0),
        ];
        let new = [TeamNewDeals {
            team: "a".into(),
            starts: d("2027-01-04"),
            ends: d("2027-01-11"),
            horizon: 7,
            mean: 60_000.0,
            sd: 30_000.0,
        }];
        let lines = new_deal_lines(&example_rules(), &pipeline, &new, d("2026-11-20"));
        // cv 0.5: four deals of probability one half.
        let deals: HashSet<&str> = lines.iter().map(|l| &*l.deal).collect();
        assert_eq!(deals.len(), 4);
        assert!(deals.contains("new deals a 2027-01-04 1/4"));
        // No option line: new deals come unconfigured. They buy what the
        // won deal bought per unit of value: 2 laptops per 10,000, 12 for
        // 60,000.
        assert!(lines.iter().all(|l| &*l.sku == "LT-14-PRO"));
        let expected = |lines: &[DemandLine], f: fn(&DemandLine) -> f64| -> f64 {
            lines.iter().map(|l| l.probability * f(l)).sum()
        };
        assert!((expected(&lines, |l| l.quantity) - 12.0).abs() < 1e-9);
        assert!((expected(&lines, |l| l.amount) - 60_000.0).abs() < 1e-6);
        // Without a won deal, the open ones' expected units per expected
        // value, options' amounts included: 5 laptops per 25,000, 12 for
        // 60,000; the laptops' lines book the whole 60,000.
        let open = &pipeline[..2];
        let without = new_deal_lines(&example_rules(), open, &new, d("2026-11-20"));
        assert!((expected(&without, |l| l.quantity) - 12.0).abs() < 1e-9);
        assert!((expected(&without, |l| l.amount) - 60_000.0).abs() < 1e-6);
        // Signed mid-bucket.
        assert!(lines.iter().all(|l| l.close_date == d("2027-01-07")));
        // A team with nothing in the pipeline has no mix: no new deals.
        let other = [TeamNewDeals {
            team: "b".into(),
            ..new[0].clone()
        }];
        assert!(new_deal_lines(&example_rules(), &pipeline, &other, d("2026-11-20")).is_empty());
    }

    #[test]
    fn a_teams_new_deals_have_the_calendars_mean_and_spread() {
        for (mean, sd) in [(100.0, 10.0), (100.0, 40.0), (100.0, 150.0), (5.0, 1.0)] {
            let (k, p) = split(mean, sd);
            let value = mean / (f64::from(k) * p);
            let total_mean = f64::from(k) * p * value;
            let total_sd = (f64::from(k) * p * (1.0 - p)).sqrt() * value;
            assert!((total_mean - mean).abs() < 1e-9);
            assert!(k <= MAX_DEALS && p > 0.0 && p < 1.0, "{k} {p}");
            assert!(
                (total_sd - sd).abs() < 1e-6 * mean,
                "{mean} {sd}: {total_sd}"
            );
        }
    }
}
