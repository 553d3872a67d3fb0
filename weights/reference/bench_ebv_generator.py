"""Generator speed: our `generate-ebv` (iterative, the reference algorithm) against the reference
loop of aassxun/Equiangular-Basis-Vectors `Generate_EBV.py` run with PyTorch on CPU, in the same
run on the same machine. Both run the same algorithm (sliced |E_s E^T| - I, relu(m - alpha) summed,
plain SGD lr 1e-3, rows re-normalised every step, stop at max <= alpha + 1e-4, slice 130), from
different random starts (torch's generator vs our ChaCha8), so step counts can differ: the
fair figure is seconds per step; total time to converge is reported beside it where a case
converges within the step cap.

    cargo build --release --bin generate-ebv
    python weights/reference/bench_ebv_generator.py --bin target/release/generate-ebv [--out BENCHMARKS-ebv.md]

Run with torch 2.x; prints a Markdown table.
"""
import argparse
import json
import math
import os
import subprocess
import time

import torch
import torch.nn.functional as F

CASES = [
    # N, d, alpha, step cap
    (1000, 1000, 0.002, 400),
    (10000, 512, 0.07, 3),
]


def reference_objective(basis, alpha, slice_size=130):
    """The body of Generate_EBV.py's loop before its SGD step: re-normalise the rows, then per
    slice |E_s E^T| - I, its max and the backward of relu(M - alpha).sum(); returns the max."""
    n = basis.shape[0]
    basis.data.copy_(F.normalize(basis.data))
    mx = alpha
    for i in range(math.ceil(n / slice_size)):
        start, end = slice_size * i, min(n, slice_size * (i + 1))
        eye = F.one_hot(torch.arange(start, end), n)
        m = (basis[start:end] @ basis.T).abs() - eye
        slice_max = m.max().item()
        # Python's max(mx, nan) keeps mx: a basis turned NaN would look converged.
        if not math.isfinite(slice_max):
            raise FloatingPointError(f"max |cos| of rows {start}..{end} is {slice_max}")
        mx = max(mx, slice_max)
        F.relu_(m - alpha).sum().backward()
    return mx


def reference(n, d, alpha, cap, slice_size=130, lr=1e-3, seed=42):
    """Generate_EBV.py's loop (autograd through every slice, SGD step), timed."""
    torch.manual_seed(seed)
    basis = torch.nn.Parameter(F.normalize(torch.randn(n, d)))
    opt = torch.optim.SGD([basis], lr=lr)
    t = time.perf_counter()
    steps, mx = 0, float("inf")
    for _ in range(cap):
        mx = reference_objective(basis, alpha, slice_size)
        if mx <= alpha + 1e-4:
            break
        opt.step()
        opt.zero_grad()
        steps += 1
    return time.perf_counter() - t, steps, mx <= alpha + 1e-4, mx


def ours(binary, n, d, alpha, cap):
    cmd = [binary, "--classes", str(n), "--dim", str(d), "--alpha", str(alpha), "--construction",
           "iterative", "--max-steps", str(cap), "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    # A run that stops at the cap exits 1 but still prints its report.
    m = json.loads(r.stdout.strip().splitlines()[-1])
    return m["seconds"], m["steps"], m["converged"], m["max_cos"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default="target/release/generate-ebv")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--out")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    rows = ["| N | d | alpha | PyTorch ref: steps, s, s/step | burnzoo: steps, s, s/step | s/step ratio (torch / ours) |",
            "|---|---|---|---|---|---|"]
    for n, d, alpha, cap in CASES:
        rt, rs, rc, rm = reference(n, d, alpha, cap)
        ot, os_, oc, om = ours(a.bin, n, d, alpha, cap)
        # Steps counted as evaluations of the objective (the converged check is one more).
        rps, ops = rt / (rs + 1), ot / (os_ + 1)
        cell = lambda s, t, c, m, ps: f"{s}{'' if c else ' (cap)'}, {t:.1f}, {ps:.3f} (max cos {m:.4f})"
        rows.append(f"| {n} | {d} | {alpha} | {cell(rs, rt, rc, rm, rps)} | {cell(os_, ot, oc, om, ops)} | {rps / ops:.2f} |")
        print(rows[-1], flush=True)
    table = "\n".join(rows)
    header = f"torch {torch.__version__}, {a.threads} threads, {os.cpu_count()} CPUs\n\n"
    print(header + table)
    if a.out:
        with open(a.out, "w") as f:
            f.write(header + table + "\n")


if __name__ == "__main__":
    main()
