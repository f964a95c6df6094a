//! Backends: from the fixed-point IR to hardware descriptions.

pub mod hls;
pub mod magic;
pub mod verilog;
