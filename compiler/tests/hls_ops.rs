//! The HLS C++ of every op beyond Dense/Conv/Relu/Add, of quantizers that divide by
//! non-power-of-two constants (scale units on the input, per-channel mantissas, every
//! rounding mode) and of a set of generated test models (`models/testgen`), for Vitis
//! (ap_types) and Catapult (ac_types): C-simulated with g++ on random on-grid vectors,
//! every output value equal to `aecc_sim::Simulator`'s.
//!
//! Needs g++ and the vendor headers (`scripts/setup-hls-headers.sh`); without them the
//! tests skip loudly, and fail when `CI=true`.

mod hls_common;
mod op_graphs;

use aecc::backend::hls::HlsFlavor;
use aecc_ir::{Overflow, Quantizer, Rounding, Unit};
use hls_common::check_bit_exact;
use op_graphs::*;

const N: usize = 3_000;

#[test]
fn new_ops_are_bit_exact() {
    for (k, g) in [
        pointwise_graph(),
        pool_graph(),
        pool_1d_graph(),
        select_lut_graph(),
    ]
    .iter()
    .enumerate()
    {
        for flavor in HlsFlavor::ALL {
            check_bit_exact(g, flavor, N, 40 + k as u64);
        }
    }
}

#[test]
fn requantizers_are_bit_exact() {
    let channels: Vec<_> = CHANNELS.iter().map(|&(m, e, zp)| scale(m, e, zp)).collect();
    let mut k = 0;
    for mode in Rounding::ALL {
        for (overflow, signed, narrow) in [
            (Overflow::Saturate, true, false),
            (Overflow::Wrap, false, true),
        ] {
            let q = Quantizer {
                channels: channels.clone(),
                axis: Some(1),
                bit_width: 5,
                signed,
                narrow,
                rounding: mode,
                overflow,
            };
            let unit = (k % 2 == 1).then(|| Unit::new(5, 3).unwrap());
            let g = requant_graph(&format!("rq{k}"), q, k % 3 == 0, unit);
            check_bit_exact(&g, HlsFlavor::ALL[k % 2], N, 60 + k as u64);
            k += 1;
        }
    }
}

#[test]
fn generated_test_models_are_bit_exact() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/testgen");
    // one model of each op family and quantization form
    for name in [
        "averagepool_3x3_pad",
        "bn_after_conv",
        "concat",
        "conv1d_stride_dilation",
        "depthwise_conv",
        "leaky_relu",
        "maxpool",
        "pad_reflect",
        "qdq_per_axis_int8",
        "qdq_per_tensor_uint8",
        "qlinear_conv",
        "sigmoid",
        "trunc_avgpool_brevitas",
        "multithreshold",
    ] {
        let c = aecc::pipeline::compile(
            &dir.join(format!("{name}.onnx")),
            &aecc::pipeline::CompileOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        check_bit_exact(&c.graph, HlsFlavor::Vitis, N, 80);
    }
}

#[test]
fn lut_softmax_is_bit_exact() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/testgen/softmax.onnx");
    let opts = aecc::pipeline::CompileOptions {
        lut_softmax: true,
        ..Default::default()
    };
    let c = aecc::pipeline::compile(&path, &opts).unwrap();
    for flavor in HlsFlavor::ALL {
        check_bit_exact(&c.graph, flavor, N, 90);
    }
}
