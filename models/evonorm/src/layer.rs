//! The EvoNorm layer.

use crate::config::{Activation, Convention, EvoNormConfig, EvoNormError, EvoNormKind};
use burn::module::{Flag, Module, Param, RunningState};
use burn::prelude::*;
use zoo_kernels::{EvoNormVariant, Spread, channel_swish, gelu, group_spread, relu, silu};

/// Settings fixed at construction.
#[derive(Debug, Clone, PartialEq)]
struct Settings {
    kind: EvoNormKind,
    channels: usize,
    groups: usize,
    eps: f64,
    momentum: f64,
    convention: Convention,
    apply_act: bool,
    normalizes: bool,
    activation: Activation,
}

/// An EvoNorm layer over NCHW inputs. Parameter names follow timm's state dict (`weight` = gamma,
/// `bias` = beta, `v`, `running_var`), so timm weights map one to one.
#[derive(Module, Debug)]
pub struct EvoNorm {
    /// Per-channel scale gamma.
    pub weight: Param<Tensor<1>>,
    /// Per-channel shift beta.
    pub bias: Param<Tensor<1>>,
    /// Per-channel `v` of B0/S0/S0a (present when the activation is applied).
    pub v: Option<Param<Tensor<1>>>,
    /// Running variance of the B variants (persisted with the weights, not trained).
    pub running_var: Option<RunningState<Tensor<1>>>,
    /// Training behaviour flag (batch statistics and running-variance updates).
    pub training: Param<Flag>,
    #[module(skip)]
    settings: Settings,
}

impl EvoNormConfig {
    /// Builds the layer on `device`; fails when the channels cannot be grouped (timm convention)
    /// or a value is out of range.
    pub fn init(&self, device: &Device) -> Result<EvoNorm, EvoNormError> {
        self.validate()?;
        let c = self.channels;
        let groups = if self.kind.is_batch() || !self.normalizes() {
            1
        } else {
            self.effective_groups()?
        };
        let gamma = if self.init_zero { 0.0 } else { 1.0 };
        Ok(EvoNorm {
            weight: Param::from_tensor(Tensor::full([c], gamma, device)),
            bias: Param::from_tensor(Tensor::zeros([c], device)),
            v: (self.kind.has_v() && self.apply_act).then(|| Param::from_tensor(Tensor::ones([c], device))),
            running_var: self
                .kind
                .is_batch()
                .then(|| RunningState::new(Tensor::ones([c], device))),
            training: Param::from_bool(true),
            settings: Settings {
                kind: self.kind,
                channels: c,
                groups,
                eps: self.effective_eps(),
                momentum: self.momentum,
                convention: self.convention,
                apply_act: self.apply_act,
                normalizes: self.normalizes(),
                activation: self.activation,
            },
        })
    }
}

/// `sqrt(var + eps)` (biased) or `sqrt(mean(x^2) + eps)` over each plane of `x` `[N, C, H, W]`,
/// as `[N, C, 1, 1]` (the instance statistics of the B variants).
fn instance_spread(x: Tensor<4>, spread: Spread, eps: f64) -> Tensor<4> {
    let [n, c, _, _] = x.dims();
    group_spread(x, c, spread, eps).reshape([n, c, 1, 1])
}

impl EvoNorm {
    /// The variant.
    pub fn kind(&self) -> EvoNormKind {
        self.settings.kind
    }

    /// Number of groups used by the S variants (1 for B variants).
    pub fn groups(&self) -> usize {
        self.settings.groups
    }

    /// Epsilon in use.
    pub fn eps(&self) -> f64 {
        self.settings.eps
    }

    /// Applies the layer to `x` `[N, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, c, _, _] = x.dims();
        assert_eq!(
            c, self.settings.channels,
            "EvoNorm over {} channels got {c}",
            self.settings.channels
        );
        let x = match self.fused(x) {
            Ok(y) => return y,
            Err(x) => x,
        };
        let y = if self.settings.normalizes {
            self.normalize(x)
        } else {
            x
        };
        y * self.weight.val().reshape([1, c, 1, 1]) + self.bias.val().reshape([1, c, 1, 1])
    }

    /// B0 and S0/S0a (with v) at inference on the CPU as two passes over the data
    /// ([`zoo_kernels::evonorm`]); otherwise `x` back as the error. Takes `x` by value so that
    /// the kernel works in its buffer instead of a copy.
    // The same tensor handle either way (see zoo_kernels::evonorm).
    #[allow(clippy::result_large_err)]
    fn fused(&self, x: Tensor<4>) -> Result<Tensor<4>, Tensor<4>> {
        let s = &self.settings;
        let v = match &self.v {
            Some(v) if s.normalizes && zoo_kernels::evonorm_fused(&x) => v,
            _ => return Err(x),
        };
        let variant = match (s.kind, &self.running_var) {
            (EvoNormKind::B0, Some(running)) => EvoNormVariant::B0 {
                running_var: running.value(),
            },
            (EvoNormKind::S0 | EvoNormKind::S0a, _) => EvoNormVariant::S0 { groups: s.groups },
            _ => return Err(x),
        };
        let params = [v.val(), self.weight.val(), self.bias.val()];
        zoo_kernels::evonorm(x, variant, params, s.eps)
    }

    fn normalize(&self, x: Tensor<4>) -> Tensor<4> {
        let s = &self.settings;
        match s.kind {
            EvoNormKind::B0 | EvoNormKind::B1 | EvoNormKind::B2 => self.batch_core(x),
            kind => {
                // S2/S2a divide by the groups' root mean square, the other S variants by their
                // standard deviation.
                let spread = if matches!(kind, EvoNormKind::S2 | EvoNormKind::S2a) {
                    Spread::Rms
                } else {
                    Spread::Std
                };
                let d = self.spread(x.clone(), spread);
                let num = match kind {
                    EvoNormKind::S0 => self.swish_v(x),
                    EvoNormKind::S0a if s.apply_act => self.swish_v(x),
                    EvoNormKind::S1 | EvoNormKind::S1a | EvoNormKind::S2 | EvoNormKind::S2a
                        if s.apply_act =>
                    {
                        self.act(x)
                    }
                    _ => x,
                };
                self.group_divide(num, d)
            }
        }
    }

    /// `x / max(batch std, right)` for B0/B1/B2; updates the running variance in training.
    fn batch_core(&self, x: Tensor<4>) -> Tensor<4> {
        let s = &self.settings;
        let [n, c, h, w] = x.dims();
        let running = self
            .running_var
            .as_ref()
            .expect("B variants have a running variance");
        let training = x.device().is_autodiff() && self.training.is_enabled();
        let var = if training {
            let flat = x.clone().swap_dims(0, 1).reshape([c, n * h * w]);
            let mean = flat.clone().mean_dim(1);
            let var = (flat - mean).square().mean_dim(1).reshape([c]);
            let m = s.momentum;
            let count = (n * h * w) as f64;
            let correction = match s.convention {
                Convention::Timm if count > 1.0 => count / (count - 1.0),
                _ => 1.0,
            };
            let old = running.value_sync().to_device(&x.device());
            let new = old.mul_scalar(1.0 - m) + var.clone().detach().mul_scalar(m * correction);
            running.update(new.detach());
            var
        } else {
            running.value().to_device(&x.device())
        };
        let left = var.add_scalar(s.eps).sqrt();
        let right = match s.kind {
            EvoNormKind::B0 => {
                let v = self
                    .v
                    .as_ref()
                    .expect("B0 with activation has v")
                    .val()
                    .reshape([1, c, 1, 1]);
                x.clone() * v + instance_spread(x.clone(), Spread::Std, s.eps)
            }
            EvoNormKind::B1 => (x.clone().add_scalar(1.0)) * instance_spread(x.clone(), Spread::Rms, s.eps),
            _ => instance_spread(x.clone(), Spread::Rms, s.eps) - x.clone(),
        };
        // x / max(left, right), one pass (and one backward pass) on the CPU.
        zoo_kernels::max_divide(x, left, right)
    }

    /// `x sigmoid(v x)` (one vectorised pass for inference on the CPU backend).
    fn swish_v(&self, x: Tensor<4>) -> Tensor<4> {
        let v = self.v.as_ref().expect("S0 with activation has v").val();
        channel_swish(x, v)
    }

    fn act(&self, x: Tensor<4>) -> Tensor<4> {
        match self.settings.activation {
            Activation::Silu => silu(x),
            Activation::Relu => relu(x),
            Activation::Gelu => gelu(x),
        }
    }

    fn grouped(&self, x: Tensor<4>) -> Tensor<3> {
        let [n, c, h, w] = x.dims();
        let g = self.settings.groups;
        x.reshape([n, g, (c / g) * h * w])
    }

    /// The groups' spread `[N, G, 1]` ([`group_spread`]: two passes and one back on the CPU).
    fn spread(&self, x: Tensor<4>, spread: Spread) -> Tensor<3> {
        let [n, _, _, _] = x.dims();
        let g = self.settings.groups;
        group_spread(x, g, spread, self.settings.eps).reshape([n, g, 1])
    }

    /// `num / d` with `d` `[N, G, 1]` broadcast over each group.
    fn group_divide(&self, num: Tensor<4>, d: Tensor<3>) -> Tensor<4> {
        let dims = num.dims();
        (self.grouped(num) / d).reshape(dims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    /// A layer fresh from `init` (not switched to `.valid()`) gives the `.valid()` layer's fused
    /// inference; one whose parameters need gradients is not routed to the fused form.
    #[test]
    fn fused_inference_runs_on_a_layer_not_switched_to_valid() {
        let device = Device::flex();
        device.seed(3);
        let x = Tensor::<4>::random([2, 8, 5, 5], Distribution::Normal(0.5, 2.0), &device);
        for kind in [EvoNormKind::B0, EvoNormKind::S0, EvoNormKind::S0a] {
            let layer = EvoNormConfig::new(kind, 8).with_groups(4).init(&device).unwrap();
            let d = (layer.forward(x.clone()) - layer.clone().valid().forward(x.clone()))
                .abs()
                .max()
                .into_scalar::<f32>();
            assert!(d == 0.0, "EvoNorm-{}: {d}", kind.name());
            // Parameters on an autodiff device that need gradients, the input without autodiff:
            // the differentiable ops run (the fused form has no backward pass).
            let ad = layer.to_device(&device.clone().autodiff()).train();
            let y = ad.forward(x.clone());
            assert_eq!(y.dims(), [2, 8, 5, 5]);
        }
    }
}
