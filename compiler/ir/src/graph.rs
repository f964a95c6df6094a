//! The dataflow graph: nodes are ops with the typed tensor they produce, edges carry
//! operand positions.

use crate::error::IrError;
use crate::fixed::{FixedType, Unit};
use crate::ops::{Op, TensorInfo};
use crate::quant::Quantizer;
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

pub type NodeId = NodeIndex;

/// One node: an op and the tensor it produces.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Unique name (the ONNX output tensor name where there is one).
    pub name: String,
    pub op: Op,
    pub out: TensorInfo,
    /// The ONNX node(s) this came from, for messages and reports (e.g. `conv1 (Conv)`).
    pub origin: String,
}

/// The fixed-point dataflow graph of one model.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub name: String,
    dag: StableDiGraph<Node, usize>,
    inputs: Vec<NodeId>,
    outputs: Vec<(String, NodeId)>,
}

impl Graph {
    pub fn new(name: impl Into<String>) -> Graph {
        Graph {
            name: name.into(),
            ..Graph::default()
        }
    }

    /// Adds a graph input of the given shape on the grid of `ty`. Its interval is the
    /// output interval of `from_float` (the quantizer that maps real data onto it) when
    /// there is one, else the full range of `ty`.
    pub fn add_input(
        &mut self,
        name: impl Into<String>,
        shape: Vec<usize>,
        ty: FixedType,
        from_float: Option<Quantizer>,
    ) -> NodeId {
        let name = name.into();
        let out = TensorInfo {
            shape,
            ty,
            interval: ty.range(),
            unit: from_float.as_ref().map_or(Unit::ONE, |q| q.out_unit()),
        };
        let id = self.dag.add_node(Node {
            origin: name.clone(),
            name,
            op: Op::Input { from_float },
            out,
        });
        self.inputs.push(id);
        id
    }

    /// Adds an op on the given operands; infers its output tensor.
    pub fn add_node(
        &mut self,
        name: impl Into<String>,
        op: Op,
        operands: &[NodeId],
        origin: impl Into<String>,
    ) -> Result<NodeId, IrError> {
        let name = name.into();
        let origin = origin.into();
        let infos: Vec<&TensorInfo> = operands.iter().map(|&o| &self.dag[o].out).collect();
        let out = op.infer(&infos).map_err(|message| IrError::Op {
            node: origin.clone(),
            op: op.name(),
            message,
        })?;
        let id = self.dag.add_node(Node {
            name,
            op,
            out,
            origin,
        });
        for (pos, &o) in operands.iter().enumerate() {
            self.dag.add_edge(o, id, pos);
        }
        Ok(id)
    }

    /// Marks `id` as a graph output named `name`.
    pub fn add_output(&mut self, name: impl Into<String>, id: NodeId) {
        self.outputs.push((name.into(), id));
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.dag[id]
    }

    pub fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.dag[id]
    }

    pub fn inputs(&self) -> &[NodeId] {
        &self.inputs
    }

    pub fn outputs(&self) -> &[(String, NodeId)] {
        &self.outputs
    }

    pub fn node_count(&self) -> usize {
        self.dag.node_count()
    }

    /// All node ids, in insertion order.
    pub fn node_ids(&self) -> Vec<NodeId> {
        self.dag.node_indices().collect()
    }

    /// Operands of `id`, in operand order.
    pub fn operands(&self, id: NodeId) -> Vec<NodeId> {
        let mut edges: Vec<(usize, NodeId)> = self
            .dag
            .edges_directed(id, Direction::Incoming)
            .map(|e| (*e.weight(), e.source()))
            .collect();
        edges.sort();
        edges.into_iter().map(|(_, s)| s).collect()
    }

    /// Nodes that use `id` (deterministic order).
    pub fn users(&self, id: NodeId) -> Vec<NodeId> {
        let mut u: Vec<NodeId> = self
            .dag
            .neighbors_directed(id, Direction::Outgoing)
            .collect();
        u.sort();
        u.dedup();
        u
    }

    /// Nodes in an order where every operand comes before its users.
    pub fn topo_order(&self) -> Result<Vec<NodeId>, IrError> {
        petgraph::algo::toposort(&self.dag, None).map_err(|c| IrError::Cycle {
            node: self.dag[c.node_id()].name.clone(),
        })
    }

    /// Re-runs type inference over the whole graph (after a pass changed ops).
    pub fn reinfer(&mut self) -> Result<(), IrError> {
        for id in self.topo_order()? {
            if matches!(self.dag[id].op, Op::Input { .. }) {
                continue;
            }
            let operands = self.operands(id);
            let infos: Vec<&TensorInfo> = operands.iter().map(|&o| &self.dag[o].out).collect();
            let node = &self.dag[id];
            let out = node.op.infer(&infos).map_err(|message| IrError::Op {
                node: node.origin.clone(),
                op: node.op.name(),
                message,
            })?;
            self.dag[id].out = out;
        }
        Ok(())
    }

    /// Makes every user of `old` (and any graph output naming it) use `new` instead.
    pub fn replace_uses(&mut self, old: NodeId, new: NodeId) {
        let edges: Vec<(NodeId, usize)> = self
            .dag
            .edges_directed(old, Direction::Outgoing)
            .map(|e| (e.target(), *e.weight()))
            .collect();
        let ids: Vec<_> = self
            .dag
            .edges_directed(old, Direction::Outgoing)
            .map(|e| e.id())
            .collect();
        for e in ids {
            self.dag.remove_edge(e);
        }
        for (target, pos) in edges {
            self.dag.add_edge(new, target, pos);
        }
        for (_, o) in &mut self.outputs {
            if *o == old {
                *o = new;
            }
        }
    }

    /// Removes a node and its edges. Graph inputs cannot be removed.
    pub fn remove_node(&mut self, id: NodeId) {
        debug_assert!(!self.inputs.contains(&id));
        self.dag.remove_node(id);
    }

    /// Removes every node that no graph output depends on. Returns how many.
    pub fn remove_dead_nodes(&mut self) -> usize {
        let mut live = std::collections::HashSet::new();
        let mut stack: Vec<NodeId> = self.outputs.iter().map(|(_, o)| *o).collect();
        stack.extend(self.inputs.iter().copied());
        while let Some(n) = stack.pop() {
            if live.insert(n) {
                stack.extend(self.dag.neighbors_directed(n, Direction::Incoming));
            }
        }
        let dead: Vec<NodeId> = self
            .dag
            .node_indices()
            .filter(|n| !live.contains(n))
            .collect();
        for &d in &dead {
            self.dag.remove_node(d);
        }
        dead.len()
    }

    /// The nodes some graph output depends on, in topological order.
    pub fn live_order(&self) -> Result<Vec<NodeId>, IrError> {
        let mut live = std::collections::HashSet::new();
        let mut stack: Vec<NodeId> = self.outputs.iter().map(|(_, o)| *o).collect();
        while let Some(n) = stack.pop() {
            if live.insert(n) {
                stack.extend(self.dag.neighbors_directed(n, Direction::Incoming));
            }
        }
        Ok(self
            .topo_order()?
            .into_iter()
            .filter(|n| live.contains(n))
            .collect())
    }

    /// The nodes that compute something (everything but inputs), in topological order.
    pub fn compute_nodes(&self) -> Result<Vec<NodeId>, IrError> {
        Ok(self
            .topo_order()?
            .into_iter()
            .filter(|&n| !matches!(self.dag[n].op, Op::Input { .. }))
            .collect())
    }
}
