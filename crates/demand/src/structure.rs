//! The product structure as the planner walks it: every catalog SKU with
//! a BOM and every item, numbered; their BOM lines; low-level codes (the
//! deepest level each node is used on, so it is planned once, after every
//! parent); and explosion through phantoms.
use std::collections::HashMap;

use chrono::{Days, NaiveDate};
use quotecast_model::{DateRange, Item, PlanningData, Supply};
use rust_decimal::{Decimal, prelude::ToPrimitive};

use crate::{DemandError, Name};

pub(crate) type Node = u32;

#[derive(Debug, Clone)]
pub(crate) struct Child {
    pub node: Node,
    /// Units per unit of the parent, scrap included.
    pub per: f64,
    pub effective: DateRange,
}

/// One use of a planned item by a unit of demand: `per` units needed on
/// `date`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Use {
    pub node: Node,
    pub per: f64,
    pub date: NaiveDate,
}

pub(crate) struct Structure<'r> {
    pub ids: Vec<&'r str>,
    /// Each node's id as a shared name, for the plan's rows.
    pub names: Vec<Name>,
    index: HashMap<&'r str, Node>,
    /// `None` for a catalog SKU without supply data (exploded through).
    pub items: Vec<Option<&'r Item>>,
    pub children: Vec<Vec<Child>>,
    /// Low-level code: 0 for nodes no BOM uses.
    pub level: Vec<u32>,
    /// Nodes by low-level code, then id.
    pub order: Vec<Node>,
}

impl<'r> Structure<'r> {
    pub fn new(data: &'r PlanningData) -> Result<Self, DemandError> {
        let mut ids: Vec<&'r str> = data.items.iter().map(|i| i.id.as_str()).collect();
        ids.extend(data.bom.iter().map(|l| l.parent.as_str()));
        ids.sort_unstable();
        ids.dedup();
        let index: HashMap<&'r str, Node> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, i as Node))
            .collect();
        let items = ids.iter().map(|id| data.item(id)).collect();
        let mut children: Vec<Vec<Child>> = vec![Vec::new(); ids.len()];
        let mut parents = vec![0u32; ids.len()];
        for line in &data.bom {
            let (Some(&p), Some(&c)) = (
                index.get(line.parent.as_str()),
                index.get(line.component.as_str()),
            ) else {
                return Err(DemandError::Invalid(format!(
                    "BOM line {} → {} refers to an unknown item",
                    line.parent, line.component
                )));
            };
            children[p as usize].push(Child {
                node: c,
                per: line.gross_per().to_f64().unwrap_or(0.0),
                effective: line.effective,
            });
            parents[c as usize] += 1;
        }
        // Longest path from a root, in topological order (Kahn).
        let mut level = vec![0u32; ids.len()];
        let mut ready: Vec<Node> = (0..ids.len() as Node)
            .filter(|&n| parents[n as usize] == 0)
            .collect();
        let mut seen = 0;
        while let Some(n) = ready.pop() {
            seen += 1;
            for child in &children[n as usize] {
                let c = child.node as usize;
                level[c] = level[c].max(level[n as usize] + 1);
                parents[c] -= 1;
                if parents[c] == 0 {
                    ready.push(child.node);
                }
            }
        }
        if seen != ids.len() {
            let stuck: Vec<&str> = (0..ids.len())
                .filter(|&n| parents[n] > 0)
                .map(|n| ids[n])
                .take(5)
                .collect();
            return Err(DemandError::Invalid(format!(
                "the BOMs have a cycle through {}",
                stuck.join(", ")
            )));
        }
        let mut order: Vec<Node> = (0..ids.len() as Node).collect();
        order.sort_by_key(|&n| (level[n as usize], n));
        Ok(Self {
            names: ids.iter().map(|&id| Name::from(id)).collect(),
            ids,
            index,
            items,
            children,
            level,
            order,
        })
    }

    /// The nodes of each low-level code in planning order, code by code:
    /// a node's parents are all in earlier slices, so the nodes of one
    /// slice may be worked on together.
    pub fn levels(&self) -> impl Iterator<Item = &[Node]> {
        self.order
            .chunk_by(|a, b| self.level[*a as usize] == self.level[*b as usize])
    }

    pub fn node(&self, id: &str) -> Option<Node> {
        self.index.get(id).copied()
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn item(&self, n: Node) -> Option<&'r Item> {
        self.items[n as usize]
    }

    /// Planned: an item that is bought, made or worked (not a phantom,
    /// not a SKU without supply data).
    pub fn is_planned(&self, n: Node) -> bool {
        self.item(n).is_some_and(|i| i.supply != Supply::Phantom)
    }

    pub fn lead_days(&self, n: Node) -> u32 {
        self.item(n).map_or(0, |i| i.lead_time_days)
    }

    /// The item's minimum order and order multiple.
    pub fn lot(&self, n: Node) -> (Decimal, Decimal) {
        self.item(n).map_or((Decimal::ZERO, Decimal::ZERO), |i| {
            (i.min_order, i.order_multiple)
        })
    }

    /// The day work on a node needed on `need` starts: `need` less its
    /// lead time (the plan's earliest date on overflow).
    pub fn start_of(&self, n: Node, need: NaiveDate) -> NaiveDate {
        need.checked_sub_days(Days::new(u64::from(self.lead_days(n))))
            .unwrap_or(NaiveDate::MIN)
    }

    /// The first planned items below `n` (its components, through
    /// phantoms) for a unit of `n` needed on `need`: needed when its lead
    /// time starts.
    pub fn components(&self, n: Node, need: NaiveDate, out: &mut Vec<Use>) {
        let start = self.start_of(n, need);
        for child in &self.children[n as usize] {
            if child.effective.contains(need) {
                self.walk(child.node, child.per, start, out);
            }
        }
    }

    /// The first planned items a unit of `n` needed on `need` reaches: `n`
    /// itself when planned, else through phantoms.
    pub fn first_planned(&self, n: Node, need: NaiveDate, out: &mut Vec<Use>) {
        self.walk(n, 1.0, need, out);
    }

    /// Through phantoms (and SKUs without supply data) down to the first
    /// planned items, each needed when its parent's lead time starts.
    fn walk(&self, n: Node, per: f64, need: NaiveDate, out: &mut Vec<Use>) {
        if self.is_planned(n) {
            out.push(Use {
                node: n,
                per,
                date: need,
            });
            return;
        }
        let start = self.start_of(n, need);
        for child in &self.children[n as usize] {
            // Effectivity by the day the parent is needed.
            if child.effective.contains(need) {
                self.walk(child.node, per * child.per, start, out);
            }
        }
    }

    /// The longest chain of lead times below and including `n`: what it
    /// takes to buy and build it from nothing.
    pub fn cumulative_lead_days(&self) -> Vec<u32> {
        let mut clt = vec![0u32; self.len()];
        for &n in self.order.iter().rev() {
            let below = self.children[n as usize]
                .iter()
                .map(|c| clt[c.node as usize])
                .max()
                .unwrap_or(0);
            clt[n as usize] = self.lead_days(n) + below;
        }
        clt
    }
}
