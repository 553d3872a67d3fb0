//! Tests PromptSRC prompts, or zero-shot CLIP, on a task's classes.
//!
//! ```text
//! eval-promptsrc --checkpoint runs/psrc               # base / novel / HM of a train-promptsrc run
//! eval-promptsrc --zero-shot                          # the shapes CLIP with "a photo of a {}." on the same task
//! eval-promptsrc --checkpoint runs/inet-xd --dassl Caltech101 --data-root data --protocol few-shot
//! eval-promptsrc --checkpoint runs/inet-xd --dassl ImageNetSketch --data-root data --protocol few-shot
//! ```

use anyhow::bail;
use clap::Parser;
use std::process::ExitCode;
use zoo_clip::Tokenizer;
use zoo_eval::cli::{EvalArgs, parse_args, report_metrics, run};
use zoo_eval::promptsrc::{FAMILY, PromptArgs, PromptSrcSetup, RunFile, evaluate_task};

/// Test prompts learnt by train-promptsrc (the Gaussian-aggregated prompts it saved) on the test
/// split of its task: base and novel accuracy and their harmonic mean for base-to-novel, accuracy
/// over all classes for few-shot. The data flags move the prompts to another dataset
/// (cross-dataset transfer and domain generalisation: a Dassl benchmark or an ImageNet variant,
/// `--protocol few-shot` for all its classes). With --zero-shot, the frozen CLIP is tested with
/// CoOp's hand-written prompt for the dataset instead ("a photo of a {}." by default): the
/// paper's CLIP baseline. Without --checkpoint: zero-shot on the default task (the captioned
/// shapes with the committed shapes CLIP).
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    eval: EvalArgs,
    #[command(flatten)]
    data: PromptArgs,
    /// Test the frozen CLIP with the hand-written prompt instead of the learnt prompts.
    #[arg(long)]
    zero_shot: bool,
}

fn main() -> ExitCode {
    let cli: Cli = parse_args();
    run(|| {
        let args = &cli.eval;
        let device = zoo_eval::parse_device(&args.common.device)?;
        let trained = args.checkpoint.is_some() || args.weights.is_some();
        let (mut setup, weights): (PromptSrcSetup, _) = if trained {
            let (file, weights): (RunFile, _) = args.setup(FAMILY)?;
            (file.setup, weights)
        } else {
            (PromptSrcSetup::default(), Default::default())
        };
        cli.data.apply(&mut setup)?;
        setup.validate()?;
        let zero_shot = cli.zero_shot || !trained;
        let seed = args.common.seed.unwrap_or(1);
        let task = setup.task(seed)?;
        let clip = setup.load_clip(&device)?;
        let batch = args.batch_size.unwrap_or(100);
        let tokenizer = Tokenizer::new();
        let (metrics, what) = if zero_shot {
            let template = setup.zero_shot_template();
            let m = evaluate_task(None, &clip, &tokenizer, &template, &task, batch, &device)?;
            (m, format!("zero-shot CLIP, \"{template}\""))
        } else {
            if weights.as_os_str().is_empty() {
                bail!("no weights to evaluate");
            }
            let model = setup.prompts.init(clip.clone(), &tokenizer, &device)?;
            let model = zoo_weights::bpk::load_module(model, &weights)?;
            let m = evaluate_task(Some(&model), &clip, &tokenizer, "", &task, batch, &device)?;
            (m, format!("PromptSRC prompts from {}", weights.display()))
        };
        let data = match &setup.data {
            zoo_eval::promptsrc::PromptData::Shapes { .. } => "the captioned shapes".to_string(),
            zoo_eval::promptsrc::PromptData::Dassl { name, .. } => name.clone(),
            zoo_eval::promptsrc::PromptData::Folder { root } => root.display().to_string(),
        };
        let title = format!("eval-promptsrc: {what} on {data}");
        report_metrics(args.common.out.as_deref(), &title, &metrics, args.common.json)
    })
}
