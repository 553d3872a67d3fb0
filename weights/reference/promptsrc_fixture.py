"""Fixture for zoo-promptsrc: PromptSRC's forward and losses written out from the reference
trainer's equations (promptsrc_reference.py), on the committed tiny CLIP
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
from safetensors.torch import load_file, save_file

from promptsrc_reference import Prompted, losses

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


templates = ["a photo of a {}.", "a bad photo of a {}.", "a sculpture of a {}."]
with torch.no_grad():
    frozen_text = torch.stack(
        [model.encode_text(tok([t.format(c) for c in classes])) for t in templates]
    ).mean(0)

prompted = Prompted(model, tokens, ctx, [text_deep], vpt, [vision_deep])
L = losses(prompted, images, labels, frozen_text)
t, v, logits, zs_logits = L["t"], L["v"], L["logits"], L["zs_logits"]
ce, kl, text_l1, image_l1, total = L["ce"], L["kl"], L["text_l1"], L["image_l1"], L["total"]
total.backward()
print({k: float(x.detach()) for k, x in dict(ce=ce, kl=kl, text_l1=text_l1, image_l1=image_l1, total=total).items()})

out = dict(
    tokens=tokens.float(), ctx_init=ctx_init, ctx=ctx.detach(), text_deep_0=text_deep.detach(),
    vpt=vpt.detach(), vision_deep_0=vision_deep.detach(), images=images, labels=labels.float(),
    frozen_text=frozen_text, text_features=t.detach(), image_features=v.detach(), logits=logits.detach(),
    zs_logits=zs_logits, ce=ce.detach().reshape(1), kl=kl.detach().reshape(1),
    text_l1=text_l1.detach().reshape(1), image_l1=image_l1.detach().reshape(1), total=total.detach().reshape(1),
    grad_ctx=ctx.grad, grad_text_deep_0=text_deep.grad, grad_vpt=vpt.grad, grad_vision_deep_0=vision_deep.grad,
)
save_file({k: x.contiguous() for k, x in out.items()}, f"{FX}/promptsrc_tiny.safetensors")
