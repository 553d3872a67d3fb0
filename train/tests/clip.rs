//! CLIP through `train-clip` on a small captioned-shapes set (a one-layer CLIP, 240 steps: the
//! loss sits at chance, ln 64, for the first ~60 steps, then falls): the contrastive loss ends well
//! below chance, zero-shot accuracies are logged, and `eval-clip --checkpoint` reproduces them
//! from the saved weights.

use burn::prelude::*;
use std::process::{Command, Output};
use zoo_clip::Tokenizer;
use zoo_datasets::captions::Split;
use zoo_eval::clip::{ClipSetup, FAMILY, evaluate_shapes};
use zoo_weights::clip::load_clip;

const TRAIN_CLIP: &str = env!("CARGO_BIN_EXE_train-clip");

fn ok(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap()).unwrap()
}

#[test]
fn contrastive_run_learns_and_evaluates_back() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("small.json");
    std::fs::write(
        &cfg,
        r#"{"model": {"embed_dim": 32, "quick_gelu": true,
                      "vision_cfg": {"image_size": 32, "patch_size": 8, "width": 32, "layers": 1, "head_width": 16},
                      "text_cfg": {"context_length": 24, "width": 32, "heads": 2, "layers": 1}},
            "data": {"train": 768, "valid": 64, "test": 240},
            "train": {"epochs": 20, "batch_size": 64, "valid_every": 10, "optimizer": {"lr": 0.002},
                      "schedule": {"warmup": 20}}}"#,
    )
    .unwrap();
    let out = dir.path().join("run");
    let m = ok(&Command::new(TRAIN_CLIP)
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--json",
            "--quiet",
        ])
        .output()
        .unwrap());
    let chance = 64f64.ln();
    let loss = m["train_loss"].as_f64().unwrap();
    assert!(loss < 0.85 * chance, "train loss {loss} vs chance {chance}");
    let seen = m["zero_shot_seen"].as_f64().unwrap();
    assert!(seen > 3.0 / 30.0, "zero-shot on seen pairs {seen} (chance 1/30)");
    // The saved weights give the logged numbers back (what `eval-clip --checkpoint` runs).
    let setup: ClipSetup = zoo_weights::run::read_manifest(&out, FAMILY).unwrap();
    let device = Device::flex();
    let model = load_clip(
        setup.model.init(&device).unwrap(),
        &zoo_weights::run::weights_path(&out).unwrap(),
    )
    .unwrap();
    let test = setup.data.generate(Split::Test).unwrap();
    let z = evaluate_shapes(&model, &Tokenizer::new(), &test, 100, &device).unwrap();
    assert_eq!(Some(z.seen), m["zero_shot_seen"].as_f64());
    assert_eq!(Some(z.held_apart), m["zero_shot_held_apart"].as_f64());
}
