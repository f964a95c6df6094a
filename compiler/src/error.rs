//! The library's error type: one variant per stage, each message one clear line.

use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Import(#[from] crate::onnx::ImportError),
    #[error(transparent)]
    Ir(#[from] aecc_ir::IrError),
    #[error(transparent)]
    Verilog(#[from] crate::backend::verilog::BackendError),
    #[error(transparent)]
    Sim(#[from] aecc_sim::SimError),
    #[error(transparent)]
    Cosim(#[from] aecc_testbench::CosimError),
    /// The design is over a size limit (`--max-adder-bits`, or the lane cap).
    #[error(transparent)]
    TooLarge(#[from] crate::limits::SizeError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error(transparent)]
    Weights(#[from] crate::weights::WeightsError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
