//! CLIP (Radford et al., *Learning Transferable Visual Models From Natural Language Supervision*,
//! ICML 2021) for burnzoo. So far: the byte-level BPE tokenizer, identical to open_clip's
//! `SimpleTokenizer` (and OpenAI's) on the committed fixture. The image and text towers,
//! weights, preprocessing and zero-shot evaluation are planned (issue 7).

mod html_entities;
pub mod model;
pub mod tokenizer;

pub use model::{Clip, ClipConfig, TextConfig, VisionConfig};
pub use tokenizer::{CONTEXT_LENGTH, EOT, SOT, Tokenizer};
