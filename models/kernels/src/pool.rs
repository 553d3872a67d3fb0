//! 2D max and average pooling as two separable, vectorised passes on flex, and their backward
//! pass.
//!
//! Burn's flex pooling (0.22) visits each window element with a scalar compare per output
//! value; in GELAN's inference its pools (ADown/AConv's 2x2 average, SPPELAN's 5x5 and
//! ADown's 3x3 max) took about 13 % of the time after the convolutions were fused. A
//! rectangular window's max (or sum) is the max over its rows of each row's max, so each plane is
//! reduced along its rows first (shifted whole-row maxima: one vector op per kernel column at
//! stride 1), then down its columns (whole output rows at once).

use burn::nn::PaddingConfig2d;
use burn::nn::pool::{AvgPool2dConfig, MaxPool2dConfig};
use burn::prelude::*;
use rayon::prelude::*;

use crate::{unpadded_columns, with_widest_simd};

/// Which reduction a pool applies over its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pool {
    /// The maximum (padding never wins; NaN inputs are not propagated).
    Max,
    /// The mean over the whole window, padding counted as zeros (PyTorch's
    /// `count_include_pad=True`, its default).
    Avg,
}

/// Output size of one pooled dimension (floor mode), `None` when the window does not fit.
fn pooled(input: usize, kernel: usize, stride: usize, pad: usize) -> Option<usize> {
    let padded = input + 2 * pad;
    (kernel > 0 && stride > 0 && padded >= kernel).then(|| (padded - kernel) / stride + 1)
}

/// `dst[i] = op(dst[i], src[i])` over two equally long slices, vectorised.
#[inline(always)]
fn combine(dst: &mut [f32], src: &[f32], pool: Pool) {
    match pool {
        Pool::Max => dst.iter_mut().zip(src).for_each(|(d, s)| *d = d.max(*s)),
        Pool::Avg => dst.iter_mut().zip(src).for_each(|(d, s)| *d += s),
    }
}

/// Pools one `[h, w]` plane into `out` (`[h_out, w_out]`), with `rows` (`[h, w_out]`) as scratch.
#[allow(clippy::too_many_arguments)]
fn pool_plane(
    x: &[f32],
    [h, w]: [usize; 2],
    [h_out, w_out]: [usize; 2],
    pool: Pool,
    [kh, kw]: [usize; 2],
    [sh, sw]: [usize; 2],
    [ph, pw]: [usize; 2],
    out: &mut [f32],
    rows: &mut [f32],
) {
    let identity = match pool {
        Pool::Max => f32::NEG_INFINITY,
        Pool::Avg => 0.0,
    };
    // Along the rows: rows[ih][ow] = op over kj of x[ih][ow sw + kj - pw].
    rows.fill(identity);
    for ih in 0..h {
        let src = &x[ih * w..(ih + 1) * w];
        let dst = &mut rows[ih * w_out..(ih + 1) * w_out];
        for kj in 0..kw {
            let (lo, hi) = unpadded_columns(w, pw, kj, sw, w_out);
            if lo == hi {
                continue;
            }
            let first = lo * sw + kj - pw;
            if sw == 1 {
                combine(&mut dst[lo..hi], &src[first..first + hi - lo], pool);
            } else {
                for (d, s) in dst[lo..hi].iter_mut().zip(src[first..].iter().step_by(sw)) {
                    *d = match pool {
                        Pool::Max => d.max(*s),
                        Pool::Avg => *d + s,
                    };
                }
            }
        }
    }
    // Down the columns: out[oh] = op over ki of rows[oh sh + ki - ph].
    out.fill(identity);
    for oh in 0..h_out {
        let dst = &mut out[oh * w_out..(oh + 1) * w_out];
        for ki in 0..kh {
            let ih = (oh * sh + ki) as isize - ph as isize;
            if ih >= 0 && (ih as usize) < h {
                let ih = ih as usize;
                combine(dst, &rows[ih * w_out..(ih + 1) * w_out], pool);
            }
        }
        if pool == Pool::Avg {
            let scale = 1.0 / (kh * kw) as f32;
            dst.iter_mut().for_each(|v| *v *= scale);
        }
    }
}

/// Max or average pooling over f32 slices: `x` is `planes` planes of `[h, w]` (an NCHW batch
/// has N C planes), `out` `planes` planes of the pooled size (every element written); symmetric
/// padding, floor mode, no dilation. Planes run in parallel, each vectorised.
///
/// # Panics
/// If a slice is shorter than the sizes say, or the window does not fit the padded input.
#[allow(clippy::too_many_arguments)]
pub fn pool2d_slice(
    x: &[f32],
    planes: usize,
    input: [usize; 2],
    pool: Pool,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    out: &mut [f32],
) {
    let [h, w] = input;
    let h_out = pooled(h, kernel[0], stride[0], padding[0]).expect("the window fits");
    let w_out = pooled(w, kernel[1], stride[1], padding[1]).expect("the window fits");
    assert!(x.len() >= planes * h * w, "pool2d: input too short");
    assert!(out.len() >= planes * h_out * w_out, "pool2d: output too short");
    if planes == 0 || h_out * w_out == 0 {
        return;
    }
    x[..planes * h * w]
        .par_chunks(h * w)
        .zip(out[..planes * h_out * w_out].par_chunks_mut(h_out * w_out))
        .for_each_init(
            || vec![0.0; h * w_out],
            |rows, (plane, dst)| {
                with_widest_simd(
                    dst,
                    #[inline(always)]
                    |dst| {
                        pool_plane(
                            plane,
                            input,
                            [h_out, w_out],
                            pool,
                            kernel,
                            stride,
                            padding,
                            dst,
                            rows,
                        )
                    },
                )
            },
        );
}

/// The backward pass of [`pool2d_slice`]: `dx` (`planes` planes of `[h, w]`, overwritten) from
/// `grad` = dL/dout, given the input `x`. Average: each output's gradient spread evenly over its
/// window (padding included in the count, so 1 / (k_h k_w) each). Max: each output's gradient to
/// the first maximum of its window in row-major order (PyTorch's and Burn's choice on ties).
/// Planes in parallel.
///
/// # Panics
/// If a slice is shorter than the sizes say, or the window does not fit the padded input.
#[allow(clippy::too_many_arguments)]
pub fn pool2d_backward_slice(
    x: &[f32],
    grad: &[f32],
    planes: usize,
    input: [usize; 2],
    pool: Pool,
    [kh, kw]: [usize; 2],
    [sh, sw]: [usize; 2],
    [ph, pw]: [usize; 2],
    dx: &mut [f32],
) {
    let [h, w] = input;
    let h_out = pooled(h, kh, sh, ph).expect("the window fits");
    let w_out = pooled(w, kw, sw, pw).expect("the window fits");
    assert!(
        x.len() >= planes * h * w && dx.len() >= planes * h * w,
        "pool2d backward: input too short"
    );
    assert!(
        grad.len() >= planes * h_out * w_out,
        "pool2d backward: gradient too short"
    );
    let plane_out = h_out * w_out;
    dx[..planes * h * w]
        .par_chunks_mut(h * w)
        .zip(x[..planes * h * w].par_chunks(h * w))
        .zip(grad[..planes * plane_out].par_chunks(plane_out.max(1)))
        .for_each(|((dx, x), g)| {
            dx.fill(0.0);
            // The window's input rows and columns that exist (padding dropped).
            let span = |o: usize, s: usize, k: usize, p: usize, n: usize| {
                let start = (o * s) as isize - p as isize;
                (start.max(0) as usize)..((start + k as isize).min(n as isize).max(0) as usize)
            };
            let scale = 1.0 / (kh * kw) as f32;
            for oh in 0..h_out {
                let rows = span(oh, sh, kh, ph, h);
                for ow in 0..w_out {
                    let cols = span(ow, sw, kw, pw, w);
                    let d = g[oh * w_out + ow];
                    match pool {
                        Pool::Avg => {
                            for ih in rows.clone() {
                                dx[ih * w + cols.start..ih * w + cols.end]
                                    .iter_mut()
                                    .for_each(|v| *v += d * scale);
                            }
                        }
                        Pool::Max => {
                            let mut best = (f32::NEG_INFINITY, usize::MAX);
                            for ih in rows.clone() {
                                for iw in cols.clone() {
                                    if x[ih * w + iw] > best.0 {
                                        best = (x[ih * w + iw], ih * w + iw);
                                    }
                                }
                            }
                            if best.1 != usize::MAX {
                                dx[best.1] += d;
                            }
                        }
                    }
                }
            }
        });
}

/// Max or average pooling of `x` `[N, C, H, W]` with a `kernel` window moved by `stride`,
/// `padding` on each side (floor mode): two vectorised passes per plane ([`pool2d_slice`]) for
/// f32 on flex (under autodiff with [`pool2d_backward_slice`]); otherwise Burn's `MaxPool2d` /
/// `AvgPool2d` (average counting padding).
pub fn pool2d(
    x: Tensor<4>,
    pool: Pool,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let size = pooled(h, kernel[0], stride[0], padding[0]).zip(pooled(w, kernel[1], stride[1], padding[1]));
    let (Some(_), true) = (size, crate::ext::on_flex_any(&x)) else {
        let pad = PaddingConfig2d::Explicit(padding[0], padding[1], padding[0], padding[1]);
        return match pool {
            Pool::Max => MaxPool2dConfig::new(kernel)
                .with_strides(stride)
                .with_padding(pad)
                .init()
                .forward(x),
            Pool::Avg => AvgPool2dConfig::new(kernel)
                .with_strides(stride)
                .with_padding(pad)
                .with_count_include_pad(true)
                .init()
                .forward(x),
        };
    };
    crate::ext::pool2d(
        x,
        PoolWindow {
            pool,
            kernel,
            stride,
            padding,
        },
    )
}

/// A pooling window: what [`pool2d`] applies, as one value for the extension op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PoolWindow {
    pub(crate) pool: Pool,
    pub(crate) kernel: [usize; 2],
    pub(crate) stride: [usize; 2],
    pub(crate) padding: [usize; 2],
}

impl PoolWindow {
    /// The pooled height and width of an `[h, w]` plane (the caller has checked that it fits).
    pub(crate) fn output(&self, [h, w]: [usize; 2]) -> [usize; 2] {
        let dim = |i: usize, n: usize| {
            pooled(n, self.kernel[i], self.stride[i], self.padding[i]).expect("the window fits")
        };
        [dim(0, h), dim(1, w)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn matches_burn_pools() {
        let device = Device::flex();
        device.seed(5);
        // (shape, kernel, stride, padding)
        type Case = ([usize; 4], [usize; 2], [usize; 2], [usize; 2]);
        let cases: &[Case] = &[
            ([1, 3, 20, 20], [5, 5], [1, 1], [2, 2]),
            ([2, 4, 17, 13], [3, 3], [2, 2], [1, 1]),
            ([1, 5, 16, 15], [2, 2], [1, 1], [0, 0]),
            ([2, 2, 9, 11], [3, 2], [2, 3], [1, 0]),
            ([1, 1, 4, 4], [4, 4], [1, 1], [0, 0]),
            ([1, 2, 7, 7], [3, 3], [3, 3], [1, 1]),
        ];
        for &(shape, kernel, stride, padding) in cases {
            let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            let pad = PaddingConfig2d::Explicit(padding[0], padding[1], padding[0], padding[1]);
            let max = MaxPool2dConfig::new(kernel)
                .with_strides(stride)
                .with_padding(pad.clone())
                .init()
                .forward(x.clone());
            let avg = AvgPool2dConfig::new(kernel)
                .with_strides(stride)
                .with_padding(pad)
                .with_count_include_pad(true)
                .init()
                .forward(x.clone());
            for (pool, want) in [(Pool::Max, max), (Pool::Avg, avg)] {
                let got = pool2d(x.clone(), pool, kernel, stride, padding);
                let (d, _) = zoo_check::tensor_max_abs_diff(got, want);
                assert!(
                    d < 1e-6,
                    "{shape:?} {kernel:?} {stride:?} {padding:?} {pool:?}: {d}"
                );
            }
        }
    }

    #[test]
    fn gradients_match_burn_pools() {
        let ad = Device::flex().autodiff();
        ad.seed(6);
        type Case = ([usize; 4], [usize; 2], [usize; 2], [usize; 2]);
        let cases: &[Case] = &[
            ([1, 3, 12, 12], [5, 5], [1, 1], [2, 2]),
            ([2, 4, 17, 13], [3, 3], [2, 2], [1, 1]),
            ([1, 5, 16, 15], [2, 2], [1, 1], [0, 0]),
            ([2, 2, 9, 11], [3, 2], [2, 3], [1, 0]),
        ];
        for &(shape, kernel, stride, padding) in cases {
            let x0 = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &ad);
            let pad = PaddingConfig2d::Explicit(padding[0], padding[1], padding[0], padding[1]);
            for pool in [Pool::Max, Pool::Avg] {
                let grad = |ours: bool| {
                    let x = x0.clone().detach().require_grad();
                    let y = if ours {
                        pool2d(x.clone(), pool, kernel, stride, padding)
                    } else if pool == Pool::Max {
                        MaxPool2dConfig::new(kernel)
                            .with_strides(stride)
                            .with_padding(pad.clone())
                            .init()
                            .forward(x.clone())
                    } else {
                        AvgPool2dConfig::new(kernel)
                            .with_strides(stride)
                            .with_padding(pad.clone())
                            .with_count_include_pad(true)
                            .init()
                            .forward(x.clone())
                    };
                    let r = y.clone().detach().cos();
                    let grads = (y.clone() * r).sum().backward();
                    (y.into_data(), x.grad(&grads).unwrap().into_data())
                };
                let (ours, burn) = (grad(true), grad(false));
                let tol = burn::tensor::Tolerance::absolute(1e-6);
                zoo_check::assert_approx_eq(&ours.0, &burn.0, tol);
                zoo_check::assert_approx_eq(&ours.1, &burn.1, tol);
            }
        }
    }
}
