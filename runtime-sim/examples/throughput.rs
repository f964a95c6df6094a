//! Inferences per second of the reference model on an ECON-T-shaped encoder: the scalar
//! oracle (`Simulator::run_one`) against the batch evaluator (`BatchSimulator`), and a
//! bit-exactness check of the two on every output value.
//!
//!     cargo run --release -p aecc-sim --example throughput -- [--samples N] [--scalar-samples N] [--runs N]
//!
//! The graph: input 1x1x8x8 s10.7 (Quant 10 b, frac 7); Conv 8 filters 3x3, stride 2,
//! pads [0,0,1,1], 6-bit weights (frac 5) and bias; Quantize 11-bit signed frac 8
//! HalfEven; Relu; Reshape [1,128]; Dense 128->16, 6-bit weights and bias; Relu;
//! Quantize 9-bit unsigned frac 8. Weights and inputs are seeded random numbers.

use aecc_ir::ops::{ConstTensor, Conv, Dense};
use aecc_ir::{Graph, Op, Quantizer, Rounding};
use aecc_sim::batch::Isa;
use aecc_sim::{BatchSimulator, Simulator};
use rand::{Rng, SeedableRng};
use std::time::Instant;

fn econt(seed: u64) -> Graph {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut g = Graph::new("econt");
    let qin = Quantizer::pow2(10, 7, true, Rounding::HalfEven);
    let x = g.add_input("x", vec![1, 1, 8, 8], qin.out_type(), Some(qin));
    let w6 = |rng: &mut rand_chacha::ChaCha8Rng, n: usize| -> Vec<i64> {
        (0..n).map(|_| rng.random_range(-32..=31)).collect()
    };
    let conv = Conv {
        weight: ConstTensor::new(vec![8, 1, 3, 3], w6(&mut rng, 72), 5),
        bias: Some(ConstTensor::new(
            vec![8],
            (0..8).map(|_| rng.random_range(-128..=127)).collect(),
            8,
        )),
        strides: [2, 2],
        pads: [0, 0, 1, 1],
        dilations: [1, 1],
        group: 1,
    };
    let c = g.add_node("conv", Op::Conv(conv), &[x], "conv").unwrap();
    let q1 = Quantizer::pow2(11, 8, true, Rounding::HalfEven);
    let q = g.add_node("q1", Op::Quantize(q1), &[c], "q1").unwrap();
    let r = g.add_node("relu1", Op::Relu, &[q], "relu1").unwrap();
    let f = g
        .add_node(
            "flat",
            Op::Reshape {
                shape: vec![1, 128],
            },
            &[r],
            "flat",
        )
        .unwrap();
    let dense = Dense {
        weight: ConstTensor::new(vec![128, 16], w6(&mut rng, 128 * 16), 5),
        bias: Some(ConstTensor::new(
            vec![16],
            (0..16).map(|_| rng.random_range(-128..=127)).collect(),
            8,
        )),
    };
    let d = g
        .add_node("dense", Op::Dense(dense), &[f], "dense")
        .unwrap();
    let r2 = g.add_node("relu2", Op::Relu, &[d], "relu2").unwrap();
    let q2 = Quantizer::pow2(9, 8, false, Rounding::HalfEven);
    let y = g
        .add_node("latent", Op::Quantize(q2), &[r2], "latent")
        .unwrap();
    g.add_output("latent", y);
    g
}

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.replace('_', "").parse().expect("a number"))
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = arg(&args, "--samples", 1_000_000);
    let n_scalar = arg(&args, "--scalar-samples", n).min(n);
    let runs = arg(&args, "--runs", 5).max(1);

    let g = econt(1);
    let sim = Simulator::new(&g).unwrap();
    let batch = BatchSimulator::new(&g).unwrap();
    let len = batch.input_len();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
    let inputs: Vec<i64> = (0..n * len).map(|_| rng.random_range(-512..=511)).collect();
    let real: Vec<f64> = inputs.iter().map(|&v| v as f64 / 128.0).collect();

    println!("ECON-T-shaped encoder, {n} random on-grid inputs, best of {runs} runs");
    println!(
        "CPU threads available: {}; best ISA: {:?}",
        std::thread::available_parallelism().map_or(0, |p| p.get()),
        Isa::detect()
    );
    println!("plan:");
    for k in batch.kernels() {
        println!("  {:8} {:9} {}", k.node, k.op, k.kernel);
    }

    // scalar oracle, one thread
    let t = Instant::now();
    let mut want = Vec::with_capacity(n_scalar * batch.output_len());
    for s in 0..n_scalar {
        want.extend(sim.run_one(&inputs[s * len..(s + 1) * len]).unwrap());
    }
    let scalar_rate = n_scalar as f64 / t.elapsed().as_secs_f64();

    let mut rows = vec![(
        "scalar `Simulator::run_one`".to_string(),
        1,
        n_scalar,
        scalar_rate,
    )];
    let mut isas = vec![Isa::Portable];
    if Isa::detect() >= Isa::Avx2 {
        isas.push(Isa::Avx2);
    }
    if Isa::detect() >= Isa::Avx512 {
        isas.push(Isa::Avx512);
    }
    let cores = std::thread::available_parallelism().map_or(1, |p| p.get());
    let mut thread_counts = vec![1];
    if cores > 1 {
        thread_counts.push(cores);
    }
    for &threads in &thread_counts {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        for &isa in &isas {
            let b = batch.clone().with_isa(isa);
            let mut best = f64::MAX;
            for _ in 0..runs {
                let t = Instant::now();
                let out = pool.install(|| b.run_batch(&inputs, n)).unwrap();
                best = best.min(t.elapsed().as_secs_f64());
                assert_eq!(
                    &out[..want.len()],
                    &want[..],
                    "batch ({isa:?}) differs from the scalar path"
                );
            }
            rows.push((
                format!("batch `run_batch` (i64 in), {isa:?}"),
                threads,
                n,
                n as f64 / best,
            ));
        }
        let b = batch.clone();
        let mut best = f64::MAX;
        for _ in 0..runs {
            let t = Instant::now();
            let out = pool.install(|| b.run_batch_f64(&real, n)).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            assert_eq!(&out[..want.len()], &want[..]);
        }
        rows.push((
            format!("batch `run_batch_f64` (f64 in), {:?}", b.isa()),
            threads,
            n,
            n as f64 / best,
        ));
    }
    println!(
        "bit-exact: batch == scalar on all {} output values of {} samples",
        want.len(),
        n_scalar
    );
    println!();
    println!("| evaluator | threads | samples | inferences/s |");
    println!("|---|---:|---:|---:|");
    for (name, threads, samples, rate) in rows {
        println!("| {name} | {threads} | {samples} | {:.0} |", rate);
    }
}
