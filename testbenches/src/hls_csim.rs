//! C-simulation of the HLS C++ that aecc generates: build it with g++ against the vendor
//! fixed-point headers and stream integer vectors through its testbench.
//!
//! The headers (Xilinx `ap_types`, Siemens `ac_types`, both Apache-2.0) are not part of
//! the repository: `scripts/setup-hls-headers.sh` unpacks them from the hls4ml 1.3.0
//! wheel into [`header_cache_dir`], which is, in this order,
//! `$AECC_HLS_HEADERS`, `$XDG_CACHE_HOME/aecc/hls-headers`, `~/.cache/aecc/hls-headers`,
//! with one folder per library (`ap_types/`, `ac_types/`).
//!
//! The testbench protocol is text: `TB INPUTS OUTPUTS`, one vector of integers per line
//! (the integers of the fixed-point values on the input and output grids). One build
//! serves any number of runs, and one run streams all vectors through one process.
//!
//! This module depends on nothing but `std`: it compiles a directory of C++, whatever
//! wrote it (`aecc::backend::hls::HlsProject` names the sources and include directory).

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The C++ compiler used for C simulation.
pub const CXX: &str = "g++";

/// Flags of every C-simulation build (the headers compile warning-free at C++17 with
/// g++ 12; ap_types warns at C++20).
pub const CXX_FLAGS: &[&str] = &["-std=c++17", "-O2"];

/// Flags of the lint build: every warning of our code is an error. The vendor headers
/// are included with `-isystem`, so their own warnings do not count; `#pragma HLS` and
/// `#pragma hls_*` are meant for the HLS tools, so unknown pragmas are not warned about.
/// The check is the compiler front end's (`-fsyntax-only`, templates instantiated): at
/// `-O2` g++ 12 reports `-Wmaybe-uninitialized` inside ap_types' own `ap_private`
/// through inlining, which `-isystem` does not silence and which is not ours.
pub const LINT_FLAGS: &[&str] = &[
    "-std=c++17",
    "-fsyntax-only",
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Wshadow",
    "-Werror",
    "-Wno-unknown-pragmas",
];

/// A fixed-point header library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeaderLibrary {
    /// Xilinx ap_types (`ap_fixed.h`), for Vitis/Vivado HLS.
    ApTypes,
    /// ac_types (`ac_fixed.h`), for Catapult.
    AcTypes,
}

impl HeaderLibrary {
    pub const ALL: [HeaderLibrary; 2] = [HeaderLibrary::ApTypes, HeaderLibrary::AcTypes];

    /// Folder name in the cache, and the name `aecc::backend::hls` uses.
    pub fn name(self) -> &'static str {
        match self {
            HeaderLibrary::ApTypes => "ap_types",
            HeaderLibrary::AcTypes => "ac_types",
        }
    }

    /// Parses `ap_types` / `ac_types`.
    pub fn from_name(name: &str) -> Option<HeaderLibrary> {
        HeaderLibrary::ALL.into_iter().find(|l| l.name() == name)
    }

    /// A file every copy of the library has.
    pub fn marker(self) -> &'static str {
        match self {
            HeaderLibrary::ApTypes => "ap_fixed.h",
            HeaderLibrary::AcTypes => "ac_fixed.h",
        }
    }
}

/// Errors of the C-simulation driver.
#[derive(Debug)]
pub enum CsimError {
    /// The C++ compiler is not installed.
    ToolMissing { tool: String, hint: String },
    /// The vendor headers are not where they should be.
    HeadersMissing { library: &'static str, dir: PathBuf },
    /// g++ failed to build the C simulation.
    Build { command: String, output: String },
    /// The lint build reported warnings.
    Lint { command: String, output: String },
    /// The testbench failed.
    Run { status: String, stderr: String },
    /// The testbench's output is not what was expected.
    Output { message: String },
    /// The C simulation differs from the reference.
    Mismatch(CsimMismatch),
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl fmt::Display for CsimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsimError::ToolMissing { tool, hint } => write!(f, "{tool} not found on PATH: {hint}"),
            CsimError::HeadersMissing { library, dir } => write!(
                f,
                "the {library} headers are not in {} (run scripts/setup-hls-headers.sh, \
                 or set AECC_HLS_HEADERS to a folder with {library}/ in it)",
                dir.display()
            ),
            CsimError::Build { command, output } => {
                write!(f, "building the C simulation failed ({command}):\n{output}")
            }
            CsimError::Lint { command, output } => {
                write!(
                    f,
                    "the generated C++ is not warning-free ({command}):\n{output}"
                )
            }
            CsimError::Run { status, stderr } => {
                write!(f, "the C-simulation testbench failed ({status}): {stderr}")
            }
            CsimError::Output { message } => write!(f, "C-simulation output: {message}"),
            CsimError::Mismatch(m) => m.fmt(f),
            CsimError::Io { context, source } => write!(f, "{context}: {source}"),
        }
    }
}

impl std::error::Error for CsimError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CsimError::Io { source, .. } => Some(source),
            CsimError::Mismatch(m) => Some(m),
            _ => None,
        }
    }
}

impl CsimError {
    /// Whether this error means a tool or the headers are missing (tests skip locally,
    /// fail in CI).
    pub fn is_setup_missing(&self) -> bool {
        matches!(
            self,
            CsimError::ToolMissing { .. } | CsimError::HeadersMissing { .. }
        )
    }
}

fn io_error(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> CsimError {
    let context = context.into();
    move |source| CsimError::Io { context, source }
}

/// The first output value where the C simulation and the reference disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsimMismatch {
    /// Index of the input vector.
    pub vector: usize,
    /// Index in the flat output vector.
    pub element: usize,
    pub expected: i64,
    pub actual: i64,
    /// Number of differing values over all vectors.
    pub total: usize,
}

impl fmt::Display for CsimMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the HLS C simulation differs from the reference: vector {}, output {}: \
             expected {}, got {} ({} differing value(s) in total)",
            self.vector, self.element, self.expected, self.actual, self.total
        )
    }
}

impl std::error::Error for CsimMismatch {}

/// Compares C-simulation outputs with the reference, every value.
pub fn compare_outputs(expected: &[Vec<i64>], actual: &[Vec<i64>]) -> Result<(), CsimError> {
    if expected.len() != actual.len() {
        return Err(CsimError::Output {
            message: format!(
                "{} reference vectors but {} C-simulation vectors",
                expected.len(),
                actual.len()
            ),
        });
    }
    let mut first = None;
    let mut total = 0;
    for (v, (e, a)) in expected.iter().zip(actual).enumerate() {
        if e.len() != a.len() {
            return Err(CsimError::Output {
                message: format!(
                    "vector {v}: the reference has {} values, the C simulation {}",
                    e.len(),
                    a.len()
                ),
            });
        }
        for (i, (&x, &y)) in e.iter().zip(a).enumerate() {
            if x != y {
                total += 1;
                first.get_or_insert((v, i, x, y));
            }
        }
    }
    match first {
        None => Ok(()),
        Some((vector, element, expected, actual)) => Err(CsimError::Mismatch(CsimMismatch {
            vector,
            element,
            expected,
            actual,
            total,
        })),
    }
}

/// Where the headers are cached: `$AECC_HLS_HEADERS`, else
/// `$XDG_CACHE_HOME/aecc/hls-headers`, else `~/.cache/aecc/hls-headers` (the same rule
/// as `scripts/setup-hls-headers.sh`).
pub fn header_cache_dir() -> PathBuf {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty("AECC_HLS_HEADERS") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = non_empty("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("aecc").join("hls-headers");
    }
    let home = non_empty("HOME").map(PathBuf::from).unwrap_or_default();
    home.join(".cache").join("aecc").join("hls-headers")
}

/// The include directory of `library` in the cache, if the headers are there.
pub fn find_headers(library: HeaderLibrary) -> Result<PathBuf, CsimError> {
    let dir = header_cache_dir().join(library.name());
    check_headers(library, &dir)?;
    Ok(dir)
}

/// Checks that `dir` holds `library` (e.g. a user's own `--ap-types DIR`).
pub fn check_headers(library: HeaderLibrary, dir: &Path) -> Result<(), CsimError> {
    if dir.join(library.marker()).is_file() {
        Ok(())
    } else {
        Err(CsimError::HeadersMissing {
            library: library.name(),
            dir: dir.to_path_buf(),
        })
    }
}

fn spawn_error(tool: &str, e: std::io::Error) -> CsimError {
    if e.kind() == std::io::ErrorKind::NotFound {
        CsimError::ToolMissing {
            tool: tool.to_string(),
            hint: format!("install it with `apt-get install {tool}` on Debian/Ubuntu"),
        }
    } else {
        CsimError::Io {
            context: format!("running {tool}"),
            source: e,
        }
    }
}

fn run_tool(tool: &str, cmd: &mut Command) -> Result<Output, CsimError> {
    cmd.output().map_err(|e| spawn_error(tool, e))
}

/// For tests: the header directory of `library` if g++ and the headers are available.
/// Otherwise, when `CI=true` this panics (missing set-up is a failure in CI); locally it
/// prints a loud message and returns `None` so the test can skip.
pub fn require_csim(library: HeaderLibrary) -> Option<PathBuf> {
    let problem = match Command::new(CXX).arg("--version").output() {
        Ok(o) if o.status.success() => match find_headers(library) {
            Ok(dir) => return Some(dir),
            Err(e) => e.to_string(),
        },
        _ => format!("{CXX} not found on PATH: install it with `apt-get install g++`"),
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and the HLS C simulation cannot run: {problem}");
    }
    eprintln!("\n!!!!!!!! SKIPPED HLS C simulation: {problem} !!!!!!!!\n");
    None
}

/// The C++ of one design: a project directory, its sources and include directories
/// (relative to the directory), and the vendor header directory.
#[derive(Debug, Clone)]
pub struct CsimSources {
    pub dir: PathBuf,
    pub sources: Vec<PathBuf>,
    pub include_dirs: Vec<PathBuf>,
    /// The vendor library's directory (`.../ap_types` or `.../ac_types`).
    pub headers: PathBuf,
}

impl CsimSources {
    /// Include flags, relative to [`CsimSources::dir`] (the compiler runs there, so the
    /// command line is the same wherever the project was written: ccache hits).
    fn include_args(&self) -> Vec<String> {
        let mut args: Vec<String> = self
            .include_dirs
            .iter()
            .map(|inc| format!("-I{}", inc.display()))
            .collect();
        args.push("-isystem".into());
        args.push(self.headers.display().to_string());
        args
    }

    /// Include flags and the sources, relative to [`CsimSources::dir`].
    fn compiler_args(&self) -> Vec<String> {
        let mut args = self.include_args();
        args.extend(self.sources.iter().map(|s| s.display().to_string()));
        args
    }
}

fn shell_line(args: &[String]) -> String {
    let mut s = CXX.to_string();
    for a in args {
        s.push(' ');
        s.push_str(a);
    }
    s
}

fn combined(out: &Output) -> String {
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    s
}

/// The first `max_lines` lines of `text`.
fn head(text: &str, max_lines: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut s = lines[..lines.len().min(max_lines)].join("\n");
    if lines.len() > max_lines {
        s.push_str(&format!("\n... ({} more lines)", lines.len() - max_lines));
    }
    s
}

/// Compiles the sources with `-Wall -Wextra -Werror` (syntax check only; see
/// [`LINT_FLAGS`]). Ok means warning-free.
pub fn lint(src: &CsimSources) -> Result<(), CsimError> {
    let mut args: Vec<String> = LINT_FLAGS.iter().map(|s| s.to_string()).collect();
    args.extend(src.compiler_args());
    let out = run_tool(CXX, Command::new(CXX).args(&args).current_dir(&src.dir))?;
    let text = combined(&out);
    if !out.status.success() || text.contains("warning:") {
        return Err(CsimError::Lint {
            command: format!("(cd {} && {})", src.dir.display(), shell_line(&args)),
            output: head(&text, 40),
        });
    }
    Ok(())
}

/// A built C simulation.
#[derive(Debug)]
pub struct CsimProgram {
    exe: PathBuf,
    /// The command that built it.
    pub command: String,
}

/// Builds the C simulation into the executable `exe`, through `ccache` when it is on
/// `PATH` (repeated builds of the same generated C++ then take milliseconds).
pub fn build(src: &CsimSources, exe: &Path) -> Result<CsimProgram, CsimError> {
    build_with(src, exe, ccache_available())
}

/// Whether `ccache` can be started.
pub fn ccache_available() -> bool {
    Command::new("ccache")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// [`build`], choosing whether to go through `ccache` (benchmarks time the compiler
/// itself and pass `false`).
pub fn build_with(src: &CsimSources, exe: &Path, ccache: bool) -> Result<CsimProgram, CsimError> {
    let exe = if exe.is_absolute() {
        exe.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(io_error("reading the current directory"))?
            .join(exe)
    };
    let objects_dir = exe.with_extension("objs");
    std::fs::create_dir_all(&objects_dir)
        .map_err(io_error(format!("creating {}", objects_dir.display())))?;
    // Compile every source on its own (in parallel, and cacheable), then link.
    let mut commands = Vec::new();
    let mut children = Vec::new();
    let mut objects = Vec::new();
    for (i, source) in src.sources.iter().enumerate() {
        let stem = source
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("source");
        let object = objects_dir.join(format!("{i}_{stem}.o"));
        let mut args: Vec<String> = CXX_FLAGS.iter().map(|s| s.to_string()).collect();
        args.extend(src.include_args());
        args.extend(["-c".into(), source.display().to_string(), "-o".into()]);
        args.push(object.display().to_string());
        commands.push(format!(
            "(cd {} && {})",
            src.dir.display(),
            shell_line(&args)
        ));
        let mut cmd = if ccache {
            let mut c = Command::new("ccache");
            c.arg(CXX);
            c
        } else {
            Command::new(CXX)
        };
        cmd.args(&args)
            .current_dir(&src.dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let tool = if ccache { "ccache" } else { CXX };
        children.push(cmd.spawn().map_err(|e| spawn_error(tool, e))?);
        objects.push(object);
    }
    let mut failures = String::new();
    for child in children {
        let out = child
            .wait_with_output()
            .map_err(io_error(format!("waiting for {CXX}")))?;
        if !out.status.success() {
            failures.push_str(&combined(&out));
        }
    }
    let mut link: Vec<String> = objects.iter().map(|o| o.display().to_string()).collect();
    link.extend(["-o".into(), exe.display().to_string()]);
    commands.push(shell_line(&link));
    let command = commands.join(" && ");
    if !failures.is_empty() {
        return Err(CsimError::Build {
            command,
            output: head(&failures, 40),
        });
    }
    let out = run_tool(CXX, Command::new(CXX).args(&link))?;
    if !out.status.success() {
        return Err(CsimError::Build {
            command,
            output: head(&combined(&out), 40),
        });
    }
    Ok(CsimProgram { exe, command })
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch, CsimError> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "aecc-csim-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(io_error("creating a scratch directory"))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes vectors in the testbench's format: one per line, integers separated by spaces.
pub fn write_vectors(path: &Path, vectors: &[Vec<i64>]) -> Result<(), CsimError> {
    use std::io::Write;
    let file =
        std::fs::File::create(path).map_err(io_error(format!("creating {}", path.display())))?;
    let mut w = std::io::BufWriter::new(file);
    let e = || io_error(format!("writing {}", path.display()));
    for v in vectors {
        for (i, x) in v.iter().enumerate() {
            if i > 0 {
                w.write_all(b" ").map_err(e())?;
            }
            write!(w, "{x}").map_err(e())?;
        }
        w.write_all(b"\n").map_err(e())?;
    }
    w.flush().map_err(e())
}

/// Reads vectors in the testbench's format.
pub fn read_vectors(path: &Path) -> Result<Vec<Vec<i64>>, CsimError> {
    let text =
        std::fs::read_to_string(path).map_err(io_error(format!("reading {}", path.display())))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            line.split_whitespace()
                .map(|t| {
                    t.parse::<i64>().map_err(|e| CsimError::Output {
                        message: format!("{}:{}: '{t}': {e}", path.display(), n + 1),
                    })
                })
                .collect()
        })
        .collect()
}

impl CsimProgram {
    /// The executable.
    pub fn exe(&self) -> &Path {
        &self.exe
    }

    /// Runs every vector through one testbench process; returns one output vector per
    /// input vector.
    pub fn run(&self, inputs: &[Vec<i64>]) -> Result<Vec<Vec<i64>>, CsimError> {
        let scratch = Scratch::new()?;
        let in_path = scratch.0.join("inputs.txt");
        let out_path = scratch.0.join("outputs.txt");
        write_vectors(&in_path, inputs)?;
        let out = Command::new(&self.exe)
            .arg(&in_path)
            .arg(&out_path)
            .output()
            .map_err(io_error(format!("running {}", self.exe.display())))?;
        if !out.status.success() {
            return Err(CsimError::Run {
                status: out.status.to_string(),
                stderr: head(&String::from_utf8_lossy(&out.stderr), 20),
            });
        }
        let outputs = read_vectors(&out_path)?;
        if outputs.len() != inputs.len() {
            return Err(CsimError::Output {
                message: format!(
                    "{} input vectors but {} output vectors",
                    inputs.len(),
                    outputs.len()
                ),
            });
        }
        Ok(outputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_reports_the_first_difference_and_the_total() {
        let e = vec![vec![1, 2], vec![3, 4]];
        assert!(compare_outputs(&e, &e).is_ok());
        let a = vec![vec![1, 2], vec![5, 6]];
        match compare_outputs(&e, &a) {
            Err(CsimError::Mismatch(m)) => {
                assert_eq!(
                    (m.vector, m.element, m.expected, m.actual, m.total),
                    (1, 0, 3, 5, 2)
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(compare_outputs(&e, &a[..1]).is_err());
    }

    #[test]
    fn vectors_round_trip() {
        let s = Scratch::new().unwrap();
        let p = s.0.join("v.txt");
        let v = vec![vec![-512, 0, 511], vec![i64::MIN, i64::MAX, 7]];
        write_vectors(&p, &v).unwrap();
        assert_eq!(read_vectors(&p).unwrap(), v);
    }

    #[test]
    fn library_names() {
        for l in HeaderLibrary::ALL {
            assert_eq!(HeaderLibrary::from_name(l.name()), Some(l));
        }
        assert!(check_headers(HeaderLibrary::ApTypes, Path::new("/nonexistent")).is_err());
    }
}
