//! The families the `tour` binary runs: each trains on its embedded default and evaluates the
//! result. Families register here as they land.

use crate::ebv::EbvRun;
use crate::evonorm::EvoNormRun;
use crate::mlp::MlpRun;
use crate::trainer::Trainer;
use burn::tensor::Device;
use std::path::PathBuf;
use std::time::Instant;

/// How the tour runs.
#[derive(Debug, Clone)]
pub struct TourOptions {
    /// Device for every family.
    pub device: Device,
    /// Where each family writes its run (`<out>/<family>`); `None` writes nothing.
    pub out: Option<PathBuf>,
    /// Show training progress.
    pub progress: bool,
}

/// One line of the tour's table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TourRow {
    /// Family name.
    pub family: &'static str,
    /// What was trained and evaluated.
    pub task: String,
    /// Headline metric name.
    pub metric: String,
    /// Its value.
    pub value: f64,
    /// Training wall-clock seconds.
    pub train_seconds: f64,
    /// Evaluation wall-clock seconds.
    pub eval_seconds: f64,
}

/// A family's tour entry.
pub type TourFn = fn(&TourOptions) -> anyhow::Result<TourRow>;

/// Every registered family, in tour order.
pub fn families() -> Vec<(&'static str, TourFn)> {
    vec![
        ("mlp", mlp),
        ("evonorm", evonorm),
        ("ebv", ebv),
        ("aranyani", aranyani),
        ("ponita", ponita),
        ("clip", clip),
        ("promptsrc", promptsrc),
        ("yolov9", yolov9),
    ]
}

fn trainer(opts: &TourOptions, family: &str, config: &crate::TrainConfig) -> Trainer {
    let t = Trainer {
        config: config.clone(),
        devices: vec![opts.device.clone()],
        out: opts.out.as_ref().map(|o| o.join(family)),
        resume: false,
        progress: opts.progress,
    };
    t.seed_devices();
    t
}

fn mlp(opts: &TourOptions) -> anyhow::Result<TourRow> {
    let run = MlpRun::default();
    let trainer = trainer(opts, "mlp", &run.train);
    let t0 = Instant::now();
    let result = crate::mlp::train(&run, &trainer)?;
    let train_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let (_, test) = run.data.split();
    let m = zoo_eval::mlp::evaluate(&result.model, &test, &opts.device, 256)?;
    Ok(TourRow {
        family: "mlp",
        task: format!("{}-arm spirals, {} epochs", run.data.classes, run.train.epochs),
        metric: "test accuracy".into(),
        value: m.accuracy(),
        train_seconds,
        eval_seconds: t1.elapsed().as_secs_f64(),
    })
}

/// The tour's image-classification budget: a 2,000/500-image Shapes-10 draw, 4 epochs of batch
/// 64 (a few minutes on 2 cores), at most one of them warming up; the recipe's learning rate is
/// scaled linearly to the smaller batch (EvoNorm's 0.1 at 128 becomes 0.05).
fn tour_images(data: &mut zoo_datasets::image::ImageData, train: &mut crate::TrainConfig) {
    if let zoo_datasets::image::ImageSource::Shapes(s) = &mut data.source {
        s.train = 2000;
        s.test = 500;
    }
    let batch = 64;
    train.optimizer.lr *= batch as f64 / train.batch_size as f64;
    train.batch_size = batch;
    train.epochs = 4;
    train.schedule.warmup_epochs = train.schedule.warmup_epochs.min(1.0);
}

/// Trains with `fit` and returns the row for `model`'s test accuracy (scored by `score`).
fn image_row<M>(
    opts: &TourOptions,
    family: &'static str,
    task: String,
    data: &zoo_datasets::image::ImageData,
    fit: impl FnOnce() -> anyhow::Result<M>,
    score: impl Fn(&M, burn::tensor::Tensor<4>) -> burn::tensor::Tensor<2>,
) -> anyhow::Result<TourRow> {
    let t0 = Instant::now();
    let model = fit()?;
    let train_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let splits = data.open()?;
    let m = zoo_eval::image_cls::evaluate_classifier(
        |x| score(&model, x),
        splits.test.as_ref(),
        &data.normalize,
        &opts.device,
        128,
        splits.classes.len(),
    )?;
    Ok(TourRow {
        family,
        task,
        metric: "test accuracy".into(),
        value: m.accuracy(),
        train_seconds,
        eval_seconds: t1.elapsed().as_secs_f64(),
    })
}

/// Pre-activation ResNetV2-18 (width 16) with EvoNorm-S0 on the tour's Shapes-10 draw.
fn evonorm(opts: &TourOptions) -> anyhow::Result<TourRow> {
    let mut run = EvoNormRun::default();
    tour_images(&mut run.data, &mut run.train);
    let trainer = trainer(opts, "evonorm", &run.train);
    image_row(
        opts,
        "evonorm",
        "ResNetV2-18/16 EvoNorm-S0, Shapes-10, 4 ep".into(),
        &run.data,
        || Ok(crate::evonorm::train(&run, &trainer)?.model),
        |m, x| m.forward(x),
    )
}

/// ResNetV2-18 (width 16, BN-ReLU) with an EBV head (d = N = 10) on the same draw, with its own
/// recipe.
fn ebv(opts: &TourOptions) -> anyhow::Result<TourRow> {
    let mut run = EbvRun::default();
    tour_images(&mut run.data, &mut run.train);
    run.resolve_classes()?;
    let trainer = trainer(opts, "ebv", &run.train);
    image_row(
        opts,
        "ebv",
        format!("ResNetV2-18/16 EBV d={}, Shapes-10, 4 ep", run.model.ebv_dim),
        &run.data,
        || Ok(crate::ebv::train(&run, &trainer)?.0.model),
        |m, x| m.scores(x),
    )
}

/// Aranyani on the generated biased stream, one online pass at lambda 10 (the gap at lambda 0
/// is reported beside it).
fn aranyani(_opts: &TourOptions) -> anyhow::Result<TourRow> {
    let data = zoo_datasets::tabular::BiasedStream::default();
    let (stream, test) = data.generate()?;
    let config = |lambda| zoo_aranyani::LearnerConfig {
        forest: zoo_aranyani::ForestConfig {
            features: data.dim,
            ..Default::default()
        },
        lambda,
        ..Default::default()
    };
    let t0 = Instant::now();
    let (_, fair) = crate::aranyani::online_pass(config(10.0), 0, &stream, &test, None)?;
    let train_seconds = t0.elapsed().as_secs_f64();
    let (_, plain) = crate::aranyani::online_pass(config(0.0), 0, &stream, &test, None)?;
    Ok(TourRow {
        family: "aranyani",
        task: format!(
            "biased stream, lambda 10, DP {:.2}->{:.2}",
            plain.stream_dp, fair.stream_dp
        ),
        metric: "prequential accuracy".into(),
        value: fair.stream_accuracy,
        train_seconds,
        eval_seconds: 0.0,
    })
}

/// PONITA (16 orientations, 3 layers of 32 channels) on the first 600 N-body systems of the
/// seed-43 stream, 5 epochs; the test MSE is shown beside the no-motion baseline.
fn ponita(opts: &TourOptions) -> anyhow::Result<TourRow> {
    let mut run = crate::ponita::PonitaRun::default();
    run.model.hidden = 32;
    run.model.basis_dim = 64;
    run.model.layers = 3;
    let n = &mut run.data.nbody;
    (n.num_train, n.num_valid, n.num_test, n.max_train) = (600, 200, 200, Some(600));
    run.train.epochs = 5;
    run.train.batch_size = 50;
    run.train.optimizer.lr = 3e-3;
    let trainer = trainer(opts, "ponita", &run.train);
    let t0 = Instant::now();
    let result = crate::ponita::train(&run, &trainer)?;
    let train_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let sets = run.data.nbody.open()?;
    let m = zoo_eval::ponita::evaluate_nbody(&result.model, &sets.test, 100, &opts.device)?;
    Ok(TourRow {
        family: "ponita",
        task: format!("N-body 600 systems, 5 ep (no motion {:.3})", m.no_motion.mse()),
        metric: "test position MSE".into(),
        value: m.model.mse(),
        train_seconds,
        eval_seconds: t1.elapsed().as_secs_f64(),
    })
}

/// CLIP: no training here (the committed shapes CLIP took 49 minutes with `train-clip`); its
/// zero-shot accuracy on the captioned shapes' test split, held-apart pairs beside.
fn clip(opts: &TourOptions) -> anyhow::Result<TourRow> {
    use zoo_datasets::captions::{CaptionedShapes, Split};
    let t1 = Instant::now();
    let model = zoo_weights::clip::shapes_clip(&opts.device)?;
    let test = CaptionedShapes::default().generate(Split::Test)?;
    let z = zoo_eval::clip::evaluate_shapes(&model, &zoo_clip::Tokenizer::new(), &test, 500, &opts.device)?;
    Ok(TourRow {
        family: "clip",
        task: format!("committed shapes CLIP (held-apart {:.3})", z.held_apart),
        metric: "zero-shot acc, seen".into(),
        value: z.seen,
        train_seconds: 0.0,
        eval_seconds: t1.elapsed().as_secs_f64(),
    })
}

/// PromptSRC: base-to-novel on the captioned shapes with the committed shapes CLIP, the default
/// recipe shortened to 5 epochs (GPA centred on epoch 4).
fn promptsrc(opts: &TourOptions) -> anyhow::Result<TourRow> {
    let mut run = crate::promptsrc::PromptSrcRun::default();
    run.train.epochs = 5;
    run.setup.gpa = Some(zoo_eval::promptsrc::Gpa { mu: 4.0, sigma: 1.0 });
    let trainer = trainer(opts, "promptsrc", &run.train);
    let t0 = Instant::now();
    let out = crate::promptsrc::train(&run, &trainer)?;
    let get = |k: &str| out.test.get(k).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
    Ok(TourRow {
        family: "promptsrc",
        task: format!(
            "shapes b2n, 5 ep (base {:.3}, novel {:.3})",
            get("base_accuracy"),
            get("novel_accuracy")
        ),
        metric: "harmonic mean".into(),
        value: get("hm"),
        train_seconds: t0.elapsed().as_secs_f64(),
        eval_seconds: 0.0,
    })
}

/// YOLOv9: no training here (the committed shapes detector took 26 minutes with `train-yolov9`);
/// COCO mAP@.5:.95 of the embedded detector, fused, on 64 generated images it never saw (a shapes
/// seed other than its training data's), mAP@.5 beside.
fn yolov9(opts: &TourOptions) -> anyhow::Result<TourRow> {
    use zoo_datasets::detection::DETECTION_SHAPES;
    let t1 = Instant::now();
    let model = zoo_weights::yolov9::shapes_detector(&opts.device)?
        .remove_pgi()
        .fuse();
    let data = zoo_eval::yolov9::DetectionData::Shapes {
        train: 0,
        val: 64,
        size: 256,
        max_objects: 6,
        seed: 2026,
    };
    let splits = data.open(256, DETECTION_SHAPES.len())?;
    let m = zoo_eval::yolov9::evaluate_map(&model, &splits.val, 8, &opts.device)?;
    Ok(TourRow {
        family: "yolov9",
        task: format!("committed shapes gelan-t (mAP@.5 {:.3})", m.eval.stats[1]),
        metric: "mAP@.5:.95, unseen".into(),
        value: m.eval.stats[0],
        train_seconds: 0.0,
        eval_seconds: t1.elapsed().as_secs_f64(),
    })
}
