//! Determinism through the `aecc` binary: compiling the same model twice, from
//! different working directories into different output directories, with different
//! thread counts (`RAYON_NUM_THREADS`), and so with fresh `HashMap` seeds (every
//! process draws its own), gives byte-identical files: Verilog, report, IR text and the
//! HLS C++ project.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn models() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    vec![
        root.join("../models/econt/model.onnx"),
        root.join("../models/dense_ae/model.onnx"),
        root.join("tests/cli_data/tiny_dense.onnx"),
    ]
}

/// Every file under `dir`, by relative path.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

/// Compiles `model` (an absolute path) from working directory `cwd` into `out`.
fn compile(model: &Path, cwd: &Path, out: &Path, threads: &str, extra: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_aecc"))
        .current_dir(cwd)
        .arg("compile")
        .arg(model)
        .arg("-o")
        .arg(out)
        .args(extra)
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn same_model_same_bytes_across_directories_and_thread_counts() {
    for model in models() {
        let model = model.canonicalize().unwrap();
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (out_a, out_b) = (a.path().join("build"), b.path().join("nested/dir/build"));
        std::fs::create_dir_all(b.path().join("nested/dir")).unwrap();
        compile(&model, a.path(), &out_a, "1", &["--hls", "vitis"]);
        compile(&model, b.path(), &out_b, "2", &["--hls", "vitis"]);
        let (ta, tb) = (tree(&out_a), tree(&out_b));
        assert!(ta.keys().any(|p| p.extension().is_some_and(|e| e == "v")));
        assert!(ta.contains_key(Path::new("report.json")));
        assert!(ta.keys().any(|p| p.starts_with("hls")), "no HLS project");
        assert_eq!(
            ta.keys().collect::<Vec<_>>(),
            tb.keys().collect::<Vec<_>>(),
            "{}",
            model.display()
        );
        for (path, bytes) in &ta {
            assert!(
                bytes == &tb[path],
                "{}: {} differs between the two compiles",
                model.display(),
                path.display()
            );
        }
    }
}

#[test]
fn copies_of_a_model_in_different_directories_compile_identically() {
    // the same bytes under two directories, compiled by relative path with the same
    // --top (the default top name comes from the folder of a `model.onnx`)
    let model = &models()[0];
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for d in [&a, &b] {
        std::fs::copy(model, d.path().join("model.onnx")).unwrap();
    }
    compile(
        Path::new("model.onnx"),
        a.path(),
        &a.path().join("out"),
        "1",
        &["--top", "enc"],
    );
    compile(
        Path::new("model.onnx"),
        b.path(),
        &b.path().join("out"),
        "3",
        &["--top", "enc"],
    );
    assert_eq!(tree(&a.path().join("out")), tree(&b.path().join("out")));
}
