//! The pass manager: a registry of named passes and pipelines of them.

use aecc_ir::{Graph, IrError};

/// What a pass did, for logs and reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassOutcome {
    /// Number of nodes changed, removed or added.
    pub changed: usize,
}

/// A registered pass.
pub struct PassInfo {
    pub name: &'static str,
    pub description: &'static str,
    pub run: fn(&mut Graph) -> Result<PassOutcome, IrError>,
}

/// Every pass aecc has, in the order of the default pipeline.
pub const PASSES: &[PassInfo] = &[
    PassInfo {
        name: "dead-code",
        description: "remove nodes no graph output depends on",
        run: super::dead_code::run,
    },
    PassInfo {
        name: "fold-affine",
        description: "drop identity affine maps, merge chains of them, fold power-of-two \
                      ones into the Dense/Conv before them",
        run: super::fold_affine::run,
    },
    PassInfo {
        name: "fold-reshape",
        description: "merge chains of reshapes and drop reshapes that keep the shape",
        run: super::fold_reshape::run,
    },
    PassInfo {
        name: "verify",
        description: "check the IR invariants (types, intervals, arity, acyclicity)",
        run: |g| aecc_ir::verify::verify(g).map(|_| PassOutcome::default()),
    },
];

/// The passes `aecc compile` runs by default.
pub fn default_pipeline() -> Vec<&'static str> {
    vec![
        "dead-code",
        "fold-affine",
        "fold-reshape",
        "dead-code",
        "verify",
    ]
}

/// Runs a list of passes by name; the IR is verified after every pass in debug builds.
pub struct PassManager {
    pipeline: Vec<&'static PassInfo>,
}

impl PassManager {
    /// Builds a manager for the named passes; an unknown name is an error listing the
    /// known ones.
    pub fn new(names: &[&str]) -> Result<PassManager, String> {
        let mut pipeline = Vec::new();
        for &n in names {
            match PASSES.iter().find(|p| p.name == n) {
                Some(p) => pipeline.push(p),
                None => {
                    let known: Vec<_> = PASSES.iter().map(|p| p.name).collect();
                    return Err(format!("unknown pass '{n}' (known: {})", known.join(", ")));
                }
            }
        }
        Ok(PassManager { pipeline })
    }

    pub fn run(&self, graph: &mut Graph) -> Result<Vec<(&'static str, PassOutcome)>, IrError> {
        let mut log = Vec::new();
        for p in &self.pipeline {
            let outcome = (p.run)(graph)?;
            if cfg!(debug_assertions) {
                aecc_ir::verify::verify(graph)?;
            }
            log.push((p.name, outcome));
        }
        Ok(log)
    }
}
