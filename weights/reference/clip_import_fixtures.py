"""Fixtures for zoo-weights' other CLIP import routes:

- clip_tiny_f16.pt: the committed tiny CLIP (clip_tiny_weights.safetensors) as a PyTorch
  checkpoint, half precision, in open_clip's training-checkpoint form
  ({"epoch", "state_dict": {"module.<key>": tensor}}); clip_tiny_f16_io.safetensors holds the
  features of the half-rounded weights on the inputs of clip_tiny_io.safetensors.
- clip_tiny_loss.safetensors: open_clip's ClipLoss (symmetric InfoNCE) of the half-rounded tiny
  model on three image-caption pairs.
- clip_onnx_image.onnx / clip_onnx_text.onnx: the image and text towers of a tiny CLIP with a
  1,000-token vocabulary (keeps the file small), exported with torch.onnx.export;
  clip_onnx_image_static.onnx: the image tower again, batch 2 and constant-folded, for the
  burn-onnx code-generation example;
  clip_onnx_io.safetensors holds onnxruntime's outputs on fixed inputs.

    python weights/reference/clip_import_fixtures.py
"""
import numpy as np
import onnx
import onnxsim
import onnxruntime as ort
import open_clip
import torch
from safetensors.torch import load_file, save_file

F = "weights/fixtures"
TINY = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, patch_size=8, width=64, layers=2, head_width=16, mlp_ratio=4.0),
    text_cfg=dict(context_length=77, vocab_size=49408, width=16, heads=2, layers=2, mlp_ratio=4.0),
    quick_gelu=False,
)

# --- .pt, half precision, training-checkpoint form
model = open_clip.model.CLIP(**TINY).eval()
model.load_state_dict(load_file(f"{F}/clip_tiny_weights.safetensors"))
half = {k: v.half() for k, v in model.state_dict().items()}
torch.save({"epoch": 3, "state_dict": {"module." + k: v for k, v in half.items()}}, f"{F}/clip_tiny_f16.pt")
model.load_state_dict({k: v.float() for k, v in half.items()})
io = load_file(f"{F}/clip_tiny_io.safetensors")
with torch.no_grad():
    img = model.encode_image(io["images"])
    txt = model.encode_text(io["tokens"].long())
save_file({"image_features": img, "text_features": txt}, f"{F}/clip_tiny_f16_io.safetensors")

# --- the contrastive loss: open_clip's ClipLoss on the tiny model, 3 images and 3 captions
torch.manual_seed(2)
loss_images = torch.randn(3, 3, 32, 32)
loss_tokens = open_clip.tokenizer.SimpleTokenizer()(["a red circle.", "a small blue square on the left.", "a ring."])
with torch.no_grad():
    fi = torch.nn.functional.normalize(model.encode_image(loss_images), dim=-1)
    ft = torch.nn.functional.normalize(model.encode_text(loss_tokens), dim=-1)
    loss = open_clip.loss.ClipLoss()(fi, ft, model.logit_scale.exp())
save_file({"images": loss_images, "tokens": loss_tokens.float(), "loss": loss.reshape(1)},
          f"{F}/clip_tiny_loss.safetensors")

# --- ONNX towers
torch.manual_seed(1)
cfg = dict(TINY, text_cfg=dict(TINY["text_cfg"], vocab_size=1000), quick_gelu=True)
onnx_model = open_clip.model.CLIP(**cfg).eval()
with torch.no_grad():
    # Every parameter distinct: the exporter merges identical initializers (e.g. the zero biases
    # of a fresh model) into one name, which a by-name import cannot map back.
    for name, p in onnx_model.named_parameters():
        p.add_(torch.randn_like(p) * 0.02)


class Image(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m.encode_image(x)


class Text(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, t):
        return self.m.encode_text(t)


images = torch.randn(2, 3, 32, 32)
tokens = torch.zeros(3, 77, dtype=torch.long)
for i, n in enumerate([5, 12, 77]):
    tokens[i, :n] = torch.randint(1, 998, (n,))
    tokens[i, n - 1] = 999  # the highest id plays EOT
kw = dict(export_params=True, do_constant_folding=False, dynamo=False, opset_version=17)
torch.onnx.export(Image(onnx_model), (images,), f"{F}/clip_onnx_image.onnx", input_names=["images"],
                  output_names=["features"], dynamic_axes={"images": {0: "batch"}}, **kw)
torch.onnx.export(Text(onnx_model), (tokens,), f"{F}/clip_onnx_text.onnx", input_names=["tokens"],
                  output_names=["features"], dynamic_axes={"tokens": {0: "batch"}}, **kw)
# For burn-onnx's code generation (examples/onnx-codegen): the image tower with a fixed batch and
# constant folding and onnx-simplifier (`pip install onnxsim`), so every shape computation is a
# constant (parameter names are not kept here).
torch.onnx.export(Image(onnx_model), (images,), f"{F}/clip_onnx_image_static.onnx", input_names=["images"],
                  output_names=["features"], export_params=True, do_constant_folding=True, dynamo=False,
                  opset_version=17)
simplified, ok = onnxsim.simplify(onnx.load(f"{F}/clip_onnx_image_static.onnx"))
assert ok
onnx.save(simplified, f"{F}/clip_onnx_image_static.onnx")
img = ort.InferenceSession(f"{F}/clip_onnx_image.onnx").run(None, {"images": images.numpy()})[0]
img_static = ort.InferenceSession(f"{F}/clip_onnx_image_static.onnx").run(None, {"images": images.numpy()})[0]
assert np.abs(img - img_static).max() < 1e-5
txt = ort.InferenceSession(f"{F}/clip_onnx_text.onnx").run(None, {"tokens": tokens.numpy()})[0]
with torch.no_grad():
    print("ort vs torch:", np.abs(img - onnx_model.encode_image(images).numpy()).max(),
          np.abs(txt - onnx_model.encode_text(tokens).numpy()).max())
save_file({"images": images, "tokens": tokens.float(), "image_features": torch.from_numpy(img),
           "text_features": torch.from_numpy(txt)}, f"{F}/clip_onnx_io.safetensors")
for f in ["image", "text"]:
    g = onnx.load(f"{F}/clip_onnx_{f}.onnx").graph
    print(f, [i.name for i in g.initializer][:12], len(g.initializer))
