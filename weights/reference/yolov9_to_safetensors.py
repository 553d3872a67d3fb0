"""Converts a YOLOv9 checkpoint (.pt) into a float32 safetensors state dict for zoo-weights.

Reads WongKinYiu/yolov9 checkpoints (`yolov9-c.pt`, `gelan-c.pt`, `yolov9-c-converted.pt`: pickled
dicts whose `model`/`ema` entry is the fp16 module; their classes come from the repository, so put
it on the path with --src) and ultralytics checkpoints (`yolov9t.pt`, same layout, classes from
the ultralytics package). Prints the model name to pass to burnzoo (--model) and the class count
(--nc).

Run offline (nothing is downloaded):
    YOLO_OFFLINE=1 unshare -n python weights/reference/yolov9_to_safetensors.py yolov9-c.pt \\
        yolov9-c.safetensors --src /path/to/yolov9
"""
import argparse
import sys

import torch
from safetensors.torch import save_file


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--src", help="WongKinYiu/yolov9 checkout (for its checkpoints' classes)")
    args = ap.parse_args()
    if args.src:
        sys.path.insert(0, args.src)
    ckpt = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    module = ckpt.get("ema") or ckpt.get("model") if isinstance(ckpt, dict) else ckpt
    if module is None:
        sys.exit(f"{args.checkpoint}: no `model` or `ema` entry")
    sd = module.float().state_dict()
    tensors = {k: v.contiguous() for k, v in sd.items() if v.dtype.is_floating_point}
    save_file(tensors, args.out)
    heads = sorted(k for k in tensors if k.endswith(".0.2.weight") and (".cv3." in k or ".cv5." in k))
    nc = tensors[heads[-1]].shape[0] if heads else "?"
    dual = any(".cv5." in k for k in tensors)
    kind = type(module).__module__
    print(f"{args.out}: {len(tensors)} tensors; {nc} classes; "
          f"{'dual head (yolov9-*)' if dual else 'single head'}; module from {kind}")


if __name__ == "__main__":
    main()
