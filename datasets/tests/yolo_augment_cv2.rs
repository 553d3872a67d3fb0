//! YOLO training augmentation against OpenCV and the reference's code
//! (weights/reference/yolo_augment_fixture.py): HSV jitter with fixed gains, the affine matrix of
//! `random_perspective`, its warp and its box transform with `box_candidates`.

use std::path::Path;
use zoo_datasets::detection::augment::{PixelBox, affine_matrix, hsv_jitter, warp_affine, warp_boxes};
use zoo_datasets::npy::{NpyArray, read_npz};

fn to_image(a: &NpyArray) -> image::RgbImage {
    let (h, w) = (a.shape[0] as u32, a.shape[1] as u32);
    let bytes: Vec<u8> = a.to_i64().unwrap().into_iter().map(|v| v as u8).collect();
    image::RgbImage::from_raw(w, h, bytes).unwrap()
}

/// (largest difference, mean difference) in levels.
fn diff(a: &image::RgbImage, b: &image::RgbImage) -> (i32, f64) {
    assert_eq!(a.dimensions(), b.dimensions());
    let d: Vec<i32> = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (i32::from(x) - i32::from(y)).abs())
        .collect();
    (
        *d.iter().max().unwrap(),
        d.iter().sum::<i32>() as f64 / d.len() as f64,
    )
}

fn fixture() -> std::collections::BTreeMap<String, NpyArray> {
    read_npz(Path::new(env!("CARGO_MANIFEST_DIR")).join("../weights/fixtures/yolo_augment_cv2.npz")).unwrap()
}

#[test]
fn hsv_jitter_matches_opencv() {
    let f = fixture();
    let input = to_image(&f["input"]);
    for k in 0..3 {
        let g = f[&format!("gains_{k}")].to_f64();
        let mut ours = input.clone();
        hsv_jitter(&mut ours, [g[0], g[1], g[2]]);
        let (max, mean) = diff(&ours, &to_image(&f[&format!("hsv_{k}")]));
        // RGB -> HSV is OpenCV's fixed point exactly; HSV -> RGB truncates as OpenCV 5.0 does,
        // one level off on a few colours.
        assert!(max <= 1 && mean < 0.15, "gains {g:?}: max {max}, mean {mean}");
    }
}

#[test]
fn affine_warp_and_boxes_match_random_perspective() {
    let f = fixture();
    let input = to_image(&f["input"]);
    let boxes_in = f["boxes_in"].to_f64();
    let boxes: Vec<PixelBox> = boxes_in
        .chunks(5)
        .map(|r| PixelBox {
            class: r[0] as usize,
            xyxy: [r[1], r[2], r[3], r[4]].map(|v| v as f32),
        })
        .collect();
    for k in 0..3 {
        let p = f[&format!("params_{k}")].to_f64();
        let border = p[6] as i64;
        let out = (
            (i64::from(input.width()) + 2 * border) as u32,
            (i64::from(input.height()) + 2 * border) as u32,
        );
        let m = affine_matrix(input.dimensions(), out, p[0], p[1], [p[2], p[3]], [p[4], p[5]]);
        let want = f[&format!("m_{k}")].to_f64();
        for (a, b) in m.iter().flatten().zip(&want) {
            assert!((a - b).abs() < 1e-9, "matrix {k}: {m:?} vs {want:?}");
        }
        let warped = warp_affine(&input, &m, out);
        let (max, mean) = diff(&warped, &to_image(&f[&format!("warp_{k}")]));
        // OpenCV samples at 1/32-pixel positions with 1/1024 weights: one level at most.
        assert!(max <= 1 && mean < 0.15, "warp {k}: max {max}, mean {mean}");
        let got = warp_boxes(&boxes, &m, out, p[1]);
        let want = f[&format!("boxes_out_{k}")].to_f64();
        assert_eq!(got.len(), want.len() / 5, "boxes kept by warp {k}");
        for (g, w) in got.iter().zip(want.chunks(5)) {
            assert_eq!(g.class, w[0] as usize);
            for (a, b) in g.xyxy.iter().zip(&w[1..]) {
                assert!((f64::from(*a) - b).abs() < 1e-4, "warp {k}: {g:?} vs {w:?}");
            }
        }
    }
}
