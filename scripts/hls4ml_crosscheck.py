#!/usr/bin/env python3
"""Cross-check of aecc's bit-exact reference against hls4ml 1.3.0, and a benchmark of
both HLS C++ flows.

    scripts/hls4ml_crosscheck.py [MODEL] [--vectors N] [--bench] [--default-precision-demo]

MODEL (default models/econt/model.onnx) is a QONNX model. The script

1. takes the model through hls4ml 1.3.0 the way its documentation does for QONNX
   (qonnx cleanup, channels-last, Gemm -> MatMul; Vitis backend, io_parallel), with the
   input precision set explicitly to the grid of the model's first Quant (hls4ml's
   default input type ap_fixed<16,6> truncates and wraps before that Quant);
2. compiles hls4ml's C simulation and runs it on the model's sample vectors
   (samples/input.npy, when present) plus random vectors on the input grid, N in all;
3. runs aecc's reference (`aecc simulate`) on the same vectors and reports every
   difference;
4. with --default-precision-demo, repeats the comparison with hls4ml's default input
   precision on real-valued (off-grid, partly out-of-range) inputs, and checks that
   truncating and wrapping the inputs into that type explains every difference;
5. with --bench, times hls4ml (qonnx preprocessing + convert + write + compile) against
   aecc (`aecc compile --hls vitis` + the g++ C-simulation build, or the in-process
   equivalent `cargo bench -p aecc --bench hls` while the CLI has no --hls), and the
   C-simulation throughput of both.

hls4ml and qonnx are installed, pinned (scripts/hls4ml-requirements.txt), into a venv
(default ~/.cache/aecc/hls4ml-venv, or $AECC_HLS4ML_VENV); the script re-runs itself
inside it. aecc is taken from target/release/aecc (built with cargo if missing) or
--aecc BIN. Results go to stdout (Markdown) and, with --json FILE, to a JSON file.
"""

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO / "scripts" / "hls4ml-requirements.txt"


def venv_dir() -> Path:
    env = os.environ.get("AECC_HLS4ML_VENV")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "aecc" / "hls4ml-venv"


def ensure_venv_and_reexec(script=None) -> None:
    """Creates the pinned venv if needed and re-executes `script` (default: this script)
    inside it, with the same arguments."""
    venv = venv_dir()
    python = venv / "bin" / "python"
    if Path(sys.prefix).resolve() == venv.resolve():
        return
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    stamp = venv / ".aecc-requirements-sha256"
    if not (python.exists() and stamp.exists() and stamp.read_text().strip() == digest):
        print(f"setting up the hls4ml venv in {venv} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)],
            check=True,
        )
        stamp.write_text(digest + "\n")
    script = Path(script or __file__).resolve()
    os.execv(str(python), [str(python), str(script)] + sys.argv[1:])


def header_dir(library: str) -> Path:
    """The cache rule of scripts/setup-hls-headers.sh."""
    if os.environ.get("AECC_HLS_HEADERS"):
        base = Path(os.environ["AECC_HLS_HEADERS"])
    elif os.environ.get("XDG_CACHE_HOME"):
        base = Path(os.environ["XDG_CACHE_HOME"]) / "aecc" / "hls-headers"
    else:
        base = Path.home() / ".cache" / "aecc" / "hls-headers"
    return base / library


def aecc_binary(args) -> Path:
    if args.aecc:
        return Path(args.aecc)
    exe = REPO / "target" / "release" / "aecc"
    if not exe.exists():
        print("building aecc (cargo build --release -p aecc) ...", file=sys.stderr)
        subprocess.run(["cargo", "build", "--release", "-p", "aecc"], cwd=REPO, check=True)
    return exe


# ---------------------------------------------------------------------------------------
# the model's input grid


def _constants(graph):
    from onnx import numpy_helper

    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


def output_lsb(model_path: Path) -> float:
    """The scale of the Quant that writes the graph output (1.0 if there is none)."""
    import numpy as np
    import onnx

    graph = onnx.load(str(model_path)).graph
    values = _constants(graph)
    outputs = {o.name for o in graph.output}
    for node in graph.node:
        if node.op_type == "Quant" and node.output[0] in outputs:
            return float(np.min(np.asarray(values[node.input[1]])))
    return 1.0


def input_quant(model_path: Path):
    """(bits, frac, signed, narrow) of the Quant that reads the graph input."""
    import numpy as np
    import onnx

    graph = onnx.load(str(model_path)).graph
    values = _constants(graph)
    inits = {i.name for i in graph.initializer}
    real_inputs = [i.name for i in graph.input if i.name not in inits]
    for node in graph.node:
        if node.op_type == "Quant" and node.input[0] in real_inputs:
            scale = float(np.asarray(values[node.input[1]]).reshape(-1)[0])
            zero = float(np.asarray(values[node.input[2]]).reshape(-1)[0])
            bits = int(np.asarray(values[node.input[3]]).reshape(-1)[0])
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            frac = -np.log2(scale)
            if zero != 0 or frac != round(frac):
                sys.exit(f"input Quant {node.name}: scale {scale}, zero point {zero}: not a fixed-point grid")
            return bits, int(round(frac)), bool(attrs.get("signed", 1)), bool(attrs.get("narrow", 0))
    sys.exit(f"{model_path}: no Quant node reads the graph input")


def precision_string(bits, frac, signed, rounding="RND_CONV", overflow="SAT"):
    kind = "fixed" if signed else "ufixed"
    return f"{kind}<{bits},{bits - frac},{rounding},{overflow}>"


# ---------------------------------------------------------------------------------------
# hls4ml


def hls4ml_flow(model_path: Path, out_dir: Path, input_precision):
    """Converts, writes and compiles with hls4ml; returns (hls_model, timings, layers).
    hls4ml's progress messages go to stderr, so stdout stays the report."""
    with contextlib.redirect_stdout(sys.stderr):
        return _hls4ml_flow(model_path, out_dir, input_precision)


def _hls4ml_flow(model_path: Path, out_dir: Path, input_precision):
    timings = {}
    t = time.perf_counter()
    import hls4ml
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model

    timings["python imports"] = time.perf_counter() - t

    t = time.perf_counter()
    model = ModelWrapper(str(model_path))
    model = cleanup_model(model)
    model = model.transform(ConvertToChannelsLastAndClean())
    model = model.transform(GemmToMatMul())
    model = cleanup_model(model)
    timings["qonnx preprocess"] = time.perf_counter() - t

    t = time.perf_counter()
    config = hls4ml.utils.config.config_from_onnx_model(
        model, granularity="name", backend="Vitis", default_precision="fixed<16,6>"
    )
    input_name = model.graph.input[0].name
    if input_precision is not None:
        config["LayerName"][input_name]["Precision"]["result"] = input_precision
    hls_model = hls4ml.converters.convert_from_onnx_model(
        model,
        output_dir=str(out_dir),
        io_type="io_parallel",
        backend="Vitis",
        hls_config=config,
    )
    timings["convert"] = time.perf_counter() - t

    t = time.perf_counter()
    hls_model.write()
    timings["write"] = time.perf_counter() - t

    t = time.perf_counter()
    cpu = children_cpu()
    hls_model.compile()
    timings["compile (g++)"] = time.perf_counter() - t
    timings["compile (g++) CPU"] = children_cpu() - cpu

    layers = {
        layer.name: {k: str(v.precision) for k, v in layer.types.items()}
        for layer in hls_model.get_layers()
    }
    return hls_model, timings, layers


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def hls4ml_predict(hls_model, x):
    """hls4ml's C simulation (in this process, through ctypes): outputs, wall seconds,
    CPU seconds."""
    import numpy as np

    t = time.perf_counter()
    cpu = time.process_time()
    with contextlib.redirect_stdout(sys.stderr):
        y = hls_model.predict(np.ascontiguousarray(x, dtype=np.float32))
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    return np.asarray(y, dtype=np.float64).reshape(len(x), -1), wall, cpu


# ---------------------------------------------------------------------------------------
# aecc


def aecc_simulate(aecc: Path, model: Path, x, work: Path, name: str):
    import numpy as np

    inp = work / f"{name}_in.npy"
    out = work / f"{name}_out.npy"
    np.save(inp, x.astype(np.float64))
    subprocess.run(
        [str(aecc), "simulate", str(model), "--input", str(inp), "--output", str(out)],
        check=True,
        stdout=sys.stderr,
    )
    return np.load(out).astype(np.float64).reshape(len(x), -1)


def aecc_bench(aecc: Path, model: Path, ints, work: Path):
    """Times `aecc compile --hls vitis` + g++ build + C simulation of `ints`, or falls
    back to the in-process bench (cargo bench -p aecc --bench hls)."""
    help_text = subprocess.run(
        [str(aecc), "compile", "--help"], capture_output=True, text=True
    ).stdout
    if "--hls" not in help_text:
        print("aecc compile has no --hls yet: timing the in-process equivalent "
              "(cargo bench -p aecc --bench hls)", file=sys.stderr)
        t = time.perf_counter()
        run = subprocess.run(
            ["cargo", "bench", "-q", "-p", "aecc", "--bench", "hls", "--", str(model), str(len(ints))],
            cwd=REPO, capture_output=True, text=True, check=True,
        )
        result = {"method": "cargo bench -p aecc --bench hls (in-process: import + passes + emit + write + g++)",
                  "raw": run.stdout.strip().splitlines()}
        for line in run.stdout.splitlines():
            m = re.match(r"\[vitis\] (emit|write files):\s+([\d.]+) ms", line)
            if m:
                result[m.group(1)] = float(m.group(2)) / 1000
            m = re.match(r"\[vitis\] g\+\+ -O2 build:\s+([\d.]+) s wall, ([\d.]+) s CPU", line)
            if m:
                result["g++ -O2 build"] = float(m.group(1))
                result["g++ -O2 build CPU"] = float(m.group(2))
            m = re.match(r"\[vitis\] C-sim \d+ vectors:\s+([\d.]+) s wall.*?, ([\d.]+) s CPU", line)
            if m:
                result["C-sim seconds"] = float(m.group(1))
                result["C-sim CPU"] = float(m.group(2))
            m = re.match(r"import \+ passes:\s+([\d.]+) ms", line)
            if m:
                result["import + passes"] = float(m.group(1)) / 1000
        result["import + passes + emit + write + build"] = sum(
            result.get(k, 0.0) for k in ("import + passes", "emit", "write files", "g++ -O2 build")
        )
        return result

    out_dir = work / "aecc_build"
    t = time.perf_counter()
    subprocess.run([str(aecc), "compile", str(model), "-o", str(out_dir), "--hls", "vitis"],
                   check=True, capture_output=True)
    compile_s = time.perf_counter() - t
    hls = out_dir / "hls"
    tb = sorted((hls / "tb").glob("*_tb.cpp"))[0]
    top = tb.name[: -len("_tb.cpp")]
    exe = work / "aecc_csim"
    cmd = ["g++", "-std=c++17", "-O2", f"-I{hls / 'firmware'}", "-isystem", str(header_dir("ap_types")),
           str(hls / "firmware" / f"{top}.cpp"), str(tb), "-o", str(exe)]
    t, cpu = time.perf_counter(), children_cpu()
    subprocess.run(cmd, check=True)
    build_s, build_cpu = time.perf_counter() - t, children_cpu() - cpu
    vec_in = work / "aecc_vectors.txt"
    vec_in.write_text("".join(" ".join(str(int(v)) for v in row) + "\n" for row in ints))
    t, cpu = time.perf_counter(), children_cpu()
    subprocess.run([str(exe), str(vec_in), str(work / "aecc_outputs.txt")], check=True)
    run_s, run_cpu = time.perf_counter() - t, children_cpu() - cpu
    return {"method": "aecc compile --hls vitis + g++", "aecc compile --hls vitis": compile_s,
            "g++ -O2 build": build_s, "g++ -O2 build CPU": build_cpu,
            "import + passes + emit + write + build": compile_s + build_s,
            "C-sim seconds": run_s, "C-sim CPU": run_cpu}


# ---------------------------------------------------------------------------------------


def compare(reference, actual, lsb):
    import numpy as np

    diff = reference != actual
    report = {
        "values": int(diff.size),
        "differing values": int(diff.sum()),
        "differing vectors": int(diff.any(axis=1).sum()),
    }
    if diff.any():
        report["max |difference| in output LSBs"] = float(np.abs(reference - actual).max() / lsb)
        report["first differences"] = [
            {"vector": int(i), "output": int(j), "aecc": float(reference[i, j]), "hls4ml": float(actual[i, j])}
            for i, j in np.argwhere(diff)[:5]
        ]
    return report


def truncate_wrap(x, bits, frac):
    """What hls4ml's default input type ap_fixed<bits, bits - frac> (AP_TRN, AP_WRAP)
    does to a real input."""
    import numpy as np

    n = np.floor(x.astype(np.float64) * 2.0**frac).astype(np.int64)
    n = (n + (1 << (bits - 1))) % (1 << bits) - (1 << (bits - 1))
    return n / 2.0**frac


def main():
    ensure_venv_and_reexec()
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default=str(REPO / "models" / "econt" / "model.onnx"))
    parser.add_argument("--vectors", type=int, default=10_000, help="vectors in all (samples + random)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--aecc", help="the aecc binary (default target/release/aecc)")
    parser.add_argument("--bench", action="store_true", help="also time both flows")
    parser.add_argument("--repeat", type=int, default=3, help="--bench: best of this many runs")
    parser.add_argument("--default-precision-demo", action="store_true",
                        help="also show what hls4ml's default input precision does")
    parser.add_argument("--json", help="write the results to this JSON file")
    parser.add_argument("--keep", help="keep the work directory here")
    args = parser.parse_args()

    model = Path(args.model).resolve()
    aecc = aecc_binary(args)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="aecc-hls4ml-"))
    work.mkdir(parents=True, exist_ok=True)
    results = {"model": str(model.relative_to(REPO) if model.is_relative_to(REPO) else model)}

    bits, frac, signed, narrow = input_quant(model)
    lo = -(1 << (bits - 1)) + int(narrow) if signed else 0
    hi = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1 - int(narrow)
    precision = precision_string(bits, frac, signed)
    results["input precision given to hls4ml"] = precision

    # vectors: the committed samples, then random integers on the input grid
    rng = np.random.default_rng(args.seed)
    samples_path = model.parent / "samples" / "input.npy"
    parts = []
    if samples_path.exists():
        parts.append(np.round(np.load(samples_path).astype(np.float64) * 2.0**frac).astype(np.int64))
    sample_shape = parts[0].shape[1:] if parts else None
    if sample_shape is None:
        import onnx
        dims = onnx.load(str(model)).graph.input[0].type.tensor_type.shape.dim
        sample_shape = tuple(d.dim_value for d in dims[1:])
    have = sum(len(p) for p in parts)
    if args.vectors > have:
        parts.append(rng.integers(lo, hi, size=(args.vectors - have,) + tuple(sample_shape), endpoint=True))
    ints = np.concatenate(parts)[: args.vectors]
    x = ints / 2.0**frac
    flat_ints = ints.reshape(len(ints), -1)
    results["vectors"] = {"total": int(len(x)), "from samples/input.npy": int(min(have, len(x)))}

    # 1-3: hls4ml with the explicit input precision vs aecc's reference
    hls_model, timings, layers = hls4ml_flow(model, work / "hls4ml_prj", precision)
    y_hls, predict_s, predict_cpu = hls4ml_predict(hls_model, x)
    y_ref = aecc_simulate(aecc, model, x, work, "grid")
    lsb = output_lsb(model)
    results["hls4ml vs aecc (explicit input precision)"] = compare(y_ref, y_hls, lsb)
    results["hls4ml layer precisions"] = layers
    committed = model.parent / "samples" / "output.npy"
    if committed.exists():
        q = np.load(committed).astype(np.float64).reshape(-1, y_ref.shape[1])
        n = min(len(q), len(y_ref))
        results["aecc vs committed QONNX-executor samples"] = compare(q[:n], y_ref[:n], lsb)

    # 4: the default input precision on real-valued inputs
    if args.default_precision_demo:
        demo_model, _, demo_layers = hls4ml_flow(model, work / "hls4ml_default_prj", None)
        real = rng.normal(0.0, 2.0 ** (bits - frac - 2), size=x.shape)
        real[: len(real) // 10] *= 16.0  # a tenth of the vectors far outside the input range
        real = real.astype(np.float32).astype(np.float64)  # what hls4ml's predict() sees
        y_demo, _, _ = hls4ml_predict(demo_model, real)
        y_ref_real = aecc_simulate(aecc, model, real, work, "real")
        demo = compare(y_ref_real, y_demo, lsb)
        # the cause: the input is truncated and wrapped into ap_fixed<16,6> first
        y_explained = aecc_simulate(aecc, model, truncate_wrap(real, 16, 10), work, "explained")
        demo["hls4ml equals aecc on inputs truncated+wrapped to ap_fixed<16,6>"] = bool(
            np.array_equal(y_explained, y_demo)
        )
        demo["hls4ml input layer precision"] = next(iter(demo_layers.values()))
        results["hls4ml default input precision fixed<16,6> on real-valued inputs"] = demo

    # 5: timings
    if args.bench:
        # best of --repeat runs of every step (the machine may be shared)
        csim = {"C-sim (predict) seconds": predict_s, "C-sim (predict) CPU": predict_cpu}
        hls_runs = [dict(timings, **csim)]
        for r in range(1, args.repeat):
            again, t, _ = hls4ml_flow(model, work / f"hls4ml_prj_{r}", precision)
            _, p_s, p_cpu = hls4ml_predict(again, x)
            hls_runs.append(dict(t, **{"C-sim (predict) seconds": p_s, "C-sim (predict) CPU": p_cpu}))
        hls = {k: min(run[k] for run in hls_runs) for k in hls_runs[0]}
        hls["python imports"] = hls_runs[0]["python imports"]  # only the first run imports
        steps = ("qonnx preprocess", "convert", "write", "compile (g++)")
        hls["preprocess + convert + write + compile"] = min(
            sum(run[k] for k in steps) for run in hls_runs
        )
        hls["C-sim vectors/s"] = len(x) / hls["C-sim (predict) seconds"]
        hls["C-sim vectors/s (CPU)"] = len(x) / max(hls["C-sim (predict) CPU"], 1e-9)
        aecc_runs = [aecc_bench(aecc, model, flat_ints, work) for _ in range(args.repeat)]
        bench = dict(aecc_runs[0])
        for k, v in aecc_runs[0].items():
            if isinstance(v, float):
                bench[k] = min(run[k] for run in aecc_runs)
        if bench.get("C-sim seconds"):
            bench["C-sim vectors/s"] = len(x) / bench["C-sim seconds"]
        if bench.get("C-sim CPU"):
            bench["C-sim vectors/s (CPU)"] = len(x) / bench["C-sim CPU"]
        bench.pop("raw", None)
        results["bench"] = {
            "repeat": args.repeat,
            "load average at the end": os.getloadavg()[0],
            "hls4ml": hls,
            "aecc": bench,
        }

    print_markdown(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    differing = results["hls4ml vs aecc (explicit input precision)"]["differing values"]
    return 1 if differing else 0


def print_markdown(results):
    print(f"## hls4ml 1.3.0 cross-check: {results['model']}\n")
    print(f"- input precision given to hls4ml: `{results['input precision given to hls4ml']}`")
    v = results["vectors"]
    print(f"- vectors: {v['total']} ({v['from samples/input.npy']} from samples/input.npy, the rest random on the input grid)")
    main = results["hls4ml vs aecc (explicit input precision)"]
    print(f"- hls4ml C-sim vs aecc reference: {main['differing values']} of {main['values']} values differ"
          f" ({main['differing vectors']} vectors)")
    if "aecc vs committed QONNX-executor samples" in results:
        c = results["aecc vs committed QONNX-executor samples"]
        print(f"- aecc reference vs committed QONNX-executor outputs: {c['differing values']} of {c['values']} values differ")
    for k, d in results.items():
        if k.startswith("hls4ml default input precision"):
            print(f"- {k}: {d['differing values']} of {d['values']} values differ ({d['differing vectors']} vectors);"
                  f" explained by truncation+wrap of the input: {d['hls4ml equals aecc on inputs truncated+wrapped to ap_fixed<16,6>']}")
    print("\nhls4ml layer precisions:\n")
    for name, types in results["hls4ml layer precisions"].items():
        print(f"- {name}: " + ", ".join(f"{k}={v}" for k, v in types.items()))
    if "bench" in results:
        b = results["bench"]
        print(f"\n### timings (seconds, best of {b['repeat']}; load average {b['load average at the end']:.1f})\n")
        for side in ("hls4ml", "aecc"):
            for k, val in b[side].items():
                if k == "raw":
                    continue
                print(f"- {side}: {k}: {val:.4g}" if isinstance(val, float) else f"- {side}: {k}: {val}")


if __name__ == "__main__":
    sys.exit(main())
