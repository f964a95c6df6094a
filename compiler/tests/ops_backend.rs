//! The Verilog of every op beyond Dense/Conv/Relu/Add, and of quantizers that divide
//! by a non-power-of-two constant, end to end: emitted, linted (Verilator -Wall, yosys,
//! iverilog) and co-simulated bit-exact against the reference on random vectors.
//!
//! - a requantizer matrix: every rounding mode x saturate/wrap x signed/unsigned x
//!   narrow, per-channel odd mantissas with zero points (shifting left and right), per
//!   tensor, bipolar, and inputs carrying a scale unit `num/den` (the division by `den
//!   * m` in hardware) — side by side in one Verilator build;
//! - element-wise ops (Affine per channel, Clip, LeakyRelu, Sub);
//! - pools (MaxPool with padding and ceil_mode, AvgPool with uneven window counts,
//!   count_include_pad, dilation, a 3-wide window whose 1/3 goes into the next
//!   quantizer) and Concat across grids;
//! - Select (slice and constant pad), per-channel lookup tables, Concat.

mod common;
mod side_by_side;

use aecc::backend::verilog::{emit, VerilogOptions};
use aecc::ir::movement::Select;
use aecc::ir::pointwise::{Affine, Lut};
use aecc::ir::{
    ChannelQuant, DyadicScale, Graph, NodeId, Op, Overflow, Pool, Quantizer, Rounding, Unit,
};
use aecc_testbench::require_tools;
use common::*;
use side_by_side::check_side_by_side;

fn scale(mantissa: u64, exponent: i32, zero_point: i64) -> ChannelQuant {
    ChannelQuant {
        scale: DyadicScale { mantissa, exponent },
        zero_point,
    }
}

/// `(mantissa, exponent, zero point)` per channel of the input `x` on `s12.5`: divisions
/// by 3, 5, 7, 9, 11, 13 that shift left (exponent -9, -12: k > 0) and right.
const CHANNELS: [(u64, i32, i64); 6] = [
    (3, -5, 0),
    (3, -7, 2),
    (5, -2, -3),
    (7, -9, 0),
    (11, -4, 1),
    (13, -12, -5),
];

/// `x` (12 bits on `2^-5`, signed or not), optionally reinterpreted on the unit
/// `in_unit` (an `Affine` with multiplier 1), then the quantizer.
fn requant_graph(name: &str, q: Quantizer, signed: bool, in_unit: Option<Unit>) -> Graph {
    let mut g = Graph::new(name);
    let mut x = g.add_input(
        "x",
        vec![1, CHANNELS.len()],
        quant_type(12, 5, signed),
        None,
    );
    if let Some(unit) = in_unit {
        let a = Affine {
            axis: None,
            mul: vec![1],
            add: vec![0],
            out_frac: 5,
            out_unit: unit,
        };
        x = g.add_node("x_u", Op::Affine(a), &[x], "unit").unwrap();
    }
    let y = g.add_node("q", Op::Quantize(q), &[x], "q (Quant)").unwrap();
    g.add_output("y", y);
    g
}

#[test]
fn every_requantizer_configuration_is_bit_exact() {
    if !require_tools(TOOLS) {
        return;
    }
    let channels: Vec<ChannelQuant> = CHANNELS.iter().map(|&(m, e, zp)| scale(m, e, zp)).collect();
    let mut graphs = Vec::new();
    let mut index = 0;
    for mode in Rounding::ALL {
        for overflow in [Overflow::Saturate, Overflow::Wrap] {
            for signed in [true, false] {
                for narrow in [false, true] {
                    let q = Quantizer {
                        channels: channels.clone(),
                        axis: Some(1),
                        bit_width: 5,
                        signed,
                        narrow,
                        rounding: mode,
                        overflow,
                    };
                    let name = format!("rq{index}");
                    // every fourth configuration reads an input on the unit 5/3
                    let unit = (index % 4 == 3).then(|| Unit::new(5, 3).unwrap());
                    graphs.push((name.clone(), requant_graph(&name, q, index % 2 == 0, unit)));
                    index += 1;
                }
            }
        }
    }
    // per tensor (the output is the code, on the unit 7), bipolar, a wide quantizer
    for (k, q) in [
        Quantizer {
            channels: vec![scale(7, -6, 3)],
            ..Quantizer::pow2(8, 0, true, Rounding::HalfEven)
        },
        Quantizer {
            channels: vec![scale(9, -4, 0)],
            ..Quantizer::pow2(1, 0, true, Rounding::HalfEven)
        },
        Quantizer {
            channels: vec![scale(0xB504F3, -30, -100)],
            ..Quantizer::pow2(16, 0, false, Rounding::HalfAwayFromZero)
        },
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("rq{index}");
        let unit = (k == 2).then(|| Unit::new(0x9E3779, 0x6A09E7).unwrap());
        graphs.push((name.clone(), requant_graph(&name, q, true, unit)));
        index += 1;
    }
    check_side_by_side("rqmatrix", &graphs, 10_000);
}

/// Affine per channel -> Clip -> LeakyRelu, minus the input.
fn pointwise_graph() -> Graph {
    let mut g = Graph::new("pointwise");
    let x = g.add_input("x", vec![1, 3, 2, 2], quant_type(8, 3, true), None);
    let a = Affine {
        axis: Some(1),
        mul: vec![3, -2, 5],
        add: vec![1, 0, -7],
        out_frac: 3,
        out_unit: Unit::ONE,
    };
    let a = g
        .add_node("aff", Op::Affine(a), &[x], "bn (BatchNormalization)")
        .unwrap();
    let c = g
        .add_node("clip", Op::Clip { lo: -50, hi: 300 }, &[a], "clip (Clip)")
        .unwrap();
    let l = g
        .add_node(
            "leaky",
            Op::LeakyRelu {
                pos: 8,
                neg: -3,
                frac_shift: 3,
            },
            &[c],
            "lrelu (LeakyRelu)",
        )
        .unwrap();
    let s = g.add_node("diff", Op::Sub, &[l, x], "sub (Sub)").unwrap();
    g.add_output("y", s);
    g
}

fn pool(kernel: [usize; 2], strides: [usize; 2], pads: [usize; 4]) -> Pool {
    Pool {
        kernel,
        strides,
        pads,
        dilations: [1, 1],
        ceil_mode: false,
        count_include_pad: false,
    }
}

/// MaxPool 3x3/2 with padding and ceil_mode next to AvgPool 2x2/2 with uneven window
/// counts, concatenated, requantized by 3 * 2^-4.
fn pool_graph() -> Graph {
    let mut g = Graph::new("pools");
    let x = g.add_input("x", vec![1, 2, 5, 5], quant_type(7, 2, true), None);
    let mp = Pool {
        ceil_mode: true,
        ..pool([3, 3], [2, 2], [1, 1, 1, 1])
    };
    let m = g
        .add_node("maxp", Op::MaxPool(mp), &[x], "mp (MaxPool)")
        .unwrap();
    let ap = pool([2, 2], [2, 2], [0, 0, 1, 1]);
    let a = g
        .add_node("avgp", Op::AvgPool(ap), &[x], "ap (AveragePool)")
        .unwrap();
    assert_eq!(g.node(m).out.shape, g.node(a).out.shape);
    let c = g
        .add_node(
            "cat",
            Op::Concat { axis: 1, inputs: 2 },
            &[m, a],
            "cat (Concat)",
        )
        .unwrap();
    let q = Quantizer {
        channels: vec![scale(3, -4, 0)],
        ..Quantizer::pow2(6, 0, true, Rounding::HalfEven)
    };
    let y = g.add_node("q", Op::Quantize(q), &[c], "q (Quant)").unwrap();
    g.add_output("y", y);
    g
}

/// A 1-D average with dilation 2, padding counted, ceil_mode: windows of 3 taps (the
/// unit 1/3), quantized onto 2^-3.
fn pool_1d_graph() -> Graph {
    let mut g = Graph::new("pool1d");
    let x = g.add_input("x", vec![1, 2, 1, 9], quant_type(6, 0, false), None);
    let p = Pool {
        dilations: [1, 2],
        ceil_mode: true,
        count_include_pad: true,
        ..pool([1, 3], [1, 2], [0, 1, 0, 2])
    };
    let a = g
        .add_node("avg", Op::AvgPool(p), &[x], "ap (AveragePool)")
        .unwrap();
    let q = g
        .add_node(
            "q",
            Op::Quantize(Quantizer::pow2(8, 3, false, Rounding::HalfTowardZero)),
            &[a],
            "q (Quant)",
        )
        .unwrap();
    g.add_output("y", q);
    g
}

/// Slice + constant pad, a per-channel table, concatenated with the input.
fn select_lut_graph() -> Graph {
    let mut g = Graph::new("sel_lut");
    let x: NodeId = g.add_input("x", vec![1, 2, 4], quant_type(4, 0, false), None);
    // out[c][j] = x[c][j] for j in 1..3, -1 at j = 0 and 3
    let sel = Select::from_fn(&[1, 2, 4], vec![1, 2, 4], -1, |o| {
        (1..3).contains(&o[2]).then(|| o.to_vec())
    });
    let s = g
        .add_node("sel", Op::Select(sel), &[x], "slice+pad")
        .unwrap();
    let lut = Lut {
        axis: Some(1),
        in_lo: -1,
        tables: vec![
            (-1..=15).map(|v: i64| v * v - 20).collect(),
            (-1..=15).map(|v: i64| 3 - 2 * v).collect(),
        ],
        out_frac: 2,
        out_unit: Unit::ONE,
    };
    let l = g
        .add_node("table", Op::Lut(lut), &[s], "sigmoid (Sigmoid)")
        .unwrap();
    let c = g
        .add_node(
            "cat",
            Op::Concat { axis: 2, inputs: 2 },
            &[x, l],
            "cat (Concat)",
        )
        .unwrap();
    g.add_output("y", c);
    g
}

#[test]
fn pointwise_pool_select_lut_and_concat_are_bit_exact() {
    if !require_tools(TOOLS) {
        return;
    }
    let graphs: Vec<(String, Graph)> = vec![
        ("pointwise".into(), pointwise_graph()),
        ("pools".into(), pool_graph()),
        ("pool1d".into(), pool_1d_graph()),
        ("sel_lut".into(), select_lut_graph()),
    ];
    for (name, g) in &graphs {
        // each design alone passes the lint and tool checks
        emit_checked(g, name);
    }
    check_side_by_side("opsmix", &graphs, 10_000);
}

/// Writes example designs for reading: `cargo test -p aecc --test ops_backend
/// write_op_examples -- --ignored`, then look in `target/tmp/op-examples/`.
#[test]
#[ignore]
fn write_op_examples() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("op-examples");
    let q = Quantizer {
        channels: vec![scale(7, -6, 3)],
        ..Quantizer::pow2(8, 0, true, Rounding::HalfEven)
    };
    for (g, top) in [
        (
            requant_graph("rq", q, true, Some(Unit::new(5, 3).unwrap())),
            "requant",
        ),
        (pointwise_graph(), "pointwise"),
        (pool_graph(), "pools"),
        (select_lut_graph(), "sel_lut"),
    ] {
        let d = emit(&g, &VerilogOptions::new(top)).unwrap();
        let sub = dir.join(top);
        std::fs::create_dir_all(&sub).unwrap();
        d.write_files(&sub).unwrap();
        eprintln!("wrote {}", sub.display());
    }
}
