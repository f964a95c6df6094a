//! Exports a model's IR as plain JSON for external tools (the da4ml run of
//! `benches/qor.sh`): the input type, then every live node in order with its integer
//! weights, bias, grids and quantizer parameters.
//!
//! `cargo run --release --example export_layers -- models/econt/model.onnx > econt.json`

use aecc::ir::{Op, Rounding};
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: export_layers MODEL.onnx");
    let (graph, _) = aecc::pipeline::lower(std::path::Path::new(&path), None).unwrap();
    let output = graph.outputs()[0].1;
    let mut live = BTreeSet::new();
    let mut stack = vec![output];
    while let Some(n) = stack.pop() {
        if live.insert(n) {
            stack.extend(graph.operands(n));
        }
    }
    let mut nodes: Vec<Value> = Vec::new();
    for id in graph.topo_order().unwrap() {
        if !live.contains(&id) {
            continue;
        }
        let n = graph.node(id);
        let operands: Vec<String> = graph
            .operands(id)
            .iter()
            .map(|&o| graph.node(o).name.clone())
            .collect();
        let t = &n.out;
        let mut v = json!({
            "name": n.name,
            "operands": operands,
            "shape": t.shape,
            "type": {"width": t.ty.width, "frac": t.ty.frac, "signed": t.ty.signed},
            "interval": [t.interval.lo.to_string(), t.interval.hi.to_string()],
        });
        let obj = v.as_object_mut().unwrap();
        match &n.op {
            Op::Input { .. } => {
                obj.insert("op".into(), json!("input"));
            }
            Op::Relu => {
                obj.insert("op".into(), json!("relu"));
            }
            Op::Reshape { .. } => {
                obj.insert("op".into(), json!("reshape"));
            }
            Op::Quantize(q) => {
                assert!(q.is_pow2() && q.channels.len() == 1, "per-tensor pow2 only");
                obj.insert("op".into(), json!("quantize"));
                obj.insert(
                    "quantizer".into(),
                    json!({
                        "bit_width": q.bit_width,
                        "frac": q.out_frac(),
                        "signed": q.signed,
                        "narrow": q.narrow,
                        "zero_point": q.channels[0].zero_point,
                        "rounding": match q.rounding {
                            Rounding::HalfEven => "half_even",
                            Rounding::HalfAwayFromZero => "half_away",
                            Rounding::Floor => "floor",
                            _ => "other",
                        },
                        "saturate": q.overflow == aecc::ir::Overflow::Saturate,
                    }),
                );
            }
            Op::Dense(_) | Op::Conv(_) => {
                let x = &graph.node(graph.operands(id)[0]).out;
                let map = n.op.linear_map(x).unwrap();
                // real weight of term (i, w): w * 2^-(acc_frac - product_shift - x_frac)
                let weight_frac = map.grid.frac - map.grid.product_shift as i32 - x.ty.frac;
                let bias_frac = map.grid.frac - map.grid.bias_shift as i32;
                obj.insert("op".into(), json!("linear"));
                obj.insert("in_len".into(), json!(map.in_len));
                obj.insert("weight_frac".into(), json!(weight_frac));
                obj.insert("bias_frac".into(), json!(bias_frac));
                let rows: Vec<Value> = map
                    .rows
                    .iter()
                    .map(|r| json!({"terms": r.terms, "bias": r.bias}))
                    .collect();
                obj.insert("rows".into(), json!(rows));
            }
            other => panic!("export_layers does not handle {}", other.name()),
        }
        nodes.push(v);
    }
    println!(
        "{}",
        serde_json::to_string(&json!({
            "graph": graph.name,
            "output": graph.node(output).name,
            "nodes": nodes,
        }))
        .unwrap()
    );
}
