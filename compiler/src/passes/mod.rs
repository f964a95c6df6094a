//! Passes over the IR and the pass manager that runs a named list of them.
//!
//! Each pass is one file with one function `run(&mut Graph) -> Result<PassOutcome>`;
//! the registry below is the single list of passes (`aecc passes` prints it).

mod dead_code;
mod fold_affine;
mod fold_reshape;
mod manager;

pub use manager::{default_pipeline, PassInfo, PassManager, PassOutcome, PASSES};
