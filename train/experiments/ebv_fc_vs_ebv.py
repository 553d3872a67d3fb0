"""EBV results at our scale: (1) FC vs EBV heads on the same backbone and recipe, several seeds;
(2) the EBV dimension sweep, d < N, d = N (train-ebv's default) and d > N (N = the class count). Prints and writes
Markdown tables of final test accuracy.

    cargo build --release --bin train-ebv
    python3 train/experiments/ebv_fc_vs_ebv.py [--data DIR] [--seeds 0,1] [--dims 5,32] [--epochs 10]

Standard library only. Each run's outputs go to --out (default runs/ebv/...). For d < N the basis
alpha defaults to 1.25x the Welch bound (train-ebv's default); pass --extra "--alpha A" to change it.
"""
import argparse
import os
import sys

from common import cell, train_run

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "train-ebv"))
    p.add_argument("--data", help="ImageFolder root (default: generated Shapes-10)")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--dims", default="5,32", help="EBV dimensions of the sweep besides d = N (the EBV rows)")
    p.add_argument("--sweep-seeds", default="0", help="seeds of the sweep")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--out", default=os.path.join(ROOT, "runs", "ebv"))
    p.add_argument("--extra", default="", help="extra flags for train-ebv")
    p.add_argument("--report-only", action="store_true", help="tabulate finished runs, start none")
    a = p.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    dims = [int(d) for d in a.dims.split(",")]
    sweep_seeds = [int(s) for s in a.sweep_seeds.split(",")]
    results = {}

    def one(key, name, flags, seed):
        out = os.path.join(a.out, f"{name}-seed{seed}")
        flags = flags + ["--epochs", str(a.epochs), "--seed", str(seed)]
        try:
            m, secs = train_run(a.bin, out, flags, a.data, a.extra, a.report_only)
        except RuntimeError as e:
            print(f"{name} seed {seed} FAILED: {e}", file=sys.stderr)
            return
        results.setdefault(key, []).append(m["valid_accuracy"])
        took = f" ({secs:.0f} s)" if secs else ""
        print(f"{name:>8} seed {seed}: test accuracy {m['valid_accuracy']:.4f}{took}", file=sys.stderr)

    for seed in seeds:
        one("fc", "fc", ["--head", "fc"], seed)
        one("ebv", "ebv", ["--head", "ebv"], seed)
    for d in dims:
        for seed in sweep_seeds:
            one(("d", d), f"ebv-d{d}", ["--head", "ebv", "--ebv-dim", str(d)], seed)
    lines = ["| head | test accuracy (%) |", "|---|---|",
             f"| FC | {cell(results.get('fc', []))} |", f"| EBV, d = N | {cell(results.get('ebv', []))} |",
             "", "| EBV d | test accuracy (%) |", "|---|---|"]
    rows = [(d, cell(results.get(("d", d), []))) for d in dims] + [(None, cell(results.get("ebv", [])))]
    lines += [f"| {'N (default)' if d is None else d} | {c} |" for d, c in rows]
    table = "\n".join(lines)
    print(table)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(table + "\n")


if __name__ == "__main__":
    main()
