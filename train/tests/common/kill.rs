//! Shared by the crash-safety tests: train to the end, and train again killed with SIGKILL after
//! the first checkpoint, then `--resume`; the two runs must report the same final metrics.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn metrics(bin: &str, args: &[&str]) -> serde_json::Map<String, serde_json::Value> {
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
    // Wall-clock times (and throughputs) differ between runs; everything else must not.
    m.retain(|k, _| !k.contains("seconds") && !k.ends_with("per_second"));
    m
}

/// The files that tell a run's first checkpoint and its end apart (relative to the run
/// directory); the default is the shared loop's.
pub struct Marks {
    /// Exists once the first checkpoint is written.
    pub checkpoint: &'static str,
    /// Exists once the run has finished.
    pub finished: &'static str,
}

impl Default for Marks {
    fn default() -> Self {
        Self {
            checkpoint: "checkpoints/LATEST",
            finished: "model.bpk",
        }
    }
}

/// Runs `bin args` uninterrupted into `dir/reference`, and into `dir/killed` killed with SIGKILL
/// once its first checkpoint exists, then resumed; asserts that both report the same final
/// metrics (wall-clock times aside) and returns the two run directories. `args` must ask for
/// checkpoints early enough (e.g. `--checkpoint-every-steps`); `marks` name the files of the
/// first checkpoint and of a finished run.
pub fn kill_resume_compare(bin: &str, dir: &Path, args: &[&str], marks: Marks) -> (PathBuf, PathBuf) {
    let reference = dir.join("reference");
    let mut full: Vec<&str> = args.to_vec();
    full.extend(["--out", reference.to_str().unwrap()]);
    let want = metrics(bin, &full);
    let killed = dir.join("killed");
    let mut child = Command::new(bin)
        .args(args)
        .args(["--quiet", "--out", killed.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let latest = killed.join(marks.checkpoint);
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
        !killed.join(marks.finished).exists(),
        "{bin}: the killed run had finished"
    );
    let got = metrics(bin, &["--resume", killed.to_str().unwrap()]);
    assert_eq!(got, want, "{bin}: the resumed run's final metrics differ");
    (reference, killed)
}
