//! Hostile data files (mutation fuzzing in `cargo test`): corrupted `.npy`/`.npz` and Dassl split
//! files give errors, never panics, and a `.npy` header claiming more data than the file holds is
//! refused without allocating it.

use zoo_datasets::dassl::read_split_json;
use zoo_datasets::fuzz::mutations;
use zoo_datasets::npy::{NpyArray, encode_npy, parse_npy};

#[test]
fn corrupted_npy_is_an_error() {
    let good = encode_npy(&NpyArray::f64(vec![3, 4], (0..12).map(f64::from).collect()));
    assert!(parse_npy(&good).is_ok());
    mutations(&good, 5000, 21, |b| {
        let _ = parse_npy(b);
    });
    // A header claiming 10^12 values over 96 bytes of data.
    let text = String::from_utf8_lossy(&good).replace("(3, 4)", "(1000000, 1000000)");
    let e = parse_npy(text.as_bytes()).unwrap_err();
    assert!(!e.is_empty());
}

#[test]
fn corrupted_split_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    for f in ["a.jpg", "b.jpg", "c.jpg"] {
        std::fs::write(images.join(f), b"x").unwrap();
    }
    let good =
        br#"{"train": [["a.jpg", 0, "cat"], ["b.jpg", 1, "dog"]], "val": [["c.jpg", 1, "dog"]], "test": []}"#;
    let split = dir.path().join("split.json");
    std::fs::write(&split, good).unwrap();
    assert_eq!(read_split_json(&split, &images).unwrap().train.len(), 2);
    mutations(good, 1500, 22, |b| {
        std::fs::write(&split, b).unwrap();
        if let Err(e) = read_split_json(&split, &images) {
            assert!(e.to_string().contains("split.json"), "{e}");
        }
    });
}

#[test]
fn corrupted_yolo_labels_are_errors_naming_the_file() {
    use std::path::Path;
    use zoo_datasets::detection::parse_yolo_labels;
    let good = b"0 0.5 0.5 0.2 0.4\n2 0.1 0.2 0.3 0.2 0.2 0.6\n1 0.25 0.75 0.1 0.1\n";
    let path = Path::new("labels/x.txt");
    assert_eq!(
        parse_yolo_labels(std::str::from_utf8(good).unwrap(), path, Some(3))
            .unwrap()
            .0
            .len(),
        3
    );
    mutations(good, 5000, 23, |b| {
        let text = String::from_utf8_lossy(b);
        match parse_yolo_labels(&text, path, Some(3)) {
            Ok((boxes, _)) => assert!(
                boxes
                    .iter()
                    .all(|b| b.class < 3 && b.cxcywh.iter().all(|v| (0.0..=1.0).contains(v)))
            ),
            Err(e) => assert!(e.to_string().contains("labels/x.txt, line"), "{e}"),
        }
    });
}
