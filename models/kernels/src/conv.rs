//! 2D convolution with its bias and activation in one pass, for inference on flex.
//!
//! Burn's flex convolution (0.22) converts the whole input to NHWC on one thread with a strided
//! inner loop, allocates and zero-fills an im2col tile and a gemm result per tile, then scatters
//! the result back to NCHW one element at a time; bias and activation are further whole-tensor
//! passes. In GELAN's inference those copies took about as long as the gemm itself
//! (BENCHMARKS.md). Here each task takes a band of output rows of one image, builds its im2col
//! matrix in the natural `[C_in k_h k_w, rows x W_out]` order (whole input rows copied per kernel
//! offset, so stride 1 is a `memcpy`), multiplies the unmodified `[C_out, C_in k_h k_w]` weight
//! by it with the result written straight into the NCHW output, and adds the bias and applies
//! the activation while that band is still in cache. A 1x1 stride-1 convolution skips im2col
//! and reads the input in place.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::ops::ConvOptions;
use std::cell::RefCell;

use crate::{exp_f32, f32s, on_flex, unpadded_columns, with_widest_simd};

/// The activation applied to a convolution's output (after the bias).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// None (the identity).
    Identity,
    /// SiLU, x sigmoid(x).
    Silu,
}

impl Activation {
    /// The activation as its own pass (where the convolution is not ours to fuse it into).
    fn apply(self, y: Tensor<4>) -> Tensor<4> {
        match self {
            Activation::Identity => y,
            Activation::Silu => crate::silu(y),
        }
    }
}

/// Geometry of one 2D convolution over an NCHW batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Batch size.
    pub batch: usize,
    /// Input channels.
    pub c_in: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// Output channels.
    pub c_out: usize,
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Stride (height, width).
    pub stride: [usize; 2],
    /// Padding before (top, left).
    pub pad_begin: [usize; 2],
    /// Padding after (bottom, right).
    pub pad_end: [usize; 2],
    /// Dilation (height, width).
    pub dilation: [usize; 2],
    /// Channel groups (dividing both channel counts).
    pub groups: usize,
}

impl ConvGeometry {
    /// Output height and width: (in + pad_begin + pad_end - dilation (k - 1) - 1) / stride + 1,
    /// or `None` when the kernel does not fit.
    pub fn output(&self) -> Option<[usize; 2]> {
        let dim = |i: usize| {
            let padded = self.input[i] + self.pad_begin[i] + self.pad_end[i];
            let span = self.dilation[i] * (self.kernel[i] - 1) + 1;
            (self.stride[i] > 0 && padded >= span).then(|| (padded - span) / self.stride[i] + 1)
        };
        Some([dim(0)?, dim(1)?])
    }

    fn pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.pad_begin == [0, 0] && self.pad_end == [0, 0]
    }
}

/// A raw output pointer shared by tasks that write disjoint bands.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: every task writes only its own band of output rows (see `conv2d_slice`).
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The pointer (a method, so that closures capture the whole `Sync` wrapper, not the field).
    fn at(self, offset: usize) -> *mut f32 {
        self.0.wrapping_add(offset)
    }
}

thread_local! {
    /// Each worker's im2col buffer, kept between calls (a band is up to ~1 MB).
    static COLUMNS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Fills `col` (`[c k_h k_w, rows x w_out]`, row-major) with the input patches of output rows
/// `oh0..oh0 + rows` of `c` channels `x` (`[c, h, w]`); padding reads as zero.
fn im2col_band(
    col: &mut [f32],
    x: &[f32],
    c: usize,
    g: &ConvGeometry,
    w_out: usize,
    oh0: usize,
    rows: usize,
) {
    let [h, w] = g.input;
    let [kh, kw] = g.kernel;
    let [sh, sw] = g.stride;
    let [dh, dw] = g.dilation;
    let [ph, pw] = g.pad_begin;
    let band = rows * w_out;
    for ci in 0..c {
        let plane = &x[ci * h * w..(ci + 1) * h * w];
        for ki in 0..kh {
            for kj in 0..kw {
                let row = (ci * kh + ki) * kw + kj;
                let dst_row = &mut col[row * band..(row + 1) * band];
                let offset = kj * dw;
                let (lo, hi) = unpadded_columns(w, pw, offset, sw, w_out);
                for r in 0..rows {
                    let dst = &mut dst_row[r * w_out..(r + 1) * w_out];
                    let ih = ((oh0 + r) * sh + ki * dh) as isize - ph as isize;
                    if ih < 0 || ih >= h as isize {
                        dst.fill(0.0);
                        continue;
                    }
                    let src = &plane[ih as usize * w..(ih as usize + 1) * w];
                    dst[..lo].fill(0.0);
                    dst[hi..].fill(0.0);
                    if lo < hi {
                        let first = lo * sw + offset - pw;
                        if sw == 1 {
                            dst[lo..hi].copy_from_slice(&src[first..first + hi - lo]);
                        } else {
                            for (d, s) in dst[lo..hi].iter_mut().zip(src[first..].iter().step_by(sw)) {
                                *d = *s;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Adds `bias[c]` to the `c`-th of `c_out` rows of `len` values that start at `out`, `stride`
/// apart, and applies `act`, vectorised.
///
/// # Safety
/// Those rows must lie inside one allocation that nothing else reads or writes meanwhile.
unsafe fn epilogue(
    out: OutPtr,
    c_out: usize,
    stride: usize,
    len: usize,
    bias: Option<&[f32]>,
    act: Activation,
) {
    if bias.is_none() && act == Activation::Identity {
        return;
    }
    for c in 0..c_out {
        // SAFETY: row c of this task's band (the caller's contract).
        let row = unsafe { std::slice::from_raw_parts_mut(out.0.add(c * stride), len) };
        let b = bias.map_or(0.0, |b| b[c]);
        with_widest_simd(
            row,
            #[inline(always)]
            |row| match act {
                Activation::Identity => row.iter_mut().for_each(|v| *v += b),
                Activation::Silu => row.iter_mut().for_each(|v| {
                    let x = *v + b;
                    *v = x / (1.0 + exp_f32(-x));
                }),
            },
        );
    }
}

/// act(conv2d(x, weight) + bias) over f32 slices: `x` `[N, C_in, H, W]`, `weight`
/// `[C_out, C_in / groups, k_h, k_w]`, `bias` `[C_out]`, `out` `[N, C_out, H_out, W_out]` (every
/// element written). Bands of output rows run in parallel, each one gemm per group of
/// `[C_out / groups, C_in k_h k_w / groups]` by its im2col band.
///
/// # Panics
/// If a slice is shorter than the geometry says, the groups do not divide the channels, or the
/// kernel does not fit the padded input.
pub fn conv2d_slice(
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    g: &ConvGeometry,
    act: Activation,
    out: &mut [f32],
) {
    use rayon::prelude::*;
    let [h_out, w_out] = g.output().expect("the kernel fits the padded input");
    let [h, w] = g.input;
    assert!(
        g.groups > 0 && g.c_in.is_multiple_of(g.groups) && g.c_out.is_multiple_of(g.groups),
        "conv2d: {} groups do not divide {} -> {} channels",
        g.groups,
        g.c_in,
        g.c_out
    );
    let (c_in_g, c_out_g) = (g.c_in / g.groups, g.c_out / g.groups);
    let k = c_in_g * g.kernel[0] * g.kernel[1];
    let plane_out = h_out * w_out;
    assert!(x.len() >= g.batch * g.c_in * h * w, "conv2d: input too short");
    assert!(weight.len() >= g.c_out * k, "conv2d: weight too short");
    assert!(
        out.len() >= g.batch * g.c_out * plane_out,
        "conv2d: output too short"
    );
    assert!(bias.is_none_or(|b| b.len() >= g.c_out), "conv2d: bias too short");
    if plane_out == 0 || g.c_out == 0 || g.batch == 0 {
        return;
    }
    // Bands of whole output rows: an im2col band of about 1 MB (L2), at least two bands per
    // thread over the batch so that both cores have work at batch 1.
    let threads = rayon::current_num_threads().max(1);
    let cache_rows = ((1 << 18) / (k * w_out).max(1)).max(1);
    let per_image = (2 * threads).div_ceil(g.batch);
    let rows = cache_rows.min(h_out.div_ceil(per_image)).max(1);
    let bands = h_out.div_ceil(rows);
    let pointwise = g.pointwise();
    let out_ptr = OutPtr(out.as_mut_ptr());
    (0..g.batch * bands).into_par_iter().for_each(|task| {
        let (b, band) = (task / bands, task % bands);
        let oh0 = band * rows;
        let n_rows = rows.min(h_out - oh0);
        let n = n_rows * w_out;
        let image = &x[b * g.c_in * h * w..(b + 1) * g.c_in * h * w];
        // This task's band (image b, output rows oh0..oh0 + n_rows of every channel) is
        // disjoint from every other task's; the pointer stays inside `out` (checked above).
        let dst = out_ptr.at(b * g.c_out * plane_out + oh0 * w_out);
        let gemm = |group: usize, rhs: *const f32, rhs_rs: usize| {
            // SAFETY: the group's dst is c_out_g rows of n values plane_out apart, its weight
            // c_out_g rows of k values, rhs k rows of n values rhs_rs apart, all in bounds
            // (asserted above).
            unsafe {
                gemm::gemm(
                    c_out_g,
                    n,
                    k,
                    dst.add(group * c_out_g * plane_out),
                    1,
                    plane_out as isize,
                    false,
                    weight[group * c_out_g * k..].as_ptr(),
                    1,
                    k as isize,
                    rhs,
                    1,
                    rhs_rs as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                )
            }
        };
        for group in 0..g.groups {
            let channels = &image[group * c_in_g * h * w..(group + 1) * c_in_g * h * w];
            if pointwise {
                gemm(group, channels[oh0 * w..].as_ptr(), h * w);
            } else {
                COLUMNS.with_borrow_mut(|col| {
                    col.resize(k * n, 0.0);
                    im2col_band(col, channels, c_in_g, g, w_out, oh0, n_rows);
                    gemm(group, col.as_ptr(), n);
                });
            }
        }
        // SAFETY: this task's band, in `out` and written by no other task.
        unsafe { epilogue(OutPtr(dst), g.c_out, plane_out, n, bias, act) };
    });
}

/// act(conv2d(x, weight) + bias), the convolution as `options` says: one pass per band of
/// output rows ([`conv2d_slice`]) for f32 inference on flex; otherwise Burn's `conv2d`
/// followed by the activation.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
    act: Activation,
) -> Tensor<4> {
    let [batch, c_in, h, w] = x.dims();
    let [c_out, c_in_group, kh, kw] = weight.dims();
    let geometry = ConvGeometry {
        batch,
        c_in,
        input: [h, w],
        c_out,
        kernel: [kh, kw],
        stride: options.stride,
        pad_begin: options.padding_begin(),
        pad_end: options.padding_end(),
        dilation: options.dilation,
        groups: options.groups,
    };
    let fast = on_flex(&x)
        && weight.dtype() == DType::F32
        && bias.as_ref().is_none_or(|b| b.dtype() == DType::F32)
        && options.groups > 0
        && c_in_group * options.groups == c_in
        && c_out.is_multiple_of(options.groups);
    let output = geometry.output().filter(|_| fast);
    let Some([h_out, w_out]) = output else {
        return act.apply(burn::tensor::module::conv2d(x, weight, bias, options));
    };
    let device = x.device();
    let (x, weight, bias) = (x.into_data(), weight.into_data(), bias.map(Tensor::into_data));
    let mut out = vec![0.0; batch * c_out * h_out * w_out];
    conv2d_slice(
        f32s(&x),
        f32s(&weight),
        bias.as_ref().map(f32s),
        &geometry,
        act,
        &mut out,
    );
    Tensor::from_data(TensorData::new(out, [batch, c_out, h_out, w_out]), &device)
}

/// `act(conv.forward(x))` with [`conv2d`]: the module's weight, bias, stride, dilation, groups
/// and padding (explicit or valid; `Same` goes through the module's own forward).
pub fn conv2d_module(conv: &Conv2d, x: Tensor<4>, act: Activation) -> Tensor<4> {
    let padding = match conv.padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
        PaddingConfig2d::Same => return act.apply(conv.forward(x)),
    };
    let options = ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups);
    conv2d(
        x,
        conv.weight.val(),
        conv.bias.as_ref().map(|b| b.val()),
        options,
        act,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random tensor in [-1, 1).
    fn tensor<const D: usize>(shape: [usize; D], seed: u64) -> Tensor<D> {
        let n: usize = shape.iter().product();
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let v: Vec<f32> = (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect();
        Tensor::from_data(TensorData::new(v, shape), &Device::flex())
    }

    #[test]
    fn matches_burn_conv2d() {
        // (batch, c_in, h, w, c_out, k, stride, padding (top, bottom), (left, right), dilation)
        type Case = (
            usize,
            usize,
            usize,
            usize,
            usize,
            [usize; 2],
            usize,
            [(usize, usize); 2],
            usize,
        );
        let cases: &[Case] = &[
            (1, 3, 17, 23, 8, [3, 3], 1, [(1, 1), (1, 1)], 1),
            (2, 16, 20, 20, 32, [3, 3], 2, [(1, 1), (1, 1)], 1),
            (2, 24, 9, 13, 40, [1, 1], 1, [(0, 0), (0, 0)], 1),
            (1, 8, 11, 7, 5, [1, 1], 2, [(0, 0), (0, 0)], 1),
            (1, 6, 12, 15, 7, [5, 3], 1, [(2, 1), (0, 3)], 1),
            (3, 4, 14, 14, 6, [3, 3], 1, [(2, 2), (2, 2)], 2),
            (1, 5, 8, 31, 9, [3, 3], 3, [(0, 0), (1, 1)], 1),
            (1, 2, 3, 3, 4, [3, 3], 1, [(0, 0), (0, 0)], 1),
            (1, 64, 40, 40, 64, [3, 3], 1, [(1, 1), (1, 1)], 1),
        ];
        for (i, &(n, ci, h, w, co, k, s, pad, d)) in cases.iter().enumerate() {
            let x = tensor([n, ci, h, w], 3 * i as u64);
            let weight = tensor([co, ci, k[0], k[1]], 3 * i as u64 + 1) * 0.3;
            let bias = tensor([co], 3 * i as u64 + 2);
            let options = ConvOptions::new_with_padding([s, s], pad, [d, d], 1);
            for (act, with_bias) in [(Activation::Silu, true), (Activation::Identity, false)] {
                let b = with_bias.then(|| bias.clone());
                let want =
                    burn::tensor::module::conv2d(x.clone(), weight.clone(), b.clone(), options.clone());
                let want = match act {
                    Activation::Silu => burn::tensor::activation::silu(want),
                    Activation::Identity => want,
                };
                let got = conv2d(x.clone(), weight.clone(), b, options.clone(), act);
                assert_eq!(got.dims(), want.dims(), "case {i}");
                let diff = (got - want.clone()).abs().max().into_scalar::<f32>();
                let scale = want.abs().max().into_scalar::<f32>().max(1.0);
                assert!(diff < 2e-5 * scale, "case {i} ({act:?}): max abs diff {diff}");
            }
        }
    }

    #[test]
    fn grouped_and_module_convolutions() {
        let device = Device::flex();
        let x = tensor([2, 8, 10, 10], 7);
        // Grouped (and depthwise) convolutions, one gemm per group.
        let weight = tensor([8, 2, 3, 3], 8);
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 4);
        let want = burn::tensor::activation::silu(burn::tensor::module::conv2d(
            x.clone(),
            weight.clone(),
            None,
            options.clone(),
        ));
        let got = conv2d(x.clone(), weight, None, options, Activation::Silu);
        assert!((got - want).abs().max().into_scalar::<f32>() < 1e-5);
        let weight = tensor([8, 1, 3, 3], 9);
        let options = ConvOptions::new([2, 2], [1, 1], [1, 1], 8);
        let want = burn::tensor::module::conv2d(x.clone(), weight.clone(), None, options.clone());
        let got = conv2d(x.clone(), weight, None, options, Activation::Identity);
        assert!((got - want).abs().max().into_scalar::<f32>() < 1e-5);
        // The module form reads the module's padding, stride and bias.
        for padding in [
            PaddingConfig2d::Explicit(1, 0, 2, 1),
            PaddingConfig2d::Valid,
            PaddingConfig2d::Same,
        ] {
            let conv = burn::nn::conv::Conv2dConfig::new([8, 12], [3, 3])
                .with_padding(padding)
                .init(&device);
            let want = conv.forward(x.clone());
            let got = conv2d_module(&conv, x.clone(), Activation::Identity);
            assert_eq!(got.dims(), want.dims());
            assert!((got - want).abs().max().into_scalar::<f32>() < 1e-5);
        }
    }
}
