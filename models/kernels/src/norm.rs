//! EvoNorm-B0 and EvoNorm-S0 (Liu et al. 2020) as fused passes for inference on flex.
//!
//! As Burn ops each layer is a chain of about ten whole-tensor passes (mean, deviations,
//! squares, mean, sqrt, the numerator, the maximum or the division, the affine), each
//! materialising an intermediate. Here a plane (B0) or a group (S0) is read once for its
//! statistics and once more to write the output.

use burn::prelude::*;
use rayon::prelude::*;

use crate::{apply, exp_f32, f32s, on_flex, reduce_lanes, sum, widest_simd};

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
    on_flex(x)
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
/// the per-channel `[C]` v, gamma (`weight`) and beta (`bias`); unless [`evonorm_fused`], `x` comes
/// back untouched as the error (the caller then runs its Burn ops on it).
// Both variants are the same tensor handle; boxing the error would allocate on every call.
#[allow(clippy::result_large_err)]
pub fn evonorm(
    x: Tensor<4>,
    variant: EvoNormVariant,
    [v, weight, bias]: [Tensor<1>; 3],
    eps: f64,
) -> Result<Tensor<4>, Tensor<4>> {
    if !evonorm_fused(&x) {
        return Err(x);
    }
    let [_, _, h, w] = x.dims();
    let (v, weight, bias) = (v.into_data(), weight.into_data(), bias.into_data());
    let p = EvoNormParams {
        v: f32s(&v),
        weight: f32s(&weight),
        bias: f32s(&bias),
    };
    Ok(apply(x, |out| match variant {
        EvoNormVariant::B0 { running_var } => {
            evonorm_b0_slice(out, h * w, f32s(&running_var.into_data()), p, eps as f32)
        }
        EvoNormVariant::S0 { groups } => evonorm_s0_slice(out, h * w, groups, p, eps as f32),
    }))
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
        let d = (got - want).abs().max().into_scalar::<f32>();
        assert!(d < 1e-5, "B0: max abs diff {d}");

        let num = x.clone() * burn::tensor::activation::sigmoid(x.clone() * bc(v.clone()));
        let d_group = std_last(x.clone().reshape([n, g, (c / g) * h * w]), eps);
        let want = (num.reshape([n, g, (c / g) * h * w]) / d_group).reshape([n, c, h, w])
            * bc(weight.clone())
            + bc(bias.clone());
        let got = evonorm(x, EvoNormVariant::S0 { groups: g }, params(), eps).unwrap();
        let d = (got - want).abs().max().into_scalar::<f32>();
        assert!(d < 1e-5, "S0: max abs diff {d}");
    }
}
