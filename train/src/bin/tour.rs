//! Runs every burnzoo family's training and evaluation on its embedded default and prints one
//! results table.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use zoo_eval::cli::{parse_args, run};
use zoo_train::tour::{TourOptions, families};

/// A tour of burnzoo: trains and evaluates each model family on its embedded default dataset
/// (generated or shipped in the repository, nothing is downloaded) and prints a table of results
/// and timings.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// Device for every family: cpu, wgpu, wgpu:N, wgpu:cpu, cuda, cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Only these families (comma-separated); default: all.
    #[arg(long, value_name = "LIST")]
    only: Option<String>,
    /// Keep each family's run (checkpoints, weights, metrics, plots) in `DIR/<family>`.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print the table as one JSON array on the last line of stdout.
    #[arg(long)]
    json: bool,
    /// No progress output on stderr.
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli: Cli = parse_args();
    run(|| {
        let all = families();
        let selected: Vec<_> = match &cli.only {
            Some(list) => {
                let wanted: Vec<&str> = list.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
                for w in &wanted {
                    if !all.iter().any(|(n, _)| n == w) {
                        let known: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
                        anyhow::bail!("unknown family `{w}`; known: {}", known.join(", "));
                    }
                }
                all.into_iter().filter(|(n, _)| wanted.contains(n)).collect()
            }
            None => all,
        };
        let opts = TourOptions {
            device: zoo_eval::parse_device(&cli.device)?,
            out: cli.out.clone(),
            progress: !cli.quiet,
        };
        let mut rows = Vec::new();
        for (name, f) in selected {
            if !cli.quiet {
                eprintln!("== {name}");
            }
            rows.push(f(&opts).map_err(|e| e.context(format!("tour: family {name}")))?);
        }
        println!(
            "{:<10} {:<40} {:<18} {:>8} {:>9} {:>8}",
            "family", "task", "metric", "value", "train s", "eval s"
        );
        for r in &rows {
            println!(
                "{:<10} {:<40} {:<18} {:>8.4} {:>9.1} {:>8.2}",
                r.family, r.task, r.metric, r.value, r.train_seconds, r.eval_seconds
            );
        }
        if cli.json {
            println!("{}", serde_json::to_string(&rows)?);
        }
        Ok(())
    })
}
