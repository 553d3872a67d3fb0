//! CLIP's image and text towers with open_clip's module layout (`visual.*`, and the text tower's
//! `token_embedding`, `positional_embedding`, `transformer`, `ln_final`, `text_projection` at the
//! root), so an open_clip / OpenAI state dict maps onto them name for name once each packed
//! `in_proj_weight` is split into q, k, v (zoo-weights does that).

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use zoo_kernels::{gelu, quick_gelu, softmax_last};

/// CLIP's per-channel image mean (of pixel / 255), OpenAI's and open_clip's `OPENAI_DATASET_MEAN`.
pub const IMAGE_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// CLIP's per-channel image standard deviation (`OPENAI_DATASET_STD`).
#[allow(clippy::excessive_precision)] // open_clip's digits, kept as written
pub const IMAGE_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

/// The image tower (a ViT).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VisionConfig {
    /// Input resolution (square).
    pub image_size: usize,
    /// Patch size (square).
    pub patch_size: usize,
    /// Width.
    pub width: usize,
    /// Residual blocks.
    pub layers: usize,
    /// Width per attention head (heads = width / head_width).
    pub head_width: usize,
    /// MLP width factor.
    pub mlp_ratio: f64,
}

impl Default for VisionConfig {
    fn default() -> Self {
        Self {
            image_size: 224,
            patch_size: 16,
            width: 768,
            layers: 12,
            head_width: 64,
            mlp_ratio: 4.0,
        }
    }
}

/// The text tower (a causal transformer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TextConfig {
    /// Context length.
    pub context_length: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Width.
    pub width: usize,
    /// Attention heads.
    pub heads: usize,
    /// Residual blocks.
    pub layers: usize,
    /// MLP width factor.
    pub mlp_ratio: f64,
}

impl Default for TextConfig {
    fn default() -> Self {
        Self {
            context_length: 77,
            vocab_size: 49408,
            width: 512,
            heads: 8,
            layers: 12,
            mlp_ratio: 4.0,
        }
    }
}

/// A CLIP architecture, in open_clip's model-config JSON form (`embed_dim`, `vision_cfg`,
/// `text_cfg`, `quick_gelu`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipConfig {
    /// Joint embedding width.
    pub embed_dim: usize,
    /// Image tower.
    pub vision_cfg: VisionConfig,
    /// Text tower.
    pub text_cfg: TextConfig,
    /// QuickGELU (x sigmoid(1.702 x), OpenAI's weights) instead of GELU.
    #[serde(default)]
    pub quick_gelu: bool,
}

/// A configuration that cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("invalid CLIP configuration: {0}")]
pub struct ConfigError(pub String);

impl ClipConfig {
    /// ViT-B/32 (OpenAI layout, QuickGELU).
    pub fn vit_b_32() -> Self {
        Self {
            embed_dim: 512,
            vision_cfg: VisionConfig {
                patch_size: 32,
                ..VisionConfig::default()
            },
            text_cfg: TextConfig::default(),
            quick_gelu: true,
        }
    }

    /// ViT-B/16 (OpenAI layout, QuickGELU).
    pub fn vit_b_16() -> Self {
        let mut c = Self::vit_b_32();
        c.vision_cfg.patch_size = 16;
        c
    }

    /// ViT-L/14 (OpenAI layout, QuickGELU).
    pub fn vit_l_14() -> Self {
        Self {
            embed_dim: 768,
            vision_cfg: VisionConfig {
                patch_size: 14,
                width: 1024,
                layers: 24,
                ..VisionConfig::default()
            },
            text_cfg: TextConfig {
                width: 768,
                heads: 12,
                ..TextConfig::default()
            },
            quick_gelu: true,
        }
    }

    /// A tiny CLIP for tests: 32x32 images, patches of 8, widths 64 (image) and 16 (text), 2 layers
    /// per tower (3 MB of weights, most of it the token embedding).
    pub fn tiny() -> Self {
        Self {
            embed_dim: 32,
            vision_cfg: VisionConfig {
                image_size: 32,
                patch_size: 8,
                width: 64,
                layers: 2,
                head_width: 16,
                mlp_ratio: 4.0,
            },
            text_cfg: TextConfig {
                context_length: 77,
                vocab_size: 49408,
                width: 16,
                heads: 2,
                layers: 2,
                mlp_ratio: 4.0,
            },
            quick_gelu: false,
        }
    }

    /// The small CLIP that `train-clip` trains on generated captioned shapes (the committed
    /// `weights/clip_shapes.safetensors`): 32x32 images in 8x8 patches, widths 64 (image, 3
    /// layers) and 32 (text, 3 layers), context 32, the full 49,408-token vocabulary, QuickGELU
    /// as OpenAI's CLIP.
    pub fn shapes() -> Self {
        Self {
            embed_dim: 64,
            vision_cfg: VisionConfig {
                image_size: 32,
                patch_size: 8,
                width: 64,
                layers: 3,
                head_width: 16,
                mlp_ratio: 4.0,
            },
            text_cfg: TextConfig {
                context_length: 32,
                vocab_size: 49408,
                width: 32,
                heads: 2,
                layers: 3,
                mlp_ratio: 4.0,
            },
            quick_gelu: true,
        }
    }

    /// A preset by name (`ViT-B-32`, `ViT-B-16`, `ViT-L-14`, `tiny`, `shapes`; case-insensitive, `/`
    /// accepted for `-`).
    pub fn preset(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().replace('/', "-").as_str() {
            "vit-b-32" | "vit-b-32-quickgelu" => Some(Self::vit_b_32()),
            "vit-b-16" | "vit-b-16-quickgelu" => Some(Self::vit_b_16()),
            "vit-l-14" | "vit-l-14-quickgelu" => Some(Self::vit_l_14()),
            "tiny" => Some(Self::tiny()),
            "shapes" => Some(Self::shapes()),
            _ => None,
        }
    }

    /// Parses an open_clip model-config JSON (`model_configs/*.json`). Fields zoo-clip does not
    /// build (timm or Hugging Face towers, attentional pooling, other norms...) would give a
    /// different network, so they are an error naming them; `custom_text` (a wrapper flag) is
    /// accepted.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let mut ignored = Vec::new();
        let cfg: Self = serde_ignored::deserialize(de, |p| ignored.push(p.to_string()))
            .map_err(|e| ConfigError(format!("not an open_clip model config: {e}")))?;
        ignored.retain(|k| k != "custom_text");
        if !ignored.is_empty() {
            return Err(ConfigError(format!(
                "zoo-clip does not support the model-config field(s) {}",
                ignored.join(", ")
            )));
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks that the towers can be built.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let v = &self.vision_cfg;
        let t = &self.text_cfg;
        let bad = |m: String| Err(ConfigError(m));
        if v.patch_size == 0 || !v.image_size.is_multiple_of(v.patch_size) {
            return bad(format!(
                "image_size {} is not a multiple of patch_size {}",
                v.image_size, v.patch_size
            ));
        }
        if v.head_width == 0 || !v.width.is_multiple_of(v.head_width) {
            return bad(format!(
                "vision width {} is not a multiple of head_width {}",
                v.width, v.head_width
            ));
        }
        if t.heads == 0 || !t.width.is_multiple_of(t.heads) {
            return bad(format!(
                "text width {} is not a multiple of heads {}",
                t.width, t.heads
            ));
        }
        if self.embed_dim == 0 || v.layers == 0 || t.layers == 0 || t.context_length == 0 {
            return bad("embed_dim, layers and context_length must be positive".into());
        }
        Ok(())
    }

    /// Builds the model (weights: PyTorch-style initialisation; load real ones with zoo-weights).
    pub fn init(&self, device: &Device) -> Result<Clip, ConfigError> {
        self.validate()?;
        let v = &self.vision_cfg;
        let t = &self.text_cfg;
        let grid = v.image_size / v.patch_size;
        let act = if self.quick_gelu {
            Act::QuickGelu
        } else {
            Act::Gelu
        };
        fn normal<const D: usize>(shape: [usize; D], std: f64, device: &Device) -> Tensor<D> {
            Tensor::random(shape, burn::tensor::Distribution::Normal(0.0, std), device)
        }
        let vs = (v.width as f64).powf(-0.5);
        Ok(Clip {
            visual: VisionTower {
                conv1: Conv2dConfig::new([3, v.width], [v.patch_size, v.patch_size])
                    .with_stride([v.patch_size, v.patch_size])
                    .with_bias(false)
                    .init(device),
                class_embedding: Param::from_tensor(normal([v.width], vs, device)),
                positional_embedding: Param::from_tensor(normal([grid * grid + 1, v.width], vs, device)),
                ln_pre: LayerNormConfig::new(v.width).init(device),
                transformer: Transformer::new(v.width, v.width / v.head_width, v.layers, v.mlp_ratio, device),
                ln_post: LayerNormConfig::new(v.width).init(device),
                proj: Param::from_tensor(normal([v.width, self.embed_dim], vs, device)),
            },
            token_embedding: EmbeddingConfig::new(t.vocab_size, t.width).init(device),
            positional_embedding: Param::from_tensor(normal([t.context_length, t.width], 0.01, device)),
            transformer: Transformer::new(t.width, t.heads, t.layers, t.mlp_ratio, device),
            ln_final: LayerNormConfig::new(t.width).init(device),
            text_projection: Param::from_tensor(normal(
                [t.width, self.embed_dim],
                (t.width as f64).powf(-0.5),
                device,
            )),
            logit_scale: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![(1.0f32 / 0.07).ln()], [1]),
                device,
            )),
            act,
            config: self.clone(),
        })
    }
}

/// The activation of the MLPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Act {
    /// Exact GELU.
    #[default]
    Gelu,
    /// x sigmoid(1.702 x).
    QuickGelu,
}

impl Act {
    fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Act::Gelu => gelu(x),
            Act::QuickGelu => quick_gelu(x),
        }
    }
}

/// Multi-head self-attention with separate q, k, v projections (open_clip's packed
/// `in_proj_weight` split in three). Keys and values may be given extra tokens (PromptSRC's deep
/// prompts enter as extra tokens of the sequence itself, so the plain form suffices there).
#[derive(Module, Debug)]
pub struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    #[module(skip)]
    heads: usize,
}

impl Attention {
    fn new(width: usize, heads: usize, device: &Device) -> Self {
        let lin = || LinearConfig::new(width, width).init(device);
        Self {
            q_proj: lin(),
            k_proj: lin(),
            v_proj: lin(),
            out_proj: lin(),
            heads,
        }
    }

    /// softmax(q k^T / sqrt(d) + mask) v over `[batch, tokens, width]`; `mask` `[tokens, tokens]`
    /// is added to the logits (-inf above the diagonal for the causal text tower).
    pub fn forward(&self, x: Tensor<3>, mask: Option<Tensor<2>>) -> Tensor<3> {
        let [b, n, w] = x.dims();
        let (h, d) = (self.heads, w / self.heads);
        let split = |t: Tensor<3>| t.reshape([b, n, h, d]).swap_dims(1, 2); // [b, h, n, d]
        let flat = x.reshape([b * n, w]);
        let q = split(self.q_proj.forward(flat.clone()).reshape([b, n, w]));
        let k = split(self.k_proj.forward(flat.clone()).reshape([b, n, w]));
        let v = split(self.v_proj.forward(flat).reshape([b, n, w]));
        let mut logits = q.matmul(k.swap_dims(2, 3)) / (d as f64).sqrt();
        if let Some(m) = mask {
            logits = logits + m.reshape([1, 1, n, n]);
        }
        let ctx = softmax_last(logits).matmul(v).swap_dims(1, 2).reshape([b * n, w]);
        self.out_proj.forward(ctx).reshape([b, n, w])
    }
}

/// The MLP of a block (`c_fc`, activation, `c_proj`).
#[derive(Module, Debug)]
pub struct Mlp {
    c_fc: Linear,
    c_proj: Linear,
}

/// Pre-LN residual block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).
#[derive(Module, Debug)]
pub struct Block {
    ln_1: LayerNorm,
    attn: Attention,
    ln_2: LayerNorm,
    mlp: Mlp,
}

/// A stack of residual blocks.
#[derive(Module, Debug)]
pub struct Transformer {
    resblocks: Vec<Block>,
}

impl Transformer {
    fn new(width: usize, heads: usize, layers: usize, mlp_ratio: f64, device: &Device) -> Self {
        let hidden = (width as f64 * mlp_ratio) as usize;
        Self {
            resblocks: (0..layers)
                .map(|_| Block {
                    ln_1: LayerNormConfig::new(width).init(device),
                    attn: Attention::new(width, heads, device),
                    ln_2: LayerNormConfig::new(width).init(device),
                    mlp: Mlp {
                        c_fc: LinearConfig::new(width, hidden).init(device),
                        c_proj: LinearConfig::new(hidden, width).init(device),
                    },
                })
                .collect(),
        }
    }

    /// Runs the blocks over `[batch, tokens, width]`.
    pub fn forward(&self, x: Tensor<3>, mask: Option<Tensor<2>>, act: Act) -> Tensor<3> {
        self.forward_hooked(x, mask, act, |_, x| x)
    }

    /// Runs the blocks, passing the sequence through `before(layer, x)` ahead of each block: the
    /// place where deep prompts (PromptSRC, MaPLe) replace or append tokens per layer. The mask
    /// must fit the sequence length the hook produces.
    pub fn forward_hooked(
        &self,
        mut x: Tensor<3>,
        mask: Option<Tensor<2>>,
        act: Act,
        mut before: impl FnMut(usize, Tensor<3>) -> Tensor<3>,
    ) -> Tensor<3> {
        for (layer, blk) in self.resblocks.iter().enumerate() {
            x = before(layer, x);
            x = x.clone() + blk.attn.forward(blk.ln_1.forward(x), mask.clone());
            let [b, n, w] = x.dims();
            let y = blk.ln_2.forward(x.clone()).reshape([b * n, w]);
            let y = blk.mlp.c_proj.forward(act.apply(blk.mlp.c_fc.forward(y)));
            x = x + y.reshape([b, n, w]);
        }
        x
    }
}

/// The ViT image tower.
#[derive(Module, Debug)]
pub struct VisionTower {
    conv1: Conv2d,
    class_embedding: Param<Tensor<1>>,
    positional_embedding: Param<Tensor<2>>,
    ln_pre: LayerNorm,
    transformer: Transformer,
    ln_post: LayerNorm,
    proj: Param<Tensor<2>>,
}

/// CLIP: both towers and the logit scale.
#[derive(Module, Debug)]
pub struct Clip {
    /// The image tower.
    pub visual: VisionTower,
    token_embedding: Embedding,
    positional_embedding: Param<Tensor<2>>,
    transformer: Transformer,
    ln_final: LayerNorm,
    text_projection: Param<Tensor<2>>,
    logit_scale: Param<Tensor<1>>,
    #[module(skip)]
    act: Act,
    #[module(skip)]
    config: ClipConfig,
}

impl Clip {
    /// The configuration.
    pub fn config(&self) -> &ClipConfig {
        &self.config
    }

    /// Image features `[batch, embed_dim]` (not normalised) of images `[batch, 3, H, W]`
    /// (preprocessed: CLIP mean/std, the configured size).
    pub fn encode_image(&self, images: Tensor<4>) -> Tensor<2> {
        self.encode_image_prompted(images, None, |_, x| x)
    }

    /// The image tower with room for visual prompts (VPT as PromptSRC/MaPLe use it): `extra`
    /// `[n, width]` tokens are appended after the positional embedding and before `ln_pre`
    /// (they get no positional embedding), and `before(layer, x)` runs ahead of each block.
    /// Pooling stays on the class token.
    pub fn encode_image_prompted(
        &self,
        images: Tensor<4>,
        extra: Option<Tensor<2>>,
        before: impl FnMut(usize, Tensor<3>) -> Tensor<3>,
    ) -> Tensor<2> {
        let v = &self.visual;
        let x = v.conv1.forward(images); // [b, w, g, g]
        let [b, w, gh, gw] = x.dims();
        let x = x.reshape([b, w, gh * gw]).swap_dims(1, 2); // [b, g*g, w]
        let cls = v.class_embedding.val().reshape([1, 1, w]).expand([b, 1, w]);
        let mut x = Tensor::cat(vec![cls, x], 1) + v.positional_embedding.val().unsqueeze::<3>();
        if let Some(extra) = extra {
            let n = extra.dims()[0];
            x = Tensor::cat(vec![x, extra.unsqueeze::<3>().expand([b, n, w])], 1);
        }
        let x = v.ln_pre.forward(x);
        let x = v.transformer.forward_hooked(x, None, self.act, before);
        let x = v.ln_post.forward(x);
        let pooled = x.narrow(1, 0, 1).reshape([b, w]);
        pooled.matmul(v.proj.val())
    }

    /// Text features `[batch, embed_dim]` (not normalised) of token ids `[batch, context]`,
    /// pooled at each row's highest id (EOT).
    pub fn encode_text(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        let eot = tokens.clone().argmax(1).flatten::<1>(0, 1);
        self.encode_text_embedded(self.embed_tokens(tokens), eot, |_, x| x)
    }

    /// Token embeddings `[batch, context, width]` of ids `[batch, context]`, before the
    /// positional embedding: what a prompt learner (CoOp, PromptSRC) splices its context into.
    pub fn embed_tokens(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        self.token_embedding.forward(tokens)
    }

    /// The text tower from token embeddings `x` `[batch, n, width]` (n at most the context
    /// length): positional embedding, causal blocks with `before(layer, x)` ahead of each (deep
    /// text prompts), `ln_final`, pooling at positions `eot` `[batch]`, projection.
    pub fn encode_text_embedded(
        &self,
        x: Tensor<3>,
        eot: Tensor<1, Int>,
        before: impl FnMut(usize, Tensor<3>) -> Tensor<3>,
    ) -> Tensor<2> {
        let [b, n, w] = x.dims();
        let device = x.device();
        let x = x + self.positional_embedding.val().narrow(0, 0, n).unsqueeze::<3>();
        let mask: Vec<f32> = (0..n * n)
            .map(|k| if k % n > k / n { f32::NEG_INFINITY } else { 0.0 })
            .collect();
        let causal = Tensor::<2>::from_data(TensorData::new(mask, [n, n]), &device);
        let x = self.transformer.forward_hooked(x, Some(causal), self.act, before);
        let x = self.ln_final.forward(x);
        let eot = eot.reshape([b, 1, 1]).expand([b, 1, w]);
        let pooled = x.gather(1, eot).reshape([b, w]);
        pooled.matmul(self.text_projection.val())
    }

    /// exp(logit_scale).
    pub fn logit_scale(&self) -> f64 {
        self.logit_scale.val().exp().into_scalar::<f64>()
    }

    /// The learnable log temperature t (`[1]`; the logits are scaled by exp(t)).
    pub fn logit_scale_param(&self) -> Tensor<1> {
        self.logit_scale.val()
    }

    /// The symmetric InfoNCE loss of a batch of matching pairs (Radford et al. 2021, figure 3):
    /// logits = exp(t) cos(image_i, text_j), cross-entropy over rows and over columns, averaged;
    /// the learnable temperature t is clamped at ln(100) as open_clip does.
    pub fn contrastive_loss(&self, images: Tensor<4>, tokens: Tensor<2, Int>) -> Tensor<1> {
        let img = crate::zeroshot::normalize(self.encode_image(images));
        let txt = crate::zeroshot::normalize(self.encode_text(tokens));
        let n = img.dims()[0];
        let device = img.device();
        let scale = self.logit_scale.val().clamp_max(100f64.ln()).exp();
        let logits = img.matmul(txt.transpose()) * scale.unsqueeze::<2>();
        let targets = Tensor::<1, Int>::arange(0..n as i64, &device);
        let ce = |l: Tensor<2>| {
            let logp = zoo_kernels::log_softmax_last(l);
            -logp.gather(1, targets.clone().reshape([n, 1])).mean()
        };
        (ce(logits.clone()) + ce(logits.transpose())) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // open_clip's model_configs/ViT-B-16-quickgelu.json and ViT-L-14-CLIPA.json, verbatim.
    const B16: &str = r#"{"embed_dim": 512, "quick_gelu": true,
        "vision_cfg": {"image_size": 224, "layers": 12, "width": 768, "patch_size": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8, "layers": 12}}"#;
    const CLIPA: &str = r#"{"embed_dim": 768,
        "vision_cfg": {"image_size": 224, "layers": 24, "width": 1024, "patch_size": 14, "no_ln_pre": true,
                       "pool_type": "avg", "final_ln_after_pool": true},
        "text_cfg": {"context_length": 32, "vocab_size": 32000, "hf_tokenizer_name": "bert-base-uncased",
                     "tokenizer_kwargs": {"strip_sep_token": true}, "width": 768, "heads": 12, "layers": 12,
                     "pool_type": "last", "no_causal_mask": true}}"#;

    #[test]
    fn open_clip_configs_parse_or_are_refused() {
        assert_eq!(ClipConfig::from_json(B16).unwrap(), ClipConfig::vit_b_16());
        let plain = ClipConfig::from_json(&B16.replace(r#""quick_gelu": true,"#, "")).unwrap();
        assert!(!plain.quick_gelu);
        let e = ClipConfig::from_json(CLIPA).unwrap_err().to_string();
        assert!(
            e.contains("vision_cfg.no_ln_pre") && e.contains("text_cfg.pool_type"),
            "{e}"
        );
        // A ResNet tower (`layers` a list) is not a ViT.
        let rn = B16.replace(
            r#""layers": 12, "width": 768"#,
            r#""layers": [3, 4, 6, 3], "width": 64"#,
        );
        assert!(ClipConfig::from_json(&rn).is_err());
        let bad = B16.replace(r#""patch_size": 16"#, r#""patch_size": 15"#);
        assert!(
            ClipConfig::from_json(&bad)
                .unwrap_err()
                .to_string()
                .contains("multiple of patch_size")
        );
    }

    #[test]
    fn contrastive_loss_is_log_batch_for_uninformative_features() {
        // With the temperature at its floor exp(t) -> tiny, all logits are equal: loss = ln(n).
        let device = Device::flex();
        let mut model = ClipConfig::tiny().init(&device).unwrap();
        model.logit_scale =
            Param::from_tensor(Tensor::from_data(TensorData::new(vec![-30.0f32], [1]), &device));
        let images = Tensor::<4>::random(
            [4, 3, 32, 32],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        let tokens = Tensor::<2, Int>::from_data(
            TensorData::new(
                (0..4 * 77)
                    .map(|i| if i % 77 == 1 { 49407i64 } else { (i % 7) as i64 })
                    .collect::<Vec<_>>(),
                [4, 77],
            ),
            &device,
        );
        let loss = model.contrastive_loss(images, tokens).into_scalar::<f32>();
        assert!((loss - 4f32.ln()).abs() < 1e-4, "{loss}");
    }
}
