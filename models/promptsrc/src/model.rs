//! The prompted CLIP and its losses. Reference: muzairkhattak/PromptSRC `trainers/promptsrc.py`
//! (prompt learner, forward, losses) and `clip/model.py` (where the prompts enter each tower).

use burn::module::{Module, Param};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use zoo_clip::zeroshot::{normalize, tokenize_batch};
use zoo_clip::{Clip, ClipConfig, Tokenizer};

/// Settings of the prompts and the losses; the defaults are the paper's base-to-novel and
/// few-shot setting for ViT-B/16 (`configs/trainers/PromptSRC/vit_b16_c2_ep20_batch4_4+4ctx.yaml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PromptSrcConfig {
    /// Learnable text context vectors (4).
    pub text_ctx: usize,
    /// Visual prompt tokens (4).
    pub vision_ctx: usize,
    /// The text context starts as the token embeddings of this phrase, which must be `text_ctx`
    /// tokens long ("a photo of a"); empty = N(0, 0.02) with "X X X X" as placeholder tokens.
    pub ctx_init: String,
    /// Prompt depth J of the text tower, counting the input: prompts enter the input and are
    /// replaced before blocks 1..J-1 (9; 3 for cross-dataset transfer).
    pub text_depth: usize,
    /// Prompt depth J of the image tower (9; 3 for cross-dataset transfer).
    pub vision_depth: usize,
    /// The self-regulating losses (KL to the frozen CLIP's logits, L1 on text and image
    /// features); off = IVLP, cross-entropy only (the paper's ablation baseline).
    pub self_regulation: bool,
    /// Weight of the L1 text-feature consistency (25).
    pub text_loss_weight: f64,
    /// Weight of the L1 image-feature consistency (10).
    pub image_loss_weight: f64,
}

impl Default for PromptSrcConfig {
    fn default() -> Self {
        Self {
            text_ctx: 4,
            vision_ctx: 4,
            ctx_init: "a photo of a".into(),
            text_depth: 9,
            vision_depth: 9,
            self_regulation: true,
            text_loss_weight: 25.0,
            image_loss_weight: 10.0,
        }
    }
}

/// A setting that does not fit the CLIP it is applied to.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("promptsrc: {0}")]
pub struct PromptConfigError(pub String);

impl PromptSrcConfig {
    /// The cross-dataset / domain-generalisation setting: prompts in the first 3 layers.
    pub fn cross_dataset() -> Self {
        Self {
            text_depth: 3,
            vision_depth: 3,
            ..Self::default()
        }
    }

    /// Checks the settings against the CLIP they prompt.
    pub fn validate(&self, clip: &ClipConfig) -> Result<(), PromptConfigError> {
        let bad = |m: String| Err(PromptConfigError(m));
        if self.text_ctx == 0 || self.vision_ctx == 0 {
            return bad("text_ctx and vision_ctx must be at least 1".into());
        }
        for (name, depth, layers) in [
            ("text_depth", self.text_depth, clip.text_cfg.layers),
            ("vision_depth", self.vision_depth, clip.vision_cfg.layers),
        ] {
            if depth == 0 || depth > layers {
                return bad(format!(
                    "{name} is {depth} but must be between 1 and the tower's {layers} layers"
                ));
            }
        }
        if self.text_ctx + 3 > clip.text_cfg.context_length {
            return bad(format!(
                "text_ctx {} leaves no room for a class name in a context of {}",
                self.text_ctx, clip.text_cfg.context_length
            ));
        }
        for (name, w) in [
            ("text_loss_weight", self.text_loss_weight),
            ("image_loss_weight", self.image_loss_weight),
        ] {
            if !(w.is_finite() && w >= 0.0) {
                return bad(format!("{name} must be finite and non-negative, not {w}"));
            }
        }
        Ok(())
    }

    /// Trainable values for `clip`: `J * n * width` per tower (46,080 for ViT-B/16 at J = 9).
    pub fn trainable_count(&self, clip: &ClipConfig) -> usize {
        self.text_depth * self.text_ctx * clip.text_cfg.width
            + self.vision_depth * self.vision_ctx * clip.vision_cfg.width
    }

    /// The words the context vectors stand in for in each class prompt.
    fn prefix(&self) -> String {
        if self.ctx_init.is_empty() {
            vec!["X"; self.text_ctx].join(" ")
        } else {
            self.ctx_init.clone()
        }
    }

    /// Prompts `clip` (which is frozen here) with freshly initialised prompt vectors.
    pub fn init(
        &self,
        clip: Clip,
        tokenizer: &Tokenizer,
        device: &Device,
    ) -> Result<PromptSrc, PromptConfigError> {
        self.validate(clip.config())?;
        let clip = clip.freeze();
        let (tw, vw) = (clip.config().text_cfg.width, clip.config().vision_cfg.width);
        let normal = |n: usize, w: usize| {
            Param::from_tensor(Tensor::<2>::random(
                [n, w],
                Distribution::Normal(0.0, 0.02),
                device,
            ))
        };
        let ctx = if self.ctx_init.is_empty() {
            normal(self.text_ctx, tw)
        } else {
            let ids = tokenizer.encode(&self.ctx_init);
            if ids.len() != self.text_ctx {
                return Err(PromptConfigError(format!(
                    "ctx_init `{}` is {} tokens but text_ctx is {}",
                    self.ctx_init,
                    ids.len(),
                    self.text_ctx
                )));
            }
            let ids: Vec<i64> = ids.into_iter().map(i64::from).collect();
            let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, self.text_ctx]), device);
            let emb = clip.embed_tokens(ids).reshape([self.text_ctx, tw]).detach();
            Param::from_tensor(emb)
        };
        let prompt_learner = Prompts {
            ctx,
            text_deep: (1..self.text_depth).map(|_| normal(self.text_ctx, tw)).collect(),
            vpt: normal(self.vision_ctx, vw),
            vision_deep: (1..self.vision_depth)
                .map(|_| normal(self.vision_ctx, vw))
                .collect(),
        };
        Ok(PromptSrc {
            clip,
            prompt_learner,
            config: self.clone(),
        })
    }
}

/// The learnable prompts (the only trainable tensors; their paths start with `prompt_learner.`).
#[derive(Module, Debug)]
pub struct Prompts {
    /// Text context `[text_ctx, text_width]`, shared by all classes (input layer).
    pub ctx: Param<Tensor<2>>,
    /// Deep text prompts for blocks 1..J-1, each `[text_ctx, text_width]`.
    pub text_deep: Vec<Param<Tensor<2>>>,
    /// Visual prompt tokens `[vision_ctx, vision_width]` appended before `ln_pre`.
    pub vpt: Param<Tensor<2>>,
    /// Deep visual prompts for blocks 1..J-1, each `[vision_ctx, vision_width]`.
    pub vision_deep: Vec<Param<Tensor<2>>>,
}

/// The class prompts of one task: token ids of "{prefix} {class}." for every class, where the
/// prefix tokens (positions 1..=n) are replaced by the learnt context.
#[derive(Debug, Clone)]
pub struct ClassPrompts {
    /// Token ids `[classes, context]`, one row per class in label order.
    pub tokens: Tensor<2, Int>,
}

impl ClassPrompts {
    /// Tokenizes the class prompts for `model` (class names with `_` read as spaces, as CoOp does).
    pub fn new(model: &PromptSrc, tokenizer: &Tokenizer, names: &[String], device: &Device) -> Self {
        let prefix = model.config.prefix();
        let texts: Vec<String> = names
            .iter()
            .map(|n| format!("{prefix} {}.", n.replace('_', " ")))
            .collect();
        let context = model.clip.config().text_cfg.context_length;
        Self {
            tokens: tokenize_batch(tokenizer, &texts, context, device),
        }
    }
}

/// The four terms of the PromptSRC objective, L_final = L_CE + L_SCL-logits + L_SCL-text +
/// L_SCL-image (the paper's mutual agreement maximisation), and the logits they came from.
#[derive(Debug, Clone)]
pub struct Losses {
    /// L_CE + L_KL + L_text + L_image (`[1]`).
    pub total: Tensor<1>,
    /// Cross-entropy of the prompted logits.
    pub ce: Tensor<1>,
    /// KL(frozen || prompted) of the softmaxed logits, summed and divided by batch x classes.
    pub kl: Tensor<1>,
    /// `text_loss_weight` x mean |t - t_frozen| over the normalised class features.
    pub text_l1: Tensor<1>,
    /// `image_loss_weight` x mean |v - v_frozen| over the normalised image features.
    pub image_l1: Tensor<1>,
    /// Prompted logits `[batch, classes]`.
    pub logits: Tensor<2>,
}

/// CLIP with independent deep vision-language prompts.
#[derive(Module, Debug)]
pub struct PromptSrc {
    /// The frozen CLIP.
    pub clip: Clip,
    /// The learnable prompts.
    pub prompt_learner: Prompts,
    #[module(skip)]
    config: PromptSrcConfig,
}

/// `x` with `p` `[n, width]` written over tokens `start..start + n` of every row.
fn splice(x: Tensor<3>, p: Tensor<2>, start: usize) -> Tensor<3> {
    let [b, l, w] = x.dims();
    let n = p.dims()[0];
    let mut parts = vec![];
    if start > 0 {
        parts.push(x.clone().narrow(1, 0, start));
    }
    parts.push(p.unsqueeze::<3>().expand([b, n, w]));
    if start + n < l {
        parts.push(x.narrow(1, start + n, l - start - n));
    }
    Tensor::cat(parts, 1)
}

impl PromptSrc {
    /// The settings.
    pub fn config(&self) -> &PromptSrcConfig {
        &self.config
    }

    /// Trainable values (the prompts).
    pub fn trainable_count(&self) -> usize {
        self.prompt_learner.num_params()
    }

    /// Prompted class features `[classes, embed_dim]`, not normalised: the context replaces
    /// positions 1..=n of the token embeddings, and the deep prompts replace them again before
    /// blocks 1..J-1 (`clip/model.py` `ResidualAttentionBlock_IVLP`).
    pub fn text_features(&self, prompts: &ClassPrompts) -> Tensor<2> {
        let tokens = prompts.tokens.clone();
        let x = splice(
            self.clip.embed_tokens(tokens.clone()),
            self.prompt_learner.ctx.val(),
            1,
        );
        let eot = tokens.argmax(1).flatten::<1>(0, 1);
        let deep = &self.prompt_learner.text_deep;
        self.clip.encode_text_embedded(x, eot, |layer, x| {
            match layer.checked_sub(1).and_then(|i| deep.get(i)) {
                Some(p) => splice(x, p.val(), 1),
                None => x,
            }
        })
    }

    /// Prompted image features `[batch, embed_dim]`, not normalised: the visual prompts are
    /// appended after the positional embedding (before `ln_pre`) and the deep ones replace the
    /// last `vision_ctx` tokens before blocks 1..J-1.
    pub fn image_features(&self, images: Tensor<4>) -> Tensor<2> {
        let deep = &self.prompt_learner.vision_deep;
        self.clip.encode_image_prompted(
            images,
            Some(self.prompt_learner.vpt.val()),
            |layer, x| match layer.checked_sub(1).and_then(|i| deep.get(i)) {
                Some(p) => {
                    let start = x.dims()[1] - p.dims()[0];
                    splice(x, p.val(), start)
                }
                None => x,
            },
        )
    }

    /// Class scores `[batch, classes]` = exp(logit_scale) cos(image, class) against normalised
    /// class features `classes` (from [`Self::text_features`], computed once for evaluation).
    pub fn scores(&self, images: Tensor<4>, classes: &Tensor<2>) -> Tensor<2> {
        let v = normalize(self.image_features(images));
        v.matmul(classes.clone().transpose()) * self.clip.logit_scale()
    }

    /// The training objective on a batch (the paper's L_final; `trainers/promptsrc.py` forward):
    /// `frozen_text` `[classes, embed_dim]` are the frozen CLIP's class features averaged over
    /// templates (unnormalised, `zoo_clip::zeroshot::mean_text_features`). With
    /// `self_regulation` off only the cross-entropy is computed and the other terms are zero.
    pub fn losses(
        &self,
        images: Tensor<4>,
        labels: Tensor<1, Int>,
        prompts: &ClassPrompts,
        frozen_text: &Tensor<2>,
    ) -> Losses {
        let device = images.device();
        let scale = self.clip.logit_scale();
        let t = normalize(self.text_features(prompts));
        let v = normalize(self.image_features(images.clone()));
        let logits = v.clone().matmul(t.clone().transpose()) * scale;
        let [b, c] = logits.dims();
        let logp = zoo_kernels::log_softmax_last(logits.clone());
        let ce = -logp.clone().gather(1, labels.reshape([b, 1])).mean();
        let zero = || Tensor::<1>::zeros([1], &device);
        let (kl, text_l1, image_l1) = if self.config.self_regulation {
            let tt = normalize(frozen_text.clone().detach());
            let vv = normalize(self.clip.encode_image(images).detach());
            let zs_logp = zoo_kernels::log_softmax_last(vv.clone().matmul(tt.clone().transpose()) * scale);
            let kl = (zs_logp.clone().exp() * (zs_logp - logp)).sum() / (b * c) as f64;
            let text_l1 = (t - tt).abs().mean() * self.config.text_loss_weight;
            let image_l1 = (v - vv).abs().mean() * self.config.image_loss_weight;
            (kl, text_l1, image_l1)
        } else {
            (zero(), zero(), zero())
        };
        Losses {
            total: ce.clone() + kl.clone() + text_l1.clone() + image_l1.clone(),
            ce,
            kl,
            text_l1,
            image_l1,
            logits,
        }
    }
}
