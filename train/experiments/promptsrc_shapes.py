"""PromptSRC's ablation on the embedded default (base-to-novel on the generated captioned shapes
with the committed shapes CLIP): zero-shot CLIP, then IVLP, + self-regulating losses, + GPA,
+ textual diversity (= PromptSRC), seeds 1-3; prints a Markdown table of base / novel accuracy
and the harmonic mean of the seed-averaged accuracies, as the paper reports them.

    cargo build --release --bin train-promptsrc --bin eval-promptsrc
    python3 train/experiments/promptsrc_shapes.py --out runs/promptsrc-shapes

Finished runs are skipped and interrupted ones resumed. Standard library only.
"""
import argparse
import json
import os
import statistics
import subprocess

from common import train_run

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
STEPS = [
    ("IVLP (cross-entropy only)", "ivlp", ["--ivlp", "--no-gpa"]),
    ("+ self-regulating losses", "scl", ["--no-gpa", "--no-diversity"]),
    ("+ GPA", "gpa", ["--no-diversity"]),
    ("+ textual diversity (PromptSRC)", "full", []),
]


def row(name, base, novel, seconds=""):
    b, n = statistics.mean(base), statistics.mean(novel)
    hm = 2 * b * n / (b + n)
    spread = lambda v: f" ± {100 * statistics.stdev(v):.1f}" if len(v) > 1 else ""
    return f"| {name} | {100 * b:.1f}{spread(base)} | {100 * n:.1f}{spread(novel)} | {100 * hm:.1f} |{seconds}"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin-dir", default=os.path.join(ROOT, "target", "release"))
    p.add_argument("--out", default="runs/promptsrc-shapes")
    p.add_argument("--seeds", default="1,2,3")
    a = p.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    os.makedirs(a.out, exist_ok=True)
    z = subprocess.run([os.path.join(a.bin_dir, "eval-promptsrc"), "--json"], capture_output=True, text=True, check=True)
    zs = json.loads(z.stdout.strip().splitlines()[-1])
    print("| method | base | novel | HM |")
    print("|---|---:|---:|---:|")
    print(row("zero-shot CLIP (\"a photo of a {}.\")", [zs["base_accuracy"]], [zs["novel_accuracy"]]))
    for name, tag, flags in STEPS:
        base, novel = [], []
        for s in seeds:
            out = os.path.join(a.out, f"{tag}-s{s}")
            train_run(os.path.join(a.bin_dir, "train-promptsrc"), out, flags + ["--seed", str(s)])
            with open(os.path.join(out, "test.json")) as f:
                t = json.load(f)
            base.append(t["base_accuracy"])
            novel.append(t["novel_accuracy"])
        print(row(name, base, novel))


if __name__ == "__main__":
    main()
