//! Payment terms for the roll-down's cash-in: installments at signing or
//! delivery, net N days, summing to exactly 100 %; the default terms of
//! each product line; an account's own terms for one line or all.
//!
//! Refused: installments not above zero or not summing to 100 %, unknown
//! milestones, product lines, accounts and terms, a product line with two
//! defaults, an account given two terms for the same lines, and (once any
//! terms are written) a product line with none.
use std::collections::{BTreeMap, HashSet};

use quotecast_model::{AccountTerms, Installment, Milestone, Percent, RuleSetParts};
use rust_decimal::Decimal;

use super::{Compiler, MAX_DELIVERY_DAYS};
use crate::format::{AccountTermsDef, ParsedFile, PaymentTermsDef};

pub(super) fn compile(c: &mut Compiler<'_>, files: &[ParsedFile<'_>], parts: &mut RuleSetParts) {
    // product line -> where its default terms were given.
    let mut defaults: BTreeMap<String, (String, usize)> = BTreeMap::new();
    let mut first: Option<(&ParsedFile<'_>, usize)> = None;
    for f in files {
        for at in &f.payment_terms {
            first.get_or_insert((f, at.line));
            if let Some(terms) = terms(c, f, at.line, &at.value, &mut defaults) {
                parts.planning.payment_terms.push(terms);
            }
        }
    }
    let known: HashSet<String> = parts
        .planning
        .payment_terms
        .iter()
        .map(|t| t.id.clone())
        .collect();
    let mut overrides: BTreeMap<(String, Option<String>), (String, usize)> = BTreeMap::new();
    for f in files {
        for at in &f.account_terms {
            if let Some(a) = account_terms(c, f, at.line, &at.value, &known, &mut overrides) {
                parts.planning.account_terms.push(a);
            }
        }
    }
    if let Some((f, line)) = first {
        let mut missing: Vec<&str> = parts
            .product_lines
            .iter()
            .map(|l| l.id.as_str())
            .filter(|l| !defaults.contains_key(*l))
            .collect();
        missing.sort_unstable();
        if !missing.is_empty() {
            let message = format!(
                "payment terms: no default terms for product line(s) {}: name each line in the `product_lines` of one `[[payment_terms]]`",
                missing.join(", ")
            );
            c.report(f, line, message);
        }
    }
    let planning = std::mem::take(&mut parts.planning);
    parts.planning = planning.sorted();
}

fn terms(
    c: &mut Compiler<'_>,
    f: &ParsedFile<'_>,
    line: usize,
    d: &PaymentTermsDef,
    defaults: &mut BTreeMap<String, (String, usize)>,
) -> Option<quotecast_model::PaymentTerms> {
    if !c.define(f, line, "payment terms", &d.id) {
        return None;
    }
    let owner = format!("payment terms `{}`", d.id);
    if d.installments.is_empty() {
        c.report(f, line, format!("{owner}: needs at least one installment"));
        return None;
    }
    let mut installments = Vec::new();
    let mut total = Decimal::ZERO;
    let mut ok = true;
    for (i, inst) in d.installments.iter().enumerate() {
        let what = format!("{owner}, installment {}", i + 1);
        let at = c.choice(f, line, &what, "at", &inst.at, &Milestone::ALL);
        let percent = c.percent(f, line, &what, inst.percent.0);
        if percent.is_some_and(|p| p.0 <= Decimal::ZERO) {
            c.report(f, line, format!("{what}: the percentage must be above 0"));
            ok = false;
        }
        if inst.net_days > MAX_DELIVERY_DAYS {
            let message = format!(
                "{what}: net_days {} is more than {MAX_DELIVERY_DAYS}",
                inst.net_days
            );
            c.report(f, line, message);
            ok = false;
        }
        match (at, percent) {
            (Some(at), Some(Percent(p))) => {
                total += p;
                installments.push(Installment {
                    percent: Percent(p),
                    at,
                    net_days: inst.net_days,
                });
            }
            _ => ok = false,
        }
    }
    if ok && total != Decimal::ONE_HUNDRED {
        let message = format!("{owner}: the installments sum to {total} %, not 100 %");
        c.report(f, line, message);
        ok = false;
    }
    for product_line in &d.product_lines {
        let known = c.known.product_lines.contains(product_line);
        if !c.check_ref(f, line, &owner, "product line", product_line, known) {
            ok = false;
            continue;
        }
        let here = (f.source.path.display().to_string(), line);
        if let Some((file, at)) = defaults.get(product_line) {
            let message = format!(
                "{owner}: product line `{product_line}` already has default terms at {file}:{at}"
            );
            c.report(f, line, message);
            ok = false;
        } else {
            defaults.insert(product_line.clone(), here);
        }
    }
    ok.then(|| quotecast_model::PaymentTerms {
        id: d.id.clone(),
        name: d.name.clone(),
        installments,
        product_lines: d.product_lines.clone(),
    })
}

fn account_terms(
    c: &mut Compiler<'_>,
    f: &ParsedFile<'_>,
    line: usize,
    d: &AccountTermsDef,
    known_terms: &HashSet<String>,
    overrides: &mut BTreeMap<(String, Option<String>), (String, usize)>,
) -> Option<AccountTerms> {
    let owner = format!("account terms of `{}`", d.account);
    let account_known = c.known.accounts.contains(&d.account);
    let mut ok = c.check_ref(f, line, &owner, "account", &d.account, account_known);
    if let Some(product_line) = &d.product_line {
        let known = c.known.product_lines.contains(product_line);
        ok &= c.check_ref(f, line, &owner, "product line", product_line, known);
    }
    let terms_known = known_terms.contains(&d.terms);
    ok &= c.check_ref(f, line, &owner, "payment terms", &d.terms, terms_known);
    let key = (d.account.clone(), d.product_line.clone());
    if let Some((file, at)) = overrides.get(&key) {
        let lines = d
            .product_line
            .as_deref()
            .map_or("all product lines".to_owned(), |l| {
                format!("product line `{l}`")
            });
        let message = format!("{owner}: {lines} already has account terms at {file}:{at}");
        c.report(f, line, message);
        return None;
    }
    overrides.insert(key, (f.source.path.display().to_string(), line));
    ok.then(|| AccountTerms {
        account: d.account.clone(),
        product_line: d.product_line.clone(),
        terms: d.terms.clone(),
    })
}
