//! Import fixtures written by `tests/data/make_fixtures.py` with onnx.helper, with the
//! outputs of the QONNX executor on sample inputs: the imported graph must reproduce
//! them bit for bit. Re-generate with
//! `cd compiler/tests/data && /work/venv-train/bin/python make_fixtures.py`.

mod support;

use aecc::ir::{printer, Op};
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn read_npy(path: &Path) -> (Vec<usize>, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().iter().map(|&d| d as usize).collect();
    let data: Vec<f32> = npy.into_vec().unwrap();
    (shape, data.into_iter().map(|x| x as f64).collect())
}

/// Imports `<name>.onnx` and compares every output on every sample with the executor's.
fn check_fixture(name: &str) -> aecc::onnx::ImportedModel {
    let dir = data_dir();
    let m = aecc::onnx::import_file(&dir.join(format!("{name}.onnx")))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(m.warnings.is_empty(), "{name}: {:?}", m.warnings);
    let (in_shape, inputs) = read_npy(&dir.join(format!("{name}.input.npy")));
    let n = in_shape[0];
    let in_len = inputs.len() / n;
    let expected: Vec<Vec<f64>> = (0..m.graph.outputs().len())
        .map(|k| read_npy(&dir.join(format!("{name}.output{k}.npy"))).1)
        .collect();
    for s in 0..n {
        let got = support::eval_real(&m.graph, &[&inputs[s * in_len..(s + 1) * in_len]]);
        for (k, want) in expected.iter().enumerate() {
            let len = want.len() / n;
            assert_eq!(
                got[k],
                want[s * len..(s + 1) * len],
                "{name}: output {k}, sample {s}\n{}",
                printer::print(&m.graph)
            );
        }
    }
    m
}

#[test]
fn qonnx_ops_fixture_matches_executor() {
    let m = check_fixture("qonnx_ops");
    let text = printer::print(&m.graph);
    // MatMul + Add became one dense node with a bias, named after the Add's output.
    assert!(text.contains("%h2 = dense(%f)"), "{text}");
    assert!(text.contains("%t = transpose(%a) perm=[0,2,3,1]"), "{text}");
    let conv = m
        .graph
        .node_ids()
        .into_iter()
        .find_map(|id| match &m.graph.node(id).op {
            Op::Conv(c) => Some(c.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        (conv.strides, conv.pads, conv.dilations),
        ([2, 1], [1, 0, 0, 2], [1, 2])
    );
}

#[test]
fn same_lower_gemm_fixture_matches_executor() {
    let m = check_fixture("same_lower_gemm");
    let text = printer::print(&m.graph);
    assert!(text.contains("pads=1,1,0,0"), "{text}");
    assert!(text.contains("%f = reshape(%a) shape=[1,32]"), "{text}");
}
