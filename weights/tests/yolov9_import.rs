//! YOLOv9 weight import: ultralytics ONNX exports (by their committed initializer list, and the
//! local export against onnxruntime), safetensors round trips, and the errors a user sees for a
//! wrong class count, a truncated file or an unfused file given to a fused model.

use burn::prelude::*;
use burn::tensor::TensorData;
use std::path::Path;
use zoo_check::max_abs_diff;
use zoo_weights::fixture::{Fixture, hashed_state_dict, path, uniforms};
use zoo_weights::import::ImportError;
use zoo_weights::tensors::to_safetensors;
use zoo_weights::yolov9::{load_tensors, load_yolov9, state_dict};
use zoo_yolov9::{YoloConfig, YoloV9};

fn fresh(name: &str, nc: usize) -> YoloV9 {
    YoloConfig::from_name(name, nc)
        .unwrap()
        .init(&Device::flex())
        .unwrap()
}

fn image(h: usize, w: usize) -> Tensor<4> {
    let v: Vec<f32> = uniforms(&format!("input.{h}x{w}"), 3 * h * w)
        .into_iter()
        .map(|u| u as f32)
        .collect();
    Tensor::from_data(TensorData::new(v, [1, 3, h, w]), &Device::flex())
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

#[test]
fn onnx_initializer_names_load_into_the_fused_model() {
    let tensors = hashed_state_dict("yolov9_keys.json", "ultralytics-yolov9t-onnx").unwrap();
    let model = fresh("ultralytics-yolov9t", 80).fuse();
    let loaded = load_tensors(model, tensors.clone(), Path::new("yolov9t.onnx")).unwrap();
    // Every initializer landed where its name says.
    let ours = state_dict(&loaded).unwrap();
    let mut theirs: Vec<_> = tensors
        .into_iter()
        .filter(|t| !t.name.contains(".dfl."))
        .collect();
    theirs.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(ours, theirs);
    // An unfused model cannot take deploy weights, and says why.
    let err = load_tensors(
        fresh("ultralytics-yolov9t", 80),
        hashed_state_dict("yolov9_keys.json", "ultralytics-yolov9t-onnx").unwrap(),
        Path::new("yolov9t.onnx"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("fused"), "{err}");
}

/// Needs `weights/fixtures/local/` from `weights/reference/yolov9_fixture.py --local`.
#[test]
#[ignore = "needs weights/fixtures/local/ from weights/reference/yolov9_fixture.py --local"]
fn ultralytics_onnx_export_matches_onnxruntime() {
    let model = load_yolov9(
        fresh("ultralytics-yolov9t", 80).fuse(),
        &path("local/yolov9t_320.onnx"),
    )
    .unwrap();
    let got = values(model.predict(image(320, 320)));
    let io = Fixture::committed("local/yolov9t_320_onnx_io.safetensors").unwrap();
    let (_, want) = io.get("output");
    let a = 2100;
    let (diff, scale) = max_abs_diff(&got[..4 * a], &want[..4 * a]);
    let (sdiff, _) = max_abs_diff(&got[4 * a..], &want[4 * a..]);
    eprintln!("boxes {diff:.2e} (largest {scale}), scores {sdiff:.2e}");
    assert!(diff <= 1e-4 * scale && sdiff <= 1e-4);
}

#[test]
fn safetensors_round_trip_and_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let model = fresh("gelan-t", 3);
    let file = dir.path().join("gelan-t.safetensors");
    std::fs::write(
        &file,
        to_safetensors(&state_dict(&model).unwrap(), false).unwrap(),
    )
    .unwrap();

    let x = image(64, 64);
    let reloaded = load_yolov9(fresh("gelan-t", 3), &file).unwrap();
    assert_eq!(values(reloaded.predict(x.clone())), values(model.predict(x)));

    // Wrong class count: names both counts and the flag to fix it.
    let err = load_yolov9(fresh("gelan-t", 80), &file).unwrap_err().to_string();
    assert!(
        err.contains("3 classes") && err.contains("80") && err.contains("--nc 3"),
        "{err}"
    );

    // Another size: a mismatch naming the model.
    let err = load_yolov9(fresh("gelan-s", 3), &file).unwrap_err();
    assert!(matches!(err, ImportError::Mismatch { .. }), "{err}");
    assert!(err.to_string().contains("gelan-s"), "{err}");

    // Truncated file: a read error naming the file.
    let bytes = std::fs::read(&file).unwrap();
    let cut = dir.path().join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = load_yolov9(fresh("gelan-t", 3), &cut).unwrap_err();
    assert!(matches!(err, ImportError::Read { .. }), "{err}");
    assert!(err.to_string().contains("cut.safetensors"), "{err}");

    // Not a weights file at all.
    let junk = dir.path().join("image.png");
    std::fs::write(&junk, b"\x89PNG\r\n\x1a\nnot weights").unwrap();
    assert!(load_yolov9(fresh("gelan-t", 3), &junk).is_err());
}

fn npy(dir: &Path, name: &str, shape: &[usize], values: Vec<f32>) -> std::path::PathBuf {
    use zoo_datasets::npy::{NpyArray, NpyData, write_npy};
    let p = dir.join(name);
    let array = NpyArray {
        shape: shape.to_vec(),
        data: NpyData::F32(values),
    };
    write_npy(&p, &array).unwrap();
    p
}

/// `zoo-weights verify` and `inspect` on the reference's yolov9-t (WongKinYiu keys, formula
/// weights) against the reference's main-head output.
#[test]
fn verify_and_inspect_cli() {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("yolov9-t.safetensors");
    let tensors = hashed_state_dict("yolov9_keys.json", "yolov9-t").unwrap();
    std::fs::write(&weights, to_safetensors(&tensors, false).unwrap()).unwrap();
    let x = npy(dir.path(), "x.npy", &[1, 3, 320, 320], values(image(320, 320)));
    let io = Fixture::committed("yolov9_io.safetensors").unwrap();
    let (shape, want) = io.get("yolov9-t.320x320.main");
    let good = npy(dir.path(), "y.npy", shape, want.to_vec());
    let mut off = want.to_vec();
    off[5] += 1.0;
    let bad = npy(dir.path(), "bad.npy", shape, off);
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
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let verify = |nc: &str, expect: &Path| {
        run(&[
            "verify",
            "--model",
            "yolov9-t",
            "--nc",
            nc,
            "--weights",
            &s(&weights),
            "--input",
            &s(&x),
            "--expect",
            &s(expect),
        ])
    };
    let (code, text) = verify("3", &good);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("yolov9-t") && text.contains("OK"), "{text}");
    let (code, text) = verify("3", &bad);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("ABOVE TOLERANCE"), "{text}");
    // One infinity in the expected output fails the check, and names where it is.
    let mut inf = want.to_vec();
    inf[7] = f32::INFINITY;
    let inf = npy(dir.path(), "inf.npy", shape, inf);
    let (code, text) = verify("3", &inf);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("the expected value at flat index 7 is inf"),
        "{text}"
    );
    let (code, text) = verify("80", &good);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("--nc 3"), "{text}");

    let (code, text) = run(&["inspect", &s(&weights)]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("model.29.cv5.0.2.weight") && text.contains("[3, 64, 1, 1]"),
        "{text}"
    );
    assert!(text.contains(&format!("{} tensors", tensors.len())), "{text}");
    // PGI removal: the gelan-t file reproduces the reference's main output.
    let gelan = dir.path().join("gelan-t.safetensors");
    let (code, text) = run(&[
        "remove-pgi",
        "--model",
        "yolov9-t",
        "--nc",
        "3",
        "--weights",
        &s(&weights),
        "--out",
        &s(&gelan),
    ]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = run(&[
        "verify",
        "--model",
        "gelan-t",
        "--nc",
        "3",
        "--weights",
        &s(&gelan),
        "--input",
        &s(&x),
        "--expect",
        &s(&good),
    ]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = run(&[
        "remove-pgi",
        "--model",
        "gelan-t",
        "--nc",
        "3",
        "--weights",
        &s(&gelan),
        "--out",
        &s(&gelan),
    ]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("no PGI branch"), "{text}");

    let (code, text) = run(&["inspect", &s(&x)]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("unknown weight format"), "{text}");
}

/// `zoo-weights export-yolov9` writes the embedded shapes detector's own state dict back: in
/// float32 bit for bit, in half precision within f16 rounding of the outputs.
#[test]
fn export_yolov9_round_trips_the_shapes_detector() {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let detector = zoo_weights::yolov9::shapes_detector(&device).unwrap();
    let bpk = dir.path().join("shapes.bpk");
    zoo_weights::save_module(&detector, &bpk).unwrap();
    let x = image(256, 256);
    let want = values(detector.clone().remove_pgi().fuse().predict(x.clone()));
    for (half, tol) in [(false, 0.0), (true, 2e-2)] {
        let out = dir.path().join(format!("half-{half}.safetensors"));
        let mut args = vec!["export-yolov9", "--model", "gelan-t", "--nc", "4", "--weights"];
        args.extend([bpk.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        if half {
            args.push("--half");
        }
        let o = Command::new(env!("CARGO_BIN_EXE_zoo-weights"))
            .args(&args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let back = load_yolov9(fresh("gelan-t", 4), &out).unwrap();
        let got = values(back.remove_pgi().fuse().predict(x.clone()));
        let (d, scale) = max_abs_diff(&got, &want);
        assert!(
            d <= tol * scale.max(1.0),
            "half {half}: outputs differ by {d} (scale {scale})"
        );
    }
}
