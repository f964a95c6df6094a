//! `report.html`: one self-contained page (no network, no scripts) with the totals and
//! per-layer horizontal bar charts drawn as inline SVG.

use super::markdown::{layer_rows, opt, thousands};
use super::DesignReport;
use std::fmt::Write;

/// HTML-escapes text.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A labelled horizontal bar chart (one bar per item, value printed at its end).
pub fn bar_chart(title: &str, unit: &str, items: &[(String, f64)], decimals: usize) -> String {
    const BAR_W: f64 = 360.0;
    const LABEL_W: f64 = 300.0;
    const ROW: f64 = 22.0;
    let max = items.iter().map(|(_, v)| *v).fold(0.0f64, f64::max);
    let h = 30.0 + ROW * items.len() as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{t}\">\
         <text x=\"0\" y=\"16\" class=\"title\">{t} ({u})</text>",
        w = LABEL_W + BAR_W + 110.0,
        t = escape(title),
        u = escape(unit)
    );
    for (k, (label, v)) in items.iter().enumerate() {
        let y = 26.0 + ROW * k as f64;
        let w = if max > 0.0 { BAR_W * v / max } else { 0.0 };
        let shown: String = if label.chars().count() > 44 {
            let tail: String = label
                .chars()
                .rev()
                .take(43)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("…{tail}")
        } else {
            label.clone()
        };
        let value = if decimals == 0 {
            thousands(v.round() as u64)
        } else {
            format!("{v:.decimals$}")
        };
        let _ = write!(
            s,
            "<text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\" class=\"label\"><title>{full}</title>{shown}</text>\
             <rect x=\"{bx}\" y=\"{y}\" width=\"{w:.1}\" height=\"{bh}\" class=\"bar\"/>\
             <text x=\"{vx:.1}\" y=\"{ty}\" class=\"value\">{value}</text>",
            lx = LABEL_W - 6.0,
            ty = y + 13.0,
            full = escape(label),
            shown = escape(&shown),
            bx = LABEL_W,
            bh = ROW - 6.0,
            vx = LABEL_W + w + 4.0,
        );
    }
    s.push_str("</svg></figure>\n");
    s
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
td:first-child,th:first-child{text-align:left}code{font-size:90%}\
svg .bar{fill:#3b6ea5}svg .title{font-weight:bold;font-size:14px}svg .label,svg .value{font-size:12px}\
figure{margin:1em 0}.note{color:#555}";

pub fn render(r: &DesignReport) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>aecc report: {t}</title>\
         <style>{STYLE}</style></head><body>\n<h1>aecc report: <code>{t}</code></h1>\n",
        t = escape(&r.top)
    );
    let _ = writeln!(
        s,
        "<p>Model <code>{}</code>, latency {} cycles, initiation interval {}, {} constant multiplications, {} weight/bias bits.</p>",
        escape(&r.model),
        r.latency_cycles,
        r.initiation_interval,
        r.total_const_multiplications,
        r.total_weight_bits
    );
    let Some(hw) = &r.hardware else {
        s.push_str("</body></html>\n");
        return s;
    };
    // totals
    let a = &hw.analytic.resources;
    let sy = hw.synth.as_ref();
    s.push_str("<h2>Totals</h2>\n<table><tr><th>figure</th><th>analytic estimate</th><th>yosys</th></tr>\n");
    let rows: [(&str, u64, Option<u64>); 6] = [
        ("LUTs (Xilinx 7)", a.luts, sy.map(|x| x.xilinx.luts)),
        ("flip-flops", a.ffs, sy.map(|x| x.xilinx.ffs)),
        ("CARRY4", a.carry4, sy.map(|x| x.xilinx.carry4)),
        ("DSP48", a.dsps, sy.map(|x| x.xilinx.dsps)),
        (
            "generic cells",
            a.generic_cells,
            sy.map(|x| x.generic.cells),
        ),
        (
            "gate equivalents",
            a.gate_equivalents,
            sy.map(|x| x.generic.gate_equivalents),
        ),
    ];
    for (name, est, y) in rows {
        let _ = writeln!(
            s,
            "<tr><td>{name}</td><td>{}</td><td>{}</td></tr>",
            thousands(est),
            y.map_or("-".into(), thousands)
        );
    }
    s.push_str("</table>\n");
    if let Some(asic) = &hw.asic {
        let _ = writeln!(
            s,
            "<h2>ASIC: {} ({} V)</h2>\n<p>Area <b>{:.1} &micro;m&sup2;</b> in {} cells ({} flip-flops).</p>",
            escape(&asic.library),
            asic.voltage,
            asic.area_um2,
            thousands(asic.cells),
            thousands(asic.flip_flops)
        );
        if let Some(t) = &asic.timing {
            let _ = writeln!(
                s,
                "<p>Timing at {} ns: worst setup slack <b>{:.4} ns</b>, worst hold slack {:.4} ns ({}); Fmax {:.1} MHz. \
                 Critical path {} cells through {}.</p>",
                t.clock_ns,
                t.setup_slack_ns,
                t.hold_slack_ns,
                if t.met { "met" } else { "VIOLATED" },
                t.fmax_mhz,
                t.critical_path.cells,
                escape(&t.critical_layers.join(" → "))
            );
        }
        if let Some(p) = &asic.power {
            let b = &p.breakdown;
            let _ = writeln!(
                s,
                "<p>Power at {:.2} MHz on {} ({} vectors): <b>{:.4} mW</b> (internal {:.4}, switching {:.4}, leakage {:.6}; clock network {:.4} of it); \
                 <b>{:.5} nJ per inference</b>.</p>",
                p.clock_mhz,
                escape(&p.vectors),
                p.vector_count,
                b.total_mw,
                b.internal_mw,
                b.switching_mw,
                b.leakage_mw,
                b.clock_mw,
                p.energy_per_inference_nj
            );
            let _ = writeln!(s, "<p class=\"note\">{}</p>", escape(&p.method));
        }
    }
    // per-layer charts
    let rows = layer_rows(r);
    s.push_str("<h2>Layers</h2>\n");
    let chart = |title: &str,
                 unit: &str,
                 f: &dyn Fn(&super::LayerHardware) -> Option<f64>,
                 d: usize|
     -> String {
        let items: Vec<(String, f64)> = rows
            .iter()
            .filter_map(|(n, op, h)| f(h).map(|v| (format!("{op} {n}"), v)))
            .collect();
        if items.is_empty() {
            String::new()
        } else {
            bar_chart(title, unit, &items, d)
        }
    };
    s.push_str(&chart(
        "Estimated LUTs",
        "Xilinx 7, analytic",
        &|h| Some(h.analytic.resources.luts as f64),
        0,
    ));
    s.push_str(&chart(
        "Estimated gate equivalents",
        "NAND2, analytic",
        &|h| Some(h.analytic.resources.gate_equivalents as f64),
        0,
    ));
    s.push_str(&chart(
        "Register bits",
        "flip-flops",
        &|h| Some(h.analytic.inventory.register_bits as f64),
        0,
    ));
    s.push_str(&chart(
        "yosys gate equivalents",
        "NAND2, yosys synth",
        &|h| h.yosys.as_ref().map(|y| y.gate_equivalents as f64),
        0,
    ));
    s.push_str(&chart(
        "Area",
        "um^2",
        &|h| h.asic.as_ref().map(|a| a.area_um2),
        1,
    ));
    s.push_str(&chart(
        "Power",
        "mW",
        &|h| {
            h.asic
                .as_ref()
                .and_then(|a| a.power.as_ref())
                .map(|p| p.total_mw)
        },
        4,
    ));
    s.push_str("<table><tr><th>layer</th><th>op</th><th>adders</th><th>adder bits</th><th>reg bits</th><th>est. LUTs</th><th>est. GE</th><th>yosys GE</th><th>area &micro;m&sup2;</th><th>power mW</th></tr>\n");
    for (name, op, h) in &rows {
        let e = &h.analytic;
        let _ = writeln!(
            s,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            escape(op),
            e.inventory.adders,
            e.inventory.adder_bits,
            e.inventory.register_bits,
            thousands(e.resources.luts),
            thousands(e.resources.gate_equivalents),
            h.yosys.as_ref().map_or("-".into(), |y| thousands(y.gate_equivalents)),
            opt(h.asic.as_ref().map(|a| a.area_um2), 1),
            opt(h.asic.as_ref().and_then(|a| a.power.as_ref()).map(|p| p.total_mw), 4),
        );
    }
    s.push_str("</table>\n");
    if !hw.skipped.is_empty() || !hw.notes.is_empty() {
        s.push_str("<h2>Notes</h2><ul>\n");
        for k in hw.skipped.iter().chain(&hw.notes) {
            let _ = writeln!(s, "<li>{}</li>", escape(k));
        }
        s.push_str("</ul>\n");
    }
    s.push_str("</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_value() {
        let svg = bar_chart("t", "u", &[("a".into(), 10.0), ("b<".into(), 5.0)], 0);
        assert!(svg.contains("width=\"360.0\""));
        assert!(svg.contains("width=\"180.0\""));
        assert!(svg.contains("b&lt;"));
        assert!(
            !svg.contains("http://") || svg.matches("http://").count() == 1,
            "only the SVG namespace"
        );
    }
}
