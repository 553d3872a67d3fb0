//! A disk that fills up while training checkpoints: the run stops with a clear error and exit 1,
//! the checkpoint written before stays loadable, and once space is freed `--resume` finishes the
//! run. Needs a small tmpfs: root and `mount` (as on CI); elsewhere the test says it is skipped.

#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_train-mlp");

fn train(args: &[&str]) -> Output {
    Command::new(BIN).args(args).arg("--quiet").output().unwrap()
}

struct Tmpfs(std::path::PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn mount_tmpfs(dir: &Path, size: &str) -> Option<Tmpfs> {
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then(|| Tmpfs(dir.to_path_buf()))
}

#[test]
fn a_full_disk_stops_training_cleanly_and_keeps_the_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let Some(_tmpfs) = mount_tmpfs(&mnt, "4m") else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
        return;
    };
    let out = mnt.join("run");
    let o = train(&[
        "--epochs",
        "3",
        "--out",
        out.to_str().unwrap(),
        "--max-steps",
        "5",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Fill the disk but for 16 KiB: room for run.json and the log, not for a checkpoint (~58 KB).
    let filler = mnt.join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=64k"])
        .arg(format!("of={}", filler.display()))
        .output();
    let f = std::fs::OpenOptions::new().write(true).open(&filler).unwrap();
    f.set_len(f.metadata().unwrap().len() - 16 * 1024).unwrap();
    drop(f);
    let o = train(&["--resume", out.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("checkpoint") && err.to_lowercase().contains("no space"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // No partial checkpoint is left as the newest: LATEST still names the one from before.
    let latest = std::fs::read_to_string(out.join("checkpoints/LATEST")).unwrap();
    assert!(latest.contains("0000000005"), "{latest}");
    // Space freed: the earlier checkpoint resumes and the run finishes.
    std::fs::remove_file(&filler).unwrap();
    let o = train(&["--resume", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.join("model.bpk").exists());
}
