//! `train-aranyani` killed with SIGKILL in the middle of a sweep and resumed from its
//! checkpoints ends with the same forests and metrics as an uninterrupted run.

#![cfg(unix)]

mod common;

use common::kill::{Marks, kill_resume_compare};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_train-aranyani");

#[test]
fn a_killed_sweep_resumes_to_the_same_forests() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("small.json");
    std::fs::write(&cfg, r#"{"synthetic": {"train": 6000, "test": 500}}"#).unwrap();
    // Batches of 3 instances: checkpoints fall on update boundaries (every 300 -> 300). Killed
    // once the first pass has a checkpoint; a finished sweep has written sweep.csv.
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
    let marks = Marks {
        checkpoint: "checkpoints/forest-lambda0-seed0.state.json",
        finished: "sweep.csv",
        record: "checkpoints/resume.json",
        weights: Some("forest-lambda10-seed0.json"),
    };
    let (reference, killed) = kill_resume_compare(BIN, dir.path(), &args, marks);
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
