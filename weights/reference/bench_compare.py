"""Runs burnzoo's `bench` binary and bench_torch.py on the same machine, one model after the other,
and writes a Markdown table of ratios (ours / PyTorch, items per second; > 1 means burnzoo is
faster) to BENCHMARKS.md.

    cargo build --release --bin bench
    python weights/reference/bench_compare.py [--bench target/release/bench] [--out BENCHMARKS.md]
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

# (model, mode, batch, size)
CASES = [
    ("evonorm-s0", "infer", 32, 56),
    ("evonorm-s0", "train", 32, 56),
    ("evonorm-b0", "infer", 32, 56),
    ("evonorm-b0", "train", 32, 56),
]


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bench", default=os.environ.get("BENCH", os.path.join(ROOT, "target", "release", "bench")))
    p.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    p.add_argument("--iters", type=int, default=20)
    a = p.parse_args()
    rows = []
    for model, mode, batch, size in CASES:
        args = ["--model", model, "--mode", mode, "--batch", str(batch), "--size", str(size),
                "--iters", str(a.iters), "--json"]
        ours = run([a.bench] + args)
        theirs = run([sys.executable, os.path.join(HERE, "bench_torch.py")] + args)
        rows.append((model, mode, batch, size, ours, theirs))
        print(f"{model} {mode}: {ours['items_per_second']:.1f} vs {theirs['items_per_second']:.1f} items/s", file=sys.stderr)
    torch_version = rows[0][5].get("torch", "?") if rows else "?"
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.date.today().isoformat()} by `weights/reference/bench_compare.py` on "
        f"{cpu_name()}, {os.cpu_count()} logical cores; burnzoo CPU backend (flex) against PyTorch "
        f"{torch_version} CPU, both with all cores, in the same run. Ratio = burnzoo items/s over "
        "PyTorch items/s (above 1: burnzoo faster). Median of the iterations after warm-up.",
        "",
        "| model | mode | batch | size | burnzoo ms (p10-p90) | PyTorch ms (p10-p90) | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, mode, batch, size, o, t in rows:
        lines.append(
            f"| {model} | {mode} | {batch} | {size} | {o['median_ms']:.2f} ({o['p10_ms']:.2f}-{o['p90_ms']:.2f}) "
            f"| {t['median_ms']:.2f} ({t['p10_ms']:.2f}-{t['p90_ms']:.2f}) "
            f"| {o['items_per_second'] / t['items_per_second']:.2f} |")
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
