//! Every generated test model in `models/testgen/` (one quantization form or encoder op
//! each, see its README), end to end:
//! - it compiles;
//! - the reference model equals the executor (QONNX executor or onnxruntime with
//!   ORT_DISABLE_ALL) on the 64 committed vectors, lane for lane, once the inputs are
//!   quantized the way the float32 executor quantizes them: everything inside the graph
//!   is bit-exact, except the float32 deviations listed in [`FLOAT_DEVIATIONS`];
//! - with the reference's own exact input quantization, the deviations (the executor
//!   divides the input by the scale in float32; the vectors are built to sit on and
//!   next to rounding ties) are measured and stay within two codes;
//! - the generated RTL of every form co-simulates bit-exact against the reference on the
//!   committed vectors and random vectors on the input grid (one Verilator build for all
//!   of them, side by side).
//!
//! The printed table is the source of the deviation figures in the README.

mod common;
mod side_by_side;

use aecc::pipeline::{compile, CompileOptions, Compiled};
use aecc::verify::{compare_with_executor_as, random_vectors, InputQuantization};
use aecc_sim::io::read_npy;
use aecc_sim::Simulator;
use aecc_testbench::require_tools;
use std::path::{Path, PathBuf};

/// Forms whose graph computes in float32 where aecc is exact, with the number of
/// output lanes (of the committed vectors) where the executor's float32 rounding lands
/// on the other side of a quantizer's rounding boundary, and the largest difference in
/// output codes. Measured with float32-style input quantization (so only in-graph
/// float arithmetic counts).
const FLOAT_DEVIATIONS: &[(&str, usize, f64)] = &[
    // MatMulInteger -> Cast -> Mul by float32(s_x * s_w) -> QuantizeLinear: the float32
    // product of the int32 accumulator and the float scale
    ("matmul_integer", 2, 1.0),
];

fn forms() -> Vec<(String, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/testgen");
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .expect("models/testgen exists")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "onnx"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().to_string(), p))
        .collect();
    out.sort();
    assert!(
        out.len() >= 50,
        "expected the testgen models in {}",
        dir.display()
    );
    out
}

fn batch(path: &Path) -> Vec<Vec<f64>> {
    let b = read_npy(path).unwrap();
    (0..b.samples()).map(|i| b.sample(i).to_vec()).collect()
}

fn compiled(path: &Path) -> Compiled {
    compile(path, &CompileOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn argmax(v: &[f64]) -> Vec<usize> {
    let max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    (0..v.len()).filter(|&i| v[i] == max).collect()
}

#[test]
fn reference_matches_the_executor_on_every_form() {
    let mut failures = Vec::new();
    eprintln!(
        "{:32} {:>6} {:>22} {:>22}",
        "form", "lanes", "in-graph mismatches", "exact-input mismatches"
    );
    for (name, path) in forms() {
        let c = compiled(&path);
        let sim = Simulator::new(&c.graph).unwrap();
        let inputs = batch(&path.with_extension("in.npy"));
        let expected = batch(&path.with_extension("out.npy"));
        if c.warnings.iter().any(|w| w.contains("pre-softmax")) {
            // the output is the pre-softmax tensor: the executor's arg-max must be ours
            for (i, (x, e)) in inputs.iter().zip(&expected).enumerate() {
                let ints = sim.quantize_input(0, x).unwrap();
                let ours = sim.output_real(0, &sim.run_one(&ints).unwrap());
                let (a, b) = (argmax(&ours), argmax(e));
                if !a.iter().any(|k| b.contains(k)) {
                    failures.push(format!("{name}: vector {i}: arg-max {a:?} vs {b:?}"));
                }
            }
            eprintln!("{name:32} pre-softmax output, arg-max equal on every vector");
            continue;
        }
        let f =
            compare_with_executor_as(&sim, &inputs, &expected, InputQuantization::Float32).unwrap();
        let x =
            compare_with_executor_as(&sim, &inputs, &expected, InputQuantization::Exact).unwrap();
        eprintln!(
            "{name:32} {:>6} {:>14} (max {:.0}) {:>14} (max {:.0})",
            f.comparison.lanes_compared,
            f.comparison.mismatch_count,
            f.max_steps,
            x.comparison.mismatch_count,
            x.max_steps
        );
        let allowed = FLOAT_DEVIATIONS
            .iter()
            .find(|d| d.0 == name)
            .map_or((0, 0.0), |d| (d.1, d.2));
        if f.comparison.mismatch_count > allowed.0 || f.max_steps > allowed.1 + 1e-3 {
            failures.push(format!(
                "{name}: {} in-graph mismatches (max {} codes), first {:?}",
                f.comparison.mismatch_count, f.max_steps, f.comparison.mismatches
            ));
        }
        if x.max_steps > 2.0 + 1e-3 {
            failures.push(format!(
                "{name}: exact-input deviation {} codes",
                x.max_steps
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_form_cosimulates_bit_exact() {
    if !require_tools(common::TOOLS) {
        return;
    }
    let mut graphs = Vec::new();
    let mut vectors = Vec::new();
    for (name, path) in forms() {
        let c = compiled(&path);
        let sim = Simulator::new(&c.graph).unwrap();
        let mut v: Vec<Vec<i64>> = batch(&path.with_extension("in.npy"))
            .iter()
            .map(|x| sim.quantize_input(0, x).unwrap())
            .collect();
        v.extend(random_vectors(&sim, 2_000 - v.len(), 17));
        graphs.push((format!("tg_{name}"), c.graph));
        vectors.push(v);
    }
    side_by_side::check_side_by_side_on("testgen", &graphs, &vectors);
}

/// The `softmax` form compiled with `--lut-softmax`: aecc's integer softmax (an exp
/// table and an exact division) against onnxruntime's float32 softmax and quantizer
/// (deviation measured and bounded), then the RTL co-simulated bit-exact.
#[test]
fn lut_softmax_is_close_to_the_executor_and_bit_exact_in_rtl() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/testgen/softmax.onnx");
    let opts = CompileOptions {
        lut_softmax: true,
        ..CompileOptions::default()
    };
    let c = compile(&path, &opts).unwrap();
    assert!(
        c.graph
            .node_ids()
            .iter()
            .any(|&n| matches!(c.graph.node(n).op, aecc::ir::Op::Softmax(_))),
        "{}",
        aecc::ir::printer::print(&c.graph)
    );
    let sim = Simulator::new(&c.graph).unwrap();
    let inputs = batch(&path.with_extension("in.npy"));
    let expected = batch(&path.with_extension("out.npy"));
    let f = compare_with_executor_as(&sim, &inputs, &expected, InputQuantization::Float32).unwrap();
    eprintln!(
        "LUT softmax vs onnxruntime: {} of {} outputs differ, by at most {} code(s)",
        f.comparison.mismatch_count, f.comparison.lanes_compared, f.max_steps
    );
    assert!(f.max_steps <= 1.0 + 1e-3, "{:?}", f.comparison.mismatches);
    if !require_tools(common::TOOLS) {
        return;
    }
    common::emit_checked(&c.graph, "lut_softmax"); // lint, yosys, iverilog
    let source = aecc::verify::VectorSource::new(&sim, 3_000, 9, Vec::new());
    let batch = sim.compile_batch().unwrap();
    let (cmp, _) =
        aecc::verify::cosimulate(&c.rtl, &batch, source, &common::cache_dir(), None, |_| {})
            .unwrap();
    assert!(cmp.passed(), "{:?}", cmp.mismatches);
}
