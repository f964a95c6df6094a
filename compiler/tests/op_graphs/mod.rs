//! Small hand-built IR graphs of the ops beyond Dense/Conv/Relu/Add and of quantizers
//! that divide by non-power-of-two constants, shared by the Verilog and HLS tests.
#![allow(dead_code)]

use aecc::ir::movement::Select;
use aecc::ir::pointwise::{Affine, Lut};
use aecc::ir::{
    ChannelQuant, DyadicScale, FixedType, Graph, NodeId, Op, Overflow, Pool, Quantizer, Rounding,
    Unit,
};

fn quant_type(width: u32, frac: i32, signed: bool) -> FixedType {
    FixedType {
        rounding: Rounding::HalfEven,
        overflow: Overflow::Saturate,
        ..FixedType::exact(width, frac, signed)
    }
}

pub fn scale(mantissa: u64, exponent: i32, zero_point: i64) -> ChannelQuant {
    ChannelQuant {
        scale: DyadicScale { mantissa, exponent },
        zero_point,
    }
}

/// `(mantissa, exponent, zero point)` per channel of the input `x` on `s12.5`: divisions
/// by 3, 5, 7, 9, 11, 13 that shift left (exponent -9, -12: k > 0) and right.
pub const CHANNELS: [(u64, i32, i64); 6] = [
    (3, -5, 0),
    (3, -7, 2),
    (5, -2, -3),
    (7, -9, 0),
    (11, -4, 1),
    (13, -12, -5),
];

/// `x` (12 bits on `2^-5`, signed or not), optionally reinterpreted on the unit
/// `in_unit` (an `Affine` with multiplier 1), then the quantizer.
pub fn requant_graph(name: &str, q: Quantizer, signed: bool, in_unit: Option<Unit>) -> Graph {
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

/// Affine per channel -> Clip -> LeakyRelu, minus the input.
pub fn pointwise_graph() -> Graph {
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

pub fn pool(kernel: [usize; 2], strides: [usize; 2], pads: [usize; 4]) -> Pool {
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
pub fn pool_graph() -> Graph {
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
pub fn pool_1d_graph() -> Graph {
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
pub fn select_lut_graph() -> Graph {
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
