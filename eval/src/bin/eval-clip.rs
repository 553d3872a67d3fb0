//! Zero-shot evaluation of CLIP models, CLIP's tokenizer on the command line, and the generated
//! captioned shapes as files.
//!
//! ```text
//! eval-clip                                            # the committed shapes CLIP, seen vs held-apart pairs
//! eval-clip --checkpoint runs/clip                     # a train-clip run
//! eval-clip --model ViT-B-16 --weights vit_b_16.safetensors --data imagenet/val --classes names.txt
//! eval-clip --model-config RN-free.json --weights model.pt --data pets/test --templates my_templates.txt
//! eval-clip --model ViT-B-16 --weights vit_b_16.safetensors --dassl OxfordPets --data-root data --subsample novel
//! echo "a photo of a cat" | eval-clip tokenize         # [49406,320,1125,539,320,2368,49407]
//! eval-clip shapes-write --out data/shapes-captioned   # the test split as an ImageFolder + captions.tsv
//! ```

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use zoo_clip::{Clip, EOT, Tokenizer};
use zoo_datasets::Dataset;
use zoo_datasets::captions::Split;
use zoo_datasets::dassl::{self, DasslImages};
use zoo_datasets::image::{Augment, ImageFolder, ImageItem, Resize};
use zoo_eval::cli::{EvalArgs, parse_args, report_metrics, run};
use zoo_eval::clip::{
    ClipArgs, ClipSetup, FAMILY, evaluate_folder, evaluate_shapes, read_lines, read_templates,
};

/// Zero-shot classification with CLIP (Radford et al., 2021): class embeddings are prompt-template
/// ensembles (the mean of the normalised text features of every template filled with the class
/// name); an image goes to the class of highest cosine similarity. With --data: an ImageFolder
/// split (`DIR/<class>/<image>.png|jpg`), or with --dassl a CoOp benchmark's split (CoOp's
/// zero-shot template per dataset), images preprocessed exactly as open_clip does (shorter side
/// to the model's size with Pillow's bicubic, center crop, CLIP mean/std), top-1, top-5 and mean
/// per-class accuracy. Without --data: the generated captioned shapes' test split, 30
/// colour-shape classes, accuracy on pairs seen in training and on the five held-apart pairs.
/// Weights: --checkpoint (a train-clip run), --weights (open_clip .safetensors/.pt state dict or a
/// zoo .bpk, architecture from --model or --model-config), or by default the committed shapes CLIP.
#[derive(Parser, Debug)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    eval: EvalArgs,
    #[command(flatten)]
    model: ClipArgs,
    /// An ImageFolder split to classify (one sub-folder per class).
    #[arg(long, value_name = "DIR", conflicts_with = "dassl")]
    data: Option<PathBuf>,
    /// A CoOp/Dassl benchmark to classify (ImageNet, Caltech101, OxfordPets, StanfordCars,
    /// OxfordFlowers, Food101, FGVCAircraft, SUN397, DescribableTextures, EuroSAT, UCF101), read
    /// from --data-root in CoOp's layout (e.g. DIR/oxford_pets/{images,split_zhou_OxfordPets.json}).
    #[arg(long, value_name = "NAME", requires = "data_root")]
    dassl: Option<String>,
    /// Root folder of the Dassl datasets.
    #[arg(long, value_name = "DIR")]
    data_root: Option<PathBuf>,
    /// With --dassl: the split to classify (test or val).
    #[arg(long, default_value = "test", requires = "dassl")]
    split: String,
    /// With --dassl: keep only the base or the novel half of the classes (base-to-novel).
    #[arg(long, value_name = "base|novel", requires = "dassl")]
    subsample: Option<String>,
    /// Class names for the prompts, one per line in label order (default: the folder or split
    /// file's names, with `_` read as a space).
    #[arg(long, value_name = "FILE")]
    classes: Option<PathBuf>,
    /// Prompt templates: imagenet (CLIP's 80), simple ("a photo of a {}."), or a file with one
    /// template per line, `{}` marking the class name. Default: imagenet for --data, CoOp's
    /// per-dataset template for --dassl ("a photo of a {}, a type of pet." ...).
    #[arg(long, value_name = "SPEC")]
    templates: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Read lines from stdin and print each line's token ids (SOT ... EOT, no padding) as a JSON
    /// array, one per line, exactly as open_clip's tokenizer gives them.
    Tokenize {
        /// Context length: longer texts are cut to this many ids, the last one EOT.
        #[arg(long, default_value_t = zoo_clip::CONTEXT_LENGTH)]
        context: usize,
    },
    /// Write a split of the generated captioned shapes as an ImageFolder of its 30 colour-shape
    /// classes, with `captions.tsv` (file, caption).
    ShapesWrite {
        /// Output directory.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Split: train, valid or test.
        #[arg(long, default_value = "test")]
        split: String,
        /// Seed of the generator.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

/// Labelled images to classify, their class names, default templates and a description.
struct Labelled {
    images: Box<dyn Dataset<ImageItem>>,
    names: Vec<String>,
    templates: Vec<String>,
    what: String,
}

fn tokenize(context: usize) -> anyhow::Result<()> {
    if context < 2 {
        bail!("--context must be at least 2 (SOT and EOT)");
    }
    let tok = Tokenizer::new();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (n, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.with_context(|| format!("reading stdin line {}", n + 1))?;
        let ids = tok.tokenize(&line, context);
        let end = ids.iter().position(|&i| i == EOT).map_or(ids.len(), |p| p + 1);
        let text = serde_json::to_string(&ids[..end])?;
        if let Err(e) = writeln!(out, "{text}") {
            // A closed pipe (`| head`) ends the output quietly.
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            return Err(e.into());
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli: Cli = parse_args();
    run(|| {
        match &cli.command {
            Some(Command::Tokenize { context }) => return tokenize(*context),
            Some(Command::ShapesWrite { out, split, seed }) => {
                let data = zoo_datasets::captions::CaptionedShapes {
                    seed: *seed,
                    ..Default::default()
                };
                let set = data.generate(split.parse()?)?;
                set.write_image_folder(out)
                    .with_context(|| format!("writing {}", out.display()))?;
                eprintln!("eval-clip: {} images -> {}", set.len(), out.display());
                return Ok(());
            }
            None => {}
        }
        let args = &cli.eval;
        let device = zoo_eval::parse_device(&args.common.device)?;
        let (setup, model, source): (ClipSetup, Clip, String) = if args.checkpoint.is_none()
            && args.weights.is_none()
        {
            let mut setup = ClipSetup::default();
            cli.model.apply(&mut setup.model)?;
            if setup.model != zoo_clip::ClipConfig::shapes() {
                bail!("the embedded weights are the `shapes` CLIP; give --weights for another architecture");
            }
            let model = zoo_weights::clip::shapes_clip(&device)?;
            (setup, model, "the committed shapes CLIP".into())
        } else {
            let (mut setup, weights): (ClipSetup, _) = args.setup(FAMILY)?;
            cli.model.apply(&mut setup.model)?;
            let model = zoo_weights::clip::load_clip(setup.model.init(&device)?, &weights)?;
            (setup, model, weights.display().to_string())
        };
        let tokenizer = Tokenizer::new();
        let batch = args.batch_size.unwrap_or(64);
        let mut metrics = serde_json::Map::new();
        // Labelled images, their class names and default templates, or None for the shapes.
        let size = setup.model.vision_cfg.image_size;
        let labelled: Option<Labelled> = match (&cli.data, &cli.dassl) {
            (Some(dir), _) => {
                let folder =
                    ImageFolder::open(dir, size, Augment::none(), None)?.with_resize(Resize::PilBicubic);
                let names = folder.classes().iter().map(|c| c.replace('_', " ")).collect();
                let templates = read_templates("imagenet")?;
                Some(Labelled {
                    images: Box::new(folder),
                    names,
                    templates,
                    what: dir.display().to_string(),
                })
            }
            (None, Some(name)) => {
                let root = cli.data_root.as_deref().context("--dassl needs --data-root")?;
                let splits = dassl::open(root, name)?;
                let splits = match cli.subsample.as_deref() {
                    None => splits,
                    Some("base") => dassl::subsample(&splits, dassl::Subsample::Base),
                    Some("novel") => dassl::subsample(&splits, dassl::Subsample::Novel),
                    Some(other) => bail!("--subsample must be base or novel, not `{other}`"),
                };
                let items = match cli.split.as_str() {
                    "test" => splits.test,
                    "val" => splits.val,
                    other => bail!("--split must be test or val, not `{other}`"),
                };
                if items.is_empty() {
                    bail!("{name}: the {} split is empty", cli.split);
                }
                let names = dassl::classnames(&items)
                    .iter()
                    .map(|c| c.replace('_', " "))
                    .collect();
                let templates = vec![dassl::zero_shot_template(name).to_string()];
                let what = format!("{name} {}", cli.split);
                Some(Labelled {
                    images: Box::new(DasslImages::new(items, size, false)),
                    names,
                    templates,
                    what,
                })
            }
            (None, None) => None,
        };
        let title = match labelled {
            Some(Labelled {
                images,
                mut names,
                mut templates,
                what,
            }) => {
                if let Some(file) = &cli.classes {
                    let given = read_lines(file, "class name")?;
                    if given.len() != names.len() {
                        bail!(
                            "{}: {} class names for {} classes in {what}",
                            file.display(),
                            given.len(),
                            names.len()
                        );
                    }
                    names = given;
                }
                if let Some(spec) = &cli.templates {
                    templates = read_templates(spec)?;
                }
                let m = evaluate_folder(
                    &model,
                    &tokenizer,
                    images.as_ref(),
                    &names,
                    &templates,
                    batch,
                    &device,
                )?;
                metrics.insert("top1".into(), m.accuracy().into());
                if let Some(t5) = m.topk(5) {
                    metrics.insert("top5".into(), t5.into());
                }
                metrics.insert("mean_class_accuracy".into(), m.mean_class_accuracy().into());
                metrics.insert("images".into(), images.len().into());
                metrics.insert("classes".into(), names.len().into());
                metrics.insert("templates".into(), templates.len().into());
                format!("eval-clip: zero-shot, {source} on {what}")
            }
            None => {
                if cli.classes.is_some() || cli.templates.is_some() {
                    bail!("--classes and --templates need --data or --dassl");
                }
                let test = setup.data.generate(Split::Test)?;
                let z = evaluate_shapes(&model, &tokenizer, &test, batch, &device)?;
                if let serde_json::Value::Object(m) = serde_json::to_value(&z)? {
                    metrics = m;
                }
                format!(
                    "eval-clip: zero-shot, {source} on the captioned shapes' test split (30 colour-shape classes)"
                )
            }
        };
        report_metrics(args.common.out.as_deref(), &title, &metrics, args.common.json)
    })
}
