"""The EvoNorm paper's small-batch claim at our scale: the same ResNet trained with BN-ReLU,
GN-ReLU, EvoNorm-B0 and EvoNorm-S0 at batch 128 and at batch 4 (learning rate scaled linearly,
same number of epochs), several seeds; prints and writes a Markdown table of final test accuracy.

    cargo build --release --bin train-evonorm
    python3 train/experiments/evonorm_small_batch.py [--data DIR] [--seeds 0,1] [--epochs 10]

Standard library only. Each run's outputs go to --out (default runs/evonorm-small-batch/...).
"""
import argparse
import os
import sys

from common import cell, train_run

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
    p.add_argument("--report-only", action="store_true", help="tabulate finished runs, start none")
    a = p.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    batches = [int(b) for b in a.batches.split(",")]
    norms = a.norms.split(",")
    results = {}
    for batch in batches:
        for norm in norms:
            for seed in seeds:
                out = os.path.join(a.out, f"{norm}-bs{batch}-seed{seed}")
                flags = ["--norm", norm, "--batch-size", str(batch), "--lr", str(a.base_lr * batch / 128),
                         "--epochs", str(a.epochs), "--seed", str(seed)]
                try:
                    m, secs = train_run(a.bin, out, flags, a.data, a.extra, a.report_only)
                except RuntimeError as e:
                    print(f"{norm} bs{batch} seed{seed} FAILED: {e}", file=sys.stderr)
                    continue
                results.setdefault((batch, norm), []).append(m["valid_accuracy"])
                took = f" ({secs:.0f} s)" if secs else ""
                print(f"{norm:>11} batch {batch:>3} seed {seed}: test accuracy {m['valid_accuracy']:.4f}{took}", file=sys.stderr)
    lines = ["| norm | " + " | ".join(f"batch {b}" for b in batches) + " |",
             "|---|" + "---|" * len(batches)]
    for norm in norms:
        lines.append(f"| {norm} | " + " | ".join(cell(results.get((b, norm), [])) for b in batches) + " |")
    table = "\n".join(lines)
    print(table)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(table + "\n")


if __name__ == "__main__":
    main()
