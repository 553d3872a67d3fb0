//! zoo-resnet against timm: narrow ResNet-18 (basic blocks) and ResNet-26 (bottlenecks) with
//! BatchNorm-ReLU, loaded from timm state dicts (`weights/reference/resnet_fixtures.py`), give
//! timm's evaluation-mode logits, unfused and with every batch norm folded into its convolution
//! (`ResNet::fuse`). On the CPU the convolutions run through `zoo-kernels`' fused conv, so this
//! also checks it inside a whole network. In training mode both give timm's logits and move
//! every BN's running mean and variance as PyTorch does (the variance towards the unbiased batch
//! variance).

use burn::prelude::*;
use zoo_check::max_abs_diff;
use zoo_resnet::{Depth, ResNetConfig, Stem};
use zoo_weights::fixture::{Fixture, path};
use zoo_weights::import::{KeyMap, load_safetensors, load_safetensors_bytes};
use zoo_weights::tensors::{module_tensors, read_safetensors, to_safetensors};

/// timm's keys (`r18.layer1.0.bn1.weight`, `r18.layer2.0.downsample.1.weight`) as our module
/// paths (`layer1.0.bn1.norm.gamma`, `layer2.0.downsample.norm.norm.gamma`).
fn timm_keys(prefix: &str) -> KeyMap {
    let remap = |from: &str, to: &str| (from.to_string(), to.to_string());
    KeyMap {
        only: Some("^(conv1|bn1|layer[1-4]|fc)\\.".into()),
        remaps: vec![
            remap(&format!("^{prefix}\\.(.*)$"), "$1"),
            remap("^(.*)\\.downsample\\.0\\.(.*)$", "$1.downsample.conv.$2"),
            remap("^(.*)\\.downsample\\.1\\.(.*)$", "$1.downsample.norm.norm.$2"),
            remap("^(.*\\.)?bn([1-3])\\.(.*)$", "${1}bn$2.norm.$3"),
        ],
        from_pytorch: true,
        skip_enum_variants: true,
        ..KeyMap::default()
    }
}

fn config(depth: Depth) -> ResNetConfig {
    ResNetConfig {
        depth,
        stem: Stem::Imagenet,
        base_width: 4,
        classes: 5,
        ..ResNetConfig::default()
    }
}

#[test]
fn narrow_resnets_match_timm() {
    let device = Device::flex();
    let file = path("resnet_timm.safetensors");
    let io = Fixture::committed("resnet_timm.safetensors").unwrap();
    let x: Tensor<4> = io.tensor("io.x", &device);
    for (name, depth) in [("r18", Depth::R18), ("r26", Depth::R26)] {
        let net = config(depth).init(&device).unwrap();
        let net = load_safetensors(net, &file, &timm_keys(name)).unwrap().valid();
        for (form, net) in [("unfused", net.clone()), ("fused", net.fuse())] {
            let y = net.forward(x.clone());
            let got = y.into_data().try_to_vec::<f32>().unwrap();
            let (d, scale) = max_abs_diff(&got, io.get(&format!("io.{name}")).1);
            assert!(
                d < 1e-4 * scale.max(1.0),
                "{name} {form}: logits differ from timm's by {d} (scale {scale})"
            );
        }
    }
}

/// One training-mode forward: timm's logits (normalised by the batch statistics), and every BN's
/// running statistics after it as PyTorch leaves them. The expected statistics are loaded into a
/// second net through the same key map, so both sides are compared under our module paths.
#[test]
fn training_mode_forward_moves_the_running_statistics_as_pytorch() {
    let device = Device::flex().autodiff();
    let file = path("resnet_timm.safetensors");
    let bytes = std::fs::read(&file).unwrap();
    let all = read_safetensors(&bytes, &file).unwrap();
    let io = Fixture::committed("resnet_timm.safetensors").unwrap();
    let x: Tensor<4> = io.tensor("io.x", &device);
    for (name, depth) in [("r18", Depth::R18), ("r26", Depth::R26)] {
        let net = load_safetensors(config(depth).init(&device).unwrap(), &file, &timm_keys(name))
            .unwrap()
            .train();
        let y = net.forward(x.clone());
        let (d, scale) = max_abs_diff(&zoo_check::values(y), io.get(&format!("train.{name}.logits")).1);
        assert!(
            d < 1e-4 * scale.max(1.0),
            "{name}: training-mode logits differ from timm's by {d} (scale {scale})"
        );

        // The state dict with timm's post-step running statistics in place of the initial ones.
        let after: Vec<_> = all
            .iter()
            .filter(|t| t.name.starts_with(&format!("{name}.")))
            .map(|t| {
                let mut t = t.clone();
                if t.name.contains(".running_") {
                    t.values = io.get(&format!("train.{}", t.name)).1.to_vec();
                }
                t
            })
            .collect();
        let want = load_safetensors_bytes(
            config(depth).init(&Device::flex()).unwrap(),
            to_safetensors(&after, false).unwrap(),
            &file,
            &timm_keys(name),
        )
        .unwrap();
        // `valid()` folds each norm's pending update into its state (Burn's RunningState keeps
        // a thread's last update aside until it is read or folded).
        let (got, want) = (
            module_tensors(&net.valid()).unwrap(),
            module_tensors(&want).unwrap(),
        );
        let mut compared = 0;
        for (g, w) in got.iter().zip(&want).filter(|(g, _)| g.name.contains("running_")) {
            assert_eq!(g.name, w.name);
            let (d, scale) = max_abs_diff(&g.values, &w.values);
            assert!(
                d < 1e-5 * scale.max(1.0),
                "{name} {}: differs from PyTorch's by {d}",
                g.name
            );
            compared += 1;
        }
        // Two statistics per batch norm: r18 has 20 norms, r26 29.
        let norms = if name == "r18" { 20 } else { 29 };
        assert_eq!(compared, 2 * norms, "{name}");
    }
}
