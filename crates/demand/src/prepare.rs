//! Deal lines to the rows the roll-down draws and explodes: lines in a
//! canonical order (results do not depend on input order), configurable
//! products sold without a configuration given their attach-rate options,
//! each row in a (SKU, bucket) cell.
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::Datelike;
use quotecast_forecast::Shocks;
use quotecast_model::RuleSet;

use crate::{
    Calendar, DemandError, DemandLine, Explanation, Inventory, PlanOptions,
    calendar::Placement,
    cash::{Payment, payments},
    mix::{Evidence, Mix},
    structure::{Node, Structure},
};

/// No attach-rate slot.
pub(crate) const NO_SLOT: u32 = u32::MAX;

pub(crate) struct Deal {
    pub id: String,
    pub probability: f64,
    pub points: u32,
    /// Its rows: `rows[start..end]`.
    pub start: u32,
    pub end: u32,
    /// Its payments: `payments[pay_start..pay_end]`.
    pub pay_start: u32,
    pub pay_end: u32,
}

#[derive(Clone, Copy)]
pub(crate) struct Row {
    pub point: u32,
    pub cell: u32,
    pub quantity: f64,
    /// The attach-rate slot whose drawn units per product unit multiply
    /// `quantity`, or [`NO_SLOT`].
    pub slot: u32,
    /// Position of the line's own SKU in `skus` (for pegging).
    pub sku: u32,
    /// Its shock group (team and bucket) in `Prepared::shocks`.
    pub group: u32,
}

pub(crate) struct Prepared {
    /// (SKU node, bucket) of each cell.
    pub cells: Vec<(Node, usize)>,
    pub deals: Vec<Deal>,
    pub rows: Vec<Row>,
    pub payments: Vec<Payment>,
    pub skus: Vec<String>,
    pub mix: Mix,
    /// Expected units per product unit of each slot.
    pub expected_mix: Vec<f64>,
    pub explanation: Explanation,
    /// Canonical lines, for the plan id.
    pub lines: Vec<DemandLine>,
    /// The shock groups of the rows and payments.
    pub shocks: Shocks,
}

impl Prepared {
    /// Expected quantity of a row: probability × share of its slippage
    /// point × quantity × expected option units.
    pub fn expected(&self, deal: &Deal, row: &Row) -> f64 {
        let mix = if row.slot == NO_SLOT {
            1.0
        } else {
            self.expected_mix[row.slot as usize]
        };
        deal.probability / f64::from(deal.points.max(1)) * row.quantity * mix
    }

    /// Expected quantity per cell.
    pub fn expected_cells(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.cells.len()];
        for deal in &self.deals {
            for row in &self.rows[deal.start as usize..deal.end as usize] {
                out[row.cell as usize] += self.expected(deal, row);
            }
        }
        out
    }
}

/// Each configurable product among a deal's `skus` with the option
/// groups the deal chose in; a won deal's choices counted in `evidence`.
fn chosen_groups<'s>(
    rules: &RuleSet,
    skus: &HashSet<&'s str>,
    mut evidence: Option<&mut Evidence>,
) -> Vec<(&'s str, HashSet<String>)> {
    let mut out = Vec::new();
    for &sku in skus {
        let Some(model) = rules.configuration(sku) else {
            continue;
        };
        let mut groups = HashSet::new();
        for option in model
            .options
            .iter()
            .filter(|o| skus.contains(o.sku.as_str()))
        {
            groups.insert(model.groups[option.group].id.clone());
            if let Some(e) = evidence.as_deref_mut() {
                *e.chose
                    .entry((sku.to_owned(), option.sku.clone()))
                    .or_default() += 1;
            }
        }
        if let Some(e) = evidence.as_deref_mut() {
            for group in &groups {
                *e.deals.entry((sku.to_owned(), group.clone())).or_default() += 1;
            }
        }
        out.push((sku, groups));
    }
    out
}

fn check(line: &DemandLine, row: usize) -> Result<(), DemandError> {
    let bad = if !(line.quantity.is_finite() && line.quantity >= 0.0) {
        Some("quantity is not a finite number of at least 0")
    } else if !line.amount.is_finite() {
        Some("amount is not a finite number")
    } else if !(0.0..=1.0).contains(&line.probability) {
        Some("probability is outside 0 to 1")
    } else if line.points == 0 || line.point >= line.points {
        Some("point is not below points")
    } else {
        None
    };
    match bad {
        Some(problem) => Err(DemandError::Invalid(format!(
            "demand line {row} (deal {}, {}): {problem}",
            line.deal, line.sku
        ))),
        None => Ok(()),
    }
}

pub(crate) fn prepare(
    rules: &RuleSet,
    structure: &Structure<'_>,
    mut lines: Vec<DemandLine>,
    calendar: &Calendar,
    won_before: &[Vec<String>],
) -> Result<Prepared, DemandError> {
    for (i, line) in lines.iter_mut().enumerate() {
        check(line, i)?;
        if line.product_line.is_empty()
            && let Some(product) = rules.product(&line.sku)
        {
            line.product_line = product.product_line.clone();
        }
    }
    lines.sort_by(|a, b| {
        (
            &a.deal,
            a.point,
            &a.sku,
            a.close_date,
            &a.account,
            &a.product_line,
        )
            .cmp(&(
                &b.deal,
                b.point,
                &b.sku,
                b.close_date,
                &b.account,
                &b.product_line,
            ))
            .then(a.quantity.total_cmp(&b.quantity))
            .then(a.amount.total_cmp(&b.amount))
    });
    let mut explanation = Explanation {
        lines: lines.len(),
        ..Explanation::default()
    };
    // Per deal and configurable product: the option groups its option
    // lines choose in (those groups are not given attach rates).
    let mut chosen: HashMap<(&str, &str), HashSet<String>> = HashMap::new();
    let mut evidence = Evidence::default();
    let mut configurable = BTreeSet::new();
    for deal in lines.chunk_by(|a, b| a.deal == b.deal) {
        let skus: HashSet<&str> = deal.iter().map(|l| l.sku.as_str()).collect();
        let won = deal[0].probability >= 1.0;
        for (sku, groups) in chosen_groups(rules, &skus, won.then_some(&mut evidence)) {
            configurable.insert(sku.to_owned());
            chosen.insert((deal[0].deal.as_str(), sku), groups);
        }
    }
    for deal in won_before {
        let skus: HashSet<&str> = deal.iter().map(String::as_str).collect();
        for (sku, _) in chosen_groups(rules, &skus, Some(&mut evidence)) {
            configurable.insert(sku.to_owned());
        }
    }
    let mix = Mix::new(rules, structure, &configurable, &evidence);
    let expected_mix = mix.expected();
    let mut cells: Vec<(Node, usize)> = Vec::new();
    let mut cell_of: HashMap<(Node, usize), u32> = HashMap::new();
    let mut skus: Vec<String> = Vec::new();
    let mut sku_of: HashMap<&str, u32> = HashMap::new();
    let mut unplanned: BTreeMap<String, usize> = BTreeMap::new();
    let mut deals = Vec::new();
    let mut rows = Vec::new();
    let mut cash = Vec::new();
    let mut shocks = Shocks::default();
    let mut cell = |node: Node, bucket: usize| -> u32 {
        *cell_of.entry((node, bucket)).or_insert_with(|| {
            cells.push((node, bucket));
            (cells.len() - 1) as u32
        })
    };
    for deal_lines in lines.chunk_by(|a, b| a.deal == b.deal) {
        let first = &deal_lines[0];
        explanation.deals += 1;
        if first.probability <= 0.0 {
            continue;
        }
        let start = rows.len() as u32;
        let pay_start = cash.len() as u32;
        let weight = first.probability / f64::from(first.points.max(1));
        for line in deal_lines {
            let group = shocks.group(&line.team, line.horizon, || line.shocks);
            let paid = cash.len();
            let delivery = line
                .close_date
                .checked_add_days(chrono::Days::new(u64::from(
                    rules
                        .product_line(&line.product_line)
                        .map_or(0, |l| l.delivery_days),
                )))
                .unwrap_or(chrono::NaiveDate::MAX);
            payments(
                rules,
                line,
                delivery,
                calendar,
                weight,
                &mut explanation,
                &mut cash,
            );
            for payment in &mut cash[paid..] {
                payment.group = group;
            }
            if line.sku.is_empty() {
                continue;
            }
            let bucket = match calendar.place(delivery) {
                Placement::PastDue => 0,
                Placement::In(b) => b,
                Placement::Beyond => {
                    explanation.beyond_horizon += 1;
                    continue;
                }
            };
            let sku = *sku_of.entry(line.sku.as_str()).or_insert_with(|| {
                skus.push(line.sku.clone());
                (skus.len() - 1) as u32
            });
            let node = structure.node(&line.sku);
            let groups = chosen.get(&(first.deal.as_str(), line.sku.as_str()));
            if groups.is_some_and(|g| !g.is_empty()) {
                explanation.configured_lines += 1;
            }
            let open_slots: Vec<usize> = mix
                .by_product
                .get(&line.sku)
                .into_iter()
                .flatten()
                .copied()
                .filter(|&s| match groups {
                    Some(g) if !g.is_empty() => {
                        mix.slots[s].required && !g.contains(&mix.slots[s].group)
                    }
                    _ => true,
                })
                .collect();
            if !open_slots.is_empty() {
                explanation.attach_rate_lines += 1;
                for s in open_slots {
                    let slot = &mix.slots[s];
                    rows.push(Row {
                        point: line.point,
                        cell: cell(slot.option_node, bucket),
                        quantity: line.quantity,
                        slot: s as u32,
                        sku,
                        group,
                    });
                }
            }
            match node {
                Some(node) => rows.push(Row {
                    point: line.point,
                    cell: cell(node, bucket),
                    quantity: line.quantity,
                    slot: NO_SLOT,
                    sku,
                    group,
                }),
                None => *unplanned.entry(line.sku.clone()).or_default() += 1,
            }
        }
        deals.push(Deal {
            id: first.deal.clone(),
            probability: first.probability,
            points: first.points,
            start,
            end: rows.len() as u32,
            pay_start,
            pay_end: cash.len() as u32,
        });
    }
    explanation.unplanned_skus = unplanned.into_iter().collect();
    explanation.unplanned_groups = mix.unplanned_groups.clone();
    explanation.attach_rates = mix
        .slots
        .iter()
        .map(|s| {
            (
                s.product.clone(),
                s.option.clone(),
                s.expected_per_unit(),
                s.source.clone(),
            )
        })
        .collect();
    Ok(Prepared {
        cells,
        deals,
        rows,
        payments: cash,
        skus,
        mix,
        expected_mix,
        explanation,
        lines,
        shocks,
    })
}

/// The plan id: a hash of every input, in canonical order.
pub(crate) fn plan_id(
    rules: &RuleSet,
    prepared: &Prepared,
    inventory: &Inventory,
    options: &PlanOptions,
) -> String {
    let mut h = blake3::Hasher::new();
    let mut field = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    for l in &prepared.lines {
        field(l.deal.as_bytes());
        field(l.account.as_bytes());
        field(l.product_line.as_bytes());
        field(l.sku.as_bytes());
        field(&l.quantity.to_bits().to_le_bytes());
        field(&l.amount.to_bits().to_le_bytes());
        field(&l.close_date.num_days_from_ce().to_le_bytes());
        field(&l.probability.to_bits().to_le_bytes());
        field(&[l.point, l.points].map(u32::to_le_bytes).concat());
        field(l.team.as_bytes());
        field(&l.horizon.to_le_bytes());
        let v = l.shocks;
        field(
            &[v.team, v.company, v.own]
                .map(|x| x.to_bits().to_le_bytes())
                .concat(),
        );
    }
    field(format!("{:?}", rules.planning()).as_bytes());
    let mut delivery: Vec<(&str, u32)> = rules
        .product_lines()
        .map(|l| (l.id.as_str(), l.delivery_days))
        .collect();
    delivery.sort_unstable();
    field(format!("{delivery:?}").as_bytes());
    let mut models: Vec<String> = rules.configurations().map(|m| format!("{m:?}")).collect();
    models.sort();
    for m in models {
        field(m.as_bytes());
    }
    field(inventory.version.as_bytes());
    let mut on_hand = inventory.on_hand.clone();
    on_hand.sort();
    field(format!("{on_hand:?}").as_bytes());
    let mut receipts: Vec<String> = inventory
        .receipts
        .iter()
        .map(|r| format!("{r:?}"))
        .collect();
    receipts.sort();
    for r in receipts {
        field(r.as_bytes());
    }
    field(format!("{:?}", options.calendar).as_bytes());
    field(&options.service_level.to_bits().to_le_bytes());
    field(&options.trials.to_le_bytes());
    field(&options.seed.to_le_bytes());
    for f in &options.fingerprints {
        field(f.as_bytes());
    }
    let mut won_before: Vec<Vec<&str>> = options
        .won_before
        .iter()
        .map(|d| {
            let mut skus: Vec<&str> = d.iter().map(String::as_str).collect();
            skus.sort_unstable();
            skus
        })
        .collect();
    won_before.sort_unstable();
    for deal in won_before {
        field(deal.join("\u{1f}").as_bytes());
    }
    let hex = h.finalize().to_hex();
    format!("plan-{}", &hex.as_str()[..16])
}
