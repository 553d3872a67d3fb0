"""A short training trajectory of the pre-activation ResNetV2-18 with EvoNorm-B0 and with BN-ReLU,
from timm's layers (the twin of train/experiments/resnet_side_by_side.py, width 4, 10 classes):
one optimizer step is not enough to show that training ends where the reference's does, so this
records 12 steps of train-evonorm's optimizer (SGD, Nesterov momentum 0.9, weight decay
5e-4 on every parameter; lr 0.02, see LR) on 4 fixed batches of 8 random 16x16 images, cycled.

Writes weights/fixtures/evonorm_trajectory.safetensors: `x.K` [8, 3, 16, 16] and `y.K` [8] (labels
as floats) for K = 0..3; for each net (`b0.`, `bn.`) its initial state (`init.`), the training
loss before each step (`loss`, [12]) and the state after the last step (`final.`), both under
burnzoo's module paths (`layer2.0.bn1.norm.v`, `layer2.0.downsample.conv.weight`, `norm.norm.*`;
the linear layer transposed to [in, out]; BN weight/bias as gamma/beta).

    python weights/reference/evonorm_trajectory_fixture.py
"""
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "train", "experiments"))
from resnet_side_by_side import PreActResNet18  # noqa: E402

OUT = os.path.join(HERE, "..", "fixtures", "evonorm_trajectory.safetensors")
STEPS, BATCHES = 12, 4
# Below the recipe's 0.1: at 0.1 B0's loss on random labels jumps to 14 within 12 steps, a chaotic
# stretch where f32 rounding alone would separate any two implementations.
LR = 0.02


def ours(name, t):
    """The twin's key as burnzoo's module path (or None to drop it)."""
    if name.endswith("num_batches_tracked"):
        return None, t
    parts = name.split(".")
    if parts[0] == "blocks":
        k = int(parts[1])
        parts = [f"layer{k // 2 + 1}", str(k % 2)] + parts[2:]
    name = ".".join(parts)
    name = name.replace(".downsample.weight", ".downsample.conv.weight")
    # BN-ReLU is Sequential(BatchNorm2d, ReLU): drop the index; every norm-act sits under `.norm.`.
    for norm in ("bn1", "bn2"):
        name = name.replace(f".{norm}.0.", f".{norm}.").replace(f".{norm}.", f".{norm}.norm.")
    if name.startswith("norm."):
        name = "norm.norm." + name[len("norm."):].removeprefix("0.")
    if name == "fc.weight":
        t = t.t()
    return name, t


def state(net, kind):
    out = {}
    for k, v in net.state_dict().items():
        name, v = ours(k, v)
        if name is None:
            continue
        if kind == "bn" and ".norm." in name:
            name = name.replace(".norm.weight", ".norm.gamma").replace(".norm.bias", ".norm.beta")
        out[name] = v.detach().float().contiguous().clone()
    return out


tensors = {}
g = torch.Generator().manual_seed(0)
xs = [torch.randn(8, 3, 16, 16, generator=g) for _ in range(BATCHES)]
ys = [torch.randint(0, 10, (8,), generator=g) for _ in range(BATCHES)]
for k in range(BATCHES):
    tensors[f"x.{k}"] = xs[k]
    tensors[f"y.{k}"] = ys[k].float()
for tag, kind in (("b0", "evonorm-b0"), ("bn", "bn")):
    torch.manual_seed(1)
    net = PreActResNet18(kind, 10, width=4).train()
    for k, v in state(net, tag).items():
        tensors[f"{tag}.init.{k}"] = v
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=0.9, nesterov=True, weight_decay=5e-4)
    losses = []
    for step in range(STEPS):
        loss = F.cross_entropy(net(xs[step % BATCHES]), ys[step % BATCHES])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    tensors[f"{tag}.loss"] = torch.tensor(losses)
    for k, v in state(net, tag).items():
        tensors[f"{tag}.final.{k}"] = v
    print(tag, " ".join(f"{l:.4f}" for l in losses))
save_file(tensors, OUT)
print(f"wrote {OUT}: {len(tensors)} tensors")
