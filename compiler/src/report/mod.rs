//! Reports about a compiled design: per-layer types, operation counts, latency, and the
//! hardware it costs — analytic estimates (always), yosys synthesis (`--synth`), and
//! area, timing and power on a Liberty standard-cell library (`--liberty`).
//!
//! `report.json` is the machine-readable form (schema in the README, "Reports");
//! `report.md` and `report.html` (per-layer bar charts, inline SVG) are written by
//! [`write_files`]. The CLI prints a short summary from the same data.
//!
//! Files: [`verilog`] reads the emitted Verilog, [`structure`] turns it into an operation
//! inventory, [`analytic`] costs it; [`yosys`], [`sta`] drive the tools; [`liberty`],
//! [`gatesim`], [`power`] compute area and power from a Liberty file; [`markdown`],
//! [`html`] render.

pub mod analytic;
pub mod gatesim;
pub mod html;
pub mod liberty;
pub mod markdown;
pub mod power;
pub mod sta;
pub mod structure;
pub mod tools;
pub mod verilog;
pub mod yosys;

use aecc_ir::{Graph, Op};
use analytic::Estimate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
pub use tools::ReportError;

/// Version of the report.json layout (bump on incompatible changes).
pub const SCHEMA: &str = "aecc-report/1";

/// One tensor's fixed-point type as it appears in reports.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TypeReport {
    pub width: u32,
    pub frac: i32,
    pub int_bits: i32,
    pub signed: bool,
    /// `s10.7` notation.
    pub text: String,
    pub min: String,
    pub max: String,
}

impl TypeReport {
    pub fn new(t: &aecc_ir::TensorInfo) -> TypeReport {
        TypeReport {
            width: t.ty.width,
            frac: t.ty.frac,
            int_bits: t.ty.int_bits(),
            signed: t.ty.signed,
            text: t.ty.to_string(),
            min: t.interval.lo.to_string(),
            max: t.interval.hi.to_string(),
        }
    }
}

/// The constants of a Dense/Conv layer: what a reconfigurable (register) version of the
/// layer stores.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WeightReport {
    pub weights: usize,
    pub nonzero_weights: usize,
    /// Bits of one weight (the weight tensor's fixed-point type).
    pub weight_width: u32,
    pub biases: usize,
    pub bias_width: u32,
    /// `weights * weight_width + biases * bias_width`.
    pub storage_bits: usize,
}

/// Hardware of one layer (a top-level instance of the Verilog design) or of the top
/// module's own logic.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerHardware {
    /// Verilog module and instance name.
    pub module: String,
    pub instance: String,
    pub analytic: Estimate,
    /// yosys `synth` (hierarchical) of this subtree, with `--synth`.
    pub yosys: Option<yosys::GenericFigures>,
    /// Liberty-mapped cells, area and power of this subtree, with `--liberty`.
    pub asic: Option<LayerAsic>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerAsic {
    pub cells: u64,
    pub area_um2: f64,
    pub power: Option<power::PowerBreakdown>,
}

/// One IR node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerReport {
    pub name: String,
    /// The ONNX node(s) it came from.
    pub origin: String,
    pub op: String,
    pub shape: Vec<usize>,
    #[serde(rename = "type")]
    pub ty: TypeReport,
    /// Multiplications by non-zero constants (Dense/Conv).
    pub const_multiplications: usize,
    /// Two-input additions of a naive sum-of-products implementation.
    pub additions: usize,
    /// Elements rounded/saturated (Quantize).
    pub quantized_elements: usize,
    pub weights: Option<WeightReport>,
    /// `None` for wiring (reshape, transpose) and for layers not found in the Verilog.
    pub hardware: Option<LayerHardware>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PortReport {
    pub name: String,
    pub shape: Vec<usize>,
    #[serde(rename = "type")]
    pub ty: TypeReport,
    pub bus_bits: usize,
}

/// yosys results of `--synth`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SynthReport {
    pub yosys: String,
    /// `synth -top TOP` (hierarchical), every module's cells with instances expanded.
    pub generic: yosys::GenericFigures,
    /// `synth_xilinx -flatten`.
    pub xilinx: yosys::XilinxFigures,
    /// `synth_ice40` (+ nextpnr-ice40), with `--ice40`.
    pub ice40: Option<yosys::Ice40Figures>,
    /// analytic / yosys for the totals (1.0 = equal).
    pub analytic_over_yosys: Ratios,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ratios {
    pub luts: f64,
    pub ffs: f64,
    pub gate_equivalents: f64,
    pub generic_cells: f64,
}

/// Area, timing and power on a Liberty library, with `--liberty`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AsicReport {
    /// Library name (from the file) and file name.
    pub library: String,
    pub liberty_file: String,
    pub voltage: f64,
    /// Sum of the Liberty areas of every cell of the flat mapped netlist (um^2 for sky130).
    pub area_um2: f64,
    pub cells: u64,
    pub flip_flops: u64,
    pub cells_by_type: BTreeMap<String, u64>,
    /// The same area as yosys `stat -liberty` computes it (a cross-check).
    pub yosys_area_um2: Option<f64>,
    pub timing: Option<sta::Timing>,
    pub power: Option<PowerReport>,
}

/// Power at the model's activity.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PowerReport {
    /// How the activity was obtained and power computed.
    pub method: String,
    /// Where the input vectors came from.
    pub vectors: String,
    pub vector_count: usize,
    /// Cycles whose transitions were counted (the pipeline fill left out).
    pub cycles: u64,
    /// Mean transitions per cycle over all non-clock nets.
    pub mean_activity: f64,
    pub clock_mhz: f64,
    pub breakdown: power::PowerBreakdown,
    /// One inference per clock (II = 1): total power x clock period x II.
    pub energy_per_inference_nj: f64,
    pub clock_capacitance_pf: f64,
    /// OpenSTA 2.0.17 `report_power` with `set_power_activity -global` at the measured
    /// mean activity (a cross-check; it sums rise and fall internal energy and spreads one
    /// activity over every net).
    pub opensta_global_activity: Option<sta::StaPower>,
}

/// Hardware section of the report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HardwareReport {
    pub clock_ns: f64,
    /// Analytic estimate of the whole design.
    pub analytic: Estimate,
    /// The top module's own logic (input register, valid pipeline, operand delays).
    pub top_level: Option<LayerHardware>,
    pub synth: Option<SynthReport>,
    pub asic: Option<AsicReport>,
    /// Steps that did not run, and why (with the install line for missing tools).
    pub skipped: Vec<String>,
    /// What the analytic reader could not see (constructs it skips, missing modules).
    pub notes: Vec<String>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DesignReport {
    pub schema: String,
    pub aecc_version: String,
    pub model: String,
    pub top: String,
    pub latency_cycles: u32,
    pub initiation_interval: u32,
    pub inputs: Vec<PortReport>,
    pub outputs: Vec<PortReport>,
    pub layers: Vec<LayerReport>,
    pub total_const_multiplications: usize,
    pub total_additions: usize,
    /// Weight and bias bits of every layer (what reconfigurable weights would store).
    pub total_weight_bits: usize,
    pub hardware: Option<HardwareReport>,
    pub warnings: Vec<String>,
    /// The optimised constant-weight architecture's figures: arithmetic, clock target,
    /// latency, delay-model critical path, adders (absent for the reference
    /// architecture and for weights in registers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<crate::lower::report::HardwareReport>,
}

fn port(graph: &Graph, name: &str, id: aecc_ir::NodeId) -> PortReport {
    let t = &graph.node(id).out;
    PortReport {
        name: name.to_string(),
        shape: t.shape.clone(),
        ty: TypeReport::new(t),
        bus_bits: t.len() * t.ty.width as usize,
    }
}

fn weight_report(
    weight: &aecc_ir::ConstTensor,
    bias: Option<&aecc_ir::ConstTensor>,
) -> WeightReport {
    let ww = weight.ty().width;
    let bw = bias.map_or(0, |b| b.ty().width);
    let nb = bias.map_or(0, |b| b.data.len());
    WeightReport {
        weights: weight.data.len(),
        nonzero_weights: weight.data.iter().filter(|&&w| w != 0).count(),
        weight_width: ww,
        biases: nb,
        bias_width: bw,
        storage_bits: weight.data.len() * ww as usize + nb * bw as usize,
    }
}

/// Per-layer report of a graph.
pub fn layers(graph: &Graph) -> Result<Vec<LayerReport>, aecc_ir::IrError> {
    let mut out = Vec::new();
    for id in graph.compute_nodes()? {
        let n = graph.node(id);
        let input = graph
            .operands(id)
            .first()
            .map(|&o| graph.node(o).out.clone());
        let (mut mults, mut adds, mut quant) = (0, 0, 0);
        match (&n.op, &input) {
            (Op::Dense(_) | Op::Conv(_), Some(x)) => {
                let map = n.op.linear_map(x).expect("dense/conv lower");
                for r in &map.rows {
                    mults += r.terms.len();
                    let operands = r.terms.len() + usize::from(r.bias != 0);
                    adds += operands.saturating_sub(1);
                }
            }
            (Op::Add, _) => adds = n.out.len(),
            (Op::Quantize(_), _) => quant = n.out.len(),
            _ => {}
        }
        let weights = match &n.op {
            Op::Dense(d) => Some(weight_report(&d.weight, d.bias.as_ref())),
            Op::Conv(c) => Some(weight_report(&c.weight, c.bias.as_ref())),
            _ => None,
        };
        out.push(LayerReport {
            name: n.name.clone(),
            origin: n.origin.clone(),
            op: n.op.name().to_string(),
            shape: n.out.shape.clone(),
            ty: TypeReport::new(&n.out),
            const_multiplications: mults,
            additions: adds,
            quantized_elements: quant,
            weights,
            hardware: None,
        });
    }
    Ok(out)
}

/// Builds the compile report (without hardware figures; see [`add_analytic`]).
pub fn design_report(
    graph: &Graph,
    model: &str,
    top: &str,
    latency: u32,
    warnings: &[String],
) -> Result<DesignReport, aecc_ir::IrError> {
    let layers = layers(graph)?;
    Ok(DesignReport {
        schema: SCHEMA.to_string(),
        aecc_version: env!("CARGO_PKG_VERSION").to_string(),
        model: model.to_string(),
        top: top.to_string(),
        latency_cycles: latency,
        initiation_interval: 1,
        inputs: graph
            .inputs()
            .iter()
            .map(|&i| port(graph, &graph.node(i).name, i))
            .collect(),
        outputs: graph
            .outputs()
            .iter()
            .map(|(n, i)| port(graph, n, *i))
            .collect(),
        total_const_multiplications: layers.iter().map(|l| l.const_multiplications).sum(),
        total_additions: layers.iter().map(|l| l.additions).sum(),
        total_weight_bits: layers
            .iter()
            .filter_map(|l| l.weights.as_ref())
            .map(|w| w.storage_bits)
            .sum(),
        layers,
        hardware: None,
        warnings: warnings.to_vec(),
        architecture: None,
    })
}

/// A Verilog-safe version of an IR node name, as the Verilog backend makes it.
fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let s = s.trim_matches('_').to_string();
    if s.is_empty() {
        "node".into()
    } else {
        s
    }
}

/// The parsed and analysed Verilog of a design.
pub struct Analysed {
    pub structure: structure::DesignStructure,
    pub estimate: analytic::DesignEstimate,
}

/// The layers of the optimised (flat) architecture for [`structure::analyse_design`]:
/// each layer's signal prefix (`l<k>_`, from `report.json`), owned by `u_<its name>` (the
/// name the reference architecture gives the layer's instance, so the layer matches its
/// IR node the same way). None for other designs.
pub fn layer_groups(report: &DesignReport) -> Vec<(String, String)> {
    report
        .architecture
        .iter()
        .flat_map(|a| a.layers.iter())
        .map(|l| (l.signal_prefix.clone(), format!("u_{}", l.name)))
        .collect()
}

/// Reads every file of a design and analyses it flattened from `top` (`groups`: see
/// [`layer_groups`]).
pub fn analyse_rtl(
    files: &[(String, String)],
    top: &str,
    groups: &[(String, String)],
) -> Result<Analysed, ReportError> {
    let mut modules = Vec::new();
    for (name, text) in files {
        let ms = verilog::parse(text)
            .map_err(|e| ReportError::parse(format!("Verilog file {name}"), e.to_string()))?;
        modules.extend(ms);
    }
    let structure = structure::analyse_design(&modules, top, groups)
        .ok_or_else(|| ReportError::Invalid(format!("the RTL has no module {top}")))?;
    let estimate = analytic::estimate(&structure);
    Ok(Analysed {
        structure,
        estimate,
    })
}

/// Which top-level instance implements each layer (by the backend's naming), in layer
/// order; each instance is claimed once.
fn match_instances(report: &DesignReport, instances: &[(String, String)]) -> Vec<Option<usize>> {
    let mut claimed = vec![false; instances.len()];
    report
        .layers
        .iter()
        .map(|l| {
            let wanted = format!("u_{}", sanitize(&l.name));
            let found = instances.iter().enumerate().position(|(i, (inst, _))| {
                !claimed[i]
                    && (*inst == wanted
                        || inst
                            .strip_prefix(&wanted)
                            .and_then(|rest| rest.strip_prefix('_'))
                            .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit())))
            });
            if let Some(i) = found {
                claimed[i] = true;
            }
            found
        })
        .collect()
}

/// Fills the analytic hardware section from the emitted Verilog (instant; always run).
pub fn add_analytic(
    report: &mut DesignReport,
    files: &[(String, String)],
    clock_ns: f64,
) -> Result<Analysed, ReportError> {
    let analysed = analyse_rtl(files, &report.top, &layer_groups(report))?;
    let owners = &analysed.structure.owners;
    let matches = match_instances(report, owners);
    for (layer, m) in report.layers.iter_mut().zip(&matches) {
        layer.hardware = m.map(|i| {
            let (inst, module) = &owners[i];
            LayerHardware {
                module: module.clone(),
                instance: inst.clone(),
                analytic: analysed.estimate.by_instance[inst].clone(),
                yosys: None,
                asic: None,
            }
        });
    }
    let mut notes = analysed.structure.notes.clone();
    let unmatched: Vec<&str> = owners
        .iter()
        .enumerate()
        .filter(|(i, _)| !matches.contains(&Some(*i)))
        .map(|(_, (inst, _))| inst.as_str())
        .collect();
    if !unmatched.is_empty() {
        notes.push(format!(
            "top-level instances not matched to an IR layer (counted in the total): {}",
            unmatched.join(", ")
        ));
    }
    report.hardware = Some(HardwareReport {
        clock_ns,
        analytic: analysed.estimate.total.clone(),
        top_level: Some(LayerHardware {
            module: report.top.clone(),
            instance: String::new(),
            analytic: analysed.estimate.top_level.clone(),
            yosys: None,
            asic: None,
        }),
        synth: None,
        asic: None,
        skipped: Vec::new(),
        notes,
    });
    Ok(analysed)
}

/// Options of the tool-based parts of a report.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// yosys: generic cells, transistors, Xilinx LUT/FF/CARRY/DSP.
    pub synth: bool,
    /// yosys synth_ice40 + nextpnr-ice40 (when the design fits an iCE40 HX8K).
    pub ice40: bool,
    /// Liberty library for area, timing and power.
    pub liberty: Option<PathBuf>,
    /// Clock period (ns) for timing and power.
    pub clock_ns: f64,
    /// Where tool results are cached (`None`: no cache).
    pub cache: Option<PathBuf>,
}

impl Default for ReportOptions {
    fn default() -> ReportOptions {
        ReportOptions {
            synth: false,
            ice40: false,
            liberty: None,
            clock_ns: 25.0,
            cache: Some(tools::default_cache_dir()),
        }
    }
}

/// Input vectors for the power simulation (integer lanes of the input port).
#[derive(Debug, Clone)]
pub struct Vectors {
    /// e.g. `models/econt/samples/input.npy (1000 samples)`.
    pub source: String,
    pub values: Vec<Vec<i64>>,
    /// Words written through the configuration port before the first vector
    /// (`(address, word)`): the weight image of a design with weights in registers
    /// ([`config_image`]); empty for constant weights.
    pub config: Vec<(u64, u64)>,
}

/// What the report tells its caller while it runs.
pub enum Progress<'a> {
    /// A step starts (with a length when it reports positions).
    Start(&'a str, Option<u64>),
    Position(u64),
    /// The step ended; the text says what it found.
    Done(String),
}

/// Runs the requested tool flows and fills the report's hardware section (which
/// [`add_analytic`] must have created). Missing tools do not fail the report: the step is
/// listed in `hardware.skipped` with the install line.
pub fn add_tool_flows(
    report: &mut DesignReport,
    rtl: &aecc_testbench::RtlDesign,
    vectors: Option<&Vectors>,
    opts: &ReportOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), ReportError> {
    let analysed = analyse_rtl(&rtl.files, &rtl.top, &layer_groups(report))?;
    let hw = report
        .hardware
        .as_mut()
        .ok_or_else(|| ReportError::Invalid("add_analytic must run first".into()))?;
    hw.clock_ns = opts.clock_ns;
    let mut missing: Vec<&str> = Vec::new();
    let need_yosys = opts.synth || opts.ice40 || opts.liberty.is_some();
    if need_yosys && !tools::available("yosys") {
        missing.push("yosys");
    }
    if opts.liberty.is_some() && !tools::available("sta") {
        missing.push("sta");
    }
    if !missing.is_empty() {
        let line = tools::install_line(&missing);
        if missing.contains(&"yosys") {
            hw.skipped.push(format!(
                "synthesis, area, timing and power not run: yosys is missing; {line}"
            ));
        } else {
            hw.skipped
                .push(format!("timing not run: OpenSTA (sta) is missing; {line}"));
        }
    }
    let design = yosys::Design {
        top: &rtl.top,
        files: &rtl.files,
    };
    let cache = opts.cache.as_deref();
    let yosys_ok = !missing.contains(&"yosys");

    // Liberty: the dont_use copy (a temporary file; never written into the repository)
    let lib_copy = match (&opts.liberty, yosys_ok) {
        (Some(path), true) => {
            let text = std::fs::read_to_string(path).map_err(ReportError::io(path))?;
            let marked = liberty::with_dont_use(&text);
            let tmp = tempfile::Builder::new()
                .prefix("aecc-liberty-")
                .suffix(".lib")
                .tempfile()
                .map_err(ReportError::io(std::env::temp_dir()))?;
            std::fs::write(tmp.path(), &marked).map_err(ReportError::io(tmp.path()))?;
            Some((tmp, marked))
        }
        _ => None,
    };

    if (opts.synth || lib_copy.is_some()) && yosys_ok {
        progress(Progress::Start(
            "yosys synth (generic cells per layer)",
            None,
        ));
        let run =
            yosys::generic_and_liberty(&design, lib_copy.as_ref().map(|(t, _)| t.path()), cache)?;
        let total = yosys::GenericFigures::of(&run.stat.design);
        progress(Progress::Done(format!(
            "yosys: {} generic cells, {} gate equivalents{}",
            total.cells,
            total.gate_equivalents,
            if run.cached { " (cached)" } else { "" }
        )));
        // per layer: the flat generic netlist's cells attributed to layers
        let text = std::fs::read_to_string(&run.generic_netlist)
            .map_err(ReportError::io(&run.generic_netlist))?;
        let generic = gatesim::Netlist::from_yosys_json_cells(&text, &rtl.top)?;
        drop(text);
        let owners = generic.attribute(
            &|c| yosys::is_generic_ff(&c.cell),
            &|c, pin| c.outputs.iter().any(|o| o == pin),
            &|line| instance_at_line(&analysed, line),
        );
        let mut per: BTreeMap<String, yosys::CellCounts> = BTreeMap::new();
        for (c, o) in generic.cells.iter().zip(&owners) {
            *per.entry(o.clone())
                .or_default()
                .cells_by_type
                .entry(c.cell.clone())
                .or_default() += 1;
        }
        drop(generic);
        for layer in report.layers.iter_mut() {
            if let Some(h) = layer.hardware.as_mut() {
                h.yosys = Some(yosys::GenericFigures::of(
                    &per.get(&h.instance).cloned().unwrap_or_default(),
                ));
            }
        }
        let hw = report.hardware.as_mut().unwrap();
        if let Some(t) = hw.top_level.as_mut() {
            t.yosys = Some(yosys::GenericFigures::of(
                &per.get("top").cloned().unwrap_or_default(),
            ));
        }
        if opts.synth {
            progress(Progress::Start("yosys synth_xilinx -flatten", None));
            let (xilinx, cached) = yosys::xilinx(&design, cache)?;
            progress(Progress::Done(format!(
                "synth_xilinx: {} LUTs, {} FFs, {} CARRY4, {} DSPs{}",
                xilinx.luts,
                xilinx.ffs,
                xilinx.carry4,
                xilinx.dsps,
                if cached { " (cached)" } else { "" }
            )));
            let ice40 = if opts.ice40 {
                progress(Progress::Start("yosys synth_ice40 + nextpnr-ice40", None));
                let (f, _) = yosys::ice40(
                    &design,
                    1000.0 / opts.clock_ns,
                    rtl.input().width(),
                    rtl.output().width(),
                    cache,
                )?;
                progress(Progress::Done(format!(
                    "iCE40: {} LUTs, Fmax {}",
                    f.luts,
                    f.fmax_mhz.map_or("-".into(), |m| format!("{m:.1} MHz"))
                )));
                Some(f)
            } else {
                None
            };
            let hw = report.hardware.as_mut().unwrap();
            let a = &hw.analytic.resources;
            let ratio = |x: u64, y: u64| {
                if y == 0 {
                    0.0
                } else {
                    round4(x as f64 / y as f64)
                }
            };
            hw.synth = Some(SynthReport {
                yosys: tools::version("yosys"),
                analytic_over_yosys: Ratios {
                    luts: ratio(a.luts, xilinx.luts),
                    ffs: ratio(a.ffs, xilinx.ffs),
                    gate_equivalents: ratio(a.gate_equivalents, total.gate_equivalents),
                    generic_cells: ratio(a.generic_cells, total.cells),
                },
                generic: total,
                xilinx,
                ice40,
            });
        }
        if let (Some(lib_run), Some((lib_file, marked))) = (&run.liberty, &lib_copy) {
            asic_flows(
                report,
                &analysed,
                lib_run,
                lib_file.path(),
                marked,
                rtl,
                vectors,
                opts,
                &missing,
                progress,
            )?;
        }
    }
    Ok(())
}

/// The top-level instance whose statement is at `line` of the top module's file.
fn instance_at_line(a: &Analysed, line: usize) -> Option<String> {
    let k = a.structure.owner_lines.iter().position(|&l| l == line)?;
    Some(a.structure.owners[k].0.clone())
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

#[allow(clippy::too_many_arguments)]
fn asic_flows(
    report: &mut DesignReport,
    analysed: &Analysed,
    run: &yosys::LibertyRun,
    lib_file: &Path,
    lib_text: &str,
    rtl: &aecc_testbench::RtlDesign,
    vectors: Option<&Vectors>,
    opts: &ReportOptions,
    missing: &[&str],
    progress: &mut dyn FnMut(Progress),
) -> Result<(), ReportError> {
    progress(Progress::Start(
        "reading the Liberty file and the mapped netlist",
        None,
    ));
    let lib = liberty::Library::parse(lib_text)?;
    let json =
        std::fs::read_to_string(&run.netlist_json).map_err(ReportError::io(&run.netlist_json))?;
    let netlist = gatesim::Netlist::from_yosys_json_cells(&json, &rtl.top)?;
    let owners = netlist.attribute(
        &|c| lib.cells.get(&c.cell).is_some_and(|l| l.state.is_some()),
        &|c, pin| {
            lib.cells
                .get(&c.cell)
                .and_then(|l| l.pin(pin))
                .is_some_and(|p| p.direction == liberty::Direction::Output)
        },
        &|line| instance_at_line(analysed, line),
    );
    let owner_of: std::collections::HashMap<&str, &str> = netlist
        .cells
        .iter()
        .zip(&owners)
        .map(|(c, o)| (c.name.as_str(), o.as_str()))
        .collect();
    // area: the sum of the Liberty areas of the cells of the flat netlist
    let mut area = 0.0;
    let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_inst: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    let mut ffs = 0;
    for (c, o) in netlist.cells.iter().zip(&owners) {
        let cell = lib.cells.get(&c.cell).ok_or_else(|| {
            ReportError::parse(
                "mapped netlist",
                format!("cell type {} is not in the Liberty file", c.cell),
            )
        })?;
        area += cell.area;
        *by_type.entry(c.cell.clone()).or_default() += 1;
        if cell.state.is_some() {
            ffs += 1;
        }
        let e = by_inst.entry(o.clone()).or_default();
        e.0 += 1;
        e.1 += cell.area;
    }
    progress(Progress::Done(format!(
        "{}: {} cells, {:.0} um^2",
        lib.name,
        netlist.cells.len(),
        area
    )));
    let lib_name = opts
        .liberty
        .as_ref()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut asic = AsicReport {
        library: lib.name.clone(),
        liberty_file: lib_name,
        voltage: lib.voltage,
        area_um2: round4(area),
        cells: netlist.cells.len() as u64,
        flip_flops: ffs,
        cells_by_type: by_type,
        yosys_area_um2: run.yosys_chip_area,
        timing: None,
        power: None,
    };
    // activity from the model's vectors, power from the Liberty tables
    let mut power_est = None;
    if let Some(v) = vectors.filter(|v| !v.values.is_empty()) {
        let mut sim = gatesim::Simulator::new(&netlist, &lib, "clk")?;
        let bits = gatesim::bus_bits(&v.values, &rtl.input().lanes);
        progress(Progress::Start(
            "gate-level simulation (switching activity)",
            Some(bits.len() as u64),
        ));
        // leave out the pipeline fill: every register holds vector data from here on
        let ii = rtl.initiation_interval.max(1);
        let fill = rtl.latency.div_ceil(ii) as usize + 1;
        let skip = fill.min(bits.len().saturating_sub(1));
        let act = gatesim::stream_activity(
            &mut sim,
            &bits,
            &v.config,
            skip,
            ii,
            |i| progress(Progress::Position(i as u64)),
            |_| {},
        );
        let est = power::estimate(&netlist, &lib, &act, sim.clock, opts.clock_ns, &owners);
        progress(Progress::Done(format!(
            "activity: {} cycles, mean {:.3} transitions/net/cycle; {:.3} mW",
            act.cycles, est.mean_activity, est.total.total_mw
        )));
        let source = if !netlist.inputs.contains_key("cfg_we") {
            v.source.clone()
        } else if v.config.is_empty() {
            format!(
                "{}; weight registers left at zero (no config/weights.json image)",
                v.source
            )
        } else {
            format!("{}, after {} configuration words", v.source, v.config.len())
        };
        power_est = Some((est, source, v.values.len()));
    }
    let mut opensta_power = None;
    if !missing.contains(&"sta") {
        progress(Progress::Start("OpenSTA (timing)", None));
        let activity = power_est.as_ref().map(|(e, _, _)| round4(e.mean_activity));
        let r = sta::run(lib_file, &run.netlist_v, &rtl.top, opts.clock_ns, activity)?;
        progress(Progress::Done(format!(
            "OpenSTA: setup slack {:.3} ns, hold slack {:.3} ns at {} ns",
            r.timing.setup_slack_ns, r.timing.hold_slack_ns, opts.clock_ns
        )));
        let mut timing = r.timing;
        timing.set_layers(&|cell| owner_of.get(cell).map(|o| o.to_string()));
        asic.timing = Some(timing);
        opensta_power = r.power;
    }
    asic.power = power_est
        .as_ref()
        .map(|(e, s, n)| power_report(e, s, *n, opensta_power));
    // per-layer area and power
    for layer in report.layers.iter_mut() {
        if let Some(h) = layer.hardware.as_mut() {
            let (cells, a) = by_inst.get(&h.instance).copied().unwrap_or((0, 0.0));
            h.asic = Some(LayerAsic {
                cells,
                area_um2: round4(a),
                power: power_est
                    .as_ref()
                    .and_then(|(e, _, _)| e.by_instance.get(&h.instance))
                    .map(round_power),
            });
        }
    }
    let hw = report.hardware.as_mut().unwrap();
    if let Some(t) = hw.top_level.as_mut() {
        let (cells, a) = by_inst.get("top").copied().unwrap_or((0, 0.0));
        t.asic = Some(LayerAsic {
            cells,
            area_um2: round4(a),
            power: power_est
                .as_ref()
                .and_then(|(e, _, _)| e.by_instance.get("top"))
                .map(round_power),
        });
    }
    hw.asic = Some(asic);
    if vectors.is_none() {
        hw.skipped.push(
            "power not computed: no input vectors (the model's samples/input.npy was not found)"
                .into(),
        );
    }
    Ok(())
}

fn round_power(p: &power::PowerBreakdown) -> power::PowerBreakdown {
    let r = |x: f64| (x * 1e6).round() / 1e6;
    power::PowerBreakdown {
        internal_mw: r(p.internal_mw),
        switching_mw: r(p.switching_mw),
        leakage_mw: r(p.leakage_mw),
        total_mw: r(p.total_mw),
        clock_mw: r(p.clock_mw),
    }
}

/// The text of [`PowerReport::method`].
pub const POWER_METHOD: &str = "zero-delay gate-level simulation of the Liberty-mapped netlist on the input vectors \
     (per-net rising/falling transitions); power from the Liberty tables: internal energy per output transition \
     (rise/fall tables at the propagated input transition and the net load, related pins weighted by their transitions), \
     input-pin internal energy, switching 1/2 C V^2 per transition (pin capacitances + the default wire-load model), \
     clock net 2 transitions/cycle, cell leakage";

fn power_report(
    e: &power::PowerEstimate,
    source: &str,
    n: usize,
    sta: Option<sta::StaPower>,
) -> PowerReport {
    let b = round_power(&e.total);
    PowerReport {
        method: POWER_METHOD.to_string(),
        vectors: source.to_string(),
        vector_count: n,
        cycles: e.cycles,
        mean_activity: (e.mean_activity * 1e6).round() / 1e6,
        clock_mhz: round4(1000.0 / e.clock_ns),
        energy_per_inference_nj: (b.total_mw * e.clock_ns * 1e-3 * 1e6).round() / 1e6,
        breakdown: b,
        clock_capacitance_pf: (e.clock_capacitance_pf * 1e6).round() / 1e6,
        opensta_global_activity: sta,
    }
}

/// Writes `report.json`, `report.md` and `report.html` into `dir`.
pub fn write_files(report: &DesignReport, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(ReportError::io(dir))?;
    let json = serde_json::to_string_pretty(report).expect("report serializes") + "\n";
    let mut out = Vec::new();
    for (name, text) in [
        ("report.json", json),
        ("report.md", markdown::render(report)),
        ("report.html", html::render(report)),
    ] {
        out.push(tools::write(dir, name, &text)?);
    }
    Ok(out)
}

impl DesignReport {
    /// A short human summary for the terminal.
    pub fn summary(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        writeln!(
            s,
            "{} -> module {}: latency {} cycles, II {}",
            self.model, self.top, self.latency_cycles, self.initiation_interval
        )
        .unwrap();
        for p in &self.inputs {
            writeln!(
                s,
                "  input  {} {:?} {} ({} bus bits)",
                p.name, p.shape, p.ty.text, p.bus_bits
            )
            .unwrap();
        }
        for p in &self.outputs {
            writeln!(
                s,
                "  output {} {:?} {} ({} bus bits)",
                p.name, p.shape, p.ty.text, p.bus_bits
            )
            .unwrap();
        }
        for l in &self.layers {
            let ops = if l.const_multiplications > 0 {
                format!(
                    "  {} const-mults, {} adds",
                    l.const_multiplications, l.additions
                )
            } else {
                String::new()
            };
            writeln!(
                s,
                "  {:<10} {:<24} {:?} {}{}",
                l.op, l.name, l.shape, l.ty.text, ops
            )
            .unwrap();
        }
        writeln!(
            s,
            "  total: {} constant multiplications, {} additions",
            self.total_const_multiplications, self.total_additions
        )
        .unwrap();
        if let Some(a) = &self.architecture {
            s.push_str(&a.summary());
        }
        if let Some(hw) = &self.hardware {
            let r = &hw.analytic.resources;
            let i = &hw.analytic.inventory;
            writeln!(
                s,
                "  estimate: {} LUTs, {} FFs, {} DSPs (Xilinx-7-like); {} gate equivalents; {} adders, {} register bits",
                r.luts, r.ffs, r.dsps, r.gate_equivalents, i.adders, i.register_bits
            )
            .unwrap();
            if let Some(sy) = &hw.synth {
                writeln!(
                    s,
                    "  yosys: {} LUTs, {} FFs, {} CARRY4, {} DSPs; {} generic cells, {} gate equivalents",
                    sy.xilinx.luts, sy.xilinx.ffs, sy.xilinx.carry4, sy.xilinx.dsps, sy.generic.cells, sy.generic.gate_equivalents
                )
                .unwrap();
            }
            if let Some(a) = &hw.asic {
                writeln!(
                    s,
                    "  {}: {:.0} um^2, {} cells",
                    a.library, a.area_um2, a.cells
                )
                .unwrap();
                if let Some(t) = &a.timing {
                    writeln!(
                        s,
                        "  timing at {} ns: setup slack {:.3} ns, hold slack {:.3} ns (Fmax {:.1} MHz)",
                        t.clock_ns, t.setup_slack_ns, t.hold_slack_ns, t.fmax_mhz
                    )
                    .unwrap();
                }
                if let Some(p) = &a.power {
                    writeln!(
                        s,
                        "  power at {:.1} MHz: {:.3} mW, {:.4} nJ per inference",
                        p.clock_mhz, p.breakdown.total_mw, p.energy_per_inference_nj
                    )
                    .unwrap();
                }
            }
            for k in &hw.skipped {
                writeln!(s, "  note: {k}").unwrap();
            }
        }
        for w in &self.warnings {
            writeln!(s, "  warning: {w}").unwrap();
        }
        s
    }
}

/// The input vectors for the power simulation: `samples` (a `.npy`/`.csv` of real
/// inputs), else the model's committed `samples/input.npy`, quantized by the model's
/// input quantizer. `None` when neither exists.
pub fn model_vectors(
    graph: &Graph,
    model: &Path,
    samples: Option<&Path>,
) -> Result<Option<Vectors>, crate::Error> {
    let sim = aecc_sim::Simulator::new(graph)?;
    if sim.input_count() != 1 {
        return Ok(None);
    }
    let path = match samples {
        Some(p) => p.to_path_buf(),
        None => crate::verify::samples_dir(model).join("input.npy"),
    };
    if !path.exists() {
        return Ok(None);
    }
    let batch = aecc_sim::io::read_batch(&path)?;
    if batch.sample_len() != sim.input_info(0).len() {
        return Err(crate::Error::Invalid(format!(
            "{}: {} values per sample, the model input has {}",
            path.display(),
            batch.sample_len(),
            sim.input_info(0).len()
        )));
    }
    let mut values = Vec::with_capacity(batch.samples());
    for i in 0..batch.samples() {
        values.push(sim.quantize_input(0, batch.sample(i))?);
    }
    Ok(Some(Vectors {
        source: format!("{} ({} samples)", path.display(), values.len()),
        values,
        config: Vec::new(),
    }))
}

/// The configuration writes of a compiled directory with weights in registers: the
/// words of `DIR/config/weights.json` (written by `aecc compile --weights registers`, or
/// replaced by `aecc weights`), word `i` to address `i`. `None` when the file does not
/// exist (constant weights).
pub fn config_image(dir: &Path) -> Result<Option<Vec<(u64, u64)>>, ReportError> {
    let path = dir.join("config").join("weights.json");
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(ReportError::io(&path))?;
    let bad = |why: String| ReportError::parse(path.display().to_string(), why);
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let words = json
        .get("image")
        .and_then(|v| v.as_array())
        .ok_or_else(|| bad("no \"image\" list of words".into()))?;
    words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let hex = w
                .as_str()
                .ok_or_else(|| bad(format!("image word {i} is not a string")))?;
            u64::from_str_radix(hex, 16)
                .map(|x| (i as u64, x))
                .map_err(|e| bad(format!("image word {i} ({hex:?}) is not hexadecimal: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The design of a compiled directory: `DIR/rtl/*.v` (sorted by name) with the ports and
/// latency recorded in `DIR/report.json`.
pub fn load_compiled(dir: &Path) -> Result<(DesignReport, aecc_testbench::RtlDesign), ReportError> {
    let json_path = dir.join("report.json");
    let text = std::fs::read_to_string(&json_path).map_err(ReportError::io(&json_path))?;
    let report: DesignReport = serde_json::from_str(&text).map_err(|e| {
        ReportError::parse(
            json_path.display().to_string(),
            format!("{e} (is it from `aecc compile` of this version? compile again)"),
        )
    })?;
    let rtl_dir = dir.join("rtl");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&rtl_dir)
        .map_err(ReportError::io(&rtl_dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "v"))
        .collect();
    names.sort();
    let mut files = Vec::new();
    for p in names {
        let text = std::fs::read_to_string(&p).map_err(ReportError::io(&p))?;
        files.push((p.file_name().unwrap().to_string_lossy().into_owned(), text));
    }
    let port = |name: &str, p: &PortReport| aecc_testbench::Port {
        name: name.to_string(),
        lanes: vec![
            aecc_testbench::Lane {
                width: p.ty.width,
                signed: p.ty.signed,
            };
            p.shape.iter().product()
        ],
    };
    let (Some(i), Some(o)) = (report.inputs.first(), report.outputs.first()) else {
        return Err(ReportError::Invalid(format!(
            "{}: no input or output port",
            json_path.display()
        )));
    };
    let rtl = aecc_testbench::RtlDesign {
        top: report.top.clone(),
        files,
        inputs: vec![port("in_data", i)],
        outputs: vec![port("out_data", o)],
        latency: report.latency_cycles,
        initiation_interval: report.initiation_interval.max(1),
    };
    Ok((report, rtl))
}
