//! Learning, asserted in-process: the image classifiers `train-evonorm` and `train-ebv` train
//! (ResNet-18 with BatchNorm, GroupNorm, EvoNorm-B0 or EvoNorm-S0, an FC or an EBV head) fit a
//! fixed batch through their training loss and zoo-kernels' backward passes. The binaries'
//! own runs are too short in a test to leave chance on Shapes-10 (a few dozen steps at width 8
//! stay near 10 %), so learning is shown where it is cheap: 16 images, 4 classes, 25 Adam
//! steps. A wrong gradient anywhere on the path (a convolution's, a norm's, the loss's) keeps
//! the loss from collapsing.

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Int;
use zoo_ebv::{Construction, GeneratorConfig, HeadKind, ImageClassifierConfig, generate};
use zoo_evonorm::EvoNormKind;
use zoo_resnet::{NormConfig, NormKind, ResNetConfig, Stem};

/// Adam steps per run (at 3e-3 every case reaches the label-smoothing floor, 0.35, by 25).
const STEPS: usize = 25;

/// Four classes of 16x16 images: class c is a bright 6x6 square in quadrant c (channel c % 3
/// brighter) on deterministic noise; four images per class at shifted positions.
fn batch(device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let (n, s) = (16, 16);
    let mut pixels = vec![0f32; n * 3 * s * s];
    let mut state = 7u64;
    for v in pixels.iter_mut() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *v = ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.4;
    }
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let (class, shift) = (i % 4, i / 4);
        labels.push(class as i64);
        let (y0, x0) = ((class / 2) * 8 + shift % 2, (class % 2) * 8 + shift / 2);
        for c in 0..3 {
            let value = if c == class % 3 { 1.5 } else { 0.8 };
            for y in y0..y0 + 6 {
                for x in x0..x0 + 6 {
                    pixels[((i * 3 + c) * s + y) * s + x] += value;
                }
            }
        }
    }
    (
        Tensor::from_data(TensorData::new(pixels, [n, 3, s, s]), device),
        Tensor::from_data(TensorData::new(labels, [n]), device),
    )
}

/// Trains a width-8 ResNet-18 classifier with `norm` and `head` for [`STEPS`] Adam steps on [`batch`];
/// returns the first and the last training loss and the last step's training accuracy.
fn fit(norm: NormKind, head: HeadKind) -> (f32, f32, f64) {
    let device = Device::flex().autodiff();
    device.seed(3);
    let (classes, ebv_dim) = (4, 8);
    let basis = (head == HeadKind::Ebv).then(|| {
        let g = GeneratorConfig {
            n: classes,
            d: ebv_dim,
            construction: Construction::Auto,
            ..Default::default()
        };
        generate(&g, &device, |_, _| {}).unwrap().basis
    });
    let mut model = ImageClassifierConfig {
        backbone: ResNetConfig {
            stem: Stem::Cifar,
            base_width: 8,
            norm: NormConfig {
                kind: norm,
                groups: 4,
                ..NormConfig::default()
            },
            ..ResNetConfig::default()
        },
        head,
        classes,
        ebv_dim,
        ..ImageClassifierConfig::default()
    }
    .init(basis, &device)
    .unwrap()
    .train();
    let (x, y) = batch(&device);
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let (mut first, mut last, mut accuracy) = (f32::NAN, f32::NAN, 0.0);
    for step in 0..STEPS {
        let logits = model.forward(x.clone());
        let loss = model.loss(logits.clone(), y.clone());
        last = loss.clone().into_scalar::<f32>();
        if step == 0 {
            first = last;
        }
        let predicted = logits.valid().argmax(1).reshape([16]);
        accuracy = predicted
            .equal(y.clone().valid())
            .int()
            .sum()
            .into_scalar::<i64>() as f64
            / 16.0;
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(3e-3, model, grads);
    }
    (first, last, accuracy)
}

#[test]
fn every_norm_and_head_fits_a_fixed_batch() {
    let cases = [
        (NormKind::Bn, HeadKind::Fc),
        (NormKind::Bn, HeadKind::Ebv),
        (NormKind::Gn, HeadKind::Fc),
        (NormKind::Evo(EvoNormKind::B0), HeadKind::Fc),
        (NormKind::Evo(EvoNormKind::S0), HeadKind::Ebv),
    ];
    for (norm, head) in cases {
        let (first, last, accuracy) = fit(norm, head);
        eprintln!(
            "{} {head:?}: loss {first:.3} -> {last:.3}, training accuracy {accuracy}",
            norm.name()
        );
        assert!(
            first.is_finite() && last < 0.3 * first,
            "{} {head:?}: loss {first} -> {last}",
            norm.name()
        );
        assert_eq!(accuracy, 1.0, "{} {head:?}: training accuracy", norm.name());
    }
}
