//! `train-yolov9` end to end on a tiny draw of the generated shapes: it trains (finite, changing
//! losses), reports COCO mAP, writes the run directory, and a run killed with SIGKILL resumes to
//! the same final metrics (EMA, batch norms, the optimizer's momentum warmup and the
//! augmentation's draws included); bad settings are clear errors.

#![cfg(unix)]

mod common;

use common::kill::kill_resume_compare;
use common::run::metrics;

const BIN: &str = env!("CARGO_BIN_EXE_train-yolov9");
const TINY: [&str; 12] = [
    "--shapes-train",
    "8",
    "--shapes-val",
    "4",
    "--imgsz",
    "64",
    "--batch-size",
    "4",
    "--epochs",
    "3",
    "--checkpoint-every-steps",
    "2",
];

#[test]
fn tiny_run_trains_reports_map_and_resumes_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    // Six steps in all: warm up over one instead of the default 100.
    let cfg = dir.path().join("short-warmup.json");
    std::fs::write(
        &cfg,
        r#"{"train": {"schedule": {"warmup": 1, "warmup_epochs": 0}}}"#,
    )
    .unwrap();
    // The kill/resume run with the reference's augmentation (mosaic throughout): resuming
    // replays the same mosaics, warps and colours.
    let mut args = TINY.to_vec();
    args.extend([
        "--config",
        cfg.to_str().unwrap(),
        "--augment",
        "--close-mosaic",
        "0",
    ]);
    let (reference, _) = kill_resume_compare(BIN, dir.path(), &args, common::kill::Marks::default());
    // Learning is checked without augmentation: at 64 pixels, mosaics of 8 images shrink most
    // objects under the 2-pixel limit, and three epochs of them say little.
    let plain = dir.path().join("plain");
    // Ten steps, four of them warmup (the bias rate falls from 0.1 as in the reference).
    let warm = dir.path().join("warmup-4.json");
    std::fs::write(
        &warm,
        r#"{"train": {"schedule": {"warmup": 4, "warmup_epochs": 0}}}"#,
    )
    .unwrap();
    let mut args = TINY[..8].to_vec();
    args.extend([
        "--config",
        warm.to_str().unwrap(),
        "--no-augment",
        "--epochs",
        "5",
        "--out",
    ]);
    args.push(plain.to_str().unwrap());
    metrics(BIN, &args);
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(plain.join("metrics.json")).unwrap()).unwrap();
    let history = m["history"].as_array().unwrap();
    assert_eq!(history.len(), 5);
    // The training loss is not checked to fall here: at this size (ten steps on eight 64-pixel
    // images) it does not, reliably, with any of our convolution paths or Burn's own (seeds 1-3
    // and 42 tried; it rises on a single fixed batch too). `loss_falls_on_eight_fixed_images`
    // asserts learning at 96 pixels; here the steps must run, change the weights and give
    // finite losses.
    let loss = |e: &serde_json::Value| e["metrics"]["train_loss"].as_f64().unwrap();
    assert!(
        history.iter().all(|e| loss(e).is_finite() && loss(e) > 0.0),
        "non-finite training loss: {history:?}"
    );
    assert_ne!(loss(&history[0]), loss(&history[1]), "the weights did not change");
    for e in history {
        let map = e["metrics"]["map50_95"].as_f64().unwrap();
        assert!(
            (0.0..=1.0).contains(&map) && e["metrics"]["map50"].as_f64().unwrap() >= map,
            "{e}"
        );
    }
    for f in ["run.json", "model.bpk", "best.bpk", "log.jsonl"] {
        assert!(reference.join(f).exists(), "{f} missing");
    }
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reference.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["family"], "yolov9");
    assert_eq!(run["config"]["model"], "gelan-t");
}

#[test]
fn yolov9_with_pgi_trains_a_step() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pgi");
    let m = metrics(
        BIN,
        &[
            "--model",
            "yolov9-t",
            "--shapes-train",
            "4",
            "--shapes-val",
            "2",
            "--imgsz",
            "64",
            "--batch-size",
            "4",
            "--epochs",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(m["train_loss"].as_f64().unwrap().is_finite(), "{m:?}");
}

/// A data YAML and COCO instances files as training sources, end to end.
#[test]
fn trains_from_a_data_yaml_and_coco_files() {
    use zoo_datasets::detection::{ShapesDetection, write_yolo_split};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("shapes");
    for (split, stream) in [("train", 0), ("val", 1)] {
        let samples = ShapesDetection {
            images: 4,
            size: 64,
            ..ShapesDetection::default()
        }
        .generate(stream)
        .unwrap();
        write_yolo_split(&root, split, &samples).unwrap();
        // The same objects as a COCO file (category ids 1-4).
        let mut annotations = Vec::new();
        for (i, s) in samples.iter().enumerate() {
            for b in &s.boxes {
                let [cx, cy, w, h] = b.cxcywh.map(|v| f64::from(v) * 64.0);
                annotations.push(serde_json::json!({"id": annotations.len(), "image_id": i,
                    "category_id": b.class + 1, "bbox": [cx - w / 2.0, cy - h / 2.0, w, h], "area": w * h}));
            }
        }
        let images: Vec<_> = (0..4)
            .map(|i| serde_json::json!({"id": i, "file_name": format!("{i:05}.png"), "width": 64, "height": 64}))
            .collect();
        let categories: Vec<_> = (0..4)
            .map(|c| serde_json::json!({"id": c + 1, "name": format!("c{c}")}))
            .collect();
        std::fs::write(
            dir.path().join(format!("{split}.json")),
            serde_json::json!({"images": images, "annotations": annotations, "categories": categories})
                .to_string(),
        )
        .unwrap();
    }
    let yaml = dir.path().join("shapes.yaml");
    std::fs::write(
        &yaml,
        "path: shapes\ntrain: images/train\nval: images/val\nnames: [a, b, c, d]\n",
    )
    .unwrap();
    let p = |x: &std::path::Path| x.to_str().unwrap().to_string();
    let common = [
        "--imgsz",
        "64",
        "--batch-size",
        "4",
        "--epochs",
        "1",
        "--no-augment",
    ];
    let out = dir.path().join("yaml");
    let mut args: Vec<String> = common.iter().map(|s| s.to_string()).collect();
    args.extend(["--data".into(), p(&yaml), "--out".into(), p(&out)]);
    let m = metrics(BIN, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(m["train_loss"].as_f64().unwrap().is_finite(), "{m:?}");
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(
        run["config"]["num_classes"], 4,
        "class count from the YAML's names"
    );
    let out = dir.path().join("coco");
    let mut args: Vec<String> = common.iter().map(|s| s.to_string()).collect();
    for (flag, path) in [
        ("--train", root.join("images/train")),
        ("--train-json", dir.path().join("train.json")),
        ("--val", root.join("images/val")),
        ("--val-json", dir.path().join("val.json")),
        ("--out", out.clone()),
    ] {
        args.extend([flag.to_string(), p(&path)]);
    }
    let m = metrics(BIN, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(m["train_loss"].as_f64().unwrap().is_finite(), "{m:?}");
    // A COCO file with another class count than --nc: a clear error.
    let o = std::process::Command::new(BIN)
        .args(&args[..args.len() - 2])
        .args(["--nc", "3"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("train.json has 4 classes") && err.contains("--nc 4"),
        "{err}"
    );
}

/// Fine-tuning from weights trained for 80 classes: everything but the class branches loads.
#[test]
fn fine_tunes_from_weights_for_another_class_count() {
    use burn::tensor::Device;
    let dir = tempfile::tempdir().unwrap();
    let coco = zoo_yolov9::YoloConfig::from_name("gelan-t", 80)
        .unwrap()
        .init(&Device::flex())
        .unwrap();
    let tensors = zoo_weights::yolov9::state_dict(&coco).unwrap();
    let file = dir.path().join("gelan-t-coco.safetensors");
    std::fs::write(
        &file,
        zoo_weights::tensors::to_safetensors(&tensors, false).unwrap(),
    )
    .unwrap();
    let out = dir.path().join("ft");
    let o = std::process::Command::new(BIN)
        .args([
            "--weights",
            file.to_str().unwrap(),
            "--shapes-train",
            "4",
            "--shapes-val",
            "2",
            "--imgsz",
            "64",
        ])
        .args([
            "--batch-size",
            "4",
            "--epochs",
            "1",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    // Only the class branches (3 levels x (2 Convs of 5 tensors + the output conv's 2)) differ.
    assert!(
        err.contains(&format!(
            "loaded {} tensors; 36 re-initialised",
            tensors.len() - 36
        )),
        "{err}"
    );
    assert!(err.contains("cv3"), "{err}");
}

#[test]
fn bad_settings_are_clear_errors() {
    let run = |args: &[&str]| {
        let o = std::process::Command::new(BIN).args(args).output().unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let (code, err) = run(&["--imgsz", "100"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("multiple of 32"), "{err}");
    let (code, err) = run(&["--nc", "7"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("4 classes"), "{err}");
    let (code, err) = run(&["--model", "ultralytics-yolov9t"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("ultralytics"), "{err}");
    let (code, err) = run(&[
        "--train",
        "/nonexistent/images/train",
        "--val",
        "/nonexistent/images/val",
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("/nonexistent/images/train"), "{err}");
}

/// Learning, asserted: gelan-t trained from scratch on eight fixed images (96 px, no
/// augmentation, one batch of 8 per step) must drive its loss and each of its three terms
/// down. AdamW at 2e-3 (what ultralytics' `optimizer=auto` picks for short runs): 30 steps of
/// the paper's SGD recipe barely move a detector from scratch (63 -> 51 at 128 px), and at 64
/// px the generated objects fall under the 2-pixel limit and the loss rises. Measured: 130 ->
/// 41. mAP stays 0 at this budget (the class scores start at the reference's prior, ~1e-5, under
/// the 0.001 threshold); learning to detect is shown by the side-by-side runs on the YOLOv9 page.
#[test]
fn loss_falls_on_eight_fixed_images() {
    use zoo_datasets::detection::{ShapesDetection, write_yolo_split};
    let dir = tempfile::tempdir().unwrap();
    let samples = ShapesDetection {
        images: 8,
        size: 128,
        max_objects: 3,
        seed: 5,
    }
    .generate(1)
    .unwrap();
    write_yolo_split(dir.path(), "train", &samples).unwrap();
    let images = dir.path().join("images/train");
    let cfg = dir.path().join("adamw.json");
    std::fs::write(
        &cfg,
        r#"{"train": {"optimizer": {"kind": "adamw", "lr": 0.002, "weight_decay": 0.0005,
                                   "groups": [], "warmup_momentum": null},
                      "schedule": {"warmup": 3, "warmup_epochs": 0}}}"#,
    )
    .unwrap();
    let out = dir.path().join("run");
    metrics(
        BIN,
        &[
            "--train",
            images.to_str().unwrap(),
            "--val",
            images.to_str().unwrap(),
            "--nc",
            "4",
            "--imgsz",
            "96",
            "--batch-size",
            "8",
            "--epochs",
            "30",
            "--no-augment",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    let history = m["history"].as_array().unwrap();
    assert_eq!(history.len(), 30);
    let at = |e: usize, key: &str| history[e]["metrics"][key].as_f64().unwrap();
    let (first, last) = (at(0, "train_loss"), at(29, "train_loss"));
    assert!(
        first.is_finite() && last < 0.4 * first,
        "training loss {first} -> {last}"
    );
    for term in ["train_box_loss", "train_cls_loss", "train_dfl_loss"] {
        let (a, b) = (at(0, term), at(29, term));
        assert!(b < 0.8 * a, "{term}: {a} -> {b}");
    }
}
