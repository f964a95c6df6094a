//! Bit-exactness checks: the RTL (through Verilator co-simulation) against the
//! reference model, and the reference model against the outputs the QONNX executor
//! computed for a model's committed sample vectors.

use crate::error::Error;
use aecc_ir::Rounding;
use aecc_sim::io::read_npy;
use aecc_sim::{BatchSimulator, Simulator};
use aecc_testbench::{Cosim, RtlDesign, StreamStats};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One differing output lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub vector: usize,
    pub lane: usize,
    pub expected: i64,
    pub actual: i64,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "vector {} lane {}: expected {} actual {}",
            self.vector, self.lane, self.expected, self.actual
        )
    }
}

/// Result of comparing two engines on a set of vectors.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    pub vectors: usize,
    pub lanes_compared: usize,
    /// Total number of differing lanes.
    pub mismatch_count: usize,
    /// The first differing lanes (at most [`MAX_REPORTED`]).
    pub mismatches: Vec<Mismatch>,
}

/// How many mismatches are kept for the message.
pub const MAX_REPORTED: usize = 20;

impl Comparison {
    pub fn passed(&self) -> bool {
        self.mismatch_count == 0
    }

    /// Compares expected and actual output vectors lane by lane, every bit.
    pub fn of(expected: &[Vec<i64>], actual: &[Vec<i64>], offset: usize) -> Comparison {
        let mut c = Comparison {
            vectors: expected.len(),
            ..Comparison::default()
        };
        if expected.len() != actual.len() {
            c.mismatch_count = expected.len().abs_diff(actual.len()).max(1);
            return c;
        }
        for (v, (e, a)) in expected.iter().zip(actual).enumerate() {
            c.lanes_compared += e.len();
            for (lane, (&ev, &av)) in e.iter().zip(a).enumerate() {
                if ev != av {
                    c.mismatch_count += 1;
                    if c.mismatches.len() < MAX_REPORTED {
                        c.mismatches.push(Mismatch {
                            vector: offset + v,
                            lane,
                            expected: ev,
                            actual: av,
                        });
                    }
                }
            }
            if e.len() != a.len() {
                c.mismatch_count += 1;
            }
        }
        c
    }

    /// [`Comparison::of`] on flat outputs: `lanes` values per vector, vector-major.
    /// `actual` may be shorter (vectors with no output count as differing in every lane).
    pub fn of_flat(expected: &[i64], actual: &[i64], lanes: usize, offset: usize) -> Comparison {
        let vectors = expected.len().checked_div(lanes).unwrap_or(0);
        let mut c = Comparison {
            vectors,
            lanes_compared: expected.len(),
            ..Comparison::default()
        };
        for (i, (&ev, &av)) in expected.iter().zip(actual).enumerate() {
            if ev != av {
                c.mismatch_count += 1;
                if c.mismatches.len() < MAX_REPORTED {
                    c.mismatches.push(Mismatch {
                        vector: offset + i / lanes,
                        lane: i % lanes,
                        expected: ev,
                        actual: av,
                    });
                }
            }
        }
        c.mismatch_count += expected.len().saturating_sub(actual.len());
        c
    }

    pub fn merge(&mut self, other: Comparison) {
        self.vectors += other.vectors;
        self.lanes_compared += other.lanes_compared;
        self.mismatch_count += other.mismatch_count;
        for m in other.mismatches {
            if self.mismatches.len() < MAX_REPORTED {
                self.mismatches.push(m);
            }
        }
    }
}

/// `n` random vectors on the grid of the model's (single) input, seeded: every lane is
/// a value the input quantizer can produce, its code drawn uniformly from the
/// quantizer's integer range. The first two vectors are the smallest and largest code
/// in every lane. Without an input quantizer, lanes are uniform over the input interval.
pub fn random_vectors(sim: &Simulator, n: usize, seed: u64) -> Vec<Vec<i64>> {
    VectorSource::new(sim, n, seed, Vec::new()).collect_all()
}

/// Draws codes uniformly from the input quantizer's range (or the input interval) and
/// maps them onto the input grid, lane by lane.
#[derive(Debug, Clone)]
struct GridSampler {
    lo: i128,
    hi: i128,
    /// `hi - lo + 1` (at most `2^64`).
    span: u128,
    /// The quantizer channel of every lane.
    channel: Vec<usize>,
    quantizer: Option<aecc_ir::Quantizer>,
    /// Per channel, the grid value of every code `lo + k`, when the range is small.
    tables: Option<Vec<Vec<i64>>>,
}

impl GridSampler {
    fn new(sim: &Simulator) -> GridSampler {
        let info = sim.input_info(0);
        let quantizer = match &sim.graph().node(sim.graph().inputs()[0]).op {
            aecc_ir::Op::Input {
                from_float: Some(q),
            } if !q.is_bipolar() => Some(q.clone()),
            _ => None,
        };
        let (lo, hi) = match &quantizer {
            Some(q) => q.q_bounds(),
            None => (info.interval.lo, info.interval.hi),
        };
        let span = (hi - lo) as u128 + 1;
        let channel: Vec<usize> = (0..info.len())
            .map(|lane| {
                quantizer
                    .as_ref()
                    .map_or(0, |q| q.channel_of(lane, &info.shape))
            })
            .collect();
        let tables = quantizer.as_ref().and_then(|q| {
            let channels = q.channels.len();
            (span <= 1 << 16 && span * channels as u128 <= 1 << 20).then(|| {
                (0..channels)
                    .map(|c| {
                        (0..span as i128)
                            .map(|k| q.grid_value(lo + k, c) as i64)
                            .collect()
                    })
                    .collect()
            })
        });
        GridSampler {
            lo,
            hi,
            span,
            channel,
            quantizer,
            tables,
        }
    }

    /// The grid value of `code` in `lane`.
    fn value(&self, code: i128, lane: usize) -> i64 {
        let c = self.channel[lane];
        match (&self.tables, &self.quantizer) {
            (Some(t), _) => t[c][(code - self.lo) as usize],
            (None, Some(q)) => q.grid_value(code, c) as i64,
            (None, None) => code as i64,
        }
    }

    /// A code drawn uniformly from `lo..=hi`.
    fn draw(&self, rng: &mut ChaCha8Rng) -> i128 {
        let k = if self.span <= 1 << 32 {
            u128::from(rng.random_range(0..=(self.span - 1) as u32))
        } else {
            u128::from(rng.random_range(0..=(self.span - 1) as u64))
        };
        self.lo + k as i128
    }

    /// Appends vector `i` of the random sequence (0: every lane at `lo`, 1: at `hi`).
    fn push_vector(&self, i: usize, rng: &mut ChaCha8Rng, out: &mut Vec<i64>) {
        let lanes = self.channel.len();
        match i {
            0 => out.extend((0..lanes).map(|l| self.value(self.lo, l))),
            1 => out.extend((0..lanes).map(|l| self.value(self.hi, l))),
            _ if self.span.is_power_of_two() && self.span <= 1 << 32 => {
                // codes of b bits, several from each random u64
                let b = self.span.trailing_zeros();
                let mask = (self.span - 1) as u64;
                let (mut word, mut left) = (0u64, 0u32);
                for l in 0..lanes {
                    if left < b {
                        word = rand::RngCore::next_u64(rng);
                        left = 64;
                    }
                    let k = word & mask;
                    word = word.checked_shr(b).unwrap_or(0);
                    left -= b;
                    out.push(self.value(self.lo + i128::from(k), l));
                }
            }
            _ => {
                for l in 0..lanes {
                    let code = self.draw(rng);
                    out.push(self.value(code, l));
                }
            }
        }
    }
}

/// The vectors of `aecc verify`, produced block by block without holding them all:
/// `random` seeded vectors on the input grid (as [`random_vectors`]), then `extra`
/// vectors (the model's samples).
#[derive(Debug, Clone)]
pub struct VectorSource {
    sampler: GridSampler,
    rng: ChaCha8Rng,
    random: usize,
    produced: usize,
    extra: Vec<Vec<i64>>,
}

impl VectorSource {
    pub fn new(sim: &Simulator, random: usize, seed: u64, extra: Vec<Vec<i64>>) -> VectorSource {
        VectorSource {
            sampler: GridSampler::new(sim),
            rng: ChaCha8Rng::seed_from_u64(seed),
            random,
            produced: 0,
            extra,
        }
    }

    /// Values per vector.
    pub fn lanes(&self) -> usize {
        self.sampler.channel.len()
    }

    /// Vectors in all.
    pub fn len(&self) -> usize {
        self.random + self.extra.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next (at most) `n` vectors, flat and vector-major; `None` at the end.
    pub fn next_block(&mut self, n: usize) -> Option<Vec<i64>> {
        let total = self.len();
        if self.produced >= total || n == 0 {
            return None;
        }
        let count = n.min(total - self.produced);
        let mut out = Vec::with_capacity(count * self.lanes());
        for i in self.produced..self.produced + count {
            if i < self.random {
                self.sampler.push_vector(i, &mut self.rng, &mut out);
            } else {
                out.extend_from_slice(&self.extra[i - self.random]);
            }
        }
        self.produced += count;
        Some(out)
    }

    /// Every remaining vector, one `Vec` each.
    pub fn collect_all(mut self) -> Vec<Vec<i64>> {
        let lanes = self.lanes().max(1);
        let mut all = Vec::with_capacity(self.len() - self.produced);
        while let Some(block) = self.next_block(1 << 14) {
            all.extend(block.chunks(lanes).map(<[i64]>::to_vec));
        }
        all
    }
}

/// The committed sample vectors of a model (`<model dir>/samples/input.npy`), if any,
/// quantized onto the input grid.
pub fn sample_vectors(sim: &Simulator, model: &Path) -> Result<Option<Vec<Vec<i64>>>, Error> {
    let path = samples_dir(model).join("input.npy");
    if !path.exists() {
        return Ok(None);
    }
    let batch = read_npy(&path)?;
    if batch.sample_len() != sim.input_info(0).len() {
        return Err(Error::Invalid(format!(
            "{}: {} values per sample, the model input has {}",
            path.display(),
            batch.sample_len(),
            sim.input_info(0).len()
        )));
    }
    let mut out = Vec::with_capacity(batch.samples());
    for i in 0..batch.samples() {
        out.push(sim.quantize_input(0, batch.sample(i))?);
    }
    Ok(Some(out))
}

/// Where a model's sample vectors live.
pub fn samples_dir(model: &Path) -> PathBuf {
    model.parent().unwrap_or(Path::new(".")).join("samples")
}

/// Runs the reference model on every vector (with the batch evaluator, which gives the
/// scalar reference's integers, sample for sample).
pub fn reference_outputs(sim: &Simulator, vectors: &[Vec<i64>]) -> Result<Vec<Vec<i64>>, Error> {
    let batch = sim.compile_batch()?;
    batch_reference(&batch, vectors)
}

/// [`reference_outputs`] with a compiled batch evaluator.
pub fn batch_reference(
    batch: &BatchSimulator,
    vectors: &[Vec<i64>],
) -> Result<Vec<Vec<i64>>, Error> {
    let (il, ol) = (batch.input_len(), batch.output_len());
    let mut flat = Vec::with_capacity(vectors.len() * il);
    for (i, v) in vectors.iter().enumerate() {
        if v.len() != il {
            return Err(Error::Invalid(format!(
                "vector {i}: {} values, the model input has {il}",
                v.len()
            )));
        }
        flat.extend_from_slice(v);
    }
    let out = batch.run_batch(&flat, vectors.len())?;
    if ol == 0 {
        return Ok(vec![Vec::new(); vectors.len()]);
    }
    Ok(out.chunks(ol).map(<[i64]>::to_vec).collect())
}

/// The float32 nearest to the exact real value of the integer `x` of tensor `info`
/// (`x * unit * 2^-frac`), rounded once (half to even): what a float executor that
/// computed this value exactly would print. Values beyond the float32 range saturate
/// to infinity; subnormal results are flushed through f64.
pub fn exact_f32(info: &aecc_ir::TensorInfo, x: i64) -> f32 {
    if x == 0 {
        return 0.0;
    }
    let negative = x < 0;
    let p = x.unsigned_abs() as u128 * info.unit.num as u128;
    let q = info.unit.den as u128;
    let bits = |v: u128| 128 - v.leading_zeros() as i32;
    // m = round(p / q * 2^k) with 2^23 <= m < 2^24 (k may be negative)
    let mut k = 24 - (bits(p) - bits(q));
    let ratio = |k: i32| -> Option<(u128, u128, u128)> {
        // (num, den) of p / q * 2^k, both below 2^127
        let (num, den) = if k >= 0 {
            (p.checked_shl(k as u32).filter(|v| v >> k == p)?, q)
        } else {
            (p, q.checked_shl((-k) as u32).filter(|v| v >> -k == q)?)
        };
        Some((num / den, num % den, den))
    };
    let Some((mut m, mut rem, mut den)) = ratio(k) else {
        return info.real(x as i128) as f32;
    };
    if m >= 1 << 24 {
        k -= 1;
        (m, rem, den) = ratio(k).expect("a smaller shift fits");
    } else if m < 1 << 23 {
        k += 1;
        match ratio(k) {
            Some(r) => (m, rem, den) = r,
            None => return info.real(x as i128) as f32,
        }
    }
    // round half to even
    let twice = rem * 2;
    if twice > den || (twice == den && m % 2 == 1) {
        m += 1;
    }
    let v = m as f64 * aecc_ir::fixed::pow2(-k - info.ty.frac);
    let v = v as f32;
    if negative {
        -v
    } else {
        v
    }
}

/// A comparison of the reference model with a float executor's outputs.
#[derive(Debug, Clone, Default)]
pub struct ExecutorComparison {
    pub comparison: Comparison,
    /// Largest difference between the executor's value and the reference's exact value,
    /// in codes of the output quantizer (steps of the output grid when the output is not
    /// a quantizer); 0 when every lane is equal.
    pub max_steps: f64,
    /// Largest absolute difference, in real units.
    pub max_abs: f64,
}

/// How real inputs are put on the input grid for a comparison with a float executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputQuantization {
    /// Exactly (the reference's own semantics).
    Exact,
    /// As a float32 executor does: `x / scale` and `+ zp` rounded to float32 before the
    /// rounding mode applies (QONNX `Quant`, onnxruntime `QuantizeLinear`). Comparing
    /// this way isolates the deviations that arise inside the graph.
    Float32,
}

/// The input quantizer of `sim` applied the float32 way (see
/// [`InputQuantization::Float32`]).
pub fn quantize_input_float32(sim: &Simulator, real: &[f64]) -> Result<Vec<i64>, Error> {
    let info = sim.input_info(0);
    let q = match &sim.graph().node(sim.graph().inputs()[0]).op {
        aecc_ir::Op::Input {
            from_float: Some(q),
        } => q,
        _ => return Ok(sim.quantize_input(0, real)?),
    };
    let (lo, hi) = q.q_bounds();
    // onnxruntime's QuantizeLinear rounds x / scale before adding the zero point;
    // QONNX's Quant adds it in float32 first
    let onnx = sim
        .graph()
        .node(sim.graph().inputs()[0])
        .origin
        .contains("(QuantizeLinear)");
    real.iter()
        .enumerate()
        .map(|(i, &x)| {
            let c = q.channel_of(i, &info.shape);
            let ch = q.channels[c];
            let quotient = x as f32 / ch.scale.to_f64() as f32;
            if onnx && !quotient.is_nan() {
                let (n, f) = aecc_ir::quant::f64_to_dyadic((quotient as f64).clamp(-1e30, 1e30));
                let r = if f <= 0 {
                    n << (-f).min(100)
                } else {
                    aecc_ir::fixed::div_round(n, 1i128 << f.min(120), Rounding::HalfEven)
                };
                return Ok(q.grid_value((r + ch.zero_point as i128).clamp(lo, hi), c) as i64);
            }
            let v = quotient + ch.zero_point as f32;
            if v.is_nan() {
                return Err(Error::Invalid(format!("input element {i} is NaN")));
            }
            let code = if q.is_bipolar() {
                if v >= 0.0 {
                    1
                } else {
                    -1
                }
            } else {
                // the float32 value is exact: round it exactly, then clamp
                let (n, f) = aecc_ir::quant::f64_to_dyadic((v as f64).clamp(-1e30, 1e30));
                let r = if f <= 0 {
                    n << (-f).min(100)
                } else {
                    aecc_ir::fixed::div_round(n, 1i128 << f.min(120), q.rounding)
                };
                r.clamp(lo, hi)
            };
            Ok(q.grid_value(code, c) as i64)
        })
        .collect()
}

/// The step of output lane `lane` in real units: one code of the output quantizer's
/// channel when the output is a quantizer, else one step of the grid.
fn lane_step(sim: &Simulator, lane: usize) -> f64 {
    let info = sim.output_info(0);
    let id = sim.graph().outputs()[0].1;
    match &sim.graph().node(id).op {
        aecc_ir::Op::Quantize(q)
        | aecc_ir::Op::Input {
            from_float: Some(q),
        } => {
            let c = q.channel_of(lane, &info.shape);
            info.real(q.grid_value(1, c) - q.grid_value(0, c))
        }
        _ => info.real(1),
    }
}

/// Runs the reference on real-valued `inputs` (quantized by the model's input
/// quantizer) and compares every output lane with `expected` (float32 values of a
/// float executor): a lane is equal when the executor's float32 is the float32 nearest
/// the reference's exact value. Mismatches record the executor's value and ours as
/// output-grid integers (`i64::MIN` when the executor's value is off the grid);
/// deviations are measured in codes of the output quantizer.
pub fn compare_with_executor(
    sim: &Simulator,
    inputs: &[Vec<f64>],
    expected: &[Vec<f64>],
) -> Result<ExecutorComparison, Error> {
    compare_with_executor_as(sim, inputs, expected, InputQuantization::Exact)
}

/// [`compare_with_executor`] with a choice of input quantization.
pub fn compare_with_executor_as(
    sim: &Simulator,
    inputs: &[Vec<f64>],
    expected: &[Vec<f64>],
    how: InputQuantization,
) -> Result<ExecutorComparison, Error> {
    let info = sim.output_info(0).clone();
    let grid = info.real(1);
    let mut out = ExecutorComparison {
        comparison: Comparison {
            vectors: inputs.len(),
            ..Comparison::default()
        },
        ..ExecutorComparison::default()
    };
    for (i, (x, e)) in inputs.iter().zip(expected).enumerate() {
        let ints = match how {
            InputQuantization::Exact => sim.quantize_input(0, x)?,
            InputQuantization::Float32 => quantize_input_float32(sim, x)?,
        };
        let ours = sim.run_one(&ints)?;
        let cmp = &mut out.comparison;
        if ours.len() != e.len() {
            cmp.mismatch_count += 1;
            continue;
        }
        for (lane, (&o, &ev)) in ours.iter().zip(e).enumerate() {
            cmp.lanes_compared += 1;
            if exact_f32(&info, o) as f64 == ev {
                continue;
            }
            cmp.mismatch_count += 1;
            let diff = (ev - info.real(o as i128)).abs();
            out.max_abs = out.max_abs.max(diff);
            out.max_steps = out.max_steps.max(diff / lane_step(sim, lane));
            if cmp.mismatches.len() < MAX_REPORTED {
                let on_grid = ev / grid;
                let expected = if on_grid.fract() == 0.0 && on_grid.abs() < 9e18 {
                    on_grid as i64
                } else {
                    i64::MIN
                };
                cmp.mismatches.push(Mismatch {
                    vector: i,
                    lane,
                    expected,
                    actual: o,
                });
            }
        }
    }
    Ok(out)
}

/// Compares the reference model with the outputs in `samples/output.npy` (computed by
/// the QONNX executor or onnxruntime when the model was exported), lane by lane (see
/// [`compare_with_executor`]). `None` when the model has no committed samples.
pub fn check_reference_against_executor(
    sim: &Simulator,
    model: &Path,
) -> Result<Option<Comparison>, Error> {
    Ok(executor_deviation(sim, model)?.map(|c| c.comparison))
}

/// [`check_reference_against_executor`] with the size of the deviations.
pub fn executor_deviation(
    sim: &Simulator,
    model: &Path,
) -> Result<Option<ExecutorComparison>, Error> {
    let dir = samples_dir(model);
    let (inp, outp) = (dir.join("input.npy"), dir.join("output.npy"));
    if !inp.exists() || !outp.exists() {
        return Ok(None);
    }
    let (inputs, expected) = (read_npy(&inp)?, read_npy(&outp)?);
    if inputs.sample_len() != sim.input_info(0).len() {
        return Err(Error::Invalid(format!(
            "{}: {} values per sample, the model input has {}",
            inp.display(),
            inputs.sample_len(),
            sim.input_info(0).len()
        )));
    }
    if expected.samples() != inputs.samples() || expected.sample_len() != sim.output_info(0).len() {
        return Err(Error::Invalid(format!(
            "{}: shape {:?} does not match {} samples of {} outputs",
            outp.display(),
            expected.shape,
            inputs.samples(),
            sim.output_info(0).len()
        )));
    }
    let xs: Vec<Vec<f64>> = (0..inputs.samples())
        .map(|i| inputs.sample(i).to_vec())
        .collect();
    let es: Vec<Vec<f64>> = (0..expected.samples())
        .map(|i| expected.sample(i).to_vec())
        .collect();
    compare_with_executor(sim, &xs, &es).map(Some)
}

/// Where the time of a co-simulation went (seconds). The vectors, the reference, the
/// encoding and the comparison run on other threads while the simulator runs; see
/// [`StreamStats`].
#[derive(Debug, Clone, Default)]
pub struct CosimTiming {
    /// Verilator build, or finding it in the cache.
    pub build_s: f64,
    /// The simulator came from the build cache.
    pub cached: bool,
    /// Generating the vectors (writer thread).
    pub vectors_s: f64,
    /// The batch reference model (writer thread).
    pub reference_s: f64,
    /// The stream: wall time, the simulator's CPU time, encoding, decoding and the
    /// comparison (`check_s`).
    pub stream: StreamStats,
}

impl CosimTiming {
    /// One line for the terminal.
    pub fn summary(&self) -> String {
        let s = &self.stream;
        format!(
            "Verilator build {:.2} s{}; stream {:.2} s wall for {} vectors ({:.0} vectors/s), \
             simulator {:.2} s CPU; overlapped with it: vectors {:.2} s, reference {:.2} s, \
             encode {:.2} s, decode {:.2} s, compare {:.2} s",
            self.build_s,
            if self.cached { " (cached)" } else { "" },
            s.wall_s,
            s.inputs,
            s.inputs as f64 / s.wall_s.max(1e-9),
            s.simulator_cpu_s,
            self.vectors_s,
            self.reference_s,
            s.encode_s,
            s.decode_s,
            s.check_s,
        )
    }
}

/// Vectors per streamed block.
const STREAM_BLOCK: usize = 8192;

/// Co-simulates a design on the vectors of `source`, streaming: blocks of vectors are
/// generated and run through the batch reference on a writer thread and sent to the
/// simulator, whose outputs are compared lane by lane, every bit, as they come back.
/// `progress` is called with the number of vectors done.
pub fn cosimulate(
    design: &RtlDesign,
    batch: &BatchSimulator,
    mut source: VectorSource,
    cache_dir: &Path,
    bubbles: Option<u64>,
    mut progress: impl FnMut(usize),
) -> Result<(Comparison, CosimTiming), Error> {
    let t = Instant::now();
    let cosim = Cosim::build(design, cache_dir)?;
    let mut timing = CosimTiming {
        build_s: t.elapsed().as_secs_f64(),
        cached: cosim.cached,
        ..CosimTiming::default()
    };
    let lanes = batch.output_len();
    let (mut vectors_s, mut reference_s, mut first) = (0.0, 0.0, 0);
    let mut total = Comparison::default();
    let next = || {
        let t = Instant::now();
        let Some(x) = source.next_block(STREAM_BLOCK) else {
            return Ok(None);
        };
        vectors_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let n = x.len().checked_div(batch.input_len()).unwrap_or(0);
        let expected = batch.run_batch(&x, n).map_err(|e| {
            let (index, e) = match e {
                aecc_sim::SimError::InSample { sample, source } => (first + sample, *source),
                e => (first, e),
            };
            aecc_testbench::CosimError::BadVector {
                index,
                message: format!("the reference model rejects it: {e}"),
            }
        })?;
        reference_s += t.elapsed().as_secs_f64();
        first += n;
        Ok(Some((x, expected)))
    };
    let check = |d: aecc_testbench::Delivered<'_, Vec<i64>>| {
        total.merge(Comparison::of_flat(&d.payload, d.outputs, lanes, d.first));
        progress(d.first + d.vectors);
        Ok(())
    };
    timing.stream = cosim.stream(bubbles, next, check)?;
    timing.vectors_s = vectors_s;
    timing.reference_s = reference_s;
    Ok((total, timing))
}

/// The Verilator build cache: `$AECC_CACHE_DIR`, else `$XDG_CACHE_HOME/aecc`, else
/// `~/.cache/aecc`, with a `verilator` sub-folder.
pub fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("AECC_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("aecc")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("aecc")))
        .unwrap_or_else(|| std::env::temp_dir().join("aecc-cache"));
    base.join("verilator")
}

/// Emits the HLS C++ of `graph` for `flavor` into `dir`, builds its C simulation with
/// g++ against the vendor headers (`headers`, else the set-up cache, see
/// `scripts/setup-hls-headers.sh`), streams `vectors` through it and compares every
/// output value with the reference.
pub fn csimulate(
    graph: &aecc_ir::Graph,
    flavor: crate::backend::hls::HlsFlavor,
    top: &str,
    sim: &Simulator,
    vectors: &[Vec<i64>],
    dir: &Path,
    headers: Option<&Path>,
) -> Result<Comparison, Error> {
    use aecc_testbench::hls_csim::{self, CsimSources, HeaderLibrary};
    let opts = crate::backend::hls::HlsOptions::new(flavor, top);
    let project =
        crate::backend::hls::emit(graph, &opts).map_err(|e| Error::Invalid(e.to_string()))?;
    project.write_to(dir).map_err(|e| Error::io(dir, e))?;
    let library = HeaderLibrary::from_name(project.header_library()).ok_or_else(|| {
        Error::Invalid(format!(
            "unknown header library {}",
            project.header_library()
        ))
    })?;
    let headers = match headers {
        Some(h) => {
            hls_csim::check_headers(library, h).map_err(|e| Error::Invalid(e.to_string()))?;
            h.to_path_buf()
        }
        None => hls_csim::find_headers(library).map_err(|e| Error::Invalid(e.to_string()))?,
    };
    let src = CsimSources {
        dir: dir.to_path_buf(),
        sources: project.csim_sources(),
        include_dirs: vec![project.include_dir()],
        headers,
    };
    let program =
        hls_csim::build(&src, &dir.join("csim.exe")).map_err(|e| Error::Invalid(e.to_string()))?;
    let actual = program
        .run(vectors)
        .map_err(|e| Error::Invalid(e.to_string()))?;
    let expected = reference_outputs(sim, vectors)?;
    Ok(Comparison::of(&expected, &actual, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecc_ir::fixed::Rounding;
    use aecc_ir::{ChannelQuant, DyadicScale, Graph, Op, Quantizer};
    use std::collections::BTreeSet;

    fn model(q: &Quantizer) -> Simulator {
        let mut g = Graph::new("v");
        let x = g.add_input("x", vec![1, 3, 2, 2], q.out_type(), Some(q.clone()));
        let y = g.add_node("r", Op::Relu, &[x], "r").unwrap();
        g.add_output("y", y);
        Simulator::new(&g).unwrap()
    }

    fn quantizers() -> Vec<Quantizer> {
        let mut v = vec![
            Quantizer::pow2(10, 7, true, Rounding::HalfEven), // ECON-T's input: span 2^10
            Quantizer::pow2(1, 0, false, Rounding::HalfEven), // span 2
            Quantizer::pow2(40, 10, true, Rounding::HalfEven), // span 2^40: u64 draws
        ];
        let mut narrow = Quantizer::pow2(5, 2, false, Rounding::HalfEven);
        narrow.narrow = true; // span 31: bounded draws
        v.push(narrow);
        // per channel, zero points, a non-power-of-two scale: span 8
        let mut pc = Quantizer::pow2(3, 1, true, Rounding::HalfEven);
        pc.axis = Some(1);
        pc.channels = (0..3)
            .map(|c| ChannelQuant {
                scale: DyadicScale {
                    mantissa: [1, 3, 1][c],
                    exponent: -1 - c as i32,
                },
                zero_point: c as i64 - 1,
            })
            .collect();
        v.push(pc);
        v
    }

    /// Every lane of every vector is a value of its channel's grid; the first two vectors
    /// are the smallest and largest codes; small code ranges are covered; blocks of any
    /// size give the same vectors as `random_vectors`, the seed decides them.
    #[test]
    fn random_vectors_are_on_the_grid_and_streamed_in_blocks() {
        for q in quantizers() {
            q.check().unwrap();
            let sim = model(&q);
            let info = sim.input_info(0).clone();
            let (lo, hi) = q.q_bounds();
            let n = 400;
            let all = random_vectors(&sim, n, 5);
            assert_eq!(all.len(), n);
            let chan = |lane: usize| q.channel_of(lane, &info.shape);
            for (lane, (&low, &high)) in all[0].iter().zip(&all[1]).enumerate() {
                assert_eq!(low as i128, q.grid_value(lo, chan(lane)));
                assert_eq!(high as i128, q.grid_value(hi, chan(lane)));
            }
            assert_eq!(all[0].len(), info.len());
            let span = hi - lo + 1;
            for lane in 0..info.len() {
                let c = chan(lane);
                let values: BTreeSet<i64> = all.iter().map(|v| v[lane]).collect();
                if span <= 64 {
                    let grid: BTreeSet<i64> =
                        (lo..=hi).map(|k| q.grid_value(k, c) as i64).collect();
                    assert_eq!(values, grid, "{q:?} lane {lane}");
                } else {
                    let (a, b) = (q.grid_value(lo, c) as i64, q.grid_value(hi, c) as i64);
                    assert!(values.iter().all(|v| (a..=b).contains(v)));
                    // (uniform draws: about 330 distinct of 400 from 1024 codes)
                    let want = (n as i128).min(span) * 3 / 4;
                    assert!(
                        values.len() as i128 > want,
                        "{q:?}: {} distinct",
                        values.len()
                    );
                }
            }
            let extra = vec![vec![7; info.len()]; 3];
            let mut source = VectorSource::new(&sim, n, 5, extra.clone());
            assert_eq!(source.len(), n + 3);
            let mut flat = Vec::new();
            let mut size = 1;
            while let Some(block) = source.next_block(size) {
                assert!(block.len() <= size * info.len());
                flat.extend(block);
                size = size * 3 + 1;
            }
            let whole: Vec<i64> = all.iter().chain(&extra).flatten().copied().collect();
            assert_eq!(flat, whole);
            assert_ne!(random_vectors(&sim, n, 6)[2..], all[2..]);
        }
    }

    #[test]
    fn flat_comparison_reports_every_difference() {
        let expected = [1, 2, 3, 4, 5, 6];
        assert!(Comparison::of_flat(&expected, &expected, 2, 0).passed());
        let c = Comparison::of_flat(&expected, &[1, 2, 3, 0, 5, 6], 2, 10);
        assert_eq!((c.vectors, c.lanes_compared, c.mismatch_count), (3, 6, 1));
        assert_eq!(
            c.mismatches[0],
            Mismatch {
                vector: 11,
                lane: 1,
                expected: 4,
                actual: 0
            }
        );
        // missing outputs differ in every lane
        assert_eq!(
            Comparison::of_flat(&expected, &[1, 2], 2, 0).mismatch_count,
            4
        );
    }
}
