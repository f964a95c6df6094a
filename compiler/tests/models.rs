//! Every bundled model under `models/` through the whole flow:
//! - the reference model equals the QONNX executor on all committed sample vectors;
//! - the generated RTL equals the reference on >= 10,000 random vectors on the input
//!   grid plus the sample vectors (Verilator co-simulation, every output bit);
//! - a design with one corrupted constant (a bias in a shift-add adder) is caught (the
//!   check can fail).

use aecc::pipeline::{compile, CompileOptions};
use aecc::verify::{check_reference_against_executor, cosimulate, sample_vectors, VectorSource};
use aecc_sim::Simulator;
use aecc_testbench::require_tools;
use std::path::{Path, PathBuf};

fn models() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("models/ exists")
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("model.onnx"))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    assert!(
        found.len() >= 2,
        "expected the bundled models in {}",
        root.display()
    );
    found
}

fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("verilator-cache")
}

#[test]
fn reference_equals_qonnx_executor_on_committed_samples() {
    for model in models() {
        let compiled = compile(&model, &CompileOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", model.display()));
        let sim = Simulator::new(&compiled.graph).unwrap();
        let cmp = check_reference_against_executor(&sim, &model)
            .unwrap()
            .unwrap_or_else(|| panic!("{} has no samples/{{input,output}}.npy", model.display()));
        assert!(
            cmp.vectors >= 1000,
            "{}: only {} sample vectors",
            model.display(),
            cmp.vectors
        );
        assert_eq!(cmp.lanes_compared, cmp.vectors * sim.output_info(0).len());
        assert!(
            cmp.passed(),
            "{}: {} mismatches, first {:?}",
            model.display(),
            cmp.mismatch_count,
            cmp.mismatches
        );
        eprintln!(
            "{}: reference == QONNX executor on {} samples",
            model.display(),
            cmp.vectors
        );
    }
}

#[test]
fn rtl_is_bit_exact_on_10000_random_vectors_and_the_samples() {
    if !require_tools(&["verilator"]) {
        return;
    }
    for model in models() {
        let compiled = compile(&model, &CompileOptions::default()).unwrap();
        let sim = Simulator::new(&compiled.graph).unwrap();
        let samples = sample_vectors(&sim, &model).unwrap().expect("samples");
        let total = 10_000 + samples.len();
        let source = VectorSource::new(&sim, 10_000, 7, samples);
        let batch = sim.compile_batch().unwrap();
        let mut done = 0;
        let (cmp, timing) = cosimulate(&compiled.rtl, &batch, source, &cache_dir(), None, |n| {
            done = n;
        })
        .unwrap();
        assert_eq!(cmp.vectors, total);
        assert_eq!(cmp.lanes_compared, total * batch.output_len());
        assert_eq!(
            (done, timing.stream.inputs, timing.stream.outputs),
            (total, total as u64, total as u64)
        );
        assert!(
            cmp.passed(),
            "{}: {} mismatching lanes, first {:?}",
            model.display(),
            cmp.mismatch_count,
            cmp.mismatches
        );
        eprintln!(
            "{}: RTL == reference on {} vectors",
            model.display(),
            cmp.vectors
        );
    }
}

#[test]
fn a_corrupted_constant_in_the_econt_design_is_reported() {
    if !require_tools(&["verilator"]) {
        return;
    }
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/econt/model.onnx");
    let compiled = compile(&model, &CompileOptions::default()).unwrap();
    let mut rtl = compiled.rtl.clone();
    // The design is multiplier-free: find the first adder that adds a constant (a
    // bias, with the rounding constant folded in) `+ W'dV` and flip the top bit of V.
    let mut changed = None;
    for (name, text) in rtl.files.iter_mut() {
        let mut at = 0;
        for line in text.clone().lines() {
            let is_adder = line.trim_start().starts_with("wire ") && line.contains("_a");
            if let (true, Some(pos)) = (is_adder, line.find(" + ")) {
                let lit = pos + 3;
                let rest = &line[lit..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '\''))
                    .unwrap_or(rest.len());
                if let Some((width, value)) = rest[..end].split_once("'d") {
                    let w: u32 = width.parse().unwrap();
                    let v: u128 = value.parse().unwrap();
                    let corrupted = format!("{w}'d{}", v ^ (1u128 << (w - 1)));
                    text.replace_range(at + lit..at + lit + end, &corrupted);
                    changed = Some(format!("{name}: {} -> {corrupted}", &rest[..end]));
                    break;
                }
            }
            at += line.len() + 1;
        }
        if changed.is_some() {
            break;
        }
    }
    let changed = changed.expect("the ECON-T design adds bias constants");
    eprintln!("corrupted {changed}");
    let sim = Simulator::new(&compiled.graph).unwrap();
    let source = VectorSource::new(&sim, 2_000, 3, Vec::new());
    let batch = sim.compile_batch().unwrap();
    let (cmp, _) = cosimulate(&rtl, &batch, source, &cache_dir(), Some(4), |_| {}).unwrap();
    assert!(
        !cmp.passed(),
        "a corrupted constant went unnoticed ({changed})"
    );
    let first = &cmp.mismatches[0];
    assert_ne!(first.expected, first.actual);
    let message = first.to_string();
    assert!(
        message.starts_with(&format!("vector {} lane {}", first.vector, first.lane)),
        "{message}"
    );
}
