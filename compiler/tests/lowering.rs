//! The lane graph (`aecc::lower`) against the reference model, without Verilator:
//! every option set, the bundled models and the hand-built graphs, on random vectors.
//! The lane graph is evaluated with the hardware's own algebra (floor-form
//! quantizers, shared sub-expressions), and every cell is checked against the interval
//! its width was sized from.

mod common;

use aecc::lower::{lower, Arithmetic, HardwareOptions};
use aecc_ir::Graph;
use common::*;

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
        check(&bundled_model(name), name, 500);
    }
}

/// The optimised Verilog never adds an odd constant to an adder's whole output (`x + C`,
/// `C - x`): it takes `x[0]` as the carry in (`{x[..:1] + K + x[0], ~x[0]}`), so yosys
/// does not fold the two adders into one multi-operand adder, where the constant would
/// cost logic (see `Printer::constant_add`).
#[test]
fn odd_constants_are_added_with_the_carry_in() {
    use aecc::backend::verilog::{emit, VerilogOptions};
    let graph = bundled_model("econt");
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

/// Every adder-tree rule `lower` can pick (LUT-cost or arrival pairing, with or without
/// the constant-aware root) builds an exact lane graph, not only the one it picked.
#[test]
fn every_tree_rule_is_exact() {
    use aecc::lower::build::{build, BuildOptions};
    use aecc::lower::cmvm::TreeOrder;
    use aecc::lower::DelayModel;
    let mut graphs = vec![
        ("econt_like".to_string(), econt_like(1)),
        ("dense_stack".to_string(), dense_stack(2)),
        ("skip_graph".to_string(), skip_graph(3)),
    ];
    for name in ["econt", "dense_ae"] {
        graphs.push((name.into(), bundled_model(name)));
    }
    for (what, graph) in &graphs {
        let vectors = random_inputs(graph, 300, 5);
        let expected = reference_outputs(graph, &vectors);
        for tree_order in [TreeOrder::Cost, TreeOrder::Arrival] {
            for root_constant_cost in [false, true] {
                for reuse in [1, 2] {
                    let opts = BuildOptions {
                        arithmetic: Arithmetic::SharedShiftAdd,
                        fuse: true,
                        nonneg_adders: false,
                        reuse,
                        tree_order,
                        root_constant_cost,
                    };
                    let (dfg, _) = build(graph, opts, &DelayModel::sky130_hd()).unwrap();
                    for (i, (x, want)) in vectors.iter().zip(&expected).enumerate() {
                        let got: Vec<i64> = dfg.eval(x).into_iter().map(|v| v as i64).collect();
                        assert_eq!(&got, want, "{what} {opts:?}: vector {i}");
                    }
                }
            }
        }
    }
}

/// The LUT-cheapest adder trees are used only where they cost no register stage: at
/// every clock target the chosen design has no more stages than the shallowest trees
/// (arrival pairing), and ECON-T keeps its 2 cycles at the default 25 ns.
#[test]
fn cheaper_trees_never_cost_latency() {
    use aecc::lower::build::{build, BuildOptions};
    use aecc::lower::cmvm::TreeOrder;
    use aecc::lower::{timing, DelayModel};
    for name in ["econt", "dense_ae"] {
        let graph = bundled_model(name);
        for clock_ns in [25.0, 12.0, 6.0] {
            let opts = HardwareOptions {
                clock_ns,
                ..HardwareOptions::default()
            };
            let low = lower(&graph, &opts).unwrap();
            let model = DelayModel::sky130_hd();
            let (dfg, _) = build(
                &graph,
                BuildOptions {
                    arithmetic: Arithmetic::SharedShiftAdd,
                    fuse: true,
                    nonneg_adders: false,
                    reuse: 1,
                    tree_order: TreeOrder::Arrival,
                    root_constant_cost: false,
                },
                &model,
            )
            .unwrap();
            let shallow = timing::schedule(&dfg, &model, clock_ns);
            assert!(
                low.schedule.stages <= shallow.stages,
                "{name} at {clock_ns} ns: {} stages, the shallowest trees need {}",
                low.schedule.stages,
                shallow.stages
            );
            if name == "econt" && clock_ns == 25.0 {
                assert_eq!(low.schedule.stages, 1, "ECON-T: one combinational stage");
            }
        }
    }
}
