//! One benchmark interface for the whole zoo; `weights/reference/bench_torch.py` has the same
//! interface for the PyTorch references, and `weights/reference/bench_compare.py` runs both.
//!
//! ```text
//! bench --model evonorm-s0 --mode train --batch 32 --size 56 --json
//! ```

use burn::prelude::*;
use burn::tensor::Distribution;
use clap::Parser;
use std::process::ExitCode;
use zoo_eval::bench::{BenchResult, peak_rss_mib, quantile, time_iterations};
use zoo_eval::cli::{parse_args, run};
use zoo_evonorm::{EvoNormConfig, EvoNormKind};
use zoo_resnet::NormKind;

/// Time a model of the zoo: forward (infer) or forward + backward (train), median and p10/p90
/// milliseconds per iteration, items per second and peak memory. Models: evonorm-b0,
/// evonorm-s0 (any EvoNorm: `evonorm-<variant>`) on [batch, 64, size, size]; resnet26 (BN-ReLU,
/// ImageNet stem, 1000 classes, random weights, on `batch` size x size images; train = forward, the
/// sum of the logits, backward) and `resnet26-<norm>` with any other norm (gn, evonorm-b0,
/// evonorm-s0a, ...), each also `-fused` (infer only: batch norms folded into their
/// convolutions); ebv-head (the fixed-basis classifier on `batch` features of d = `size` against
/// N = 1000 classes: infer = cosines; train = logits / 0.07, label-smoothed
/// cross-entropy, backward to the features); ebv-generator (one step of the iterative generator,
/// N = `batch` vectors in d = `size`, alpha 0.07, slices of 130: objective, gradient, SGD);
/// aranyani and aranyani-fair (one online update of K = 3 trees of depth 4 on one instance of
/// `size` features, batch 1, lambda 0 or 1, train only); ponita (the paper's
/// N-body network on `batch` fully connected systems of `size` particles; train = forward,
/// position MSE, backward); clip-image and clip-text (ViT-B/16 towers, random weights, infer only:
/// `batch` 224x224 images, or `batch` texts of 77 tokens) and clip-image-tiny, clip-text-tiny
/// (the tiny CLIP of the PromptSRC bench: 32x32 images, widths 64 and 16); promptsrc-tiny and promptsrc-vit-b16
/// (PromptSRC on a random tiny CLIP with J = 2, or on ViT-B/16 with J = 9: `batch` images and
/// `size` classes; train = the four losses, backward; infer = class features and scores);
/// gelan-*, yolov9-*, ultralytics-yolov9* (80 classes, random weights; `-fused` for the deploy
/// form; infer = forward and decode of `batch` size x size images, NMS excluded; train, unfused
/// only = the training form's forward, the sum of every head output (PGI's auxiliary head
/// included), backward).
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// What to time (see above).
    #[arg(long)]
    model: String,
    /// infer (forward only, inference mode) or train (forward + backward).
    #[arg(long, default_value = "infer")]
    mode: String,
    /// Batch size.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Spatial size.
    #[arg(long, default_value_t = 56)]
    size: usize,
    /// Measured iterations.
    #[arg(long, default_value_t = 20)]
    iters: usize,
    /// Unmeasured warm-up iterations.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Device: cpu, wgpu, cuda, ...
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli: Cli = parse_args();
    run(|| {
        let device = zoo_eval::parse_device(&cli.device)?;
        let train = match cli.mode.as_str() {
            "train" => true,
            "infer" => false,
            other => anyhow::bail!("--mode must be infer or train, got `{other}`"),
        };
        let samples = if cli.model == "ponita" {
            bench_ponita(&cli, &device, train)?
        } else if let Some(norm) = cli.model.strip_prefix("resnet26") {
            let (norm, fused) = match norm.strip_suffix("-fused") {
                Some(norm) => (norm, true),
                None => (norm, false),
            };
            anyhow::ensure!(!(fused && train), "the fused (inference) form has no train step");
            let norm = match norm.strip_prefix('-') {
                None if norm.is_empty() => NormKind::Bn,
                Some(name) => NormKind::parse(name).ok_or_else(|| {
                    let all: Vec<String> = NormKind::all().into_iter().map(NormKind::name).collect();
                    anyhow::anyhow!(
                        "unknown norm `{name}` in `{}`; available: {}",
                        cli.model,
                        all.join(", ")
                    )
                })?,
                None => anyhow::bail!("unknown model `{}`; did you mean resnet26-<norm>?", cli.model),
            };
            bench_resnet26(norm, fused, &cli, &device, train)?
        } else if cli.model == "ebv-head" {
            bench_ebv_head(&cli, &device, train)?
        } else if cli.model == "ebv-generator" {
            anyhow::ensure!(
                train,
                "the EBV generator is an optimisation: time it with --mode train"
            );
            bench_ebv_generator(&cli, &device)?
        } else if cli.model == "aranyani" || cli.model == "aranyani-fair" {
            anyhow::ensure!(
                train,
                "Aranyani's online update is a training step: time it with --mode train"
            );
            anyhow::ensure!(
                cli.batch == 1,
                "Aranyani learns one instance at a time: use --batch 1"
            );
            bench_aranyani(cli.model == "aranyani-fair", &cli)?
        } else if let Some(tower) = cli
            .model
            .strip_prefix("clip-")
            .filter(|t| ["image", "text", "image-tiny", "text-tiny"].contains(t))
        {
            anyhow::ensure!(!train, "the CLIP towers are timed in infer mode only");
            bench_clip(
                tower.starts_with("image"),
                tower.ends_with("-tiny"),
                &cli,
                &device,
            )?
        } else if cli.model == "promptsrc-tiny" || cli.model == "promptsrc-vit-b16" {
            bench_promptsrc(cli.model == "promptsrc-tiny", &cli, &device, train)?
        } else if let Ok(cfg) = zoo_yolov9::YoloConfig::from_name(cli.model.trim_end_matches("-fused"), 80) {
            bench_yolov9(cfg, cli.model.ends_with("-fused"), &cli, &device, train)?
        } else if let Some(kind) = cli.model.strip_prefix("evonorm-").and_then(EvoNormKind::parse) {
            bench_evonorm(kind, &cli, &device, train)?
        } else {
            anyhow::bail!(
                "unknown model `{}`; available: evonorm-b0 ... evonorm-s2a, resnet26[-<norm>][-fused], ebv-head, ebv-generator, aranyani, aranyani-fair, ponita, clip-image[-tiny], clip-text[-tiny], promptsrc-tiny, promptsrc-vit-b16, gelan-{{t,s,m,c,e}}, yolov9-{{t,s,m,c,e}}, ultralytics-yolov9{{t,s,m,c,e}} (each also with -fused)",
                cli.model
            );
        };
        let median = quantile(&samples, 0.5);
        let r = BenchResult {
            model: cli.model.clone(),
            mode: cli.mode.clone(),
            batch: cli.batch,
            size: cli.size,
            device: cli.device.clone(),
            iterations: samples.len(),
            median_ms: median,
            p10_ms: quantile(&samples, 0.1),
            p90_ms: quantile(&samples, 0.9),
            items_per_second: cli.batch as f64 / (median / 1e3),
            peak_rss_mib: peak_rss_mib(),
        };
        if cli.json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            println!(
                "{} {} batch {} size {} on {}: median {:.3} ms (p10 {:.3}, p90 {:.3}), {:.1} items/s, peak RSS {:.0} MiB",
                r.model,
                r.mode,
                r.batch,
                r.size,
                r.device,
                r.median_ms,
                r.p10_ms,
                r.p90_ms,
                r.items_per_second,
                r.peak_rss_mib
            );
        }
        Ok(())
    })
}

fn bench_evonorm(kind: EvoNormKind, cli: &Cli, device: &Device, train: bool) -> anyhow::Result<Vec<f64>> {
    let shape = [cli.batch, 64, cli.size, cli.size];
    device.seed(0);
    let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), device);
    if train {
        let ad = device.clone().autodiff();
        let layer = EvoNormConfig::new(kind, 64).init(&ad)?.train();
        let x = x.autodiff();
        Ok(time_iterations(cli.warmup, cli.iters, || {
            let x = x.clone().require_grad();
            let y = layer.forward(x.clone());
            let grads = y.sum().backward();
            // Read one gradient back so the whole backward pass is done.
            let _ = x
                .grad(&grads)
                .map(|g| g.slice([0..1, 0..1, 0..1, 0..1]).into_data());
        }))
    } else {
        let layer = EvoNormConfig::new(kind, 64).init(device)?.valid();
        Ok(time_iterations(cli.warmup, cli.iters, || {
            let _ = layer
                .forward(x.clone())
                .slice([0..1, 0..1, 0..1, 0..1])
                .into_data();
        }))
    }
}

fn bench_resnet26(
    norm: NormKind,
    fused: bool,
    cli: &Cli,
    device: &Device,
    train: bool,
) -> anyhow::Result<Vec<f64>> {
    let config = zoo_resnet::ResNetConfig {
        depth: zoo_resnet::Depth::R26,
        norm: zoo_resnet::NormConfig {
            kind: norm,
            ..Default::default()
        },
        ..zoo_resnet::ResNetConfig::default()
    };
    device.seed(0);
    let x = Tensor::<4>::random(
        [cli.batch, 3, cli.size, cli.size],
        Distribution::Normal(0.0, 1.0),
        device,
    );
    if train {
        let ad = device.clone().autodiff();
        let net = config.init(&ad)?.train();
        let x = x.autodiff();
        Ok(time_iterations(cli.warmup, cli.iters, || {
            let grads = net.forward(x.clone()).sum().backward();
            let g = burn::optim::GradientsParams::from_grads(grads, &net);
            // Read the gradients back so the whole backward pass is done.
            std::hint::black_box(g.len());
        }))
    } else {
        let net = config.init(device)?.valid();
        let net = if fused { net.fuse() } else { net };
        Ok(time_iterations(cli.warmup, cli.iters, || {
            let _ = net.forward(x.clone()).slice([0..1, 0..1]).into_data();
        }))
    }
}

fn bench_ebv_head(cli: &Cli, device: &Device, train: bool) -> anyhow::Result<Vec<f64>> {
    const CLASSES: usize = 1000;
    device.seed(0);
    let basis = Tensor::<2>::random([CLASSES, cli.size], Distribution::Normal(0.0, 1.0), device);
    let f = Tensor::<2>::random([cli.batch, cli.size], Distribution::Normal(0.0, 1.0), device);
    if train {
        let ad = device.clone().autodiff();
        let head = zoo_ebv::EbvHead::new(basis.autodiff(), 0.07);
        let f = f.autodiff();
        let targets: Vec<i64> = (0..cli.batch).map(|i| (i % CLASSES) as i64).collect();
        let targets = Tensor::<1, Int>::from_data(TensorData::new(targets, [cli.batch]), &ad);
        Ok(time_iterations(cli.warmup, cli.iters, || {
            let f = f.clone().require_grad();
            // EBV_ImageNet.py's loss: cross-entropy with label smoothing 0.1.
            let grads = zoo_kernels::cross_entropy(head.logits(f.clone()), targets.clone(), 0.1).backward();
            let _ = f.grad(&grads).map(|g| g.slice([0..1, 0..1]).into_data());
        }))
    } else {
        let head = zoo_ebv::EbvHead::new(basis, 0.07);
        Ok(time_iterations(cli.warmup, cli.iters, || {
            let _ = head.cosine(f.clone()).slice([0..1, 0..1]).into_data();
        }))
    }
}

fn bench_ebv_generator(cli: &Cli, device: &Device) -> anyhow::Result<Vec<f64>> {
    // The settings of the reference's larger runs (slices of 130 rows, SGD lr 1e-3); alpha 0.07
    // leaves most pairs of a random start above it, so every step does the full work.
    let (alpha, slice, lr) = (0.07, 130, 1e-3);
    device.seed(0);
    let mut e = Tensor::<2>::random([cli.batch, cli.size], Distribution::Normal(0.0, 1.0), device);
    Ok(time_iterations(cli.warmup, cli.iters, || {
        let rows = zoo_ebv::normalize_rows(e.clone());
        let (max_cos, grad) = zoo_ebv::objective(&rows, alpha, slice);
        std::hint::black_box(max_cos);
        e = rows - grad.mul_scalar(lr);
        let _ = e.clone().slice([0..1, 0..1]).into_data();
    }))
}

fn bench_aranyani(fair: bool, cli: &Cli) -> anyhow::Result<Vec<f64>> {
    let config = zoo_aranyani::LearnerConfig {
        forest: zoo_aranyani::ForestConfig {
            features: cli.size,
            ..Default::default()
        },
        lambda: if fair { 1.0 } else { 0.0 },
        ..Default::default()
    };
    let mut learner = zoo_aranyani::OnlineLearner::new(config, 0)?;
    // The synthetic biased stream of `train-aranyani --dataset synthetic`, cycled.
    let (items, _) = zoo_datasets::tabular::BiasedStream {
        train: 4096,
        test: 1,
        dim: cli.size,
        ..Default::default()
    }
    .generate()?;
    let stream: Vec<(Vec<f64>, usize, u8)> = items
        .into_iter()
        .map(|t| (t.features.iter().map(|&v| v as f64).collect(), t.label, t.group))
        .collect();
    let mut next = stream.iter().cycle();
    Ok(time_iterations(cli.warmup, cli.iters, || {
        let (x, y, a) = next.next().expect("a cycled stream never ends");
        std::hint::black_box(learner.learn_one(x, *y, *a));
    }))
}

fn bench_ponita(cli: &Cli, device: &Device, train: bool) -> anyhow::Result<Vec<f64>> {
    use zoo_datasets::nbody::NBodyBatch;
    use zoo_eval::ponita::NBodyModel;
    let (b, n) = (cli.batch, cli.size);
    device.seed(0);
    let dev = if train {
        device.clone().autodiff()
    } else {
        device.clone()
    };
    let batch = NBodyBatch {
        loc: Tensor::random([b, n, 3], Distribution::Normal(0.0, 1.0), &dev),
        vel: Tensor::random([b, n, 3], Distribution::Normal(0.0, 0.5), &dev),
        charges: Tensor::random([b, n], Distribution::Normal(0.0, 1.0), &dev).sign(),
        target: Tensor::random([b, n, 3], Distribution::Normal(0.0, 1.0), &dev),
    };
    let model = NBodyModel::init(&zoo_ponita::PonitaConfig::nbody(), &dev)?;
    if train {
        let model = model.train();
        Ok(time_iterations(cli.warmup, cli.iters, || {
            let grads = model.loss(&batch).backward();
            let g = burn::optim::GradientsParams::from_grads(grads, &model);
            // Read the gradients back so the whole backward pass is done.
            std::hint::black_box(g.len());
        }))
    } else {
        let model = model.valid();
        Ok(time_iterations(cli.warmup, cli.iters, || {
            let _ = model.predict(&batch).slice([0..1, 0..1, 0..1]).into_data();
        }))
    }
}

fn bench_clip(image: bool, tiny: bool, cli: &Cli, device: &Device) -> anyhow::Result<Vec<f64>> {
    device.seed(0);
    let cfg = if tiny {
        zoo_clip::ClipConfig::tiny()
    } else {
        zoo_clip::ClipConfig::vit_b_16()
    };
    let model = cfg.init(device)?;
    if image {
        let s = cfg.vision_cfg.image_size;
        let x = Tensor::<4>::random([cli.batch, 3, s, s], Distribution::Normal(0.0, 1.0), device);
        Ok(time_iterations(cli.warmup, cli.iters, || {
            let _ = model.encode_image(x.clone()).into_data();
        }))
    } else {
        let tok = zoo_clip::Tokenizer::new();
        let texts: Vec<String> = (0..cli.batch)
            .map(|i| {
                format!(
                    "a photo of a {}, a type of pet, seen from the side number {i}.",
                    ["cat", "dog"][i % 2]
                )
            })
            .collect();
        let ids = zoo_clip::zeroshot::tokenize_batch(&tok, &texts, cfg.text_cfg.context_length, device);
        Ok(time_iterations(cli.warmup, cli.iters, || {
            let _ = model.encode_text(ids.clone()).into_data();
        }))
    }
}

fn bench_promptsrc(tiny: bool, cli: &Cli, device: &Device, train: bool) -> anyhow::Result<Vec<f64>> {
    device.seed(0);
    let (clip_cfg, depth) = if tiny {
        (zoo_clip::ClipConfig::tiny(), 2)
    } else {
        (zoo_clip::ClipConfig::vit_b_16(), 9)
    };
    let cfg = zoo_promptsrc::PromptSrcConfig {
        text_depth: depth,
        vision_depth: depth,
        ..Default::default()
    };
    let tok = zoo_clip::Tokenizer::new();
    let dev = if train {
        device.clone().autodiff()
    } else {
        device.clone()
    };
    let model = cfg.init(clip_cfg.init(&dev)?, &tok, &dev)?;
    let names: Vec<String> = (0..cli.size).map(|i| format!("object number {i}")).collect();
    let prompts = zoo_promptsrc::ClassPrompts::new(&model, &tok, &names, &dev);
    let s = clip_cfg.vision_cfg.image_size;
    let x = Tensor::<4>::random([cli.batch, 3, s, s], Distribution::Normal(0.0, 1.0), &dev);
    let frozen = Tensor::<2>::random(
        [cli.size, clip_cfg.embed_dim],
        Distribution::Normal(0.0, 1.0),
        &dev,
    );
    let labels: Vec<i64> = (0..cli.batch).map(|i| (i % cli.size.max(1)) as i64).collect();
    let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [cli.batch]), &dev);
    Ok(if train {
        let model = model.train();
        time_iterations(cli.warmup, cli.iters, || {
            let l = model.losses(x.clone(), labels.clone(), &prompts, &frozen);
            let g = burn::optim::GradientsParams::from_grads(l.total.backward(), &model);
            assert_eq!(g.len(), 2 * depth);
        })
    } else {
        time_iterations(cli.warmup, cli.iters, || {
            let classes = zoo_clip::zeroshot::normalize(model.text_features(&prompts));
            let _ = model.scores(x.clone(), &classes).into_data();
        })
    })
}

fn bench_yolov9(
    cfg: zoo_yolov9::YoloConfig,
    fused: bool,
    cli: &Cli,
    device: &Device,
    train: bool,
) -> anyhow::Result<Vec<f64>> {
    zoo_yolov9::YoloV9::check_input([cli.batch, 3, cli.size, cli.size]).map_err(anyhow::Error::msg)?;
    device.seed(0);
    let x = Tensor::<4>::random([cli.batch, 3, cli.size, cli.size], Distribution::Default, device);
    if train {
        // The training form (batch norms on batch statistics, the PGI branch where the model has
        // one): forward, the sum of every head output, backward (the loss is left out, as for
        // the reference).
        anyhow::ensure!(!fused, "the fused (deploy) form has no train step");
        let ad = device.clone().autodiff();
        let model = cfg.init(&ad)?.train();
        let x = x.autodiff();
        return Ok(time_iterations(cli.warmup, cli.iters, || {
            let out = model.forward(x.clone());
            let levels = out.main.into_iter().chain(out.aux.into_iter().flatten());
            let loss = levels
                .map(|l| l.sum())
                .reduce(|a, b| a + b)
                .expect("a head has levels");
            let g = burn::optim::GradientsParams::from_grads(loss.backward(), &model);
            std::hint::black_box(g.len());
        }));
    }
    let model = cfg.init(device)?;
    let model = if fused { model.fuse() } else { model };
    Ok(time_iterations(cli.warmup, cli.iters, || {
        let _ = model.predict(x.clone()).into_data();
    }))
}
