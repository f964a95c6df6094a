//! Command-line options of the generated hardware (weights, TMR, reuse, clock target,
//! optimisations: README "Hardware optimisation"), fault injection, and the `aecc
//! weights` command.

use super::{progress_bar, report_comparison};
use crate::backend::verilog::{ReconfigDesign, ReconfigOptions, RegisterKind, Tmr};
use crate::lower::{Arithmetic, HardwareOptions};
use crate::pipeline::{lower, Compiled};
use crate::verify::default_cache_dir;
use crate::verify_config::{cosimulate_configured, SeuOptions, SeuTarget};
use crate::weights::{image_for, random_weights, read_chip, write_image};
use anyhow::{bail, Result};
use clap::Args;
use std::path::{Path, PathBuf};

/// Options of the hardware, shared by `compile` and `verify`.
#[derive(Args, Debug, Clone)]
pub struct HardwareArgs {
    /// Where weights and biases live: constant (built into the logic) or registers (a
    /// register file written through the configuration port cfg_we/cfg_addr/cfg_data;
    /// real multipliers)
    #[arg(long, default_value = "constant", value_parser = ["constant", "registers"])]
    pub weights: String,
    /// Triple modular redundancy (needs --weights registers): none; config (configuration
    /// registers triplicated, voted and scrubbed); all (also every pipeline register)
    #[arg(long, default_value = "none", value_parser = ["none", "config", "all"])]
    pub tmr: String,
    /// Configuration word width in bits (cfg_data), 1 to 64 [default: 32]; needs
    /// --weights registers
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub cfg_width: Option<u32>,
    /// Accept one input every N clocks (initiation interval II = N) and share the
    /// arithmetic over the N cycles: with constant weights each layer's adders, with
    /// --weights registers each multiplier (N products per input)
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub reuse: u32,
    /// Target clock period in ns; registers are placed by the delay model so the
    /// latency is the fewest cycles that meet it (constant weights)
    #[arg(long, default_value_t = 25.0, value_name = "NS")]
    pub clock_ns: f64,
    /// Every hardware optimisation off: `*` operators, one register stage per IR node,
    /// weight layers sized by their operands' types like hls4ml's automatic precision,
    /// not by the weights' values (the QoR baseline; constant weights)
    #[arg(long)]
    pub no_opt: bool,
    /// Keep constant multiplications as `*` operators (optimised architecture otherwise)
    #[arg(long)]
    pub multipliers: bool,
    /// CSD shift-and-add without sharing sub-expressions between outputs
    #[arg(long)]
    pub no_cse: bool,
    /// Do not fold ReLUs into quantizers nor rounding constants into biases
    #[arg(long)]
    pub no_fuse: bool,
    /// Make every adder operand non-negative (sign-bit flip, ones' complement) so narrow
    /// operands are zero-extended: fewer gates for an ASIC, more inverters on an FPGA
    #[arg(long)]
    pub unsigned_adders: bool,
}

impl HardwareArgs {
    /// The reconfigurable-weights options (`None`: constant weights).
    pub fn reconfig(&self, seu_port: bool) -> Result<Option<ReconfigOptions>> {
        let tmr: Tmr = self.tmr.parse().map_err(anyhow::Error::msg)?;
        if self.weights == "constant" {
            if tmr != Tmr::None || self.cfg_width.is_some() {
                bail!(
                    "--tmr and --cfg-width need --weights registers (constant weights have no \
                     configuration registers)"
                );
            }
            if seu_port {
                bail!("--inject-seu needs --weights registers");
            }
            return Ok(None);
        }
        if self.constant_only_flags() {
            bail!(
                "--clock-ns, --no-opt, --multipliers, --no-cse, --no-fuse and --unsigned-adders \
                 shape constant-weight hardware; --weights registers has real multipliers and \
                 one register stage per layer"
            );
        }
        Ok(Some(ReconfigOptions {
            tmr,
            word_width: self.cfg_width.unwrap_or(32),
            reuse: self.reuse,
            seu_port,
        }))
    }
}

impl HardwareArgs {
    /// The constant-weight architecture and optimisations.
    pub fn options(&self) -> HardwareOptions {
        let mut o = if self.no_opt {
            HardwareOptions::baseline()
        } else {
            HardwareOptions::default()
        };
        o.clock_ns = self.clock_ns;
        o.reuse = self.reuse;
        if !self.no_opt {
            if self.multipliers {
                o.arithmetic = Arithmetic::Multipliers;
            } else if self.no_cse {
                o.arithmetic = Arithmetic::ShiftAdd;
            }
            o.fuse = !self.no_fuse;
            o.nonneg_adders = self.unsigned_adders;
        }
        o
    }

    /// Whether a flag that only constant-weight hardware has was given.
    fn constant_only_flags(&self) -> bool {
        self.clock_ns != 25.0
            || self.no_opt
            || self.multipliers
            || self.no_cse
            || self.no_fuse
            || self.unsigned_adders
    }
}

/// What `compile` prints about a design with reconfigurable weights.
pub fn summary(r: &ReconfigDesign) -> String {
    format!(
        "  weights in registers: {} multipliers (the constant counts above do not apply), II {}\n  \
         configuration port: {} words of {} bits ({} address bits), TMR {}: {} configuration \
         and {} pipeline register bits (copies included)\n  \
         memory map and image of the model's weights: config/memory_map.json, \
         config/weights.mem, config/weights.json\n",
        r.multipliers,
        r.design.initiation_interval,
        r.map.words,
        r.map.word_width,
        r.map.addr_width,
        r.tmr,
        r.registers.bits(RegisterKind::Config),
        r.registers.bits(RegisterKind::Pipeline),
    )
}

/// Fault-injection options of `verify`.
#[derive(Args, Debug, Clone)]
pub struct SeuArgs {
    /// Inject single-event upsets: in each clock cycle, with probability RATE, invert one
    /// random register bit (needs --weights registers; simulates a test build with an
    /// injection port)
    #[arg(long, value_name = "RATE")]
    pub inject_seu: Option<f64>,
    /// Registers the upsets hit: config, pipeline or all [default: all with --tmr all,
    /// else config]
    #[arg(long, value_parser = ["config", "pipeline", "all"])]
    pub seu_target: Option<String>,
}

impl SeuArgs {
    pub fn options(&self, tmr: &str, seed: u64) -> Result<Option<SeuOptions>> {
        let Some(rate) = self.inject_seu else {
            if self.seu_target.is_some() {
                bail!("--seu-target needs --inject-seu RATE");
            }
            return Ok(None);
        };
        if !(0.0..=1.0).contains(&rate) {
            bail!("--inject-seu {rate}: the rate is a probability per clock cycle (0 to 1)");
        }
        let target: SeuTarget = match &self.seu_target {
            Some(t) => t.parse().map_err(anyhow::Error::msg)?,
            None if tmr == "all" => SeuTarget::All,
            None => SeuTarget::Config,
        };
        Ok(Some(SeuOptions { rate, seed, target }))
    }
}

/// The co-simulation part of `verify` for a design with reconfigurable weights: the
/// model's weights, then a random weight set, through the same RTL; returns whether
/// both were bit-exact.
pub fn verify_configured(
    compiled: &Compiled,
    vectors: &[Vec<i64>],
    seed: u64,
    seu: Option<&SeuOptions>,
) -> Result<bool> {
    let design = compiled.reconfig.as_ref().expect("registers mode");
    let second = random_weights(&compiled.graph, &design.map, seed ^ 0x5eed_c0f1)?;
    let sets = [
        (
            format!(
                "RTL vs reference, weights of {} written through the configuration port",
                compiled.model.display()
            ),
            &compiled.graph,
        ),
        (
            format!("RTL vs reference, random weight set (seed {seed}) through the same RTL"),
            &second,
        ),
    ];
    let mut ok = true;
    for (k, (what, graph)) in sets.iter().enumerate() {
        let set_seu = seu.map(|s| SeuOptions {
            seed: s.seed.wrapping_add(1000 * k as u64),
            ..*s
        });
        let pb = progress_bar(vectors.len() as u64, "co-sim");
        let c = cosimulate_configured(
            design,
            graph,
            vectors,
            &default_cache_dir(),
            set_seu.as_ref(),
            |done| pb.set_position(done as u64),
        )?;
        pb.finish_and_clear();
        ok &= report_comparison(what, &c.comparison) && c.passed();
        if let Some(s) = &set_seu {
            println!(
                "  fault injection: {} upsets in {} registers ({} bits, rate {} per cycle, {} \
                 cycles); {} of {} vectors wrong, {} spurious out_valid",
                c.upsets,
                s.target,
                c.target_bits,
                s.rate,
                c.cycles,
                c.bad_vectors,
                vectors.len(),
                c.spurious
            );
        }
    }
    Ok(ok)
}

/// `aecc weights MODEL --for DIR [-o OUT]`.
pub fn weights_command(model: &Path, chip_dir: &Path, output: Option<PathBuf>) -> Result<i32> {
    let chip = read_chip(chip_dir)?;
    let (graph, warnings) = lower(model, chip.passes.as_deref())?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let image = image_for(&chip, &graph)?;
    let out = output.unwrap_or_else(|| {
        chip_dir
            .join("images")
            .join(crate::pipeline::default_top_name(model))
    });
    let written = write_image(&image, &model.display().to_string(), &out, "weights")?;
    println!(
        "{} fits chip {} ({} layers, {} weight/bias tensors): image of {} words of {} bits",
        model.display(),
        chip.top,
        crate::weights::weight_nodes(&graph).len(),
        chip.map.tensors.len(),
        image.words.len(),
        chip.map.word_width
    );
    for p in written {
        println!("wrote {}", p.display());
    }
    Ok(0)
}
