//! Errors of the IR: every message names the node it is about.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum IrError {
    /// An op cannot be applied to its operands (shape mismatch, bad parameters, ...).
    #[error("node {node} ({op}): {message}")]
    Op {
        node: String,
        op: &'static str,
        message: String,
    },
    #[error("the graph has a cycle through node {node}")]
    Cycle { node: String },
    /// The verifier found an inconsistency: a compiler bug, never a user error.
    #[error("IR verifier: {0}")]
    Verify(String),
}
