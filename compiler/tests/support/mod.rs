//! Test support: a small builder for ONNX models made of aecc's prost messages, and a
//! minimal integer evaluator of the IR used to check imports against reference outputs.
#![allow(dead_code)]

use aecc::ir::{Graph, NodeId, Op};
use std::collections::HashMap;

#[allow(unused_imports)]
pub use aecc::onnx::builder::*;

// -----------------------------------------------------------------------------------------
// A minimal evaluator of the IR (the reference lives in runtime-sim; this one only checks
// that imports compute what the ONNX model computes).
// -----------------------------------------------------------------------------------------

/// Runs the graph on one sample of real-valued inputs (one slice per graph input, in
/// graph-input order). Returns each output as real values (`int * 2^-frac`, exact).
pub fn eval_real(graph: &Graph, inputs: &[&[f64]]) -> Vec<Vec<f64>> {
    let mut vals: HashMap<NodeId, Vec<i128>> = HashMap::new();
    for (k, &id) in graph.inputs().iter().enumerate() {
        let n = graph.node(id);
        let Op::Input {
            from_float: Some(q),
        } = &n.op
        else {
            panic!("input without quantizer")
        };
        let v = inputs[k]
            .iter()
            .enumerate()
            .map(|(i, &x)| q.quantize_f64(x, q.channel_of(i, &n.out.shape)).unwrap())
            .collect();
        vals.insert(id, v);
    }
    for id in graph.compute_nodes().unwrap() {
        let n = graph.node(id);
        let ops = graph.operands(id);
        let x = &vals[&ops[0]];
        let xin = &graph.node(ops[0]).out;
        let y: Vec<i128> = match &n.op {
            Op::Quantize(q) => x
                .iter()
                .enumerate()
                .map(|(i, &v)| q.quantize_int(v, xin.ty.frac, q.channel_of(i, &xin.shape)))
                .collect(),
            Op::Relu => x.iter().map(|&v| v.max(0)).collect(),
            Op::Dense(_) | Op::Conv(_) => {
                let xs: Vec<i64> = x.iter().map(|&v| v as i64).collect();
                n.op.linear_map(xin).unwrap().eval(&xs)
            }
            Op::Add => {
                let b = &vals[&ops[1]];
                let bin = &graph.node(ops[1]).out;
                let f = n.out.ty.frac;
                x.iter()
                    .zip(b)
                    .map(|(&p, &q)| (p << (f - xin.ty.frac)) + (q << (f - bin.ty.frac)))
                    .collect()
            }
            Op::Reshape { .. } => x.clone(),
            Op::Transpose { perm } => {
                let shape = &xin.shape;
                let mut strides = vec![1usize; shape.len()];
                for i in (0..shape.len().saturating_sub(1)).rev() {
                    strides[i] = strides[i + 1] * shape[i + 1];
                }
                let out_shape = &n.out.shape;
                let mut out = Vec::with_capacity(x.len());
                let mut pos = vec![0usize; out_shape.len()];
                for _ in 0..x.len() {
                    let src: usize = pos.iter().zip(perm).map(|(&p, &a)| p * strides[a]).sum();
                    out.push(x[src]);
                    for a in (0..pos.len()).rev() {
                        pos[a] += 1;
                        if pos[a] < out_shape[a] {
                            break;
                        }
                        pos[a] = 0;
                    }
                }
                out
            }
            Op::Input { .. } => unreachable!(),
        };
        for &v in &y {
            assert!(n.out.interval.contains(v), "{} out of its interval", n.name);
        }
        vals.insert(id, y);
    }
    graph
        .outputs()
        .iter()
        .map(|(_, id)| {
            let t = &graph.node(*id).out;
            vals[id].iter().map(|&v| t.ty.to_f64(v)).collect()
        })
        .collect()
}
