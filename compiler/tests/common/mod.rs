//! Shared pieces of the Verilog backend tests: hand-built IR graphs with seeded random
//! weights, random input vectors on the input grid, a reference evaluator and the
//! co-simulation check against the reference model (`aecc_sim`).
#![allow(dead_code)]

use aecc::backend::verilog::{emit, VerilogOptions};
use aecc::ir::{
    ConstTensor, Conv, Dense, FixedType, Graph, NodeId, Op, Overflow, Quantizer, Rounding,
};
use aecc_testbench::{compare_outputs, iverilog_check, lint, yosys_elaborate, Cosim, RtlDesign};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;

pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/cosim-cache")
}

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// `n` random integers in `[lo, hi]`, about a fifth of them zero.
pub fn weights(rng: &mut ChaCha8Rng, n: usize, lo: i64, hi: i64) -> Vec<i64> {
    (0..n)
        .map(|_| {
            if rng.random_ratio(1, 5) {
                0
            } else {
                rng.random_range(lo..=hi)
            }
        })
        .collect()
}

pub fn quant_type(width: u32, frac: i32, signed: bool) -> FixedType {
    FixedType {
        rounding: Rounding::HalfEven,
        overflow: Overflow::Saturate,
        ..FixedType::exact(width, frac, signed)
    }
}

/// Shaped like the ECON-T encoder: input 1x1x8x8 s10.7; conv 8 filters 3x3, stride 2,
/// asymmetric ('same') pads, 6-bit weights; quantize s11.8; relu; flatten; dense 16;
/// quantize u9.8.
pub fn econt_like(seed: u64) -> Graph {
    let mut r = rng(seed);
    let mut g = Graph::new("econt_like");
    let x = g.add_input(
        "input",
        vec![1, 1, 8, 8],
        quant_type(10, 7, true),
        Some(Quantizer::pow2(10, 7, true, Rounding::HalfEven)),
    );
    let conv = Conv {
        weight: ConstTensor::new(vec![8, 1, 3, 3], weights(&mut r, 72, -32, 31), 5),
        bias: Some(ConstTensor::new(vec![8], weights(&mut r, 8, -200, 200), 9)),
        strides: [2, 2],
        pads: [0, 0, 1, 1],
        dilations: [1, 1],
        group: 1,
    };
    let c = g
        .add_node("conv1_out", Op::Conv(conv), &[x], "conv1 (Conv)")
        .unwrap();
    let q1 = g
        .add_node(
            "conv1_q",
            Op::Quantize(Quantizer::pow2(11, 8, true, Rounding::HalfEven)),
            &[c],
            "conv1_act (Quant)",
        )
        .unwrap();
    let r1 = g
        .add_node("conv1_relu", Op::Relu, &[q1], "relu1 (Relu)")
        .unwrap();
    let f = g
        .add_node(
            "flatten",
            Op::Reshape {
                shape: vec![1, 128],
            },
            &[r1],
            "flatten (Flatten)",
        )
        .unwrap();
    let dense = Dense {
        weight: ConstTensor::new(vec![128, 16], weights(&mut r, 128 * 16, -32, 31), 5),
        bias: Some(ConstTensor::new(vec![16], weights(&mut r, 16, -64, 64), 6)),
    };
    let d = g
        .add_node("dense1_out", Op::Dense(dense), &[f], "dense1 (Gemm)")
        .unwrap();
    let mut q2 = Quantizer::pow2(9, 8, false, Rounding::HalfAwayFromZero);
    q2.narrow = false;
    let out = g
        .add_node("latent", Op::Quantize(q2), &[d], "latent_q (Quant)")
        .unwrap();
    g.add_output("latent", out);
    g
}

/// A dense 64 -> 32 -> 16 -> 8 stack with different rounding and overflow modes.
pub fn dense_stack(seed: u64) -> Graph {
    let mut r = rng(seed);
    let mut g = Graph::new("dense_stack");
    let mut at: NodeId = g.add_input("x", vec![1, 64], quant_type(8, 6, true), None);
    let layers: [(usize, usize, Quantizer); 3] = [
        (64, 32, Quantizer::pow2(8, 4, true, Rounding::TowardZero)),
        (32, 16, {
            let mut q = Quantizer::pow2(7, 3, false, Rounding::Floor);
            q.overflow = Overflow::Wrap;
            q
        }),
        (16, 8, {
            let mut q = Quantizer::pow2(12, 8, true, Rounding::HalfEven);
            q.narrow = true;
            q
        }),
    ];
    for (k, (n_in, n_out, q)) in layers.into_iter().enumerate() {
        let dense = Dense {
            weight: ConstTensor::new(vec![n_in, n_out], weights(&mut r, n_in * n_out, -8, 7), 3),
            bias: Some(ConstTensor::new(
                vec![n_out],
                weights(&mut r, n_out, -100, 100),
                4,
            )),
        };
        let d = g
            .add_node(
                format!("fc{k}"),
                Op::Dense(dense),
                &[at],
                format!("fc{k} (MatMul+Add)"),
            )
            .unwrap();
        let q = g
            .add_node(
                format!("fc{k}_q"),
                Op::Quantize(q),
                &[d],
                format!("fc{k}_q (Quant)"),
            )
            .unwrap();
        at = if k == 0 {
            g.add_node("fc0_relu", Op::Relu, &[q], "relu0 (Relu)")
                .unwrap()
        } else {
            q
        };
    }
    g.add_output("y", at);
    g
}

/// Transpose, relu, a per-channel quantizer, an add with a skip connection (delay
/// registers) across grids, reshape and a dense layer.
pub fn skip_graph(seed: u64) -> Graph {
    let mut r = rng(seed);
    let mut g = Graph::new("skip");
    let x = g.add_input("x", vec![1, 2, 3, 4], quant_type(8, 3, true), None);
    let t = g
        .add_node(
            "x_t",
            Op::Transpose {
                perm: vec![0, 3, 1, 2],
            },
            &[x],
            "t (Transpose)",
        )
        .unwrap();
    let relu = g.add_node("t_relu", Op::Relu, &[t], "relu (Relu)").unwrap();
    let q = Quantizer {
        channels: (0..4)
            .map(|c| aecc::ir::ChannelQuant {
                scale: aecc::ir::DyadicScale::pow2(-(c as i32) - 1),
                zero_point: [0, 2, -3, 0][c],
            })
            .collect(),
        axis: Some(1),
        ..Quantizer::pow2(5, 0, true, Rounding::HalfEven)
    };
    let qn = g
        .add_node("t_q", Op::Quantize(q), &[relu], "q (Quant)")
        .unwrap();
    let sum = g
        .add_node("skip_add", Op::Add, &[qn, t], "add (Add)")
        .unwrap();
    let flat = g
        .add_node(
            "flat",
            Op::Reshape { shape: vec![1, 24] },
            &[sum],
            "flat (Reshape)",
        )
        .unwrap();
    let dense = Dense {
        weight: ConstTensor::new(vec![24, 5], weights(&mut r, 120, -4, 4), 1),
        bias: None,
    };
    let d = g
        .add_node("head", Op::Dense(dense), &[flat], "head (MatMul)")
        .unwrap();
    g.add_output("y", d);
    g
}

/// Random input vectors on the input grid; every seventh is all-min, all-max or zero.
pub fn random_inputs(graph: &Graph, n: usize, seed: u64) -> Vec<Vec<i64>> {
    let info = &graph.node(graph.inputs()[0]).out;
    let (lo, hi) = (info.interval.lo as i64, info.interval.hi as i64);
    let mut r = rng(seed);
    (0..n)
        .map(|i| {
            (0..info.len())
                .map(|_| match i % 7 {
                    0 => lo,
                    1 => hi,
                    2 => [lo, hi, 0, -1, 1][r.random_range(0..5)].clamp(lo, hi),
                    _ => r.random_range(lo..=hi),
                })
                .collect()
        })
        .collect()
}

/// The reference outputs of `graph` (the bit-exact `aecc_sim::Simulator`) for every
/// input vector.
pub fn reference_outputs(graph: &Graph, vectors: &[Vec<i64>]) -> Vec<Vec<i64>> {
    let sim = aecc_sim::Simulator::new(graph).unwrap_or_else(|e| panic!("{e}"));
    vectors
        .iter()
        .map(|v| sim.run_one(v).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// Tools every emitted design is checked with.
pub const TOOLS: &[&str] = &["verilator", "yosys", "iverilog"];

/// Emits `graph` (default, optimised architecture) and checks the design with
/// `verilator --lint-only -Wall`, yosys and `iverilog -g2005`; any warning fails.
pub fn emit_checked(graph: &Graph, top: &str) -> RtlDesign {
    emit_checked_with(graph, &VerilogOptions::new(top))
}

/// [`emit_checked`] with explicit options.
pub fn emit_checked_with(graph: &Graph, options: &VerilogOptions) -> RtlDesign {
    let design = emit(graph, options).unwrap_or_else(|e| panic!("{}: {e}", options.top_name));
    if let Err(e) = lint(&design) {
        panic!("{e}");
    }
    if let Err(e) = yosys_elaborate(&design) {
        panic!("{e}");
    }
    if let Err(e) = iverilog_check(&design) {
        panic!("{e}");
    }
    design
}

/// Co-simulates `design` on `n` random vectors (and again with bubbles) and compares
/// every output lane with the reference.
pub fn cosim_against_reference(graph: &Graph, design: &RtlDesign, n: usize, seed: u64) {
    let sim = Cosim::build(design, &cache_dir()).unwrap_or_else(|e| panic!("{e}"));
    let vectors = random_inputs(graph, n, seed);
    let expected = reference_outputs(graph, &vectors);
    let got = sim.run(&vectors, None).unwrap_or_else(|e| panic!("{e}"));
    if let Err(m) = compare_outputs(&expected, &got) {
        panic!("{}: {m}", design.top);
    }
    let few = &vectors[..n.min(2000)];
    let got = sim.run(few, Some(seed)).unwrap_or_else(|e| panic!("{e}"));
    if let Err(m) = compare_outputs(&expected[..few.len()], &got) {
        panic!("{} (with bubbles): {m}", design.top);
    }
}

/// Turns the first two-operand addition `a + b` of an adder wire in `text` into a
/// subtraction; returns a description of the change. Used to prove that co-simulation
/// catches a wrong adder.
pub fn corrupt_first_adder(text: &mut String) -> Option<String> {
    let mut at = 0;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("wire ") && trimmed.contains("_a") && line.contains(" + ") {
            let pos = at + line.find(" + ").unwrap();
            let before = line.to_string();
            text.replace_range(pos..pos + 3, " - ");
            return Some(format!("corrupted: {before}"));
        }
        at += line.len() + 1;
    }
    None
}

/// A bundled model's IR graph (`models/<name>/model.onnx`, default passes).
pub fn bundled_model(name: &str) -> Graph {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models")
        .join(name)
        .join("model.onnx");
    aecc::pipeline::lower(&path, None).unwrap().0
}
