//! `eval-yolov9 predict` end to end: weights in the reference's naming, a folder and a file of
//! images of different shapes, JSON records and annotated PNGs in image pixels, and clear errors.

use burn::prelude::*;
use std::path::Path;
use std::process::Command;
use zoo_weights::tensors::to_safetensors;
use zoo_weights::yolov9::state_dict;
use zoo_yolov9::YoloConfig;

const BIN: &str = env!("CARGO_BIN_EXE_eval-yolov9");

fn run(args: &[&str]) -> (Option<i32>, String) {
    let o = Command::new(BIN).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code(), text)
}

/// A JSON array of numbers (a record's `bbox`).
fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

#[test]
fn predict_writes_records_in_image_pixels_and_annotated_images() {
    let dir = tempfile::tempdir().unwrap();
    let model = YoloConfig::from_name("gelan-t", 3)
        .unwrap()
        .init(&Device::flex())
        .unwrap();
    let weights = dir.path().join("gelan-t.safetensors");
    std::fs::write(
        &weights,
        to_safetensors(&state_dict(&model).unwrap(), false).unwrap(),
    )
    .unwrap();
    let names = dir.path().join("names.txt");
    std::fs::write(&names, "circle\nsquare\n\ntriangle\n").unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir(&images).unwrap();
    let sizes = [("wide.png", 400, 150), ("tall.png", 90, 333)];
    for (name, w, h) in sizes {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
        img.save(images.join(name)).unwrap();
    }
    let single = dir.path().join("0042.png");
    image::RgbImage::from_pixel(64, 64, image::Rgb([200, 30, 30]))
        .save(&single)
        .unwrap();
    let out = dir.path().join("out");
    let (code, text) = run(&[
        "predict",
        "--model",
        "gelan-t",
        "--nc",
        "3",
        "--names",
        &s(&names),
        "--weights",
        &s(&weights),
        "--imgsz",
        "320",
        "--conf",
        "0.00001",
        "--max-det",
        "7",
        "--out",
        &s(&out),
        &s(&images),
        &s(&single),
        "--json",
    ]);
    assert_eq!(code, Some(0), "{text}");
    let summary: serde_json::Value =
        serde_json::from_str(text.lines().rfind(|l| l.starts_with('{')).unwrap()).unwrap();
    assert_eq!(summary["images"], 3, "{text}");
    let records: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(out.join("detections.json")).unwrap()).unwrap();
    assert_eq!(records.len() as u64, summary["detections"].as_u64().unwrap());
    assert!(
        !records.is_empty(),
        "a random model above 1e-5 should detect something"
    );
    let dims = |file: &str| match Path::new(file).file_name().unwrap().to_str().unwrap() {
        "wide.png" => (400.0, 150.0),
        "tall.png" => (90.0, 333.0),
        _ => (64.0, 64.0),
    };
    for r in &records {
        let (w, h) = dims(r["file_name"].as_str().unwrap());
        let b = floats(&r["bbox"]);
        assert!(
            b[0] >= 0.0 && b[1] >= 0.0 && b[0] + b[2] <= w + 1e-3 && b[1] + b[3] <= h + 1e-3,
            "{r}"
        );
        assert!(r["score"].as_f64().unwrap() >= 1e-5);
        let c = r["category_id"].as_u64().unwrap() as usize;
        assert_eq!(r["category"], ["circle", "square", "triangle"][c]);
    }
    // Numeric stems become numeric image ids (COCO file names); at most --max-det per image.
    for r in records
        .iter()
        .filter(|r| r["file_name"].as_str().unwrap().ends_with("0042.png"))
    {
        assert_eq!(r["image_id"], 42);
    }
    for stem in ["wide", "tall", "0042"] {
        let n = records
            .iter()
            .filter(|r| r["file_name"].as_str().unwrap().contains(stem))
            .count();
        assert!(n <= 7, "{stem}: {n} detections");
        let png = image::open(out.join(format!("{stem}.png"))).unwrap();
        let (w, h) = dims(&format!("{stem}.png"));
        assert_eq!((f64::from(png.width()), f64::from(png.height())), (w, h));
    }
}

#[test]
fn bad_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let model = YoloConfig::from_name("gelan-t", 3)
        .unwrap()
        .init(&Device::flex())
        .unwrap();
    let weights = dir.path().join("w.safetensors");
    std::fs::write(
        &weights,
        to_safetensors(&state_dict(&model).unwrap(), false).unwrap(),
    )
    .unwrap();
    let fake = dir.path().join("notes.png");
    std::fs::write(&fake, "not an image").unwrap();
    let out = dir.path().join("out");
    let base = ["predict", "--model", "gelan-t", "--weights"];
    let w = s(&weights);

    let (code, text) = run(&[
        &base[..],
        &[w.as_str(), "--nc", "3", "--out", &s(&out), &s(&fake)],
    ]
    .concat());
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("notes.png") && text.contains("decode"), "{text}");

    let good = dir.path().join("a.png");
    image::RgbImage::new(40, 30).save(&good).unwrap();
    let (code, text) = run(&[&base[..], &[w.as_str(), "--out", &s(&out), &s(&good)]].concat());
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("--nc 3"), "{text}");

    let (code, text) = run(&[&base[..], &[w.as_str(), "--nc", "3", "--imgsz", "100", &s(&good)]].concat());
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("multiple of 32"), "{text}");

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (code, text) = run(&[&base[..], &[w.as_str(), "--nc", "3", &s(&empty)]].concat());
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("no .jpg"), "{text}");
}

/// `eval-yolov9 coco` on a fixture case prints pycocotools' numbers; a detections file naming an
/// unknown image and a malformed ground truth are errors naming the file.
#[test]
fn coco_subcommand_prints_the_12_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../weights/fixtures/coco_eval_cases.json");
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let case = cases.iter().find(|c| c["name"] == "mixed").unwrap();
    let (gt, dt) = (dir.path().join("gt.json"), dir.path().join("dt.json"));
    std::fs::write(&gt, case["gt"].to_string()).unwrap();
    std::fs::write(&dt, case["dt"].to_string()).unwrap();
    let (code, text) = run(&["coco", "--gt", &s(&gt), "--detections", &s(&dt), "--json"]);
    assert_eq!(code, Some(0), "{text}");
    let stats: serde_json::Value =
        serde_json::from_str(text.lines().rfind(|l| l.starts_with('{')).unwrap()).unwrap();
    let want = case["stats"].as_array().unwrap();
    for (name, w) in [
        "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
    ]
    .iter()
    .zip(want)
    {
        assert!(
            (stats[name].as_f64().unwrap() - w.as_f64().unwrap()).abs() < 1e-9,
            "{name}: {text}"
        );
    }
    assert!(text.contains("Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]"));

    std::fs::write(
        &dt,
        r#"[{"image_id": 99, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.3}]"#,
    )
    .unwrap();
    let (code, text) = run(&["coco", "--gt", &s(&gt), "--detections", &s(&dt)]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("dt.json") && text.contains("99"), "{text}");
    std::fs::write(
        &gt,
        r#"{"images": [], "annotations": [{"id": 1}], "categories": []}"#,
    )
    .unwrap();
    let (code, text) = run(&["coco", "--gt", &s(&gt), "--detections", &s(&dt)]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("gt.json") && text.contains("annotations[0]"),
        "{text}"
    );
}

/// `eval-yolov9 val` on a run directory (run.json + model.bpk, as train-yolov9 writes them):
/// the 12 numbers, per-class AP, the PR-curve PNG and val_metrics.json; a run of another family
/// is refused.
#[test]
fn val_reads_a_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    std::fs::create_dir(&run_dir).unwrap();
    let model = YoloConfig::from_name("gelan-t", 4)
        .unwrap()
        .init(&Device::flex())
        .unwrap();
    zoo_weights::save_module(&model, run_dir.join("model.bpk")).unwrap();
    let config = serde_json::json!({
        "model": "gelan-t", "num_classes": 4, "imgsz": 64,
        "data": {"source": "shapes", "train": 4, "val": 3, "size": 64, "max_objects": 3, "seed": 1},
        "train": {"epochs": 1}
    });
    zoo_weights::run::write_manifest(&run_dir, "yolov9", &config).unwrap();
    let (code, text) = run(&["val", "--checkpoint", &s(&run_dir), "--json"]);
    assert_eq!(code, Some(0), "{text}");
    let stats: serde_json::Value =
        serde_json::from_str(text.lines().rfind(|l| l.starts_with('{')).unwrap()).unwrap();
    assert_eq!(stats.as_object().unwrap().len(), 12);
    assert!(
        text.contains("on 3 validation images") && text.contains("AP per class") && text.contains("triangle"),
        "{text}"
    );
    assert!(run_dir.join("pr_curve.png").exists() && run_dir.join("val_metrics.json").exists());
    // A data YAML's class names label the per-class lines.
    let samples = zoo_datasets::detection::ShapesDetection {
        images: 3,
        size: 64,
        ..Default::default()
    }
    .generate(1)
    .unwrap();
    zoo_datasets::detection::write_yolo_split(&dir.path().join("ds"), "val", &samples).unwrap();
    let yaml = dir.path().join("ds.yaml");
    std::fs::write(
        &yaml,
        "path: ds\ntrain: images/val\nval: images/val\nnames: [kreis, quadrat, dreieck, ring]\n",
    )
    .unwrap();
    let mut yaml_config = config.clone();
    yaml_config["data"] = serde_json::json!({"source": "yaml", "data": yaml});
    zoo_weights::run::write_manifest(&run_dir, "yolov9", &yaml_config).unwrap();
    let (code, text) = run(&["val", "--checkpoint", &s(&run_dir)]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("dreieck") && text.contains("on 3 validation images"),
        "{text}"
    );
    zoo_weights::run::write_manifest(&run_dir, "mlp", &config).unwrap();
    let (code, text) = run(&["val", "--checkpoint", &s(&run_dir)]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("mlp"), "{text}");
}

/// `eval-yolov9 val` against pycocotools: a gelan-t detector trained here on the generated
/// shapes, validated at 256 px on 12 held-out 190x190 images (the letterbox scales them; 190 is
/// no multiple of 8, so no box lands on COCO's small/medium/large area boundaries, where f32 and
/// f64 arithmetic would disagree). weights/reference/yolov9_val_fixture.py built the ground truth
/// from the label files itself, checked ours against it and evaluated our predictions with
/// COCOeval; here val's 12 numbers must be those.
#[test]
fn val_gives_pycocotools_numbers_on_a_trained_detector() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("../weights/fixtures/yolov9_val");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("expected.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (run_dir, out) = (dir.path().join("run"), dir.path().join("out"));
    std::fs::create_dir(&run_dir).unwrap();
    let images = case.join("images/val");
    let config = serde_json::json!({
        "model": "gelan-t", "num_classes": 4, "imgsz": 256,
        "data": {"source": "yolo", "train": images, "val": images}
    });
    zoo_weights::run::write_manifest(&run_dir, "yolov9", &config).unwrap();
    let (code, text) = run(&[
        "val",
        "--checkpoint",
        &s(&run_dir),
        "--weights",
        &s(&case.join("../../yolov9_shapes.safetensors")),
        "--out",
        &s(&out),
        "--save-json",
        "--json",
    ]);
    assert_eq!(code, Some(0), "{text}");
    let stats: serde_json::Value =
        serde_json::from_str(text.lines().rfind(|l| l.starts_with('{')).unwrap()).unwrap();
    let names = [
        "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
    ];
    let ours: Vec<f64> = names.iter().map(|n| stats[n].as_f64().unwrap()).collect();
    let theirs: Vec<f64> = names
        .iter()
        .map(|n| expected["stats"][n].as_f64().unwrap())
        .collect();
    eprintln!("ours {ours:?}\npycocotools {theirs:?}");
    // The detector finds the shapes: the comparison is not between two near-zero numbers.
    assert!(theirs[1] > 0.5, "the committed detector's AP50 is {}", theirs[1]);
    // Equal here to 1e-15; another CPU's rounding may move a score, hence 2e-3.
    let d = zoo_check::diff(&ours, &theirs).unwrap();
    assert!(
        d.max_abs < 2e-3,
        "{} ({}) differs from pycocotools: {d}",
        names[d.index],
        ours[d.index]
    );
    let predictions: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(out.join("val_predictions.json")).unwrap()).unwrap();
    assert_eq!(
        predictions.len() as u64,
        expected["predictions"].as_u64().unwrap()
    );
    let gt: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("val_ground_truth.json")).unwrap()).unwrap();
    assert_eq!(
        gt["annotations"].as_array().unwrap().len() as u64,
        expected["ground_truth_boxes"].as_u64().unwrap()
    );
}

/// `eval-yolov9 predict IMAGE` with nothing else runs the embedded shapes detector: on held-out
/// images it finds most objects with the right class, where they are.
#[test]
fn predict_runs_the_embedded_detector_out_of_the_box() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("../weights/fixtures/yolov9_val");
    let dir = tempfile::tempdir().unwrap();
    let images = case.join("images/val");
    let out = dir.path().join("out");
    let (code, text) = run(&["predict", "--out", &s(&out), "--json", &s(&images)]);
    assert_eq!(code, Some(0), "{text}");
    let records: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(out.join("detections.json")).unwrap()).unwrap();
    let (mut found, mut objects) = (0, 0);
    for i in 0..12 {
        let stem = format!("{i:05}");
        let labels = std::fs::read_to_string(case.join(format!("labels/val/{stem}.txt"))).unwrap();
        let dets: Vec<&serde_json::Value> = records
            .iter()
            .filter(|r| r["file_name"].as_str().unwrap().ends_with(&format!("{stem}.png")))
            .collect();
        for line in labels.lines() {
            let v: Vec<f64> = line.split_whitespace().map(|x| x.parse().unwrap()).collect();
            let (class, [cx, cy, w, h]) = (v[0] as u64, [v[1], v[2], v[3], v[4]].map(|x| x * 190.0));
            let gt = [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0];
            objects += 1;
            found += usize::from(dets.iter().any(|d| {
                let b = floats(&d["bbox"]);
                let det = [b[0], b[1], b[0] + b[2], b[1] + b[3]];
                let inter = (gt[2].min(det[2]) - gt[0].max(det[0])).max(0.0)
                    * (gt[3].min(det[3]) - gt[1].max(det[1])).max(0.0);
                let iou = inter / (w * h + b[2] * b[3] - inter);
                d["category_id"].as_u64() == Some(class) && iou > 0.5
            }));
        }
    }
    eprintln!("{found} of {objects} objects found");
    assert!(
        objects >= 30 && found * 3 >= objects * 2,
        "{found} of {objects} objects found: {text}"
    );
    assert!(
        text.contains("disc")
            || text.contains("square")
            || text.contains("triangle")
            || text.contains("ring")
    );
    // --model without --weights is a clear error.
    let (code, text) = run(&["predict", "--model", "gelan-c", &s(&images)]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("embedded"), "{text}");
}
