//! YOLOv9 inference for the `eval-yolov9` binary: weights into a deploy-ready model, images
//! through the letterbox, detections back in image pixels, COCO-style JSON records and annotated
//! PNGs.

use anyhow::{Context, bail};
use burn::prelude::*;
use burn::tensor::TensorData;
use serde::Serialize;
use std::path::{Path, PathBuf};
use zoo_datasets::detection::{DetectionSet, LetterboxConfig, letterbox};
use zoo_yolov9::{Detection, NmsConfig, YoloConfig, YoloV9, non_max_suppression};

/// The 80 COCO class names in the order of the reference's `data/coco.yaml`.
pub const COCO_NAMES: [&str; 80] = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
];

/// COCO's 91-id category of each of the 80 classes (the reference's `coco80_to_coco91_class`).
pub const COCO80_TO_91: [u32; 80] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32,
    33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59,
    60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90,
];

/// Class names: one per line of `path` (blank lines skipped); without a file, COCO's for 80
/// classes and `class0`, `class1`, ... otherwise. The count must equal `nc`.
pub fn class_names(path: Option<&Path>, nc: usize) -> anyhow::Result<Vec<String>> {
    let names: Vec<String> = match path {
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("reading class names from {}", p.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
        None if nc == 80 => COCO_NAMES.iter().map(|s| s.to_string()).collect(),
        None => (0..nc).map(|i| format!("class{i}")).collect(),
    };
    if names.len() != nc {
        bail!(
            "{}: {} class names for a model with {nc} classes",
            path.map(|p| p.display().to_string()).unwrap_or_default(),
            names.len()
        );
    }
    Ok(names)
}

/// The deploy form of a model from a weight file (a state dict, `.bpk` or ONNX export, see
/// `zoo_weights::yolov9::load_yolov9`): its PGI branch removed, BNs and RepConvN branches fused.
pub fn load_for_inference(cfg: &YoloConfig, weights: &Path, device: &Device) -> anyhow::Result<YoloV9> {
    Ok(zoo_weights::yolov9::load_yolov9(cfg.init(device)?, weights)?
        .remove_pgi()
        .fuse())
}

/// Image files named directly, and the `.jpg`/`.jpeg`/`.png` files of named folders (sorted).
pub fn collect_images(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let found = zoo_datasets::image::image_files(p)?;
            if found.is_empty() {
                bail!("{}: no .jpg, .jpeg or .png images in this folder", p.display());
            }
            out.extend(found);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            bail!("{}: no such file or folder", p.display());
        }
    }
    Ok(out)
}

/// One detection as a COCO-style result record (`bbox` = [x, y, width, height] in image pixels).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DetectionRecord {
    /// The image's file stem as a number when it is one (COCO file names), else the stem.
    pub image_id: serde_json::Value,
    /// The image file.
    pub file_name: String,
    /// Class index, or COCO's 91-id category with `coco91`.
    pub category_id: u32,
    /// Class name.
    pub category: String,
    /// x, y, width, height (3 decimals).
    pub bbox: [f64; 4],
    /// Class probability (5 decimals).
    pub score: f64,
}

/// The reference's `image_id` rule: the stem as an integer when it is numeric.
pub fn image_id(path: &Path) -> serde_json::Value {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    stem.parse::<u64>()
        .map(serde_json::Value::from)
        .unwrap_or_else(|_| serde_json::Value::from(stem))
}

fn round(v: f32, places: i32) -> f64 {
    let k = 10f64.powi(places);
    (f64::from(v) * k).round() / k
}

/// Detections of one image file, in its pixels, and the decoded image.
pub fn detect_file(
    model: &YoloV9,
    path: &Path,
    lb: &LetterboxConfig,
    nms: &NmsConfig,
    device: &Device,
) -> anyhow::Result<(Vec<Detection>, image::RgbImage)> {
    let img = zoo_datasets::image::decode_rgb(path)?;
    let boxed = letterbox(&img, lb);
    let (w, h) = boxed.image.dimensions();
    let x = Tensor::<4>::from_data(
        TensorData::new(boxed.to_chw(), [1, 3, h as usize, w as usize]),
        device,
    );
    let mut dets = non_max_suppression(model.predict(x), nms)
        .pop()
        .unwrap_or_default();
    for d in &mut dets {
        d.bbox = boxed.unletterbox(d.bbox);
    }
    Ok((dets, img))
}

/// Result records of one image's detections.
pub fn records(path: &Path, dets: &[Detection], names: &[String], coco91: bool) -> Vec<DetectionRecord> {
    dets.iter()
        .map(|d| DetectionRecord {
            image_id: image_id(path),
            file_name: path.display().to_string(),
            category_id: if coco91 {
                COCO80_TO_91[d.class]
            } else {
                d.class as u32
            },
            category: names[d.class].clone(),
            bbox: [
                round(d.bbox[0], 3),
                round(d.bbox[1], 3),
                round(d.bbox[2] - d.bbox[0], 3),
                round(d.bbox[3] - d.bbox[1], 3),
            ],
            score: round(d.score, 5),
        })
        .collect()
}

/// Draws `dets` with their names and scores onto `img`.
pub fn annotate(img: &mut image::RgbImage, dets: &[Detection], names: &[String]) -> anyhow::Result<()> {
    let boxes: Vec<crate::plot::LabelledBox> = dets
        .iter()
        .map(|d| crate::plot::LabelledBox {
            bbox: d.bbox,
            label: format!("{} {:.2}", names[d.class], d.score),
            class: d.class,
        })
        .collect();
    crate::plot::draw_boxes(img, &boxes).map_err(anyhow::Error::msg)
}

/// Run-record family name of YOLOv9 runs.
pub const FAMILY: &str = "yolov9";

/// Where a YOLOv9 run's images come from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "source", rename_all = "lowercase", deny_unknown_fields)]
pub enum DetectionData {
    /// Generated shapes ([`zoo_datasets::detection::ShapesDetection`]: 4 classes), in memory.
    Shapes {
        /// Training images.
        train: usize,
        /// Validation images.
        val: usize,
        /// Side of the generated images.
        size: u32,
        /// Most objects per image.
        max_objects: usize,
        /// Seed of the generator.
        seed: u64,
    },
    /// A dataset in the YOLO layout: `images/<split>/*.jpg|png` beside `labels/<split>/*.txt`.
    Yolo {
        /// The training images: a folder (e.g. `data/coco/images/train2017`) or a `.txt` list.
        train: std::path::PathBuf,
        /// The validation images: a folder or a `.txt` list.
        val: std::path::PathBuf,
    },
    /// A YOLO data YAML (`data/coco.yaml`): sources and class names
    /// ([`zoo_datasets::detection::read_data_yaml`]).
    Yaml {
        /// The YAML file.
        data: std::path::PathBuf,
    },
    /// COCO instances files with their image folders (crowd regions skipped; categories in
    /// order of id).
    Coco {
        /// Training annotations (`instances_train2017.json`).
        train_json: std::path::PathBuf,
        /// Training images folder.
        train_images: std::path::PathBuf,
        /// Validation annotations.
        val_json: std::path::PathBuf,
        /// Validation images folder.
        val_images: std::path::PathBuf,
    },
}

impl Default for DetectionData {
    fn default() -> Self {
        Self::Shapes {
            train: 256,
            val: 64,
            size: 256,
            max_objects: 6,
            seed: 0,
        }
    }
}

/// Opened training and validation splits and the class names.
#[derive(Debug, Clone)]
pub struct DetectionSplits {
    /// Training split.
    pub train: DetectionSet,
    /// Validation split.
    pub val: DetectionSet,
    /// Class names, by index.
    pub names: Vec<String>,
}

fn split_note(what: &str, split: &zoo_datasets::detection::YoloSplit) {
    if split.missing_labels + split.orphan_labels + split.duplicates + split.skipped > 0 {
        eprintln!(
            "{what}: {} images without labels (kept as backgrounds), {} label files without an image (ignored), {} duplicate labels dropped, {} crowd or empty COCO boxes skipped",
            split.missing_labels, split.orphan_labels, split.duplicates, split.skipped
        );
    }
}

impl DetectionData {
    /// Training and validation splits letterboxed to `imgsz`, and the class names. The class
    /// count must be `num_classes` (4 for the shapes, the names' count for a YAML or COCO file;
    /// for YOLO folders it bounds the label classes and names come from [`class_names`]).
    pub fn open(&self, imgsz: u32, num_classes: usize) -> anyhow::Result<DetectionSplits> {
        use zoo_datasets::detection::{
            DETECTION_SHAPES, ShapesDetection, read_coco_split, read_data_yaml, read_yolo_sources,
        };
        let check = |names: &[String], source: &std::path::Path| -> anyhow::Result<()> {
            if names.len() != num_classes {
                bail!(
                    "{} has {} classes, the model {num_classes} (set --nc {})",
                    source.display(),
                    names.len(),
                    names.len()
                );
            }
            Ok(())
        };
        let yolo = |sources: &[std::path::PathBuf]| -> anyhow::Result<DetectionSet> {
            let split = read_yolo_sources(sources, num_classes)?;
            split_note(&sources[0].display().to_string(), &split);
            Ok(DetectionSet::from_split(split, imgsz))
        };
        Ok(match self {
            Self::Shapes {
                train,
                val,
                size,
                max_objects,
                seed,
            } => {
                let g = |images| ShapesDetection {
                    images,
                    size: *size,
                    max_objects: *max_objects,
                    seed: *seed,
                };
                DetectionSplits {
                    train: DetectionSet::from_samples(g(*train).generate(0)?, imgsz),
                    val: DetectionSet::from_samples(g(*val).generate(1)?, imgsz),
                    names: DETECTION_SHAPES.iter().map(|s| s.to_string()).collect(),
                }
            }
            Self::Yolo { train, val } => DetectionSplits {
                train: yolo(std::slice::from_ref(train))?,
                val: yolo(std::slice::from_ref(val))?,
                names: class_names(None, num_classes)?,
            },
            Self::Yaml { data } => {
                let y = read_data_yaml(data)?;
                check(&y.names, data)?;
                DetectionSplits {
                    train: yolo(&y.train)?,
                    val: yolo(&y.val)?,
                    names: y.names,
                }
            }
            Self::Coco {
                train_json,
                train_images,
                val_json,
                val_images,
            } => {
                let (train, names) = read_coco_split(train_json, train_images)?;
                check(&names, train_json)?;
                split_note(&train_json.display().to_string(), &train);
                let (val, val_names) = read_coco_split(val_json, val_images)?;
                if val_names != names {
                    bail!(
                        "{} and {} list different categories",
                        train_json.display(),
                        val_json.display()
                    );
                }
                split_note(&val_json.display().to_string(), &val);
                DetectionSplits {
                    train: DetectionSet::from_split(train, imgsz),
                    val: DetectionSet::from_split(val, imgsz),
                    names,
                }
            }
        })
    }
}

/// What [`evaluate_map`] measured, with its inputs in COCO's forms (what `eval-yolov9 val
/// --save-json` writes).
pub struct MapEvaluation {
    /// The 12 numbers, per-category AP and the precision-recall curves.
    pub eval: crate::metrics::coco::CocoEval,
    /// The split's objects as a COCO instances file (image ids are the split's indices, with
    /// their file names where the split is on disk; categories are the class indices).
    pub ground_truth: crate::metrics::coco::GroundTruth,
    /// The detections as a COCO results list.
    pub detections: Vec<crate::metrics::coco::DetResult>,
}

/// COCO box evaluation of `model` on a split (validation settings: conf 0.001, IoU 0.7, 300
/// detections, multi-label). Ground truth and detections are both in the letterboxed images'
/// pixels, so the small/medium/large ranges refer to that scale.
pub fn evaluate_map(
    model: &YoloV9,
    set: &DetectionSet,
    batch: usize,
    device: &Device,
) -> anyhow::Result<MapEvaluation> {
    use crate::metrics::coco::{DetResult, GroundTruth, GtAnnotation, GtCategory, GtImage, Id};
    use zoo_datasets::{Batcher, Dataset};
    let nc = model.config().num_classes;
    let mut gt = GroundTruth {
        images: Vec::new(),
        annotations: Vec::new(),
        categories: (0..nc)
            .map(|c| GtCategory {
                id: Id::Num(c as i64),
                name: format!("class{c}"),
            })
            .collect(),
    };
    let mut results = Vec::new();
    let nms = NmsConfig::validation();
    for start in (0..set.len()).step_by(batch.max(1)) {
        let items = (start..(start + batch).min(set.len()))
            .map(|i| set.get(i))
            .collect::<Result<Vec<_>, _>>()?;
        let s = items[0].size as f32;
        let b = zoo_datasets::detection::DetectionBatcher.batch(items, device);
        for (i, image_boxes) in non_max_suppression(model.predict(b.images), &nms)
            .into_iter()
            .enumerate()
        {
            let id = (start + i) as i64;
            gt.images.push(GtImage {
                id: Id::Num(id),
                file_name: set.file(start + i).map(|f| f.display().to_string()),
                width: Some(f64::from(set.size)),
                height: Some(f64::from(set.size)),
            });
            for d in image_boxes {
                let [x1, y1, x2, y2] = d.bbox.map(f64::from);
                results.push(DetResult {
                    image_id: Id::Num(id),
                    category_id: Id::Num(d.class as i64),
                    bbox: [x1, y1, x2 - x1, y2 - y1],
                    score: f64::from(d.score),
                });
            }
        }
        for &(i, bx) in &b.targets {
            let [cx, cy, w, h] = bx.cxcywh.map(|v| f64::from(v * s));
            gt.annotations.push(GtAnnotation {
                id: gt.annotations.len() as i64 + 1,
                image_id: Id::Num((start + i) as i64),
                category_id: Id::Num(bx.class as i64),
                bbox: [cx - w / 2.0, cy - h / 2.0, w, h],
                area: w * h,
                iscrowd: 0,
            });
        }
    }
    Ok(MapEvaluation {
        eval: crate::metrics::coco::evaluate(&gt, &results, "<detections>")?,
        ground_truth: gt,
        detections: results,
    })
}

/// The model and data of a `train-yolov9` run (the fields of its run.json `config` that
/// evaluation needs; the loop settings are ignored).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct YoloSetup {
    /// Model name.
    pub model: String,
    /// Number of classes.
    pub num_classes: usize,
    /// Square image size.
    pub imgsz: u32,
    /// Data.
    pub data: DetectionData,
}
