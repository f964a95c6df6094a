//! The batch evaluator equals the scalar oracle on every output value: random small
//! networks (conv with random pads, strides, dilations and groups; quantizers with every
//! rounding mode, zero points, narrow ranges, wrap, per-channel and non-power-of-two
//! scales; relu; reshape; transpose; add; dense), random inputs including the extremes
//! of the input grid, narrow and wide types (the latter force the i64 and i128 kernels
//! and the exact quantizer). Debug builds run the kernels with overflow checks, so a
//! wrong width proof fails here even where wrapping would hide it.
//!
//! `random_networks_cover_every_op_and_kernel` checks that the random networks reach
//! every op of the IR with its variants and every kernel and width; the i128
//! accumulator, which the IR's i64 value bound keeps out of random networks, has its own
//! random test. Mutation check (2026-11-25): 16 hand-made mutants of the batch path
//! (half-even and ceil rounding constants, the upper clamp, wrap, a dropped zero point,
//! a dropped output shift, a skipped SIMD lane, a dropped bias, relu, swapped add shifts,
//! an identity gather, conv dilation, group and padding taps, a too-narrow width choice,
//! a wrong lane of a partial tile) each made the random-network property tests fail.

use aecc_ir::fixed::{FixedType, Overflow, Rounding};
use aecc_ir::ops::{ConstTensor, Conv, Dense};
use aecc_ir::{ChannelQuant, DyadicScale, Graph, NodeId, Op, Quantizer};
use aecc_sim::batch::{Isa, Kernel, Width};
use aecc_sim::{BatchSimulator, SimError, Simulator};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

/// How large the random numbers of a network are.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scale {
    /// ECON-T-like: narrow inputs and weights (i32 kernels).
    Narrow,
    /// Wide inputs, weights and biases (i64/i128 kernels, exact quantizers).
    Wide,
}

fn mode(rng: &mut ChaCha8Rng) -> Rounding {
    Rounding::ALL[rng.random_range(0..Rounding::ALL.len())]
}

/// A random quantizer for a tensor of `shape` on grid `2^-in_frac`.
fn random_quantizer(
    rng: &mut ChaCha8Rng,
    shape: &[usize],
    in_frac: i32,
    scale: Scale,
) -> Quantizer {
    let bits = match scale {
        Scale::Narrow => rng.random_range(1..=12),
        Scale::Wide => rng.random_range(1..=40),
    };
    let signed = rng.random_bool(0.6);
    let per_channel = rng.random_bool(0.3) && !shape.is_empty();
    let axis = rng.random_range(0..shape.len().max(1));
    let nch = if per_channel { shape[axis] } else { 1 };
    let channels = (0..nch)
        .map(|_| {
            // the output grid near the input grid, sometimes coarser, sometimes finer
            let exponent = -in_frac + rng.random_range(-6..=10);
            let mantissa = if rng.random_bool(0.15) {
                [3u64, 5, 7, 11, 255][rng.random_range(0..5)]
            } else {
                1
            };
            let zero_point = if rng.random_bool(0.3) {
                rng.random_range(-8..=8)
            } else {
                0
            };
            ChannelQuant {
                scale: DyadicScale { mantissa, exponent },
                zero_point,
            }
        })
        .collect();
    let mut narrow = rng.random_bool(0.25);
    if narrow && !signed && bits == 1 {
        narrow = false;
    }
    Quantizer {
        channels,
        axis: per_channel.then_some(axis),
        bit_width: bits,
        signed,
        narrow,
        rounding: mode(rng),
        overflow: if rng.random_bool(0.2) {
            Overflow::Wrap
        } else {
            Overflow::Saturate
        },
    }
}

struct Builder {
    g: Graph,
    n: usize,
}

impl Builder {
    fn add(&mut self, op: Op, args: &[NodeId]) -> Option<NodeId> {
        self.n += 1;
        let name = format!("{}{}", op.name(), self.n);
        self.g.add_node(name.clone(), op, args, name).ok()
    }
    fn shape(&self, id: NodeId) -> Vec<usize> {
        self.g.node(id).out.shape.clone()
    }
    fn frac(&self, id: NodeId) -> i32 {
        self.g.node(id).out.ty.frac
    }
}

fn weights(rng: &mut ChaCha8Rng, n: usize, scale: Scale) -> Vec<i64> {
    let max: i64 = match scale {
        Scale::Narrow => 31,
        Scale::Wide => 1 << rng.random_range(4..=24),
    };
    (0..n)
        .map(|_| {
            if rng.random_bool(0.2) {
                0
            } else {
                rng.random_range(-max..=max)
            }
        })
        .collect()
}

fn bias(rng: &mut ChaCha8Rng, m: usize, scale: Scale) -> Option<ConstTensor> {
    let max: i64 = match scale {
        Scale::Narrow => 500,
        Scale::Wide => 1 << rng.random_range(8..=40),
    };
    rng.random_bool(0.6).then(|| {
        ConstTensor::new(
            vec![m],
            (0..m).map(|_| rng.random_range(-max..=max)).collect(),
            rng.random_range(-2..=14),
        )
    })
}

fn random_conv(b: &mut Builder, rng: &mut ChaCha8Rng, x: NodeId, scale: Scale) -> Option<NodeId> {
    let s = b.shape(x);
    let c = s[1];
    #[allow(clippy::manual_is_multiple_of)] // `is_multiple_of` needs Rust 1.87
    let group = if c % 2 == 0 && rng.random_bool(0.3) {
        2
    } else {
        1
    };
    let m = group * rng.random_range(1..=3);
    let kh = rng.random_range(1..=3);
    let kw = rng.random_range(1..=3);
    let conv = Conv {
        weight: ConstTensor::new(
            vec![m, c / group, kh, kw],
            weights(rng, m * (c / group) * kh * kw, scale),
            rng.random_range(-2..=8),
        ),
        bias: bias(rng, m, scale),
        strides: [rng.random_range(1..=3), rng.random_range(1..=3)],
        pads: [
            rng.random_range(0..=2),
            rng.random_range(0..=2),
            rng.random_range(0..=2),
            rng.random_range(0..=2),
        ],
        dilations: [rng.random_range(1..=2), rng.random_range(1..=2)],
        group,
    };
    b.add(Op::Conv(conv), &[x])
}

fn random_dense(b: &mut Builder, rng: &mut ChaCha8Rng, x: NodeId, scale: Scale) -> Option<NodeId> {
    let k = *b.shape(x).last().unwrap();
    let m = rng.random_range(1..=6);
    let d = Dense {
        weight: ConstTensor::new(
            vec![k, m],
            weights(rng, k * m, scale),
            rng.random_range(-2..=8),
        ),
        bias: bias(rng, m, scale),
    };
    b.add(Op::Dense(d), &[x])
}

fn random_perm(rng: &mut ChaCha8Rng, rank: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..rank).collect();
    for i in (1..rank).rev() {
        p.swap(i, rng.random_range(0..=i));
    }
    p
}

/// A random network: input, 2 to 7 random layers, output. Layers whose types would
/// exceed 64 bits are rejected by the IR and skipped.
fn random_network(seed: u64, scale: Scale) -> Graph {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut b = Builder {
        g: Graph::new("random"),
        n: 0,
    };
    let shape = vec![
        1,
        rng.random_range(1..=3),
        rng.random_range(1..=6),
        rng.random_range(1..=6),
    ];
    let in_bits = match scale {
        Scale::Narrow => rng.random_range(1..=12),
        Scale::Wide => rng.random_range(16..=48),
    };
    let in_frac = rng.random_range(-2..=10);
    let signed = rng.random_bool(0.6);
    let qin = Quantizer::pow2(in_bits, in_frac, signed, mode(&mut rng));
    let mut x = b.g.add_input("x", shape, qin.out_type(), Some(qin));
    let layers = rng.random_range(2..=7);
    for _ in 0..layers {
        let s = b.shape(x);
        let next = match rng.random_range(0..9) {
            0 | 1 if s.len() == 4 => random_conv(&mut b, &mut rng, x, scale),
            0 | 1 => random_dense(&mut b, &mut rng, x, scale),
            2 | 3 => {
                let q = random_quantizer(&mut rng, &s, b.frac(x), scale);
                b.add(Op::Quantize(q), &[x])
            }
            4 => b.add(Op::Relu, &[x]),
            5 => b.add(
                Op::Transpose {
                    perm: random_perm(&mut rng, s.len()),
                },
                &[x],
            ),
            6 => {
                // residual: x + f(x)
                let branch = match rng.random_range(0..3) {
                    0 => b.add(Op::Relu, &[x]),
                    1 => {
                        let q = random_quantizer(&mut rng, &s, b.frac(x), scale);
                        b.add(Op::Quantize(q), &[x])
                    }
                    _ => Some(x),
                };
                branch.and_then(|y| {
                    let args = if rng.random_bool(0.5) { [x, y] } else { [y, x] };
                    b.add(Op::Add, &args)
                })
            }
            7 => {
                let n: usize = s.iter().product();
                b.add(Op::Reshape { shape: vec![1, n] }, &[x])
            }
            _ if s.len() == 2 => random_dense(&mut b, &mut rng, x, scale),
            _ => {
                // reshape a 4-D tensor to another 4-D shape (swap H and W sizes)
                b.add(
                    Op::Reshape {
                        shape: vec![s[0], s[1], s[3], s[2]],
                    },
                    &[x],
                )
            }
        };
        if let Some(n) = next {
            x = n;
        }
    }
    if rng.random_bool(0.5) {
        let s = b.shape(x);
        let q = random_quantizer(&mut rng, &s, b.frac(x), scale);
        if let Some(n) = b.add(Op::Quantize(q), &[x]) {
            x = n;
        }
    }
    b.g.add_output("y", x);
    b.g
}

/// `n` random samples on the input grid; the first samples are all-minimum, all-maximum,
/// all-zero and alternating extremes, the others mix uniform values with extremes.
fn random_inputs(sim: &Simulator, n: usize, rng: &mut ChaCha8Rng) -> Vec<i64> {
    let t: FixedType = sim.input_info(0).ty;
    let (lo, hi) = (t.min_int() as i64, t.max_int() as i64);
    let len = sim.input_info(0).len();
    let mut x = Vec::with_capacity(n * len);
    for s in 0..n {
        for i in 0..len {
            x.push(match s {
                0 => lo,
                1 => hi,
                2 => 0,
                3 => [lo, hi][i % 2],
                _ => match rng.random_range(0..6) {
                    0 => lo,
                    1 => hi,
                    2 => [lo + 1, hi - 1, 0, 1, -1][rng.random_range(0..5)].clamp(lo, hi),
                    _ => rng.random_range(lo..=hi),
                },
            });
        }
    }
    x
}

fn scalar_batch(sim: &Simulator, x: &[i64], n: usize) -> Vec<i64> {
    let len = sim.input_info(0).len();
    (0..n)
        .flat_map(|s| sim.run_one(&x[s * len..(s + 1) * len]).unwrap())
        .collect()
}

fn check_network(g: &Graph, data_seed: u64, n: usize) -> Result<Vec<Kernel>, TestCaseError> {
    let sim = Simulator::new(g).unwrap();
    let batch = sim.compile_batch().unwrap();
    prop_assert_eq!(batch.scalar_fallback(), None);
    let mut rng = ChaCha8Rng::seed_from_u64(data_seed);
    let x = random_inputs(&sim, n, &mut rng);
    let want = scalar_batch(&sim, &x, n);
    for isa in [Isa::Portable, Isa::detect()] {
        let got = batch.clone().with_isa(isa).run_batch(&x, n).unwrap();
        prop_assert_eq!(&got, &want, "isa {:?}, plan {:?}", isa, batch.kernels());
    }
    Ok(batch.kernels().iter().map(|k| k.kernel).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn batch_equals_scalar_on_narrow_networks(seed in any::<u64>(), data_seed in any::<u64>(), n in 1usize..70) {
        let g = random_network(seed, Scale::Narrow);
        check_network(&g, data_seed, n)?;
    }

    #[test]
    fn batch_equals_scalar_on_wide_networks(seed in any::<u64>(), data_seed in any::<u64>(), n in 1usize..40) {
        let g = random_network(seed, Scale::Wide);
        check_network(&g, data_seed, n)?;
    }
}

/// What a set of random networks exercises: every op of the IR with its variants, and
/// every kernel and width of the batch plan.
fn features(g: &Graph, kernels: &[Kernel], seen: &mut HashSet<String>) {
    let mut put = |f: String| {
        seen.insert(f);
    };
    for k in kernels {
        match k {
            Kernel::Linear { acc, .. } => put(format!("linear {acc}")),
            Kernel::QuantizePow2 { width } => put(format!("quantize {width}")),
            Kernel::Relu { width } => put(format!("relu {width}")),
            Kernel::Add { width } => put(format!("add {width}")),
            k => put(format!("{k}")),
        }
    }
    for id in g.live_order().unwrap() {
        let node = g.node(id);
        put(format!("op {}", node.op.name()));
        match &node.op {
            Op::Conv(c) => {
                let [_, _, kh, kw] = c.weight.shape[..] else {
                    unreachable!()
                };
                put(format!("conv group {}", c.group.min(2)));
                if c.strides.iter().any(|&s| s > 1) {
                    put("conv stride".into());
                }
                if c.dilations.iter().any(|&d| d > 1) {
                    put("conv dilation".into());
                }
                if c.pads.iter().any(|&p| p > 0) {
                    put("conv padding".into());
                }
                if kh * kw > 1 {
                    put("conv window".into());
                }
                if c.bias.is_some() {
                    put("conv bias".into());
                }
            }
            Op::Dense(d) => put(format!("dense bias {}", d.bias.is_some())),
            Op::Quantize(q)
            | Op::Input {
                from_float: Some(q),
            } => {
                let what = node.op.name();
                put(format!("{what} {:?}", q.rounding));
                put(format!("{what} {:?}", q.overflow));
                put(format!("{what} signed {}", q.signed));
                if q.axis.is_some() {
                    put(format!("{what} per channel"));
                }
                if !q.is_pow2() {
                    put(format!("{what} non-power-of-two scale"));
                }
                if q.channels.iter().any(|c| c.zero_point != 0) {
                    put(format!("{what} zero point"));
                }
                if q.narrow {
                    put(format!("{what} narrow"));
                }
                if q.is_bipolar() {
                    put(format!("{what} bipolar"));
                }
                if let Op::Quantize(_) = node.op {
                    let in_frac = g.node(g.operands(id)[0]).out.ty.frac;
                    let out_frac = node.out.ty.frac;
                    put(format!("quantize grid {:?}", out_frac.cmp(&in_frac)));
                }
            }
            Op::Add => {
                let fr: Vec<i32> = g
                    .operands(id)
                    .iter()
                    .map(|&a| g.node(a).out.ty.frac)
                    .collect();
                put(format!("add aligned {}", fr[0] == fr[1]));
            }
            Op::Transpose { perm } if perm.windows(2).any(|w| w[0] > w[1]) => {
                put("transpose moves axes".into());
            }
            _ => {}
        }
    }
}

/// The random networks of the property tests above reach every op of the IR
/// (`Input`, `Quantize`, `Relu`, `Dense`, `Conv`, `Add`, `Reshape`, `Transpose`) with
/// its variants, and every kernel and width of the batch plan, so they cover the
/// fallbacks, not just the i32 path.
#[test]
fn random_networks_cover_every_op_and_kernel() {
    let mut seen = HashSet::new();
    for seed in 0..400u64 {
        let scale = if seed % 2 == 0 {
            Scale::Narrow
        } else {
            Scale::Wide
        };
        let g = random_network(seed, scale);
        let kernels = check_network(&g, seed, 20).unwrap();
        features(&g, &kernels, &mut seen);
    }
    let mut want: Vec<String> = [
        "op input",
        "op quantize",
        "op relu",
        "op dense",
        "op conv",
        "op add",
        "op reshape",
        "op transpose",
        "conv group 1",
        "conv group 2",
        "conv stride",
        "conv dilation",
        "conv padding",
        "conv window",
        "conv bias",
        "dense bias true",
        "dense bias false",
        "quantize per channel",
        "quantize non-power-of-two scale",
        "quantize zero point",
        "quantize narrow",
        "quantize bipolar",
        "quantize Wrap",
        "quantize Saturate",
        "quantize signed true",
        "quantize signed false",
        "quantize grid Less",
        "quantize grid Equal",
        "quantize grid Greater",
        "input signed true",
        "input signed false",
        "add aligned true",
        "add aligned false",
        "transpose moves axes",
        "exact quantizer (i128)",
        "transpose (row gather)",
        "reshape (no-op)",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for m in Rounding::ALL {
        want.push(format!("quantize {m:?}"));
        want.push(format!("input {m:?}"));
    }
    for w in [Width::I32, Width::I64] {
        for k in ["linear", "quantize", "relu", "add"] {
            want.push(format!("{k} {w}"));
        }
    }
    let missing: Vec<&String> = want.iter().filter(|f| !seen.contains(*f)).collect();
    assert!(
        missing.is_empty(),
        "not covered: {missing:?}\nseen: {seen:?}"
    );
}

fn dense_net(in_bits: u32, signed: bool, w: Vec<i64>, bias: i64) -> Graph {
    let k = w.len();
    let mut g = Graph::new("wide");
    let t = FixedType::exact(in_bits, 0, signed);
    let x = g.add_input("x", vec![1, k], t, None);
    let d = Dense {
        weight: ConstTensor::new(vec![k, 1], w, 0),
        bias: Some(ConstTensor::new(vec![1], vec![bias], 0)),
    };
    let y = g.add_node("d", Op::Dense(d), &[x], "d").unwrap();
    g.add_output("y", y);
    g
}

fn extremes(sim: &Simulator) -> (Vec<i64>, usize) {
    let t = sim.input_info(0).ty;
    let len = sim.input_info(0).len();
    let (lo, hi) = (t.min_int() as i64, t.max_int() as i64);
    let mut x = Vec::new();
    let mut n = 0;
    for mask in 0..(1u32 << len) {
        for i in 0..len {
            x.push(if mask >> i & 1 == 1 { hi } else { lo });
        }
        n += 1;
    }
    for v in [0, 1, -1, hi / 2, lo / 2] {
        x.extend(std::iter::repeat_n(v.clamp(lo, hi), len));
        n += 1;
    }
    (x, n)
}

/// Random dense layers whose partial sums leave `i64` while the result, pulled back by
/// the bias, does not: the `i128` accumulator (which random networks cannot reach, the
/// IR keeps every value in `i64`) against the scalar path, on random inputs with the
/// extremes.
#[test]
fn random_i128_accumulators_equal_the_scalar_path() {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let (mut wide, mut cases) = (0, 0);
    while cases < 200 {
        let k = rng.random_range(1..=5);
        let bits = rng.random_range(34..=44);
        let signed = rng.random_bool(0.3);
        let w: Vec<i64> = (0..k)
            .map(|_| {
                let m = 1i64 << rng.random_range(14..=23);
                if rng.random_bool(0.7) {
                    rng.random_range(m / 2..=m)
                } else {
                    rng.random_range(-m..=m)
                }
            })
            .collect();
        let t = FixedType::exact(bits, 0, signed);
        let (lo, hi) = (t.min_int(), t.max_int());
        let (mut s_lo, mut s_hi) = (0i128, 0i128);
        for &wi in &w {
            let (a, b) = (wi as i128 * lo, wi as i128 * hi);
            s_lo += a.min(b);
            s_hi += a.max(b);
        }
        // keep layers whose plain sum leaves i64 but whose span does not
        let beyond = s_lo < i64::MIN as i128 || s_hi > i64::MAX as i128;
        if !beyond || s_hi - s_lo >= 1 << 64 {
            continue;
        }
        cases += 1;
        let bias = (-(s_lo + s_hi) / 2).clamp(i64::MIN as i128, i64::MAX as i128) as i64;
        let g = dense_net(bits, signed, w, bias);
        let sim = Simulator::new(&g).unwrap();
        let batch = sim.compile_batch().unwrap();
        if matches!(
            batch.kernels()[0].kernel,
            Kernel::Linear {
                acc: Width::I128,
                ..
            }
        ) {
            wide += 1;
        }
        let n = 50;
        let x = random_inputs(&sim, n, &mut rng);
        for isa in [Isa::Portable, Isa::detect()] {
            let got = batch.clone().with_isa(isa).run_batch(&x, n).unwrap();
            assert_eq!(got, scalar_batch(&sim, &x, n));
        }
    }
    assert!(
        wide > 150,
        "only {wide} of {cases} layers planned with i128 accumulators"
    );
}

/// Partial sums beyond the final interval: `x in [0, 2^40)`, `w = 2^23, 2^23` makes the
/// sum reach `2^64 - 2^24`, and a bias of `-2^63` pulls the result back into 64 bits. The
/// prefix bound must send this to the i128 accumulator.
#[test]
fn partial_sums_beyond_i64_use_i128() {
    let g = dense_net(40, false, vec![1 << 23, 1 << 23], i64::MIN);
    let sim = Simulator::new(&g).unwrap();
    let batch = sim.compile_batch().unwrap();
    assert_eq!(
        batch.kernels()[0].kernel,
        Kernel::Linear {
            acc: Width::I128,
            terms: 2
        }
    );
    let (x, n) = extremes(&sim);
    assert_eq!(batch.run_batch(&x, n).unwrap(), scalar_batch(&sim, &x, n));
}

/// The same with a final interval inside i32 but a prefix outside it: i64.
#[test]
fn partial_sums_beyond_i32_use_i64() {
    // x in [0, 2^16), w = 2^15, 2^15, -2^15: prefix up to 2^32, bias -2^31
    let g = dense_net(16, false, vec![1 << 15, 1 << 15], -(1 << 31));
    let sim = Simulator::new(&g).unwrap();
    let batch = sim.compile_batch().unwrap();
    assert!(matches!(
        batch.kernels()[0].kernel,
        Kernel::Linear {
            acc: Width::I64,
            ..
        }
    ));
    let (x, n) = extremes(&sim);
    assert_eq!(batch.run_batch(&x, n).unwrap(), scalar_batch(&sim, &x, n));
    // and a small one stays in i32
    let g = dense_net(10, true, vec![31, -32, 7], 1000);
    let batch = BatchSimulator::new(&g).unwrap();
    assert!(matches!(
        batch.kernels()[0].kernel,
        Kernel::Linear {
            acc: Width::I32,
            ..
        }
    ));
}

/// `a << sa + b << sb` where `a << sa` leaves i64 although the sum does not: two
/// bias-only dense layers (constants far from zero) on different grids.
#[test]
fn add_beyond_i64_uses_i128() {
    let mut g = Graph::new("add");
    let x = g.add_input("x", vec![1, 1], FixedType::exact(4, 0, true), None);
    let konst = |v: i64, frac: i32| Dense {
        weight: ConstTensor::new(vec![1, 1], vec![0], 0),
        bias: Some(ConstTensor::new(vec![1], vec![v], frac)),
    };
    let a = g
        .add_node("a", Op::Dense(konst(1 << 62, 0)), &[x], "a")
        .unwrap();
    let b = g
        .add_node("b", Op::Dense(konst(i64::MIN + 3, 1)), &[x], "b")
        .unwrap();
    // a is on grid 2^0, b on 2^-1: a << 1 = 2^63 does not fit i64, the sum is 3
    let y = g.add_node("y", Op::Add, &[a, b], "y").unwrap();
    g.add_output("y", y);
    let sim = Simulator::new(&g).unwrap();
    let batch = sim.compile_batch().unwrap();
    assert_eq!(
        batch.kernels().last().unwrap().kernel,
        Kernel::Add { width: Width::I128 }
    );
    let x = vec![-8, 7, 0];
    assert_eq!(batch.run_batch(&x, 3).unwrap(), vec![3, 3, 3]);
    assert_eq!(batch.run_batch(&x, 3).unwrap(), scalar_batch(&sim, &x, 3));
}

/// A quantizer whose coarse input grid needs a shift too large for i64 falls back to
/// the exact quantizer; one with a small shift uses i64.
#[test]
fn quantizer_widths() {
    for (in_bits, in_frac, out_frac, want) in [
        (8, 0, 4, Kernel::QuantizePow2 { width: Width::I32 }),
        (30, 0, 20, Kernel::QuantizePow2 { width: Width::I64 }),
        (40, 0, 40, Kernel::QuantizeExact),
        (40, 50, 0, Kernel::QuantizePow2 { width: Width::I64 }),
    ] {
        for mode in Rounding::ALL {
            let mut g = Graph::new("q");
            let x = g.add_input(
                "x",
                vec![1, 3],
                FixedType::exact(in_bits, in_frac, true),
                None,
            );
            let q = Quantizer::pow2(24, out_frac, true, mode);
            let y = g.add_node("q", Op::Quantize(q), &[x], "q").unwrap();
            g.add_output("y", y);
            let sim = Simulator::new(&g).unwrap();
            let batch = sim.compile_batch().unwrap();
            assert_eq!(
                batch.kernels()[0].kernel,
                want,
                "{in_bits} {in_frac} {out_frac}"
            );
            let (x, n) = extremes(&sim);
            assert_eq!(batch.run_batch(&x, n).unwrap(), scalar_batch(&sim, &x, n));
        }
    }
}

/// Every rounding mode, zero point, narrow/wrap setting of a power-of-two quantizer on
/// every input of a small grid, including exact ties.
#[test]
fn pow2_quantizer_exhaustive() {
    for mode in Rounding::ALL {
        for zp in [-3i64, 0, 2] {
            for (narrow, overflow, signed, bits) in [
                (false, Overflow::Saturate, true, 4),
                (true, Overflow::Saturate, true, 4),
                (false, Overflow::Saturate, false, 3),
                (true, Overflow::Saturate, false, 3),
                (false, Overflow::Wrap, true, 3),
                (false, Overflow::Wrap, false, 3),
                (true, Overflow::Wrap, true, 3),
                (false, Overflow::Saturate, true, 1), // bipolar
            ] {
                for shift in [-3i32, 0, 2] {
                    let mut g = Graph::new("q");
                    let x = g.add_input("x", vec![1, 256], FixedType::exact(8, 2, true), None);
                    let mut q = Quantizer::pow2(bits, 2 - shift, signed, mode);
                    q.narrow = narrow;
                    q.overflow = overflow;
                    q.channels[0].zero_point = zp;
                    let y = g.add_node("q", Op::Quantize(q), &[x], "q").unwrap();
                    g.add_output("y", y);
                    let sim = Simulator::new(&g).unwrap();
                    let batch = sim.compile_batch().unwrap();
                    let x: Vec<i64> = (-128..128).collect();
                    let got = batch.run_batch(&x, 1).unwrap();
                    assert_eq!(
                        got,
                        scalar_batch(&sim, &x, 1),
                        "{mode:?} zp {zp} {narrow} {overflow:?} {signed} {bits} {shift}"
                    );
                }
            }
        }
    }
}

#[test]
fn real_valued_inputs_match_quantize_input() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for seed in 0..60u64 {
        let g = random_network(
            seed,
            if seed % 3 == 0 {
                Scale::Wide
            } else {
                Scale::Narrow
            },
        );
        let sim = Simulator::new(&g).unwrap();
        let batch = sim.compile_batch().unwrap();
        let len = batch.input_len();
        let ty = sim.input_info(0).ty;
        let grid = aecc_ir::fixed::pow2(-ty.frac);
        let n = 45;
        let real: Vec<f64> = (0..n * len)
            .map(|_| match rng.random_range(0..10) {
                // on the grid, exact ties, near ties, far out, tiny, special values
                0 => rng.random_range(-600..600) as f64 * grid,
                1 => (rng.random_range(-600..600) as f64 + 0.5) * grid,
                2 => (rng.random_range(-600..600) as f64 + 0.5) * grid * (1.0 + 1e-15),
                3 => rng.random_range(-1e30..1e30),
                4 => rng.random_range(-1e-30..1e-30),
                5 => [f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 5e-324, -5e-324]
                    [rng.random_range(0..6)],
                _ => rng.random_range(-10.0..10.0),
            })
            .collect();
        let mut want = Vec::new();
        for s in 0..n {
            let q = sim
                .quantize_input(0, &real[s * len..(s + 1) * len])
                .unwrap();
            want.extend(sim.run_one(&q).unwrap());
        }
        assert_eq!(batch.run_batch_f64(&real, n).unwrap(), want, "seed {seed}");
    }
}

/// The input quantizer's fast paths (per-tensor and per-channel, zero points, narrow,
/// wrap, bipolar, every rounding mode, non-power-of-two scales) equal
/// `Simulator::quantize_input` on ties, near-ties, huge, tiny and special values.
#[test]
fn input_quantizer_variants() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for case in 0..400 {
        let shape = vec![1, 2, 3];
        let in_frac = rng.random_range(-4..=12);
        let mut q = random_quantizer(&mut rng, &shape, in_frac, Scale::Narrow);
        if case % 3 == 0 {
            q.bit_width = rng.random_range(20..=48);
        }
        let mut g = Graph::new("in");
        let x = g.add_input("x", shape.clone(), q.out_type(), Some(q.clone()));
        let y = g.add_node("r", Op::Relu, &[x], "r").unwrap();
        g.add_output("y", y);
        let sim = Simulator::new(&g).unwrap();
        let batch = sim.compile_batch().unwrap();
        let grid = aecc_ir::fixed::pow2(q.channels[0].scale.exponent);
        let n = 40;
        let real: Vec<f64> = (0..n * 6)
            .map(|_| {
                let k = rng.random_range(-300..300) as f64;
                match rng.random_range(0..8) {
                    0 => k * grid,
                    1 => (k + 0.5) * grid,
                    2 => (k + 0.5) * grid * (1.0 + 1e-15),
                    3 => (k + 0.5) * grid * (1.0 - 1e-15),
                    4 => rng.random_range(-1e25..1e25),
                    5 => rng.random_range(-1e-25..1e-25),
                    6 => [f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 5e-324]
                        [rng.random_range(0..5)],
                    _ => rng.random_range(-3.0..3.0) * grid * 100.0,
                }
            })
            .collect();
        let mut want = Vec::new();
        for s in 0..n {
            let qi = sim.quantize_input(0, &real[s * 6..(s + 1) * 6]).unwrap();
            want.extend(sim.run_one(&qi).unwrap());
        }
        for isa in [Isa::Portable, Isa::detect()] {
            let got = batch.clone().with_isa(isa).run_batch_f64(&real, n).unwrap();
            assert_eq!(got, want, "case {case} {q:?}");
        }
    }
}

#[test]
fn errors_match_the_scalar_path() {
    let g = random_network(3, Scale::Narrow);
    let sim = Simulator::new(&g).unwrap();
    let batch = sim.compile_batch().unwrap();
    let len = batch.input_len();
    let n = 100;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut x = random_inputs(&sim, n, &mut rng);
    // wrong length
    assert!(matches!(
        batch.run_batch(&x[1..], n),
        Err(SimError::BatchLength { .. })
    ));
    // out of range in samples 77 and 40: the first one is reported, like the scalar path
    let hi = sim.input_info(0).ty.max_int() as i64;
    x[77 * len] = hi + 1;
    x[40 * len + len - 1] = hi + 1;
    let err = batch.run_batch(&x, n).unwrap_err();
    let scalar = sim.run_one(&x[40 * len..41 * len]).unwrap_err();
    match err {
        SimError::InSample { sample, source } => {
            assert_eq!(sample, 40);
            assert_eq!(source.to_string(), scalar.to_string());
        }
        e => panic!("unexpected {e}"),
    }
    // NaN
    let mut real = vec![0.5; n * len];
    real[63 * len + 1.min(len - 1)] = f64::NAN;
    let err = batch.run_batch_f64(&real, n).unwrap_err();
    assert!(
        matches!(&err, SimError::InSample { sample: 63, source } if matches!(**source, SimError::NotANumber { .. })),
        "{err}"
    );
    // an input quantizer whose range is wider than the input type: the scalar path
    // rejects the quantized value, and so does the batch path
    let mut g3 = Graph::new("wide-from-float");
    let x3 = g3.add_input(
        "x",
        vec![1, 2],
        FixedType::exact(4, 0, true),
        Some(Quantizer::pow2(8, 0, true, Rounding::HalfEven)),
    );
    let y3 = g3.add_node("r", Op::Relu, &[x3], "r").unwrap();
    g3.add_output("y", y3);
    let b3 = BatchSimulator::new(&g3).unwrap();
    let real = [1.0, 2.0, 3.0, -8.0, 100.0, 0.0, 1.0, 1.0];
    let err = b3.run_batch_f64(&real, 4).unwrap_err();
    assert!(
        matches!(&err, SimError::InSample { sample: 2, source } if matches!(**source, SimError::InputRange { index: 0, value: 100, .. })),
        "{err}"
    );
    assert_eq!(b3.run_batch_f64(&real[..4], 2).unwrap(), vec![1, 2, 3, 0]);
    // two outputs
    let mut g2 = g.clone();
    let out = g2.outputs()[0].1;
    g2.add_output("again", out);
    assert!(matches!(
        BatchSimulator::new(&g2),
        Err(SimError::NotSingleInputOutput {
            inputs: 1,
            outputs: 2
        })
    ));
    // empty batches
    assert_eq!(batch.run_batch(&[], 0).unwrap(), Vec::<i64>::new());
}

/// Big batches go through several rayon tasks and a partial last tile.
#[test]
fn many_samples_across_tasks() {
    let g = random_network(11, Scale::Narrow);
    let sim = Simulator::new(&g).unwrap();
    let batch = sim.compile_batch().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let n = 3 * 1024 + 7;
    let x = random_inputs(&sim, n, &mut rng);
    assert_eq!(batch.run_batch(&x, n).unwrap(), scalar_batch(&sim, &x, n));
}

/// A graph whose input interval was narrowed below its type (intervals are the IR's
/// business, not the type's): re-deriving the intervals from the type range needs more
/// than 64 bits, so the planner declines and the batch path evaluates sample by sample
/// with the scalar path — still equal to it.
#[test]
fn unplannable_graph_falls_back_to_the_scalar_path() {
    let mut g = Graph::new("narrowed");
    let x = g.add_input("x", vec![1, 2], FixedType::exact(40, 0, true), None);
    g.node_mut(x).out.interval = aecc_ir::Interval::new(-100, 100);
    let d = Dense {
        weight: ConstTensor::new(vec![2, 1], vec![1 << 40, -(1 << 40)], 0),
        bias: None,
    };
    let y = g.add_node("d", Op::Dense(d), &[x], "d").unwrap();
    g.add_output("y", y);
    let sim = Simulator::new(&g).unwrap();
    let batch = sim.compile_batch().unwrap();
    assert!(batch.scalar_fallback().is_some());
    assert!(batch.kernels().is_empty());
    let x: Vec<i64> = (0..2 * 3000).map(|i| (i % 201) - 100).collect();
    assert_eq!(
        batch.run_batch(&x, 3000).unwrap(),
        scalar_batch(&sim, &x, 3000)
    );
}
