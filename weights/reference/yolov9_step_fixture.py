"""One training step of gelan-t as WongKinYiu/yolov9 `train.py` takes it, on formula weights
(yolov9_fixture.py) and the fixed batch of yolov9_loss_fixture.py at 160x160.

The step: train mode (BN batch statistics), `utils/loss_tal.py` loss (x batch size), backward,
`clip_grad_norm_(max_norm=10)`, then `smart_optimizer`'s SGD: three groups (biases; BN weights;
other weights with weight decay 5e-4), lr 0.01, Nesterov momentum 0.937 (the values after the
warmup).

Writes weights/fixtures/yolov9_step.safetensors: `loss_before`, `items_before`, `grad_norm`
(before clipping), `delta.<key>`: the L2 norm of the change of every float state-dict tensor; `eval_before` /
`eval_after` (and `eval_items_*`): the eval-mode loss with the formula BN statistics before and
after the step.

Run (offline, WongKinYiu's repository at $YOLOV9_SRC):
    YOLOV9_SRC=/tmp/yolov9-src unshare -n python weights/reference/yolov9_step_fixture.py
"""
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yolov9_fixture as F  # noqa: E402
from yolov9_loss_fixture import TARGETS  # noqa: E402


def main():
    sys.path.insert(0, os.environ["YOLOV9_SRC"])
    from models.yolo import DetectionModel
    from utils.loss_tal import ComputeLoss

    torch.use_deterministic_algorithms(True)
    src = os.environ["YOLOV9_SRC"]
    dual = DetectionModel(os.path.join(src, "models/detect/yolov9-t.yaml"), nc=3)
    F.fill(dual)
    gelan = DetectionModel(os.path.join(src, "models/detect/gelan-t.yaml"), nc=3)
    sd = dual.state_dict()
    gelan.load_state_dict({k: sd[k.replace("model.22.", "model.29.").replace(".cv2.", ".cv4.")
                                 .replace(".cv3.", ".cv5.").replace(".dfl.", ".dfl2.") if k.startswith("model.22.") else k]
                           for k in gelan.state_dict()})
    gelan.hyp = {"cls_pw": 1.0, "fl_gamma": 0.0, "label_smoothing": 0.0}
    gelan.train()
    start = {k: v.detach().clone() for k, v in gelan.state_dict().items() if v.is_floating_point()}

    # smart_optimizer (utils/torch_utils.py): biases, BN weights, other weights.
    bn = tuple(v for k, v in torch.nn.__dict__.items() if "Norm" in k)
    g = [], [], []
    for v in gelan.modules():
        for p_name, p in v.named_parameters(recurse=False):
            if p_name == "bias":
                g[2].append(p)
            elif p_name == "weight" and isinstance(v, bn):
                g[1].append(p)
            else:
                g[0].append(p)
    opt = torch.optim.SGD(g[2], lr=0.01, momentum=0.937, nesterov=True)
    opt.add_param_group({"params": g[0], "weight_decay": 5e-4})
    opt.add_param_group({"params": g[1], "weight_decay": 0.0})

    u = F.uniforms("input.2x160x160", 2 * 3 * 160 * 160)
    x = torch.from_numpy(u.astype(np.float32).reshape(2, 3, 160, 160))
    targets = torch.tensor(TARGETS, dtype=torch.float32)
    loss_fn = ComputeLoss(gelan)
    loss, items = loss_fn(gelan(x), targets)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(gelan.parameters(), max_norm=10.0)
    opt.step()
    # The state after the step, before the second forward updates the BN running statistics.
    sd = {k: v.detach().clone() for k, v in gelan.state_dict().items()}
    with torch.no_grad():
        # The eval-mode loss (BN running statistics restored to the formula values) after the
        # step: unlike the train-mode loss, whose batch statistics and task-aligned assignment
        # turn a 0.1 % perturbation of the update into 2 % of loss (511.6 -> 458.5 here), it
        # changes by 1e-5 under such noise, so it is the number to compare.
        for k, v in start.items():
            if "running" in k:
                gelan.state_dict()[k].copy_(v)
        gelan.eval()
        eval_after, eval_items_after = loss_fn(gelan(x)[1], targets)
        gelan.load_state_dict({**sd, **start})
        eval_before, eval_items_before = loss_fn(gelan(x)[1], targets)
    out = {
        "loss_before": loss.detach().reshape(1),
        "items_before": items,
        "grad_norm": norm.reshape(1),
        "eval_before": eval_before.reshape(1),
        "eval_items_before": eval_items_before,
        "eval_after": eval_after.reshape(1),
        "eval_items_after": eval_items_after,
    }
    # The L2 norm of every tensor's change (parameters and BN running statistics).
    for k, v in start.items():
        out["delta." + k] = (sd[k].double() - v.double()).norm().float().reshape(1)
    for k, v in out.items():
        if not k.startswith("delta."):
            print(k, v.flatten()[:6].tolist())
    save_file(out, os.path.join(F.FIXTURES, "yolov9_step.safetensors"))


if __name__ == "__main__":
    main()
