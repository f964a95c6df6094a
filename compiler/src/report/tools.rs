//! Running the external tools of the report (yosys, OpenSTA, iverilog, nextpnr-ice40):
//! finding them, running a script in a work directory, and caching the results by the
//! hash of everything that determines them.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use thiserror::Error;

/// Errors of the report flows.
#[derive(Debug, Error)]
pub enum ReportError {
    #[error("{tool} not found on PATH: {hint}")]
    ToolMissing { tool: String, hint: String },
    #[error("{tool} failed ({step}):\n{output}")]
    ToolFailed {
        tool: String,
        step: String,
        output: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading {what}: {message}")]
    Parse { what: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl ReportError {
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ReportError {
        let path = path.into();
        move |source| ReportError::Io { path, source }
    }
    pub fn parse(what: impl Into<String>, message: impl Into<String>) -> ReportError {
        ReportError::Parse {
            what: what.into(),
            message: message.into(),
        }
    }
    pub fn is_tool_missing(&self) -> bool {
        matches!(self, ReportError::ToolMissing { .. })
    }
}

/// The Debian/Ubuntu package of each tool.
pub fn package_of(tool: &str) -> &str {
    match tool {
        "sta" => "opensta",
        t => t,
    }
}

/// One line saying how to install the missing tools.
pub fn install_line(tools: &[&str]) -> String {
    let mut pkgs: Vec<&str> = tools.iter().map(|t| package_of(t)).collect();
    pkgs.sort();
    pkgs.dedup();
    format!(
        "install {} for the rest of the report: `sudo apt-get install {}` (or run scripts/setup.sh)",
        tools.join(", "),
        pkgs.join(" ")
    )
}

/// Whether `tool` starts.
pub fn available(tool: &str) -> bool {
    let flag = match tool {
        "yosys" | "iverilog" => "-V",
        "sta" => "-version",
        _ => "--version",
    };
    Command::new(tool)
        .arg(flag)
        .stdin(std::process::Stdio::null())
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The tool's version line (part of cache keys).
pub fn version(tool: &str) -> String {
    let flag = match tool {
        "yosys" | "iverilog" => "-V",
        "sta" => "-version",
        _ => "--version",
    };
    Command::new(tool)
        .arg(flag)
        .stdin(std::process::Stdio::null())
        .output()
        .map(|o| {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            s.lines().next().unwrap_or("").trim().to_string()
        })
        .unwrap_or_default()
}

/// The last `n` lines of a text.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs `cmd` (in `dir`); a missing tool or a non-zero exit is an error naming `step`.
pub fn run(tool: &str, step: &str, cmd: &mut Command, dir: &Path) -> Result<String, ReportError> {
    run_logged(tool, step, cmd, dir, None)
}

/// [`run`] for a tool that writes its own log to `log`: a failure quotes the end of that
/// file instead of the captured output.
pub fn run_logged(
    tool: &str,
    step: &str,
    cmd: &mut Command,
    dir: &Path,
    log: Option<&Path>,
) -> Result<String, ReportError> {
    let out = cmd
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ReportError::ToolMissing {
                    tool: tool.to_string(),
                    hint: install_line(&[tool]),
                }
            } else {
                ReportError::Io {
                    path: PathBuf::from(tool),
                    source: e,
                }
            }
        })?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        let quoted = match log {
            Some(l) => std::fs::read_to_string(l)
                .map(|l| tail(&l, 30))
                .unwrap_or_default(),
            None => tail(&text, 30),
        };
        return Err(ReportError::ToolFailed {
            tool: tool.to_string(),
            step: step.to_string(),
            output: format!("{quoted}{}", killed_note(&out.status)),
        });
    }
    Ok(text)
}

/// What to add to a failed tool's output when a signal ended it (the output then just
/// stops): the signal, and the usual cause of a SIGKILL, the kernel's out-of-memory
/// killer.
pub fn killed_note(status: &std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        match status.signal() {
            Some(9) => "\n(killed by signal 9, SIGKILL: usually the system ran out of memory; the \
                        design may be too large for this flow on this machine)"
                .to_string(),
            Some(sig) => format!("\n(killed by signal {sig})"),
            None => String::new(),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = status;
        String::new()
    }
}

/// Runs `cmd` (in `dir`) with its output going to `dir/log`, killing it after
/// `limit`. Returns the log text and whether it finished (with any exit status).
pub fn run_limited(
    tool: &str,
    cmd: &mut Command,
    dir: &Path,
    log: &str,
    limit: std::time::Duration,
) -> Result<(String, bool), ReportError> {
    let path = dir.join(log);
    let file = std::fs::File::create(&path).map_err(ReportError::io(&path))?;
    let err = file.try_clone().map_err(ReportError::io(&path))?;
    let mut child = cmd
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ReportError::ToolMissing {
                    tool: tool.to_string(),
                    hint: install_line(&[tool]),
                }
            } else {
                ReportError::Io {
                    path: PathBuf::from(tool),
                    source: e,
                }
            }
        })?;
    let start = std::time::Instant::now();
    let finished = loop {
        match child.try_wait().map_err(ReportError::io(tool))? {
            Some(_) => break true,
            None if start.elapsed() >= limit => {
                let _ = child.kill();
                let _ = child.wait();
                break false;
            }
            None => std::thread::sleep(std::time::Duration::from_millis(200)),
        }
    };
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    Ok((text, finished))
}

/// A cache key over length-prefixed parts.
#[derive(Default)]
pub struct Key(Sha256);

impl Key {
    pub fn new(kind: &str) -> Key {
        let mut k = Key(Sha256::new());
        k.put(kind.as_bytes());
        k
    }
    pub fn put(&mut self, bytes: &[u8]) -> &mut Key {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }
    pub fn hex(self) -> String {
        hex(&self.0.finalize())
    }
}

/// Lower-case hexadecimal digits of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The report cache: `$AECC_CACHE_DIR/report`, else `$XDG_CACHE_HOME/aecc/report`, else
/// `~/.cache/aecc/report`.
pub fn default_cache_dir() -> PathBuf {
    crate::verify::default_cache_dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir)
        .join("report")
}

/// Runs `produce` in a fresh work directory unless `cache/<key>` already holds every file
/// of `outputs`, intact; returns the directory that holds them. The work directory is
/// renamed into place only when `produce` succeeds, so the cache never holds partial
/// results. A manifest ([`MANIFEST`]: each output's length and SHA-256) is written with
/// them; an entry whose files no longer match it (truncated or changed on disk, or an
/// entry from before manifests) is removed and produced again.
pub fn cached(
    cache: Option<&Path>,
    key: String,
    outputs: &[&str],
    produce: impl FnOnce(&Path) -> Result<(), ReportError>,
) -> Result<(PathBuf, Option<tempfile::TempDir>, bool), ReportError> {
    if let Some(root) = cache {
        let dir = root.join(&key);
        if dir.exists() {
            if manifest(&dir, outputs).is_some_and(|m| read(&dir, MANIFEST).ok() == Some(m)) {
                return Ok((dir, None, true));
            }
            // damaged: produce it again (another process may be doing the same)
            let _ = std::fs::remove_dir_all(&dir);
        }
        std::fs::create_dir_all(root).map_err(ReportError::io(root))?;
        let work = tempfile::Builder::new()
            .prefix(".work-")
            .tempdir_in(root)
            .map_err(ReportError::io(root))?;
        produce(work.path())?;
        let m = manifest(work.path(), outputs).ok_or_else(|| {
            ReportError::Invalid(format!(
                "a cached tool run did not write all of {}",
                outputs.join(", ")
            ))
        })?;
        write(work.path(), MANIFEST, &m)?;
        let work_path = work.keep();
        if std::fs::rename(&work_path, &dir).is_err() {
            // another process won the race: use its result
            let _ = std::fs::remove_dir_all(&work_path);
        }
        return Ok((dir, None, false));
    }
    let work = tempfile::tempdir().map_err(ReportError::io(std::env::temp_dir()))?;
    produce(work.path())?;
    Ok((work.path().to_path_buf(), Some(work), false))
}

/// The file in a cache entry that lists its outputs' lengths and hashes.
pub const MANIFEST: &str = "manifest.txt";

/// `name length sha256` of every output in `dir`, one per line (`None` if one is missing).
fn manifest(dir: &Path, outputs: &[&str]) -> Option<String> {
    let mut text = String::new();
    for name in outputs {
        let bytes = std::fs::read(dir.join(name)).ok()?;
        let hash = hex(&Sha256::digest(&bytes));
        text.push_str(&format!("{name} {} {hash}\n", bytes.len()));
    }
    Some(text)
}

/// Writes `text` to `dir/name`.
pub fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf, ReportError> {
    let p = dir.join(name);
    std::fs::write(&p, text).map_err(ReportError::io(&p))?;
    Ok(p)
}

/// Reads `dir/name`.
pub fn read(dir: &Path, name: &str) -> Result<String, ReportError> {
    let p = dir.join(name);
    std::fs::read_to_string(&p).map_err(ReportError::io(&p))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tool that dies from a signal (the out-of-memory killer's SIGKILL) fails with
    /// that said, after its output (or its own log's end); one that exits non-zero
    /// quotes its output only.
    #[cfg(unix)]
    #[test]
    fn a_killed_tool_says_how_it_ended() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("tool.log");
        std::fs::write(&log, "from the log\n").unwrap();
        for (script, log, quoted, killed) in [
            ("echo working; kill -9 $$", None, "working", true),
            ("echo broken; exit 3", None, "broken", false),
            (
                "echo elsewhere; kill -9 $$",
                Some(log.as_path()),
                "from the log",
                true,
            ),
        ] {
            let e = run_logged(
                "sh",
                "test",
                Command::new("sh").args(["-c", script]),
                dir.path(),
                log,
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains(quoted), "{e}");
            // with a log, what the tool printed is not quoted
            assert!(!e.contains("elsewhere"), "{e}");
            assert_eq!(
                killed,
                e.contains("killed by signal 9") && e.contains("out of memory"),
                "{e}"
            );
        }
    }

    /// A cache entry is reused while intact; truncated, changed or without its manifest
    /// it is produced again.
    #[test]
    fn damaged_cache_entries_are_produced_again() {
        let root = tempfile::tempdir().unwrap();
        let runs = std::cell::Cell::new(0);
        let get = || {
            cached(
                Some(root.path()),
                "k".into(),
                &["net.v", "stat.json"],
                |w| {
                    runs.set(runs.get() + 1);
                    write(w, "net.v", "module m; endmodule\n")?;
                    write(w, "stat.json", "{\"cells\": 3}")?;
                    Ok(())
                },
            )
            .unwrap()
        };
        let (dir, _, hit) = get();
        assert!(!hit);
        assert!(get().2);
        assert_eq!(runs.get(), 1);
        let damage: [&dyn Fn(); 3] = [
            &|| std::fs::write(dir.join("net.v"), "module m;").unwrap(), // truncated
            &|| std::fs::write(dir.join("stat.json"), "{\"cells\": 4}").unwrap(), // changed
            &|| std::fs::remove_file(dir.join(MANIFEST)).unwrap(),       // no manifest
        ];
        for (k, d) in damage.iter().enumerate() {
            d();
            let (dir2, _, hit) = get();
            assert!(!hit, "damage {k} not detected");
            assert_eq!(dir2, dir);
            assert_eq!(read(&dir, "net.v").unwrap(), "module m; endmodule\n");
            assert_eq!(runs.get(), 2 + k);
            assert!(get().2, "reused after repair {k}");
        }
        // a run that does not write an output is an error, and leaves no entry
        let e = cached(Some(root.path()), "other".into(), &["x"], |_| Ok(())).unwrap_err();
        assert!(e.to_string().contains("did not write all of x"), "{e}");
        assert!(!root.path().join("other").exists());
    }
}
