//! Hand-built IR graphs and the C-simulation check shared by the HLS tests.
#![allow(dead_code)]

use aecc::backend::hls::{emit, HlsFlavor, HlsOptions, HlsProject};
use aecc_ir::{
    ChannelQuant, ConstTensor, Conv, Dense, DyadicScale, Graph, NodeId, Op, Quantizer, Rounding,
};
use aecc_sim::Simulator;
use aecc_testbench::hls_csim::{self, CsimSources, HeaderLibrary};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Vectors per design in the bit-exact tests.
pub const VECTORS: usize = 10_000;

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn random_weights(rng: &mut ChaCha8Rng, n: usize, bits: u32, zero_fraction: f64) -> Vec<i64> {
    let hi = (1i64 << (bits - 1)) - 1;
    (0..n)
        .map(|_| {
            if rng.random_bool(zero_fraction) {
                0
            } else {
                rng.random_range(-hi - 1..=hi)
            }
        })
        .collect()
}

fn add_input(g: &mut Graph, shape: Vec<usize>, q: Quantizer) -> NodeId {
    g.add_input("x", shape, q.out_type(), Some(q))
}

fn quant(g: &mut Graph, name: &str, q: Quantizer, x: NodeId) -> NodeId {
    g.add_node(name, Op::Quantize(q), &[x], format!("{name} (Quant)"))
        .unwrap()
}

/// The ECON-T encoder's shape: 8x8x1 input (s10.7), Conv 8 filters 3x3 stride 2 'same'
/// (6-bit weights, 1 integer bit), Quant s11.8, ReLU, Flatten, Dense 128 -> 16 (6-bit
/// weights), Quant u9.8. Seeded random weights and biases.
pub fn econt_like(seed: u64) -> Graph {
    let mut rng = rng(seed);
    let mut g = Graph::new("econt_like");
    let x = add_input(
        &mut g,
        vec![1, 1, 8, 8],
        Quantizer::pow2(10, 7, true, Rounding::HalfEven),
    );
    let conv = Conv {
        weight: ConstTensor::new(vec![8, 1, 3, 3], random_weights(&mut rng, 72, 6, 0.1), 5),
        bias: Some(ConstTensor::new(
            vec![8],
            (0..8).map(|_| rng.random_range(-64..=64)).collect(),
            6,
        )),
        strides: [2, 2],
        pads: [0, 0, 1, 1],
        dilations: [1, 1],
        group: 1,
    };
    let c = g
        .add_node("conv1", Op::Conv(conv), &[x], "conv1 (Conv)")
        .unwrap();
    let q1 = quant(
        &mut g,
        "conv1_quant",
        Quantizer::pow2(11, 8, true, Rounding::HalfEven),
        c,
    );
    let r = g
        .add_node("relu1", Op::Relu, &[q1], "relu1 (Relu)")
        .unwrap();
    let f = g
        .add_node(
            "flatten",
            Op::Reshape {
                shape: vec![1, 128],
            },
            &[r],
            "flatten (Flatten)",
        )
        .unwrap();
    let dense = Dense {
        weight: ConstTensor::new(vec![128, 16], random_weights(&mut rng, 128 * 16, 6, 0.1), 5),
        bias: Some(ConstTensor::new(
            vec![16],
            (0..16).map(|_| rng.random_range(-200..=200)).collect(),
            8,
        )),
    };
    let d = g
        .add_node("dense1", Op::Dense(dense), &[f], "dense1 (MatMul)")
        .unwrap();
    let q2 = quant(
        &mut g,
        "latent",
        Quantizer::pow2(9, 8, false, Rounding::HalfEven),
        d,
    );
    g.add_output("latent", q2);
    g
}

/// A dense autoencoder-style encoder 64 -> 32 -> 16 -> 8 with ReLU and 8-bit quantizers.
pub fn dense_64_32_16_8(seed: u64) -> Graph {
    let mut rng = rng(seed);
    let mut g = Graph::new("dense_64_32_16_8");
    let mut x = add_input(
        &mut g,
        vec![1, 64],
        Quantizer::pow2(8, 6, true, Rounding::HalfEven),
    );
    let sizes = [64, 32, 16, 8];
    for (i, w) in sizes.windows(2).enumerate() {
        let (k, m) = (w[0], w[1]);
        let dense = Dense {
            weight: ConstTensor::new(vec![k, m], random_weights(&mut rng, k * m, 8, 0.2), 6),
            bias: Some(ConstTensor::new(
                vec![m],
                (0..m).map(|_| rng.random_range(-500..=500)).collect(),
                10,
            )),
        };
        let d = g
            .add_node(
                format!("fc{i}"),
                Op::Dense(dense),
                &[x],
                format!("fc{i} (Gemm)"),
            )
            .unwrap();
        let last = i == sizes.len() - 2;
        let q = quant(
            &mut g,
            &format!("fc{i}_quant"),
            Quantizer::pow2(8, 4, !last, Rounding::HalfEven),
            d,
        );
        x = if last {
            q
        } else {
            g.add_node(
                format!("relu{i}"),
                Op::Relu,
                &[q],
                format!("relu{i} (Relu)"),
            )
            .unwrap()
        };
    }
    g.add_output("code", x);
    g
}

/// One quantizer `q` on an input of `shape` on grid `in_type`: the smallest graph that
/// exercises a quantizer on every input value.
pub fn single_quantizer(
    name: &str,
    shape: Vec<usize>,
    in_bits: u32,
    in_frac: i32,
    q: Quantizer,
) -> Graph {
    let mut g = Graph::new(name);
    let x = add_input(
        &mut g,
        shape,
        Quantizer::pow2(in_bits, in_frac, true, Rounding::HalfEven),
    );
    let y = quant(&mut g, "q", q, x);
    g.add_output("y", y);
    g
}

/// A per-channel quantizer over axis 1 of a `[1, C, ...]` tensor with the given
/// `(scale, zero point)` per channel.
pub fn per_channel(
    bits: u32,
    signed: bool,
    narrow: bool,
    rounding: Rounding,
    axis: usize,
    channels: &[(DyadicScale, i64)],
) -> Quantizer {
    Quantizer {
        channels: channels
            .iter()
            .map(|&(scale, zero_point)| ChannelQuant { scale, zero_point })
            .collect(),
        axis: Some(axis),
        narrow,
        ..Quantizer::pow2(bits, 0, signed, rounding)
    }
}

/// `n` random vectors on the input quantizer's grid, the first two at its extremes (the
/// vectors `aecc verify` uses).
pub fn random_inputs(sim: &Simulator, n: usize, seed: u64) -> Vec<Vec<i64>> {
    aecc::verify::random_vectors(sim, n, seed)
}

pub fn library(flavor: HlsFlavor) -> HeaderLibrary {
    HeaderLibrary::from_name(flavor.header_library()).expect("known library")
}

/// The C-simulation sources of a project written to `dir`.
pub fn sources(
    project: &HlsProject,
    dir: &std::path::Path,
    headers: std::path::PathBuf,
) -> CsimSources {
    CsimSources {
        dir: dir.to_path_buf(),
        sources: project.csim_sources(),
        include_dirs: vec![project.include_dir()],
        headers,
    }
}

/// Emits `graph` for `flavor`, builds its C simulation once, streams `vectors` random
/// on-grid vectors through it and compares every output value with the simulator.
/// Returns false (after a loud message) if the tools are missing outside CI.
pub fn check_bit_exact(graph: &Graph, flavor: HlsFlavor, vectors: usize, seed: u64) -> bool {
    check_bit_exact_with(graph, &HlsOptions::new(flavor, "top"), vectors, seed)
}

/// [`check_bit_exact`] with any options.
pub fn check_bit_exact_with(graph: &Graph, opts: &HlsOptions, vectors: usize, seed: u64) -> bool {
    let flavor = opts.flavor;
    let Some(headers) = hls_csim::require_csim(library(flavor)) else {
        return false;
    };
    let sim = Simulator::new(graph).expect("graph is valid");
    let project = emit(graph, opts).expect("emits");
    let dir = tempfile::tempdir().unwrap();
    project.write_to(dir.path()).unwrap();
    let src = sources(&project, dir.path(), headers);
    let program = hls_csim::build(&src, &dir.path().join("csim"))
        .unwrap_or_else(|e| panic!("{} ({flavor}): {e}", graph.name));
    let inputs = random_inputs(&sim, vectors, seed);
    let expected: Vec<Vec<i64>> = inputs
        .iter()
        .map(|x| sim.run_one(x).expect("simulates"))
        .collect();
    let actual = program
        .run(&inputs)
        .unwrap_or_else(|e| panic!("{} ({flavor}): {e}", graph.name));
    if let Err(e) = hls_csim::compare_outputs(&expected, &actual) {
        let keep = std::env::temp_dir().join(format!("aecc-hls-failed-{}-{flavor}", graph.name));
        let _ = std::fs::remove_dir_all(&keep);
        let _ = project.write_to(&keep);
        panic!(
            "{} ({flavor}): {e}\n(project kept in {})",
            graph.name,
            keep.display()
        );
    }
    true
}

/// Makes several same-shape tensors observable through the one output of a graph,
/// without losing information: `y = sum_i n_i * 2^(o_i)` on a common grid, where `n_i`
/// is branch `i`'s integer and the offsets `o_i` give every branch a field as wide as
/// its signed range. Such a sum decodes uniquely (balanced mixed radix), so `y` equals
/// the reference on every bit only if every branch does. Each branch is scaled by a
/// Dense layer with a power-of-two identity matrix and the fields are summed by Add.
pub fn observe_all(g: &mut Graph, branches: &[NodeId]) -> NodeId {
    let common = branches
        .iter()
        .map(|&b| g.node(b).out.ty.frac)
        .max()
        .expect("at least one branch");
    let mut offset = 0i32;
    let mut sum: Option<NodeId> = None;
    for (i, &b) in branches.iter().enumerate() {
        let info = g.node(b).out.clone();
        let k = *info.shape.last().unwrap();
        let field = aecc_ir::fixed::bits_for_interval(info.interval) as i32 + 1;
        // weight 2^(f_i + o_i - F): the branch's integer lands at bit o_i of grid 2^-F
        let wf = common - info.ty.frac - offset;
        let identity: Vec<i64> = (0..k * k).map(|j| (j / k == j % k) as i64).collect();
        let scaled = g
            .add_node(
                format!("field{i}"),
                Op::Dense(Dense {
                    // the inverse of the branch's scale unit puts every field on unit 1
                    weight: ConstTensor::new(vec![k, k], identity, wf).with_unit(
                        aecc_ir::Unit::new(info.unit.den, info.unit.num).expect("odd unit"),
                    ),
                    bias: None,
                }),
                &[b],
                format!("field{i} (observation)"),
            )
            .unwrap();
        sum = Some(match sum {
            None => scaled,
            Some(s) => g
                .add_node(
                    format!("fields{i}"),
                    Op::Add,
                    &[s, scaled],
                    "observation (Add)",
                )
                .unwrap(),
        });
        offset += field;
    }
    assert!(offset <= 62, "observed fields need {offset} bits");
    sum.unwrap()
}

/// A bank of quantizers for one rounding mode on an input of shape [1, 3, 8] (s12.6),
/// observed through one output: plain signed (the type conversion where the mode has a
/// vendor spelling), plain unsigned, signed narrow (AP_SAT_SYM), unsigned narrow
/// (explicit), per-channel scales and zero points (explicit), a zero point (explicit).
pub fn rounding_bank(mode: Rounding) -> Graph {
    let name = format!("round_{}", mode.qonnx_name().to_ascii_lowercase());
    let mut g = Graph::new(name);
    let x = add_input(
        &mut g,
        vec![1, 3, 8],
        Quantizer::pow2(12, 6, true, Rounding::HalfEven),
    );
    let mut qs = vec![
        Quantizer::pow2(6, 3, true, mode),
        Quantizer::pow2(5, 2, false, mode),
        Quantizer {
            narrow: true,
            ..Quantizer::pow2(4, 1, true, mode)
        },
        Quantizer {
            narrow: true,
            ..Quantizer::pow2(4, 2, false, mode)
        },
        per_channel(
            6,
            true,
            false,
            mode,
            1,
            &[
                (DyadicScale::pow2(-2), 0),
                (DyadicScale::pow2(-4), 3),
                (DyadicScale::pow2(0), -2),
            ],
        ),
    ];
    let mut zp = Quantizer::pow2(8, 3, false, mode);
    zp.channels[0].zero_point = 100;
    qs.push(zp);
    let branches: Vec<NodeId> = qs
        .into_iter()
        .enumerate()
        .map(|(i, q)| quant(&mut g, &format!("q{i}"), q, x))
        .collect();
    let y = observe_all(&mut g, &branches);
    g.add_output("y", y);
    g
}

/// Quantizers off the common path: bipolar, wrap-around (full, narrow signed, narrow
/// unsigned), an input grid coarser than the output (no rounding, only saturation),
/// scales that are not powers of two (with a zero point, and per channel).
pub fn special_quantizers() -> Graph {
    let mut g = Graph::new("special_quantizers");
    let x = add_input(
        &mut g,
        vec![1, 3, 8],
        Quantizer::pow2(12, 6, true, Rounding::HalfEven),
    );
    let wrap = |mut q: Quantizer| {
        q.overflow = aecc_ir::Overflow::Wrap;
        q
    };
    let mut odd = Quantizer::pow2(8, 0, true, Rounding::HalfEven);
    odd.channels[0] = ChannelQuant {
        scale: DyadicScale {
            mantissa: 3,
            exponent: -4,
        },
        zero_point: 5,
    };
    let qs = vec![
        Quantizer::pow2(1, 1, true, Rounding::HalfEven),
        wrap(Quantizer::pow2(5, 2, true, Rounding::HalfEven)),
        wrap(Quantizer {
            narrow: true,
            ..Quantizer::pow2(4, 1, true, Rounding::Floor)
        }),
        wrap(Quantizer {
            narrow: true,
            ..Quantizer::pow2(3, 1, false, Rounding::Ceil)
        }),
        Quantizer::pow2(6, 8, true, Rounding::HalfEven),
        odd,
        per_channel(
            5,
            false,
            false,
            Rounding::HalfAwayFromZero,
            1,
            &[
                (
                    DyadicScale {
                        mantissa: 5,
                        exponent: -6,
                    },
                    0,
                ),
                (DyadicScale::pow2(-1), 7),
                (
                    DyadicScale {
                        mantissa: 7,
                        exponent: -3,
                    },
                    2,
                ),
            ],
        ),
    ];
    let branches: Vec<NodeId> = qs
        .into_iter()
        .enumerate()
        .map(|(i, q)| quant(&mut g, &format!("q{i}"), q, x))
        .collect();
    let y = observe_all(&mut g, &branches);
    g.add_output("y", y);
    g
}

/// Transpose, Dense over the last axis of a 4-D tensor, a grouped, dilated, asymmetric
/// padded Conv, Add of different grids, Relu and Reshape.
pub fn ops_mix(seed: u64) -> Graph {
    let mut rng = rng(seed);
    let mut g = Graph::new("ops_mix");
    let x = add_input(
        &mut g,
        vec![1, 4, 5, 6],
        Quantizer::pow2(8, 4, true, Rounding::HalfEven),
    );
    let t = g
        .add_node(
            "to_nhwc",
            Op::Transpose {
                perm: vec![0, 2, 3, 1],
            },
            &[x],
            "to_nhwc (Transpose)",
        )
        .unwrap();
    let qt = quant(
        &mut g,
        "qt",
        Quantizer::pow2(6, 2, true, Rounding::HalfEven),
        t,
    );
    let d = g
        .add_node(
            "mix",
            Op::Dense(Dense {
                weight: ConstTensor::new(vec![4, 4], random_weights(&mut rng, 16, 5, 0.1), 3),
                bias: Some(ConstTensor::new(vec![4], vec![3, -7, 0, 12], 1)),
            }),
            &[qt],
            "mix (MatMul)",
        )
        .unwrap();
    let t2 = g
        .add_node(
            "to_nchw",
            Op::Transpose {
                perm: vec![0, 3, 1, 2],
            },
            &[d],
            "to_nchw (Transpose)",
        )
        .unwrap();
    let c = g
        .add_node(
            "gconv",
            Op::Conv(Conv {
                weight: ConstTensor::new(vec![4, 2, 3, 3], random_weights(&mut rng, 72, 6, 0.2), 4),
                bias: Some(ConstTensor::new(vec![4], vec![-9, 4, 1, 30], 2)),
                strides: [1, 1],
                pads: [2, 3, 0, 1],
                dilations: [1, 2],
                group: 2,
            }),
            &[x],
            "gconv (Conv)",
        )
        .unwrap();
    let s = g.add_node("sum", Op::Add, &[c, t2], "sum (Add)").unwrap();
    let q = quant(
        &mut g,
        "qs",
        Quantizer::pow2(8, 2, true, Rounding::Floor),
        s,
    );
    let r = g.add_node("relu", Op::Relu, &[q], "relu (Relu)").unwrap();
    let f = g
        .add_node(
            "flat",
            Op::Reshape {
                shape: vec![1, 120],
            },
            &[r],
            "flat (Flatten)",
        )
        .unwrap();
    g.add_output("y", f);
    g
}

/// Wide constants: a 60-bit bias (more significant bits than a double holds) and
/// weights on a coarse grid; the sum needs 61 bits.
pub fn wide_constants() -> Graph {
    let mut g = Graph::new("wide_constants");
    let x = add_input(
        &mut g,
        vec![1, 3],
        Quantizer::pow2(8, 4, true, Rounding::HalfEven),
    );
    let d = g
        .add_node(
            "fc",
            Op::Dense(Dense {
                weight: ConstTensor::new(vec![3, 2], vec![1, -3, 7, 5, -2, 1], -20),
                bias: Some(ConstTensor::new(
                    vec![2],
                    vec![(1 << 59) + 1, -(1 << 58) - 3],
                    4,
                )),
            }),
            &[x],
            "fc (Gemm)",
        )
        .unwrap();
    g.add_output("y", d);
    g
}
