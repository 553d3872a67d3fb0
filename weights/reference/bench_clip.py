"""CLIP tower throughput: burnzoo against open_clip on PyTorch CPU and onnxruntime CPU, same
machine, same run (ViT-B/16, QuickGELU, random weights, batch 8 by default).

    cargo build --release --bin bench
    python weights/reference/bench_clip.py [--bin target/release] [--batch 8] [--iters 10]

Image tower: 224x224 images; text tower: 77-token texts. Every framework uses all cores.
Prints a Markdown section for BENCHMARKS.md (ratios of items/s; above 1 means burnzoo is faster).
"""
import argparse
import json
import os
import subprocess
import statistics
import tempfile
import time

import numpy as np
import onnxruntime as ort
import open_clip
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def median_ms(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1e3)
    return statistics.median(samples)


class Tower(torch.nn.Module):
    def __init__(self, model, image):
        super().__init__()
        self.model, self.image = model, image

    def forward(self, x):
        return self.model.encode_image(x) if self.image else self.model.encode_text(x)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bin", default=os.path.join(ROOT, "target", "release"))
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    a = p.parse_args()
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-16-quickgelu", pretrained=None).eval()
    tok = open_clip.get_tokenizer("ViT-B-16-quickgelu")
    texts = [f"a photo of a {['cat', 'dog'][i % 2]}, a type of pet, seen from the side number {i}."
             for i in range(a.batch)]
    inputs = {"image": torch.randn(a.batch, 3, 224, 224), "text": tok(texts)}
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for tower in ("image", "text"):
            x = inputs[tower]
            ours = json.loads(subprocess.run(
                [os.path.join(a.bin, "bench"), "--model", f"clip-{tower}", "--batch", str(a.batch),
                 "--iters", str(a.iters), "--warmup", str(a.warmup), "--json"],
                check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
            net = Tower(model, tower == "image").eval()
            with torch.no_grad():
                torch_ms = median_ms(lambda: net(x), a.warmup, a.iters)
            path = os.path.join(d, f"{tower}.onnx")
            torch.onnx.export(net, (x,), path, input_names=["x"], output_names=["y"], dynamo=False,
                              opset_version=17)
            sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            feed = {"x": x.numpy() if tower == "image" else x.numpy().astype(np.int64)}
            ort_ms = median_ms(lambda: sess.run(None, feed), a.warmup, a.iters)
            rows.append((tower, ours["median_ms"], torch_ms, ort_ms))
            print(f"{tower}: burnzoo {ours['median_ms']:.1f} ms, torch {torch_ms:.1f} ms, ort {ort_ms:.1f} ms",
                  flush=True)
    print()
    print(f"### CLIP ViT-B/16 towers, batch {a.batch} (CPU, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"onnxruntime {ort.__version__})")
    print()
    print("| tower | burnzoo ms | PyTorch ms | onnxruntime ms | vs PyTorch | vs onnxruntime |")
    print("|---|---:|---:|---:|---:|---:|")
    for tower, ours, t, o in rows:
        print(f"| {tower} | {ours:.1f} | {t:.1f} | {o:.1f} | {t / ours:.2f}x | {o / ours:.2f}x |")
    print()
    print("Ratios are throughput ratios (PyTorch or onnxruntime time / burnzoo time; above 1: burnzoo faster).")


if __name__ == "__main__":
    main()
