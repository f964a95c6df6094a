//! Many small designs in one Verilator build: a wrapper top module runs them side by
//! side, each on its own slice of the input and output buses (outputs of faster designs
//! delayed to the slowest), and the first differing lane is reported with the name of
//! its design.
#![allow(dead_code)]

use aecc::backend::verilog::{emit, VerilogOptions};
use aecc::ir::Graph;
use aecc_testbench::{
    compare_outputs, iverilog_check, lint, yosys_elaborate, Cosim, Port, RtlDesign,
};
use std::fmt::Write;

/// A wrapper top module running `designs` side by side, each on its own slice of the
/// input and output buses; outputs of faster designs are delayed to the slowest.
pub fn side_by_side(top: &str, designs: &[RtlDesign]) -> RtlDesign {
    let latency = designs.iter().map(|d| d.latency).max().unwrap();
    let mut files = Vec::new();
    let mut body = String::new();
    let (mut in_at, mut out_at) = (0, 0);
    let (mut in_lanes, mut out_lanes) = (Vec::new(), Vec::new());
    let mut slowest = None;
    for (k, d) in designs.iter().enumerate() {
        let (iw, ow) = (d.input().width(), d.output().width());
        writeln!(body, "  wire [{}:0] o{k}_0;\n  wire v{k};", ow - 1).unwrap();
        writeln!(
            body,
            "  {} u{k} (.clk(clk), .rst(rst), .in_valid(in_valid), .in_data(in_data[{}:{}]), \
             .out_valid(v{k}), .out_data(o{k}_0));",
            d.top,
            in_at + iw - 1,
            in_at
        )
        .unwrap();
        let delay = latency - d.latency;
        for s in 1..=delay {
            writeln!(
                body,
                "  reg [{}:0] o{k}_{s};\n  always @(posedge clk) o{k}_{s} <= o{k}_{};",
                ow - 1,
                s - 1
            )
            .unwrap();
        }
        writeln!(
            body,
            "  assign out_data[{}:{}] = o{k}_{delay};",
            out_at + ow - 1,
            out_at
        )
        .unwrap();
        if delay == 0 && slowest.is_none() {
            slowest = Some(k);
        }
        in_at += iw;
        out_at += ow;
        in_lanes.extend(d.input().lanes.iter().copied());
        out_lanes.extend(d.output().lanes.iter().copied());
        files.extend(d.files.iter().cloned());
    }
    let slowest = slowest.unwrap();
    let others: Vec<String> = (0..designs.len())
        .filter(|&k| k != slowest)
        .map(|k| format!("v{k}"))
        .collect();
    let unused = if others.is_empty() {
        String::new()
    } else {
        format!(
            "  wire unused_valid = &{{1'b0, {}, 1'b0}};\n",
            others.join(", ")
        )
    };
    let text = format!(
        "`default_nettype none\n\
         module {top} (\n    input  wire clk,\n    input  wire rst,\n    input  wire in_valid,\n\
         \x20   input  wire [{}:0] in_data,\n    output wire out_valid,\n    output wire [{}:0] out_data\n);\n\
         {body}\
         \x20 assign out_valid = v{slowest};\n{unused}\
         endmodule\n`default_nettype wire\n",
        in_at - 1,
        out_at - 1,
    );
    files.insert(0, (format!("{top}.v"), text));
    RtlDesign {
        top: top.into(),
        files,
        inputs: vec![Port {
            name: "in_data".into(),
            lanes: in_lanes,
        }],
        outputs: vec![Port {
            name: "out_data".into(),
            lanes: out_lanes,
        }],
        latency,
        initiation_interval: 1,
    }
}

/// Builds every graph, runs them side by side on `n` random vectors and names the
/// graph of the first differing lane.
pub fn check_side_by_side(top: &str, graphs: &[(String, Graph)], n: usize) {
    let vectors: Vec<Vec<Vec<i64>>> = graphs
        .iter()
        .enumerate()
        .map(|(k, (_, g))| super::common::random_inputs(g, n, 500 + k as u64))
        .collect();
    check_side_by_side_on(top, graphs, &vectors);
}

/// [`check_side_by_side`] on given input vectors (`vectors[k]` for graph `k`, all of
/// the same length).
pub fn check_side_by_side_on(top: &str, graphs: &[(String, Graph)], inputs: &[Vec<Vec<i64>>]) {
    let designs: Vec<RtlDesign> = graphs
        .iter()
        .map(|(name, g)| emit(g, &VerilogOptions::new(name.clone())).unwrap())
        .collect();
    let all = side_by_side(top, &designs);
    lint(&all).unwrap_or_else(|e| panic!("{e}"));
    yosys_elaborate(&all).unwrap_or_else(|e| panic!("{e}"));
    iverilog_check(&all).unwrap_or_else(|e| panic!("{e}"));
    let n = inputs[0].len();
    let mut vectors = vec![Vec::new(); n];
    let mut expected = vec![Vec::new(); n];
    for (k, (_, g)) in graphs.iter().enumerate() {
        let inputs = &inputs[k];
        assert_eq!(inputs.len(), n);
        let outputs = super::common::reference_outputs(g, inputs);
        for (i, (x, y)) in inputs.iter().zip(outputs).enumerate() {
            expected[i].extend(y);
            vectors[i].extend(x.iter().copied());
        }
    }
    let sim = Cosim::build(&all, &super::common::cache_dir()).unwrap_or_else(|e| panic!("{e}"));
    let got = sim.run(&vectors, None).unwrap_or_else(|e| panic!("{e}"));
    if let Err(m) = compare_outputs(&expected, &got) {
        let mut lane = m.lane;
        for (name, g) in graphs {
            let len = g.node(g.outputs()[0].1).out.len();
            if lane < len {
                panic!("{name}, output lane {lane}: {m}");
            }
            lane -= len;
        }
        panic!("{m}");
    }
}
