//! CLIP preprocessing against open_clip's transform on real PNG and JPEG files
//! (weights/reference/clip_preprocess_fixture.py). PNG decoding is lossless, so resize and crop
//! must match Pillow exactly; JPEG decoders (libjpeg-turbo in Pillow, zune-jpeg in `image`) may
//! differ by a level or two after the IDCT, so JPEG inputs are held to a documented tolerance.

use burn::prelude::*;
use zoo_clip::{IMAGE_MEAN, IMAGE_STD};
use zoo_datasets::Batcher;
use zoo_datasets::image::{ImageBatcher, ImageItem, load_image_clip};
use zoo_weights::fixture::{Fixture, path};

const CASES: [(&str, &str); 6] = [
    ("landscape", "jpg"),
    ("portrait_odd", "png"),
    ("grey", "png"),
    ("upscale", "png"),
    ("exact", "jpg"),
    ("wide", "jpg"),
];

#[test]
fn resize_and_crop_match_open_clip() {
    let fx = Fixture::committed("clip_preprocess.safetensors").unwrap();
    let device = Device::flex();
    let batcher = ImageBatcher {
        mean: IMAGE_MEAN,
        std: IMAGE_STD,
    };
    for (name, ext) in CASES {
        let file = path(&format!("clip_images/{name}.{ext}"));
        let chw = load_image_clip(&file, 224).unwrap();
        let (shape, hwc) = fx.get(&format!("{name}.u8"));
        assert_eq!(shape, [224, 224, 3]);
        let n = 224 * 224;
        let diffs: Vec<f32> = (0..n * 3)
            .map(|k| {
                let (p, c) = (k / 3, k % 3);
                (f32::from(chw[c * n + p]) - hwc[k]).abs()
            })
            .collect();
        let max = diffs.iter().copied().fold(0.0, f32::max);
        let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
        eprintln!("{name}.{ext}: max |diff| {max} levels, mean {mean:.4}");
        if ext == "png" {
            assert_eq!(max, 0.0, "{name}: PNG pixels must match Pillow exactly");
        } else {
            assert!(max <= 4.0 && mean < 0.5, "{name}: JPEG max {max}, mean {mean}");
        }
        // The normalisation (first 8 rows of open_clip's tensor).
        let item = ImageItem {
            pixels: chw,
            size: 224,
            label: 0,
        };
        let x = batcher.batch(vec![item], &device).images.narrow(2, 0, 8);
        let got = x.into_data().try_to_vec::<f32>().unwrap();
        let want = fx.get(&format!("{name}.rows")).1;
        let tol = if ext == "png" { 1e-5 } else { 4.0 / 255.0 / 0.26 };
        let (d, _) = zoo_check::max_abs_diff(&got, want);
        assert!(d <= tol, "{name}: normalised rows differ by {d}");
    }
}

#[test]
fn an_unreadable_image_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.jpg");
    std::fs::write(&bad, b"not a jpeg at all").unwrap();
    let e = load_image_clip(&bad, 224).unwrap_err().to_string();
    assert!(e.contains("broken.jpg"), "{e}");
    let e = load_image_clip(&dir.path().join("missing.png"), 224)
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.png"), "{e}");
}
