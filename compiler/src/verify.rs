//! Bit-exactness checks: the RTL (through Verilator co-simulation) against the
//! reference model, and the reference model against the outputs the QONNX executor
//! computed for a model's committed sample vectors.

use crate::error::Error;
use aecc_ir::Rounding;
use aecc_sim::io::read_npy;
use aecc_sim::Simulator;
use aecc_testbench::{Cosim, RtlDesign};
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

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
    let info = sim.input_info(0);
    let len = info.len();
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
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            (0..len)
                .map(|lane| {
                    let code = match i {
                        0 => lo,
                        1 => hi,
                        _ => rng.random_range(lo..=hi),
                    };
                    let v = match &quantizer {
                        Some(q) => q.grid_value(code, q.channel_of(lane, &info.shape)),
                        None => code,
                    };
                    v as i64
                })
                .collect()
        })
        .collect()
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

/// Runs the reference model on every vector.
pub fn reference_outputs(sim: &Simulator, vectors: &[Vec<i64>]) -> Result<Vec<Vec<i64>>, Error> {
    vectors
        .iter()
        .map(|v| sim.run_one(v).map_err(Error::from))
        .collect()
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

/// Co-simulates a design on `vectors` in chunks and compares every output lane with the
/// reference. `progress` is called with the number of vectors done.
pub fn cosimulate(
    design: &RtlDesign,
    sim: &Simulator,
    vectors: &[Vec<i64>],
    cache_dir: &Path,
    bubbles: Option<u64>,
    mut progress: impl FnMut(usize),
) -> Result<Comparison, Error> {
    let cosim = Cosim::build(design, cache_dir)?;
    let mut total = Comparison::default();
    const CHUNK: usize = 100_000;
    for (ci, chunk) in vectors.chunks(CHUNK).enumerate() {
        let actual = cosim.run(chunk, bubbles)?;
        let expected = reference_outputs(sim, chunk)?;
        total.merge(Comparison::of(&expected, &actual, ci * CHUNK));
        progress(ci * CHUNK + chunk.len());
    }
    Ok(total)
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
