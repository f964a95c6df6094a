//! The lane graph (`aecc::lower`) against the reference model, without Verilator:
//! every option set, the bundled models and the hand-built graphs, on random vectors.
//! The lane graph is evaluated with the hardware's own algebra (floor-form
//! quantizers, shared sub-expressions), and every cell is checked against the interval
//! its width was sized from.

mod common;

use aecc::lower::{lower, Arithmetic, HardwareOptions};
use aecc_ir::Graph;
use common::*;
use std::path::Path;

fn option_sets() -> Vec<HardwareOptions> {
    let mut v = Vec::new();
    for arithmetic in [
        Arithmetic::Multipliers,
        Arithmetic::ShiftAdd,
        Arithmetic::SharedShiftAdd,
    ] {
        for fuse in [false, true] {
            for reuse in [1, 2, 3] {
                v.push(HardwareOptions {
                    arithmetic,
                    fuse,
                    reuse,
                    ..HardwareOptions::default()
                });
            }
        }
    }
    v
}

fn check(graph: &Graph, what: &str, n: usize) {
    let vectors = random_inputs(graph, n, 21);
    let expected = reference_outputs(graph, &vectors);
    for opts in option_sets() {
        let low = lower(graph, &opts).unwrap_or_else(|e| panic!("{what}: {e}"));
        for (i, (x, want)) in vectors.iter().zip(&expected).enumerate() {
            let got: Vec<i64> = low.dfg.eval(x).into_iter().map(|v| v as i64).collect();
            assert_eq!(&got, want, "{what} {opts:?}: vector {i}");
        }
    }
}

#[test]
fn hand_built_graphs_lower_exactly() {
    check(&econt_like(1), "econt_like", 1000);
    check(&dense_stack(2), "dense_stack", 1000);
    check(&skip_graph(3), "skip_graph", 1000);
}

#[test]
fn bundled_models_lower_exactly() {
    for name in ["econt", "dense_ae"] {
        let model = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../models")
            .join(name)
            .join("model.onnx");
        let (graph, _) = aecc::pipeline::lower(&model, None).unwrap();
        check(&graph, name, 500);
    }
}
