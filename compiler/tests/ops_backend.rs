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
mod op_graphs;
mod side_by_side;

use aecc::backend::verilog::{emit, VerilogOptions};
use aecc::ir::{ChannelQuant, Graph, Overflow, Quantizer, Rounding, Unit};
use aecc_testbench::require_tools;
use common::*;
use op_graphs::*;
use side_by_side::check_side_by_side;

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
