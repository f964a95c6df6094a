//! Reconfigurable weights (`--weights registers`) and TMR: generated RTL is clean, the
//! configuration port loads any weight set bit-exactly (two weight sets through one
//! build), and fault injection shows what TMR protects.

mod common;

use aecc::backend::verilog::{
    emit_reconfigurable, ReconfigDesign, ReconfigOptions, Tmr, VerilogOptions,
};
use aecc::ir::Graph;
use aecc::weights::{random_weights, Image};
use aecc_testbench::{
    compare_outputs, iverilog_check, lint, require_tools, yosys_elaborate, BuildOptions,
    ConfiguredCosim,
};
use common::{cache_dir, dense_stack, econt_like, random_inputs, reference_outputs, skip_graph};

fn options(tmr: Tmr, reuse: u32, word_width: u32, seu_port: bool) -> ReconfigOptions {
    ReconfigOptions {
        tmr,
        word_width,
        reuse,
        seu_port,
    }
}

fn emit(graph: &Graph, top: &str, r: &ReconfigOptions) -> ReconfigDesign {
    emit_reconfigurable(graph, &VerilogOptions::new(top), r).unwrap_or_else(|e| panic!("{e}"))
}

fn check_clean(d: &ReconfigDesign) {
    let rtl = &d.design.rtl;
    for check in [lint, yosys_elaborate, iverilog_check] {
        if let Err(e) = check(rtl) {
            panic!("{e}");
        }
    }
}

#[test]
fn registers_designs_are_lint_clean() {
    if !require_tools(common::TOOLS) {
        return;
    }
    for (graph, top) in [(skip_graph(1), "rc_skip"), (dense_stack(2), "rc_stack")] {
        for tmr in [Tmr::None, Tmr::Config, Tmr::All] {
            for reuse in [1, 3] {
                for seu in [false, true] {
                    let d = emit(&graph, top, &options(tmr, reuse, 16, seu));
                    check_clean(&d);
                }
            }
        }
    }
}

/// Runs `vectors` through `design` loaded with `weights`' image; compares every lane with
/// the reference of `weights`.
fn check_weight_set(
    sim: &ConfiguredCosim,
    d: &ReconfigDesign,
    weights: &Graph,
    vectors: &[Vec<i64>],
) {
    let image = Image::new(&d.map, weights).unwrap_or_else(|e| panic!("{e}"));
    let run = sim
        .run(&image.writes(), vectors, None)
        .unwrap_or_else(|e| panic!("{e}"));
    let expected = reference_outputs(weights, vectors);
    if let Err(m) = compare_outputs(&expected, &run.outputs) {
        panic!("{}: {m}", d.design.rtl.top);
    }
}

#[test]
fn two_weight_sets_through_one_build_are_bit_exact() {
    if !require_tools(&["verilator"]) {
        return;
    }
    let cases = [
        (skip_graph(3), "rc2_skip", options(Tmr::None, 1, 32, false)),
        (
            skip_graph(4),
            "rc2_skip_f",
            options(Tmr::Config, 3, 8, false),
        ),
        (dense_stack(5), "rc2_stack", options(Tmr::All, 4, 64, false)),
        (
            dense_stack(6),
            "rc2_stack_c",
            options(Tmr::Config, 1, 13, true),
        ),
    ];
    for (graph, top, r) in cases {
        let d = emit(&graph, top, &r);
        let sim = ConfiguredCosim::build(&d.design, &cache_dir(), &BuildOptions::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let vectors = random_inputs(&graph, 3000, 11);
        check_weight_set(&sim, &d, &graph, &vectors);
        let second = random_weights(&graph, &d.map, 99).unwrap();
        assert_ne!(
            Image::new(&d.map, &graph).unwrap().words,
            Image::new(&d.map, &second).unwrap().words
        );
        check_weight_set(&sim, &d, &second, &vectors);
        eprintln!(
            "{top}: two weight sets bit-exact (tmr {}, reuse {}, {} multipliers, latency {}, II {})",
            r.tmr, r.reuse, d.multipliers, d.design.rtl.latency, d.design.initiation_interval
        );
    }
}
