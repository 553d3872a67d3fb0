//! CLIP import routes against their references: a half-precision PyTorch checkpoint, ONNX
//! exports of both towers against onnxruntime (weights/reference/clip_import_fixtures.py), the
//! export back to open_clip's layout, errors for misfit files, and `zoo-weights verify`.

use burn::prelude::*;
use burn::tensor::TensorData;
use std::path::Path;
use std::process::Command;
use zoo_check::max_abs_diff;
use zoo_clip::{Clip, ClipConfig};
use zoo_datasets::npy::{NpyArray, NpyData, write_npy};
use zoo_weights::clip::{
    NamedTensor, Tower, load_clip, load_onnx_tower, load_open_clip, load_open_clip_pt, read_safetensors,
    to_open_clip, to_safetensors,
};
use zoo_weights::fixture::{Fixture, path};

fn tokens(io: &Fixture, device: &Device) -> Tensor<2, Int> {
    let (shape, ids) = io.get("tokens");
    let ids: Vec<i64> = ids.iter().map(|&v| v as i64).collect();
    Tensor::from_data(TensorData::new(ids, shape.to_vec()), device)
}

fn check(what: &str, got: Tensor<2>, want: &[f32]) {
    let (d, scale) = max_abs_diff(&got.into_data().try_to_vec::<f32>().unwrap(), want);
    eprintln!("{what}: max abs diff {d:e} (scale {scale})");
    assert!(d < 1e-4 * scale.max(1.0), "{what}: {d} (scale {scale})");
}

fn features(model: &Clip, io: &Fixture, device: &Device) -> (Tensor<2>, Tensor<2>) {
    (
        model.encode_image(io.tensor::<4>("images", device)),
        model.encode_text(tokens(io, device)),
    )
}

#[test]
fn half_precision_pytorch_checkpoint_loads() {
    let device = Device::flex();
    let model = load_open_clip_pt(
        ClipConfig::tiny().init(&device).unwrap(),
        &path("clip_tiny_f16.pt"),
    )
    .unwrap();
    let io = Fixture::committed("clip_tiny_io.safetensors").unwrap();
    let want = Fixture::committed("clip_tiny_f16_io.safetensors").unwrap();
    let (img, txt) = features(&model, &io, &device);
    check("pt image", img, want.get("image_features").1);
    check("pt text", txt, want.get("text_features").1);
}

fn onnx_config() -> ClipConfig {
    let mut cfg = ClipConfig::tiny();
    cfg.text_cfg.vocab_size = 1000;
    cfg.quick_gelu = true;
    cfg
}

#[test]
fn onnx_towers_match_onnxruntime() {
    let device = Device::flex();
    let model = onnx_config().init(&device).unwrap();
    let model = load_onnx_tower(model, &path("clip_onnx_image.onnx"), Tower::Image).unwrap();
    let model = load_onnx_tower(model, &path("clip_onnx_text.onnx"), Tower::Text).unwrap();
    let io = Fixture::committed("clip_onnx_io.safetensors").unwrap();
    let (img, txt) = features(&model, &io, &device);
    check("onnx image", img, io.get("image_features").1);
    check("onnx text", txt, io.get("text_features").1);
    // The image export alone does not make a text tower.
    let e = load_onnx_tower(
        onnx_config().init(&device).unwrap(),
        &path("clip_onnx_image.onnx"),
        Tower::Text,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("missing") && e.contains("token_embedding"), "{e}");
}

#[test]
fn export_to_open_clip_round_trips() {
    let device = Device::flex();
    let file = path("clip_tiny_weights.safetensors");
    let model = load_open_clip(ClipConfig::tiny().init(&device).unwrap(), &file).unwrap();
    let exported = to_open_clip(&model).unwrap();
    let mut original: Vec<NamedTensor> = read_safetensors(&std::fs::read(&file).unwrap(), &file)
        .unwrap()
        .into_iter()
        .filter(|t| !t.name.ends_with("attn_mask"))
        .collect();
    original.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(exported.len(), original.len());
    for (a, b) in exported.iter().zip(&original) {
        assert_eq!((&a.name, &a.shape), (&b.name, &b.shape));
        assert_eq!(a.values, b.values, "{}", a.name);
    }
}

fn write_state(dir: &Path, name: &str, tensors: &[NamedTensor]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, to_safetensors(tensors, false).unwrap()).unwrap();
    p
}

#[test]
fn misfit_files_name_the_tensor_and_shapes() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let file = path("clip_tiny_weights.safetensors");
    let all = read_safetensors(&std::fs::read(&file).unwrap(), &file).unwrap();
    let without: Vec<NamedTensor> = all
        .iter()
        .filter(|t| t.name != "ln_final.weight")
        .cloned()
        .collect();
    let p = write_state(dir.path(), "missing.safetensors", &without);
    let e = load_clip(ClipConfig::tiny().init(&device).unwrap(), &p)
        .unwrap_err()
        .to_string();
    eprintln!("{e}");
    assert!(
        e.contains("missing.safetensors") && e.contains("missing") && e.contains("ln_final"),
        "{e}"
    );
    let mut reshaped = all.clone();
    let t = reshaped.iter_mut().find(|t| t.name == "visual.proj").unwrap();
    t.shape = vec![32, 64];
    let p = write_state(dir.path(), "shape.safetensors", &reshaped);
    let e = load_clip(ClipConfig::tiny().init(&device).unwrap(), &p)
        .unwrap_err()
        .to_string();
    eprintln!("{e}");
    assert!(
        e.contains("visual.proj") && e.contains("[32, 64]") && e.contains("[64, 32]"),
        "{e}"
    );
    let e = load_clip(
        ClipConfig::tiny().init(&device).unwrap(),
        &dir.path().join("w.ckpt"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("w.ckpt") && e.contains("unknown weight format"), "{e}");
}

fn npy_f32(dir: &Path, name: &str, shape: &[usize], values: Vec<f32>) -> std::path::PathBuf {
    let p = dir.join(name);
    write_npy(
        &p,
        &NpyArray {
            shape: shape.to_vec(),
            data: NpyData::F32(values),
        },
    )
    .unwrap();
    p
}

#[test]
fn verify_cli_reports_and_fails_above_tolerance() {
    let dir = tempfile::tempdir().unwrap();
    let io = Fixture::committed("clip_tiny_io.safetensors").unwrap();
    let (s, x) = io.get("images");
    let x = npy_f32(dir.path(), "x.npy", s, x.to_vec());
    let (s, y) = io.get("image_features");
    let good = npy_f32(dir.path(), "y.npy", s, y.to_vec());
    let bad = npy_f32(dir.path(), "bad.npy", s, y.iter().map(|v| v + 0.01).collect());
    let (s, t) = io.get("tokens");
    let tok = dir.path().join("t.npy");
    write_npy(
        &tok,
        &NpyArray {
            shape: s.to_vec(),
            data: NpyData::Int(t.iter().map(|&v| v as i64).collect()),
        },
    )
    .unwrap();
    let (s, y) = io.get("text_features");
    let txt = npy_f32(dir.path(), "ty.npy", s, y.to_vec());
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_zoo-weights"))
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let w = path("clip_tiny_weights.safetensors");
    let w = w.to_str().unwrap();
    let p = |p: &Path| p.to_str().unwrap().to_string();
    // `verify` of the tiny CLIP's `model` tower on `input` against `expect`.
    let verify = |model: &str, input: &Path, expect: &Path| {
        run(&[
            "verify",
            "--model",
            model,
            "--preset",
            "tiny",
            "--weights",
            w,
            "--input",
            &p(input),
            "--expect",
            &p(expect),
        ])
    };
    let (code, text) = verify("clip-image", &x, &good);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("max abs diff") && text.contains("OK"), "{text}");
    let (code, text) = verify("clip-text", &tok, &txt);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = verify("clip-image", &x, &bad);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("ABOVE TOLERANCE"), "{text}");
    // NaN fails the check from either side: an expected output that is all NaN (a NaN-dropping
    // max once reported it as "max abs diff 0 ... OK"), and NaN pixels in the input, which
    // turn the model's output into NaN.
    let (s, y) = io.get("image_features");
    let nan_expected = npy_f32(dir.path(), "nan_y.npy", s, vec![f32::NAN; y.len()]);
    let (s, xs) = io.get("images");
    let mut pixels = xs.to_vec();
    pixels[5] = f32::NAN;
    let nan_input = npy_f32(dir.path(), "nan_x.npy", s, pixels);
    for (input, expect, side) in [(&x, &nan_expected, "expected"), (&nan_input, &good, "computed")] {
        let (code, text) = verify("clip-image", input, expect);
        assert_eq!(code, Some(1), "{text}");
        assert!(
            text.contains("NOT FINITE") && text.contains(&format!("the {side} value at flat index")),
            "{text}"
        );
        assert!(!text.contains("OK"), "{text}");
    }
    // Token ids given where images are expected: a clear error, not a panic.
    let (code, text) = verify("clip-image", &tok, &good);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("t.npy") && text.contains("[B, 3, 32, 32]"),
        "{text}"
    );
}

#[test]
fn contrastive_loss_matches_open_clip() {
    let device = Device::flex();
    let model = load_open_clip_pt(
        ClipConfig::tiny().init(&device).unwrap(),
        &path("clip_tiny_f16.pt"),
    )
    .unwrap();
    let fx = Fixture::committed("clip_tiny_loss.safetensors").unwrap();
    let loss = model
        .contrastive_loss(fx.tensor::<4>("images", &device), tokens(&fx, &device))
        .into_scalar::<f32>();
    let want = fx.get("loss").1[0];
    eprintln!("loss {loss} vs open_clip {want}");
    assert!((loss - want).abs() < 1e-5 * want.max(1.0), "{loss} vs {want}");
}
