"""PONITA speed against PyTorch, and the N-body generator against numpy, same machine, same run.

    cargo build --release --bin bench --bin eval-ponita
    python weights/reference/bench_ponita.py [--bin target/release]

1. Forward and forward+backward of the paper's N-body network (H 128, basis 256, 5 layers,
   16 orientations) on a batch of 100 five-particle systems: `bench --model ponita` against
   bench_torch.py's PyTorch implementation of the same layer equations (ratio of items/s; above 1
   means burnzoo is faster).
2. Generating trajectories: numpy (weights/reference/nbody_reference.py, one thread) against
   `eval-ponita nbody-generate` with one thread and with all cores.

Prints a Markdown section for BENCHMARKS.md.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bin", default=os.path.join(ROOT, "target", "release"))
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--trajectories", type=int, default=40)
    a = p.parse_args()
    rows = []
    for mode in ("infer", "train"):
        args = ["--model", "ponita", "--mode", mode, "--batch", "100", "--size", "5",
                "--iters", str(a.iters), "--warmup", "2", "--json"]
        ours = run_json([os.path.join(a.bin, "bench")] + args)
        theirs = run_json([sys.executable, os.path.join(HERE, "bench_torch.py")] + args)
        rows.append((mode, ours, theirs))
        print(f"ponita {mode}: {ours['median_ms']:.0f} ms vs torch {theirs['median_ms']:.0f} ms", file=sys.stderr)

    k = a.trajectories
    t = time.perf_counter()
    subprocess.run([sys.executable, os.path.join(HERE, "nbody_reference.py"), "--time", str(k)],
                   check=True, capture_output=True)
    numpy_s = time.perf_counter() - t
    gen = {}
    for threads in ("1", str(os.cpu_count())):
        env = dict(os.environ, RAYON_NUM_THREADS=threads)
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            subprocess.run([os.path.join(a.bin, "eval-ponita"), "nbody-generate", "--num-train", str(k),
                            "--num-valid", "0", "--num-test", "0", "--out", d],
                           check=True, capture_output=True, env=env)
            gen[threads] = time.perf_counter() - t
    torch_v = rows[0][2].get("torch", "?")
    print("## PONITA (N-body network) and the N-body generator\n")
    print(f"`weights/reference/bench_ponita.py`, {os.cpu_count()} cores, torch {torch_v}. Network: the "
          "paper's N-body PONITA (H 128, basis 256, 5 layers, 16 Fibonacci orientations) on 100 fully "
          "connected 5-particle systems with self-loops; PyTorch runs the same layer equations with "
          "gather/index_add message passing (the anchor's form), burnzoo the dense [B, n, n] form; "
          "train = forward, position MSE, backward.\n")
    print("| mode | burnzoo ms (p10-p90) | PyTorch ms (p10-p90) | ratio (items/s, ours / torch) |")
    print("|---|---|---|---|")
    for mode, o, t in rows:
        print(f"| {mode} | {o['median_ms']:.0f} ({o['p10_ms']:.0f}-{o['p90_ms']:.0f}) "
              f"| {t['median_ms']:.0f} ({t['p10_ms']:.0f}-{t['p90_ms']:.0f}) "
              f"| {o['items_per_second'] / t['items_per_second']:.2f} |")
    print()
    print(f"Generating {k} trajectories (5,000 steps each, process start included): numpy "
          f"{numpy_s:.2f} s ({numpy_s / k * 1e3:.0f} ms each); burnzoo one thread {gen['1']:.2f} s "
          f"({numpy_s / gen['1']:.0f}x), {os.cpu_count()} threads {gen[str(os.cpu_count())]:.2f} s "
          f"({numpy_s / gen[str(os.cpu_count())]:.0f}x).")


if __name__ == "__main__":
    main()
