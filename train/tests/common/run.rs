//! Running a training binary for its final metrics.

use std::process::{Command, Output};

/// Runs `bin args --json --quiet`, asserts it succeeded, and returns its final metrics (the last
/// JSON line of stdout) without wall-clock times and throughputs.
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
    parse_metrics(&o)
}

/// The final metrics in `o`'s stdout (see [`metrics`]).
pub fn parse_metrics(o: &Output) -> serde_json::Map<String, serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap()).unwrap();
    let mut m = v.as_object().unwrap().clone();
    // Wall-clock times (and throughputs) differ between runs; everything else must not.
    m.retain(|k, _| !k.contains("seconds") && !k.ends_with("per_second"));
    m
}
