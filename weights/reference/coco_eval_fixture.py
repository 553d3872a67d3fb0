"""COCOeval fixtures: detection cases with their pycocotools 2.0 `stats`.

Writes weights/fixtures/coco_eval_cases.json: a list of {name, gt (an instances dict), dt (a
results list), stats (the 12 numbers of COCOeval(gt, gt.loadRes(dt), 'bbox').summarize()),
per_category (AP per category id, precision[:, :, k, 0, 2] averaged over entries > -1)}.
Cases: perfect detections, a false positive ranked first, IoU just under and over the
thresholds, crowd regions, images without ground truth or detections, many classes, tied
scores, areas that differ from the boxes', more than 100 detections per image, and a seeded
random mix.

Run: python weights/reference/coco_eval_fixture.py (needs numpy and pycocotools).
"""
import contextlib
import io
import json
import os

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "coco_eval_cases.json")


def gt_dict(images, anns, cats):
    out = []
    for i, (img, cat, box, *rest) in enumerate(anns):
        area = rest[0] if rest and rest[0] is not None else box[2] * box[3]
        crowd = rest[1] if len(rest) > 1 else 0
        out.append({"id": i + 1, "image_id": img, "category_id": cat, "bbox": [float(v) for v in box],
                    "area": float(area), "iscrowd": int(crowd)})
    return {"images": [{"id": i} for i in images], "annotations": out,
            "categories": [{"id": c, "name": f"c{c}"} for c in cats]}


def evaluate(gt, dt):
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = json.loads(json.dumps(gt))
        coco.createIndex()
        res = coco.loadRes(json.loads(json.dumps(dt)))
        e = COCOeval(coco, res, "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    prec = e.eval["precision"]
    per_cat = []
    for k, cid in enumerate(e.params.catIds):
        p = prec[:, :, k, 0, 2]
        per_cat.append([cid, float(np.mean(p[p > -1])) if (p > -1).any() else -1.0])
    return [float(s) for s in e.stats], per_cat


def det(img, cat, box, score):
    return {"image_id": img, "category_id": cat, "bbox": [float(v) for v in box], "score": float(score)}


def cases():
    rng = np.random.default_rng(0)
    c = {}
    gts = [(1, 1, [10, 10, 100, 100]), (1, 2, [200, 50, 60, 50]), (2, 1, [5, 5, 20, 20])]
    c["perfect"] = (gt_dict([1, 2], gts, [1, 2]), [det(i, k, b, 0.9) for i, k, b in gts])
    g = gt_dict([1], [(1, 1, [10, 10, 100, 100])], [1])
    c["false_positive_first"] = (g, [det(1, 1, [300, 300, 50, 50], 0.9), det(1, 1, [10, 10, 100, 100], 0.8)])
    c["shifted"] = (g, [det(1, 1, [29, 10, 100, 100], 0.7)])
    # IoU of a 100x100 box shifted by s: (100 - s) / (100 + s); just under / over 0.5, 0.75, 0.95.
    dts = []
    for n, s in enumerate([33.4, 33.3, 14.3, 14.2, 2.6, 2.5]):
        dts.append(det(1, 1, [10 + s, 10, 100, 100], 0.9 - 0.1 * n))
    c["iou_edges"] = (g, dts)
    for n, (s, score) in enumerate([(33.3, 0.9), (33.4, 0.9), (14.2, 0.5), (2.5, 0.4)]):
        c[f"iou_edge_{n}"] = (g, [det(1, 1, [10 + s, 10, 100, 100], score)])
    crowd_gt = gt_dict([1, 2], [(1, 1, [0, 0, 200, 200], None, 1), (1, 1, [300, 300, 50, 50]),
                                (2, 1, [10, 10, 40, 40], None, 1)], [1])
    c["crowd"] = (crowd_gt, [det(1, 1, [10, 10, 50, 50], 0.9), det(1, 1, [60, 60, 50, 50], 0.85),
                             det(1, 1, [300, 300, 50, 50], 0.8), det(1, 1, [150, 150, 100, 100], 0.7),
                             det(2, 1, [12, 12, 30, 30], 0.6), det(2, 1, [100, 100, 30, 30], 0.5)])
    c["empty_images"] = (gt_dict([1, 2, 3, 4], [(1, 1, [10, 10, 50, 50]), (3, 2, [0, 0, 30, 30])], [1, 2, 3]),
                         [det(1, 1, [10, 10, 50, 50], 0.9), det(2, 1, [10, 10, 50, 50], 0.95),
                          det(2, 3, [5, 5, 10, 10], 0.5), det(4, 2, [0, 0, 30, 30], 0.6)])
    c["area_field"] = (gt_dict([1], [(1, 1, [0, 0, 100, 100], 500.0), (1, 1, [200, 0, 20, 20], 20000.0),
                                     (1, 1, [300, 0, 40, 40])], [1]),
                       [det(1, 1, [0, 0, 100, 100], 0.9), det(1, 1, [200, 0, 20, 20], 0.8),
                        det(1, 1, [300, 0, 40, 40], 0.7), det(1, 1, [500, 500, 5, 5], 0.6),
                        det(1, 1, [600, 600, 200, 200], 0.5)])
    ties_gt = gt_dict([1, 2, 3], [(i, 1, [10 * i, 10, 50, 50]) for i in (1, 2, 3)], [1])
    c["ties"] = (ties_gt, [det(1, 1, [300, 300, 20, 20], 0.5), det(1, 1, [10, 10, 50, 50], 0.5),
                           det(2, 1, [20, 10, 50, 50], 0.5), det(2, 1, [0, 300, 20, 20], 0.5),
                           det(3, 1, [30, 10, 50, 50], 0.5), det(3, 1, [35, 10, 50, 50], 0.5)])
    # More than 100 detections on one image: the cut at 100, AR1 / AR10 / AR100 differ.
    many_gt = [(1, 1, [float(x * 30), float(y * 30), 25, 25]) for x in range(12) for y in range(10)]
    dts = [det(1, 1, b, 0.99 - 0.001 * n) for n, (_, _, b) in enumerate(many_gt)]
    dts += [det(1, 1, [float(rng.uniform(0, 400)), float(rng.uniform(0, 400)), 25, 25], 0.5) for _ in range(30)]
    c["over_100_per_image"] = (gt_dict([1], many_gt, [1]), dts)
    # Many classes, random boxes.
    anns, dts = [], []
    for img in range(1, 6):
        for _ in range(rng.integers(3, 12)):
            k = int(rng.integers(1, 21))
            x, y = rng.uniform(0, 500, 2)
            w, h = rng.uniform(5, 150, 2)
            anns.append((img, k, [x, y, w, h]))
            if rng.random() < 0.8:
                j = rng.normal(0, 0.1, 4) * [w, h, w, h]
                dts.append(det(img, k if rng.random() < 0.9 else int(rng.integers(1, 21)),
                               [x + j[0], y + j[1], max(w + j[2], 1), max(h + j[3], 1)], rng.random()))
        for _ in range(3):
            dts.append(det(img, int(rng.integers(1, 21)), [*rng.uniform(0, 500, 2), *rng.uniform(5, 100, 2)], rng.random() * 0.5))
    c["many_classes"] = (gt_dict(list(range(1, 6)), anns, list(range(1, 21))), dts)
    # The mixed case of the reference notes: 2 images x 2 categories x 4 objects of 8-200 px, every
    # 11th a crowd, 80 % detected with 8 % jitter, 3 random 50x50 false positives per image/category.
    anns, dts, n = [], [], 0
    for img in (1, 2):
        for k in (1, 2):
            for _ in range(4):
                w, h = rng.uniform(8, 200, 2)
                x, y = rng.uniform(0, 400, 2)
                crowd = int(n % 11 == 10)
                n += 1
                anns.append((img, k, [x, y, w, h], None, crowd))
                if rng.random() < 0.8:
                    j = rng.normal(0, 0.08, 4) * [w, h, w, h]
                    dts.append(det(img, k, [x + j[0], y + j[1], w + j[2], h + j[3]], rng.uniform(0.3, 1)))
            for _ in range(3):
                dts.append(det(img, k, [*rng.uniform(0, 400, 2), 50, 50], rng.uniform(0, 0.6)))
    c["mixed"] = (gt_dict([1, 2], anns, [1, 2]), dts)
    return c


def main():
    out = []
    for name, (gt, dt) in cases().items():
        stats, per_cat = evaluate(gt, dt)
        out.append({"name": name, "gt": gt, "dt": dt, "stats": stats, "per_category": per_cat})
        print(name, [round(s, 4) for s in stats])
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"), default=lambda o: o.item())


if __name__ == "__main__":
    main()
