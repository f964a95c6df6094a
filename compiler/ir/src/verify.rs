//! The IR verifier: checks the invariants every pass must keep. A failure is a
//! compiler bug, not a user error.

use crate::error::IrError;
use crate::fixed::MAX_WIDTH;
use crate::graph::Graph;
use crate::ops::{Op, TensorInfo};
use std::collections::HashSet;

pub fn verify(graph: &Graph) -> Result<(), IrError> {
    let fail = |m: String| Err(IrError::Verify(m));
    let order = graph.topo_order()?;
    if graph.outputs().is_empty() {
        return fail("the graph has no outputs".into());
    }
    let mut names = HashSet::new();
    for &id in &order {
        let n = graph.node(id);
        if !names.insert(n.name.as_str()) {
            return fail(format!("two nodes are named {}", n.name));
        }
        let operands = graph.operands(id);
        if operands.len() != n.op.arity() {
            return fail(format!(
                "node {} ({}) has {} operands, expects {}",
                n.name,
                n.op.name(),
                operands.len(),
                n.op.arity()
            ));
        }
        let t = &n.out;
        if t.ty.width == 0 || t.ty.width > MAX_WIDTH {
            return fail(format!("node {} has width {}", n.name, t.ty.width));
        }
        if t.interval.lo > t.interval.hi
            || !t.ty.contains(t.interval.lo)
            || !t.ty.contains(t.interval.hi)
            || !t.interval.fits_i64()
        {
            return fail(format!(
                "node {}: interval {} does not fit type {}",
                n.name, t.interval, t.ty
            ));
        }
        if let Op::Input { from_float } = &n.op {
            if !graph.inputs().contains(&id) {
                return fail(format!("input node {} is not a graph input", n.name));
            }
            if t.shape.contains(&0) || crate::ops::checked_len(&t.shape).is_none() {
                return fail(format!("input {} has the shape {:?}", n.name, t.shape));
            }
            if let Some(q) = from_float {
                q.check()
                    .map_err(|m| IrError::Verify(format!("input {}: {m}", n.name)))?;
                if let Some(axis) = q.axis {
                    if t.shape.get(axis) != Some(&q.channels.len()) {
                        return fail(format!(
                            "input {}: quantizer with {} channels on axis {axis} does not fit \
                             shape {:?}",
                            n.name,
                            q.channels.len(),
                            t.shape
                        ));
                    }
                }
            }
            continue;
        }
        let infos: Vec<&TensorInfo> = operands.iter().map(|&o| &graph.node(o).out).collect();
        match n.op.infer(&infos) {
            Ok(expected) if &expected == t => {}
            Ok(expected) => {
                return fail(format!(
                    "node {}: stored tensor {:?} {} {} differs from inferred {:?} {} {}",
                    n.name,
                    t.shape,
                    t.ty,
                    t.interval,
                    expected.shape,
                    expected.ty,
                    expected.interval
                ))
            }
            Err(m) => return fail(format!("node {}: {}", n.name, m)),
        }
    }
    Ok(())
}
