//! The crash-safety matrix (issue 12): for each family's trainer, a run killed with SIGKILL after
//! its first checkpoint and resumed with `--resume` reports exactly the final metrics of an
//! uninterrupted run with the same seed. (The MLP and PromptSRC also compare the weights:
//! sigkill.rs, promptsrc.rs.)

#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn metrics(bin: &str, args: &[&str]) -> serde_json::Map<String, serde_json::Value> {
    let o = Command::new(bin)
        .args(args)
        .args(["--json", "--quiet"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{bin} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap()).unwrap();
    let mut m = v.as_object().unwrap().clone();
    // Wall-clock times differ between runs; everything else must not.
    m.retain(|k, _| !k.contains("seconds"));
    m
}

fn kill_resume_compare(bin: &str, dir: &Path, args: &[&str]) {
    let reference = dir.join("reference");
    let mut full: Vec<&str> = args.to_vec();
    full.extend([
        "--checkpoint-every-steps",
        "2",
        "--out",
        reference.to_str().unwrap(),
    ]);
    let want = metrics(bin, &full);
    let killed = dir.join("killed");
    let mut child = Command::new(bin)
        .args(args)
        .args([
            "--checkpoint-every-steps",
            "2",
            "--quiet",
            "--out",
            killed.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let latest = killed.join("checkpoints/LATEST");
    let t0 = Instant::now();
    while !latest.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "{bin}: no checkpoint appeared"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "{bin} finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap(); // SIGKILL
    assert_eq!(child.wait().unwrap().signal(), Some(9));
    assert!(
        !killed.join("model.bpk").exists(),
        "{bin}: the killed run had finished"
    );
    let got = metrics(bin, &["--resume", killed.to_str().unwrap()]);
    assert_eq!(got, want, "{bin}: the resumed run's final metrics differ");
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
        ],
    );
    let ebv = dir.path().join("ebv");
    std::fs::create_dir_all(&ebv).unwrap();
    kill_resume_compare(
        env!("CARGO_BIN_EXE_train-ebv"),
        &ebv,
        &["--config", c, "--width", "4", "--groups", "2", "--ebv-dim", "6"],
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
        &["--config", cfg.to_str().unwrap()],
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
        &["--config", cfg.to_str().unwrap()],
    );
}
