"""pycocotools' numbers for `eval-yolov9 val` on a committed case (weights/fixtures/yolov9_val/).

The case: the committed shapes detector (weights/yolov9_shapes.safetensors: gelan-t trained here
on the generated shapes, float16, the reference's naming; the embedded default of `eval-yolov9
predict`) and 12 held-out 190x190 images of the same kind with their YOLO labels (images/val,
labels/val; written by `cargo run -p zoo-datasets --example write_detection_shapes -- DIR val 12
190 7`), validated at imgsz 256 (the letterbox scales them by 256/190; at a size that is a
multiple of 8, some boxes land exactly on COCO's area boundaries, 32^2 and 96^2, where f32 and
f64 arithmetic put them on different sides).

This script runs our `eval-yolov9 val --save-json` on the case, then, independently of our code:
builds the ground truth from the label files with ultralytics' letterbox arithmetic (gain
min(256 / h, 256 / w), centred padding) and checks that ours matches it; and evaluates our
predictions with pycocotools' COCOeval against its own ground truth. It writes expected.json:
the 12 numbers, the number of predictions and of ground-truth boxes. `eval/tests/
eval_yolov9_cli.rs` runs val again and requires the same numbers.

    cargo build --release --bin eval-yolov9
    python weights/reference/yolov9_val_fixture.py [--bin target/release/eval-yolov9]

Needs numpy, pillow and pycocotools.
"""
import argparse
import contextlib
import io
import json
import os
import subprocess
import tempfile

from PIL import Image
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

CASE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "yolov9_val")
WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "yolov9_shapes.safetensors")
IMGSZ = 256


def ground_truth(images):
    """COCO instances from the YOLO label files, boxes in the letterboxed IMGSZ x IMGSZ frame."""
    anns = []
    for i, path in enumerate(images):
        w0, h0 = Image.open(path).size
        r = min(IMGSZ / h0, IMGSZ / w0)
        w, h = round(w0 * r), round(h0 * r)
        pw, ph = (IMGSZ - w) / 2, (IMGSZ - h) / 2
        label = path.replace(f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}").rsplit(".", 1)[0] + ".txt"
        for line in open(label).read().split("\n"):
            if not line.strip():
                continue
            c, cx, cy, bw, bh = line.split()
            cx, cy, bw, bh = float(cx) * w, float(cy) * h, float(bw) * w, float(bh) * h
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(c), "iscrowd": 0,
                         "bbox": [cx - bw / 2 + pw, cy - bh / 2 + ph, bw, bh], "area": bw * bh})
    return {"images": [{"id": i} for i in range(len(images))], "annotations": anns,
            "categories": [{"id": c} for c in range(4)]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default="target/release/eval-yolov9")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = os.path.join(tmp, "run")
        os.makedirs(run)
        val_dir = os.path.join(CASE, "images", "val")
        json.dump({"family": "yolov9", "version": "0.1.0",
                   "config": {"model": "gelan-t", "num_classes": 4, "imgsz": IMGSZ,
                              "data": {"source": "yolo", "train": val_dir, "val": val_dir}}},
                  open(os.path.join(run, "run.json"), "w"))
        out = os.path.join(tmp, "out")
        subprocess.run([a.bin, "val", "--checkpoint", run, "--weights", WEIGHTS,
                        "--out", out, "--save-json"], check=True)
        ours_gt = json.load(open(os.path.join(out, "val_ground_truth.json")))
        preds = json.load(open(os.path.join(out, "val_predictions.json")))
        ours = json.load(open(os.path.join(out, "val_metrics.json")))
    images = [im["file_name"] for im in ours_gt["images"]]
    gt = ground_truth(images)
    # Our conversion of the labels must be this one.
    assert len(gt["annotations"]) == len(ours_gt["annotations"]), "ground-truth counts differ"
    for g, o in zip(gt["annotations"], ours_gt["annotations"]):
        assert g["image_id"] == o["image_id"] and g["category_id"] == o["category_id"], (g, o)
        assert max(abs(x - y) for x, y in zip(g["bbox"], o["bbox"])) < 1e-3, (g, o)
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        e = COCOeval(coco, coco.loadRes(preds), "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    names = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
    stats = {n: float(v) for n, v in zip(names, e.stats)}
    expected = {"stats": stats, "predictions": len(preds), "ground_truth_boxes": len(gt["annotations"]),
                "images": len(images)}
    json.dump(expected, open(os.path.join(CASE, "expected.json"), "w"), indent=1)
    print(json.dumps(expected))
    print("ours:", json.dumps(ours))


if __name__ == "__main__":
    main()
