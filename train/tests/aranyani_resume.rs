//! `train-aranyani` killed with SIGKILL in the middle of a sweep and resumed from its
//! checkpoints ends with the same forests and metrics as an uninterrupted run.

#![cfg(unix)]

// Only `metrics` is used: Aranyani's checkpoints are per pass, not the loop's `checkpoints/LATEST`.
#[allow(dead_code)]
mod common;

use common::kill::metrics;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_train-aranyani");

#[test]
fn a_killed_sweep_resumes_to_the_same_forests() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("small.json");
    std::fs::write(&cfg, r#"{"synthetic": {"train": 6000, "test": 500}}"#).unwrap();
    // Batches of 3 instances: checkpoints fall on update boundaries (every 300 -> 300).
    let args = [
        "--config",
        cfg.to_str().unwrap(),
        "--sweep",
        "0,10",
        "--batch-size",
        "3",
        "--checkpoint-every",
        "300",
    ];
    let reference = dir.path().join("reference");
    let mut full = args.to_vec();
    full.extend(["--out", reference.to_str().unwrap()]);
    // Throughput is wall-clock; everything else must match.
    let strip = |mut m: serde_json::Map<String, serde_json::Value>| {
        m.remove("instances_per_second");
        m
    };
    let want = strip(metrics(BIN, &full));

    let killed = dir.path().join("killed");
    let mut child = Command::new(BIN)
        .args(args)
        .args(["--quiet", "--out", killed.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill once the first pass has a checkpoint.
    let first = killed.join("checkpoints/forest-lambda0-seed0.state.json");
    let t0 = Instant::now();
    while !first.exists() {
        assert!(t0.elapsed() < Duration::from_secs(120), "no checkpoint appeared");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(9));
    assert!(!killed.join("sweep.csv").exists(), "the killed run had finished");

    let got = strip(metrics(BIN, &["--resume", killed.to_str().unwrap()]));
    assert_eq!(got, want, "the resumed run's final metrics differ");
    for lambda in ["0", "10"] {
        let f = format!("forest-lambda{lambda}-seed0.json");
        assert_eq!(
            std::fs::read_to_string(killed.join(&f)).unwrap(),
            std::fs::read_to_string(reference.join(&f)).unwrap(),
            "{f} differs"
        );
    }
    // A directory without checkpoints cannot be resumed.
    let o = Command::new(BIN)
        .args(["--resume", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
}
