//! Import errors: one variant per kind of problem, each a one-line message that names
//! the node, attribute or tensor it is about.

use std::fmt;
use std::path::PathBuf;
use thiserror::Error;

/// A node whose op aecc does not support.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedNode {
    /// Node name, or `#index` (position in the ONNX node list) when the node has none.
    pub name: String,
    pub op_type: String,
    /// The node's domain as written (`ai.onnx` for the default domain).
    pub domain: String,
    /// The closest supported alternative, when there is an obvious one.
    pub hint: Option<String>,
}

impl fmt::Display for UnsupportedNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "node {} ({}, domain {}): not supported",
            self.name, self.op_type, self.domain
        )?;
        if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

fn unsupported_message(nodes: &[UnsupportedNode]) -> String {
    let list: Vec<String> = nodes.iter().map(|n| n.to_string()).collect();
    format!(
        "{} unsupported node(s): {}; supported ops: {}",
        nodes.len(),
        list.join("; "),
        super::ops::supported_ops_summary()
    )
}

/// Why an ONNX model could not be imported.
///
/// `node` fields read `NAME (OpType)`, e.g. `conv_3 (Conv)`.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ImportError {
    #[error("cannot read {}: {message}", path.display())]
    Io { path: PathBuf, message: String },

    #[error("empty input: 0 bytes is not an ONNX model")]
    Empty,

    /// The bytes are not a protobuf message, or the message is cut short.
    #[error("not an ONNX model: invalid or truncated protobuf ({0})")]
    Protobuf(String),

    /// A valid protobuf that is not an ONNX model (no graph, no `ir_version`, ...).
    #[error("not an ONNX model: {0}")]
    NotOnnx(String),

    /// Every node whose op is not supported, reported at once.
    #[error("{}", unsupported_message(.0))]
    Unsupported(Vec<UnsupportedNode>),

    /// A node reads a tensor that nothing defines (missing initializer, typo, ...).
    #[error("node {node}: input '{tensor}' is not defined (no initializer, graph input or node output has that name)")]
    UndefinedTensor { node: String, tensor: String },

    /// A graph output names a tensor that nothing defines.
    #[error("graph output '{0}' is not defined (no initializer, graph input or node output has that name)")]
    UndefinedOutput(String),

    #[error("tensor name '{name}' is defined twice: by {first} and by {second}")]
    DuplicateTensor {
        name: String,
        first: String,
        second: String,
    },

    #[error("the graph has a cycle through node {node}")]
    Cycle { node: String },

    #[error("node {node}, attribute '{attribute}': {message}")]
    Attribute {
        node: String,
        attribute: String,
        message: String,
    },

    /// A shape mismatch or an out-of-range type found by the IR's type inference.
    #[error("node {node}: {message}")]
    Shape { node: String, message: String },

    /// An op used in a way aecc does not support, or with inconsistent operands.
    #[error("node {node}: {message}")]
    Node { node: String, message: String },

    #[error("node {node}: zero point {value} is not an integer")]
    NonIntegerZeroPoint { node: String, value: f64 },

    #[error("node {node}: bit width {value} is not an integer in 1..=64")]
    BadBitWidth { node: String, value: f64 },

    #[error("node {node}: scale {value} {reason}")]
    BadScale {
        node: String,
        value: f64,
        reason: String,
    },

    #[error("graph input '{input}' is not quantized: {reason}; aecc needs every graph input to feed exactly one QONNX Quant node")]
    InputNotQuantized { input: String, reason: String },

    #[error("graph input '{input}': {message}")]
    Input { input: String, message: String },

    #[error("graph output '{output}': {message}")]
    Output { output: String, message: String },

    /// A constant tensor that cannot be read (bad data length, unsupported element
    /// type, external data, too large, ...).
    #[error("tensor '{name}': {message}")]
    Tensor { name: String, message: String },

    /// Any other IR error (a verifier failure here is a bug in the importer).
    #[error(transparent)]
    Ir(aecc_ir::IrError),
}

impl From<aecc_ir::IrError> for ImportError {
    fn from(e: aecc_ir::IrError) -> ImportError {
        match e {
            aecc_ir::IrError::Op { node, message, .. } => ImportError::Shape { node, message },
            aecc_ir::IrError::Cycle { node } => ImportError::Cycle { node },
            other => ImportError::Ir(other),
        }
    }
}
