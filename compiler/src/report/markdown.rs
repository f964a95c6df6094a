//! `report.md`: the report as Markdown tables.

use super::{DesignReport, LayerHardware};
use std::fmt::Write;

/// A number with thousands separators (`12,345`).
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `x` with `d` decimals, or `-`.
pub fn opt(x: Option<f64>, d: usize) -> String {
    x.map_or("-".into(), |v| format!("{v:.d$}"))
}

/// Rows of the per-layer table: (name, op, hardware) in order, the top module's own
/// logic last.
pub fn layer_rows(r: &DesignReport) -> Vec<(String, String, &LayerHardware)> {
    let mut rows: Vec<(String, String, &LayerHardware)> = r
        .layers
        .iter()
        .filter_map(|l| {
            l.hardware
                .as_ref()
                .map(|h| (l.name.clone(), l.op.clone(), h))
        })
        .collect();
    if let Some(t) = r.hardware.as_ref().and_then(|h| h.top_level.as_ref()) {
        rows.push((
            "(top: input register, valid pipeline, delays)".into(),
            "top".into(),
            t,
        ));
    }
    rows
}

pub fn render(r: &DesignReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# aecc report: {}\n", r.top);
    let _ = writeln!(
        s,
        "Model `{}`, top module `{}`, latency {} cycles, initiation interval {} (aecc {}).\n",
        r.model, r.top, r.latency_cycles, r.initiation_interval, r.aecc_version
    );
    for p in &r.inputs {
        let _ = writeln!(
            s,
            "- input `{}` {:?} {} ({} bus bits)",
            p.name, p.shape, p.ty.text, p.bus_bits
        );
    }
    for p in &r.outputs {
        let _ = writeln!(
            s,
            "- output `{}` {:?} {} ({} bus bits)",
            p.name, p.shape, p.ty.text, p.bus_bits
        );
    }
    let _ = writeln!(
        s,
        "- weights: {} constant multiplications, {} weight/bias bits\n",
        r.total_const_multiplications, r.total_weight_bits
    );
    let Some(hw) = &r.hardware else {
        return s;
    };
    let a = &hw.analytic;
    let _ = writeln!(s, "## Totals\n");
    let _ = writeln!(s, "| figure | analytic estimate | yosys | ratio |");
    let _ = writeln!(s, "| --- | ---: | ---: | ---: |");
    let sy = hw.synth.as_ref();
    let row = |s: &mut String, name: &str, est: u64, y: Option<u64>| {
        let ratio = y
            .filter(|&v| v > 0)
            .map(|v| format!("{:.2}", est as f64 / v as f64));
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} |",
            thousands(est),
            y.map_or("-".into(), thousands),
            ratio.unwrap_or("-".into())
        );
    };
    row(
        &mut s,
        "LUTs (Xilinx 7)",
        a.resources.luts,
        sy.map(|x| x.xilinx.luts),
    );
    row(
        &mut s,
        "flip-flops",
        a.resources.ffs,
        sy.map(|x| x.xilinx.ffs),
    );
    row(
        &mut s,
        "CARRY4",
        a.resources.carry4,
        sy.map(|x| x.xilinx.carry4),
    );
    row(&mut s, "DSP48", a.resources.dsps, sy.map(|x| x.xilinx.dsps));
    row(
        &mut s,
        "generic cells",
        a.resources.generic_cells,
        sy.map(|x| x.generic.cells),
    );
    row(
        &mut s,
        "transistors",
        a.resources.transistors,
        sy.map(|x| x.generic.transistors),
    );
    row(
        &mut s,
        "gate equivalents (NAND2)",
        a.resources.gate_equivalents,
        sy.map(|x| x.generic.gate_equivalents),
    );
    let i = &a.inventory;
    let _ = writeln!(
        s,
        "\nInventory: {} adder trees ({} output bits, {} compressor full adders, {} carry-chain bits), \
         {} constant multiplications ({} distinct), {} multipliers, {} comparator bits, {} mux bits, \
         {} gates, {} register bits ({} configuration, {} with reset).\n",
        i.adders,
        i.adder_bits,
        i.compressor_full_adders,
        i.carry_chain_bits,
        i.constant_multiplications,
        i.distinct_constant_multiplications,
        i.multipliers,
        i.comparator_bits,
        i.mux_bits,
        i.gates,
        i.register_bits,
        i.config_register_bits,
        i.reset_register_bits
    );
    if !i.adder_widths.is_empty() {
        let widths: Vec<String> = i
            .adder_widths
            .iter()
            .rev()
            .map(|(w, n)| format!("{n}x{w}b"))
            .collect();
        let _ = writeln!(s, "Adder trees by width: {}.\n", widths.join(", "));
    }
    if let Some(ice) = sy.and_then(|x| x.ice40.as_ref()) {
        let _ = writeln!(
            s,
            "iCE40 (`synth_ice40`): {} LUT4, {} flip-flops, {} carries; {} ({} logic cells): {}; Fmax {}.\n",
            ice.luts,
            ice.ffs,
            ice.carries,
            ice.device,
            ice.device_logic_cells,
            if ice.fits { "fits" } else { "does not fit" },
            opt(ice.fmax_mhz, 1) + " MHz"
        );
    }
    if let Some(asic) = &hw.asic {
        let _ = writeln!(s, "## ASIC: {} ({} V)\n", asic.library, asic.voltage);
        let _ = writeln!(
            s,
            "Area {:.1} um^2 in {} cells ({} flip-flops); yosys `stat -liberty`: {}.\n",
            asic.area_um2,
            thousands(asic.cells),
            thousands(asic.flip_flops),
            opt(asic.yosys_area_um2, 1)
        );
        if let Some(t) = &asic.timing {
            let _ = writeln!(
                s,
                "Timing at {} ns: worst setup slack {:.4} ns, worst hold slack {:.4} ns ({}); Fmax {:.1} MHz.\n",
                t.clock_ns,
                t.setup_slack_ns,
                t.hold_slack_ns,
                if t.met { "met" } else { "VIOLATED" },
                t.fmax_mhz
            );
            let p = &t.critical_path;
            let _ = writeln!(
                s,
                "Critical path: `{}` -> `{}`, {} cells, arrival {:.4} ns, through {}.\n",
                p.startpoint,
                p.endpoint,
                p.cells,
                p.arrival_ns,
                t.critical_layers.join(" -> ")
            );
        }
        if let Some(p) = &asic.power {
            let b = &p.breakdown;
            let _ = writeln!(
                s,
                "Power at {:.2} MHz from {} ({} vectors, {} cycles, mean activity {:.4}): \
                 **{:.4} mW** (internal {:.4}, switching {:.4}, leakage {:.6}; clock network {:.4} of it), \
                 **{:.5} nJ per inference**.\n",
                p.clock_mhz,
                p.vectors,
                p.vector_count,
                p.cycles,
                p.mean_activity,
                b.total_mw,
                b.internal_mw,
                b.switching_mw,
                b.leakage_mw,
                b.clock_mw,
                p.energy_per_inference_nj
            );
            if let Some(o) = &p.opensta_global_activity {
                let _ = writeln!(
                    s,
                    "OpenSTA `report_power` at global activity {:.4}: {:.4} mW (internal {:.4}, switching {:.4}).\n",
                    o.activity, o.total_mw, o.internal_mw, o.switching_mw
                );
            }
            let _ = writeln!(s, "Method: {}.\n", p.method);
        }
    }
    let _ = writeln!(s, "## Layers\n");
    let _ = writeln!(
        s,
        "| layer | op | adders | adder bits | reg bits | est. LUTs | est. FFs | est. GE | yosys GE | area um^2 | power mW |"
    );
    let _ = writeln!(
        s,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (name, op, h) in layer_rows(r) {
        let e = &h.analytic;
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            name,
            op,
            e.inventory.adders,
            e.inventory.adder_bits,
            e.inventory.register_bits,
            thousands(e.resources.luts),
            thousands(e.resources.ffs),
            thousands(e.resources.gate_equivalents),
            h.yosys
                .as_ref()
                .map_or("-".into(), |y| thousands(y.gate_equivalents)),
            h.asic
                .as_ref()
                .map_or("-".into(), |a| format!("{:.1}", a.area_um2)),
            h.asic
                .as_ref()
                .and_then(|a| a.power.as_ref())
                .map_or("-".into(), |p| format!("{:.4}", p.total_mw)),
        );
    }
    if !hw.skipped.is_empty() || !hw.notes.is_empty() {
        let _ = writeln!(s, "\n## Notes\n");
        for k in hw.skipped.iter().chain(&hw.notes) {
            let _ = writeln!(s, "- {k}");
        }
    }
    for w in &r.warnings {
        let _ = writeln!(s, "- warning: {w}");
    }
    s
}
