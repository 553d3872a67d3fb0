//! The element-wise activations, their derivatives, and their vectorised passes.

use burn::prelude::*;

use crate::{erf_f32, exp_f32, with_widest_simd};

/// An element-wise activation (applied after a convolution's bias, or on its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// None (the identity).
    Identity,
    /// ReLU, max(x, 0) (NaN stays NaN, as Burn's and PyTorch's).
    Relu,
    /// SiLU, x sigmoid(x) (Elfwing et al. 2018).
    Silu,
    /// QuickGELU, x sigmoid(1.702 x) (OpenAI CLIP, Radford et al. 2021).
    QuickGelu,
    /// GELU, x Phi(x) = x (1 + erf(x / sqrt 2)) / 2 (Hendrycks & Gimpel 2016, the exact form).
    Gelu,
}

/// 1 / sqrt(2 pi), the standard normal density at 0.
const INV_SQRT_2PI: f32 = 0.398_942_3;

impl Activation {
    /// f(x), with the polynomial `exp`/`erf` (so that loops over it vectorise).
    #[inline(always)]
    pub fn eval(self, x: f32) -> f32 {
        match self {
            Activation::Identity => x,
            Activation::Relu => {
                if x <= 0.0 {
                    0.0
                } else {
                    x
                }
            }
            Activation::Silu => x / (1.0 + exp_f32(-x)),
            Activation::QuickGelu => x / (1.0 + exp_f32(-1.702 * x)),
            Activation::Gelu => 0.5 * x * (1.0 + erf_f32(x * std::f32::consts::FRAC_1_SQRT_2)),
        }
    }

    /// f'(x): with s = sigmoid(a x), d/dx x s = s (1 + a x (1 - s)) (SiLU a = 1, QuickGELU
    /// a = 1.702); GELU's is Phi(x) + x phi(x); ReLU's 0 for x <= 0 (as Burn's and PyTorch's
    /// backward), else 1.
    #[inline(always)]
    pub fn derivative(self, x: f32) -> f32 {
        let swish = |a: f32| {
            let s = 1.0 / (1.0 + exp_f32(-a * x));
            s * (1.0 + a * x * (1.0 - s))
        };
        match self {
            Activation::Identity => 1.0,
            Activation::Relu => {
                if x <= 0.0 {
                    0.0
                } else {
                    1.0
                }
            }
            Activation::Silu => swish(1.0),
            Activation::QuickGelu => swish(1.702),
            Activation::Gelu => {
                0.5 * (1.0 + erf_f32(x * std::f32::consts::FRAC_1_SQRT_2))
                    + x * INV_SQRT_2PI * exp_f32(-0.5 * x * x)
            }
        }
    }

    /// The activation as Burn ops (other backends and dtypes).
    fn burn<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        use burn::tensor::activation::{gelu, relu, sigmoid, silu};
        match self {
            Activation::Identity => x,
            Activation::Relu => relu(x),
            Activation::Silu => silu(x),
            Activation::QuickGelu => x.clone() * sigmoid(x * 1.702),
            Activation::Gelu => gelu(x),
        }
    }

    /// f(x) element-wise: one vectorised pass on flex (with its own backward pass under
    /// autodiff, [`activation_backward_slice`]); otherwise Burn's ops.
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        if self == Activation::Identity || !crate::ext::on_flex_any(&x) {
            return self.burn(x);
        }
        crate::ext::activation(x, self)
    }
}

/// Runs `$body` with `$f` bound to `$act`'s function (or derivative) as an always-inlined function
/// item: one copy of the loop per activation, each vectorised, instead of a `match` per element.
macro_rules! with_activation {
    ($act:expr, $method:ident, |$f:ident| $body:expr) => {
        match $act {
            Activation::Identity => {
                #[inline(always)]
                fn $f(x: f32) -> f32 {
                    Activation::Identity.$method(x)
                }
                $body
            }
            Activation::Relu => {
                #[inline(always)]
                fn $f(x: f32) -> f32 {
                    Activation::Relu.$method(x)
                }
                $body
            }
            Activation::Silu => {
                #[inline(always)]
                fn $f(x: f32) -> f32 {
                    Activation::Silu.$method(x)
                }
                $body
            }
            Activation::QuickGelu => {
                #[inline(always)]
                fn $f(x: f32) -> f32 {
                    Activation::QuickGelu.$method(x)
                }
                $body
            }
            Activation::Gelu => {
                #[inline(always)]
                fn $f(x: f32) -> f32 {
                    Activation::Gelu.$method(x)
                }
                $body
            }
        }
    };
}
pub(crate) use with_activation;

/// Values per parallel task of the element-wise passes.
const CHUNK: usize = 1 << 15;

/// f(x) over `values` in place, in parallel vectorised chunks.
pub fn activation_slice(act: Activation, values: &mut [f32]) {
    use rayon::prelude::*;
    with_activation!(act, eval, |f| values.par_chunks_mut(CHUNK).for_each(|chunk| {
        with_widest_simd(
            chunk,
            #[inline(always)]
            |chunk| chunk.iter_mut().for_each(|v| *v = f(*v)),
        )
    }))
}

/// f(x) from `x` into `out` (of the same length), in parallel vectorised chunks: one read and one
/// write where a copy then [`activation_slice`] would take two of each (under autodiff the input
/// is kept for the backward pass).
///
/// # Panics
/// If the slices differ in length.
pub fn activation_into(act: Activation, x: &[f32], out: &mut [f32]) {
    use rayon::prelude::*;
    assert_eq!(x.len(), out.len(), "activation: input and output lengths differ");
    with_activation!(act, eval, |f| out
        .par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(o, x)| {
            with_widest_simd(
                o,
                #[inline(always)]
                |o| o.iter_mut().zip(x).for_each(|(o, x)| *o = f(*x)),
            )
        }))
}

/// The backward pass of [`activation_slice`]: `grad` (dL/dy, in place) becomes
/// dL/dx = dL/dy f'(x), given the input `x`.
///
/// # Panics
/// If the slices differ in length.
pub fn activation_backward_slice(act: Activation, x: &[f32], grad: &mut [f32]) {
    use rayon::prelude::*;
    assert_eq!(
        x.len(),
        grad.len(),
        "activation backward: input and gradient lengths differ"
    );
    with_activation!(act, derivative, |df| grad
        .par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(g, x)| {
            with_widest_simd(
                g,
                #[inline(always)]
                |g| g.iter_mut().zip(x).for_each(|(g, x)| *g *= df(*x)),
            )
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_central_differences() {
        for act in [Activation::Silu, Activation::QuickGelu, Activation::Gelu] {
            for i in -800..=800 {
                let x = i as f64 * 0.01;
                // f in f64 from the definitions.
                let f = |x: f64| match act {
                    Activation::Silu => x / (1.0 + (-x).exp()),
                    Activation::QuickGelu => x / (1.0 + (-1.702 * x).exp()),
                    _ => 0.5 * x * (1.0 + crate::tests::libm_erf(x / 2f64.sqrt())),
                };
                let h = 1e-3;
                let want = (f(x + h) - f(x - h)) / (2.0 * h);
                let got = f64::from(act.derivative(x as f32));
                assert!((got - want).abs() < 2e-4, "{act:?}'({x}) = {got}, want {want}");
            }
        }
        assert_eq!(Activation::Identity.derivative(3.0), 1.0);
        let relu = |x: f32| (Activation::Relu.eval(x), Activation::Relu.derivative(x));
        assert_eq!(
            [relu(-2.0), relu(0.0), relu(1.5)],
            [(0.0, 0.0), (0.0, 0.0), (1.5, 1.0)]
        );
        assert!(relu(f32::NAN).0.is_nan());
    }

    /// The vectorised slice kernels (compiled per SIMD width behind `widest_simd`'s unsafe
    /// feature dispatch) on their edge cases: empty slices, lengths that leave every remainder of
    /// a 16-lane vector and of a parallel chunk, and slices starting 1 to 15 floats past an
    /// aligned address; in place and into another buffer; against Burn's ops.
    #[test]
    fn slices_of_every_length_and_alignment() {
        let device = Device::flex();
        for act in [
            Activation::Relu,
            Activation::Silu,
            Activation::QuickGelu,
            Activation::Gelu,
        ] {
            for (len, offset) in [
                (0, 0),
                (1, 1),
                (7, 3),
                (16, 0),
                (17, 15),
                (33, 5),
                (CHUNK + 13, 7),
            ] {
                let base: Vec<f32> = (0..len + offset)
                    .map(|i| ((i * 7919 % 2001) as f32 - 1000.0) / 125.0)
                    .collect();
                let x = &base[offset..];
                let want = zoo_check::values(act.burn(Tensor::<1>::from_floats(x, &device)));
                let mut in_place = base.clone();
                activation_slice(act, &mut in_place[offset..]);
                assert_eq!(
                    in_place[..offset],
                    base[..offset],
                    "{act:?}: wrote before the slice"
                );
                let mut out = vec![f32::NAN; len + offset];
                activation_into(act, x, &mut out[offset..]);
                for got in [&in_place[offset..], &out[offset..]] {
                    let (d, _) = zoo_check::max_abs_diff(got, &want);
                    assert!(
                        d < 5e-6,
                        "{act:?}, length {len}, offset {offset}: max abs diff {d}"
                    );
                }
            }
        }
    }

    #[test]
    fn gradients_under_autodiff_match_burn_ops() {
        let ad = Device::flex().autodiff();
        let values: Vec<f32> = (-3000..3000).map(|i| i as f32 * 0.003).collect();
        let r: Vec<f32> = (0..6000).map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0).collect();
        let grad = |f: &dyn Fn(Tensor<2>) -> Tensor<2>| {
            let x = Tensor::<1>::from_floats(values.as_slice(), &ad)
                .reshape([60, 100])
                .require_grad();
            // A transposed view, so that the kernels also see a non-contiguous input.
            let y = f(x.clone().transpose()).transpose();
            let r = Tensor::<1>::from_floats(r.as_slice(), &ad).reshape([60, 100]);
            let grads = (y.clone() * r).sum().backward();
            (y.into_data(), x.grad(&grads).unwrap().into_data())
        };
        for act in [
            Activation::Relu,
            Activation::Silu,
            Activation::QuickGelu,
            Activation::Gelu,
        ] {
            let (y, dx) = grad(&|x| act.apply(x));
            let (y_burn, dx_burn) = grad(&|x| act.burn(x));
            zoo_check::assert_approx_eq(&y, &y_burn, burn::tensor::Tolerance::absolute(3e-6));
            zoo_check::assert_approx_eq(&dx, &dx_burn, burn::tensor::Tolerance::absolute(2e-5));
        }
    }
}
