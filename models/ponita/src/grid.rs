//! Orientation grids on S^2: the points o_1..o_O over which PONITA's fiber is sampled
//! (ponita-torch `GridGenerator`, anchor `geometry/rotation.py`).

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// How the orientation grid is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum GridKind {
    /// Deterministic Fibonacci lattice (ponita-torch, ponita-jax).
    #[default]
    Fibonacci,
    /// Seeded random start, then Coulomb-like repulsion on the sphere (the anchor's method).
    Repulsion,
    /// The 12 vertices of the icosahedron (closed under the icosahedral rotation group).
    Icosahedron,
}

impl std::str::FromStr for GridKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "fibonacci" => Ok(Self::Fibonacci),
            "repulsion" => Ok(Self::Repulsion),
            "icosahedron" | "ico" => Ok(Self::Icosahedron),
            _ => Err(format!(
                "unknown grid `{s}`; expected fibonacci, repulsion or icosahedron"
            )),
        }
    }
}

/// `n` orientations of kind `kind` (`seed` is used by `Repulsion` only).
pub fn orientation_grid(kind: GridKind, n: usize, seed: u64) -> Result<Vec<[f64; 3]>, String> {
    match kind {
        GridKind::Fibonacci => Ok(fibonacci(n)),
        GridKind::Repulsion => Ok(repulsion(n, seed, 1000, 0.01)),
        GridKind::Icosahedron if n == 12 => Ok(icosahedron()),
        GridKind::Icosahedron => Err(format!("the icosahedral grid has 12 orientations, not {n}")),
    }
}

/// Fibonacci lattice: theta_i = (pi i (1 + sqrt 5)) mod 2 pi, phi_i = arccos(1 - 2 (i + 1/2) / n).
pub fn fibonacci(n: usize) -> Vec<[f64; 3]> {
    let offset = 0.5;
    (0..n)
        .map(|i| {
            let i = i as f64;
            let theta = (std::f64::consts::PI * i * (1.0 + 5f64.sqrt())) % (2.0 * std::f64::consts::PI);
            let phi = (1.0 - 2.0 * (i + offset) / (n as f64 - 1.0 + 2.0 * offset)).acos();
            [theta.cos() * phi.sin(), theta.sin() * phi.sin(), phi.cos()]
        })
        .collect()
}

/// Normalised Gaussian start, then `steps` of gradient descent on sum_{i != j} |o_i - o_j|^-2 with
/// re-projection onto the sphere (ponita-torch's `repulse`, step 0.01, 1000 steps).
pub fn repulsion(n: usize, seed: u64, steps: usize, step_size: f64) -> Vec<[f64; 3]> {
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed);
    let mut g: Vec<[f64; 3]> = (0..n)
        .map(|_| normalize(std::array::from_fn(|_| StandardNormal.sample(&mut rng))))
        .collect();
    for _ in 0..steps {
        let mut grad = vec![[0.0; 3]; n];
        for i in 0..n {
            for j in 0..n {
                if i == j {
                    continue;
                }
                let d: [f64; 3] = std::array::from_fn(|k| g[i][k] - g[j][k]);
                let r2 = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).max(1e-12);
                // d/dx_i of |x_i - x_j|^-2 (counted for (i, j) and (j, i)).
                for k in 0..3 {
                    grad[i][k] += -4.0 * d[k] / (r2 * r2);
                }
            }
        }
        for i in 0..n {
            g[i] = normalize(std::array::from_fn(|k| g[i][k] - step_size * grad[i][k]));
        }
    }
    g
}

/// The 12 icosahedron vertices: cyclic permutations of (0, +-1, +-phi), normalised.
pub fn icosahedron() -> Vec<[f64; 3]> {
    let phi = (1.0 + 5f64.sqrt()) / 2.0;
    let mut v = Vec::with_capacity(12);
    for a in [-1.0, 1.0] {
        for b in [-phi, phi] {
            v.push(normalize([0.0, a, b]));
            v.push(normalize([a, b, 0.0]));
            v.push(normalize([b, 0.0, a]));
        }
    }
    v
}

fn normalize(v: [f64; 3]) -> [f64; 3] {
    let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    [v[0] / n, v[1] / n, v[2] / n]
}

/// Smallest angle (radians) between two grid points: a uniformity measure.
pub fn min_angle(grid: &[[f64; 3]]) -> f64 {
    let mut best = f64::MAX;
    for (i, a) in grid.iter().enumerate() {
        for b in &grid[i + 1..] {
            let c = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]).clamp(-1.0, 1.0);
            best = best.min(c.acos());
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_are_unit_and_spread() {
        // Nearest-neighbour angles of the Fibonacci lattice (reference notes): n=16 45.4..48.6 deg.
        let f = fibonacci(16);
        assert!(
            f.iter()
                .all(|o| ((o[0] * o[0] + o[1] * o[1] + o[2] * o[2]) - 1.0).abs() < 1e-12)
        );
        let deg = min_angle(&f).to_degrees();
        assert!((45.0..46.0).contains(&deg), "{deg}");
        // Icosahedron: every vertex has 5 neighbours at 63.43 deg.
        let ico = icosahedron();
        assert!((min_angle(&ico).to_degrees() - 63.434_948_822_922).abs() < 1e-9);
        // Repulsion spreads a random start beyond the Fibonacci lattice's minimum at n = 12.
        let r = repulsion(12, 0, 1000, 0.01);
        assert!(
            min_angle(&r).to_degrees() > 55.0,
            "{}",
            min_angle(&r).to_degrees()
        );
        assert_eq!(repulsion(8, 3, 10, 0.01), repulsion(8, 3, 10, 0.01));
    }
}
