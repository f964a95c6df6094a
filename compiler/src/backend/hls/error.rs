//! Errors of the HLS C++ backend.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum HlsError {
    /// The graph uses something the HLS backend cannot emit bit-exactly (no IR op today:
    /// the match over ops in the emitter makes a new op choose).
    #[error("node {node} ({op}): not supported by the HLS backend: {message}")]
    Unsupported {
        /// The node's origin (ONNX node name and op type where known).
        node: String,
        op: &'static str,
        message: String,
    },
    /// The graph as a whole does not have the shape the HLS top function needs.
    #[error("graph '{graph}': {message}")]
    Graph { graph: String, message: String },
    /// The requested options are invalid (top-level name, reuse factor).
    #[error("invalid HLS option: {0}")]
    Option(String),
    /// The IR verifier rejected the graph (a compiler bug upstream).
    #[error(transparent)]
    Ir(#[from] aecc_ir::IrError),
    /// A template failed to render (a bug in aecc).
    #[error("rendering HLS template {template}: {source}")]
    Template {
        template: &'static str,
        #[source]
        source: askama::Error,
    },
}
