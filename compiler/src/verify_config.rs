//! Bit-exactness of designs with reconfigurable weights: the configuration image of a
//! weight set is written through the configuration port, then vectors run and every
//! output lane is compared with the reference model of the same weights; optionally
//! under fault injection (single-event upsets in chosen registers).

use crate::backend::verilog::{ReconfigDesign, RegisterKind};
use crate::error::Error;
use crate::verify::{batch_reference, Comparison};
use crate::weights::Image;
use aecc_ir::Graph;
use aecc_sim::Simulator;
use aecc_testbench::{BuildOptions, ConfiguredCosim, SeuInjection};
use std::path::Path;

/// Which registers upsets hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeuTarget {
    /// Configuration (weight and bias) registers, every copy.
    Config,
    /// Pipeline registers (data, accumulators, valid bits), every copy.
    Pipeline,
    /// Every register.
    All,
}

impl std::str::FromStr for SeuTarget {
    type Err = String;
    fn from_str(s: &str) -> Result<SeuTarget, String> {
        match s {
            "config" => Ok(SeuTarget::Config),
            "pipeline" => Ok(SeuTarget::Pipeline),
            "all" => Ok(SeuTarget::All),
            _ => Err(format!(
                "unknown upset target {s:?} (config, pipeline, all)"
            )),
        }
    }
}

impl std::fmt::Display for SeuTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SeuTarget::Config => "config",
            SeuTarget::Pipeline => "pipeline",
            SeuTarget::All => "all",
        })
    }
}

/// Fault injection settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeuOptions {
    /// Probability of one upset per clock cycle.
    pub rate: f64,
    pub seed: u64,
    pub target: SeuTarget,
}

/// The outcome of one configured co-simulation.
#[derive(Debug, Clone, Default)]
pub struct ConfiguredComparison {
    pub comparison: Comparison,
    /// Vectors with at least one differing lane (or no output at all).
    pub bad_vectors: usize,
    pub cycles: u64,
    pub upsets: u64,
    /// `out_valid` pulses with no input outstanding (upsets of unprotected valid bits).
    pub spurious: u64,
    /// Register bits upsets were drawn from (every copy counted).
    pub target_bits: u32,
}

impl ConfiguredComparison {
    pub fn passed(&self) -> bool {
        self.comparison.passed() && self.bad_vectors == 0 && self.spurious == 0
    }
}

/// The `(first, count)` register-bit range of `target`.
pub fn target_range(design: &ReconfigDesign, target: SeuTarget) -> (u32, u32) {
    let config = design.registers.bits(RegisterKind::Config);
    let pipeline = design.registers.bits(RegisterKind::Pipeline);
    match target {
        SeuTarget::Config => (0, config),
        SeuTarget::Pipeline => (config, pipeline),
        SeuTarget::All => (0, config + pipeline),
    }
}

/// Co-simulates `design` loaded with the weights of `weights` (a graph with the
/// architecture the design was compiled from) on `vectors`, against the reference model
/// of `weights`. The simulator is built once (cached) and runs in chunks of 100,000
/// vectors, each starting by writing the whole image. `progress` gets the vectors done.
pub fn cosimulate_configured(
    design: &ReconfigDesign,
    weights: &Graph,
    vectors: &[Vec<i64>],
    cache_dir: &Path,
    seu: Option<&SeuOptions>,
    mut progress: impl FnMut(usize),
) -> Result<ConfiguredComparison, Error> {
    let image = Image::new(&design.map, weights)?;
    let sim = Simulator::new(weights)?;
    let batch = sim.compile_batch()?;
    let cosim = ConfiguredCosim::build(&design.design, cache_dir, &BuildOptions::default())?;
    let mut total = ConfiguredComparison::default();
    const CHUNK: usize = 100_000;
    for (ci, chunk) in vectors.chunks(CHUNK).enumerate() {
        let injection = seu.map(|s| {
            let (first, count) = target_range(design, s.target);
            total.target_bits = count;
            SeuInjection {
                rate: s.rate,
                seed: s.seed.wrapping_add(ci as u64),
                first,
                count,
            }
        });
        let run = cosim.run(&image.writes(), chunk, injection)?;
        let expected = batch_reference(&batch, chunk)?;
        let mut actual = run.outputs;
        let missing = expected.len().saturating_sub(actual.len());
        actual.truncate(expected.len());
        let compared = &expected[..actual.len()];
        let cmp = Comparison::of(compared, &actual, ci * CHUNK);
        total.bad_vectors += missing + compared.iter().zip(&actual).filter(|(e, a)| e != a).count();
        total.comparison.merge(cmp);
        total.comparison.vectors += missing;
        total.comparison.mismatch_count += missing * sim.output_info(0).len();
        total.cycles += run.cycles;
        total.upsets += run.upsets;
        total.spurious += run.spurious;
        progress(ci * CHUNK + chunk.len());
    }
    Ok(total)
}
