"""PyTorch fixture for zoo-ponita: the PONITA layer equations (ebekkers/ponita `ponita.py`,
`conv.py`, `convnext.py`; ponita-torch `models/ponita.py`) written out in plain torch, run on a
small batch of two graphs with explicit edges (self-loops included), before and after the
data-driven kernel calibration, and the gradient of the sum of the outputs with respect to the
positions.

    python weights/reference/ponita_fixtures.py   # -> weights/fixtures/ponita.safetensors

Tensor names follow zoo-ponita's module paths in PyTorch layout (Linear weight [out, in],
LayerNorm weight/bias), so zoo-weights loads them with `from_pytorch`.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)

IN_S, IN_V, OUT_S, OUT_V = 1, 1, 1, 1
H, BASIS, LAYERS, O, DEGREE, WIDEN, RADIUS = 16, 12, 2, 8, 3, 4, 3.0


def fibonacci(n, offset=0.5):
    i = torch.arange(n, dtype=torch.float64)
    theta = (math.pi * i * (1 + math.sqrt(5))) % (2 * math.pi)
    phi = torch.acos(1 - 2 * (i + offset) / (n - 1 + 2 * offset))
    return torch.stack((torch.cos(theta) * torch.sin(phi), torch.sin(theta) * torch.sin(phi), torch.cos(phi)), -1)


def poly(z, degree):
    terms = [z]
    for _ in range(1, degree):
        terms.append(torch.einsum("...i,...j->...ij", terms[-1], z).flatten(-2, -1))
    return torch.cat(terms, -1)


def cutoff(d, r):
    u = d / r
    return (1 - 28 * u**6 + 48 * u**7 - 21 * u**8) * (u < 1)


class Basis(nn.Module):
    def __init__(self, k, h=H, basis=BASIS, degree=DEGREE):
        super().__init__()
        width = sum(k**d for d in range(1, degree + 1))
        self.degree = degree
        self.l1, self.l2 = nn.Linear(width, h), nn.Linear(h, basis)

    def forward(self, z):
        return F.gelu(self.l2(F.gelu(self.l1(poly(z, self.degree)))))


class Conv(nn.Module):
    def __init__(self, h=H, basis=BASIS):
        super().__init__()
        self.kernel = nn.Linear(basis, h, bias=False)
        self.fiber_kernel = nn.Linear(basis, h, bias=False)
        self.bias = nn.Parameter(torch.randn(h) * 0.1)

    def forward(self, x, kb, fb, src, dst, stats=None):
        msg = x[src] * self.kernel(kb)
        x1 = torch.zeros_like(x).index_add_(0, dst, msg)
        x2 = torch.einsum("boc,poc->bpc", x1, self.fiber_kernel(fb)) / fb.shape[-2]
        if stats is not None:
            stats.append((x.std(), x1.std(), x2.std()))
        return x2 + self.bias


class Block(nn.Module):
    def __init__(self, h=H, basis=BASIS, widen=WIDEN):
        super().__init__()
        self.conv = Conv(h, basis)
        self.norm = nn.LayerNorm(h)
        self.lin1, self.lin2 = nn.Linear(h, widen * h), nn.Linear(widen * h, h)
        self.layer_scale = nn.Parameter(torch.rand(h) + 0.5)
        with torch.no_grad():
            self.norm.weight.add_(torch.randn(h) * 0.1)
            self.norm.bias.add_(torch.randn(h) * 0.1)

    def forward(self, x, kb, fb, src, dst, stats=None):
        y = self.lin2(F.gelu(self.lin1(self.norm(self.conv(x, kb, fb, src, dst, stats)))))
        return x + self.layer_scale * y


class Ponita(nn.Module):
    def __init__(self, h=H, basis=BASIS, layers=LAYERS, out_s=OUT_S, out_v=OUT_V, radius=RADIUS):
        super().__init__()
        self.out_s, self.radius = out_s, radius
        self.embed = nn.Linear(IN_S + IN_V, h, bias=False)
        self.spatial_basis, self.fiber_basis = Basis(2, h, basis), Basis(1, h, basis)
        self.layers = nn.ModuleList(Block(h, basis) for _ in range(layers))
        self.readouts = nn.ModuleList(nn.Linear(h, out_s + out_v) for _ in range(layers))

    def forward(self, pos, scal, vec, src, dst, grid, stats=None):
        o = grid.shape[0]
        rel = (pos[src] - pos[dst])[:, None, :]
        a1 = (rel * grid[None]).sum(-1, keepdim=True)
        a2 = (rel - a1 * grid[None]).norm(dim=-1, keepdim=True)
        inv = torch.cat([a1, a2], -1)
        kb = self.spatial_basis(inv)
        if self.radius is not None:
            kb = kb * cutoff(rel.norm(dim=-1, keepdim=True), self.radius)
        fb = self.fiber_basis((grid[None] * grid[:, None]).sum(-1, keepdim=True))
        x = torch.cat([scal[:, None, :].expand(-1, o, -1), torch.einsum("nvd,od->nov", vec, grid)], -1)
        x = self.embed(x)
        outs = []
        for layer, ro in zip(self.layers, self.readouts):
            x = layer(x, kb, fb, src, dst, stats)
            outs.append(ro(x))
        r = sum(outs) / len(outs)
        return r[..., : self.out_s].mean(1), torch.einsum("nov,od->nvd", r[..., self.out_s :], grid) / o, inv


def main():
    sizes = [4, 5]
    pos = torch.randn(sum(sizes), 3) * 1.2
    scal = torch.randint(0, 2, (sum(sizes), 1)).double() * 2 - 1
    vec = torch.randn(sum(sizes), 1, 3) * 0.5
    src, dst, batch, start = [], [], [], 0
    for g, n in enumerate(sizes):
        for i in range(start, start + n):
            for j in range(start, start + n):
                src.append(j)
                dst.append(i)
        batch += [g] * n
        start += n
    src, dst = torch.tensor(src), torch.tensor(dst)
    grid = fibonacci(O)
    model = Ponita()
    with torch.no_grad():
        # Everything the Rust side reads is float32: round once, compute in float64.
        for p in model.parameters():
            p.copy_(p.float().double())
        pos, vec, grid = pos.float().double(), vec.float().double(), grid.float().double()
    weights = {k: t.detach().float().contiguous().clone() for k, t in model.state_dict().items()}
    # d(sum of all outputs) / d positions, through the self-loops (rel = 0, where torch's norm
    # backward gives 0) and every other edge.
    pos_req = pos.clone().requires_grad_()
    s_g, v_g, _ = model(pos_req, scal, vec, src, dst, grid)
    (pos_grad,) = torch.autograd.grad(s_g.sum() + v_g.sum(), pos_req)
    with torch.no_grad():
        s, v, inv = model(pos, scal, vec, src, dst, grid)
        stats = []
        model(pos, scal, vec, src, dst, grid, stats)
        for layer, (sx, s1, s2) in zip(model.layers, stats):
            layer.conv.kernel.weight.mul_(sx / s1)
            layer.conv.fiber_kernel.weight.mul_(s1 / s2)
        s_cal, v_cal, _ = model(pos, scal, vec, src, dst, grid)
    io = {
        "in.pos": pos, "in.scalars": scal, "in.vectors": vec, "in.src": src.double(), "in.dst": dst.double(),
        "in.batch": torch.tensor(batch).double(), "in.grid": grid,
        "out.invariants": inv, "out.scalars": s, "out.vectors": v,
        "out.scalars_calibrated": s_cal, "out.vectors_calibrated": v_cal,
        "out.pos_grad": pos_grad,
    }
    save_file(weights, "weights/fixtures/ponita_weights.safetensors")
    save_file({k: t.float().contiguous() for k, t in io.items()}, "weights/fixtures/ponita_io.safetensors")
    print("scalars", s.flatten()[:4].tolist(), "vectors", v.flatten()[:3].tolist())


if __name__ == "__main__":
    main()
