//! The COCOeval clone against pycocotools 2.0 on the cases of
//! weights/reference/coco_eval_fixture.py (perfect, false positive first, IoU at the thresholds,
//! crowds, empty images, areas, ties, more than 100 detections, many classes, a random mix).

use std::path::Path;
use zoo_eval::metrics::coco::{DetResult, GroundTruth, Id, evaluate};

#[test]
fn stats_equal_pycocotools() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../weights/fixtures/coco_eval_cases.json");
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert!(cases.len() >= 12);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let gt: GroundTruth = serde_json::from_value(case["gt"].clone()).unwrap();
        let dt: Vec<DetResult> = serde_json::from_value(case["dt"].clone()).unwrap();
        let e = evaluate(&gt, &dt, name).unwrap();
        let want: Vec<f64> = case["stats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        for (i, (g, w)) in e.stats.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-9,
                "{name}: stat {i} is {g}, pycocotools {w}\nours {:?}\ntheirs {want:?}",
                e.stats
            );
        }
        for (pair, (id, ap)) in case["per_category"]
            .as_array()
            .unwrap()
            .iter()
            .zip(&e.per_category)
        {
            assert_eq!(*id, Id::Num(pair[0].as_i64().unwrap()), "{name}");
            assert!(
                (ap - pair[1].as_f64().unwrap()).abs() <= 1e-9,
                "{name}: category {id} AP {ap} vs {}",
                pair[1]
            );
        }
    }
}

#[test]
fn no_detections_give_zero_and_unknown_images_are_errors() {
    let gt: GroundTruth = serde_json::from_str(
        r#"{"images":[{"id":1}],"categories":[{"id":1,"name":"a"}],
            "annotations":[{"id":1,"image_id":1,"category_id":1,"bbox":[0,0,50,50],"area":2500,"iscrowd":0}]}"#,
    )
    .unwrap();
    let e = evaluate(&gt, &[], "none.json").unwrap();
    // AP and AR are 0 where there are objects; -1 for the empty small/large ranges.
    assert_eq!(
        e.stats,
        [0.0, 0.0, 0.0, -1.0, 0.0, -1.0, 0.0, 0.0, 0.0, -1.0, 0.0, -1.0]
    );
    let dt: Vec<DetResult> =
        serde_json::from_str(r#"[{"image_id":7,"category_id":1,"bbox":[0,0,5,5],"score":0.5}]"#).unwrap();
    let err = evaluate(&gt, &dt, "dets.json").unwrap_err().to_string();
    assert!(
        err.contains("dets.json") && err.contains("image ids missing") && err.contains('7'),
        "{err}"
    );
}

/// Corrupted ground-truth and result files (mutation fuzzing) parse to an error naming the file or
/// evaluate; nothing panics.
#[test]
fn corrupted_coco_files_never_panic() {
    use zoo_datasets::fuzz::mutations;
    use zoo_eval::metrics::coco::read_results;
    let dir = tempfile::tempdir().unwrap();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../weights/fixtures/coco_eval_cases.json");
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let case = cases.iter().find(|c| c["name"] == "crowd").unwrap();
    let (gt_path, dt_path) = (dir.path().join("gt.json"), dir.path().join("dt.json"));
    let gt_text = case["gt"].to_string();
    let dt_text = case["dt"].to_string();
    std::fs::write(&dt_path, &dt_text).unwrap();
    mutations(gt_text.as_bytes(), 600, 31, |b| {
        std::fs::write(&gt_path, b).unwrap();
        match GroundTruth::read(&gt_path) {
            Ok(gt) => {
                let _ = evaluate(&gt, &read_results(&dt_path).unwrap(), "dt.json");
            }
            Err(e) => assert!(e.to_string().contains("gt.json"), "{e}"),
        }
    });
    let gt = GroundTruth::read(&{
        std::fs::write(&gt_path, &gt_text).unwrap();
        gt_path.clone()
    })
    .unwrap();
    mutations(dt_text.as_bytes(), 600, 32, |b| {
        std::fs::write(&dt_path, b).unwrap();
        match read_results(&dt_path) {
            Ok(dt) => {
                let _ = evaluate(&gt, &dt, "dt.json");
            }
            Err(e) => assert!(e.to_string().contains("dt.json"), "{e}"),
        }
    });
}
