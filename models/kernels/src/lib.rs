//! Element-wise activations and the softmax as single vectorised passes, a convolution with its
//! bias and activation fused ([`conv2d`]), separable pooling ([`pool2d`]) and EvoNorm-B0/S0 in
//! two passes ([`evonorm`]), on Burn's CPU backend (flex), shared by the model crates.
//!
//! Burn's flex backend evaluates `exp` and `erf` with one scalar libm call per element, and every
//! activation as a chain of whole-tensor ops; in GELAN's inference `sigmoid` alone took about 40 %
//! of the time (BENCHMARKS.md). Here each activation is one pass over the data with polynomial
//! `exp`/`erf` that the compiler vectorises (AVX-512 or AVX2, detected at run time), in parallel
//! chunks. The activations, the softmax, EvoNorm's x sigmoid(v x), x / max(l, r) and group
//! statistics ([`group_spread`]), the convolution, pooling, BatchNorm and GroupNorm
//! ([`batch_norm`], [`group_norm`]) also run under autodiff on flex, with their own backward
//! passes (a derivative in one pass; the convolution's input and weight gradients as gemms; the
//! normalisations' statistics in two passes), through Burn's backend-extension API (`ext`); the
//! fused EvoNorm is inference-only. [`fold_batch_norm`] folds an inference-mode batch norm into
//! its convolution. On a GPU or for other dtypes every function is Burn's own op.

use burn::prelude::*;
use burn::tensor::DType;

mod act;
mod conv;
mod ext;
mod norm;
mod pool;
pub use act::{Activation, activation_backward_slice, activation_into, activation_slice};
pub use conv::{ConvGeometry, conv2d, conv2d_backward_slice, conv2d_module, conv2d_slice, fold_batch_norm};
pub use norm::{
    EvoNormParams, EvoNormVariant, NormSets, Spread, batch_norm, evonorm, evonorm_b0_slice, evonorm_fused,
    evonorm_s0_slice, group_norm, group_spread, max_divide, max_divide_backward_slice, max_divide_slice,
    norm_backward_slice, norm_train_slice, spread_backward_slice, spread_slice,
};
pub use pool::{Pool, pool2d, pool2d_backward_slice, pool2d_slice};

/// e^x for f32 without libm (so that loops over slices vectorise): x = n ln 2 + r with
/// |r| <= ln 2 / 2 (n by the 1.5 x 2^23 rounding trick, ln 2 in two parts), e^r by its degree-6
/// Taylor polynomial (error below 2e-7 relative), 2^n from the exponent bits. Above 88 it stays
/// at e^88 (f32's range ends there); below -87 it is 0 (so that -inf, a masked attention logit,
/// gives exactly 0 as libm's does).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0;
    let c = x.clamp(-87.0, 88.0);
    let t = c * LOG2E + ROUND;
    let n = t - ROUND;
    let r = c - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // t's bits are 0x4B40_0000 + n (|n| <= 126 is far inside its 22-bit mantissa), so shifting
    // (bits + 127) left by 23 leaves exactly 2^n's exponent field. (`n as i32` would be a
    // saturating float-to-int conversion, which LLVM does one lane at a time.)
    let y = p * f32::from_bits(t.to_bits().wrapping_add(127) << 23);
    if x < -87.0 { 0.0 } else { y }
}

/// erf(x) for f32 without libm, odd in x: for |x| < 0.5 its Taylor series to x^11 (1 - erf
/// would cancel there), else Abramowitz & Stegun 7.1.26, erf(|x|) = 1 - t (a1 + t (a2 + ...))
/// e^{-x^2} with t = 1 / (1 + p |x|) (absolute error below 1.5e-7, 4e-7 in f32). Both are
/// computed and one selected, so loops still vectorise.
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [0.254_829_6, -0.284_496_74, 1.421_413_7, -1.453_152_1, 1.061_405_4];
    const TWO_OVER_SQRT_PI: f32 = std::f32::consts::FRAC_2_SQRT_PI;
    let a = x.abs();
    let t = 1.0 / (1.0 + P * a);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    let far = (1.0 - poly * exp_f32(-a * a)).copysign(x);
    let z = x * x;
    let near = TWO_OVER_SQRT_PI
        * x
        * (1.0
            + z * (-1.0 / 3.0
                + z * (1.0 / 10.0 + z * (-1.0 / 42.0 + z * (1.0 / 216.0 + z * (-1.0 / 1320.0))))));
    if a < 0.5 { near } else { far }
}

/// Runs `run` compiled for the widest SIMD the CPU has (run-time detection; `run` is inlined
/// into each feature-specific copy, so its loops vectorise for that feature). Callers mark their
/// closures `#[inline(always)]`: a closure LLVM leaves out of line is compiled for the baseline
/// target only (seen in a profile: the loop of a "vectorised" kernel ran with SSE2).
#[inline(always)]
fn widest_simd<R>(run: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        fn avx512<R>(run: impl FnOnce() -> R) -> R {
            run()
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2<R>(run: impl FnOnce() -> R) -> R {
            run()
        }
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked above).
            return unsafe { avx512(run) };
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA (checked above).
            return unsafe { avx2(run) };
        }
    }
    run()
}

/// Runs `run` on `chunk` compiled for the widest SIMD the CPU has ([`widest_simd`]).
#[inline(always)]
fn with_widest_simd(chunk: &mut [f32], run: impl FnOnce(&mut [f32])) {
    widest_simd(
        #[inline(always)]
        || run(chunk),
    )
}

/// x sigmoid(v_c x) over `[N, C, plane]` values in place, `v` per channel (EvoNorm-S0/B0's
/// numerator); planes in parallel.
pub fn channel_swish_slice(values: &mut [f32], v: &[f32], plane: usize) {
    use rayon::prelude::*;
    if plane == 0 || v.is_empty() {
        return;
    }
    let channels = v.len();
    values.par_chunks_mut(plane).enumerate().for_each(|(i, chunk)| {
        let vc = v[i % channels];
        with_widest_simd(
            chunk,
            #[inline(always)]
            |chunk| {
                for x in chunk {
                    *x /= 1.0 + exp_f32(-vc * *x);
                }
            },
        )
    });
}

/// The backward pass of [`channel_swish_slice`]: given the input `x` (`[N, C, plane]`) and
/// `grad` = dL/dy (in place), `grad` becomes dL/dx = dL/dy (s + v x s (1 - s)) and `dv` (`[C]`,
/// overwritten) dL/dv = sum over N and the plane of dL/dy x^2 s (1 - s), with s = sigmoid(v x)
/// recomputed (one vectorised `exp` per element rather than a stored tensor).
///
/// # Panics
/// If the slices differ in length or `dv` is shorter than `v`.
pub fn channel_swish_backward_slice(x: &[f32], v: &[f32], plane: usize, grad: &mut [f32], dv: &mut [f32]) {
    use rayon::prelude::*;
    assert_eq!(
        x.len(),
        grad.len(),
        "channel swish backward: input and gradient lengths differ"
    );
    let channels = v.len();
    if plane == 0 || channels == 0 {
        dv[..channels].fill(0.0);
        return;
    }
    // Per plane (image n, channel c): dL/dv's partial sum, written in place of dL/dx.
    let partial: Vec<f32> = grad
        .par_chunks_mut(plane)
        .zip(x.par_chunks(plane))
        .enumerate()
        .map(|(i, (g, x))| {
            let vc = v[i % channels];
            let mut acc = [0.0f32; 16];
            // Lanes over zipped chunks, not `sum_lanes`' indices: indexing the two slices kept
            // this loop (its `exp`) from vectorising (an EvoNorm-S0 step 52 -> 79 ms).
            widest_simd(
                #[inline(always)]
                || {
                    for (g, x) in g.chunks_mut(16).zip(x.chunks(16)) {
                        for ((g, x), a) in g.iter_mut().zip(x).zip(acc.iter_mut()) {
                            let s = 1.0 / (1.0 + exp_f32(-vc * *x));
                            let ds = s * (1.0 - s);
                            *a += *g * *x * *x * ds;
                            *g *= s + vc * *x * ds;
                        }
                    }
                },
            );
            acc.iter().sum::<f32>()
        })
        .collect();
    norm::set_sums(NormSets::Batch, &partial, channels, &mut dv[..channels]);
}

/// Softmax (with `log`, log-softmax: x - max - ln(sum exp(x - max))) over consecutive rows of
/// `row` values, in place, the maximum subtracted first. A fully masked row (all -inf) gives NaN,
/// as Burn's `softmax` and `log_softmax`.
pub fn softmax_rows(values: &mut [f32], row: usize, log: bool) {
    use rayon::prelude::*;
    if row == 0 {
        return;
    }
    // The closure stays inline at the dispatch: through a generic helper it was left out of line
    // and compiled for the baseline target (the softmax lost 10 % when tried).
    let rows_per_chunk = ((1 << 14) / row).max(1);
    values.par_chunks_mut(rows_per_chunk * row).for_each(|chunk| {
        with_widest_simd(
            chunk,
            #[inline(always)]
            |chunk| {
                if log {
                    log_softmax_chunk(chunk, row)
                } else {
                    softmax_chunk(chunk, row)
                }
            },
        )
    });
}

/// The log-softmax of [`softmax_rows`] on one chunk of whole rows.
#[inline(always)]
fn log_softmax_chunk(chunk: &mut [f32], row: usize) {
    for r in chunk.chunks_mut(row) {
        let max = max(r);
        // Sixteen independent partial sums, so that the exponentials vectorise.
        let lse = max + reduce_lanes(r, 0.0, |a, v| a + exp_f32(v - max), |a, b| a + b).ln();
        r.iter_mut().for_each(|v| *v -= lse);
    }
}

/// The backward pass of [`softmax_rows`] given its output `y`: `grad` (dL/dy, in place) becomes
/// dL/dx = y (dL/dy - sum over the row of dL/dy y), or with `log` dL/dy - exp(y) (sum over the
/// row of dL/dy), row by row.
///
/// # Panics
/// If the slices differ in length.
pub fn softmax_backward_rows(y: &[f32], grad: &mut [f32], row: usize, log: bool) {
    use rayon::prelude::*;
    assert_eq!(
        y.len(),
        grad.len(),
        "softmax backward: output and gradient lengths differ"
    );
    if row == 0 {
        return;
    }
    let rows_per_chunk = ((1 << 14) / row).max(1);
    grad.par_chunks_mut(rows_per_chunk * row)
        .zip(y.par_chunks(rows_per_chunk * row))
        .for_each(|(g, y)| {
            widest_simd(
                #[inline(always)]
                || {
                    for (g, y) in g.chunks_mut(row).zip(y.chunks(row)) {
                        if log {
                            let total = sum(g);
                            g.iter_mut().zip(y).for_each(|(g, y)| *g -= exp_f32(*y) * total);
                        } else {
                            let dot = dot(g, y);
                            g.iter_mut().zip(y).for_each(|(g, y)| *g = y * (*g - dot));
                        }
                    }
                },
            )
        });
}

/// The sum of `term(i)` for `i` in `0..len`, accumulated in 16 interleaved lanes (a single
/// running sum is a chain of dependent additions the compiler keeps in order, so the loop would
/// not vectorise), then the lanes in order, then the remainder. `term` may also write through
/// what it captures: a backward pass computes a gradient and a reduction in one sweep.
#[inline(always)]
fn sum_lanes<T: Copy + Default + std::ops::Add<Output = T>>(
    len: usize,
    mut term: impl FnMut(usize) -> T,
) -> T {
    let mut acc = [T::default(); 16];
    let whole = len / 16 * 16;
    for start in (0..whole).step_by(16) {
        for (j, a) in acc.iter_mut().enumerate() {
            *a = *a + term(start + j);
        }
    }
    let lanes = acc.into_iter().fold(T::default(), |a, b| a + b);
    (whole..len).fold(lanes, |a, i| a + term(i))
}

/// The dot product of two equally long slices in 16 lanes over zipped chunks (indexing both in
/// [`sum_lanes`] would keep bounds checks in the loop).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut acc = [0.0f32; 16];
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The output columns `lo..hi` (of `w_out`) whose input column `o stride + offset - pad` lies
/// inside a row of `w`: where a window tap at `offset` reads the row rather than its padding
/// (shared by the convolution's im2col and the pools).
#[inline(always)]
fn unpadded_columns(w: usize, pad: usize, offset: usize, stride: usize, w_out: usize) -> (usize, usize) {
    let lo = pad.saturating_sub(offset).div_ceil(stride).min(w_out);
    let hi = if w + pad > offset {
        ((w + pad - offset - 1) / stride + 1).min(w_out)
    } else {
        0
    };
    (lo, hi.max(lo))
}

/// Reduces `x` in 16 interleaved lanes so that the loop vectorises (a single running accumulator
/// is a strict sequence of dependent float operations the compiler must keep in order): each
/// lane and the remainder fold their elements with `step` from `init`, then the lanes are merged
/// in order and the remainder last.
#[inline(always)]
fn reduce_lanes(
    x: &[f32],
    init: f32,
    step: impl Fn(f32, f32) -> f32 + Copy,
    merge: impl Fn(f32, f32) -> f32 + Copy,
) -> f32 {
    let mut acc = [init; 16];
    let mut chunks = x.chunks_exact(16);
    for chunk in &mut chunks {
        for (a, v) in acc.iter_mut().zip(chunk) {
            *a = step(*a, *v);
        }
    }
    let tail = chunks.remainder().iter().fold(init, |a, v| step(a, *v));
    merge(acc.into_iter().reduce(merge).unwrap_or(init), tail)
}

/// Sum of `x` ([`reduce_lanes`]).
#[inline(always)]
fn sum(x: &[f32]) -> f32 {
    reduce_lanes(x, 0.0, |a, v| a + v, |a, b| a + b)
}

/// Maximum of `x` (NaN ignored, -inf when empty; [`reduce_lanes`]).
#[inline(always)]
fn max(x: &[f32]) -> f32 {
    reduce_lanes(x, f32::NEG_INFINITY, f32::max, f32::max)
}

/// [`softmax_rows`] on one chunk of whole rows.
#[inline(always)]
fn softmax_chunk(chunk: &mut [f32], row: usize) {
    for r in chunk.chunks_mut(row) {
        let max = max(r);
        if max == f32::NEG_INFINITY {
            // A fully masked row: Burn's softmax gives NaN here; so does this.
            r.fill(f32::NAN);
            continue;
        }
        // The exponentials and their sum in separate loops: a running sum in the same loop
        // would keep the exponentials scalar too.
        for v in r.iter_mut() {
            *v = exp_f32(*v - max);
        }
        let inv = 1.0 / sum(r);
        for v in r.iter_mut() {
            *v *= inv;
        }
    }
}

/// ReLU, max(x, 0) (Nair & Hinton 2010): [`Activation::Relu`]`.apply(x)`.
pub fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Activation::Relu.apply(x)
}

/// SiLU, x sigmoid(x) (Elfwing et al. 2018): [`Activation::Silu`]`.apply(x)`.
pub fn silu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Activation::Silu.apply(x)
}

/// QuickGELU, x sigmoid(1.702 x) (Radford et al. 2021): [`Activation::QuickGelu`]`.apply(x)`.
pub fn quick_gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Activation::QuickGelu.apply(x)
}

/// GELU, x Phi(x) (Hendrycks & Gimpel 2016, the erf form): [`Activation::Gelu`]`.apply(x)`.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Activation::Gelu.apply(x)
}

/// x sigmoid(v x) with `v` `[C]` per channel of `x` `[N, C, H, W]` (EvoNorm-S0's numerator, Liu
/// et al. 2020, Eq. 2), vectorised on flex ([`channel_swish_slice`]; under autodiff with
/// [`channel_swish_backward_slice`]); otherwise as Burn ops.
pub fn channel_swish(x: Tensor<4>, v: Tensor<1>) -> Tensor<4> {
    if !ext::on_flex_any(&x) || v.dtype() != DType::F32 {
        let c = v.dims()[0];
        return x.clone() * burn::tensor::activation::sigmoid(x * v.reshape([1, c, 1, 1]));
    }
    ext::channel_swish(x, v)
}

/// Log-softmax over the last dimension, vectorised on flex ([`softmax_rows`]; under autodiff
/// with [`softmax_backward_rows`]); otherwise Burn's `log_softmax` (which evaluates one
/// scalar `exp` per element on flex: 8 % of the EBV head's training step).
pub fn log_softmax_last<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !ext::on_flex_any(&x) {
        return burn::tensor::activation::log_softmax(x, D - 1);
    }
    ext::softmax_last(x, true)
}

/// Cross-entropy of `logits` `[B, C]` against class `targets` `[B]`, averaged over the batch,
/// with label smoothing `smoothing` (Szegedy et al. 2016, Sec. 7; PyTorch's
/// `CrossEntropyLoss(label_smoothing)`: the target distribution (1 - e) one-hot + e / C), as
/// `[1]`. The log-probabilities come from [`log_softmax_last`] (vectorised on flex, where Burn's
/// `CrossEntropyLoss` evaluates one scalar `exp` per logit).
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>, smoothing: f64) -> Tensor<1> {
    let [b, _] = logits.dims();
    let logp = log_softmax_last(logits);
    let nll = logp.clone().gather(1, targets.reshape([b, 1])).neg();
    let per_item = if smoothing > 0.0 {
        nll.mul_scalar(1.0 - smoothing) + logp.mean_dim(1).neg().mul_scalar(smoothing)
    } else {
        nll
    };
    per_item.mean()
}

/// Softmax over the last dimension, vectorised on flex ([`softmax_rows`]; under autodiff with
/// [`softmax_backward_rows`]); otherwise Burn's `softmax`.
pub fn softmax_last<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !ext::on_flex_any(&x) {
        return burn::tensor::activation::softmax(x, D - 1);
    }
    ext::softmax_last(x, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Vec<f32> {
        (-4000..=4000).map(|i| i as f32 * 0.0025).collect()
    }

    #[test]
    fn exp_and_erf_match_libm() {
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
        for x in (-8700..=8800).map(|i| i as f32 * 0.01) {
            let (got, want) = (exp_f32(x), (x as f64).exp());
            assert!(
                ((got as f64 - want) / want).abs() < 3e-7,
                "exp({x}) = {got}, libm {want}"
            );
        }
        for x in grid() {
            let want = libm_erf(x as f64);
            assert!(
                (erf_f32(x) as f64 - want).abs() < 4e-7,
                "erf({x}) = {}, want {want}",
                erf_f32(x)
            );
        }
    }

    #[test]
    fn silu_matches_the_definition() {
        let xs: Vec<f32> = (-2000..=2000)
            .map(|i| i as f32 * 0.05)
            .chain([-1e4, -90.0, 90.0, 1e4, 0.0])
            .collect();
        let mut got = xs.clone();
        activation_slice(Activation::Silu, &mut got);
        for (x, y) in xs.iter().zip(&got) {
            let want = (f64::from(*x) / (1.0 + (-f64::from(*x)).exp())) as f32;
            let tol = 4e-7 * want.abs() + 1e-30;
            assert!((y - want).abs() <= tol, "silu({x}) = {y}, want {want}");
        }
    }

    /// erf by its Taylor series (|x| < 3) or continued fraction, in f64 (std has no erf).
    pub(crate) fn libm_erf(x: f64) -> f64 {
        if x.abs() < 3.0 {
            let (mut term, mut sum, mut n) = (x, x, 0.0);
            while term.abs() > 1e-17 {
                n += 1.0;
                term *= -x * x / n;
                sum += term / (2.0 * n + 1.0);
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            // erfc(x) = e^{-x^2} / (x sqrt(pi)) (1 - 1/(2x^2) + 3/(4x^4) - ...), ample at |x| >= 3.
            let a = x.abs();
            let s = 1.0 - 1.0 / (2.0 * a * a) + 3.0 / (4.0 * a.powi(4)) - 15.0 / (8.0 * a.powi(6));
            (1.0 - (-a * a).exp() / (a * std::f64::consts::PI.sqrt()) * s).copysign(x)
        }
    }

    #[test]
    fn activations_match_burn_ops() {
        let device = Device::flex();
        let x = Tensor::<1>::from_floats(grid().as_slice(), &device);
        let check = |name: &str, got: Tensor<1>, want: Tensor<1>, tol: f32| {
            let (d, _) = zoo_check::tensor_max_abs_diff(got, want);
            assert!(d < tol, "{name}: max abs diff {d}");
        };
        check(
            "silu",
            silu(x.clone()),
            burn::tensor::activation::silu(x.clone()),
            2e-6,
        );
        check(
            "quick_gelu",
            quick_gelu(x.clone()),
            x.clone() * burn::tensor::activation::sigmoid(x.clone() * 1.702),
            2e-6,
        );
        check(
            "gelu",
            gelu(x.clone()),
            burn::tensor::activation::gelu(x.clone()),
            3e-6,
        );
        let rows = x.clone().slice(0..8000).reshape([80, 100]) * 20.0;
        let (d, _) = zoo_check::tensor_max_abs_diff(
            softmax_last(rows.clone()),
            burn::tensor::activation::softmax(rows, 1),
        );
        assert!(d < 1e-6, "softmax: max abs diff {d}");
        let planes = x.clone().slice(0..7200).reshape([2, 3, 30, 40]);
        let v = Tensor::<1>::from_floats([0.5, -1.0, 2.0], &device);
        let want = planes.clone()
            * burn::tensor::activation::sigmoid(planes.clone() * v.clone().reshape([1, 3, 1, 1]));
        let (d, _) = zoo_check::tensor_max_abs_diff(channel_swish(planes, v), want);
        assert!(d < 2e-6, "channel_swish: max abs diff {d}");
        // A causal mask's -inf logits get exactly 0, as with Burn's softmax.
        let masked = Tensor::<2>::from_floats([[1.0, f32::NEG_INFINITY], [0.5, 2.0]], &device);
        let p = softmax_last(masked).into_data().try_into_vec::<f32>().unwrap();
        assert_eq!((p[0], p[1]), (1.0, 0.0));
    }

    #[test]
    fn channel_swish_gradients_match_burn_ops() {
        let ad = Device::flex().autodiff();
        let values: Vec<f32> = (0..2 * 3 * 7 * 9)
            .map(|i| ((i * 53 % 97) as f32 - 48.0) / 12.0)
            .collect();
        let run = |ours: bool| {
            let x = Tensor::<1>::from_floats(values.as_slice(), &ad)
                .reshape([2, 3, 9, 7])
                .require_grad();
            let v = Tensor::<1>::from_floats([0.7, -1.3, 2.1], &ad).require_grad();
            // The kernels also see a non-contiguous input.
            let xt = x.clone().swap_dims(2, 3);
            let y = if ours {
                channel_swish(xt, v.clone())
            } else {
                xt.clone() * burn::tensor::activation::sigmoid(xt * v.clone().reshape([1, 3, 1, 1]))
            };
            let r = y.clone().detach().cos();
            let grads = (y.clone() * r).sum().backward();
            (
                y.into_data(),
                x.grad(&grads).unwrap().into_data(),
                v.grad(&grads).unwrap().into_data(),
            )
        };
        let (ours, burn) = (run(true), run(false));
        let tol = burn::tensor::Tolerance::absolute(1e-5);
        zoo_check::assert_approx_eq(&ours.0, &burn.0, tol);
        zoo_check::assert_approx_eq(&ours.1, &burn.1, tol);
        zoo_check::assert_approx_eq(&ours.2, &burn.2, burn::tensor::Tolerance::absolute(1e-4));
    }

    #[test]
    fn cross_entropy_and_its_gradient_match_burns_loss() {
        let ad = Device::flex().autodiff();
        let values: Vec<f32> = (0..5 * 7).map(|i| ((i * 29 % 71) as f32 - 35.0) / 6.0).collect();
        let targets = Tensor::<1, Int>::from_data(TensorData::new(vec![3i64, 0, 6, 2, 3], [5]), &ad);
        for smoothing in [0.0, 0.1] {
            let run = |ours: bool| {
                let x = Tensor::<1>::from_floats(values.as_slice(), &ad)
                    .reshape([5, 7])
                    .require_grad();
                let loss = if ours {
                    cross_entropy(x.clone(), targets.clone(), smoothing)
                } else {
                    let cfg = burn::nn::loss::CrossEntropyLossConfig::new();
                    let cfg = if smoothing > 0.0 {
                        cfg.with_smoothing(Some(smoothing as f32))
                    } else {
                        cfg
                    };
                    cfg.init(&ad).forward(x.clone(), targets.clone())
                };
                let grads = loss.clone().backward();
                (loss.into_data(), x.grad(&grads).unwrap().into_data())
            };
            let (ours, burn) = (run(true), run(false));
            zoo_check::assert_approx_eq(&ours.0, &burn.0, burn::tensor::Tolerance::rel_abs(1e-6, 1e-6));
            zoo_check::assert_approx_eq(&ours.1, &burn.1, burn::tensor::Tolerance::absolute(1e-6));
        }
    }

    #[test]
    fn softmax_and_log_softmax_gradients_match_burn() {
        let ad = Device::flex().autodiff();
        let values: Vec<f32> = (0..6 * 37).map(|i| ((i * 29 % 71) as f32 - 35.0) / 6.0).collect();
        for log in [false, true] {
            let run = |ours: bool| {
                let x = Tensor::<1>::from_floats(values.as_slice(), &ad)
                    .reshape([37, 6])
                    .require_grad();
                // A transposed view (rows of 37); for the softmax, a causal-style -inf in some
                // rows (the log-softmax's -inf outputs would make every gradient NaN).
                let mask = Tensor::<2, Bool>::from_data(
                    TensorData::new(
                        (0..6 * 37)
                            .map(|i| !log && i % 37 > 30 + i / 37)
                            .collect::<Vec<_>>(),
                        [6, 37],
                    ),
                    &ad,
                );
                let xt = x.clone().transpose().mask_fill(mask, f32::NEG_INFINITY);
                let y = match (ours, log) {
                    (true, false) => softmax_last(xt),
                    (false, false) => burn::tensor::activation::softmax(xt, 1),
                    (true, true) => log_softmax_last(xt),
                    (false, true) => burn::tensor::activation::log_softmax(xt, 1),
                };
                let r = Tensor::<1>::from_floats(values.as_slice(), &ad)
                    .reshape([6, 37])
                    .cos();
                let grads = (y.clone() * r).sum().backward();
                (y.into_data(), x.grad(&grads).unwrap().into_data())
            };
            let (ours, burn) = (run(true), run(false));
            zoo_check::assert_approx_eq(&ours.0, &burn.0, burn::tensor::Tolerance::rel_abs(1e-6, 1e-6));
            zoo_check::assert_approx_eq(&ours.1, &burn.1, burn::tensor::Tolerance::absolute(1e-5));
        }
    }
}
