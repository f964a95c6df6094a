//! The pragmas of each flavour, as lines the templates print.
//!
//! Vitis HLS takes everything from `#pragma HLS` lines in the source. Catapult takes
//! loop unrolling from `#pragma hls_unroll yes` and the top from `#pragma hls_design
//! top`; its interface and pipelining directives are in the generated tcl script
//! (Catapult maps the unrolled arrays to registers by itself).

use super::types::HlsFlavor;

/// Pragma lines for one flavour and initiation interval.
#[derive(Debug, Clone)]
pub struct Pragmas {
    pub flavor: HlsFlavor,
    /// Initiation interval of the top function: 1, or the reuse factor.
    pub ii: u32,
}

impl Pragmas {
    /// Before every loop (Catapult's place for loop pragmas): fully unrolled.
    pub fn loop_head(&self) -> Vec<String> {
        match self.flavor {
            HlsFlavor::Vitis => Vec::new(),
            HlsFlavor::Catapult => vec!["#pragma hls_unroll yes".into()],
        }
    }

    /// At the start of every loop body (Vitis HLS's place): fully unrolled.
    pub fn loop_body(&self) -> Vec<String> {
        match self.flavor {
            HlsFlavor::Vitis => vec!["#pragma HLS UNROLL".into()],
            HlsFlavor::Catapult => Vec::new(),
        }
    }

    /// At the start of a layer function: inline it into the top, and partition its
    /// constant arrays into registers.
    pub fn layer(&self, const_arrays: &[&str]) -> Vec<String> {
        match self.flavor {
            HlsFlavor::Vitis => {
                let mut v = vec!["#pragma HLS INLINE".to_string()];
                v.extend(const_arrays.iter().map(|a| partition(a)));
                v
            }
            HlsFlavor::Catapult => Vec::new(),
        }
    }

    /// After the declaration of a local array of the top function.
    pub fn local_array(&self, name: &str) -> Vec<String> {
        match self.flavor {
            HlsFlavor::Vitis => vec![partition(name)],
            HlsFlavor::Catapult => Vec::new(),
        }
    }

    /// Lines before the top function.
    pub fn before_top(&self) -> Vec<String> {
        match self.flavor {
            HlsFlavor::Vitis => Vec::new(),
            HlsFlavor::Catapult => vec!["#pragma hls_design top".into()],
        }
    }

    /// At the start of the top function: flat ports with a valid handshake, pipelined
    /// with the initiation interval; with a reuse factor, the multipliers of each
    /// layer are shared (`multipliers` is the limit, see [`multiplier_limit`]).
    pub fn top(&self, multipliers: Option<usize>) -> Vec<String> {
        match self.flavor {
            HlsFlavor::Vitis => {
                let mut v = vec![
                    "#pragma HLS INTERFACE ap_vld port=x".to_string(),
                    "#pragma HLS INTERFACE ap_vld port=y".to_string(),
                    "#pragma HLS ARRAY_RESHAPE variable=x complete dim=0".to_string(),
                    "#pragma HLS ARRAY_RESHAPE variable=y complete dim=0".to_string(),
                    format!("#pragma HLS PIPELINE II={}", self.ii),
                ];
                if let Some(limit) = multipliers {
                    v.push(format!(
                        "#pragma HLS ALLOCATION operation instances=mul limit={limit}"
                    ));
                }
                v
            }
            HlsFlavor::Catapult => Vec::new(),
        }
    }
}

fn partition(name: &str) -> String {
    format!("#pragma HLS ARRAY_PARTITION variable={name} complete dim=0")
}

/// Multipliers needed to do `products` multiplications every `reuse` cycles.
pub fn multiplier_limit(products: usize, reuse: u32) -> usize {
    products.div_ceil(reuse as usize).max(1)
}
