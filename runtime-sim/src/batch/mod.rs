//! Fast batch evaluation, bit-exact to the scalar [`Simulator`].
//!
//! [`BatchSimulator`] compiles a single-input, single-output graph once into a list of
//! integer kernels, then evaluates data sets [`LANES`] samples at a time in
//! feature-major tiles (one SIMD lane per sample, weights broadcast), with tiles spread
//! over threads by rayon.
//!
//! ```no_run
//! # fn demo(graph: &aecc_ir::Graph, inputs: &[i64], n: usize) -> Result<(), aecc_sim::SimError> {
//! let batch = aecc_sim::BatchSimulator::new(graph)?;
//! let outputs = batch.run_batch(inputs, n)?; // n * output_len() integers, sample-major
//! # Ok(()) }
//! ```
//!
//! # Kernels
//!
//! - `Dense` and `Conv` become sparse sums of products in blocks of 4 output rows that
//!   read the same inputs (the output channels of one convolution window, 4 neighbouring
//!   outputs of a dense layer): each input row of 16 lanes is loaded once and multiplied
//!   by 4 broadcast weights. Terms whose weights are all zero, and convolution taps that
//!   read padding, are not stored.
//! - A power-of-two quantizer becomes, per channel, `y = x + (zp << s)`,
//!   `q = (y + c) >> s` with the rounding constant `c` of the mode (`0` floor, `2^s - 1`
//!   ceil, `2^(s-1) - 1 + ((y >> s) & 1)` half-even, sign-dependent constants for the
//!   others), then a clamp (or a mask for wrap) and `(q - zp) << shift` — exactly what
//!   [`aecc_ir::Quantizer::quantize_int`] computes; if the input grid is coarser, `y =
//!   (x << k) + zp` and nothing rounds. Other scales, and wrap onto a narrow range, use
//!   `quantize_int` itself.
//! - `Relu`, `Add` are lane-wise; `Reshape` costs nothing (it shares its operand's
//!   buffer); `Transpose` is a row gather. Nodes the output does not depend on are not
//!   evaluated. Buffers of dead values are reused.
//!
//! [`BatchSimulator::kernels`] lists the choice made for each node.
//!
//! # Why the narrow integer kernels are exact
//!
//! The planner re-derives every node's interval from the graph input's *type range*
//! (which is what the scalar path accepts), with the IR's own transfer functions
//! ([`aecc_ir::Op::infer`]); interval arithmetic is sound, so every value any accepted
//! input can produce lies in its node's interval. A value is stored as `i32` when its
//! node's interval fits `i32`. A kernel computes in `i32` (else `i64`) only if every
//! value it forms — not just its result — is proven to lie in that type:
//!
//! - linear maps compute `acc = sum_t w_t * x_t` term by term, then `acc <<
//!   product_shift`, then `+ (bias << bias_shift)`. With `X` the operand's interval, term
//!   `t` lies in `I_t = w_t * X` and the partial sum after `j` terms in `I_1 + ... + I_j`,
//!   in the order the kernel adds them. The planner checks the operand and weights, every
//!   product interval, every prefix-sum interval, the shifted sum, the shifted bias and
//!   the result. Checking the result alone is not enough: partial sums leave the final
//!   interval when later terms cannot change sign (an input interval that excludes 0,
//!   e.g. after a zero point) or when a bias pulls the sum back. The prefix bound is
//!   never looser than the textbook `sum_t |w_t| * max|x|`;
//! - the quantizer's intermediates (`x << k`, `zp << s`, `y`, `y + c` for the largest
//!   constant, `q - lo` for wrap, `q - zp` and its shift, the bounds themselves) each get
//!   an interval, and every shift must be shorter than the type;
//! - `Add` checks `a << sa`, `b << sb` and the sum.
//!
//! What does not fit `i64` runs in `i128` (linear maps, `Add`) or through
//! `quantize_int`. Debug builds check every narrowing and every `+`, `*` of the kernels
//! for overflow, so the tests (`tests/batch.rs`, which compare against the scalar path
//! on random networks including wide types) would catch a wrong proof even where
//! wrapping arithmetic happened to give the right answer.
//!
//! # Threads and instruction sets
//!
//! The evaluator runs in the current rayon pool (all cores by default; set
//! `RAYON_NUM_THREADS` or call it inside `ThreadPool::install` to change that), in
//! tasks of 1,024 samples. The kernels are compiled twice, for the target's baseline
//! and for AVX2, and the better one the CPU supports is picked at run time
//! ([`BatchSimulator::with_isa`] forces the baseline).

mod input;
mod kernels;
mod plan;

pub use kernels::LANES;
pub use plan::{Kernel, NodePlan, Width};

use crate::error::SimError;
use crate::eval::Simulator;
use aecc_ir::{Graph, Op};
use input::InputQuant;
use kernels::Buf;
use plan::{LinearStep, Plan, Step, StepKind, BLOCK};
use rayon::prelude::*;

/// Samples per rayon task (a multiple of [`LANES`]).
const TASK_SAMPLES: usize = 64 * LANES;

/// Instruction sets the kernels are compiled for; the best one the CPU supports is
/// picked at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// The target's baseline (SSE2 on x86-64).
    Portable,
    /// x86-64 AVX2 (with FMA, BMI1/2, LZCNT, POPCNT). AVX-512 measured no faster on
    /// the ECON-T benchmark, and its target features need Rust 1.89.
    Avx2,
}

impl Isa {
    /// The widest instruction set this CPU supports.
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
                && std::arch::is_x86_feature_detected!("bmi1")
                && std::arch::is_x86_feature_detected!("bmi2")
                && std::arch::is_x86_feature_detected!("lzcnt")
                && std::arch::is_x86_feature_detected!("popcnt")
            {
                return Isa::Avx2;
            }
        }
        Isa::Portable
    }
}

/// Some input of a task is invalid; the caller locates the first one sequentially so
/// that the error does not depend on thread timing.
#[derive(Debug)]
struct Invalid;

#[derive(Debug, Clone)]
enum Mode {
    Planned(Plan),
    /// The graph could not be planned: evaluate sample by sample with the scalar path.
    Scalar(String),
}

/// A compiled batch evaluator of a single-input, single-output graph; every output
/// value equals the scalar [`Simulator`]'s.
#[derive(Debug, Clone)]
pub struct BatchSimulator {
    sim: Simulator,
    mode: Mode,
    isa: Isa,
    in_len: usize,
    out_len: usize,
    /// Input type range, clipped to `i64`.
    in_lo: i64,
    in_hi: i64,
    from_float: Option<InputQuant>,
}

impl Simulator {
    /// Compiles this graph for fast batch evaluation ([`BatchSimulator`]).
    pub fn compile_batch(&self) -> Result<BatchSimulator, SimError> {
        BatchSimulator::from_simulator(self.clone())
    }
}

impl BatchSimulator {
    /// Verifies and compiles a single-input, single-output graph.
    pub fn new(graph: &Graph) -> Result<BatchSimulator, SimError> {
        BatchSimulator::from_simulator(Simulator::new(graph)?)
    }

    fn from_simulator(sim: Simulator) -> Result<BatchSimulator, SimError> {
        if sim.input_count() != 1 || sim.output_count() != 1 {
            return Err(SimError::NotSingleInputOutput {
                inputs: sim.input_count(),
                outputs: sim.output_count(),
            });
        }
        let graph = sim.graph();
        let mode = match plan::plan(graph) {
            Ok(p) => Mode::Planned(p),
            Err(reason) => Mode::Scalar(reason),
        };
        let info = sim.input_info(0);
        let ty = info.ty;
        let from_float = match &graph.node(graph.inputs()[0]).op {
            Op::Input {
                from_float: Some(q),
            } => Some(InputQuant::new(q, &info.shape)),
            _ => None,
        };
        Ok(BatchSimulator {
            in_len: info.len(),
            out_len: sim.output_info(0).len(),
            in_lo: ty.min_int().max(i64::MIN as i128) as i64,
            in_hi: ty.max_int().min(i64::MAX as i128) as i64,
            from_float,
            mode,
            isa: Isa::detect(),
            sim,
        })
    }

    /// The scalar simulator of the same graph (names, shapes, types, `output_real`).
    pub fn simulator(&self) -> &Simulator {
        &self.sim
    }

    /// Integers per input sample.
    pub fn input_len(&self) -> usize {
        self.in_len
    }

    /// Integers per output sample.
    pub fn output_len(&self) -> usize {
        self.out_len
    }

    /// The kernel of every node the output depends on, in evaluation order (empty when
    /// the graph is evaluated by the scalar path, see [`Self::scalar_fallback`]).
    pub fn kernels(&self) -> &[NodePlan] {
        match &self.mode {
            Mode::Planned(p) => &p.kernels,
            Mode::Scalar(_) => &[],
        }
    }

    /// Why the graph is evaluated sample by sample with the scalar path, if it is.
    pub fn scalar_fallback(&self) -> Option<&str> {
        match &self.mode {
            Mode::Planned(_) => None,
            Mode::Scalar(r) => Some(r),
        }
    }

    /// Threads the evaluator runs on (the current rayon pool's; `RAYON_NUM_THREADS`).
    pub fn threads() -> usize {
        rayon::current_num_threads()
    }

    /// The instruction set the kernels run with.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Runs the kernels with `isa`, or the best supported one below it (for benchmarks
    /// and tests of the portable path).
    pub fn with_isa(mut self, isa: Isa) -> BatchSimulator {
        self.isa = isa.min(Isa::detect());
        self
    }

    /// Evaluates `n` samples given as `n * input_len()` integers on the input grid,
    /// sample-major. Returns `n * output_len()` integers, sample-major.
    ///
    /// Errors as [`Simulator::run_one`] does for the first offending sample, wrapped in
    /// [`SimError::InSample`].
    pub fn run_batch(&self, inputs: &[i64], n: usize) -> Result<Vec<i64>, SimError> {
        self.check_len(inputs.len(), n)?;
        let mut out = vec![0i64; n * self.out_len];
        self.run_batch_into(inputs, n, &mut out)?;
        Ok(out)
    }

    /// [`Self::run_batch`] into a caller's buffer of `n * output_len()` values (saves the
    /// allocation and first-touch page faults of a new output vector on repeated calls).
    pub fn run_batch_into(
        &self,
        inputs: &[i64],
        n: usize,
        out: &mut [i64],
    ) -> Result<(), SimError> {
        self.check_len(inputs.len(), n)?;
        if out.len() != n * self.out_len {
            return Err(SimError::BatchLength {
                samples: n,
                per_sample: self.out_len,
                expected: n * self.out_len,
                got: out.len(),
            });
        }
        let result = self.par_tasks(out, |_, tile, s0, ns, o| {
            let x = &inputs[s0 * self.in_len..(s0 + ns) * self.in_len];
            self.run_chunk(tile, x, ns, o)
        });
        match result {
            Ok(()) if self.out_len > 0 => Ok(()),
            // several tasks may fail; report the first offending sample (and check the
            // inputs of a model without outputs, which runs no task)
            _ => match self.first_input_error(inputs) {
                Some(e) => Err(e),
                None => Ok(()),
            },
        }
    }

    /// Like [`Self::run_batch`] on real values: each sample is first mapped onto the input
    /// grid by the model's input quantizer, exactly as [`Simulator::quantize_input`].
    pub fn run_batch_f64(&self, real: &[f64], n: usize) -> Result<Vec<i64>, SimError> {
        self.check_len(real.len(), n)?;
        let fq = self
            .from_float
            .as_ref()
            .ok_or_else(|| SimError::NoInputQuantizer {
                name: self.sim.input_name(0).to_string(),
            })?;
        let mut out = vec![0i64; n * self.out_len];
        let len = self.in_len;
        let result = self.par_tasks(&mut out, |ints, tile, s0, ns, o| {
            let x = &real[s0 * len..(s0 + ns) * len];
            // a NaN is located by the sequential search below
            let ok = match self.isa {
                // SAFETY: `isa` is never above what `Isa::detect` found on this CPU.
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => unsafe { quantize_avx2(fq, x, ints) },
                _ => fq.quantize_samples(x, ints),
            };
            if !ok {
                return Err(Invalid);
            }
            self.run_chunk(tile, ints, ns, o)
        });
        match result {
            Ok(()) if self.out_len > 0 => Ok(out),
            // several tasks may fail; report the first offending sample (and check the
            // inputs of a model without outputs, which runs no task)
            _ => match self.first_f64_error(fq, real, n) {
                Some(e) => Err(e),
                None => Ok(out),
            },
        }
    }

    /// The error of the first sample of `real` the scalar path rejects.
    fn first_f64_error(&self, fq: &InputQuant, real: &[f64], n: usize) -> Option<SimError> {
        let len = self.in_len;
        let mut ints = Vec::with_capacity(len);
        for s in 0..n {
            let sample = &real[s * len..(s + 1) * len];
            let bad = !fq.quantize_samples(sample, &mut ints)
                || ints.iter().any(|&v| v < self.in_lo || v > self.in_hi);
            if bad {
                let source = match self.sim.quantize_input(0, sample) {
                    Err(e) => e,
                    Ok(q) => self
                        .sim
                        .run_one(&q)
                        .expect_err("the scalar path rejects out-of-range inputs"),
                };
                return Some(SimError::InSample {
                    sample: s,
                    source: Box::new(source),
                });
            }
        }
        None
    }

    /// Evaluates a data set read by [`crate::io::read_batch`] (real values).
    pub fn run_dataset(&self, batch: &crate::io::Batch) -> Result<Vec<i64>, SimError> {
        self.run_batch_f64(&batch.data, batch.samples())
    }

    fn check_len(&self, got: usize, n: usize) -> Result<(), SimError> {
        let expected = n.saturating_mul(self.in_len);
        if got != expected {
            return Err(SimError::BatchLength {
                samples: n,
                per_sample: self.in_len,
                expected,
                got,
            });
        }
        Ok(())
    }

    /// Splits `out` into tasks of [`TASK_SAMPLES`] samples and runs
    /// `f(scratch, tile, first_sample, samples, out_chunk)` on each in parallel.
    fn par_tasks<F>(&self, out: &mut [i64], f: F) -> Result<(), Invalid>
    where
        F: Fn(&mut Vec<i64>, &mut Vec<Buf>, usize, usize, &mut [i64]) -> Result<(), Invalid> + Sync,
    {
        let new_tile = || match &self.mode {
            Mode::Planned(p) => p.new_tile(),
            Mode::Scalar(_) => Vec::new(),
        };
        if self.out_len == 0 {
            return Ok(());
        }
        out.par_chunks_mut(TASK_SAMPLES * self.out_len)
            .enumerate()
            .try_for_each_init(
                || (Vec::new(), new_tile()),
                |(scratch, tile), (t, o)| {
                    let s0 = t * TASK_SAMPLES;
                    let ns = o.len() / self.out_len;
                    f(scratch, tile, s0, ns, o)
                },
            )
    }

    /// Evaluates `ns` samples `x` (sample-major) into `out`.
    fn run_chunk(
        &self,
        tile: &mut [Buf],
        x: &[i64],
        ns: usize,
        out: &mut [i64],
    ) -> Result<(), Invalid> {
        let plan = match &self.mode {
            Mode::Planned(p) => p,
            Mode::Scalar(_) => {
                for s in 0..ns {
                    let y = self
                        .sim
                        .run_one(&x[s * self.in_len..(s + 1) * self.in_len])
                        .map_err(|_| Invalid)?;
                    out[s * self.out_len..(s + 1) * self.out_len].copy_from_slice(&y);
                }
                return Ok(());
            }
        };
        let c = Chunk {
            plan,
            lo: self.in_lo,
            hi: self.in_hi,
            il: self.in_len,
            ol: self.out_len,
        };
        let ok = match self.isa {
            // SAFETY: `isa` is never above what `Isa::detect` found on this CPU.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { run_chunk_avx2(&c, tile, x, ns, out) },
            _ => run_chunk_impl(&c, tile, x, ns, out),
        };
        if ok {
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// The error the scalar path gives for the first sample that is not on the input
    /// type's range.
    fn first_input_error(&self, inputs: &[i64]) -> Option<SimError> {
        let len = self.in_len.max(1);
        let pos = inputs
            .iter()
            .position(|&v| v < self.in_lo || v > self.in_hi)?;
        let (sample, index) = (pos / len, pos % len);
        let source = self
            .sim
            .run_one(&inputs[sample * len..(sample + 1) * len])
            .expect_err("the scalar path rejects out-of-range inputs");
        debug_assert!(matches!(source, SimError::InputRange { index: i, .. } if i == index));
        Some(SimError::InSample {
            sample,
            source: Box::new(source),
        })
    }
}

/// What one chunk of samples needs besides the tile.
struct Chunk<'a> {
    plan: &'a Plan,
    /// Input range (clipped to `i64`).
    lo: i64,
    hi: i64,
    /// Input and output values per sample.
    il: usize,
    ol: usize,
}

/// Evaluates the samples a tile at a time: transpose `LANES` samples into rows (checking
/// that each value is in range), run the steps, transpose the output rows back.
/// `false` as soon as a tile has an input out of range.
#[inline(always)]
fn run_chunk_impl(c: &Chunk, tile: &mut [Buf], x: &[i64], ns: usize, out: &mut [i64]) -> bool {
    let (il, ol) = (c.il, c.ol);
    for t0 in (0..ns).step_by(LANES) {
        let lanes = (ns - t0).min(LANES);
        let xs = &x[t0 * il..(t0 + lanes) * il];
        let ok = match &mut tile[c.plan.input_slot] {
            Buf::I32(v) => load_lanes(v, xs, c, lanes, c.plan.pad as i32, |a| a as i32),
            Buf::I64(v) => load_lanes(v, xs, c, lanes, c.plan.pad, |a| a),
            Buf::Empty => unreachable!(),
        };
        if !ok {
            return false;
        }
        run_steps(&c.plan.steps, tile);
        let y = &tile[c.plan.output_slot];
        for f in 0..ol {
            let row = y.load::<i64>(f);
            for s in 0..lanes {
                out[(t0 + s) * ol + f] = row[s];
            }
        }
    }
    true
}

/// Transposes `lanes` samples into rows of `LANES`; unused lanes get `pad`. `false` if
/// a value is outside the input range.
#[inline(always)]
fn load_lanes<T: Copy>(
    v: &mut [T],
    xs: &[i64],
    c: &Chunk,
    lanes: usize,
    pad: T,
    conv: impl Fn(i64) -> T,
) -> bool {
    let (len, lo, hi) = (c.il, c.lo, c.hi);
    let mut bad = false;
    for (s, sample) in xs.chunks_exact(len.max(1)).enumerate() {
        for (f, &a) in sample.iter().enumerate() {
            bad |= (a < lo) | (a > hi);
            v[f * LANES + s] = conv(a);
        }
    }
    if lanes < LANES {
        for f in 0..len {
            for r in &mut v[f * LANES + lanes..(f + 1) * LANES] {
                *r = pad;
            }
        }
    }
    !bad
}

/// Runs every step of a plan on one tile.
#[inline(always)]
fn run_steps(steps: &[Step], tile: &mut [Buf]) {
    use kernels::*;
    for st in steps {
        let mut out = std::mem::take(&mut tile[st.dst]);
        let x = &tile[st.args[0]];
        match &st.kind {
            StepKind::Linear(l) => match (l, st.in_store) {
                (LinearStep::A32(m), _) => linear::<i32, i32, i32, BLOCK>(m, x, &mut out),
                (LinearStep::A64W32(m), Store::I32) => linear::<i32, i32, i64, 1>(m, x, &mut out),
                (LinearStep::A64W32(m), Store::I64) => linear::<i64, i32, i64, 1>(m, x, &mut out),
                (LinearStep::A64W64(m), Store::I32) => linear::<i32, i64, i64, 1>(m, x, &mut out),
                (LinearStep::A64W64(m), Store::I64) => linear::<i64, i64, i64, 1>(m, x, &mut out),
                (LinearStep::A128(m), Store::I32) => linear::<i32, i64, i128, 1>(m, x, &mut out),
                (LinearStep::A128(m), Store::I64) => linear::<i64, i64, i128, 1>(m, x, &mut out),
            },
            StepKind::Pow2Quant {
                width,
                params,
                chan,
            } => match width {
                Width::I32 => pow2_quant::<i32>(params, chan, x, &mut out),
                _ => pow2_quant::<i64>(params, chan, x, &mut out),
            },
            StepKind::ExactQuant {
                q,
                in_frac,
                in_unit,
                chan,
            } => exact_quant(q, *in_frac, *in_unit, chan, x, &mut out),
            StepKind::Generic { op, infos, out: o } => {
                let operands: Vec<&Buf> = st.args.iter().map(|&a| &tile[a]).collect();
                generic(op, infos, o, &operands, &mut out)
            }
            StepKind::Relu { width, rows } => match width {
                Width::I32 => relu::<i32>(*rows, x, &mut out),
                _ => relu::<i64>(*rows, x, &mut out),
            },
            StepKind::Add {
                width,
                rows,
                sa,
                sb,
            } => {
                let y = &tile[st.args[1]];
                match width {
                    Width::I32 => add::<i32>(*rows, *sa, *sb, x, y, &mut out),
                    Width::I64 => add::<i64>(*rows, *sa, *sb, x, y, &mut out),
                    Width::I128 => add::<i128>(*rows, *sa, *sb, x, y, &mut out),
                }
            }
            StepKind::Gather { src } => gather(src, x, &mut out),
        }
        tile[st.dst] = out;
    }
}

// The same code compiled for wider vector units; `run_chunk` picks one at run time.
// (`unsafe fn`: calling a `#[target_feature]` function is only sound on a CPU with it.)

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
unsafe fn run_chunk_avx2(
    c: &Chunk,
    tile: &mut [Buf],
    x: &[i64],
    ns: usize,
    out: &mut [i64],
) -> bool {
    run_chunk_impl(c, tile, x, ns, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
unsafe fn quantize_avx2(fq: &InputQuant, real: &[f64], out: &mut Vec<i64>) -> bool {
    fq.quantize_samples(real, out)
}
