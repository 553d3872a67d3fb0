"""PyTorch side of burnzoo's benchmarks, with the interface of the `bench` binary:

    python weights/reference/bench_torch.py --model evonorm-s0 --mode train --batch 32 --size 56 --json

prints one JSON object (model, mode, batch, size, device, iterations, median_ms, p10_ms, p90_ms,
items_per_second, peak_rss_mib). Models: evonorm-<variant> (timm's EvoNorm2d* on
[batch, 64, size, size]); resnet26 (timm's, 1000 classes, random weights, on batch size x size
images; train = forward, the sum of the logits, backward); ponita (batch systems of size
particles, see `ponita`);
ultralytics-yolov9{t,s,m,c,e}[-fused] (ultralytics' model, random weights, 80 classes, `batch`
images of size x size, forward + decode; -fused after `model.fuse()`) and
ultralytics-yolov9{t,s,m,c,e}-onnx (the fused model exported to ONNX, run by onnxruntime; run it
offline: YOLO_OFFLINE=1, see yolov9_fixture.py); clip-image and clip-text (open_clip's
ViT-B-16-quickgelu towers, random weights: `batch` 224x224 images or 77-token texts, infer only)
and clip-image-onnx / clip-text-onnx (the same towers exported to ONNX, on onnxruntime);
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


def evonorm(name, mode, batch, size):
    from timm.layers import evo_norm as E
    classes = {"b0": E.EvoNorm2dB0, "b1": E.EvoNorm2dB1, "b2": E.EvoNorm2dB2, "s0": E.EvoNorm2dS0,
               "s0a": E.EvoNorm2dS0a, "s1": E.EvoNorm2dS1, "s1a": E.EvoNorm2dS1a, "s2": E.EvoNorm2dS2,
               "s2a": E.EvoNorm2dS2a}
    layer = classes[name](64)
    torch.manual_seed(0)
    return module_step(layer, torch.randn(batch, 64, size, size), mode, input_grad=True)


def resnet26(mode, batch, size):
    import timm
    torch.manual_seed(0)
    model = timm.create_model("resnet26", pretrained=False)
    return module_step(model, torch.randn(batch, 3, size, size), mode)


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
    """open_clip's ViT-B/16 (QuickGELU) image or text tower; `-onnx`: its ONNX export on
    onnxruntime's CPU provider."""
    import open_clip
    if mode != "infer":
        raise SystemExit("the CLIP towers are timed in infer mode only")
    image = name.startswith("clip-image")
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-16-quickgelu", pretrained=None).eval()
    if image:
        x = torch.randn(batch, 3, 224, 224)
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
    elif a.model == "resnet26":
        step = resnet26(a.mode, a.batch, a.size)
    elif a.model == "ponita":
        step = ponita(a.mode, a.batch, a.size)
    elif a.model.startswith("ultralytics-yolov9"):
        step = yolov9(a.model, a.mode, a.batch, a.size)
    elif a.model in ("clip-image", "clip-text", "clip-image-onnx", "clip-text-onnx"):
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
