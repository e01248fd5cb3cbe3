//! The chance that a stage entry ends in a win, from entries still open as
//! well as decided ones: the Aalen–Johansen estimate of the cumulative
//! incidence of winning, with losing as the competing outcome and entries
//! still open on the forecast date right-censored at their age.
//!
//! Counting only decided entries favours deals that resolve fast; waiting
//! until every entry of a period is decided (the old 180-day maturity)
//! makes the rates half a year late. Here an entry made last month says
//! what happened in its first month, and older entries say the rest, so a
//! team whose early conversion changes is followed within weeks. Entries
//! carry weights (by their age, see `calibrate`), so recent ones count more.

/// What happened to the entries of one group at one age, in days since
/// entering the stage: weighted wins, losses and entries still open (the
/// censored), plus the unweighted counts the report shows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AtAge {
    pub age_days: i64,
    pub won: f64,
    pub lost: f64,
    pub open: f64,
}

/// The estimate for one group of entries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Incidence {
    /// P(the deal is eventually won | it entered the stage), `None` when
    /// nothing in the group has been decided.
    pub win_rate: Option<f64>,
    /// How many decided entries the group's information is worth: decided
    /// entries count whole, an open entry of age `a` counts by the share of
    /// the eventual decisions that come by age `a`. The beta prior's
    /// shrinkage weighs this against the company rate.
    pub evidence: f64,
    /// The share of the entries' probability still undecided after the
    /// oldest age seen; it is split between win and loss in proportion to
    /// the decisions seen.
    pub undecided: f64,
}

/// Estimates from the group's entries by age; `ages` need not be sorted
/// and may repeat an age.
pub fn incidence(ages: &[AtAge]) -> Incidence {
    let mut rows = ages.to_vec();
    rows.sort_by_key(|r| r.age_days);
    let mut at_risk: f64 = rows.iter().map(|r| r.won + r.lost + r.open).sum();
    let (mut surviving, mut won, mut lost) = (1.0_f64, 0.0_f64, 0.0_f64);
    // The undecided share after each row, for the evidence of open entries.
    let mut after = Vec::with_capacity(rows.len());
    for r in &rows {
        if at_risk > 0.0 {
            won += surviving * r.won / at_risk;
            lost += surviving * r.lost / at_risk;
            surviving *= 1.0 - (r.won + r.lost) / at_risk;
        }
        after.push(surviving);
        at_risk -= r.won + r.lost + r.open;
    }
    let decided = won + lost;
    let evidence = if decided > 1e-12 {
        rows.iter()
            .zip(&after)
            .map(|(r, s)| r.won + r.lost + r.open * ((1.0 - s) / decided).clamp(0.0, 1.0))
            .sum()
    } else {
        0.0
    };
    Incidence {
        win_rate: (decided > 1e-12).then(|| won / decided),
        evidence,
        undecided: surviving.max(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(age_days: i64, won: f64, lost: f64, open: f64) -> AtAge {
        AtAge {
            age_days,
            won,
            lost,
            open,
        }
    }

    #[test]
    fn decided_entries_alone_give_the_plain_share() {
        let i = incidence(&[at(10, 3.0, 1.0, 0.0), at(40, 1.0, 5.0, 0.0)]);
        assert!((i.win_rate.unwrap() - 0.4).abs() < 1e-12);
        assert!((i.evidence - 10.0).abs() < 1e-12);
        assert!(i.undecided.abs() < 1e-12);
    }

    #[test]
    fn open_entries_count_only_for_the_ages_they_have_lived() {
        // Four entries: at day 10 one is won and one is still open (a
        // month-old deal); of the two left at risk, one is lost at day 30
        // and one won at day 60. By hand: S after day 10 = 1 − 1/4 = 3/4,
        // win(10) = 1/4; at day 30 one of the two at risk is lost:
        // loss = 3/4 · 1/2 = 3/8, S = 3/8; at day 60 the last is won:
        // win += 3/8. So P(win) = 5/8, not the decided share 2/3.
        let i = incidence(&[
            at(60, 1.0, 0.0, 0.0),
            at(10, 1.0, 0.0, 1.0),
            at(30, 0.0, 1.0, 0.0),
        ]);
        assert!((i.win_rate.unwrap() - 0.625).abs() < 1e-12);
        // The open entry had lived through the first quarter of the
        // decisions: evidence = 3 decided + 1 · (1 − 3/4) = 3.25.
        assert!((i.evidence - 3.25).abs() < 1e-12);
    }

    #[test]
    fn a_group_with_nothing_decided_has_no_rate_and_no_evidence() {
        let i = incidence(&[at(5, 0.0, 0.0, 7.0)]);
        assert_eq!(i.win_rate, None);
        assert_eq!(i.evidence, 0.0);
        assert_eq!(i.undecided, 1.0);
        assert_eq!(incidence(&[]).win_rate, None);
    }

    #[test]
    fn deals_still_open_after_the_oldest_age_split_like_the_decided() {
        // Two decided at day 1 (one each way), two open at day 100: half
        // the probability stays undecided and the rate is 1/2.
        let i = incidence(&[at(1, 1.0, 1.0, 0.0), at(100, 0.0, 0.0, 2.0)]);
        assert!((i.win_rate.unwrap() - 0.5).abs() < 1e-12);
        assert!((i.undecided - 0.5).abs() < 1e-12);
        // The open ones had seen every decision there was.
        assert!((i.evidence - 4.0).abs() < 1e-12);
    }
}
