"""EvoNorm fixtures from timm's reference layers (timm/layers/evo_norm.py).

Writes weights/fixtures/evonorm.safetensors and weights/fixtures/evonorm.json:
for each case, random parameters (weight, bias, v, running_var), three training steps on
different inputs (outputs and the running variance after each), an evaluation-mode output, and for
B0/S0 the gradients of sum(y * r) with respect to the input and every parameter.
Also a TF-convention case computed from the TensorFlow reference formulas in float64
(tensorflow/tpu models/official/resnet/resnet_model.py: eps 1e-5, decay 0.9, biased moving
variance, group count decremented until it divides C).

Run with torch and timm installed (versions are recorded in the JSON):
    python weights/reference/evonorm_fixtures.py
"""
import json
import os

import numpy as np
import timm
import torch
from safetensors.torch import save_file
from timm.layers import evo_norm as E

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures")
torch.manual_seed(0)

CLASSES = {
    "b0": E.EvoNorm2dB0, "b1": E.EvoNorm2dB1, "b2": E.EvoNorm2dB2,
    "s0": E.EvoNorm2dS0, "s0a": E.EvoNorm2dS0a, "s1": E.EvoNorm2dS1,
    "s1a": E.EvoNorm2dS1a, "s2": E.EvoNorm2dS2, "s2a": E.EvoNorm2dS2a,
}

tensors = {}
cases = []


def put(name, t):
    tensors[name] = t.detach().contiguous().float().clone()


def make_case(kind, shape, apply_act=True, groups=None, group_size=None, grads=False):
    n, c, h, w = shape
    kw = {"apply_act": apply_act}
    if kind.startswith("s"):
        if group_size is not None:
            kw["group_size"] = group_size
        else:
            kw["groups"] = groups
    layer = CLASSES[kind](c, **kw)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(c) * 0.5 + 1.0)
        layer.bias.copy_(torch.randn(c) * 0.3)
        if getattr(layer, "v", None) is not None:
            layer.v.copy_(torch.randn(c) * 0.5 + 1.0)
        if hasattr(layer, "running_var"):
            layer.running_var.copy_(torch.rand(c) + 0.5)
    name = f"{kind}_{'act' if apply_act else 'noact'}_{n}x{c}x{h}x{w}"
    if kind.startswith("s"):
        name += f"_g{groups}" if group_size is None else f"_gs{group_size}"
    cases.append({"name": name, "kind": kind, "shape": list(shape), "apply_act": apply_act,
                  "groups": groups, "group_size": group_size, "eps": layer.eps,
                  "has_v": getattr(layer, "v", None) is not None,
                  "has_running_var": hasattr(layer, "running_var"), "grads": grads})
    for p in ["weight", "bias", "v", "running_var"]:
        t = getattr(layer, p, None)
        if t is not None:
            put(f"{name}.init.{p}", t)
    layer.train()
    for step in range(3):
        x = torch.randn(shape) * (1.0 + step) + 0.3 * step
        put(f"{name}.train{step}.x", x)
        if grads and step == 0:
            x = x.clone().requires_grad_(True)
            y = layer(x)
            r = torch.randn(shape)
            put(f"{name}.grad.r", r)
            (y * r).sum().backward()
            put(f"{name}.grad.x", x.grad)
            for p in ["weight", "bias", "v"]:
                t = getattr(layer, p, None)
                if t is not None:
                    put(f"{name}.grad.{p}", t.grad)
        else:
            with torch.no_grad():
                y = layer(x)
        put(f"{name}.train{step}.y", y)
        if hasattr(layer, "running_var"):
            put(f"{name}.train{step}.running_var", layer.running_var)
    layer.eval()
    x = torch.randn(shape)
    with torch.no_grad():
        put(f"{name}.eval.x", x)
        put(f"{name}.eval.y", layer(x))


odd = (3, 8, 5, 7)
for kind in CLASSES:
    if kind.startswith("b"):
        make_case(kind, odd, grads=kind == "b0")
        make_case(kind, (2, 6, 3, 4), apply_act=False)
    else:
        make_case(kind, odd, groups=2, grads=kind == "s0")
        make_case(kind, (2, 12, 4, 3), groups=3)
        make_case(kind, (2, 12, 4, 3), group_size=4, apply_act=False)
make_case("b0", (1, 4, 6, 5))  # batch of one: batch std over H, W only
make_case("s0", (2, 32, 3, 3), groups=32)  # one channel per group


def tf_case():
    """TF reference formulas in float64 on the note's tiny vectors (C.4), plus S0 with 6 channels and
    4 requested groups (TF decrements to 3)."""
    x = (np.arange(32, dtype=np.float64).reshape(2, 4, 2, 2) - 15.5) / 7.0
    x[1] = x[1] ** 2 - 1
    v = np.array([1, .5, -.5, 2.])[None, :, None, None]
    g = np.array([1, 2, .5, 1.5])[None, :, None, None]
    b = np.array([0, .1, -.2, .3])[None, :, None, None]
    eps, decay = 1e-5, 0.9
    var_b = x.var(axis=(0, 2, 3))
    mv = np.ones(4) - (np.ones(4) - var_b) * (1 - decay)
    left = np.sqrt(var_b + eps)[None, :, None, None]
    right = v * x + np.sqrt(x.var(axis=(2, 3), keepdims=True) + eps)
    y_b0 = x / np.maximum(left, right) * g + b
    left_eval = np.sqrt(mv + eps)[None, :, None, None]
    y_b0_eval = x / np.maximum(left_eval, right) * g + b
    # S0, 6 channels, 4 groups asked -> 3 groups of 2 channels.
    xs = np.sin(np.arange(2 * 6 * 2 * 3, dtype=np.float64)).reshape(2, 6, 2, 3) * 2
    vs = np.linspace(-1, 1.5, 6)[None, :, None, None]
    gs = np.linspace(0.5, 1.5, 6)[None, :, None, None]
    bs = np.linspace(-0.2, 0.3, 6)[None, :, None, None]
    grp = xs.reshape(2, 3, 2, 2, 3)
    std = np.sqrt(grp.var(axis=(2, 3, 4), keepdims=True) + eps)
    std = np.broadcast_to(std, grp.shape).reshape(2, 6, 2, 3)
    y_s0 = xs / (1 + np.exp(-vs * xs)) / std * gs + bs
    for k, t in {"x": x, "v": v.ravel(), "gamma": g.ravel(), "beta": b.ravel(), "b0.y": y_b0,
                 "b0.running_var": mv, "b0.eval.y": y_b0_eval, "s0.x": xs, "s0.v": vs.ravel(),
                 "s0.gamma": gs.ravel(), "s0.beta": bs.ravel(), "s0.y": y_s0}.items():
        tensors[f"tf.{k}"] = torch.from_numpy(np.ascontiguousarray(t)).float()


tf_case()
os.makedirs(OUT, exist_ok=True)


def timm_state_dict():
    """A real timm state dict with EvoNorm layers (keys `1.weight`, `1.v`, `2.running_var`, ...)
    after three training steps, and the evaluation-mode outputs of the two norm layers."""
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), E.EvoNorm2dS0(8, groups=4),
                              E.EvoNorm2dB0(8))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        net(torch.randn(4, 3, 6, 6)).square().mean().backward()
        opt.step()
    net.eval()
    sd = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(sd, os.path.join(OUT, "evonorm_timm_state.safetensors"))
    x = torch.randn(2, 8, 5, 5)
    with torch.no_grad():
        h = net[1](x)
        y = net[2](h)
    save_file({"x": x, "s0": h, "b0": y}, os.path.join(OUT, "evonorm_timm_state_io.safetensors"))


timm_state_dict()
save_file(tensors, os.path.join(OUT, "evonorm.safetensors"))
with open(os.path.join(OUT, "evonorm.json"), "w") as f:
    json.dump({"generator": "weights/reference/evonorm_fixtures.py", "torch": torch.__version__,
               "timm": timm.__version__, "cases": cases}, f, indent=1)
print(f"{len(cases)} cases, {len(tensors)} tensors")
