//! End-to-end tests of the `aecc` binary: the happy path on a tiny model and every
//! class of bad input (one clear error line, exit code 1, never a panic).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn aecc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aecc"))
        .args(args)
        .output()
        .expect("run aecc")
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cli_data")
        .join(name)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a clean failure: exit code 1, a single `error:` line mentioning `needle`.
fn assert_clean_error(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "exit code; stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(
        lines[0].to_lowercase().contains(&needle.to_lowercase()),
        "'{needle}' not in: {err}"
    );
}

fn temp_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    (dir, p)
}

#[test]
fn compile_writes_rtl_report_and_ir() {
    let out = tempfile::tempdir().unwrap();
    let o = aecc(&[
        "compile",
        data("tiny_dense.onnx").to_str().unwrap(),
        "-o",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = std::fs::read_to_string(out.path().join("rtl/tiny_dense.v")).unwrap();
    assert!(v.contains("module tiny_dense"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["top"], "tiny_dense");
    assert!(report["latency_cycles"].as_u64().unwrap() >= 1);
    assert_eq!(report["inputs"][0]["type"]["text"], "s8.4");
    assert_eq!(report["outputs"][0]["shape"], serde_json::json!([1, 3]));
    assert!(out.path().join("ir.txt").exists());
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("latency"), "{stdout}");
}

#[test]
fn compile_is_deterministic() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for d in [&a, &b] {
        let o = aecc(&[
            "compile",
            data("tiny_dense.onnx").to_str().unwrap(),
            "-o",
            d.path().to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    for f in ["rtl/tiny_dense.v", "ir.txt"] {
        assert_eq!(
            std::fs::read(a.path().join(f)).unwrap(),
            std::fs::read(b.path().join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn simulate_csv_round_trip() {
    let (dir, input) = temp_file("x.csv", b"0.5,-0.25,1.0,0.0625\n-1,1,0.125,2\n");
    let output = dir.path().join("y.csv");
    let o = aecc(&[
        "simulate",
        data("tiny_dense.onnx").to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&output).unwrap();
    assert_eq!(text.lines().count(), 2);
    // every output is on the u8.4 grid and non-negative
    for v in text.lines().flat_map(|l| l.split(',')) {
        let v: f64 = v.parse().unwrap();
        assert!(v >= 0.0 && (v * 16.0).fract() == 0.0, "{v}");
    }
    // a wrongly sized data set is a clean error
    let (_d2, bad) = temp_file("bad.csv", b"1,2,3\n");
    let o = aecc(&[
        "simulate",
        data("tiny_dense.onnx").to_str().unwrap(),
        "--input",
        bad.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert_clean_error(&o, "values per sample");
}

#[test]
fn empty_file_is_a_clean_error() {
    let (_d, p) = temp_file("empty.onnx", b"");
    assert_clean_error(&aecc(&["compile", p.to_str().unwrap()]), "empty");
}

#[test]
fn truncated_protobuf_is_a_clean_error() {
    let bytes = std::fs::read(data("tiny_dense.onnx")).unwrap();
    let (_d, p) = temp_file("trunc.onnx", &bytes[..bytes.len() / 2]);
    let o = aecc(&["compile", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!stderr(&o).contains("panicked"));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

#[test]
fn non_onnx_file_is_a_clean_error() {
    let (_d, p) = temp_file("notes.onnx", b"this is a text file, not a model\n");
    let o = aecc(&["compile", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

#[test]
fn unsupported_ops_are_all_named() {
    let o = aecc(&["compile", data("unsupported_ops.onnx").to_str().unwrap()]);
    assert_clean_error(&o, "hardmax_0");
    let err = stderr(&o);
    assert!(
        err.contains("Hardmax") && err.contains("lrn_1") && err.contains("LRN"),
        "{err}"
    );
    // inspect lists them too, one per line, and exits 1
    let o = aecc(&["inspect", data("unsupported_ops.onnx").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("hardmax_0") && out.contains("lrn_1"), "{out}");
}

#[test]
fn missing_initializer_is_named() {
    assert_clean_error(
        &aecc(&[
            "compile",
            data("missing_initializer.onnx").to_str().unwrap(),
        ]),
        "'W'",
    );
}

#[test]
fn shape_mismatch_is_reported() {
    assert_clean_error(
        &aecc(&["compile", data("shape_mismatch.onnx").to_str().unwrap()]),
        "shape",
    );
}

#[test]
fn missing_file_is_a_clean_error() {
    assert_clean_error(
        &aecc(&["compile", "/nonexistent/model.onnx"]),
        "/nonexistent/model.onnx",
    );
}

#[test]
fn missing_verilator_says_how_to_install() {
    let empty = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_aecc"))
        .args([
            "verify",
            data("tiny_dense.onnx").to_str().unwrap(),
            "--vectors",
            "10",
        ])
        .env("PATH", empty.path())
        .env("AECC_CACHE_DIR", empty.path())
        .output()
        .unwrap();
    assert_clean_error(&o, "apt-get install verilator");
}

#[test]
fn inspect_prints_types() {
    let o = aecc(&["inspect", data("tiny_dense.onnx").to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("dense") && out.contains("s8.4"), "{out}");
}

#[test]
fn passes_are_listed() {
    let o = aecc(&["passes"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("dead-code"));
    assert_clean_error(
        &aecc(&[
            "compile",
            data("tiny_dense.onnx").to_str().unwrap(),
            "--passes",
            "nope",
        ]),
        "unknown pass 'nope'",
    );
}

#[test]
fn compile_writes_an_hls_project_and_verify_csimulates_it() {
    let out = tempfile::tempdir().unwrap();
    let o = aecc(&[
        "compile",
        data("tiny_dense.onnx").to_str().unwrap(),
        "-o",
        out.path().to_str().unwrap(),
        "--hls",
        "catapult",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.path().join("hls/build_catapult.tcl").exists());
    if aecc_testbench::hls_csim::require_csim(aecc_testbench::hls_csim::HeaderLibrary::ApTypes)
        .is_none()
        || !aecc_testbench::require_tools(&["verilator"])
    {
        return;
    }
    let o = aecc(&[
        "verify",
        data("tiny_dense.onnx").to_str().unwrap(),
        "--vectors",
        "2000",
        "--hls",
        "vitis",
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}{}", stderr(&o));
    assert!(
        stdout.contains("HLS C++ (vitis) vs reference: 2001 vectors")
            || stdout.contains("HLS C++ (vitis) vs reference: 2000 vectors"),
        "{stdout}"
    );
    // pointing at a directory without the headers is a clean error
    let empty = tempfile::tempdir().unwrap();
    let o = aecc(&[
        "verify",
        data("tiny_dense.onnx").to_str().unwrap(),
        "--vectors",
        "10",
        "--hls",
        "vitis",
        "--ap-types",
        empty.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
}

/// `--reuse N` is one option with one meaning (II = N) for constant weights (folded
/// adders, in the optimised architecture's report) and for weights in registers (shared
/// multipliers); the constant-weight flags are refused in registers mode.
#[test]
fn reuse_means_the_initiation_interval_in_both_weight_modes() {
    let model = data("tiny_dense.onnx");
    let report = |extra: &[&str]| -> serde_json::Value {
        let out = tempfile::tempdir().unwrap();
        let mut args = vec![
            "compile",
            model.to_str().unwrap(),
            "-o",
            out.path().to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = aecc(&args);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap())
            .unwrap()
    };
    let r = report(&["--reuse", "2", "--clock-ns", "5"]);
    assert_eq!(r["initiation_interval"], 2);
    assert_eq!(r["architecture"]["initiation_interval"], 2);
    assert_eq!(r["architecture"]["clock_ns"], 5.0);
    let r = report(&["--weights", "registers", "--reuse", "2"]);
    assert_eq!(r["initiation_interval"], 2);
    assert!(r["architecture"].is_null());
    let out = tempfile::tempdir().unwrap();
    let o = aecc(&[
        "compile",
        model.to_str().unwrap(),
        "-o",
        out.path().to_str().unwrap(),
        "--weights",
        "registers",
        "--no-cse",
    ]);
    assert_clean_error(&o, "shape constant-weight hardware");
}

/// `verify` streams the vectors through the simulator (with bubbles too) and says where
/// the time went; zero vectors is a valid, empty run.
#[test]
fn verify_streams_and_reports_its_time() {
    if !aecc_testbench::require_tools(&["verilator"]) {
        return;
    }
    let model = data("tiny_dense.onnx");
    for (vectors, extra) in [("20000", None), ("3000", Some("--bubbles")), ("0", None)] {
        let mut args = vec!["verify", model.to_str().unwrap(), "--vectors", vectors];
        args.extend(extra);
        let o = aecc(&args);
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{stdout}{}", stderr(&o));
        assert!(
            stdout.contains(&format!("RTL vs reference: {vectors} vectors")),
            "{stdout}"
        );
        let time = stdout
            .lines()
            .find(|l| l.starts_with("time: compile"))
            .unwrap();
        for part in ["Verilator build", "simulator", "reference", "compare"] {
            assert!(time.contains(part), "{time}");
        }
        assert!(time.contains(&format!("for {vectors} vectors")), "{time}");
    }
}

/// `verify --lut-softmax` proves the design with the LUT softmax (the reference computes
/// the same LUT softmax); without the flag the design ends before the Softmax.
#[test]
fn verify_takes_lut_softmax() {
    if !aecc_testbench::require_tools(&["verilator"]) {
        return;
    }
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/testgen/softmax.onnx");
    let model = model.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str], out: &str| {
        let out = dir.path().join(out);
        let mut args = vec![
            "verify",
            model,
            "--vectors",
            "500",
            "-o",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        let o = aecc(&args);
        let stdout = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(o.status.success(), "{stdout}{}", stderr(&o));
        assert!(stdout.contains("all bits equal"), "{stdout}");
        let rtl: String = std::fs::read_dir(out.join("rtl"))
            .unwrap()
            .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
            .collect();
        rtl
    };
    let lut = run(&["--lut-softmax"], "lut");
    let plain = run(&[], "plain");
    assert!(
        lut.contains("(softmax)"),
        "no softmax layer with --lut-softmax"
    );
    assert!(
        !plain.contains("(softmax)"),
        "a softmax layer without --lut-softmax"
    );
}

/// `simulate` from `.npy` to `.npy` streams the data set in chunks (65,536 samples):
/// the results equal the whole-file path (CSV, and `--check-overflow`), and errors name
/// the sample in the whole data set.
#[test]
fn simulate_streams_npy_in_chunks_like_the_whole_file_path() {
    let dir = tempfile::tempdir().unwrap();
    let n = 70_000;
    let real: Vec<f64> = (0..n * 4)
        .map(|i| ((i * 7919) % 1000) as f64 / 100.0 - 5.0)
        .collect();
    let npy_in = dir.path().join("x.npy");
    let csv_in = dir.path().join("x.csv");
    aecc_sim::io::write_npy(&npy_in, &[n, 4], &real, false).unwrap();
    aecc_sim::io::write_csv(&csv_in, n, &real).unwrap();
    let model = data("tiny_dense.onnx");
    let run = |input: &Path, output: &Path, extra: &[&str]| {
        let mut args = vec![
            "simulate",
            model.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ];
        args.extend(extra);
        aecc(&args)
    };
    let y_npy = dir.path().join("y.npy");
    let o = run(&npy_in, &y_npy, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("inferences/s"), "{stdout}");
    let y_csv = dir.path().join("y.csv");
    assert!(run(&csv_in, &y_csv, &[]).status.success());
    let a = aecc_sim::io::read_npy(&y_npy).unwrap();
    let b = aecc_sim::io::read_csv(&y_csv).unwrap();
    assert_eq!(a.shape[0], n);
    assert_eq!(a.data, b.data);
    // integers out: the streamed file equals the whole-file path's byte for byte
    let (s, w) = (dir.path().join("s.npy"), dir.path().join("w.npy"));
    assert!(run(&npy_in, &s, &["--int-output"]).status.success());
    let o = run(&npy_in, &w, &["--int-output", "--check-overflow"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&s).unwrap(), std::fs::read(&w).unwrap());
    // a non-integer in the second chunk, with --int-input
    let mut ints: Vec<f64> = real.iter().map(|v| v.round()).collect();
    ints[66_000 * 4 + 2] = 0.5;
    aecc_sim::io::write_npy(&npy_in, &[n, 4], &ints, false).unwrap();
    assert_clean_error(&run(&npy_in, &y_npy, &["--int-input"]), "sample 66000");
    // an integer outside the input type, in the second chunk
    ints[66_000 * 4 + 2] = 0.0;
    ints[66_001 * 4] = 1e6;
    aecc_sim::io::write_npy(&npy_in, &[n, 4], &ints, false).unwrap();
    assert_clean_error(&run(&npy_in, &y_npy, &["--int-input"]), "sample 66001");
}
