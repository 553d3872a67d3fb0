//! A training process killed with SIGKILL in the middle of training and resumed with `--resume`
//! ends with exactly the weights of an uninterrupted run with the same seed.

#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use zoo_mlp::MlpConfig;
use zoo_train::params::max_abs_diff;

const BIN: &str = env!("CARGO_BIN_EXE_train-mlp");

fn config(dir: &Path) -> std::path::PathBuf {
    // 4500 points, 141 steps per epoch, 4 epochs: long enough to be killed mid-run.
    let path = dir.join("run.json5.json");
    std::fs::write(
        &path,
        r#"{
            "data": {"points_per_class": 1500, "test_points_per_class": 100},
            "train": {"epochs": 4, "batch_size": 32, "checkpoint_every_steps": 20, "keep_checkpoints": 3}
        }"#,
    )
    .unwrap();
    path
}

fn train(args: &[&str]) {
    let out = Command::new(BIN).args(args).arg("--quiet").output().unwrap();
    assert!(
        out.status.success(),
        "train-mlp {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sigkill_then_resume_matches_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let cfg = cfg.to_str().unwrap();
    let reference = dir.path().join("reference");
    train(&["--config", cfg, "--out", reference.to_str().unwrap()]);

    let killed = dir.path().join("killed");
    let mut child = Command::new(BIN)
        .args(["--config", cfg, "--out", killed.to_str().unwrap(), "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let latest = killed.join("checkpoints/LATEST");
    let t0 = Instant::now();
    while !latest.exists() {
        assert!(t0.elapsed() < Duration::from_secs(120), "no checkpoint appeared");
        assert!(
            child.try_wait().unwrap().is_none(),
            "training finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "the child was not killed by SIGKILL: {status:?}"
    );
    assert!(
        !killed.join("model.bpk").exists(),
        "the killed run should not have finished"
    );

    train(&["--resume", killed.to_str().unwrap()]);
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
    let ma: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reference.join("metrics.json")).unwrap()).unwrap();
    let mb: serde_json::Value =
        serde_json::from_slice(&std::fs::read(killed.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(ma["final"], mb["final"]);
}
