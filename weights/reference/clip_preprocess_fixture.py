"""CLIP preprocessing fixture: photo-like images written as real PNG and JPEG files by Pillow,
and open_clip's inference transform of each (ViT-B-16: Resize(224, BICUBIC), CenterCrop(224),
RGB, ToTensor, Normalize). Stores the 8-bit image after resize and crop (exact target of
zoo_datasets::resample) and the first 8 normalised rows of each image.

    python weights/reference/clip_preprocess_fixture.py
      # -> weights/fixtures/clip_images/*.{png,jpg}, weights/fixtures/clip_preprocess.safetensors
"""
import numpy as np
import open_clip
import torch
from PIL import Image
from safetensors.torch import save_file

rng = np.random.default_rng(0)
OUT = "weights/fixtures/clip_images"


def scene(w, h):
    """Smooth colour fields, hard-edged discs and bars, mild noise: edges and gradients both."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    for c in range(3):
        fx, fy, ph = rng.uniform(0.5, 4, 2).tolist() + [rng.uniform(0, 6.3)]
        img[..., c] = 128 + 70 * np.sin(2 * np.pi * (fx * x / w + fy * y / h) + ph)
    for _ in range(6):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.05, 0.25) * min(w, h)
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(0, 255, 3)
    for _ in range(3):
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        img[(x > x0) & (x < x0 + 0.05 * w) & (y > y0)] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 3, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


# name, width, height, format, mode
CASES = [
    ("landscape", 640, 480, "jpg", "RGB"),
    ("portrait_odd", 333, 500, "png", "RGB"),
    ("grey", 300, 225, "png", "L"),
    ("upscale", 160, 120, "png", "RGB"),
    ("exact", 224, 224, "jpg", "RGB"),
    ("wide", 999, 250, "jpg", "RGB"),
]

_, _, preprocess = open_clip.create_model_and_transforms("ViT-B-16-quickgelu", pretrained=None)
print(preprocess)
geometric = preprocess.transforms[:2]  # Resize, CenterCrop
mean = torch.tensor(open_clip.OPENAI_DATASET_MEAN).view(3, 1, 1)
std = torch.tensor(open_clip.OPENAI_DATASET_STD).view(3, 1, 1)
tensors = {}
for name, w, h, fmt, mode in CASES:
    im = Image.fromarray(scene(w, h))
    if mode == "L":
        im = im.convert("L")
    path = f"{OUT}/{name}.{fmt}"
    im.save(path, quality=90) if fmt == "jpg" else im.save(path)
    loaded = Image.open(path)
    full = preprocess(loaded)  # [3, 224, 224]
    cropped = loaded
    for t in geometric:
        cropped = t(cropped)
    u8 = torch.from_numpy(np.asarray(cropped.convert("RGB")).copy())  # [224, 224, 3]
    # The normalisation is (u8 / 255 - mean) / std: check, then store u8 and a slice of `full`.
    again = (u8.permute(2, 0, 1).float() / 255 - mean) / std
    assert (again - full).abs().max() < 1e-5, name
    tensors[f"{name}.u8"] = u8
    tensors[f"{name}.rows"] = full[:, :8, :].contiguous()
    print(name, w, h, fmt, mode, tuple(full.shape))
save_file(tensors, "weights/fixtures/clip_preprocess.safetensors")
