"""OpenCV INTER_LINEAR resizes and the reference letterbox for zoo_datasets::detection.

Writes weights/fixtures/letterbox_cv2.npz: `input` (a 37x53 random RGB image), `up` (resized to
80x61), `down` (to 29x20), and `letterbox` (the WongKinYiu/ultralytics letterbox of `input` to
64 with stride 32, upscaling allowed: gain 64/53, padded to a stride multiple with 114).

Run: python weights/reference/letterbox_fixture.py (needs numpy and opencv-python).
"""
import os

import cv2
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "letterbox_cv2.npz")


def letterbox(im, new_shape=64, stride=32, auto=True, scaleup=True):
    """The reference's letterbox, written out (utils/augmentations.py)."""
    shape = im.shape[:2]
    r = min(new_shape / shape[0], new_shape / shape[1])
    if not scaleup:
        r = min(r, 1.0)
    new_unpad = int(round(shape[1] * r)), int(round(shape[0] * r))
    dw, dh = new_shape - new_unpad[0], new_shape - new_unpad[1]
    if auto:
        dw, dh = np.mod(dw, stride), np.mod(dh, stride)
    dw, dh = dw / 2, dh / 2
    if shape[::-1] != new_unpad:
        im = cv2.resize(im, new_unpad, interpolation=cv2.INTER_LINEAR)
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    return cv2.copyMakeBorder(im, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))


rng = np.random.default_rng(0)
img = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
np.savez(
    OUT,
    input=img,
    up=cv2.resize(img, (80, 61), interpolation=cv2.INTER_LINEAR),
    down=cv2.resize(img, (29, 20), interpolation=cv2.INTER_LINEAR),
    letterbox=letterbox(img),
)
print(OUT, letterbox(img).shape)
