//! aecc's bit-exact reference model.
//!
//! [`Simulator`] evaluates an [`aecc_ir::Graph`] in exact integer arithmetic: tensor
//! values are the integers of their fixed-point types, accumulation is done in `i128`
//! (wide enough for every partial sum the IR admits), and every rounding or saturation
//! goes through [`aecc_ir::Quantizer::quantize_int`]. It depends on the IR only, never
//! on a backend: it is the oracle the Verilog and HLS backends are checked against.
//!
//! [`BatchSimulator`] is the fast path for data sets: the same graph compiled to integer
//! kernels of proven-exact width, evaluated many samples at a time on all cores; it
//! equals the scalar path on every output value.

pub mod batch;
pub mod error;
pub mod eval;
pub mod io;

pub use batch::BatchSimulator;
pub use error::SimError;
pub use eval::{LayerOverflow, OverflowCounts, Simulator, Tensor};
