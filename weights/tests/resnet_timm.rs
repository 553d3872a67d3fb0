//! zoo-resnet against timm: narrow ResNet-18 (basic blocks) and ResNet-26 (bottlenecks) with
//! BatchNorm-ReLU, loaded from timm state dicts (`weights/reference/resnet_fixtures.py`), give
//! timm's evaluation-mode logits, unfused and with every batch norm folded into its convolution
//! (`ResNet::fuse`). On the CPU the convolutions run through `zoo-kernels`' fused conv, so this
//! also checks it inside a whole network.

use burn::prelude::*;
use zoo_check::max_abs_diff;
use zoo_resnet::{Depth, ResNetConfig, Stem};
use zoo_weights::fixture::{Fixture, path};
use zoo_weights::import::{KeyMap, load_safetensors};

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

#[test]
fn narrow_resnets_match_timm() {
    let device = Device::flex();
    let file = path("resnet_timm.safetensors");
    let io = Fixture::committed("resnet_timm.safetensors").unwrap();
    let x: Tensor<4> = io.tensor("io.x", &device);
    for (name, depth) in [("r18", Depth::R18), ("r26", Depth::R26)] {
        let config = ResNetConfig {
            depth,
            stem: Stem::Imagenet,
            base_width: 4,
            classes: 5,
            ..ResNetConfig::default()
        };
        let net = config.init(&device).unwrap();
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
