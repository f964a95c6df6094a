//! Writes a synthetic QAT encoder (QONNX) of about the requested number of
//! multiply-accumulates, for compile-time scaling benchmarks.
//!
//!     cargo run --release --example synth_encoder -- dense 100000 /tmp/dense_100k.onnx
//!     cargo run --release --example synth_encoder -- conv 100000 /tmp/conv_100k.onnx
//!
//! `dense`: input [1, K] -> Gemm K->K/2 -> Relu -> Quant -> Gemm K/2->K/8 -> Quant
//! (about 9 K^2 / 16 MACs). `conv`: input [1, 4, S, S] -> Conv 3x3, 16 filters, pad 1
//! -> Relu -> Quant -> Flatten -> Gemm 16 S^2 -> 16 -> Quant (about 832 S^2 MACs).
//! Weights are 6-bit, activations 8-bit, all scales powers of two, seeded, with 20 %
//! zero weights, as a pruned QAT model would have.

use aecc::onnx::builder::{a_int, a_ints, ModelBuilder};
use rand::{Rng, SeedableRng};

fn weights(rng: &mut impl Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            if rng.random_bool(0.2) {
                0.0
            } else {
                rng.random_range(-31i32..=31) as f32 / 32.0
            }
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: synth_encoder dense|conv MACS OUT.onnx");
        std::process::exit(2);
    }
    let macs: f64 = args[2].parse().expect("MACS is a number");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(macs as u64);
    let mut b = ModelBuilder::new();
    match args[1].as_str() {
        "dense" => {
            let k = ((16.0 * macs / 9.0).sqrt().round() as usize).max(8) / 8 * 8;
            let (h, l) = (k / 2, k / 8);
            b.input("x", &[1, k as i64]);
            b.quant("q_in", "x", "xq", 8, 6, true);
            b.f32("w1", &[h as i64, k as i64], &weights(&mut rng, h * k));
            b.quant("q_w1", "w1", "w1q", 6, 5, true);
            b.node(
                "Gemm",
                "fc1",
                &["xq", "w1q"],
                &["a1"],
                vec![a_int("transB", 1)],
            );
            b.node("Relu", "relu1", &["a1"], &["r1"], vec![]);
            b.quant("q_a1", "r1", "a1q", 8, 4, false);
            b.f32("w2", &[l as i64, h as i64], &weights(&mut rng, l * h));
            b.quant("q_w2", "w2", "w2q", 6, 5, true);
            b.node(
                "Gemm",
                "fc2",
                &["a1q", "w2q"],
                &["a2"],
                vec![a_int("transB", 1)],
            );
            b.quant("q_out", "a2", "y", 8, 4, true);
            eprintln!("dense {k}->{h}->{l}: {} MACs", k * h + h * l);
        }
        "conv" => {
            let s = ((macs / 832.0).sqrt().round() as usize).max(2);
            let (c, m) = (4usize, 16usize);
            b.input("x", &[1, c as i64, s as i64, s as i64]);
            b.quant("q_in", "x", "xq", 8, 6, true);
            b.f32(
                "w1",
                &[m as i64, c as i64, 3, 3],
                &weights(&mut rng, m * c * 9),
            );
            b.quant("q_w1", "w1", "w1q", 6, 5, true);
            b.node(
                "Conv",
                "conv",
                &["xq", "w1q"],
                &["a1"],
                vec![
                    a_ints("pads", &[1, 1, 1, 1]),
                    a_ints("kernel_shape", &[3, 3]),
                ],
            );
            b.node("Relu", "relu1", &["a1"], &["r1"], vec![]);
            b.quant("q_a1", "r1", "a1q", 8, 4, false);
            b.node(
                "Flatten",
                "flatten",
                &["a1q"],
                &["f"],
                vec![a_int("axis", 1)],
            );
            let n = m * s * s;
            b.f32("w2", &[16, n as i64], &weights(&mut rng, 16 * n));
            b.quant("q_w2", "w2", "w2q", 6, 5, true);
            b.node(
                "Gemm",
                "fc",
                &["f", "w2q"],
                &["a2"],
                vec![a_int("transB", 1)],
            );
            b.quant("q_out", "a2", "y", 8, 4, true);
            eprintln!(
                "conv {c}x{s}x{s} -> {m} filters -> dense {n}->16: {} MACs",
                m * c * 9 * s * s + n * 16
            );
        }
        other => {
            eprintln!("unknown kind {other}: dense or conv");
            std::process::exit(2);
        }
    }
    b.output("y");
    std::fs::write(&args[3], b.bytes()).expect("write model");
}
