//! The Liberty flow checked against independent computations on a small design:
//! - area: the report's area equals the sum of the Liberty areas of the cell instances
//!   in the mapped Verilog netlist (read here with a plain text scan), and yosys'
//!   `stat -liberty` agrees;
//! - activity: the gate-level simulator's per-net transition counts equal those of an
//!   Icarus Verilog event-driven simulation of the same mapped netlist (cell models
//!   written by yosys from the Liberty functions), read from its VCD;
//! - power: with every net at one activity, the table-based power agrees with OpenSTA's
//!   `report_power` at that global activity (switching and leakage within 2%; internal
//!   energy within 10% of half of OpenSTA's, which adds rise and fall energy instead of
//!   averaging them); and the power from the iverilog activity equals the report's;
//! - timing: the critical path's arrival plus the slack is the required time, a clock
//!   shorter than the path is reported as violated.
//!
//! Uses ../shared/pdk/sky130_fd_sc_hd__tt_025C_1v80.lib (never copied into the repo).

mod report_support;

use aecc::report::gatesim::{self, NetRef, Netlist};
use aecc::report::liberty::{self, Library};
use aecc::report::{power, yosys, ReportOptions};
use aecc_testbench::require_tools;
use report_support::*;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

const TOOLS: &[&str] = &["yosys", "sta", "iverilog"];

struct Mapped {
    lib_text: String,
    lib_file: tempfile::NamedTempFile,
    run: yosys::GenericRun,
}

fn map(rtl: &aecc_testbench::RtlDesign, lib: &Path) -> Mapped {
    let lib_text = liberty::with_dont_use(&std::fs::read_to_string(lib).unwrap());
    let lib_file = tempfile::Builder::new().suffix(".lib").tempfile().unwrap();
    std::fs::write(lib_file.path(), &lib_text).unwrap();
    let design = yosys::Design {
        top: &rtl.top,
        files: &rtl.files,
    };
    let run = yosys::generic_and_liberty(&design, Some(lib_file.path()), Some(&cache())).unwrap();
    Mapped {
        lib_text,
        lib_file,
        run,
    }
}

/// [`map`], the library it mapped to and the mapped netlist.
fn map_netlist(rtl: &aecc_testbench::RtlDesign, lib: &Path) -> (Mapped, Library, Netlist) {
    let mapped = map(rtl, lib);
    let lr = mapped.run.liberty.as_ref().unwrap();
    let library = Library::parse(&mapped.lib_text).unwrap();
    let netlist = Netlist::from_yosys_json(
        &std::fs::read_to_string(&lr.netlist_json).unwrap(),
        &rtl.top,
    )
    .unwrap();
    (mapped, library, netlist)
}

/// `cell ("name") { ... area : X; }` by a plain scan of the Liberty text.
fn liberty_areas(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("cell (\"") {
            current = rest.split('"').next().map(str::to_string);
        } else if let (Some(c), Some(v)) = (&current, t.strip_prefix("area :")) {
            out.insert(
                c.clone(),
                v.trim().trim_end_matches(';').trim().parse().unwrap(),
            );
            current = None;
        }
    }
    out
}

#[test]
fn area_is_the_sum_of_the_cell_areas_in_the_mapped_netlist() {
    let Some(lib) = liberty() else { return };
    if !require_tools(TOOLS) {
        return;
    }
    let g = small_graph(1);
    let (mut r, rtl) = compiled(&g, "small_area");
    let opts = ReportOptions {
        liberty: Some(lib.clone()),
        cache: Some(cache()),
        ..ReportOptions::default()
    };
    run_flows(&mut r, &rtl, None, &opts);
    let asic = r.hardware.as_ref().unwrap().asic.as_ref().unwrap();

    let mapped = map(&rtl, &lib);
    let lr = mapped.run.liberty.as_ref().unwrap();
    let areas = liberty_areas(&std::fs::read_to_string(&lib).unwrap());
    let verilog = std::fs::read_to_string(&lr.netlist_v).unwrap();
    let mut sum = 0.0;
    let mut count = 0u64;
    for line in verilog.lines() {
        let t = line.trim_start();
        if let Some(cell) = t
            .split_whitespace()
            .next()
            .filter(|w| w.starts_with("sky130_fd_sc_hd__"))
        {
            sum += areas[cell];
            count += 1;
        }
    }
    assert!(count > 20, "{count} cells");
    assert_eq!(asic.cells, count);
    assert!(
        (asic.area_um2 - sum).abs() < 1e-3,
        "report {} vs netlist sum {sum}",
        asic.area_um2
    );
    let y = asic.yosys_area_um2.unwrap();
    assert!((y - sum).abs() < 1e-3, "yosys stat -liberty {y} vs {sum}");
    // per-layer areas add up to the total
    let layers: f64 = r
        .layers
        .iter()
        .filter_map(|l| l.hardware.as_ref()?.asic.as_ref().map(|a| a.area_um2))
        .sum::<f64>()
        + r.hardware
            .as_ref()
            .unwrap()
            .top_level
            .as_ref()
            .unwrap()
            .asic
            .as_ref()
            .unwrap()
            .area_um2;
    assert!((layers - sum).abs() < 1e-2, "layers {layers} vs {sum}");
}

/// The value of every VCD variable bit at the end of each sample time.
struct Vcd {
    /// name (normalised) -> id code and bit index
    names: HashMap<String, (String, usize)>,
    /// id -> width
    widths: HashMap<String, usize>,
    /// id -> (time, value bits LSB first) changes in order
    changes: HashMap<String, Vec<(u64, Vec<u8>)>>,
}

/// `\$flatten\\u1.x` (escaped, backslashes doubled) -> `$flatten\u1.x`.
fn normalise(name: &str) -> String {
    let n = name.strip_prefix('\\').unwrap_or(name);
    n.replace("\\\\", "\\")
}

fn read_vcd(text: &str) -> Vcd {
    let mut vcd = Vcd {
        names: HashMap::new(),
        widths: HashMap::new(),
        changes: HashMap::new(),
    };
    let mut depth = 0;
    let mut time = 0u64;
    let mut tokens = text.split_whitespace().peekable();
    while let Some(t) = tokens.next() {
        match t {
            "$scope" => {
                depth += 1;
                tokens.next();
                tokens.next();
            }
            "$upscope" => depth -= 1,
            "$var" => {
                let _kind = tokens.next();
                let width: usize = tokens.next().unwrap().parse().unwrap();
                let id = tokens.next().unwrap().to_string();
                let mut name = tokens.next().unwrap().to_string();
                let mut range = None;
                for x in tokens.by_ref() {
                    if x == "$end" {
                        break;
                    }
                    range = Some(x.to_string());
                }
                // the dut scope only (depth 2: tb, dut)
                if depth == 2 {
                    name = normalise(&name);
                    if width == 1 {
                        let full = match &range {
                            Some(r) if r.starts_with('[') => format!("{name}{r}"),
                            _ => name.clone(),
                        };
                        vcd.names.insert(full, (id.clone(), 0));
                    } else {
                        let lsb: usize = range
                            .as_deref()
                            .and_then(|r| {
                                r.trim_matches(|c| c == '[' || c == ']').split(':').nth(1)
                            })
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0);
                        for b in 0..width {
                            vcd.names
                                .insert(format!("{name}[{}]", b + lsb), (id.clone(), b));
                        }
                    }
                    vcd.widths.insert(id, width);
                }
            }
            _ if t.starts_with('#') => time = t[1..].parse().unwrap(),
            _ if t.starts_with('b') => {
                let id = tokens.next().unwrap().to_string();
                let bits: Vec<u8> = t[1..].bytes().rev().map(|c| u8::from(c == b'1')).collect();
                vcd.changes.entry(id).or_default().push((time, bits));
            }
            _ if t.starts_with(['0', '1', 'x', 'z', 'X', 'Z']) && t.len() > 1 => {
                let v = u8::from(t.as_bytes()[0] == b'1');
                vcd.changes
                    .entry(t[1..].to_string())
                    .or_default()
                    .push((time, vec![v]));
            }
            _ => {}
        }
    }
    vcd
}

impl Vcd {
    /// Transitions of one bit between settled values at `samples` (value = last change
    /// at or before each sample time).
    fn transitions(&self, id: &str, bit: usize, samples: &[u64]) -> u64 {
        let Some(ch) = self.changes.get(id) else {
            return 0;
        };
        let width = self.widths[id];
        let value_at = |t: u64| -> u8 {
            let mut v = 0;
            for (ct, bits) in ch {
                if *ct > t {
                    break;
                }
                // a shorter binary value is zero-extended
                v = if bit < bits.len() { bits[bit] } else { 0 };
                let _ = width;
            }
            v
        };
        samples
            .windows(2)
            .filter(|w| value_at(w[0]) != value_at(w[1]))
            .count() as u64
    }
}

/// An iverilog testbench: two reset cycles, then one vector per cycle; clock edge at
/// 10i+5, inputs at 10i+6; VCD of the design under test.
fn testbench(top: &str, in_width: usize, out_width: usize, vectors: &[Vec<bool>]) -> String {
    let mut s = format!(
        "`timescale 1ns/1ps\nmodule tb;\n  reg clk = 0; reg rst = 1; reg in_valid = 0; reg [{}:0] in_data = 0;\n\
         \x20 wire out_valid; wire [{}:0] out_data;\n  {top} dut(.clk(clk), .rst(rst), .in_valid(in_valid), .in_data(in_data), .out_valid(out_valid), .out_data(out_data));\n\
         \x20 initial begin\n    $dumpfile(\"tb.vcd\"); $dumpvars(1, dut);\n",
        in_width - 1,
        out_width - 1
    );
    let hex = |v: &[bool]| -> String {
        let mut digits = String::new();
        for chunk in (0..v.len()).step_by(4).rev() {
            let mut d = 0;
            for b in 0..4 {
                if chunk + b < v.len() && v[chunk + b] {
                    d |= 1 << b;
                }
            }
            digits.push(std::char::from_digit(d, 16).unwrap());
        }
        digits
    };
    for _ in 0..2 {
        s.push_str("    #5 clk = 1; #1 rst = 1; #4 clk = 0;\n");
    }
    for v in vectors {
        s.push_str(&format!(
            "    #5 clk = 1; #1 rst = 0; in_valid = 1; in_data = {in_width}'h{}; #4 clk = 0;\n",
            hex(v)
        ));
    }
    s.push_str("    #5 $finish;\n  end\nendmodule\n");
    s
}

#[test]
fn gate_level_activity_equals_an_icarus_simulation_and_power_matches_opensta() {
    let Some(lib_path) = liberty() else { return };
    if !require_tools(TOOLS) {
        return;
    }
    let g = small_graph(2);
    let (_, rtl) = compiled(&g, "small_act");
    let (mapped, lib, netlist) = map_netlist(&rtl, &lib_path);
    let lr = mapped.run.liberty.as_ref().unwrap();

    // vectors
    let vectors = random_vectors(&g, 300, 5);
    let bits = gatesim::bus_bits(&vectors.values, &rtl.input().lanes);
    let skip = rtl.latency as usize + 1;
    let mut sim = gatesim::Simulator::new(&netlist, &lib, "clk").unwrap();
    let act = gatesim::stream_activity(
        &mut sim,
        &bits,
        &[],
        skip,
        rtl.initiation_interval,
        |_| {},
        |_| {},
    );
    assert_eq!(act.cycles as usize, bits.len() - skip);

    // the same netlist in Icarus Verilog, with yosys' cell models from the Liberty file
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("yosys")
        .args(["-q", "-p"])
        .arg(format!(
            "read_liberty -ignore_miss_func {}; write_verilog -noattr cells.v",
            mapped.lib_file.path().display()
        ))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        dir.path().join("tb.v"),
        testbench(
            &rtl.top,
            rtl.input().width() as usize,
            rtl.output().width() as usize,
            &bits,
        ),
    )
    .unwrap();
    std::fs::copy(&lr.netlist_v, dir.path().join("mapped.v")).unwrap();
    let out = Command::new("iverilog")
        .args([
            "-g2005", "-o", "tb.vvp", "-s", "tb", "tb.v", "mapped.v", "cells.v",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("vvp")
        .args(["-n", "tb.vvp"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vcd = read_vcd(&std::fs::read_to_string(dir.path().join("tb.vcd")).unwrap());
    // settled values at the end of each cycle (just before the next edge)
    let cycles = 2 + bits.len();
    let samples: Vec<u64> = (0..cycles as u64).map(|i| (10 * i + 14) * 1000).collect();
    let counted = &samples[1 + skip..];
    // VCD times are in ps (timescale 1ns/1ps)
    let mut compared = 0;
    let mut mismatches = Vec::new();
    let mut total = 0;
    for (name, r) in &netlist.aliases {
        let NetRef::Net(k) = r else { continue };
        let Some((id, bit)) = vcd.names.get(name) else {
            continue;
        };
        if Some(*k) == sim.clock {
            continue;
        }
        let theirs = vcd.transitions(id, *bit, counted);
        let ours = act.toggles(*k);
        compared += 1;
        total += ours;
        if theirs != ours {
            mismatches.push(format!("{name}: iverilog {theirs}, ours {ours}"));
        }
    }
    let nets = netlist.net_count as usize;
    let named: std::collections::HashSet<u32> = netlist
        .aliases
        .iter()
        .filter_map(|(_, r)| match r {
            NetRef::Net(k) => Some(*k),
            _ => None,
        })
        .collect();
    let missing: Vec<&String> = netlist
        .aliases
        .iter()
        .filter(|(n, _)| !vcd.names.contains_key(n))
        .map(|(n, _)| n)
        .take(10)
        .collect();
    eprintln!(
        "named nets {} of {nets}; unmatched names {:?}; vcd names {:?}",
        named.len(),
        missing,
        vcd.names.keys().take(10).collect::<Vec<_>>()
    );
    assert!(
        compared * 10 >= nets * 9,
        "compared {compared} of {nets} nets"
    );
    assert!(total > 1000, "too little activity: {total}");
    assert!(
        mismatches.is_empty(),
        "{} of {compared} nets differ: {:?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(10)]
    );

    // power: the table-based computation against OpenSTA at one global activity
    let a = 0.2;
    let uniform = power::uniform_activity(&netlist, a, 1_000_000);
    let ours = power::estimate(&netlist, &lib, &uniform, sim.clock, 25.0, &[]);
    let sta = aecc::report::sta::run(
        mapped.lib_file.path(),
        &lr.netlist_v,
        &rtl.top,
        25.0,
        Some(a),
    )
    .unwrap()
    .power
    .unwrap();
    eprintln!(
        "ours {:?}\nOpenSTA {:?}\nclock C {} pF, all nets C {} pF",
        ours.total, sta, ours.clock_capacitance_pf, ours.net_capacitance_pf
    );
    let near = |x: f64, y: f64, tol: f64| (x - y).abs() <= tol * y.abs().max(1e-12);
    assert!(near(ours.total.leakage_mw, sta.leakage_mw, 0.02), "leakage");
    // OpenSTA's ideal clock has no net power: compare the data nets
    assert!(
        near(
            ours.total.switching_mw - ours.clock_net_switching_mw,
            sta.switching_mw,
            0.03
        ),
        "switching"
    );
    assert!(
        near(ours.total.internal_mw, sta.internal_mw / 2.0, 0.10),
        "internal"
    );
}

#[test]
fn timing_is_consistent_and_a_short_clock_is_violated() {
    let Some(lib_path) = liberty() else { return };
    if !require_tools(TOOLS) {
        return;
    }
    let g = small_graph(4);
    let (_, rtl) = compiled(&g, "small_sta");
    let mapped = map(&rtl, &lib_path);
    let lr = mapped.run.liberty.as_ref().unwrap();
    let r = aecc::report::sta::run(mapped.lib_file.path(), &lr.netlist_v, &rtl.top, 25.0, None)
        .unwrap();
    let t = &r.timing;
    let p = &t.critical_path;
    assert!(
        t.met && t.setup_slack_ns > 0.0 && t.hold_slack_ns >= 0.0,
        "{t:?}"
    );
    assert!(
        (p.required_ns - p.arrival_ns - t.setup_slack_ns).abs() < 2e-4,
        "{p:?}"
    );
    assert!((t.fmax_mhz - 1000.0 / (25.0 - t.setup_slack_ns)).abs() < 1e-6);
    assert!(p.cells >= 3, "{p:?}");
    assert!(p
        .points
        .windows(2)
        .all(|w| w[0].arrival_ns <= w[1].arrival_ns));
    assert!((p.points.last().unwrap().arrival_ns - p.arrival_ns).abs() < 1e-9);
    // a clock shorter than the path
    let short = p.arrival_ns / 2.0;
    let r = aecc::report::sta::run(mapped.lib_file.path(), &lr.netlist_v, &rtl.top, short, None)
        .unwrap();
    assert!(
        !r.timing.met && r.timing.setup_slack_ns < 0.0,
        "{:?}",
        r.timing
    );
    // the same worst path: its slack moves by the change of period
    assert!((r.timing.setup_slack_ns - (t.setup_slack_ns - (25.0 - short))).abs() < 2e-3);
}

/// Weights in registers: the power simulation writes the weight image through the
/// configuration port before the stream, so the gate-level design computes the model
/// (every output lane equals the reference model's) and the activity is that of the
/// real weights. Without the image the registers hold zeros and the outputs differ.
#[test]
fn power_simulation_loads_the_weight_registers_first() {
    use aecc::backend::verilog::{emit_reconfigurable, ReconfigOptions, VerilogOptions};
    use aecc::weights::Image;
    let Some(lib_path) = liberty() else { return };
    if !require_tools(TOOLS) {
        return;
    }
    let g = small_graph(6);
    let d = emit_reconfigurable(
        &g,
        &VerilogOptions::new("small_cfg"),
        &ReconfigOptions::default(),
    )
    .unwrap();
    let rtl = &d.design.rtl;
    let (_, lib, netlist) = map_netlist(rtl, &lib_path);
    assert!(netlist.inputs.contains_key("cfg_we"));
    let vectors = random_vectors(&g, 60, 8);
    let bits = gatesim::bus_bits(&vectors.values, &rtl.input().lanes);
    let reference = aecc_sim::Simulator::new(&g).unwrap();
    let expected: Vec<Vec<i64>> = vectors
        .values
        .iter()
        .map(|x| reference.run(&[x.as_slice()]).unwrap().remove(0))
        .collect();
    let out_lanes = rtl.output().lanes.clone();
    let run = |config: &[(u64, u64)]| {
        let mut sim = gatesim::Simulator::new(&netlist, &lib, "clk").unwrap();
        let mut outputs = Vec::new();
        let valid = netlist.outputs["out_valid"][0];
        let data = netlist.outputs["out_data"].clone();
        let act = gatesim::stream_activity(
            &mut sim,
            &bits,
            config,
            0,
            rtl.initiation_interval,
            |_| {},
            |s| {
                if s.value(valid) {
                    let mut bus = vec![0u64; data.len().div_ceil(64)];
                    for (b, &r) in data.iter().enumerate() {
                        bus[b / 64] |= (s.value(r) as u64) << (b % 64);
                    }
                    outputs.push(aecc_testbench::unpack_lanes(&bus, &out_lanes));
                }
            },
        );
        (outputs, act)
    };
    let image = Image::new(&d.map, &g).unwrap().writes();
    let (loaded, act_loaded) = run(&image);
    // the stream ends before the last results leave the pipeline
    let n = loaded.len();
    assert!(
        n + rtl.latency as usize >= vectors.values.len() && n > 0,
        "{n}"
    );
    assert_eq!(
        loaded,
        expected[..n],
        "gate-level outputs with the image loaded"
    );
    let (zeros, act_zeros) = run(&[]);
    assert_ne!(
        zeros,
        expected[..zeros.len()],
        "zero weights give other outputs"
    );
    let total =
        |a: &gatesim::Activity| (0..a.rises.len() as u32).map(|k| a.toggles(k)).sum::<u64>();
    assert!(total(&act_loaded) > total(&act_zeros));
}

/// `aecc report --liberty` on a `--weights registers` build loads the compile's
/// `config/weights.json` image before the power vectors, and says so; without the image
/// it says that the weight registers stayed at zero.
#[test]
fn report_command_loads_the_weight_image_for_power() {
    let Some(lib_path) = liberty() else { return };
    if !require_tools(TOOLS) {
        return;
    }
    let model = repo_root().join("compiler/tests/cli_data/tiny_dense.onnx");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("chip");
    let aecc = |args: &[&std::ffi::OsStr]| {
        let o = Command::new(env!("CARGO_BIN_EXE_aecc"))
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    aecc(&[
        "compile".as_ref(),
        model.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--weights".as_ref(),
        "registers".as_ref(),
    ]);
    let samples = dir.path().join("x.csv");
    let rows: Vec<String> = (0..40)
        .map(|i| format!("{},{},-{},{}", i % 7, (i * 3) % 5, i % 4, (i * 7) % 8))
        .collect();
    std::fs::write(&samples, rows.join("\n") + "\n").unwrap();
    let power = || {
        aecc(&[
            "report".as_ref(),
            out.as_os_str(),
            "--liberty".as_ref(),
            lib_path.as_os_str(),
            "--model".as_ref(),
            model.as_os_str(),
            "--samples".as_ref(),
            samples.as_os_str(),
            "--no-cache".as_ref(),
        ]);
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap())
                .unwrap();
        r["hardware"]["asic"]["power"].clone()
    };
    let words = aecc::report::config_image(&out).unwrap().unwrap().len();
    assert!(words > 0);
    let loaded = power();
    let source = loaded["vectors"].as_str().unwrap();
    assert!(
        source.ends_with(&format!("after {words} configuration words")),
        "{source}"
    );
    std::fs::remove_file(out.join("config/weights.json")).unwrap();
    let zeros = power();
    let source = zeros["vectors"].as_str().unwrap();
    assert!(source.contains("weight registers left at zero"), "{source}");
    assert!(
        loaded["mean_activity"].as_f64().unwrap() > zeros["mean_activity"].as_f64().unwrap(),
        "{loaded} vs {zeros}"
    );
}

/// The image reader: word `i` to address `i`; no file is no image; a damaged file is an
/// error that names it.
#[test]
fn config_image_reads_words_in_address_order() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(aecc::report::config_image(dir.path()).unwrap(), None);
    std::fs::create_dir(dir.path().join("config")).unwrap();
    let file = dir.path().join("config/weights.json");
    std::fs::write(&file, r#"{"image": ["0a", "ffffffffffffffff", "0"]}"#).unwrap();
    assert_eq!(
        aecc::report::config_image(dir.path()).unwrap(),
        Some(vec![(0, 10), (1, u64::MAX), (2, 0)])
    );
    for bad in [
        r#"{"image": ["xyz"]}"#,
        r#"{"words": 3}"#,
        "{",
        r#"{"image": [7]}"#,
    ] {
        std::fs::write(&file, bad).unwrap();
        let e = aecc::report::config_image(dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("weights.json"), "{bad}: {e}");
    }
}
