//! Synthesis statistics from yosys: generic cell counts after `synth -flatten`, the
//! transistor estimate of `stat -tech cmos`, and optionally the area of a Liberty
//! mapping.

use crate::design::RtlDesign;
use crate::error::CosimError;
use crate::tools::{head, run_tool};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// What yosys reports about one synthesized design.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SynthStats {
    /// Generic cells (`$_AND_`, `$_DFF_P_`, ...) and their counts after
    /// `synth -flatten`.
    pub cells: BTreeMap<String, u64>,
    /// `Estimated number of transistors` of `stat -tech cmos` (flip-flops are not
    /// counted by yosys: it marks the figure with a `+`).
    pub transistors: u64,
    /// Cells and area (um^2 for the sky130 library) after `dfflibmap` and `abc` onto a
    /// Liberty library, when one was given.
    pub liberty_cells: Option<u64>,
    pub liberty_area: Option<f64>,
    pub liberty_flip_flops: Option<u64>,
}

impl SynthStats {
    pub fn total_cells(&self) -> u64 {
        self.cells.values().sum()
    }

    /// Every flip-flop cell (`$_DFF_*`, `$_DFFE_*`, `$_SDFF*_`, ...).
    pub fn flip_flops(&self) -> u64 {
        self.cells
            .iter()
            .filter(|(name, _)| name.contains("DFF"))
            .map(|(_, n)| n)
            .sum()
    }
}

/// The yosys script [`synth_stats`] runs (`FILES`, `TOP`, `LIB` substituted).
pub fn synth_script(files: &[String], top: &str, liberty: Option<&Path>) -> String {
    let mut s = format!(
        "read_verilog {}; synth -flatten -top {top}; tee -o stat.txt stat; \
         tee -o cmos.txt stat -tech cmos",
        files.join(" ")
    );
    if let Some(lib) = liberty {
        let lib = lib.display();
        s.push_str(&format!(
            "; dfflibmap -liberty {lib}; abc -liberty {lib}; opt_clean; \
             tee -o lib.txt stat -liberty {lib}"
        ));
    }
    s
}

/// Synthesizes `design` with yosys (`synth -flatten`, see [`synth_script`]) and reads
/// the statistics.
pub fn synth_stats(design: &RtlDesign, liberty: Option<&Path>) -> Result<SynthStats, CosimError> {
    let dir = tempfile::tempdir().map_err(CosimError::io("creating a yosys directory"))?;
    let files = design
        .write_files(dir.path())
        .map_err(CosimError::io("writing design files"))?;
    let names: Vec<String> = files
        .iter()
        .map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let script = synth_script(&names, &design.top, liberty);
    let out = run_tool(
        "yosys",
        Command::new("yosys")
            .args(["-q", "-p", &script])
            .current_dir(dir.path()),
    )?;
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    if !out.status.success() {
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        return Err(CosimError::Yosys {
            top: design.top.clone(),
            output: head(&text, 40),
        });
    }
    let mut stats = SynthStats {
        cells: cell_counts(&read("stat.txt")),
        transistors: number_after(&read("cmos.txt"), "Estimated number of transistors:")
            .unwrap_or(0.0) as u64,
        ..SynthStats::default()
    };
    if liberty.is_some() {
        let lib = read("lib.txt");
        let cells = cell_counts(&lib);
        stats.liberty_cells = Some(cells.values().sum());
        stats.liberty_flip_flops = Some(
            cells
                .iter()
                .filter(|(n, _)| n.contains("df") || n.contains("DFF"))
                .map(|(_, c)| c)
                .sum(),
        );
        stats.liberty_area = number_after(&lib, "Chip area for module");
    }
    Ok(stats)
}

/// `name count` lines of a `stat` report, after `Number of cells:`.
fn cell_counts(text: &str) -> BTreeMap<String, u64> {
    let mut cells = BTreeMap::new();
    let mut inside = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("Number of cells:") {
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        let mut parts = t.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(name), Some(n), None) => match n.parse::<u64>() {
                Ok(n) => {
                    *cells.entry(name.to_string()).or_insert(0) += n;
                }
                Err(_) => inside = false,
            },
            _ => inside = false,
        }
    }
    cells
}

/// The first number after `label` (e.g. `Chip area for module '\top': 12.5`).
fn number_after(text: &str, label: &str) -> Option<f64> {
    let at = text.find(label)? + label.len();
    let rest = &text[at..];
    let rest = rest.split_once(':').map_or(rest, |(_, r)| r);
    let num: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    num.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stat_reports() {
        let stat = "=== top ===\n\n   Number of wires:   26\n   Number of cells:   24\n     \
                    $_AND_    8\n     $_DFFE_PP_   8\n     $_DFF_P_  8\n\n";
        let cells = cell_counts(stat);
        assert_eq!(cells.len(), 3);
        let s = SynthStats {
            cells,
            ..SynthStats::default()
        };
        assert_eq!((s.total_cells(), s.flip_flops()), (24, 16));
        assert_eq!(
            number_after(
                "   Estimated number of transistors:        336+\n",
                "Estimated number of transistors:"
            ),
            Some(336.0)
        );
        assert_eq!(
            number_after(
                "   Chip area for module '\\top': 1234.5600\n",
                "Chip area for module"
            ),
            Some(1234.56)
        );
    }
}
