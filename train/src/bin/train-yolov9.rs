//! Trains YOLOv9 / GELAN detectors.
//!
//! ```text
//! train-yolov9 --out runs/yolo                              # gelan-t on generated shapes, 10 epochs
//! train-yolov9 --model yolov9-t --epochs 30 --out runs/pgi  # with PGI's auxiliary branch
//! train-yolov9 --model gelan-s --data data/coco.yaml --imgsz 640 --out runs/coco
//! train-yolov9 --model gelan-s --nc 80 --imgsz 640 --train data/coco/images/train2017 \
//!     --val data/coco/images/val2017 --out runs/coco       # YOLO labels beside the images
//! train-yolov9 --nc 80 --train coco/train2017 --train-json coco/annotations/instances_train2017.json \
//!     --val coco/val2017 --val-json coco/annotations/instances_val2017.json --out runs/coco-json
//! ```

use clap::{Args, Parser};
use std::path::PathBuf;
use std::process::ExitCode;
use zoo_eval::cli::{parse_args, run};
use zoo_eval::yolov9::DetectionData;
use zoo_train::cli::{RunConfig, TrainArgs, prepare_with, report};
use zoo_train::yolov9::{YoloRun, train};

/// Train a YOLOv9 detector (Wang et al., 2024): gelan-{t,s,m,c,e}, or yolov9-{t,s,m,c,e} with
/// PGI's auxiliary reversible branch (its loss counts 0.25; remove it afterwards with
/// `zoo-weights remove-pgi`). The loss is the authors' (task-aligned assignment, BCE, CIoU, DFL);
/// SGD with Nesterov momentum 0.937, lr 0.01 with the reference's warmup (bias rate 0.1 -> lr0,
/// momentum 0.8 -> 0.937 over max(3 epochs, 100 steps)) and linear decay, weight decay 5e-4 on
/// weights only, gradient clipping 10, EMA; COCO mAP of the EMA model on the validation split
/// after every epoch, best checkpoint by mAP@0.5:0.95. Augmentation for datasets on disk as
/// hyp.scratch-high.yaml: mosaic 1.0, mixup 0.15, translate 0.1, scale 0.9, HSV 0.015/0.7/0.4,
/// fliplr 0.5; mosaic off for the last --close-mosaic epochs (other settings: the `augment`
/// section of --config). Default: gelan-t on generated shapes (256 training and 64 validation
/// images of up to 6 discs, squares, triangles and rings, 256x256, 4 classes), 10 epochs at
/// batch 8, horizontal flips only (mosaics need longer runs; --augment turns them on).
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    train: TrainArgs,
    #[command(flatten)]
    model: YoloArgs,
}

#[derive(Args, Debug)]
struct YoloArgs {
    /// Model: gelan-{t,s,m,c,e} or yolov9-{t,s,m,c,e}.
    #[arg(long)]
    model: Option<String>,
    /// Number of classes (4 for the generated shapes).
    #[arg(long)]
    nc: Option<usize>,
    /// Square image size, a multiple of 32.
    #[arg(long)]
    imgsz: Option<u32>,
    /// A YOLO data YAML (as the reference's data/coco.yaml: path, train, val, names); the class
    /// count follows its names unless --nc is given.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["train", "val"])]
    data: Option<PathBuf>,
    /// Training images: a folder in the YOLO layout (labels in the sibling labels/ folder) or a
    /// .txt list of images; with --train-json, the folder of that COCO file's images.
    #[arg(long, value_name = "DIR", requires = "val")]
    train: Option<PathBuf>,
    /// Validation images (as --train).
    #[arg(long, value_name = "DIR", requires = "train")]
    val: Option<PathBuf>,
    /// COCO instances file of the --train images (e.g. instances_train2017.json).
    #[arg(long, value_name = "FILE", requires_all = ["train", "val_json"])]
    train_json: Option<PathBuf>,
    /// COCO instances file of the --val images.
    #[arg(long, value_name = "FILE", requires_all = ["val", "train_json"])]
    val_json: Option<PathBuf>,
    /// Start from a state dict (.safetensors or .pt in the reference's naming, e.g. a converted
    /// COCO checkpoint): tensors that fit are loaded, the class branches of another class count
    /// are re-initialised.
    #[arg(long, value_name = "FILE")]
    weights: Option<PathBuf>,
    /// Turn mosaic (and mixup) off for the last N epochs (default 15, as the authors' commands
    /// for 500 epochs: a run of 15 epochs or fewer then has no mosaic at all).
    #[arg(long, value_name = "N")]
    close_mosaic: Option<usize>,
    /// The nominal batch: gradients are summed over batches up to it (at batch 8 and 64: one
    /// optimizer step per 8 batches, the count ramped from 1 over the warmup) and weight decay
    /// is scaled to it, as the reference's `train_dual.py` does. Default 64, the authors';
    /// 0 turns it off (one step per batch).
    #[arg(long, value_name = "N")]
    nominal_batch: Option<usize>,
    /// Train without augmentation beyond horizontal flips (no mosaic, mixup, affine or HSV); the
    /// default for the generated shapes.
    #[arg(long, conflicts_with = "augment")]
    no_augment: bool,
    /// The reference's augmentation (mosaic, mixup, affine, HSV, flips); the default for
    /// datasets on disk.
    #[arg(long)]
    augment: bool,
    /// Generated shapes: number of training images.
    #[arg(long, value_name = "N", conflicts_with = "train")]
    shapes_train: Option<usize>,
    /// Generated shapes: number of validation images.
    #[arg(long, value_name = "N", conflicts_with = "train")]
    shapes_val: Option<usize>,
}

fn main() -> ExitCode {
    let cli: Cli = parse_args();
    run(|| {
        let (cfg, trainer) = prepare_with::<YoloRun>(&cli.train, |cfg| {
            let a = &cli.model;
            if let Some(m) = &a.model {
                cfg.model = m.clone();
            }
            if let Some(nc) = a.nc {
                cfg.num_classes = nc;
            }
            if let Some(s) = a.imgsz {
                cfg.imgsz = s;
            }
            if let Some(w) = &a.weights {
                cfg.pretrained = Some(w.clone());
            }
            if a.no_augment {
                cfg.augment = Some(zoo_datasets::detection::augment::DetectionAugment::flip_only());
            }
            if a.augment {
                cfg.augment = Some(zoo_datasets::detection::augment::DetectionAugment::default());
            }
            if let Some(n) = a.nominal_batch {
                cfg.train.nominal_batch = (n > 0).then_some(n);
            }
            if let Some(data) = &a.data {
                if a.nc.is_none() {
                    cfg.num_classes = zoo_datasets::detection::read_data_yaml(data)?.names.len();
                }
                cfg.data = DetectionData::Yaml { data: data.clone() };
            }
            if let (Some(train), Some(val)) = (&a.train, &a.val) {
                cfg.data = match (&a.train_json, &a.val_json) {
                    (Some(tj), Some(vj)) => DetectionData::Coco {
                        train_json: tj.clone(),
                        train_images: train.clone(),
                        val_json: vj.clone(),
                        val_images: val.clone(),
                    },
                    _ => DetectionData::Yolo {
                        train: train.clone(),
                        val: val.clone(),
                    },
                };
            }
            if let DetectionData::Shapes { train, val, .. } = &mut cfg.data {
                if let Some(n) = a.shapes_train {
                    *train = n;
                }
                if let Some(n) = a.shapes_val {
                    *val = n;
                }
            }
            if let Some(n) = a.close_mosaic {
                let mut aug = cfg.augmentation();
                aug.close_mosaic = n;
                cfg.augment = Some(aug);
            }
            Ok(())
        })?;
        report(
            YoloRun::FAMILY,
            &train(&cfg, &trainer)?,
            &trainer,
            cli.train.common.json,
        );
        Ok(())
    })
}
