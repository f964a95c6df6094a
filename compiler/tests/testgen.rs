//! Every generated single-op model in `models/testgen/` (see its README): the reference
//! model against the executor's outputs on the committed vectors.

use aecc::pipeline::{compile, CompileOptions};
use aecc::verify::{compare_with_executor, compare_with_executor_as, InputQuantization};
use aecc_sim::io::read_npy;
use aecc_sim::Simulator;
use std::path::{Path, PathBuf};

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
    out
}

fn batch(path: &Path) -> Vec<Vec<f64>> {
    let b = read_npy(path).unwrap();
    (0..b.samples()).map(|i| b.sample(i).to_vec()).collect()
}

#[test]
fn report_every_form() {
    for (name, path) in forms() {
        let compiled = match compile(&path, &CompileOptions::default()) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{name:32} COMPILE ERROR {e}");
                continue;
            }
        };
        let sim = Simulator::new(&compiled.graph).unwrap();
        let inputs = batch(&path.with_extension("in.npy"));
        let expected = batch(&path.with_extension("out.npy"));
        let c = compare_with_executor(&sim, &inputs, &expected).unwrap();
        let f =
            compare_with_executor_as(&sim, &inputs, &expected, InputQuantization::Float32).unwrap();
        eprintln!(
            "{name:32} lanes {:5} exact-input mismatches {:4} (max {:.3})  float-input mismatches {:4} (max {:.3})  warnings {}",
            c.comparison.lanes_compared,
            c.comparison.mismatch_count,
            c.max_steps,
            f.comparison.mismatch_count,
            f.max_steps,
            compiled.warnings.len()
        );
    }
}
