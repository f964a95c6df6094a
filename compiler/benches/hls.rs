//! Cost of the HLS C++ path, per step, on a bundled model:
//!
//!     cargo bench -p aecc --bench hls [-- MODEL.onnx [VECTORS]]
//!
//! import + passes (what every `aecc compile` does), HLS emission, writing the files,
//! the g++ C-simulation build of each flavour (without ccache), and the C-simulation throughput (one
//! testbench process streaming VECTORS random on-grid vectors through text files, as
//! `aecc verify --hls` and the tests do). Needs g++ and the headers
//! (`scripts/setup-hls-headers.sh`). Prints one line per step.

use aecc::backend::hls::{emit, HlsFlavor, HlsOptions};
use aecc_sim::Simulator;
use aecc_testbench::hls_csim::{self, CsimSources, HeaderLibrary};
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let model = args.first().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/econt/model.onnx")
    });
    let vectors: usize = args
        .get(1)
        .map(|v| v.parse().expect("VECTORS"))
        .unwrap_or(100_000);
    println!("model {}", model.display());

    let t = Instant::now();
    let (graph, _) = aecc::pipeline::lower(&model, None).expect("imports");
    let lower_s = t.elapsed().as_secs_f64();
    println!("import + passes:           {:9.3} ms", lower_s * 1e3);

    let sim = Simulator::new(&graph).unwrap();
    let info = sim.input_info(0).clone();
    let (lo, hi) = (info.ty.min_int() as i64, info.ty.max_int() as i64);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let inputs: Vec<Vec<i64>> = (0..vectors)
        .map(|_| (0..info.len()).map(|_| rng.random_range(lo..=hi)).collect())
        .collect();

    for flavor in HlsFlavor::ALL {
        let library = HeaderLibrary::from_name(flavor.header_library()).unwrap();
        let Some(headers) = hls_csim::require_csim(library) else {
            continue;
        };
        let opts = HlsOptions::new(flavor, "econt");
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
        let t = Instant::now();
        let program = hls_csim::build_with(&src, &dir.path().join("csim"), false).unwrap();
        let build_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let out = program.run(&inputs).unwrap();
        let run_s = t.elapsed().as_secs_f64();
        assert_eq!(out.len(), vectors);
        println!("[{flavor}] emit:               {:9.3} ms", emit_s * 1e3);
        println!("[{flavor}] write files:        {:9.3} ms", write_s * 1e3);
        println!("[{flavor}] g++ -O2 build:      {:9.3} s", build_s);
        println!(
            "[{flavor}] import..build total: {:9.3} s",
            lower_s + emit_s + write_s + build_s
        );
        println!(
            "[{flavor}] C-sim {vectors} vectors: {:9.3} s = {:.0} vectors/s (incl. text I/O)",
            run_s,
            vectors as f64 / run_s
        );
    }
}
