//! The `aecc` command line.

mod hardware;

use crate::pipeline::{compile, default_top_name, lower, CompileOptions};
use crate::verify::{
    check_reference_against_executor, cosimulate, default_cache_dir, sample_vectors, samples_dir,
    Comparison, VectorSource,
};
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use hardware::{HardwareArgs, SeuArgs};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "aecc", version, about = "Compile quantized (QAT) ONNX encoders to bit-exact Verilog", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Compile a model: DIR/rtl/*.v, DIR/report.json, DIR/ir.txt
    Compile {
        /// The ONNX model (QONNX Quant or QuantizeLinear/DequantizeLinear)
        model: PathBuf,
        /// Output directory
        #[arg(short, long, default_value = "build")]
        output: PathBuf,
        /// Name of the top Verilog module (default: from the model file name)
        #[arg(long)]
        top: Option<String>,
        /// Comma-separated passes to run instead of the default pipeline (see `aecc passes`)
        #[arg(long, value_delimiter = ',')]
        passes: Option<Vec<String>>,
        /// Also write an HLS C++ project to DIR/hls (Vitis/Vivado HLS or Catapult)
        #[arg(long, value_enum)]
        hls: Option<HlsChoice>,
        /// Compile a quantized Softmax at the end as a LUT softmax (exp table, exact
        /// division) instead of outputting the exact pre-softmax tensor
        #[arg(long)]
        lut_softmax: bool,
        /// Refuse designs whose fully unrolled arithmetic is estimated above this many
        /// adder bits (non-zero weight terms x accumulator widths, plus element-wise ops)
        #[arg(long, default_value_t = crate::limits::DEFAULT_MAX_ADDER_BITS)]
        max_adder_bits: u64,
        /// Also write DIR/report.{json,md,html} with the flows chosen by --synth/--liberty
        /// (as `aecc report DIR`)
        #[arg(long)]
        report: bool,
        #[command(flatten)]
        flows: ReportFlows,
        #[command(flatten)]
        hw: HardwareArgs,
    },
    /// Area, power, timing and latency report of a compiled directory:
    /// DIR/report.json, DIR/report.md, DIR/report.html
    Report {
        /// A directory written by `aecc compile`
        dir: PathBuf,
        #[command(flatten)]
        flows: ReportFlows,
        /// Clock period in ns for timing and power (default 25: 40 MHz)
        #[arg(long, default_value_t = 25.0)]
        clock_ns: f64,
        /// The ONNX model (default: the path recorded in DIR/report.json), for the power
        /// vectors
        #[arg(long)]
        model: Option<PathBuf>,
        /// Real-valued input samples for the power simulation (.npy/.csv; default: the
        /// model's samples/input.npy)
        #[arg(long)]
        samples: Option<PathBuf>,
    },
    /// Run the bit-exact reference model on a data set (.npy or .csv, first axis = samples)
    Simulate {
        model: PathBuf,
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        output: PathBuf,
        /// Inputs are integers already on the input grid (default: real values, quantized
        /// by the model's input quantizer)
        #[arg(long)]
        int_input: bool,
        /// Write output integers (int64 .npy) instead of real values
        #[arg(long)]
        int_output: bool,
        /// Count, per quantizer, how many values saturate (or wrap) on this data set, and
        /// print a warning line for every quantizer that does
        #[arg(long)]
        check_overflow: bool,
    },
    /// Compile, then prove the RTL bit-exact against the reference by Verilator co-simulation
    Verify {
        model: PathBuf,
        /// Number of random vectors on the input grid (plus the model's sample vectors)
        #[arg(long, default_value_t = 10_000)]
        vectors: usize,
        /// Seed of the random vectors
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Insert random idle cycles between inputs (tests the valid pipeline)
        #[arg(long)]
        bubbles: bool,
        /// Keep the generated design here (default: a temporary directory)
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[arg(long)]
        top: Option<String>,
        /// Also C-simulate the HLS C++ of this flavour (g++ with the vendor headers) on
        /// the same vectors
        #[arg(long, value_enum)]
        hls: Option<HlsChoice>,
        /// Directory of the ap_types headers (default: the scripts/setup-hls-headers.sh cache)
        #[arg(long)]
        ap_types: Option<PathBuf>,
        /// Directory of the ac_types headers (default: the scripts/setup-hls-headers.sh cache)
        #[arg(long)]
        ac_types: Option<PathBuf>,
        /// See `aecc compile --max-adder-bits`
        #[arg(long, default_value_t = crate::limits::DEFAULT_MAX_ADDER_BITS)]
        max_adder_bits: u64,
        /// Comma-separated passes to run instead of the default pipeline (see `aecc passes`)
        #[arg(long, value_delimiter = ',')]
        passes: Option<Vec<String>>,
        /// See `aecc compile --lut-softmax` (the reference computes the same LUT softmax;
        /// the check against the model's float samples/output.npy is skipped, as the
        /// LUT softmax approximates Softmax)
        #[arg(long)]
        lut_softmax: bool,
        #[command(flatten)]
        hw: HardwareArgs,
        #[command(flatten)]
        seu: SeuArgs,
    },
    /// Write the configuration image (.mem and .json) of a model's weights for a chip
    /// compiled with --weights registers, after checking that the model has the chip's
    /// architecture and precisions
    Weights {
        /// The model with the new weights
        model: PathBuf,
        /// The chip: the output directory of `aecc compile --weights registers`
        #[arg(long = "for", value_name = "DIR")]
        chip: PathBuf,
        /// Output folder [default: DIR/images/<model name>]
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Print the IR with inferred types, or every node that cannot be compiled
    Inspect { model: PathBuf },
    /// List the IR passes
    Passes,
}

/// One sample of `--int-input` data: every value must be an integer.
fn integer_sample(values: &[f64], sample: usize) -> Result<Vec<i64>> {
    values
        .iter()
        .map(|&v| {
            if v.fract() != 0.0 || !v.is_finite() {
                bail!("sample {sample}: {v} is not an integer (drop --int-input for real values)")
            }
            Ok(v as i64)
        })
        .collect()
}

/// HLS flavour on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum HlsChoice {
    /// AMD/Xilinx Vitis HLS / Vivado HLS (ap_fixed)
    Vitis,
    /// Siemens Catapult (ac_fixed)
    Catapult,
}

impl HlsChoice {
    fn flavor(self) -> crate::backend::hls::HlsFlavor {
        match self {
            HlsChoice::Vitis => crate::backend::hls::HlsFlavor::Vitis,
            HlsChoice::Catapult => crate::backend::hls::HlsFlavor::Catapult,
        }
    }
}

/// The tool flows of a report (`aecc report`, `aecc compile --report`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ReportFlows {
    /// yosys synthesis: generic cells and transistors per layer, Xilinx 7 LUT/FF/CARRY/DSP
    #[arg(long)]
    pub synth: bool,
    /// With --synth: yosys synth_ice40, and nextpnr-ice40 Fmax when the design fits
    #[arg(long)]
    pub ice40: bool,
    /// Liberty library: mapped area, OpenSTA slack, power at the model's activity
    #[arg(long)]
    pub liberty: Option<PathBuf>,
    /// Do not read or write the tool-result cache
    #[arg(long)]
    pub no_cache: bool,
}

/// Entry point; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let text = format!("{e:#}");
            if quotes_tool_output(&e) {
                // a Verilator/C++ failure: its output is multi-line by nature
                eprintln!("error: {text}");
            } else {
                eprintln!("error: {}", one_line(&text));
            }
            1
        }
    }
}

/// Whether the error quotes the output of an external tool (co-simulation builds and
/// lint), which keeps its line breaks.
fn quotes_tool_output(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<crate::Error>(),
            Some(crate::Error::Cosim(_))
        ) || c.downcast_ref::<aecc_testbench::CosimError>().is_some()
            || matches!(
                c.downcast_ref::<crate::report::ReportError>(),
                Some(crate::report::ReportError::ToolFailed { .. })
            )
            || matches!(
                c.downcast_ref::<crate::Error>(),
                Some(crate::Error::Report(
                    crate::report::ReportError::ToolFailed { .. }
                ))
            )
    })
}

/// The message with control characters escaped (`\n`, `\u{1b}`, ...): names read
/// from a model can contain anything, and an error about a model stays one line.
fn one_line(message: &str) -> String {
    message
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new(len);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Compile {
            model,
            output,
            top,
            passes,
            hls,
            lut_softmax,
            max_adder_bits,
            report,
            flows,
            hw,
        } => {
            let opts = CompileOptions {
                top,
                passes,
                lut_softmax,
                max_adder_bits: Some(max_adder_bits),
                reconfig: hw.reconfig(false)?,
                hardware: hw.options(),
            };
            let compiled = compile(&model, &opts)?;
            compiled.write(&output)?;
            if let Some(choice) = hls {
                let opts =
                    crate::backend::hls::HlsOptions::new(choice.flavor(), compiled.rtl.top.clone());
                let project = crate::backend::hls::emit(&compiled.graph, &opts)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let dir = output.join("hls");
                project
                    .write_to(&dir)
                    .with_context(|| format!("writing {}", dir.display()))?;
                println!(
                    "wrote {} ({} HLS project)",
                    dir.display(),
                    choice.flavor().name()
                );
            }
            if report {
                let mut r = compiled.report.clone();
                let vectors = crate::report::model_vectors(&compiled.graph, &model, None)?;
                full_report(&mut r, &compiled.rtl, vectors, &flows, 25.0, &output)?;
                return Ok(0);
            }
            print!("{}", compiled.report.summary());
            if let Some(r) = &compiled.reconfig {
                print!("{}", hardware::summary(r));
            }
            println!(
                "wrote {}/rtl/{}.v, {}/report.json",
                output.display(),
                compiled.rtl.top,
                output.display()
            );
            Ok(0)
        }
        Command::Report {
            dir,
            flows,
            clock_ns,
            model,
            samples,
        } => {
            let (mut r, rtl) = crate::report::load_compiled(&dir)?;
            let model = model.unwrap_or_else(|| PathBuf::from(&r.model));
            let vectors = if model.exists() {
                let (graph, _) = lower(&model, None)?;
                crate::report::model_vectors(&graph, &model, samples.as_deref())?
            } else {
                eprintln!(
                    "warning: model {} not found (pass --model): no power vectors",
                    model.display()
                );
                None
            };
            full_report(&mut r, &rtl, vectors, &flows, clock_ns, &dir)?;
            Ok(0)
        }
        Command::Simulate {
            model,
            input,
            output,
            int_input,
            int_output,
            check_overflow,
        } => {
            let (graph, warnings) = lower(&model, None)?;
            for w in &warnings {
                eprintln!("warning: {w}");
            }
            let sim = aecc_sim::Simulator::new(&graph)?;
            if sim.input_count() != 1 || sim.output_count() != 1 {
                bail!("simulate supports models with one input and one output");
            }
            let npy = |p: &std::path::Path| p.extension().and_then(|e| e.to_str()) == Some("npy");
            if npy(&input) && npy(&output) && !check_overflow {
                if let Some(chunks) = aecc_sim::io::NpyChunks::open(&input)? {
                    return simulate_streaming(
                        &graph, &sim, chunks, &input, &output, int_input, int_output,
                    );
                }
            }
            let batch = aecc_sim::io::read_batch(&input)?;
            let per = sim.input_info(0).len();
            if batch.sample_len() != per {
                bail!(
                    "{}: {} values per sample (shape {:?}), the model input {:?} has {}",
                    input.display(),
                    batch.sample_len(),
                    batch.shape,
                    sim.input_info(0).shape,
                    per
                );
            }
            let n = batch.samples();
            let ints = if check_overflow {
                // the scalar reference with a saturation-counting hook, sample by sample
                let out_len = sim.output_info(0).len();
                let mut ints = Vec::with_capacity(n * out_len);
                let mut counts = aecc_sim::OverflowCounts::new(&sim);
                for i in 0..n {
                    let x = if int_input {
                        integer_sample(batch.sample(i), i)?
                    } else {
                        sim.quantize_input_counting(0, batch.sample(i), &mut counts)?
                    };
                    let y = sim
                        .run_counting(&[&x], &mut counts)
                        .map(|mut v| v.swap_remove(0));
                    ints.extend(y.with_context(|| format!("sample {i}"))?);
                }
                report_overflow(&counts.layers(&sim));
                ints
            } else {
                // the batch evaluator (integer kernels of proven width, SIMD, threads)
                // gives the same integers as the scalar reference, sample for sample
                let fast = aecc_sim::BatchSimulator::new(&graph)?;
                if int_input {
                    let mut x = Vec::with_capacity(batch.data.len());
                    for i in 0..n {
                        x.extend(integer_sample(batch.sample(i), i)?);
                    }
                    fast.run_batch(&x, n)?
                } else {
                    fast.run_batch_f64(&batch.data, n)?
                }
            };
            let mut shape = vec![n];
            shape.extend(sim.output_info(0).shape.iter().skip(1));
            if int_output {
                if output.extension().and_then(|e| e.to_str()) != Some("npy") {
                    bail!("--int-output writes .npy");
                }
                aecc_sim::io::write_npy_i64(&output, &shape, &ints)?;
            } else {
                let real = sim.output_real(0, &ints);
                aecc_sim::io::write_batch(&output, &shape, &real)?;
            }
            println!("simulated {n} samples -> {}", output.display());
            Ok(0)
        }
        Command::Verify {
            model,
            vectors,
            seed,
            bubbles,
            output,
            top,
            hls,
            ap_types,
            ac_types,
            max_adder_bits,
            passes,
            lut_softmax,
            hw,
            seu,
        } => {
            let headers = match hls {
                Some(HlsChoice::Vitis) => ap_types,
                Some(HlsChoice::Catapult) => ac_types,
                None => None,
            };
            let seu = seu.options(&hw.tmr, seed)?;
            let opts = CompileOptions {
                top: top.or_else(|| Some(default_top_name(&model))),
                passes,
                lut_softmax,
                max_adder_bits: Some(max_adder_bits),
                reconfig: hw.reconfig(seu.is_some())?,
                hardware: hw.options(),
            };
            verify(
                model,
                vectors,
                seed,
                bubbles,
                output,
                opts,
                seu,
                hls.map(|h| (h, headers)),
            )
        }
        Command::Weights {
            model,
            chip,
            output,
        } => hardware::weights_command(&model, &chip, output),
        Command::Inspect { model } => {
            let bytes =
                std::fs::read(&model).with_context(|| format!("reading {}", model.display()))?;
            let found = crate::onnx::inspect(&bytes)?;
            if !found.issues.is_empty() {
                println!("{} node(s) cannot be compiled:", found.issues.len());
                for u in &found.issues {
                    println!("  {u}");
                }
                if found.skipped > 0 {
                    println!(
                        "({} node(s) after them were not checked: they read their outputs)",
                        found.skipped
                    );
                }
                return Ok(1);
            }
            let (graph, warnings) = lower(&model, None)?;
            print!("{}", aecc_ir::printer::print(&graph));
            for w in warnings {
                println!("warning: {w}");
            }
            Ok(0)
        }
        Command::Passes => {
            for p in crate::passes::PASSES {
                println!("{:<14} {}", p.name, p.description);
            }
            println!(
                "default pipeline: {}",
                crate::passes::default_pipeline().join(",")
            );
            println!("{}", crate::lower::LANE_PASSES_HELP);
            Ok(0)
        }
    }
}

/// CPU seconds (user + system) this process has used, all threads; `None` where it is
/// not known.
fn cpu_seconds() -> Option<f64> {
    #[cfg(unix)]
    {
        // SAFETY: getrusage writes into the zeroed struct it is given.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } == 0 {
            let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
            return Some(s(u.ru_utime) + s(u.ru_stime));
        }
    }
    None
}

/// Samples per chunk of `simulate` on a `.npy` data set (each chunk is spread over the
/// rayon threads by the batch evaluator).
const SIMULATE_CHUNK: usize = 1 << 16;

/// `simulate` from `.npy` to `.npy` a chunk at a time: read, evaluate with the batch
/// evaluator, write. Memory holds one chunk, not the data set; the timing line splits
/// the evaluation from the file I/O.
fn simulate_streaming(
    graph: &aecc_ir::Graph,
    sim: &aecc_sim::Simulator,
    mut chunks: aecc_sim::io::NpyChunks,
    input: &std::path::Path,
    output: &std::path::Path,
    int_input: bool,
    int_output: bool,
) -> Result<i32> {
    use std::time::Instant;
    let start = Instant::now();
    let per = sim.input_info(0).len();
    if chunks.sample_len() != per {
        bail!(
            "{}: {} values per sample (shape {:?}), the model input {:?} has {}",
            input.display(),
            chunks.sample_len(),
            chunks.shape(),
            sim.input_info(0).shape,
            per
        );
    }
    let n = chunks.shape()[0];
    let fast = aecc_sim::BatchSimulator::new(graph)?;
    let mut shape = vec![n];
    shape.extend(sim.output_info(0).shape.iter().skip(1));
    let mut out = aecc_sim::io::NpyOut::create(output, &shape, int_output)?;
    let (mut read_s, mut eval_s, mut write_s, mut eval_cpu) = (0.0, 0.0, 0.0, Some(0.0));
    let (mut real, mut ints, mut done) = (Vec::new(), Vec::new(), 0usize);
    loop {
        let t = Instant::now();
        let k = chunks.read_f64(SIMULATE_CHUNK, &mut real)?;
        read_s += t.elapsed().as_secs_f64();
        if k == 0 {
            break;
        }
        let (t, cpu) = (Instant::now(), cpu_seconds());
        // errors name the sample in the whole data set
        let at = |e: aecc_sim::SimError| match e {
            aecc_sim::SimError::InSample { sample, source } => aecc_sim::SimError::InSample {
                sample: sample + done,
                source,
            },
            e => e,
        };
        let y = if int_input {
            ints.clear();
            for i in 0..k {
                ints.extend(integer_sample(&real[i * per..(i + 1) * per], done + i)?);
            }
            fast.run_batch(&ints, k).map_err(at)?
        } else {
            fast.run_batch_f64(&real, k).map_err(at)?
        };
        eval_s += t.elapsed().as_secs_f64();
        eval_cpu = eval_cpu
            .zip(cpu.zip(cpu_seconds()))
            .map(|(a, (c0, c1))| a + c1 - c0);
        let t = Instant::now();
        out.write(&y, |v| sim.output_real(0, v))
            .with_context(|| format!("writing {}", output.display()))?;
        write_s += t.elapsed().as_secs_f64();
        done += k;
    }
    let t = Instant::now();
    out.finish()
        .with_context(|| format!("writing {}", output.display()))?;
    write_s += t.elapsed().as_secs_f64();
    println!("simulated {n} samples -> {}", output.display());
    let cpu = match eval_cpu {
        Some(c) => format!(
            ", {c:.3} s CPU = {:.0} per CPU-second",
            n as f64 / c.max(1e-9)
        ),
        None => String::new(),
    };
    println!(
        "time: {:.3} s; evaluation {eval_s:.3} s ({:.0} inferences/s with {} threads{cpu}), \
         reading {read_s:.3} s, writing {write_s:.3} s",
        start.elapsed().as_secs_f64(),
        n as f64 / eval_s.max(1e-9),
        aecc_sim::BatchSimulator::threads(),
    );
    Ok(0)
}

/// `simulate --check-overflow`: a table of every quantizer on stdout, and one warning
/// line on stderr for every quantizer that saturated (or wrapped) at least once.
fn report_overflow(layers: &[aecc_sim::LayerOverflow]) {
    let verb = |m: aecc_ir::Overflow| match m {
        aecc_ir::Overflow::Saturate => "saturated",
        aecc_ir::Overflow::Wrap => "wrapped",
    };
    let applied: Vec<_> = layers.iter().filter(|l| l.samples > 0).collect();
    let hit = applied.iter().filter(|l| l.overflowed > 0).count();
    println!(
        "check-overflow: {hit} of {} quantizer(s) out of range on this data set",
        applied.len()
    );
    let name_width = applied.iter().map(|l| l.name.len()).max().unwrap_or(0);
    for l in &applied {
        println!(
            "  {:<name_width$} {:>12} of {:>12} values {:<9} ({:.4}%), in {} of {} samples  [{}]",
            l.name,
            l.overflowed,
            l.values,
            verb(l.mode),
            100.0 * l.overflowed as f64 / l.values.max(1) as f64,
            l.samples_overflowed,
            l.samples,
            l.origin
        );
    }
    for l in applied.iter().filter(|l| l.overflowed > 0) {
        eprintln!(
            "warning: quantizer {} ({}) {} {} of {} values ({:.4}%) in {} of {} samples",
            l.name,
            l.origin,
            verb(l.mode),
            l.overflowed,
            l.values,
            100.0 * l.overflowed as f64 / l.values.max(1) as f64,
            l.samples_overflowed,
            l.samples
        );
    }
}

/// Runs every report flow with progress on the terminal and writes the report files.
fn full_report(
    report: &mut crate::report::DesignReport,
    rtl: &aecc_testbench::RtlDesign,
    vectors: Option<crate::report::Vectors>,
    flows: &ReportFlows,
    clock_ns: f64,
    dir: &std::path::Path,
) -> Result<()> {
    use crate::report::{add_analytic, add_tool_flows, write_files, Progress, ReportOptions};
    if !clock_ns.is_finite() || clock_ns <= 0.0 {
        bail!("--clock-ns must be a positive number of nanoseconds, got {clock_ns}");
    }
    let opts = ReportOptions {
        synth: flows.synth,
        ice40: flows.ice40,
        liberty: flows.liberty.clone(),
        clock_ns,
        cache: (!flows.no_cache).then(crate::report::tools::default_cache_dir),
    };
    if let Some(l) = &opts.liberty {
        if !l.is_file() {
            bail!("Liberty file {} not found", l.display());
        }
    }
    add_analytic(report, &rtl.files, clock_ns)?;
    let mut vectors = vectors;
    if let Some(v) = vectors.as_mut() {
        // weights in registers: the power simulation loads the image first
        v.config = crate::report::config_image(dir)?.unwrap_or_default();
    }
    let mut bar: Option<indicatif::ProgressBar> = None;
    let mut on_progress = |p: Progress| match p {
        Progress::Start(what, len) => {
            let pb = match len {
                Some(n) => progress_bar(n, what),
                None => {
                    let pb = indicatif::ProgressBar::new_spinner();
                    pb.set_message(what.to_string());
                    pb.enable_steady_tick(std::time::Duration::from_millis(120));
                    pb
                }
            };
            bar = Some(pb);
        }
        Progress::Position(n) => {
            if let Some(b) = &bar {
                b.set_position(n);
            }
        }
        Progress::Done(text) => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            eprintln!("{text}");
        }
    };
    add_tool_flows(report, rtl, vectors.as_ref(), &opts, &mut on_progress)?;
    let written = write_files(report, dir)?;
    print!("{}", report.summary());
    let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    println!("wrote {}", names.join(", "));
    Ok(())
}

fn report_comparison(what: &str, c: &Comparison) -> bool {
    if c.passed() {
        println!(
            "{what}: {} vectors, {} output lanes, all bits equal",
            c.vectors, c.lanes_compared
        );
        true
    } else {
        println!(
            "{what}: MISMATCH in {} of {} output lanes ({} vectors)",
            c.mismatch_count, c.lanes_compared, c.vectors
        );
        for m in &c.mismatches {
            println!("  {m}");
        }
        false
    }
}

#[allow(clippy::too_many_arguments)]
fn verify(
    model: PathBuf,
    vectors: usize,
    seed: u64,
    bubbles: bool,
    output: Option<PathBuf>,
    opts: CompileOptions,
    seu: Option<crate::verify_config::SeuOptions>,
    hls: Option<(HlsChoice, Option<PathBuf>)>,
) -> Result<i32> {
    let t = std::time::Instant::now();
    let compiled = compile(&model, &opts)?;
    let compile_s = t.elapsed().as_secs_f64();
    for w in &compiled.warnings {
        eprintln!("warning: {w}");
    }
    let keep;
    let dir = match output {
        Some(d) => d,
        None => {
            keep = tempfile::tempdir()?;
            keep.path().to_path_buf()
        }
    };
    compiled.write(&dir)?;
    let sim = aecc_sim::Simulator::new(&compiled.graph)?;
    if sim.input_count() != 1 || sim.output_count() != 1 {
        bail!("verify supports models with one input and one output");
    }
    let mut ok = true;
    if opts.lut_softmax {
        if samples_dir(&model).join("output.npy").exists() {
            println!(
                "reference vs QONNX executor: skipped (--lut-softmax approximates the model's \
                 Softmax, samples/output.npy holds the exact one)"
            );
        }
    } else if let Some(c) = check_reference_against_executor(&sim, &model)? {
        ok &= report_comparison("reference vs QONNX executor (samples/output.npy)", &c);
    }
    let samples = sample_vectors(&sim, &model)?.unwrap_or_default();
    let n_samples = samples.len();
    let source = VectorSource::new(&sim, vectors, seed, samples);
    let total = source.len();
    println!(
        "co-simulating {total} vectors ({vectors} random on the input grid, {n_samples} samples) \
         with Verilator"
    );
    if bubbles && compiled.reconfig.is_some() {
        bail!("--bubbles is not supported with --weights registers");
    }
    // the HLS C simulation and the configured harness take the vectors all at once
    let all = (hls.is_some() || compiled.reconfig.is_some()).then(|| source.clone().collect_all());
    if let Some(all) = all.as_ref().filter(|_| compiled.reconfig.is_some()) {
        ok &= hardware::verify_configured(&compiled, all, seed, seu.as_ref())?;
    } else {
        let batch = sim.compile_batch()?;
        let pb = progress_bar(total as u64, "co-sim");
        let (cmp, timing) = cosimulate(
            &compiled.rtl,
            &batch,
            source,
            &default_cache_dir(),
            bubbles.then_some(seed),
            |done| pb.set_position(done as u64),
        )?;
        pb.finish_and_clear();
        ok &= report_comparison("RTL vs reference", &cmp);
        println!("time: compile {compile_s:.3} s; {}", timing.summary());
    }
    if let (Some((choice, headers)), Some(all)) = (hls, all) {
        let flavor = choice.flavor();
        println!(
            "C-simulating the {} HLS C++ on the same {} vectors with g++",
            flavor.name(),
            all.len()
        );
        let hls_dir = dir.join("hls");
        let c = crate::verify::csimulate(
            &compiled.graph,
            flavor,
            &compiled.rtl.top,
            &sim,
            &all,
            &hls_dir,
            headers.as_deref(),
        )?;
        ok &= report_comparison(&format!("HLS C++ ({}) vs reference", flavor.name()), &c);
    }
    if ok {
        println!(
            "PASS: {} is bit-exact (latency {} cycles)",
            compiled.rtl.top, compiled.rtl.latency
        );
        Ok(0)
    } else {
        println!("FAIL");
        Ok(1)
    }
}
