//! aecc's fixed-point dataflow IR.
//!
//! - [`fixed`]: fixed-point types and the only rounding/saturation code in aecc;
//! - [`quant`]: the QONNX quantizer, exact on integers;
//! - [`ops`]: the operations and their shape/interval transfer functions;
//! - [`graph`]: the petgraph-based dataflow graph;
//! - [`linear`]: constant-weight layers as explicit sums of products;
//! - [`pool`], [`pointwise`], [`movement`]: pooling windows, per-channel affine maps and
//!   lookup tables, index maps of data movement;
//! - [`printer`], [`verify`]: text form and invariant checks.

pub mod error;
pub mod fixed;
pub mod graph;
pub mod linear;
pub mod movement;
pub mod ops;
pub mod pointwise;
pub mod pool;
pub mod printer;
pub mod quant;
pub mod verify;

pub use error::IrError;
pub use fixed::{DyadicScale, FixedType, Interval, Overflow, Rounding, Unit};
pub use graph::{Graph, Node, NodeId};
pub use linear::{LinearMap, LinearRow};
pub use movement::Select;
pub use ops::{AccumulatorGrid, ConstTensor, Conv, Dense, Op, TensorInfo};
pub use pointwise::{Affine, Lut, SoftmaxLut};
pub use pool::{Pool, PoolWindow};
pub use quant::{ChannelQuant, Quantizer};
