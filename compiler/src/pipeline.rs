//! The compile pipeline: ONNX -> IR -> passes -> Verilog (+ report), as one function
//! the CLI and the tests share.

use crate::backend::verilog::{self, ReconfigDesign, ReconfigOptions, VerilogOptions};
use crate::error::Error;
use crate::lower::HardwareOptions;
use crate::passes::{default_pipeline, PassManager};
use crate::report::{design_report, DesignReport};
use aecc_ir::Graph;
use aecc_testbench::RtlDesign;
use std::path::{Path, PathBuf};

/// Options of `aecc compile`.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// Name of the top Verilog module (default: derived from the model file name).
    pub top: Option<String>,
    /// Passes to run instead of the default pipeline.
    pub passes: Option<Vec<String>>,
    /// Compile a quantized Softmax at the end as aecc's LUT softmax (see
    /// [`crate::onnx::ImportOptions`]).
    pub lut_softmax: bool,
    /// Largest estimated size of the fully unrolled design in adder bits (default
    /// [`crate::limits::DEFAULT_MAX_ADDER_BITS`]); see [`crate::limits`].
    pub max_adder_bits: Option<u64>,
    /// Architecture and hardware optimisations of constant-weight designs (README
    /// "Hardware optimisation").
    pub hardware: HardwareOptions,
    /// Weights and biases in configuration registers (`--weights registers`, see
    /// [`crate::weights`]); `None`: constant weights.
    pub reconfig: Option<ReconfigOptions>,
}

/// Everything one compile produces.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub model: PathBuf,
    pub graph: Graph,
    pub rtl: RtlDesign,
    pub report: DesignReport,
    pub warnings: Vec<String>,
    /// The configuration port, memory map and registers (`--weights registers`).
    pub reconfig: Option<ReconfigDesign>,
    /// The passes that ran (`None`: the default pipeline).
    pub passes: Option<Vec<String>>,
}

/// A Verilog identifier derived from the model path: the file stem, or the folder name
/// for the conventional `models/<name>/model.onnx`.
pub fn default_top_name(model: &Path) -> String {
    let stem = model.file_stem().and_then(|s| s.to_str()).unwrap_or("top");
    let base = if stem == "model" {
        model
            .canonicalize()
            .ok()
            .and_then(|p| {
                p.parent()
                    .and_then(|d| d.file_name())
                    .and_then(|d| d.to_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| stem.to_string())
    } else {
        stem.to_string()
    };
    let mut s: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        s.insert_str(0, "m_");
    }
    s
}

/// Imports an ONNX file and runs the IR passes.
pub fn lower(model: &Path, passes: Option<&[String]>) -> Result<(Graph, Vec<String>), Error> {
    lower_with(model, passes, &crate::onnx::ImportOptions::default())
}

/// [`lower`] with import options.
pub fn lower_with(
    model: &Path,
    passes: Option<&[String]>,
    options: &crate::onnx::ImportOptions,
) -> Result<(Graph, Vec<String>), Error> {
    lower_imported(crate::onnx::import_file_with(model, options)?, passes)
}

/// Runs the IR passes on an imported model.
pub fn lower_imported(
    imported: crate::onnx::ImportedModel,
    passes: Option<&[String]>,
) -> Result<(Graph, Vec<String>), Error> {
    let mut graph = imported.graph;
    let names: Vec<&str> = match passes {
        Some(p) => p.iter().map(String::as_str).collect(),
        None => default_pipeline(),
    };
    let pm = PassManager::new(&names).map_err(Error::Invalid)?;
    pm.run(&mut graph)?;
    Ok((graph, imported.warnings))
}

/// Compiles an ONNX model to Verilog and a report (in memory).
pub fn compile(model: &Path, opts: &CompileOptions) -> Result<Compiled, Error> {
    let import = crate::onnx::ImportOptions {
        lut_softmax: opts.lut_softmax,
    };
    let (graph, warnings) = lower_with(model, opts.passes.as_deref(), &import)?;
    let top = opts.top.clone().unwrap_or_else(|| default_top_name(model));
    compile_lowered(graph, warnings, model, &top, opts)
}

/// Compiles a model given as ONNX bytes; `name` stands for the model file in reports and
/// gives the default top name.
pub fn compile_bytes(bytes: &[u8], name: &str, opts: &CompileOptions) -> Result<Compiled, Error> {
    let import = crate::onnx::ImportOptions {
        lut_softmax: opts.lut_softmax,
    };
    let imported = crate::onnx::import_bytes_with(bytes, &import)?;
    let (graph, warnings) = lower_imported(imported, opts.passes.as_deref())?;
    let model = Path::new(name);
    let top = opts.top.clone().unwrap_or_else(|| default_top_name(model));
    compile_lowered(graph, warnings, model, &top, opts)
}

/// The back half of a compile, on a lowered graph: size limits, Verilog, report.
/// `model` names the model in the report.
pub fn compile_lowered(
    graph: Graph,
    warnings: Vec<String>,
    model: &Path,
    top: &str,
    opts: &CompileOptions,
) -> Result<Compiled, Error> {
    let size = crate::limits::design_size(&graph)?;
    crate::limits::check_size(
        &size,
        opts.max_adder_bits
            .unwrap_or(crate::limits::DEFAULT_MAX_ADDER_BITS),
    )?;
    let vopts = VerilogOptions::new(top).with_hardware(opts.hardware);
    let mut warnings = warnings;
    // why the optimised architecture does not cover this graph (checked once)
    let not_lowerable = opts
        .hardware
        .optimize
        .then(|| crate::lower::check_lowerable(&graph).err())
        .flatten();
    let (rtl, reconfig, hardware) = match &opts.reconfig {
        None if opts.hardware.optimize && (opts.hardware.reuse > 1 || not_lowerable.is_none()) => {
            opts.hardware.validate().map_err(Error::Invalid)?;
            let low = crate::lower::lower(&graph, &opts.hardware)
                .map_err(|e| Error::Verilog(e.into()))?;
            for (layer, st) in low.dfg.layers.iter().zip(&low.stats) {
                if st.cmvm.is_some_and(|c| c.sharing_skipped) {
                    let origin = if layer.origin.is_empty() {
                        &layer.name
                    } else {
                        &layer.origin
                    };
                    warnings.push(format!(
                        "layer {origin}: built without shared sub-expressions: it has more \
                         than {} digit pairs, the compile-time limit of the sharing search \
                         (its adders are each output's own CSD tree)",
                        crate::lower::cmvm::CSE_PAIR_BUDGET
                    ));
                }
            }
            let rtl = verilog::emit_lowered(&graph, &low, &vopts)?;
            let hw = crate::lower::report::HardwareReport::new(&low, &rtl);
            (rtl, None, Some(hw))
        }
        None => {
            if let Some(e) = &not_lowerable {
                warnings.push(format!(
                    "reference architecture (`*` operators, one register stage per layer): {e}"
                ));
            }
            (verilog::emit(&graph, &vopts)?, None, None)
        }
        Some(r) => {
            warnings.extend(verilog::undeclared_weights(&graph));
            let d = verilog::emit_reconfigurable(&graph, &vopts, r)?;
            (d.design.rtl.clone(), Some(d), None)
        }
    };
    let mut report = design_report(
        &graph,
        &model.display().to_string(),
        top,
        rtl.latency,
        &warnings,
    )?;
    report.initiation_interval = rtl.initiation_interval;
    report.architecture = hardware;
    // the analytic estimate reads the emitted Verilog; it never fails a compile
    if let Err(e) = crate::report::add_analytic(&mut report, &rtl.files, opts.hardware.clock_ns) {
        report
            .warnings
            .push(format!("analytic hardware estimate unavailable: {e}"));
    }
    Ok(Compiled {
        model: model.to_path_buf(),
        graph,
        rtl,
        report,
        warnings,
        reconfig,
        passes: opts.passes.clone(),
    })
}

impl Compiled {
    /// Writes `DIR/rtl/*.v`, `DIR/report.json` and `DIR/ir.txt`. Returns the files written.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, Error> {
        let rtl_dir = dir.join("rtl");
        std::fs::create_dir_all(&rtl_dir).map_err(|e| Error::io(&rtl_dir, e))?;
        let mut written = Vec::new();
        for (name, text) in &self.rtl.files {
            let p = rtl_dir.join(name);
            std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
            written.push(p);
        }
        let p = dir.join("report.json");
        let json = serde_json::to_string_pretty(&self.report).expect("report serializes");
        std::fs::write(&p, json + "\n").map_err(|e| Error::io(&p, e))?;
        written.push(p);
        let p = dir.join("ir.txt");
        std::fs::write(&p, aecc_ir::printer::print(&self.graph)).map_err(|e| Error::io(&p, e))?;
        written.push(p);
        if let Some(r) = &self.reconfig {
            written.extend(crate::weights::write_chip_files(self, r, dir)?);
        }
        Ok(written)
    }
}
