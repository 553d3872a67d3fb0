"""YOLOv9 fixtures: reference head outputs for weights both sides compute from a formula.

Writes weights/fixtures/yolov9_keys.json (every reference state-dict key and shape of the models
below) and weights/fixtures/yolov9_io.safetensors (inputs are formula-made too, so only outputs are
stored). With --local it also writes weights/fixtures/local/ (git-ignored): the ultralytics ONNX
export of yolov9t (BN folded) with its onnxruntime output.

The weights: every float tensor of the reference's state dict is filled from its key by
`hashed_values` (splitmix64 of FNV-1a(key) + element index -> u in [0, 1); conv weights
(2u - 1) sqrt(3 / fan_in), BN gamma/var 0.5 + u, BN beta/mean and conv biases 0.2 (u - 0.5)), the
same arithmetic as zoo_weights::fixture::hashed_values, exact in f64 then rounded to f32; so the
Rust tests rebuild the reference's state dict bit for bit from the committed key list.

Models (random structure from the reference code itself, offline):
  * ultralytics `yolov9t.yaml` (nc 80): outputs at 320x320, 384x256 (non-square) and 640x640;
  * WongKinYiu `models/detect/yolov9-t.yaml` (nc 3): dual-head main and auxiliary outputs at 320,
    and `gelan-t.yaml` loaded with the reference's PGI-removal key mapping (same outputs as main);
  * ultralytics `yolov9s.yaml`, WongKinYiu `yolov9-c.yaml` (both heads) and `gelan-e.yaml`
    (nc 80): every 7th anchor at 320x320.

Run (no network; WongKinYiu's repository unpacked at $YOLOV9_SRC):
    YOLO_OFFLINE=1 YOLO_CONFIG_DIR=/tmp/ycfg YOLOV9_SRC=/tmp/yolov9-src \
        unshare -n python weights/reference/yolov9_fixture.py [--local]
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")
M64 = (1 << 64) - 1


def fnv1a(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def uniforms(key, n):
    """splitmix64(seed + i) >> 11 scaled to [0, 1), i = 0..n-1."""
    seed = np.uint64(fnv1a(key))
    with np.errstate(over="ignore"):
        z = seed + np.uint64(0x9E3779B97F4A7C15) * (np.arange(1, n + 1, dtype=np.uint64))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def hashed_values(key, shape):
    n = int(np.prod(shape)) if len(shape) else 1
    u = uniforms(key, n)
    if key.endswith("bn.weight") or key.endswith("running_var"):
        v = 0.5 + u
    elif key.endswith("bn.bias") or key.endswith("running_mean") or key.endswith(".bias"):
        v = 0.2 * (u - 0.5)
    elif len(shape) == 4:
        fan_in = n // shape[0]
        v = (2.0 * u - 1.0) * np.sqrt(3.0 / fan_in)
    else:
        v = u
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


def fill(model):
    sd = model.state_dict()
    keys = []
    for k, t in sd.items():
        keys.append([k, list(t.shape), str(t.dtype).replace("torch.", "")])
        if t.dtype.is_floating_point and "dfl" not in k:
            t.copy_(hashed_values(k, list(t.shape)))
    model.eval()
    return keys


def image_input(h, w):
    """Input [1, 3, h, w] in [0, 1): the formula's raw uniforms for key `input.{h}x{w}`."""
    u = uniforms(f"input.{h}x{w}", 3 * h * w)
    return torch.from_numpy(u.astype(np.float32).reshape(1, 3, h, w))


def main():
    torch.manual_seed(0)
    out, keys = {}, {}
    from ultralytics.nn.tasks import DetectionModel as UDetection

    u = UDetection("yolov9t.yaml", nc=80, verbose=False)
    keys["ultralytics-yolov9t"] = fill(u)
    with torch.no_grad():
        for (h, w), step in [((320, 320), 5), ((384, 256), 5), ((640, 640), 20)]:
            y = u(image_input(h, w))[0]
            out[f"ultralytics-yolov9t.{h}x{w}"] = y[:, :, ::step].contiguous()

    sys.path.insert(0, os.environ["YOLOV9_SRC"])
    from models.yolo import DetectionModel

    dual = DetectionModel(os.path.join(os.environ["YOLOV9_SRC"], "models/detect/yolov9-t.yaml"), nc=3)
    keys["yolov9-t"] = fill(dual)
    gelan = DetectionModel(os.path.join(os.environ["YOLOV9_SRC"], "models/detect/gelan-t.yaml"), nc=3)
    keys["gelan-t"] = [[k, list(t.shape), str(t.dtype).replace("torch.", "")] for k, t in gelan.state_dict().items()]
    # The reference's re-parameterisation for T: same layer indices, head from the dual head's
    # main part (cv4/cv5/dfl2 of model.29 -> cv2/cv3/dfl of model.22).
    dsd = dual.state_dict()
    conv = {}
    for k in gelan.state_dict():
        if k.startswith("model.22."):
            src = k.replace("model.22.", "model.29.").replace(".cv2.", ".cv4.").replace(".cv3.", ".cv5.").replace(".dfl.", ".dfl2.")
        else:
            src = k
        conv[k] = dsd[src]
    gelan.load_state_dict(conv)
    gelan.eval()
    with torch.no_grad():
        x = image_input(320, 320)
        (y_aux, y_main), _ = dual(x)
        y_gelan = gelan(x)[0]
    assert torch.equal(y_main, y_gelan), (y_main - y_gelan).abs().max()
    out["yolov9-t.320x320.main"] = y_main.contiguous()
    out["yolov9-t.320x320.aux"] = y_aux.contiguous()

    # Wider models, every 7th anchor: ultralytics yolov9s, and the authors' yolov9-c (PGI with
    # CBLinear / CBFuse, ADown) and gelan-e (CBNet dual backbone), nc 80.
    us = UDetection("yolov9s.yaml", nc=80, verbose=False)
    keys["ultralytics-yolov9s"] = fill(us)
    with torch.no_grad():
        out["ultralytics-yolov9s.320x320"] = us(image_input(320, 320))[0][:, :, ::7].contiguous()
    for name in ["yolov9-c", "gelan-e"]:
        m = DetectionModel(os.path.join(os.environ["YOLOV9_SRC"], f"models/detect/{name}.yaml"), nc=80)
        keys[name] = fill(m)
        with torch.no_grad():
            y = m(image_input(320, 320))
        if name.startswith("yolov9"):
            (aux, main), _ = y
            out[f"{name}.320x320.main"] = main[:, :, ::7].contiguous()
            out[f"{name}.320x320.aux"] = aux[:, :, ::7].contiguous()
        else:
            out[f"{name}.320x320"] = y[0][:, :, ::7].contiguous()

    # ultralytics' ONNX export (BN folded, RepConvN merged) of the same yolov9t: its initializer
    # names and shapes are committed; the file itself (8 MB) and onnxruntime's output only with
    # --local.
    import shutil

    import onnx
    from ultralytics import YOLO

    yolo = YOLO("yolov9t.yaml")
    fill(yolo.model)
    exported = yolo.export(format="onnx", imgsz=320, opset=17, simplify=False, dynamic=False)
    graph = onnx.load(exported).graph
    keys["ultralytics-yolov9t-onnx"] = [[i.name, list(i.dims), "float32"] for i in graph.initializer]
    if "--local" in sys.argv:
        import onnxruntime as ort

        local = os.path.join(FIXTURES, "local")
        os.makedirs(local, exist_ok=True)
        shutil.move(exported, os.path.join(local, "yolov9t_320.onnx"))
        sess = ort.InferenceSession(os.path.join(local, "yolov9t_320.onnx"))
        y = sess.run(None, {sess.get_inputs()[0].name: image_input(320, 320).numpy()})[0]
        save_file({"output": torch.from_numpy(y)}, os.path.join(local, "yolov9t_320_onnx_io.safetensors"))
    else:
        os.remove(exported)

    save_file(out, os.path.join(FIXTURES, "yolov9_io.safetensors"))
    with open(os.path.join(FIXTURES, "yolov9_keys.json"), "w") as f:
        json.dump(keys, f, separators=(",", ":"))
    for k, v in out.items():
        print(k, tuple(v.shape), float(v.abs().max()))


if __name__ == "__main__":
    main()
