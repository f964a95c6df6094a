//! Property tests of the reference model against independent oracles:
//! - the quantizer against the `fixed` crate's rounding (a separately written
//!   fixed-point library) and against exact rational arithmetic;
//! - Dense/Conv evaluation against the IR's explicit linear-map lowering;
//! - every value the simulator produces lies inside the interval the IR inferred
//!   (interval analysis is sound, so no accumulator can overflow).

use aecc_ir::fixed::Rounding;
use aecc_ir::ops::{ConstTensor, Conv, Dense};
use aecc_ir::{FixedType, Graph, Op, Quantizer};
use aecc_sim::Simulator;
use fixed::types::I32F32;
use proptest::prelude::*;

/// Oracle: round `bits * 2^-16` to the grid `2^-out_frac` with the `fixed` crate.
fn fixed_crate_round(bits: i32, out_frac: i32, mode: Rounding) -> Option<i64> {
    // I32F32 holds an I16F16 value exactly; scale by 2^out_frac (out_frac in 0..=12).
    let v = I32F32::from_bits((bits as i64) << 16);
    let scaled = v.checked_mul_int(1i64 << out_frac)?;
    let r = match mode {
        Rounding::HalfEven => scaled.round_ties_even(),
        Rounding::HalfAwayFromZero => scaled.round(),
        Rounding::Floor => scaled.floor(),
        Rounding::Ceil => scaled.ceil(),
        Rounding::TowardZero => scaled.round_to_zero(),
        _ => return None,
    };
    Some(r.to_num::<i64>())
}

fn any_mode() -> impl Strategy<Value = Rounding> {
    prop::sample::select(Rounding::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn quantizer_matches_fixed_crate(base in -5000i32..5000, tail in prop_oneof![Just(0u8), Just(1), Just(2), Just(3), Just(4)], noise in any::<u16>(), out_frac in 0i32..=12, width in 2u32..=20, signed in any::<bool>(), mode in any_mode()) {
        // bits = base grid points plus a tail chosen to hit exact ties, near-ties and
        // grid points often (uniform random bits almost never tie).
        let drop = 16 - out_frac; // bits below the output grid
        let half = 1i32 << (drop - 1);
        let t = match tail { 0 => 0, 1 => half, 2 => half - 1, 3 => half + 1, _ => (noise as i32) & ((1 << drop) - 1) };
        let bits = (base << drop).wrapping_add(t);
        let q = Quantizer::pow2(width, out_frac, signed, mode);
        let got = q.quantize_int(bits as i128, 16, 0);
        if let Some(rounded) = fixed_crate_round(bits, out_frac, mode) {
            let (lo, hi) = q.q_bounds();
            prop_assert_eq!(got, (rounded as i128).clamp(lo, hi));
        }
    }

    #[test]
    fn quantizer_matches_rational_oracle(x in -3000i64..3000, in_frac in -4i32..12, mantissa in prop::sample::select(vec![1u64, 3, 5, 7, 9, 13, 255]), exponent in -10i32..4, zp in -20i64..20, width in 2u32..12, signed in any::<bool>(), narrow in any::<bool>(), mode in any_mode()) {
        // real x * 2^-in_frac / (m * 2^e) + zp as an exact fraction num/den
        let mut q = Quantizer::pow2(width, 0, signed, mode);
        q.narrow = narrow;
        q.channels[0] = aecc_ir::ChannelQuant { scale: aecc_ir::DyadicScale { mantissa, exponent }, zero_point: zp };
        let got = q.quantize_int(x as i128, in_frac, 0);
        // oracle: brute force the rounding by comparing candidates on the rational line
        let shift = -in_frac - exponent; // value = x * 2^shift / m + zp
        let (num, den) = if shift >= 0 { ((x as i128) << shift, mantissa as i128) } else { (x as i128, (mantissa as i128) << (-shift)) };
        let num = num + zp as i128 * den;
        let fl = num.div_euclid(den);
        let exact = num % den == 0;
        let twice_rem = 2 * (num - fl * den);
        let want_q = if exact { fl } else {
            let neg = num < 0;
            match mode {
                Rounding::Floor => fl,
                Rounding::Ceil => fl + 1,
                Rounding::TowardZero => if neg { fl + 1 } else { fl },
                Rounding::AwayFromZero => if neg { fl } else { fl + 1 },
                _ if twice_rem < den => fl,
                _ if twice_rem > den => fl + 1,
                Rounding::HalfEven => if fl % 2 == 0 { fl } else { fl + 1 },
                Rounding::HalfOdd => if fl % 2 != 0 { fl } else { fl + 1 },
                Rounding::HalfAwayFromZero => if neg { fl } else { fl + 1 },
                Rounding::HalfTowardZero => if neg { fl + 1 } else { fl },
            }
        };
        let (lo, hi) = q.q_bounds();
        // the output is the code q - zp on the unit `mantissa` (per-tensor quantizer)
        assert_eq!(q.out_unit().num, mantissa);
        let want = (want_q.clamp(lo, hi) - zp as i128) * (1i128 << q.channel_shift(0));
        if q.is_bipolar() {
            prop_assert!(got == 1 || got == -1);
        } else {
            prop_assert_eq!(got, want);
        }
    }
}

/// A small random conv -> quantize -> relu -> reshape -> dense -> quantize network.
fn random_network(seed: u64) -> (Graph, Vec<(i64, i64)>) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let c = rng.random_range(1..=3);
    let h = rng.random_range(3..=7);
    let w = rng.random_range(3..=7);
    let m = rng.random_range(1..=4);
    let k = rng.random_range(1..=3);
    let in_bits = rng.random_range(2..=10);
    let in_frac = rng.random_range(0..=6);
    let signed = rng.random_bool(0.5);
    let mut g = Graph::new("random");
    let qin = Quantizer::pow2(in_bits, in_frac, signed, Rounding::HalfEven);
    let x = g.add_input("x", vec![1, c, h, w], qin.out_type(), Some(qin.clone()));
    let wdata: Vec<i64> = (0..m * c * k * k)
        .map(|_| {
            if rng.random_bool(0.2) {
                0
            } else {
                rng.random_range(-31..=31)
            }
        })
        .collect();
    let conv = Conv {
        weight: ConstTensor::new(vec![m, c, k, k], wdata, rng.random_range(0..=5)),
        bias: rng.random_bool(0.5).then(|| {
            ConstTensor::new(
                vec![m],
                (0..m).map(|_| rng.random_range(-500..=500)).collect(),
                rng.random_range(0..=12),
            )
        }),
        strides: [rng.random_range(1..=2), rng.random_range(1..=2)],
        pads: [
            rng.random_range(0..=1),
            rng.random_range(0..=1),
            rng.random_range(0..=1),
            rng.random_range(0..=1),
        ],
        dilations: [1, 1],
        group: 1,
    };
    let y = g.add_node("conv", Op::Conv(conv), &[x], "conv").unwrap();
    let mode = Rounding::ALL[rng.random_range(0..7)];
    let q1 = g
        .add_node(
            "q1",
            Op::Quantize(Quantizer::pow2(
                rng.random_range(3..=12),
                rng.random_range(0..=8),
                true,
                mode,
            )),
            &[y],
            "q1",
        )
        .unwrap();
    let r = g.add_node("relu", Op::Relu, &[q1], "relu").unwrap();
    let n = g.node(r).out.len();
    let f = g
        .add_node("flat", Op::Reshape { shape: vec![1, n] }, &[r], "flat")
        .unwrap();
    let outs = rng.random_range(1..=6);
    let dense = Dense {
        weight: ConstTensor::new(
            vec![n, outs],
            (0..n * outs).map(|_| rng.random_range(-63..=63)).collect(),
            rng.random_range(0..=6),
        ),
        bias: Some(ConstTensor::new(
            vec![outs],
            (0..outs).map(|_| rng.random_range(-100..=100)).collect(),
            3,
        )),
    };
    let d = g
        .add_node("dense", Op::Dense(dense), &[f], "dense")
        .unwrap();
    g.add_output("y", d);
    let t: FixedType = qin.out_type();
    (g, vec![(t.min_int() as i64, t.max_int() as i64)])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn structured_ops_equal_linear_maps_and_stay_in_intervals(seed in any::<u64>(), data_seed in any::<u64>()) {
        use rand::{Rng, SeedableRng};
        let (g, ranges) = random_network(seed);
        let sim = Simulator::new(&g).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(data_seed);
        let len = sim.input_info(0).len();
        let (lo, hi) = ranges[0];
        for trial in 0..20 {
            // include the extremes of the grid
            let x: Vec<i64> = (0..len).map(|_| match trial { 0 => lo, 1 => hi, _ => rng.random_range(lo..=hi) }).collect();
            sim.run_one(&x).unwrap();
            // re-evaluate node by node with linear maps and check intervals
            let mut values = std::collections::HashMap::new();
            values.insert(g.inputs()[0], x.clone());
            for id in g.compute_nodes().unwrap() {
                let node = g.node(id);
                let ops = g.operands(id);
                let arg = &values[&ops[0]];
                let info = &g.node(ops[0]).out;
                let out: Vec<i64> = match node.op.linear_map(info) {
                    Some(map) => map.eval(arg).into_iter().map(|v| v as i64).collect(),
                    None => aecc_sim::eval::eval_op(&node.op, &[(arg.as_slice(), info)], &node.out),
                };
                if node.op.linear_map(info).is_some() {
                    let direct = aecc_sim::eval::eval_op(&node.op, &[(arg.as_slice(), info)], &node.out);
                    prop_assert_eq!(&direct, &out, "node {}", node.name);
                }
                for &v in &out {
                    prop_assert!(node.out.interval.contains(v as i128), "node {} value {} outside {}", node.name, v, node.out.interval);
                }
                values.insert(id, out);
            }
        }
    }
}
