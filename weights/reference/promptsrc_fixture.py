"""Fixture for zoo-promptsrc: PromptSRC's forward and losses written out from the reference
trainer's equations (muzairkhattak/PromptSRC trainers/promptsrc.py, clip/model.py; see
shared/reference/promptsrc-clip.md sections 3-4), on the committed tiny CLIP
(clip_tiny_weights.safetensors, 2 layers per tower, so prompt depth J = 2 on both towers).

What is written (weights/fixtures/promptsrc_tiny.safetensors):
- tokens [C, 77]: "a photo of a {class}." for three classes; ctx_init [4, 16]: the token
  embeddings at positions 1..4 (the reference's initialisation from "a photo of a");
- the prompts used in the forward: ctx, text_deep_0 [4, 16], vpt [4, 64], vision_deep_0 [4, 64]
  (random, larger than the reference's N(0, 0.02) init so that every route moves the output);
- images [3, 3, 32, 32], labels [3]; frozen_text [C, 32]: the unnormalised text features averaged
  over three templates (the reference averages over 60);
- text_features / image_features (normalised, prompted), logits, zs_logits, and the losses
  ce, kl, text_l1 (25x), image_l1 (10x), total; the gradients of total w.r.t. the four prompts.

    python weights/reference/promptsrc_fixture.py
"""
import open_clip
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

FX = "weights/fixtures"
TINY = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, patch_size=8, width=64, layers=2, head_width=16, mlp_ratio=4.0),
    text_cfg=dict(context_length=77, vocab_size=49408, width=16, heads=2, layers=2, mlp_ratio=4.0),
    quick_gelu=False,
)
N_CTX = 4
model = open_clip.model.CLIP(**TINY).eval()
model.load_state_dict(load_file(f"{FX}/clip_tiny_weights.safetensors"))
for p in model.parameters():
    p.requires_grad_(False)

tok = open_clip.tokenizer.SimpleTokenizer()
classes = ["red circle", "blue square", "green ring"]
tokens = tok([f"a photo of a {c}." for c in classes])
with torch.no_grad():
    emb = model.token_embedding(tokens)
ctx_init = emb[0, 1 : 1 + N_CTX].clone()

torch.manual_seed(5)
ctx = (ctx_init + 0.3 * torch.randn(N_CTX, 16)).requires_grad_(True)
text_deep = (0.5 * torch.randn(N_CTX, 16)).requires_grad_(True)
vpt = (0.5 * torch.randn(N_CTX, 64)).requires_grad_(True)
vision_deep = (0.5 * torch.randn(N_CTX, 64)).requires_grad_(True)
images = torch.randn(3, 3, 32, 32)
labels = torch.tensor([2, 0, 1])


def prompted_text():
    c = tokens.shape[0]
    # [SOS, ctx x4, class tokens, ".", EOT, pad...]
    x = torch.cat([emb[:, :1], ctx.unsqueeze(0).expand(c, -1, -1), emb[:, 1 + N_CTX :]], dim=1)
    x = x + model.positional_embedding
    for i, blk in enumerate(model.transformer.resblocks):
        if i >= 1:  # deep prompts replace positions 1..4 before blocks 1..J-1
            x = torch.cat([x[:, :1], text_deep.unsqueeze(0).expand(c, -1, -1), x[:, 1 + N_CTX :]], dim=1)
        x = blk(x, attn_mask=model.attn_mask)
    x = model.ln_final(x)
    return x[torch.arange(c), tokens.argmax(-1)] @ model.text_projection


def prompted_image(img):
    v = model.visual
    b = img.shape[0]
    x = v.conv1(img).reshape(b, v.conv1.out_channels, -1).permute(0, 2, 1)
    x = torch.cat([v.class_embedding.expand(b, 1, -1), x], dim=1) + v.positional_embedding
    # VPT appended after the positional embedding, before ln_pre
    x = torch.cat([x, vpt.unsqueeze(0).expand(b, -1, -1)], dim=1)
    x = v.ln_pre(x)
    for i, blk in enumerate(v.transformer.resblocks):
        if i >= 1:  # deep prompts replace the last 4 tokens
            x = torch.cat([x[:, :-N_CTX], vision_deep.unsqueeze(0).expand(b, -1, -1)], dim=1)
        x = blk(x)
    return v.ln_post(x[:, 0]) @ v.proj


templates = ["a photo of a {}.", "a bad photo of a {}.", "a sculpture of a {}."]
with torch.no_grad():
    frozen_text = torch.stack(
        [model.encode_text(tok([t.format(c) for c in classes])) for t in templates]
    ).mean(0)
    zs_image = F.normalize(model.encode_image(images), dim=-1)

scale = model.logit_scale.exp()
t = F.normalize(prompted_text(), dim=-1)
v = F.normalize(prompted_image(images), dim=-1)
logits = scale * v @ t.t()
tt = F.normalize(frozen_text, dim=-1)
zs_logits = scale * zs_image @ tt.t()
ce = F.cross_entropy(logits, labels)
kl = F.kl_div(F.log_softmax(logits, 1), F.log_softmax(zs_logits, 1), reduction="sum", log_target=True) / logits.numel()
text_l1 = 25 * F.l1_loss(t, tt)
image_l1 = 10 * F.l1_loss(v, zs_image)
total = ce + kl + text_l1 + image_l1
total.backward()
print({k: float(x) for k, x in dict(ce=ce, kl=kl, text_l1=text_l1, image_l1=image_l1, total=total).items()})

out = dict(
    tokens=tokens.float(), ctx_init=ctx_init, ctx=ctx.detach(), text_deep_0=text_deep.detach(),
    vpt=vpt.detach(), vision_deep_0=vision_deep.detach(), images=images, labels=labels.float(),
    frozen_text=frozen_text, text_features=t.detach(), image_features=v.detach(), logits=logits.detach(),
    zs_logits=zs_logits, ce=ce.detach().reshape(1), kl=kl.detach().reshape(1),
    text_l1=text_l1.detach().reshape(1), image_l1=image_l1.detach().reshape(1), total=total.detach().reshape(1),
    grad_ctx=ctx.grad, grad_text_deep_0=text_deep.grad, grad_vpt=vpt.grad, grad_vision_deep_0=vision_deep.grad,
)
save_file({k: x.contiguous() for k, x in out.items()}, f"{FX}/promptsrc_tiny.safetensors")
