//! The example QAT models in `models/` (trained with Brevitas, exported with
//! `brevitas.export.export_qonnx`): they import, have the expected structure, and the
//! imported graph reproduces the exported sample outputs (computed by the QONNX executor)
//! bit for bit.
//!
//! Models are looked up in `$AECC_MODELS_DIR` if set, else in `../models` next to this
//! crate. A missing model is skipped with a loud message.

mod support;

use aecc::ir::{printer, Op};
use std::path::PathBuf;

fn models_dir() -> PathBuf {
    match std::env::var_os("AECC_MODELS_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models"),
    }
}

fn read_npy(path: &std::path::Path) -> (Vec<usize>, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().iter().map(|&d| d as usize).collect();
    let data: Vec<f32> = npy.into_vec().unwrap();
    (shape, data.into_iter().map(|x| x as f64).collect())
}

/// Imports `models/<name>/model.onnx` and checks it against its sample vectors.
/// Returns `None` (after a loud message) when the model is absent.
fn check_model(name: &str) -> Option<aecc::onnx::ImportedModel> {
    let dir = models_dir().join(name);
    let path = dir.join("model.onnx");
    if !path.exists() {
        eprintln!(
            "\n!!!!! SKIPPED: {} does not exist (the example models are added by the models \
             branch) !!!!!\n",
            path.display()
        );
        return None;
    }
    let m = aecc::onnx::import_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(m.warnings.is_empty(), "{name}: {:?}", m.warnings);
    aecc::ir::verify::verify(&m.graph).unwrap();

    let (in_path, out_path) = (
        dir.join("samples/input.npy"),
        dir.join("samples/output.npy"),
    );
    if !(in_path.exists() && out_path.exists()) {
        eprintln!("\n!!!!! {name}: no samples/input.npy + output.npy, bit-exactness not checked\n");
        return Some(m);
    }
    let (in_shape, inputs) = read_npy(&in_path);
    let (out_shape, outputs) = read_npy(&out_path);
    let n = in_shape[0];
    assert_eq!(out_shape[0], n);
    let (in_len, out_len) = (inputs.len() / n, outputs.len() / n);
    let mut mismatches = 0;
    for s in 0..n {
        let got = support::eval_real(&m.graph, &[&inputs[s * in_len..(s + 1) * in_len]]);
        let want = &outputs[s * out_len..(s + 1) * out_len];
        if got[0] != want {
            mismatches += 1;
            if mismatches <= 3 {
                eprintln!("{name} sample {s}: got {:?}\n want {:?}", got[0], want);
            }
        }
    }
    assert_eq!(mismatches, 0, "{name}: {mismatches} of {n} samples differ");
    eprintln!("{name}: {n} samples bit-exact");
    Some(m)
}

#[test]
fn econt_model() {
    let Some(m) = check_model("econt") else {
        return;
    };
    let g = &m.graph;
    assert_eq!(g.inputs().len(), 1);
    let input = g.node(g.inputs()[0]);
    assert_eq!(input.out.shape, vec![1, 1, 8, 8]);
    assert_eq!(input.out.ty.to_string(), "s10.7");
    let (name, out) = &g.outputs()[0];
    assert_eq!(name, "latent");
    assert_eq!(g.node(*out).out.shape, vec![1, 16]);
    assert_eq!(g.node(*out).out.ty.to_string(), "u9.8");
    let conv = g
        .node_ids()
        .into_iter()
        .find_map(|id| match &g.node(id).op {
            Op::Conv(c) => Some(c.clone()),
            _ => None,
        })
        .expect("a Conv");
    assert_eq!((conv.strides, conv.pads), ([2, 2], [0, 0, 1, 1]));
    assert_eq!(conv.weight.shape, vec![8, 1, 3, 3]);
    assert_eq!(conv.weight.frac, 5);
    let text = printer::print(g);
    assert_eq!(text.matches(" = dense(").count(), 1, "{text}");
    assert_eq!(text.matches(" = quantize(").count(), 2, "{text}");
}

#[test]
fn dense_ae_model() {
    let Some(m) = check_model("dense_ae") else {
        return;
    };
    let g = &m.graph;
    assert_eq!(g.inputs().len(), 1);
    assert_eq!(g.node(g.inputs()[0]).out.shape, vec![1, 64]);
    let text = printer::print(g);
    assert_eq!(text.matches(" = dense(").count(), 3, "{text}");
    assert_eq!(g.outputs().len(), 1);
}
