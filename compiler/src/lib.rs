//! aecc: high-level synthesis of quantized neural-network encoders.
//!
//! Data flows one way: [`onnx`] (import) -> [`aecc_ir`] graph -> [`passes`] ->
//! ([`aecc_sim`] reference | [`backend`] Verilog/HLS | [`report`]).

pub use aecc_ir as ir;

pub mod backend;
pub mod cli;
pub mod error;
pub mod limits;
pub mod onnx;
pub mod passes;
pub mod pipeline;
pub mod report;
pub mod verify;
pub mod verify_config;
pub mod weights;

pub use error::Error;
