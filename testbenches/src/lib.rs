//! aecc-testbench: Verilator co-simulation of generated RTL against the Rust reference.
//!
//! - [`RtlDesign`], [`Port`], [`Lane`]: what a hardware backend hands over (the
//!   contract of the top module's ports and of the packed lane layout);
//! - [`pack_lanes`], [`unpack_lanes`]: lane values to flat buses and back;
//! - [`Cosim`]: builds a Verilator simulator of a design with a generated C++ harness
//!   (cached by content hash) and streams vectors through it as a subprocess
//!   ([`Cosim::run`] for a slice of vectors, [`Cosim::stream`] for blocks produced and
//!   checked on the fly);
//! - [`lint`], [`yosys_elaborate`], [`iverilog_check`]: the lint, elaboration and
//!   strict Verilog-2005 checks of every design.
//!
//! The harness protocol is binary, fixed-size little-endian records (see [`stream`]):
//! the simulator reads one record per vector on stdin (`u32` bubble cycles before it,
//! then the packed `in_data` bus as `u32` words) and writes one `out_data` record per
//! `out_valid` cycle on stdout. See `hdl-templates/tb/harness.cpp`.

pub mod config;
pub mod cosim;
pub mod design;
pub mod error;
pub mod hls_csim;
pub mod lanes;
pub mod stream;
pub mod synth;
pub mod tools;

pub use config::{
    ConfigPort, ConfiguredCosim, ConfiguredDesign, ConfiguredRun, SeuInjection, SeuPort,
};
pub use cosim::{compare_outputs, BuildOptions, Cosim};
pub use design::{Lane, Port, RtlDesign};
pub use error::{CosimError, Mismatch};
pub use lanes::{pack_lanes, unpack_lanes};
pub use stream::{Delivered, StreamStats};
pub use synth::{synth_stats, SynthStats};
pub use tools::{
    iverilog_check, lint, require_tools, tool_available, verilator_version, yosys_elaborate,
};
