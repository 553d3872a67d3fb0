"""open_clip fixtures for zoo-clip: a tiny CLIP (zoo_clip::ClipConfig::tiny) with random weights,
its state dict in open_clip naming, and image/text features on fixed inputs.

    python weights/reference/clip_fixtures.py   # -> weights/fixtures/clip_tiny*.safetensors
"""
import open_clip
import torch
from safetensors.torch import save_file

torch.manual_seed(0)
model = open_clip.model.CLIP(
    embed_dim=32,
    vision_cfg=dict(image_size=32, patch_size=8, width=64, layers=2, head_width=16, mlp_ratio=4.0),
    text_cfg=dict(context_length=77, vocab_size=49408, width=16, heads=2, layers=2, mlp_ratio=4.0),
    quick_gelu=False,
).eval()
with torch.no_grad():
    # LayerNorms away from identity, so their parameters are checked too.
    for name, p in model.named_parameters():
        if name.endswith(("ln_1.weight", "ln_2.weight", "ln_pre.weight", "ln_post.weight", "ln_final.weight")):
            p.add_(torch.randn_like(p) * 0.1)
        if name.endswith(("ln_1.bias", "ln_2.bias", "ln_pre.bias", "ln_post.bias", "ln_final.bias")):
            p.add_(torch.randn_like(p) * 0.1)
state = {k: v.contiguous() for k, v in model.state_dict().items()}
save_file(state, "weights/fixtures/clip_tiny_weights.safetensors")

tok = open_clip.tokenizer.SimpleTokenizer()
texts = ["a photo of a cat", "a red square on a blue background", ""]
tokens = tok(texts)
images = torch.randn(2, 3, 32, 32)
with torch.no_grad():
    img = model.encode_image(images)
    txt = model.encode_text(tokens)
save_file({"images": images, "tokens": tokens.float(), "image_features": img, "text_features": txt,
           "logit_scale": model.logit_scale.exp().reshape(1).detach()},
          "weights/fixtures/clip_tiny_io.safetensors")
print(sorted(state)[:6], len(state), img.shape, txt.shape)
