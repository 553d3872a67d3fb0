"""EBV fixtures from the reference algorithms (aassxun/Equiangular-Basis-Vectors):

* `gen.*`: Generate_EBV.py's loop (normalise rows, sliced |E_s E^T| - I, relu(m - threshold) summed,
  backward per slice, SGD lr 1e-3) run for 6 steps from a stored start, slice size 7, recording the
  max of each step and the parameters after the last step.
* `head.*`: EBV_ImageNet.py's head, logits = normalize(f) @ normalize(E).T / 0.07 with
  CrossEntropyLoss(label_smoothing=0.1): logits, loss and the gradient with respect to the
  features.

    python weights/reference/ebv_fixtures.py   # writes weights/fixtures/ebv.safetensors
"""
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from bench_ebv_generator import reference_objective  # Generate_EBV.py's loop body

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures")
torch.manual_seed(0)
t = {}

# Generator.
num_cls, dim, threshold, slice_size, lr, steps = 40, 12, 0.05, 7, 1e-3, 6
e0 = torch.randn(num_cls, dim)
t["gen.e0"] = e0.clone()
basis_vec = torch.nn.Parameter(F.normalize(e0.clone()))
optim = torch.optim.SGD([basis_vec], lr=lr)
maxes = []
for _ in range(steps):
    maxes.append(reference_objective(basis_vec, threshold, slice_size))
    optim.step()
    optim.zero_grad()
t["gen.maxes"] = torch.tensor(maxes, dtype=torch.float64).float()
t["gen.final"] = basis_vec.data.clone()

# Head.
n, d, b = 7, 5, 4
basis = F.normalize(torch.randn(n, d))
f = torch.randn(b, d, requires_grad=True)
labels = torch.tensor([0, 3, 6, 3])
logits = F.normalize(f) @ basis.t() / 0.07
loss = torch.nn.CrossEntropyLoss(label_smoothing=0.1)(logits, labels)
loss.backward()
t.update({"head.basis": basis, "head.features": f.detach(), "head.labels": labels.float(),
          "head.logits": logits.detach(), "head.loss": loss.detach().reshape(1), "head.grad": f.grad})

os.makedirs(OUT, exist_ok=True)
save_file({k: v.contiguous() for k, v in t.items()}, os.path.join(OUT, "ebv.safetensors"))
print("torch", torch.__version__, "maxes", [round(x, 5) for x in maxes])
