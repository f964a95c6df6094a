//! Whole small random networks: the reference simulator (`aecc_sim::Simulator`) against a
//! deliberately naive evaluator written here from the definitions of the ops, in exact
//! rational arithmetic (no floats anywhere, no integer grids, no shifts): every tensor is
//! a list of rational numbers, a quantizer is `q = fit(round(x / scale + zp))`,
//! `y = (q - zp) * scale`, a convolution is the sum over its window with zero padding.
//!
//! The networks mix convolutions (strides, asymmetric pads, dilations, groups), dense
//! layers, quantizers (every rounding mode, saturating and wrapping, narrow, signed and
//! unsigned, non-power-of-two scales, zero points, per-channel), ReLU, reshapes,
//! transposes and additions of two branches. Real-valued inputs go through the model's
//! input quantizer in both evaluators.
//!
//! The same networks check the saturation counter behind `aecc simulate
//! --check-overflow`: `run_counting` returns what `run` returns, and counts exactly the
//! values the naive evaluator sees fall outside a quantizer's range.

use aecc_ir::fixed::{Overflow, Rounding};
use aecc_ir::ops::{ConstTensor, Conv, Dense};
use aecc_ir::pool::Pool;
use aecc_ir::{ChannelQuant, DyadicScale, Graph, NodeId, Op, Quantizer};
use aecc_sim::{OverflowCounts, Simulator};
use num_bigint::BigInt;
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

type Q = BigRational;

fn int(x: i64) -> Q {
    Q::from_integer(BigInt::from(x))
}

fn pow2(e: i64) -> Q {
    if e >= 0 {
        Q::from_integer(BigInt::one() << e as usize)
    } else {
        Q::new(BigInt::one(), BigInt::one() << (-e) as usize)
    }
}

// ---------------------------------------------------------------------------------------
// The naive evaluator
// ---------------------------------------------------------------------------------------

fn round(v: &Q, mode: Rounding) -> BigInt {
    let floor = v.floor().to_integer();
    if v.is_integer() {
        return floor;
    }
    let negative = v.is_negative();
    let toward_zero = if negative { &floor + 1 } else { floor.clone() };
    let away = if negative { floor.clone() } else { &floor + 1 };
    let frac = v - Q::from_integer(floor.clone());
    let half = Q::new(1.into(), 2.into());
    match mode {
        Rounding::Floor => floor,
        Rounding::Ceil => floor + 1,
        Rounding::TowardZero => toward_zero,
        Rounding::AwayFromZero => away,
        _ if frac < half => floor,
        _ if frac > half => floor + 1,
        Rounding::HalfEven if floor.is_even() => floor,
        Rounding::HalfEven => floor + 1,
        Rounding::HalfOdd if floor.is_odd() => floor,
        Rounding::HalfOdd => floor + 1,
        Rounding::HalfAwayFromZero => away,
        Rounding::HalfTowardZero => toward_zero,
    }
}

/// Row-major multi-index of flat position `i` in `shape`.
fn unflatten(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for a in (0..shape.len()).rev() {
        idx[a] = i % shape[a];
        i /= shape[a];
    }
    idx
}

fn flatten(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (&i, &d)| acc * d + i)
}

/// The QONNX quantizer on real values; also returns how many values were out of range.
fn naive_quantize(q: &Quantizer, x: &[Q], shape: &[usize]) -> (Vec<Q>, u64) {
    let b = q.bit_width;
    let (lo, hi): (BigInt, BigInt) = if q.signed {
        (
            -(BigInt::one() << (b - 1) as usize) + q.narrow as i32,
            (BigInt::one() << (b - 1) as usize) - 1,
        )
    } else {
        (
            BigInt::zero(),
            (BigInt::one() << b as usize) - 1 - q.narrow as i32,
        )
    };
    let mut out_of_range = 0;
    let y = x
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let c = q.axis.map_or(0, |a| unflatten(i, shape)[a]);
            let ch = q.channels[c];
            let scale = int(ch.scale.mantissa as i64) * pow2(ch.scale.exponent as i64);
            let zp = BigInt::from(ch.zero_point);
            let t = v / &scale + Q::from_integer(zp.clone());
            let code = if q.signed && b == 1 {
                BigInt::from(if t.is_negative() { -1 } else { 1 })
            } else {
                let r = round(&t, q.rounding);
                let fitted = match q.overflow {
                    Overflow::Saturate => r.clone().clamp(lo.clone(), hi.clone()),
                    Overflow::Wrap => &lo + (&r - &lo).mod_floor(&(&hi - &lo + 1)),
                };
                out_of_range += (fitted != r) as u64;
                fitted
            };
            Q::from_integer(code - zp) * scale
        })
        .collect();
    (y, out_of_range)
}

fn real(t: &ConstTensor, i: usize) -> Q {
    int(t.data[i]) * unit(t.unit) * pow2(-(t.frac as i64))
}

fn unit(u: aecc_ir::Unit) -> Q {
    Q::new(BigInt::from(u.num), BigInt::from(u.den))
}

/// Max or average pooling over NCHW windows; padding taps are skipped, and counted in
/// an average's divisor when `count_include_pad` (no `ceil_mode`).
fn naive_pool(p: &Pool, max: bool, x: &[Q], xs: &[usize], out_shape: &[usize]) -> Vec<Q> {
    (0..out_shape.iter().product())
        .map(|o| {
            let [b, c, oy, ox] = unflatten(o, out_shape)[..] else {
                unreachable!()
            };
            let mut taps = Vec::new();
            for ky in 0..p.kernel[0] {
                for kx in 0..p.kernel[1] {
                    let iy = (oy * p.strides[0] + ky * p.dilations[0]) as i64 - p.pads[0] as i64;
                    let ix = (ox * p.strides[1] + kx * p.dilations[1]) as i64 - p.pads[1] as i64;
                    if iy < 0 || ix < 0 || iy >= xs[2] as i64 || ix >= xs[3] as i64 {
                        continue;
                    }
                    taps.push(x[flatten(&[b, c, iy as usize, ix as usize], xs)].clone());
                }
            }
            if max {
                taps.into_iter().max().expect("every window has a tap")
            } else {
                let count = if p.count_include_pad {
                    p.kernel[0] * p.kernel[1]
                } else {
                    taps.len()
                };
                taps.into_iter().fold(Q::zero(), |a, v| a + v) / int(count as i64)
            }
        })
        .collect()
}

fn naive_conv(c: &Conv, x: &[Q], xs: &[usize], out_shape: &[usize]) -> Vec<Q> {
    let w = &c.weight;
    let (cg, kh, kw) = (w.shape[1], w.shape[2], w.shape[3]);
    let per_group = w.shape[0] / c.group;
    (0..out_shape.iter().product())
        .map(|o| {
            let [b, m, oy, ox] = unflatten(o, out_shape)[..] else {
                unreachable!()
            };
            let g = m / per_group;
            let mut acc = c.bias.as_ref().map_or(Q::zero(), |bias| real(bias, m));
            for ci in 0..cg {
                for ky in 0..kh {
                    for kx in 0..kw {
                        // position in the padded input, then in the real one
                        let py = (oy * c.strides[0] + ky * c.dilations[0]) as i64;
                        let px = (ox * c.strides[1] + kx * c.dilations[1]) as i64;
                        let (iy, ix) = (py - c.pads[0] as i64, px - c.pads[1] as i64);
                        if iy < 0 || ix < 0 || iy >= xs[2] as i64 || ix >= xs[3] as i64 {
                            continue; // zero padding
                        }
                        let xv = &x[flatten(&[b, g * cg + ci, iy as usize, ix as usize], xs)];
                        acc += real(w, flatten(&[m, ci, ky, kx], &w.shape)) * xv;
                    }
                }
            }
            acc
        })
        .collect()
}

fn naive_dense(d: &Dense, x: &[Q], xs: &[usize]) -> Vec<Q> {
    let (k, m) = (d.weight.shape[0], d.weight.shape[1]);
    let rows = x.len() / xs[xs.len() - 1];
    let mut y = Vec::new();
    for r in 0..rows {
        for j in 0..m {
            let mut acc = d.bias.as_ref().map_or(Q::zero(), |b| real(b, j));
            for kk in 0..k {
                acc += &x[r * k + kk] * real(&d.weight, kk * m + j);
            }
            y.push(acc);
        }
    }
    y
}

fn naive_transpose(x: &[Q], xs: &[usize], perm: &[usize]) -> Vec<Q> {
    let out_shape: Vec<usize> = perm.iter().map(|&p| xs[p]).collect();
    (0..x.len())
        .map(|o| {
            let oi = unflatten(o, &out_shape);
            // output axis a is input axis perm[a]
            let mut ii = vec![0; xs.len()];
            for (a, &p) in perm.iter().enumerate() {
                ii[p] = oi[a];
            }
            x[flatten(&ii, xs)].clone()
        })
        .collect()
}

/// Evaluates the graph on real inputs; returns the outputs and, per quantizer node, the
/// number of out-of-range values.
fn naive_eval(g: &Graph, inputs: &[Vec<Q>]) -> (Vec<Vec<Q>>, HashMap<NodeId, u64>) {
    let mut vals: HashMap<NodeId, Vec<Q>> = HashMap::new();
    let mut over = HashMap::new();
    for (&id, x) in g.inputs().iter().zip(inputs) {
        let n = g.node(id);
        let Op::Input {
            from_float: Some(q),
        } = &n.op
        else {
            panic!("inputs have quantizers")
        };
        let (y, o) = naive_quantize(q, x, &n.out.shape);
        over.insert(id, o);
        vals.insert(id, y);
    }
    for id in g.compute_nodes().unwrap() {
        let n = g.node(id);
        let ops = g.operands(id);
        let x = &vals[&ops[0]];
        let xs = &g.node(ops[0]).out.shape;
        let y = match &n.op {
            Op::Quantize(q) => {
                let (y, o) = naive_quantize(q, x, xs);
                over.insert(id, o);
                y
            }
            Op::Relu => x
                .iter()
                .map(|v| {
                    if v.is_negative() {
                        Q::zero()
                    } else {
                        v.clone()
                    }
                })
                .collect(),
            Op::Conv(c) => naive_conv(c, x, xs, &n.out.shape),
            Op::Dense(d) => naive_dense(d, x, xs),
            Op::Add => x.iter().zip(&vals[&ops[1]]).map(|(a, b)| a + b).collect(),
            Op::Sub => x.iter().zip(&vals[&ops[1]]).map(|(a, b)| a - b).collect(),
            Op::Clip { lo, hi } => {
                let t = &g.node(ops[0]).out;
                let step = unit(t.unit) * pow2(-(t.ty.frac as i64));
                let (lo, hi) = (int(*lo) * &step, int(*hi) * &step);
                x.iter()
                    .map(|v| v.clone().clamp(lo.clone(), hi.clone()))
                    .collect()
            }
            Op::LeakyRelu {
                pos,
                neg,
                frac_shift,
            } => x
                .iter()
                .map(|v| {
                    let k = if v.is_negative() { *neg } else { *pos };
                    v * int(k) * pow2(-(*frac_shift as i64))
                })
                .collect(),
            Op::MaxPool(p) => naive_pool(p, true, x, xs, &n.out.shape),
            Op::AvgPool(p) => naive_pool(p, false, x, xs, &n.out.shape),
            Op::Reshape { .. } => x.clone(),
            Op::Transpose { perm } => naive_transpose(x, xs, perm),
            op => unimplemented!("{} is not generated", op.name()),
        };
        vals.insert(id, y);
    }
    let outs = g.outputs().iter().map(|(_, id)| vals[id].clone()).collect();
    (outs, over)
}

// ---------------------------------------------------------------------------------------
// Random networks
// ---------------------------------------------------------------------------------------

fn random_quantizer(r: &mut ChaCha8Rng, grid_frac: i32, channels: usize, axis: usize) -> Quantizer {
    let bits = r.random_range(1..=12u32);
    let signed = r.random_bool(0.6);
    let narrow = r.random_bool(0.2) && (signed || bits != 1);
    let per_channel = channels > 1 && r.random_bool(0.3);
    let n = if per_channel { channels } else { 1 };
    let e0 = -grid_frac + r.random_range(-4..=6);
    let chans = (0..n)
        .map(|_| ChannelQuant {
            scale: DyadicScale {
                mantissa: [1u64, 1, 1, 3, 5, 7, 9, 11, 255][r.random_range(0..9)],
                exponent: e0 + r.random_range(0..=2),
            },
            zero_point: if r.random_bool(0.3) {
                r.random_range(-4..=4)
            } else {
                0
            },
        })
        .collect();
    Quantizer {
        channels: chans,
        axis: per_channel.then_some(axis),
        bit_width: bits,
        signed,
        narrow,
        rounding: Rounding::ALL[r.random_range(0..Rounding::ALL.len())],
        overflow: if r.random_bool(0.25) {
            Overflow::Wrap
        } else {
            Overflow::Saturate
        },
    }
}

fn random_weights(r: &mut ChaCha8Rng, n: usize) -> Vec<i64> {
    (0..n)
        .map(|_| {
            if r.random_bool(0.2) {
                0
            } else {
                r.random_range(-31..=31)
            }
        })
        .collect()
}

/// A random network of 2 to 8 layers on a random input. Layers that type inference
/// refuses (e.g. a result wider than 64 bits) are skipped.
fn random_network(seed: u64) -> Graph {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let mut g = Graph::new("random");
    let (c, h, w) = (
        r.random_range(1..=3),
        r.random_range(2..=6),
        r.random_range(2..=6),
    );
    let shape = if r.random_bool(0.7) {
        vec![1, c, h, w]
    } else {
        vec![1, c * h]
    };
    let in_frac = r.random_range(0..=6);
    let qin = random_quantizer(&mut r, in_frac, shape[1], 1);
    let mut x = g.add_input("x", shape, qin.out_type(), Some(qin));
    let layers = r.random_range(2..=8);
    let mut k = 0;
    for _ in 0..layers * 3 {
        if k >= layers {
            break;
        }
        let info = g.node(x).out.clone();
        let rank = info.shape.len();
        let name = format!("n{k}");
        let op = match r.random_range(0..12) {
            0 | 1 if rank == 4 => {
                let ch = info.shape[1];
                let group = if ch > 1 && r.random_bool(0.3) { ch } else { 1 };
                let m = group * r.random_range(1..=3);
                let (kh, kw) = (r.random_range(1..=3), r.random_range(1..=3));
                let cg = ch / group;
                Op::Conv(Conv {
                    weight: ConstTensor::new(
                        vec![m, cg, kh, kw],
                        random_weights(&mut r, m * cg * kh * kw),
                        r.random_range(0..=6),
                    ),
                    bias: r.random_bool(0.5).then(|| {
                        ConstTensor::new(vec![m], random_weights(&mut r, m), r.random_range(0..=10))
                    }),
                    strides: [r.random_range(1..=2), r.random_range(1..=2)],
                    pads: std::array::from_fn(|_| r.random_range(0..=2)),
                    dilations: [r.random_range(1..=2), r.random_range(1..=2)],
                    group,
                })
            }
            0 | 1 => {
                let kk = info.shape[rank - 1];
                let m = r.random_range(1..=5);
                Op::Dense(Dense {
                    weight: ConstTensor::new(
                        vec![kk, m],
                        random_weights(&mut r, kk * m),
                        r.random_range(0..=6),
                    ),
                    bias: r.random_bool(0.5).then(|| {
                        ConstTensor::new(vec![m], random_weights(&mut r, m), r.random_range(0..=10))
                    }),
                })
            }
            2 | 3 => {
                let axis = rank.min(2) - 1; // channels (NCHW) or features
                let q = random_quantizer(&mut r, info.ty.frac, info.shape[axis], axis);
                Op::Quantize(q)
            }
            4 => Op::Relu,
            5 => Op::Reshape {
                shape: vec![1, info.len()],
            },
            8 => {
                let (a, b) = (
                    r.random_range(info.interval.lo..=info.interval.hi) as i64,
                    r.random_range(info.interval.lo..=info.interval.hi) as i64,
                );
                Op::Clip {
                    lo: a.min(b),
                    hi: a.max(b),
                }
            }
            9 => {
                let frac_shift = r.random_range(0..=3);
                Op::LeakyRelu {
                    pos: 1 << frac_shift,
                    neg: r.random_range(-2..=5),
                    frac_shift,
                }
            }
            10 | 11 if rank == 4 => {
                let kernel = [r.random_range(1..=3), r.random_range(1..=3)];
                let pads = [
                    r.random_range(0..kernel[0]),
                    r.random_range(0..kernel[1]),
                    r.random_range(0..kernel[0]),
                    r.random_range(0..kernel[1]),
                ];
                let p = Pool {
                    kernel,
                    strides: [r.random_range(1..=2), r.random_range(1..=2)],
                    pads,
                    dilations: [1, 1],
                    ceil_mode: false,
                    count_include_pad: r.random_bool(0.5),
                };
                if r.random_bool(0.5) {
                    Op::MaxPool(p)
                } else {
                    Op::AvgPool(p)
                }
            }
            6 => {
                let mut perm: Vec<usize> = (0..rank).collect();
                for i in (1..rank).rev() {
                    perm.swap(i, r.random_range(0..=i));
                }
                Op::Transpose { perm }
            }
            _ => {
                // two quantized branches of x, added
                let axis = rank.min(2) - 1;
                let qa = random_quantizer(&mut r, info.ty.frac, info.shape[axis], axis);
                let qb = random_quantizer(&mut r, info.ty.frac, info.shape[axis], axis);
                let (Ok(a), Ok(b)) = (
                    g.add_node(format!("{name}a"), Op::Quantize(qa), &[x], "branch a"),
                    g.add_node(format!("{name}b"), Op::Quantize(qb), &[x], "branch b"),
                ) else {
                    continue;
                };
                let op = if r.random_bool(0.5) { Op::Add } else { Op::Sub };
                if let Ok(y) = g.add_node(name, op, &[a, b], "add") {
                    x = y;
                    k += 1;
                }
                continue;
            }
        };
        if let Ok(y) = g.add_node(name.clone(), op, &[x], name) {
            x = y;
            k += 1;
        }
    }
    g.add_output("y", x);
    g.remove_dead_nodes();
    g
}

/// Real inputs: exact small dyadic values around the input quantizer's range, ties and
/// out-of-range values included.
fn random_inputs(r: &mut ChaCha8Rng, g: &Graph) -> Vec<Vec<f64>> {
    g.inputs()
        .iter()
        .map(|&id| {
            let t = &g.node(id).out;
            let step = 2f64.powi(-t.ty.frac);
            let span = (t.interval.hi - t.interval.lo) as f64 * step;
            (0..t.len())
                .map(|_| {
                    let base = t.interval.lo as f64 * step - span / 4.0
                        + r.random_range(0.0..1.5) * span.max(step);
                    // snap to a grid 8x finer than the input's: hits ties and exact values
                    (base / step * 8.0).round() * step / 8.0
                })
                .collect()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn simulator_equals_naive_rational_evaluator(seed in any::<u64>(), data_seed in any::<u64>()) {
        let g = random_network(seed);
        let sim = Simulator::new(&g).unwrap();
        let mut r = ChaCha8Rng::seed_from_u64(data_seed);
        for _ in 0..8 {
            let reals = random_inputs(&mut r, &g);
            let exact: Vec<Vec<Q>> = reals
                .iter()
                .map(|v| v.iter().map(|&x| Q::from_float(x).unwrap()).collect())
                .collect();
            let (want, want_over) = naive_eval(&g, &exact);

            let mut counts = OverflowCounts::new(&sim);
            let ints: Vec<Vec<i64>> = (0..reals.len())
                .map(|i| sim.quantize_input_counting(i, &reals[i], &mut counts).unwrap())
                .collect();
            let refs: Vec<&[i64]> = ints.iter().map(|v| v.as_slice()).collect();
            let got = sim.run(&refs).unwrap();
            prop_assert_eq!(&sim.run_counting(&refs, &mut counts).unwrap(), &got);

            for (k, (_, id)) in g.outputs().iter().enumerate() {
                let out = &g.node(*id).out;
                let step = unit(out.unit) * pow2(-(out.ty.frac as i64));
                let got_real: Vec<Q> = got[k].iter().map(|&v| int(v) * &step).collect();
                prop_assert_eq!(&got_real, &want[k], "output {} of network {}", k, seed);
            }
            for layer in counts.layers(&sim) {
                prop_assert_eq!(layer.overflowed, want_over[&layer.node], "quantizer {}", layer.name);
            }
        }
    }
}

#[test]
fn random_networks_are_varied() {
    // the generator reaches every op, both overflow modes and per-channel quantizers
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let g = random_network(seed);
        for id in g.node_ids() {
            let n = g.node(id);
            seen.insert(n.op.name().to_string());
            if let Op::Quantize(q) = &n.op {
                seen.insert(format!("{:?}", q.overflow));
                if q.axis.is_some() {
                    seen.insert("per-channel".into());
                }
                if !q.is_pow2() {
                    seen.insert("non-pow2".into());
                }
            }
            if let Op::Conv(c) = &n.op {
                if c.group > 1 {
                    seen.insert("grouped".into());
                }
            }
        }
    }
    for want in [
        "conv",
        "dense",
        "quantize",
        "relu",
        "reshape",
        "transpose",
        "add",
        "sub",
        "clip",
        "leaky_relu",
        "max_pool",
        "avg_pool",
        "Wrap",
        "Saturate",
        "per-channel",
        "non-pow2",
        "grouped",
    ] {
        assert!(seen.contains(want), "{want} never generated: {seen:?}");
    }
}

/// A tensor of `len` values anywhere in a `width`-bit type on grid `2^-frac`.
fn wide_input(
    g: &mut Graph,
    name: &str,
    len: usize,
    width: u32,
    frac: i32,
    signed: bool,
) -> NodeId {
    let ty = aecc_ir::FixedType::exact(width, frac, signed);
    g.add_input(name, vec![1, len], ty, None)
}

fn extremes_and_random(r: &mut ChaCha8Rng, t: &aecc_ir::TensorInfo) -> Vec<i64> {
    let (lo, hi) = (t.interval.lo as i64, t.interval.hi as i64);
    (0..t.len())
        .map(|i| match i % 4 {
            0 => lo,
            1 => hi,
            _ => r.random_range(lo..=hi),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Fixed-point addition: operands of any width up to 62 bits on grids up to 40
    /// binary orders apart are aligned and added exactly, inside the inferred interval.
    #[test]
    fn add_of_two_grids_is_exact(wa in 1u32..=62, wb in 1u32..=62, fa in -20i32..20, fb in -20i32..20, sa in any::<bool>(), sb in any::<bool>(), seed in any::<u64>()) {
        let mut g = Graph::new("add");
        let a = wide_input(&mut g, "a", 4, wa, fa, sa);
        let b = wide_input(&mut g, "b", 4, wb, fb, sb);
        let Ok(y) = g.add_node("y", Op::Add, &[a, b], "add") else {
            // refused (result wider than 64 bits): fine, as long as it is an error
            return Ok(());
        };
        g.add_output("y", y);
        let sim = Simulator::new(&g).unwrap();
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        let xa = extremes_and_random(&mut r, &g.node(a).out);
        let xb = extremes_and_random(&mut r, &g.node(b).out);
        let out = sim.run(&[&xa, &xb]).unwrap().swap_remove(0);
        let t = &g.node(y).out;
        for i in 0..4 {
            let want = int(xa[i]) * pow2(-(fa as i64)) + int(xb[i]) * pow2(-(fb as i64));
            prop_assert_eq!(int(out[i]) * pow2(-(t.ty.frac as i64)), want);
            prop_assert!(t.interval.contains(out[i] as i128));
        }
    }

    /// Fixed-point multiplication by constants (a dense layer): wide inputs times wide
    /// weights plus a bias on another grid, exactly.
    #[test]
    fn products_with_constants_are_exact(wx in 1u32..=40, fx in -10i32..10, signed in any::<bool>(), k in 1usize..6, wbits in 1u32..=20, fw in -10i32..10, fb in -10i32..30, seed in any::<u64>()) {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        let mut g = Graph::new("dense");
        let x = wide_input(&mut g, "x", k, wx, fx, signed);
        let bound = (1i64 << (wbits - 1)) - 1;
        let weights: Vec<i64> = (0..k * 2).map(|i| match i % 3 { 0 => bound, 1 => -bound - 1, _ => r.random_range(-bound..=bound) }).collect();
        let d = Dense {
            weight: ConstTensor::new(vec![k, 2], weights, fw),
            bias: Some(ConstTensor::new(vec![2], vec![r.random_range(-1000..=1000), -7], fb)),
        };
        let Ok(y) = g.add_node("y", Op::Dense(d.clone()), &[x], "dense") else {
            return Ok(());
        };
        g.add_output("y", y);
        let sim = Simulator::new(&g).unwrap();
        let xs = extremes_and_random(&mut r, &g.node(x).out);
        let xs_real: Vec<Q> = xs.iter().map(|&v| int(v) * pow2(-(fx as i64))).collect();
        let want = naive_dense(&d, &xs_real, &[1, k]);
        let out = sim.run(&[&xs]).unwrap().swap_remove(0);
        let t = &g.node(y).out;
        for j in 0..2 {
            prop_assert_eq!(&(int(out[j]) * pow2(-(t.ty.frac as i64))), &want[j]);
            prop_assert!(t.interval.contains(out[j] as i128));
        }
    }
}
