//! One function per fuzz target: feeds arbitrary bytes to a parser a user's file reaches and
//! checks what the zoo promises of it: an error naming the file, or a result that holds up;
//! never a panic, a hang or an unbounded allocation (libFuzzer's `-malloc_limit_mb` and
//! `-timeout` catch those). Also compiled into `train/tests/fuzz_regressions.rs` (by path), which
//! replays `fuzz/seeds/` and `fuzz/regressions/` in `cargo test`.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

/// A target's harness: whether its main parser accepted the input.
pub type Harness = fn(&[u8]) -> bool;

/// The harness functions by target name (the file names under `fuzz_targets/`). Each returns
/// whether its main parser accepted the input (every seed must be accepted).
pub const TARGETS: &[(&str, Harness)] = &[
    ("tokenizer", tokenizer),
    ("yolo_labels", yolo_labels),
    ("coco_json", coco_json),
    ("dassl_json", dassl_json),
    ("csv", csv),
    ("npz", npz),
    ("safetensors", safetensors),
    ("onnx", onnx),
    ("bpk", bpk),
    ("pytorch", pytorch),
    ("config", config),
    ("data_yaml", data_yaml),
];

thread_local! {
    // One scratch folder per thread (libFuzzer runs one; the regression test several): the
    // file-based readers are fuzzed through real files, as a user's data reaches them.
    static SCRATCH: tempfile::TempDir = {
        let dir = tempfile::tempdir().expect("a scratch folder");
        for f in ["a.jpg", "b.jpg", "c.jpg"] {
            std::fs::write(dir.path().join(f), b"x").expect("scratch files");
        }
        dir
    };
    static TINY_CLIP: RefCell<Option<zoo_clip::Clip>> = const { RefCell::new(None) };
    static GELAN_T: RefCell<Option<zoo_yolov9::YoloV9>> = const { RefCell::new(None) };
}

/// Writes `data` to `name` in this thread's scratch folder and returns its path.
fn scratch_file(name: &str, data: &[u8]) -> PathBuf {
    SCRATCH.with(|dir| {
        let path = dir.path().join(name);
        std::fs::write(&path, data).expect("scratch write");
        path
    })
}

fn scratch_dir() -> PathBuf {
    SCRATCH.with(|dir| dir.path().to_path_buf())
}

/// An error message must name the file it is about.
fn names(e: impl std::fmt::Display, file: &str) {
    let e = e.to_string();
    assert!(e.contains(file), "error does not name {file}: {e}");
}

fn device() -> burn::tensor::Device {
    burn::tensor::Device::flex()
}

/// The BPE tokenizer on arbitrary text (invalid UTF-8 as a user's file would be read: lossily).
pub fn tokenizer(data: &[u8]) -> bool {
    use std::sync::OnceLock;
    static TOKENIZER: OnceLock<zoo_clip::tokenizer::Tokenizer> = OnceLock::new();
    let tok = TOKENIZER.get_or_init(zoo_clip::tokenizer::Tokenizer::new);
    let text = String::from_utf8_lossy(data);
    let ids = tok.encode(&text);
    assert!(ids.iter().all(|&id| (id as usize) < tok.vocab_size()));
    let row = tok.tokenize(&text, 77);
    assert_eq!(row.len(), 77);
    let _ = tok.decode(&ids);
    true
}

/// YOLO label files: every box kept is a known class inside the image.
pub fn yolo_labels(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    let path = Path::new("labels/x.txt");
    let mut accepted = true;
    for nc in [Some(3), None] {
        match zoo_datasets::detection::parse_yolo_labels(&text, path, nc) {
            Ok((boxes, _)) => assert!(boxes.iter().all(|b| {
                nc.is_none_or(|nc| b.class < nc) && b.cxcywh.iter().all(|v| (0.0..=1.0).contains(v))
            })),
            Err(e) => {
                names(e, "labels/x.txt, line");
                accepted = false;
            }
        }
    }
    accepted
}

const COCO_GT: &str = r#"{"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}],
 "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [10, 10, 30, 20], "area": 600, "iscrowd": 0}],
 "categories": [{"id": 3, "name": "car"}]}"#;
const COCO_DT: &str = r#"[{"image_id": 1, "category_id": 3, "bbox": [12, 9, 28, 22], "score": 0.9}]"#;

/// COCO JSON: as ground truth (evaluated against fixed detections, and read as a training split),
/// and as detections (evaluated against a fixed ground truth).
pub fn coco_json(data: &[u8]) -> bool {
    use zoo_eval::metrics::coco::{GroundTruth, evaluate, read_results};
    let fixed_dt = read_results(&scratch_file("fixed_dt.json", COCO_DT.as_bytes())).expect("fixed dt");
    let gt_path = scratch_file("gt.json", data);
    let mut accepted = false;
    match GroundTruth::read(&gt_path) {
        Ok(gt) => {
            if let Ok(e) = evaluate(&gt, &fixed_dt, "fixed_dt.json") {
                assert!(e.stats.iter().all(|s| (-1.0..=1.0).contains(s)), "{:?}", e.stats);
                accepted = true;
            }
        }
        Err(e) => names(e, "gt.json"),
    }
    match zoo_datasets::detection::read_coco_split(&gt_path, &scratch_dir()) {
        Ok((split, names)) => {
            for (_, boxes) in &split.items {
                assert!(boxes.iter().all(|b| b.class < names.len()));
            }
        }
        Err(e) => names(e, "gt.json"),
    }
    let fixed_gt = GroundTruth::read(&scratch_file("fixed_gt.json", COCO_GT.as_bytes())).expect("fixed gt");
    match read_results(&scratch_file("dt.json", data)) {
        Ok(dt) => {
            if let Ok(e) = evaluate(&fixed_gt, &dt, "dt.json") {
                assert!(e.stats.iter().all(|s| (-1.0..=1.0).contains(s)), "{:?}", e.stats);
                accepted = true;
            }
        }
        Err(e) => names(e, "dt.json"),
    }
    accepted
}

/// Dassl `split_zhou_*.json` files (images a.jpg, b.jpg, c.jpg exist).
pub fn dassl_json(data: &[u8]) -> bool {
    let path = scratch_file("split.json", data);
    match zoo_datasets::dassl::read_split_json(&path, &scratch_dir()) {
        Ok(_) => true,
        Err(e) => {
            names(e, "split.json");
            false
        }
    }
}

/// Tabular CSV (generic header file and Adult's headerless format), then encoding: features are
/// finite (NaN or inf in a file is an error naming the line), labels and groups 0/1.
pub fn csv(data: &[u8]) -> bool {
    use zoo_datasets::tabular::{Encoder, Table, TabularSpec, adult_csv, adult_spec};
    let path = scratch_file("data.csv", data);
    let generic = TabularSpec {
        label: "y".into(),
        positive: vec!["1".into()],
        sensitive: "g".into(),
        sensitive_value: "1".into(),
        ..TabularSpec::default()
    };
    let mut accepted = false;
    for (options, spec) in [(Default::default(), generic), (adult_csv(false), adult_spec())] {
        let table = match Table::read(&path, &options) {
            Ok(t) => t,
            Err(e) => {
                names(e, "data.csv");
                continue;
            }
        };
        let items = Encoder::fit(&table, &spec).and_then(|enc| enc.encode(&table));
        match items {
            Ok(items) => {
                assert!(
                    items.iter().all(|i| {
                        i.label <= 1 && i.group <= 1 && i.features.iter().all(|f| f.is_finite())
                    })
                );
                accepted = true;
            }
            Err(e) => names(e, "data.csv"),
        }
    }
    accepted
}

/// `.npy` bytes and `.npz` archives: an array's data matches its shape.
pub fn npz(data: &[u8]) -> bool {
    let npy = zoo_datasets::npy::parse_npy(data);
    if let Ok(a) = &npy {
        assert_eq!(a.len(), a.shape.iter().product::<usize>());
    }
    match zoo_datasets::npy::read_npz(scratch_file("x.npz", data)) {
        Ok(arrays) => {
            for a in arrays.values() {
                assert_eq!(a.len(), a.shape.iter().product::<usize>());
            }
            true
        }
        Err(e) => {
            names(e, "x.npz");
            npy.is_ok()
        }
    }
}

/// safetensors files, then the key mappings and loads of open_clip and YOLOv9 state dicts (into
/// the tiny CLIP and gelan-t): wrong names, shapes, dtypes and class counts are errors.
pub fn safetensors(data: &[u8]) -> bool {
    let origin = Path::new("x.safetensors");
    let tensors = match zoo_weights::tensors::read_safetensors(data, origin) {
        Ok(t) => t,
        Err(e) => {
            names(e, "x.safetensors");
            return false;
        }
    };
    for t in &tensors {
        assert_eq!(t.values.len(), t.shape.iter().product::<usize>(), "{}", t.name);
    }
    let clip = TINY_CLIP.with(|m| {
        m.borrow_mut()
            .get_or_insert_with(|| zoo_clip::ClipConfig::tiny().init(&device()).expect("tiny clip"))
            .clone()
    });
    if let Err(e) = zoo_weights::clip::load_open_clip_bytes(clip, data, origin) {
        names(e, "x.safetensors");
    }
    let yolo = GELAN_T.with(|m| {
        m.borrow_mut()
            .get_or_insert_with(|| {
                zoo_yolov9::YoloConfig::from_name("gelan-t", 3)
                    .expect("gelan-t")
                    .init(&device())
                    .expect("gelan-t")
            })
            .clone()
    });
    let mapped = zoo_weights::yolov9::reference_to_zoo(&yolo, tensors, origin)
        .and_then(|t| zoo_weights::yolov9::load_tensors(yolo, t, origin));
    if let Err(e) = mapped {
        names(e, "x.safetensors");
    }
    true
}

/// ONNX initializers (protobuf), as the CLIP and YOLOv9 importers read them.
pub fn onnx(data: &[u8]) -> bool {
    let inits = zoo_weights::onnx::initializers_from_bytes(data);
    for i in inits.iter().flatten() {
        assert_eq!(i.values.len(), i.dims.iter().product::<usize>(), "{}", i.name);
    }
    inits.is_ok()
}

/// Burn `.bpk` records loaded into a small MLP.
pub fn bpk(data: &[u8]) -> bool {
    let model = zoo_mlp::MlpConfig {
        inputs: 4,
        hidden: 8,
        depth: 1,
        classes: 3,
        dropout: 0.0,
    }
    .init(&device());
    match zoo_weights::bpk::load_module_bytes(model, data.to_vec(), Path::new("x.bpk")) {
        Ok(_) => true,
        Err(e) => {
            names(e, "x.bpk");
            false
        }
    }
}

/// PyTorch `.pt` files (zip of pickles), as `torch.save` writes them.
pub fn pytorch(data: &[u8]) -> bool {
    let path = scratch_file("x.pt", data);
    match zoo_weights::tensors::read_pytorch(&path) {
        Ok(tensors) => {
            for t in &tensors {
                assert_eq!(t.values.len(), t.shape.iter().product::<usize>(), "{}", t.name);
            }
            true
        }
        Err(e) => {
            names(e, "x.pt");
            false
        }
    }
}

/// Run configs (`--config`, run.json), TOML and JSON, for a loop-trained family (YOLOv9), one
/// with its own stream (Aranyani) and PromptSRC; then each family's own checks and the loop's.
pub fn config(data: &[u8]) -> bool {
    use zoo_eval::cli::parse_config_over;
    use zoo_train::cli::RunConfig;
    let text = String::from_utf8_lossy(data);
    let mut accepted = false;
    for file in ["run.toml", "run.json"] {
        let path = Path::new(file);
        match parse_config_over(&text, path, &zoo_train::yolov9::YoloRun::default()) {
            Ok(run) => {
                accepted |= run.validate().is_ok() && run.train().validate().is_ok();
            }
            Err(e) => names(e, file),
        }
        match parse_config_over(&text, path, &zoo_train::promptsrc::PromptSrcRun::default()) {
            Ok(run) => {
                let _ = run.validate();
                let _ = run.train().validate();
            }
            Err(e) => names(e, file),
        }
        if let Err(e) = parse_config_over(&text, path, &zoo_eval::aranyani::AranyaniRun::default()) {
            names(e, file);
        }
    }
    accepted
}

/// YOLO data YAMLs (our parser of the subset data files use).
pub fn data_yaml(data: &[u8]) -> bool {
    match zoo_datasets::detection::read_data_yaml(&scratch_file("data.yaml", data)) {
        Ok(_) => true,
        Err(e) => {
            names(e, "data.yaml");
            false
        }
    }
}
