//! Generates a set of equiangular basis vectors and writes it for reuse.
//!
//! ```text
//! generate-ebv --classes 1000 --dim 1000 --alpha 0.002 --out eq_1000_1000.safetensors
//! generate-ebv --classes 1000 --dim 300 --alpha 0.07 --out eq_300_1000.bpk --json
//! ```

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use zoo_ebv::{Construction, GeneratorConfig, Optimizer, generate};
use zoo_eval::cli::{parse_args, print_metrics, run};

fn parse_construction(s: &str) -> Result<Construction, String> {
    match s.to_ascii_lowercase().as_str() {
        "auto" => Ok(Construction::Auto),
        "iterative" => Ok(Construction::Iterative),
        "orthonormal" => Ok(Construction::Orthonormal),
        "simplex" => Ok(Construction::Simplex),
        _ => Err(format!(
            "unknown construction `{s}`; expected auto, iterative, orthonormal or simplex"
        )),
    }
}

/// Generate N unit vectors in R^d with pairwise |cos| <= alpha (Equiangular Basis Vectors, Shen
/// et al., CVPR 2023) and write them as .safetensors (tensor `basis`) or .bpk. The iterative method
/// is the reference's: sliced SGD on sum relu(|cos| - alpha), rows re-normalised every step, stop at
/// max |cos| <= alpha + 1e-4. Exact constructions are used when they exist (auto): orthonormal rows
/// for N <= d, the regular simplex for N = d + 1. Reports the achieved max |cos| next to the Welch
/// lower bound sqrt((N - d) / (d (N - 1))); an alpha below the bound is refused.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// Number of vectors N (classes).
    #[arg(long, value_name = "N")]
    classes: usize,
    /// Dimension d.
    #[arg(long, value_name = "D")]
    dim: usize,
    /// Target max |cos|.
    #[arg(long, value_name = "A", default_value_t = 0.002)]
    alpha: f64,
    /// auto, iterative, orthonormal or simplex.
    #[arg(long, value_name = "KIND", default_value = "auto", value_parser = parse_construction)]
    construction: Construction,
    /// Update rule of the iterative method: sgd (the reference), momentum or adam.
    #[arg(long, value_name = "RULE", default_value = "sgd", value_parser = ["sgd", "momentum", "adam"])]
    optimizer: String,
    /// Learning rate of the iterative method (the reference's SGD: 1e-3).
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Momentum coefficient for `--optimizer momentum`.
    #[arg(long, default_value_t = 0.9)]
    momentum: f64,
    /// Step cap of the iterative method.
    #[arg(long, default_value_t = 100_000)]
    max_steps: usize,
    /// Rows per slice (memory is O(slice x N)).
    #[arg(long, default_value_t = 130)]
    slice: usize,
    /// Seed of the initial draw.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Device: cpu, wgpu, cuda, ...
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Output file (.safetensors or .bpk); omit to only report.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Print the report as one JSON object on the last line.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli: Cli = parse_args();
    run(|| {
        let device = zoo_eval::parse_device(&cli.device)?;
        let cfg = GeneratorConfig {
            n: cli.classes,
            d: cli.dim,
            alpha: cli.alpha,
            max_steps: cli.max_steps,
            slice: cli.slice,
            optimizer: match cli.optimizer.as_str() {
                "momentum" => Optimizer::Momentum {
                    lr: cli.lr,
                    momentum: cli.momentum,
                },
                "adam" => Optimizer::Adam { lr: cli.lr },
                _ => Optimizer::Sgd { lr: cli.lr },
            },
            construction: cli.construction,
            seed: cli.seed,
            ..GeneratorConfig::default()
        };
        let t = Instant::now();
        let every = (cli.max_steps / 100).clamp(1, 100);
        let g = generate(&cfg, &device, |step, mx| {
            if !cli.json && step % every == 0 {
                eprintln!("step {step}: max |cos| {mx:.5}");
            }
        })?;
        let seconds = t.elapsed().as_secs_f64();
        if let Some(out) = &cli.out {
            zoo_weights::basis::save_basis(&g.basis, out)?;
        }
        let mut m = serde_json::Map::new();
        m.insert("classes".into(), cli.classes.into());
        m.insert("dim".into(), cli.dim.into());
        m.insert("alpha".into(), cli.alpha.into());
        m.insert("method".into(), g.method.into());
        m.insert("steps".into(), g.steps.into());
        m.insert("converged".into(), g.converged.into());
        m.insert("max_cos".into(), g.max_cos.into());
        m.insert("mean_cos".into(), g.mean_cos.into());
        m.insert("welch_bound".into(), g.welch_bound.into());
        m.insert("seconds".into(), seconds.into());
        let title = match &cli.out {
            Some(out) => format!("generate-ebv: wrote {}", out.display()),
            None => "generate-ebv".to_string(),
        };
        print_metrics(&title, &m, cli.json);
        anyhow::ensure!(
            g.converged,
            "did not reach alpha {} in {} steps (max |cos| {:.5}); the file holds the last iterate",
            cli.alpha,
            g.steps,
            g.max_cos
        );
        Ok(())
    })
}
