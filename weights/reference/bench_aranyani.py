"""Online-update throughput of Aranyani: burnzoo's `train-aranyani` against a per-sample PyTorch
implementation of the same model and update (K soft oblique trees of depth h, leaf softmax,
cross-entropy, node-level DP penalty gradient from per-group running aggregates, Adam), on the
CPU, in the same run. Both learn the same number of instances of the same width one at a time;
the ratio is instances per second, burnzoo over PyTorch.

    cargo build --release --bin train-aranyani
    python weights/reference/bench_aranyani.py --bin target/release/train-aranyani [--n 5000]

PyTorch runs with one thread (a batch-1 step is too small to split; more threads only slow it).
"""
import argparse
import json
import subprocess
import time

import torch


class Forest(torch.nn.Module):
    def __init__(self, d, trees=3, depth=4, classes=2):
        super().__init__()
        n_int, n_leaf = 2 ** depth - 1, 2 ** depth
        self.w = torch.nn.Parameter(torch.randn(trees, d, n_int))
        self.b = torch.nn.Parameter(torch.randn(trees, n_int))
        self.theta = torch.nn.Parameter(torch.rand(trees, n_leaf, classes))
        mask = torch.zeros(n_int, n_leaf)
        for leaf in range(n_leaf):
            node = n_leaf + leaf
            while node > 1:
                parent = node // 2
                mask[parent - 1, leaf] = 1.0 if node % 2 == 0 else -1.0
                node = parent
        self.register_buffer("mask", mask)

    def forward(self, x):
        s = torch.sigmoid(torch.einsum("d,tdi->ti", x, self.w) + self.b)  # [T, I]
        m = self.mask
        phi = torch.where(m > 0, s[:, :, None], torch.where(m < 0, 1 - s[:, :, None], torch.ones_like(s[:, :, None])))
        p = torch.prod(phi + 1e-8, dim=1)  # [T, L]
        f = torch.einsum("tl,tlc->c", p, torch.softmax(self.theta, -1)) / self.w.shape[0]
        return f, s


def torch_online(d, n, lam, seed=0):
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    model = Forest(d)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, eps=1e-7)
    xs = torch.randn(n, d)
    ys = torch.randint(0, 2, (n,))
    groups = torch.randint(0, 2, (n,))
    t_, i_ = model.b.shape
    cnt = [0, 0]
    s_sum = [torch.zeros(t_, i_), torch.zeros(t_, i_)]
    gw = [torch.zeros(t_, d, i_), torch.zeros(t_, d, i_)]
    gb = [torch.zeros(t_, i_), torch.zeros(t_, i_)]
    start = time.perf_counter()
    for k in range(n):
        x, y, a = xs[k], ys[k], int(groups[k])
        f, s = model(x)
        loss = -torch.log(f.clamp(1e-7, 1 - 1e-7)[y] / f.clamp(1e-7, 1 - 1e-7).sum())
        opt.zero_grad()
        loss.backward()
        if lam > 0:
            with torch.no_grad():
                ds = s * (1 - s)
                cnt[a] += 1
                s_sum[a] += s
                gw[a] += (ds[:, None, :] * x[None, :, None] - gw[a]) / cnt[a]
                gb[a] += (ds - gb[a]) / cnt[a]
                if cnt[0] > 0 and cnt[1] > 0:
                    gap = s_sum[1] / cnt[1] - s_sum[0] / cnt[0]
                    c = torch.where(gap.abs() < 0.01, gap, torch.sign(gap - 0.005))
                    model.w.grad += lam * c[:, None, :] * (gw[1] - gw[0])
                    model.b.grad += lam * c * (gb[1] - gb[0])
        opt.step()
    return n / (time.perf_counter() - start)


def ours(binary, d, n, lam):
    cmd = [binary, "--lambda", str(lam), "--json", "--config", "/dev/stdin"]
    cfg = json.dumps({"synthetic": {"train": n, "test": 1, "dim": d}})
    r = subprocess.run(cmd, input=cfg, capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])["instances_per_second"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default="target/release/train-aranyani")
    p.add_argument("--n", type=int, default=5000, help="instances learned by PyTorch (ours: 20x that)")
    p.add_argument("--dim", type=int, default=14, help="features (UCI Adult: 14)")
    a = p.parse_args()
    rows = ["| lambda | PyTorch inst/s | burnzoo inst/s | ratio |", "|---|---|---|---|"]
    for lam in [0.0, 1.0]:
        theirs = torch_online(a.dim, a.n, lam)
        mine = ours(a.bin, a.dim, 20 * a.n, lam)
        rows.append(f"| {lam} | {theirs:.0f} | {mine:.0f} | {mine / theirs:.1f} |")
        print(rows[-1], flush=True)
    print(f"torch {torch.__version__}; K = 3, depth 4, d = {a.dim}, batch 1, Adam\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
