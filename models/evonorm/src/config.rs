//! Configuration of an EvoNorm layer: variant, convention and their defaults.

use serde::{Deserialize, Serialize};

/// The EvoNorm variants.
///
/// With per-channel `gamma` (init 1), `beta` (init 0) and `v` (init 1), biased variances, `eps`,
/// `G` groups, `act` the activation (SiLU by default) and `y = core * gamma + beta`:
///
/// | variant | core (training; in evaluation the batch variance is the running variance) |
/// |---|---|
/// | B0 | `x / max(sqrt(var_{N,H,W}(x) + eps), v x + sqrt(var_{H,W}(x) + eps))` (paper, eq. in Table 1) |
/// | B1 | `x / max(sqrt(var_{N,H,W}(x) + eps), (x + 1) sqrt(mean_{H,W}(x^2) + eps))` |
/// | B2 | `x / max(sqrt(var_{N,H,W}(x) + eps), sqrt(mean_{H,W}(x^2) + eps) - x)` |
/// | S0 | `x sigmoid(v x) / sqrt(var_{H,W,C/G}(x) + eps)` (paper, Table 1) |
/// | S0a | as S0, but the group std is taken before the activation and applied even without it |
/// | S1, S1a | `act(x) / sqrt(var_{H,W,C/G}(x) + eps)` |
/// | S2, S2a | `act(x) / sqrt(mean_{H,W,C/G}(x^2) + eps)` |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EvoNormKind {
    /// Batch-dependent, with `v` and a running variance.
    B0,
    /// Batch-dependent, instance RMS times `(x + 1)`.
    B1,
    /// Batch-dependent, instance RMS minus `x`.
    B2,
    /// Sample-based, grouped, with `v` (swish-like numerator).
    S0,
    /// S0 that always normalises (timm).
    S0a,
    /// Sample-based, activation over group std.
    S1,
    /// S1 that always normalises (timm).
    S1a,
    /// Sample-based, activation over group RMS.
    S2,
    /// S2 that always normalises (timm).
    S2a,
}

impl EvoNormKind {
    /// Every variant.
    pub const ALL: [EvoNormKind; 9] = [
        Self::B0,
        Self::B1,
        Self::B2,
        Self::S0,
        Self::S0a,
        Self::S1,
        Self::S1a,
        Self::S2,
        Self::S2a,
    ];

    /// Batch-dependent (keeps a running variance).
    pub fn is_batch(self) -> bool {
        matches!(self, Self::B0 | Self::B1 | Self::B2)
    }

    /// Has the per-channel `v` parameter (when the activation is applied).
    pub fn has_v(self) -> bool {
        matches!(self, Self::B0 | Self::S0 | Self::S0a)
    }

    /// One of timm's "a" variants, which normalise even with `apply_act = false`.
    pub fn always_normalizes(self) -> bool {
        matches!(self, Self::S0a | Self::S1a | Self::S2a)
    }

    /// Lower-case name as in timm's factory (`evonormb0`...) without the prefix: `b0`, `s0a`, ...
    pub fn name(self) -> &'static str {
        match self {
            Self::B0 => "b0",
            Self::B1 => "b1",
            Self::B2 => "b2",
            Self::S0 => "s0",
            Self::S0a => "s0a",
            Self::S1 => "s1",
            Self::S1a => "s1a",
            Self::S2 => "s2",
            Self::S2a => "s2a",
        }
    }

    /// Parses `b0`, `s0a`, ... (case-insensitive, optional `evonorm-`/`evonorm` prefix).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.to_ascii_lowercase();
        let s = s.trim_start_matches("evonorm").trim_start_matches(['-', '_']);
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// Which reference's constants and rules to follow.
///
/// | | timm (default) | TensorFlow reference |
/// |---|---|---|
/// | eps | 1e-3 for B0 and the "a" variants, else 1e-5 | 1e-5 |
/// | running variance update | `rv (1 - m) + var_b m n / (n - 1)` (unbiased, n = N H W) | `rv (1 - m) + var_b m` (biased) |
/// | groups not dividing C | error | decrement G until it divides C |
/// | `apply_act = false` | affine only, except S0a/S1a/S2a, which still normalise | affine only |
///
/// `m` is the momentum (0.1 in both: TF's decay 0.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Convention {
    /// timm `evo_norm.py`.
    #[default]
    Timm,
    /// tensorflow/tpu `resnet_model.py`.
    Tf,
}

/// Activation of S1/S2 (timm's `act_layer`, SiLU by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// `x sigmoid(x)`.
    #[default]
    Silu,
    /// `max(x, 0)`.
    Relu,
    /// Exact GELU.
    Gelu,
}

/// An EvoNorm layer's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvoNormConfig {
    /// Variant.
    pub kind: EvoNormKind,
    /// Number of channels C.
    pub channels: usize,
    /// Apply the normalization-activation (false: affine only, or normalise only for timm's "a"
    /// variants).
    #[serde(default = "yes")]
    pub apply_act: bool,
    /// Number of groups G for the S variants (ignored when `group_size` is set).
    #[serde(default = "groups")]
    pub groups: usize,
    /// Channels per group; when set, G = C / group_size (must divide).
    #[serde(default)]
    pub group_size: Option<usize>,
    /// Epsilon; `None` takes the convention's default for the variant.
    #[serde(default)]
    pub eps: Option<f64>,
    /// Running-variance rate (PyTorch-style momentum; TF decay = 1 - momentum).
    #[serde(default = "momentum")]
    pub momentum: f64,
    /// Reference convention.
    #[serde(default)]
    pub convention: Convention,
    /// Initialise gamma to 0 (TF `init_zero`, for the last norm of a residual block).
    #[serde(default)]
    pub init_zero: bool,
    /// Activation of S1/S2.
    #[serde(default)]
    pub activation: Activation,
}

fn yes() -> bool {
    true
}
fn groups() -> usize {
    32
}
fn momentum() -> f64 {
    0.1
}

/// A configuration that cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvoNormError {
    /// Channel count does not split into the groups (timm convention).
    #[error(
        "EvoNorm-{kind}: {channels} channels cannot be split into {groups} groups (timm convention requires \
         groups to divide the channels; use a group size or the TF convention, which reduces the group count)"
    )]
    Groups {
        /// Variant name.
        kind: &'static str,
        /// C.
        channels: usize,
        /// G.
        groups: usize,
    },
    /// Other invalid value.
    #[error("EvoNorm: {0}")]
    Invalid(String),
}

impl EvoNormConfig {
    /// A layer of `kind` over `channels` channels with the timm defaults.
    pub fn new(kind: EvoNormKind, channels: usize) -> Self {
        Self {
            kind,
            channels,
            apply_act: true,
            groups: 32,
            group_size: None,
            eps: None,
            momentum: 0.1,
            convention: Convention::Timm,
            init_zero: false,
            activation: Activation::Silu,
        }
    }

    /// With `apply_act`.
    pub fn with_apply_act(mut self, apply_act: bool) -> Self {
        self.apply_act = apply_act;
        self
    }

    /// With `groups`.
    pub fn with_groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }

    /// With a group size.
    pub fn with_group_size(mut self, size: usize) -> Self {
        self.group_size = Some(size);
        self
    }

    /// With an explicit epsilon.
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = Some(eps);
        self
    }

    /// With a convention.
    pub fn with_convention(mut self, convention: Convention) -> Self {
        self.convention = convention;
        self
    }

    /// With gamma initialised to zero.
    pub fn with_init_zero(mut self, init_zero: bool) -> Self {
        self.init_zero = init_zero;
        self
    }

    /// With an activation for S1/S2.
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// The epsilon used: explicit, else the convention's default for the variant.
    pub fn effective_eps(&self) -> f64 {
        self.eps.unwrap_or(match self.convention {
            Convention::Tf => 1e-5,
            Convention::Timm => match self.kind {
                EvoNormKind::B0 | EvoNormKind::S0a | EvoNormKind::S1a | EvoNormKind::S2a => 1e-3,
                _ => 1e-5,
            },
        })
    }

    /// The number of groups used, or why the configuration cannot group the channels.
    pub fn effective_groups(&self) -> Result<usize, EvoNormError> {
        let c = self.channels;
        let err = |groups| EvoNormError::Groups {
            kind: self.kind.name(),
            channels: c,
            groups,
        };
        if let Some(size) = self.group_size {
            if size == 0 || !c.is_multiple_of(size) {
                return Err(EvoNormError::Invalid(format!(
                    "group_size {size} does not divide {c} channels"
                )));
            }
            return Ok(c / size);
        }
        if self.groups == 0 {
            return Err(EvoNormError::Invalid("groups must be at least 1".into()));
        }
        match self.convention {
            Convention::Timm if c.is_multiple_of(self.groups) => Ok(self.groups),
            Convention::Timm => Err(err(self.groups)),
            // TF: decrement until it divides (always terminates at 1).
            Convention::Tf => Ok((1..=self.groups.min(c))
                .rev()
                .find(|g| c.is_multiple_of(*g))
                .unwrap_or(1)),
        }
    }

    /// Whether the normalising core runs (else the layer is affine only).
    pub fn normalizes(&self) -> bool {
        self.apply_act || (self.convention == Convention::Timm && self.kind.always_normalizes())
    }

    /// Checks the configuration.
    pub fn validate(&self) -> Result<(), EvoNormError> {
        if self.channels == 0 {
            return Err(EvoNormError::Invalid("channels must be at least 1".into()));
        }
        let eps = self.effective_eps();
        if !(eps.is_finite() && eps > 0.0) {
            return Err(EvoNormError::Invalid(format!("eps must be positive, got {eps}")));
        }
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err(EvoNormError::Invalid(format!(
                "momentum must be in [0, 1], got {}",
                self.momentum
            )));
        }
        if !self.kind.is_batch() && self.normalizes() {
            self.effective_groups()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_conventions() {
        let c = EvoNormConfig::new(EvoNormKind::B0, 64);
        assert_eq!(c.effective_eps(), 1e-3);
        assert_eq!(EvoNormConfig::new(EvoNormKind::S0, 64).effective_eps(), 1e-5);
        assert_eq!(EvoNormConfig::new(EvoNormKind::S2a, 64).effective_eps(), 1e-3);
        assert_eq!(c.with_convention(Convention::Tf).effective_eps(), 1e-5);
    }

    #[test]
    fn groups_follow_the_conventions() {
        let s0 = EvoNormConfig::new(EvoNormKind::S0, 24);
        let err = s0.clone().validate().unwrap_err();
        assert!(
            matches!(
                err,
                EvoNormError::Groups {
                    channels: 24,
                    groups: 32,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("24 channels"));
        assert_eq!(
            s0.clone().with_convention(Convention::Tf).effective_groups(),
            Ok(24)
        );
        let tf = EvoNormConfig::new(EvoNormKind::S0, 48).with_convention(Convention::Tf);
        assert_eq!(tf.effective_groups(), Ok(24));
        assert_eq!(s0.clone().with_groups(8).effective_groups(), Ok(8));
        assert_eq!(s0.clone().with_group_size(4).effective_groups(), Ok(6));
        assert!(s0.with_group_size(5).validate().is_err());
        // Affine-only S0 does not group at all; S0a still does under timm.
        assert!(
            EvoNormConfig::new(EvoNormKind::S0, 24)
                .with_apply_act(false)
                .validate()
                .is_ok()
        );
        assert!(
            EvoNormConfig::new(EvoNormKind::S0a, 24)
                .with_apply_act(false)
                .validate()
                .is_err()
        );
    }

    #[test]
    fn names_round_trip() {
        for k in EvoNormKind::ALL {
            assert_eq!(EvoNormKind::parse(k.name()), Some(k));
            assert_eq!(EvoNormKind::parse(&format!("evonorm-{}", k.name())), Some(k));
        }
        assert_eq!(EvoNormKind::parse("S0A"), Some(EvoNormKind::S0a));
        assert_eq!(EvoNormKind::parse("x1"), None);
    }
}
