"""Small MD17-format fixtures for the zoo-datasets loader and the PONITA MD17 path.

No MD17/rMD17 arrays can be downloaded here, so this writes a toy "molecule" in both file
layouts: rMD17 (`nuclear_charges`, `coords`, `energies`, `forces`) and the original MD17
(`z`, `R`, `E`, `F`), labelled by a classical potential (harmonic bonds plus a soft pair
repulsion) with forces = -dE/dx, in kcal/mol and Angstrom like the real files.

    python weights/reference/md17_fixture.py   # -> weights/fixtures/md17_{rmd17,md17}.npz
"""
import numpy as np

rng = np.random.RandomState(0)
z = np.array([6, 6, 8, 1, 1, 1], dtype=np.int64)  # a C-C-O fragment with hydrogens
base = np.array([[0.0, 0.0, 0.0], [1.5, 0.0, 0.0], [2.1, 1.2, 0.0], [-0.5, 0.9, 0.3], [-0.5, -0.9, 0.3], [3.0, 1.2, 0.4]])
bonds = [(0, 1, 1.5), (1, 2, 1.35), (0, 3, 1.05), (0, 4, 1.05), (2, 5, 0.95)]
K, A = 300.0, 5.0


def energy_forces(x):
    e, f = 0.0, np.zeros_like(x)
    for i, j, r0 in bonds:
        d = x[j] - x[i]
        r = np.linalg.norm(d)
        e += K * (r - r0) ** 2
        g = 2 * K * (r - r0) * d / r  # dE/dx_j
        f[j] -= g
        f[i] += g
    n = len(x)
    for i in range(n):
        for j in range(i + 1, n):
            d = x[j] - x[i]
            r2 = d @ d
            e += A * np.exp(-r2)
            g = -2 * A * np.exp(-r2) * d
            f[j] -= g
            f[i] += g
    return e, f


frames = 300
coords = base[None] + rng.randn(frames, len(z), 3) * 0.05
ef = [energy_forces(c) for c in coords]
energies = np.array([e for e, _ in ef]) - 97000.0  # an offset like real total energies
forces = np.stack([f for _, f in ef])
np.savez("weights/fixtures/md17_rmd17.npz", nuclear_charges=z, coords=coords, energies=energies, forces=forces)
np.savez_compressed("weights/fixtures/md17_md17.npz", z=z.astype(np.uint8), R=coords, E=energies[:, None], F=forces)
print("energy range", energies.min(), energies.max(), "max |F|", np.abs(forces).max())

# The labels are consistent: forces equal minus the finite-difference gradient of the energy.
x, h = coords[0].copy(), 1e-6
num = np.zeros_like(x)
for a in range(x.shape[0]):
    for k in range(3):
        xp, xm = x.copy(), x.copy()
        xp[a, k] += h
        xm[a, k] -= h
        num[a, k] = -(energy_forces(xp)[0] - energy_forces(xm)[0]) / (2 * h)
assert np.abs(num - forces[0]).max() < 1e-4, np.abs(num - forces[0]).max()
