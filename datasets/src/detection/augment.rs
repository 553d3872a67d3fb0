//! YOLO training augmentation, as WongKinYiu/yolov9 `utils/dataloaders.py` and
//! `utils/augmentations.py` apply it with `hyp.scratch-high.yaml`: mosaic of four images, a random
//! affine warp (translate, scale, rotation, shear), mixup of two mosaics, HSV jitter and flips.
//! Boxes follow every geometric step and are filtered as the reference's `box_candidates` does.

use crate::detection::PAD_VALUE;
use image::RgbImage;
use serde::{Deserialize, Serialize};

/// Training augmentation settings; the defaults are `hyp.scratch-high.yaml`'s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectionAugment {
    /// Probability of a mosaic of four images (else one letterboxed image).
    pub mosaic: f64,
    /// Probability of blending a second mosaic in (mixup, ratio ~ Beta(32, 32)).
    pub mixup: f64,
    /// Rotation range in degrees (+/-).
    pub degrees: f64,
    /// Translation range as a fraction of the output size (+/-).
    pub translate: f64,
    /// Scale range: the gain is drawn from [1 - scale, 1 + scale].
    pub scale: f64,
    /// Shear range in degrees (+/-).
    pub shear: f64,
    /// Hue gain range (fraction, +/-).
    pub hsv_h: f64,
    /// Saturation gain range (fraction, +/-).
    pub hsv_s: f64,
    /// Value gain range (fraction, +/-).
    pub hsv_v: f64,
    /// Probability of a horizontal flip.
    pub fliplr: f64,
    /// Probability of a vertical flip.
    pub flipud: f64,
    /// Turn mosaic (and so mixup) off for this many final epochs (`--close-mosaic` of the
    /// authors' training commands, 15 of 500 epochs there).
    pub close_mosaic: usize,
}

impl Default for DetectionAugment {
    fn default() -> Self {
        Self {
            mosaic: 1.0,
            mixup: 0.15,
            degrees: 0.0,
            translate: 0.1,
            scale: 0.9,
            shear: 0.0,
            hsv_h: 0.015,
            hsv_s: 0.7,
            hsv_v: 0.4,
            fliplr: 0.5,
            flipud: 0.0,
            close_mosaic: 15,
        }
    }
}

impl DetectionAugment {
    /// Horizontal flips only.
    pub fn flip_only() -> Self {
        Self {
            mosaic: 0.0,
            mixup: 0.0,
            translate: 0.0,
            scale: 0.0,
            hsv_h: 0.0,
            hsv_s: 0.0,
            hsv_v: 0.0,
            close_mosaic: 0,
            ..Self::default()
        }
    }

    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), String> {
        let probs = [
            ("mosaic", self.mosaic),
            ("mixup", self.mixup),
            ("fliplr", self.fliplr),
            ("flipud", self.flipud),
        ];
        for (name, p) in probs {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("augment.{name} is a probability, got {p}"));
            }
        }
        let ranges = [
            ("degrees", self.degrees),
            ("translate", self.translate),
            ("scale", self.scale),
            ("shear", self.shear),
            ("hsv_h", self.hsv_h),
            ("hsv_s", self.hsv_s),
            ("hsv_v", self.hsv_v),
        ];
        for (name, v) in ranges {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("augment.{name} must be finite and non-negative, got {v}"));
            }
        }
        if self.scale >= 1.0 {
            return Err(format!(
                "augment.scale {} allows a zero or negative gain (1 - scale)",
                self.scale
            ));
        }
        if self.translate > 0.5 {
            return Err(format!("augment.translate {} exceeds 0.5", self.translate));
        }
        Ok(())
    }
}

/// An object in pixel corners `[x1, y1, x2, y2]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelBox {
    /// Class index.
    pub class: usize,
    /// Corners in pixels.
    pub xyxy: [f32; 4],
}

/// A 2 x 3 affine map from source to destination pixels (`[x', y'] = A [x, y, 1]`).
pub type Affine = [[f64; 3]; 2];

/// The reference's `random_perspective` matrix without perspective: `T S R C` (centre, rotate
/// and scale by `gain`, shear, translate), for a source of `src` = (w, h) pixels and an output
/// of `out` = (w, h). `angle` and `shear` are in degrees, `translate` the output position of the
/// source centre as a fraction of the output size.
pub fn affine_matrix(
    src: (u32, u32),
    out: (u32, u32),
    angle: f64,
    gain: f64,
    shear: [f64; 2],
    translate: [f64; 2],
) -> Affine {
    let (cx, cy) = (-f64::from(src.0) / 2.0, -f64::from(src.1) / 2.0);
    // cv2.getRotationMatrix2D(center=(0, 0), angle, scale): positive angles turn anticlockwise.
    let (sin, cos) = angle.to_radians().sin_cos();
    let r = [[gain * cos, gain * sin], [-gain * sin, gain * cos]];
    let (sx, sy) = (shear[0].to_radians().tan(), shear[1].to_radians().tan());
    // S R: rows [1, sx; sy, 1] times R.
    let sr = [
        [r[0][0] + sx * r[1][0], r[0][1] + sx * r[1][1]],
        [sy * r[0][0] + r[1][0], sy * r[0][1] + r[1][1]],
    ];
    let t = [translate[0] * f64::from(out.0), translate[1] * f64::from(out.1)];
    [
        [sr[0][0], sr[0][1], sr[0][0] * cx + sr[0][1] * cy + t[0]],
        [sr[1][0], sr[1][1], sr[1][0] * cx + sr[1][1] * cy + t[1]],
    ]
}

/// `cv2.warpAffine(img, m, out, flags=INTER_LINEAR, borderValue=114)`: each output pixel samples
/// the source at `m^-1 [x, y]` bilinearly, taps outside the source reading grey 114. OpenCV
/// quantises positions to 1/32 pixel and weights to 1/1024; this samples exactly, so values can
/// differ from OpenCV's by a level.
pub fn warp_affine(img: &RgbImage, m: &Affine, out: (u32, u32)) -> RgbImage {
    let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    let (w, h) = img.dimensions();
    let mut dst = RgbImage::from_pixel(out.0, out.1, image::Rgb([PAD_VALUE; 3]));
    if det.abs() < 1e-12 {
        return dst;
    }
    // Inverse of the linear part, then of the translation.
    let inv = [[m[1][1] / det, -m[0][1] / det], [-m[1][0] / det, m[0][0] / det]];
    let (tx, ty) = (m[0][2], m[1][2]);
    let src = img.as_raw();
    let tap = |x: i64, y: i64, c: usize| -> f32 {
        if x < 0 || y < 0 || x >= i64::from(w) || y >= i64::from(h) {
            f32::from(PAD_VALUE)
        } else {
            f32::from(src[(y as usize * w as usize + x as usize) * 3 + c])
        }
    };
    let row_len = out.0 as usize * 3;
    let buf: &mut [u8] = &mut dst;
    for (y, row) in buf.chunks_exact_mut(row_len).enumerate() {
        let dy = y as f64 - ty;
        for x in 0..out.0 as usize {
            let dx = x as f64 - tx;
            let sx = inv[0][0] * dx + inv[0][1] * dy;
            let sy = inv[1][0] * dx + inv[1][1] * dy;
            if sx <= -1.0 || sy <= -1.0 || sx >= f64::from(w) || sy >= f64::from(h) {
                continue;
            }
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = ((sx - x0) as f32, (sy - y0) as f32);
            let (x0, y0) = (x0 as i64, y0 as i64);
            for c in 0..3 {
                let top = tap(x0, y0, c) * (1.0 - fx) + tap(x0 + 1, y0, c) * fx;
                let bottom = tap(x0, y0 + 1, c) * (1.0 - fx) + tap(x0 + 1, y0 + 1, c) * fx;
                row[x * 3 + c] = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    dst
}

/// Maps boxes through `m` (the four corners' extent), clips them to `out`, and keeps those the
/// reference's `box_candidates` keeps: both sides over 2 pixels, at least 10 % of the area the
/// box would have had at `gain`, aspect ratio under 100.
pub fn warp_boxes(boxes: &[PixelBox], m: &Affine, out: (u32, u32), gain: f64) -> Vec<PixelBox> {
    let (ow, oh) = (f64::from(out.0), f64::from(out.1));
    boxes
        .iter()
        .filter_map(|b| {
            let [x1, y1, x2, y2] = b.xyxy.map(f64::from);
            let corners = [(x1, y1), (x2, y2), (x1, y2), (x2, y1)];
            let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
            for (x, y) in corners {
                let p = [
                    m[0][0] * x + m[0][1] * y + m[0][2],
                    m[1][0] * x + m[1][1] * y + m[1][2],
                ];
                for k in 0..2 {
                    lo[k] = lo[k].min(p[k]);
                    hi[k] = hi[k].max(p[k]);
                }
            }
            let new = [
                lo[0].clamp(0.0, ow),
                lo[1].clamp(0.0, oh),
                hi[0].clamp(0.0, ow),
                hi[1].clamp(0.0, oh),
            ];
            let before = [(x2 - x1) * gain, (y2 - y1) * gain];
            candidate(before, [new[2] - new[0], new[3] - new[1]]).then(|| PixelBox {
                class: b.class,
                xyxy: new.map(|v| v as f32),
            })
        })
        .collect()
}

/// The reference's `box_candidates(wh_thr=2, ar_thr=100, area_thr=0.1)` for one box of size
/// `before` (scaled) that became `after`.
fn candidate(before: [f64; 2], after: [f64; 2]) -> bool {
    let eps = 1e-16;
    let [w1, h1] = before;
    let [w2, h2] = after;
    let ar = (w2 / (h2 + eps)).max(h2 / (w2 + eps));
    w2 > 2.0 && h2 > 2.0 && w2 * h2 / (w1 * h1 + eps) > 0.1 && ar < 100.0
}

/// The reference's `augment_hsv` with drawn gains `gains` = 1 + U(-1, 1) x (hsv_h, hsv_s,
/// hsv_v): OpenCV's 8-bit HSV (hue in [0, 180)), look-up tables `(x g_h) mod 180`,
/// `clip(x g_s)`, `clip(x g_v)` truncated to integers, and back to RGB.
pub fn hsv_jitter(img: &mut RgbImage, gains: [f64; 3]) {
    let lut = |g: f64, hue: bool| -> [u8; 256] {
        std::array::from_fn(|x| {
            let v = x as f64 * g;
            if hue {
                v.rem_euclid(180.0) as u8
            } else {
                v.clamp(0.0, 255.0) as u8
            }
        })
    };
    let (lh, ls, lv) = (lut(gains[0], true), lut(gains[1], false), lut(gains[2], false));
    for p in img.pixels_mut() {
        let [h, s, v] = rgb_to_hsv(p.0);
        p.0 = hsv_to_rgb([lh[h as usize], ls[s as usize], lv[v as usize]]);
    }
}

/// OpenCV's `COLOR_RGB2HSV` for 8-bit images, in its fixed-point arithmetic (12-bit reciprocal
/// tables): V = max, S = 255 (V - min) / V, H = hue in degrees / 2 in [0, 180). Equal to OpenCV
/// for every colour checked.
pub fn rgb_to_hsv([r, g, b]: [u8; 3]) -> [u8; 3] {
    const SHIFT: i64 = 12;
    let (r, g, b) = (i64::from(r), i64::from(g), i64::from(b));
    let v = r.max(g).max(b);
    let diff = v - r.min(g).min(b);
    let table = |num: f64, den: f64| if den == 0.0 { 0 } else { (num / den).round() as i64 };
    let sdiv = table((255i64 << SHIFT) as f64, v as f64);
    let hdiv = table((180i64 << SHIFT) as f64, 6.0 * diff as f64);
    let s = (diff * sdiv + (1 << (SHIFT - 1))) >> SHIFT;
    // The hue in units of diff / 60 degrees, with OpenCV's order of cases (red, then green).
    let num = if v == r {
        g - b
    } else if v == g {
        b - r + 2 * diff
    } else {
        r - g + 4 * diff
    };
    let mut h = (num * hdiv + (1 << (SHIFT - 1))) >> SHIFT;
    if h < 0 {
        h += 180;
    }
    [h as u8, s as u8, v as u8]
}

/// OpenCV's `COLOR_HSV2RGB` for 8-bit images (hue in [0, 180)). OpenCV 5.0 truncates the
/// channel values (this does, in f32, matching it on 99.4 % of colours and within one level on
/// the rest); OpenCV 4.x rounds them, one level above on about half of all colours.
pub fn hsv_to_rgb([h, s, v]: [u8; 3]) -> [u8; 3] {
    let (s, v) = (f32::from(s) / 255.0, f32::from(v));
    let level = |x: f32| x.floor().clamp(0.0, 255.0) as u8;
    if s == 0.0 {
        return [level(v); 3];
    }
    let mut h = f32::from(h) * (6.0 / 180.0);
    if h >= 6.0 {
        h -= 6.0;
    }
    let sector = h.floor();
    let f = h - sector;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
    let [r, g, b] = match sector as u8 {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    };
    [level(r), level(g), level(b)]
}

/// The reference's `mixup`: `(a r + b (1 - r))` truncated to integers.
pub fn mixup(a: &mut RgbImage, b: &RgbImage, r: f64) {
    for (x, y) in a.iter_mut().zip(b.iter()) {
        *x = (f64::from(*x) * r + f64::from(*y) * (1.0 - r)) as u8;
    }
}
