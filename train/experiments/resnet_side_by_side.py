"""EvoNorm and EBV side by side with their references (issue 28). The same pre-activation
ResNet-18 (CIFAR stem, width 16, zero-initialised last convolution of each block) is trained by
`train-evonorm` / `train-ebv` and by a PyTorch twin built from the references' own parts, on the
same ImageFolder with the same recipe:

* norms (`--family evonorm`): torch.nn BatchNorm2d/GroupNorm and timm's EvoNorm2dB0/S0
  (timm.layers.evo_norm), the FC classifier, plain cross-entropy;
* heads (`--family ebv`, BN backbone): `EBV_ImageNet.py`'s head (the backbone's linear layer to d,
  L2-normalised, times a fixed basis, / tau 0.07) or the FC classifier, both with
  CrossEntropyLoss(label_smoothing=0.1). The torch side's basis is a random orthogonal one (d = N
  = 10, what the generator converges to, up to a rotation the learned layer absorbs).

The recipe is train-evonorm's default (SGD, Nesterov momentum 0.9, lr 0.1 at batch 128, weight
decay 5e-4 on every parameter, cosine decay per step to 0) with a RECIPE's changes: a JSON file in
the binaries' config format, passed to our binary as `--config` and read by the torch side (lr,
weight_decay, warmup_epochs and start_factor of the linear warmup; train-evonorm's schedule,
formula for formula). Data: zero-pad-4 random crop and horizontal flip, ImageNet mean/std. Prints
and writes a Markdown table: final test accuracy, mean ± std over seeds, and seconds per epoch
(ours includes validating every epoch; the torch side's does not).

    cargo build --release --bin train-evonorm --bin train-ebv
    python train/experiments/mnist_folder.py --digits /tmp/package/src/digits --out /tmp/mnist-small
    python train/experiments/resnet_side_by_side.py --data /tmp/mnist-small --family evonorm \\
        --variants bn,evonorm-b0 --seeds 0,1,2 --epochs 15 [--recipe warmup3.json]

Needs torch, torchvision and timm (a venv; never run by cargo test). The PyTorch side draws its
own initial weights and data order from the same seed numbers: the comparison is over seeds, not
run for run.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from timm.layers import EvoNorm2dB0, EvoNorm2dS0

from common import cell, train_run

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def divisor_groups(c, groups):
    return next(g for g in range(min(groups, c), 0, -1) if c % g == 0)


def norm_act(kind, c, groups=8):
    if kind == "bn":
        return nn.Sequential(nn.BatchNorm2d(c, eps=1e-5, momentum=0.1), nn.ReLU())
    if kind == "gn":
        return nn.Sequential(nn.GroupNorm(divisor_groups(c, groups), c, eps=1e-5), nn.ReLU())
    if kind == "evonorm-b0":
        return EvoNorm2dB0(c, apply_act=True)
    if kind == "evonorm-s0":
        return EvoNorm2dS0(c, groups=divisor_groups(c, groups), apply_act=True)
    raise SystemExit(f"unknown norm {kind}")


class PreActBasic(nn.Module):
    def __init__(self, kind, cin, width, stride):
        super().__init__()
        self.bn1 = norm_act(kind, cin)
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn2 = norm_act(kind, width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.downsample = nn.Conv2d(cin, width, 1, stride, bias=False) if stride != 1 or cin != width else None

    def forward(self, x):
        pre = self.bn1(x)
        shortcut = self.downsample(pre) if self.downsample is not None else x
        return self.conv2(self.bn2(self.conv1(pre))) + shortcut


class PreActResNet18(nn.Module):
    def __init__(self, kind, outputs, width=16):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        blocks, cin = [], width
        for i in range(4):
            for b in range(2):
                blocks.append(PreActBasic(kind, cin, width << i, 2 if b == 0 and i > 0 else 1))
                cin = width << i
        self.blocks = nn.Sequential(*blocks)
        self.norm = norm_act(kind, cin)
        self.fc = nn.Linear(cin, outputs)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for b in blocks:
            nn.init.zeros_(b.conv2.weight)  # zero_init_last

    def forward(self, x):
        x = self.norm(self.blocks(self.conv1(x)))
        return self.fc(x.mean((2, 3)))


class EbvNet(nn.Module):
    """EBV_ImageNet.py's classifier: normalize(backbone(x)) @ basis.T / tau."""

    def __init__(self, classes, dim, tau=0.07):
        super().__init__()
        self.backbone = PreActResNet18("bn", dim)
        q, _ = torch.linalg.qr(torch.randn(dim, classes))
        self.register_buffer("basis", q.T.contiguous())  # [classes, dim], orthonormal rows
        self.tau = tau

    def forward(self, x):
        return F.normalize(self.backbone(x), dim=1) @ self.basis.T / self.tau


def lr_at(step, lr, total, warmup, start_factor=0.0):
    """train-evonorm's schedule: cosine over all steps, linear from start_factor x lr towards it
    while warming up."""
    cos = lr * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
    if step < warmup:
        lr0 = start_factor * lr
        return lr0 + (cos - lr0) * step / warmup
    return cos


def recipe_of(path):
    r = {"lr": 0.1, "weight_decay": 5e-4, "warmup_epochs": 0.0, "start_factor": 0.0}
    if path:
        train = json.load(open(path)).get("train", {})
        r.update({k: v for k, v in train.get("optimizer", {}).items() if k in r})
        r.update({k: v for k, v in train.get("schedule", {}).items() if k in r})
        unknown = set(train) - {"optimizer", "schedule"}
        unknown |= set(train.get("optimizer", {})) - set(r)
        unknown |= set(train.get("schedule", {})) - set(r)
        if unknown:
            raise SystemExit(f"{path}: the torch side does not implement {sorted(unknown)}")
    return r


def torch_run(data, family, variant, seed, epochs, recipe, batch=128, size=32):
    torch.manual_seed(seed)
    T = torchvision.transforms
    norm = T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    base = [T.Resize(size, interpolation=T.InterpolationMode.BILINEAR), T.CenterCrop(size)]
    train = torchvision.datasets.ImageFolder(os.path.join(data, "train"), T.Compose(
        base + [T.RandomCrop(size, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), norm]))
    test = torchvision.datasets.ImageFolder(os.path.join(data, "test"), T.Compose(base + [T.ToTensor(), norm]))
    g = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(train, batch_size=batch, shuffle=True, generator=g)
    classes = len(train.classes)
    smoothing = 0.0
    if family == "evonorm":
        net = PreActResNet18(variant, classes)
    elif variant == "ebv":
        net, smoothing = EbvNet(classes, classes), 0.1
    else:
        net, smoothing = PreActResNet18("bn", classes), 0.1
    lr = recipe["lr"]
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, nesterov=True,
                          weight_decay=recipe["weight_decay"])
    total = epochs * len(loader)
    warmup = round(recipe["warmup_epochs"] * len(loader))
    step, history = 0, []
    started = time.time()
    for epoch in range(epochs):
        net.train()
        losses = []
        for x, y in loader:
            for group in opt.param_groups:
                group["lr"] = lr_at(step, lr, total, warmup, recipe["start_factor"])
            loss = F.cross_entropy(net(x), y, label_smoothing=smoothing)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
        history.append(statistics.mean(losses))
    secs = time.time() - started
    net.eval()
    correct = 0
    with torch.no_grad():
        for x, y in torch.utils.data.DataLoader(test, batch_size=256):
            correct += (net(x).argmax(1) == y).sum().item()
    return correct / len(test), secs / epochs, history


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--family", choices=["evonorm", "ebv"], default="evonorm")
    p.add_argument("--bin", help="the training binary (default target/release/train-FAMILY)")
    p.add_argument("--data", required=True, help="ImageFolder root with train/ and test/")
    p.add_argument("--variants", default=None,
                   help="norms (evonorm: bn,gn,evonorm-b0,evonorm-s0) or heads (ebv: ebv,fc)")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--recipe", help="JSON recipe changes (see above); default: the binary's defaults")
    p.add_argument("--out", default=os.path.join(ROOT, "runs", "side-by-side"))
    p.add_argument("--sides", default="reference,burnzoo")
    a = p.parse_args()
    binary = a.bin or os.path.join(ROOT, "target", "release", f"train-{a.family}")
    variants = (a.variants or ("bn,evonorm-b0" if a.family == "evonorm" else "ebv,fc")).split(",")
    recipe = recipe_of(a.recipe)
    tag = os.path.splitext(os.path.basename(a.recipe))[0] if a.recipe else "defaults"
    os.makedirs(a.out, exist_ok=True)
    seeds = [int(s) for s in a.seeds.split(",")]
    sides = a.sides.split(",")
    rows = []
    for variant in variants:
        acc = {s: [] for s in sides}
        per_epoch = {s: [] for s in sides}
        for seed in seeds:
            for side in sides:
                name = f"{a.family}-{variant}-{tag}-seed{seed}"
                done = os.path.join(a.out, f"{side}-{name}.json")
                if os.path.exists(done):
                    r = json.load(open(done))
                elif side == "reference":
                    v, spe, hist = torch_run(a.data, a.family, variant, seed, a.epochs, recipe)
                    r = {"accuracy": v, "seconds_per_epoch": spe, "train_loss": hist}
                else:
                    flag = "--norm" if a.family == "evonorm" else "--head"
                    flags = [flag, variant, "--epochs", str(a.epochs), "--seed", str(seed)]
                    if a.recipe:
                        flags += ["--config", a.recipe]
                    m, secs = train_run(binary, os.path.join(a.out, f"run-{name}"), flags, a.data)
                    r = {"accuracy": m["valid_accuracy"], "seconds_per_epoch": (secs or 0) / a.epochs,
                         "train_loss": m["train_loss"]}
                with open(done, "w") as f:
                    json.dump(r, f)
                acc[side].append(r["accuracy"])
                per_epoch[side].append(r["seconds_per_epoch"])
                print(f"{side:>9} {a.family} {variant:>11} {tag} seed {seed}: {r['accuracy']:.4f} "
                      f"({r['seconds_per_epoch']:.1f} s/epoch)", file=sys.stderr, flush=True)
        rows.append(f"| {variant} | {tag} | " + " | ".join(
            f"{cell(acc[s])} | {statistics.mean(per_epoch[s]):.1f}" for s in sides) + " |")
    head = "| variant | recipe | " + " | ".join(f"{s} test accuracy (%) | {s} s/epoch" for s in sides) + " |"
    table = "\n".join([head, "|---|---|" + "---|---|" * len(sides)] + rows)
    print(table)
    with open(os.path.join(a.out, f"table-{a.family}-{tag}.md"), "w") as f:
        f.write(table + "\n")


if __name__ == "__main__":
    main()
