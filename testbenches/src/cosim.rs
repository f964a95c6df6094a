//! Building a Verilator simulator of a design and streaming vectors through it.

use crate::design::{Port, RtlDesign};
use crate::error::{CosimError, Mismatch};
use crate::stream::{
    bus_bytes, run_pipe, top_word_mask, Block, Delivered, Idle, Pipe, StreamStats,
};
use crate::tools::{head, is_file, run_tool, tool_available, verilator_version};
use askama::Template;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The C++ harness of one design (`hdl-templates/tb/harness.cpp`).
#[derive(Template)]
#[template(path = "tb/harness.cpp", escape = "none")]
struct HarnessView<'a> {
    top: &'a str,
    in_width: u32,
    in_words: u32,
    in_record: usize,
    in_top_mask: String,
    out_width: u32,
    out_words: u32,
    out_record: usize,
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
    initiation_interval: u32,
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
    if design.initiation_interval == 0 {
        return fail("the initiation interval must be at least one cycle".into());
    }
    Ok(())
}

fn harness_text(design: &RtlDesign) -> String {
    let (iw, ow) = (design.input().width(), design.output().width());
    HarnessView {
        top: &design.top,
        in_width: iw,
        in_words: iw.div_ceil(32),
        in_record: 4 + bus_bytes(iw),
        in_top_mask: format!("{:#010x}", top_word_mask(iw)),
        out_width: ow,
        out_words: ow.div_ceil(32),
        out_record: bus_bytes(ow),
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

/// Vectors per block when a slice of vectors is streamed.
const BLOCK: usize = 4096;

/// Blocks of `vectors` (flattened), checking that each has one value per lane.
pub(crate) fn blocks_of<'a>(
    vectors: &'a [Vec<i64>],
    port: &'a Port,
) -> impl FnMut() -> Result<Option<Block<()>>, CosimError> + Send + 'a {
    let lanes = port.lanes.len();
    let mut at = 0;
    move || {
        if at >= vectors.len() {
            return Ok(None);
        }
        let chunk = &vectors[at..(at + BLOCK).min(vectors.len())];
        let mut flat = Vec::with_capacity(chunk.len() * lanes);
        for (i, v) in chunk.iter().enumerate() {
            if v.len() != lanes {
                return Err(CosimError::BadVector {
                    index: at + i,
                    message: format!("{} values for {lanes} lanes", v.len()),
                });
            }
            flat.extend_from_slice(v);
        }
        at += chunk.len();
        Ok(Some((flat, ())))
    }
}

/// Appends the outputs of a delivered block to `all`, one vector each.
pub(crate) fn collect_into(all: &mut Vec<Vec<i64>>, d: &Delivered<'_, ()>, port: &Port) {
    let lanes = port.lanes.len().max(1);
    all.extend(d.outputs.chunks(lanes).map(<[i64]>::to_vec));
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
            initiation_interval: design.initiation_interval,
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
    /// are inserted between vectors, drawn from a generator seeded by `seed`. Vectors are
    /// always at least the design's initiation interval apart.
    pub fn run(
        &self,
        vectors: &[Vec<i64>],
        bubbles: Option<u64>,
    ) -> Result<Vec<Vec<i64>>, CosimError> {
        let mut all = Vec::with_capacity(vectors.len());
        let output = &self.output;
        self.stream(bubbles, blocks_of(vectors, &self.input), |d| {
            collect_into(&mut all, &d, output);
            Ok(())
        })?;
        Ok(all)
    }

    /// Streams the blocks `next` produces through the simulator until it returns `None`,
    /// and hands each block's outputs with its payload to `check`, in order. A block is
    /// `(values, payload)`: whole input vectors, vector-major (one value per input lane).
    ///
    /// `next` runs on a writer thread while this thread reads and checks, so producing
    /// the next blocks (e.g. computing their reference outputs), the simulator and the
    /// checking overlap; at most [`crate::stream::QUEUED_BLOCKS`] blocks are in flight.
    /// An error from `next` or `check` stops the run and is returned. Bubbles as in
    /// [`Cosim::run`].
    pub fn stream<T, N, C>(
        &self,
        bubbles: Option<u64>,
        next: N,
        check: C,
    ) -> Result<StreamStats, CosimError>
    where
        T: Send,
        N: FnMut() -> Result<Option<Block<T>>, CosimError> + Send,
        C: FnMut(Delivered<'_, T>) -> Result<(), CosimError>,
    {
        let max_drain = 2 * self.latency + 2 * self.initiation_interval + 16;
        let gap = self.initiation_interval - 1;
        let pipe = Pipe {
            top: &self.top,
            exe: &self.exe,
            args: vec![max_drain.to_string()],
            preamble: Vec::new(),
            input: &self.input,
            output: &self.output,
            idle: match bubbles {
                Some(seed) => Idle::Random {
                    seed,
                    latency: self.latency,
                    gap,
                },
                None if gap > 0 => Idle::Interval(gap),
                None => Idle::None,
            },
            strict: true,
        };
        run_pipe(pipe, next, check)
    }

    /// The output port (lane layout of the delivered outputs).
    pub fn output(&self) -> &Port {
        &self.output
    }

    /// The input port.
    pub fn input(&self) -> &Port {
        &self.input
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
