//! A compiled model as bytes, so a shell can keep it (a cache keyed by
//! the model) and a restart need not compile again.
//!
//! The bytes hold what compiling chose or built: the variable order, the
//! domain and each constraint's diagram, and the conjunction. Names,
//! scopes and the layout come again from the model the caller gives back.
//! Reading checks the structure throughout (lengths, a permutation, node
//! indices and variable order), so bytes that were cut or altered are
//! refused, never trusted into a panic; the caller's key (and checksum)
//! decide that the bytes belong to this model.
//!
//! Layout, all integers little-endian: the format tag; the options and
//! variables counts (u32); the order (u32 per option); the domain and
//! each constraint as (node count u32, then var u16, low u32, high u32 per
//! node in biodivine's order); the conjunction as (node count u32, root
//! u32, then var, low, high as u32 per node).
use biodivine_lib_bdd::{Bdd, BddPointer};
use quotecast_model::ConfigModel;

use crate::{
    ConfigError,
    compile::{self, CompiledModel, within_units},
    conjoin::Node,
    diagram::Diagram,
    layout::Layout,
};

/// Changes whenever the byte layout or what a compiled model means does.
const FORMAT: &[u8; 8] = b"QCCM0001";

impl CompiledModel {
    /// The compiled model as bytes, for [`Self::from_bytes`].
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + 12 * self.diagram.len());
        out.extend_from_slice(FORMAT);
        put(&mut out, self.layout.by_rank.len());
        put(&mut out, self.layout.variables());
        for &option in &self.layout.by_rank {
            put(&mut out, option);
        }
        put_bdd(&mut out, &self.domain);
        for constraint in &self.constraints {
            put_bdd(&mut out, &constraint.bdd);
        }
        put(&mut out, self.diagram.len());
        put(&mut out, self.diagram.root() as usize);
        for node in self.diagram.nodes() {
            for field in [node.var, node.low, node.high] {
                out.extend_from_slice(&field.to_le_bytes());
            }
        }
        out
    }

    /// The model compiled earlier into `bytes` by [`Self::to_bytes`] from
    /// this same `model`. Bytes of another format, cut short or not well
    /// formed for the model are refused.
    pub fn from_bytes(model: ConfigModel, bytes: &[u8]) -> Result<Self, ConfigError> {
        let mut read = Reader { bytes };
        if read.take(FORMAT.len())? != FORMAT {
            return Err(stored("written by another version"));
        }
        within_units(&model)?;
        let options = read.count()?;
        if options != model.options.len() {
            return Err(stored("for a model with other options"));
        }
        let variables = read.count()?;
        let mut by_rank = Vec::with_capacity(options);
        let mut seen = vec![false; options];
        for _ in 0..options {
            let option = read.count()?;
            if option >= options || std::mem::replace(&mut seen[option], true) {
                return Err(stored(
                    "its variable order is not one of the model's options",
                ));
            }
            by_rank.push(option);
        }
        let layout = Layout::new(&model, by_rank);
        if layout.variables() != variables {
            return Err(stored("for a model with other quantities"));
        }
        let vars = compile::variables(&model, &layout)?;
        let domain = read.bdd(variables)?;
        let constraints = model.groups.len() + model.rules.len();
        let bdds = (0..constraints)
            .map(|_| read.bdd(variables))
            .collect::<Result<Vec<_>, _>>()?;
        let nodes = read.count()?;
        let root = read.u32()?;
        let mut table = Vec::with_capacity(nodes.min(read.bytes.len() / 12));
        for _ in 0..nodes {
            table.push(Node {
                var: read.u32()?,
                low: read.u32()?,
                high: read.u32()?,
            });
        }
        if !read.bytes.is_empty() {
            return Err(stored("longer than the model it claims"));
        }
        let diagram = Diagram::from_nodes(&table, root, &layout)
            .ok_or_else(|| stored("its conjunction is not a well-formed diagram"))?;
        Ok(Self::assemble(model, layout, vars, bdds, domain, diagram))
    }
}

fn stored(reason: &'static str) -> ConfigError {
    ConfigError::Stored { reason }
}

fn put(out: &mut Vec<u8>, value: usize) {
    // Counts and indices of a compiled model fit in u32: its variables
    // fit in u16 and its node table is indexed by u32.
    out.extend_from_slice(&(value as u32).to_le_bytes());
}

fn put_bdd(out: &mut Vec<u8>, bdd: &Bdd) {
    put(out, bdd.size());
    out.extend_from_slice(&bdd.to_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ConfigError> {
        if self.bytes.len() < n {
            return Err(stored("cut short"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, ConfigError> {
        let head = self.take(4)?;
        Ok(u32::from_le_bytes([head[0], head[1], head[2], head[3]]))
    }

    fn count(&mut self) -> Result<usize, ConfigError> {
        self.u32().map(|n| n as usize)
    }

    /// A diagram of biodivine's over `variables` variables, checked the
    /// way biodivine builds them: terminals first, the root last, every
    /// node's children before it and on later variables.
    fn bdd(&mut self, variables: usize) -> Result<Bdd, ConfigError> {
        let nodes = self.count()?;
        let bytes = self.take(nodes.checked_mul(10).ok_or_else(|| stored("cut short"))?)?;
        let mut slice = bytes;
        let bdd = Bdd::read_as_bytes(&mut slice).map_err(|_| stored("cut short"))?;
        let end = variables;
        let var = |p: BddPointer| bdd.var_of(p).to_index();
        let terminals_ok = bdd.size() == nodes
            && nodes >= 1
            && usize::from(bdd.num_vars()) == end
            && (0..nodes.min(2)).all(|i| {
                let p = BddPointer::from_index(i);
                let link = BddPointer::from_index(i);
                var(p) == end && bdd.low_link_of(p) == link && bdd.high_link_of(p) == link
            });
        let inner_ok = terminals_ok
            && (2..nodes).all(|i| {
                let p = BddPointer::from_index(i);
                let (low, high) = (bdd.low_link_of(p), bdd.high_link_of(p));
                let below = |c: BddPointer| c.to_index() < i && var(c) > var(p);
                var(p) < end && low != high && below(low) && below(high)
            });
        if inner_ok {
            Ok(bdd)
        } else {
            Err(stored("a constraint is not a well-formed diagram"))
        }
    }
}

#[cfg(test)]
mod tests {
    use quotecast_model::{ConfigOption, ConfigRule, ConfigRuleKind, OptionGroup};

    use super::*;
    use crate::{Choice, compile};

    fn model() -> ConfigModel {
        let option = |sku: &str, group: usize, max: u32| ConfigOption {
            sku: sku.into(),
            group,
            max_quantity: max,
            numbers: Default::default(),
            categories: Default::default(),
        };
        ConfigModel {
            sku: "BASE".into(),
            groups: vec![
                OptionGroup {
                    id: "cpu".into(),
                    name: "CPU".into(),
                    options: vec![0, 1],
                    min: 1,
                    max: 1,
                },
                OptionGroup {
                    id: "mem".into(),
                    name: "Memory".into(),
                    options: vec![2],
                    min: 0,
                    max: 5,
                },
            ],
            options: vec![
                option("CPU-A", 0, 1),
                option("CPU-B", 0, 1),
                option("MEM", 1, 5),
            ],
            provides: Default::default(),
            rules: vec![ConfigRule {
                id: "b-needs-mem".into(),
                description: "CPU-B needs two memory modules per CPU".into(),
                kind: ConfigRuleKind::PerUnit {
                    option: 1,
                    needs: 2,
                    quantity: 2,
                },
            }],
            defaults: Vec::new(),
            required: true,
        }
    }

    #[test]
    fn a_model_read_back_answers_every_click_as_compiled() {
        let compiled = compile(model()).unwrap();
        let bytes = compiled.to_bytes();
        let back = CompiledModel::from_bytes(model(), &bytes).unwrap();
        assert_eq!(back.size(), compiled.size());
        for choices in [
            vec![],
            vec![Choice {
                option: 1,
                quantity: 1,
            }],
            vec![
                Choice {
                    option: 2,
                    quantity: 1,
                },
                Choice {
                    option: 1,
                    quantity: 1,
                },
            ],
        ] {
            assert_eq!(
                back.configure(&choices, true).unwrap(),
                compiled.configure(&choices, true).unwrap()
            );
        }
    }

    #[test]
    fn bytes_cut_altered_or_for_another_model_are_refused() {
        let bytes = compile(model()).unwrap().to_bytes();
        for cut in 0..bytes.len() {
            assert!(
                CompiledModel::from_bytes(model(), &bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(CompiledModel::from_bytes(model(), &longer).is_err());
        // Every single-byte change either is refused or reads back a
        // well-formed model that answers clicks: never a panic.
        for at in 0..bytes.len() {
            let mut altered = bytes.clone();
            altered[at] ^= 0x5a;
            if let Ok(back) = CompiledModel::from_bytes(model(), &altered) {
                let _ = back.configure(&[], true);
                let _ = back.configure(
                    &[Choice {
                        option: 1,
                        quantity: 1,
                    }],
                    true,
                );
            }
        }
        let mut other = model();
        other.options.push(ConfigOption {
            sku: "DISK".into(),
            group: 1,
            max_quantity: 1,
            numbers: Default::default(),
            categories: Default::default(),
        });
        other.groups[1].options.push(3);
        assert!(CompiledModel::from_bytes(other, &bytes).is_err());
    }
}
