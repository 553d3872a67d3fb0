//! A small multilayer perceptron classifier.
//!
//! This is not a paper family: it is the reference workload of the shared training loop
//! (`zoo-train`), the `tour` binary and their tests. It is deliberately small (a few thousand
//! parameters) so that a whole train/resume/evaluate cycle runs in seconds on a CPU.
#![forbid(unsafe_code)]

use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::gelu;
use serde::{Deserialize, Serialize};

/// Shape of the perceptron. Defaults fit the 2-D spiral dataset of `zoo-datasets`; every field
/// may be omitted from a config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MlpConfig {
    /// Number of input features.
    pub inputs: usize,
    /// Width of every hidden layer.
    pub hidden: usize,
    /// Number of hidden layers (each Linear + GELU).
    pub depth: usize,
    /// Number of classes (width of the output layer).
    pub classes: usize,
    /// Dropout probability after every hidden activation (training only).
    pub dropout: f64,
}

impl Default for MlpConfig {
    fn default() -> Self {
        Self {
            inputs: 2,
            hidden: 64,
            depth: 2,
            classes: 3,
            dropout: 0.0,
        }
    }
}

impl MlpConfig {
    /// The default configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// With `hidden` units per layer.
    pub fn with_hidden(mut self, hidden: usize) -> Self {
        self.hidden = hidden;
        self
    }

    /// Builds the model with freshly initialised weights on `device`.
    pub fn init(&self, device: &Device) -> Mlp {
        let mut hidden = Vec::with_capacity(self.depth);
        let mut width = self.inputs;
        for _ in 0..self.depth {
            hidden.push(LinearConfig::new(width, self.hidden).init(device));
            width = self.hidden;
        }
        Mlp {
            hidden,
            head: LinearConfig::new(width, self.classes).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

/// `depth` x (Linear, GELU, Dropout), then a linear classifier.
#[derive(Module, Debug)]
pub struct Mlp {
    hidden: Vec<Linear>,
    head: Linear,
    dropout: Dropout,
}

impl Mlp {
    /// Class logits `[batch, classes]` for inputs `[batch, inputs]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let x = self
            .hidden
            .iter()
            .fold(x, |x, layer| self.dropout.forward(gelu(layer.forward(x))));
        self.head.forward(x)
    }

    /// Mean cross-entropy of the logits against integer class targets.
    pub fn loss(&self, logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
        zoo_kernels::cross_entropy(logits, targets, 0.0)
    }
}

impl Mlp {
    /// Number of classes (width of the output layer).
    pub fn classes(&self) -> usize {
        self.head.weight.dims()[1]
    }
}
