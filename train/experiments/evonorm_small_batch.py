"""The EvoNorm paper's small-batch claim at our scale: the same ResNet trained with BN-ReLU,
GN-ReLU, EvoNorm-B0 and EvoNorm-S0 at batch 128 and at batch 4 (learning rate scaled linearly,
same number of epochs), several seeds; prints and writes a Markdown table of final test accuracy.

    cargo build --release --bin train-evonorm
    python3 train/experiments/evonorm_small_batch.py [--data DIR] [--seeds 0,1] [--epochs 10]

Standard library only. Each run's outputs go to --out (default runs/evonorm-small-batch/...).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NORMS = ["bn", "gn", "evonorm-b0", "evonorm-s0"]


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "train-evonorm"))
    p.add_argument("--data", help="ImageFolder root (default: generated Shapes-10)")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--batches", default="128,4")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--base-lr", type=float, default=0.1, help="learning rate at batch 128")
    p.add_argument("--norms", default=",".join(NORMS))
    p.add_argument("--out", default=os.path.join(ROOT, "runs", "evonorm-small-batch"))
    p.add_argument("--extra", default="", help="extra flags for train-evonorm")
    a = p.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    batches = [int(b) for b in a.batches.split(",")]
    norms = a.norms.split(",")
    results = {}
    for batch in batches:
        for norm in norms:
            for seed in seeds:
                out = os.path.join(a.out, f"{norm}-bs{batch}-seed{seed}")
                if os.path.exists(os.path.join(out, "metrics.json")) and os.path.exists(os.path.join(out, "model.bpk")):
                    with open(os.path.join(out, "metrics.json")) as f:
                        m = json.load(f)["final"]
                    secs = None
                else:
                    cmd = [a.bin, "--norm", norm, "--batch-size", str(batch), "--lr", str(a.base_lr * batch / 128),
                           "--epochs", str(a.epochs), "--seed", str(seed), "--quiet", "--json"]
                    if os.path.exists(os.path.join(out, "run.json")):
                        # An interrupted run continues from its last checkpoint; its settings
                        # (data, config) are fixed by its run.json.
                        cmd = [a.bin, "--resume", out, "--quiet", "--json"]
                    else:
                        cmd += ["--out", out]
                        if a.data:
                            cmd += ["--data", a.data]
                        cmd += a.extra.split()
                    t = time.time()
                    r = subprocess.run(cmd, capture_output=True, text=True)
                    secs = time.time() - t
                    if r.returncode != 0:
                        print(f"{norm} bs{batch} seed{seed} FAILED: {r.stderr.strip()}", file=sys.stderr)
                        continue
                    m = json.loads(r.stdout.strip().splitlines()[-1])
                results.setdefault((batch, norm), []).append(m["valid_accuracy"])
                took = f" ({secs:.0f} s)" if secs else ""
                print(f"{norm:>11} batch {batch:>3} seed {seed}: test accuracy {m['valid_accuracy']:.4f}{took}", file=sys.stderr)
    lines = ["| norm | " + " | ".join(f"batch {b}" for b in batches) + " |",
             "|---|" + "---|" * len(batches)]
    for norm in norms:
        cells = []
        for b in batches:
            v = results.get((b, norm), [])
            if not v:
                cells.append("failed")
            elif len(v) == 1:
                cells.append(f"{100 * v[0]:.1f}")
            else:
                cells.append(f"{100 * statistics.mean(v):.1f} ± {100 * statistics.stdev(v):.1f} ({', '.join(f'{100 * x:.1f}' for x in v)})")
        lines.append(f"| {norm} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(table + "\n")


if __name__ == "__main__":
    main()
