//! Lowering of the IR graph to the lane graph, and the hardware optimisations that
//! work on it ("lane passes", in this order):
//!
//! 1. `build` ([`build`]): one signal per tensor element with its exact interval
//!    (forward), constant lanes folded away, ReLUs folded into quantizer clamps,
//!    rounding constants folded into biases ([`quant_lane`]), constant-weight layers
//!    lowered by [`cmvm`] (CSD, shared sub-expressions, adder trees cheapest pair
//!    first; built again with arrival-balanced trees, and those kept, when the
//!    cheapest trees need more register stages for the clock);
//! 2. `dead-cells`: cells no output depends on are removed;
//! 3. `bit-requirements` ([`bitwidth`]): backward, the bits each consumer needs;
//! 4. `schedule` ([`timing`]): registers placed from the delay model for the target
//!    clock;
//! 5. `fold` ([`fold`]): with `reuse > 1`, each layer's adders are shared between
//!    `reuse` cycles.
//!
//! The Verilog backend prints the result (`backend::verilog::lowered`).

pub mod bitwidth;
pub mod build;
pub mod cmvm;
pub mod csd;
pub mod dfg;
pub mod quant_lane;
pub mod report;
pub mod timing;

pub use build::LayerStats;
pub use cmvm::Arithmetic;
pub use dfg::Dfg;
pub use timing::{DelayModel, Schedule};

use aecc_ir::{Graph, IrError, Op, Unit};
use thiserror::Error;

/// `aecc passes` lists the lane passes after the IR passes.
pub const LANE_PASSES_HELP: &str = "\
lane passes (Verilog backend, optimised architecture; switches in README \"Hardware optimisation\"):
build          one signal per tensor element with its exact interval; constant lanes folded;
               ReLUs folded into quantizer clamps, rounding constants into biases (--no-fuse);
               constant-weight layers as CSD shift-add (--multipliers keeps `*`) with
               shared sub-expressions (--no-cse) and adder trees cheapest pair first
               (arrival-balanced where that saves a register stage)
dead-cells     remove lane cells no output depends on
bit-requirements  backward: the low bits each consumer needs (wrapping quantizers)
schedule       registers placed by the delay model for --clock-ns (default 25)
fold           --reuse N: each layer's adders shared over N cycles (II = N)";

/// The hardware options of `aecc compile` / `aecc verify` (README "Hardware
/// optimisation").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HardwareOptions {
    /// `false`: the reference architecture (one register stage per IR node, `*`
    /// operators, tensor-wide widths) — the baseline of the QoR benchmark.
    pub optimize: bool,
    pub arithmetic: Arithmetic,
    /// Fold ReLUs into quantizers and rounding constants into biases.
    pub fuse: bool,
    /// Every adder operand non-negative (sign-bit flip, ones' complement; narrow
    /// operands zero-extended): fewer gates in an ASIC, more inverters on an FPGA.
    pub nonneg_adders: bool,
    /// Target clock period in ns for register placement.
    pub clock_ns: f64,
    /// Cycles between inputs (initiation interval); layers share adders over them.
    pub reuse: u32,
}

impl Default for HardwareOptions {
    fn default() -> HardwareOptions {
        HardwareOptions {
            optimize: true,
            arithmetic: Arithmetic::SharedShiftAdd,
            fuse: true,
            nonneg_adders: false,
            clock_ns: 25.0,
            reuse: 1,
        }
    }
}

impl HardwareOptions {
    /// Every optimisation off (`--no-opt`); the Verilog backend then also sizes the
    /// weight layers by type instead of by value (`backend/verilog/widths.rs`).
    pub fn baseline() -> HardwareOptions {
        HardwareOptions {
            optimize: false,
            arithmetic: Arithmetic::Multipliers,
            fuse: false,
            ..HardwareOptions::default()
        }
    }

    /// Checks the values; the message names the option.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.clock_ns.is_finite() && self.clock_ns > 0.0) {
            return Err(format!(
                "--clock-ns must be a positive number of ns, got {}",
                self.clock_ns
            ));
        }
        if self.reuse == 0 {
            return Err("--reuse must be at least 1".into());
        }
        if !self.optimize && self.reuse != 1 {
            return Err("--reuse needs the optimised architecture (drop --no-opt)".into());
        }
        Ok(())
    }
}

#[derive(Debug, Error)]
pub enum LowerError {
    #[error("node {node} ({op}): {message}")]
    Unsupported {
        node: String,
        op: &'static str,
        message: String,
    },
    #[error("the Verilog backend {0}")]
    Graph(String),
    #[error(transparent)]
    Ir(#[from] IrError),
}

/// Checks that the lane lowering covers every node of `graph`: the ops of constant-weight
/// encoders (input, power-of-two quantizers, ReLU, Dense, Conv, Add, Reshape, Transpose)
/// on tensors in plain power-of-two units. Other graphs are built with the reference
/// architecture (the error says which node keeps them there).
pub fn check_lowerable(graph: &Graph) -> Result<(), LowerError> {
    let order = graph.live_order()?;
    for id in order {
        let n = graph.node(id);
        let why = match &n.op {
            Op::Input { .. } | Op::Relu | Op::Add | Op::Reshape { .. } | Op::Transpose { .. } => {
                None
            }
            Op::Dense(_) | Op::Conv(_) => None,
            Op::Quantize(q) if !q.is_pow2() => Some(format!(
                "the optimised architecture needs power-of-two quantizer scales (this one: {})",
                q.channels
                    .iter()
                    .map(|c| c.scale.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Op::Quantize(_) => None,
            _ => Some(format!(
                "the optimised architecture does not cover op {}",
                n.op.name()
            )),
        };
        let why = why.or_else(|| {
            (n.out.unit != Unit::ONE).then(|| {
                format!(
                    "the optimised architecture needs power-of-two units; this tensor is in \
                     units of {}/{} (a non-power-of-two scale)",
                    n.out.unit.num, n.out.unit.den
                )
            })
        });
        if let Some(message) = why {
            return Err(LowerError::Unsupported {
                node: n.name.clone(),
                op: n.op.name(),
                message,
            });
        }
    }
    Ok(())
}

/// A lowered, scheduled design.
#[derive(Debug, Clone)]
pub struct Lowered {
    pub dfg: Dfg,
    pub stats: Vec<LayerStats>,
    /// Bits of every cell some output needs ([`bitwidth::required_bits`]).
    pub need: Vec<u32>,
    pub schedule: Schedule,
    pub model: DelayModel,
    pub options: HardwareOptions,
}

/// Above this many estimated adder bits ([`crate::limits::design_size`]) `lower` builds
/// the design once, with the shallowest adder trees, instead of trying the cheaper
/// tree rules first (ECON-T and dense_ae: about 55,000; the synthetic encoders of
/// `benches/compile_scaling.sh`: 1,500,000 at 100k weights, 18,000,000 at 1M).
const LARGE_DESIGN_ADDER_BITS: u128 = 1_000_000;

/// Runs the lane passes on a graph with one input and one output.
pub fn lower(graph: &Graph, options: &HardwareOptions) -> Result<Lowered, LowerError> {
    check_lowerable(graph)?;
    let model = DelayModel::sky130_hd();
    let out_ty = graph.node(graph.outputs()[0].1).out.ty;
    // Adder trees: the cheapest choices unless they need more register stages for the
    // clock than the shallowest ones (the latency is kept, area is saved where it is
    // free). Preference order: LUT-cost pairing with the constant-aware root, without
    // it, then arrival pairing (the shallowest trees) likewise.
    use cmvm::TreeOrder::{Arrival, Cost};
    let candidates = [
        (Cost, true),
        (Cost, false),
        (Arrival, true),
        (Arrival, false),
    ];
    let run = |(tree_order, root_constant_cost): (cmvm::TreeOrder, bool)| {
        let (dfg, stats) = build::build(
            graph,
            build::BuildOptions {
                arithmetic: options.arithmetic,
                fuse: options.fuse,
                nonneg_adders: options.nonneg_adders,
                reuse: options.reuse,
                tree_order,
                root_constant_cost,
            },
            &model,
        )?;
        let schedule = timing::schedule(&dfg, &model, options.clock_ns);
        Ok::<_, LowerError>((dfg, stats, schedule))
    };
    // a large design is built once, with the shallowest trees (each build is linear in
    // its weights, but a few of them add up at a million weights)
    let large = crate::limits::design_size(graph)?.adder_bits() > LARGE_DESIGN_ADDER_BITS;
    let first = run(if large { candidates[3] } else { candidates[0] })?;
    let (dfg, stats, schedule) = if large || first.2.stages <= 1 {
        // or one stage between the input and output registers: no tree can do better
        first
    } else {
        let shallowest = run(candidates[3])?;
        let mut best = (first.2.stages <= shallowest.2.stages).then_some(first);
        for &c in &candidates[1..3] {
            if best.is_some() {
                break;
            }
            let built = run(c)?;
            if built.2.stages <= shallowest.2.stages {
                best = Some(built);
            }
        }
        best.unwrap_or(shallowest)
    };
    let need = bitwidth::required_bits(&dfg, out_ty.width);
    Ok(Lowered {
        dfg,
        stats,
        need,
        schedule,
        model,
        options: *options,
    })
}
