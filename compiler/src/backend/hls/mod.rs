//! The HLS C++ backend: emits a Vitis HLS (`ap_fixed`) or Catapult (`ac_fixed`) project
//! from the fixed-point IR.
//!
//! The project has one top function with one input array and one output array of the
//! exact fixed-point types of the graph's input and output, one function per layer,
//! the weights as constant arrays in headers, a C++ testbench that streams integer
//! vectors through the top function, and the tool's tcl build script:
//!
//! ```text
//! firmware/<top>.cpp, <top>.h      top function (pragmas for II = 1 or the reuse factor)
//! firmware/<top>_layers.h          one function per layer
//! firmware/<top>_types.h           a typedef per tensor, spelled exactly as the IR types it
//! firmware/weights/<layer>.h       weights and biases as constant integer arrays
//! firmware/aecc_support.h          raw-integer access and the exact quantizer
//! tb/<top>_tb.cpp                  testbench: INPUTS OUTPUTS [EXPECTED]
//! build_vitis.tcl | build_catapult.tcl
//! README.md
//! ```
//!
//! Every value in the generated C++ equals the value of [`aecc_sim::Simulator`] bit for
//! bit: Dense and Conv accumulate in the exact types that interval analysis gave them,
//! Relu/Add/Transpose/Reshape move values unchanged, and a quantizer is either the
//! conversion into its output type (when the vendor rounding and saturation modes are
//! exactly QONNX's, see [`types`]) or explicit integer code (see [`quant`]). The
//! C-simulation tests check this on every output bit.
//!
//! [`aecc_sim::Simulator`]: https://docs.rs/aecc-sim

mod emit;
mod error;
pub mod names;
pub mod pragmas;
pub mod quant;
mod templates;
pub mod types;

pub use error::HlsError;
pub use types::HlsFlavor;

use std::path::{Path, PathBuf};

/// File name of the Vitis HLS build script in the project.
pub const VITIS_SCRIPT: &str = "build_vitis.tcl";
/// File name of the Catapult build script in the project.
pub const CATAPULT_SCRIPT: &str = "build_catapult.tcl";

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HlsOptions {
    pub flavor: HlsFlavor,
    /// Name of the top function (a C identifier); also the stem of the file names.
    pub top_name: String,
    /// Reuse factor: `None` (or 1) is fully parallel with II = 1; `Some(r)` pipelines
    /// with II = r and lets the tool share multipliers `r` ways.
    pub reuse: Option<u32>,
}

impl HlsOptions {
    /// Fully parallel (II = 1) project for `flavor` with top function `top_name`.
    pub fn new(flavor: HlsFlavor, top_name: impl Into<String>) -> HlsOptions {
        HlsOptions {
            flavor,
            top_name: top_name.into(),
            reuse: None,
        }
    }
}

/// A generated project: relative paths and file contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HlsProject {
    pub flavor: HlsFlavor,
    /// Name of the top function.
    pub top: String,
    /// Relative path and contents of every file, in a fixed order.
    pub files: Vec<(PathBuf, String)>,
}

/// Directory of the test vectors the build scripts' C simulation reads.
pub const TB_DATA_DIR: &str = "tb_data";

impl HlsProject {
    /// Writes every file under `dir` (creating directories as needed).
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        for (rel, text) in &self.files {
            let path = dir.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, text)?;
        }
        Ok(())
    }

    /// The contents of the file at relative path `rel`.
    pub fn file(&self, rel: impl AsRef<Path>) -> Option<&str> {
        let rel = rel.as_ref();
        self.files
            .iter()
            .find(|(p, _)| p == rel)
            .map(|(_, t)| t.as_str())
    }

    /// The C++ sources to compile for C simulation (relative paths): the top function
    /// and the testbench. Include directory: [`HlsProject::include_dir`].
    pub fn csim_sources(&self) -> Vec<PathBuf> {
        vec![
            PathBuf::from(format!("firmware/{}.cpp", self.top)),
            PathBuf::from(format!("tb/{}_tb.cpp", self.top)),
        ]
    }

    /// The sources of the synthesizable design only (no testbench).
    pub fn design_sources(&self) -> Vec<PathBuf> {
        vec![PathBuf::from(format!("firmware/{}.cpp", self.top))]
    }

    /// The project's own include directory (relative).
    pub fn include_dir(&self) -> PathBuf {
        PathBuf::from("firmware")
    }

    /// The vendor header library the project needs (`ap_types` or `ac_types`).
    pub fn header_library(&self) -> &'static str {
        self.flavor.header_library()
    }

    /// Adds test vectors for the build script's C simulation: `tb_data/inputs.txt` (one
    /// input vector of integers per line) and, if given, `tb_data/expected.txt` (the
    /// reference outputs, compared by the testbench).
    pub fn add_test_vectors(&mut self, inputs: &[Vec<i64>], expected: Option<&[Vec<i64>]>) {
        let dir = Path::new(TB_DATA_DIR);
        self.files
            .retain(|(p, _)| !p.starts_with(dir) || p.extension().is_none_or(|e| e != "txt"));
        self.files
            .push((dir.join("inputs.txt"), format_vectors(inputs)));
        if let Some(expected) = expected {
            self.files
                .push((dir.join("expected.txt"), format_vectors(expected)));
        }
    }
}

/// Vectors as the testbench reads and writes them: one per line, integers separated by
/// single spaces.
pub fn format_vectors(vectors: &[Vec<i64>]) -> String {
    let mut s = String::new();
    for v in vectors {
        for (i, x) in v.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(&x.to_string());
        }
        s.push('\n');
    }
    s
}

/// Emits the HLS project of `graph`.
///
/// Errors: [`HlsError::Option`] for an invalid top name or reuse factor,
/// [`HlsError::Graph`] for a graph without exactly one input and one output,
/// [`HlsError::Ir`] if the graph fails verification. Every op and quantizer of the IR
/// is emitted exactly (non-power-of-two scales by exact constant division), so
/// [`HlsError::Unsupported`] is reserved for IR ops added later.
pub fn emit(graph: &aecc_ir::Graph, opts: &HlsOptions) -> Result<HlsProject, HlsError> {
    emit::emit(graph, opts)
}
