"""Aranyani on UCI Adult side by side with the authors' own code (issue 28).

The reference side is brcsomnath/Aranyani as published (TensorFlow): `data.read_adult` (file
order, label encoding, z-score of all 14 columns), `forest.FairDecisionForest` (3 trees of depth
4, sigmoid, categorical leaves) and `aranyani.train_online` (batch 1, Adam 2e-3, node-level DP
penalty with Huber delta 0.01 and vanilla gradient aggregation), called with the arguments of
`src/configs/adult_config.yaml`. Only the driver is ours: `train.py` is bypassed because it imports
scikit-multiflow (baselines only; it does not build on current Python), and `wandb` is replaced by
a stub whose `log` records the prequential results that `train_online` computes at every step
(its return values are never filled). The authors compute fairness only for lambda > 0, as
`main.py` does. Our side is `train-aranyani --dataset adult` with the same settings.

Both sides report the prequential (predict, score, then update) accuracy and demographic-parity
gap of the predictions over the whole stream of adult.data (32,561 instances); the authors' code
has no test-set evaluation (its `training=False` path fails), so none is compared here. The
authors' code takes 40-80 ms per instance here (TensorFlow eager, and a demographic-parity pass
over all predictions so far at every step): `--instances N` runs both sides on the first N lines.
One known difference: with lambda > 0 the authors' loop skips the whole update (cross-entropy
included, a `continue`) until both groups have been seen, the first 4 instances of adult.data;
ours takes those cross-entropy steps.

    cargo build --release --bin train-aranyani
    git clone https://github.com/brcsomnath/Aranyani /tmp/aranyani-ref
    python3 -m venv ~/venv-tf && ~/venv-tf/bin/pip install tensorflow-cpu tensorflow-probability \\
        tf_keras pandas scikit-learn tqdm absl-py pyyaml
    python3 train/experiments/aranyani_side_by_side.py --aranyani-repo /tmp/aranyani-ref \\
        --python ~/venv-tf/bin/python --data-path ../shared/data/adult --lambdas 0,1,10 --seeds 0,1 --instances 8000

The orchestration needs only the standard library; the reference child runs under --python
(TensorFlow 2 with Keras 2 via tf_keras, as the code was written for TF 2.4). Finished runs are
skipped. Prints and writes a Markdown table (mean ± std over seeds, seconds per run).
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
import types

from common import binary, mean_std as ms, write_table

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def reference_run(args):
    """One run of the authors' code (in the TensorFlow venv); writes --result."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # tf.keras = Keras 2, which the code targets
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    trace = []
    stub = types.ModuleType("wandb")
    stub.log = lambda results: trace.append(results)
    sys.modules["wandb"] = stub
    sys.path.insert(0, os.path.join(os.path.abspath(args.aranyani_repo), "src"))
    import aranyani
    import data
    import forest

    tf.random.set_seed(args.seed)
    np.random.seed(args.seed)
    x, _, y, _, a, _ = data.read_adult(path=os.path.abspath(args.data_path))
    model = forest.FairDecisionForest(num_trees=3, data_dim=14, tree_depth=4, num_classes=2,
                                      activation="sigmoid", compute_mode="default")
    start = time.time()
    aranyani.train_online(model, x, y, a, data_dim=14, batch_size=1, tree_depth=4,
                          compute_fairness=args.lam > 0, lambda_const=args.lam, num_trees=3,
                          base_gamma=None, constraint_type="node", gradient_type="vanilla",
                          local_run=False)
    seconds = time.time() - start
    last = trace[-1]
    result = {"stream_accuracy": float(last["Accuracy"]), "stream_dp": float(last["DP"]),
              "instances": len(trace), "seconds": seconds}
    with open(args.result, "w") as f:
        json.dump(result, f)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--aranyani-repo", required=True, help="a checkout of github.com/brcsomnath/Aranyani")
    p.add_argument("--python", default=sys.executable, help="a Python with TensorFlow for the authors' code")
    p.add_argument("--data-path", required=True, help="folder with adult.data")
    p.add_argument("--bin", default=binary("train-aranyani"))
    p.add_argument("--lambdas", default="0,1,10")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--reference-seeds", help="seeds run with the authors' code (default: --seeds); "
                   "finished runs of the other seeds are still counted")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--instances", type=int, default=0,
                   help="use only the first N lines of adult.data on both sides (0: all 32,561)")
    p.add_argument("--out", default=os.path.join(ROOT, "runs", "aranyani-side-by-side"))
    p.add_argument("--side", choices=["reference"], help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    p.add_argument("--lam", type=float, help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.side == "reference":
        reference_run(args)
        return

    os.makedirs(args.out, exist_ok=True)
    if args.instances:
        # Both sides then standardise with this prefix's statistics, as each reads the file whole.
        prefix = os.path.join(args.out, f"adult-{args.instances}")
        os.makedirs(prefix, exist_ok=True)
        with open(os.path.join(args.data_path, "adult.data")) as f:
            head = [next(f) for _ in range(args.instances)]
        with open(os.path.join(prefix, "adult.data"), "w") as f:
            f.writelines(head)
        args.data_path = prefix
    lambdas, seeds = args.lambdas.split(","), args.seeds.split(",")
    ref_seeds = args.reference_seeds.split(",") if args.reference_seeds else seeds
    ref = {}
    for lam in lambdas:
        for seed in seeds:
            path = os.path.join(args.out, f"reference-{lam}-{seed}.json")
            if not os.path.exists(path) and seed not in ref_seeds:
                continue
            if not os.path.exists(path):
                cmd = [args.python, os.path.abspath(__file__), "--side", "reference", "--aranyani-repo",
                       args.aranyani_repo, "--data-path", args.data_path, "--seed", seed, "--lam", lam,
                       "--threads", str(args.threads), "--result", path]
                r = subprocess.run(cmd, capture_output=True, text=True)
                if r.returncode != 0:
                    raise RuntimeError(r.stderr[-4000:])
            with open(path) as f:
                ref.setdefault(lam, []).append(json.load(f))
            print(f"reference lambda {lam} seed {seed} done", file=sys.stderr)

    ours_out = os.path.join(args.out, "ours")
    if not os.path.exists(os.path.join(ours_out, "sweep.csv")):
        t = time.time()
        subprocess.run([args.bin, "--dataset", "adult", "--data-path", os.path.join(args.data_path, "adult.data"),
                        "--sweep", args.lambdas, "--seeds", args.seeds, "--fairness", "dp", "--out", ours_out,
                        "--quiet"], check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(ours_out, "seconds"), "w") as f:
            f.write(str(time.time() - t))
    with open(os.path.join(ours_out, "sweep.csv")) as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(ours_out, "seconds")) as f:
        ours_seconds = float(f.read()) / (len(lambdas) * len(seeds))

    n = f"the first {args.instances:,} of 32,561" if args.instances else "32,561"
    lines = [f"UCI Adult (adult.data, {n} instances in file order, one online pass), seeds {args.seeds}: "
             "prequential stream accuracy and demographic-parity gap, mean ± std over seeds", "",
             "| lambda | authors' runs | authors' accuracy | ours accuracy | authors' DP gap | ours DP gap | authors' s / run | ours s / run |",
             "|---|---|---|---|---|---|---|---|"]
    for lam in lambdas:
        mine = [x for x in rows if float(x["lambda"]) == float(lam)]
        col = lambda k: [float(x[k]) for x in mine]
        theirs = ref[lam]
        lines.append(f"| {lam} | {len(theirs)} | {ms([r['stream_accuracy'] for r in theirs], 4)} | {ms(col('stream_accuracy'), 4)} | "
                     f"{ms([r['stream_dp'] for r in theirs], 3)} | {ms(col('stream_dp'), 3)} | "
                     f"{statistics.mean(r['seconds'] for r in theirs):.0f} | {ours_seconds:.2f} |")
    write_table(args.out, lines)


if __name__ == "__main__":
    main()
