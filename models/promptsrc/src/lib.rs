//! PromptSRC (Khattak et al., *Self-regulating Prompts: Foundational Model Adaptation without
//! Forgetting*, ICCV 2023) on a frozen CLIP from `zoo-clip`:
//!
//! * independent vision-language prompting (IVLP): learnable text context spliced into
//!   `[SOS, ctx, class tokens, ".", EOT]`, visual prompt tokens appended to the image sequence,
//!   and deep prompts that replace them before blocks `1..J-1` of each tower ([`PromptSrc`]);
//! * the self-regulating objective L_CE + L_SCL-logits + L_SCL-text + L_SCL-image:
//!   cross-entropy, KL between the frozen and the prompted CLIP's logits, and L1 consistency of
//!   the text and image features ([`PromptSrc::losses`]);
//! * textual diversity: the frozen text features are averaged over 60 templates
//!   (`zoo_clip::zeroshot::promptsrc_templates`, `mean_text_features`);
//! * Gaussian prompt aggregation (GPA) is the training loop's weighted parameter average
//!   (`zoo_train::average::AverageConfig::gaussian` over the `prompt_learner` parameters).
#![forbid(unsafe_code)]

//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use burn::tensor::{Device, Tensor};
//! use zoo_clip::{ClipConfig, Tokenizer};
//! use zoo_promptsrc::{ClassPrompts, PromptSrcConfig};
//!
//! let device = Device::flex();
//! let clip = ClipConfig::tiny().init(&device)?; // or a loaded CLIP (zoo-weights)
//! let tok = Tokenizer::new();
//! let config = PromptSrcConfig { text_depth: 2, vision_depth: 2, ..Default::default() };
//! let model = config.init(clip, &tok, &device)?;
//! let names = vec!["red circle".to_string(), "blue square".to_string()];
//! let classes = zoo_clip::zeroshot::normalize(model.text_features(&ClassPrompts::new(&model, &tok, &names, &device)));
//! let images = Tensor::<4>::zeros([1, 3, 32, 32], &device); // CLIP-preprocessed
//! let scores = model.scores(images, &classes); // [1, 2]
//! # let _ = scores; Ok(()) }
//! ```

pub mod model;

pub use model::{ClassPrompts, Losses, PromptConfigError, PromptSrc, PromptSrcConfig, Prompts};
