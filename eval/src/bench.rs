//! The benchmark harness behind the `bench` binary: time a closure over warm-up and measured
//! iterations, report median and p10/p90, throughput and peak resident memory.

use serde::Serialize;
use std::time::Instant;

/// One benchmark result, the JSON object `bench --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    /// Model name.
    pub model: String,
    /// `infer` or `train`.
    pub mode: String,
    /// Batch size.
    pub batch: usize,
    /// Spatial size (or the model's size parameter).
    pub size: usize,
    /// Device.
    pub device: String,
    /// Measured iterations.
    pub iterations: usize,
    /// Median milliseconds per iteration.
    pub median_ms: f64,
    /// 10th percentile.
    pub p10_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// Items (samples) per second at the median.
    pub items_per_second: f64,
    /// Peak resident set size of the process, MiB.
    pub peak_rss_mib: f64,
}

/// Runs `step` `warmup` times unmeasured, then `iters` times measured (each call must finish its
/// work, e.g. by reading its result back, so that asynchronous backends are timed fully).
pub fn time_iterations(warmup: usize, iters: usize, mut step: impl FnMut()) -> Vec<f64> {
    for _ in 0..warmup {
        step();
    }
    (0..iters.max(1))
        .map(|_| {
            let t = Instant::now();
            step();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect()
}

/// The `q`-quantile (0..=1) of `samples` by linear interpolation, as numpy's default.
pub fn quantile(samples: &[f64], q: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    if s.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (s.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
}

/// Peak resident set size (VmHWM) in MiB, or 0 where /proc is unavailable.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let s = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(&s, 0.5), 2.5);
        assert!((quantile(&s, 0.1) - 1.3).abs() < 1e-12);
        assert_eq!(quantile(&s, 1.0), 4.0);
        assert!(quantile(&[], 0.5).is_nan());
        assert_eq!(time_iterations(1, 3, || {}).len(), 3);
    }
}
