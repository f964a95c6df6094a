//! Co-simulation of designs with a configuration port (reconfigurable weights) and
//! fault injection (single-event upsets).
//!
//! The design's top module has, besides the ports of [`RtlDesign`]:
//!
//! ```text
//! input  wire               cfg_we,     // write cfg_data to word cfg_addr at this edge
//! input  wire [A-1:0]       cfg_addr,
//! input  wire [W-1:0]       cfg_data,
//! input  wire               seu_en,     // test builds only (SeuPort): invert register
//! input  wire [S-1:0]       seu_bit,    // bit seu_bit at this edge
//! ```
//!
//! The harness (`hdl-templates/tb/harness_cfg.cpp`) first writes the configuration image
//! through the port (one word per clock, `in_valid` low), then streams vectors, one every
//! `initiation_interval` cycles, and, when asked, flips a random register bit in a cycle
//! with probability `rate` from the first vector to the last output.

use crate::cosim::{blocks_of, build_executable, check_shape, collect_into, BuildOptions};
use crate::design::RtlDesign;
use crate::error::CosimError;
use crate::stream::{bus_bytes, run_pipe, top_word_mask, Idle, Pipe, StreamStats};
use askama::Template;
use std::path::{Path, PathBuf};

/// The configuration port of a design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConfigPort {
    /// `cfg_addr` width.
    pub addr_width: u32,
    /// `cfg_data` width (1 to 64).
    pub data_width: u32,
}

/// The fault-injection port of a test build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeuPort {
    /// Number of register bits that can be flipped (`seu_bit` in `0..bits`).
    pub bits: u32,
    /// `seu_bit` width.
    pub index_width: u32,
}

/// A design with a configuration port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredDesign {
    pub rtl: RtlDesign,
    pub config: ConfigPort,
    /// Present in test builds only.
    pub seu: Option<SeuPort>,
    /// Cycles between two inputs (1: a new input every clock).
    pub initiation_interval: u32,
}

/// Fault injection during a run: from the first vector on, in every clock cycle with
/// probability `rate`, one register bit drawn uniformly from `first..first + count` (the
/// numbering of the design's register list) is inverted at the next edge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeuInjection {
    /// Probability of an upset per clock cycle (0 to 1).
    pub rate: f64,
    pub seed: u64,
    pub first: u32,
    pub count: u32,
}

/// The result of one run through a configured design.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfiguredRun {
    /// One output vector per `out_valid` with an input outstanding, in order. Without
    /// injection there is exactly one per input vector; with injection an upset of an
    /// unprotected valid bit can lose or add outputs.
    pub outputs: Vec<Vec<i64>>,
    pub cycles: u64,
    /// Upsets injected.
    pub upsets: u64,
    /// `out_valid` cycles with no input outstanding (only counted with injection).
    pub spurious: u64,
    /// Times and sizes of the run.
    pub stats: StreamStats,
}

/// The C++ harness of a configured design (`hdl-templates/tb/harness_cfg.cpp`).
#[derive(Template)]
#[template(path = "tb/harness_cfg.cpp", escape = "none")]
struct ConfigHarnessView<'a> {
    top: &'a str,
    seu: bool,
    in_width: u32,
    in_words: u32,
    in_record: usize,
    in_top_mask: String,
    out_width: u32,
    out_words: u32,
    out_record: usize,
}

/// A built Verilator simulator of a [`ConfiguredDesign`].
#[derive(Debug, Clone)]
pub struct ConfiguredCosim {
    design: ConfiguredDesign,
    exe: PathBuf,
    /// Whether this call found the simulator in the cache (no Verilator run).
    pub cached: bool,
}

fn harness_text(design: &ConfiguredDesign) -> String {
    let (iw, ow) = (design.rtl.input().width(), design.rtl.output().width());
    ConfigHarnessView {
        top: &design.rtl.top,
        seu: design.seu.is_some(),
        in_width: iw,
        in_words: iw.div_ceil(32),
        in_record: 4 + bus_bytes(iw),
        in_top_mask: format!("{:#010x}", top_word_mask(iw)),
        out_width: ow,
        out_words: ow.div_ceil(32),
        out_record: bus_bytes(ow),
    }
    .render()
    .expect("the harness template renders")
}

impl ConfiguredCosim {
    /// Builds (or finds in `cache_dir`) the simulator, like [`crate::Cosim::build`].
    pub fn build(
        design: &ConfiguredDesign,
        cache_dir: &Path,
        options: &BuildOptions,
    ) -> Result<ConfiguredCosim, CosimError> {
        check_shape(&design.rtl)?;
        let fail = |message: String| {
            Err(CosimError::Design {
                top: design.rtl.top.clone(),
                message,
            })
        };
        if design.config.data_width == 0 || design.config.data_width > 64 {
            return fail("cfg_data must be 1 to 64 bits wide".into());
        }
        if design.config.addr_width == 0 || design.config.addr_width > 32 {
            return fail("cfg_addr must be 1 to 32 bits wide".into());
        }
        if design.initiation_interval == 0 {
            return fail("the initiation interval must be at least 1".into());
        }
        let (exe, cached) =
            build_executable(&design.rtl, &harness_text(design), cache_dir, options)?;
        Ok(ConfiguredCosim {
            design: design.clone(),
            exe,
            cached,
        })
    }

    /// Path of the simulator executable.
    pub fn executable(&self) -> &Path {
        &self.exe
    }

    /// Writes `image` (`(address, word)` pairs, one clock each) through the configuration
    /// port, then streams `vectors`, one every `initiation_interval` cycles, optionally
    /// with fault injection.
    pub fn run(
        &self,
        image: &[(u64, u64)],
        vectors: &[Vec<i64>],
        seu: Option<SeuInjection>,
    ) -> Result<ConfiguredRun, CosimError> {
        let d = &self.design;
        let top = &d.rtl.top;
        if seu.is_some() && d.seu.is_none() {
            return Err(CosimError::Design {
                top: top.clone(),
                message: "fault injection needs a test build with the seu_en/seu_bit port".into(),
            });
        }
        let words = 1u64 << d.config.addr_width.min(63);
        let writes = u32::try_from(image.len()).map_err(|_| CosimError::Design {
            top: top.clone(),
            message: format!("{} configuration writes are too many", image.len()),
        })?;
        let mut preamble = Vec::with_capacity(4 + 16 * image.len());
        preamble.extend_from_slice(&writes.to_le_bytes());
        for &(addr, data) in image {
            let fits = d.config.data_width == 64 || data >> d.config.data_width == 0;
            if addr >= words || !fits {
                return Err(CosimError::BadVector {
                    index: addr as usize,
                    message: format!(
                        "configuration write {addr:#x} <- {data:#x} does not fit the port \
                         ({} address bits, {} data bits)",
                        d.config.addr_width, d.config.data_width
                    ),
                });
            }
            preamble.extend_from_slice(&addr.to_le_bytes());
            preamble.extend_from_slice(&data.to_le_bytes());
        }
        let max_drain = 2 * d.rtl.latency + 16;
        let mut args = vec![max_drain.to_string()];
        if let Some(s) = seu {
            if !(0.0..=1.0).contains(&s.rate) {
                return Err(CosimError::Design {
                    top: top.clone(),
                    message: format!("upset rate {} is not a probability", s.rate),
                });
            }
            let bits = d.seu.map_or(0, |p| p.bits);
            if s.count == 0 || u64::from(s.first) + u64::from(s.count) > u64::from(bits) {
                return Err(CosimError::Design {
                    top: top.clone(),
                    message: format!(
                        "upset target bits {}..{} are outside the design's {bits} register bits",
                        s.first,
                        u64::from(s.first) + u64::from(s.count)
                    ),
                });
            }
            args.extend([
                format!("{:e}", s.rate),
                s.seed.to_string(),
                s.first.to_string(),
                s.count.to_string(),
            ]);
        }
        let pipe = Pipe {
            top,
            exe: &self.exe,
            args,
            preamble,
            input: d.rtl.input(),
            output: d.rtl.output(),
            idle: Idle::Interval(d.initiation_interval - 1),
            strict: seu.is_none(),
        };
        let mut outputs = Vec::with_capacity(vectors.len());
        let port = d.rtl.output();
        let stats = run_pipe(pipe, blocks_of(vectors, d.rtl.input()), |delivered| {
            collect_into(&mut outputs, &delivered, port);
            Ok(())
        })?;
        let count = |name: &str| {
            stats.counter(name).ok_or_else(|| CosimError::Protocol {
                top: top.clone(),
                message: format!("the summary line has no {name} count"),
            })
        };
        let (upsets, spurious) = (count("upsets")? as u64, count("spurious")? as u64);
        Ok(ConfiguredRun {
            outputs,
            cycles: stats.cycles,
            upsets,
            spurious,
            stats,
        })
    }
}
