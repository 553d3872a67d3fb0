//! The crash-safety matrix (issue 12): for each family's trainer, a run killed with SIGKILL after
//! its first checkpoint and resumed with `--resume` reports exactly the final metrics of an
//! uninterrupted run with the same seed; the MLP here and PromptSRC (promptsrc.rs) also compare
//! the weights.

#![cfg(unix)]

mod common;

use common::kill::kill_resume_compare;
use zoo_mlp::MlpConfig;
use zoo_train::params::max_abs_diff;

#[test]
fn mlp_resumes_with_bit_identical_weights_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    // 4500 points, 141 steps per epoch, 4 epochs: long enough to be killed mid-run.
    let cfg = dir.path().join("run.json5.json");
    std::fs::write(
        &cfg,
        r#"{
            "data": {"points_per_class": 1500, "test_points_per_class": 100},
            "train": {"epochs": 4, "batch_size": 32, "checkpoint_every_steps": 20, "keep_checkpoints": 3}
        }"#,
    )
    .unwrap();
    let (reference, killed) = kill_resume_compare(
        env!("CARGO_BIN_EXE_train-mlp"),
        dir.path(),
        &["--config", cfg.to_str().unwrap()],
        common::kill::Marks::default(),
    );
    let log = std::fs::read_to_string(killed.join("log.jsonl")).unwrap();
    let resume_line = log
        .lines()
        .find(|l| l.contains("\"event\":\"resume\""))
        .expect("a resume event in log.jsonl");
    let step: u64 = serde_json::from_str::<serde_json::Value>(resume_line).unwrap()["step"]
        .as_u64()
        .unwrap();
    assert!(step > 0 && step < 4 * 141, "resumed from step {step}");
    let device = burn::tensor::Device::flex();
    let a = zoo_weights::load_module(MlpConfig::new().init(&device), reference.join("model.bpk")).unwrap();
    let b = zoo_weights::load_module(MlpConfig::new().init(&device), killed.join("model.bpk")).unwrap();
    assert_eq!(
        max_abs_diff(&a, &b),
        0.0,
        "resumed run (from step {step}) differs from the uninterrupted one"
    );
    let final_of = |dir: &std::path::Path| -> serde_json::Value {
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(dir.join("metrics.json")).unwrap())
            .unwrap()["final"]
            .clone()
    };
    assert_eq!(final_of(&reference), final_of(&killed));
}

#[test]
fn evonorm_and_ebv_resume_exactly_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tiny.json");
    std::fs::write(
        &cfg,
        r#"{"data": {"source": {"shapes": {"train": 48, "test": 16}}}, "train": {"epochs": 3, "batch_size": 8}}"#,
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    let evonorm = dir.path().join("evonorm");
    std::fs::create_dir_all(&evonorm).unwrap();
    kill_resume_compare(
        env!("CARGO_BIN_EXE_train-evonorm"),
        &evonorm,
        &[
            "--config",
            c,
            "--norm",
            "evonorm-s0",
            "--width",
            "4",
            "--groups",
            "2",
            "--checkpoint-every-steps",
            "2",
        ],
        common::kill::Marks::default(),
    );
    let ebv = dir.path().join("ebv");
    std::fs::create_dir_all(&ebv).unwrap();
    kill_resume_compare(
        env!("CARGO_BIN_EXE_train-ebv"),
        &ebv,
        &[
            "--config",
            c,
            "--width",
            "4",
            "--groups",
            "2",
            "--ebv-dim",
            "6",
            "--checkpoint-every-steps",
            "2",
        ],
        common::kill::Marks::default(),
    );
}

#[test]
fn ponita_and_clip_resume_exactly_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let ponita = dir.path().join("ponita");
    std::fs::create_dir_all(&ponita).unwrap();
    let cfg = ponita.join("tiny.json");
    std::fs::write(
        &cfg,
        r#"{"model": {"hidden": 16, "basis_dim": 16, "layers": 2, "num_ori": 8},
            "data": {"nbody": {"num_train": 60, "num_valid": 20, "num_test": 20, "max_train": 60}},
            "train": {"epochs": 3, "batch_size": 10, "valid_every": 1}}"#,
    )
    .unwrap();
    kill_resume_compare(
        env!("CARGO_BIN_EXE_train-ponita"),
        &ponita,
        &["--config", cfg.to_str().unwrap(), "--checkpoint-every-steps", "2"],
        common::kill::Marks::default(),
    );
    let clip = dir.path().join("clip");
    std::fs::create_dir_all(&clip).unwrap();
    let cfg = clip.join("tiny.json");
    std::fs::write(
        &cfg,
        r#"{"model": {"embed_dim": 16, "quick_gelu": true,
                      "vision_cfg": {"image_size": 32, "patch_size": 8, "width": 32, "layers": 1, "head_width": 16},
                      "text_cfg": {"context_length": 24, "width": 16, "heads": 2, "layers": 1}},
            "data": {"train": 128, "valid": 32, "test": 60},
            "train": {"epochs": 3, "batch_size": 32, "valid_every": 1, "schedule": {"warmup": 2}}}"#,
    )
    .unwrap();
    kill_resume_compare(
        env!("CARGO_BIN_EXE_train-clip"),
        &clip,
        &["--config", cfg.to_str().unwrap(), "--checkpoint-every-steps", "2"],
        common::kill::Marks::default(),
    );
}
