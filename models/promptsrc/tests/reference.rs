//! PromptSRC on the tiny CLIP against a PyTorch fixture written from the reference trainer's
//! equations (weights/reference/promptsrc_fixture.py): the context initialisation, prompt
//! insertion in both towers (input and deep), the frozen template-mean text features, the four
//! losses and their gradients with respect to every prompt.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::TensorData;
use zoo_check::max_abs_diff;
use zoo_clip::zeroshot::mean_text_features;
use zoo_clip::{ClipConfig, Tokenizer};
use zoo_promptsrc::{ClassPrompts, PromptSrc, PromptSrcConfig, Prompts};
use zoo_weights::clip::load_open_clip;
use zoo_weights::fixture::{Fixture, path};

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

fn close<const D: usize>(what: &str, actual: Tensor<D>, fx: &Fixture, name: &str, tol: f32) {
    let (d, scale) = max_abs_diff(&values(actual), fx.get(name).1);
    eprintln!("{what}: max abs diff {d:e} (scale {scale:.3})");
    assert!(d <= tol * scale.max(1.0), "{what} differs by {d} (scale {scale})");
}

/// The committed tiny CLIP (2 layers per tower) prompted at depth J = 2 in both towers.
fn tiny_model(self_regulation: bool, device: &Device) -> (PromptSrcConfig, PromptSrc, Tokenizer) {
    let clip = load_open_clip(
        ClipConfig::tiny().init(device).unwrap(),
        &path("clip_tiny_weights.safetensors"),
    )
    .unwrap();
    let tok = Tokenizer::new();
    let config = PromptSrcConfig {
        text_depth: 2,
        vision_depth: 2,
        self_regulation,
        ..Default::default()
    };
    let model = config.init(clip, &tok, device).unwrap();
    (config, model, tok)
}

/// The prompts the fixture's forward used.
fn fixture_prompts(fx: &Fixture, device: &Device) -> Prompts {
    let p = |name: &str| Param::from_tensor(fx.tensor::<2>(name, device));
    Prompts {
        ctx: p("ctx"),
        text_deep: vec![p("text_deep_0")],
        vpt: p("vpt"),
        vision_deep: vec![p("vision_deep_0")],
    }
}

fn fixture_labels(fx: &Fixture, device: &Device) -> Tensor<1, Int> {
    let labels: Vec<i64> = fx.get("labels").1.iter().map(|&v| v as i64).collect();
    Tensor::<1, Int>::from_data(TensorData::new(labels, [3]), device)
}

#[test]
fn forward_losses_and_gradients_match_the_reference_equations() {
    let fx = Fixture::committed("promptsrc_tiny.safetensors").unwrap();
    let device = Device::flex().autodiff();
    let (config, mut model, tok) = tiny_model(true, &device);
    // "a photo of a" initialises the context.
    close("ctx init", model.prompt_learner.ctx.val(), &fx, "ctx_init", 1e-7);
    assert_eq!(
        model.trainable_count(),
        config.trainable_count(model.clip.config())
    );
    assert_eq!(model.trainable_count(), 2 * 4 * 16 + 2 * 4 * 64);

    let classes: Vec<String> = ["red circle", "blue_square", "green ring"]
        .map(String::from)
        .to_vec();
    let prompts = ClassPrompts::new(&model, &tok, &classes, &device);
    let ids: Vec<f32> = values(prompts.tokens.clone().float());
    assert_eq!(ids, fx.get("tokens").1, "class prompt tokens");

    model.prompt_learner = fixture_prompts(&fx, &device);
    let templates: Vec<String> = ["a photo of a {}.", "a bad photo of a {}.", "a sculpture of a {}."]
        .map(String::from)
        .to_vec();
    let names: Vec<String> = classes.iter().map(|c| c.replace('_', " ")).collect();
    let frozen = mean_text_features(&model.clip, &tok, &names, &templates, 8, &device);
    close(
        "frozen template-mean text features",
        frozen.clone(),
        &fx,
        "frozen_text",
        1e-5,
    );

    let images = fx.tensor::<4>("images", &device);
    let labels = fixture_labels(&fx, &device);
    let t = zoo_clip::zeroshot::normalize(model.text_features(&prompts));
    close("prompted text features", t, &fx, "text_features", 1e-5);
    let v = zoo_clip::zeroshot::normalize(model.image_features(images.clone()));
    close("prompted image features", v, &fx, "image_features", 1e-5);

    let l = model.losses(images, labels, &prompts, &frozen);
    close("logits", l.logits.clone(), &fx, "logits", 1e-5);
    for (what, t, name) in [
        ("cross-entropy", l.ce.clone(), "ce"),
        ("KL(frozen || prompted)", l.kl.clone(), "kl"),
        ("25 x L1 text", l.text_l1.clone(), "text_l1"),
        ("10 x L1 image", l.image_l1.clone(), "image_l1"),
        ("total", l.total.clone(), "total"),
    ] {
        close(what, t, &fx, name, 1e-5);
    }
    let grads = l.total.backward();
    let pl = &model.prompt_learner;
    for (what, param, name) in [
        ("d/d ctx", &pl.ctx, "grad_ctx"),
        ("d/d text_deep[0]", &pl.text_deep[0], "grad_text_deep_0"),
        ("d/d vpt", &pl.vpt, "grad_vpt"),
        ("d/d vision_deep[0]", &pl.vision_deep[0], "grad_vision_deep_0"),
    ] {
        close(what, param.val().grad(&grads).expect(what), &fx, name, 1e-4);
    }
    // CLIP stays frozen: the four prompts are the only parameters with a gradient.
    assert!(model.clip.logit_scale_param().grad(&grads).is_none());
    let with_grad = burn::optim::GradientsParams::from_grads(grads, &model);
    assert_eq!(with_grad.len(), 4);
}

#[test]
fn ivlp_is_cross_entropy_only() {
    let fx = Fixture::committed("promptsrc_tiny.safetensors").unwrap();
    let device = Device::flex();
    let (_, mut model, tok) = tiny_model(false, &device);
    model.prompt_learner = fixture_prompts(&fx, &device);
    let classes: Vec<String> = ["red circle", "blue square", "green ring"]
        .map(String::from)
        .to_vec();
    let prompts = ClassPrompts::new(&model, &tok, &classes, &device);
    let frozen = fx.tensor::<2>("frozen_text", &device);
    let l = model.losses(
        fx.tensor::<4>("images", &device),
        fixture_labels(&fx, &device),
        &prompts,
        &frozen,
    );
    close("IVLP total = cross-entropy", l.total, &fx, "ce", 1e-5);
}

#[test]
fn vit_b16_trains_46080_values_and_bad_settings_are_named() {
    let b16 = ClipConfig::vit_b_16();
    assert_eq!(PromptSrcConfig::default().trainable_count(&b16), 46_080);
    // Cross-dataset depth 3.
    assert_eq!(
        PromptSrcConfig::cross_dataset().trainable_count(&b16),
        3 * 4 * 512 + 3 * 4 * 768
    );
    let tiny = ClipConfig::tiny();
    let e = PromptSrcConfig::default()
        .validate(&tiny)
        .unwrap_err()
        .to_string();
    assert!(e.contains("text_depth is 9") && e.contains("2 layers"), "{e}");
    let device = Device::flex();
    let bad = PromptSrcConfig {
        text_depth: 2,
        vision_depth: 2,
        ctx_init: "a photo of".into(),
        ..Default::default()
    };
    let e = bad
        .init(tiny.init(&device).unwrap(), &Tokenizer::new(), &device)
        .unwrap_err()
        .to_string();
    assert!(e.contains("3 tokens but text_ctx is 4"), "{e}");
}
