//! Bilinear resize and letterbox against OpenCV and the reference's letterbox
//! (weights/reference/letterbox_fixture.py).

use std::path::Path;
use zoo_datasets::detection::{LetterboxConfig, letterbox, resize_bilinear};
use zoo_datasets::npy::read_npz;

fn to_image(a: &zoo_datasets::npy::NpyArray) -> image::RgbImage {
    let (h, w) = (a.shape[0] as u32, a.shape[1] as u32);
    let bytes: Vec<u8> = a.to_i64().unwrap().into_iter().map(|v| v as u8).collect();
    image::RgbImage::from_raw(w, h, bytes).unwrap()
}

fn max_diff(a: &image::RgbImage, b: &image::RgbImage) -> i32 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (i32::from(x) - i32::from(y)).abs())
        .max()
        .unwrap()
}

#[test]
fn resize_and_letterbox_match_opencv_within_one_level() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../weights/fixtures/letterbox_cv2.npz");
    let arrays = read_npz(&file).unwrap();
    let input = to_image(&arrays["input"]);
    for (key, (w, h)) in [("up", (80, 61)), ("down", (29, 20))] {
        let d = max_diff(&resize_bilinear(&input, w, h), &to_image(&arrays[key]));
        assert!(d <= 1, "{key}: differs from OpenCV by {d} levels");
    }
    let cfg = LetterboxConfig {
        size: 64,
        ..LetterboxConfig::default()
    };
    let d = max_diff(&letterbox(&input, &cfg).image, &to_image(&arrays["letterbox"]));
    assert!(d <= 1, "letterbox differs by {d} levels");
}
