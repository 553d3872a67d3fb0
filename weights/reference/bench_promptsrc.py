"""PromptSRC step throughput: burnzoo (`bench --model promptsrc-*`) against the same step in
PyTorch (promptsrc_reference.py on open_clip), same machine, same run. A train step is the four
losses on `batch` images with every class prompt through the text tower, then backward; infer is
the class features plus the scores of the batch. Random weights: the tiny CLIP (J = 2) and
ViT-B/16 with QuickGELU (J = 9), 4+4 prompts, 15 classes (a base half of a benchmark) by default.

    cargo build --release --bin bench
    python weights/reference/bench_promptsrc.py [--bin target/release] [--classes 15] [--iters 5]

Prints a Markdown section for BENCHMARKS.md (ratios of items/s; above 1 means burnzoo is faster).
"""
import argparse
import json
import os
import statistics
import subprocess
import time

import open_clip
import torch

from promptsrc_reference import Prompted, losses

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
TINY = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, patch_size=8, width=64, layers=2, head_width=16, mlp_ratio=4.0),
    text_cfg=dict(context_length=77, vocab_size=49408, width=16, heads=2, layers=2, mlp_ratio=4.0),
    quick_gelu=False,
)


def median_ms(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1e3)
    return statistics.median(samples)


def torch_step(name, train, batch, classes, warmup, iters):
    torch.manual_seed(0)
    if name == "promptsrc-tiny":
        model, depth = open_clip.model.CLIP(**TINY), 2
    else:
        model, depth = open_clip.create_model("ViT-B-16-quickgelu", pretrained=None), 9
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    tw, vw = model.token_embedding.weight.shape[1], model.visual.conv1.out_channels
    tok = open_clip.tokenizer.SimpleTokenizer()
    tokens = tok([f"a photo of a object number {i}." for i in range(classes)])
    rnd = lambda n, w: (0.02 * torch.randn(n, w)).requires_grad_(True)
    pr = Prompted(model, tokens, rnd(4, tw), [rnd(4, tw) for _ in range(depth - 1)], rnd(4, vw),
                  [rnd(4, vw) for _ in range(depth - 1)])
    s = model.visual.image_size[0] if isinstance(model.visual.image_size, tuple) else model.visual.image_size
    x = torch.randn(batch, 3, s, s)
    labels = torch.arange(batch) % classes
    frozen = torch.randn(classes, model.text_projection.shape[1])

    def train_step():
        for p in pr.params():
            p.grad = None
        losses(pr, x, labels, frozen)["total"].backward()

    def infer_step():
        with torch.no_grad():
            t = torch.nn.functional.normalize(pr.text(), dim=-1)
            v = torch.nn.functional.normalize(pr.image(x), dim=-1)
            (model.logit_scale.exp() * v @ t.t()).numpy()

    return median_ms(train_step if train else infer_step, warmup, iters)


def ours(bin_dir, name, mode, batch, classes, warmup, iters):
    r = subprocess.run([os.path.join(bin_dir, "bench"), "--model", name, "--mode", mode, "--batch", str(batch),
                        "--size", str(classes), "--warmup", str(warmup), "--iters", str(iters), "--json"],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])["median_ms"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=os.path.join(ROOT, "target", "release"))
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--classes", type=int, default=15)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    a = p.parse_args()
    rows = []
    for name in ["promptsrc-tiny", "promptsrc-vit-b16"]:
        for mode in ["train", "infer"]:
            iters = a.iters * (10 if name == "promptsrc-tiny" else 1)
            us = ours(a.bin, name, mode, a.batch, a.classes, a.warmup, iters)
            them = torch_step(name, mode == "train", a.batch, a.classes, a.warmup, iters)
            rows.append((name, mode, us, them))
            print(f"{name} {mode}: burnzoo {us:.1f} ms, PyTorch {them:.1f} ms", flush=True)
    print(f"\n## PromptSRC steps\n\n`weights/reference/bench_promptsrc.py` ({time.strftime('%Y-%m-%d')}), "
          f"{os.cpu_count()} cores, torch {torch.__version__}: batch {a.batch}, {a.classes} classes, median of "
          f"{a.iters} (ViT-B/16) or {10 * a.iters} (tiny) iterations after {a.warmup} warm-up. Ratio = PyTorch "
          f"time / our time (above 1: burnzoo faster).\n")
    print("| model | step | burnzoo ms | PyTorch ms | ratio |\n|---|---|---:|---:|---:|")
    for name, mode, us, them in rows:
        print(f"| {name} | {mode} | {us:.1f} | {them:.1f} | {them / us:.2f}x |")


if __name__ == "__main__":
    main()
