//! YOLOv9 inference: `eval-yolov9 predict` letterboxes images, runs a GELAN / YOLOv9 model and
//! writes COCO-style JSON detections and annotated PNGs.

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use zoo_datasets::detection::LetterboxConfig;
use zoo_eval::cli::{parse_args, run};
use zoo_eval::yolov9::{annotate, class_names, collect_images, detect_file, load_for_inference, records};
use zoo_yolov9::{NmsConfig, YoloConfig};

/// YOLOv9 (Wang et al., 2024) in burnzoo: detection with the authors' GELAN / YOLOv9 models and
/// ultralytics' YOLOv9 weights.
///
/// Examples:
///   eval-yolov9 predict shapes.png                 # the embedded shapes detector
///   eval-yolov9 predict --model gelan-c --weights gelan-c.safetensors photos/ --out detections/
///   eval-yolov9 predict --model ultralytics-yolov9t --weights yolov9t.onnx bus.jpg --conf 0.4
///   eval-yolov9 predict --model yolov9-s --nc 3 --names names.txt --weights best.safetensors img.png
///   eval-yolov9 coco --gt instances_val2017.json --detections detections.json
///   eval-yolov9 summary gelan-s gelan-c
///
/// Weights: a state dict in the reference's naming (.safetensors; convert a .pt with
/// weights/reference/yolov9_to_safetensors.py, offline), a zoo .bpk, or an ultralytics ONNX export.
/// yolov9-* weights (with the PGI branch) run as their GELAN main branch.
#[derive(Parser, Debug)]
#[command(version, verbatim_doc_comment)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Detect objects in images: writes OUT/detections.json (one record per detection: image_id,
    /// file_name, category_id, category, bbox [x, y, w, h] in image pixels, score) and
    /// OUT/IMAGE_STEM.png with the boxes drawn; prints a line per image.
    Predict(PredictArgs),
    /// COCO bbox evaluation of a results file against a ground-truth file, the same 12 numbers as
    /// pycocotools' COCOeval (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl),
    /// then AP per category.
    Coco {
        /// Ground truth: a COCO instances JSON (`instances_val2017.json`).
        #[arg(long, value_name = "GT.json")]
        gt: PathBuf,
        /// Detections: a COCO results JSON list (image_id, category_id, bbox [x, y, w, h], score),
        /// e.g. `predict --coco91`'s detections.json.
        #[arg(long, value_name = "DT.json")]
        detections: PathBuf,
        /// Print the 12 numbers as one JSON object last on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Validate a `train-yolov9` run: COCO mAP of its weights on its validation split (or
    /// `--val DIR`, a YOLO-layout images folder) at conf 0.001, IoU 0.7, 300 detections; prints
    /// the 12 COCO numbers and AP per class, writes the precision-recall curves at IoU 0.5 to
    /// OUT/pr_curve.png and the numbers to OUT/val_metrics.json.
    Val {
        /// The run directory (the `--out` of train-yolov9).
        #[arg(long, value_name = "DIR")]
        checkpoint: PathBuf,
        /// Validation images folder in the YOLO layout instead of the run's.
        #[arg(long, value_name = "DIR")]
        val: Option<PathBuf>,
        /// Weights to validate instead of the run's (.bpk, or a state dict in the reference's
        /// naming: .safetensors, or a .pt state dict), with the run's model configuration.
        #[arg(long, value_name = "FILE")]
        weights: Option<PathBuf>,
        /// Output folder for pr_curve.png and val_metrics.json (default: the run directory).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Batch size.
        #[arg(long, default_value_t = 8)]
        batch_size: usize,
        /// Print the 12 numbers as one JSON object last on stdout.
        #[arg(long)]
        json: bool,
        /// Also write what was evaluated, as pycocotools reads it: OUT/val_predictions.json
        /// (COCO results: image_id, category_id, bbox [x, y, w, h], score) and
        /// OUT/val_ground_truth.json (COCO instances, with each image's file). Both are in
        /// the letterboxed images' pixels (imgsz x imgsz), image ids are the split's indices and
        /// category ids the class indices: `COCOeval(COCO(gt), COCO(gt).loadRes(pred), "bbox")`
        /// gives the same 12 numbers.
        #[arg(long)]
        save_json: bool,
    },
    /// Print parameter counts and GFLOPs (2 x convolution multiply-accumulates) of models,
    /// unfused and fused, as a Markdown table.
    Summary {
        /// Models (default: all fifteen).
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(YoloConfig::NAMES))]
        models: Vec<String>,
        /// Number of classes.
        #[arg(long, default_value_t = 80)]
        nc: usize,
        /// Square input size for the FLOPs, a multiple of 32.
        #[arg(long, default_value_t = 640)]
        imgsz: usize,
    },
}

fn coco(gt: &std::path::Path, detections: &std::path::Path, json: bool) -> anyhow::Result<()> {
    use zoo_eval::metrics::coco::{GroundTruth, evaluate, read_results};
    let truth = GroundTruth::read(gt)?;
    let results = read_results(detections)?;
    let e = evaluate(&truth, &results, &detections.display().to_string())?;
    let rows = [
        "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]",
        "Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ]",
        "Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets=100 ]",
        "Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
        "Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]",
        "Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]",
        "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ]",
        "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ]",
        "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]",
        "Average Recall     (AR) @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
        "Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]",
        "Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]",
    ];
    for (row, v) in rows.iter().zip(e.stats) {
        println!(" {row} = {v:.3}");
    }
    let names: std::collections::HashMap<String, String> = truth
        .categories
        .iter()
        .map(|c| (c.id.to_string(), c.name.clone()))
        .collect();
    println!("AP per category (IoU 0.50:0.95):");
    for (id, ap) in &e.per_category {
        let name = names.get(&id.to_string()).map(String::as_str).unwrap_or("");
        println!("  {id:>4} {name:<20} {ap:.3}");
    }
    if json {
        println!("{}", e.stats_json());
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn val(
    checkpoint: &std::path::Path,
    val_dir: Option<&std::path::Path>,
    weights: Option<&std::path::Path>,
    out: Option<&std::path::Path>,
    batch: usize,
    json: bool,
    save_json: bool,
) -> anyhow::Result<()> {
    use zoo_eval::metrics::coco::STAT_NAMES;
    use zoo_eval::yolov9::{DetectionData, FAMILY, YoloSetup, evaluate_map};
    let setup: YoloSetup = zoo_weights::run::read_manifest(checkpoint, FAMILY)?;
    let weights = match weights {
        Some(w) => w.to_path_buf(),
        None => zoo_weights::run::weights_path(checkpoint)?,
    };
    let device = burn::tensor::Device::flex();
    let cfg = YoloConfig::from_name(&setup.model, setup.num_classes)?;
    let model = load_for_inference(&cfg, &weights, &device)?;
    let data = match val_dir {
        Some(dir) => DetectionData::Yolo {
            train: dir.to_path_buf(),
            val: dir.to_path_buf(),
        },
        None => setup.data.clone(),
    };
    let splits = data.open(setup.imgsz, setup.num_classes)?;
    let (set, names) = (splits.val, splits.names);
    let measured = evaluate_map(&model, &set, batch, &device)?;
    let e = &measured.eval;
    println!(
        "eval-yolov9: {} on {} validation images",
        weights.display(),
        zoo_datasets::Dataset::len(&set)
    );
    for (name, v) in STAT_NAMES.iter().zip(e.stats) {
        println!("  {name:<6} {v:.4}");
    }
    // Categories are the class indices (see `evaluate_map`).
    let name = |id: &zoo_eval::metrics::coco::Id| match id {
        zoo_eval::metrics::coco::Id::Num(i) => {
            names.get(*i as usize).cloned().unwrap_or_else(|| id.to_string())
        }
        other => other.to_string(),
    };
    println!("AP per class (IoU 0.50:0.95):");
    for (id, ap) in &e.per_category {
        println!("  {:>4} {:<16} {ap:.4}", id.to_string(), name(id));
    }
    let dir = out.unwrap_or(checkpoint);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let recall: Vec<f64> = (0..101).map(|i| i as f64 / 100.0).collect();
    let series: Vec<zoo_eval::plot::Series> = e
        .pr_curves
        .iter()
        .map(|(id, p)| zoo_eval::plot::Series {
            name: name(id),
            points: recall
                .iter()
                .zip(p)
                .filter(|(_, p)| **p >= 0.0)
                .map(|(r, p)| (*r, *p))
                .collect(),
        })
        .collect();
    let png = dir.join("pr_curve.png");
    zoo_eval::plot::line_plot(&png, "precision-recall at IoU 0.5", "recall", &series)
        .map_err(anyhow::Error::msg)?;
    let metrics = e.stats_json();
    let mut files = vec![("val_metrics.json", metrics.clone())];
    if save_json {
        files.push((
            "val_predictions.json",
            serde_json::to_value(&measured.detections)?,
        ));
        files.push((
            "val_ground_truth.json",
            serde_json::to_value(&measured.ground_truth)?,
        ));
    }
    for (name, value) in files {
        let path = dir.join(name);
        zoo_weights::atomic::write_json_atomic(&path, &value)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if json {
        println!("{metrics}");
    }
    Ok(())
}

fn summary(models: &[String], nc: usize, imgsz: usize) -> anyhow::Result<()> {
    if imgsz == 0 || !imgsz.is_multiple_of(32) {
        bail!("--imgsz {imgsz} is not a positive multiple of 32");
    }
    let names: Vec<String> = if models.is_empty() {
        YoloConfig::NAMES.iter().map(|s| s.to_string()).collect()
    } else {
        models.to_vec()
    };
    let device = burn::tensor::Device::flex();
    println!("| model ({nc} classes, {imgsz}x{imgsz}) | params | GFLOPs | fused params | fused GFLOPs |");
    println!("|---|---|---|---|---|");
    for name in names {
        let model = YoloConfig::from_name(&name, nc)?.init(&device)?;
        let (p, g) = (model.num_parameters(), model.flops([imgsz, imgsz]) as f64 / 1e9);
        let fused = model.fuse();
        let (fp, fg) = (fused.num_parameters(), fused.flops([imgsz, imgsz]) as f64 / 1e9);
        println!("| {name} | {p} | {g:.2} | {fp} | {fg:.2} |");
    }
    Ok(())
}

#[derive(Args, Debug)]
struct PredictArgs {
    /// Image files (.jpg, .png) or folders of them.
    #[arg(required = true, value_name = "IMAGE|DIR")]
    inputs: Vec<PathBuf>,
    /// Model of --weights: gelan-{t,s,m,c,e}, yolov9-{t,s,m,c,e}, ultralytics-yolov9{t,s,m,c,e}
    /// [default: gelan-c].
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(YoloConfig::NAMES))]
    model: Option<String>,
    /// Weight file (.safetensors, .pt state dict, .bpk, .onnx). Without it, the embedded shapes
    /// detector runs (gelan-t trained here on the generated discs, squares, triangles and rings;
    /// see the YOLOv9 page).
    #[arg(long, value_name = "FILE")]
    weights: Option<PathBuf>,
    /// Number of classes of --weights [default: 80].
    #[arg(long)]
    nc: Option<usize>,
    /// Class names, one per line (default: COCO's for 80 classes, class0, class1, ... otherwise;
    /// the shapes' names for the embedded detector).
    #[arg(long, value_name = "FILE")]
    names: Option<PathBuf>,
    /// Letterbox size (longer side), a multiple of 32 [default: 640; 256 for the embedded
    /// detector, its training size].
    #[arg(long)]
    imgsz: Option<u32>,
    /// Pad to --imgsz x --imgsz instead of to the next multiple of 32.
    #[arg(long)]
    square: bool,
    /// Do not enlarge images smaller than --imgsz.
    #[arg(long)]
    no_upscale: bool,
    /// Minimum class probability.
    #[arg(long, default_value_t = 0.25)]
    conf: f32,
    /// NMS IoU threshold.
    #[arg(long, default_value_t = 0.45)]
    iou: f32,
    /// Most detections per image.
    #[arg(long, default_value_t = 1000)]
    max_det: usize,
    /// NMS across classes.
    #[arg(long)]
    agnostic: bool,
    /// Every class above --conf per box instead of the best one.
    #[arg(long)]
    multi_label: bool,
    /// Write COCO's 91-id category ids (for 80-class COCO models).
    #[arg(long)]
    coco91: bool,
    /// Output folder.
    #[arg(long, value_name = "DIR", default_value = "runs/yolov9-predict")]
    out: PathBuf,
    /// Do not write annotated PNGs.
    #[arg(long)]
    no_images: bool,
    /// cpu, wgpu, wgpu:N, cuda, cuda:N (GPU backends need a binary built with them).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Print a one-line JSON summary (images, detections, seconds) last on stdout.
    #[arg(long)]
    json: bool,
}

fn predict(a: &PredictArgs) -> anyhow::Result<()> {
    let embedded = a.weights.is_none();
    if embedded && (a.model.is_some() || a.nc.is_some()) {
        bail!(
            "--model and --nc describe --weights; without --weights the embedded shapes detector (gelan-t, 4 classes) runs"
        );
    }
    let imgsz = a.imgsz.unwrap_or(if embedded { 256 } else { 640 });
    if imgsz == 0 || !imgsz.is_multiple_of(32) {
        bail!("--imgsz {imgsz} is not a positive multiple of 32");
    }
    let nc = if embedded {
        zoo_datasets::detection::DETECTION_SHAPES.len()
    } else {
        a.nc.unwrap_or(80)
    };
    if a.coco91 && nc != 80 {
        bail!("--coco91 maps COCO's 80 classes; this model has {nc}");
    }
    let names = match (&a.names, embedded) {
        (None, true) => zoo_datasets::detection::DETECTION_SHAPES
            .map(String::from)
            .to_vec(),
        (names, _) => class_names(names.as_deref(), nc)?,
    };
    let device = zoo_eval::parse_device(&a.device)?;
    let images = collect_images(&a.inputs)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let model = match &a.weights {
        Some(w) => {
            let cfg = YoloConfig::from_name(a.model.as_deref().unwrap_or("gelan-c"), nc)?;
            load_for_inference(&cfg, w, &device)?
        }
        None => zoo_weights::yolov9::shapes_detector(&device)?.remove_pgi().fuse(),
    };
    let lb = LetterboxConfig {
        size: imgsz,
        minimal: !a.square,
        scale_up: !a.no_upscale,
        ..LetterboxConfig::default()
    };
    let nms = NmsConfig {
        conf: a.conf,
        iou: a.iou,
        max_det: a.max_det,
        multi_label: a.multi_label,
        agnostic: a.agnostic,
        ..NmsConfig::default()
    };
    let start = std::time::Instant::now();
    let mut all = Vec::new();
    for path in &images {
        let (dets, mut img) = detect_file(&model, path, &lb, &nms, &device)?;
        let mut counts = std::collections::BTreeMap::<&str, usize>::new();
        for d in &dets {
            *counts.entry(names[d.class].as_str()).or_default() += 1;
        }
        let summary: Vec<String> = counts.iter().map(|(n, c)| format!("{c} {n}")).collect();
        println!(
            "{}: {} ({}x{})",
            path.display(),
            if summary.is_empty() {
                "no detections".to_string()
            } else {
                summary.join(", ")
            },
            img.width(),
            img.height()
        );
        if !a.no_images {
            annotate(&mut img, &dets, &names)?;
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("image");
            let png = a.out.join(format!("{stem}.png"));
            let mut bytes = Vec::new();
            img.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
                .with_context(|| format!("encoding {}", png.display()))?;
            zoo_weights::write_atomic(&png, &bytes).with_context(|| format!("writing {}", png.display()))?;
        }
        all.extend(records(path, &dets, &names, a.coco91));
    }
    let json_path = a.out.join("detections.json");
    let text = serde_json::to_string_pretty(&all)?;
    zoo_weights::write_atomic(&json_path, text.as_bytes())
        .with_context(|| format!("writing {}", json_path.display()))?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "eval-yolov9: {} images, {} detections in {secs:.1} s -> {}",
        images.len(),
        all.len(),
        json_path.display()
    );
    if a.json {
        println!(
            "{}",
            serde_json::json!({"images": images.len(), "detections": all.len(), "seconds": secs})
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli: Cli = parse_args();
    run(|| match &cli.command {
        Command::Predict(a) => predict(a),
        Command::Summary { models, nc, imgsz } => summary(models, *nc, *imgsz),
        Command::Coco { gt, detections, json } => coco(gt, detections, *json),
        Command::Val {
            checkpoint,
            val: v,
            weights,
            out,
            batch_size,
            json,
            save_json,
        } => val(
            checkpoint,
            v.as_deref(),
            weights.as_deref(),
            out.as_deref(),
            *batch_size,
            *json,
            *save_json,
        ),
    })
}
