//! How big a fully unrolled design is, estimated from the IR before anything per output
//! element is built, and the limits `aecc compile` enforces on it.
//!
//! The estimate counts **adder bits**: for every `Dense`/`Conv`, its non-zero weight
//! terms (one adder input each in a shift-and-add tree) times the accumulator width;
//! for every element-wise `Add`, elements times width; for every `Quantize`, elements
//! times the input width (the rounding adder); for every `Relu`, elements times width
//! (one comparator/mux bit each). Reshapes and transposes are wires and count zero.
//! The estimate is computed in time proportional to the weights, so a model whose
//! design would not fit in memory is refused before the backend allocates it.
//!
//! Independently of the adder budget, the total number of tensor elements (lanes) over
//! all nodes is capped at [`MAX_DESIGN_LANES`]: every lane is at least a wire and a
//! line of Verilog, so this bounds the backend's memory even for designs without
//! arithmetic (a huge input reshaped to a huge output).

use aecc_ir::{Graph, IrError, Op};
use std::fmt;

/// Default of `--max-adder-bits`: about the arithmetic of a mid-size FPGA.
pub const DEFAULT_MAX_ADDER_BITS: u64 = 10_000_000;

/// Largest total number of tensor elements over all nodes of a compiled design (about a
/// thousand times the ECON-T encoder's). Measured on a wiring-only design: 786K lanes
/// compile in 5.4 s and 370 MB (`aecc compile`, release build), so the cap keeps the
/// backend near half a gigabyte.
pub const MAX_DESIGN_LANES: u64 = 1 << 20;

/// The size of one IR node in the estimate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSize {
    pub name: String,
    pub origin: String,
    pub op: &'static str,
    /// Tensor elements the node produces.
    pub lanes: u128,
    pub adder_bits: u128,
}

/// The estimate for a whole graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesignSize {
    pub nodes: Vec<NodeSize>,
}

impl DesignSize {
    pub fn adder_bits(&self) -> u128 {
        self.nodes.iter().map(|n| n.adder_bits).sum()
    }

    pub fn lanes(&self) -> u128 {
        self.nodes.iter().map(|n| n.lanes).sum()
    }

    /// The node with the most adder bits.
    pub fn largest(&self) -> Option<&NodeSize> {
        self.nodes.iter().max_by_key(|n| n.adder_bits)
    }
}

/// Why a design is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SizeError {
    AdderBits {
        estimated: u128,
        limit: u64,
        largest: String,
        largest_bits: u128,
    },
    Lanes {
        lanes: u128,
        largest: String,
        largest_lanes: u128,
    },
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SizeError::AdderBits {
                estimated,
                limit,
                largest,
                largest_bits,
            } => write!(
                f,
                "the fully unrolled design needs about {estimated} adder bits (largest: \
                 {largest}, {largest_bits}), more than the limit of {limit} \
                 (--max-adder-bits); use a reuse factor (--reuse) to fold layers onto fewer \
                 adders, or raise --max-adder-bits"
            ),
            SizeError::Lanes {
                lanes,
                largest,
                largest_lanes,
            } => write!(
                f,
                "the design has {lanes} tensor elements over all layers (largest: {largest}, \
                 {largest_lanes}), more than the {MAX_DESIGN_LANES} aecc can unroll"
            ),
        }
    }
}

impl std::error::Error for SizeError {}

/// Estimates the size of the fully unrolled design of `graph`.
pub fn design_size(graph: &Graph) -> Result<DesignSize, IrError> {
    let mut nodes = Vec::new();
    for id in graph.topo_order()? {
        let n = graph.node(id);
        let out = &n.out;
        let lanes = out.shape.iter().fold(1u128, |acc, &d| acc * d as u128);
        let width = out.ty.width as u128;
        let input = graph.operands(id).first().map(|&o| &graph.node(o).out);
        let adder_bits = match (&n.op, input) {
            (Op::Dense(_) | Op::Conv(_), Some(x)) => {
                n.op.linear_terms(x).unwrap_or(0).saturating_mul(width)
            }
            (
                Op::Add
                | Op::Sub
                | Op::Relu
                | Op::Clip { .. }
                | Op::LeakyRelu { .. }
                | Op::Affine(_),
                _,
            ) => lanes * width,
            // one comparator or adder per tap
            (Op::MaxPool(p) | Op::AvgPool(p), _) => {
                lanes * width * (p.kernel[0] * p.kernel[1]) as u128
            }
            // the exp tables' sum and the division
            (Op::Softmax(_), _) => 2 * lanes * width,
            (Op::Quantize(_), Some(x)) => lanes * x.ty.width as u128,
            _ => 0,
        };
        nodes.push(NodeSize {
            name: n.name.clone(),
            origin: n.origin.clone(),
            op: n.op.name(),
            lanes,
            adder_bits,
        });
    }
    Ok(DesignSize { nodes })
}

/// Refuses a design over `max_adder_bits` or over [`MAX_DESIGN_LANES`] lanes.
pub fn check_size(size: &DesignSize, max_adder_bits: u64) -> Result<(), SizeError> {
    // the ONNX node(s) a layer came from, as the user named them
    let label = |n: &NodeSize| {
        if n.origin.is_empty() {
            format!("{} ({})", n.name, n.op)
        } else {
            n.origin.clone()
        }
    };
    if size.lanes() > MAX_DESIGN_LANES as u128 {
        let largest = size.nodes.iter().max_by_key(|n| n.lanes).expect("nodes");
        return Err(SizeError::Lanes {
            lanes: size.lanes(),
            largest: label(largest),
            largest_lanes: largest.lanes,
        });
    }
    if size.adder_bits() > max_adder_bits as u128 {
        let largest = size.largest().expect("nodes");
        return Err(SizeError::AdderBits {
            estimated: size.adder_bits(),
            limit: max_adder_bits,
            largest: label(largest),
            largest_bits: largest.adder_bits,
        });
    }
    Ok(())
}
