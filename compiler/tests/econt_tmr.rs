//! The ECON-T encoder with reconfigurable weights, as the chip needs it:
//! - with `--tmr config`, two weight sets (the model's, and a random set of the same
//!   precisions) written through the configuration port of one generated RTL are
//!   bit-exact against the reference model of each;
//! - fault injection over 100,000 vectors: with `--tmr config` (upsets in the
//!   configuration registers) and `--tmr all` (upsets in every register) no output
//!   differs; without TMR the same injection produces mismatches, and with `--tmr config`
//!   upsets in the unprotected pipeline registers do too.

use aecc::backend::verilog::{ReconfigOptions, Tmr};
use aecc::pipeline::{compile, CompileOptions, Compiled};
use aecc::verify::{random_vectors, sample_vectors};
use aecc::verify_config::{cosimulate_configured, SeuOptions, SeuTarget};
use aecc::weights::random_weights;
use aecc_sim::Simulator;
use aecc_testbench::require_tools;
use std::path::{Path, PathBuf};

fn model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/econt/model.onnx")
}

fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("verilator-cache")
}

fn econt(tmr: Tmr, seu_port: bool) -> Compiled {
    compile(
        &model(),
        &CompileOptions {
            reconfig: Some(ReconfigOptions {
                tmr,
                seu_port,
                ..ReconfigOptions::default()
            }),
            ..CompileOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn econt_with_tmr_config_is_bit_exact_with_two_weight_sets() {
    if !require_tools(&["verilator"]) {
        return;
    }
    let compiled = econt(Tmr::Config, false);
    let design = compiled.reconfig.as_ref().unwrap();
    let sim = Simulator::new(&compiled.graph).unwrap();
    let mut vectors = random_vectors(&sim, 10_000, 21);
    vectors.extend(sample_vectors(&sim, &model()).unwrap().expect("samples"));
    let second = random_weights(&compiled.graph, &design.map, 77).unwrap();
    for (what, weights) in [
        ("model weights", &compiled.graph),
        ("random weights", &second),
    ] {
        let c = cosimulate_configured(design, weights, &vectors, &cache_dir(), None, |_| {})
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.comparison.vectors, vectors.len());
        assert_eq!(c.comparison.lanes_compared, vectors.len() * 16);
        assert!(
            c.passed(),
            "{what}: {} mismatching lanes, first {:?}",
            c.comparison.mismatch_count,
            c.comparison.mismatches
        );
        eprintln!(
            "econt --tmr config, {what}: {} vectors bit-exact",
            vectors.len()
        );
    }
}

#[test]
fn econt_fault_injection_tmr_masks_every_upset_and_no_tmr_does_not() {
    if !require_tools(&["verilator"]) {
        return;
    }
    const VECTORS: usize = 100_000;
    const RATE: f64 = 0.01;
    let mut report = Vec::new();
    for (tmr, target, must_pass) in [
        (Tmr::None, SeuTarget::Config, false),
        (Tmr::Config, SeuTarget::Config, true),
        (Tmr::Config, SeuTarget::Pipeline, false),
        (Tmr::All, SeuTarget::All, true),
    ] {
        let compiled = econt(tmr, true);
        let design = compiled.reconfig.as_ref().unwrap();
        let sim = Simulator::new(&compiled.graph).unwrap();
        // the pipeline target needs fewer vectors to show its failures
        let n = if must_pass { VECTORS } else { VECTORS / 5 };
        let vectors = random_vectors(&sim, n, 5);
        let seu = SeuOptions {
            rate: RATE,
            seed: 31,
            target,
        };
        let c = cosimulate_configured(
            design,
            &compiled.graph,
            &vectors,
            &cache_dir(),
            Some(&seu),
            |_| {},
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let line = format!(
            "--tmr {tmr:<6} upsets in {target:<8} registers ({:>5} bits): {:>4} upsets in {:>6} \
             cycles, {:>6} of {n} vectors wrong, {} mismatching lanes",
            c.target_bits, c.upsets, c.cycles, c.bad_vectors, c.comparison.mismatch_count
        );
        eprintln!("{line}");
        report.push(line.clone());
        // about RATE * cycles upsets happened
        let expected = RATE * c.cycles as f64;
        assert!(
            (c.upsets as f64 - expected).abs() < 5.0 * expected.sqrt() + 5.0,
            "{line}"
        );
        if must_pass {
            assert!(c.passed(), "{line}: first {:?}", c.comparison.mismatches);
        } else {
            assert!(c.bad_vectors > 0, "the injection went unnoticed: {line}");
        }
    }
    eprintln!("{}", report.join("\n"));
}
