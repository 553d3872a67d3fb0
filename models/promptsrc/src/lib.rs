//! PromptSRC (Khattak et al., *Self-regulating Prompts: Foundational Model Adaptation without
//! Forgetting*, ICCV 2023) on a frozen CLIP from `zoo-clip`:
//!
//! * independent vision-language prompting (IVLP): learnable text context spliced into
//!   `[SOS, ctx, class tokens, ".", EOT]`, visual prompt tokens appended to the image sequence,
//!   and deep prompts that replace them before blocks `1..J-1` of each tower ([`PromptSrc`]);
//! * the self-regulating losses (paper eq. 2-4): cross-entropy, KL between the frozen and the
//!   prompted CLIP's logits, and L1 consistency of the text and image features
//!   ([`PromptSrc::losses`]);
//! * textual diversity: the frozen text features are averaged over 60 templates
//!   (`zoo_clip::zeroshot::promptsrc_templates`, `mean_text_features`);
//! * Gaussian prompt aggregation (eq. 5) is the training loop's weighted parameter average
//!   (`zoo_train::average::AverageConfig::gaussian` over the `prompt_learner` parameters).

pub mod model;

pub use model::{ClassPrompts, Losses, PromptConfigError, PromptSrc, PromptSrcConfig, Prompts};
