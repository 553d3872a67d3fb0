//! Trains an image classifier with an Equiangular-Basis-Vectors head (or the FC baseline).
//!
//! ```text
//! train-ebv                                   # ResNetV2-18 (width 16, BN-ReLU), EBV d = N = 10, Shapes-10
//! train-ebv --head fc --out runs/fc
//! train-ebv --ebv-dim 5 --alpha 0.5          # d < N needs alpha above the Welch bound
//! train-ebv --basis eq_1000_1000.safetensors --data ~/imagenet --arch resnet50 --stem imagenet
//! ```

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use zoo_ebv::HeadKind;
use zoo_eval::cli::{parse_args, run};
use zoo_eval::image_cls::{ImageArgs, ResNetArgs};
use zoo_train::cli::{RunConfig, TrainArgs, prepare_with, report};
use zoo_train::ebv::{EbvRun, train};

fn parse_head(s: &str) -> Result<HeadKind, String> {
    match s.to_ascii_lowercase().as_str() {
        "ebv" => Ok(HeadKind::Ebv),
        "fc" | "linear" => Ok(HeadKind::Fc),
        _ => Err(format!("unknown head `{s}`; expected ebv or fc")),
    }
}

/// Train a ResNet image classifier whose classes are fixed, nearly orthogonal unit vectors in
/// R^d (Equiangular Basis Vectors, Shen et al., CVPR 2023): logits = normalize(f) E^T / tau,
/// cross-entropy with label smoothing 0.1; or, with --head fc, the usual linear classifier with
/// the same recipe: the reference's ImageNet recipe scaled to batch 128 (SGD Nesterov lr 0.0625,
/// weight decay 2e-5, 5 warmup epochs from 0.01x, cosine; 10 epochs; under the FC recipe's lr 0.1
/// without warmup the EBV head diverges). The basis is generated at start (exactly when N <= d + 1, else by the
/// reference's sliced SGD to max |cos| <= alpha) or read with --basis, and saved in the weights.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    train: TrainArgs,
    #[command(flatten)]
    model: ResNetArgs,
    #[command(flatten)]
    data: ImageArgs,
    /// Classifier head: ebv or fc.
    #[arg(long, value_name = "KIND", value_parser = parse_head)]
    head: Option<HeadKind>,
    /// Dimension d of the basis vectors (and of the backbone's output).
    #[arg(long, value_name = "D")]
    ebv_dim: Option<usize>,
    /// Target max |cos| of the generated basis (default: 0.002 for d >= N, else 1.25x the Welch bound).
    #[arg(long, value_name = "A")]
    alpha: Option<f64>,
    /// Temperature tau of the EBV logits.
    #[arg(long, value_name = "T")]
    tau: Option<f64>,
    /// Use this basis file (.safetensors or .bpk, N x d, e.g. written by generate-ebv).
    #[arg(long, value_name = "FILE")]
    basis: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli: Cli = parse_args();
    run(|| {
        let (cfg, trainer) = prepare_with::<EbvRun>(&cli.train, |cfg| {
            cli.model.apply(&mut cfg.model.backbone);
            cli.data.apply(&mut cfg.data);
            if let Some(h) = cli.head {
                cfg.model.head = h;
            }
            if let Some(d) = cli.ebv_dim {
                cfg.model.ebv_dim = d;
            }
            if let Some(t) = cli.tau {
                cfg.model.tau = t;
            }
            if cli.alpha.is_some() {
                cfg.basis.alpha = cli.alpha;
            }
            if cli.basis.is_some() {
                cfg.basis.file = cli.basis.clone();
            }
            cfg.resolve_classes()
        })?;
        let (result, basis) = train(&cfg, &trainer)?;
        if let Some(b) = &basis {
            eprintln!(
                "basis: {} x {} by {} in {} steps, max |cos| {:.5} (Welch bound {:.5}), mean |cos| {:.5}",
                cfg.model.classes, cfg.model.ebv_dim, b.method, b.steps, b.max_cos, b.welch_bound, b.mean_cos
            );
        }
        report(EbvRun::FAMILY, &result, &trainer, cli.train.common.json);
        Ok(())
    })
}
