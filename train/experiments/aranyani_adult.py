"""Aranyani's accuracy-fairness trade-off on UCI Adult: one online pass per lambda and seed, for
the demographic-parity and the equalized-odds penalty; prints a Markdown table (mean ± std over
seeds) and leaves sweep.csv / tradeoff.png per variant in --out.

    cargo build --release --bin train-aranyani
    python3 train/experiments/aranyani_adult.py --data-path DIR_WITH_adult.data_AND_adult.test

Standard library only.
"""
import argparse
import csv
import os
import subprocess

from common import mean_std as ms, write_table

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "train-aranyani"))
    p.add_argument("--data-path", required=True)
    p.add_argument("--sweep", default="0,0.1,0.3,0.5,1,5,10,100")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--out", default=os.path.join(ROOT, "runs", "aranyani-adult"))
    a = p.parse_args()
    lines = ["| lambda | penalty | stream accuracy | stream DP gap | stream EO gap | test accuracy | test DP gap | test EO gap |",
             "|---|---|---|---|---|---|---|---|"]
    for fairness in ["dp", "eo"]:
        out = os.path.join(a.out, fairness)
        subprocess.run([a.bin, "--dataset", "adult", "--data-path", a.data_path, "--sweep", a.sweep, "--seeds", a.seeds,
                        "--fairness", fairness, "--out", out, "--quiet"], check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(out, "sweep.csv")) as f:
            rows = list(csv.DictReader(f))
        for lam in a.sweep.split(","):
            r = [x for x in rows if float(x["lambda"]) == float(lam)]
            col = lambda k: [float(x[k]) for x in r]
            lines.append(f"| {lam} | {fairness.upper()} | {ms(col('stream_accuracy'), 4)} | {ms(col('stream_dp'), 3)} | "
                         f"{ms(col('stream_eo'), 3)} | {ms(col('test_accuracy'), 4)} | {ms(col('test_dp'), 3)} | {ms(col('test_eo'), 3)} |")
    write_table(a.out, lines)


if __name__ == "__main__":
    main()
