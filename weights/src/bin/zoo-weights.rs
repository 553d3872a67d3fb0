//! Checks imported weights against a reference framework's outputs, and exports zoo weights.
//!
//! ```text
//! zoo-weights verify --model clip-image --config ViT-B-16.json --weights open_clip_vit_b16.safetensors \
//!     --input images.npy --expect image_features.npy
//! zoo-weights verify --model clip-text --preset ViT-B-16 --weights model.pt --input tokens.npy \
//!     --expect text_features.npy --tol 1e-4
//! zoo-weights verify --model clip-image --config tiny.json --weights image_tower.onnx --input x.npy --expect y.npy
//! zoo-weights export-open-clip --weights runs/clip/model.bpk --preset shapes --out clip.safetensors --half
//! zoo-weights export-yolov9 --model gelan-t --nc 4 --weights runs/yolo/model.bpk --out gelan-t.safetensors --half
//! zoo-weights verify --model yolov9-c --nc 80 --weights yolov9-c.safetensors --input x.npy --expect y.npy
//! zoo-weights inspect yolov9t.onnx
//! ```

use anyhow::{Context, bail};
use burn::prelude::*;
use burn::tensor::TensorData;
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use zoo_clip::ClipConfig;
use zoo_datasets::npy::{NpyArray, read_npy};
use zoo_weights::clip::{Tower, load_clip, load_onnx_tower, read_model_config, to_open_clip, to_safetensors};
use zoo_weights::inspect::list_tensors;
use zoo_weights::yolov9::load_yolov9;
use zoo_yolov9::{YoloConfig, YoloV9};

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
    /// times max(1, max |expected|), or when either the output or the expected values hold a NaN
    /// or an infinity (the line names its index).
    Verify {
        /// What to run: clip-image (input [B,3,H,W] float32, preprocessed; output image
        /// features), clip-text (input token ids [N,context] int64; output text features), or a
        /// YOLOv9: gelan-{t,s,m,c,e}, yolov9-{t,s,m,c,e} (the authors' models, yolov9-* with the
        /// PGI branch), ultralytics-yolov9{t,s,m,c,e} (input [B,3,H,W] float32 in [0,1], H and W
        /// multiples of 32; output the decoded [B,4+nc,A] of the main head).
        #[arg(long, value_parser = model_names())]
        model: String,
        #[command(flatten)]
        arch: Arch,
        /// YOLOv9: number of classes the weights were trained for.
        #[arg(long, default_value_t = 80)]
        nc: usize,
        /// Weights: open_clip state dict (.safetensors, .pt/.pth/.bin), zoo Burnpack (.bpk) or
        /// the ONNX export of the tower (.onnx); for YOLOv9 a state dict in the reference's
        /// naming (.safetensors, from weights/reference/yolov9_to_safetensors.py), a .bpk, or an
        /// ultralytics ONNX export (loaded into the fused model).
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
    /// List the tensors of a weight file (.safetensors, .onnx, .pt/.pth/.bin, .bpk): name,
    /// element type, shape; then the count of tensors and of values.
    Inspect {
        /// The file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// PGI removal: load a yolov9-{t,s,m,c,e} state dict (with the auxiliary branch), write the
    /// gelan-* state dict of its main branch in the reference's naming (the authors'
    /// re-parameterisation; the gelan model's output equals the yolov9 model's main output).
    RemovePgi {
        /// yolov9-t, yolov9-s, yolov9-m, yolov9-c or yolov9-e.
        #[arg(long)]
        model: String,
        /// Number of classes.
        #[arg(long, default_value_t = 80)]
        nc: usize,
        /// The yolov9-* weights (.safetensors, .pt state dict or .bpk).
        #[arg(long, value_name = "FILE")]
        weights: PathBuf,
        /// Output .safetensors (written atomically).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Also fold BNs and RepConvN branches (a deploy file: load it into a fused model).
        #[arg(long)]
        fuse: bool,
    },
    /// Write a YOLOv9's weights (zoo .bpk, or any format `verify` reads) as a state dict in the
    /// reference's naming (`model.N....`, BN weight/bias/running statistics; what
    /// `verify --model`, `train-yolov9 --weights` and `eval-yolov9 --weights` read back).
    ExportYolov9 {
        /// gelan-{t,s,m,c,e}, yolov9-{t,s,m,c,e} or ultralytics-yolov9{t,s,m,c,e}.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(YoloConfig::NAMES))]
        model: String,
        /// Number of classes.
        #[arg(long, default_value_t = 80)]
        nc: usize,
        #[command(flatten)]
        export: Export,
    },
    /// Write a CLIP's weights (zoo .bpk, or any format `verify` reads) as an open_clip state dict
    /// in safetensors: `open_clip.model.CLIP(**config).load_state_dict(load_file(OUT))`.
    ExportOpenClip {
        #[command(flatten)]
        arch: Arch,
        #[command(flatten)]
        export: Export,
    },
}

/// What the export commands read and write.
#[derive(Args, Debug)]
struct Export {
    /// The weights to export.
    #[arg(long, value_name = "FILE")]
    weights: PathBuf,
    /// Output .safetensors (written atomically).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Store half precision (float16) instead of float32.
    #[arg(long)]
    half: bool,
}

impl Export {
    /// Writes `tensors` to `--out` as safetensors and says so.
    fn write(&self, what: &str, tensors: &[zoo_weights::tensors::NamedTensor]) -> anyhow::Result<bool> {
        let bytes = to_safetensors(tensors, self.half)?;
        zoo_weights::write_atomic(&self.out, &bytes)
            .with_context(|| format!("writing {}", self.out.display()))?;
        eprintln!(
            "zoo-weights: {what}{} -> {} ({} bytes)",
            self.weights.display(),
            self.out.display(),
            bytes.len()
        );
        Ok(true)
    }
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ModelKind {
    /// CLIP image tower: images [B,3,H,W] -> features [B,D].
    ClipImage,
    /// CLIP text tower: token ids [N,context] -> features [N,D].
    ClipText,
}

fn model_names() -> clap::builder::PossibleValuesParser {
    let mut names = vec!["clip-image", "clip-text"];
    names.extend(YoloConfig::NAMES);
    clap::builder::PossibleValuesParser::new(names)
}

/// Runs a YOLOv9 on `input` and compares its decoded output with `expect`.
fn verify_yolo(
    cfg: YoloConfig,
    weights: &Path,
    input: &Path,
    expect: &Path,
    tol: f64,
) -> anyhow::Result<bool> {
    let device = Device::flex();
    let model = load_yolov9(cfg.init(&device)?, weights)?;
    let x = read(input)?;
    let dims: [usize; 4] = x.shape.clone().try_into().map_err(|_| {
        anyhow::anyhow!(
            "{}: images must be [B, 3, H, W]; found shape {:?}",
            input.display(),
            x.shape
        )
    })?;
    YoloV9::check_input(dims).map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;
    let out = model.predict(Tensor::<4>::from_data(
        TensorData::new(x.to_f32(), x.shape.clone()),
        &device,
    ));
    let y = read(expect)?;
    if y.shape != out.dims() {
        bail!(
            "{}: expected output has shape {:?}, the model gives {:?} ([B, 4 + nc, anchors])",
            expect.display(),
            y.shape,
            out.dims()
        );
    }
    Ok(report(&cfg.name(), out, &y.to_f32(), expect, tol))
}

fn inspect(file: &Path) -> anyhow::Result<bool> {
    let tensors = list_tensors(file)?;
    let width = tensors.iter().map(|t| t.name.len()).max().unwrap_or(0);
    let mut values = 0usize;
    for t in &tensors {
        values += t.shape.iter().product::<usize>();
        println!("{:width$}  {:8} {:?}", t.name, t.dtype, t.shape);
    }
    println!("{}: {} tensors, {values} values", file.display(), tensors.len());
    Ok(true)
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

/// Compares the model's output with the expected values and prints one line: the largest
/// difference against `tol` (relative to the output's scale, absolute below 1), or, where either
/// side holds a NaN or an infinity, where it is. Whether the check passed.
fn report<const D: usize>(what: &str, out: Tensor<D>, want: &[f32], expect: &Path, tol: f64) -> bool {
    match zoo_check::diff(&zoo_check::values(out), want) {
        Ok(d) => {
            let ok = d.within(tol);
            println!(
                "{what}: max abs diff {:.3e}, max rel diff {:.3e} (output scale {:.3e}, tol {tol:e}): {}",
                d.max_abs,
                d.relative(),
                d.scale,
                if ok { "OK" } else { "ABOVE TOLERANCE" }
            );
            ok
        }
        Err(m) => {
            println!("{what}: against {}: {m}: NOT FINITE", expect.display());
            false
        }
    }
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
    let what = match tower {
        Tower::Image => "image features",
        Tower::Text => "text features",
    };
    Ok(report(what, out, &y.to_f32(), expect, tol))
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
            nc,
        } => (|| {
            if let Some(p) = input2 {
                bail!("--input2 {}: the model takes one input", p.display());
            }
            let kind = match model.as_str() {
                "clip-image" => ModelKind::ClipImage,
                "clip-text" => ModelKind::ClipText,
                yolo => return verify_yolo(YoloConfig::from_name(yolo, nc)?, &weights, &input, &expect, tol),
            };
            let cfg = clip_config(&arch)?;
            verify(kind, cfg, &weights, &input, &expect, tol)
        })(),
        Command::Inspect { file } => inspect(&file),
        Command::RemovePgi {
            model,
            nc,
            weights,
            out,
            fuse,
        } => (|| {
            let cfg = YoloConfig::from_name(&model, nc)?;
            if !cfg.pgi {
                bail!("--model {model} has no PGI branch; give a yolov9-{{t,s,m,c,e}} model");
            }
            let dual = load_yolov9(cfg.init(&Device::flex())?, &weights)?;
            let gelan = dual.remove_pgi();
            let gelan = if fuse { gelan.fuse() } else { gelan };
            let bytes = to_safetensors(&zoo_weights::yolov9::state_dict(&gelan)?, false)?;
            zoo_weights::write_atomic(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "zoo-weights: {model} {} -> {}{} {}",
                weights.display(),
                gelan.config().name(),
                if fuse { " (fused)" } else { "" },
                out.display()
            );
            Ok(true)
        })(),
        Command::ExportYolov9 { model, nc, export } => (|| {
            let cfg = YoloConfig::from_name(&model, nc)?;
            let yolo = load_yolov9(cfg.init(&Device::flex())?, &export.weights)?;
            export.write(&format!("{model} "), &zoo_weights::yolov9::state_dict(&yolo)?)
        })(),
        Command::ExportOpenClip { arch, export } => (|| {
            let cfg = clip_config(&arch)?;
            let model = load_clip(cfg.init(&Device::flex())?, &export.weights)?;
            export.write("", &to_open_clip(&model)?)
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
