//! Building a Verilator simulator of a design and streaming vectors through it.

use crate::design::{Lane, Port, RtlDesign};
use crate::error::{CosimError, Mismatch};
use crate::lanes::{bus_to_hex, fits, hex_to_bus, pack_lanes, unpack_lanes};
use crate::tools::{head, is_file, run_tool, tool_available, verilator_version};
use askama::Template;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The C++ harness of one design (`hdl-templates/tb/harness.cpp`).
#[derive(Template)]
#[template(path = "tb/harness.cpp", escape = "none")]
struct HarnessView<'a> {
    top: &'a str,
    in_width: u32,
    in_words: u32,
    in_digits: u32,
    out_width: u32,
    out_words: u32,
    out_digits: u32,
}

/// The Verilator options of every build (part of the cache key).
const VERILATOR_FLAGS: &[&str] = &[
    "--cc",
    "--exe",
    "--build",
    "-O2",
    "--x-assign",
    "unique",
    "--x-initial",
    "unique",
];

/// How to run the Verilator build (none of it changes the simulator's behaviour).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOptions {
    /// Compile through ccache (`OBJCACHE=ccache`). Default: when ccache is on `PATH`.
    pub ccache: bool,
    /// Parallel compile jobs (`verilator -j`). Default: 2.
    pub jobs: u32,
}

impl Default for BuildOptions {
    fn default() -> BuildOptions {
        BuildOptions {
            ccache: tool_available("ccache"),
            jobs: 2,
        }
    }
}

/// Name of the simulator executable inside a cache entry.
const SIM_EXE: &str = "sim";

/// A built simulator of one design, ready to run vectors.
#[derive(Debug, Clone)]
pub struct Cosim {
    top: String,
    exe: PathBuf,
    input: Port,
    output: Port,
    latency: u32,
    /// Whether this call found the simulator in the cache (no Verilator run).
    pub cached: bool,
}

pub(crate) fn check_shape(design: &RtlDesign) -> Result<(), CosimError> {
    let fail = |message: String| {
        Err(CosimError::Design {
            top: design.top.clone(),
            message,
        })
    };
    if design.inputs.len() != 1 || design.outputs.len() != 1 {
        return fail(format!(
            "the harness drives exactly one input and one output port, the design has {} and {}",
            design.inputs.len(),
            design.outputs.len()
        ));
    }
    for p in design.inputs.iter().chain(&design.outputs) {
        if p.lanes.is_empty() || p.lanes.iter().any(|l| l.width == 0 || l.width > 64) {
            return fail(format!(
                "port {} needs at least one lane, each 1 to 64 bits wide",
                p.name
            ));
        }
    }
    if design.latency == 0 {
        return fail("latency must be at least one cycle".into());
    }
    Ok(())
}

fn harness_text(design: &RtlDesign) -> String {
    let (iw, ow) = (design.input().width(), design.output().width());
    HarnessView {
        top: &design.top,
        in_width: iw,
        in_words: iw.div_ceil(32),
        in_digits: iw.div_ceil(4),
        out_width: ow,
        out_words: ow.div_ceil(32),
        out_digits: ow.div_ceil(4),
    }
    .render()
    .expect("the harness template renders")
}

/// Cache key: hash of the Verilator version, the build flags, the harness and every
/// design file (name and text), each length-prefixed.
fn cache_key(version: &str, harness: &str, design: &RtlDesign) -> String {
    let mut h = Sha256::new();
    let mut put = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    put(version.as_bytes());
    for f in VERILATOR_FLAGS {
        put(f.as_bytes());
    }
    put(design.top.as_bytes());
    put(harness.as_bytes());
    for (name, text) in &design.files {
        put(name.as_bytes());
        put(text.as_bytes());
    }
    let digest = h.finalize();
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// Builds (or finds in `cache_dir`) the Verilator simulator of `design` with the C++
/// harness `harness`; returns the executable and whether it came from the cache. See
/// [`Cosim::build`] for the command and the cache.
pub(crate) fn build_executable(
    design: &RtlDesign,
    harness: &str,
    cache_dir: &Path,
    options: &BuildOptions,
) -> Result<(PathBuf, bool), CosimError> {
    let version = verilator_version()?;
    let key = cache_key(&version, harness, design);
    let entry = cache_dir.join(format!("{}-{}", design.top, key));
    let exe = entry.join(SIM_EXE);
    if is_file(&exe) {
        return Ok((exe, true));
    }
    std::fs::create_dir_all(cache_dir)
        .map_err(CosimError::io(format!("creating {}", cache_dir.display())))?;
    let tmp = tempfile::Builder::new()
        .prefix(".build-")
        .tempdir_in(cache_dir)
        .map_err(CosimError::io("creating a build directory"))?;
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).map_err(CosimError::io("creating src/"))?;
    let files = design
        .write_files(&src)
        .map_err(CosimError::io("writing design files"))?;
    let harness_path = tmp.path().join("harness.cpp");
    std::fs::write(&harness_path, harness).map_err(CosimError::io("writing harness.cpp"))?;

    let mut cmd = Command::new("verilator");
    cmd.args(VERILATOR_FLAGS)
        .args(["-j", &options.jobs.max(1).to_string()])
        .args(["--top-module", &design.top, "-Mdir", "obj", "-o", SIM_EXE])
        .arg("harness.cpp")
        .args(
            files
                .iter()
                .map(|f| f.strip_prefix(tmp.path()).unwrap_or(f)),
        )
        .current_dir(tmp.path());
    if options.ccache {
        cmd.env("OBJCACHE", "ccache");
    } else {
        cmd.env_remove("OBJCACHE");
    }
    let command = format!("{cmd:?}");
    let out = run_tool("verilator", &mut cmd)?;
    if !out.status.success() {
        let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stdout));
        return Err(CosimError::Build {
            top: design.top.clone(),
            command,
            output: head(&text, 30),
        });
    }
    // Keep the sources and the executable, drop the object files.
    let built = tmp.path().join("obj").join(SIM_EXE);
    std::fs::rename(&built, tmp.path().join(SIM_EXE))
        .map_err(CosimError::io("moving the simulator executable"))?;
    std::fs::remove_dir_all(tmp.path().join("obj"))
        .map_err(CosimError::io("removing object files"))?;
    let tmp_path = tmp.keep();
    if std::fs::rename(&tmp_path, &entry).is_err() {
        // Another build of the same design won the race: use its result.
        let _ = std::fs::remove_dir_all(&tmp_path);
        if !is_file(&exe) {
            return Err(CosimError::Io {
                context: format!("installing the simulator into {}", entry.display()),
                source: std::io::Error::other("rename failed"),
            });
        }
    }
    Ok((exe, false))
}

/// One input vector as a line of the harness protocol's hex (checked against the lanes).
pub(crate) fn vector_hex(index: usize, v: &[i64], port: &Port) -> Result<String, CosimError> {
    let in_lanes: &[Lane] = &port.lanes;
    if v.len() != in_lanes.len() {
        return Err(CosimError::BadVector {
            index,
            message: format!("{} values for {} lanes", v.len(), in_lanes.len()),
        });
    }
    if let Some((lane, (&x, l))) = v
        .iter()
        .zip(in_lanes)
        .enumerate()
        .find(|(_, (&x, &l))| !fits(x, l))
    {
        return Err(CosimError::BadVector {
            index,
            message: format!(
                "lane {lane}: {x} does not fit {} {} bits",
                if l.signed { "signed" } else { "unsigned" },
                l.width
            ),
        });
    }
    Ok(bus_to_hex(&pack_lanes(v, in_lanes), port.width()))
}

/// Runs a simulator executable with `args`, feeding `input` on stdin; fails when it
/// exits with an error.
pub(crate) fn run_simulator(
    top: &str,
    exe: &Path,
    args: &[String],
    input: String,
) -> Result<std::process::Output, CosimError> {
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(CosimError::io(format!("starting {}", exe.display())))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // Feed stdin from a thread while this one drains stdout (no pipe deadlock).
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child
        .wait_with_output()
        .map_err(CosimError::io("running the simulator"))?;
    let written = writer.join().expect("the writer thread does not panic");
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        return Err(CosimError::Simulation {
            top: top.to_string(),
            status: out.status.to_string(),
            stderr: head(&stderr, 20),
        });
    }
    written.map_err(CosimError::io("writing vectors to the simulator"))?;
    Ok(out)
}

/// The output vectors printed by a harness, one hex line each.
pub(crate) fn parse_outputs(
    top: &str,
    stdout: &[u8],
    port: &Port,
) -> Result<Vec<Vec<i64>>, CosimError> {
    let out_width = port.width();
    let stdout = String::from_utf8_lossy(stdout);
    let mut results = Vec::new();
    for (i, line) in stdout.lines().enumerate() {
        let bus = hex_to_bus(line.trim(), out_width).ok_or_else(|| CosimError::Protocol {
            top: top.to_string(),
            message: format!(
                "output line {}: not a {out_width}-bit hex value: {line}",
                i + 1
            ),
        })?;
        results.push(unpack_lanes(&bus, &port.lanes));
    }
    Ok(results)
}

impl Cosim {
    /// Builds (or finds in `cache_dir`) the Verilator simulator of `design`.
    ///
    /// The build runs `verilator --cc --exe --build -O2 -j 2 --x-assign unique
    /// --x-initial unique` (with `OBJCACHE=ccache` when ccache is on `PATH`) in a fresh
    /// directory under `cache_dir`, which is then renamed to `cache_dir/<top>-<key>`,
    /// where `key` hashes the Verilator version, the flags, the harness and every design
    /// file. Concurrent builds of the same design are safe.
    pub fn build(design: &RtlDesign, cache_dir: &Path) -> Result<Cosim, CosimError> {
        Cosim::build_with(design, cache_dir, &BuildOptions::default())
    }

    /// [`Cosim::build`] with explicit build options.
    pub fn build_with(
        design: &RtlDesign,
        cache_dir: &Path,
        options: &BuildOptions,
    ) -> Result<Cosim, CosimError> {
        check_shape(design)?;
        let (exe, cached) = build_executable(design, &harness_text(design), cache_dir, options)?;
        Ok(Cosim {
            top: design.top.clone(),
            exe,
            input: design.input().clone(),
            output: design.output().clone(),
            latency: design.latency,
            cached,
        })
    }

    /// Path of the simulator executable.
    pub fn executable(&self) -> &Path {
        &self.exe
    }

    /// Streams `vectors` (one value per input lane) through the simulator and returns
    /// one vector of output lane values per input, in order.
    ///
    /// With `bubbles = Some(seed)`, random idle cycles (`in_valid = 0`, random `in_data`)
    /// are inserted between vectors, drawn from a generator seeded by `seed`.
    pub fn run(
        &self,
        vectors: &[Vec<i64>],
        bubbles: Option<u64>,
    ) -> Result<Vec<Vec<i64>>, CosimError> {
        let in_width = self.input.width();
        let mut text = String::with_capacity(vectors.len() * (in_width as usize / 4 + 8));
        let mut rng = bubbles.map(rand_chacha::ChaCha8Rng::seed_from_u64);
        for (index, v) in vectors.iter().enumerate() {
            let hex = vector_hex(index, v, &self.input)?;
            if let Some(rng) = rng.as_mut() {
                let idle = if rng.random_ratio(1, 64) {
                    rng.random_range(1..=2 * self.latency + 2)
                } else if rng.random_ratio(1, 4) {
                    rng.random_range(1..=3)
                } else {
                    0
                };
                if idle > 0 {
                    text.push_str(&format!("+{idle} "));
                }
            }
            text.push_str(&hex);
            text.push('\n');
        }

        let max_drain = 2 * self.latency + 16;
        let out = run_simulator(&self.top, &self.exe, &[max_drain.to_string()], text)?;
        let results = parse_outputs(&self.top, &out.stdout, &self.output)?;
        if results.len() != vectors.len() {
            return Err(CosimError::OutputCount {
                top: self.top.clone(),
                inputs: vectors.len(),
                outputs: results.len(),
            });
        }
        Ok(results)
    }
}

/// Compares RTL outputs with reference outputs lane by lane; reports the first
/// difference (vector index, lane, expected, actual) and the total count.
pub fn compare_outputs(expected: &[Vec<i64>], actual: &[Vec<i64>]) -> Result<(), Mismatch> {
    let mut first: Option<Mismatch> = None;
    let mut total = 0;
    for (vector, (e, a)) in expected.iter().zip(actual).enumerate() {
        let lanes = e.len().max(a.len());
        for lane in 0..lanes {
            let (ev, av) = (e.get(lane).copied(), a.get(lane).copied());
            if ev != av {
                total += 1;
                if first.is_none() {
                    first = Some(Mismatch {
                        vector,
                        lane,
                        expected: ev.unwrap_or(i64::MIN),
                        actual: av.unwrap_or(i64::MIN),
                        total: 0,
                    });
                }
            }
        }
    }
    match first {
        None => Ok(()),
        Some(m) => Err(Mismatch { total, ..m }),
    }
}
