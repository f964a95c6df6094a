//! yosys (Debian 0.23) on the generated RTL: generic cells and CMOS transistors per
//! module (`synth`, hierarchical), Xilinx 7-series LUT/FF/CARRY4/DSP (`synth_xilinx
//! -flatten`), iCE40 cells (`synth_ice40`), and the Liberty mapping the ASIC flow uses
//! (`dfflibmap` + `abc -liberty`, area per module, a flat netlist for STA and power).
//!
//! Every run is cached by the hash of the yosys version, the script and every input file
//! (see [`super::tools::cached`]): a second report of the same RTL takes no time.

use super::tools::{self, Key, ReportError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Cell counts of one module (`stat -json`), without its instances.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CellCounts {
    pub cells_by_type: BTreeMap<String, u64>,
}

impl CellCounts {
    /// Cells that are not instances of user modules.
    pub fn cells(&self) -> u64 {
        self.cells_by_type.values().sum()
    }
}

/// Parsed `stat -json` output: per module (own cells; submodule instances appear as
/// cells named by the module), and the hierarchy-expanded design total.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stat {
    pub modules: BTreeMap<String, CellCounts>,
    pub design: CellCounts,
}

/// `\name` -> `name`.
fn unescape(name: &str) -> String {
    name.strip_prefix('\\').unwrap_or(name).to_string()
}

/// Reads `stat -json` output. yosys 0.23 prints the design hierarchy (`  sub  4`) in
/// the middle of its JSON for hierarchical designs; those lines are dropped (every JSON
/// line it writes starts with a quote or a bracket).
pub fn parse_stat_json(text: &str) -> Result<Stat, ReportError> {
    let clean: String = text
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            t.is_empty() || t.starts_with(['"', '{', '}', '[', ']'])
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let v: serde_json::Value = serde_json::from_str(&clean)
        .map_err(|e| ReportError::parse("yosys stat -json", e.to_string()))?;
    let counts = |m: &serde_json::Value| -> CellCounts {
        let mut c = CellCounts::default();
        if let Some(obj) = m.get("num_cells_by_type").and_then(|t| t.as_object()) {
            for (k, n) in obj {
                c.cells_by_type.insert(unescape(k), n.as_u64().unwrap_or(0));
            }
        }
        c
    };
    let mut stat = Stat::default();
    if let Some(mods) = v.get("modules").and_then(|m| m.as_object()) {
        for (name, m) in mods {
            stat.modules.insert(unescape(name), counts(m));
        }
    }
    if let Some(d) = v.get("design") {
        stat.design = counts(d);
    }
    Ok(stat)
}

impl Stat {
    /// Cells of `module` with its instances expanded (primitive cells only).
    pub fn subtree(&self, module: &str) -> CellCounts {
        let mut out = CellCounts::default();
        self.expand(module, 1, &mut out, 0);
        out
    }
    fn expand(&self, module: &str, times: u64, out: &mut CellCounts, depth: u32) {
        let Some(m) = self.modules.get(module) else {
            return;
        };
        for (ty, n) in &m.cells_by_type {
            if self.modules.contains_key(ty) && depth < 64 {
                self.expand(ty, times * n, out, depth + 1);
            } else {
                *out.cells_by_type.entry(ty.clone()).or_default() += times * n;
            }
        }
    }
}

/// Transistors of one yosys internal cell type (`stat -tech cmos`); flip-flops with a
/// reset or enable, which yosys leaves out of its table, count as a flip-flop (16) plus a
/// two-input gate (6) per extra control.
pub fn cmos_transistors(cell: &str) -> Option<u64> {
    Some(match cell {
        "$_NOT_" => 2,
        "$_BUF_" => 4,
        "$_NAND_" | "$_NOR_" => 4,
        "$_AND_" | "$_OR_" | "$_ANDNOT_" | "$_ORNOT_" => 6,
        "$_XOR_" | "$_XNOR_" => 12,
        "$_AOI3_" | "$_OAI3_" => 6,
        "$_AOI4_" | "$_OAI4_" => 8,
        "$_MUX_" => 12,
        "$_NMUX_" => 10,
        "$_DFF_P_" | "$_DFF_N_" => 16,
        c if c.starts_with("$_SDFFE") || c.starts_with("$_SDFFCE") || c.starts_with("$_DFFSRE") => {
            28
        }
        c if c.starts_with("$_SDFF")
            || c.starts_with("$_DFFE")
            || c.starts_with("$_DFF_")
            || c.starts_with("$_DFFSR") =>
        {
            22
        }
        c if c.starts_with("$_DLATCH") => 12,
        _ => return None,
    })
}

/// Whether a yosys internal cell is a flip-flop.
pub fn is_generic_ff(cell: &str) -> bool {
    cell.starts_with("$_DFF") || cell.starts_with("$_SDFF") || cell.starts_with("$_ALDFF")
}

/// Generic synthesis figures of a module subtree.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenericFigures {
    /// yosys internal cells (gates and flip-flops).
    pub cells: u64,
    pub flip_flops: u64,
    /// Transistors by the table of [`cmos_transistors`].
    pub transistors: u64,
    /// transistors / 4.
    pub gate_equivalents: u64,
    pub cells_by_type: BTreeMap<String, u64>,
}

impl GenericFigures {
    pub fn of(c: &CellCounts) -> GenericFigures {
        let mut t = 0;
        let mut ff = 0;
        for (ty, n) in &c.cells_by_type {
            t += cmos_transistors(ty).unwrap_or(8) * n;
            if is_generic_ff(ty) {
                ff += n;
            }
        }
        GenericFigures {
            cells: c.cells(),
            flip_flops: ff,
            transistors: t,
            gate_equivalents: (t as f64 / 4.0).round() as u64,
            cells_by_type: c.cells_by_type.clone(),
        }
    }
}

/// Xilinx 7-series figures (`synth_xilinx -flatten`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct XilinxFigures {
    /// LUT1-LUT6, INV (a LUT1) and SRL16E/SRLC32E (shift registers in LUTs).
    pub luts: u64,
    /// FDRE/FDSE/FDCE/FDPE.
    pub ffs: u64,
    pub carry4: u64,
    pub dsps: u64,
    /// MUXF7/MUXF8.
    pub muxf: u64,
    pub srls: u64,
    pub cells_by_type: BTreeMap<String, u64>,
}

impl XilinxFigures {
    pub fn of(c: &CellCounts) -> XilinxFigures {
        let mut f = XilinxFigures {
            cells_by_type: c.cells_by_type.clone(),
            ..XilinxFigures::default()
        };
        for (ty, &n) in &c.cells_by_type {
            match ty.as_str() {
                t if t.starts_with("LUT") || t == "INV" => f.luts += n,
                t if t.starts_with("SRL") => {
                    f.luts += n;
                    f.srls += n;
                }
                t if t.starts_with("FD") => f.ffs += n,
                "CARRY4" | "CARRY8" => f.carry4 += n,
                t if t.starts_with("DSP48") => f.dsps += n,
                "MUXF7" | "MUXF8" => f.muxf += n,
                _ => {}
            }
        }
        f
    }
}

/// iCE40 figures (`synth_ice40`), and nextpnr-ice40's Fmax when run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ice40Figures {
    pub luts: u64,
    pub ffs: u64,
    pub carries: u64,
    /// Logic cells of the chosen device, and whether the design fits.
    pub device: String,
    pub device_logic_cells: u64,
    pub fits: bool,
    /// nextpnr-ice40's maximum frequency of `clk` (MHz), when placed and routed.
    pub fmax_mhz: Option<f64>,
    pub note: String,
}

/// The design files and top module yosys reads.
pub struct Design<'a> {
    pub top: &'a str,
    pub files: &'a [(String, String)],
}

fn design_key(kind: &str, design: &Design, script: &str) -> Key {
    let mut k = Key::new(kind);
    k.put(tools::version("yosys").as_bytes());
    k.put(script.as_bytes());
    k.put(design.top.as_bytes());
    for (name, text) in design.files {
        k.put(name.as_bytes()).put(text.as_bytes());
    }
    k
}

fn read_list(design: &Design) -> String {
    let names: Vec<&str> = design.files.iter().map(|(n, _)| n.as_str()).collect();
    format!("read_verilog -defer {}", names.join(" "))
}

fn write_design(dir: &Path, design: &Design) -> Result<(), ReportError> {
    for (name, text) in design.files {
        tools::write(dir, name, text)?;
    }
    Ok(())
}

fn run_yosys(dir: &Path, script: &str, step: &str) -> Result<(), ReportError> {
    tools::write(dir, "run.ys", script)?;
    let log = dir.join("yosys.log");
    tools::run_logged(
        "yosys",
        step,
        Command::new("yosys")
            .args(["-q", "-l"])
            .arg(&log)
            .args(["-s", "run.ys"]),
        dir,
        Some(&log),
    )?;
    Ok(())
}

/// Result of the generic (+ Liberty) yosys run.
pub struct GenericRun {
    /// `stat -json` of the flattened generic netlist.
    pub stat: Stat,
    /// The flattened generic netlist (yosys JSON), for per-layer attribution.
    pub generic_netlist: PathBuf,
    /// With a Liberty file: the flat mapped netlist.
    pub liberty: Option<LibertyRun>,
    pub cached: bool,
    /// Keeps an uncached work directory alive as long as the paths are used.
    _work: Option<tempfile::TempDir>,
}

pub struct LibertyRun {
    /// The flat mapped netlist: Verilog for OpenSTA, JSON for the power simulation.
    pub netlist_v: PathBuf,
    pub netlist_json: PathBuf,
    /// yosys' own `Chip area for module` (um^2), to cross-check.
    pub yosys_chip_area: Option<f64>,
}

/// `synth -flatten -top TOP` + `stat -json` and the generic netlist; with `liberty` (a
/// file already marked with dont_use), then `dfflibmap` + `abc -liberty`, `stat -liberty`,
/// and the mapped netlist written for OpenSTA (`splitnets; opt_clean -purge` so it can
/// parse it; `-norename` keeps the cell names the power and timing reports share).
pub fn generic_and_liberty(
    design: &Design,
    liberty: Option<&Path>,
    cache: Option<&Path>,
) -> Result<GenericRun, ReportError> {
    let mut script = format!(
        "{}\nhierarchy -check -top {top}\nsynth -flatten -top {top}\n\
         tee -q -o generic.json stat -json\nopt_clean -purge\nwrite_json generic_netlist.json\n",
        read_list(design),
        top = design.top
    );
    let mut outputs = vec!["generic.json", "generic_netlist.json"];
    let mut key_extra = Vec::new();
    if let Some(lib) = liberty {
        let lib_name = "cells.lib";
        script.push_str(&format!(
            "dfflibmap -liberty {lib_name}\nabc -liberty {lib_name}\nopt_clean\n\
             tee -q -o liberty.txt stat -liberty {lib_name}\n\
             splitnets\nopt_clean -purge\n\
             write_verilog -norename -noattr -noexpr -nohex -nodec mapped.v\nwrite_json mapped.json\n"
        ));
        outputs.extend(["liberty.txt", "mapped.v", "mapped.json"]);
        key_extra = std::fs::read(lib).map_err(ReportError::io(lib))?;
    }
    let mut key = design_key("yosys-generic", design, &script);
    key.put(&key_extra);
    let (dir, work, cached) = tools::cached(cache, key.hex(), &outputs, |work| {
        write_design(work, design)?;
        if let Some(lib) = liberty {
            std::fs::copy(lib, work.join("cells.lib")).map_err(ReportError::io(lib))?;
        }
        run_yosys(work, &script, "synth")?;
        // the Liberty copy is large: keep only results in the cache
        let _ = std::fs::remove_file(work.join("cells.lib"));
        Ok(())
    })?;
    let stat = parse_stat_json(&tools::read(&dir, "generic.json")?)?;
    let liberty = match liberty {
        None => None,
        Some(_) => {
            let text = tools::read(&dir, "liberty.txt")?;
            let yosys_chip_area = text
                .lines()
                .find(|l| l.contains("Chip area for"))
                .and_then(|l| l.rsplit(':').next())
                .and_then(|v| v.trim().parse().ok());
            Some(LibertyRun {
                netlist_v: dir.join("mapped.v"),
                netlist_json: dir.join("mapped.json"),
                yosys_chip_area,
            })
        }
    };
    Ok(GenericRun {
        stat,
        generic_netlist: dir.join("generic_netlist.json"),
        liberty,
        cached,
        _work: work,
    })
}

/// `synth_xilinx -flatten -top TOP` + `stat -json`.
pub fn xilinx(design: &Design, cache: Option<&Path>) -> Result<(XilinxFigures, bool), ReportError> {
    let script = format!(
        "{}\nsynth_xilinx -flatten -top {top}\ntee -q -o xilinx.json stat -json\n",
        read_list(design),
        top = design.top
    );
    let key = design_key("yosys-xilinx", design, &script);
    let (dir, _keep, cached) = tools::cached(cache, key.hex(), &["xilinx.json"], |work| {
        write_design(work, design)?;
        run_yosys(work, &script, "synth_xilinx")
    })?;
    let stat = parse_stat_json(&tools::read(&dir, "xilinx.json")?)?;
    Ok((XilinxFigures::of(&stat.design), cached))
}

/// How long nextpnr-ice40 may run (its router can fail to converge on congested designs).
const NEXTPNR_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

/// iCE40 HX8K (7,680 logic cells): `synth_ice40`; when the design fits, nextpnr-ice40
/// places and routes it behind a wrapper that feeds `in_data` from a shift register and
/// XOR-folds `out_data` onto 8 pins (the real ports do not fit any iCE40 package), and
/// reports the Fmax of `clk`.
pub fn ice40(
    design: &Design,
    clock_mhz: f64,
    in_width: u32,
    out_width: u32,
    cache: Option<&Path>,
) -> Result<(Ice40Figures, bool), ReportError> {
    const DEVICE: &str = "hx8k";
    const LOGIC_CELLS: u64 = 7680;
    let wrapper = ice40_wrapper(design.top, in_width, out_width);
    let mut files: Vec<(String, String)> = design.files.to_vec();
    files.push(("aecc_ice40_wrapper.v".into(), wrapper));
    let wrapped = Design {
        top: "aecc_ice40_wrapper",
        files: &files,
    };
    let script = format!(
        "{}\nsynth_ice40 -top aecc_ice40_wrapper -json ice40.json\ntee -q -o ice40_stat.json stat -json\n",
        read_list(&wrapped)
    );
    let mut key = design_key("yosys-ice40", &wrapped, &script);
    key.put(tools::version("nextpnr-ice40").as_bytes());
    key.put(format!("{clock_mhz}").as_bytes());
    let nextpnr = tools::available("nextpnr-ice40");
    key.put(&[u8::from(nextpnr)]);
    key.put(&NEXTPNR_LIMIT.as_secs().to_le_bytes());
    let (dir, _keep, cached) = tools::cached(
        cache,
        key.hex(),
        &["ice40_stat.json", "nextpnr.txt"],
        |work| {
            write_design(work, &wrapped)?;
            run_yosys(work, &script, "synth_ice40")?;
            let stat = parse_stat_json(&tools::read(work, "ice40_stat.json")?)?;
            let luts = stat
                .design
                .cells_by_type
                .get("SB_LUT4")
                .copied()
                .unwrap_or(0);
            let text = if luts > LOGIC_CELLS {
                format!("not run: {luts} LUTs do not fit the {LOGIC_CELLS} logic cells of an iCE40 {DEVICE}")
            } else if !nextpnr {
                format!("not run: {}", tools::install_line(&["nextpnr-ice40"]))
            } else {
                let (log, finished) = tools::run_limited(
                    "nextpnr-ice40",
                    Command::new("nextpnr-ice40")
                        .args([
                            &format!("--{DEVICE}"),
                            "--package",
                            "ct256",
                            "--json",
                            "ice40.json",
                        ])
                        .args([
                            "--freq",
                            &format!("{clock_mhz}"),
                            "--timing-allow-fail",
                            "--seed",
                            "1",
                        ]),
                    work,
                    "nextpnr.log",
                    NEXTPNR_LIMIT,
                )?;
                if finished {
                    log
                } else {
                    format!(
                    "routing unfinished: nextpnr-ice40 did not finish in {} s; Fmax after placement\n{log}",
                    NEXTPNR_LIMIT.as_secs()
                )
                }
            };
            tools::write(work, "nextpnr.txt", &text)?;
            Ok(())
        },
    )?;
    let stat = parse_stat_json(&tools::read(&dir, "ice40_stat.json")?)?;
    let log = tools::read(&dir, "nextpnr.txt")?;
    let count = |p: &str| -> u64 {
        stat.design
            .cells_by_type
            .iter()
            .filter(|(t, _)| t.starts_with(p))
            .map(|(_, n)| n)
            .sum()
    };
    // "Max frequency for clock 'clk$SB_IO_IN_$glb_clk': 52.31 MHz (PASS at 40.00 MHz)"
    let fmax = log
        .lines()
        .filter(|l| l.contains("Max frequency for clock"))
        .filter_map(|l| {
            let after = l.split("':").nth(1)?;
            after.split_whitespace().next()?.parse::<f64>().ok()
        })
        .next_back();
    let luts = count("SB_LUT4");
    let note = if log.starts_with("not run") || log.starts_with("routing unfinished") {
        log.lines().next().unwrap_or("").to_string()
    } else {
        "placed and routed with nextpnr-ice40 (seed 1) behind a serial-in wrapper".into()
    };
    Ok((
        Ice40Figures {
            luts,
            ffs: count("SB_DFF"),
            carries: count("SB_CARRY"),
            device: format!("iCE40 {DEVICE}"),
            device_logic_cells: LOGIC_CELLS,
            fits: luts <= LOGIC_CELLS,
            fmax_mhz: fmax,
            note,
        },
        cached,
    ))
}

/// A top module for place and route on a small FPGA: `in_data` is loaded through a
/// shift register from one pin, `out_data` is XOR-folded onto 8 pins, so every bit stays
/// live and the pin count fits.
fn ice40_wrapper(top: &str, in_width: u32, out_width: u32) -> String {
    let fold: Vec<String> = (0..8)
        .map(|k| {
            let bits: Vec<String> = (k..out_width)
                .step_by(8)
                .map(|b| format!("o[{b}]"))
                .collect();
            if bits.is_empty() {
                format!("  assign out_pins[{k}] = 1'b0;")
            } else {
                format!("  assign out_pins[{k}] = {};", bits.join(" ^ "))
            }
        })
        .collect();
    let shift = if in_width == 1 {
        "sr <= serial_in;".to_string()
    } else {
        format!("sr <= {{sr[{}:0], serial_in}};", in_width - 2)
    };
    format!(
        "module aecc_ice40_wrapper(input wire clk, input wire rst, input wire in_valid, input wire serial_in,\n\
         \x20   output wire out_valid, output wire [7:0] out_pins);\n\
         \x20 reg [{im}:0] sr;\n\
         \x20 always @(posedge clk) {shift}\n\
         \x20 wire [{om}:0] o;\n\
         \x20 {top} u_design(.clk(clk), .rst(rst), .in_valid(in_valid), .in_data(sr), .out_valid(out_valid), .out_data(o));\n\
         {fold}\nendmodule\n",
        im = in_width - 1,
        om = out_width - 1,
        fold = fold.join("\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_json_and_hierarchy() {
        let text = r#"{
   "modules": {
      "\\top": { "num_cells": 3, "num_cells_by_type": { "$_DFF_P_": 2, "sub": 2 } },
      "\\sub": { "num_cells": 2, "num_cells_by_type": { "$_XOR_": 1, "$_AND_": 1 } }
   },
       sub       2
   "design": { "num_cells": 6, "num_cells_by_type": { "$_DFF_P_": 2, "$_XOR_": 2, "$_AND_": 2 } }
}"#;
        let s = parse_stat_json(text).unwrap();
        let t = s.subtree("top");
        assert_eq!(t, s.design);
        let g = GenericFigures::of(&t);
        assert_eq!(g.transistors, 2 * 16 + 2 * 12 + 2 * 6);
        assert_eq!(g.flip_flops, 2);
    }

    #[test]
    fn xilinx_categories() {
        let mut c = CellCounts::default();
        for (t, n) in [
            ("LUT2", 3),
            ("LUT6", 2),
            ("INV", 1),
            ("FDRE", 4),
            ("CARRY4", 1),
            ("DSP48E1", 2),
            ("SRL16E", 1),
            ("IBUF", 9),
        ] {
            c.cells_by_type.insert(t.into(), n);
        }
        let x = XilinxFigures::of(&c);
        assert_eq!((x.luts, x.ffs, x.carry4, x.dsps, x.srls), (7, 4, 1, 2, 1));
    }
}
