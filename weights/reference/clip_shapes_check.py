"""Cross-check of the committed shapes CLIP (weights/clip_shapes.safetensors, written by
`zoo-weights export-open-clip --half`): it loads into open_clip as a plain state dict, and
open_clip's features on fixed inputs are written as .npy for `zoo-weights verify`.

    python weights/reference/clip_shapes_check.py /tmp/shapes-check
    zoo-weights verify --model clip-image --preset shapes --weights weights/clip_shapes.safetensors \
        --input /tmp/shapes-check/images.npy --expect /tmp/shapes-check/image_features.npy
    zoo-weights verify --model clip-text --preset shapes --weights weights/clip_shapes.safetensors \
        --input /tmp/shapes-check/tokens.npy --expect /tmp/shapes-check/text_features.npy
"""
import os
import sys

import numpy as np
import open_clip
import torch
from safetensors.torch import load_file

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
model = open_clip.model.CLIP(
    embed_dim=64,
    vision_cfg=dict(image_size=32, patch_size=8, width=64, layers=3, head_width=16, mlp_ratio=4.0),
    text_cfg=dict(context_length=32, vocab_size=49408, width=32, heads=2, layers=3, mlp_ratio=4.0),
    quick_gelu=True,
).eval()
state = {k: v.float() for k, v in load_file("weights/clip_shapes.safetensors").items()}
missing, unexpected = model.load_state_dict(state, strict=False)
assert not unexpected and all(k.endswith("attn_mask") for k in missing), (missing, unexpected)
torch.manual_seed(0)
images = torch.randn(4, 3, 32, 32)
tokens = open_clip.tokenizer.SimpleTokenizer(context_length=32)(
    ["a red circle.", "a small blue square on the left.", "a striped ring.", "the cross is green and large."])
with torch.no_grad():
    np.save(f"{out}/images.npy", images.numpy())
    np.save(f"{out}/tokens.npy", tokens.numpy().astype(np.int64))
    np.save(f"{out}/image_features.npy", model.encode_image(images).numpy())
    np.save(f"{out}/text_features.npy", model.encode_text(tokens).numpy())
print("loaded into open_clip; missing:", missing)
