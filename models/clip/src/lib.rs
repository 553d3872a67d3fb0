//! CLIP (Radford et al., *Learning Transferable Visual Models From Natural Language Supervision*,
//! ICML 2021) for burnzoo:
//!
//! * [`tokenizer`]: the byte-level BPE tokenizer, identical to open_clip's `SimpleTokenizer` (and
//!   OpenAI's) on the committed fixture;
//! * [`model`]: the ViT image tower and the causal text tower in open_clip's module layout
//!   (presets, open_clip model-config JSON), the symmetric InfoNCE loss with a learnable
//!   temperature;
//! * [`zeroshot`]: prompt-template ensembles (CLIP's 80 ImageNet templates) and class scores.
//!
//! Weights (open_clip safetensors / `.pt`, ONNX initializers, the committed shapes CLIP) load
//! through `zoo-weights`; images are preprocessed exactly as open_clip does by
//! `zoo_datasets::image::load_image_clip`.
#![forbid(unsafe_code)]

mod html_entities;
pub mod model;
pub mod tokenizer;
pub mod zeroshot;

pub use model::{Clip, ClipConfig, ConfigError, IMAGE_MEAN, IMAGE_STD, TextConfig, VisionConfig};
pub use tokenizer::{CONTEXT_LENGTH, EOT, SOT, Tokenizer};
