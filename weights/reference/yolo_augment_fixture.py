"""OpenCV references for zoo_datasets::detection::augment (YOLO training augmentation).

Writes weights/fixtures/yolo_augment_cv2.npz from a 40x56 RGB image `input` (noise, a grey
ramp and saturated colours):
- `hsv_<k>`: WongKinYiu/yolov9 `augment_hsv` (utils/augmentations.py) with the drawn gains
  fixed to `gains_<k>` (OpenCV 8-bit HSV, look-up tables, back to RGB);
- `warp_<k>`: `random_perspective` with its draws fixed (`params_<k>`: angle, scale, shear x,
  shear y, translate x, translate y, border): the 2x3 matrix `m_<k>`, the OpenCV warpAffine
  output (INTER_LINEAR, border 114), and the boxes `boxes_out_<k>` (class, x1, y1, x2, y2) that
  survive `box_candidates` from `boxes_in`.

Run: python weights/reference/yolo_augment_fixture.py (needs numpy and opencv-python).
"""
import math
import os

import cv2
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "yolo_augment_cv2.npz")


def augment_hsv(im_bgr, r):
    """The reference's augment_hsv with gains r already drawn."""
    hue, sat, val = cv2.split(cv2.cvtColor(im_bgr, cv2.COLOR_BGR2HSV))
    x = np.arange(0, 256, dtype=r.dtype)
    lut_hue = ((x * r[0]) % 180).astype(np.uint8)
    lut_sat = np.clip(x * r[1], 0, 255).astype(np.uint8)
    lut_val = np.clip(x * r[2], 0, 255).astype(np.uint8)
    im_hsv = cv2.merge((cv2.LUT(hue, lut_hue), cv2.LUT(sat, lut_sat), cv2.LUT(val, lut_val)))
    return cv2.cvtColor(im_hsv, cv2.COLOR_HSV2BGR)


def box_candidates(box1, box2, wh_thr=2, ar_thr=100, area_thr=0.1, eps=1e-16):
    w1, h1 = box1[2] - box1[0], box1[3] - box1[1]
    w2, h2 = box2[2] - box2[0], box2[3] - box2[1]
    ar = np.maximum(w2 / (h2 + eps), h2 / (w2 + eps))
    return (w2 > wh_thr) & (h2 > wh_thr) & (w2 * h2 / (w1 * h1 + eps) > area_thr) & (ar < ar_thr)


def random_perspective(im, targets, a, s, shx, shy, tx, ty, border):
    """The reference's random_perspective (perspective 0) with its random draws given."""
    height = im.shape[0] + border * 2
    width = im.shape[1] + border * 2
    C = np.eye(3)
    C[0, 2] = -im.shape[1] / 2
    C[1, 2] = -im.shape[0] / 2
    R = np.eye(3)
    R[:2] = cv2.getRotationMatrix2D(angle=a, center=(0, 0), scale=s)
    S = np.eye(3)
    S[0, 1] = math.tan(shx * math.pi / 180)
    S[1, 0] = math.tan(shy * math.pi / 180)
    T = np.eye(3)
    T[0, 2] = tx * width
    T[1, 2] = ty * height
    M = T @ S @ R @ C
    out = cv2.warpAffine(im, M[:2], dsize=(width, height), borderValue=(114, 114, 114))
    n = len(targets)
    xy = np.ones((n * 4, 3))
    xy[:, :2] = targets[:, [1, 2, 3, 4, 1, 4, 3, 2]].reshape(n * 4, 2)
    xy = (xy @ M.T)[:, :2].reshape(n, 8)
    x = xy[:, [0, 2, 4, 6]]
    y = xy[:, [1, 3, 5, 7]]
    new = np.concatenate((x.min(1), y.min(1), x.max(1), y.max(1))).reshape(4, n).T
    new[:, [0, 2]] = new[:, [0, 2]].clip(0, width)
    new[:, [1, 3]] = new[:, [1, 3]].clip(0, height)
    keep = box_candidates(box1=targets[:, 1:5].T * s, box2=new.T)
    kept = targets[keep].copy()
    kept[:, 1:5] = new[keep]
    return M[:2], out, kept


rng = np.random.default_rng(0)
img = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
img[:8, :, :] = np.linspace(0, 255, 56).astype(np.uint8)[None, :, None]  # grey ramp
img[8:12, :14] = (255, 0, 0)
img[8:12, 14:28] = (0, 255, 0)
img[8:12, 28:42] = (0, 0, 255)
img[8:12, 42:] = (250, 200, 10)
bgr = img[:, :, ::-1].copy()

arrays = {"input": img}
for k, r in enumerate([np.array([1.012, 1.5, 0.7]), np.array([0.986, 0.4, 1.3]), np.array([1.0, 1.0, 1.0])]):
    arrays[f"gains_{k}"] = r
    arrays[f"hsv_{k}"] = augment_hsv(bgr, r)[:, :, ::-1].copy()

boxes = np.array(
    [[0, 5, 5, 20, 18], [1, 30, 2, 55, 39], [2, 0, 30, 3, 33], [3, 10, 20, 40, 22.5], [1, 50, 35, 56, 40]],
    dtype=np.float64,
)
arrays["boxes_in"] = boxes
params = [
    (0.0, 0.8, 0.0, 0.0, 0.45, 0.55, -8),
    (7.0, 1.3, 3.0, -2.0, 0.52, 0.47, 0),
    (-20.0, 0.5, 0.0, 0.0, 0.6, 0.4, 4),
]
for k, p in enumerate(params):
    m, out, kept = random_perspective(bgr, boxes, *p)
    arrays[f"params_{k}"] = np.array(p, dtype=np.float64)
    arrays[f"m_{k}"] = m
    arrays[f"warp_{k}"] = out[:, :, ::-1].copy()
    arrays[f"boxes_out_{k}"] = kept

np.savez(OUT, **arrays)
print("wrote", OUT, {k: v.shape for k, v in arrays.items()})
