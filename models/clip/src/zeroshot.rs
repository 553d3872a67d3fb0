//! Zero-shot classification (Radford et al. 2021, section 3.1.4): each class's text embedding is
//! the mean of its normalised template embeddings, renormalised; an image's class scores are
//! cosine similarities to those, times the logit scale.

use crate::{Clip, Tokenizer};
use burn::prelude::*;
use burn::tensor::TensorData;

/// CLIP's 80 ImageNet prompt templates (`{}` is replaced by the class name), as in OpenAI's
/// notebook and open_clip's `OPENAI_IMAGENET_TEMPLATES`.
pub const IMAGENET_TEMPLATES: [&str; 80] = [
    "a bad photo of a {}.",
    "a photo of many {}.",
    "a sculpture of a {}.",
    "a photo of the hard to see {}.",
    "a low resolution photo of the {}.",
    "a rendering of a {}.",
    "graffiti of a {}.",
    "a bad photo of the {}.",
    "a cropped photo of the {}.",
    "a tattoo of a {}.",
    "the embroidered {}.",
    "a photo of a hard to see {}.",
    "a bright photo of a {}.",
    "a photo of a clean {}.",
    "a photo of a dirty {}.",
    "a dark photo of the {}.",
    "a drawing of a {}.",
    "a photo of my {}.",
    "the plastic {}.",
    "a photo of the cool {}.",
    "a close-up photo of a {}.",
    "a black and white photo of the {}.",
    "a painting of the {}.",
    "a painting of a {}.",
    "a pixelated photo of the {}.",
    "a sculpture of the {}.",
    "a bright photo of the {}.",
    "a cropped photo of a {}.",
    "a plastic {}.",
    "a photo of the dirty {}.",
    "a jpeg corrupted photo of a {}.",
    "a blurry photo of the {}.",
    "a photo of the {}.",
    "a good photo of the {}.",
    "a rendering of the {}.",
    "a {} in a video game.",
    "a photo of one {}.",
    "a doodle of a {}.",
    "a close-up photo of the {}.",
    "a photo of a {}.",
    "the origami {}.",
    "the {} in a video game.",
    "a sketch of a {}.",
    "a doodle of the {}.",
    "a origami {}.",
    "a low resolution photo of a {}.",
    "the toy {}.",
    "a rendition of the {}.",
    "a photo of the clean {}.",
    "a photo of a large {}.",
    "a rendition of a {}.",
    "a photo of a nice {}.",
    "a photo of a weird {}.",
    "a blurry photo of a {}.",
    "a cartoon {}.",
    "art of a {}.",
    "a sketch of the {}.",
    "a embroidered {}.",
    "a pixelated photo of a {}.",
    "itap of the {}.",
    "a jpeg corrupted photo of the {}.",
    "a good photo of a {}.",
    "a plushie {}.",
    "a photo of the nice {}.",
    "a photo of the small {}.",
    "a photo of the weird {}.",
    "the cartoon {}.",
    "art of the {}.",
    "a drawing of the {}.",
    "a photo of the large {}.",
    "a black and white photo of a {}.",
    "the plushie {}.",
    "a dark photo of a {}.",
    "itap of a {}.",
    "graffiti of the {}.",
    "a toy {}.",
    "itap of my {}.",
    "a photo of a cool {}.",
    "a photo of a small {}.",
    "a tattoo of the {}.",
];

/// PromptSRC's 60 templates for its textual-diversity regulariser (Khattak et al. 2023,
/// section 3.2; its `IMAGENET_TEMPLATES`): "a photo of a {}." first, then CLIP's 80 in order
/// without it, cut at 60.
pub fn promptsrc_templates() -> Vec<&'static str> {
    let first = "a photo of a {}.";
    std::iter::once(first)
        .chain(IMAGENET_TEMPLATES.iter().copied().filter(|t| *t != first))
        .take(60)
        .collect()
}

/// Fills `{}` of `template` with `class` (or appends the class when the template has no `{}`).
pub fn fill(template: &str, class: &str) -> String {
    if template.contains("{}") {
        template.replacen("{}", class, 1)
    } else {
        format!("{template} {class}")
    }
}

/// Token ids `[n, context]` of `texts` (open_clip's `tokenize`: SOT, BPE, EOT, zero padding,
/// truncation keeping EOT).
pub fn tokenize_batch(
    tokenizer: &Tokenizer,
    texts: &[String],
    context: usize,
    device: &Device,
) -> Tensor<2, Int> {
    let ids: Vec<i64> = texts
        .iter()
        .flat_map(|t| tokenizer.tokenize(t, context))
        .map(i64::from)
        .collect();
    Tensor::from_data(TensorData::new(ids, [texts.len(), context]), device)
}

/// Rows scaled to unit L2 norm.
pub fn normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}

/// The text features `[templates, embed_dim]` (not normalised) of every template filled with
/// `class`, encoded `chunk` texts at a time.
fn template_features(
    model: &Clip,
    tokenizer: &Tokenizer,
    class: &str,
    templates: &[String],
    chunk: usize,
    device: &Device,
) -> Tensor<2> {
    let context = model.config().text_cfg.context_length;
    let texts: Vec<String> = templates.iter().map(|t| fill(t, class)).collect();
    let feats: Vec<Tensor<2>> = texts
        .chunks(chunk.max(1))
        .map(|c| model.encode_text(tokenize_batch(tokenizer, c, context, device)))
        .collect();
    Tensor::cat(feats, 0)
}

/// The zero-shot classifier `[classes, embed_dim]`: for each class, the normalised text features
/// of every template filled with its name, averaged and renormalised (the prompt ensemble).
/// Texts are encoded `chunk` at a time.
pub fn classifier(
    model: &Clip,
    tokenizer: &Tokenizer,
    classes: &[String],
    templates: &[String],
    chunk: usize,
    device: &Device,
) -> Tensor<2> {
    let rows: Vec<Tensor<2>> = classes
        .iter()
        .map(|class| {
            let feats = template_features(model, tokenizer, class, templates, chunk, device);
            normalize(normalize(feats).mean_dim(0))
        })
        .collect();
    Tensor::cat(rows, 0)
}

/// PromptSRC's frozen class features `[classes, embed_dim]`: the mean over `templates` of the
/// *unnormalised* text features (normalised only when used), unlike [`classifier`]'s
/// normalise-average-renormalise.
pub fn mean_text_features(
    model: &Clip,
    tokenizer: &Tokenizer,
    classes: &[String],
    templates: &[String],
    chunk: usize,
    device: &Device,
) -> Tensor<2> {
    let rows: Vec<Tensor<2>> = classes
        .iter()
        .map(|class| template_features(model, tokenizer, class, templates, chunk, device).mean_dim(0))
        .collect();
    Tensor::cat(rows, 0)
}

/// Class scores `[batch, classes]`: logit_scale x cos(image, class) for preprocessed `images`.
pub fn scores(model: &Clip, classifier: &Tensor<2>, images: Tensor<4>) -> Tensor<2> {
    let img = normalize(model.encode_image(images));
    img.matmul(classifier.clone().transpose()) * model.logit_scale()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill() {
        assert_eq!(fill(IMAGENET_TEMPLATES[0], "dog"), "a bad photo of a dog.");
        assert_eq!(fill("a photo of", "dog"), "a photo of dog");
        assert!(IMAGENET_TEMPLATES.iter().all(|t| t.matches("{}").count() == 1));
    }

    #[test]
    fn promptsrc_templates_are_its_60() {
        // PromptSRC's trainers/imagenet_templates.py: these first four and this last one.
        let t = promptsrc_templates();
        assert_eq!(t.len(), 60);
        assert_eq!(
            t[..4],
            [
                "a photo of a {}.",
                "a bad photo of a {}.",
                "a photo of many {}.",
                "a sculpture of a {}."
            ]
        );
        assert_eq!(t[59], "itap of the {}.");
        assert_eq!(t.iter().filter(|x| **x == "a photo of a {}.").count(), 1);
    }

    #[test]
    fn one_template_means_agree_with_the_classifier() {
        let device = Device::flex();
        let model = crate::ClipConfig::tiny().init(&device).unwrap();
        let tok = Tokenizer::new();
        let classes = vec!["cat".to_string(), "red circle".to_string()];
        let one = vec!["a photo of a {}.".to_string()];
        let a = normalize(mean_text_features(&model, &tok, &classes, &one, 8, &device));
        let b = classifier(&model, &tok, &classes, &one, 8, &device);
        let (d, _) = zoo_check::tensor_max_abs_diff(a, b);
        assert!(d < 1e-6, "{d}");
    }
}
