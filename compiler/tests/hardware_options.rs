//! Every hardware option set is bit-exact: Verilator co-simulation of the designs
//! `aecc` builds for clock targets (one stage to dozens), reuse factors (folded
//! layers, II > 1, with random bubbles) and every optimisation switch, on the
//! hand-built graphs and on both bundled models, against the reference model.
//! Every design is also linted with `verilator --lint-only -Wall`; the folded and the
//! deeply pipelined ones are elaborated by yosys and iverilog too.

mod common;

use aecc::backend::verilog::{emit, VerilogOptions};
use aecc::lower::{Arithmetic, HardwareOptions};
use aecc_ir::Graph;
use aecc_testbench::{lint, require_tools};
use common::*;
use std::path::Path;

fn opts(f: impl FnOnce(&mut HardwareOptions)) -> HardwareOptions {
    let mut o = HardwareOptions::default();
    f(&mut o);
    o
}

/// The option sets, by name.
fn option_set(name: &str) -> HardwareOptions {
    match name {
        "default" => HardwareOptions::default(),
        "baseline" => HardwareOptions::baseline(),
        "clock3" => opts(|o| o.clock_ns = 3.0),
        "clock2_nofuse" => opts(|o| {
            o.clock_ns = 2.0;
            o.fuse = false
        }),
        "multipliers_clock5" => opts(|o| {
            o.arithmetic = Arithmetic::Multipliers;
            o.clock_ns = 5.0
        }),
        "nocse" => opts(|o| o.arithmetic = Arithmetic::ShiftAdd),
        "reuse2" => opts(|o| o.reuse = 2),
        "reuse3_clock4" => opts(|o| {
            o.reuse = 3;
            o.clock_ns = 4.0
        }),
        "reuse5_nocse_nofuse" => opts(|o| {
            o.reuse = 5;
            o.arithmetic = Arithmetic::ShiftAdd;
            o.fuse = false
        }),
        "reuse4_multipliers" => opts(|o| {
            o.reuse = 4;
            o.arithmetic = Arithmetic::Multipliers
        }),
        "unsigned" => opts(|o| o.nonneg_adders = true),
        "reuse3_unsigned" => opts(|o| {
            o.reuse = 3;
            o.nonneg_adders = true
        }),
        other => panic!("unknown option set {other}"),
    }
}

fn check(graph: &Graph, top: &str, set: &str, full_checks: bool) {
    if !require_tools(TOOLS) {
        return;
    }
    let o = option_set(set);
    let options = VerilogOptions::new(format!("{top}_{set}")).with_hardware(o);
    let design = if full_checks {
        emit_checked_with(graph, &options)
    } else {
        let d = emit(graph, &options).unwrap_or_else(|e| panic!("{set}: {e}"));
        lint(&d).unwrap_or_else(|e| panic!("{set}: {e}"));
        d
    };
    assert_eq!(design.initiation_interval, o.reuse);
    // a folded design tells its producer when it can take the next input
    assert_eq!(
        design.files[0].1.contains("output wire in_ready"),
        o.reuse > 1
    );
    cosim_against_reference(graph, &design, 3000, 77);
}

macro_rules! cases {
    ($($test:ident: $graph:expr, $top:literal, $set:literal, $full:literal;)*) => {
        $(
            #[test]
            fn $test() {
                check(&$graph, $top, $set, $full);
            }
        )*
    };
}

cases! {
    econt_like_clock3: econt_like(1), "ecl", "clock3", true;
    econt_like_reuse2: econt_like(1), "ecl", "reuse2", true;
    econt_like_multipliers_clock5: econt_like(1), "ecl", "multipliers_clock5", false;
    dense_stack_clock2_nofuse: dense_stack(2), "dst", "clock2_nofuse", true;
    dense_stack_nocse: dense_stack(2), "dst", "nocse", false;
    dense_stack_reuse3_clock4: dense_stack(2), "dst", "reuse3_clock4", true;
    dense_stack_reuse5_nocse_nofuse: dense_stack(2), "dst", "reuse5_nocse_nofuse", false;
    dense_stack_reuse4_multipliers: dense_stack(2), "dst", "reuse4_multipliers", false;
    dense_stack_reuse3_unsigned: dense_stack(2), "dst", "reuse3_unsigned", false;
    econt_like_unsigned: econt_like(1), "ecl", "unsigned", true;
    skip_graph_clock2_nofuse: skip_graph(3), "skp", "clock2_nofuse", false;
    skip_graph_reuse2: skip_graph(3), "skp", "reuse2", true;
    skip_graph_reuse3_clock4: skip_graph(3), "skp", "reuse3_clock4", false;
    skip_graph_multipliers_clock5: skip_graph(3), "skp", "multipliers_clock5", false;
    econt_model_default: bundled_model("econt"), "econt", "default", true;
    econt_model_clock3: bundled_model("econt"), "econt", "clock3", false;
    econt_model_reuse2: bundled_model("econt"), "econt", "reuse2", false;
    econt_model_nocse: bundled_model("econt"), "econt", "nocse", false;
    econt_model_unsigned: bundled_model("econt"), "econt", "unsigned", false;
    dense_ae_model_default: bundled_model("dense_ae"), "dae", "default", false;
    dense_ae_model_clock2_nofuse: bundled_model("dense_ae"), "dae", "clock2_nofuse", false;
    dense_ae_model_reuse3_clock4: bundled_model("dense_ae"), "dae", "reuse3_clock4", false;
    dense_ae_model_multipliers_clock5: bundled_model("dense_ae"), "dae", "multipliers_clock5", false;
    dense_ae_model_baseline: bundled_model("dense_ae"), "dae", "baseline", false;
}

/// The delay model's register placement: a tighter clock never gives fewer stages, the
/// default 25 ns puts the ECON-T encoder in one stage (latency 2: input and output
/// registers), and every schedule's critical path fits its clock when no single cell
/// is slower than the clock.
#[test]
fn latency_follows_the_clock_target() {
    let g = bundled_model("econt");
    let mut last = 0;
    for clock in [25.0, 12.0, 8.0, 5.0, 3.0] {
        let low = aecc::lower::lower(&g, &opts(|o| o.clock_ns = clock)).unwrap();
        let latency = low.schedule.latency();
        assert!(latency >= last, "{clock} ns: {latency} < {last}");
        if low.schedule.violations.is_empty() {
            assert!(low.schedule.critical_ns <= clock + 1e-9, "{clock} ns");
        }
        if clock == 25.0 {
            assert_eq!(latency, 2);
            assert!(low.schedule.violations.is_empty());
        }
        last = latency;
    }
    assert!(last > 2);
}

/// A graph with an op outside the lane lowering (here MaxPool) is compiled with the
/// reference architecture and a warning naming the node; folding it (`--reuse 2`) is an
/// error that names the node and the op, never a silently different design.
#[test]
fn graphs_outside_the_lowering_keep_the_reference_architecture() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/conv1d_ts/model.onnx");
    let c = aecc::pipeline::compile(&path, &aecc::pipeline::CompileOptions::default()).unwrap();
    let w = c
        .warnings
        .iter()
        .find(|w| w.starts_with("reference architecture"))
        .unwrap_or_else(|| panic!("no fallback warning in {:?}", c.warnings));
    assert!(w.contains("MaxPool") && w.contains("max_pool"), "{w}");
    assert!(c.report.architecture.is_none());
    assert_eq!(c.rtl.initiation_interval, 1);
    // the same graph through the backend directly, folded: a clear error
    let g = bundled_model("conv1d_ts");
    let o = opts(|o| o.reuse = 2);
    let e = emit(&g, &VerilogOptions::new("c1d").with_hardware(o)).unwrap_err();
    assert!(e.to_string().contains("max_pool"), "{e}");
    let mut co = aecc::pipeline::CompileOptions::default();
    co.hardware.reuse = 2;
    let Err(e) = aecc::pipeline::compile(&path, &co) else {
        panic!("reuse 2 must fail");
    };
    assert!(e.to_string().contains("max_pool"), "{e}");
    // econt is covered: no warning, an architecture section
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/econt/model.onnx");
    let c = aecc::pipeline::compile(&path, &aecc::pipeline::CompileOptions::default()).unwrap();
    assert!(!c
        .warnings
        .iter()
        .any(|w| w.starts_with("reference architecture")));
    assert!(c.report.architecture.is_some());
}
