#!/usr/bin/env python3
"""Speed and scale (issue 9): aecc against hls4ml 1.3.0 and the QONNX executor on the
ECON-T encoder, measured in one run on this machine. Run it through benches/speed.sh,
which builds aecc first; this script re-runs itself inside the pinned hls4ml venv of
scripts/hls4ml_crosscheck.py (scripts/hls4ml-requirements.txt, created on first use).

Measures
  - aecc simulate: inferences/s of the bit-exact reference on N real-valued samples
    (.npy in and out), with RAYON_NUM_THREADS=1 and 2;
  - hls4ml 1.3.0: the same ONNX converted (Vitis backend, io_parallel, input precision
    set to the model's input Quant), compiled, predict() on a batch: inferences/s, and
    whether its outputs equal aecc's;
  - QONNX 1.0.0 executor (qonnx.core.onnx_exec.execute_onnx) on batches, and one sample
    per call: inferences/s, and whether its outputs equal aecc's;
  - aecc compile of ECON-T (Verilog + report), best of 20;
  - aecc verify --vectors 1000000 (Verilator co-simulation, cached build) and where its
    time goes;
  - aecc compile of synthetic 1M-MAC dense and conv encoders: time and peak memory.

Prints a Markdown table and writes every number to a JSON file.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import hls4ml_crosscheck as xc  # noqa: E402  (the venv and the hls4ml flow)


# Runs one command and reports its wall time and its own rusage. A small launcher
# process starts it: a child forked from this (large) Python would count this process's
# memory in its peak RSS until it execs.
LAUNCHER = """
import os, resource, subprocess, sys, time
t = time.perf_counter()
code = subprocess.run(sys.argv[2:]).returncode
wall = time.perf_counter() - t
u = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as f:
    f.write("%r %r %r %d" % (wall, u.ru_utime, u.ru_stime, u.ru_maxrss))
sys.exit(code)
"""


def run(cmd, env=None):
    """Runs `cmd`; returns (wall s, CPU s (user + sys, its children included), peak RSS
    MiB, stdout). Fails on a non-zero exit."""
    with tempfile.TemporaryDirectory() as d:
        stat = Path(d) / "rusage"
        p = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, str(stat)] + [str(c) for c in cmd],
                           capture_output=True, text=True, env=dict(os.environ, **(env or {})),
                           cwd=REPO)
        if p.returncode != 0:
            sys.exit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        wall, user, system, rss = stat.read_text().split()
    return float(wall), float(user) + float(system), int(rss) / 1024, p.stdout


def best(runs):
    """The run with the smallest wall time."""
    return min(runs, key=lambda r: r[0])


def machine():
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                              capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


def tool_version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "not found"


# ---------------------------------------------------------------------------------------


def bench_compile(aecc, model, work, repeat):
    runs = [run([aecc, "compile", model, "-o", work / "econt_build"]) for _ in range(repeat)]
    walls = sorted(r[0] for r in runs)
    return {
        "best wall s": walls[0],
        "median wall s": walls[len(walls) // 2],
        "best CPU s": min(r[1] for r in runs),
        "peak RSS MiB": max(r[2] for r in runs),
        "runs": repeat,
    }


def bench_simulate(aecc, model, x_path, n, work, repeat):
    out = {}
    for threads in (1, 2):
        runs = []
        for _ in range(repeat):
            r = run([aecc, "simulate", model, "--input", x_path, "--output", work / "y_aecc.npy"],
                    env={"RAYON_NUM_THREADS": str(threads)})
            m = re.search(r"evaluation ([\d.]+) s", r[3])
            c = re.search(r"([\d.]+) s CPU = ", r[3])
            runs.append(r + (float(m.group(1)) if m else float("nan"),
                             float(c.group(1)) if c else float("nan")))
        b = best(runs)
        eval_s = min(r[4] for r in runs)
        eval_cpu = min(r[5] for r in runs)
        out[f"{threads} thread(s)"] = {
            "samples": n,
            "wall s": b[0],
            "CPU s": b[1],
            "peak RSS MiB": b[2],
            "evaluation s": eval_s,
            "evaluation CPU s": eval_cpu,
            "inferences/s (evaluation)": n / eval_s,
            "inferences per CPU-second (evaluation)": n / eval_cpu,
            "inferences/s (end to end, wall)": n / b[0],
            "inferences per CPU-second (end to end)": n / b[1],
        }
    return out


def bench_hls4ml(model, x, y_aecc, work, precision):
    import numpy as np

    hls_model, timings, _ = xc.hls4ml_flow(model, work / "hls4ml_prj", precision)
    runs = []
    for _ in range(2):
        y, wall, cpu = xc.hls4ml_predict(hls_model, x)
        runs.append((wall, cpu, y))
    wall, cpu, y = min(runs, key=lambda r: r[0])
    y = np.asarray(y, dtype=np.float64).reshape(len(x), -1)
    differing = int((y != y_aecc[: len(x)]).sum())
    steps = ("qonnx preprocess", "convert", "write", "compile (g++)")
    return {
        "samples": len(x),
        "predict wall s": wall,
        "predict CPU s": cpu,
        "inferences/s (wall)": len(x) / wall,
        "inferences per CPU-second": len(x) / max(cpu, 1e-9),
        "outputs differing from aecc": differing,
        "values compared": int(y.size),
        "python imports s": timings["python imports"],
        "preprocess + convert + write + compile s": sum(timings[k] for k in steps),
        "compile (g++) s": timings["compile (g++)"],
        "compile (g++) CPU s": timings["compile (g++) CPU"],
    }


def qonnx_model(model, batch):
    """The model with a batch dimension of `batch`, shapes re-inferred (as
    models/econt/train_export.py prepares it for the executor)."""
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.infer_shapes import InferShapes

    m = onnx.load(str(model))
    del m.graph.value_info[:]
    for o in m.graph.output:
        o.type.tensor_type.ClearField("shape")
    inits = {i.name for i in m.graph.initializer}
    for i in m.graph.input:
        if i.name not in inits:
            i.type.tensor_type.shape.dim[0].dim_value = batch
    return ModelWrapper(m).transform(InferShapes())


def bench_qonnx(model, x, y_aecc, batch, single):
    import numpy as np
    from qonnx.core.onnx_exec import execute_onnx

    results = {}
    for label, b, count in (("batched", batch, len(x)), ("one sample per call", 1, single)):
        mw = qonnx_model(model, b)
        name_in = mw.graph.input[0].name
        name_out = mw.graph.output[0].name
        xs = x[:count].astype(np.float32)
        ys = []
        t, cpu = time.perf_counter(), time.process_time()
        for i in range(0, count - count % b, b):
            ys.append(execute_onnx(mw, {name_in: xs[i:i + b]})[name_out])
        wall, cpu = time.perf_counter() - t, time.process_time() - cpu
        y = np.concatenate(ys).astype(np.float64).reshape(len(ys) * b, -1)
        differing = int((y != y_aecc[: len(y)]).sum())
        results[label] = {
            "batch": b,
            "samples": len(y),
            "wall s": wall,
            "CPU s": cpu,
            "inferences/s (wall)": len(y) / wall,
            "inferences per CPU-second": len(y) / max(cpu, 1e-9),
            "outputs differing from aecc": differing,
            "values compared": int(y.size),
        }
    return results


def bench_verify(aecc, model, vectors):
    # a short run first builds (or finds) the Verilator simulator
    warm = run([aecc, "verify", model, "--vectors", "1000"])
    r = run([aecc, "verify", model, "--vectors", str(vectors)])
    line = next((l for l in r[3].splitlines() if l.startswith("time: ")), "")
    nums = {}
    for key, pat in (
        ("Verilator build s", r"Verilator build ([\d.]+) s"),
        ("stream wall s", r"stream ([\d.]+) s wall"),
        ("vectors/s (stream)", r"\(([\d.]+) vectors/s\)"),
        ("simulator CPU s", r"simulator ([\d.]+) s CPU"),
        ("vectors s", r"vectors ([\d.]+) s,"),
        ("reference s", r"reference ([\d.]+) s"),
        ("encode s", r"encode ([\d.]+) s"),
        ("decode s", r"decode ([\d.]+) s"),
        ("compare s", r"compare ([\d.]+) s"),
        ("compile s", r"compile ([\d.]+) s;"),
    ):
        m = re.search(pat, line)
        if m:
            nums[key] = float(m.group(1))
    passed = "PASS" in r[3]
    return {
        "vectors": vectors,
        "wall s": r[0],
        "CPU s (aecc + simulator)": r[1],
        "peak RSS MiB": r[2],
        "passed": passed,
        "time line": line,
        "warm-up run (1,000 vectors, builds the simulator when not cached) wall s": warm[0],
        **nums,
    }


def bench_scaling(aecc, synth, work, sizes):
    rows = []
    for kind in ("dense", "conv"):
        for n in sizes:
            path = work / f"{kind}_{n}.onnx"
            made = subprocess.run([str(synth), kind, str(n), str(path)], capture_output=True,
                                  text=True, check=True)
            macs = re.search(r"(\d+) MACs", made.stdout + made.stderr)
            r = run([aecc, "compile", path, "-o", work / "synth_out", "--top", "synth",
                     "--max-adder-bits", "1000000000"])
            rtl = work / "synth_out" / "rtl"
            size = sum(f.stat().st_size for f in rtl.iterdir())
            rows.append({
                "model": kind,
                "MACs requested": n,
                "MACs": int(macs.group(1)) if macs else None,
                "wall s": r[0],
                "CPU s": r[1],
                "peak RSS MiB": r[2],
                "Verilog MB": size / 1e6,
            })
    return rows


# ---------------------------------------------------------------------------------------


def table(res):
    s, h, q, c, v = (res.get(k) for k in ("aecc simulate", "hls4ml", "qonnx", "aecc compile", "aecc verify"))
    lines = [
        "| measurement (ECON-T encoder unless noted) | wall | rate or figure | CPU | goal |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for threads in ("1 thread(s)", "2 thread(s)"):
        r = s[threads]
        n = threads[0]
        lines.append(
            f"| `aecc simulate`, {r['samples']:,} samples .npy in/out, RAYON_NUM_THREADS={n}: evaluation "
            f"| {r['evaluation s']:.2f} s | **{r['inferences/s (evaluation)']:,.0f} inferences/s** "
            f"| {r['evaluation CPU s']:.2f} s = {r['inferences per CPU-second (evaluation)']:,.0f}/CPU-s "
            f"| >= 1,000,000/s on 2 cores |")
        lines.append(
            f"| same, end to end (read, quantize, evaluate, write) | {r['wall s']:.2f} s "
            f"| {r['inferences/s (end to end, wall)']:,.0f} inferences/s | {r['CPU s']:.2f} s = "
            f"{r['inferences per CPU-second (end to end)']:,.0f}/CPU-s, {r['peak RSS MiB']:.0f} MiB | |")
    if h:
        lines.append(
            f"| hls4ml 1.3.0 C simulation `predict()`, {h['samples']:,} samples | {h['predict wall s']:.2f} s "
            f"| **{h['inferences/s (wall)']:,.0f} inferences/s** | {h['predict CPU s']:.2f} s = "
            f"{h['inferences per CPU-second']:,.0f}/CPU-s | outputs = aecc's: "
            f"{'yes' if h['outputs differing from aecc'] == 0 else 'NO (%d differ)' % h['outputs differing from aecc']} |")
        lines.append(
            f"| hls4ml 1.3.0 preprocess + convert + write + compile (g++) | "
            f"{h['preprocess + convert + write + compile s']:.1f} s | | g++ {h['compile (g++) CPU s']:.1f} s | |")
    if q:
        for label, r in q.items():
            lines.append(
                f"| QONNX 1.0.0 executor, {label} (batch {r['batch']:,}), {r['samples']:,} samples "
                f"| {r['wall s']:.2f} s | **{r['inferences/s (wall)']:,.0f} inferences/s** | {r['CPU s']:.2f} s = "
                f"{r['inferences per CPU-second']:,.0f}/CPU-s | outputs = aecc's: "
                f"{'yes' if r['outputs differing from aecc'] == 0 else 'NO (%d differ)' % r['outputs differing from aecc']} |")
    lines.append(
        f"| `aecc compile` (Verilog + report), best of {c['runs']} | {c['best wall s'] * 1e3:.1f} ms "
        f"| median {c['median wall s'] * 1e3:.1f} ms | {c['best CPU s'] * 1e3:.0f} ms | < 30 ms |")
    if v:
        lines.append(
            f"| `aecc verify --vectors {v['vectors']:,}` (cached Verilator build; +1,000 samples) "
            f"| **{v['wall s']:.2f} s** | stream {v.get('vectors/s (stream)', 0):,.0f} vectors/s, "
            f"{'PASS' if v['passed'] else 'FAIL'} | {v['CPU s (aecc + simulator)']:.2f} s, "
            f"simulator {v.get('simulator CPU s', 0):.2f} s, {v['peak RSS MiB']:.0f} MiB | |")
    for r in res.get("compile scaling", []):
        if r["MACs requested"] >= 1_000_000:
            lines.append(
                f"| `aecc compile` synthetic {r['model']} encoder, {r['MACs']:,} MACs | {r['wall s']:.2f} s "
                f"| {r['peak RSS MiB']:.0f} MiB peak | {r['CPU s']:.2f} s | < 30 s, < 2 GB |")
    return "\n".join(lines)


def main():
    xc.ensure_venv_and_reexec(__file__)
    import numpy as np

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(REPO / "models" / "econt" / "model.onnx"))
    ap.add_argument("--aecc", default=str(REPO / "target" / "release" / "aecc"))
    ap.add_argument("--synth", default=str(REPO / "target" / "release" / "examples" / "synth_encoder"))
    ap.add_argument("--samples", type=int, default=1_000_000, help="aecc simulate samples")
    ap.add_argument("--hls4ml-samples", type=int, default=100_000)
    ap.add_argument("--qonnx-samples", type=int, default=100_000)
    ap.add_argument("--qonnx-batch", type=int, default=10_000)
    ap.add_argument("--qonnx-single", type=int, default=1_000, help="samples run one per call")
    ap.add_argument("--verify-vectors", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    ap.add_argument("--scaling", default="1000,10000,100000,1000000",
                    help="MAC counts of the synthetic encoders")
    ap.add_argument("--skip", default="", help="comma-separated: hls4ml,qonnx,verify,scaling")
    ap.add_argument("--json", default=str(REPO / "target" / "bench" / "speed.json"))
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    model, aecc = Path(args.model).resolve(), Path(args.aecc)
    for exe in (aecc, Path(args.synth)):
        if not exe.exists():
            sys.exit(f"{exe} not found: run benches/speed.sh (it builds aecc first)")

    work = Path(tempfile.mkdtemp(prefix="aecc-speed-"))
    res = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "machine": machine(),
        "tools": {"verilator": tool_version(["verilator", "--version"]),
                  "g++": tool_version(["g++", "--version"])},
        "load average at start": os.getloadavg(),
        "model": str(model.relative_to(REPO) if model.is_relative_to(REPO) else model),
    }

    # the inputs: real values over the input range and a little beyond (some saturate)
    bits, frac, signed, _ = xc.input_quant(model)
    span = 2.0 ** (bits - frac - (1 if signed else 0))
    shape = tuple(np.load(model.parent / "samples" / "input.npy").shape[1:])
    rng = np.random.default_rng(1)
    x = rng.uniform(-1.1 * span if signed else -0.1 * span, 1.1 * span,
                    size=(args.samples,) + shape).astype(np.float32)
    x_path = work / "x.npy"
    np.save(x_path, x)

    print("timing aecc compile ...", file=sys.stderr)
    res["aecc compile"] = bench_compile(aecc, model, work, 20)
    print("timing aecc simulate ...", file=sys.stderr)
    res["aecc simulate"] = bench_simulate(aecc, model, x_path, args.samples, work, args.repeat)
    y_aecc = np.load(work / "y_aecc.npy").astype(np.float64).reshape(args.samples, -1)
    if "hls4ml" not in skip:
        print("hls4ml: convert, compile, predict ...", file=sys.stderr)
        precision = xc.precision_string(bits, frac, signed)
        res["hls4ml"] = bench_hls4ml(model, x[: args.hls4ml_samples].astype(np.float64), y_aecc, work,
                                     precision)
        res["hls4ml"]["input precision"] = precision
    if "qonnx" not in skip:
        print("qonnx executor ...", file=sys.stderr)
        res["qonnx"] = bench_qonnx(model, x[: args.qonnx_samples], y_aecc, args.qonnx_batch,
                                   args.qonnx_single)
    if "verify" not in skip:
        print(f"aecc verify --vectors {args.verify_vectors} ...", file=sys.stderr)
        res["aecc verify"] = bench_verify(aecc, model, args.verify_vectors)
    if "scaling" not in skip:
        print("compile scaling ...", file=sys.stderr)
        sizes = [int(s) for s in args.scaling.split(",") if s]
        res["compile scaling"] = bench_scaling(aecc, Path(args.synth), work, sizes)
    res["load average at end"] = os.getloadavg()

    md = table(res)
    print(f"\n## Speed and scale, {res['date']}, commit {res['commit']}\n")
    print(f"Machine: {res['machine']['cpu']}, {res['machine']['cores']} cores; load average "
          f"{res['load average at start'][0]:.1f} at the start, {res['load average at end'][0]:.1f} at the end.\n")
    print(md)
    if res.get("compile scaling"):
        print("\n| synthetic encoder | MACs | compile wall | CPU | peak RSS | Verilog |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for r in res["compile scaling"]:
            print(f"| {r['model']} | {r['MACs']:,} | {r['wall s']:.3f} s | {r['CPU s']:.3f} s "
                  f"| {r['peak RSS MiB']:.0f} MiB | {r['Verilog MB']:.2f} MB |")
    if res.get("aecc verify"):
        print(f"\n`aecc verify` time line: {res['aecc verify']['time line']}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"\nwrote {out}", file=sys.stderr)
    subprocess.run(["rm", "-rf", str(work)])
    ok = all(v.get("outputs differing from aecc", 0) == 0
             for v in [res.get("hls4ml", {})] + list(res.get("qonnx", {}).values()))
    ok &= res.get("aecc verify", {}).get("passed", True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
