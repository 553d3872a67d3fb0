//! The same forward passes on wgpu and on flex (CPU) agree. Runs in CI on a software Vulkan
//! driver (Mesa lavapipe), so GPU code paths are exercised without a GPU:
//! `cargo test -p zoo-eval --features wgpu --test wgpu_parity`.

#![cfg(feature = "wgpu")]

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::{Device, Distribution, Tensor};
use zoo_mlp::MlpConfig;

fn gpu() -> Device {
    zoo_eval::parse_device("wgpu").expect("wgpu compiled in")
}

fn max_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    let a: Vec<f32> = a.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
    let b: Vec<f32> = b.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
    assert_eq!(a.len(), b.len());
    a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn matmul_and_activations_match() {
    let cpu = Device::flex();
    cpu.seed(1);
    let a = Tensor::<2>::random([64, 96], Distribution::Normal(0.0, 1.0), &cpu);
    let b = Tensor::<2>::random([96, 48], Distribution::Normal(0.0, 1.0), &cpu);
    let f = |a: Tensor<2>, b: Tensor<2>| burn::tensor::activation::gelu(a.matmul(b)).exp().log();
    let on_cpu = f(a.clone(), b.clone());
    let g = gpu();
    let on_gpu = f(a.to_device(&g), b.to_device(&g));
    let d = max_diff(on_cpu, on_gpu.to_device(&cpu));
    assert!(d < 1e-3, "matmul+gelu differ by {d}");
}

#[test]
fn mlp_forward_matches() {
    let cpu = Device::flex();
    cpu.seed(2);
    let model = MlpConfig::new().with_hidden(32).init(&cpu);
    let x = Tensor::<2>::random([17, 2], Distribution::Uniform(-1.0, 1.0), &cpu);
    let on_cpu = model.forward(x.clone());
    let g = gpu();
    let on_gpu = model.to_device(&g).forward(x.to_device(&g));
    let d = max_diff(on_cpu, on_gpu.to_device(&cpu));
    assert!(d < 1e-5, "MLP logits differ by {d}");
}

#[test]
fn conv2d_matches() {
    let cpu = Device::flex();
    cpu.seed(3);
    let conv = Conv2dConfig::new([3, 8], [3, 3])
        .with_padding(PaddingConfig2d::Same)
        .init(&cpu);
    let x = Tensor::<4>::random([2, 3, 16, 16], Distribution::Normal(0.0, 1.0), &cpu);
    let on_cpu = conv.forward(x.clone());
    let g = gpu();
    let on_gpu = conv.to_device(&g).forward(x.to_device(&g));
    let d = max_diff(on_cpu, on_gpu.to_device(&cpu));
    assert!(d < 1e-4, "conv2d differs by {d}");
}
