"""CLIP trained from scratch side by side with open_clip's own training code (issue 28), briefly, on
the generated captioned shapes with fixed captions.

Data, the same on both sides: the first N images of the captioned shapes' training split, each
with the caption `eval-clip shapes-write --split train` writes for it (held-apart colour-shape
pairs never occur in it). The reference side is `open_clip_train.main` (open_clip's trainer: its
CSV dataset, preprocessing, `ClipLoss`, AdamW with weight decay off for gains, biases and the
temperature, `cosine_lr` with linear warm-up, per-step scheduling) on the `shapes` architecture
registered as an open_clip model config; our side is `train-clip` with `data.train = N` and
`data.fixed_captions` (one caption per image, as a CSV has), i.e. the same images and captions.
Shared recipe: AdamW lr 1e-3, betas 0.9 / 0.98, eps 1e-6, weight decay 0.1, batch 256 (last
partial batch dropped), WARMUP warm-up steps then cosine, float32, EPOCHS epochs. Differences
that remain: open_clip's warm-up starts at lr / WARMUP and its cosine runs over the steps after
the warm-up, ours starts at 0.01 lr and its cosine runs over all steps; open_clip's training
transform is `RandomResizedCrop(scale=(1, 1))` (`--aug-cfg scale='(1.0, 1.0)'`, which leaves a
32x32 image whole) where ours resizes nothing.

One evaluator: both final models are scored by `eval-clip` (zero-shot over the 30 colour-shape
classes of the test split, seen and held-apart pairs), the reference's after its checkpoint is
written out as a safetensors state dict.

    B=target/release; $B/eval-clip shapes-write --split train --out /tmp/clip-cap/train
    python train/experiments/clip_side_by_side.py --data /tmp/clip-cap/train --out /tmp/side/clip \\
        --images 10000 --epochs 10 --warmup 40 --seeds 0

Needs torch, open_clip_torch and open_clip_train (a venv; never run by cargo test). Each run uses
one CPU thread. Prints and writes a Markdown table.
"""
import argparse
import json
import os
import subprocess
import sys
import time

from common import binary, mean_std, train_run, write_table

SHAPES = {"embed_dim": 64, "quick_gelu": True,
          "vision_cfg": {"image_size": 32, "patch_size": 8, "width": 64, "layers": 3, "head_width": 16,
                         "mlp_ratio": 4.0},
          "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 3,
                       "mlp_ratio": 4.0}}


def zero_shot(weights):
    r = subprocess.run([binary("eval-clip"), "--model", "shapes", "--weights", weights, "--json"],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_reference(a, seed):
    out = os.path.join(a.out, f"open_clip-s{seed}")
    done = os.path.join(out, "result.json")
    if os.path.exists(done):
        return json.load(open(done))
    import open_clip
    import torch
    from open_clip_train.main import main as open_clip_main
    from safetensors.torch import save_file

    torch.set_num_threads(1)
    os.makedirs(out, exist_ok=True)
    config_dir = os.path.join(out, "model_configs")
    os.makedirs(config_dir, exist_ok=True)
    json.dump(SHAPES, open(os.path.join(config_dir, "shapes-clip.json"), "w"))
    open_clip.add_model_config(config_dir)
    csv = os.path.join(out, "train.csv")
    with open(os.path.join(a.data, "captions.tsv")) as f, open(csv, "w") as g:
        g.write("filepath\ttitle\n")
        for i, line in enumerate(f):
            if i == a.images:
                break
            path, caption = line.rstrip("\n").split("\t", 1)
            g.write(f"{os.path.join(a.data, path)}\t{caption}\n")
    t = time.time()
    open_clip_main([
        "--train-data", csv, "--dataset-type", "csv", "--csv-separator", "\t", "--csv-img-key", "filepath",
        "--csv-caption-key", "title", "--model", "shapes-clip", "--batch-size", "256", "--epochs", str(a.epochs),
        "--lr", "1e-3", "--beta1", "0.9", "--beta2", "0.98", "--eps", "1e-6", "--wd", "0.1",
        "--warmup", str(a.warmup), "--workers", "0", "--device", "cpu", "--precision", "fp32",
        "--seed", str(seed), "--logs", out, "--name", "run", "--aug-cfg", "scale=(1.0,1.0)",
        "--save-frequency", str(a.epochs), "--zeroshot-frequency", "0", "--log-every-n-steps", "20"])
    seconds = time.time() - t
    ckpt = torch.load(os.path.join(out, "run", "checkpoints", f"epoch_{a.epochs}.pt"), map_location="cpu",
                      weights_only=False)
    state = {k.removeprefix("module."): v.contiguous() for k, v in ckpt["state_dict"].items()}
    weights = os.path.join(out, "final.safetensors")
    save_file(state, weights)
    r = dict(zero_shot(weights), seconds=seconds)
    json.dump(r, open(done, "w"))
    return r


def run_ours(a, seed):
    out = os.path.join(a.out, f"ours-s{seed}")
    os.makedirs(a.out, exist_ok=True)
    config = os.path.join(a.out, "ours-config.json")
    json.dump({"data": {"train": a.images, "fixed_captions": True},
               "train": {"schedule": {"unit": "step", "decay": "cosine", "warmup": a.warmup, "start_factor": 0.01}}},
              open(config, "w"))
    os.environ["RAYON_NUM_THREADS"] = "1"
    _, seconds = train_run(binary("train-clip"), out,
                           ["--config", config, "--epochs", str(a.epochs), "--seed", str(seed)])
    done = os.path.join(out, "result.json")
    if seconds is None and os.path.exists(done):
        return json.load(open(done))
    r = dict(zero_shot(os.path.join(out, "model.bpk")), seconds=seconds)
    json.dump(r, open(done, "w"))
    return r


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="the training split written by `eval-clip shapes-write --split train`")
    p.add_argument("--out", required=True)
    p.add_argument("--images", type=int, default=10000)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=40)
    p.add_argument("--seeds", default="0")
    p.add_argument("--one", type=int, help="internal: one reference run with this seed, in this process")
    a = p.parse_args()
    a.data = os.path.abspath(a.data)
    if a.one is not None:
        print(json.dumps(run_reference(a, a.one)))
        return
    seeds = [int(s) for s in a.seeds.split(",")]
    rows = {"open_clip_train": [], "train-clip": []}
    for s in seeds:
        rows["train-clip"].append(run_ours(a, s))
        r = subprocess.run([sys.executable, __file__, "--data", a.data, "--out", a.out, "--images", str(a.images),
                            "--epochs", str(a.epochs), "--warmup", str(a.warmup), "--one", str(s)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(r.stdout[-3000:] + r.stderr[-3000:])
        rows["open_clip_train"].append(json.loads(r.stdout.strip().splitlines()[-1]))
    lines = ["| side | zero-shot, seen pairs | zero-shot, held-apart pairs | s per epoch (1 thread) |",
             "|---|---:|---:|---:|"]
    for side, rs in rows.items():
        secs = [r["seconds"] / a.epochs for r in rs if r.get("seconds")]
        lines.append(f"| {side} | {mean_std([100 * r['seen'] for r in rs], 1)} | "
                     f"{mean_std([100 * r['held_apart'] for r in rs], 1)} | {mean_std(secs, 1) if secs else ''} |")
    write_table(a.out, lines)


if __name__ == "__main__":
    main()
