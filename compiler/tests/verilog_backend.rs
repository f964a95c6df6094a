//! The Verilog backend end to end: emit, lint with Verilator -Wall, elaborate with yosys,
//! co-simulate with Verilator against the reference on random vectors.

mod common;

use aecc::backend::verilog::{emit, BackendError, VerilogOptions};
use aecc::ir::{ChannelQuant, DyadicScale, Op, Quantizer, Rounding};
use aecc_testbench::{compare_outputs, require_tools, Cosim};
use common::*;

const VECTORS: usize = 10_000;

#[test]
fn econt_like_encoder_is_bit_exact() {
    if !require_tools(TOOLS) {
        return;
    }
    let g = econt_like(1);
    let design = emit_checked_with(&g, &VerilogOptions::baseline("econt_enc"));
    // reference architecture: input register, conv, quantize, relu, dense, quantize
    assert_eq!(design.latency, 6);
    assert_eq!(design.input().width(), 640);
    assert_eq!(design.output().width(), 16 * 9);
    cosim_against_reference(&g, &design, VECTORS, 11);
    // optimised: everything fits one 25 ns cycle between the input and output registers
    let design = emit_checked(&g, "econt_opt");
    assert_eq!(design.latency, 2);
    assert_eq!(design.input().width(), 640);
    assert_eq!(design.output().width(), 16 * 9);
    assert!(!design.files[0].1.contains(" * "), "multiplier-free");
    cosim_against_reference(&g, &design, VECTORS, 11);
}

#[test]
fn dense_stack_is_bit_exact() {
    if !require_tools(TOOLS) {
        return;
    }
    let g = dense_stack(2);
    let design = emit_checked_with(&g, &VerilogOptions::baseline("dense_stack_ref"));
    cosim_against_reference(&g, &design, VECTORS, 12);
    let design = emit_checked(&g, "dense_stack");
    cosim_against_reference(&g, &design, VECTORS, 12);
}

#[test]
fn skip_connection_transpose_and_per_channel_quantizer_are_bit_exact() {
    if !require_tools(TOOLS) {
        return;
    }
    let g = skip_graph(3);
    let design = emit_checked_with(&g, &VerilogOptions::baseline("skip_net"));
    // input, relu, quantize, add, dense (transpose and reshape are wiring)
    assert_eq!(design.latency, 5);
    let top = &design.files[0].1;
    assert!(
        top.contains("t_x_t_d1") && top.contains("t_x_t_d2"),
        "{top}"
    );
    cosim_against_reference(&g, &design, VECTORS, 13);
    let design = emit_checked(&g, "skip_opt");
    cosim_against_reference(&g, &design, VECTORS, 13);
}

#[test]
fn a_graph_of_wiring_only_has_latency_one() {
    if !require_tools(TOOLS) {
        return;
    }
    let mut g = aecc::ir::Graph::new("wires");
    let x = g.add_input("x", vec![1, 3, 2], quant_type(5, 2, false), None);
    let t = g
        .add_node(
            "t",
            Op::Transpose {
                perm: vec![0, 2, 1],
            },
            &[x],
            "t (Transpose)",
        )
        .unwrap();
    let r = g
        .add_node("r", Op::Reshape { shape: vec![6] }, &[t], "r (Reshape)")
        .unwrap();
    g.add_output("y", r);
    let design = emit_checked_with(&g, &VerilogOptions::baseline("wires"));
    assert_eq!(design.latency, 1);
    cosim_against_reference(&g, &design, 1000, 14);
    // the optimised architecture always registers its output
    let design = emit_checked(&g, "wires_opt");
    assert_eq!(design.latency, 2);
    cosim_against_reference(&g, &design, 1000, 14);
}

#[test]
fn a_corrupted_weight_is_caught_by_cosimulation() {
    if !require_tools(&["verilator"]) {
        return;
    }
    let g = dense_stack(2);
    let mut design = emit(&g, &VerilogOptions::baseline("dense_bad")).unwrap();
    // Change the first multiplication constant of the first dense layer.
    let (name, text) = design
        .files
        .iter_mut()
        .find(|(name, _)| name == "dense_bad_fc0.v")
        .expect("the fc0 layer has its own file");
    let at = text.find(" * ").expect("a constant multiplication") + 3;
    let end = at
        + text[at..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '\''))
            .unwrap();
    let literal = text[at..end].to_string();
    let (width, value) = literal.split_once("'d").unwrap();
    let value: u64 = value.parse().unwrap();
    let corrupted = format!("{width}'d{}", value + 1);
    text.replace_range(at..end, &corrupted);
    eprintln!("{name}: replaced {literal} by {corrupted}");

    let sim = Cosim::build(&design, &cache_dir()).unwrap();
    let vectors = random_inputs(&g, 500, 5);
    let expected = reference_outputs(&g, &vectors);
    let got = sim.run(&vectors, None).unwrap();
    let mismatch = compare_outputs(&expected, &got).unwrap_err();
    let message = mismatch.to_string();
    eprintln!("{message}");
    assert!(message.contains(&format!(
        "vector {}, lane {}: expected {}, got {}",
        mismatch.vector, mismatch.lane, mismatch.expected, mismatch.actual
    )));
    assert_ne!(mismatch.expected, mismatch.actual);
}

#[test]
fn a_corrupted_adder_is_caught_by_cosimulation() {
    if !require_tools(&["verilator"]) {
        return;
    }
    let g = dense_stack(2);
    let mut design = emit(&g, &VerilogOptions::new("dense_bad_add")).unwrap();
    let text = &mut design.files[0].1;
    let changed = corrupt_first_adder(text).expect("the design has adders");
    eprintln!("{changed}");
    let sim = Cosim::build(&design, &cache_dir()).unwrap();
    let vectors = random_inputs(&g, 500, 5);
    let expected = reference_outputs(&g, &vectors);
    let got = sim.run(&vectors, None).unwrap();
    let mismatch = compare_outputs(&expected, &got).unwrap_err();
    assert_ne!(mismatch.expected, mismatch.actual);
}

#[test]
fn emission_is_deterministic() {
    for g in [econt_like(1), dense_stack(2), skip_graph(3)] {
        let a = emit(&g, &VerilogOptions::new("top")).unwrap();
        let b = emit(&g, &VerilogOptions::new("top")).unwrap();
        assert_eq!(a, b);
        let a = emit(&g, &VerilogOptions::baseline("top")).unwrap();
        let b = emit(&g, &VerilogOptions::baseline("top")).unwrap();
        assert_eq!(a, b);
        // an equal graph built again gives the same text too
    }
    assert_eq!(
        emit(&econt_like(9), &VerilogOptions::new("t")).unwrap(),
        emit(&econt_like(9), &VerilogOptions::new("t")).unwrap()
    );
}

#[test]
fn output_follows_the_house_rules() {
    let g = econt_like(1);
    let opt = emit(&g, &VerilogOptions::new("econt_enc")).unwrap();
    let design = emit(&g, &VerilogOptions::baseline("econt_enc")).unwrap();
    for (name, text) in design.files.iter().chain(&opt.files) {
        let module = name.strip_suffix(".v").unwrap();
        assert!(text.starts_with("`default_nettype none\n"), "{name}");
        assert!(text.ends_with("`default_nettype wire\n"), "{name}");
        assert!(text.contains(&format!("module {module} (")), "{name}");
        assert!(module.starts_with("econt_enc"), "{name}");
        for banned in ["initial", "logic ", "always_ff", "always_comb", "lint_off"] {
            assert!(!text.contains(banned), "{name} contains {banned}");
        }
    }
    let top = &design.files[0].1;
    assert!(top.contains("from conv1 (Conv)"), "{top}");
    let conv = g
        .node_ids()
        .into_iter()
        .map(|id| g.node(id))
        .find(|n| n.name == "conv1_out")
        .unwrap();
    // the reference architecture builds the conv at hls4ml's type-bound width
    // (`no_opt_sizes_weight_layers_by_type`); the comment shows it beside the interval
    let line = format!(
        "// conv1_out (conv), from conv1 (Conv): [1,8,4,4] s21.12 {}",
        conv.out.interval
    );
    assert!(top.contains(&line), "{line}\n{top}");
    let top = &opt.files[0].1;
    assert!(
        top.contains("// layer l1 = conv1_out (conv), from conv1 (Conv)"),
        "{top}"
    );
}

/// `--no-opt` turns bit-width minimisation off too: the weight layers are sized like
/// hls4ml's automatic precision (input bits + weight bits + ceil(log2 fan-in), one more
/// for the bias), not by the values the weights produce; the optimised design keeps the
/// IR's exact types. (Co-simulation of both: `econt_like_encoder_is_bit_exact`.)
#[test]
fn no_opt_sizes_weight_layers_by_type() {
    let g = econt_like(1);
    let ir_type = |name: &str| {
        let id = g.node_ids().into_iter().find(|&id| g.node(id).name == name);
        g.node(id.unwrap()).out.ty.to_string()
    };
    // exact: s16.12 conv (interval of these weights), s21.13 dense
    let (conv_ir, dense_ir) = (ir_type("conv1_out"), ir_type("dense1_out"));
    assert_ne!(conv_ir, "s21.12");
    assert_ne!(dense_ir, "s25.13");
    let base = emit(&g, &VerilogOptions::baseline("b")).unwrap();
    let file = |name: &str| {
        let f = base.files.iter().find(|(n, _)| n == name);
        f.unwrap_or_else(|| panic!("no {name}")).1.clone()
    };
    // conv: s10.7 input x s6.5 weights, 9 taps: 3 + 1 + 4 integer bits, +1 for the
    // s9.9 bias; on the 2^-12 grid
    let conv = file("b_conv1_out.v");
    assert!(conv.contains("// out_data: [1,8,4,4] s21.12 "), "{conv}");
    assert!(conv.contains("wire [20:0] y0 ="), "{conv}");
    // relu keeps the quantizer's s11.8; dense: 3 + 1 + 7 integer bits, +1 for the
    // s8.6 bias, on the 2^-13 grid
    let dense = file("b_dense1_out.v");
    assert!(dense.contains("// in_data : [1,128] s11.8 "), "{dense}");
    assert!(dense.contains("// out_data: [1,16] s25.13 "), "{dense}");
    // the output quantizer reads the whole accumulator
    let latent = file("b_latent_lane.v");
    assert!(latent.contains("input  wire [24:0] x"), "{latent}");
    // ports keep the IR types
    assert_eq!(base.output().width(), 16 * 9);
    let opt = emit(&g, &VerilogOptions::new("o")).unwrap();
    let text: String = opt.files.iter().map(|(_, t)| t.as_str()).collect();
    assert!(!text.contains("s25.13") && !text.contains("s21.12"));
}

#[test]
fn non_power_of_two_scales_are_bit_exact() {
    if !require_tools(TOOLS) {
        return;
    }
    let mut g = aecc::ir::Graph::new("npot");
    let x = g.add_input("x", vec![1, 4], quant_type(8, 4, true), None);
    let mut q = Quantizer::pow2(8, 4, true, Rounding::HalfEven);
    q.channels[0] = ChannelQuant {
        scale: DyadicScale {
            mantissa: 3,
            exponent: -5,
        },
        zero_point: 0,
    };
    let y = g
        .add_node("requant", Op::Quantize(q), &[x], "rq (Quant)")
        .unwrap();
    g.add_output("y", y);
    let design = emit_checked(&g, "npot");
    cosim_against_reference(&g, &design, 2_000, 21);
}

#[test]
fn bad_graph_shapes_and_names_are_reported() {
    let g = dense_stack(1);
    assert!(matches!(
        emit(&g, &VerilogOptions::new("module")),
        Err(BackendError::InvalidName { .. })
    ));
    assert!(matches!(
        emit(&g, &VerilogOptions::new("9lives")),
        Err(BackendError::InvalidName { .. })
    ));
    let mut two = dense_stack(1);
    let first = two.outputs()[0].1;
    two.add_output("again", first);
    let e = emit(&two, &VerilogOptions::new("two")).unwrap_err();
    assert!(e.to_string().contains("one graph output"), "{e}");
}

/// Writes the example designs for reading: `cargo test -p aecc --test verilog_backend
/// write_examples -- --ignored`, then look in `target/tmp/verilog-examples/`.
#[test]
#[ignore]
fn write_examples() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("verilog-examples");
    for (g, top) in [
        (econt_like(1), "econt_enc"),
        (dense_stack(2), "dense_stack"),
        (skip_graph(3), "skip_net"),
    ] {
        for (d, sub) in [
            (emit(&g, &VerilogOptions::new(top)).unwrap(), dir.join(top)),
            (
                emit(&g, &VerilogOptions::baseline(top)).unwrap(),
                dir.join(format!("{top}_baseline")),
            ),
        ] {
            std::fs::create_dir_all(&sub).unwrap();
            d.write_files(&sub).unwrap();
            eprintln!("wrote {}", sub.display());
        }
    }
}
