//! Learns PromptSRC prompts on a frozen CLIP.
//!
//! ```text
//! train-promptsrc --out runs/psrc                     # base-to-novel on the captioned shapes, shapes CLIP
//! train-promptsrc --ivlp --no-gpa --out runs/ivlp     # the IVLP baseline of the ablation
//! train-promptsrc --model ViT-B-16 --clip-weights vit_b_16.safetensors \
//!     --dassl OxfordPets --data-root data --preset base-to-novel --seed 1 --out runs/pets-b2n-1
//! train-promptsrc --model ViT-B-16 --clip-weights vit_b_16.safetensors \
//!     --dassl ImageNet --data-root data --preset cross-dataset --out runs/inet-xd
//! eval-promptsrc --checkpoint runs/psrc               # base / novel / HM of the saved prompts
//! ```

use clap::Parser;
use std::process::ExitCode;
use zoo_eval::cli::{parse_args, print_metrics, run};
use zoo_eval::promptsrc::PromptArgs;
use zoo_train::cli::{RunConfig, TrainArgs, prepare_with};
use zoo_train::promptsrc::{Ablation, Preset, PromptSrcRun, apply_flags, train};

/// Learn PromptSRC prompts (Khattak et al., ICCV 2023) on a frozen CLIP: 4 text context vectors
/// (initialised from "a photo of a") and 4 visual prompt tokens per layer up to depth J, trained
/// with cross-entropy plus the self-regulating terms (KL to the frozen CLIP's logits, 25 x L1 to
/// its text features averaged over 60 templates, 10 x L1 to its image features), and averaged
/// over epochs with Gaussian weights (GPA). The run ends by testing the aggregated prompts:
/// base and novel accuracy and their harmonic mean (base-to-novel), or accuracy over all classes
/// (few-shot). Default: base-to-novel on the generated captioned shapes (30 colour-shape
/// classes; base = red, green and blue, novel = yellow, purple and orange) with the committed
/// shapes CLIP, J = 3 (its depth), 16 shots, SGD 0.0025 with one warmup epoch, batch 4, 20
/// epochs, GPA mu 15 sigma 1.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    train: TrainArgs,
    #[command(flatten)]
    data: PromptArgs,
    /// The paper's settings for a protocol (prompt depth, epochs, GPA, shots); implied
    /// base-to-novel when --model/--model-config changes the CLIP.
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    /// Ablation: IVLP, cross-entropy only (no self-regulating losses).
    #[arg(long)]
    ivlp: bool,
    /// Ablation: keep the last epoch's prompts instead of the Gaussian aggregate.
    #[arg(long)]
    no_gpa: bool,
    /// Ablation: frozen text features from "a photo of a {}." only, not the 60 templates.
    #[arg(long)]
    no_diversity: bool,
}

fn main() -> ExitCode {
    let cli: Cli = parse_args();
    run(|| {
        let explicit_config = cli.train.common.config.is_some();
        let (cfg, trainer) = prepare_with::<PromptSrcRun>(&cli.train, |cfg| {
            let ablation = Ablation {
                ivlp: cli.ivlp,
                no_gpa: cli.no_gpa,
                no_diversity: cli.no_diversity,
            };
            apply_flags(cfg, &cli.data, cli.preset, ablation, explicit_config)
        })?;
        let outcome = train(&cfg, &trainer)?;
        let mut m = serde_json::Map::new();
        for (k, v) in outcome.fit.last_metrics() {
            m.insert(k, v.into());
        }
        m.insert("steps".into(), outcome.fit.steps.into());
        let seconds: f64 = outcome.fit.history.iter().map(|r| r.seconds).sum();
        m.insert("train_seconds".into(), seconds.into());
        for (k, v) in outcome.test {
            m.insert(format!("test_{k}"), v);
        }
        let title = match &trainer.out {
            Some(dir) => format!(
                "train-{}: done, outputs in {}",
                PromptSrcRun::FAMILY,
                dir.display()
            ),
            None => format!("train-{}: done", PromptSrcRun::FAMILY),
        };
        print_metrics(&title, &m, cli.train.common.json);
        Ok(())
    })
}
