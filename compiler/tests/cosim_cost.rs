//! The cost of a co-simulation: Verilator build time (without ccache, with a cold and a
//! warm ccache, from the build cache) and simulation throughput, on the ECON-T-shaped
//! encoder. A measurement, not a check, so it is ignored by default:
//!
//! ```text
//! cargo test --release -p aecc --test cosim_cost -- --ignored --nocapture
//! ```

mod common;

use aecc::backend::verilog::{emit, VerilogOptions};
use aecc_testbench::{require_tools, tool_available, BuildOptions, Cosim};
use common::*;
use std::time::Instant;

#[test]
#[ignore]
fn cosim_build_time_and_throughput() {
    if !require_tools(&["verilator"]) {
        return;
    }
    let g = econt_like(1);
    let t = Instant::now();
    let design = emit(&g, &VerilogOptions::new("econt_cost")).unwrap();
    let emit_s = t.elapsed().as_secs_f64();
    let lines: usize = design.files.iter().map(|(_, t)| t.lines().count()).sum();
    eprintln!(
        "emit: {:.1} ms, {} files, {} lines of Verilog",
        emit_s * 1e3,
        design.files.len(),
        lines
    );

    let scratch = tempfile::tempdir().unwrap();
    let build = |label: &str, cache: &str, options: &BuildOptions| -> Cosim {
        let t = Instant::now();
        let sim = Cosim::build_with(&design, &scratch.path().join(cache), options).unwrap();
        eprintln!(
            "build {label}: {:.2} s (from cache: {})",
            t.elapsed().as_secs_f64(),
            sim.cached
        );
        sim
    };
    let plain = BuildOptions {
        ccache: false,
        jobs: 2,
    };
    build("without ccache", "a", &plain);
    if tool_available("ccache") {
        // A private ccache directory: the first build is cold, the second warm.
        std::env::set_var("CCACHE_DIR", scratch.path().join("ccache"));
        let with = BuildOptions {
            ccache: true,
            jobs: 2,
        };
        build("with ccache (cold)", "b", &with);
        build("with ccache (warm)", "c", &with);
    } else {
        eprintln!("ccache not on PATH: no ccache measurement");
    }
    let sim = build("again (build cache hit)", "a", &plain);

    for (n, bubbles) in [(100_000, None), (100_000, Some(7))] {
        let vectors = random_inputs(&g, n, 3);
        let t = Instant::now();
        let out = sim.run(&vectors, bubbles).unwrap();
        let s = t.elapsed().as_secs_f64();
        assert_eq!(out.len(), n);
        eprintln!(
            "run {n} vectors{}: {:.2} s, {:.0} vectors/s (640-bit in, 144-bit out)",
            if bubbles.is_some() {
                " with bubbles"
            } else {
                ""
            },
            s,
            n as f64 / s
        );
    }
    let vectors = random_inputs(&g, 100_000, 3);
    let t = Instant::now();
    let expected = reference_outputs(&g, &vectors);
    eprintln!(
        "reference (aecc_sim) on the same 100000 vectors: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(expected.len(), vectors.len());
}
