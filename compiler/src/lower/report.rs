//! Figures of an optimised design for `report.json` (`"architecture"`) and the CLI summary.

use super::bitwidth::built_width;
use super::dfg::CellOp;
use super::quant_lane::QuantForm;
use super::Lowered;
use aecc_testbench::RtlDesign;
use serde::{Deserialize, Serialize};

/// One layer's arithmetic.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerHardware {
    pub name: String,
    pub op: String,
    /// The prefix of the layer's signal names in the Verilog (`l<k>_`).
    pub signal_prefix: String,
    /// Two-input adders (and subtractors).
    pub adders: usize,
    /// Sum of the adders' widths.
    pub adder_bits: u64,
    /// Constant multipliers left (only with `--multipliers`).
    pub multipliers: usize,
    /// Non-zero CSD digits of the layer's weights (a naive shift-add needs
    /// `digits - outputs` adders).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csd_digits: Option<usize>,
    /// Adders that compute sub-expressions shared between outputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_adders: Option<usize>,
    pub quantizer_lanes: usize,
    pub relu_lanes: usize,
}

/// The optimised architecture of one compile.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HardwareReport {
    pub arithmetic: super::Arithmetic,
    pub fuse_quantizers: bool,
    pub clock_ns: f64,
    /// Cycles between inputs.
    pub initiation_interval: u32,
    pub latency_cycles: u32,
    /// Longest register-to-register path by the delay model.
    pub critical_path_ns: f64,
    pub meets_clock: bool,
    pub delay_model: String,
    pub adders: usize,
    pub adder_bits: u64,
    pub multipliers: usize,
    /// Quantizer lanes in floor form (rounding folded into a constant) / generic.
    pub quantizer_lanes_floor: usize,
    pub quantizer_lanes_generic: usize,
    pub relu_lanes: usize,
    /// Output lanes that are constants.
    pub constant_output_lanes: usize,
    /// Flip-flops: input, pipeline and output registers (and folding state).
    pub register_bits: u64,
    pub layers: Vec<LayerHardware>,
}

impl HardwareReport {
    pub fn new(low: &Lowered, rtl: &RtlDesign) -> HardwareReport {
        let dfg = &low.dfg;
        let mut layers: Vec<LayerHardware> = dfg
            .layers
            .iter()
            .zip(&low.stats)
            .enumerate()
            .map(|(k, (l, st))| LayerHardware {
                name: l.name.clone(),
                op: l.op.to_string(),
                signal_prefix: super::dfg::signal_prefix(k),
                adders: 0,
                adder_bits: 0,
                multipliers: 0,
                csd_digits: st.cmvm.map(|c| c.digits),
                shared_adders: st.cmvm.map(|c| c.shared_adders),
                quantizer_lanes: 0,
                relu_lanes: 0,
            })
            .collect();
        let (mut floor, mut generic) = (0, 0);
        // a folded layer's adders are its shared slots, each as wide as its widest use
        let mut slots: std::collections::BTreeMap<(usize, u32), (usize, u32)> =
            std::collections::BTreeMap::new();
        for (id, c) in dfg.cells.iter().enumerate() {
            let l = &mut layers[c.layer];
            match &c.op {
                CellOp::Add { .. } if c.fold.is_some() => {
                    let fs = c.fold.unwrap();
                    let w = built_width(dfg, &low.need, id);
                    let e = slots.entry((fs.fold, fs.slot)).or_insert((c.layer, 0));
                    e.1 = e.1.max(w);
                }
                CellOp::Add { .. } => {
                    l.adders += 1;
                    l.adder_bits += built_width(dfg, &low.need, id) as u64;
                }
                CellOp::Mul { .. } => l.multipliers += 1,
                CellOp::Relu { .. } => l.relu_lanes += 1,
                CellOp::Quantize { lane, .. } => {
                    l.quantizer_lanes += 1;
                    match lane.form {
                        QuantForm::Floor { .. } => floor += 1,
                        QuantForm::Generic => generic += 1,
                    }
                }
                CellOp::Input { .. } | CellOp::Const | CellOp::FlipSign { .. } => {}
            }
        }
        for (layer, w) in slots.into_values() {
            layers[layer].adders += 1;
            layers[layer].adder_bits += w as u64;
        }
        let register_bits = rtl
            .files
            .iter()
            .flat_map(|(_, text)| text.lines())
            .filter_map(|line| {
                let line = line.trim();
                let rest = line.strip_prefix("reg [")?;
                let (range, _) = rest.split_once(']')?;
                let (msb, lsb) = range.split_once(':')?;
                Some(msb.trim().parse::<u64>().ok()? - lsb.trim().parse::<u64>().ok()? + 1)
            })
            .sum();
        let s = &low.schedule;
        HardwareReport {
            arithmetic: low.options.arithmetic,
            fuse_quantizers: low.options.fuse,
            clock_ns: low.options.clock_ns,
            initiation_interval: low.options.reuse,
            latency_cycles: rtl.latency,
            critical_path_ns: (s.critical_ns * 100.0).round() / 100.0,
            meets_clock: s.violations.is_empty(),
            delay_model:
                "ripple-carry adders, sky130_fd_sc_hd typical corner (aecc lower/timing.rs)".into(),
            adders: layers.iter().map(|l| l.adders).sum(),
            adder_bits: layers.iter().map(|l| l.adder_bits).sum(),
            multipliers: layers.iter().map(|l| l.multipliers).sum(),
            quantizer_lanes_floor: floor,
            quantizer_lanes_generic: generic,
            relu_lanes: layers.iter().map(|l| l.relu_lanes).sum(),
            constant_output_lanes: dfg
                .outputs
                .iter()
                .filter(|o| dfg.cell(o.sig).is_const())
                .count(),
            register_bits,
            layers: layers
                .into_iter()
                .filter(|l| l.adders + l.multipliers + l.quantizer_lanes + l.relu_lanes > 0)
                .collect(),
        }
    }

    /// Lines for the CLI summary.
    pub fn summary(&self) -> String {
        format!(
            "  hardware: {} adders ({} adder bits), {} multipliers, {} register bits; \
             clock {} ns, critical path {:.2} ns by the delay model ({}), latency {} cycles, II {}\n",
            self.adders,
            self.adder_bits,
            self.multipliers,
            self.register_bits,
            self.clock_ns,
            self.critical_path_ns,
            if self.meets_clock { "meets" } else { "VIOLATES" },
            self.latency_cycles,
            self.initiation_interval
        )
    }
}
