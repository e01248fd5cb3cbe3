//! Items, bills of materials and attach rates for the demand roll-down.
//!
//! Refused: unknown parents and components, quantities per that are not
//! above zero, two lines of one parent and component in force on the
//! same day, cycles (named), options of a configurable product with a
//! BOM that have none, and attach rates that no mix of configurations can
//! have (an exactly-one group not summing to 100 %, a group above its
//! capacity, a `requires` or `excludes` the rates break).
use std::collections::{BTreeMap, HashMap};

use quotecast_model::{
    AttachRate, BomLine, ConfigModel, ConfigRuleKind, DateRange, Item, Percent, PlanningData,
    RuleSetParts, SafetyStock, Supply,
};
use rust_decimal::Decimal;

use super::{Compiler, MAX_RULE_AMOUNT};
use crate::format::{AttachRateDef, BomDef, ExactOrWord, ItemDef, ParsedFile};

/// The evidence a written planning percentage is worth by default, in
/// configurations (the strength of its Dirichlet prior).
pub const DEFAULT_ATTACH_WEIGHT: u32 = 20;
/// The earliest day a BOM line without `from` is in force.
const ALWAYS: chrono::NaiveDate = chrono::NaiveDate::MIN;

pub(super) fn compile(c: &mut Compiler<'_>, files: &[ParsedFile<'_>], parts: &mut RuleSetParts) {
    let mut items = Vec::new();
    for f in files {
        for at in &f.items {
            if let Some(item) = item(c, f, at.line, &at.value, parts) {
                items.push(item);
            }
        }
    }
    let known_items: HashMap<&str, Supply> =
        items.iter().map(|i| (i.id.as_str(), i.supply)).collect();
    // (parent, component) -> the lines defined for it, for overlap checks.
    let mut lines: Vec<(BomLine, &ParsedFile<'_>, usize)> = Vec::new();
    for f in files {
        for at in &f.bom {
            if let Some(line) = bom_line(c, f, at.line, &at.value, &known_items) {
                lines.push((line, f, at.line));
            }
        }
    }
    lines.sort_by(|a, b| {
        (&a.0.parent, &a.0.component, a.0.effective.from).cmp(&(
            &b.0.parent,
            &b.0.component,
            b.0.effective.from,
        ))
    });
    for pair in lines.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.0.parent == b.0.parent
            && a.0.component == b.0.component
            && a.0.effective.overlaps(&b.0.effective)
        {
            let message = format!(
                "BOM line {} → {}: in force on the same days as the line at {}:{}",
                b.0.parent,
                b.0.component,
                a.1.source.path.display(),
                a.2
            );
            c.report(b.1, b.2, message);
        }
    }
    report_cycles(c, &lines);
    let models: BTreeMap<&str, &ConfigModel> = parts
        .configurations
        .iter()
        .map(|m| (m.sku.as_str(), m))
        .collect();
    report_options_without_bom(c, &lines, &models);
    // Products declared configurable whose model was refused: their
    // problems are reported already, their rates are not checked.
    let declared: std::collections::HashSet<&str> = files
        .iter()
        .flat_map(|f| f.configurables.iter().map(|c| c.value.product.as_str()))
        .collect();
    let mut rates = Vec::new();
    let mut rate_lines: BTreeMap<String, Vec<(AttachRate, &ParsedFile<'_>, usize)>> =
        BTreeMap::new();
    for f in files {
        for at in &f.attach_rates {
            let product = at.value.product.as_str();
            if declared.contains(product) && !models.contains_key(product) {
                continue;
            }
            if let Some(rate) = attach_rate(c, f, at.line, &at.value, &models) {
                rate_lines
                    .entry(rate.product.clone())
                    .or_default()
                    .push((rate, f, at.line));
            }
        }
    }
    for (product, defined) in &rate_lines {
        if let Some(model) = models.get(product.as_str()) {
            check_mix(c, model, defined);
        }
        rates.extend(defined.iter().map(|(r, _, _)| r.clone()));
    }
    parts.planning = PlanningData {
        items,
        bom: lines.into_iter().map(|(l, _, _)| l).collect(),
        attach_rates: rates,
        ..PlanningData::default()
    }
    .sorted();
}

fn item(
    c: &mut Compiler<'_>,
    f: &ParsedFile<'_>,
    line: usize,
    d: &ItemDef,
    parts: &RuleSetParts,
) -> Option<Item> {
    if !c.define(f, line, "item", &d.id) {
        return None;
    }
    let owner = format!("item `{}`", d.id);
    let supply = c.choice(f, line, &owner, "supply", &d.supply, &Supply::ALL)?;
    let product = parts.products.iter().find(|p| p.sku == d.id);
    let name = match (&d.name, product) {
        (Some(name), _) => name.clone(),
        (None, Some(p)) => p.name.clone(),
        (None, None) => {
            c.report(f, line, format!("{owner}: needs a name"));
            return None;
        }
    };
    let lead_time_days = match (supply, d.lead_time_days) {
        (Supply::Phantom, Some(days)) if days > 0 => {
            let message =
                format!("{owner}: a phantom is exploded through at once: remove lead_time_days");
            c.report(f, line, message);
            return None;
        }
        (Supply::Buy | Supply::Make, None) => {
            let message = format!("{owner}: a {} item needs lead_time_days", supply.name());
            c.report(f, line, message);
            return None;
        }
        (_, days) => days.unwrap_or(0),
    };
    if lead_time_days > 3650 {
        c.report(
            f,
            line,
            format!("{owner}: lead_time_days {lead_time_days} is more than ten years"),
        );
        return None;
    }
    let quantity = |c: &mut Compiler<'_>, what: &str, v: Option<Decimal>| -> Option<Decimal> {
        let v = v.unwrap_or(Decimal::ZERO);
        if v < Decimal::ZERO || v > MAX_RULE_AMOUNT {
            c.report(
                f,
                line,
                format!("{owner}: {what} {v} is outside 0 to {MAX_RULE_AMOUNT}"),
            );
            return None;
        }
        Some(v)
    };
    let min_order = quantity(c, "min_order", d.min_order.map(|e| e.0))?;
    let order_multiple = quantity(
        c,
        "order_multiple",
        Some(d.order_multiple.map_or(Decimal::ONE, |e| e.0)),
    )?;
    let safety_stock = match &d.safety_stock {
        None => None,
        Some(ExactOrWord::Number(n)) => {
            Some(SafetyStock::Fixed(quantity(c, "safety_stock", Some(n.0))?))
        }
        Some(ExactOrWord::Word(w)) if w == "computed" => Some(SafetyStock::Computed),
        Some(ExactOrWord::Word(w)) => {
            let message =
                format!("{owner}: safety_stock `{w}` is neither a quantity nor \"computed\"");
            c.report(f, line, message);
            return None;
        }
    };
    let unit_cost = match (d.cost, product) {
        (Some(cost), _) => cost.0,
        (None, Some(p)) => p.cost,
        (None, None) => Decimal::ZERO,
    };
    if !c.non_negative(f, line, &owner, unit_cost) {
        return None;
    }
    if supply == Supply::Service && d.skill.is_none() {
        c.report(
            f,
            line,
            format!("{owner}: a service item needs the skill that works its hours"),
        );
        return None;
    }
    if supply != Supply::Service && d.skill.is_some() {
        c.report(f, line, format!("{owner}: only service items have a skill"));
        return None;
    }
    Some(Item {
        id: d.id.clone(),
        name,
        supply,
        unit: d.unit.clone(),
        lead_time_days,
        min_order,
        order_multiple,
        supplier: d.supplier.clone(),
        safety_stock,
        skill: d.skill.clone(),
        unit_cost,
    })
}

fn bom_line(
    c: &mut Compiler<'_>,
    f: &ParsedFile<'_>,
    line: usize,
    d: &BomDef,
    items: &HashMap<&str, Supply>,
) -> Option<BomLine> {
    let owner = format!("BOM line {} → {}", d.parent, d.component);
    let parent_known =
        c.known.products.contains_key(&d.parent) || items.contains_key(d.parent.as_str());
    let mut ok = c.check_ref(
        f,
        line,
        &owner,
        "parent (a SKU or an item)",
        &d.parent,
        parent_known,
    );
    let component_known = items.contains_key(d.component.as_str());
    ok &= c.check_ref(f, line, &owner, "item", &d.component, component_known);
    if items.get(d.parent.as_str()) == Some(&Supply::Buy) {
        c.report(
            f,
            line,
            format!("{owner}: `{}` is bought, so it has no BOM", d.parent),
        );
        ok = false;
    }
    if d.quantity.0 <= Decimal::ZERO || d.quantity.0 > MAX_RULE_AMOUNT {
        let message = format!(
            "{owner}: quantity {} must be above 0 and at most {MAX_RULE_AMOUNT}",
            d.quantity.0
        );
        c.report(f, line, message);
        ok = false;
    }
    let scrap = match d.scrap_percent {
        Some(s) => c.percent(f, line, &owner, s.0)?,
        None => Percent::ZERO,
    };
    let effective = match (&d.from, &d.to) {
        (None, None) => DateRange {
            from: ALWAYS,
            to: None,
        },
        (Some(from), to) => c.range(f, line, &owner, from, to.as_deref())?,
        (None, Some(to)) => {
            let to = c.date(f, line, &owner, to)?;
            DateRange {
                from: ALWAYS,
                to: Some(to),
            }
        }
    };
    ok.then(|| BomLine {
        parent: d.parent.clone(),
        component: d.component.clone(),
        quantity_per: d.quantity.0,
        scrap,
        effective,
    })
}

/// Reports each cycle once, at the line that closes it, naming its path.
fn report_cycles(c: &mut Compiler<'_>, lines: &[(BomLine, &ParsedFile<'_>, usize)]) {
    let mut children: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (l, _, _)) in lines.iter().enumerate() {
        children.entry(l.parent.as_str()).or_default().push(i);
    }
    // 0 unvisited, 1 on the path, 2 done.
    let mut state: HashMap<&str, u8> = HashMap::new();
    let mut parents: Vec<&str> = children.keys().copied().collect();
    parents.sort_unstable();
    for root in parents {
        if state.get(root).copied().unwrap_or(0) != 0 {
            continue;
        }
        // Iterative depth-first search: (node, next child position).
        let mut stack: Vec<(&str, usize)> = vec![(root, 0)];
        state.insert(root, 1);
        while let Some((node, next)) = stack.last().copied() {
            let kids = children.get(node).map(Vec::as_slice).unwrap_or(&[]);
            if next >= kids.len() {
                state.insert(node, 2);
                stack.pop();
                continue;
            }
            if let Some(top) = stack.last_mut() {
                top.1 += 1;
            }
            let (line, file, at) = &lines[kids[next]];
            let child = line.component.as_str();
            match state.get(child).copied().unwrap_or(0) {
                0 => {
                    state.insert(child, 1);
                    stack.push((child, 0));
                }
                1 => {
                    let start = stack.iter().position(|(n, _)| *n == child).unwrap_or(0);
                    let mut path: Vec<&str> = stack[start..].iter().map(|(n, _)| *n).collect();
                    path.push(child);
                    let message = format!("BOM cycle: {}", path.join(" → "));
                    c.report(file, *at, message);
                }
                _ => {}
            }
        }
    }
}

/// Where a configurable product has a BOM, each of its options needs one.
fn report_options_without_bom(
    c: &mut Compiler<'_>,
    lines: &[(BomLine, &ParsedFile<'_>, usize)],
    models: &BTreeMap<&str, &ConfigModel>,
) {
    let mut first_line: HashMap<&str, (&ParsedFile<'_>, usize)> = HashMap::new();
    for (l, f, at) in lines {
        first_line.entry(l.parent.as_str()).or_insert((*f, *at));
    }
    for (product, model) in models {
        let Some((f, at)) = first_line.get(product).copied() else {
            continue;
        };
        for option in &model.options {
            if !first_line.contains_key(option.sku.as_str()) {
                let message = format!(
                    "{product} has a BOM but its option {} has none: add BOM lines with parent = \"{}\"",
                    option.sku, option.sku
                );
                c.report(f, at, message);
            }
        }
    }
}

fn attach_rate(
    c: &mut Compiler<'_>,
    f: &ParsedFile<'_>,
    line: usize,
    d: &AttachRateDef,
    models: &BTreeMap<&str, &ConfigModel>,
) -> Option<AttachRate> {
    let owner = format!("attach rate {} on {}", d.option, d.product);
    let Some(model) = models.get(d.product.as_str()) else {
        let message = format!("{owner}: `{}` is not a configurable product", d.product);
        c.report(f, line, message);
        return None;
    };
    if model.option_index(&d.option).is_none() {
        let message = format!("{owner}: `{}` is not an option of {}", d.option, d.product);
        c.report(f, line, message);
        return None;
    }
    let percent = c.percent(f, line, &owner, d.percent.0)?;
    let units = d.units.map_or(Decimal::ONE, |u| u.0);
    let option_max = model
        .option_index(&d.option)
        .map_or(0, |i| model.options[i].max_quantity);
    if units <= Decimal::ZERO || units > Decimal::from(option_max) {
        let message =
            format!("{owner}: units {units} must be above 0 and at most the option's {option_max}");
        c.report(f, line, message);
        return None;
    }
    if d.weight == Some(0) {
        c.report(f, line, format!("{owner}: weight must be at least 1"));
        return None;
    }
    Some(AttachRate {
        product: d.product.clone(),
        option: d.option.clone(),
        percent,
        units,
        weight: d.weight.unwrap_or(DEFAULT_ATTACH_WEIGHT),
    })
}

/// The rates of one product must describe a mix of valid configurations.
fn check_mix(
    c: &mut Compiler<'_>,
    model: &ConfigModel,
    defined: &[(AttachRate, &ParsedFile<'_>, usize)],
) {
    let (_, f, first) = &defined[0];
    let mut rate = vec![None; model.options.len()];
    for (r, f, at) in defined {
        if let Some(i) = model.option_index(&r.option) {
            if rate[i].is_some() {
                let message = format!("attach rate {} on {} is given twice", r.option, r.product);
                c.report(f, *at, message);
            }
            rate[i] = Some(r.percent.0);
        }
    }
    for group in &model.groups {
        let given: Vec<Decimal> = group.options.iter().filter_map(|&o| rate[o]).collect();
        if given.is_empty() {
            continue;
        }
        let sum: Decimal = given.iter().sum();
        let units: Decimal = defined
            .iter()
            .filter(|(r, _, _)| {
                model
                    .option_index(&r.option)
                    .is_some_and(|o| group.options.contains(&o))
            })
            .map(|(r, _, _)| r.per_unit())
            .sum();
        let exactly_one = group.min == 1 && group.max == 1;
        let problem = if exactly_one && sum != Decimal::ONE_HUNDRED {
            Some(format!(
                "is exactly-one, but its rates sum to {sum} %, not 100 %"
            ))
        } else if group.min >= 1 && sum < Decimal::ONE_HUNDRED {
            Some(format!(
                "must hold at least {} unit(s), but its rates sum to {sum} %, below 100 %",
                group.min
            ))
        } else if units > Decimal::from(group.max) {
            Some(format!(
                "holds at most {} unit(s), but its rates add up to {units} per product unit",
                group.max
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            let message = format!(
                "attach rates of {}: group `{}` {problem}",
                model.sku, group.id
            );
            c.report(f, *first, message);
        }
    }
    let of = |o: usize| rate[o].unwrap_or(Decimal::ZERO);
    for rule in &model.rules {
        let problem = match &rule.kind {
            ConfigRuleKind::Requires { option, any_of } => {
                let needed: Decimal = any_of.iter().map(|&o| of(o)).sum();
                (rate[*option].is_some() && of(*option) > needed).then(|| {
                    format!(
                        "{} at {} % needs one of its required options, which together have only {needed} %",
                        model.options[*option].sku,
                        of(*option)
                    )
                })
            }
            ConfigRuleKind::Excludes { option, options } => options
                .iter()
                .find(|&&o| of(*option) + of(o) > Decimal::ONE_HUNDRED)
                .map(|&o| {
                    format!(
                        "{} ({} %) and {} ({} %) exclude each other but add up to more than 100 %",
                        model.options[*option].sku,
                        of(*option),
                        model.options[o].sku,
                        of(o)
                    )
                }),
            _ => None,
        };
        if let Some(problem) = problem {
            let message = format!(
                "attach rates of {} break rule `{}`: {problem}",
                model.sku, rule.id
            );
            c.report(f, *first, message);
        }
    }
}
