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
    for reuse in [1, 2] {
        v.push(HardwareOptions {
            nonneg_adders: true,
            reuse,
            ..HardwareOptions::default()
        });
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

/// The optimised Verilog never adds an odd constant to an adder's whole output (`x + C`,
/// `C - x`): it takes `x[0]` as the carry in (`{x[..:1] + K + x[0], ~x[0]}`), so yosys
/// does not fold the two adders into one multi-operand adder, where the constant would
/// cost logic (see `Printer::constant_add`).
#[test]
fn odd_constants_are_added_with_the_carry_in() {
    use aecc::backend::verilog::{emit, VerilogOptions};
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/econt/model.onnx");
    let (graph, _) = aecc::pipeline::lower(&model, None).unwrap();
    let d = emit(&graph, &VerilogOptions::new("econt")).unwrap();
    let text = &d.files[0].1;
    let mut carry_in = 0;
    for line in text.lines() {
        let Some((_, expr)) = line.split_once(" = ") else {
            continue;
        };
        let expr = expr.trim_end_matches(';');
        let parts: Vec<&str> = expr.split(' ').collect();
        if let [x, op, y] = parts[..] {
            let odd = |t: &str| {
                t.split_once("'d")
                    .and_then(|(_, v)| v.parse::<u128>().ok())
                    .is_some_and(|v| v % 2 == 1)
            };
            let name = |t: &str| t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            assert!(
                !((op == "+" && name(x) && odd(y)) || (op == "-" && odd(x) && name(y))),
                "{line}"
            );
        }
        carry_in += usize::from(expr.contains("[0]}") && expr.contains(", ~"));
    }
    assert!(carry_in >= 16, "{carry_in} constant adds with a carry in");
}
