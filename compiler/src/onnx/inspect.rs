//! `aecc inspect`: every node of a model that aecc cannot compile, all at once, each
//! with its op, the attribute at fault (when one is) and the closest supported
//! alternative.

use super::error::ImportError;
use super::import::{self, node_label};
use super::proto::ModelProto;
use super::{decode, ops};
use std::fmt;

/// One node that cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileIssue {
    /// Node name, or `#index` when the node has none; empty for the graph as a whole.
    pub node: String,
    pub op_type: String,
    /// `ai.onnx` for the default domain.
    pub domain: String,
    /// The attribute at fault, when the problem is one attribute's value.
    pub attribute: Option<String>,
    /// What is wrong (one line).
    pub problem: String,
    /// The closest supported alternative, when there is an obvious one.
    pub alternative: Option<String>,
}

impl fmt::Display for CompileIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.node.is_empty() {
            write!(f, "graph: {}", self.problem)?;
        } else {
            write!(
                f,
                "node {} ({}, domain {})",
                self.node, self.op_type, self.domain
            )?;
            if let Some(a) = &self.attribute {
                write!(f, ", attribute '{a}'")?;
            }
            write!(f, ": {}", self.problem)?;
        }
        if let Some(alt) = &self.alternative {
            write!(f, "; closest supported: {alt}")?;
        }
        Ok(())
    }
}

/// The result of [`inspect`].
#[derive(Debug, Clone, Default)]
pub struct Inspection {
    pub issues: Vec<CompileIssue>,
    /// Nodes not checked because they read the output of a node listed in `issues`.
    pub skipped: usize,
}

/// The message of an error without the `node NAME (Op): ` prefix the node already
/// shows.
fn problem_text(e: &ImportError, label: &str) -> (Option<String>, String) {
    match e {
        ImportError::Attribute {
            attribute, message, ..
        } => (Some(attribute.clone()), message.clone()),
        ImportError::Node { message, .. } | ImportError::Shape { message, .. } => {
            (None, message.clone())
        }
        ImportError::Unsupported(nodes) => (
            None,
            nodes.first().map_or("not supported".into(), |_| {
                "this op is not supported".to_string()
            }),
        ),
        other => {
            let text = other.to_string();
            let prefix = format!("node {label}: ");
            (
                None,
                text.strip_prefix(&prefix).unwrap_or(&text).to_string(),
            )
        }
    }
}

/// Every node of the model that cannot be compiled (empty when it all imports).
pub fn inspect(bytes: &[u8]) -> Result<Inspection, ImportError> {
    let model: ModelProto = decode(bytes)?;
    import::check_model(&model)?;
    let gp = model.graph.as_ref().expect("checked by check_model");
    let (problems, skipped) = import::collect_problems(gp, super::opsets_of(&model))?;
    let issues = problems
        .into_iter()
        .map(|(at, e)| match at {
            Some(i) => {
                let n = &gp.node[i];
                let label = node_label(n, i);
                let (attribute, problem) = problem_text(&e, &label);
                let hint = match &e {
                    ImportError::Unsupported(u) => u.first().and_then(|u| u.hint.clone()),
                    _ => None,
                };
                CompileIssue {
                    node: if n.name.is_empty() {
                        format!("#{i}")
                    } else {
                        n.name.clone()
                    },
                    op_type: n.op_type.clone(),
                    domain: ops::domain_display(&n.domain).to_string(),
                    attribute,
                    problem,
                    alternative: hint,
                }
            }
            None => CompileIssue {
                node: String::new(),
                op_type: String::new(),
                domain: String::new(),
                attribute: None,
                problem: e.to_string(),
                alternative: None,
            },
        })
        .collect();
    Ok(Inspection { issues, skipped })
}
