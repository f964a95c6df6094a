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
use common::{cache_dir, random_inputs, reference_outputs, skip_graph};

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

/// A dense 16 -> 8 -> 4 stack with declared 5-bit weights and 9-bit biases, relus and
/// quantizers (small enough for many Verilator builds).
fn small_stack(seed: u64) -> Graph {
    use aecc::ir::{ConstTensor, Dense, FixedType, Interval, Op, Quantizer, Rounding};
    let mut r = common::rng(seed);
    let mut g = Graph::new("small_stack");
    let mut at = g.add_input(
        "x",
        vec![1, 16],
        FixedType::exact(7, 4, true),
        Some(Quantizer::pow2(7, 4, true, Rounding::HalfEven)),
    );
    for (k, (n_in, n_out)) in [(16, 8), (8, 4)].into_iter().enumerate() {
        let dense = Dense {
            weight: ConstTensor::new(
                vec![n_in, n_out],
                common::weights(&mut r, n_in * n_out, -16, 15),
                3,
            )
            .with_declared(Some(Interval::new(-16, 15))),
            bias: Some(
                ConstTensor::new(vec![n_out], common::weights(&mut r, n_out, -256, 255), 7)
                    .with_declared(Some(Interval::new(-256, 255))),
            ),
        };
        let d = g
            .add_node(format!("fc{k}"), Op::Dense(dense), &[at], "fc (Gemm)")
            .unwrap();
        let relu = g
            .add_node(format!("fc{k}_relu"), Op::Relu, &[d], "relu (Relu)")
            .unwrap();
        at = g
            .add_node(
                format!("fc{k}_q"),
                Op::Quantize(Quantizer::pow2(6, 3, false, Rounding::HalfEven)),
                &[relu],
                "q (Quant)",
            )
            .unwrap();
    }
    g.add_output("y", at);
    g
}

#[test]
fn registers_designs_are_lint_clean() {
    if !require_tools(common::TOOLS) {
        return;
    }
    // every TMR level, folded or not, with and without the injection port
    let graph = skip_graph(1);
    for tmr in [Tmr::None, Tmr::Config, Tmr::All] {
        for reuse in [1, 3] {
            for seu in [false, true] {
                check_clean(&emit(&graph, "rc_skip", &options(tmr, reuse, 16, seu)));
            }
        }
    }
    // word widths that split elements over words and pack several per word
    let graph = small_stack(2);
    for (tmr, word) in [(Tmr::Config, 4), (Tmr::All, 64)] {
        check_clean(&emit(&graph, "rc_small", &options(tmr, 2, word, false)));
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
        (small_stack(5), "rc2_stack", options(Tmr::All, 4, 64, false)),
        (
            small_stack(6),
            "rc2_stack_c",
            options(Tmr::Config, 1, 5, true),
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

/// `.en(1'b1), .d(weA ? DATA : wordA)` -> `.en(weA), .d(DATA)`: configuration words that
/// keep their value instead of reloading the voted one (no scrubbing).
fn without_scrubbing(text: &str) -> String {
    text.lines()
        .map(|l| match l.split_once(".en(1'b1), .d(we") {
            Some((head, rest)) => {
                let (we, rest) = rest.split_once(" ? ").unwrap();
                let (data, rest) = rest.split_once(" : ").unwrap();
                let (_, tail) = rest.split_once("), ").unwrap();
                format!("{head}.en(we{we}), .d({data}), {tail}\n")
            }
            None => format!("{l}\n"),
        })
        .collect()
}

#[test]
fn fault_injection_is_masked_only_with_voting_and_scrubbing() {
    if !require_tools(&["verilator"]) {
        return;
    }
    use aecc::verify_config::{cosimulate_configured, SeuOptions, SeuTarget};
    let graph = small_stack(8);
    let vectors = random_inputs(&graph, 8000, 4);
    type Mutation = fn(&str, &str) -> String;
    let broken_voter: Mutation = |name, text| {
        if name.ends_with("_tmr_reg.v") {
            text.replace(
                "assign q = (r0 & r1) | (r0 & r2) | (r1 & r2);",
                "assign q = r0;",
            )
        } else {
            text.to_string()
        }
    };
    let no_scrub: Mutation = |name, text| {
        if name.ends_with("_config.v") {
            without_scrubbing(text)
        } else {
            text.to_string()
        }
    };
    type Case = (&'static str, Tmr, u32, Option<Mutation>, SeuTarget, bool);
    let cases: [Case; 6] = [
        ("rc_seu_none", Tmr::None, 1, None, SeuTarget::Config, false),
        ("rc_seu_cfg", Tmr::Config, 2, None, SeuTarget::Config, true),
        (
            "rc_seu_voter",
            Tmr::Config,
            2,
            Some(broken_voter),
            SeuTarget::Config,
            false,
        ),
        (
            "rc_seu_noscrub",
            Tmr::Config,
            2,
            Some(no_scrub),
            SeuTarget::Config,
            false,
        ),
        (
            "rc_seu_cfg_pipe",
            Tmr::Config,
            2,
            None,
            SeuTarget::Pipeline,
            false,
        ),
        ("rc_seu_all", Tmr::All, 3, None, SeuTarget::All, true),
    ];
    for (top, tmr, reuse, mutation, target, must_pass) in cases {
        let mut d = emit(&graph, top, &options(tmr, reuse, 32, true));
        if let Some(m) = mutation {
            let before = d.design.rtl.files.clone();
            for (name, text) in d.design.rtl.files.iter_mut() {
                *text = m(name, text);
            }
            assert_ne!(
                before, d.design.rtl.files,
                "{top}: the mutation changed nothing"
            );
        }
        let seu = SeuOptions {
            rate: 0.05,
            seed: 3,
            target,
        };
        let c = cosimulate_configured(&d, &graph, &vectors, &cache_dir(), Some(&seu), |_| {})
            .unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "{top}: tmr {tmr}, upsets in {target} registers: {} upsets, {} of {} vectors wrong",
            c.upsets,
            c.bad_vectors,
            vectors.len()
        );
        assert!(c.upsets > 100, "{top}: only {} upsets", c.upsets);
        if must_pass {
            assert!(c.passed(), "{top}: {:?}", c.comparison.mismatches);
        } else {
            assert!(c.bad_vectors > 0, "{top}: the upsets went unnoticed");
        }
    }
}

/// input [1,4] s6.0 -> dense 4x3 (declared 4-bit weights, 7-bit bias) -> relu -> u5.0.
fn tiny_graph() -> Graph {
    use aecc::ir::{ConstTensor, Dense, FixedType, Interval, Op, Quantizer, Rounding};
    let mut g = Graph::new("tiny");
    let x = g.add_input(
        "x",
        vec![1, 4],
        FixedType::exact(6, 0, true),
        Some(Quantizer::pow2(6, 0, true, Rounding::HalfEven)),
    );
    let d = Dense {
        weight: ConstTensor::new(vec![4, 3], vec![1, -2, 3, -4, 5, -6, 7, -8, 0, 2, 1, -1], 0)
            .with_declared(Some(Interval::new(-8, 7))),
        bias: Some(
            ConstTensor::new(vec![3], vec![10, -20, 30], 0)
                .with_declared(Some(Interval::new(-64, 63))),
        ),
    };
    let y = g.add_node("fc", Op::Dense(d), &[x], "fc (Gemm)").unwrap();
    let r = g
        .add_node("fc_relu", Op::Relu, &[y], "relu (Relu)")
        .unwrap();
    let q = g
        .add_node(
            "out",
            Op::Quantize(Quantizer::pow2(5, 0, false, Rounding::HalfEven)),
            &[r],
            "q (Quant)",
        )
        .unwrap();
    g.add_output("out", q);
    g
}

#[test]
fn yosys_synthesis_keeps_every_tmr_copy() {
    if !require_tools(&["yosys"]) {
        return;
    }
    use aecc_testbench::synth_stats;
    let graph = tiny_graph();
    let synth = |tmr: Tmr| {
        let d = emit(&graph, "rc_synth", &options(tmr, 1, 8, false));
        let s = synth_stats(&d.design.rtl, None).unwrap_or_else(|e| panic!("{e}"));
        (s, d)
    };
    let (none, d_none) = synth(Tmr::None);
    let (config, _) = synth(Tmr::Config);
    let (all, d_all) = synth(Tmr::All);
    // 12 weights of 4 bits and 3 biases of 7 bits, one copy
    let config_bits = d_none.map.register_bits() as u64;
    assert_eq!(config_bits, 12 * 4 + 3 * 7);
    eprintln!(
        "flip-flops after synth -flatten: none {}, config {}, all {} (cells {}, {}, {})",
        none.flip_flops(),
        config.flip_flops(),
        all.flip_flops(),
        none.total_cells(),
        config.total_cells(),
        all.total_cells()
    );
    // every configuration bit in three flip-flops
    assert_eq!(config.flip_flops(), none.flip_flops() + 2 * config_bits);
    // every register bit of the design in three flip-flops, none merged or removed
    assert_eq!(all.flip_flops(), u64::from(d_all.registers.total_bits()));
    assert!(all.flip_flops() >= 3 * none.flip_flops());
    // the voters are there: more logic than the copies alone
    assert!(config.total_cells() - config.flip_flops() > none.total_cells() - none.flip_flops());

    // Without (* keep *), yosys merges the copies (they have the same inputs) and the
    // voters vanish: the check above is what catches it.
    let mut d = emit(&graph, "rc_synth", &options(Tmr::Config, 1, 8, false));
    for (name, text) in d.design.rtl.files.iter_mut() {
        if name.ends_with("_tmr_reg.v") {
            *text = text.replace("(* keep *) ", "");
        }
    }
    let merged = synth_stats(&d.design.rtl, None).unwrap();
    assert_eq!(merged.flip_flops(), none.flip_flops());
}

#[test]
fn emission_is_deterministic_and_counts_every_register() {
    use aecc::backend::verilog::RegisterKind;
    let graph = small_stack(9);
    for tmr in [Tmr::None, Tmr::Config, Tmr::All] {
        let r = options(tmr, 2, 16, false);
        let a = emit(&graph, "rc_det", &r);
        let b = emit(&graph, "rc_det", &r);
        assert_eq!(a.design.rtl.files, b.design.rtl.files);
        let copies = |kind| match (tmr, kind) {
            (Tmr::None, _) | (Tmr::Config, RegisterKind::Pipeline) => 1,
            _ => 3,
        };
        assert_eq!(
            a.registers.bits(RegisterKind::Config),
            copies(RegisterKind::Config) * a.map.register_bits()
        );
        assert!(a
            .registers
            .registers
            .iter()
            .all(|reg| reg.copies == copies(reg.kind)));
        // the register numbering is contiguous, configuration registers first
        let mut next = 0;
        for reg in &a.registers.registers {
            assert_eq!(reg.first_bit, next);
            next += reg.width * reg.copies;
        }
        assert_eq!(next, a.registers.total_bits());
        let config = &a
            .design
            .rtl
            .files
            .iter()
            .find(|(n, _)| n == "rc_det_config.v")
            .unwrap()
            .1;
        assert!(
            config.contains("fc0.weight [16,8] s5.3 range [-16, 15]"),
            "{config}"
        );
    }
}

#[test]
fn a_graph_without_weights_is_refused() {
    use aecc::ir::{FixedType, Op};
    let mut g = Graph::new("no_weights");
    let x = g.add_input("x", vec![1, 4], FixedType::exact(4, 0, true), None);
    let y = g.add_node("y", Op::Relu, &[x], "relu (Relu)").unwrap();
    g.add_output("y", y);
    let e = emit_reconfigurable(&g, &VerilogOptions::new("nw"), &ReconfigOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("has no Dense or Conv layer"), "{e}");
}
