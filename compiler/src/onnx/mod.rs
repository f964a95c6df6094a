//! The ONNX importer: a QAT ONNX model (QONNX `Quant` nodes) to the fixed-point IR.
//!
//! ```no_run
//! let model = aecc::onnx::import_file(std::path::Path::new("model.onnx"))?;
//! for w in &model.warnings {
//!     eprintln!("warning: {w}");
//! }
//! println!("{}", aecc::ir::printer::print(&model.graph));
//! # Ok::<(), aecc::onnx::ImportError>(())
//! ```
//!
//! What the importer does:
//! - decodes the protobuf with hand-declared prost messages ([`proto`]);
//! - rejects the model at once if any node's op is not supported, listing every such
//!   node ([`list_unsupported`] gives the same list without importing);
//! - checks tensor names (duplicates, undefined names) and orders the nodes
//!   topologically (cycles are errors);
//! - fixes the batch dimension (symbolic or 1) to 1; every other dimension must be known;
//! - absorbs the `Quant` that must directly follow each graph input into that input
//!   (`Op::Input { from_float }`), typed by the quantizer's output type;
//! - evaluates at compile time everything that is constant: `Quant` of weights and
//!   biases (exact integers), `Constant`, `Identity`, shape arithmetic feeding `Reshape`;
//! - builds one IR node per computing op, named after its ONNX output tensor, with the
//!   ONNX node recorded as its origin (`NAME (OpType)`);
//! - folds `Pad` into the following `Conv`, and `Add` of a constant into the bias of the
//!   preceding `Gemm`/`MatMul`/`Conv`;
//! - runs the IR verifier on the result.
//!
//! Unquantized float weights and biases (no `Quant` node) are put on a power-of-two grid:
//! a bias exactly if it needs at most [`FLOAT_BIAS_EXTRA_FRAC_BITS`] fractional bits more
//! than the accumulator's product grid, else rounded half-to-even onto that grid; a
//! weight exactly if it fits the finest grid on which its largest magnitude is a signed
//! [`FLOAT_WEIGHT_BITS`]-bit integer, else rounded half-to-even onto that grid. Each
//! rounding is reported in [`ImportedModel::warnings`] with its largest absolute error.

mod attrs;
pub mod builder;
mod constant;
mod error;
mod import;
mod inspect;
mod ops;
pub mod proto;

pub use constant::{MAX_CONSTANT_ELEMENTS, MAX_ELEMENTS};
pub use error::{ImportError, UnsupportedNode};
pub use inspect::{inspect, CompileIssue, Inspection};
pub use ops::supported_ops;
pub use ops::weights::{FLOAT_BIAS_EXTRA_FRAC_BITS, FLOAT_WEIGHT_BITS};

use prost::Message;
use std::path::Path;

/// A model imported into the IR.
#[derive(Debug, Clone)]
pub struct ImportedModel {
    pub graph: aecc_ir::Graph,
    /// Deviations from the float semantics and other things the user should know, one
    /// line each (e.g. an unquantized float bias rounded onto a grid, with its error).
    pub warnings: Vec<String>,
    /// Version of the default (`ai.onnx`) operator set.
    pub opset: i64,
    pub ir_version: i64,
    /// `producer_name` and `producer_version`, e.g. `pytorch 2.5.1`.
    pub producer: String,
}

/// The opset version of every domain the model imports (`""` for `ai.onnx`).
fn opsets_of(model: &proto::ModelProto) -> std::collections::HashMap<String, i64> {
    model
        .opset_import
        .iter()
        .map(|o| {
            let d = if o.domain == "ai.onnx" {
                ""
            } else {
                o.domain.as_str()
            };
            (d.to_string(), o.version)
        })
        .collect()
}

fn decode(bytes: &[u8]) -> Result<proto::ModelProto, ImportError> {
    if bytes.is_empty() {
        return Err(ImportError::Empty);
    }
    proto::ModelProto::decode(bytes).map_err(|e| ImportError::Protobuf(e.to_string()))
}

/// Choices the importer cannot make alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Compile a quantized `Softmax` at the end of the graph as aecc's LUT softmax (an
    /// `exp` table and an exact division; it approximates the float softmax) instead of
    /// dropping it (the default: the output is the exact pre-softmax tensor).
    pub lut_softmax: bool,
}

/// Imports an ONNX model from its serialized bytes.
pub fn import_bytes(bytes: &[u8]) -> Result<ImportedModel, ImportError> {
    import_bytes_with(bytes, &ImportOptions::default())
}

/// [`import_bytes`] with options.
pub fn import_bytes_with(
    bytes: &[u8],
    options: &ImportOptions,
) -> Result<ImportedModel, ImportError> {
    let model = decode(bytes)?;
    let opset = import::check_model(&model)?;
    let gp = model.graph.as_ref().expect("checked by check_model");
    let (graph, warnings) = import::import_graph(gp, opsets_of(&model), *options)?;
    let producer = format!("{} {}", model.producer_name, model.producer_version)
        .trim()
        .to_string();
    Ok(ImportedModel {
        graph,
        warnings,
        opset,
        ir_version: model.ir_version.unwrap_or(0),
        producer,
    })
}

/// Imports an ONNX model from a file.
pub fn import_file(path: &Path) -> Result<ImportedModel, ImportError> {
    import_file_with(path, &ImportOptions::default())
}

/// [`import_file`] with options.
pub fn import_file_with(
    path: &Path,
    options: &ImportOptions,
) -> Result<ImportedModel, ImportError> {
    let bytes = std::fs::read(path).map_err(|e| ImportError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    import_bytes_with(&bytes, options)
}

/// Every node of the model whose op aecc does not support (empty when all are), for
/// `aecc inspect`. Errors only when the bytes are not an ONNX model.
pub fn list_unsupported(bytes: &[u8]) -> Result<Vec<UnsupportedNode>, ImportError> {
    let model = decode(bytes)?;
    import::check_model(&model)?;
    let gp = model.graph.as_ref().expect("checked by check_model");
    Ok(import::unsupported_nodes(gp))
}
