"""YOLOv9 loss fixture: the authors' TAL losses on a fixed batch, formula weights (see
yolov9_fixture.py, whose key list this reuses).

Writes weights/fixtures/yolov9_loss.safetensors: for yolov9-t (nc 3, the PGI dual loss of
`utils/loss_tal_dual.py`: auxiliary head x 0.25 + main head, gains box 7.5 / cls 0.5 / dfl 1.5,
times the batch size) and for gelan-t (the single-head loss of `utils/loss_tal.py` on the
converted main branch), `<model>.loss` (the total) and `<model>.items` (box, cls, dfl). The
batch: 2 formula images of 320x320 (`input.2x320x320`) and the targets below, in eval mode (BN
running statistics; the loss reads the raw level maps).

Run (offline, WongKinYiu's repository at $YOLOV9_SRC):
    YOLOV9_SRC=/tmp/yolov9-src unshare -n python weights/reference/yolov9_loss_fixture.py
"""
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yolov9_fixture as F  # noqa: E402

# (image, class, cx, cy, w, h), normalised: several objects, one small, two overlapping.
TARGETS = [
    [0, 1, 0.5, 0.5, 0.3, 0.4],
    [0, 2, 0.2, 0.3, 0.1, 0.1],
    [0, 0, 0.55, 0.45, 0.35, 0.3],
    [1, 0, 0.7, 0.6, 0.5, 0.5],
    [1, 2, 0.1, 0.85, 0.04, 0.05],
]


def main():
    sys.path.insert(0, os.environ["YOLOV9_SRC"])
    from models.yolo import DetectionModel
    from utils.loss_tal import ComputeLoss as GelanLoss
    from utils.loss_tal_dual import ComputeLoss as DualLoss

    hyp = {"cls_pw": 1.0, "fl_gamma": 0.0, "label_smoothing": 0.0}
    u = F.uniforms("input.2x320x320", 2 * 3 * 320 * 320)
    x = torch.from_numpy(u.astype(np.float32).reshape(2, 3, 320, 320))
    targets = torch.tensor(TARGETS, dtype=torch.float32)
    out = {}
    src = os.environ["YOLOV9_SRC"]
    dual = DetectionModel(os.path.join(src, "models/detect/yolov9-t.yaml"), nc=3)
    F.fill(dual)
    dual.hyp = hyp
    gelan = DetectionModel(os.path.join(src, "models/detect/gelan-t.yaml"), nc=3)
    sd = dual.state_dict()
    gelan.load_state_dict({k: sd[k.replace("model.22.", "model.29.").replace(".cv2.", ".cv4.")
                                 .replace(".cv3.", ".cv5.").replace(".dfl.", ".dfl2.") if k.startswith("model.22.") else k]
                           for k in gelan.state_dict()})
    gelan.eval()
    gelan.hyp = hyp
    with torch.no_grad():
        loss, items = DualLoss(dual)(dual(x), targets)
        out["yolov9-t.loss"] = loss.reshape(1)
        out["yolov9-t.items"] = items
        loss, items = GelanLoss(gelan)(gelan(x), targets)
        out["gelan-t.loss"] = loss.reshape(1)
        out["gelan-t.items"] = items
    out["targets"] = targets
    for k, v in out.items():
        print(k, v.tolist())
    save_file(out, os.path.join(F.FIXTURES, "yolov9_loss.safetensors"))


if __name__ == "__main__":
    main()
