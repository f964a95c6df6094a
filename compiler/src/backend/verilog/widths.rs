//! The tensor types the reference architecture is built with.
//!
//! With the optimisations on, every signal has the exact type of the IR: the fewest bits
//! that hold every value the weights can produce (interval analysis). `--no-opt` turns
//! that off too. It sizes the weight layers the way hls4ml's automatic precision does
//! (`InferPrecisionTypes`, "never truncate, using only the bitwidths of the inputs (not
//! the values)"):
//! - the product of an input of type `ap_fixed<Wx,Ix>` and a weight of its declared type
//!   `ap_fixed<Ww,Iw>` has `Wx + Ww` bits, `Ix + Iw` of them integer bits;
//! - a sum of `n` products (the layer's fan-in, zero weights and padding included) has
//!   `ceil(log2 n)` more integer bits;
//! - a bias of type `ap_fixed<Wb,Ib>` gives `max(I, Ib) + 1` integer bits.
//!
//! `Relu`, `Reshape` and `Transpose` keep their operand's type; quantizers and every
//! other op keep the IR type (a quantizer declares its type). The graph output keeps the
//! IR type (the ports do not change), and so does every wiring op that leads to it.
//! A widened type is never narrower than the IR's, so every value still fits: the
//! design computes the same numbers with wider adders.

use aecc_ir::graph::NodeId;
use aecc_ir::{FixedType, Graph, Op, TensorInfo};
use std::collections::BTreeMap;

/// The widest type the reference architecture builds (the IR's own limit).
const MAX_WIDTH: u32 = aecc_ir::fixed::MAX_WIDTH;

/// The type of every node of `order` in the reference architecture: the IR's exact
/// types when `type_bound` is false, else the width rules of the module comment.
pub fn built_infos(
    graph: &Graph,
    order: &[NodeId],
    type_bound: bool,
) -> BTreeMap<NodeId, TensorInfo> {
    let mut infos: BTreeMap<NodeId, TensorInfo> = order
        .iter()
        .map(|&id| (id, graph.node(id).out.clone()))
        .collect();
    if !type_bound {
        return infos;
    }
    for &id in order {
        let node = graph.node(id);
        let operands = graph.operands(id);
        let Some(x) = operands.first().and_then(|o| infos.get(o)).cloned() else {
            continue;
        };
        let ir = &node.out;
        let ty = match &node.op {
            Op::Dense(d) => {
                let fan_in = d.weight.shape.first().copied().unwrap_or(1);
                Some(accumulator(&x.ty, &d.weight, d.bias.as_ref(), fan_in, ir))
            }
            Op::Conv(c) => {
                let fan_in = c.weight.shape.iter().skip(1).product();
                Some(accumulator(&x.ty, &c.weight, c.bias.as_ref(), fan_in, ir))
            }
            Op::Relu => Some(at_least(
                FixedType::exact(x.ty.width, ir.ty.frac, x.ty.signed),
                &ir.ty,
            )),
            Op::Reshape { .. } | Op::Transpose { .. } => Some(x.ty),
            _ => None,
        };
        if let Some(ty) = ty {
            infos.get_mut(&id).expect("every node of order").ty = ty;
        }
    }
    // The output keeps its IR type, and so does the chain of wiring ops that feeds it
    // (a wiring op's signal is its operand's).
    for (_, output) in graph.outputs() {
        let mut id = *output;
        loop {
            if let Some(info) = infos.get_mut(&id) {
                info.ty = graph.node(id).out.ty;
            }
            match graph.node(id).op {
                Op::Reshape { .. } | Op::Transpose { .. } => id = graph.operands(id)[0],
                _ => break,
            }
        }
    }
    infos
}

/// hls4ml's accumulator type for `fan_in` products of `x` and the declared type of
/// `weight`, plus `bias`, on the IR output's grid and never narrower than `ir`.
fn accumulator(
    x: &FixedType,
    weight: &aecc_ir::ConstTensor,
    bias: Option<&aecc_ir::ConstTensor>,
    fan_in: usize,
    ir: &TensorInfo,
) -> FixedType {
    let w = declared_type(weight);
    let log2 = ceil_log2(fan_in) as i32;
    let mut int_bits = x.int_bits() + w.int_bits() + log2;
    let mut signed = x.signed || w.signed;
    if let Some(b) = bias.filter(|b| b.data.iter().any(|&v| v != 0)) {
        let b = declared_type(b);
        int_bits = int_bits.max(b.int_bits()) + 1;
        signed |= b.signed;
    }
    let width = (int_bits + ir.ty.frac).clamp(1, MAX_WIDTH as i32) as u32;
    at_least(FixedType::exact(width, ir.ty.frac, signed), &ir.ty)
}

/// The type of a constant's quantizer (its data's type when it has none).
fn declared_type(c: &aecc_ir::ConstTensor) -> FixedType {
    FixedType::for_interval(c.storage_interval(), c.frac)
}

/// `ty`, widened where needed so that it holds every value of the exact type `ir`.
fn at_least(ty: FixedType, ir: &FixedType) -> FixedType {
    let signed = ty.signed || ir.signed;
    let need = ir.width + u32::from(signed && !ir.signed);
    FixedType::exact(ty.width.max(need).min(MAX_WIDTH.max(need)), ir.frac, signed)
}

fn ceil_log2(n: usize) -> u32 {
    n.max(1).next_power_of_two().trailing_zeros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceil_log2_of_fan_ins() {
        let got: Vec<u32> = [1, 2, 3, 4, 5, 9, 128, 129].map(ceil_log2).to_vec();
        assert_eq!(got, vec![0, 1, 2, 2, 3, 4, 7, 8]);
    }

    #[test]
    fn widened_types_hold_the_exact_type() {
        // u20 needs a 21-bit signed type
        let ir = FixedType::exact(20, 13, false);
        let t = at_least(FixedType::exact(20, 13, true), &ir);
        assert_eq!((t.width, t.signed), (21, true));
        let t = at_least(FixedType::exact(24, 13, true), &ir);
        assert_eq!((t.width, t.signed), (24, true));
        let t = at_least(FixedType::exact(8, 13, false), &ir);
        assert_eq!((t.width, t.signed), (20, false));
    }
}
