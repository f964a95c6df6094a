//! The external tools: finding them, linting with Verilator, elaborating with yosys.

use crate::design::RtlDesign;
use crate::error::CosimError;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

/// How to install each tool on Debian/Ubuntu.
fn install_hint(tool: &str) -> String {
    // The Debian package of each tool has the tool's name.
    format!("install it with `apt-get install {tool}` on Debian/Ubuntu (or put it on PATH)")
}

/// Runs `tool args...`, mapping "not found" to [`CosimError::ToolMissing`].
pub(crate) fn run_tool(tool: &str, cmd: &mut Command) -> Result<Output, CosimError> {
    cmd.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            CosimError::ToolMissing {
                tool: tool.to_string(),
                hint: install_hint(tool),
            }
        } else {
            CosimError::Io {
                context: format!("running {tool}"),
                source: e,
            }
        }
    })
}

/// Whether `tool` can be started (`tool --version`, `yosys -V`, `iverilog -V`).
pub fn tool_available(tool: &str) -> bool {
    let flag = if tool == "yosys" || tool == "iverilog" {
        "-V"
    } else {
        "--version"
    };
    Command::new(tool)
        .arg(flag)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The Verilator version line, e.g. `Verilator 5.006 2023-01-22 rev (Debian 5.006-3)`.
pub fn verilator_version() -> Result<String, CosimError> {
    let out = run_tool("verilator", Command::new("verilator").arg("--version"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// For tests: true if every tool is available. Otherwise, when the environment variable
/// `CI` is `true` this panics (a missing tool is a failure in CI); locally it prints a
/// loud message to stderr and returns false so the caller can skip.
pub fn require_tools(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| !tool_available(t))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = missing
        .iter()
        .map(|t| format!("{t}: {}", install_hint(t)))
        .collect::<Vec<_>>()
        .join("; ");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and required tools are missing: {msg}");
    }
    // Written to the stderr handle directly, past the test harness's output capture, so
    // the skip is visible even for a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED (set CI=true to fail instead): missing tools: {msg} !!!!!!!!\n"
    );
    false
}

/// The first `max_lines` lines of a tool's combined output.
pub(crate) fn head(text: &str, max_lines: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut s = lines[..lines.len().min(max_lines)].join("\n");
    if lines.len() > max_lines {
        s.push_str(&format!("\n... ({} more lines)", lines.len() - max_lines));
    }
    s
}

fn combined(out: &Output) -> String {
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    s
}

/// `verilator --lint-only -Wall` over every file of the design; any warning is an error.
pub fn lint(design: &RtlDesign) -> Result<(), CosimError> {
    let dir = tempfile::tempdir().map_err(CosimError::io("creating a lint directory"))?;
    let files = design
        .write_files(dir.path())
        .map_err(CosimError::io("writing design files"))?;
    let out = run_tool(
        "verilator",
        Command::new("verilator")
            .args(["--lint-only", "-Wall", "--top-module", &design.top])
            .args(&files)
            .current_dir(dir.path()),
    )?;
    let text = combined(&out);
    if !out.status.success() || text.contains("%Warning") || text.contains("%Error") {
        return Err(CosimError::Lint {
            top: design.top.clone(),
            output: head(&text, 40),
        });
    }
    Ok(())
}

/// `yosys -p "read_verilog FILES; hierarchy -check -top TOP; proc; opt"`; a warning
/// or an error fails.
pub fn yosys_elaborate(design: &RtlDesign) -> Result<(), CosimError> {
    let dir = tempfile::tempdir().map_err(CosimError::io("creating a yosys directory"))?;
    let files = design
        .write_files(dir.path())
        .map_err(CosimError::io("writing design files"))?;
    let names: Vec<String> = files
        .iter()
        .map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let script = format!(
        "read_verilog {}; hierarchy -check -top {}; proc; opt",
        names.join(" "),
        design.top
    );
    let out = run_tool(
        "yosys",
        Command::new("yosys")
            .args(["-q", "-p", &script])
            .current_dir(dir.path()),
    )?;
    let text = combined(&out);
    if !out.status.success() || text.to_ascii_lowercase().contains("warning") {
        return Err(CosimError::Yosys {
            top: design.top.clone(),
            output: head(&text, 40),
        });
    }
    Ok(())
}

/// `iverilog -g2005 -Wall` (strict Verilog-2005, no SystemVerilog) over every file;
/// a warning or an error fails.
pub fn iverilog_check(design: &RtlDesign) -> Result<(), CosimError> {
    let dir = tempfile::tempdir().map_err(CosimError::io("creating an iverilog directory"))?;
    let files = design
        .write_files(dir.path())
        .map_err(CosimError::io("writing design files"))?;
    let out = run_tool(
        "iverilog",
        Command::new("iverilog")
            .args(["-g2005", "-Wall", "-o", "/dev/null", "-s", &design.top])
            .args(&files)
            .current_dir(dir.path()),
    )?;
    let text = combined(&out);
    if !out.status.success() || !text.trim().is_empty() {
        return Err(CosimError::Iverilog {
            top: design.top.clone(),
            output: head(&text, 40),
        });
    }
    Ok(())
}

/// Whether `path` names an existing executable file (used for the build cache).
pub(crate) fn is_file(path: &Path) -> bool {
    path.metadata().map(|m| m.is_file()).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_says_how_to_install_it() {
        let e = run_tool(
            "aecc-no-such-tool",
            &mut Command::new("aecc-no-such-tool-on-any-path"),
        )
        .unwrap_err();
        assert!(e.is_tool_missing());
        let text = e.to_string();
        assert!(
            text.contains("aecc-no-such-tool not found on PATH")
                && text.contains("apt-get install aecc-no-such-tool"),
            "{text}"
        );
        assert!(!tool_available("aecc-no-such-tool-on-any-path"));
    }

    #[test]
    fn head_keeps_the_first_lines() {
        assert_eq!(head("a\nb\nc", 2), "a\nb\n... (1 more lines)");
        assert_eq!(head("a\nb", 5), "a\nb");
    }
}
