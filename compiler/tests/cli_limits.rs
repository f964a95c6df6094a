//! Every class of bad input the robustness issue names, through the `aecc` binary: each
//! is refused with exit code 1 and one `error:` line that says what is wrong, never a
//! panic. The models are built here in Rust (aecc's prost messages, encoded), each a
//! small edit of the same valid dense model.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::*;

fn aecc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aecc"))
        .args(args)
        .output()
        .expect("run aecc")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code 1, exactly one non-empty stderr line, `error: ` first, containing every
/// needle (case-insensitive), no panic.
fn assert_refused(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "exit code; stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    for n in needles {
        assert!(
            lines[0].to_lowercase().contains(&n.to_lowercase()),
            "'{n}' not in: {err}"
        );
    }
}

/// Writes the model to a temporary directory.
fn write_model(b: &ModelBuilder) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.onnx");
    std::fs::write(&p, b.bytes()).unwrap();
    (dir, p)
}

fn compile(path: &Path, extra: &[&str]) -> Output {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec![
        "compile",
        path.to_str().unwrap(),
        "-o",
        out.path().to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    aecc(&args)
}

/// x[1, k] -> Quant s8.4 -> MatMul W[k, m] (Quant s6.5) -> Relu -> Quant u8.4 -> y.
fn dense(k: usize, m: usize) -> ModelBuilder {
    let mut b = ModelBuilder::new();
    b.input("x", &[-1, k as i64]).output("y");
    b.quant("q_in", "x", "xq", 8, 4, true);
    let w: Vec<f32> = (0..k * m)
        .map(|i| ((i * 7 % 13) as f32 - 6.0) / 8.0)
        .collect();
    b.f32("W", &[k as i64, m as i64], &w);
    b.quant("q_w", "W", "Wq", 6, 5, true);
    b.node("MatMul", "matmul", &["xq", "Wq"], &["acc"], vec![]);
    b.node("Relu", "relu", &["acc"], &["act"], vec![]);
    b.quant("q_out", "act", "y", 8, 4, false);
    b
}

#[test]
fn the_base_model_compiles() {
    let (_d, p) = write_model(&dense(4, 3));
    let o = compile(&p, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A layer past the sharing search's pair budget compiles (no quadratic blow-up) and
/// says, naming the node, that it was built without shared sub-expressions; a small one
/// does not.
#[test]
fn a_layer_past_the_sharing_budget_compiles_with_a_warning() {
    // 3 columns of about 1,660 digits: about 4.1M digit pairs
    let (_d, p) = write_model(&dense(1200, 3));
    let printed = |o: &Output| format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(o));
    let o = compile(&p, &[]);
    assert!(o.status.success(), "{}", printed(&o));
    let out = printed(&o);
    let line = out
        .lines()
        .find(|l| l.contains("without shared sub-expressions"))
        .unwrap_or_else(|| panic!("no sharing warning: {out}"));
    assert!(
        line.contains("warning:") && line.contains("matmul"),
        "{line}"
    );
    let (_d, p) = write_model(&dense(40, 3));
    let o = compile(&p, &[]);
    assert!(o.status.success());
    assert!(!printed(&o).contains("without shared"), "{}", printed(&o));
}

#[test]
fn cyclic_graph() {
    let mut b = dense(4, 3);
    // relu reads q_out's output: matmul -> relu -> q_out -> relu
    b.graph
        .node
        .iter_mut()
        .find(|n| n.name == "relu")
        .unwrap()
        .input[0] = "y".into();
    let (_d, p) = write_model(&b);
    assert_refused(&compile(&p, &[]), &["cycle through node"]);
}

#[test]
fn duplicate_tensor_names() {
    let mut b = dense(4, 3);
    // relu writes the tensor matmul writes
    b.graph
        .node
        .iter_mut()
        .find(|n| n.name == "relu")
        .unwrap()
        .output[0] = "acc".into();
    let (_d, p) = write_model(&b);
    assert_refused(
        &compile(&p, &[]),
        &["'acc' is defined twice", "matmul (MatMul)", "relu (Relu)"],
    );
    // an initializer and a node output with the same name
    let mut b = dense(4, 3);
    b.f32("acc", &[1], &[0.0]);
    let (_d, p) = write_model(&b);
    assert_refused(&compile(&p, &[]), &["'acc' is defined twice"]);
}

#[test]
fn dangling_inputs() {
    // a node reads a tensor nothing defines
    let mut b = dense(4, 3);
    b.graph
        .node
        .iter_mut()
        .find(|n| n.name == "relu")
        .unwrap()
        .input[0] = "nowhere".into();
    let (_d, p) = write_model(&b);
    assert_refused(
        &compile(&p, &[]),
        &["relu (Relu)", "'nowhere' is not defined"],
    );
    // a graph input nothing reads
    let mut b = dense(4, 3);
    b.input("unused", &[1, 4]);
    let (_d, p) = write_model(&b);
    assert_refused(&compile(&p, &[]), &["'unused'", "no node reads it"]);
    // a graph output nothing defines
    let mut b = dense(4, 3);
    b.output("ghost");
    let (_d, p) = write_model(&b);
    assert_refused(&compile(&p, &[]), &["graph output 'ghost' is not defined"]);
}

fn with_input_dims(dims: &[i64]) -> ModelBuilder {
    let mut b = dense(4, 3);
    b.graph.input[0] = value_info("x", dims);
    b
}

#[test]
fn zero_and_negative_dimensions() {
    for (dims, needle) in [
        (&[1i64, 0][..], "dimension 1 has the size 0"),
        (&[0, 4][..], "dimension 0 has the size 0"),
        (&[1, 1, 0, 4][..], "dimension 2 has the size 0"),
    ] {
        let (_d, p) = write_model(&with_input_dims(dims));
        assert_refused(&compile(&p, &[]), &["graph input 'x'", needle]);
    }
    // a negative size that is not the symbolic batch (value_info writes -1 as a symbol)
    let mut b = dense(4, 3);
    if let Some(shape) = b.graph.input[0]
        .r#type
        .as_mut()
        .and_then(|t| t.tensor_type.as_mut())
        .and_then(|t| t.shape.as_mut())
    {
        shape.dim[1].value =
            Some(aecc::onnx::proto::tensor_shape_proto::dimension::Value::DimValue(-3));
    }
    let (_d, p) = write_model(&b);
    assert_refused(&compile(&p, &[]), &["dimension 1 has the size -3"]);
    // a weight with a zero dimension
    let mut b = dense(4, 3);
    let w = b
        .graph
        .initializer
        .iter_mut()
        .find(|t| t.name == "W")
        .unwrap();
    w.dims = vec![4, 0];
    w.raw_data.clear();
    let (_d, p) = write_model(&b);
    assert_refused(&compile(&p, &[]), &["shape", "[4, 0]"]);
}

#[test]
fn huge_dimensions_are_refused_before_allocating() {
    // beyond the per-tensor bound
    let (_d, p) = write_model(&with_input_dims(&[1, 1 << 40]));
    assert_refused(
        &compile(&p, &[]),
        &["dimension 1 has the size 1099511627776"],
    );
    // each tensor within bounds, but far too many lanes to unroll
    let mut b = ModelBuilder::new();
    b.input("x", &[1, 1 << 23]).output("y");
    b.quant("q_in", "x", "xq", 8, 4, true);
    b.node("Relu", "relu", &["xq"], &["act"], vec![]);
    b.quant("q_out", "act", "y", 8, 4, false);
    let (_d, p) = write_model(&b);
    let started = std::time::Instant::now();
    assert_refused(&compile(&p, &[]), &["tensor elements", "more than"]);
    assert!(
        started.elapsed().as_secs() < 20,
        "refusing took {:?}",
        started.elapsed()
    );
}

fn with_quant_param(node: &str, param: &str, value: f32) -> ModelBuilder {
    let mut b = dense(4, 3);
    let name = format!("{node}_{param}");
    let t = b
        .graph
        .initializer
        .iter_mut()
        .find(|t| t.name == name)
        .unwrap();
    *t = tensor_f32(&name, &[], &[value]);
    b
}

#[test]
fn bit_widths_outside_1_to_64() {
    for (node, bits) in [
        ("q_in", 0.0),
        ("q_w", 0.0),
        ("q_out", 65.0),
        ("q_in", 1000.0),
        ("q_out", -8.0),
        ("q_w", 4.5),
    ] {
        let (_d, p) = write_model(&with_quant_param(node, "bits", bits));
        assert_refused(
            &compile(&p, &[]),
            &[
                &format!("node {node} (Quant)"),
                &format!("bit width {bits} is not an integer in 1..=64"),
            ],
        );
    }
}

#[test]
fn nan_inf_zero_and_negative_scales() {
    for (value, text) in [
        (f32::NAN, "NaN"),
        (f32::INFINITY, "inf"),
        (f32::NEG_INFINITY, "-inf"),
        (0.0, "scale 0"),
        (-0.5, "-0.5"),
    ] {
        for node in ["q_in", "q_w", "q_out"] {
            let (_d, p) = write_model(&with_quant_param(node, "scale", value));
            assert_refused(
                &compile(&p, &[]),
                &[
                    &format!("node {node} (Quant)"),
                    text,
                    "must be finite and positive",
                ],
            );
        }
    }
}

#[test]
fn nan_zero_point_and_weights() {
    let (_d, p) = write_model(&with_quant_param("q_in", "zp", f32::NAN));
    assert_refused(&compile(&p, &[]), &["zero point NaN is not an integer"]);
    let mut b = dense(4, 3);
    let w = b
        .graph
        .initializer
        .iter_mut()
        .find(|t| t.name == "W")
        .unwrap();
    w.raw_data[0..4].copy_from_slice(&f32::NAN.to_le_bytes());
    let (_d, p) = write_model(&b);
    assert_refused(&compile(&p, &[]), &["q_w (Quant)", "NaN"]);
}

#[test]
fn design_over_the_adder_budget_suggests_reuse() {
    let (_d, p) = write_model(&dense(4, 3));
    // the tiny model needs a few hundred adder bits
    let o = compile(&p, &["--max-adder-bits", "50"]);
    assert_refused(
        &o,
        &[
            "adder bits",
            "more than the limit of 50",
            "--reuse",
            "--max-adder-bits",
        ],
    );
    assert!(stderr(&o).contains("matmul"), "names the largest layer");
    let o = compile(&p, &["--max-adder-bits", "100000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // the default (10M) refuses a 1024 x 1024 dense layer (1M terms x ~20-bit accumulators)
    let (_d, p) = write_model(&dense(1024, 1024));
    assert_refused(
        &compile(&p, &[]),
        &["adder bits", "more than the limit of 10000000", "--reuse"],
    );
}

#[test]
fn verify_checks_the_size_before_needing_verilator() {
    let (_d, p) = write_model(&dense(4, 3));
    let o = aecc(&[
        "verify",
        p.to_str().unwrap(),
        "--max-adder-bits",
        "10",
        "--vectors",
        "1",
    ]);
    assert_refused(&o, &["adder bits", "--reuse"]);
}

#[test]
fn control_characters_in_names_keep_errors_on_one_line() {
    let mut b = dense(4, 3);
    let relu = b.graph.node.iter_mut().find(|n| n.name == "relu").unwrap();
    relu.name = "evil\nname\r\u{1b}[31m".into();
    relu.input[0] = "nowhere".into();
    let (_d, p) = write_model(&b);
    let o = compile(&p, &[]);
    assert_refused(
        &o,
        &["evil\\nname\\r\\u{1b}[31m", "'nowhere' is not defined"],
    );
}

fn tiny_dense() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli_data/tiny_dense.onnx")
}

#[test]
fn simulate_check_overflow_counts_saturation_per_quantizer() {
    // tiny_dense: input quantizer s8.4 (range [-8, 7.9375]), dense, relu, output u8.4
    // (range [0, 15.9375]).
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("x.csv");
    let mut rows = vec![
        [0.5, -0.25, 1.0, 0.0625],    // in range
        [100.0, -100.0, 7.9375, 8.0], // 100, -100 and 8.0 saturate the input quantizer
        [7.96, -8.03, 0.0, 0.0],      // round to 7.9375 / -8.0: in range
        [-9.0, 0.0, 0.0, 0.0],        // saturates
    ];
    // every sign pattern of large inputs: some outputs saturate
    for signs in 0..16 {
        rows.push(std::array::from_fn(|k| {
            if signs >> k & 1 == 1 {
                7.9
            } else {
                -7.9
            }
        }));
    }
    let text: String = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(",")
                + "\n"
        })
        .collect();
    std::fs::write(&input, text).unwrap();
    let output = dir.path().join("y.csv");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "simulate".to_string(),
            tiny_dense().to_str().unwrap().to_string(),
            "--input".into(),
            input.to_str().unwrap().to_string(),
            "--output".into(),
            output.to_str().unwrap().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Command::new(env!("CARGO_BIN_EXE_aecc"))
            .args(&args)
            .output()
            .unwrap()
    };
    let plain = run(&[]);
    assert!(plain.status.success(), "{}", stderr(&plain));
    let y_plain = std::fs::read(&output).unwrap();
    let o = run(&["--check-overflow"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // the results are those of the plain run
    assert_eq!(std::fs::read(&output).unwrap(), y_plain);
    let err = stderr(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        err.contains(
            "warning: quantizer x (x + q_in (Quant)) saturated 4 of 80 values (5.0000%) in 2 of 20 \
             samples"
        ),
        "{err}"
    );

    // the output quantizer, counted independently: its input is relu(dense(x)) on the
    // grid 2^-7; the u8.4 code round_half_even(v / 8) saturates above 255
    let (graph, _) = aecc::pipeline::lower(&tiny_dense(), None).unwrap();
    let sim = aecc_sim::Simulator::new(&graph).unwrap();
    let relu = graph
        .node_ids()
        .into_iter()
        .find(|&n| matches!(graph.node(n).op, aecc::ir::Op::Relu))
        .unwrap();
    let dense = graph.operands(relu)[0];
    let aecc::ir::Op::Dense(d) = &graph.node(dense).op else {
        panic!("dense")
    };
    let (mut values, mut samples) = (0, 0);
    for r in &rows {
        let x = sim.quantize_input(0, r).unwrap();
        let mut hit = false;
        for j in 0..3 {
            let mut acc: i128 = 0;
            for (k, &xv) in x.iter().enumerate() {
                acc += xv as i128 * d.weight.data[k * 3 + j] as i128;
            }
            let v = acc.max(0); // relu; products are already on 2^-7 (4 + 3)
            let q = (v + 4) / 8 - i128::from((v + 4) % 8 == 0 && ((v + 4) / 8) % 2 == 1);
            if q > 255 {
                values += 1;
                hit = true;
            }
        }
        samples += hit as u32;
    }
    assert!(
        values > 0,
        "the data set should saturate the output quantizer"
    );
    assert!(
        err.contains(&format!(
            "warning: quantizer y (q_out (Quant)) saturated {values} of 60 values"
        )) && err.contains(&format!("in {samples} of 20 samples")),
        "{err}"
    );
    assert!(
        stdout.contains("check-overflow: 2 of 2 quantizer(s) out of range"),
        "{stdout}"
    );

    // no warning on data in range
    std::fs::write(&input, "0.5,-0.25,1.0,0.0625\n").unwrap();
    let o = run(&["--check-overflow"]);
    assert!(o.status.success());
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("check-overflow: 0 of 2"));
}

#[test]
fn compile_time_constants_have_a_total_budget() {
    // Gather turns two 4096-element constants into a 2^24-element one; a chain of them
    // would fill the memory from a 64 KB file. The total is capped.
    let mut b = dense(4, 3);
    b.i64("data", &[1, 4096], &[0; 4096]);
    b.i64("idx", &[4096], &[0; 4096]);
    for k in 0..6 {
        b.node(
            "Gather",
            &format!("g{k}"),
            &["data", "idx"],
            &[&format!("big{k}")],
            vec![a_int("axis", 0)],
        );
    }
    let (_d, p) = write_model(&b);
    assert!(std::fs::metadata(&p).unwrap().len() < 200_000);
    let started = std::time::Instant::now();
    assert_refused(
        &compile(&p, &[]),
        &[
            "node g3 (Gather)",
            &format!(
                "constants (initializers and compile-time results) exceed {} elements",
                aecc::onnx::MAX_CONSTANT_ELEMENTS
            ),
        ],
    );
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
}

#[test]
fn values_beyond_64_bit_signed_are_refused_not_wrapped() {
    // u63 + u63 needs 64 unsigned bits, which the simulator's i64 cannot hold: refused
    // (aecc once wrapped it silently)
    let mut b = ModelBuilder::new();
    b.input("x", &[-1, 2]).output("y");
    b.quant_full(
        "q_in",
        "x",
        "xq",
        &[1.0],
        &[],
        0.0,
        63.0,
        false,
        false,
        "ROUND",
    );
    b.node("Add", "add", &["xq", "xq"], &["y"], vec![]);
    let (_d, p) = write_model(&b);
    assert_refused(
        &compile(&p, &[]),
        &[
            "node add (Add)",
            "64 unsigned bits",
            "at most 63 bits unsigned",
        ],
    );
}
