"""Reference N-body trajectories from numpy, for the Rust port in datasets/src/nbody.rs.

Re-states EGNN's ChargedParticlesSim.sample_trajectory (vgsatorras/egnn,
n_body_system/dataset/synthetic_sim.py) with the same numpy operations in the same order:
legacy np.random seeded once, choice with p, randn blocks, BLAS dot for the squared distances,
np.power(., 1.5), sums over the last axis, clipping, and the zero-variance noise draws.

    python weights/reference/nbody_reference.py --out weights/fixtures/nbody \
        --seed 43 --num-train 10 --num-valid 3 --num-test 3

writes {loc,vel,edges,charges}_{train,valid,test}.npy exactly as generate_dataset.py does
(without its suffix). With --libm-pow (weights/fixtures/nbody_libm: --num-train 4 --num-valid 1
--num-test 1) the r^3 term uses C's pow instead of numpy's SIMD pow: the Rust port must then match
bit for bit. Also times the generator (--time N: N trajectories, seconds printed).
"""
import argparse
import math
import os
import time

import numpy as np

N_BALLS, BOX, LOC_STD, VEL_NORM, STRENGTH, DT = 5, 5.0, 1.0, 0.5, 1.0, 0.001
MAX_F = 0.1 / DT
DIM = 3


def squared_distances(x):  # x: [n, 3]
    norms = (x ** 2).sum(axis=1)
    return norms.reshape(-1, 1) + norms.reshape(1, -1) - 2 * x.dot(x.transpose())


POW = np.power


def libm_power(x, y):
    """C's pow (correctly rounded in glibc), element by element: numpy's SIMD pow differs in the
    last bit on ~5% of inputs, which is the only arithmetic the Rust port cannot reproduce."""
    return np.array([[math.pow(v, y) if v >= 0 else math.nan for v in row] for row in x])


def force(loc, edges):
    n = loc.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        size = STRENGTH * edges / POW(squared_distances(loc.transpose()), 3.0 / 2.0)
    np.fill_diagonal(size, 0)
    diffs = np.concatenate([np.subtract.outer(loc[d, :], loc[d, :]).reshape(1, n, n) for d in range(DIM)])
    f = (size.reshape(1, n, n) * diffs).sum(axis=-1)
    f[f > MAX_F] = MAX_F
    f[f < -MAX_F] = -MAX_F
    return f


def trajectory(length=5000, freq=100):
    n = N_BALLS
    frames = length // freq - 1
    charges = np.random.choice(np.array([-1.0, 0.0, 1.0]), size=(n, 1), p=[0.5, 0, 0.5])
    edges = charges.dot(charges.transpose())
    loc = np.zeros((frames, DIM, n))
    vel = np.zeros((frames, DIM, n))
    x = np.random.randn(DIM, n) * (LOC_STD * (float(n) / 5.0) ** (1 / 3))
    v = np.random.randn(DIM, n)
    v = v * VEL_NORM / np.sqrt((v ** 2).sum(axis=0)).reshape(1, -1)
    over = x > BOX
    x[over] = 2 * BOX - x[over]
    v[over] = -np.abs(v[over])
    under = x < -BOX
    x[under] = -2 * BOX - x[under]
    v[under] = np.abs(v[under])
    loc[0], vel[0] = x, v
    v += DT * force(x, edges)
    k = 0
    for step in range(1, length):
        x += DT * v
        if step % freq == 0:
            loc[k], vel[k] = x, v
            k += 1
        v += DT * force(x, edges)
    loc += np.random.randn(frames, DIM, n) * 0.0
    vel += np.random.randn(frames, DIM, n) * 0.0
    return loc, vel, edges, charges


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="weights/fixtures/nbody")
    ap.add_argument("--seed", type=int, default=43)
    ap.add_argument("--num-train", type=int, default=10)
    ap.add_argument("--num-valid", type=int, default=3)
    ap.add_argument("--num-test", type=int, default=3)
    ap.add_argument("--time", type=int, default=0, help="only time this many trajectories")
    ap.add_argument("--libm-pow", action="store_true", help="use C's pow instead of numpy's")
    a = ap.parse_args()
    if a.libm_pow:
        global POW
        POW = libm_power
    np.random.seed(a.seed)
    if a.time:
        t = time.perf_counter()
        for _ in range(a.time):
            trajectory()
        print(f"numpy: {a.time} trajectories in {time.perf_counter() - t:.3f} s")
        return
    os.makedirs(a.out, exist_ok=True)
    for split, count in (("train", a.num_train), ("valid", a.num_valid), ("test", a.num_test)):
        parts = [trajectory() for _ in range(count)]
        for i, name in enumerate(("loc", "vel", "edges", "charges")):
            np.save(os.path.join(a.out, f"{name}_{split}.npy"), np.stack([p[i] for p in parts]))
    print("numpy", np.__version__, "->", a.out)


if __name__ == "__main__":
    main()
