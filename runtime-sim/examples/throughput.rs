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

/// CPU time (user + system) of this process so far, all threads including finished
/// ones, in seconds (Linux `/proc`, in units of USER_HZ = 100; `None` elsewhere).
/// Reported next to wall-clock time because a shared machine's other load slows the
/// wall clock but not the CPU time an evaluation needs.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // fields after the parenthesised command name; utime and stime are fields 14, 15
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

struct Row {
    name: String,
    threads: usize,
    samples: usize,
    /// Best wall-clock rate of the runs, and the CPU-time rate of that run.
    wall: f64,
    cpu: Option<f64>,
}

/// Runs `f` `runs` times; the best wall-clock rate and that run's CPU-time rate.
fn measure(runs: usize, samples: usize, mut f: impl FnMut()) -> (f64, Option<f64>) {
    let mut best = (f64::MAX, None);
    for _ in 0..runs {
        let c0 = cpu_seconds();
        let t = Instant::now();
        f();
        let wall = t.elapsed().as_secs_f64();
        let cpu = c0.zip(cpu_seconds()).map(|(a, b)| b - a);
        if wall < best.0 {
            best = (wall, cpu);
        }
    }
    (samples as f64 / best.0, best.1.map(|c| samples as f64 / c))
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
    let ol = batch.output_len();
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

    // the scalar oracle, one thread; its outputs are the reference for every run below
    let mut want = Vec::with_capacity(n_scalar * ol);
    let (wall, cpu) = measure(1, n_scalar, || {
        want.clear();
        for s in 0..n_scalar {
            want.extend(sim.run_one(&inputs[s * len..(s + 1) * len]).unwrap());
        }
    });
    let mut rows = vec![Row {
        name: "scalar `Simulator::run_one`".into(),
        threads: 1,
        samples: n_scalar,
        wall,
        cpu,
    }];

    let mut isas: Vec<Isa> = [Isa::Portable, Isa::Avx2]
        .into_iter()
        .filter(|&i| i <= Isa::detect())
        .collect();
    if let Some(i) = args.iter().position(|a| a == "--isa") {
        let want = args[i + 1].to_ascii_lowercase();
        isas.retain(|isa| format!("{isa:?}").to_ascii_lowercase() == want);
    }
    let best_isa = *isas.last().expect("an ISA");
    let cores = std::thread::available_parallelism().map_or(1, |p| p.get());
    let mut thread_counts = vec![1];
    if cores > 1 {
        thread_counts.push(cores);
    }
    if let Some(t) = args.iter().position(|a| a == "--threads") {
        thread_counts = vec![args[t + 1].parse().expect("a number")];
    }
    let check = |out: &[i64], what: &str| {
        assert_eq!(
            &out[..want.len()],
            &want[..],
            "{what} differs from the scalar path"
        );
    };
    let mut out = vec![0i64; n * ol];
    for &threads in &thread_counts {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        for &isa in &isas {
            if args.iter().any(|a| a == "--only-f64") {
                break;
            }
            let b = batch.clone().with_isa(isa);
            let (wall, cpu) = measure(runs, n, || {
                let y = pool.install(|| b.run_batch(&inputs, n)).unwrap();
                check(&y, "run_batch");
            });
            rows.push(Row {
                name: format!("batch `run_batch`, {isa:?}"),
                threads,
                samples: n,
                wall,
                cpu,
            });
        }
        let b = batch.clone().with_isa(best_isa);
        let (wall, cpu) = measure(runs, n, || {
            pool.install(|| b.run_batch_into(&inputs, n, &mut out))
                .unwrap();
        });
        check(&out, "run_batch_into");
        rows.push(Row {
            name: format!("batch `run_batch_into` (output buffer reused), {best_isa:?}"),
            threads,
            samples: n,
            wall,
            cpu,
        });
        if args.iter().any(|a| a == "--no-f64") {
            continue;
        }
        let (wall, cpu) = measure(runs, n, || {
            let y = pool.install(|| b.run_batch_f64(&real, n)).unwrap();
            check(&y, "run_batch_f64");
        });
        rows.push(Row {
            name: format!("batch `run_batch_f64` (real-valued input), {best_isa:?}"),
            threads,
            samples: n,
            wall,
            cpu,
        });
    }
    println!("bit-exact: every batch run equals the scalar path on all {} output values of the first {} samples", want.len(), n_scalar);
    println!();
    println!("| evaluator | threads | samples | inferences/s (wall) | inferences per CPU-second |");
    println!("|---|---:|---:|---:|---:|");
    for r in rows {
        let cpu = r.cpu.map_or("n/a".to_string(), |c| format!("{c:.0}"));
        println!(
            "| {} | {} | {} | {:.0} | {} |",
            r.name, r.threads, r.samples, r.wall, cpu
        );
    }
}
