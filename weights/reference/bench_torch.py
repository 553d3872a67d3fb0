"""PyTorch side of burnzoo's benchmarks, with the interface of the `bench` binary:

    python weights/reference/bench_torch.py --model evonorm-s0 --mode train --batch 32 --size 56 --json

prints one JSON object (model, mode, batch, size, device, iterations, median_ms, p10_ms, p90_ms,
items_per_second, peak_rss_mib). Models: evonorm-<variant> (timm's EvoNorm2d* on
[batch, 64, size, size]); resnet26 (timm's, 1000 classes, random weights, on batch size x size
images; train = forward, the sum of the logits, backward) and resnet26-<norm> (the same net with
every BatchNorm replaced as zoo-resnet does: gn = GroupNorm(32) + ReLU, evonorm-<variant> =
timm's EvoNorm2d*, with its activation where the block has one; see `resnet26`), each also
-fused (infer only: batch norms folded into their convolutions by torch.fx's `fuse`); ebv-head (the
fixed-basis head of EBV_ImageNet.py: normalize(f) E^T, train = / 0.07, cross-entropy with label
smoothing 0.1, backward to the features; `batch` features of d = `size`, 1000 classes);
ebv-generator (one step of Generate_EBV.py's loop, N = `batch`, d = `size`, alpha 0.07);
aranyani and aranyani-fair (one per-sample online update of Aranyani's forest, lambda 0 or 1,
on one thread, batch 1, `size` features); ponita (batch systems of size particles, see
`ponita`);
ultralytics-yolov9{t,s,m,c,e}[-fused] (ultralytics' model, random weights, 80 classes, `batch`
images of size x size, forward + decode; -fused after `model.fuse()`) and
ultralytics-yolov9{t,s,m,c,e}-onnx (the fused model exported to ONNX, run by onnxruntime; run it
offline: YOLO_OFFLINE=1, see yolov9_fixture.py); clip-image and clip-text (open_clip's
ViT-B-16-quickgelu towers, random weights: `batch` 224x224 images or 77-token texts, infer only)
and clip-image-onnx / clip-text-onnx (the same towers exported to ONNX, on onnxruntime), each
also -tiny (the tiny CLIP of the PromptSRC bench, e.g. clip-image-tiny, clip-image-tiny-onnx);
promptsrc-tiny and promptsrc-vit-b16 (promptsrc_reference.py on open_clip's tiny CLIP with J = 2
or ViT-B/16 with J = 9, 4+4 prompts: `batch` images and `size` classes; train = the four losses
with every class prompt through the text tower, backward; infer = class features and scores).
Threads: torch's default (all cores), like burn's CPU backend.
"""
import argparse
import json
import resource
import time

import numpy as np
import torch


def module_step(module, x, mode, input_grad=False):
    """One timed step of `module` on `x`: train = forward, sum, backward (with the input's gradient
    when `input_grad`, as `bench` computes it for a layer); infer = forward without autograd."""
    if mode == "train":
        module.train()

        def step():
            module.zero_grad(set_to_none=True)
            xi = x.clone().requires_grad_(True) if input_grad else x
            module(xi).sum().backward()
    else:
        module.eval()

        def step():
            with torch.no_grad():
                module(x)
    return step


def evonorm_class(variant):
    """timm's EvoNorm2d* class of `variant` (b0, s0a, ...)."""
    from timm.layers import evo_norm as E
    return {"b0": E.EvoNorm2dB0, "b1": E.EvoNorm2dB1, "b2": E.EvoNorm2dB2, "s0": E.EvoNorm2dS0,
            "s0a": E.EvoNorm2dS0a, "s1": E.EvoNorm2dS1, "s1a": E.EvoNorm2dS1a, "s2": E.EvoNorm2dS2,
            "s2a": E.EvoNorm2dS2a}[variant]


def evonorm(name, mode, batch, size):
    layer = evonorm_class(name)(64)
    torch.manual_seed(0)
    return module_step(layer, torch.randn(batch, 64, size, size), mode, input_grad=True)


def resnet26(mode, batch, size, norm="bn", fused=False):
    """timm's `resnet26`; for another norm, each BatchNorm replaced as zoo-resnet builds the net:
    GroupNorm(32) keeps the ReLUs; an EvoNorm takes the place of norm + activation (its own
    activation on) where a ReLU follows the norm, and is affine-only (activation off) on each
    block's last norm and projection, whose ReLU comes after the residual sum."""
    import timm
    from timm.models.resnet import Bottleneck
    torch.manual_seed(0)
    model = timm.create_model("resnet26", pretrained=False)
    if norm in ("gn", "gn-relu"):
        for m in list(model.modules()):
            for name, child in list(m.named_children()):
                if isinstance(child, torch.nn.BatchNorm2d):
                    setattr(m, name, torch.nn.GroupNorm(32, child.num_features))
    elif norm not in ("bn", "bn-relu"):
        cls = evonorm_class(norm.removeprefix("evonorm-"))
        evo = lambda bn, act: cls(bn.num_features, apply_act=act)
        model.bn1, model.act1 = evo(model.bn1, True), torch.nn.Identity()
        for block in model.modules():
            if isinstance(block, Bottleneck):
                block.bn1, block.act1 = evo(block.bn1, True), torch.nn.Identity()
                block.bn2, block.act2 = evo(block.bn2, True), torch.nn.Identity()
                block.bn3 = evo(block.bn3, False)
                if block.downsample is not None:
                    block.downsample[1] = evo(block.downsample[1], False)
    if fused:
        if mode != "infer":
            raise SystemExit("the fused (inference) form has no train step")
        from torch.fx.experimental.optimization import fuse
        model = fuse(model.eval())
    return module_step(model, torch.randn(batch, 3, size, size), mode)


def ebv_head(mode, batch, dim, classes=1000):
    """EBV_ImageNet.py's head: cosines of normalize(f) with the fixed unit basis; train: logits
    / 0.07, CrossEntropyLoss(label_smoothing=0.1), backward to the features."""
    import torch.nn.functional as F
    torch.manual_seed(0)
    basis = F.normalize(torch.randn(classes, dim))
    f = torch.randn(batch, dim)
    targets = torch.arange(batch) % classes
    loss = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    if mode == "train":
        def step():
            fi = f.clone().requires_grad_(True)
            loss(F.normalize(fi) @ basis.t() / 0.07, targets).backward()
    else:
        def step():
            with torch.no_grad():
                F.normalize(f) @ basis.t()
    return step


def ebv_generator(mode, n, d, alpha=0.07):
    """One step of Generate_EBV.py's loop (bench_ebv_generator.py's `reference_objective` and the
    SGD step)."""
    import torch.nn.functional as F
    from bench_ebv_generator import reference_objective
    if mode != "train":
        raise SystemExit("the EBV generator is an optimisation: time it with --mode train")
    torch.manual_seed(0)
    basis = torch.nn.Parameter(F.normalize(torch.randn(n, d)))
    opt = torch.optim.SGD([basis], lr=1e-3)

    def step():
        reference_objective(basis, alpha)
        opt.step()
        opt.zero_grad()
    return step


class AranyaniForest(torch.nn.Module):
    """Aranyani's soft oblique forest (K trees of depth h, sigmoid node decisions, leaf softmax,
    mean over trees), per sample as the authors' `src/aranyani.py` runs it."""

    def __init__(self, d, trees=3, depth=4, classes=2):
        super().__init__()
        n_int, n_leaf = 2 ** depth - 1, 2 ** depth
        self.w = torch.nn.Parameter(torch.randn(trees, d, n_int))
        self.b = torch.nn.Parameter(torch.randn(trees, n_int))
        self.theta = torch.nn.Parameter(torch.rand(trees, n_leaf, classes))
        mask = torch.zeros(n_int, n_leaf)
        for leaf in range(n_leaf):
            node = n_leaf + leaf
            while node > 1:
                parent = node // 2
                mask[parent - 1, leaf] = 1.0 if node % 2 == 0 else -1.0
                node = parent
        self.register_buffer("mask", mask)

    def forward(self, x):
        s = torch.sigmoid(torch.einsum("d,tdi->ti", x, self.w) + self.b)  # [T, I]
        m = self.mask
        phi = torch.where(m > 0, s[:, :, None], torch.where(m < 0, 1 - s[:, :, None], torch.ones_like(s[:, :, None])))
        p = torch.prod(phi + 1e-8, dim=1)  # [T, L]
        f = torch.einsum("tl,tlc->c", p, torch.softmax(self.theta, -1)) / self.w.shape[0]
        return f, s


def aranyani(name, mode, batch, d):
    """One online update per step: forward, cross-entropy backward, with lambda 1 (`-fair`) the
    demographic-parity gradient from the per-group running aggregates (the current instance
    added first), Adam (lr 2e-3, eps 1e-7, Keras'). One thread: a batch-1 step is too small to
    split."""
    if mode != "train" or batch != 1:
        raise SystemExit("Aranyani's online update is timed with --mode train --batch 1")
    lam = 1.0 if name == "aranyani-fair" else 0.0
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = AranyaniForest(d)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, eps=1e-7)
    n = 4096
    xs, ys, groups = torch.randn(n, d), torch.randint(0, 2, (n,)), torch.randint(0, 2, (n,)).tolist()
    t_, i_ = model.b.shape
    cnt = [0, 0]
    s_sum = [torch.zeros(t_, i_), torch.zeros(t_, i_)]
    gw = [torch.zeros(t_, d, i_), torch.zeros(t_, d, i_)]
    gb = [torch.zeros(t_, i_), torch.zeros(t_, i_)]
    k = [0]

    def step():
        i = k[0] % n
        k[0] += 1
        x, y, a = xs[i], ys[i], groups[i]
        f, s = model(x)
        loss = -torch.log(f.clamp(1e-7, 1 - 1e-7)[y] / f.clamp(1e-7, 1 - 1e-7).sum())
        opt.zero_grad()
        loss.backward()
        if lam > 0:
            with torch.no_grad():
                ds = s * (1 - s)
                cnt[a] += 1
                s_sum[a] += s
                gw[a] += (ds[:, None, :] * x[None, :, None] - gw[a]) / cnt[a]
                gb[a] += (ds - gb[a]) / cnt[a]
                if cnt[0] > 0 and cnt[1] > 0:
                    gap = s_sum[1] / cnt[1] - s_sum[0] / cnt[0]
                    c = torch.where(gap.abs() < 0.01, gap, torch.sign(gap - 0.005))
                    model.w.grad += lam * c[:, None, :] * (gw[1] - gw[0])
                    model.b.grad += lam * c * (gb[1] - gb[0])
        opt.step()
    return step


def ponita(mode, batch, size):
    """PONITA at the paper's N-body size (H 128, basis 256, 5 layers, 16 orientations) on `batch`
    fully connected systems of `size` particles, the layer equations of ponita_fixtures.py with the
    anchor's gather/index_add message passing; train = forward + position MSE + backward."""
    import ponita_fixtures as P
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(0)
    model = P.Ponita(h=128, basis=256, layers=5, out_s=0, out_v=1, radius=None)
    grid = P.fibonacci(16).float()
    n = batch * size
    pos, vel = torch.randn(n, 3), torch.randn(n, 1, 3) * 0.5
    charge, target = torch.randn(n, 1).sign(), torch.randn(n, 3)
    idx = torch.arange(n).view(batch, size)
    src = idx[:, None, :].expand(batch, size, size).reshape(-1)
    dst = idx[:, :, None].expand(batch, size, size).reshape(-1)
    if mode == "train":
        model.train()

        def step():
            model.zero_grad(set_to_none=True)
            _, v, _ = model(pos, charge, vel, src, dst, grid)
            ((pos + v[:, 0]) - target).pow(2).mean().backward()
    else:
        model.eval()

        def step():
            with torch.no_grad():
                model(pos, charge, vel, src, dst, grid)
    return step


def yolov9(name, mode, batch, size):
    """ultralytics' YOLOv9 (eval mode, decoded output) in PyTorch or, for `-onnx`, onnxruntime;
    train (unfused PyTorch only): train mode, the sum of the head's raw outputs, backward."""
    from ultralytics.nn.tasks import DetectionModel

    base = name.removeprefix("ultralytics-").removesuffix("-fused").removesuffix("-onnx")
    torch.manual_seed(0)
    model = DetectionModel(f"{base}.yaml", nc=80, verbose=False).eval()
    x = torch.rand(batch, 3, size, size)
    if mode == "train":
        if name != f"ultralytics-{base}":
            raise SystemExit("a YOLOv9 train step is timed unfused, in PyTorch")
        model.train()

        def train_step():
            model.zero_grad(set_to_none=True)
            out = model(x)
            # The head's raw outputs: box-distribution and class logits over every level (this
            # ultralytics returns them as a dict beside the neck's features; older ones a list).
            levels = [out["boxes"], out["scores"]] if isinstance(out, dict) else out
            sum(level.sum() for level in levels).backward()
        return train_step
    if name.endswith("-fused") or name.endswith("-onnx"):
        model = model.fuse(verbose=False)
    if name.endswith("-onnx"):
        import os
        import tempfile

        import onnxruntime as ort

        path = os.path.join(tempfile.mkdtemp(), f"{base}.onnx")
        for m in model.modules():  # ultralytics' export mode: the decoded output only
            if hasattr(m, "export"):
                m.export = True
        torch.onnx.export(model, x, path, opset_version=17, dynamo=False, input_names=["images"])
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        feed = {"images": x.numpy()}

        def step():
            sess.run(None, feed)
        return step

    def step():
        with torch.no_grad():
            model(x)
    return step


def clip(name, mode, batch):
    """open_clip's ViT-B/16 (QuickGELU) image or text tower, or (`-tiny`) the tiny CLIP of the
    PromptSRC bench; `-onnx`: its ONNX export on onnxruntime's CPU provider."""
    import open_clip
    if mode != "infer":
        raise SystemExit("the CLIP towers are timed in infer mode only")
    image = name.startswith("clip-image")
    torch.manual_seed(0)
    if "-tiny" in name:
        model = open_clip.model.CLIP(**PROMPTSRC_TINY).eval()
    else:
        model = open_clip.create_model("ViT-B-16-quickgelu", pretrained=None).eval()
    if image:
        s = model.visual.image_size
        s = s[0] if isinstance(s, tuple) else s
        x = torch.randn(batch, 3, s, s)
    else:
        tok = open_clip.get_tokenizer("ViT-B-16-quickgelu")
        x = tok([f"a photo of a {['cat', 'dog'][i % 2]}, a type of pet, seen from the side number {i}."
                 for i in range(batch)])

    class Tower(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model  # a submodule, so that the ONNX export sees its weights as such

        def forward(self, x):
            return self.model.encode_image(x) if image else self.model.encode_text(x)

    net = Tower().eval()
    if name.endswith("-onnx"):
        import os
        import tempfile
        import onnxruntime as ort
        path = os.path.join(tempfile.mkdtemp(), "tower.onnx")
        torch.onnx.export(net, (x,), path, input_names=["x"], output_names=["y"], dynamo=False,
                          opset_version=17)
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        feed = {"x": x.numpy() if image else x.numpy().astype(np.int64)}
        return lambda: sess.run(None, feed)

    def step():
        with torch.no_grad():
            net(x)
    return step


PROMPTSRC_TINY = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, patch_size=8, width=64, layers=2, head_width=16, mlp_ratio=4.0),
    text_cfg=dict(context_length=77, vocab_size=49408, width=16, heads=2, layers=2, mlp_ratio=4.0),
    quick_gelu=False,
)


def promptsrc(name, mode, batch, classes):
    """PromptSRC's step on a frozen open_clip CLIP (promptsrc_reference.py), as `bench` times it."""
    import open_clip
    from promptsrc_reference import Prompted, losses
    torch.manual_seed(0)
    if name == "promptsrc-tiny":
        model, depth = open_clip.model.CLIP(**PROMPTSRC_TINY), 2
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

    return train_step if mode == "train" else infer_step


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--mode", default="infer", choices=["infer", "train"])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=56)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    if a.device != "cpu":
        raise SystemExit("bench_torch.py runs on the CPU only")
    if a.model.startswith("evonorm-"):
        step = evonorm(a.model[len("evonorm-"):], a.mode, a.batch, a.size)
    elif a.model == "resnet26" or a.model.startswith("resnet26-"):
        norm = a.model.removeprefix("resnet26").removesuffix("-fused").removeprefix("-") or "bn"
        step = resnet26(a.mode, a.batch, a.size, norm, fused=a.model.endswith("-fused"))
    elif a.model == "ebv-head":
        step = ebv_head(a.mode, a.batch, a.size)
    elif a.model == "ebv-generator":
        step = ebv_generator(a.mode, a.batch, a.size)
    elif a.model in ("aranyani", "aranyani-fair"):
        step = aranyani(a.model, a.mode, a.batch, a.size)
    elif a.model == "ponita":
        step = ponita(a.mode, a.batch, a.size)
    elif a.model.startswith("ultralytics-yolov9"):
        step = yolov9(a.model, a.mode, a.batch, a.size)
    elif a.model.startswith("clip-"):
        step = clip(a.model, a.mode, a.batch)
    elif a.model in ("promptsrc-tiny", "promptsrc-vit-b16"):
        step = promptsrc(a.model, a.mode, a.batch, a.size)
    else:
        raise SystemExit(f"unknown model {a.model}")
    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(max(a.iters, 1)):
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1e3)
    median = float(np.quantile(times, 0.5))
    r = {"model": a.model, "mode": a.mode, "batch": a.batch, "size": a.size, "device": a.device,
         "iterations": len(times), "median_ms": median, "p10_ms": float(np.quantile(times, 0.1)),
         "p90_ms": float(np.quantile(times, 0.9)), "items_per_second": a.batch / (median / 1e3),
         "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
         "torch": torch.__version__, "threads": torch.get_num_threads()}
    print(json.dumps(r) if a.json else r)


if __name__ == "__main__":
    main()
