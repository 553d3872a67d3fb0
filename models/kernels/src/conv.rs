//! 2D convolution with its bias and activation in one pass on flex, and its backward pass.
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
//! and reads the input in place. Burn's flex backward (a transposed convolution for the input
//! gradient, a convolution over the swapped batch and channel axes for the weight's, whose gemm
//! has as many rows as kernel taps) made a ResNet-26 training step half PyTorch's speed; the
//! backward here is the same im2col with two gemms of the forward's shapes.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::ops::ConvOptions;
use std::cell::RefCell;

use crate::act::{Activation, with_activation};
use crate::{unpadded_columns, with_widest_simd};

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

    /// The sizes the kernels derive from a valid geometry.
    ///
    /// # Panics
    /// If the groups do not divide the channels or the kernel does not fit the padded input.
    fn sizes(&self, what: &str) -> Sizes {
        let out = self
            .output()
            .unwrap_or_else(|| panic!("{what}: the kernel does not fit the padded input"));
        assert!(
            self.groups > 0
                && self.c_in.is_multiple_of(self.groups)
                && self.c_out.is_multiple_of(self.groups),
            "{what}: {} groups do not divide {} -> {} channels",
            self.groups,
            self.c_in,
            self.c_out
        );
        let c_in_g = self.c_in / self.groups;
        Sizes {
            out,
            c_in_g,
            c_out_g: self.c_out / self.groups,
            k: c_in_g * self.kernel[0] * self.kernel[1],
            plane_in: self.input[0] * self.input[1],
            plane_out: out[0] * out[1],
        }
    }

    pub(crate) fn pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.pad_begin == [0, 0] && self.pad_end == [0, 0]
    }
}

/// Sizes derived from a [`ConvGeometry`] ([`ConvGeometry::sizes`]).
struct Sizes {
    /// Output height and width.
    out: [usize; 2],
    /// Input and output channels per group.
    c_in_g: usize,
    c_out_g: usize,
    /// Rows of the im2col matrix (and columns of a group's weight): c_in_g k_h k_w.
    k: usize,
    /// Input and output plane sizes.
    plane_in: usize,
    plane_out: usize,
}

/// A raw output pointer shared by tasks that write disjoint bands.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: the pointer is only written through by `conv2d_slice`'s tasks, each inside its own
// band of output rows (bounds asserted there), so sending it to another thread shares nothing
// that another thread writes.
unsafe impl Send for OutPtr {}
// SAFETY: as for Send: concurrent users write disjoint elements, and none reads another's.
unsafe impl Sync for OutPtr {}

/// How many elements a strided matrix spans: its last element's offset plus one (0 if empty).
fn span(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * row_stride + (cols - 1) * col_stride + 1
    }
}

/// One product through the gemm crate: `dst` (`[m, n, depth]` = `mnk`: m x n, row stride
/// `dst_rs`, unit column stride) = [dst +] lhs (m x depth) rhs (depth x n), `lhs` and `rhs`
/// given by (column, row) strides.
/// The operands' extents are asserted against their slices.
///
/// # Safety
/// `dst` must be valid for reads and writes at every offset of `span(m, n, dst_rs, 1)`, and no
/// other thread may access those elements during the call.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_raw(
    [m, n, depth]: [usize; 3],
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    lhs: &[f32],
    [lhs_cs, lhs_rs]: [usize; 2],
    rhs: &[f32],
    [rhs_cs, rhs_rs]: [usize; 2],
    parallelism: gemm::Parallelism,
) {
    assert!(lhs.len() >= span(m, depth, lhs_rs, lhs_cs), "gemm: lhs too short");
    assert!(rhs.len() >= span(depth, n, rhs_rs, rhs_cs), "gemm: rhs too short");
    // SAFETY: lhs and rhs hold every element their strides reach (asserted above); dst is the
    // caller's contract. gemm reads dst only when `accumulate` (read_dst), else overwrites it.
    unsafe {
        gemm::gemm(
            m,
            n,
            depth,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}

/// [`gemm_raw`] into a slice: `dst` must hold the m x n result at row stride `dst_rs`.
#[allow(clippy::too_many_arguments)]
fn gemm_into(
    mnk: [usize; 3],
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    lhs: &[f32],
    lhs_strides: [usize; 2],
    rhs: &[f32],
    rhs_strides: [usize; 2],
    parallelism: gemm::Parallelism,
) {
    let [m, n, _] = mnk;
    assert!(dst.len() >= span(m, n, dst_rs, 1), "gemm: dst too short");
    // SAFETY: dst is an exclusive borrow holding every element the product writes (asserted).
    unsafe {
        gemm_raw(
            mnk,
            dst.as_mut_ptr(),
            dst_rs,
            accumulate,
            lhs,
            lhs_strides,
            rhs,
            rhs_strides,
            parallelism,
        )
    }
}

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
    with_activation!(act, eval, |f| {
        for c in 0..c_out {
            // SAFETY: row c of this task's band (the caller's contract).
            let row = unsafe { std::slice::from_raw_parts_mut(out.0.add(c * stride), len) };
            let b = bias.map_or(0.0, |b| b[c]);
            with_widest_simd(
                row,
                #[inline(always)]
                |row| row.iter_mut().for_each(|v| *v = f(*v + b)),
            );
        }
    })
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
    let Sizes {
        out: [h_out, w_out],
        c_in_g,
        c_out_g,
        k,
        plane_out,
        ..
    } = g.sizes("conv2d");
    let [h, w] = g.input;
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
    let out_len = out.len();
    let out_ptr = OutPtr(out.as_mut_ptr());
    (0..g.batch * bands).into_par_iter().for_each(|task| {
        let (b, band) = (task / bands, task % bands);
        let oh0 = band * rows;
        let n_rows = rows.min(h_out - oh0);
        let n = n_rows * w_out;
        let image = &x[b * g.c_in * h * w..(b + 1) * g.c_in * h * w];
        // This task's band: image b, output rows oh0..oh0 + n_rows of every channel, that is
        // c_out rows of n values plane_out apart from `start`. Bands of different tasks differ in
        // (b, oh0) and so share no element; every row ends inside `out`.
        let start = b * g.c_out * plane_out + oh0 * w_out;
        assert!(
            start + span(g.c_out, n, plane_out, 1) <= out_len,
            "conv2d: band outside the output"
        );
        let dst = out_ptr.at(start);
        let gemm = |group: usize, rhs: &[f32], rhs_rs: usize| {
            // SAFETY: the group's c_out_g rows of this task's band (inside `out`, asserted above),
            // which no other task touches.
            unsafe {
                gemm_raw(
                    [c_out_g, n, k],
                    dst.add(group * c_out_g * plane_out),
                    plane_out,
                    false,
                    &weight[group * c_out_g * k..],
                    [1, k],
                    rhs,
                    [1, rhs_rs],
                    gemm::Parallelism::None,
                )
            }
        };
        for group in 0..g.groups {
            let channels = &image[group * c_in_g * h * w..(group + 1) * c_in_g * h * w];
            if pointwise {
                gemm(group, &channels[oh0 * w..], h * w);
            } else {
                COLUMNS.with_borrow_mut(|col| {
                    col.resize(k * n, 0.0);
                    im2col_band(col, channels, c_in_g, g, w_out, oh0, n_rows);
                    gemm(group, col, n);
                });
            }
        }
        // SAFETY: this task's band (asserted inside `out` above), written by no other task.
        unsafe { epilogue(OutPtr(dst), g.c_out, plane_out, n, bias, act) };
    });
}

/// Adds `col` (`[c k_h k_w, h_out w_out]`, row-major: the layout of `im2col_band` over the whole
/// image) back into the `c` input planes `dx` (`[c, h, w]`): the adjoint of the im2col, each patch
/// entry added to the input pixel it was read from (padding entries dropped).
fn col2im_add(col: &[f32], dx: &mut [f32], c: usize, g: &ConvGeometry, [h_out, w_out]: [usize; 2]) {
    let [h, w] = g.input;
    let [kh, kw] = g.kernel;
    let [sh, sw] = g.stride;
    let [dh, dw] = g.dilation;
    let [ph, pw] = g.pad_begin;
    let plane_out = h_out * w_out;
    for ci in 0..c {
        let plane = &mut dx[ci * h * w..(ci + 1) * h * w];
        for ki in 0..kh {
            for kj in 0..kw {
                let row = (ci * kh + ki) * kw + kj;
                let src_row = &col[row * plane_out..(row + 1) * plane_out];
                let offset = kj * dw;
                let (lo, hi) = unpadded_columns(w, pw, offset, sw, w_out);
                if lo >= hi {
                    continue;
                }
                let first = lo * sw + offset - pw;
                for r in 0..h_out {
                    let ih = (r * sh + ki * dh) as isize - ph as isize;
                    if ih < 0 || ih >= h as isize {
                        continue;
                    }
                    let dst = &mut plane[ih as usize * w..(ih as usize + 1) * w];
                    let src = &src_row[r * w_out + lo..r * w_out + hi];
                    if sw == 1 {
                        for (d, s) in dst[first..first + hi - lo].iter_mut().zip(src) {
                            *d += *s;
                        }
                    } else {
                        for (d, s) in dst[first..].iter_mut().step_by(sw).zip(src) {
                            *d += *s;
                        }
                    }
                }
            }
        }
    }
}

/// The gradients of `y = conv2d(x, weight) + bias` given `grad` = dL/dy (`[N, C_out, H_out,
/// W_out]`), each written only where asked for: `dx` (`[N, C_in, H, W]`, overwritten),
/// `dweight` (`[C_out, C_in / groups, k_h, k_w]`, overwritten), `dbias` (`[C_out]`, overwritten).
/// Per image and group: dW += dY cols(x)^T and cols(dx) = W^T dY scattered back by the adjoint of
/// the im2col (a 1x1 stride-1 convolution reads and writes the planes in place), as gemms; images
/// run in parallel when there are at least as many as threads, otherwise each gemm is parallel.
///
/// # Panics
/// If a slice is shorter than the geometry says, or the geometry is invalid (as [`conv2d_slice`]).
pub fn conv2d_backward_slice(
    x: &[f32],
    weight: &[f32],
    grad: &[f32],
    g: &ConvGeometry,
    dx: Option<&mut [f32]>,
    dweight: Option<&mut [f32]>,
    dbias: Option<&mut [f32]>,
) {
    use rayon::prelude::*;
    let Sizes {
        out: [h_out, w_out],
        c_in_g,
        c_out_g,
        k,
        plane_in,
        plane_out,
    } = g.sizes("conv2d backward");
    let (image_in, image_out) = (g.c_in * plane_in, g.c_out * plane_out);
    assert!(x.len() >= g.batch * image_in, "conv2d backward: input too short");
    assert!(weight.len() >= g.c_out * k, "conv2d backward: weight too short");
    assert!(
        grad.len() >= g.batch * image_out,
        "conv2d backward: gradient too short"
    );
    if let Some(db) = dbias {
        assert!(db.len() >= g.c_out, "conv2d backward: bias gradient too short");
        for (c, d) in db[..g.c_out].iter_mut().enumerate() {
            *d = (0..g.batch)
                .map(|b| crate::sum(&grad[b * image_out + c * plane_out..][..plane_out]))
                .sum();
        }
    }
    if g.batch == 0 || plane_out == 0 {
        // Nothing reached the output: zero gradients.
        if let Some(dx) = dx {
            dx[..g.batch * image_in].fill(0.0);
        }
        if let Some(dw) = dweight {
            dw[..g.c_out * k].fill(0.0);
        }
        return;
    }
    let pointwise = g.pointwise();
    let threads = rayon::current_num_threads().max(1);
    let per_image = g.batch >= threads;
    let parallelism = if per_image {
        gemm::Parallelism::None
    } else {
        gemm::Parallelism::Rayon(threads)
    };
    // dW over a set of images, accumulated into `acc` (`[C_out, k]`).
    let weight_grad = |acc: &mut [f32], b: usize, col: &mut Vec<f32>| {
        let image = &x[b * image_in..(b + 1) * image_in];
        let dy = &grad[b * image_out..(b + 1) * image_out];
        for group in 0..g.groups {
            let channels = &image[group * c_in_g * plane_in..(group + 1) * c_in_g * plane_in];
            let cols: &[f32] = if pointwise {
                channels
            } else {
                col.resize(k * plane_out, 0.0);
                im2col_band(col, channels, c_in_g, g, w_out, 0, h_out);
                col
            };
            // dW_g (c_out_g x k) += dY_g (c_out_g x plane_out) cols^T (plane_out x k).
            gemm_into(
                [c_out_g, k, plane_out],
                &mut acc[group * c_out_g * k..(group + 1) * c_out_g * k],
                k,
                true,
                &dy[group * c_out_g * plane_out..],
                [1, plane_out],
                cols,
                [plane_out, 1],
                parallelism,
            );
        }
    };
    // dx of one image (`[C_in, H, W]`, overwritten).
    let input_grad = |dx: &mut [f32], b: usize, col: &mut Vec<f32>| {
        let dy = &grad[b * image_out..(b + 1) * image_out];
        if !pointwise {
            dx.fill(0.0);
        }
        for group in 0..g.groups {
            let dx = &mut dx[group * c_in_g * plane_in..(group + 1) * c_in_g * plane_in];
            let w_g = &weight[group * c_out_g * k..(group + 1) * c_out_g * k];
            let dy_g = &dy[group * c_out_g * plane_out..];
            // cols(dx) (k x plane_out) = W_g^T (k x c_out_g) dY_g (c_out_g x plane_out).
            let w_t_dy = |dst: &mut [f32]| {
                gemm_into(
                    [k, plane_out, c_out_g],
                    dst,
                    plane_out,
                    false,
                    w_g,
                    [k, 1],
                    dy_g,
                    [1, plane_out],
                    parallelism,
                )
            };
            if pointwise {
                w_t_dy(dx);
            } else {
                col.resize(k * plane_out, 0.0);
                w_t_dy(col);
                col2im_add(col, dx, c_in_g, g, [h_out, w_out]);
            }
        }
    };
    // Per-image tasks reuse their thread's im2col buffer. The sequential path runs parallel gemms
    // and keeps its own buffer: a rayon worker waiting on them may pick up another task that
    // borrows the thread-local one.
    let with_columns = |f: &mut dyn FnMut(&mut Vec<f32>)| COLUMNS.with_borrow_mut(|col| f(col));
    let mut own_columns = Vec::new();
    if let Some(dw) = dweight {
        let dw = &mut dw[..g.c_out * k];
        if per_image {
            let partial = (0..g.batch)
                .into_par_iter()
                .fold(
                    || vec![0.0f32; g.c_out * k],
                    |mut acc, b| {
                        with_columns(&mut |col| weight_grad(&mut acc, b, col));
                        acc
                    },
                )
                .reduce_with(|mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                    a
                });
            dw.copy_from_slice(&partial.expect("at least one image"));
        } else {
            dw.fill(0.0);
            (0..g.batch).for_each(|b| weight_grad(dw, b, &mut own_columns));
        }
    }
    if let Some(dx) = dx {
        let dx = &mut dx[..g.batch * image_in];
        if per_image {
            dx.par_chunks_mut(image_in)
                .enumerate()
                .for_each(|(b, dx)| with_columns(&mut |col| input_grad(dx, b, col)));
        } else {
            for (b, dx) in dx.chunks_mut(image_in).enumerate() {
                input_grad(dx, b, &mut own_columns);
            }
        }
    }
}

/// act(conv2d(x, weight) + bias), the convolution as `options` says: one pass per band of
/// output rows ([`conv2d_slice`]) for f32 on flex, under autodiff with [`conv2d_backward_slice`]
/// as its backward pass (the activation then its own op, [`Activation::apply`]); otherwise
/// Burn's `conv2d` followed by the activation.
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
    let fast = crate::ext::on_flex_any(&x)
        && weight.dtype() == DType::F32
        && bias.as_ref().is_none_or(|b| b.dtype() == DType::F32)
        && options.groups > 0
        && c_in_group * options.groups == c_in
        && c_out.is_multiple_of(options.groups)
        && geometry.output().is_some();
    if !fast {
        return act.apply(burn::tensor::module::conv2d(x, weight, bias, options));
    }
    if x.device().is_autodiff() && act != Activation::Identity {
        // The activation as its own differentiable op (see `ext`).
        return act.apply(crate::ext::conv2d(
            x,
            weight,
            bias,
            geometry,
            Activation::Identity,
        ));
    }
    crate::ext::conv2d(x, weight, bias, geometry, act)
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

/// `conv` with the inference-mode batch norm `bn` that follows it folded in (the deploy form of
/// conv + BN, as ultralytics' and timm's `fuse`): with s = gamma / sqrt(running_var + eps),
/// W' = W s per output channel and b' = beta + (b - running_mean) s (b = 0 without a bias). The
/// result is detached; `conv`'s other settings are kept.
pub fn fold_batch_norm(conv: Conv2d, bn: &burn::nn::BatchNorm) -> Conv2d {
    let w = conv.weight.val();
    let [c_out, ..] = w.dims();
    let device = w.device();
    let b = conv
        .bias
        .as_ref()
        .map_or_else(|| Tensor::zeros([c_out], &device), |b| b.val());
    let scale = bn.gamma.val() / (bn.running_var.value() + bn.epsilon).sqrt();
    let weight = w * scale.clone().reshape([c_out, 1, 1, 1]);
    let bias = bn.beta.val() + (b - bn.running_mean.value()) * scale;
    let mut conv = conv;
    conv.weight = burn::module::Param::from_tensor(weight.detach());
    conv.bias = Some(burn::module::Param::from_tensor(bias.detach()));
    conv
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

    /// The convolution by its definition, in f64 (NCHW, zero padding, groups).
    fn naive_conv(x: &[f32], weight: &[f32], bias: Option<&[f32]>, g: &ConvGeometry) -> Vec<f64> {
        let [h_out, w_out] = g.output().unwrap();
        let [h, w] = g.input;
        let (c_in_g, c_out_g) = (g.c_in / g.groups, g.c_out / g.groups);
        let mut out = vec![0.0; g.batch * g.c_out * h_out * w_out];
        for (i, o) in out.iter_mut().enumerate() {
            let (b, co, oh, ow) = (
                i / (g.c_out * h_out * w_out),
                i / (h_out * w_out) % g.c_out,
                i / w_out % h_out,
                i % w_out,
            );
            let group = co / c_out_g;
            *o = bias.map_or(0.0, |b| f64::from(b[co]));
            for ci in 0..c_in_g {
                for ki in 0..g.kernel[0] {
                    for kj in 0..g.kernel[1] {
                        let ih = (oh * g.stride[0] + ki * g.dilation[0]) as isize - g.pad_begin[0] as isize;
                        let iw = (ow * g.stride[1] + kj * g.dilation[1]) as isize - g.pad_begin[1] as isize;
                        if ih < 0 || iw < 0 || ih >= h as isize || iw >= w as isize {
                            continue;
                        }
                        let xi = ((b * g.c_in + group * c_in_g + ci) * h + ih as usize) * w + iw as usize;
                        let wi = ((co * c_in_g + ci) * g.kernel[0] + ki) * g.kernel[1] + kj;
                        *o += f64::from(x[xi]) * f64::from(weight[wi]);
                    }
                }
            }
        }
        out
    }

    /// The raw-pointer paths of `conv2d_slice` (bands written through a shared pointer, gemms on
    /// strided operands) and `conv2d_backward_slice` on their edge cases: operands that start one
    /// float past an aligned address, odd sizes that leave partial bands and SIMD tails, 1x1
    /// (the in-place path), groups, and empty batches, channels and planes. The backward pass is
    /// checked as the adjoint of the forward one: <dy, conv(x)> = <dx, x> (+ <dw, w>, <db, b>).
    #[test]
    fn slices_at_odd_offsets_odd_sizes_and_empty_inputs() {
        let values = |n: usize, seed: u64| -> Vec<f32> {
            tensor([n.max(1)], seed).into_data().try_to_vec::<f32>().unwrap()[..n].to_vec()
        };
        // One float past the start of a fresh allocation: misaligned for every SIMD width.
        let offset = |v: Vec<f32>| -> Vec<f32> { std::iter::once(0.0).chain(v).collect() };
        // batch, c_in, input, c_out, kernel, stride, pad, groups
        type Case = (
            usize,
            usize,
            [usize; 2],
            usize,
            [usize; 2],
            [usize; 2],
            [usize; 2],
            usize,
        );
        #[rustfmt::skip]
        let cases: [Case; 7] = [
            (2, 3, [7, 5], 5, [3, 3], [2, 1], [1, 1], 1),
            (1, 3, [3, 1], 7, [1, 1], [1, 1], [0, 0], 1),
            (3, 6, [9, 11], 9, [3, 2], [1, 2], [2, 0], 3),
            (1, 1, [1, 1], 1, [1, 1], [1, 1], [0, 0], 1),
            (0, 3, [5, 5], 4, [3, 3], [1, 1], [1, 1], 1),
            (2, 3, [5, 5], 0, [3, 3], [1, 1], [1, 1], 1),
            (1, 4, [1, 9], 2, [1, 3], [1, 3], [0, 1], 2),
        ];
        for (i, &(batch, c_in, input, c_out, kernel, stride, pad, groups)) in cases.iter().enumerate() {
            let g = ConvGeometry {
                batch,
                c_in,
                input,
                c_out,
                kernel,
                stride,
                pad_begin: pad,
                pad_end: pad,
                dilation: [1, 1],
                groups,
            };
            let [h_out, w_out] = g.output().unwrap();
            let n_x = batch * c_in * input[0] * input[1];
            let n_w = c_out * (c_in / groups) * kernel[0] * kernel[1];
            let n_y = batch * c_out * h_out * w_out;
            let (x, w, b) = (
                offset(values(n_x, 10 + i as u64)),
                offset(values(n_w, 20)),
                offset(values(c_out, 30)),
            );
            let (x, w, b) = (&x[1..], &w[1..], &b[1..]);
            let mut out = offset(vec![f32::NAN; n_y]);
            conv2d_slice(x, w, Some(b), &g, Activation::Identity, &mut out[1..]);
            let want = naive_conv(x, w, Some(b), &g);
            let got: Vec<f64> = out[1..].iter().map(|&v| f64::from(v)).collect();
            let d = zoo_check::diff(&got, &want).unwrap_or_else(|m| panic!("case {i}: {m}"));
            assert!(d.max_abs < 1e-5, "case {i}: forward {d}");
            assert_eq!(out[0], 0.0, "case {i}: wrote before the output");

            let dy = values(n_y, 40);
            let mut dx = offset(vec![f32::NAN; n_x]);
            let mut dw = offset(vec![f32::NAN; n_w]);
            let mut db = offset(vec![f32::NAN; c_out]);
            conv2d_backward_slice(
                x,
                w,
                &dy,
                &g,
                Some(&mut dx[1..]),
                Some(&mut dw[1..]),
                Some(&mut db[1..]),
            );
            let dot = |a: &[f32], b: &[f32]| {
                a.iter()
                    .zip(b)
                    .map(|(a, b)| f64::from(*a) * f64::from(*b))
                    .sum::<f64>()
            };
            let lhs = dy.iter().zip(&want).map(|(d, y)| f64::from(*d) * y).sum::<f64>();
            let rhs = dot(&dx[1..], x) + dot(&dw[1..], w) + dot(&db[1..], b);
            zoo_check::all_finite(&dx[1..]).unwrap();
            zoo_check::all_finite(&dw[1..]).unwrap();
            zoo_check::all_finite(&db[1..]).unwrap();
            // y = W * x + b is linear in x, in W and in b: <dx, x> = <dw, w> = <dy, W * x> and
            // <db, b> = <dy, b>, so <dx, x> + <dw, w> + <db, b> = <dy, y> + <dy, W * x>.
            let wx = lhs
                - dy.iter()
                    .enumerate()
                    .map(|(k, d)| f64::from(*d) * f64::from(b[k / (h_out * w_out) % c_out.max(1)]))
                    .sum::<f64>();
            assert!(
                (dot(&dx[1..], x) - wx).abs() < 1e-4 * wx.abs().max(1.0),
                "case {i}: dx {} vs {wx}",
                dot(&dx[1..], x)
            );
            assert!(
                (dot(&dw[1..], w) - wx).abs() < 1e-4 * wx.abs().max(1.0),
                "case {i}: dw {} vs {wx}",
                dot(&dw[1..], w)
            );
            assert!(
                (rhs - lhs - wx).abs() < 1e-4 * lhs.abs().max(1.0),
                "case {i}: {rhs} vs {lhs} + {wx}"
            );
        }
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
                    _ => want,
                };
                let got = conv2d(x.clone(), weight.clone(), b, options.clone(), act);
                let (diff, scale) = zoo_check::tensor_max_abs_diff(got, want);
                assert!(
                    diff < 2e-5 * scale.max(1.0),
                    "case {i} ({act:?}): max abs diff {diff}"
                );
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
        assert!(zoo_check::tensor_max_abs_diff(got, want).0 < 1e-5);
        let weight = tensor([8, 1, 3, 3], 9);
        let options = ConvOptions::new([2, 2], [1, 1], [1, 1], 8);
        let want = burn::tensor::module::conv2d(x.clone(), weight.clone(), None, options.clone());
        let got = conv2d(x.clone(), weight, None, options, Activation::Identity);
        assert!(zoo_check::tensor_max_abs_diff(got, want).0 < 1e-5);
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
            assert!(zoo_check::tensor_max_abs_diff(got, want).0 < 1e-5);
        }
    }

    /// Gradients of `sum(conv2d(x, w, b) * r)` for x, w and b, on an autodiff device.
    fn conv_grads(
        conv: impl Fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>) -> Tensor<4>,
        x: &Tensor<4>,
        w: &Tensor<4>,
        b: Option<&Tensor<1>>,
        seed: u64,
    ) -> (Tensor<4>, Vec<Tensor<4>>, Option<Tensor<1>>) {
        let ad = Device::flex().autodiff();
        let track = |t: &Tensor<4>| Tensor::<4>::from_data(t.to_data(), &ad).require_grad();
        let (x, w) = (track(x), track(w));
        let b = b.map(|b| Tensor::<1>::from_data(b.to_data(), &ad).require_grad());
        let y = conv(x.clone(), w.clone(), b.clone());
        let r = Tensor::<4>::from_data(tensor(y.dims(), seed).to_data(), &ad);
        let grads = (y.clone() * r).sum().backward();
        let flex = |t: Tensor<4>| Tensor::<4>::from_data(t.to_data(), &Device::flex());
        (
            flex(y),
            vec![flex(x.grad(&grads).unwrap()), flex(w.grad(&grads).unwrap())],
            b.map(|b| Tensor::<1>::from_data(b.grad(&grads).unwrap().to_data(), &Device::flex())),
        )
    }

    #[test]
    fn gradients_match_burn_conv2d() {
        // (batch, c_in, h, w, c_out, kernel, stride, padding, dilation, groups)
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
            usize,
        );
        let cases: &[Case] = &[
            (1, 3, 17, 23, 8, [3, 3], 1, [(1, 1), (1, 1)], 1, 1),
            (3, 16, 12, 12, 32, [3, 3], 2, [(1, 1), (1, 1)], 1, 1),
            (4, 24, 9, 13, 40, [1, 1], 1, [(0, 0), (0, 0)], 1, 1),
            (2, 8, 11, 7, 6, [1, 1], 2, [(0, 0), (0, 0)], 1, 2),
            (1, 6, 12, 15, 7, [5, 3], 1, [(2, 1), (0, 3)], 1, 1),
            (3, 4, 14, 14, 6, [3, 3], 1, [(2, 2), (2, 2)], 2, 1),
            (2, 8, 10, 10, 8, [3, 3], 1, [(1, 1), (1, 1)], 1, 8),
            (2, 12, 16, 9, 12, [3, 3], 2, [(1, 0), (1, 2)], 1, 3),
            (1, 3, 32, 32, 16, [7, 7], 2, [(3, 3), (3, 3)], 1, 1),
        ];
        for (i, &(n, ci, h, w, co, k, s, pad, d, groups)) in cases.iter().enumerate() {
            let seed = 10 * i as u64;
            let x = tensor([n, ci, h, w], seed);
            let wt = tensor([co, ci / groups, k[0], k[1]], seed + 1) * 0.3;
            let b = tensor([co], seed + 2);
            let options = ConvOptions::new_with_padding([s, s], pad, [d, d], groups);
            for with_bias in [true, false] {
                let b = with_bias.then_some(&b);
                let ours = conv_grads(
                    |x, w, b| conv2d(x, w, b, options.clone(), Activation::Identity),
                    &x,
                    &wt,
                    b,
                    seed + 3,
                );
                let burn = conv_grads(
                    |x, w, b| burn::tensor::module::conv2d(x, w, b, options.clone()),
                    &x,
                    &wt,
                    b,
                    seed + 3,
                );
                let close = |what: &str, got: Tensor<4>, want: Tensor<4>| {
                    let (diff, scale) = zoo_check::tensor_max_abs_diff(got, want);
                    assert!(
                        diff < 3e-5 * scale.max(1.0),
                        "case {i} (bias {with_bias}) {what}: max abs diff {diff}"
                    );
                };
                close("output", ours.0, burn.0);
                close("dx", ours.1[0].clone(), burn.1[0].clone());
                close("dweight", ours.1[1].clone(), burn.1[1].clone());
                if let (Some(got), Some(want)) = (ours.2, burn.2) {
                    let (diff, scale) = zoo_check::tensor_max_abs_diff(got, want);
                    assert!(diff < 3e-5 * scale.max(1.0), "case {i} dbias: {diff}");
                }
            }
        }
    }

    #[test]
    fn an_activation_and_a_strided_input_under_autodiff() {
        // SiLU runs as its own op after the convolution; a transposed (non-contiguous) input is
        // read through a contiguous copy.
        let x = tensor([2, 5, 9, 11], 91);
        let wt = tensor([4, 5, 3, 3], 92);
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let ours = conv_grads(
            |x, w, b| conv2d(x.swap_dims(2, 3), w, b, options.clone(), Activation::Silu),
            &x,
            &wt,
            None,
            93,
        );
        let burn = conv_grads(
            |x, w, b| {
                burn::tensor::activation::silu(burn::tensor::module::conv2d(
                    x.swap_dims(2, 3),
                    w,
                    b,
                    options.clone(),
                ))
            },
            &x,
            &wt,
            None,
            93,
        );
        for (got, want) in std::iter::once((ours.0, burn.0)).chain(ours.1.into_iter().zip(burn.1)) {
            let (diff, _) = zoo_check::tensor_max_abs_diff(got, want);
            assert!(diff < 1e-4, "max abs diff {diff}");
        }
    }
}
