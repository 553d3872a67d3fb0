//! 2D max and average pooling as two separable, vectorised passes, for inference on flex.
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

use crate::{f32s, on_flex, unpadded_columns, with_widest_simd};

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

/// Max or average pooling of `x` `[N, C, H, W]` with a `kernel` window moved by `stride`,
/// `padding` on each side (floor mode): two vectorised passes per plane ([`pool2d_slice`]) for
/// f32 inference on flex; otherwise Burn's `MaxPool2d` / `AvgPool2d` (average counting padding).
pub fn pool2d(
    x: Tensor<4>,
    pool: Pool,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let size = pooled(h, kernel[0], stride[0], padding[0]).zip(pooled(w, kernel[1], stride[1], padding[1]));
    let (Some((h_out, w_out)), true) = (size, on_flex(&x)) else {
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
    let device = x.device();
    let values = x.into_data();
    let mut out = vec![0.0; n * c * h_out * w_out];
    pool2d_slice(
        f32s(&values),
        n * c,
        [h, w],
        pool,
        kernel,
        stride,
        padding,
        &mut out,
    );
    Tensor::from_data(TensorData::new(out, [n, c, h_out, w_out]), &device)
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
                assert_eq!(got.dims(), want.dims(), "{shape:?} {pool:?}");
                let d = (got - want).abs().max().into_scalar::<f32>();
                assert!(
                    d < 1e-6,
                    "{shape:?} {kernel:?} {stride:?} {padding:?} {pool:?}: {d}"
                );
            }
        }
    }
}
