//! Who must approve a priced quote, in which order, and how far the
//! decisions taken have got.
//!
//! Each triggered approval rule goes to the groups its route names (the
//! rule's own route, else its level's); each group is a seat that decides
//! for the rules sent to it. Seats of one level form a step and decide in
//! parallel; steps follow the levels' ranks, lowest first. Rules with no
//! route go to one seat that anyone whose approval limit reaches the
//! highest of their levels may take, in that level's step.
//!
//! On resubmission an earlier approval still counts for a seat when every
//! rule the seat decides now was approved at a figure no better for the
//! company than today's: a discount no larger, a margin no smaller.
use std::collections::{BTreeMap, BTreeSet};

use quotecast_model::{ApprovalCondition, ApproverGroup, Decide, RuleSet};
use rust_decimal::Decimal;

use crate::ApprovalOutcome;

/// Who takes a seat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatHolder<'r> {
    Group(&'r ApproverGroup),
    /// Anyone whose approval limit reaches this rank.
    Limit,
}

/// One seat of a step: a group (or the approval limits) and the rules it
/// decides, each with the figure that triggered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat<'r> {
    /// `group:<id>` or `limit:<level>`: what decisions name.
    pub key: String,
    pub holder: SeatHolder<'r>,
    pub level: String,
    pub rank: u32,
    pub rules: Vec<(String, Option<Decimal>)>,
}

/// Seats that decide in parallel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step<'r> {
    pub level: String,
    pub rank: u32,
    pub seats: Vec<Seat<'r>>,
}

/// The approval chain of a priced quote's outcome (empty: no approval).
pub fn approval_chain<'r>(rules: &'r RuleSet, outcome: &ApprovalOutcome) -> Vec<Step<'r>> {
    let rank = |level: &str| rules.approval_level(level).map_or(u32::MAX, |l| l.rank);
    let mut seats: BTreeMap<(u32, String), Seat<'r>> = BTreeMap::new();
    let unrouted_top = outcome
        .triggered
        .iter()
        .filter(|t| rules.approval_route(&t.rule_id, &t.level).is_none())
        .max_by_key(|t| rank(&t.level))
        .map(|t| t.level.clone());
    for t in &outcome.triggered {
        let groups: Vec<&'r ApproverGroup> = rules
            .approval_route(&t.rule_id, &t.level)
            .unwrap_or_default()
            .iter()
            .filter_map(|g| rules.approver_group(g))
            .collect();
        let mut add = |key: String, holder: SeatHolder<'r>, level: &str| {
            let r = rank(level);
            seats
                .entry((r, key.clone()))
                .or_insert_with(|| Seat {
                    key,
                    holder,
                    level: level.to_owned(),
                    rank: r,
                    rules: Vec::new(),
                })
                .rules
                .push((t.rule_id.clone(), t.figure));
        };
        if groups.is_empty() {
            let level = unrouted_top.as_deref().unwrap_or(&t.level);
            add(format!("limit:{level}"), SeatHolder::Limit, level);
        } else {
            for g in groups {
                add(format!("group:{}", g.id), SeatHolder::Group(g), &t.level);
            }
        }
    }
    let mut steps: Vec<Step<'r>> = Vec::new();
    for ((r, _), seat) in seats {
        match steps.last_mut() {
            Some(step) if step.rank == r => step.seats.push(seat),
            _ => steps.push(Step {
                level: seat.level.clone(),
                rank: r,
                seats: vec![seat],
            }),
        }
    }
    steps
}

/// A decision on a seat, in the round it was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub seat: String,
    /// The member whose part of the seat it fills (the approver, or whom
    /// the approver stands in for); `escalated` fills the whole seat.
    pub member: String,
    pub approver: String,
    pub approved: bool,
    /// The figure of each rule the seat decided, as approved.
    pub figures: BTreeMap<String, Decimal>,
    /// The quote's currency then (net totals compare only within one).
    pub currency: String,
}

/// The member name of a decision taken by escalation.
pub const ESCALATED: &str = "escalated";

/// An undecided seat of the current step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSeat<'c, 'r> {
    pub seat: &'c Seat<'r>,
    /// The members still to decide (a group), empty for a limit seat.
    pub waiting_for: Vec<String>,
}

/// How far a round's decisions have got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress<'c, 'r> {
    Approved,
    Rejected {
        by: String,
    },
    Waiting {
        step: usize,
        open: Vec<OpenSeat<'c, 'r>>,
    },
}

/// The progress of `chain` under a round's `decisions`.
pub fn progress<'c, 'r>(chain: &'c [Step<'r>], decisions: &[Decision]) -> Progress<'c, 'r> {
    if let Some(rejection) = decisions.iter().find(|d| !d.approved) {
        return Progress::Rejected {
            by: rejection.approver.clone(),
        };
    }
    for (i, step) in chain.iter().enumerate() {
        let open: Vec<OpenSeat<'c, 'r>> = step
            .seats
            .iter()
            .filter_map(|seat| {
                let on_seat: Vec<&Decision> =
                    decisions.iter().filter(|d| d.seat == seat.key).collect();
                if on_seat.iter().any(|d| d.member == ESCALATED) {
                    return None;
                }
                match &seat.holder {
                    SeatHolder::Limit => on_seat.is_empty().then(|| OpenSeat {
                        seat,
                        waiting_for: Vec::new(),
                    }),
                    SeatHolder::Group(g) => {
                        let approved: BTreeSet<&str> =
                            on_seat.iter().map(|d| d.member.as_str()).collect();
                        let filled = match g.decide {
                            Decide::First => !approved.is_empty(),
                            Decide::All => g.members.iter().all(|m| approved.contains(m.as_str())),
                        };
                        (!filled).then(|| OpenSeat {
                            seat,
                            waiting_for: g
                                .members
                                .iter()
                                .filter(|m| !approved.contains(m.as_str()))
                                .cloned()
                                .collect(),
                        })
                    }
                }
            })
            .collect();
        if !open.is_empty() {
            return Progress::Waiting { step: i, open };
        }
    }
    Progress::Approved
}

/// Whether a figure now is no worse for the company than one approved:
/// a margin no smaller, anything else (a discount, a total) no larger.
fn no_worse(rules: &RuleSet, rule: &str, now: Decimal, approved: Decimal) -> bool {
    match rules.approval_rule(rule).map(|r| &r.condition) {
        Some(ApprovalCondition::MarginBelow(_)) => now >= approved,
        Some(_) => now <= approved,
        None => false,
    }
}

/// The earlier approvals that still hold for `chain` (smart re-approval):
/// for each seat and member, its latest earlier decision, if that was an
/// approval in the same currency of every rule the seat decides now at a
/// figure no better than today's. They are returned as this round's
/// decisions.
pub fn carried_over(
    rules: &RuleSet,
    chain: &[Step<'_>],
    earlier: &[Decision],
    currency: &str,
) -> Vec<Decision> {
    let mut latest: BTreeMap<(&str, &str), &Decision> = BTreeMap::new();
    for d in earlier {
        latest.insert((d.seat.as_str(), d.member.as_str()), d);
    }
    let mut carried = Vec::new();
    for seat in chain.iter().flat_map(|s| &s.seats) {
        let covers = |d: &Decision| {
            d.approved
                && d.member != ESCALATED
                && d.currency == currency
                && seat
                    .rules
                    .iter()
                    .all(|(rule, now)| match (now, d.figures.get(rule)) {
                        (Some(now), Some(then)) => no_worse(rules, rule, *now, *then),
                        _ => false,
                    })
        };
        for ((s, _), d) in &latest {
            if *s == seat.key && covers(d) {
                carried.push((*d).clone());
            }
        }
    }
    carried
}

/// Who acts on an approval: the principal, its approval limit's rank,
/// those who delegated their approvals to it (with their limits' ranks),
/// and the groups it may decide for because they waited too long.
#[derive(Debug, Clone, Default)]
pub struct Acting<'a> {
    pub name: &'a str,
    pub limit_rank: Option<u32>,
    pub delegated_by: Vec<(String, Option<u32>)>,
    pub escalated_for: Vec<String>,
}

/// The member whose part of `open` the actor may fill (itself, someone
/// who delegated to it, or [`ESCALATED`]), if any.
pub fn may_take(open: &OpenSeat<'_, '_>, who: &Acting<'_>) -> Option<String> {
    let reaches = |rank: Option<u32>| rank.is_some_and(|r| r >= open.seat.rank);
    match &open.seat.holder {
        SeatHolder::Limit => {
            if reaches(who.limit_rank) {
                return Some(who.name.to_owned());
            }
            who.delegated_by
                .iter()
                .find(|(_, rank)| reaches(*rank))
                .map(|(from, _)| from.clone())
        }
        SeatHolder::Group(g) => {
            if open.waiting_for.iter().any(|m| m == who.name) {
                return Some(who.name.to_owned());
            }
            if let Some((from, _)) = who
                .delegated_by
                .iter()
                .find(|(from, _)| open.waiting_for.contains(from))
            {
                return Some(from.clone());
            }
            who.escalated_for
                .contains(&g.id)
                .then(|| ESCALATED.to_owned())
        }
    }
}
