//! Approver groups and approval routes: who decides which approval rules,
//! checked against the approval rules and levels already compiled.
use std::collections::HashSet;

use quotecast_model::{ApprovalRoute, ApproverGroup, Decide, RouteFor, RuleSetParts};

use super::Compiler;
use crate::format::ParsedFile;

const DECIDE: &[(&str, Decide)] = &[("first", Decide::First), ("all", Decide::All)];

pub(super) fn compile(c: &mut Compiler<'_>, files: &[ParsedFile<'_>], parts: &mut RuleSetParts) {
    let group_ids: HashSet<&str> = files
        .iter()
        .flat_map(|f| f.approver_groups.iter().map(|g| g.value.id.as_str()))
        .collect();
    for f in files {
        for r in &f.approver_groups {
            let d = &r.value;
            if !c.define(f, r.line, "approver group", &d.id) {
                continue;
            }
            let owner = format!("approver group `{}`", d.id);
            let decide = match &d.decide {
                Some(text) => c.choice(f, r.line, &owner, "decide", text, DECIDE),
                None => Some(Decide::First),
            };
            let mut seen = HashSet::new();
            let mut ok = decide.is_some();
            if d.members.is_empty() {
                c.report(f, r.line, format!("{owner} has no members"));
                ok = false;
            }
            for m in &d.members {
                if m.trim().is_empty() || !seen.insert(m.as_str()) {
                    c.report(
                        f,
                        r.line,
                        format!("{owner}: member `{m}` is empty or named twice"),
                    );
                    ok = false;
                }
            }
            match (&d.escalate_to, d.escalate_after_days) {
                (None, None) => {}
                (Some(to), Some(days)) => {
                    ok &= c.check_ref(
                        f,
                        r.line,
                        &owner,
                        "approver group",
                        to,
                        group_ids.contains(to.as_str()) && to != &d.id,
                    );
                    if days == 0 {
                        c.report(
                            f,
                            r.line,
                            format!("{owner}: escalate_after_days must be at least 1"),
                        );
                        ok = false;
                    }
                }
                _ => {
                    c.report(
                        f,
                        r.line,
                        format!(
                            "{owner}: give both escalate_to and escalate_after_days, or neither"
                        ),
                    );
                    ok = false;
                }
            }
            if let (true, Some(decide)) = (ok, decide) {
                parts.approver_groups.push(ApproverGroup {
                    id: d.id.clone(),
                    name: d.name.clone(),
                    members: d.members.clone(),
                    decide,
                    escalate_after_days: d.escalate_after_days,
                    escalate_to: d.escalate_to.clone(),
                });
            }
        }
    }
    let rules: HashSet<String> = parts.approval_rules.iter().map(|r| r.id.clone()).collect();
    let levels: HashSet<String> = parts.approval_levels.iter().map(|l| l.id.clone()).collect();
    for f in files {
        for r in &f.approval_routes {
            let d = &r.value;
            let applies_to = match (&d.rule, &d.level) {
                (Some(rule), None) => {
                    let known = rules.contains(rule);
                    c.check_ref(f, r.line, "approval route", "approval rule", rule, known)
                        .then(|| RouteFor::Rule(rule.clone()))
                }
                (None, Some(level)) => {
                    let known = levels.contains(level);
                    c.check_ref(f, r.line, "approval route", "approval level", level, known)
                        .then(|| RouteFor::Level(level.clone()))
                }
                _ => {
                    c.report(
                        f,
                        r.line,
                        "approval route: name exactly one of rule or level",
                    );
                    None
                }
            };
            let Some(applies_to) = applies_to else {
                continue;
            };
            let key = match &applies_to {
                RouteFor::Rule(id) => format!("rule {id}"),
                RouteFor::Level(id) => format!("level {id}"),
            };
            if !c.define(f, r.line, "approval route", &key) {
                continue;
            }
            let owner = format!("approval route for {key}");
            if d.groups.is_empty() {
                c.report(f, r.line, format!("{owner} names no groups"));
                continue;
            }
            let mut ok = true;
            for g in &d.groups {
                ok &= c.check_ref(
                    f,
                    r.line,
                    &owner,
                    "approver group",
                    g,
                    group_ids.contains(g.as_str()),
                );
            }
            if ok {
                parts.approval_routes.push(ApprovalRoute {
                    applies_to,
                    groups: d.groups.clone(),
                });
            }
        }
    }
}
