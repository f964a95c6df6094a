//! Test support: the ONNX model builder (`aecc::onnx::builder`) and an evaluation of an
//! imported graph through the reference model on real-valued inputs.
#![allow(dead_code)]

use aecc::ir::Graph;

#[allow(unused_imports)]
pub use aecc::onnx::builder::*;

/// Runs the graph on one sample of real-valued inputs (one slice per graph input, in
/// graph-input order). Returns each output as real values (`int * unit * 2^-frac`,
/// exact for the small values of the fixtures). Checks every output integer against
/// its inferred interval.
pub fn eval_real(graph: &Graph, inputs: &[&[f64]]) -> Vec<Vec<f64>> {
    let sim = aecc_sim::Simulator::new(graph).unwrap();
    let ints: Vec<Vec<i64>> = (0..inputs.len())
        .map(|k| sim.quantize_input(k, inputs[k]).unwrap())
        .collect();
    let refs: Vec<&[i64]> = ints.iter().map(|v| v.as_slice()).collect();
    let outs = sim.run(&refs).unwrap();
    outs.iter()
        .enumerate()
        .map(|(k, y)| {
            let t = sim.output_info(k);
            for &v in y {
                assert!(
                    t.interval.contains(v as i128),
                    "output {k} out of its interval"
                );
            }
            sim.output_real(k, y)
        })
        .collect()
}
