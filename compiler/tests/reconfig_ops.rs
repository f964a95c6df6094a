//! Reconfigurable weights (`--weights registers`) on the ops and quantization forms of
//! the model zoo: weight layers followed by requantizers with scale units and zero
//! points, QDQ (half-to-odd rounding), QLinear/Integer ops, batch-norm affine maps,
//! `Sub`, `Concat`, residual `Add`, `MaxPool`, `LeakyRelu` and the LUT softmax. Each
//! design is lint-clean and bit-exact through its configuration port, with the model's
//! weights and with a second, random weight set of the same declared precisions. A
//! lookup table whose input the registers can widen beyond the table is refused, naming
//! the node and the op.

mod common;

use aecc::backend::verilog::{
    emit_reconfigurable, BackendError, ReconfigOptions, Tmr, VerilogOptions,
};
use aecc::ir::{ConstTensor, Dense, Graph, Interval, Lut, Op, Quantizer, Rounding, Unit};
use aecc::pipeline::{compile, CompileOptions};
use aecc::verify_config::cosimulate_configured;
use aecc::weights::random_weights;
use aecc_testbench::{lint, require_tools};
use common::{cache_dir, random_inputs};
use std::path::{Path, PathBuf};

fn model(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models")
        .join(path)
}

fn options(tmr: Tmr, reuse: u32, word_width: u32) -> ReconfigOptions {
    ReconfigOptions {
        tmr,
        word_width,
        reuse,
        seu_port: false,
    }
}

/// Compiles `path` with weights in registers, then co-simulates the model's weights and
/// a random weight set through the configuration port.
fn check(path: &str, top: &str, r: ReconfigOptions, lut_softmax: bool, vectors: usize) {
    let compiled = compile(
        &model(path),
        &CompileOptions {
            top: Some(top.into()),
            lut_softmax,
            reconfig: Some(r.clone()),
            ..CompileOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{path}: {e}"));
    let design = compiled.reconfig.as_ref().expect("registers design");
    if let Err(e) = lint(&design.design.rtl) {
        panic!("{path}: {e}");
    }
    let inputs = random_inputs(&compiled.graph, vectors, 17);
    let second =
        random_weights(&compiled.graph, &design.map, 23).unwrap_or_else(|e| panic!("{path}: {e}"));
    for (what, weights) in [
        ("model weights", &compiled.graph),
        ("random weights", &second),
    ] {
        let c = cosimulate_configured(design, weights, &inputs, &cache_dir(), None, |_| {})
            .unwrap_or_else(|e| panic!("{path} ({what}): {e}"));
        assert_eq!(c.comparison.vectors, inputs.len());
        assert!(c.passed(), "{path} ({what}): {:?}", c.comparison.mismatches);
    }
    eprintln!(
        "{path}: registers (tmr {}, reuse {}, {}-bit words): {} multipliers, {} words, \
         bit-exact with two weight sets on {} vectors",
        r.tmr, r.reuse, r.word_width, design.multipliers, design.map.words, vectors
    );
}

#[test]
fn generated_forms_with_new_ops_after_weight_layers_are_bit_exact_in_registers() {
    if !require_tools(&["verilator"]) {
        return;
    }
    let cases: &[(&str, &str, ReconfigOptions, bool)] = &[
        (
            "testgen/requant_nonpo2_gemm.onnx",
            "rg_requant",
            options(Tmr::None, 1, 32),
            false,
        ),
        (
            "testgen/requant_zero_point_conv.onnx",
            "rg_zp_conv",
            options(Tmr::Config, 2, 16),
            false,
        ),
        (
            "testgen/qdq_per_tensor_uint8.onnx",
            "rg_qdq_u8",
            options(Tmr::None, 1, 32),
            false,
        ),
        (
            "testgen/qdq_per_axis_int8.onnx",
            "rg_qdq_axis",
            options(Tmr::All, 1, 8),
            false,
        ),
        (
            "testgen/qlinear_conv.onnx",
            "rg_qlconv",
            options(Tmr::None, 3, 32),
            false,
        ),
        (
            "testgen/qlinear_matmul.onnx",
            "rg_qlmm",
            options(Tmr::None, 1, 64),
            false,
        ),
        (
            "testgen/matmul_integer.onnx",
            "rg_mmint",
            options(Tmr::None, 1, 32),
            false,
        ),
        (
            "testgen/conv_integer.onnx",
            "rg_convint",
            options(Tmr::None, 1, 32),
            false,
        ),
        (
            "testgen/bn_after_conv.onnx",
            "rg_bn",
            options(Tmr::Config, 1, 32),
            false,
        ),
        (
            "testgen/sub.onnx",
            "rg_sub",
            options(Tmr::None, 1, 32),
            false,
        ),
        (
            "testgen/concat.onnx",
            "rg_concat",
            options(Tmr::None, 2, 32),
            false,
        ),
        (
            "testgen/add_residual.onnx",
            "rg_residual",
            options(Tmr::None, 1, 32),
            false,
        ),
        (
            "testgen/depthwise_conv.onnx",
            "rg_depthwise",
            options(Tmr::None, 1, 32),
            false,
        ),
        (
            "testgen/bipolar_weights_gemm.onnx",
            "rg_bipolar",
            options(Tmr::None, 1, 32),
            false,
        ),
        (
            "testgen/softmax.onnx",
            "rg_softmax",
            options(Tmr::None, 1, 32),
            true,
        ),
    ];
    for (path, top, r, lut_softmax) in cases {
        check(path, top, r.clone(), *lut_softmax, 2000);
    }
}

#[test]
fn zoo_models_with_maxpool_and_qdq_are_bit_exact_in_registers() {
    if !require_tools(&["verilator"]) {
        return;
    }
    // folded to keep the Verilator builds small
    check(
        "conv1d_ts/model.onnx",
        "rg_conv1d_ts",
        options(Tmr::None, 8, 32),
        false,
        1000,
    );
    check(
        "qdq_int8/model.onnx",
        "rg_qdq_int8",
        options(Tmr::Config, 8, 32),
        false,
        1000,
    );
}

#[test]
fn quantized_weights_keep_their_declared_precision_in_registers() {
    // QDQ int8 weights: 8-bit registers whatever the trained values; QONNX 6-bit weights
    // of the ECON-T encoder: 6-bit registers
    for (path, bits) in [("qdq_int8/model.onnx", 8), ("econt/model.onnx", 6)] {
        let compiled = compile(
            &model(path),
            &CompileOptions {
                reconfig: Some(ReconfigOptions::default()),
                ..CompileOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("{path}: {e}"));
        let map = &compiled.reconfig.as_ref().unwrap().map;
        let weights: Vec<_> = map
            .tensors
            .iter()
            .filter(|t| t.role == aecc::weights::TensorRole::Weight)
            .collect();
        assert!(!weights.is_empty());
        for t in weights {
            assert_eq!(t.width, bits, "{path}: {}", t.label());
            assert!(t.signed, "{path}: {}", t.label());
        }
    }
}

#[test]
fn a_table_the_registers_could_overrun_is_refused_naming_the_op() {
    // x (4-bit) -> Dense with declared 4-bit weights -> Lut covering only the
    // compiled weights' outputs
    let mut g = Graph::new("lut_after_dense");
    let x = g.add_input(
        "x",
        vec![1, 2],
        common::quant_type(4, 0, true),
        Some(Quantizer::pow2(4, 0, true, Rounding::HalfEven)),
    );
    let dense = Dense {
        weight: ConstTensor::new(vec![2, 1], vec![1, 1], 0)
            .with_declared(Some(Interval::new(-8, 7))),
        bias: None,
    };
    let d = g
        .add_node("fc", Op::Dense(dense), &[x], "fc (Gemm)")
        .unwrap();
    let lo = g.node(d).out.interval.lo as i64;
    let n = (g.node(d).out.interval.hi as i64 - lo + 1) as usize;
    let lut = Lut {
        axis: None,
        in_lo: lo,
        tables: vec![(0..n as i64).collect()],
        out_frac: 0,
        out_unit: Unit::ONE,
    };
    let l = g
        .add_node("act", Op::Lut(lut), &[d], "act (Sigmoid)")
        .unwrap();
    g.add_output("y", l);
    // constant weights: fine
    aecc::backend::verilog::emit(&g, &VerilogOptions::new("lut_ok")).unwrap();
    let err = emit_reconfigurable(
        &g,
        &VerilogOptions::new("lut_regs"),
        &ReconfigOptions::default(),
    )
    .expect_err("refused");
    let text = err.to_string();
    assert!(
        matches!(&err, BackendError::Unsupported { node, op: "lut", .. } if node == "act"),
        "{text}"
    );
    assert!(
        text.contains("node act (lut)") && text.contains("registers"),
        "{text}"
    );
}

/// Conv (declared 4-bit weights, 7-bit bias) -> LeakyRelu -> Clip -> AveragePool 3x3
/// (divisors 4, 6, 9: a scale unit) -> requantizer -> Select (drops and fills lanes) ->
/// Dense -> Quantize: the point-wise, pooling and movement ops that no zoo model puts
/// after a weight layer.
fn pointwise_pool_graph(seed: u64) -> Graph {
    use aecc::ir::{Conv, Pool, Select};
    let mut r = common::rng(seed);
    let mut g = Graph::new("pointwise_pool");
    let x = g.add_input(
        "x",
        vec![1, 2, 4, 4],
        common::quant_type(6, 3, true),
        Some(Quantizer::pow2(6, 3, true, Rounding::HalfEven)),
    );
    let conv = Conv {
        weight: ConstTensor::new(vec![3, 2, 3, 3], common::weights(&mut r, 54, -8, 7), 2)
            .with_declared(Some(Interval::new(-8, 7))),
        bias: Some(
            ConstTensor::new(vec![3], common::weights(&mut r, 3, -64, 63), 5)
                .with_declared(Some(Interval::new(-64, 63))),
        ),
        strides: [1, 1],
        pads: [1, 1, 1, 1],
        dilations: [1, 1],
        group: 1,
    };
    let mut at = g
        .add_node("conv", Op::Conv(conv), &[x], "conv (Conv)")
        .unwrap();
    let ops = [
        (
            "leaky",
            Op::LeakyRelu {
                pos: 8,
                neg: 1,
                frac_shift: 3,
            },
        ),
        (
            "clip",
            Op::Clip {
                lo: -3000,
                hi: 5000,
            },
        ),
        (
            "pool",
            Op::AvgPool(Pool {
                kernel: [3, 3],
                strides: [1, 1],
                pads: [1, 1, 1, 1],
                dilations: [1, 1],
                ceil_mode: false,
                count_include_pad: false,
            }),
        ),
        (
            "pool_q",
            Op::Quantize(Quantizer::pow2(8, 4, true, Rounding::HalfEven)),
        ),
        (
            "pick",
            Op::Select(Select {
                shape: vec![1, 24],
                index: (0..24).map(|j| (j % 6 != 5).then_some(j * 2)).collect(),
                fill: 3,
            }),
        ),
    ];
    for (name, op) in ops {
        at = g.add_node(name, op, &[at], name).unwrap();
        if name == "pool" {
            // divisors 4, 6 and 9: the sums stay exact on the unit 1/9
            assert!(!g.node(at).out.unit.is_one());
        }
    }
    let dense = Dense {
        weight: ConstTensor::new(vec![24, 4], common::weights(&mut r, 96, -8, 7), 3)
            .with_declared(Some(Interval::new(-8, 7))),
        bias: None,
    };
    let d = g
        .add_node("fc", Op::Dense(dense), &[at], "fc (Gemm)")
        .unwrap();
    let q = g
        .add_node(
            "fc_q",
            Op::Quantize(Quantizer::pow2(8, 2, true, Rounding::HalfEven)),
            &[d],
            "fc_q",
        )
        .unwrap();
    g.add_output("y", q);
    g
}

#[test]
fn pointwise_pooling_and_selection_after_weight_layers_are_bit_exact_in_registers() {
    if !require_tools(&["verilator"]) {
        return;
    }
    let graph = pointwise_pool_graph(5);
    for (top, r) in [
        ("rg_pw", options(Tmr::None, 1, 32)),
        ("rg_pw_f", options(Tmr::Config, 4, 16)),
    ] {
        let design = emit_reconfigurable(&graph, &VerilogOptions::new(top), &r)
            .unwrap_or_else(|e| panic!("{e}"));
        if let Err(e) = lint(&design.design.rtl) {
            panic!("{e}");
        }
        let inputs = random_inputs(&graph, 3000, 9);
        let second = random_weights(&graph, &design.map, 31).unwrap();
        for weights in [&graph, &second] {
            let c = cosimulate_configured(&design, weights, &inputs, &cache_dir(), None, |_| {})
                .unwrap_or_else(|e| panic!("{top}: {e}"));
            assert!(c.passed(), "{top}: {:?}", c.comparison.mismatches);
        }
    }
}
