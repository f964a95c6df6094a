//! The oracle of the fuzz targets, shared with the regression test
//! `compiler/tests/fuzz_regressions.rs` (which includes this file by path).
//!
//! A model is run through the whole pipeline: import, the default passes, the design
//! size estimate, the Verilog backend and the report, and (when small enough) the
//! reference simulator on a few input vectors. Refusing the model with an error is
//! fine; what this checks is that nothing panics and nothing lies:
//! - every error message is non-empty;
//! - an imported graph passes the IR verifier;
//! - every value the simulator computes, node by node, lies inside the interval and the
//!   fixed-point type the IR inferred for that node (interval analysis is sound, so no
//!   accumulator can overflow in hardware);
//! - the counting run (`--check-overflow`) gives the same outputs as the plain run, and
//!   the batch evaluator the same as the scalar one;
//! - a successful compile produces a non-empty Verilog file for its top module.

use aecc::pipeline::{compile_lowered, lower_imported, CompileOptions};
use aecc_sim::{eval::eval_op, BatchSimulator, OverflowCounts, Simulator};
use std::collections::HashMap;
use std::path::Path;

/// Simulate only graphs up to this many tensor elements (keeps an execution fast).
const MAX_SIM_LANES: u128 = 1 << 14;
/// ... and up to this many adder bits.
const MAX_SIM_ADDER_BITS: u128 = 1 << 20;

/// How far a model got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Refused with this message, at the named stage.
    Refused {
        stage: &'static str,
        message: String,
    },
    /// Compiled to Verilog.
    Compiled,
}

fn refused(stage: &'static str, message: String) -> Outcome {
    assert!(
        !message.trim().is_empty(),
        "{stage} refused the model with an empty message"
    );
    Outcome::Refused { stage, message }
}

/// Runs the whole pipeline on ONNX bytes and checks its invariants (panics when one is
/// broken). `seed` varies the simulated input vectors.
pub fn check_model_bytes(bytes: &[u8], seed: u64) -> Outcome {
    let imported = match aecc::onnx::import_bytes(bytes) {
        Ok(m) => m,
        Err(e) => return refused("import", e.to_string()),
    };
    aecc_ir::verify::verify(&imported.graph)
        .unwrap_or_else(|e| panic!("the importer returned a graph the verifier refuses: {e}"));
    let (graph, warnings) = match lower_imported(imported, None) {
        Ok(g) => g,
        Err(e) => return refused("passes", e.to_string()),
    };
    aecc_ir::verify::verify(&graph)
        .unwrap_or_else(|e| panic!("the passes returned a graph the verifier refuses: {e}"));
    let size = aecc::limits::design_size(&graph).expect("verified graphs are acyclic");
    if size.lanes() <= MAX_SIM_LANES && size.adder_bits() <= MAX_SIM_ADDER_BITS {
        check_simulation(&graph, seed);
    }
    let opts = CompileOptions::default();
    match compile_lowered(graph, warnings, Path::new("fuzz.onnx"), "fuzz", &opts) {
        Ok(c) => {
            let top = c
                .rtl
                .files
                .iter()
                .find(|(name, _)| name == "fuzz.v")
                .expect("the top module's file");
            assert!(top.1.contains("module fuzz"), "no top module in fuzz.v");
            Outcome::Compiled
        }
        Err(e) => refused("compile", e.to_string()),
    }
}

/// A small deterministic generator (no dependencies).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
    /// Uniform in `[lo, hi]`.
    fn range(&mut self, lo: i128, hi: i128) -> i128 {
        let span = (hi - lo) as u128 + 1;
        let r = ((self.next() as u128) << 64 | self.next() as u128) % span.max(1);
        lo + r as i128
    }
}

/// Runs the graph node by node on input vectors at the extremes of each input's
/// interval and at random points in it; checks every value against its node's interval
/// and type, and the simulator's plain and counting runs against each other.
fn check_simulation(graph: &aecc_ir::Graph, seed: u64) {
    let sim = Simulator::new(graph).expect("verified graph");
    // the fast batch evaluator must agree with the scalar one (single input/output)
    let batch = (graph.inputs().len() == 1 && graph.outputs().len() == 1)
        .then(|| BatchSimulator::new(graph).expect("the batch evaluator takes every graph"));
    let mut rng = SplitMix(seed);
    for trial in 0..4 {
        let inputs: Vec<Vec<i64>> = graph
            .inputs()
            .iter()
            .map(|&id| {
                let t = &graph.node(id).out;
                let (lo, hi) = (t.interval.lo, t.interval.hi);
                (0..t.len())
                    .map(|_| match trial {
                        0 => lo,
                        1 => hi,
                        _ => rng.range(lo, hi),
                    } as i64)
                    .collect()
            })
            .collect();
        let mut values: HashMap<aecc_ir::NodeId, Vec<i64>> = HashMap::new();
        for (&id, x) in graph.inputs().iter().zip(&inputs) {
            values.insert(id, x.clone());
        }
        for id in graph.compute_nodes().expect("acyclic") {
            let node = graph.node(id);
            let operands = graph.operands(id);
            let args: Vec<(&[i64], &aecc_ir::TensorInfo)> = operands
                .iter()
                .map(|o| (values[o].as_slice(), &graph.node(*o).out))
                .collect();
            let out = eval_op(&node.op, &args, &node.out);
            assert_eq!(
                out.len(),
                node.out.len(),
                "node {}: wrong length",
                node.name
            );
            for (i, &v) in out.iter().enumerate() {
                assert!(
                    node.out.interval.contains(v as i128) && node.out.ty.contains(v as i128),
                    "node {} ({}): element {i} = {v} is outside its interval {} / type {}",
                    node.name,
                    node.op.name(),
                    node.out.interval,
                    node.out.ty
                );
            }
            values.insert(id, out);
        }
        let refs: Vec<&[i64]> = inputs.iter().map(|v| v.as_slice()).collect();
        let plain = sim.run(&refs).expect("inputs are in range");
        let mut counts = OverflowCounts::new(&sim);
        let counted = sim.run_counting(&refs, &mut counts).expect("same inputs");
        assert_eq!(plain, counted, "counting changed the results");
        for (k, (_, id)) in graph.outputs().iter().enumerate() {
            assert_eq!(plain[k], values[id], "simulator vs node-by-node evaluation");
        }
        if let Some(batch) = &batch {
            let got = batch.run_batch(&inputs[0], 1).expect("inputs are in range");
            assert_eq!(got, plain[0], "batch simulator vs scalar simulator");
        }
    }
}
