//! Checks imported weights against a reference framework's outputs, and exports zoo weights.
//!
//! ```text
//! zoo-weights verify --model clip-image --config ViT-B-16.json --weights open_clip_vit_b16.safetensors \
//!     --input images.npy --expect image_features.npy
//! zoo-weights verify --model clip-text --preset ViT-B-16 --weights model.pt --input tokens.npy \
//!     --expect text_features.npy --tol 1e-4
//! zoo-weights verify --model clip-image --config tiny.json --weights image_tower.onnx --input x.npy --expect y.npy
//! zoo-weights export-open-clip --weights runs/clip/model.bpk --preset shapes --out clip.safetensors --half
//! ```

use anyhow::{Context, bail};
use burn::prelude::*;
use burn::tensor::TensorData;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use zoo_clip::ClipConfig;
use zoo_datasets::npy::{NpyArray, read_npy};
use zoo_weights::clip::{Tower, load_clip, load_onnx_tower, read_model_config, to_open_clip, to_safetensors};

/// burnzoo's weight tools: run an imported model on saved inputs and compare with the reference
/// framework's outputs (`verify`), or write zoo weights in a reference framework's layout.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run `--model` with `--weights` on `--input` and print the largest absolute and relative
    /// difference to `--expect`; exit status 1 when the absolute difference exceeds `--tol`
    /// times max(1, max |expected|).
    Verify {
        /// What to run: clip-image (input [B,3,H,W] float32, preprocessed; output image
        /// features) or clip-text (input token ids [N,context] int64; output text features).
        #[arg(long, value_enum)]
        model: ModelKind,
        #[command(flatten)]
        arch: Arch,
        /// Weights: open_clip state dict (.safetensors, .pt/.pth/.bin), zoo Burnpack (.bpk) or
        /// the ONNX export of the tower (.onnx).
        #[arg(long, value_name = "FILE")]
        weights: PathBuf,
        /// Input array (.npy).
        #[arg(long, value_name = "X.npy")]
        input: PathBuf,
        /// Second input (.npy), for models that take two; unused by the CLIP towers.
        #[arg(long, value_name = "T.npy")]
        input2: Option<PathBuf>,
        /// Expected output (.npy).
        #[arg(long, value_name = "Y.npy")]
        expect: PathBuf,
        /// Tolerance on the absolute difference (relative to the output's scale when above 1).
        #[arg(long, default_value_t = 1e-4)]
        tol: f64,
    },
    /// Write a CLIP's weights (zoo .bpk, or any format `verify` reads) as an open_clip state dict
    /// in safetensors: `open_clip.model.CLIP(**config).load_state_dict(load_file(OUT))`.
    ExportOpenClip {
        #[command(flatten)]
        arch: Arch,
        /// The weights to export.
        #[arg(long, value_name = "FILE")]
        weights: PathBuf,
        /// Output .safetensors (written atomically).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Store half precision (float16) instead of float32.
        #[arg(long)]
        half: bool,
    },
}

/// The architecture of the weights.
#[derive(Args, Debug)]
struct Arch {
    /// Architecture as an open_clip model-config JSON.
    #[arg(long, value_name = "FILE.json", conflicts_with = "preset")]
    config: Option<PathBuf>,
    /// Architecture preset: ViT-B-32, ViT-B-16, ViT-L-14, tiny, shapes.
    #[arg(long, value_name = "NAME")]
    preset: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ModelKind {
    /// CLIP image tower: images [B,3,H,W] -> features [B,D].
    ClipImage,
    /// CLIP text tower: token ids [N,context] -> features [N,D].
    ClipText,
}

fn clip_config(arch: &Arch) -> anyhow::Result<ClipConfig> {
    let cfg = match (&arch.config, &arch.preset) {
        (Some(path), _) => read_model_config(path)?,
        (None, Some(name)) => ClipConfig::preset(name).with_context(|| {
            format!("unknown preset `{name}`; expected ViT-B-32, ViT-B-16, ViT-L-14, tiny or shapes")
        })?,
        (None, None) => {
            bail!("give the architecture: --config FILE.json (open_clip model config) or --preset NAME")
        }
    };
    cfg.validate()?;
    Ok(cfg)
}

fn read(path: &Path) -> anyhow::Result<NpyArray> {
    read_npy(path).with_context(|| format!("reading {}", path.display()))
}

/// (max |a - b|, max |a - b| / max |b|).
fn compare(got: &[f32], want: &[f32]) -> (f64, f64, f64) {
    let scale = want.iter().fold(0.0f64, |m, &v| m.max(f64::from(v).abs()));
    let diff = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (&a, &b)| m.max((f64::from(a) - f64::from(b)).abs()));
    (diff, diff / scale.max(f64::MIN_POSITIVE), scale)
}

fn verify(
    model: ModelKind,
    cfg: ClipConfig,
    weights: &Path,
    input: &Path,
    expect: &Path,
    tol: f64,
) -> anyhow::Result<bool> {
    let device = Device::flex();
    let template = cfg.init(&device)?;
    let is_onnx = weights
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
    let tower = match model {
        ModelKind::ClipImage => Tower::Image,
        ModelKind::ClipText => Tower::Text,
    };
    let net = if is_onnx {
        load_onnx_tower(template, weights, tower)?
    } else {
        load_clip(template, weights)?
    };
    let x = read(input)?;
    let out = match tower {
        Tower::Image => {
            let v = &cfg.vision_cfg;
            let want = [v.image_size, v.image_size];
            if x.shape.len() != 4 || x.shape[1] != 3 || x.shape[2..] != want {
                bail!(
                    "{}: images must be [B, 3, {}, {}] float32 (preprocessed); found shape {:?}",
                    input.display(),
                    v.image_size,
                    v.image_size,
                    x.shape
                );
            }
            let t = Tensor::<4>::from_data(TensorData::new(x.to_f32(), x.shape.clone()), &device);
            net.encode_image(t)
        }
        Tower::Text => {
            let ctx = cfg.text_cfg.context_length;
            let ids = x
                .to_i64()
                .with_context(|| format!("{}: token ids must be an integer array", input.display()))?;
            if x.shape.len() != 2 || x.shape[1] != ctx {
                bail!(
                    "{}: token ids must be [N, {ctx}]; found shape {:?}",
                    input.display(),
                    x.shape
                );
            }
            let vocab = cfg.text_cfg.vocab_size as i64;
            if let Some(bad) = ids.iter().find(|&&i| i < 0 || i >= vocab) {
                bail!(
                    "{}: token id {bad} is outside the vocabulary (0..{vocab})",
                    input.display()
                );
            }
            let t = Tensor::<2, Int>::from_data(TensorData::new(ids, x.shape.clone()), &device);
            net.encode_text(t)
        }
    };
    let y = read(expect)?;
    let dims = out.dims();
    if y.shape != dims {
        bail!(
            "{}: expected output has shape {:?}, the model gives {:?}",
            expect.display(),
            y.shape,
            dims
        );
    }
    let got = out.into_data().convert::<f32>();
    let got = got.as_slice::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let (abs, rel, scale) = compare(got, &y.to_f32());
    let ok = abs <= tol * scale.max(1.0);
    println!(
        "{}: max abs diff {abs:.3e}, max rel diff {rel:.3e} (output scale {scale:.3e}, tol {tol:e}): {}",
        match tower {
            Tower::Image => "image features",
            Tower::Text => "text features",
        },
        if ok { "OK" } else { "ABOVE TOLERANCE" }
    );
    Ok(ok)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Verify {
            model,
            arch,
            weights,
            input,
            input2,
            expect,
            tol,
        } => (|| {
            if let Some(p) = input2 {
                bail!("--input2 {}: the CLIP towers take one input", p.display());
            }
            let cfg = clip_config(&arch)?;
            verify(model, cfg, &weights, &input, &expect, tol)
        })(),
        Command::ExportOpenClip {
            arch,
            weights,
            out,
            half,
        } => (|| {
            let cfg = clip_config(&arch)?;
            let model = load_clip(cfg.init(&Device::flex())?, &weights)?;
            let bytes = to_safetensors(&to_open_clip(&model)?, half)?;
            zoo_weights::write_atomic(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "zoo-weights: {} -> {} ({} bytes)",
                weights.display(),
                out.display(),
                bytes.len()
            );
            Ok(true)
        })(),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("zoo-weights: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
