"""Full-size parity fixture for zoo-clip, generated locally (nothing is downloaded): open_clip's
ViT-B-16-quickgelu (OpenAI layout) with random weights, and its features on fixed inputs.

    python weights/reference/clip_vit_b16_fixture.py   # -> weights/fixtures/local/ (~600 MB, git-ignored)
    cargo test -p zoo-clip --test open_clip -- --ignored vit_b16

Also writes the inputs and outputs as .npy for `zoo-weights verify`:

    zoo-weights verify --model clip-image --preset ViT-B-16 \
        --weights weights/fixtures/local/clip_vit_b16_weights.safetensors \
        --input weights/fixtures/local/images.npy --expect weights/fixtures/local/image_features.npy
"""
import os

import numpy as np
import open_clip
import torch
from safetensors.torch import save_file

OUT = "weights/fixtures/local"
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(0)
model = open_clip.create_model("ViT-B-16-quickgelu", pretrained=None).eval()
with torch.no_grad():
    # LayerNorms and biases away from their initial values, so every parameter matters.
    for name, p in model.named_parameters():
        if name.endswith("bias") or ".ln_" in name or name.startswith("ln_"):
            p.add_(torch.randn_like(p) * 0.05)
state = {k: v.contiguous() for k, v in model.state_dict().items()}
save_file(state, f"{OUT}/clip_vit_b16_weights.safetensors")
tok = open_clip.get_tokenizer("ViT-B-16-quickgelu")
texts = ["a photo of a cat", "a diagram of a transformer", "", "très jolie maison 🏠 " * 20]
tokens = tok(texts)
images = torch.randn(2, 3, 224, 224)
with torch.no_grad():
    img = model.encode_image(images)
    txt = model.encode_text(tokens)
save_file({"images": images, "tokens": tokens.float(), "image_features": img, "text_features": txt},
          f"{OUT}/clip_vit_b16_io.safetensors")
np.save(f"{OUT}/images.npy", images.numpy())
np.save(f"{OUT}/tokens.npy", tokens.numpy().astype(np.int64))
np.save(f"{OUT}/image_features.npy", img.numpy())
np.save(f"{OUT}/text_features.npy", txt.numpy())
print(len(state), "tensors;", img.shape, txt.shape)
