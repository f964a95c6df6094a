//! OpenSTA (Debian package `opensta`, command `sta`, a 2019 snapshot) on the mapped
//! netlist: worst setup and hold slack at the clock period, the critical path, and
//! OpenSTA's own power figure for a given global activity (a cross-check only; see the
//! README's "Reports" section for why the table-based estimate of [`super::power`] is
//! the reported one).

use super::tools::{self, ReportError};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::Command;

/// One point of a timing path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathPoint {
    /// `instance/pin` as OpenSTA prints it.
    pub pin: String,
    pub cell: String,
    /// The layer (top-level instance) the cell belongs to, `top` for the top's own cells
    /// (filled by the caller, which knows the netlist's attribution).
    pub layer: String,
    /// `rise` or `fall`.
    pub edge: String,
    pub incr_ns: f64,
    pub arrival_ns: f64,
}

/// A reported path.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimingPath {
    pub startpoint: String,
    pub endpoint: String,
    pub slack_ns: f64,
    pub arrival_ns: f64,
    pub required_ns: f64,
    /// Cells on the path (logic depth, the start flip-flop included).
    pub cells: usize,
    pub points: Vec<PathPoint>,
}

/// Timing at the clock period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub clock_ns: f64,
    /// Worst setup slack (ns); negative: the clock is not met.
    pub setup_slack_ns: f64,
    pub hold_slack_ns: f64,
    pub met: bool,
    /// `1000 / (clock_ns - setup_slack_ns)`: the fastest clock the worst path allows.
    pub fmax_mhz: f64,
    pub critical_path: TimingPath,
    /// Instances the critical path crosses, in order.
    pub critical_layers: Vec<String>,
}

/// OpenSTA's `report_power` (W converted to mW).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StaPower {
    pub activity: f64,
    pub internal_mw: f64,
    pub switching_mw: f64,
    pub leakage_mw: f64,
    pub total_mw: f64,
}

/// Everything one OpenSTA run gives.
pub struct StaResult {
    pub timing: Timing,
    pub power: Option<StaPower>,
}

fn script(liberty: &str, netlist: &str, top: &str, clock_ns: f64, activity: Option<f64>) -> String {
    let mut s = format!(
        "read_liberty {liberty}\nread_verilog {netlist}\nlink_design {top}\n\
         create_clock -name clk -period {clock_ns} [get_ports clk]\n\
         set_input_delay 0 -clock clk [delete_from_list [all_inputs] [get_ports clk]]\n\
         set_output_delay 0 -clock clk [all_outputs]\n\
         puts \"AECC-SETUP\"\nreport_checks -path_delay max -digits 4\n\
         puts \"AECC-HOLD\"\nreport_checks -path_delay min -digits 4\n"
    );
    if let Some(a) = activity {
        // the activity must be set before the first report_power (see the pdk README)
        s.push_str(&format!(
            "set_power_activity -global -activity {a} -duty 0.5\nputs \"AECC-POWER\"\nreport_power -digits 6\n"
        ));
    }
    s
}

fn unescape(s: &str) -> String {
    s.replace("\\\\", "\\")
}

/// Parses one `report_checks` path.
pub fn parse_path(text: &str) -> Option<TimingPath> {
    let mut p = TimingPath::default();
    let lines = text.lines();
    let mut in_data = false;
    let mut seen_arrival = false;
    for line in lines {
        let t = line.trim();
        if let Some(s) = t.strip_prefix("Startpoint:") {
            p.startpoint = unescape(s.trim().split(" (").next().unwrap_or("").trim());
        } else if let Some(s) = t.strip_prefix("Endpoint:") {
            p.endpoint = unescape(s.trim().split(" (").next().unwrap_or("").trim());
        } else if t.starts_with("Delay") && t.contains("Time") {
            in_data = true;
        } else if t.ends_with("data arrival time") && !seen_arrival {
            seen_arrival = true;
            p.arrival_ns = t.split_whitespace().next()?.parse().ok()?;
            in_data = false;
        } else if t.ends_with("data required time") {
            p.required_ns = t.split_whitespace().next()?.parse().ok()?;
        } else if t.contains("slack (") {
            p.slack_ns = t.split_whitespace().next()?.parse().ok()?;
        } else if in_data && !seen_arrival {
            // "   0.0482    0.0482 v u1.x/Y (sky130_fd_sc_hd__nand2_1)"
            let parts: Vec<&str> = t.split_whitespace().collect();
            if parts.len() >= 5 && (parts[2] == "^" || parts[2] == "v") && t.ends_with(')') {
                let (Ok(incr), Ok(arr)) = (parts[0].parse::<f64>(), parts[1].parse::<f64>()) else {
                    continue;
                };
                let cell = parts[parts.len() - 1]
                    .trim_matches(|c| c == '(' || c == ')')
                    .to_string();
                let pin = unescape(&parts[3..parts.len() - 1].join(" "));
                if cell == "in" || cell == "out" {
                    continue;
                }
                p.points.push(PathPoint {
                    layer: String::new(),
                    pin,
                    cell,
                    edge: if parts[2] == "^" {
                        "rise".into()
                    } else {
                        "fall".into()
                    },
                    incr_ns: incr,
                    arrival_ns: arr,
                });
            }
        }
    }
    p.cells = p.points.len();
    (!p.startpoint.is_empty() || p.slack_ns != 0.0).then_some(p)
}

fn section<'a>(text: &'a str, start: &str, end: &[&str]) -> &'a str {
    let Some(i) = text.find(start) else { return "" };
    let rest = &text[i + start.len()..];
    let j = end
        .iter()
        .filter_map(|e| rest.find(e))
        .min()
        .unwrap_or(rest.len());
    &rest[..j]
}

/// Parses the `Total` line of `report_power` (values in W).
pub fn parse_power(text: &str, activity: f64) -> Option<StaPower> {
    let line = text.lines().find(|l| l.trim_start().starts_with("Total"))?;
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 4 {
        return None;
    }
    Some(StaPower {
        activity,
        internal_mw: v[0] * 1e3,
        switching_mw: v[1] * 1e3,
        leakage_mw: v[2] * 1e3,
        total_mw: v[3] * 1e3,
    })
}

/// Runs OpenSTA on `netlist` (flat, mapped) at `clock_ns`; with `activity`, also
/// `report_power` at that global activity (transitions per clock cycle).
pub fn run(
    liberty: &Path,
    netlist: &Path,
    top: &str,
    clock_ns: f64,
    activity: Option<f64>,
) -> Result<StaResult, ReportError> {
    let dir = tempfile::tempdir().map_err(ReportError::io(std::env::temp_dir()))?;
    let text = script(
        &liberty.display().to_string(),
        &netlist.display().to_string(),
        top,
        clock_ns,
        activity,
    );
    tools::write(dir.path(), "run.tcl", &text)?;
    let out = tools::run(
        "sta",
        "static timing analysis",
        Command::new("sta").args(["-no_splash", "-exit", "run.tcl"]),
        dir.path(),
    )?;
    if out.contains("Error:") && !out.contains("AECC-SETUP") {
        return Err(ReportError::ToolFailed {
            tool: "sta".into(),
            step: "static timing analysis".into(),
            output: tools::tail(&out, 30),
        });
    }
    let setup = parse_path(section(&out, "AECC-SETUP", &["AECC-HOLD"])).ok_or_else(|| {
        ReportError::parse(
            "OpenSTA report_checks -path_delay max",
            tools::tail(&out, 20),
        )
    })?;
    let hold = parse_path(section(&out, "AECC-HOLD", &["AECC-POWER"])).unwrap_or_default();
    let power = activity.and_then(|a| parse_power(section(&out, "AECC-POWER", &[]), a));
    let period = clock_ns - setup.slack_ns;
    Ok(StaResult {
        timing: Timing {
            clock_ns,
            setup_slack_ns: setup.slack_ns,
            hold_slack_ns: hold.slack_ns,
            met: setup.slack_ns >= 0.0 && hold.slack_ns >= 0.0,
            fmax_mhz: if period > 0.0 { 1000.0 / period } else { 0.0 },
            critical_path: setup,
            critical_layers: Vec::new(),
        },
        power,
    })
}

impl Timing {
    /// Sets every critical-path point's layer from the cell name (`name/PIN`) and the
    /// ordered list of layers the path crosses.
    pub fn set_layers(&mut self, layer_of_cell: &dyn Fn(&str) -> Option<String>) {
        let mut layers: Vec<String> = Vec::new();
        for p in &mut self.critical_path.points {
            let cell = p.pin.rsplit_once('/').map(|(a, _)| a).unwrap_or(&p.pin);
            p.layer = layer_of_cell(cell).unwrap_or_else(|| "top".into());
            if layers.last() != Some(&p.layer) {
                layers.push(p.layer.clone());
            }
        }
        self.critical_layers = layers;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"Startpoint: a[8] (input port clocked by clk)
Endpoint: $auto$ff.cc:266:slice$210
          (rising edge-triggered flip-flop clocked by clk)
Path Group: clk
Path Type: max

    Delay      Time   Description
-------------------------------------------------------------
   0.0000    0.0000   clock clk (rise edge)
   0.0000    0.0000   clock network delay (ideal)
   0.0000    0.0000 ^ input external delay
   0.0000    0.0000 ^ a[8] (in)
   0.0482    0.0482 v $flatten\\u1.$abc$270$auto$blifparse.cc:386:parse_blif$271/Y (sky130_fd_sc_hd__nand2_1)
   0.1647    1.4668 v $abc$261$auto$blifparse.cc:386:parse_blif$268/X (sky130_fd_sc_hd__xor2_1)
   0.0035    1.4703 v $auto$ff.cc:266:slice$210/D (sky130_fd_sc_hd__dfxtp_1)
             1.4703   data arrival time

  25.0000   25.0000   clock clk (rise edge)
            25.0000 ^ $auto$ff.cc:266:slice$210/CLK (sky130_fd_sc_hd__dfxtp_1)
  -0.1260   24.8740   library setup time
            24.8740   data required time
-------------------------------------------------------------
            24.8740   data required time
            -1.4703   data arrival time
-------------------------------------------------------------
            23.4038   slack (MET)
"#;

    #[test]
    fn parses_a_path() {
        let p = parse_path(REPORT).unwrap();
        assert_eq!(p.startpoint, "a[8]");
        assert_eq!(p.endpoint, "$auto$ff.cc:266:slice$210");
        assert_eq!(p.slack_ns, 23.4038);
        assert_eq!(p.arrival_ns, 1.4703);
        assert_eq!(p.required_ns, 24.874);
        assert_eq!(p.points.len(), 3);
        assert_eq!(p.points[0].cell, "sky130_fd_sc_hd__nand2_1");
        assert_eq!(
            p.points[0].pin,
            "$flatten\\u1.$abc$270$auto$blifparse.cc:386:parse_blif$271/Y"
        );
    }

    #[test]
    fn parses_power() {
        let t = "Total                3.427748e-05 2.598300e-06 2.596803e-10 3.687604e-05 100.0%\n";
        let p = parse_power(t, 0.1).unwrap();
        assert!((p.total_mw - 0.03687604).abs() < 1e-12);
    }
}
