//! EvoNorm-B0 and EvoNorm-S0 (Liu et al. 2020) as fused passes for inference on flex; batch and
//! group normalisation in training with their backward passes (one op over sets of planes,
//! [`NormSets`]); EvoNorm's group and instance statistics ([`group_spread`]) and B0's
//! x / max(l, r) ([`max_divide`]) with theirs.
//!
//! As Burn ops each layer is a chain of about ten whole-tensor passes (mean, deviations,
//! squares, mean, sqrt, the numerator, the maximum or the division, the affine), each
//! materialising an intermediate. Here a plane (B0) or a group (S0) is read once for its
//! statistics and once more to write the output.

use burn::prelude::*;
use rayon::prelude::*;

use crate::{exp_f32, reduce_lanes, sum, sum_lanes, widest_simd};

/// Sum of (x - mean)^2 ([`reduce_lanes`]).
#[inline(always)]
fn sum_sq_dev(x: &[f32], mean: f32) -> f32 {
    reduce_lanes(x, 0.0, |a, v| a + (v - mean) * (v - mean), |a, b| a + b)
}

/// sqrt(var(x) + eps) with the biased variance (two passes).
#[inline(always)]
fn std(x: &[f32], eps: f32) -> f32 {
    let n = x.len().max(1) as f32;
    let mean = sum(x) / n;
    (sum_sq_dev(x, mean) / n + eps).sqrt()
}

/// Which planes of `[N, C, plane]` values share the statistics that normalise them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NormSets {
    /// Batch normalisation (Ioffe & Szegedy 2015, Alg. 1): one set per channel, over the batch
    /// and the plane.
    Batch,
    /// Group normalisation (Wu & He 2018, Eq. 1 with Eq. 7's sets): one set per image and group
    /// of C / G consecutive channels.
    Group(usize),
}

impl NormSets {
    /// The number of sets of `[n, c, plane]` values.
    pub fn count(self, n: usize, c: usize) -> usize {
        match self {
            NormSets::Batch => c,
            NormSets::Group(g) => n * g,
        }
    }

    /// The set of plane `i` (image `i / c`, channel `i % c`).
    #[inline(always)]
    fn of(self, i: usize, c: usize) -> usize {
        match self {
            NormSets::Batch => i % c,
            NormSets::Group(g) => (i / c) * g + (i % c) / (c / g),
        }
    }

    /// Checks the shape: whole `[C, plane]` images and, for groups, G dividing C.
    fn check(self, len: usize, c: usize, plane: usize, what: &str) {
        assert!(
            plane > 0 && c > 0 && len.is_multiple_of(c * plane),
            "{what}: not [N, C, plane]"
        );
        if let NormSets::Group(g) = self {
            assert!(
                g > 0 && c.is_multiple_of(g),
                "{what}: {g} groups do not divide {c} channels"
            );
        }
    }
}

/// Adds each plane's value of `per_plane` (`[N, C]` planes in order) into its set's entry of
/// `per_set` (overwritten), in plane order: per-plane partial sums into per-set statistics, or
/// (with [`NormSets::Batch`]) into per-channel gradients.
pub(crate) fn set_sums<T: Copy + Default + std::ops::AddAssign>(
    sets: NormSets,
    per_plane: &[T],
    c: usize,
    per_set: &mut [T],
) {
    per_set.fill(T::default());
    for (i, v) in per_plane.iter().enumerate() {
        per_set[sets.of(i, c)] += *v;
    }
}

/// [`set_sums`] into a new vector of `count` sets.
fn set_sums_vec(sets: NormSets, per_plane: &[f64], c: usize, count: usize) -> Vec<f64> {
    let mut out = vec![0.0; count];
    set_sums(sets, per_plane, c, &mut out);
    out
}

/// Per set of planes of `[N, C, plane]` values `x`: the mean and the biased variance in f64, two
/// passes (with `centered` false, mean 0 and the mean square, one pass).
fn set_moments(sets: NormSets, x: &[f32], c: usize, plane: usize, centered: bool) -> (Vec<f64>, Vec<f64>) {
    let n = x.len() / (c * plane);
    let count = sets.count(n, c);
    let per_set = (x.len() / count) as f64;
    let mean: Vec<f64> = if centered {
        let sums: Vec<f64> = x
            .par_chunks(plane)
            .map(|p| {
                widest_simd(
                    #[inline(always)]
                    || sum_lanes(plane, |j| f64::from(p[j])),
                )
            })
            .collect();
        set_sums_vec(sets, &sums, c, count)
            .iter()
            .map(|s| s / per_set)
            .collect()
    } else {
        vec![0.0; count]
    };
    let squares: Vec<f64> = x
        .par_chunks(plane)
        .enumerate()
        .map(|(i, p)| {
            let m = mean[sets.of(i, c)];
            widest_simd(
                #[inline(always)]
                || sum_lanes(plane, |j| (f64::from(p[j]) - m).powi(2)),
            )
        })
        .collect();
    let var = set_sums_vec(sets, &squares, c, count)
        .iter()
        .map(|s| s / per_set)
        .collect();
    (mean, var)
}

/// How [`group_spread`] measures the spread of a set of values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spread {
    /// sqrt(var + eps) with the biased variance (EvoNorm's `group_std` and `instance_std`).
    Std,
    /// sqrt(mean(x^2) + eps) (EvoNorm-S2's and -B1/B2's `rms`).
    Rms,
}

/// The spread d_s of each set of planes of `[N, C, plane]` values `x` ([`Spread`], the
/// statistics in f64): returns (the sets' means (0 for [`Spread::Rms`]), d) as f32.
///
/// # Panics
/// If `x` is not whole `[C, plane]` images or the groups do not divide C.
pub fn spread_slice(
    sets: NormSets,
    spread: Spread,
    x: &[f32],
    c: usize,
    plane: usize,
    eps: f32,
) -> (Vec<f32>, Vec<f32>) {
    sets.check(x.len(), c, plane, "spread");
    let (mean, var) = set_moments(sets, x, c, plane, spread == Spread::Std);
    (
        mean.iter().map(|&m| m as f32).collect(),
        var.iter().map(|&v| (v as f32 + eps).sqrt()).collect(),
    )
}

/// The backward pass of [`spread_slice`]: given its `mean` and output `d` and dL/dd `dd` per
/// set, `dx` (overwritten) = dd_s (x - mean_s) / (m d_s) with m the values per set (for the
/// standard deviation the mean's own gradient term sums to zero; for the RMS mean is 0).
///
/// # Panics
/// If the shapes differ as in [`spread_slice`].
#[allow(clippy::too_many_arguments)]
pub fn spread_backward_slice(
    sets: NormSets,
    x: &[f32],
    c: usize,
    plane: usize,
    mean: &[f32],
    d: &[f32],
    dd: &[f32],
    dx: &mut [f32],
) {
    sets.check(x.len(), c, plane, "spread backward");
    let count = sets.count(x.len() / (c * plane), c);
    assert!(
        mean.len() == count && d.len() == count && dd.len() == count && dx.len() == x.len(),
        "spread backward: shapes differ"
    );
    let per_set = (x.len() / count) as f32;
    dx.par_chunks_mut(plane)
        .zip(x.par_chunks(plane))
        .enumerate()
        .for_each(|(i, (dx, x))| {
            let set = sets.of(i, c);
            let (m, k) = (mean[set], dd[set] / (per_set * d[set]));
            widest_simd(
                #[inline(always)]
                || dx.iter_mut().zip(x).for_each(|(dx, x)| *dx = k * (x - m)),
            )
        });
}

/// The spread of each group of channels of `x` `[N, C, H, W]`, `[N, groups]` (EvoNorm-S0's
/// group standard deviation, Liu et al. 2020, Eq. 2; with `groups` = C the instance deviation
/// of B0, Eq. 1; [`Spread::Rms`] the S2/B1/B2 root mean square): on flex one or two passes with
/// a one-pass backward ([`spread_slice`], [`spread_backward_slice`]), where Burn's ops take five
/// or six each way; otherwise Burn's ops.
///
/// # Panics
/// If `groups` does not divide C.
pub fn group_spread(x: Tensor<4>, groups: usize, spread: Spread, eps: f64) -> Tensor<2> {
    let [n, c, h, w] = x.dims();
    assert!(
        groups > 0 && c.is_multiple_of(groups),
        "group spread: {groups} groups do not divide {c} channels"
    );
    if !crate::ext::on_flex_any(&x) || h * w == 0 {
        let x = x.reshape([n, groups, (c / groups) * h * w]);
        let centered = match spread {
            Spread::Std => {
                let mean = x.clone().mean_dim(2);
                x - mean
            }
            Spread::Rms => x,
        };
        return centered
            .square()
            .mean_dim(2)
            .add_scalar(eps)
            .sqrt()
            .reshape([n, groups]);
    }
    crate::ext::group_spread(x, groups, spread, eps)
}

/// Normalisation with the statistics of each set of planes ([`NormSets`]: batch or group
/// normalisation) over `[N, C, plane]` values `x`, with the affine `gamma`, `beta` `[C]`: per set
/// the mean and the biased variance (two passes, accumulated in f64 as PyTorch's CPU kernels),
/// then `out` = (x - mean) / sqrt(var + eps) gamma + beta (one pass). Returns the per-set
/// (mean, variance).
///
/// # Panics
/// If `beta` or `out` do not match `gamma` and `x`, `x` is not whole `[C, plane]` images, or the
/// groups do not divide C.
pub fn norm_train_slice(
    sets: NormSets,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    plane: usize,
    eps: f32,
    out: &mut [f32],
) -> (Vec<f32>, Vec<f32>) {
    let c = gamma.len();
    assert!(beta.len() == c && out.len() == x.len(), "norm: shapes differ");
    sets.check(x.len(), c, plane, "norm");
    let (mean, var) = set_moments(sets, x, c, plane, true);
    let var: Vec<f32> = var.iter().map(|&v| v as f32).collect();
    let mean: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
    out.par_chunks_mut(plane)
        .zip(x.par_chunks(plane))
        .enumerate()
        .for_each(|(i, (o, x))| {
            let (ch, set) = (i % c, sets.of(i, c));
            // (x - mean) scale + beta: folding the mean into the shift (x scale + shift) would
            // cancel digits when the mean is large against the deviation.
            let (m, scale, b) = (mean[set], gamma[ch] / (var[set] + eps).sqrt(), beta[ch]);
            widest_simd(
                #[inline(always)]
                || o.iter_mut().zip(x).for_each(|(o, x)| *o = (x - m) * scale + b),
            )
        });
    (mean, var)
}

/// The backward pass of [`norm_train_slice`] given its input `x`, `gamma` and the per-set
/// `mean` and `var`: `grad` (dL/dy, in place) becomes dL/dx = (g - mean(g) - x_hat mean(g x_hat))
/// / sigma with g = gamma dy, x_hat = (x - mean) / sigma, sigma = sqrt(var + eps), the means over
/// each set (Ioffe & Szegedy 2015, Sec. 3, for batch normalisation; the same with a group's
/// sets); `dgamma` = sum dy x_hat and `dbeta` = sum dy per channel (overwritten).
///
/// # Panics
/// If the shapes differ as in [`norm_train_slice`].
#[allow(clippy::too_many_arguments)]
pub fn norm_backward_slice(
    sets: NormSets,
    x: &[f32],
    gamma: &[f32],
    mean: &[f32],
    var: &[f32],
    plane: usize,
    eps: f32,
    grad: &mut [f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
) {
    let c = gamma.len();
    sets.check(x.len(), c, plane, "norm backward");
    let n = x.len() / (c * plane);
    let count = sets.count(n, c);
    assert!(
        mean.len() == count
            && var.len() == count
            && grad.len() == x.len()
            && dgamma.len() >= c
            && dbeta.len() >= c,
        "norm backward: shapes differ"
    );
    let per_set = (x.len() / count) as f32;
    let inv_std: Vec<f32> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    // Per plane: sum dy and sum dy x_hat.
    let grad_ro: &[f32] = grad;
    let (dy, dy_xhat): (Vec<f64>, Vec<f64>) = grad_ro
        .par_chunks(plane)
        .zip(x.par_chunks(plane))
        .enumerate()
        .map(|(i, (g, x))| {
            let set = sets.of(i, c);
            let m = f64::from(mean[set]);
            widest_simd(
                #[inline(always)]
                || {
                    let dy = sum_lanes(plane, |j| f64::from(g[j]));
                    let dev = sum_lanes(plane, |j| f64::from(g[j]) * (f64::from(x[j]) - m));
                    (dy, dev * f64::from(inv_std[set]))
                },
            )
        })
        .unzip();
    let (db, dg) = (
        set_sums_vec(NormSets::Batch, &dy, c, c),
        set_sums_vec(NormSets::Batch, &dy_xhat, c, c),
    );
    for ch in 0..c {
        dbeta[ch] = db[ch] as f32;
        dgamma[ch] = dg[ch] as f32;
    }
    // Per set: the means of g = gamma dy and of g x_hat.
    let scaled = |v: &[f64]| -> Vec<f64> {
        v.iter()
            .enumerate()
            .map(|(i, v)| v * f64::from(gamma[i % c]))
            .collect()
    };
    let mean_g = set_sums_vec(sets, &scaled(&dy), c, count);
    let mean_g_xhat = set_sums_vec(sets, &scaled(&dy_xhat), c, count);
    grad.par_chunks_mut(plane)
        .zip(x.par_chunks(plane))
        .enumerate()
        .for_each(|(i, (g, x))| {
            let (ch, set) = (i % c, sets.of(i, c));
            let (gm, s) = (gamma[ch], inv_std[set]);
            let (m, mg, mgx) = (
                mean[set],
                mean_g[set] as f32 / per_set,
                mean_g_xhat[set] as f32 / per_set,
            );
            widest_simd(
                #[inline(always)]
                || {
                    g.iter_mut()
                        .zip(x)
                        .for_each(|(g, x)| *g = s * (gm * *g - mg - (x - m) * s * mgx))
                },
            )
        });
}

/// y = x / max(l_c, r) over `[N, C, plane]` values (EvoNorm-B0's division, Liu et al. 2020,
/// Eq. 1: l the batch deviation per channel, r = v x + the instance deviation), into `out`; on a
/// tie the maximum is l (as Burn's `max_pair`).
///
/// # Panics
/// If `x`, `right` and `out` differ in length or are not whole `[C, plane]` images.
pub fn max_divide_slice(x: &[f32], left: &[f32], right: &[f32], plane: usize, out: &mut [f32]) {
    let c = left.len();
    assert!(
        x.len() == right.len() && x.len() == out.len(),
        "max divide: lengths differ"
    );
    assert!(
        plane > 0 && c > 0 && x.len().is_multiple_of(c * plane),
        "max divide: not [N, C, plane]"
    );
    out.par_chunks_mut(plane)
        .zip(x.par_chunks(plane).zip(right.par_chunks(plane)))
        .enumerate()
        .for_each(|(i, (o, (x, r)))| {
            let l = left[i % c];
            widest_simd(
                #[inline(always)]
                || {
                    for ((o, x), r) in o.iter_mut().zip(x).zip(r) {
                        *o = x / if l < *r { *r } else { l };
                    }
                },
            )
        });
}

/// The backward pass of [`max_divide_slice`]: with m = max(l_c, r), `grad` (dL/dy, in place)
/// becomes dL/dx = dL/dy / m, `dright` (overwritten) dL/dr = -dL/dy x / m^2 where r is the
/// maximum (else 0), and `dleft` (`[C]`, overwritten) the sum of -dL/dy x / m^2 where l is.
///
/// # Panics
/// If the lengths differ as in [`max_divide_slice`].
pub fn max_divide_backward_slice(
    x: &[f32],
    left: &[f32],
    right: &[f32],
    plane: usize,
    grad: &mut [f32],
    dleft: &mut [f32],
    dright: &mut [f32],
) {
    let c = left.len();
    assert!(
        x.len() == right.len() && x.len() == grad.len() && x.len() == dright.len() && dleft.len() >= c,
        "max divide backward: lengths differ"
    );
    assert!(
        plane > 0 && c > 0 && x.len().is_multiple_of(c * plane),
        "max divide backward: not [N, C, plane]"
    );
    let partial: Vec<f32> = grad
        .par_chunks_mut(plane)
        .zip(dright.par_chunks_mut(plane))
        .zip(x.par_chunks(plane).zip(right.par_chunks(plane)))
        .enumerate()
        .map(|(i, ((g, dr), (x, r)))| {
            let l = left[i % c];
            widest_simd(
                #[inline(always)]
                || {
                    sum_lanes(plane, |j| {
                        let right_wins = l < r[j];
                        let m = if right_wins { r[j] } else { l };
                        let dm = -g[j] * x[j] / (m * m);
                        dr[j] = if right_wins { dm } else { 0.0 };
                        g[j] /= m;
                        if right_wins { 0.0 } else { dm }
                    })
                },
            )
        })
        .collect();
    set_sums(NormSets::Batch, &partial, c, &mut dleft[..c]);
}

/// x / max(l, r) with `l` `[C]` per channel and `x`, `r` `[N, C, H, W]` (EvoNorm-B0's division,
/// Liu et al. 2020, Eq. 1): one vectorised pass on flex, under autodiff with
/// [`max_divide_backward_slice`] (Burn's `max_pair` is a mask and a select each way, its
/// backward two more, plus the broadcast of l); otherwise as Burn ops.
pub fn max_divide(x: Tensor<4>, left: Tensor<1>, right: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let f32s = [left.dtype(), right.dtype()]
        .iter()
        .all(|d| *d == burn::tensor::DType::F32);
    if !crate::ext::on_flex_any(&x)
        || !f32s
        || right.dims() != [n, c, h, w]
        || left.dims() != [c]
        || h * w == 0
    {
        return x / left.reshape([1, c, 1, 1]).expand([n, c, h, w]).max_pair(right);
    }
    crate::ext::max_divide(x, left, right)
}

/// Per-channel parameters of an EvoNorm layer, each `[C]`.
#[derive(Clone, Copy, Debug)]
pub struct EvoNormParams<'a> {
    /// v, the activation's per-channel scale.
    pub v: &'a [f32],
    /// gamma.
    pub weight: &'a [f32],
    /// beta.
    pub bias: &'a [f32],
}

/// EvoNorm-B0 at inference over `[N, C, plane]` values in place (Liu et al. 2020, Eq. 1 with
/// the moving variance): y = x / max(sqrt(running_var + eps), v x + sqrt(var_hw(x) + eps))
/// gamma + beta, the instance variance over each plane (biased).
pub fn evonorm_b0_slice(values: &mut [f32], plane: usize, running_var: &[f32], p: EvoNormParams, eps: f32) {
    let channels = running_var.len();
    if plane == 0 || channels == 0 {
        return;
    }
    values.par_chunks_mut(plane).enumerate().for_each(|(i, x)| {
        let c = i % channels;
        let (v, w, b) = (p.v[c], p.weight[c], p.bias[c]);
        let left = (running_var[c] + eps).sqrt();
        widest_simd(
            #[inline(always)]
            || {
                let right = std(x, eps);
                for value in x.iter_mut() {
                    *value = *value / left.max(v * *value + right) * w + b;
                }
            },
        )
    });
}

/// EvoNorm-S0 over `[N, C, plane]` values in place (Liu et al. 2020, Eq. 2): y = x sigmoid(v x)
/// / sqrt(var_group(x) + eps) gamma + beta, the biased variance over each of `groups` groups of
/// `C / groups` whole channels.
///
/// # Panics
/// If `groups` does not divide the channels.
pub fn evonorm_s0_slice(values: &mut [f32], plane: usize, groups: usize, p: EvoNormParams, eps: f32) {
    let channels = p.v.len();
    if plane == 0 || channels == 0 {
        return;
    }
    assert!(
        groups > 0 && channels.is_multiple_of(groups),
        "EvoNorm-S0: {groups} groups do not divide {channels} channels"
    );
    let per_group = channels / groups;
    values
        .par_chunks_mut(per_group * plane)
        .enumerate()
        .for_each(|(i, x)| {
            let first = (i % groups) * per_group;
            widest_simd(
                #[inline(always)]
                || {
                    let inv = 1.0 / std(x, eps);
                    for (k, channel) in x.chunks_mut(plane).enumerate() {
                        let c = first + k;
                        let (v, w, b) = (p.v[c], p.weight[c] * inv, p.bias[c]);
                        for value in channel.iter_mut() {
                            *value = *value / (1.0 + exp_f32(-v * *value)) * w + b;
                        }
                    }
                },
            )
        });
}

/// Whether [`evonorm`] runs fused for `x`: f32 inference on flex.
pub fn evonorm_fused(x: &Tensor<4>) -> bool {
    !x.device().is_autodiff() && crate::ext::on_flex_any(x)
}

/// Which fused EvoNorm to run, with what only that variant needs (built per call, so the size
/// difference of its variants does not matter).
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum EvoNormVariant {
    /// B0 at inference, with its moving variance `[C]`.
    B0 {
        /// The running (moving) variance.
        running_var: Tensor<1>,
    },
    /// S0 over this many groups of channels.
    S0 {
        /// The number of groups.
        groups: usize,
    },
}

/// EvoNorm-B0 ([`evonorm_b0_slice`]) or -S0 ([`evonorm_s0_slice`]) for `x` `[N, C, H, W]` with
/// the per-channel `[C]` v, gamma (`weight`) and beta (`bias`); unless [`evonorm_fused`] and no
/// parameter requires a gradient, `x` comes back untouched as the error (the caller then runs its
/// Burn ops on it).
// Both variants are the same tensor handle; boxing the error would allocate on every call.
#[allow(clippy::result_large_err)]
pub fn evonorm(
    x: Tensor<4>,
    variant: EvoNormVariant,
    [v, weight, bias]: [Tensor<1>; 3],
    eps: f64,
) -> Result<Tensor<4>, Tensor<4>> {
    // Parameters that need gradients (a training-mode layer fed a tensor without autodiff) take
    // the differentiable ops: the fused form has no backward pass.
    if !evonorm_fused(&x) || [&v, &weight, &bias].iter().any(|p| p.is_require_grad()) {
        return Err(x);
    }
    let params = [v, weight, bias];
    Ok(match variant {
        EvoNormVariant::B0 { running_var } => crate::ext::evonorm_b0(x, running_var, params, eps),
        EvoNormVariant::S0 { groups } => crate::ext::evonorm_s0(x, params, groups, eps),
    })
}

/// `bn.forward(x)` for `[N, C, H, W]` as `torch.nn.BatchNorm2d` computes it (Ioffe & Szegedy
/// 2015, Algorithm 1). In training (an autodiff device and the layer's training flag on) the
/// batch is normalised by its own mean and biased variance, and the running statistics move
/// with the layer's momentum towards the batch mean and the *unbiased* batch variance (times
/// m / (m - 1), m = N H W values per channel), as PyTorch's `running_var` does; Burn's
/// `BatchNorm` keeps the biased one, 1/(m - 1) smaller (2 % on a 7x7 map at batch 1). On flex
/// the statistics, normalisation and affine take three passes ([`norm_train_slice`]) with a
/// two-pass backward ([`norm_backward_slice`]), where Burn's ops take about ten with their
/// layout copies; elsewhere Burn's `batch_norm_train`. In evaluation, `bn.forward(x)`.
pub fn batch_norm(bn: &burn::nn::BatchNorm, x: Tensor<4>) -> Tensor<4> {
    let training = x.device().is_autodiff() && bn.training.is_enabled();
    if !training {
        return bn.forward(x);
    }
    let [n, _, h, w] = x.dims();
    let device = x.device();
    let (gamma, beta) = (bn.gamma.val(), bn.beta.val());
    let (y, mean, var) = if crate::ext::on_flex_any(&x) && gamma.dtype() == burn::tensor::DType::F32 {
        crate::ext::norm_train(x, gamma, beta, NormSets::Batch, bn.epsilon)
    } else {
        let out = burn::tensor::module::batch_norm_train(x, gamma, beta, bn.epsilon);
        (out.output, out.mean, out.variance)
    };
    // Bessel's correction; one value per channel keeps its (zero) variance, where PyTorch refuses
    // the batch.
    let count = n * h * w;
    let unbiased = count as f64 / count.saturating_sub(1).max(1) as f64;
    let m = bn.momentum;
    let update = |running: &burn::module::RunningState<Tensor<1>>, batch: Tensor<1>| {
        let old = running.value_sync().to_device(&device);
        running.update((old.mul_scalar(1.0 - m) + batch.detach().mul_scalar(m)).detach());
    };
    update(&bn.running_mean, mean);
    update(&bn.running_var, var.mul_scalar(unbiased));
    y
}

/// `gn.forward(x)` for `[N, C, H, W]` (Wu & He 2018, Eq. 1 with the group sets of Eq. 7, and the
/// per-channel affine): on flex the statistics, normalisation and affine in three passes
/// ([`norm_train_slice`], with and without autodiff: the layer has no running statistics) and a
/// two-pass backward ([`norm_backward_slice`]), where Burn's ops take about eight passes each
/// way. Otherwise `gn.forward(x)`.
pub fn group_norm(gn: &burn::nn::GroupNorm, x: Tensor<4>) -> Tensor<4> {
    let [_, c, h, w] = x.dims();
    let is_f32 = |p: &Option<burn::module::Param<Tensor<1>>>| {
        p.as_ref()
            .is_none_or(|p| p.val().dtype() == burn::tensor::DType::F32)
    };
    let g = gn.num_groups;
    if !crate::ext::on_flex_any(&x)
        || !is_f32(&gn.gamma)
        || !is_f32(&gn.beta)
        || g == 0
        || c != gn.num_channels
        || !c.is_multiple_of(g)
        || h * w == 0
    {
        return gn.forward(x);
    }
    let device = x.device();
    let gamma = gn
        .gamma
        .as_ref()
        .map_or_else(|| Tensor::ones([c], &device), |p| p.val());
    let beta = gn
        .beta
        .as_ref()
        .map_or_else(|| Tensor::zeros([c], &device), |p| p.val());
    crate::ext::norm_train(x, gamma, beta, NormSets::Group(g), gn.epsilon).0
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn std_last(x: Tensor<3>, eps: f64) -> Tensor<3> {
        let mean = x.clone().mean_dim(2);
        (x - mean).square().mean_dim(2).add_scalar(eps).sqrt()
    }

    #[test]
    fn match_the_equations_as_burn_ops() {
        let device = Device::flex();
        device.seed(11);
        let (n, c, h, w, g, eps) = (3, 8, 7, 9, 4, 1e-5);
        let x = Tensor::<4>::random([n, c, h, w], Distribution::Normal(0.5, 2.0), &device);
        let per =
            |seed: f64| Tensor::<1>::from_floats([0.3, -1.2, 0.9, 2.0, 0.1, -0.4, 1.5, 0.7], &device) * seed;
        let (v, weight, bias, running) = (per(1.0), per(0.8).add_scalar(1.0), per(0.5), per(0.6).abs());
        let bc = |t: Tensor<1>| t.reshape([1, c, 1, 1]);

        let left = bc(running.clone().add_scalar(eps).sqrt());
        let right =
            x.clone() * bc(v.clone()) + std_last(x.clone().reshape([n, c, h * w]), eps).reshape([n, c, 1, 1]);
        let want =
            x.clone() / left.expand([n, c, h, w]).max_pair(right) * bc(weight.clone()) + bc(bias.clone());
        let params = || [v.clone(), weight.clone(), bias.clone()];
        let b0 = EvoNormVariant::B0 { running_var: running };
        let got = evonorm(x.clone(), b0, params(), eps).unwrap();
        let (d, _) = zoo_check::tensor_max_abs_diff(got, want);
        assert!(d < 1e-5, "B0: max abs diff {d}");

        let num = x.clone() * burn::tensor::activation::sigmoid(x.clone() * bc(v.clone()));
        let d_group = std_last(x.clone().reshape([n, g, (c / g) * h * w]), eps);
        let want = (num.reshape([n, g, (c / g) * h * w]) / d_group).reshape([n, c, h, w])
            * bc(weight.clone())
            + bc(bias.clone());
        let got = evonorm(x, EvoNormVariant::S0 { groups: g }, params(), eps).unwrap();
        let (d, _) = zoo_check::tensor_max_abs_diff(got, want);
        assert!(d < 1e-5, "S0: max abs diff {d}");
    }

    /// Output and gradients as Burn's `BatchNorm`; the running mean as Burn's, the running
    /// variance as PyTorch's (unbiased batch variance, computed here in f64).
    #[test]
    fn batch_norm_training_matches_burns_batch_norm() {
        let ad = Device::flex().autodiff();
        let values: Vec<f32> = (0..3 * 4 * 5 * 6)
            .map(|i| ((i * 61 % 89) as f32 - 44.0) / 9.0)
            .collect();
        let run = |ours: bool| {
            let mut bn = burn::nn::BatchNormConfig::new(4).with_momentum(0.2).init(&ad);
            bn.gamma = burn::module::Param::from_tensor(Tensor::from_floats([0.3, 0.8, 1.3, -0.4], &ad));
            bn.beta = burn::module::Param::from_tensor(Tensor::from_floats([-0.7, 0.1, 0.0, 2.0], &ad));
            let x = Tensor::<1>::from_floats(values.as_slice(), &ad)
                .reshape([3, 4, 6, 5])
                .require_grad();
            // A non-contiguous input, as a permuted activation would be.
            let xt = x.clone().swap_dims(2, 3);
            let y = if ours { batch_norm(&bn, xt) } else { bn.forward(xt) };
            let r = y.clone().detach().sin();
            let grads = (y.clone() * r).sum().backward();
            [
                y.into_data(),
                x.grad(&grads).unwrap().into_data(),
                bn.gamma.grad(&grads).unwrap().into_data(),
                bn.beta.grad(&grads).unwrap().into_data(),
                // value_sync: `value()` is the state before this thread's last update (both
                // sides' initial statistics, which compared equal whatever the update did).
                bn.running_mean.value_sync().into_data(),
                bn.running_var.value_sync().into_data(),
            ]
        };
        let (ours, burn) = (run(true), run(false));
        // Output, dx, dgamma, dbeta, running mean.
        for (got, want) in ours.iter().zip(&burn).take(5) {
            zoo_check::assert_approx_eq(got, want, burn::tensor::Tolerance::absolute(2e-5));
        }
        // torch.nn.BatchNorm2d(4, momentum=0.2): running_var = 0.8 * 1 + 0.2 * var_unbiased.
        let torch_running_var: Vec<f32> = (0..4)
            .map(|c| {
                let v: Vec<f64> = (0..3)
                    .flat_map(|n| values[(n * 4 + c) * 30..][..30].iter().map(|&x| f64::from(x)))
                    .collect();
                let mean = v.iter().sum::<f64>() / 90.0;
                let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 89.0;
                (0.8 + 0.2 * var) as f32
            })
            .collect();
        let running_var = ours[5].try_to_vec::<f32>().unwrap();
        let (d, _) = zoo_check::max_abs_diff(&running_var, &torch_running_var);
        assert!(
            d < 2e-5,
            "running variance {running_var:?} vs PyTorch's {torch_running_var:?}"
        );
        // Burn's own is the biased one, 89/90 of it: a difference the check above resolves.
        let (d, _) = zoo_check::max_abs_diff(&burn[5].try_to_vec::<f32>().unwrap(), &torch_running_var);
        assert!(d > 1e-3, "{d}");
    }

    #[test]
    fn group_norm_and_its_gradients_match_burns_group_norm() {
        let ad = Device::flex().autodiff();
        // A large offset against the spread, so that a one-pass variance would lose digits.
        let values: Vec<f32> = (0..3 * 6 * 5 * 4)
            .map(|i| 20.0 + ((i * 61 % 89) as f32 - 44.0) / 9.0)
            .collect();
        let run = |ours: bool, affine: bool, device: &Device| {
            let mut gn = burn::nn::GroupNormConfig::new(3, 6)
                .with_affine(affine)
                .init(device);
            if affine {
                gn.gamma = Some(burn::module::Param::from_tensor(Tensor::from_floats(
                    [0.3, 0.8, 1.3, -0.4, 2.0, 1.1],
                    device,
                )));
                gn.beta = Some(burn::module::Param::from_tensor(Tensor::from_floats(
                    [-0.7, 0.1, 0.0, 2.0, 0.5, -0.2],
                    device,
                )));
            }
            let x = Tensor::<1>::from_floats(values.as_slice(), device).reshape([3, 6, 4, 5]);
            let x = if device.is_autodiff() { x.require_grad() } else { x };
            // A non-contiguous input, as a permuted activation would be.
            let xt = x.clone().swap_dims(2, 3);
            let y = if ours { group_norm(&gn, xt) } else { gn.forward(xt) };
            if !device.is_autodiff() {
                return vec![y.into_data()];
            }
            let r = y.clone().detach().sin();
            let grads = (y.clone() * r).sum().backward();
            let mut out = vec![y.into_data(), x.grad(&grads).unwrap().into_data()];
            for p in [&gn.gamma, &gn.beta].into_iter().flatten() {
                out.push(p.grad(&grads).unwrap().into_data());
            }
            out
        };
        for (affine, device) in [(true, &ad), (false, &ad), (true, &Device::flex())] {
            let (ours, burn) = (run(true, affine, device), run(false, affine, device));
            assert_eq!(ours.len(), burn.len());
            // Output, dx, dgamma, dbeta (dgamma sums 40 products of up to 14: f32 rounding).
            for (got, want) in ours.iter().zip(&burn) {
                zoo_check::assert_approx_eq(got, want, burn::tensor::Tolerance::rel_abs(1e-5, 2e-5));
            }
        }
    }

    #[test]
    fn group_spread_and_its_gradient_match_burn_ops() {
        let ad = Device::flex().autodiff();
        // An offset against the spread, so that the centring matters.
        let values: Vec<f32> = (0..2 * 6 * 5 * 4)
            .map(|i| 3.0 + ((i * 61 % 89) as f32 - 44.0) / 9.0)
            .collect();
        let burn_ops = |x: Tensor<4>, groups: usize, spread: Spread, eps: f64| {
            let [n, c, h, w] = x.dims();
            let x = x.reshape([n, groups, (c / groups) * h * w]);
            let x = if spread == Spread::Std {
                x.clone() - x.mean_dim(2)
            } else {
                x
            };
            x.square().mean_dim(2).add_scalar(eps).sqrt().reshape([n, groups])
        };
        for spread in [Spread::Std, Spread::Rms] {
            for groups in [1, 3, 6] {
                let run = |ours: bool| {
                    let x = Tensor::<1>::from_floats(values.as_slice(), &ad)
                        .reshape([2, 6, 4, 5])
                        .require_grad();
                    // A non-contiguous input, as a permuted activation would be.
                    let xt = x.clone().swap_dims(2, 3);
                    let d = if ours {
                        group_spread(xt, groups, spread, 1e-3)
                    } else {
                        burn_ops(xt, groups, spread, 1e-3)
                    };
                    let r = Tensor::<1>::from_floats(
                        [0.3, -1.2, 0.9, 2.0, 0.1, -0.4, 1.5, 0.7, -2.2, 0.6, 1.1, -0.8],
                        &ad,
                    )
                    .slice(0..2 * groups)
                    .reshape([2, groups]);
                    let grads = (d.clone() * r).sum().backward();
                    [d.into_data(), x.grad(&grads).unwrap().into_data()]
                };
                for (got, want) in run(true).iter().zip(&run(false)) {
                    zoo_check::assert_approx_eq(got, want, burn::tensor::Tolerance::rel_abs(1e-5, 1e-6));
                }
            }
        }
    }

    #[test]
    fn max_divide_and_its_gradients_match_burn_ops() {
        let ad = Device::flex().autodiff();
        let xs: Vec<f32> = (0..2 * 3 * 5 * 4)
            .map(|i| ((i * 37 % 53) as f32 - 26.0) / 7.0)
            .collect();
        let rs: Vec<f32> = (0..2 * 3 * 5 * 4)
            .map(|i| ((i * 17 % 41) as f32) / 20.0)
            .collect();
        let run = |ours: bool| {
            let x = Tensor::<1>::from_floats(xs.as_slice(), &ad)
                .reshape([2, 3, 4, 5])
                .require_grad();
            let r = Tensor::<1>::from_floats(rs.as_slice(), &ad)
                .reshape([2, 3, 4, 5])
                .require_grad();
            // l straddles r's range, so both sides win somewhere; the inputs are transposed views.
            let l = Tensor::<1>::from_floats([0.5, 1.0, 1.5], &ad).require_grad();
            let (xt, rt) = (x.clone().swap_dims(2, 3), r.clone().swap_dims(2, 3));
            let y = if ours {
                max_divide(xt, l.clone(), rt)
            } else {
                xt / l.clone().reshape([1, 3, 1, 1]).expand([2, 3, 5, 4]).max_pair(rt)
            };
            let w = y.clone().detach().sin();
            let grads = (y.clone() * w).sum().backward();
            [
                y.into_data(),
                x.grad(&grads).unwrap().into_data(),
                l.grad(&grads).unwrap().into_data(),
                r.grad(&grads).unwrap().into_data(),
            ]
        };
        // y, dx, dl, dr.
        for (got, want) in run(true).iter().zip(&run(false)) {
            zoo_check::assert_approx_eq(got, want, burn::tensor::Tolerance::absolute(1e-5));
        }
    }
}
