//! Cost of the HLS C++ path, per step, on a model:
//!
//!     cargo bench -p aecc --bench hls [-- MODEL.onnx [VECTORS]]
//!
//! (default `models/econt/model.onnx`, 100,000 vectors): import + passes (what every
//! `aecc compile` does), HLS emission, writing the files, the g++ C-simulation build of
//! each flavour (without ccache), and the C-simulation throughput (one testbench
//! process streaming VECTORS random on-grid vectors through text files, as `aecc verify
//! --hls` and the tests do). Child processes are timed by wall clock and by CPU time
//! (from /proc, Linux), which stays meaningful on a loaded machine. Needs g++ and the
//! headers (`scripts/setup-hls-headers.sh`).

use aecc::backend::hls::{emit, HlsFlavor, HlsOptions};
use aecc_sim::Simulator;
use aecc_testbench::hls_csim::{self, CsimSources, HeaderLibrary};
use std::path::PathBuf;
use std::time::Instant;

/// CPU seconds (user + system) of this process's finished children, from
/// `/proc/self/stat` (`cutime`, `cstime`); `None` off Linux.
fn children_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(13)?.parse::<f64>().ok()? + fields.get(14)?.parse::<f64>().ok()?;
    let hz = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    Some(ticks / hz)
}

/// Runs `f`, returning its result, wall seconds and children's CPU seconds.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let cpu0 = children_cpu_seconds().unwrap_or(0.0);
    let t = Instant::now();
    let out = f();
    let wall = t.elapsed().as_secs_f64();
    let cpu = children_cpu_seconds().unwrap_or(0.0) - cpu0;
    (out, wall, cpu)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let model = args.first().map(PathBuf::from).map_or_else(
        || root.join("models/econt/model.onnx"),
        |p| if p.is_absolute() { p } else { root.join(p) },
    );
    let vectors: usize = args
        .get(1)
        .map(|v| v.parse().expect("VECTORS"))
        .unwrap_or(100_000);
    println!("model {}", model.display());

    let t = Instant::now();
    let (graph, _) = aecc::pipeline::lower(&model, None).expect("imports");
    let lower_s = t.elapsed().as_secs_f64();
    println!("import + passes:            {:9.3} ms", lower_s * 1e3);

    let sim = Simulator::new(&graph).unwrap();
    let inputs = aecc::verify::random_vectors(&sim, vectors, 1);

    for flavor in HlsFlavor::ALL {
        let library = HeaderLibrary::from_name(flavor.header_library()).unwrap();
        let Some(headers) = hls_csim::require_csim(library) else {
            continue;
        };
        let opts = HlsOptions::new(flavor, "top");
        let t = Instant::now();
        let project = emit(&graph, &opts).unwrap();
        let emit_s = t.elapsed().as_secs_f64();
        let dir = tempfile::tempdir().unwrap();
        let t = Instant::now();
        project.write_to(dir.path()).unwrap();
        let write_s = t.elapsed().as_secs_f64();
        let src = CsimSources {
            dir: dir.path().to_path_buf(),
            sources: project.csim_sources(),
            include_dirs: vec![project.include_dir()],
            headers,
        };
        let (program, build_wall, build_cpu) =
            timed(|| hls_csim::build_with(&src, &dir.path().join("csim"), false).unwrap());
        let (out, run_wall, run_cpu) = timed(|| program.run(&inputs).unwrap());
        assert_eq!(out.len(), vectors);
        println!("[{flavor}] emit:                {:9.3} ms", emit_s * 1e3);
        println!("[{flavor}] write files:         {:9.3} ms", write_s * 1e3);
        println!("[{flavor}] g++ -O2 build:       {build_wall:9.3} s wall, {build_cpu:.3} s CPU");
        println!(
            "[{flavor}] import..build total: {:9.3} s wall",
            lower_s + emit_s + write_s + build_wall
        );
        println!(
            "[{flavor}] C-sim {vectors} vectors: {run_wall:9.3} s wall = {:.0} vectors/s, \
             {run_cpu:.3} s CPU = {:.0} vectors/s (incl. text I/O)",
            vectors as f64 / run_wall,
            vectors as f64 / run_cpu.max(1e-9)
        );
    }
}
