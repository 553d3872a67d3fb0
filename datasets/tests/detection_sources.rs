//! Detection data sources beside a YOLO folder: data YAMLs (list and map names, `path`, `.txt`
//! image lists) and COCO instances files (categories by id, crowd regions skipped), with the
//! errors a user meets.

use std::path::Path;
use zoo_datasets::detection::{
    ShapesDetection, read_coco_split, read_data_yaml, read_yolo_sources, write_yolo_split,
};

fn shapes(dir: &Path) -> Vec<zoo_datasets::detection::DetectionSample> {
    let samples = ShapesDetection {
        images: 5,
        size: 64,
        ..ShapesDetection::default()
    }
    .generate(0)
    .unwrap();
    write_yolo_split(&dir.join("shapes"), "train", &samples).unwrap();
    samples
}

fn err(r: Result<impl std::fmt::Debug, zoo_datasets::DataError>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn data_yaml_resolves_sources_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let samples = shapes(dir.path());
    let root = dir.path().join("shapes");
    // A list of images, relative with and without `./`.
    std::fs::write(
        root.join("val.txt"),
        "./images/train/00001.png\nimages/train/00003.png\n\n",
    )
    .unwrap();
    let yaml = dir.path().join("shapes.yaml");
    std::fs::write(
        &yaml,
        "# shapes\npath: shapes\ntrain: images/train\nval: [val.txt]\nnames:\n  0: disc\n  1: square\n  2: triangle\n  3: ring\n",
    )
    .unwrap();
    let y = read_data_yaml(&yaml).unwrap();
    assert_eq!(y.names, ["disc", "square", "triangle", "ring"]);
    assert_eq!(y.train, vec![root.join("images/train")]);
    let train = read_yolo_sources(&y.train, 4).unwrap();
    let val = read_yolo_sources(&y.val, 4).unwrap();
    assert_eq!((train.items.len(), val.items.len()), (5, 2));
    assert_eq!(val.items[1].0, root.join("images/train/00003.png"));
    assert_eq!(val.items[1].1.len(), samples[3].boxes.len());

    // The layout of the reference's data/coco.yaml: block lists and maps, comments, quotes, and a
    // `download: |` script that is skipped.
    std::fs::write(
        &yaml,
        "# COCO-like\npath: shapes  # root\ntrain:\n  - images/train\n  - ./val.txt\nval: 'val.txt'\ntest:  # none\n\n# Classes\nnames:\n  0: disc\n  1: \"square # big\"\n  2: triangle\n  3: ring\n\ndownload: |\n  from utils.general import download\n  dir: Path(yaml['path'])  # a colon\n  - not: a list\n",
    )
    .unwrap();
    let y = read_data_yaml(&yaml).unwrap();
    assert_eq!(y.names, ["disc", "square # big", "triangle", "ring"]);
    assert_eq!(y.train, vec![root.join("images/train"), root.join("./val.txt")]);
    assert_eq!(read_yolo_sources(&y.train, 4).unwrap().items.len(), 7);
    std::fs::write(&yaml, "names:\n  - a\n  - b\ntrain: x\nval: y\n").unwrap();
    assert_eq!(read_data_yaml(&yaml).unwrap().names, ["a", "b"]);

    let write = |text: &str| {
        std::fs::write(&yaml, text).unwrap();
        err(read_data_yaml(&yaml))
    };
    let e = write("train: a\nval: b\nnames:\n  0: a\n  oops\n");
    assert!(e.contains("line 5") && e.contains("oops"), "{e}");
    let e = write("path: shapes\ntrain: images/train\nval: val.txt\nnames: [a, b]\nnc: 3\n");
    assert!(
        e.contains("shapes.yaml") && e.contains("`nc`: 3") && e.contains("2 classes"),
        "{e}"
    );
    let e = write("train: a\nval: b\nnames: {0: a, 2: c}\n");
    assert!(e.contains("index 1 is missing"), "{e}");
    let e = write("train: a\nnames: [a]\n");
    assert!(e.contains("shapes.yaml") && e.contains("val"), "{e}");
    std::fs::write(
        root.join("bad.txt"),
        "images/train/00001.png\nimages/train/nope.png\n",
    )
    .unwrap();
    let e = err(read_yolo_sources(&[root.join("bad.txt")], 4));
    assert!(
        e.contains("bad.txt") && e.contains("line 2") && e.contains("not found"),
        "{e}"
    );
}

#[test]
fn coco_instances_become_a_detection_split() {
    let dir = tempfile::tempdir().unwrap();
    let samples = shapes(dir.path());
    let images = dir.path().join("shapes/images/train");
    // The shapes as COCO annotations: category ids 3, 5, 9, 11 (sorted -> classes 0..3), one
    // crowd region and one zero-width box that training skips.
    let cat_ids = [3, 5, 9, 11];
    let mut annotations = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        for b in &s.boxes {
            let [cx, cy, w, h] = b.cxcywh.map(|v| f64::from(v) * 64.0);
            annotations.push(serde_json::json!({
                "id": annotations.len() + 1, "image_id": 100 + i, "category_id": cat_ids[b.class],
                "bbox": [cx - w / 2.0, cy - h / 2.0, w, h], "area": w * h, "iscrowd": 0
            }));
        }
    }
    annotations.push(serde_json::json!({"id": 900, "image_id": 100, "category_id": 3,
        "bbox": [1, 1, 30, 30], "area": 900, "iscrowd": 1}));
    annotations.push(serde_json::json!({"id": 901, "image_id": 101, "category_id": 3,
        "bbox": [1, 1, 0, 30], "area": 0, "iscrowd": 0}));
    let images_json: Vec<_> = (0..samples.len())
        .map(|i| serde_json::json!({"id": 100 + i, "file_name": format!("{i:05}.png"), "width": 64, "height": 64}))
        .collect();
    // Categories listed out of order.
    let categories = serde_json::json!([
        {"id": 9, "name": "triangle"}, {"id": 3, "name": "disc"},
        {"id": 11, "name": "ring"}, {"id": 5, "name": "square"}
    ]);
    let json = dir.path().join("instances.json");
    let write = |images: &serde_json::Value, annotations: &serde_json::Value| {
        std::fs::write(
            &json,
            serde_json::json!({"images": images, "annotations": annotations, "categories": categories})
                .to_string(),
        )
        .unwrap();
    };
    write(&serde_json::json!(images_json), &serde_json::json!(annotations));
    let (split, names) = read_coco_split(&json, &images).unwrap();
    assert_eq!(names, ["disc", "square", "triangle", "ring"]);
    assert_eq!(split.skipped, 2);
    assert_eq!(split.items.len(), samples.len());
    for ((path, boxes), s) in split.items.iter().zip(&samples) {
        assert!(path.is_file());
        assert_eq!(boxes.len(), s.boxes.len());
        for (a, b) in boxes.iter().zip(&s.boxes) {
            assert_eq!(a.class, b.class);
            assert!(
                a.cxcywh.iter().zip(b.cxcywh).all(|(x, y)| (x - y).abs() < 1e-5),
                "{a:?} {b:?}"
            );
        }
    }
    // Errors name the file, the entry and the field.
    let mut bad = annotations.clone();
    bad[0]["image_id"] = serde_json::json!(7);
    write(&serde_json::json!(images_json), &serde_json::json!(bad));
    let e = err(read_coco_split(&json, &images));
    assert!(
        e.contains("instances.json") && e.contains("annotations[0]") && e.contains("image_id 7"),
        "{e}"
    );
    let mut bad = images_json.clone();
    bad[2]["file_name"] = serde_json::json!("missing.png");
    write(&serde_json::json!(bad), &serde_json::json!(annotations));
    let e = err(read_coco_split(&json, &images));
    assert!(
        e.contains("1 of 5 listed images") && e.contains("missing.png"),
        "{e}"
    );
    let mut bad = images_json.clone();
    bad[1].as_object_mut().unwrap().remove("width");
    write(&serde_json::json!(bad), &serde_json::json!(annotations));
    let e = err(read_coco_split(&json, &images));
    assert!(e.contains("images[1]") && e.contains("`width`"), "{e}");
    std::fs::write(
        &json,
        r#"{"images": [], "annotations": [{"id": "x"}], "categories": []}"#,
    )
    .unwrap();
    let e = err(read_coco_split(&json, &images));
    assert!(e.contains("annotations[0].id"), "{e}");
}
