"""Writes the binary seeds of the cargo-fuzz targets (fuzz/seeds/{npz,safetensors,pytorch,onnx}):
small valid files as numpy, safetensors, torch.save and onnx write them. The text seeds are
written by hand; fuzz/seeds/bpk/mlp.bpk is `zoo_weights::bpk::save_module` of the harness's MLP
(4 inputs, 8 hidden, 1 layer, 3 classes).

    python weights/reference/fuzz_seeds.py
"""
import os

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from safetensors.torch import save_file

SEEDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fuzz", "seeds")


def path(*parts):
    p = os.path.join(SEEDS, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


np.savez(path("npz", "small.npz"), a=np.arange(6, dtype=np.float64).reshape(2, 3),
         b=np.array([1, 2, 3], dtype=np.int64), c=np.float32(2.5))
np.savez_compressed(path("npz", "compressed.npz"),
                    x=np.linspace(0, 1, 8, dtype=np.float32).reshape(2, 2, 2))
np.save(path("npz", "fortran.npy"), np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))

torch.manual_seed(0)
# open_clip- and YOLOv9-style keys, so that the key maps run (and refuse the shapes).
save_file({"visual.conv1.weight": torch.randn(4, 3, 2, 2), "logit_scale": torch.tensor(4.6),
           "token_embedding.weight": torch.randn(5, 4).half()},
          path("safetensors", "open_clip_keys.safetensors"))
save_file({"model.0.conv.weight": torch.randn(4, 3, 3, 3), "model.0.bn.weight": torch.ones(4),
           "model.0.bn.running_var": torch.ones(4),
           "model.22.dfl.conv.weight": torch.arange(16.0).reshape(1, 16, 1, 1)},
          path("safetensors", "yolo_keys.safetensors"))

torch.save({"w": torch.randn(2, 3), "b": torch.zeros(3, dtype=torch.float16)},
           path("pytorch", "state_dict.pt"))
torch.save({"model": {"layer.weight": torch.randn(3, 2).t(),
                      "layer.bias": torch.ones(2, dtype=torch.bfloat16)}, "epoch": 3},
           path("pytorch", "nested.pt"))

w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(3, 2), "linear.weight")
b = numpy_helper.from_array(np.ones(2, dtype=np.float32), "linear.bias")
g = helper.make_graph(
    [helper.make_node("MatMul", ["x", "linear.weight"], ["y0"]),
     helper.make_node("Add", ["y0", "linear.bias"], ["y"])], "g",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], [w, b])
onnx.save(helper.make_model(g), path("onnx", "linear.onnx"))
h = numpy_helper.from_array(np.arange(4, dtype=np.float16).reshape(2, 2), "half")
g2 = helper.make_graph([helper.make_node("Identity", ["half"], ["y"])], "g2", [],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [2, 2])], [h])
onnx.save(helper.make_model(g2), path("onnx", "half.onnx"))
