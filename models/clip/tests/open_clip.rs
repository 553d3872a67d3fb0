//! The tiny CLIP against open_clip (weights/reference/clip_fixtures.py): the state dict loads
//! name for name and image and text features match to 1e-4; broken weight files are named.

use burn::prelude::*;
use burn::tensor::TensorData;
use zoo_check::max_abs_diff;
use zoo_clip::ClipConfig;
use zoo_weights::clip::load_open_clip;
use zoo_weights::fixture::{Fixture, path};

#[test]
fn tiny_clip_matches_open_clip() {
    let device = Device::flex();
    let model = load_open_clip(
        ClipConfig::tiny().init(&device).unwrap(),
        &path("clip_tiny_weights.safetensors"),
    )
    .unwrap();
    let io = Fixture::committed("clip_tiny_io.safetensors").unwrap();
    let img = model.encode_image(io.tensor::<4>("images", &device));
    let (d, scale) = max_abs_diff(
        &img.into_data().try_to_vec::<f32>().unwrap(),
        io.get("image_features").1,
    );
    eprintln!("image features: max abs diff {d:e} (scale {scale})");
    assert!(
        d < 1e-4 * scale.max(1.0),
        "image features differ by {d} (scale {scale})"
    );
    let (shape, ids) = io.get("tokens");
    let ids: Vec<i64> = ids.iter().map(|&v| v as i64).collect();
    let tokens = Tensor::<2, Int>::from_data(TensorData::new(ids, shape.to_vec()), &device);
    let txt = model.encode_text(tokens);
    let (d, scale) = max_abs_diff(
        &txt.into_data().try_to_vec::<f32>().unwrap(),
        io.get("text_features").1,
    );
    eprintln!("text features: max abs diff {d:e} (scale {scale})");
    assert!(
        d < 1e-4 * scale.max(1.0),
        "text features differ by {d} (scale {scale})"
    );
    assert!((model.logit_scale() as f32 - io.get("logit_scale").1[0]).abs() < 1e-3);
}

#[test]
fn wrong_architecture_names_the_tensor() {
    let device = Device::flex();
    let mut cfg = ClipConfig::tiny();
    cfg.vision_cfg.width = 32;
    cfg.vision_cfg.head_width = 16;
    let e = load_open_clip(cfg.init(&device).unwrap(), &path("clip_tiny_weights.safetensors"))
        .unwrap_err()
        .to_string();
    eprintln!("{e}");
    assert!(
        e.contains("clip_tiny_weights.safetensors") && e.contains("visual"),
        "{e}"
    );
}

/// Full-size parity: open_clip's ViT-B-16-quickgelu with random weights. The 600 MB fixture is
/// generated locally by weights/reference/clip_vit_b16_fixture.py (nothing is downloaded).
#[test]
#[ignore = "needs weights/fixtures/local/ from weights/reference/clip_vit_b16_fixture.py"]
fn vit_b16_matches_open_clip() {
    let device = Device::flex();
    let weights = path("local/clip_vit_b16_weights.safetensors");
    assert!(
        weights.is_file(),
        "{} is missing: run `python weights/reference/clip_vit_b16_fixture.py` first",
        weights.display()
    );
    let model = load_open_clip(ClipConfig::vit_b_16().init(&device).unwrap(), &weights).unwrap();
    let io = Fixture::committed("local/clip_vit_b16_io.safetensors").unwrap();
    let img = model.encode_image(io.tensor::<4>("images", &device));
    let (d, scale) = max_abs_diff(
        &img.into_data().try_to_vec::<f32>().unwrap(),
        io.get("image_features").1,
    );
    eprintln!("ViT-B/16 image features: max abs diff {d:e} (scale {scale})");
    assert!(d < 1e-4 * scale.max(1.0), "image features differ by {d}");
    let (shape, ids) = io.get("tokens");
    let ids: Vec<i64> = ids.iter().map(|&v| v as i64).collect();
    let txt = model.encode_text(Tensor::<2, Int>::from_data(
        TensorData::new(ids, shape.to_vec()),
        &device,
    ));
    let (d, scale) = max_abs_diff(
        &txt.into_data().try_to_vec::<f32>().unwrap(),
        io.get("text_features").1,
    );
    eprintln!("ViT-B/16 text features: max abs diff {d:e} (scale {scale})");
    assert!(d < 1e-4 * scale.max(1.0), "text features differ by {d}");
}
