//! The same forward passes on wgpu and on flex (CPU) agree. Runs in CI on a software Vulkan
//! driver (Mesa lavapipe), so GPU code paths are exercised without a GPU:
//! `cargo test --profile gpu-ci -p zoo-gpu-tests --features wgpu` (see this crate's lib.rs).

#![cfg(feature = "wgpu")]

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::{Device, Distribution, Tensor};
use zoo_mlp::MlpConfig;

fn gpu() -> Device {
    zoo_eval::parse_device("wgpu").expect("wgpu compiled in")
}

/// max |a - b| (both on the CPU), failing on a NaN or an infinity on either side.
fn max_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    zoo_check::tensor_max_abs_diff(a, b).0
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

#[test]
fn evonorm_and_resnet_forward_match() {
    use zoo_evonorm::{EvoNormConfig, EvoNormKind};
    let cpu = Device::flex();
    cpu.seed(4);
    let x = Tensor::<4>::random([2, 16, 6, 6], Distribution::Normal(0.5, 2.0), &cpu);
    let g = gpu();
    for kind in EvoNormKind::ALL {
        let layer = EvoNormConfig::new(kind, 16).with_groups(4).init(&cpu).unwrap();
        // Evaluation mode (running variance for B variants).
        let d = max_diff(
            layer.forward(x.clone()),
            layer
                .clone()
                .to_device(&g)
                .forward(x.clone().to_device(&g))
                .to_device(&cpu),
        );
        assert!(d < 1e-4, "EvoNorm-{} eval differs by {d}", kind.name());
        // Training mode (batch statistics) on the autodiff devices.
        let ad = cpu.clone().autodiff();
        let gad = g.clone().autodiff();
        // `autodiff()` on the input: `to_device` onto the autodiff form of the tensor's own device
        // keeps a tensor without autodiff in Burn 0.22, and the layers would take their
        // evaluation path.
        let t = layer.clone().to_device(&ad).train();
        let on_cpu = t.forward(x.clone().autodiff()).without_autodiff();
        let on_gpu = layer
            .to_device(&gad)
            .train()
            .forward(x.clone().to_device(&g).autodiff())
            .without_autodiff();
        let d = max_diff(on_cpu, on_gpu.to_device(&cpu));
        assert!(d < 1e-4, "EvoNorm-{} train differs by {d}", kind.name());
    }
    let cfg = zoo_resnet::ResNetConfig {
        stem: zoo_resnet::Stem::Cifar,
        base_width: 8,
        classes: 10,
        norm: zoo_resnet::NormConfig {
            kind: zoo_resnet::NormKind::Evo(EvoNormKind::S0),
            groups: 4,
            ..Default::default()
        },
        ..Default::default()
    };
    let net = cfg.init(&cpu).unwrap();
    let img = Tensor::<4>::random([2, 3, 16, 16], Distribution::Normal(0.0, 1.0), &cpu);
    let d = max_diff(
        net.forward(img.clone()),
        net.to_device(&g).forward(img.to_device(&g)).to_device(&cpu),
    );
    assert!(d < 1e-3, "ResNet-18 EvoNorm-S0 logits differ by {d}");
}

#[test]
fn ponita_dense_and_sparse_forward_match() {
    use zoo_ponita::{Graph, NodeInputs, PonitaConfig};
    let cpu = Device::flex();
    cpu.seed(5);
    let cfg = PonitaConfig {
        output_scalars: 1,
        hidden: 16,
        basis_dim: 16,
        layers: 2,
        num_ori: 8,
        layer_scale: Some(1.0),
        radius: Some(3.0),
        ..PonitaConfig::default()
    };
    let net = cfg.init(&cpu).unwrap();
    let pos = Tensor::<3>::random([2, 4, 3], Distribution::Normal(0.0, 1.0), &cpu);
    let s = Tensor::<2>::random([8, 1], Distribution::Normal(0.0, 1.0), &cpu);
    let v = Tensor::<3>::random([8, 1, 3], Distribution::Normal(0.0, 1.0), &cpu);
    let g = gpu();
    let (src, dst): (Vec<usize>, Vec<usize>) = (0..8)
        .flat_map(|i| (0..8).filter(move |j| i / 4 == j / 4).map(move |j| (j, i)))
        .unzip();
    let batch: Vec<usize> = (0..8).map(|i| i / 4).collect();
    let run = |dev: &Device, dense: bool| {
        let p = pos.clone().to_device(dev);
        let graph = if dense {
            Graph::fully_connected(p)
        } else {
            Graph::from_edges(p.reshape([8, 3]), &src, &dst, &batch)
        };
        let inputs = NodeInputs {
            scalars: Some(s.clone().to_device(dev)),
            vectors: Some(v.clone().to_device(dev)),
        };
        net.clone().to_device(dev).forward(&graph, &inputs)
    };
    for dense in [true, false] {
        let (a, b) = (run(&cpu, dense), run(&g, dense));
        let ds = max_diff(a.scalars, b.scalars.to_device(&cpu));
        let dv = max_diff(a.vectors, b.vectors.to_device(&cpu));
        assert!(
            ds < 1e-4 && dv < 1e-4,
            "PONITA (dense {dense}) differs: scalars {ds}, vectors {dv}"
        );
    }
}

#[test]
fn clip_towers_and_loss_match() {
    let cpu = Device::flex();
    cpu.seed(5);
    let model = zoo_clip::ClipConfig::tiny().init(&cpu).unwrap();
    let images = Tensor::<4>::random([3, 3, 32, 32], Distribution::Normal(0.0, 1.0), &cpu);
    let tok = zoo_clip::Tokenizer::new();
    let texts: Vec<String> = ["a red circle.", "a small blue square on the left.", ""]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let ids = zoo_clip::zeroshot::tokenize_batch(&tok, &texts, 77, &cpu);
    let g = gpu();
    let on_gpu = model.clone().to_device(&g);
    let d = max_diff(
        model.encode_image(images.clone()),
        on_gpu.encode_image(images.clone().to_device(&g)).to_device(&cpu),
    );
    assert!(d < 1e-3, "image features differ by {d}");
    let d = max_diff(
        model.encode_text(ids.clone()),
        on_gpu.encode_text(ids.clone().to_device(&g)).to_device(&cpu),
    );
    assert!(d < 1e-3, "text features differ by {d}");
    let d = max_diff(
        model.contrastive_loss(images.clone(), ids.clone()),
        on_gpu
            .contrastive_loss(images.to_device(&g), ids.to_device(&g))
            .to_device(&cpu),
    );
    assert!(d < 1e-3, "loss differs by {d}");
}

#[test]
fn promptsrc_losses_match() {
    let cpu = Device::flex();
    cpu.seed(6);
    let tok = zoo_clip::Tokenizer::new();
    let config = zoo_promptsrc::PromptSrcConfig {
        text_depth: 2,
        vision_depth: 2,
        ..Default::default()
    };
    let clip = zoo_clip::ClipConfig::tiny().init(&cpu).unwrap();
    let model = config.init(clip, &tok, &cpu).unwrap();
    let names: Vec<String> = ["red circle", "blue square"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let images = Tensor::<4>::random([2, 3, 32, 32], Distribution::Normal(0.0, 1.0), &cpu);
    let frozen = Tensor::<2>::random([2, 32], Distribution::Normal(0.0, 1.0), &cpu);
    let labels = Tensor::<1, burn::tensor::Int>::from_data([1i64, 0], &cpu);
    let prompts = zoo_promptsrc::ClassPrompts::new(&model, &tok, &names, &cpu);
    let on_cpu = model.losses(images.clone(), labels.clone(), &prompts, &frozen);
    let g = gpu();
    let on_gpu = model.clone().to_device(&g);
    let gp = zoo_promptsrc::ClassPrompts::new(&on_gpu, &tok, &names, &g);
    let l = on_gpu.losses(
        images.to_device(&g),
        labels.to_device(&g),
        &gp,
        &frozen.to_device(&g),
    );
    let d = max_diff(on_cpu.logits, l.logits.to_device(&cpu));
    assert!(d < 1e-3, "prompted logits differ by {d}");
    let d = max_diff(on_cpu.total, l.total.to_device(&cpu));
    assert!(d < 1e-3, "PromptSRC loss differs by {d}");
}

#[test]
fn yolov9_dual_and_fused_outputs_match() {
    let cpu = Device::flex();
    cpu.seed(8);
    // yolov9-t with both heads (PGI), unfused (Burn's SiLU on wgpu, ours on the CPU) and fused.
    // Everything on the CPU is computed before a copy moves: a module's clone shares its BN
    // running statistics (RunningState), so moving the clone moves them for the original too.
    let model = zoo_yolov9::YoloConfig::from_name("yolov9-t", 3)
        .unwrap()
        .init(&cpu)
        .unwrap();
    let x = Tensor::<4>::random([1, 3, 64, 96], Distribution::Default, &cpu);
    let on_cpu = model.forward(x.clone());
    let fused = model.clone().remove_pgi().fuse();
    let want = fused.predict(x.clone());
    let g = gpu();
    let on_gpu = model.to_device(&g).forward(x.clone().to_device(&g));
    let (main, aux) = (on_cpu.decode(), zoo_yolov9::decode(&on_cpu.aux.unwrap()));
    let (d, s) = zoo_check::tensor_max_abs_diff(on_gpu.decode().to_device(&cpu), main);
    assert!(d < 1e-4 * s, "main output differs by {d} (scale {s})");
    let d = max_diff(aux, zoo_yolov9::decode(&on_gpu.aux.unwrap()).to_device(&cpu));
    assert!(d < 1e-4 * s, "auxiliary output differs by {d}");
    let d = max_diff(want, fused.to_device(&g).predict(x.to_device(&g)).to_device(&cpu));
    assert!(d < 1e-4 * s, "fused GELAN output differs by {d}");
}
