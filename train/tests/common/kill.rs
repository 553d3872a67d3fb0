//! Shared by the crash-safety tests: train to the end; train again killed with SIGKILL after the
//! first checkpoint, and again at random moments, then `--resume`; every resumed run must report
//! the same final metrics (and weights) as the uninterrupted one.

use super::run::{metrics, parse_metrics};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The files that tell a run's first checkpoint and its end apart (relative to the run
/// directory); the default is the shared loop's.
pub struct Marks {
    /// Exists once the first checkpoint is written.
    pub checkpoint: &'static str,
    /// Exists once the run has finished.
    pub finished: &'static str,
    /// Exists once the run is recorded (what `--resume` reads first): a run killed before it
    /// cannot be resumed, and must start afresh in the same directory.
    pub record: &'static str,
    /// The final weights, compared byte for byte (`None`: the caller compares what it needs).
    pub weights: Option<&'static str>,
}

impl Default for Marks {
    fn default() -> Self {
        Self {
            checkpoint: "checkpoints/LATEST",
            finished: "model.bpk",
            record: "run.json",
            weights: Some("model.bpk"),
        }
    }
}

/// How many random kill points each family's test tries (`ZOO_CRASH_POINTS`, default 1).
fn crash_points() -> usize {
    std::env::var("ZOO_CRASH_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// The seed of the kill points (`ZOO_CRASH_SEED`; by default the clock, printed so that a failing
/// point can be tried again).
fn crash_seed() -> u64 {
    std::env::var("ZOO_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

/// A uniform draw in [0, 1) from (seed, stream) (splitmix64).
fn uniform(seed: u64, stream: u64) -> f64 {
    let mut z = seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

/// The tensors of a weights file by name, as bytes (a `.bpk` also stores random parameter ids,
/// which differ between runs), or the file's bytes.
fn weights(path: &Path) -> Vec<(String, Vec<u8>)> {
    if path.extension().is_some_and(|e| e == "bpk") {
        let r = burn_pack::Reader::from_file(path).unwrap();
        let mut names: Vec<String> = r.tensor_names().into_iter().map(String::from).collect();
        names.sort();
        names
            .into_iter()
            .map(|n| {
                let data = r.tensor_data(&n).unwrap();
                (n, data)
            })
            .collect()
    } else {
        vec![(String::new(), std::fs::read(path).unwrap())]
    }
}

fn assert_same_weights(bin: &str, reference: &Path, run: &Path, marks: &Marks, when: &str) {
    if let Some(w) = marks.weights {
        assert!(
            weights(&reference.join(w)) == weights(&run.join(w)),
            "{bin}: {w} of the run killed {when} differs from the uninterrupted run's"
        );
    }
}

/// Runs `bin args` uninterrupted into `dir/reference`; into `dir/killed`, killed with SIGKILL
/// once its first checkpoint exists; and into `dir/random-N`, killed at random moments of the
/// reference's duration ([`crash_points`] of them, from [`crash_seed`]). Each killed run is
/// resumed with `--resume` (one killed before its run was recorded instead starts afresh in the
/// same directory) and must report the same final metrics (wall-clock times aside) and weights
/// as the reference. Returns the reference and first-checkpoint run directories. `args` must ask
/// for checkpoints early enough (e.g. `--checkpoint-every-steps`).
pub fn kill_resume_compare(bin: &str, dir: &Path, args: &[&str], marks: Marks) -> (PathBuf, PathBuf) {
    let reference = dir.join("reference");
    let mut full: Vec<&str> = args.to_vec();
    full.extend(["--out", reference.to_str().unwrap()]);
    let t0 = Instant::now();
    let want = metrics(bin, &full);
    let span = t0.elapsed();

    let killed = dir.join("killed");
    let mut child = spawn(bin, args, &killed);
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
    assert_same_weights(bin, &reference, &killed, &marks, "after its first checkpoint");
    eprintln!("{bin}: killed after its first checkpoint, resumed: the same result");

    let seed = crash_seed();
    for point in 0..crash_points() {
        // Up to 95 % of the reference's duration: start-up, before and between checkpoints,
        // during their writes.
        let at = span.mul_f64(0.95 * uniform(seed, point as u64));
        let when = format!("at {at:?} of {span:?} (ZOO_CRASH_SEED={seed}, point {point})");
        let run = dir.join(format!("random-{point}"));
        let mut child = spawn(bin, args, &run);
        let t0 = Instant::now();
        while t0.elapsed() < at && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(1));
        }
        if child.try_wait().unwrap().is_some() {
            eprintln!("{bin}: finished before the kill {when}; not a crash point");
            continue;
        }
        child.kill().unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(9));
        let resumed = Command::new(bin)
            .args(["--resume", run.to_str().unwrap(), "--json", "--quiet"])
            .output()
            .unwrap();
        let (got, how) = if resumed.status.success() {
            (parse_metrics(&resumed), "resumed")
        } else {
            let why = String::from_utf8_lossy(&resumed.stderr);
            assert!(
                !run.join(marks.record).exists() && resumed.status.code() == Some(1),
                "{bin}: --resume of the run killed {when} failed: {why}"
            );
            let mut fresh: Vec<&str> = args.to_vec();
            fresh.extend(["--out", run.to_str().unwrap()]);
            (
                metrics(bin, &fresh),
                "started afresh (killed before its run was recorded)",
            )
        };
        assert_eq!(got, want, "{bin}: the run killed {when} ends with other metrics");
        assert_same_weights(bin, &reference, &run, &marks, &when);
        eprintln!("{bin}: killed {when}, {how}: the same result");
    }
    (reference, killed)
}

fn spawn(bin: &str, args: &[&str], out: &Path) -> std::process::Child {
    Command::new(bin)
        .args(args)
        .args(["--quiet", "--out", out.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}
