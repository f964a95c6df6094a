//! Bit-exactness checks: the RTL (through Verilator co-simulation) against the
//! reference model, and the reference model against the outputs the QONNX executor
//! computed for a model's committed sample vectors.

use crate::error::Error;
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

/// Compares the reference model with the outputs in `samples/output.npy` (computed by
/// the QONNX executor when the model was exported): every value must be equal.
/// `None` when the model has no committed samples.
pub fn check_reference_against_executor(
    sim: &Simulator,
    model: &Path,
) -> Result<Option<Comparison>, Error> {
    let Some(inputs) = sample_vectors(sim, model)? else {
        return Ok(None);
    };
    let path = samples_dir(model).join("output.npy");
    if !path.exists() {
        return Ok(None);
    }
    let expected = read_npy(&path)?;
    if expected.samples() != inputs.len() || expected.sample_len() != sim.output_info(0).len() {
        return Err(Error::Invalid(format!(
            "{}: shape {:?} does not match {} samples of {} outputs",
            path.display(),
            expected.shape,
            inputs.len(),
            sim.output_info(0).len()
        )));
    }
    let ty = sim.output_info(0).ty;
    let mut cmp = Comparison {
        vectors: inputs.len(),
        ..Comparison::default()
    };
    for (i, x) in inputs.iter().enumerate() {
        let ours = sim.run_one(x)?;
        for (lane, (&o, &e)) in ours.iter().zip(expected.sample(i)).enumerate() {
            cmp.lanes_compared += 1;
            // the executor's value on our grid; a value off the grid can never match
            let scaled = e * aecc_ir::fixed::pow2(ty.frac);
            if ty.to_f64(o as i128) != e {
                cmp.mismatch_count += 1;
                if cmp.mismatches.len() < MAX_REPORTED {
                    let actual = if scaled.fract() == 0.0 {
                        scaled as i64
                    } else {
                        i64::MIN
                    };
                    cmp.mismatches.push(Mismatch {
                        vector: i,
                        lane,
                        expected: actual,
                        actual: o,
                    });
                }
            }
        }
    }
    Ok(Some(cmp))
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
