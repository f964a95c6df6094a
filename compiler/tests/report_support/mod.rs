//! Shared pieces of the report tests: a small design, the Liberty file of
//! `../shared/pdk` (when present), and running the report flows.
#![allow(dead_code)]

use aecc::backend::verilog::{emit, VerilogOptions};
use aecc::ir::{ConstTensor, Dense, FixedType, Graph, Op, Overflow, Quantizer, Rounding};
use aecc::report::{self, DesignReport, ReportOptions, Vectors};
use aecc_testbench::RtlDesign;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The sky130 Liberty file the project's tests use (never copied into the repository),
/// if it is there: `../shared/pdk/sky130_fd_sc_hd__tt_025C_1v80.lib` from the root.
/// In CI (`CI=true`) its absence is a failure.
pub fn liberty() -> Option<PathBuf> {
    let p = repo_root().join("../shared/pdk/sky130_fd_sc_hd__tt_025C_1v80.lib");
    if p.is_file() {
        return Some(p);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and the Liberty file {} is missing", p.display());
    }
    eprintln!(
        "\n!!!!!!!! SKIPPED: the Liberty file {} is not there !!!!!!!!\n",
        p.display()
    );
    None
}

/// A shared result cache for the report tests (tool runs are slow).
pub fn cache() -> PathBuf {
    repo_root().join("target/report-cache")
}

fn quant_type(width: u32, frac: i32, signed: bool) -> FixedType {
    FixedType {
        rounding: Rounding::HalfEven,
        overflow: Overflow::Saturate,
        ..FixedType::exact(width, frac, signed)
    }
}

/// A small encoder: 8 inputs s6.4 -> dense 8x4 (4-bit weights) -> relu -> quantize u5.3.
pub fn small_graph(seed: u64) -> Graph {
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut g = Graph::new("small");
    let x = g.add_input(
        "x",
        vec![1, 8],
        quant_type(6, 4, true),
        Some(Quantizer::pow2(6, 4, true, Rounding::HalfEven)),
    );
    let w: Vec<i64> = (0..32).map(|_| r.random_range(-8..=7)).collect();
    let b: Vec<i64> = (0..4).map(|_| r.random_range(-20..=20)).collect();
    let d = g
        .add_node(
            "fc",
            Op::Dense(Dense {
                weight: ConstTensor::new(vec![8, 4], w, 2),
                bias: Some(ConstTensor::new(vec![4], b, 6)),
            }),
            &[x],
            "fc (Gemm)",
        )
        .unwrap();
    let a = g.add_node("act", Op::Relu, &[d], "act (Relu)").unwrap();
    let q = g
        .add_node(
            "y",
            Op::Quantize(Quantizer::pow2(5, 3, false, Rounding::HalfEven)),
            &[a],
            "y (Quant)",
        )
        .unwrap();
    g.add_output("y", q);
    g
}

/// Emits a graph and builds its compile report with the analytic section.
pub fn compiled(g: &Graph, top: &str) -> (DesignReport, RtlDesign) {
    let rtl = emit(g, &VerilogOptions::new(top)).unwrap();
    let mut r = report::design_report(g, "test", top, rtl.latency, &[]).unwrap();
    report::add_analytic(&mut r, &rtl.files, 25.0).unwrap();
    (r, rtl)
}

/// `n` random input vectors on the graph's input grid.
pub fn random_vectors(g: &Graph, n: usize, seed: u64) -> Vectors {
    let sim = aecc_sim::Simulator::new(g).unwrap();
    Vectors {
        source: format!("{n} random vectors (seed {seed})"),
        values: aecc::verify::random_vectors(&sim, n, seed),
        config: Vec::new(),
    }
}

/// Runs the tool flows (no terminal output).
pub fn run_flows(
    r: &mut DesignReport,
    rtl: &RtlDesign,
    vectors: Option<&Vectors>,
    opts: &ReportOptions,
) {
    report::add_tool_flows(r, rtl, vectors, opts, &mut |_| {}).unwrap();
}
