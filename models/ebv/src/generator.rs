//! Generation of equiangular basis vectors.
//!
//! The reference algorithm (`Generate_EBV.py`): start from N standard-normal rows, normalised;
//! every step re-normalise the rows (outside the gradient), compute in row slices
//! `M = |E_s E^T| - I_s` and `L = sum relu(M - alpha)` over ordered pairs, stop when
//! `max M <= alpha + 1e-4`, else take a plain SGD step (lr 1e-3) on `L`. Its gradient is formed
//! here in closed form, `dL/dE = 2 W E` with `W_ij = sign(c_ij) [|c_ij| - delta_ij > alpha]`,
//! which is what autograd computes through both factors of `E_s E^T`.

use burn::prelude::*;
use burn::tensor::TensorData;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// How to obtain the basis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Construction {
    /// An exact construction when one exists (N <= d: orthonormal; N = d + 1: simplex), else the
    /// iterative optimisation.
    #[default]
    Auto,
    /// Always the iterative optimisation (the reference algorithm).
    Iterative,
    /// Signed one-hot rows (N <= d): max |cos| = 0.
    Orthonormal,
    /// Regular simplex centred at the origin (N = d + 1): every cos = -1/d, the Welch bound.
    Simplex,
}

/// Update rule of the iterative optimisation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Optimizer {
    /// Plain SGD, as the reference.
    Sgd {
        /// Learning rate (reference: 1e-3).
        lr: f64,
    },
    /// SGD with heavy-ball momentum (PyTorch semantics: `b = mu b + g; e -= lr b`).
    Momentum {
        /// Learning rate.
        lr: f64,
        /// Momentum coefficient mu.
        momentum: f64,
    },
    /// Adam (beta 0.9/0.999, eps 1e-8).
    Adam {
        /// Learning rate.
        lr: f64,
    },
}

impl Default for Optimizer {
    fn default() -> Self {
        Self::Sgd { lr: 1e-3 }
    }
}

/// Generator settings (defaults: the reference's, except N = d = 100).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeneratorConfig {
    /// Number of vectors (classes) N.
    pub n: usize,
    /// Dimension d.
    pub d: usize,
    /// Target max |cos|.
    pub alpha: f64,
    /// Slack of the stop rule: stop when max |cos| <= alpha + tolerance (reference: 1e-4).
    pub tolerance: f64,
    /// Step cap (reference: 100,000).
    pub max_steps: usize,
    /// Rows per slice (reference: 130); memory is O(slice x N).
    pub slice: usize,
    /// Update rule.
    pub optimizer: Optimizer,
    /// Construction.
    pub construction: Construction,
    /// Seed of the initial draw (reference: 42, with torch's generator; ours is ChaCha8).
    pub seed: u64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            n: 100,
            d: 100,
            alpha: 0.002,
            tolerance: 1e-4,
            max_steps: 100_000,
            slice: 130,
            optimizer: Optimizer::default(),
            construction: Construction::Auto,
            seed: 42,
        }
    }
}

/// A request the generator cannot satisfy.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EbvError {
    /// The target is below what any N vectors in R^d can reach.
    #[error(
        "alpha {alpha} is below the Welch bound {bound:.6} for N = {n}, d = {d}: no {n} unit vectors in R^{d} have \
         all pairwise |cos| <= {alpha}; choose alpha >= {bound:.4} (iterative runs with d < N end about \
         1.1-1.4x above the bound) or a larger d"
    )]
    BelowBound {
        /// Target.
        alpha: f64,
        /// Welch bound.
        bound: f64,
        /// N.
        n: usize,
        /// d.
        d: usize,
    },
    /// Invalid settings.
    #[error("ebv generator: {0}")]
    Invalid(String),
}

/// A generated basis and what it achieves.
#[derive(Debug, Clone)]
pub struct GeneratedBasis {
    /// Unit rows, `[N, d]`.
    pub basis: Tensor<2>,
    /// Achieved max |cos| over distinct pairs.
    pub max_cos: f64,
    /// Mean |cos| over distinct pairs.
    pub mean_cos: f64,
    /// Welch bound sqrt((N - d) / (d (N - 1))) (0 when N <= d).
    pub welch_bound: f64,
    /// Optimisation steps taken (0 for exact constructions).
    pub steps: usize,
    /// Whether the stop rule was met (always true for exact constructions).
    pub converged: bool,
    /// What produced it: `orthonormal`, `simplex`, `sgd`, `momentum` or `adam`.
    pub method: &'static str,
}

/// The Welch lower bound on the max |cos| of N unit vectors in R^d: sqrt((N - d) / (d (N - 1)))
/// for N > d, else 0.
pub fn welch_bound(n: usize, d: usize) -> f64 {
    if n <= d || n < 2 {
        0.0
    } else {
        ((n - d) as f64 / (d as f64 * (n - 1) as f64)).sqrt()
    }
}

/// Unit rows, as `F.normalize(e, dim=1)`: `e / max(||e_i||, 1e-12)`.
pub fn normalize_rows(e: Tensor<2>) -> Tensor<2> {
    let norm = e.clone().square().sum_dim(1).sqrt().clamp_min(1e-12);
    e / norm
}

/// Max and mean |cos| over distinct pairs of the rows of `basis` (rows assumed unit), computed in
/// slices of `slice` rows.
pub fn max_abs_cos(basis: &Tensor<2>, slice: usize) -> (f64, f64) {
    let [n, _] = basis.dims();
    if n < 2 {
        return (0.0, 0.0);
    }
    let device = basis.device();
    let (mut mx, mut sum) = (0.0f64, 0.0f64);
    for start in (0..n).step_by(slice.max(1)) {
        let end = (start + slice.max(1)).min(n);
        let c = basis
            .clone()
            .slice(start..end)
            .matmul(basis.clone().transpose())
            .abs();
        let c = c - eye_rows(start, end, n, &device);
        let c = c.clamp_min(0.0);
        mx = max_or_nan(mx, c.clone().max().into_scalar::<f64>());
        sum += c.sum().into_scalar::<f64>();
    }
    (mx, sum / (n * (n - 1)) as f64)
}

/// The larger of two maxima, or NaN where either is: `f64::max` drops a NaN, and a basis that
/// has turned into NaN would then look converged (max |cos| 0).
fn max_or_nan(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Rows `start..end` of the N x N identity.
fn eye_rows(start: usize, end: usize, n: usize, device: &Device) -> Tensor<2> {
    let rows = end - start;
    let mut data = vec![0f32; rows * n];
    for r in 0..rows {
        data[r * n + start + r] = 1.0;
    }
    Tensor::from_data(TensorData::new(data, [rows, n]), device)
}

/// One evaluation of the reference objective: max of `|E_s E^T| - I` over all rows (diagonal
/// included, as the reference) and the gradient of `sum relu(M - alpha)`. W is symmetric, so the
/// gradient through both factors of `E E^T` is `2 W E`: one product per slice where autograd
/// forms two. (With `e` unit rows, `e - lr * gradient` is the reference's SGD step.)
pub fn objective(e: &Tensor<2>, alpha: f64, slice: usize) -> (f64, Tensor<2>) {
    let [n, _] = e.dims();
    let device = e.device();
    let mut mx = f64::NEG_INFINITY;
    let mut rows = Vec::with_capacity(n.div_ceil(slice));
    let et = e.clone().transpose();
    for start in (0..n).step_by(slice) {
        let end = (start + slice).min(n);
        let c = e.clone().slice(start..end).matmul(et.clone());
        let m = c.clone().abs() - eye_rows(start, end, n, &device);
        mx = max_or_nan(mx, m.clone().max().into_scalar::<f64>());
        let w = c.sign() * m.greater_elem(alpha).float();
        rows.push(w.matmul(e.clone()).mul_scalar(2.0));
    }
    (mx, Tensor::cat(rows, 0))
}

/// Generates a basis as `config` asks, on `device`. `progress(step, max_cos)` is called every
/// step of the iterative optimisation.
pub fn generate(
    config: &GeneratorConfig,
    device: &Device,
    progress: impl FnMut(usize, f64),
) -> Result<GeneratedBasis, EbvError> {
    let GeneratorConfig {
        n,
        d,
        alpha,
        tolerance,
        ..
    } = *config;
    if n < 2 || d < 1 {
        return Err(EbvError::Invalid(format!(
            "need N >= 2 and d >= 1, got N = {n}, d = {d}"
        )));
    }
    if !(alpha.is_finite() && alpha >= 0.0 && tolerance.is_finite() && tolerance >= 0.0) {
        return Err(EbvError::Invalid(
            "alpha and tolerance must be finite and non-negative".into(),
        ));
    }
    if config.slice == 0 {
        return Err(EbvError::Invalid("slice must be at least 1".into()));
    }
    let bound = welch_bound(n, d);
    let method = match config.construction {
        Construction::Auto if n <= d => Construction::Orthonormal,
        Construction::Auto if n == d + 1 => Construction::Simplex,
        Construction::Auto => Construction::Iterative,
        other => other,
    };
    let exact = |basis: Tensor<2>, method| {
        let (max_cos, mean_cos) = max_abs_cos(&basis, config.slice);
        GeneratedBasis {
            basis,
            max_cos,
            mean_cos,
            welch_bound: bound,
            steps: 0,
            converged: true,
            method,
        }
    };
    match method {
        Construction::Orthonormal => {
            if n > d {
                return Err(EbvError::Invalid(format!(
                    "an orthonormal basis needs N <= d, got N = {n}, d = {d}"
                )));
            }
            return Ok(exact(orthonormal(n, d, config.seed, device), "orthonormal"));
        }
        Construction::Simplex => {
            if n != d + 1 {
                return Err(EbvError::Invalid(format!(
                    "the regular simplex needs N = d + 1, got N = {n}, d = {d}"
                )));
            }
            return Ok(exact(simplex(d, device), "simplex"));
        }
        Construction::Iterative | Construction::Auto => {}
    }
    if alpha + tolerance < bound {
        return Err(EbvError::BelowBound { alpha, bound, n, d });
    }
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(config.seed);
    let init: Vec<f32> = (0..n * d).map(|_| StandardNormal.sample(&mut rng)).collect();
    Ok(optimize_from(
        Tensor::from_data(TensorData::new(init, [n, d]), device),
        config,
        progress,
    ))
}

/// The iterative optimisation from the rows `init` (normalised first): the reference algorithm
/// with `config`'s alpha, tolerance, step cap, slice size and update rule. The returned basis is
/// the normalised iterate at which the stop rule held, or after the last step.
pub fn optimize_from(
    init: Tensor<2>,
    config: &GeneratorConfig,
    mut progress: impl FnMut(usize, f64),
) -> GeneratedBasis {
    let [n, d] = init.dims();
    let device = init.device();
    let (alpha, tolerance) = (config.alpha, config.tolerance);
    let slice = config.slice.max(1);
    let mut e = normalize_rows(init);
    let (mut m1, mut m2) = (
        Tensor::<2>::zeros([n, d], &device),
        Tensor::<2>::zeros([n, d], &device),
    );
    let mut steps = 0;
    let mut converged = false;
    for step in 0..config.max_steps {
        e = normalize_rows(e);
        let (mx, grad) = objective(&e, alpha, slice);
        progress(step, mx);
        // A NaN max (a diverged basis) never passes.
        if mx <= alpha + tolerance {
            converged = true;
            break;
        }
        e = match config.optimizer {
            Optimizer::Sgd { lr } => e - grad.mul_scalar(lr),
            Optimizer::Momentum { lr, momentum } => {
                m1 = if step == 0 {
                    grad
                } else {
                    m1.mul_scalar(momentum) + grad
                };
                e - m1.clone().mul_scalar(lr)
            }
            Optimizer::Adam { lr } => {
                let t = (step + 1) as i32;
                m1 = m1.mul_scalar(0.9) + grad.clone().mul_scalar(0.1);
                m2 = m2.mul_scalar(0.999) + grad.square().mul_scalar(0.001);
                let mh = m1.clone().div_scalar(1.0 - 0.9f64.powi(t));
                let vh = m2.clone().div_scalar(1.0 - 0.999f64.powi(t));
                e - (mh / (vh.sqrt().add_scalar(1e-8))).mul_scalar(lr)
            }
        };
        steps = step + 1;
    }
    let e = normalize_rows(e);
    let (max_cos, mean_cos) = max_abs_cos(&e, slice);
    let method = match config.optimizer {
        Optimizer::Sgd { .. } => "sgd",
        Optimizer::Momentum { .. } => "momentum",
        Optimizer::Adam { .. } => "adam",
    };
    GeneratedBasis {
        basis: e,
        max_cos,
        mean_cos,
        welch_bound: welch_bound(n, d),
        steps,
        converged,
        method,
    }
}

/// N signed one-hot rows in R^d (distinct coordinates chosen by a seeded permutation).
fn orthonormal(n: usize, d: usize, seed: u64, device: &Device) -> Tensor<2> {
    use rand::RngExt;
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed);
    let mut coords: Vec<usize> = (0..d).collect();
    for i in (1..d).rev() {
        coords.swap(i, rng.random_range(0..=i));
    }
    let mut data = vec![0f32; n * d];
    for (row, &col) in coords.iter().take(n).enumerate() {
        data[row * d + col] = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
    }
    Tensor::from_data(TensorData::new(data, [n, d]), device)
}

/// The d + 1 vertices of a regular simplex centred at the origin, unit length, pairwise cos -1/d.
fn simplex(d: usize, device: &Device) -> Tensor<2> {
    let df = d as f64;
    let a = (1.0 + 1.0 / df).sqrt();
    let b = -(1.0 + (df + 1.0).sqrt()) / df.powf(1.5);
    let mut data = vec![0f32; (d + 1) * d];
    for i in 0..d {
        for j in 0..d {
            data[i * d + j] = (b + if i == j { a } else { 0.0 }) as f32;
        }
    }
    for j in 0..d {
        data[d * d + j] = (1.0 / df.sqrt()) as f32;
    }
    Tensor::from_data(TensorData::new(data, [d + 1, d]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welch_bound_values() {
        assert_eq!(welch_bound(100, 100), 0.0);
        assert!((welch_bound(1000, 300) - (700.0f64 / (300.0 * 999.0)).sqrt()).abs() < 1e-15);
        assert!((welch_bound(11, 10) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn a_basis_turned_nan_never_counts_as_converged() {
        let device = Device::flex();
        let mut values: Vec<f32> = (0..6 * 4).map(|i| (i as f32 * 0.7).sin()).collect();
        values[5] = f32::NAN;
        let init = Tensor::<2>::from_data(TensorData::new(values, [6, 4]), &device);
        let cfg = GeneratorConfig {
            alpha: 0.9,
            max_steps: 3,
            ..Default::default()
        };
        let mut maxes = Vec::new();
        let g = optimize_from(init, &cfg, |_, mx| maxes.push(mx));
        assert!(!g.converged, "converged with max |cos| {}", g.max_cos);
        assert!(
            g.max_cos.is_nan() && maxes.iter().all(|m| m.is_nan()),
            "{maxes:?}"
        );
        assert_eq!(g.steps, 3);
    }

    #[test]
    fn exact_constructions_reach_their_bounds() {
        let device = Device::flex();
        let cfg = GeneratorConfig {
            n: 64,
            d: 80,
            ..Default::default()
        };
        let g = generate(&cfg, &device, |_, _| {}).unwrap();
        assert_eq!((g.method, g.max_cos, g.steps), ("orthonormal", 0.0, 0));
        let cfg = GeneratorConfig {
            n: 33,
            d: 32,
            ..Default::default()
        };
        let g = generate(&cfg, &device, |_, _| {}).unwrap();
        assert_eq!(g.method, "simplex");
        assert!((g.max_cos - 1.0 / 32.0).abs() < 1e-6, "{}", g.max_cos);
        assert!((g.mean_cos - 1.0 / 32.0).abs() < 1e-6);
        assert!((g.max_cos - g.welch_bound).abs() < 1e-6);
        let norms = g
            .basis
            .clone()
            .square()
            .sum_dim(1)
            .sqrt()
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap();
        assert!(norms.iter().all(|v| (v - 1.0).abs() < 1e-5));
    }

    #[test]
    fn alpha_below_the_bound_is_refused() {
        let cfg = GeneratorConfig {
            n: 1000,
            d: 300,
            alpha: 0.01,
            ..Default::default()
        };
        let err = generate(&cfg, &Device::flex(), |_, _| {}).unwrap_err();
        assert!(matches!(err, EbvError::BelowBound { .. }));
        let msg = err.to_string();
        assert!(msg.contains("0.048") && msg.contains("N = 1000"), "{msg}");
    }
}
