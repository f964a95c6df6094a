//! The bundled models through the HLS C++ backend: import, run the default passes, emit
//! for Vitis and Catapult, build each C simulation once and run the model's committed
//! sample vectors plus 10,000 random on-grid vectors. Every output must equal the
//! reference (`aecc_sim::Simulator`), and on the samples the QONNX executor's outputs
//! committed in `models/<name>/samples/output.npy`.

mod hls_common;

use aecc::backend::hls::{emit, HlsFlavor, HlsOptions};
use aecc_sim::Simulator;
use aecc_testbench::hls_csim;
use hls_common::*;
use std::path::{Path, PathBuf};

fn model_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models")
        .join(name)
}

fn check_model(name: &str) {
    let dir = model_dir(name);
    let (graph, _warnings) = aecc::pipeline::lower(&dir.join("model.onnx"), None)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let sim = Simulator::new(&graph).unwrap();
    let samples = aecc_sim::io::read_npy(&dir.join("samples/input.npy")).unwrap();
    let committed = aecc_sim::io::read_npy(&dir.join("samples/output.npy")).unwrap();
    let mut inputs: Vec<Vec<i64>> = (0..samples.samples())
        .map(|i| sim.quantize_input(0, samples.sample(i)).unwrap())
        .collect();
    inputs.extend(random_inputs(&sim, VECTORS, 21));
    let expected: Vec<Vec<i64>> = inputs.iter().map(|x| sim.run_one(x).unwrap()).collect();
    // the reference itself reproduces the QONNX executor on the samples
    let info = sim.output_info(0).clone();
    for (i, out) in expected.iter().take(samples.samples()).enumerate() {
        let ours: Vec<f64> = out
            .iter()
            .map(|&v| aecc::verify::exact_f32(&info, v) as f64)
            .collect();
        assert_eq!(ours, committed.sample(i), "{name} sample {i}");
    }
    for flavor in HlsFlavor::ALL {
        let Some(headers) = hls_csim::require_csim(library(flavor)) else {
            return;
        };
        let project = emit(&graph, &HlsOptions::new(flavor, name)).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        project.write_to(tmp.path()).unwrap();
        let program = hls_csim::build(
            &sources(&project, tmp.path(), headers),
            &tmp.path().join("csim"),
        )
        .unwrap_or_else(|e| panic!("{name} ({flavor}): {e}"));
        let actual = program.run(&inputs).unwrap();
        hls_csim::compare_outputs(&expected, &actual)
            .unwrap_or_else(|e| panic!("{name} ({flavor}): {e}"));
    }
}

#[test]
fn econt_model_is_bit_exact_in_c_simulation() {
    check_model("econt");
}

#[test]
fn dense_ae_model_is_bit_exact_in_c_simulation() {
    check_model("dense_ae");
}

#[test]
fn conv1d_ts_model_is_bit_exact_in_c_simulation() {
    check_model("conv1d_ts");
}

#[test]
fn csi_encoder_model_is_bit_exact_in_c_simulation() {
    check_model("csi_encoder");
}

#[test]
fn qdq_int8_model_is_bit_exact_in_c_simulation() {
    check_model("qdq_int8");
}

#[test]
fn qdq_int8_perchannel_model_is_bit_exact_in_c_simulation() {
    check_model("qdq_int8_perchannel");
}
