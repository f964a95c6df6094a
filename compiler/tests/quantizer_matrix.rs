//! Every quantizer configuration in hardware, bit-exact: all rounding modes x signed /
//! unsigned x narrow x saturate / wrap, the bipolar 1-bit case, per-channel scales that
//! shift left, not at all, a little and far right (past the input width), with zero
//! points. Each configuration is its own emitted design (`Input -> Quantize`); one
//! hand-written wrapper runs them all side by side in a single Verilator build.

mod common;

use aecc::backend::verilog::{emit, VerilogOptions};
use aecc::ir::{ChannelQuant, DyadicScale, Graph, Op, Overflow, Quantizer, Rounding};
use aecc_testbench::{
    compare_outputs, iverilog_check, lint, require_tools, yosys_elaborate, Cosim, Port, RtlDesign,
};
use common::*;
use std::fmt::Write;

const IN_FRAC: i32 = 5;

/// `(k, zero point)`: the scale is `2^(-IN_FRAC - k)`, so `k > 0` shifts the input left
/// and `k < 0` rounds away `-k` bits.
const CHANNELS: [(i32, i64); 13] = [
    (2, 0),
    (0, 0),
    (0, 5),
    (-1, 0),
    (-1, -3),
    (-2, 0),
    (-3, 2),
    (-4, 0),
    (-4, -7),
    (-9, 0),
    (-9, 1),
    (-14, 0),
    (-14, -2),
];

fn quantizer_graph(name: &str, q: Quantizer, signed_input: bool) -> Graph {
    let mut g = Graph::new(name);
    let x = g.add_input(
        "x",
        vec![1, CHANNELS.len()],
        quant_type(12, IN_FRAC, signed_input),
        None,
    );
    let y = g.add_node("q", Op::Quantize(q), &[x], "q (Quant)").unwrap();
    g.add_output("y", y);
    g
}

fn configurations() -> Vec<(String, Graph)> {
    let channels: Vec<ChannelQuant> = CHANNELS
        .iter()
        .map(|&(k, zp)| ChannelQuant {
            scale: DyadicScale::pow2(-IN_FRAC - k),
            zero_point: zp,
        })
        .collect();
    let mut configs = Vec::new();
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
                    let name = format!(
                        "qm{index}_{}_{}{}_{}",
                        mode.qonnx_name().to_lowercase(),
                        if signed { "s" } else { "u" },
                        if narrow { "n" } else { "" },
                        if overflow == Overflow::Wrap {
                            "wrap"
                        } else {
                            "sat"
                        }
                    );
                    configs.push((name.clone(), quantizer_graph(&name, q, index % 2 == 0)));
                    index += 1;
                }
            }
        }
    }
    for signed_input in [true, false] {
        let q = Quantizer {
            channels: channels.clone(),
            axis: Some(1),
            bit_width: 1,
            signed: true,
            narrow: false,
            rounding: Rounding::HalfEven,
            overflow: Overflow::Saturate,
        };
        let name = format!("qm{index}_bipolar");
        configs.push((name.clone(), quantizer_graph(&name, q, signed_input)));
        index += 1;
    }
    // A wider wrapping narrow quantizer (more folding steps) and a per-tensor one.
    let mut wide = Quantizer::pow2(9, IN_FRAC + 3, true, Rounding::HalfEven);
    wide.narrow = true;
    wide.overflow = Overflow::Wrap;
    let name = format!("qm{index}_wide_wrap");
    configs.push((name.clone(), quantizer_graph(&name, wide, true)));
    index += 1;
    let per_tensor = Quantizer::pow2(3, IN_FRAC - 6, false, Rounding::Ceil);
    let name = format!("qm{index}_coarse");
    configs.push((name.clone(), quantizer_graph(&name, per_tensor, false)));
    configs
}

/// A wrapper top module running every design on its own slice of the input bus.
fn wrapper(designs: &[RtlDesign]) -> RtlDesign {
    let mut files = Vec::new();
    let mut body = String::new();
    let (mut in_at, mut out_at) = (0, 0);
    let mut in_lanes = Vec::new();
    let mut out_lanes = Vec::new();
    for (k, d) in designs.iter().enumerate() {
        assert_eq!(d.latency, designs[0].latency);
        let (iw, ow) = (d.input().width(), d.output().width());
        writeln!(
            body,
            "  {} u{k} (.clk(clk), .rst(rst), .in_valid(in_valid), .in_data(in_data[{}:{}]), \
             .out_valid(valid[{k}]), .out_data(out_data[{}:{}]));",
            d.top,
            in_at + iw - 1,
            in_at,
            out_at + ow - 1,
            out_at
        )
        .unwrap();
        in_at += iw;
        out_at += ow;
        in_lanes.extend(d.input().lanes.iter().copied());
        out_lanes.extend(d.output().lanes.iter().copied());
        files.extend(d.files.iter().cloned());
    }
    let n = designs.len();
    let text = format!(
        "`default_nettype none\n\
         module qmatrix (\n    input  wire clk,\n    input  wire rst,\n    input  wire in_valid,\n\
         \x20   input  wire [{}:0] in_data,\n    output wire out_valid,\n    output wire [{}:0] out_data\n);\n\
         \x20 wire [{}:0] valid;\n{body}\
         \x20 assign out_valid = valid[0];\n\
         \x20 wire unused_valid = &{{1'b0, valid[{}:1], 1'b0}};\n\
         endmodule\n`default_nettype wire\n",
        in_at - 1,
        out_at - 1,
        n - 1,
        n - 1
    );
    files.insert(0, ("qmatrix.v".to_string(), text));
    RtlDesign {
        top: "qmatrix".into(),
        files,
        inputs: vec![Port {
            name: "in_data".into(),
            lanes: in_lanes,
        }],
        outputs: vec![Port {
            name: "out_data".into(),
            lanes: out_lanes,
        }],
        latency: designs[0].latency,
    }
}

#[test]
fn every_quantizer_configuration_is_bit_exact() {
    if !require_tools(TOOLS) {
        return;
    }
    let configs = configurations();
    let designs: Vec<RtlDesign> = configs
        .iter()
        .map(|(name, g)| emit(g, &VerilogOptions::new(name.clone())).unwrap())
        .collect();
    let all = wrapper(&designs);
    lint(&all).unwrap_or_else(|e| panic!("{e}"));
    yosys_elaborate(&all).unwrap_or_else(|e| panic!("{e}"));
    iverilog_check(&all).unwrap_or_else(|e| panic!("{e}"));

    // Per configuration: random inputs (every value of the 12-bit grid shows up on
    // every lane), reference outputs; concatenated into the wrapper's vectors.
    let n = 10_000;
    let mut vectors = vec![Vec::new(); n];
    let mut expected = vec![Vec::new(); n];
    for (k, (_, g)) in configs.iter().enumerate() {
        let inputs = random_inputs(g, n, 100 + k as u64);
        let outputs = reference_outputs(g, &inputs);
        for (i, (x, y)) in inputs.iter().zip(outputs).enumerate() {
            expected[i].extend(y);
            vectors[i].extend(x.iter().copied());
        }
    }
    let sim = Cosim::build(&all, &cache_dir()).unwrap_or_else(|e| panic!("{e}"));
    let got = sim.run(&vectors, None).unwrap_or_else(|e| panic!("{e}"));
    if let Err(m) = compare_outputs(&expected, &got) {
        // name the configuration of the differing lane
        let mut lane = m.lane;
        for (name, g) in &configs {
            let len = g.node(g.outputs()[0].1).out.len();
            if lane < len {
                panic!("{name}, output lane {lane}: {m}");
            }
            lane -= len;
        }
        panic!("{m}");
    }
}
