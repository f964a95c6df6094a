//! The reference model on every op of the IR beyond Dense/Conv/Quantize, against
//! integers computed by hand (the comments show the arithmetic).

use aecc_ir::fixed::Rounding;
use aecc_ir::movement::Select;
use aecc_ir::pointwise::{Affine, Lut};
use aecc_ir::{
    ChannelQuant, ConstTensor, Conv, DyadicScale, FixedType, Graph, Interval, Op, Pool, Quantizer,
    Unit,
};
use aecc_sim::Simulator;

fn ty(width: u32, frac: i32, signed: bool) -> FixedType {
    FixedType::exact(width, frac, signed)
}

/// `x -> op -> output` with the input of `shape` on `ty`; returns the outputs for
/// `input` and the output tensor's grid `(frac, unit)`.
fn run1(shape: Vec<usize>, t: FixedType, op: Op, input: &[i64]) -> (Vec<i64>, i32, Unit) {
    let mut g = Graph::new("t");
    let x = g.add_input("x", shape, t, None);
    let y = g.add_node("y", op, &[x], "y").unwrap();
    g.add_output("y", y);
    let sim = Simulator::new(&g).unwrap();
    let info = sim.output_info(0).clone();
    (sim.run_one(input).unwrap(), info.ty.frac, info.unit)
}

#[test]
fn affine_per_channel() {
    // y = x * [3, -2][c] + [1, 5][c] on [1, 2, 2]
    let op = Op::Affine(Affine {
        axis: Some(1),
        mul: vec![3, -2],
        add: vec![1, 5],
        out_frac: 2,
        out_unit: Unit::new(1, 3).unwrap(),
    });
    let (y, frac, unit) = run1(vec![1, 2, 2], ty(4, 2, true), op, &[1, -2, 3, -8]);
    // 1*3+1, -2*3+1, 3*-2+5, -8*-2+5
    assert_eq!(y, vec![4, -5, -1, 21]);
    assert_eq!((frac, unit), (2, Unit::new(1, 3).unwrap()));
}

#[test]
fn sub_aligns_grids() {
    let mut g = Graph::new("t");
    let a = g.add_input("a", vec![3], ty(4, 1, true), None);
    let b = g.add_input("b", vec![3], ty(4, 3, true), None);
    let y = g.add_node("y", Op::Sub, &[a, b], "y").unwrap();
    g.add_output("y", y);
    let sim = Simulator::new(&g).unwrap();
    // a = [1, -2, 7] * 2^-1, b = [3, 5, -8] * 2^-3: a - b on 2^-3 = 4a - b
    let out = sim.run(&[&[1, -2, 7], &[3, 5, -8]]).unwrap();
    assert_eq!(out[0], vec![1, -13, 36]);
    assert_eq!(sim.output_info(0).ty.frac, 3);
}

#[test]
fn clip_and_leaky_relu() {
    let (y, _, _) = run1(
        vec![5],
        ty(6, 0, true),
        Op::Clip { lo: -3, hi: 10 },
        &[-20, -3, 0, 10, 31],
    );
    assert_eq!(y, vec![-3, -3, 0, 10, 10]);
    // alpha = 0.125 = 1/8: positive x * 8, negative x * 1, on a grid 3 bits finer
    let op = Op::LeakyRelu {
        pos: 8,
        neg: 1,
        frac_shift: 3,
    };
    let (y, frac, _) = run1(vec![4], ty(6, 2, true), op, &[-16, -1, 0, 5]);
    assert_eq!(y, vec![-16, -1, 0, 40]);
    assert_eq!(frac, 5);
}

#[test]
fn max_pool_ignores_padding() {
    // 1x1x3x3, 2x2 windows, stride 2, pads bottom/right 1 -> 2x2
    let p = Pool {
        kernel: [2, 2],
        strides: [2, 2],
        pads: [0, 0, 1, 1],
        dilations: [1, 1],
        ceil_mode: false,
        count_include_pad: false,
    };
    let x = [-5, -1, -7, 2, -3, -9, -4, -6, -2];
    let (y, _, _) = run1(vec![1, 1, 3, 3], ty(5, 0, true), Op::MaxPool(p), &x);
    // windows {-5,-1,2,-3}, {-7,-9}, {-4,-6}, {-2}: padding (0) never wins
    assert_eq!(y, vec![2, -7, -4, -2]);
}

#[test]
fn average_pool_divides_in_the_unit() {
    let p = Pool {
        kernel: [2, 2],
        strides: [2, 2],
        pads: [0, 0, 1, 1],
        dilations: [1, 1],
        ceil_mode: false,
        count_include_pad: false,
    };
    let x = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    let (y, frac, unit) = run1(vec![1, 1, 3, 3], ty(5, 0, true), Op::AvgPool(p.clone()), &x);
    // counts 4, 2, 2, 1 (lcm 4): y = sum * 4 / count on 2^-2
    // (1+2+4+5)*1 = 12 (= 3), (3+6)*2 = 18 (= 4.5), (7+8)*2 = 30 (= 7.5), 9*4 = 36 (= 9)
    assert_eq!(y, vec![12, 18, 30, 36]);
    assert_eq!((frac, unit), (2, Unit::ONE));
    // count_include_pad: every count is 4
    let p = Pool {
        count_include_pad: true,
        ..p
    };
    let (y, frac, _) = run1(vec![1, 1, 3, 3], ty(5, 0, true), Op::AvgPool(p), &x);
    assert_eq!((y, frac), (vec![12, 9, 15, 9], 2));
    // a 3x3 window: sum on the unit 1/9
    let p = Pool {
        kernel: [3, 3],
        strides: [1, 1],
        pads: [0; 4],
        dilations: [1, 1],
        ceil_mode: false,
        count_include_pad: false,
    };
    let (y, frac, unit) = run1(vec![1, 1, 3, 3], ty(5, 0, true), Op::AvgPool(p), &x);
    assert_eq!((y, frac, unit), (vec![45], 0, Unit::new(1, 9).unwrap()));
}

#[test]
fn average_then_requantize_is_exact() {
    // mean of 3 values, then quantized with scale 2^-2 (half-even):
    // [1, 1, 2] -> 4/3 = 1.333 -> 5.33 -> 5; [1, 2, 2] -> 5/3 -> 6.67 -> 7
    let mut g = Graph::new("t");
    let x = g.add_input("x", vec![1, 1, 1, 3], ty(4, 0, true), None);
    let p = Pool {
        kernel: [1, 3],
        strides: [1, 1],
        pads: [0; 4],
        dilations: [1, 1],
        ceil_mode: false,
        count_include_pad: false,
    };
    let a = g.add_node("a", Op::AvgPool(p), &[x], "a").unwrap();
    let q = g
        .add_node(
            "q",
            Op::Quantize(Quantizer::pow2(8, 2, true, Rounding::HalfEven)),
            &[a],
            "q",
        )
        .unwrap();
    g.add_output("q", q);
    let sim = Simulator::new(&g).unwrap();
    assert_eq!(sim.run_one(&[1, 1, 2]).unwrap(), vec![5]);
    assert_eq!(sim.run_one(&[1, 2, 2]).unwrap(), vec![7]);
    // a tie: 3/3 * 4 = 4 exactly; [0, 1, 2] -> 1 -> 4
    assert_eq!(sim.run_one(&[0, 1, 2]).unwrap(), vec![4]);
}

#[test]
fn select_slices_and_pads() {
    // x[1:3] of [4], then one -7 on each side
    let sel = Select::from_fn(&[4], vec![4], -7, |o| {
        (1..=2).contains(&o[0]).then(|| vec![o[0]])
    });
    let (y, _, _) = run1(vec![4], ty(5, 0, true), Op::Select(sel), &[10, 11, 12, 13]);
    assert_eq!(y, vec![-7, 11, 12, -7]);
}

#[test]
fn concat_shifts_onto_the_finest_grid() {
    let mut g = Graph::new("t");
    let a = g.add_input("a", vec![1, 2], ty(4, 0, true), None);
    let b = g.add_input("b", vec![1, 1], ty(4, 2, true), None);
    let y = g
        .add_node("y", Op::Concat { axis: 1, inputs: 2 }, &[a, b], "y")
        .unwrap();
    g.add_output("y", y);
    let sim = Simulator::new(&g).unwrap();
    // a on 2^0 -> *4 on 2^-2
    assert_eq!(sim.run(&[&[3, -1], &[5]]).unwrap()[0], vec![12, -4, 5]);
}

#[test]
fn lut_per_channel() {
    let op = Op::Lut(Lut {
        axis: Some(0),
        in_lo: -1,
        tables: vec![vec![7, 8, 9], vec![-1, -2, -3]],
        out_frac: 4,
        out_unit: Unit::ONE,
    });
    let mut g = Graph::new("t");
    let x = g.add_input("x", vec![2, 2], ty(2, 0, true), None);
    // the input type s2 holds [-2, 1], the table covers [-1, 1]: refused
    assert!(g.add_node("y", op.clone(), &[x], "y").is_err());
    let (y, frac, _) = {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![2, 2], ty(2, 0, true), None);
        let c = g
            .add_node("c", Op::Clip { lo: -1, hi: 1 }, &[x], "c")
            .unwrap();
        let y = g.add_node("y", op, &[c], "y").unwrap();
        g.add_output("y", y);
        let sim = Simulator::new(&g).unwrap();
        (
            sim.run_one(&[-2, 1, 0, -1]).unwrap(),
            sim.output_info(0).ty.frac,
            (),
        )
    };
    // channel 0: x = -1 (clipped), 1 -> 7, 9; channel 1: 0, -1 -> -2, -1
    assert_eq!(y, vec![7, 9, -2, -1]);
    assert_eq!(frac, 4);
}

#[test]
fn quantize_with_units_and_grouped_conv() {
    // input codes on the unit 3 (scale 3 * 2^-4), a depthwise conv (group 2) with
    // weights on the unit 5: products on the unit 15
    let q_in = Quantizer {
        channels: vec![ChannelQuant {
            scale: DyadicScale {
                mantissa: 3,
                exponent: -4,
            },
            zero_point: 0,
        }],
        ..Quantizer::pow2(6, 0, true, Rounding::HalfEven)
    };
    let mut g = Graph::new("t");
    let x = g.add_input("x", vec![1, 2, 1, 3], q_in.out_type(), Some(q_in));
    assert_eq!(g.node(x).out.unit, Unit::int(3).unwrap());
    let conv = Conv {
        weight: ConstTensor::new(vec![2, 1, 1, 2], vec![1, 2, -1, 3], 0)
            .with_unit(Unit::int(5).unwrap()),
        bias: None,
        strides: [1, 1],
        pads: [0; 4],
        dilations: [1, 1],
        group: 2,
    };
    let c = g.add_node("c", Op::Conv(conv), &[x], "c").unwrap();
    assert_eq!(g.node(c).out.unit, Unit::int(15).unwrap());
    // requantize to 7 * 2^-2 (half-even): value = acc * 15 / 16 / (7/4) = acc * 15 / 28
    let q = Quantizer {
        channels: vec![ChannelQuant {
            scale: DyadicScale {
                mantissa: 7,
                exponent: -2,
            },
            zero_point: 0,
        }],
        ..Quantizer::pow2(8, 0, true, Rounding::HalfEven)
    };
    let y = g.add_node("y", Op::Quantize(q), &[c], "y").unwrap();
    g.add_output("y", y);
    let sim = Simulator::new(&g).unwrap();
    // channel 0 taps x0, x1 with [1, 2]; channel 1 taps x3.. with [-1, 3]
    // x = [4, 5, 6 | 7, -8, 2]: acc0 = 4+10 = 14, 5+12 = 17; acc1 = -7-24 = -31, 8+6 = 14
    // * 15/28: 7.5 -> 8 (tie, even), 9.107 -> 9, -16.607 -> -17, 7.5 -> 8
    assert_eq!(
        sim.run_one(&[4, 5, 6, 7, -8, 2]).unwrap(),
        vec![8, 9, -17, 8]
    );
    assert_eq!(sim.output_info(0).unit, Unit::int(7).unwrap());
    assert_eq!(sim.output_info(0).interval, Interval::new(-128, 127));
}

/// The batch evaluator (lane-by-lane fallback for these ops, the exact quantizer for
/// input units) equals the scalar reference on a graph of every new op.
#[test]
fn batch_evaluator_matches_on_every_new_op() {
    use aecc_ir::pointwise::Lut;
    let mut g = Graph::new("mix");
    let x = g.add_input("x", vec![1, 2, 4, 4], ty(6, 2, true), None);
    let a = g
        .add_node(
            "a",
            Op::Affine(Affine {
                axis: Some(1),
                mul: vec![3, -2],
                add: vec![1, 5],
                out_frac: 2,
                out_unit: Unit::new(1, 3).unwrap(),
            }),
            &[x],
            "a",
        )
        .unwrap();
    let p = Pool {
        kernel: [2, 2],
        strides: [2, 2],
        pads: [0, 0, 1, 1],
        dilations: [1, 1],
        ceil_mode: false,
        count_include_pad: false,
    };
    let m = g.add_node("m", Op::MaxPool(p.clone()), &[a], "m").unwrap();
    let v = g.add_node("v", Op::AvgPool(p), &[a], "v").unwrap();
    // bring both onto one unit for the concat: the average has unit 1/3 too (lcm 4)
    let c = g
        .add_node("c", Op::Concat { axis: 1, inputs: 2 }, &[m, v], "c")
        .unwrap();
    let q = Quantizer {
        channels: vec![ChannelQuant {
            scale: DyadicScale {
                mantissa: 5,
                exponent: -3,
            },
            zero_point: 1,
        }],
        ..Quantizer::pow2(5, 0, true, Rounding::HalfOdd)
    };
    let q = g.add_node("q", Op::Quantize(q), &[c], "q").unwrap();
    let cl = g
        .add_node("cl", Op::Clip { lo: -8, hi: 9 }, &[q], "cl")
        .unwrap();
    let l = g
        .add_node(
            "l",
            Op::Lut(Lut {
                axis: None,
                in_lo: -8,
                tables: vec![(-8..=9).map(|v: i64| v * v).collect()],
                out_frac: 0,
                out_unit: Unit::ONE,
            }),
            &[cl],
            "l",
        )
        .unwrap();
    let sel = Select::from_fn(&[1, 4, 2, 2], vec![1, 4, 2, 3], -1, |o| {
        (o[3] < 2).then(|| o.to_vec())
    });
    let s = g.add_node("s", Op::Select(sel), &[l], "s").unwrap();
    let d = g
        .add_node(
            "d",
            Op::LeakyRelu {
                pos: 4,
                neg: -1,
                frac_shift: 2,
            },
            &[s],
            "d",
        )
        .unwrap();
    g.add_output("y", d);
    let sim = Simulator::new(&g).unwrap();
    let batch = sim.compile_batch().unwrap();
    let n = 300;
    let len = sim.input_info(0).len();
    let xs: Vec<i64> = (0..n * len)
        .map(|i| ((i * 7919 + i / 3) % 64) as i64 - 32)
        .collect();
    let want: Vec<i64> = (0..n)
        .flat_map(|k| sim.run_one(&xs[k * len..(k + 1) * len]).unwrap())
        .collect();
    assert_eq!(batch.run_batch(&xs, n).unwrap(), want);
}
