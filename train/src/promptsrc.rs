//! PromptSRC training (Khattak et al., ICCV 2023): prompts on a frozen CLIP learnt with the
//! self-regulating objective, Gaussian prompt aggregation through the loop's weighted average,
//! then accuracy on the task's test sets (base / novel / harmonic mean, or all classes).

use crate::average::AverageConfig;
use crate::cli::RunConfig;
use crate::optim::{OptimizerConfig, OptimizerKind};
use crate::schedule::{Decay, ScheduleConfig, Unit, Warmup};
use crate::trainer::{Data, FitResult, NoHooks, StepOutput, TrainConfig, TrainModel, Trainer};
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use zoo_clip::Tokenizer;
use zoo_clip::zeroshot::mean_text_features;
use zoo_eval::promptsrc::{
    FAMILY, Gpa, PromptArgs, PromptBatch, PromptBatcher, PromptData, PromptSrcSetup, Protocol, evaluate_task,
};
use zoo_promptsrc::{ClassPrompts, PromptSrc, PromptSrcConfig};

/// A complete PromptSRC run (what run.json records): `{"setup": {...}, "train": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PromptSrcRun {
    /// CLIP, prompts, data, protocol, GPA, textual diversity.
    pub setup: PromptSrcSetup,
    /// Loop settings (`average` stays empty: GPA is `setup.gpa`, derived for the run's epochs).
    pub train: TrainConfig,
}

/// The paper's recipe (Dassl defaults plus the PromptSRC configs): SGD lr 0.0025, momentum 0.9,
/// weight decay 5e-4, batch 4, 20 epochs, one warmup epoch at a constant 1e-5 then cosine,
/// stepped per epoch; the last incomplete batch dropped; one checkpoint kept.
pub fn default_train() -> TrainConfig {
    TrainConfig {
        epochs: 20,
        batch_size: 4,
        seed: 1,
        optimizer: OptimizerConfig {
            kind: OptimizerKind::Sgd,
            lr: 0.0025,
            momentum: 0.9,
            weight_decay: Some(5e-4),
            ..Default::default()
        },
        schedule: ScheduleConfig {
            unit: Unit::Epoch,
            decay: Decay::Cosine,
            warmup: 1,
            warmup_kind: Warmup::Constant,
            constant_lr: 1e-5,
            ..Default::default()
        },
        drop_last: true,
        valid_every: 5,
        // A checkpoint holds the frozen CLIP too (1.2 GB with ViT-B/16 and its GPA sums): one.
        keep_checkpoints: 1,
        ..Default::default()
    }
}

impl Default for PromptSrcRun {
    fn default() -> Self {
        Self {
            setup: PromptSrcSetup::default(),
            train: default_train(),
        }
    }
}

impl RunConfig for PromptSrcRun {
    const FAMILY: &'static str = FAMILY;

    fn train(&self) -> &TrainConfig {
        &self.train
    }

    fn train_mut(&mut self) -> &mut TrainConfig {
        &mut self.train
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.train.average.is_some() {
            bail!("train.average is not used by PromptSRC runs: set `setup.gpa` (mu, sigma) instead");
        }
        self.setup.validate()
    }
}

/// The paper's settings (`configs/trainers/PromptSRC/*.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// Base-to-novel: J = 9, 20 epochs, GPA mu 15 sigma 1, 16 shots.
    BaseToNovel,
    /// Few-shot (all classes): J = 9, 50 epochs, GPA mu 30 sigma 30 (mu 45 sigma 5 for
    /// StanfordCars, OxfordFlowers, FGVCAircraft, DTD and EuroSAT).
    FewShot,
    /// Cross-dataset / domain generalisation source training (ImageNet, all classes): J = 3,
    /// 20 epochs, GPA mu 6 sigma 10, 16 shots.
    CrossDataset,
}

impl Preset {
    /// Applies the preset to `run` (prompt depth, protocol, epochs, GPA, shots).
    pub fn apply(self, run: &mut PromptSrcRun) {
        let s = &mut run.setup;
        let (depth, protocol, epochs, gpa) = match self {
            Preset::BaseToNovel => (9, Protocol::BaseToNovel, 20, (15.0, 1.0)),
            Preset::CrossDataset => (3, Protocol::FewShot, 20, (6.0, 10.0)),
            Preset::FewShot => {
                let sharp = matches!(&s.data, PromptData::Dassl { name, .. }
                    if ["stanfordcars", "oxfordflowers", "fgvcaircraft", "describabletextures", "eurosat"]
                        .contains(&name.to_ascii_lowercase().as_str()));
                (
                    9,
                    Protocol::FewShot,
                    50,
                    if sharp { (45.0, 5.0) } else { (30.0, 30.0) },
                )
            }
        };
        s.prompts = PromptSrcConfig {
            text_depth: depth,
            vision_depth: depth,
            ..s.prompts.clone()
        };
        s.protocol = protocol;
        if self != Preset::FewShot {
            s.shots = 16;
        }
        if s.gpa.is_some() {
            s.gpa = Some(Gpa {
                mu: gpa.0,
                sigma: gpa.1,
            });
        }
        run.train.epochs = epochs;
    }
}

/// The ablation switches of the paper's Table (each off by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ablation {
    /// Cross-entropy only (IVLP): no self-regulating losses.
    pub ivlp: bool,
    /// The last epoch's prompts instead of the Gaussian aggregate.
    pub no_gpa: bool,
    /// Frozen text features from "a photo of a {}." alone.
    pub no_diversity: bool,
}

/// Applies `train-promptsrc`'s flags to `run`: the data and model flags, then the preset (given,
/// or base-to-novel implied when the flags change the CLIP and no config file was given), then
/// `--protocol` / `--shots` again so that explicit flags win over the preset, then the ablations.
pub fn apply_flags(
    run: &mut PromptSrcRun,
    args: &PromptArgs,
    preset: Option<Preset>,
    ablation: Ablation,
    explicit_config: bool,
) -> anyhow::Result<()> {
    args.apply(&mut run.setup)?;
    if ablation.no_gpa {
        run.setup.gpa = None;
    }
    let preset = preset.or((args.changes_model() && !explicit_config).then_some(Preset::BaseToNovel));
    if let Some(p) = preset {
        p.apply(run);
        args.apply_protocol_and_shots(&mut run.setup)?;
    }
    if ablation.ivlp {
        run.setup.prompts.self_regulation = false;
    }
    if ablation.no_diversity {
        run.setup.textual_diversity = false;
    }
    Ok(())
}

impl TrainModel for PromptSrc {
    type Batch = PromptBatch;

    fn train_step(&self, batch: PromptBatch) -> StepOutput {
        let n = batch.images.dims()[0];
        let prompts = ClassPrompts { tokens: batch.tokens };
        let l = self.losses(batch.images, batch.labels.clone(), &prompts, &batch.frozen_text);
        StepOutput::new(l.total, n)
            .with_classification(l.logits, batch.labels)
            .with_scalar("ce", l.ce)
            .with_scalar("kl", l.kl)
            .with_scalar("text_l1", l.text_l1)
            .with_scalar("image_l1", l.image_l1)
    }
}

/// What a PromptSRC run returns: the fit and the test accuracies of its final (aggregated)
/// prompts.
pub struct PromptSrcOutcome {
    /// The loop's result; `model` is the GPA model when GPA is on.
    pub fit: FitResult<PromptSrc>,
    /// `<set>_accuracy` per test set (`base`, `novel` or `all`) and `hm`.
    pub test: serde_json::Map<String, serde_json::Value>,
}

/// Trains the prompts `run` describes, then evaluates them on the task's test sets (and writes
/// them to `test.json` in the output directory).
pub fn train(run: &PromptSrcRun, trainer: &Trainer) -> anyhow::Result<PromptSrcOutcome> {
    let device = trainer.devices[0].clone();
    let s = &run.setup;
    let clip = s.load_clip(&device).context("loading the CLIP to prompt")?;
    let tokenizer = Tokenizer::new();
    let task = s.task(run.train.seed).context("preparing the task")?;
    if task.train.is_empty() {
        bail!(
            "the training split is empty (a test-only set such as an ImageNet variant is for eval-promptsrc)"
        );
    }
    if trainer.progress {
        eprintln!(
            "promptsrc: {} training images over {} classes; tests: {}",
            task.train.len(),
            task.train_names.len(),
            task.tests
                .iter()
                .map(|t| format!(
                    "{} ({} images, {} classes)",
                    t.name,
                    t.images.len(),
                    t.names.len()
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let model = s.prompts.init(clip.clone(), &tokenizer, &device)?;
    // Textual diversity: the frozen CLIP's class features, template means (computed once).
    let frozen = mean_text_features(
        &model.clip,
        &tokenizer,
        &task.train_names,
        &s.templates(),
        256,
        &device,
    );
    let batcher = PromptBatcher::new(
        &ClassPrompts::new(&model, &tokenizer, &task.train_names, &device),
        frozen,
    );
    let mut trainer = trainer.clone();
    // Dassl drops the last incomplete batch only when the set holds at least one full batch
    // (a 1-shot task with fewer classes than the batch size still trains).
    if task.train.len() < trainer.config.batch_size {
        trainer.config.drop_last = false;
    }
    trainer.config.average = s.gpa.map(|g| {
        AverageConfig::gaussian(
            vec![r"^prompt_learner\.".into()],
            trainer.config.epochs,
            g.mu,
            g.sigma,
        )
    });
    let data = Data {
        train: task.train.as_ref(),
        valid: task.val.as_deref(),
        batcher: &batcher,
    };
    let fit = trainer.fit(model, data, &mut NoHooks)?;
    let test = evaluate_task(Some(&fit.model), &clip, &tokenizer, "", &task, 100, &device)?;
    if let Some(dir) = &trainer.out {
        let path = dir.join("test.json");
        zoo_weights::atomic::write_atomic(&path, serde_json::to_string_pretty(&test)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(PromptSrcOutcome { fit, test })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::tensor::Device;

    #[test]
    fn presets_follow_the_paper_configs() {
        let mut run = PromptSrcRun {
            setup: PromptSrcSetup {
                data: PromptData::Dassl {
                    name: "EuroSAT".into(),
                    root: "data".into(),
                },
                ..Default::default()
            },
            ..Default::default()
        };
        Preset::FewShot.apply(&mut run);
        assert_eq!((run.train.epochs, run.setup.prompts.text_depth), (50, 9));
        assert_eq!(run.setup.gpa, Some(Gpa { mu: 45.0, sigma: 5.0 }));
        Preset::CrossDataset.apply(&mut run);
        assert_eq!((run.setup.prompts.vision_depth, run.setup.shots), (3, 16));
        assert_eq!(run.setup.gpa, Some(Gpa { mu: 6.0, sigma: 10.0 }));
        // GPA off stays off (the no-GPA ablation).
        run.setup.gpa = None;
        Preset::BaseToNovel.apply(&mut run);
        assert_eq!(run.setup.gpa, None);
        assert_eq!(run.setup.protocol, Protocol::BaseToNovel);
        // The GPA weights of the base-to-novel preset (paper: 0.054, 0.242, 0.399 around 15).
        let w = AverageConfig::gaussian(vec![], 20, 15.0, 1.0);
        for (e, want) in [
            (13, 0.05399),
            (14, 0.24197),
            (15, 0.39894),
            (16, 0.24197),
            (17, 0.05399),
        ] {
            assert!((w.weight(e) - want).abs() < 2e-5, "epoch {e}: {}", w.weight(e));
        }
        assert!(w.weight(10) < 1e-5 && w.weight(20) < 1e-5);
    }

    #[test]
    fn explicit_flags_win_over_the_preset() {
        let mut run = PromptSrcRun::default();
        let args = PromptArgs {
            shots: Some(2),
            protocol: Some("base-to-novel".into()),
            ..Default::default()
        };
        let ablation = Ablation {
            ivlp: true,
            no_gpa: true,
            ..Default::default()
        };
        apply_flags(&mut run, &args, Some(Preset::FewShot), ablation, false).unwrap();
        assert_eq!((run.setup.shots, run.setup.protocol), (2, Protocol::BaseToNovel));
        assert_eq!((run.train.epochs, run.setup.prompts.text_depth), (50, 9));
        assert_eq!(run.setup.gpa, None);
        assert!(!run.setup.prompts.self_regulation && run.setup.textual_diversity);
        // Changing the CLIP implies the base-to-novel preset (J = 9); the default keeps J = 3.
        let mut run = PromptSrcRun::default();
        let mut args = PromptArgs::default();
        args.model.model = Some("ViT-B-16".into());
        apply_flags(&mut run, &args, None, Ablation::default(), false).unwrap();
        assert_eq!((run.setup.prompts.vision_depth, run.setup.shots), (9, 16));
        let mut run = PromptSrcRun::default();
        apply_flags(&mut run, &PromptArgs::default(), None, Ablation::default(), false).unwrap();
        assert_eq!(run.setup.prompts.vision_depth, 3);
    }

    #[test]
    fn a_reloaded_model_keeps_clip_frozen() {
        // Resuming loads checkpoint bytes into a fresh model and forks it to the autodiff
        // device: only the prompts may receive gradients afterwards.
        let device = Device::flex();
        let tok = Tokenizer::new();
        let cfg = PromptSrcConfig {
            text_depth: 2,
            vision_depth: 2,
            ..Default::default()
        };
        let clip = zoo_clip::ClipConfig::tiny();
        let a = cfg.init(clip.init(&device).unwrap(), &tok, &device).unwrap();
        let bytes = zoo_weights::bpk::module_bytes(&a).unwrap().to_vec();
        let b = cfg.init(clip.init(&device).unwrap(), &tok, &device).unwrap();
        let b = zoo_weights::bpk::load_module_bytes(b, bytes, std::path::Path::new("ckpt")).unwrap();
        let ad = device.clone().autodiff();
        let b = b.fork(&ad).train();
        let names = vec!["red circle".to_string(), "blue square".to_string()];
        let prompts = ClassPrompts::new(&b, &tok, &names, &ad);
        let frozen = mean_text_features(&b.clip, &tok, &names, &["a {}.".into()], 8, &ad);
        let images = burn::tensor::Tensor::<4>::zeros([2, 3, 32, 32], &ad);
        let labels = burn::tensor::Tensor::<1, burn::tensor::Int>::from_data([0i64, 1], &ad);
        let grads = b.losses(images, labels, &prompts, &frozen).total.backward();
        assert_eq!(burn::optim::GradientsParams::from_grads(grads, &b).len(), 4);
    }
}
