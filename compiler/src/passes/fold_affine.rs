//! Simplifies per-channel affine maps (`Affine`), exactly:
//! - removes an `Affine` that changes nothing (multipliers 1, offsets 0, same grid);
//! - merges an `Affine` into the `Affine` before it when nothing else reads that one
//!   (`(x * m1 + a1) * m2 + a2 = x * m1 m2 + (a1 m2 + a2)`);
//! - folds an `Affine` whose multipliers are all powers of two into the Dense/Conv
//!   before it when nothing else reads it: the weights of output channel `c` times
//!   `mul[c]` (a shift: free in shift-and-add hardware), the bias times `mul[c]` plus
//!   `add[c]`. (Other multipliers stay a separate multiplication per element: folding
//!   a 24-bit batch-norm factor into every weight costs far more.)

use super::PassOutcome;
use aecc_ir::{Affine, ConstTensor, Graph, Interval, IrError, NodeId, Op, TensorInfo};

fn per_channel(a: &Affine, n: usize) -> (Vec<i64>, Vec<i64>) {
    let pick = |v: &[i64], c: usize| if v.len() == 1 { v[0] } else { v[c] };
    (
        (0..n).map(|c| pick(&a.mul, c)).collect(),
        (0..n).map(|c| pick(&a.add, c)).collect(),
    )
}

/// `outer(inner(x))` as one map, when both vary along the same axis (or not at all).
fn compose(inner: &Affine, outer: &Affine) -> Option<Affine> {
    let axis = match (inner.axis, outer.axis) {
        (None, a) | (a, None) => a,
        (Some(a), Some(b)) if a == b => Some(a),
        _ => return None,
    };
    let n = inner.mul.len().max(outer.mul.len());
    let (m1, a1) = per_channel(inner, n);
    let (m2, a2) = per_channel(outer, n);
    let mut mul = Vec::with_capacity(n);
    let mut add = Vec::with_capacity(n);
    for c in 0..n {
        mul.push(m1[c].checked_mul(m2[c])?);
        add.push(a1[c].checked_mul(m2[c])?.checked_add(a2[c])?);
    }
    Some(Affine {
        axis: if n == 1 { None } else { axis },
        mul,
        add,
        out_frac: outer.out_frac,
        out_unit: outer.out_unit,
    })
}

/// A Dense/Conv computing `affine(layer(x))`, when every multiplier is a power of two
/// (or zero) and the layer's bias is on its product grid.
fn fold_into_layer(layer: &Op, x: &TensorInfo, a: &Affine) -> Option<Op> {
    if a.mul
        .iter()
        .any(|&m| m != 0 && !m.unsigned_abs().is_power_of_two())
    {
        return None;
    }
    let (weight, bias) = match layer {
        Op::Dense(d) => (&d.weight, &d.bias),
        Op::Conv(c) => (&c.weight, &c.bias),
        _ => return None,
    };
    let grid = aecc_ir::AccumulatorGrid::new(x.ty.frac, weight, bias.as_ref());
    if grid.product_shift != 0 {
        return None;
    }
    // output channel of each weight and the number of output channels
    let (channels, channel_of): (usize, Box<dyn Fn(usize) -> usize>) = match layer {
        Op::Dense(_) => {
            let m = weight.shape[1];
            (m, Box::new(move |i| i % m))
        }
        _ => {
            let per = weight.data.len() / weight.shape[0];
            (weight.shape[0], Box::new(move |i| i / per))
        }
    };
    // the affine's channels must be the layer's output channels (or one value)
    let axis_ok = match (layer, a.axis) {
        (_, None) => true,
        (Op::Dense(_), Some(ax)) => a.mul.len() == channels && ax + 1 == x.shape.len(),
        (_, Some(ax)) => ax == 1 && a.mul.len() == channels,
    };
    if !axis_ok {
        return None;
    }
    let (mul, add) = per_channel(a, channels);
    let data = weight
        .data
        .iter()
        .enumerate()
        .map(|(i, &w)| w.checked_mul(mul[channel_of(i)]))
        .collect::<Option<Vec<i64>>>()?;
    // the new weights are on the grid that puts the products on the affine's output
    let w_unit = a.out_unit.checked_div(x.unit)?;
    let w_frac = a.out_frac - x.ty.frac;
    // a declared range (reconfigurable weights) becomes every code times every multiplier
    let declared = |d: Option<Interval>, shift: u32, add: &[i64]| -> Option<Interval> {
        let d = d?.checked_shl(shift)?;
        let mut out: Option<Interval> = None;
        for c in 0..channels {
            let i = d
                .checked_scale(mul[c] as i128)?
                .checked_add(Interval::point(add[c] as i128))?;
            out = Some(out.map_or(i, |o| o.hull(i)));
        }
        out.filter(|i| i.fits_i64())
    };
    let new_weight = ConstTensor::new(weight.shape.clone(), data, w_frac)
        .with_unit(w_unit)
        .with_declared(declared(weight.declared, 0, &vec![0; channels]));
    // the bias on the accumulator grid (the products' grid: product_shift is 0)
    let new_bias = (0..channels)
        .map(|c| {
            let b = bias.as_ref().map_or(0, |b| b.data[c] << grid.bias_shift);
            b.checked_mul(mul[c])?.checked_add(add[c])
        })
        .collect::<Option<Vec<i64>>>()?;
    let bias_declared = declared(
        bias.as_ref().and_then(|b| b.declared),
        grid.bias_shift,
        &add,
    );
    let new_bias = Some(
        ConstTensor::new(vec![channels], new_bias, w_frac + x.ty.frac)
            .with_unit(x.unit.checked_mul(w_unit)?)
            .with_declared(bias_declared),
    );
    Some(match layer {
        Op::Dense(_) => Op::Dense(aecc_ir::Dense {
            weight: new_weight,
            bias: new_bias,
        }),
        Op::Conv(c) => Op::Conv(aecc_ir::Conv {
            weight: new_weight,
            bias: new_bias,
            ..c.clone()
        }),
        _ => unreachable!(),
    })
}

fn is_identity(a: &Affine, x: &TensorInfo) -> bool {
    a.mul.iter().all(|&m| m == 1)
        && a.add.iter().all(|&k| k == 0)
        && a.out_frac == x.ty.frac
        && a.out_unit == x.unit
}

fn single_user(graph: &Graph, id: NodeId) -> bool {
    graph.users(id).len() == 1 && !graph.outputs().iter().any(|(_, o)| *o == id)
}

pub fn run(graph: &mut Graph) -> Result<PassOutcome, IrError> {
    let mut changed = 0;
    for id in graph.topo_order()? {
        if graph.node_ids().iter().all(|&n| n != id) {
            continue;
        }
        let Op::Affine(a) = graph.node(id).op.clone() else {
            continue;
        };
        let src = graph.operands(id)[0];
        let x = graph.node(src).out.clone();
        if is_identity(&a, &x) && !graph.inputs().contains(&src) {
            graph.replace_uses(id, src);
            changed += 1;
            continue;
        }
        if !single_user(graph, src) || graph.inputs().contains(&src) {
            continue;
        }
        let replacement = match &graph.node(src).op {
            Op::Affine(inner) => compose(inner, &a).map(Op::Affine),
            layer @ (Op::Dense(_) | Op::Conv(_)) => {
                let layer_in = graph.node(graph.operands(src)[0]).out.clone();
                fold_into_layer(layer, &layer_in, &a)
            }
            _ => None,
        };
        let Some(op) = replacement else {
            continue;
        };
        let inner_in = graph.operands(src)[0];
        let name = graph.node(id).name.clone();
        let origin = format!("{} + {}", graph.node(src).origin, graph.node(id).origin);
        let Ok(new) = graph.add_node(format!("{name}.folded"), op, &[inner_in], origin) else {
            continue; // the merged op does not infer (too wide): keep both
        };
        if graph.node(new).out.unit != graph.node(id).out.unit
            || graph.node(new).out.ty.frac != graph.node(id).out.ty.frac
        {
            graph.remove_node(new);
            continue;
        }
        graph.replace_uses(id, new);
        changed += 1;
    }
    graph.remove_dead_nodes();
    Ok(PassOutcome { changed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecc_ir::{Quantizer, Rounding, Unit};

    fn affine(mul: Vec<i64>, add: Vec<i64>, frac: i32) -> Op {
        Op::Affine(Affine {
            axis: if mul.len() > 1 { Some(1) } else { None },
            mul,
            add,
            out_frac: frac,
            out_unit: Unit::ONE,
        })
    }

    #[test]
    fn chains_merge_and_identities_vanish() {
        let mut g = Graph::new("t");
        let q = Quantizer::pow2(8, 2, true, Rounding::HalfEven);
        let x = g.add_input("x", vec![1, 2], q.out_type(), None);
        let a = g
            .add_node("a", affine(vec![3, -1], vec![1, 0], 2), &[x], "a")
            .unwrap();
        let b = g
            .add_node("b", affine(vec![2], vec![-5], 3), &[a], "b")
            .unwrap();
        let c = g
            .add_node("c", affine(vec![1], vec![0], 3), &[b], "c")
            .unwrap();
        g.add_output("y", c);
        let sim_before = aecc_sim::Simulator::new(&g).unwrap();
        let want: Vec<Vec<i64>> = [[-7, 9], [100, -128]]
            .iter()
            .map(|v| sim_before.run_one(v).unwrap())
            .collect();
        run(&mut g).unwrap();
        aecc_ir::verify::verify(&g).unwrap();
        assert_eq!(g.node_count(), 2, "{}", aecc_ir::printer::print(&g));
        let sim = aecc_sim::Simulator::new(&g).unwrap();
        for (v, w) in [[-7, 9], [100, -128]].iter().zip(&want) {
            assert_eq!(&sim.run_one(v).unwrap(), w);
        }
        // (x * 3 + 1) * 2 - 5 = 6x - 3 for channel 0
        let Op::Affine(m) = &g.node(g.outputs()[0].1).op else {
            panic!()
        };
        assert_eq!((m.mul.clone(), m.add.clone()), (vec![6, -2], vec![-3, -5]));
    }

    #[test]
    fn power_of_two_scales_fold_into_a_dense() {
        let mut g = Graph::new("t");
        let q = Quantizer::pow2(8, 2, true, Rounding::HalfEven);
        let x = g.add_input("x", vec![1, 3], q.out_type(), None);
        let d = aecc_ir::Dense {
            weight: ConstTensor::new(vec![3, 2], vec![1, -2, 3, 4, -5, 6], 1),
            bias: Some(ConstTensor::new(vec![2], vec![7, -8], 3)),
        };
        let d = g.add_node("d", Op::Dense(d), &[x], "d").unwrap();
        let a = g
            .add_node("a", affine(vec![4, -2], vec![1, 3], 3), &[d], "a")
            .unwrap();
        g.add_output("y", a);
        let before = aecc_sim::Simulator::new(&g).unwrap();
        let vectors = [[1, 2, 3], [-128, 127, 5], [0, 0, 0]];
        let want: Vec<Vec<i64>> = vectors.iter().map(|v| before.run_one(v).unwrap()).collect();
        assert_eq!(run(&mut g).unwrap().changed, 1);
        let Op::Dense(folded) = &g.node(g.outputs()[0].1).op else {
            panic!("not folded")
        };
        // no declared ranges before, none after
        assert_eq!(folded.weight.declared, None);
        let sim = aecc_sim::Simulator::new(&g).unwrap();
        for (v, w) in vectors.iter().zip(&want) {
            assert_eq!(&sim.run_one(v).unwrap(), w);
        }
    }

    #[test]
    fn declared_ranges_follow_the_folded_multipliers() {
        let mut g = Graph::new("t");
        let q = Quantizer::pow2(8, 2, true, Rounding::HalfEven);
        let x = g.add_input("x", vec![1, 3], q.out_type(), None);
        let d = aecc_ir::Dense {
            weight: ConstTensor::new(vec![3, 2], vec![1, -2, 3, 4, -5, 6], 1)
                .with_declared(Some(Interval::new(-8, 7))),
            bias: Some(
                ConstTensor::new(vec![2], vec![7, -8], 3)
                    .with_declared(Some(Interval::new(-16, 15))),
            ),
        };
        let d = g.add_node("d", Op::Dense(d), &[x], "d").unwrap();
        let a = g
            .add_node("a", affine(vec![4, -2], vec![1, 3], 3), &[d], "a")
            .unwrap();
        g.add_output("y", a);
        assert_eq!(run(&mut g).unwrap().changed, 1);
        let Op::Dense(folded) = &g.node(g.outputs()[0].1).op else {
            panic!("not folded")
        };
        // weights: [-8, 7] times 4 and times -2
        assert_eq!(folded.weight.declared, Some(Interval::new(-32, 28)));
        // bias (already on the product grid 2^-3): [-16, 15] * 4 + 1 and * -2 + 3
        assert_eq!(
            folded.bias.as_ref().unwrap().declared,
            Some(Interval::new(-63, 61))
        );
        for t in [&folded.weight, folded.bias.as_ref().unwrap()] {
            assert!(t
                .data
                .iter()
                .all(|&v| t.declared.unwrap().contains(v as i128)));
        }
    }
}
