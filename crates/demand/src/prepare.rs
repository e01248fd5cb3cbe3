//! Deal lines to the rows the roll-down draws and explodes: lines in a
//! canonical order (results do not depend on input order), configurable
//! products sold without a configuration given their attach-rate options,
//! each row in a (SKU, bucket) cell.
use std::{
    cmp::Ordering,
    collections::{BTreeMap, BTreeSet, HashSet},
};

use chrono::Datelike;
use quotecast_forecast::{Shocks, WinDraw};
use quotecast_model::RuleSet;
use rayon::{
    iter::{IndexedParallelIterator, IntoParallelRefIterator, ParallelIterator},
    slice::{ParallelSlice, ParallelSliceMut},
};
use rustc_hash::FxHashMap;

use crate::{
    Calendar, DemandError, DemandLine, Explanation, Inventory, Name, PlanOptions,
    calendar::Placement,
    cash::{Payment, TermsMemo, payments},
    mix::{Evidence, Mix},
    structure::{Node, Structure},
};

/// No attach-rate slot.
pub(crate) const NO_SLOT: u32 = u32::MAX;

pub(crate) struct Deal {
    pub id: Name,
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
    /// Which deals win in a trial, by their place in `deals`.
    pub wins: WinDraw,
    pub rows: Vec<Row>,
    pub payments: Vec<Payment>,
    pub skus: Vec<String>,
    pub mix: Mix,
    /// Expected units per product unit of each slot.
    pub expected_mix: Vec<f64>,
    /// Expected quantity per cell (summed once, deal by deal).
    pub expected_cells: Vec<f64>,
    pub explanation: Explanation,
    /// The lines hashed in canonical order: the plan id goes on from it.
    pub lines: blake3::Hasher,
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
    fn sum_cells(&self) -> Vec<f64> {
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

/// What is wrong with `line`, if anything.
fn problem(line: &DemandLine) -> Option<&'static str> {
    if !(line.quantity.is_finite() && line.quantity >= 0.0) {
        Some("quantity is not a finite number of at least 0")
    } else if !line.amount.is_finite() {
        Some("amount is not a finite number")
    } else if !(0.0..=1.0).contains(&line.probability) {
        Some("probability is outside 0 to 1")
    } else if line.points == 0 || line.point >= line.points {
        Some("point is not below points")
    } else {
        None
    }
}

/// The first bad line of `lines`, named by its row (checked in parallel).
fn check(lines: &[DemandLine]) -> Result<(), DemandError> {
    let Some(row) = lines.par_iter().position_first(|l| problem(l).is_some()) else {
        return Ok(());
    };
    let line = &lines[row];
    Err(DemandError::Invalid(format!(
        "demand line {row} (deal {}, {}): {}",
        line.deal,
        line.sku,
        problem(line).unwrap_or_default()
    )))
}

/// The canonical order of lines: every field, so equal keys are equal
/// lines.
fn canonical(a: &DemandLine, b: &DemandLine) -> Ordering {
    a.deal.cmp(&b.deal).then_with(|| within_deal(a, b))
}

/// [`canonical`] for two lines of one deal: every field but the deal's id.
fn within_deal(a: &DemandLine, b: &DemandLine) -> Ordering {
    (a.point, &a.sku, a.close_date, &a.account, &a.product_line)
        .cmp(&(b.point, &b.sku, b.close_date, &b.account, &b.product_line))
        .then_with(|| a.quantity.total_cmp(&b.quantity))
        .then_with(|| a.amount.total_cmp(&b.amount))
        .then_with(|| a.probability.total_cmp(&b.probability))
        .then_with(|| (a.points, &a.team, a.horizon).cmp(&(b.points, &b.team, b.horizon)))
        .then_with(|| {
            let (x, y) = (a.shocks, b.shocks);
            x.team
                .total_cmp(&y.team)
                .then(x.company.total_cmp(&y.company))
                .then(x.own.total_cmp(&y.own))
                .then(x.rate.total_cmp(&y.rate))
                .then(x.stage.cmp(&y.stage))
        })
}

/// The first 16 bytes of `s`, zero-padded, as a number that orders as
/// the string does whenever two prefixes differ.
fn prefix(s: &str) -> u128 {
    let mut bytes = [0u8; 16];
    let n = s.len().min(16);
    bytes[..n].copy_from_slice(&s.as_bytes()[..n]);
    u128::from_be_bytes(bytes)
}

/// Where each deal's lines are: `lines[start..end]`, deal after deal.
type Spans = Vec<(usize, usize)>;

/// The span of each run of lines with one deal id, and whether the runs
/// come in id order (each id compared once with the next).
fn deal_runs(lines: &[DemandLine]) -> (Spans, bool) {
    let mut spans = Vec::new();
    let mut in_order = true;
    let mut start = 0;
    for (i, pair) in lines.windows(2).enumerate() {
        let (a, b) = (&pair[0].deal, &pair[1].deal);
        // One deal's lines share its id (see [`crate::Names`]): equal by
        // address, without reading it; else one comparison tells both
        // whether a new deal starts and whether it comes in order.
        if std::sync::Arc::ptr_eq(a, b) {
            continue;
        }
        match a.cmp(b) {
            Ordering::Equal => continue,
            Ordering::Less => {}
            Ordering::Greater => in_order = false,
        }
        spans.push((start, i + 1));
        start = i + 1;
    }
    if !lines.is_empty() {
        spans.push((start, lines.len()));
    }
    (spans, in_order)
}

/// `lines` in [`canonical`] order, with each deal's span. Lines listed
/// deal by deal in id order (as exports and the forecast list them) only
/// need each deal's few lines sorted, in place. Others are sorted by a
/// compact key (the deal id's prefix), compared whole only where two
/// prefixes are equal (a deal's own lines, ids longer than the prefix),
/// then moved once into place: sorting the lines themselves compares
/// through scattered memory.
fn canonical_order(mut lines: Vec<DemandLine>) -> (Vec<DemandLine>, Spans) {
    let (spans, in_order) = deal_runs(&lines);
    if in_order {
        // The runs of one deal id are the spans; each put in order in
        // parallel.
        lines
            .par_chunk_by_mut(|a, b| a.deal == b.deal)
            .for_each(|deal| {
                if !deal.is_sorted_by(|a, b| within_deal(a, b).is_le()) {
                    deal.sort_unstable_by(within_deal);
                }
            });
        return (lines, spans);
    }
    let mut keys: Vec<(u128, u32)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (prefix(&l.deal), i as u32))
        .collect();
    keys.par_sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| canonical(&lines[a.1 as usize], &lines[b.1 as usize]))
    });
    let lines: Vec<DemandLine> = keys
        .iter()
        .map(|k| std::mem::take(&mut lines[k.1 as usize]))
        .collect();
    let (spans, _) = deal_runs(&lines);
    (lines, spans)
}

/// What the roll-down needs of one distinct SKU, looked up once.
struct SkuFacts<'r> {
    node: Option<Node>,
    /// The catalog's product line of the SKU and its delivery days (for
    /// lines that name no product line).
    product_line: &'r str,
    delivery_days: u32,
    configurable: bool,
}

/// A line's product line (its SKU's when it names none) and that line's
/// delivery days.
fn effective<'a>(rules: &RuleSet, line: &'a DemandLine, sku: &SkuFacts<'a>) -> (&'a str, u32) {
    if line.product_line.is_empty() {
        (sku.product_line, sku.delivery_days)
    } else {
        let days = rules
            .product_line(&line.product_line)
            .map_or(0, |l| l.delivery_days);
        (&*line.product_line, days)
    }
}

/// Deals hashed per chunk: the chunks are hashed in parallel, each to a
/// digest, and the digests in order into the plan id. Fixed, so the id
/// does not depend on the threads.
const DEALS_PER_CHUNK: usize = 8_192;

/// One chunk's deals encoded without ambiguity (each name
/// length-prefixed, numbers at their full width), hashed through a
/// buffer: one `update` per 64 KiB rather than per field.
struct Encoder {
    hasher: blake3::Hasher,
    buffer: Vec<u8>,
}

impl Encoder {
    fn new() -> Self {
        Self {
            hasher: blake3::Hasher::new(),
            buffer: Vec::with_capacity(1 << 16),
        }
    }

    fn name(&mut self, name: &str) {
        self.buffer
            .extend_from_slice(&(name.len() as u32).to_le_bytes());
        self.buffer.extend_from_slice(name.as_bytes());
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Hands the buffer to the hasher once it is full.
    fn flush_if_full(&mut self) {
        if self.buffer.len() >= 1 << 16 {
            self.hasher.update(&self.buffer);
            self.buffer.clear();
        }
    }

    fn finish(mut self) -> blake3::Hash {
        self.hasher.update(&self.buffer);
        self.hasher.finalize()
    }
}

/// Every field of the lines in canonical order, each with its effective
/// product line (`product_line(i)` of line `i`): per deal its id and
/// line count, per line its names and numbers.
fn hash_lines<'a>(
    sorted: &[DemandLine],
    spans: &[(usize, usize)],
    product_line: impl Fn(usize) -> &'a str + Sync,
) -> blake3::Hasher {
    let digests: Vec<blake3::Hash> = spans
        .par_chunks(DEALS_PER_CHUNK)
        .map(|chunk| {
            let mut e = Encoder::new();
            for &(start, end) in chunk {
                e.name(&sorted[start].deal);
                e.bytes(&((end - start) as u64).to_le_bytes());
                for (i, l) in sorted[start..end].iter().enumerate() {
                    e.name(&l.sku);
                    e.name(&l.account);
                    e.name(product_line(start + i));
                    e.name(&l.team);
                    // The numbers laid out at fixed places, written at once.
                    let v = l.shocks;
                    let mut fixed = [0u8; 7 * 8 + 5 * 4];
                    let floats = [
                        l.quantity,
                        l.amount,
                        l.probability,
                        v.team,
                        v.company,
                        v.own,
                        v.rate,
                    ];
                    for (k, x) in floats.into_iter().enumerate() {
                        fixed[k * 8..k * 8 + 8].copy_from_slice(&x.to_bits().to_le_bytes());
                    }
                    let words = [
                        l.close_date.num_days_from_ce().to_le_bytes(),
                        l.point.to_le_bytes(),
                        l.points.to_le_bytes(),
                        v.stage.to_le_bytes(),
                        l.horizon.to_le_bytes(),
                    ];
                    for (k, w) in words.into_iter().enumerate() {
                        fixed[56 + k * 4..60 + k * 4].copy_from_slice(&w);
                    }
                    e.bytes(&fixed);
                }
                e.flush_if_full();
            }
            e.finish()
        })
        .collect();
    let mut h = blake3::Hasher::new();
    h.update(&(sorted.len() as u64).to_le_bytes());
    for d in &digests {
        h.update(d.as_bytes());
    }
    h
}

/// The lines in canonical order with each distinct SKU looked up once.
struct Sorted<'l, 'r> {
    lines: &'l [DemandLine],
    /// Each deal's span of `lines`.
    spans: Spans,
    /// Per line, its SKU's position in `facts` and `skus`.
    sku_at: Vec<u32>,
    facts: Vec<SkuFacts<'r>>,
    facts_of: FxHashMap<&'l str, u32>,
    skus: Vec<String>,
}

impl<'l, 'r> Sorted<'l, 'r> {
    fn new(
        rules: &'r RuleSet,
        structure: &Structure<'_>,
        lines: &'l [DemandLine],
        spans: Spans,
    ) -> Self {
        let mut facts_of: FxHashMap<&str, u32> = FxHashMap::default();
        // Shared names found by address first (see [`crate::Names`]):
        // hashing a pointer costs less than hashing the name.
        let mut by_address: FxHashMap<*const u8, u32> = FxHashMap::default();
        let mut facts: Vec<SkuFacts> = Vec::new();
        let mut skus: Vec<String> = Vec::new();
        let sku_at: Vec<u32> = lines
            .iter()
            .map(|line| {
                let address = line.sku.as_ptr();
                if let Some(&k) = by_address.get(&address) {
                    return k;
                }
                let k = *facts_of.entry(&*line.sku).or_insert_with(|| {
                    let product = rules.product(&line.sku);
                    let product_line = product.map_or("", |p| p.product_line.as_str());
                    facts.push(SkuFacts {
                        node: structure.node(&line.sku),
                        product_line,
                        delivery_days: rules
                            .product_line(product_line)
                            .map_or(0, |l| l.delivery_days),
                        configurable: rules.configuration(&line.sku).is_some(),
                    });
                    skus.push(line.sku.to_string());
                    (skus.len() - 1) as u32
                });
                by_address.insert(address, k);
                k
            })
            .collect();
        Self {
            lines,
            spans,
            sku_at,
            facts,
            facts_of,
            skus,
        }
    }
}

pub(crate) fn prepare(
    rules: &RuleSet,
    structure: &Structure<'_>,
    lines: Vec<DemandLine>,
    calendar: &Calendar,
    won_before: &[Vec<String>],
) -> Result<Prepared, DemandError> {
    check(&lines)?;
    let (lines, spans) = canonical_order(lines);
    let sorted = Sorted::new(rules, structure, &lines, spans);
    // The id's hash of the lines and the rest are independent.
    let (hasher, prepared) = rayon::join(
        || {
            hash_lines(&lines, &sorted.spans, |i| {
                effective(rules, &lines[i], &sorted.facts[sorted.sku_at[i] as usize]).0
            })
        },
        || assemble(rules, structure, &sorted, calendar, won_before),
    );
    let mut prepared = prepared?;
    prepared.lines = hasher;
    // The caller's lines are freed beside the rest of the plan.
    drop(sorted);
    rayon::spawn(move || drop(lines));
    Ok(prepared)
}

/// Per deal (its ordinal) and configurable product line (its SKU's
/// facts), the option groups its option lines choose in: those groups
/// are not given attach rates. With the won configurations seen (the
/// deals' own won ones and `won_before`) as attach-rate evidence, and
/// every configurable product met.
fn configurations(
    rules: &RuleSet,
    sorted: &Sorted<'_, '_>,
    won_before: &[Vec<String>],
) -> Configurations {
    let mut chosen: FxHashMap<(u32, u32), HashSet<String>> = FxHashMap::default();
    let mut evidence = Evidence::default();
    let mut configurable = BTreeSet::new();
    for (ordinal, &(start, end)) in sorted.spans.iter().enumerate() {
        let (deal, ordinal) = (&sorted.lines[start..end], ordinal as u32);
        if !sorted.sku_at[start..end]
            .iter()
            .any(|&k| sorted.facts[k as usize].configurable)
        {
            continue;
        }
        let names: HashSet<&str> = deal.iter().map(|l| &*l.sku).collect();
        let won = deal[0].probability >= 1.0;
        for (sku, groups) in chosen_groups(rules, &names, won.then_some(&mut evidence)) {
            configurable.insert(sku.to_owned());
            if let Some(&k) = sorted.facts_of.get(sku) {
                chosen.insert((ordinal, k), groups);
            }
        }
    }
    for deal in won_before {
        let names: HashSet<&str> = deal.iter().map(String::as_str).collect();
        for (sku, _) in chosen_groups(rules, &names, Some(&mut evidence)) {
            configurable.insert(sku.to_owned());
        }
    }
    Configurations {
        chosen,
        evidence,
        configurable,
    }
}

/// What [`configurations`] finds.
struct Configurations {
    chosen: FxHashMap<(u32, u32), HashSet<String>>,
    evidence: Evidence,
    configurable: BTreeSet<String>,
}

/// The explanation's attach rates: per slot its product, option,
/// expected units per unit and where the rate comes from.
fn attach_rates(mix: &Mix) -> Vec<(String, String, f64, String)> {
    mix.slots
        .iter()
        .map(|s| {
            (
                s.product.clone(),
                s.option.clone(),
                s.expected_per_unit(),
                s.source.clone(),
            )
        })
        .collect()
}

/// Deals, rows, cells and payments of the sorted lines.
fn assemble(
    rules: &RuleSet,
    structure: &Structure<'_>,
    sorted: &Sorted<'_, '_>,
    calendar: &Calendar,
    won_before: &[Vec<String>],
) -> Result<Prepared, DemandError> {
    let Sorted {
        lines,
        spans,
        sku_at,
        facts,
        facts_of: _,
        skus,
    } = sorted;
    let mut explanation = Explanation {
        lines: lines.len(),
        ..Explanation::default()
    };
    let Configurations {
        chosen,
        evidence,
        configurable,
    } = configurations(rules, sorted, won_before);
    let mix = Mix::new(rules, structure, &configurable, &evidence);
    let expected_mix = mix.expected();
    let slots_of: Vec<&[usize]> = skus
        .iter()
        .map(|sku| mix.by_product.get(sku).map_or(&[][..], Vec::as_slice))
        .collect();
    let mut cells: Vec<(Node, usize)> = Vec::new();
    // Each (node, bucket)'s cell, found by position: a row of the
    // calendar's buckets per node met, in the order met.
    const UNSET: u32 = u32::MAX;
    let buckets = calendar.buckets();
    let mut row_of = vec![UNSET; structure.len()];
    let mut cell_at: Vec<u32> = Vec::new();
    let mut unplanned: BTreeMap<String, usize> = BTreeMap::new();
    let mut deals = Vec::with_capacity(spans.len());
    let mut rows = Vec::with_capacity(lines.len());
    let mut cash = Vec::new();
    let mut shocks = Shocks::default();
    let mut cell = |node: Node, bucket: usize| -> u32 {
        let row = &mut row_of[node as usize];
        if *row == UNSET {
            *row = (cell_at.len() / buckets) as u32;
            cell_at.resize(cell_at.len() + buckets, UNSET);
        }
        let at = &mut cell_at[*row as usize * buckets + bucket];
        if *at == UNSET {
            cells.push((node, bucket));
            *at = (cells.len() - 1) as u32;
        }
        *at
    };
    let mut last_group: Option<((&Name, u32, i32), u32)> = None;
    let mut terms = TermsMemo::default();
    for (ordinal, &(start, end)) in spans.iter().enumerate() {
        let first = &lines[start];
        explanation.deals += 1;
        if first.probability <= 0.0 {
            continue;
        }
        let first_row = rows.len() as u32;
        let pay_start = cash.len() as u32;
        for (line, &k) in lines[start..end].iter().zip(&sku_at[start..end]) {
            // A deal's lines mostly share their team, stage and horizon.
            // Shared names compare by address first.
            let key = (&line.team, line.shocks.stage, line.horizon);
            let group = match last_group {
                Some((seen, g)) if seen == key => g,
                _ => {
                    let g = shocks.group(&line.team, key.1, key.2, || line.shocks);
                    last_group = Some((key, g));
                    g
                }
            };
            let (product_line, delivery_days) = effective(rules, line, &facts[k as usize]);
            let delivery = line
                .close_date
                .checked_add_days(chrono::Days::new(u64::from(delivery_days)))
                .unwrap_or(chrono::NaiveDate::MAX);
            let paid = cash.len();
            // Asked only for lines that bring cash, as before.
            let terms = if line.amount == 0.0 {
                None
            } else {
                terms.of(rules, &line.account, product_line)
            };
            payments(line, terms, delivery, calendar, &mut explanation, &mut cash);
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
            let groups = chosen.get(&(ordinal as u32, k)).filter(|g| !g.is_empty());
            if groups.is_some() {
                explanation.configured_lines += 1;
            }
            let mut given = false;
            for &s in slots_of[k as usize] {
                let slot = &mix.slots[s];
                let open = groups.is_none_or(|g| slot.required && !g.contains(&slot.group));
                if open {
                    given = true;
                    rows.push(Row {
                        point: line.point,
                        cell: cell(slot.option_node, bucket),
                        quantity: line.quantity,
                        slot: s as u32,
                        sku: k,
                        group,
                    });
                }
            }
            if given {
                explanation.attach_rate_lines += 1;
            }
            match facts[k as usize].node {
                Some(node) => rows.push(Row {
                    point: line.point,
                    cell: cell(node, bucket),
                    quantity: line.quantity,
                    slot: NO_SLOT,
                    sku: k,
                    group,
                }),
                None => *unplanned.entry(line.sku.to_string()).or_default() += 1,
            }
        }
        deals.push(Deal {
            id: first.deal.clone(),
            probability: first.probability,
            points: first.points,
            start: first_row,
            end: rows.len() as u32,
            pay_start,
            pay_end: cash.len() as u32,
        });
    }
    explanation.unplanned_skus = unplanned.into_iter().collect();
    explanation.unplanned_groups = mix.unplanned_groups.clone();
    explanation.attach_rates = attach_rates(&mix);
    drop(slots_of);
    let mut prepared = Prepared {
        cells,
        wins: WinDraw::new(deals.iter().map(|d| d.probability)),
        deals,
        rows,
        payments: cash,
        skus: skus.clone(),
        mix,
        expected_mix,
        expected_cells: Vec::new(),
        explanation,
        lines: blake3::Hasher::new(),
        shocks,
    };
    prepared.expected_cells = prepared.sum_cells();
    Ok(prepared)
}

/// The plan id: the lines' hash, then [`inputs_digest`].
pub(crate) fn plan_id(prepared: &Prepared, inputs: &blake3::Hash) -> String {
    let mut h = prepared.lines.clone();
    h.update(inputs.as_bytes());
    let hex = h.finalize().to_hex();
    format!("plan-{}", &hex.as_str()[..16])
}

/// A hash of every input but the lines, in canonical order (computed
/// beside the lines' preparation: it does not need them).
pub(crate) fn inputs_digest(
    rules: &RuleSet,
    inventory: &Inventory,
    options: &PlanOptions,
) -> blake3::Hash {
    let mut h = blake3::Hasher::new();
    let mut field = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
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
    // Pegging is the default: only its absence is written.
    if !options.pegging {
        field(b"without pegging");
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
    h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_bad_line_is_named_by_its_row_whatever_the_threads_reach_first() {
        let good = |deal: usize| DemandLine {
            deal: format!("D{deal:05}").into(),
            sku: "LT-14".into(),
            quantity: 1.0,
            probability: 0.5,
            points: 1,
            ..DemandLine::default()
        };
        let mut lines: Vec<DemandLine> = (0..50_000).map(good).collect();
        lines[40_000].probability = 1.5;
        lines[31_337].quantity = f64::NAN;
        lines[45_000].points = 0;
        let Err(DemandError::Invalid(message)) = check(&lines) else {
            panic!("bad lines passed the check");
        };
        assert_eq!(
            message,
            "demand line 31337 (deal D31337, LT-14): quantity is not a finite number of at least 0"
        );
        lines[31_337].quantity = 2.0;
        let Err(DemandError::Invalid(message)) = check(&lines) else {
            panic!("bad lines passed the check");
        };
        assert!(message.starts_with("demand line 40000 "), "{message}");
        lines[40_000].probability = 1.0;
        lines[45_000].points = 1;
        assert!(check(&lines).is_ok());
    }

    #[test]
    fn lines_listed_deal_by_deal_are_put_in_the_order_of_every_field() {
        // Deals in id order, each deal's lines in no order: sorted within
        // the deal, by point, SKU, then the remaining fields (the same SKU
        // twice, told apart by quantity, then by team).
        let line = |deal: &str, point: u32, sku: &str, quantity: f64, team: &str| DemandLine {
            deal: deal.into(),
            sku: sku.into(),
            point,
            points: 6,
            quantity,
            team: team.into(),
            ..DemandLine::default()
        };
        let lines = vec![
            line("D1", 2, "B", 1.0, "x"),
            line("D1", 0, "Z", 1.0, "x"),
            line("D1", 2, "A", 3.0, "x"),
            line("D1", 2, "A", 1.0, "y"),
            line("D1", 2, "A", 1.0, "x"),
            line("D2", 1, "A", 1.0, "x"),
            line("D3", 0, "C", 2.0, "x"),
            line("D3", 0, "C", 1.0, "x"),
        ];
        let mut expected = lines.clone();
        expected.sort_by(canonical);
        let (ordered, spans) = canonical_order(lines);
        assert_eq!(ordered, expected);
        assert_eq!(spans, [(0, 5), (5, 6), (6, 8)]);
        let d1: Vec<(u32, &str, f64, &str)> = ordered[..5]
            .iter()
            .map(|l| (l.point, &*l.sku, l.quantity, &*l.team))
            .collect();
        assert_eq!(
            d1,
            [
                (0, "Z", 1.0, "x"),
                (2, "A", 1.0, "x"),
                (2, "A", 1.0, "y"),
                (2, "A", 3.0, "x"),
                (2, "B", 1.0, "x"),
            ]
        );
    }

    #[test]
    fn long_ids_sharing_a_prefix_are_ordered_as_the_lines_themselves() {
        // Ids alike in their first 16 bytes, points against the id order:
        // a key that compared the point after only the prefix would put
        // `...-b` point 0 before `...-a` point 5.
        let line = |deal: &str, point: u32, sku: &str| DemandLine {
            deal: deal.into(),
            sku: sku.into(),
            point,
            points: 6,
            ..DemandLine::default()
        };
        let lines = vec![
            line("OPPORTUNITY-2026-EMEA-b", 0, "X"),
            line("OPPORTUNITY-2026-EMEA-a", 5, "Y"),
            line("OPPORTUNITY-2026-EMEA-a", 5, "X"),
            line("OPP-1", 3, "X"),
            line("OPPORTUNITY-2026-EMEA-b", 2, "A"),
            line("OPPORTUNITY-2026-EMEA-a", 1, "Z"),
        ];
        let mut expected = lines.clone();
        expected.sort_by(canonical);
        for rotation in 0..lines.len() {
            let mut input = lines.clone();
            input.rotate_left(rotation);
            let (ordered, spans) = canonical_order(input);
            assert_eq!(ordered, expected, "rotation {rotation}");
            assert_eq!(spans, [(0, 1), (1, 4), (4, 6)], "rotation {rotation}");
        }
    }
}
