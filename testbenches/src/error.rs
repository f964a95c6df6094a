//! Errors of the co-simulation harness.

use std::fmt;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CosimError {
    /// An external tool is not installed (or not on `PATH`).
    #[error("{tool} not found on PATH: {hint}")]
    ToolMissing { tool: String, hint: String },
    /// Verilator (or the C++ compiler it runs) failed to build the simulator.
    #[error("building the simulator of {top} failed ({command}):\n{output}")]
    Build {
        top: String,
        command: String,
        /// The first lines of the tool's output.
        output: String,
    },
    /// `verilator --lint-only -Wall` reported warnings or errors.
    #[error("verilator lint of {top} is not clean:\n{output}")]
    Lint { top: String, output: String },
    /// yosys could not read or elaborate the design.
    #[error("yosys could not elaborate {top}:\n{output}")]
    Yosys { top: String, output: String },
    /// iverilog (strict Verilog-2005) rejected the design or warned.
    #[error("iverilog -g2005 does not accept {top} cleanly:\n{output}")]
    Iverilog { top: String, output: String },
    /// The design does not have the one-input, one-output shape the harness drives.
    #[error("design {top}: {message}")]
    Design { top: String, message: String },
    /// An input vector does not match the input port.
    #[error("input vector {index}: {message}")]
    BadVector { index: usize, message: String },
    /// The simulator exited with an error (timeout, protocol error, ...).
    #[error("simulation of {top} failed ({status}): {stderr}")]
    Simulation {
        top: String,
        status: String,
        stderr: String,
    },
    /// The simulator's output could not be read.
    #[error("simulation of {top}: {message}")]
    Protocol { top: String, message: String },
    /// The simulator produced a different number of outputs than it got inputs.
    #[error("simulation of {top}: {inputs} input vectors but {outputs} output vectors")]
    OutputCount {
        top: String,
        inputs: usize,
        outputs: usize,
    },
    /// RTL outputs differ from the reference (see [`crate::compare_outputs`]).
    #[error(transparent)]
    Mismatch(#[from] Mismatch),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl CosimError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> CosimError {
        let context = context.into();
        move |source| CosimError::Io { context, source }
    }

    /// Whether this error means a tool is missing (tests skip locally, fail in CI).
    pub fn is_tool_missing(&self) -> bool {
        matches!(self, CosimError::ToolMissing { .. })
    }
}

/// The first output lane where the RTL and the reference disagree.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct Mismatch {
    /// Index of the input vector.
    pub vector: usize,
    /// Output lane (flat row-major index of the output tensor).
    pub lane: usize,
    pub expected: i64,
    pub actual: i64,
    /// How many lanes differ over all vectors.
    pub total: usize,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RTL differs from the reference: vector {}, lane {}: expected {}, got {} \
             ({} differing lane value(s) in total)",
            self.vector, self.lane, self.expected, self.actual, self.total
        )
    }
}
