//! The analytic estimate against yosys on the bundled models, and on ECON-T folded with
//! `--reuse 3` (within 25% for LUTs, flip-flops and gate equivalents), the report files, determinism of report.json, and
//! the report without tools.

mod report_support;

use aecc::pipeline::{compile, CompileOptions};
use aecc::report::{self, ReportOptions};
use aecc_testbench::require_tools;
use report_support::*;
use std::path::PathBuf;
use std::process::Command;

fn model(name: &str) -> PathBuf {
    repo_root().join("models").join(name).join("model.onnx")
}

/// The tolerance the issue asks for.
const TOLERANCE: f64 = 0.25;

#[test]
fn analytic_estimates_are_within_25_percent_of_yosys_on_the_bundled_models() {
    if !require_tools(&["yosys"]) {
        return;
    }
    let mut failures = Vec::new();
    // and ECON-T folded onto a third of its adders (`--reuse 3`: multiplexed operands,
    // add/subtract switching)
    for (name, reuse) in [("econt", 1), ("dense_ae", 1), ("econt", 3)] {
        let mut opts = CompileOptions::default();
        opts.hardware.reuse = reuse;
        let c = compile(&model(name), &opts).unwrap();
        let name = format!("{name} (reuse {reuse})");
        let mut r = c.report.clone();
        let opts = ReportOptions {
            synth: true,
            cache: Some(cache()),
            ..ReportOptions::default()
        };
        run_flows(&mut r, &c.rtl, None, &opts);
        let hw = r.hardware.as_ref().unwrap();
        let a = &hw.analytic.resources;
        let s = hw.synth.as_ref().unwrap();
        for (what, est, yosys) in [
            ("LUTs", a.luts, s.xilinx.luts),
            ("flip-flops", a.ffs, s.xilinx.ffs),
            // yosys' DSP inference has its own width/cost heuristics: an estimate too
            ("DSP48s", a.dsps, s.xilinx.dsps),
            (
                "gate equivalents",
                a.gate_equivalents,
                s.generic.gate_equivalents,
            ),
        ] {
            let ratio = est as f64 / yosys as f64;
            eprintln!("{name}: {what}: analytic {est}, yosys {yosys}, ratio {ratio:.3}");
            if (ratio - 1.0).abs() > TOLERANCE {
                failures.push(format!(
                    "{name} {what}: analytic {est} vs yosys {yosys} ({ratio:.3})"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "outside +-25%: {failures:?}");
}

#[test]
fn the_reader_understands_every_emitted_module() {
    for name in ["econt", "dense_ae"] {
        let c = compile(&model(name), &CompileOptions::default()).unwrap();
        let hw = c.report.hardware.as_ref().expect("analytic section");
        assert!(hw.notes.is_empty(), "{name}: {:?}", hw.notes);
        // every compute layer with logic is matched to its Verilog instance (in the
        // optimised architecture, to its signals: a ReLU fused into a quantizer has none)
        let with_logic: Vec<String> = c
            .report
            .architecture
            .as_ref()
            .expect("optimised architecture")
            .layers
            .iter()
            .map(|l| l.name.clone())
            .collect();
        assert!(with_logic.len() >= 4, "{name}: {with_logic:?}");
        for l in &c.report.layers {
            // the backend's names: non-alphanumerics as `_`, trimmed
            let sanitized: String = l
                .name
                .chars()
                .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
                .collect();
            if with_logic.iter().any(|w| w == sanitized.trim_matches('_')) {
                assert!(
                    l.hardware.is_some(),
                    "{name}: layer {} has no hardware",
                    l.name
                );
            }
        }
        // per-layer estimates add up to the total
        let sum: u64 = c
            .report
            .layers
            .iter()
            .filter_map(|l| l.hardware.as_ref())
            .map(|h| h.analytic.resources.luts)
            .sum::<u64>()
            + hw.top_level.as_ref().unwrap().analytic.resources.luts;
        let total = hw.analytic.resources.luts;
        assert!(
            sum.abs_diff(total) <= c.report.layers.len() as u64,
            "{sum} vs {total}"
        );
    }
}

fn full_report_json(cache_dir: Option<PathBuf>, lib: Option<PathBuf>) -> String {
    let g = small_graph(3);
    let (mut r, rtl) = compiled(&g, "small_det");
    let vectors = random_vectors(&g, 100, 9);
    let opts = ReportOptions {
        synth: true,
        liberty: lib,
        cache: cache_dir,
        ..ReportOptions::default()
    };
    run_flows(&mut r, &rtl, Some(&vectors), &opts);
    let dir = tempfile::tempdir().unwrap();
    let files = report::write_files(&r, dir.path()).unwrap();
    assert_eq!(files.len(), 3);
    std::fs::read_to_string(dir.path().join("report.json")).unwrap()
}

#[test]
fn report_json_is_deterministic() {
    if !require_tools(&["yosys", "sta"]) {
        return;
    }
    let lib = liberty();
    // without a cache, then twice with a fresh cache (a miss, then a hit)
    let cache_dir = tempfile::tempdir().unwrap();
    let a = full_report_json(None, lib.clone());
    let b = full_report_json(Some(cache_dir.path().to_path_buf()), lib.clone());
    let c = full_report_json(Some(cache_dir.path().to_path_buf()), lib.clone());
    assert_eq!(a, b);
    assert_eq!(b, c);
    let v: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert_eq!(v["schema"], report::SCHEMA);
    assert!(v["hardware"]["synth"]["xilinx"]["luts"].as_u64().unwrap() > 0);
    if lib.is_some() {
        assert!(v["hardware"]["asic"]["area_um2"].as_f64().unwrap() > 0.0);
        assert!(
            v["hardware"]["asic"]["power"]["breakdown"]["total_mw"]
                .as_f64()
                .unwrap()
                > 0.0
        );
        assert!(v["hardware"]["asic"]["timing"]["setup_slack_ns"]
            .as_f64()
            .is_some());
    }
}

fn aecc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aecc"))
}

fn tiny_model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cli_data/tiny_dense.onnx")
}

#[test]
fn cli_report_writes_json_markdown_and_html() {
    let dir = tempfile::tempdir().unwrap();
    let o = aecc()
        .args(["compile", tiny_model().to_str().unwrap(), "-o"])
        .arg(dir.path())
        .arg("--report")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(
        html.contains("<svg") && html.contains("Estimated LUTs"),
        "{html}"
    );
    // self-contained: no scripts, no links, only the SVG namespace URL
    assert!(!html.contains("<script") && !html.contains("<link"));
    assert_eq!(
        html.matches("http").count(),
        html.matches("http://www.w3.org/2000/svg").count()
    );
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("| layer |"), "{md}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert!(
        json["hardware"]["analytic"]["resources"]["luts"]
            .as_u64()
            .unwrap()
            > 0
    );
    // `aecc report DIR` on the same directory gives the same analytic section
    let o = aecc().arg("report").arg(dir.path()).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let again: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["hardware"]["analytic"], again["hardware"]["analytic"]);
}

#[test]
fn without_tools_the_report_is_analytic_with_one_install_line() {
    let dir = tempfile::tempdir().unwrap();
    let o = aecc()
        .args(["compile", tiny_model().to_str().unwrap(), "-o"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success());
    let empty = tempfile::tempdir().unwrap();
    let lib = empty.path().join("cells.lib");
    std::fs::write(&lib, "library (x) { }").unwrap();
    let o = aecc()
        .arg("report")
        .arg(dir.path())
        .args(["--synth", "--liberty"])
        .arg(&lib)
        .env("PATH", empty.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("apt-get install"))
        .collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(
        lines[0].contains("yosys") && lines[0].contains("opensta"),
        "{}",
        lines[0]
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert!(
        json["hardware"]["analytic"]["resources"]["gate_equivalents"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(json["hardware"]["synth"].is_null());
}

/// Measures the analytic cost model against yosys module by module (each layer module
/// synthesised alone, `synth -flatten` and `synth_xilinx -flatten`): the data behind the
/// constants in `compiler/src/report/analytic.rs`. Slow (minutes); run by hand:
/// `cargo test -p aecc --test report_analytic calibration -- --ignored --nocapture`.
#[test]
#[ignore]
fn calibration_per_module() {
    if !require_tools(&["yosys"]) {
        return;
    }
    let models: Vec<String> = std::env::var("AECC_CALIBRATE_MODELS")
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_else(|_| vec!["econt".into(), "dense_ae".into()]);
    println!("| module | est LUT | yosys LUT | est CARRY4 | yosys CARRY4 | est cells | yosys cells | est GE | yosys GE | inventory |");
    for name in models {
        let c = compile(&model(&name), &CompileOptions::default()).unwrap();
        let mut modules = Vec::new();
        for (file, text) in &c.rtl.files {
            modules.extend(
                aecc::report::verilog::parse(text).unwrap_or_else(|e| panic!("{file}: {e}")),
            );
        }
        for m in &modules {
            if m.name == c.rtl.top || m.name.ends_with("_lane") || m.name.contains("_ch") {
                continue;
            }
            let d = aecc::report::structure::analyse_design(&modules, &m.name, &[]).unwrap();
            let e = aecc::report::analytic::estimate(&d).total;
            let design = aecc::report::yosys::Design {
                top: &m.name,
                files: &c.rtl.files,
            };
            let g =
                aecc::report::yosys::generic_and_liberty(&design, None, Some(&cache())).unwrap();
            let gen = aecc::report::yosys::GenericFigures::of(&g.stat.design);
            let (x, _) = aecc::report::yosys::xilinx(&design, Some(&cache())).unwrap();
            let i = &e.inventory;
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | cfa {} carry {} cmp {} mux {} gates {} ff {} dsp {}/{} |",
                m.name,
                e.resources.luts,
                x.luts,
                e.resources.carry4,
                x.carry4,
                e.resources.generic_cells,
                gen.cells,
                e.resources.gate_equivalents,
                gen.gate_equivalents,
                i.compressor_full_adders,
                i.carry_chain_bits,
                i.comparator_bits,
                i.mux_bits,
                i.gates,
                i.register_bits,
                e.resources.dsps,
                x.dsps
            );
        }
    }
}
