//! MRP on the expected demand: items in low-level-code order, so each is
//! planned once, after all its parents. Gross requirements are the
//! pipeline's own demand for the first planned items below each SKU plus
//! the components of parents' planned orders; projected on hand = on
//! hand + receipts − gross; where it would fall below safety stock an
//! order brings it back: at least the minimum, a whole multiple, due the
//! earliest day the bucket's requirements are needed and released its
//! lead time earlier (as late as possible). A release before the plan date is flagged `expedite`.
use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};
use quotecast_model::{SafetyStock, Supply};
use rayon::iter::{IntoParallelRefIterator, ParallelIterator};
use rust_decimal::{Decimal, RoundingStrategy, prelude::FromPrimitive, prelude::ToPrimitive};

use crate::{
    Inventory, Name, Peg, Pegged, PlanOptions, PlannedOrder, Projection, SafetyStockRow,
    calendar::Placement,
    prepare::Prepared,
    structure::{Node, Structure, Use},
    trials::Demand,
};

/// Quantities within this of a threshold count as meeting it (the
/// expected requirements are sums of products of f64).
const EPSILON: f64 = 1e-9;

pub(crate) struct Planned {
    pub orders: Vec<PlannedOrder>,
    pub pegging: Vec<Peg>,
    pub projections: Vec<Projection>,
    pub safety_stock: Vec<SafetyStockRow>,
    pub unknown_inventory: Vec<String>,
    pub items_planned: usize,
}

/// A quantity as an exact decimal, rounded up at 6 places.
fn up(q: f64) -> Decimal {
    let q = q.max(0.0);
    // Whole units (what components of whole lots need): exactly so.
    if q == q.trunc() && q < 9e15 {
        return Decimal::from(q as i64);
    }
    // In millionths, far enough from a whole one that the product's
    // rounding (under 1e-5 below 1e11) cannot move it across: the whole
    // millionths above, without converting the f64's binary expansion
    // (one planned order each; the conversion cost more than its lot
    // sizing). Otherwise exactly, through that expansion.
    let millionths = q * 1e6;
    let frac = millionths - millionths.floor();
    if millionths < 1e11 && frac > 1e-3 && frac < 1.0 - 1e-3 {
        return Decimal::new(millionths.ceil() as i64, 6).normalize();
    }
    Decimal::from_f64(q)
        .unwrap_or(Decimal::MAX)
        .round_dp_with_strategy(6, RoundingStrategy::AwayFromZero)
        .normalize()
}

/// A planned order's id: its item and due day, `ITEM@YYYY-MM-DD`.
fn order_id(item: &str, due: NaiveDate) -> String {
    let (year, month, day) = (due.year(), due.month(), due.day());
    if !(0..=9999).contains(&year) {
        return format!("{item}@{due}");
    }
    // Digits pushed directly: one id per planned order, and formatting a
    // date through `Display` cost more than the rest of the order.
    let mut id = String::with_capacity(item.len() + 11);
    id.push_str(item);
    id.push('@');
    let digits = |id: &mut String, value: u32, width: u32| {
        for place in (0..width).rev() {
            let digit = value / 10u32.pow(place) % 10;
            id.push(char::from(b'0' + digit as u8));
        }
    };
    digits(&mut id, year as u32, 4);
    id.push('-');
    digits(&mut id, month, 2);
    id.push('-');
    digits(&mut id, day, 2);
    id
}

/// `q` rounded up to a whole multiple of a whole `multiple`, in integers
/// (the decimal division cost more than the rest of an order): `q` is
/// m / 10^s exactly, so the multiples are ⌈m / (multiple × 10^s)⌉.
/// `None` where the figures do not fit, or `multiple` is not whole.
fn whole_multiples(q: Decimal, multiple: Decimal) -> Option<Decimal> {
    if multiple.scale() != 0 && multiple.fract() != Decimal::ZERO {
        return None;
    }
    let step = multiple.trunc().mantissa();
    let mantissa = q.mantissa();
    if step <= 0 || mantissa < 0 || q.scale() > 18 {
        return None;
    }
    let per_unit = 10i128.checked_pow(q.scale())?;
    let step_scaled = step.checked_mul(per_unit)?;
    let lots = mantissa
        .checked_add(step_scaled - 1)?
        .checked_div(step_scaled)?;
    Decimal::try_from_i128_with_scale(lots.checked_mul(step)?, 0).ok()
}

/// The order for a net requirement: at least the minimum, a whole
/// multiple of the order multiple.
pub(crate) fn lot_size(net: Decimal, min_order: Decimal, multiple: Decimal) -> Decimal {
    let q = net.max(min_order);
    if multiple == Decimal::ONE {
        // Whole units: the same as dividing by one, without the division.
        q.ceil().normalize()
    } else if let Some(lot) = whole_multiples(q, multiple) {
        lot
    } else if multiple > Decimal::ZERO {
        ((q / multiple).ceil() * multiple).normalize()
    } else {
        q.normalize()
    }
}

pub(crate) fn run(
    s: &Structure<'_>,
    p: &Prepared,
    demand: &Demand,
    inventory: &Inventory,
    options: &PlanOptions,
) -> Planned {
    if !options.pegging {
        return net(s, p, demand, inventory, options).0;
    }
    // Netting reads the expected demand; the cells' deal lines are laid
    // out for pegging meanwhile (neither needs the other).
    let ((mut planned, to_peg), cell_rows) =
        rayon::join(|| net(s, p, demand, inventory, options), || cell_rows(p));
    // Pegging reads only the finished orders: item by item in parallel,
    // kept in planning order.
    let buckets = options.calendar.buckets();
    let pegs: Vec<Vec<Peg>> = to_peg
        .par_iter()
        .map(|(n, orders)| peg(&cell_rows, demand, *n, orders, buckets))
        .collect();
    planned.pegging = Vec::with_capacity(pegs.iter().map(Vec::len).sum());
    for item in pegs {
        planned.pegging.extend(item);
    }
    planned
}

/// The orders of one item to peg: its node, and each order's position in
/// the plan's orders with the bucket it is due in.
type ToPeg = Vec<(Node, Vec<(usize, usize)>)>;

/// Gross requirements per item and bucket as netting adds them, with the
/// earliest day each (item, bucket)'s requirements are needed (an order
/// is due then, not at the bucket's start: as late as possible) and
/// whether an item has requirements already past due.
struct Requirements<'c> {
    calendar: &'c crate::calendar::Calendar,
    gross: Vec<Vec<f64>>,
    first_need: Vec<Vec<Option<NaiveDate>>>,
    past_due: Vec<bool>,
}

impl<'c> Requirements<'c> {
    /// The pipeline's own demand: each cell's expected quantity on the
    /// first planned items below its SKU.
    fn independent(
        s: &Structure<'_>,
        p: &Prepared,
        calendar: &'c crate::calendar::Calendar,
    ) -> Self {
        let buckets = calendar.buckets();
        let mut r = Requirements {
            calendar,
            gross: vec![vec![0.0; buckets]; s.len()],
            first_need: vec![vec![None; buckets]; s.len()],
            past_due: vec![false; s.len()],
        };
        let mut uses: Vec<Use> = Vec::new();
        for (cell, &qty) in p.expected_cells.iter().enumerate() {
            if qty <= 0.0 {
                continue;
            }
            let (node, bucket) = p.cells[cell];
            uses.clear();
            s.first_planned(node, calendar.need_date(bucket), &mut uses);
            for u in &uses {
                r.add(u, qty);
            }
        }
        r
    }

    /// `qty` of a parent used through `u`, in the bucket of its date
    /// (past-due dates in the first; beyond the horizon left out).
    fn add(&mut self, u: &Use, qty: f64) {
        let (b, day) = match self.calendar.place(u.date) {
            Placement::PastDue => {
                self.past_due[u.node as usize] = true;
                (0, self.calendar.as_of)
            }
            Placement::In(b) => (b, u.date),
            Placement::Beyond => return,
        };
        self.gross[u.node as usize][b] += qty * u.per;
        let first = &mut self.first_need[u.node as usize][b];
        *first = Some(first.map_or(day, |f| f.min(day)));
    }
}

/// On hand and scheduled receipts per planned item and bucket, and the
/// inventory's items the plan does not know (or does not plan).
struct Stock {
    on_hand: Vec<f64>,
    receipts: Vec<Vec<f64>>,
    unknown: Vec<String>,
}

impl Stock {
    fn of(s: &Structure<'_>, inventory: &Inventory, calendar: &crate::calendar::Calendar) -> Self {
        let mut on_hand = vec![0.0; s.len()];
        let mut receipts = vec![vec![0.0; calendar.buckets()]; s.len()];
        let mut unknown = BTreeSet::new();
        for (item, q) in &inventory.on_hand {
            match s.node(item).filter(|&n| s.is_planned(n)) {
                Some(n) => on_hand[n as usize] += q.to_f64().unwrap_or(0.0),
                None => {
                    unknown.insert(item.clone());
                }
            }
        }
        for r in &inventory.receipts {
            match s.node(&r.item).filter(|&n| s.is_planned(n)) {
                Some(n) => {
                    if let Some(b) = calendar.bucket_of(r.due) {
                        receipts[n as usize][b] += r.quantity.to_f64().unwrap_or(0.0);
                    }
                }
                None => {
                    unknown.insert(r.item.clone());
                }
            }
        }
        Stock {
            on_hand,
            receipts,
            unknown: unknown.into_iter().collect(),
        }
    }
}

/// Nets every planned item in low-level-code order: the planned orders,
/// projections and safety stock, and the orders each item has to peg.
/// The items of one low-level code only bring requirements to deeper
/// ones, so they are netted in parallel and what their orders need is
/// added after, item by item in planning order (the same sums in the
/// same order as one item after another).
fn net(
    s: &Structure<'_>,
    p: &Prepared,
    demand: &Demand,
    inventory: &Inventory,
    options: &PlanOptions,
) -> (Planned, ToPeg) {
    let calendar = &options.calendar;
    let mut need = Requirements::independent(s, p, calendar);
    let stock = Stock::of(s, inventory, calendar);
    let mut to_peg: ToPeg = Vec::new();
    let mut planned = Planned {
        orders: Vec::new(),
        pegging: Vec::new(),
        projections: Vec::new(),
        safety_stock: Vec::new(),
        unknown_inventory: stock.unknown.clone(),
        items_planned: 0,
    };
    for level in s.levels() {
        let items: Vec<ItemPlan> = level
            .par_iter()
            .filter_map(|&n| net_item(s, n, demand, &stock, &need))
            .collect();
        planned
            .orders
            .reserve(items.iter().map(|i| i.orders.len()).sum());
        planned
            .projections
            .reserve(items.iter().map(|i| i.projections.len()).sum());
        for item in items {
            planned.safety_stock.extend(item.safety_stock);
            if !item.netted {
                continue;
            }
            planned.items_planned += 1;
            let mut orders_here = Vec::with_capacity(item.orders.len());
            for (order, bucket) in item.orders {
                orders_here.push((planned.orders.len(), bucket));
                planned.orders.push(order);
            }
            planned.projections.extend(item.projections);
            for (u, q) in &item.components {
                need.add(u, *q);
            }
            if !orders_here.is_empty() {
                to_peg.push((item.node, orders_here));
            }
        }
    }
    (planned, to_peg)
}

/// The safety stock an item is planned to: fixed, or suggested from the
/// trials (rounded up); with the trials' figures as a row.
fn safety_stock(
    item: &quotecast_model::Item,
    name: &Name,
    stats: Option<&crate::trials::ItemStats>,
) -> (f64, Option<SafetyStockRow>) {
    let safety = match item.safety_stock {
        Some(SafetyStock::Fixed(q)) => q.to_f64().unwrap_or(0.0),
        Some(SafetyStock::Computed) => stats.map_or(0.0, |st| st.suggested.ceil()),
        None => 0.0,
    };
    let row = stats.map(|st| SafetyStockRow {
        item: name.clone(),
        cumulative_lead_days: st.cumulative_lead_days,
        mean: st.window_mean,
        percentiles: st.window_percentiles,
        suggested: st.suggested,
        textbook: st.textbook,
        used: safety,
    });
    (safety, row)
}

/// What netting one item gives: its safety stock row, its orders with
/// the bucket each is due in, its projections, and the requirements its
/// orders bring to the items below (added after its low-level code).
struct ItemPlan {
    node: Node,
    safety_stock: Option<SafetyStockRow>,
    /// Whether it was netted (untouched items only keep their row).
    netted: bool,
    orders: Vec<(PlannedOrder, usize)>,
    projections: Vec<Projection>,
    components: Vec<(Use, f64)>,
}

/// Nets one item bucket by bucket: where projected on hand falls below
/// its safety stock, an order (lot-sized, due the earliest day needed,
/// released its lead time before) whose components become requirements
/// of the items below. `None` for an item that is not planned; an
/// untouched one (no requirement, stock or safety stock) is not netted.
fn net_item(
    s: &Structure<'_>,
    n: Node,
    demand: &Demand,
    stock: &Stock,
    need: &Requirements<'_>,
) -> Option<ItemPlan> {
    let item = s.item(n).filter(|_| s.is_planned(n))?;
    let name = &s.names[n as usize];
    let (safety, safety_row) = safety_stock(item, name, demand.stats.get(&n));
    let touched = need.gross[n as usize].iter().any(|&g| g > 0.0)
        || stock.receipts[n as usize].iter().any(|&r| r > 0.0)
        || stock.on_hand[n as usize] > 0.0;
    let mut plan = ItemPlan {
        node: n,
        safety_stock: safety_row,
        netted: touched || safety > 0.0,
        orders: Vec::new(),
        projections: Vec::new(),
        components: Vec::new(),
    };
    if !plan.netted || item.supply == Supply::Service {
        // Service hours are capacity (see `Capacity`), not orders.
        return Some(plan);
    }
    let calendar = need.calendar;
    let (min_order, multiple) = s.lot(n);
    let mut projected = stock.on_hand[n as usize];
    let mut uses: Vec<Use> = Vec::new();
    let supplier: Option<Name> = item.supplier.as_deref().map(Name::from);
    for b in 0..calendar.buckets() {
        let g = need.gross[n as usize][b];
        let r = stock.receipts[n as usize][b];
        projected += r - g;
        let mut planned_receipt = 0.0;
        if projected < safety - EPSILON {
            let net = up(safety - projected);
            let qty = lot_size(net, min_order, multiple);
            let need_date = need.first_need[n as usize][b].unwrap_or(calendar.need_date(b));
            let release_date = s.start_of(n, need_date);
            let expedite = release_date < calendar.as_of || (b == 0 && need.past_due[n as usize]);
            let q = qty.to_f64().unwrap_or(0.0);
            planned_receipt = q;
            projected += q;
            plan.orders.push((
                PlannedOrder {
                    id: order_id(&item.id, need_date),
                    item: name.clone(),
                    supply: item.supply.name(),
                    supplier: supplier.clone(),
                    quantity: qty,
                    net_requirement: net,
                    need_date,
                    release_date,
                    expedite,
                    value: qty * item.unit_cost,
                },
                b,
            ));
            // The components of this order, needed when it is released.
            uses.clear();
            s.components(n, need_date, &mut uses);
            plan.components.extend(uses.iter().map(|u| (*u, q)));
        }
        if g > 0.0 || r > 0.0 || planned_receipt > 0.0 || projected != 0.0 {
            plan.projections.push(Projection {
                item: name.clone(),
                bucket: calendar.start(b),
                gross: g,
                receipts: r,
                planned_receipts: planned_receipt,
                on_hand: projected,
                safety_stock: safety,
            });
        }
    }
    Some(plan)
}

/// The most deal lines listed per planned order; the rest are summed in
/// one `(other N deal lines)` row with their units-weighted probability.
pub const PEGS_PER_ORDER: usize = 20;

/// One deal line's expected units in a cell, with what a peg shows of it.
#[derive(Clone, Copy)]
struct CellLine {
    deal: u32,
    sku: u32,
    units: f64,
    probability: f64,
}

/// Each cell's deal lines, largest first, laid out cell after cell
/// (`lines[start[c]..start[c + 1]]`); and per cell the sum of expected
/// quantities and of expected quantity × win probability.
pub(crate) struct CellRows {
    lines: Vec<CellLine>,
    start: Vec<u32>,
    sums: Vec<(f64, f64)>,
}

impl CellRows {
    fn of(&self, cell: u32) -> &[CellLine] {
        let c = cell as usize;
        &self.lines[self.start[c] as usize..self.start[c + 1] as usize]
    }
}

pub(crate) fn cell_rows(p: &Prepared) -> CellRows {
    let mut start = vec![0u32; p.cells.len() + 1];
    for row in &p.rows {
        start[row.cell as usize + 1] += 1;
    }
    for c in 0..p.cells.len() {
        start[c + 1] += start[c];
    }
    let mut next = start.clone();
    let mut lines = vec![
        CellLine {
            deal: 0,
            sku: 0,
            units: 0.0,
            probability: 0.0,
        };
        p.rows.len()
    ];
    for (d, deal) in p.deals.iter().enumerate() {
        for row in &p.rows[deal.start as usize..deal.end as usize] {
            let at = &mut next[row.cell as usize];
            lines[*at as usize] = CellLine {
                deal: d as u32,
                sku: row.sku,
                units: p.expected(deal, row),
                probability: deal.probability,
            };
            *at += 1;
        }
    }
    let mut sums = Vec::with_capacity(p.cells.len());
    for c in 0..p.cells.len() {
        let cell = &mut lines[start[c] as usize..start[c + 1] as usize];
        // Deal order breaks ties: lines were placed in deal order.
        cell.sort_by(|a, b| b.units.total_cmp(&a.units));
        let total: f64 = cell.iter().map(|r| r.units).sum();
        let weighted: f64 = cell.iter().map(|r| r.units * r.probability).sum();
        sums.push((total, weighted));
    }
    CellRows { lines, start, sums }
}

/// Pegs each order of node `n` to the deals whose expected demand for
/// `n` falls in the buckets it covers (its own up to the next order's):
/// the [`PEGS_PER_ORDER`] deal lines that drive most of it, found by
/// merging the cells' lines largest first, then one row for the rest.
fn peg(
    cell_rows: &CellRows,
    demand: &Demand,
    n: Node,
    orders: &[(usize, usize)],
    buckets: usize,
) -> Vec<Peg> {
    let mut pegging = Vec::new();
    if demand.entries[n as usize].is_empty() || orders.is_empty() {
        return pegging;
    }
    // The node's uses by bucket (then cell), so each order reads only
    // its window.
    let entries = &demand.entries[n as usize];
    // Units of `n` per unit of each cell, in the order's buckets, by cell.
    let mut by_cell: Vec<(u32, f64)> = Vec::new();
    let mut heads = Vec::new();
    let mut top: Vec<((u32, u32), f64, f64)> = Vec::new();
    for (k, &(order, from)) in orders.iter().enumerate() {
        let to = orders.get(k + 1).map_or(buckets, |&(_, b)| b);
        let start = entries.partition_point(|e| (e.bucket as usize) < from);
        by_cell.clear();
        by_cell.extend(
            entries[start..]
                .iter()
                .take_while(|e| (e.bucket as usize) < to)
                .map(|e| (e.cell, e.per)),
        );
        // One bucket's entries are already in cell order; several
        // buckets' are merged, each cell's units per unit summed in
        // bucket order.
        if !by_cell.is_sorted_by_key(|&(cell, _)| cell) {
            by_cell.sort_by_key(|&(cell, _)| cell);
        }
        by_cell.dedup_by(|next, kept| {
            let same = next.0 == kept.0;
            if same {
                kept.1 += next.1;
            }
            same
        });
        let (mut total, mut weighted) = (0.0, 0.0);
        let mut lines = 0usize;
        // A max-heap of each cell's next line: (units, cell, position,
        // units of `n` per unit of the cell).
        heads.clear();
        for &(cell, per) in &by_cell {
            let rows = cell_rows.of(cell);
            let (t, w) = cell_rows.sums[cell as usize];
            total += t * per;
            weighted += w * per;
            lines += rows.len();
            if let Some(first) = rows.first() {
                heads.push((
                    Units(first.units * per),
                    std::cmp::Reverse(cell),
                    0usize,
                    Units(per),
                ));
            }
        }
        if total <= 0.0 {
            continue;
        }
        let mut heap = std::collections::BinaryHeap::from(std::mem::take(&mut heads));
        top.clear();
        while let Some((Units(units), std::cmp::Reverse(cell), at, Units(per))) = heap.pop() {
            if top.len() >= PEGS_PER_ORDER {
                break;
            }
            let rows = cell_rows.of(cell);
            let line = rows[at];
            let key = (line.deal, line.sku);
            match top.iter_mut().find(|(k, _, _)| *k == key) {
                Some(t) => t.1 += units,
                None => top.push((key, units, line.probability)),
            }
            if let Some(next) = rows.get(at + 1) {
                heap.push((
                    Units(next.units * per),
                    std::cmp::Reverse(cell),
                    at + 1,
                    Units(per),
                ));
            }
        }
        heads = heap.into_vec();
        let (mut listed, mut listed_weighted) = (0.0, 0.0);
        for &((deal, sku), units, probability) in &top {
            listed += units;
            listed_weighted += units * probability;
            pegging.push(Peg {
                order: order as u32,
                pegged: Pegged::Line { deal, sku },
                expected_units: units,
                share: units / total,
                probability,
            });
        }
        let rest = total - listed;
        if lines > top.len() && rest > total * 1e-12 {
            pegging.push(Peg {
                order: order as u32,
                pegged: Pegged::Others {
                    lines: (lines - top.len()) as u32,
                },
                expected_units: rest,
                share: rest / total,
                // Their win probability weighted by their units.
                probability: ((weighted - listed_weighted) / rest).clamp(0.0, 1.0),
            });
        }
    }
    pegging
}

/// Expected units, ordered for the merge heap (never NaN: sums of
/// products of finite figures).
#[derive(Clone, Copy, PartialEq)]
struct Units(f64);

impl Eq for Units {}

impl PartialOrd for Units {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Units {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_common::dec;

    #[test]
    fn an_order_is_pegged_to_the_deal_lines_a_merge_of_every_cell_would_find() {
        // 120 cells in one bucket, most lines of three deals repeating
        // across cells (so finding 20 deal lines takes lines from far
        // more than 20 cells),
        // against every line of every cell sorted as the merge takes them.
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as u32
        };
        let cells = 120u32;
        let (mut lines, mut start, mut sums) = (Vec::new(), vec![0u32], Vec::new());
        for _ in 0..cells {
            let mut cell: Vec<CellLine> = (0..1 + next() % 5)
                .map(|_| CellLine {
                    // Mostly three deals' lines; one in eight of its own.
                    deal: if next() % 8 == 0 {
                        100 + next() % 1000
                    } else {
                        next() % 3
                    },
                    sku: next() % 2,
                    units: f64::from(1 + next() % 50),
                    probability: f64::from(next() % 100) / 100.0,
                })
                .collect();
            cell.sort_by(|a, b| b.units.total_cmp(&a.units));
            let total: f64 = cell.iter().map(|l| l.units).sum();
            let weighted: f64 = cell.iter().map(|l| l.units * l.probability).sum();
            sums.push((total, weighted));
            lines.extend(cell);
            start.push(lines.len() as u32);
        }
        let rows = CellRows { lines, start, sums };
        let entries: Vec<crate::trials::Entry> = (0..cells)
            .map(|cell| crate::trials::Entry {
                cell,
                per: f64::from(1 + next() % 3),
                bucket: 0,
                past_due: false,
            })
            .collect();
        let demand = Demand {
            rows: vec![],
            capacity: vec![],
            cash: vec![],
            entries: vec![entries.clone()],
            without_cells: None,
            stats: Default::default(),
        };
        let pegs = peg(&rows, &demand, 0, &[(0, 0)], 1);
        // Every line of every cell, in the merge's order.
        let mut all: Vec<(Units, std::cmp::Reverse<u32>, usize, CellLine)> = entries
            .iter()
            .flat_map(|e| {
                rows.of(e.cell)
                    .iter()
                    .enumerate()
                    .map(move |(at, l)| (Units(l.units * e.per), std::cmp::Reverse(e.cell), at, *l))
            })
            .collect();
        all.sort_by_key(|a| std::cmp::Reverse((a.0, a.1, a.2)));
        let mut expected: Vec<((u32, u32), f64)> = Vec::new();
        let mut taken = 0;
        for (Units(units), _, _, line) in &all {
            if expected.len() >= PEGS_PER_ORDER {
                break;
            }
            taken += 1;
            match expected
                .iter_mut()
                .find(|(k, _)| *k == (line.deal, line.sku))
            {
                Some(e) => e.1 += units,
                None => expected.push(((line.deal, line.sku), *units)),
            }
        }
        assert!(taken > PEGS_PER_ORDER + 1, "no deal line repeated: {taken}");
        let found: Vec<((u32, u32), f64)> = pegs
            .iter()
            .filter_map(|p| match p.pegged {
                Pegged::Line { deal, sku } => Some(((deal, sku), p.expected_units)),
                Pegged::Others { .. } => None,
            })
            .collect();
        assert_eq!(found, expected);
        assert!(matches!(
            pegs.last().map(|p| p.pegged),
            Some(Pegged::Others { .. })
        ));
    }

    #[test]
    fn order_ids_name_the_item_and_the_due_day_as_dates_print() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(order_id("CPU-X", day(2026, 3, 9)), "CPU-X@2026-03-09");
        let mut d = day(1999, 12, 25);
        for _ in 0..800 {
            assert_eq!(order_id("A", d), format!("A@{d}"));
            d = d.succ_opt().unwrap();
        }
        for d in [
            day(1, 1, 1),
            day(0, 2, 29),
            day(9999, 12, 31),
            day(10000, 1, 1),
            day(-44, 3, 15),
        ] {
            assert_eq!(order_id("PSU", d), format!("PSU@{d}"));
        }
    }

    #[test]
    fn net_requirements_round_up_at_six_places_as_the_exact_expansion_does() {
        let exact = |q: f64| {
            Decimal::from_f64(q.max(0.0))
                .unwrap()
                .round_dp_with_strategy(6, RoundingStrategy::AwayFromZero)
                .normalize()
        };
        let mut seed = 11u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..200_000 {
            // Sums of expected quantities at every magnitude, and values
            // on or next to a whole millionth.
            let q = next() * 10f64.powi((next() * 14.0) as i32 - 4);
            let on = (q * 1e6).round() / 1e6;
            for v in [q, on, on + 1e-12, on - 1e-12, -q, q.trunc(), q.ceil()] {
                assert_eq!(up(v), exact(v), "{v:e}");
            }
        }
        assert_eq!(up(3.2).to_string(), "3.2");
        assert_eq!(up(0.1 + 0.2).to_string(), "0.3");
        assert_eq!(up(2.000_000_3).to_string(), "2.000001");
    }

    #[test]
    fn lots_of_whole_multiples_are_the_decimal_divisions_figures() {
        let by_division = |q: Decimal, m: Decimal| ((q / m).ceil() * m).normalize();
        let mut seed = 5u64;
        let mut next = |below: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % below
        };
        for _ in 0..100_000 {
            let q = Decimal::new(next(1 << 30) as i64, next(8) as u32);
            let m = Decimal::new(1 + next(500) as i64, 0);
            assert_eq!(whole_multiples(q, m), Some(by_division(q, m)), "{q} {m}");
        }
        // Exact multiples stay; a multiple written with a zero fraction
        // is whole; fractional multiples and huge figures take the
        // division.
        assert_eq!(whole_multiples(dec("50"), dec("25")), Some(dec("50")));
        assert_eq!(
            whole_multiples(dec("50.000001"), dec("25.0")),
            Some(dec("75"))
        );
        assert_eq!(whole_multiples(dec("0.3"), dec("0.25")), None);
        assert_eq!(whole_multiples(Decimal::MAX, dec("10")), None);
    }

    #[test]
    fn lots_are_at_least_the_minimum_and_whole_multiples() {
        assert_eq!(lot_size(dec("3.2"), dec("0"), dec("1")), dec("4"));
        assert_eq!(lot_size(dec("3"), dec("0"), dec("1")).to_string(), "3");
        assert_eq!(lot_size(dec("3.000001"), dec("0"), dec("1")), dec("4"));
        assert_eq!(lot_size(dec("3.2"), dec("10"), dec("1")), dec("10"));
        assert_eq!(lot_size(dec("12"), dec("10"), dec("5")), dec("15"));
        assert_eq!(lot_size(dec("0.3"), dec("0"), dec("0.25")), dec("0.5"));
        assert_eq!(lot_size(dec("0.3"), dec("0"), dec("0")), dec("0.3"));
    }
}
