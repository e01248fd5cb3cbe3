//! Approval chains over the example rules (rules/approvals.toml and
//! rules/approval_chains.toml): steps by level, parallel seats, first
//! responder and all-members groups, smart re-approval, delegation and
//! escalation.
#![allow(clippy::unwrap_used)]

use std::{collections::BTreeMap, str::FromStr};

use quotecast_model::RuleSet;
use quotecast_pricing::{
    ApprovalOutcome, TriggeredApproval,
    approval_chain::{
        Acting, Decision, ESCALATED, Progress, approval_chain, carried_over, may_take, progress,
    },
};
use rust_decimal::Decimal;

fn rules() -> RuleSet {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    quotecast_rules::load_dir(&dir).unwrap().0
}

/// The example rules without their approval routes and groups.
fn rules_without_routes() -> RuleSet {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let sources: Vec<_> = quotecast_rules::read_dir(&dir)
        .unwrap()
        .into_iter()
        .filter(|s| !s.path.ends_with("approval_chains.toml"))
        .collect();
    quotecast_rules::compile_sources(&sources).unwrap().0
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn triggered(rule: &str, level: &str, figure: &str) -> TriggeredApproval {
    TriggeredApproval {
        rule_id: rule.into(),
        level: level.into(),
        reason: String::new(),
        figure: Some(dec(figure)),
    }
}

/// A rep discount of `discount` % at a margin of `margin` %.
fn outcome(discount: &str, margin: &str) -> ApprovalOutcome {
    let mut t = vec![triggered("appr-manual-10", "manager", discount)];
    if dec(discount) > dec("20") {
        t.push(triggered("appr-manual-20", "director", discount));
    }
    if dec(margin) < dec("25") {
        t.push(triggered("appr-margin-25", "director", margin));
    }
    ApprovalOutcome {
        level: "director".into(),
        triggered: t,
    }
}

fn approve(seat: &str, who: &str, figures: &[(&str, &str)]) -> Decision {
    Decision {
        seat: seat.into(),
        member: who.into(),
        approver: who.into(),
        approved: true,
        figures: figures
            .iter()
            .map(|(r, f)| (r.to_string(), dec(f)))
            .collect::<BTreeMap<_, _>>(),
        currency: "USD".into(),
    }
}

fn keys(p: &Progress<'_, '_>) -> (usize, Vec<String>) {
    match p {
        Progress::Waiting { step, open } => {
            (*step, open.iter().map(|o| o.seat.key.clone()).collect())
        }
        other => panic!("not waiting: {other:?}"),
    }
}

#[test]
fn steps_follow_the_levels_and_seats_of_one_level_decide_in_parallel() {
    let rules = rules();
    let chain = approval_chain(&rules, &outcome("22", "24.03"));
    let shape: Vec<(&str, Vec<&str>)> = chain
        .iter()
        .map(|s| {
            (
                s.level.as_str(),
                s.seats.iter().map(|x| x.key.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("manager", vec!["group:sales-managers"]),
            ("director", vec!["group:finance", "group:sales-directors"]),
        ]
    );
    // The directors decide both director rules; finance only the margin.
    let directors = &chain[1].seats[1];
    let decided: Vec<&str> = directors.rules.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(decided, ["appr-manual-20", "appr-margin-25"]);

    let mut decisions = Vec::new();
    assert_eq!(
        keys(&progress(&chain, &decisions)),
        (0, vec!["group:sales-managers".into()])
    );
    // The first manager to answer decides for the group.
    decisions.push(approve("group:sales-managers", "max@acme.example", &[]));
    assert_eq!(
        keys(&progress(&chain, &decisions)),
        (
            1,
            vec!["group:finance".into(), "group:sales-directors".into()]
        )
    );
    decisions.push(approve("group:sales-directors", "val@acme.example", &[]));
    assert_eq!(keys(&progress(&chain, &decisions)).1, ["group:finance"]);
    decisions.push(approve("group:finance", "fay@acme.example", &[]));
    assert_eq!(progress(&chain, &decisions), Progress::Approved);
    // One rejection anywhere rejects the round.
    let mut rejected = decisions.clone();
    rejected[1].approved = false;
    assert!(matches!(
        progress(&chain, &rejected),
        Progress::Rejected { .. }
    ));
    // No rule triggered: nothing to wait for.
    let none = ApprovalOutcome {
        level: "none".into(),
        triggered: vec![],
    };
    assert_eq!(
        progress(&approval_chain(&rules, &none), &[]),
        Progress::Approved
    );
}

#[test]
fn an_all_members_group_waits_for_every_member() {
    let rules = rules();
    let vp = ApprovalOutcome {
        level: "vp".into(),
        triggered: vec![triggered("appr-manual-30", "vp", "35")],
    };
    let chain = approval_chain(&rules, &vp);
    let mut decisions = vec![approve("group:deal-desk", "val@acme.example", &[])];
    match progress(&chain, &decisions) {
        Progress::Waiting { open, .. } => assert_eq!(open[0].waiting_for, ["cfo@acme.example"]),
        other => panic!("{other:?}"),
    }
    decisions.push(approve("group:deal-desk", "cfo@acme.example", &[]));
    assert_eq!(progress(&chain, &decisions), Progress::Approved);
}

#[test]
fn an_approval_is_asked_again_only_where_a_figure_moved_past_what_was_approved() {
    let rules = rules();
    let first = approval_chain(&rules, &outcome("22", "24.03"));
    let earlier = vec![
        approve(
            "group:sales-managers",
            "mia@acme.example",
            &[("appr-manual-10", "22")],
        ),
        approve(
            "group:sales-directors",
            "val@acme.example",
            &[("appr-manual-20", "22"), ("appr-margin-25", "24.03")],
        ),
        approve(
            "group:finance",
            "fay@acme.example",
            &[("appr-margin-25", "24.03")],
        ),
    ];
    assert_eq!(progress(&first, &earlier), Progress::Approved);
    // Edited down to 21 % (margin up): every approval still holds.
    let better = approval_chain(&rules, &outcome("21", "24.90"));
    let carried = carried_over(&rules, &better, &earlier, "USD");
    assert_eq!(carried.len(), 3);
    assert_eq!(progress(&better, &carried), Progress::Approved);
    // Edited up to 23 % at the same margin: the discount's approvers are
    // asked again, finance (which approved the margin only) is not.
    let worse = approval_chain(&rules, &outcome("23", "24.03"));
    let carried = carried_over(&rules, &worse, &earlier, "USD");
    let seats: Vec<&str> = carried.iter().map(|d| d.seat.as_str()).collect();
    assert_eq!(seats, ["group:finance"]);
    // A lower margin asks finance and the directors again, not the manager.
    let thinner = approval_chain(&rules, &outcome("22", "23.50"));
    let carried = carried_over(&rules, &thinner, &earlier, "USD");
    let seats: Vec<&str> = carried.iter().map(|d| d.seat.as_str()).collect();
    assert_eq!(seats, ["group:sales-managers"]);
    // Another currency: nothing compares.
    assert!(carried_over(&rules, &better, &earlier, "EUR").is_empty());
}

#[test]
fn delegates_and_escalations_take_seats_and_nobody_else_does() {
    let rules = rules();
    let chain = approval_chain(&rules, &outcome("12", "30"));
    let Progress::Waiting { open, .. } = progress(&chain, &[]) else {
        panic!()
    };
    let seat = &open[0];
    let who = |name: &'static str| Acting {
        name,
        ..Default::default()
    };
    assert_eq!(
        may_take(seat, &who("mia@acme.example")).as_deref(),
        Some("mia@acme.example")
    );
    assert_eq!(may_take(seat, &who("fay@acme.example")), None);
    // Mia is away and delegated to Fay.
    let delegate = Acting {
        delegated_by: vec![("mia@acme.example".into(), None)],
        ..who("fay@acme.example")
    };
    assert_eq!(
        may_take(seat, &delegate).as_deref(),
        Some("mia@acme.example")
    );
    // The managers waited too long: the directors' Val may decide.
    let escalated = Acting {
        escalated_for: vec!["sales-managers".into()],
        ..who("val@acme.example")
    };
    assert_eq!(may_take(seat, &escalated).as_deref(), Some(ESCALATED));
    // Without routes, approval limits decide: one seat at the highest
    // level triggered.
    let plain = rules_without_routes();
    let chain = approval_chain(&plain, &outcome("22", "24.03"));
    assert_eq!(chain.len(), 1);
    assert_eq!(chain[0].seats[0].key, "limit:director");
    let Progress::Waiting { open, .. } = progress(&chain, &[]) else {
        panic!()
    };
    let with_limit = |rank| Acting {
        limit_rank: Some(rank),
        ..who("ada@acme.example")
    };
    assert_eq!(may_take(&open[0], &with_limit(1)), None);
    assert!(may_take(&open[0], &with_limit(2)).is_some());
    // A delegate acts with the limit of whom it stands in for.
    let stand_in = Acting {
        limit_rank: Some(1),
        delegated_by: vec![("val@acme.example".into(), Some(3))],
        ..who("mia@acme.example")
    };
    assert_eq!(
        may_take(&open[0], &stand_in).as_deref(),
        Some("val@acme.example")
    );
}
