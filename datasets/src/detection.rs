//! Detection inputs: the letterbox of YOLO models (aspect-preserving resize, grey padding to a
//! stride multiple) and the mapping of boxes back to the original image.

use image::RgbImage;

/// Grey level of the letterbox padding (the reference's 114).
pub const PAD_VALUE: u8 = 114;

/// A letterboxed image and how to undo it.
#[derive(Debug, Clone, PartialEq)]
pub struct Letterboxed {
    /// The padded image.
    pub image: RgbImage,
    /// Resize factor applied to the original.
    pub gain: f32,
    /// Padding added on the left and at the top, in pixels.
    pub pad: (f32, f32),
    /// Original width and height.
    pub original: (u32, u32),
}

/// Letterbox settings (defaults: the reference's `detect.py`: 640, minimal padding to a
/// multiple of 32, upscaling allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LetterboxConfig {
    /// Target size of the longer side (and of both sides when not `minimal`).
    pub size: u32,
    /// Stride the padded size must be a multiple of.
    pub stride: u32,
    /// Pad only up to the next stride multiple (a rectangle) instead of to `size` x `size`.
    pub minimal: bool,
    /// Allow enlarging images smaller than `size` (off for validation, as the reference).
    pub scale_up: bool,
}

impl Default for LetterboxConfig {
    fn default() -> Self {
        Self {
            size: 640,
            stride: 32,
            minimal: true,
            scale_up: true,
        }
    }
}

/// Bilinear resize with OpenCV's `INTER_LINEAR` sampling (half-pixel centres, edge clamping, no
/// antialiasing), rounding to the nearest level. OpenCV's fixed-point arithmetic can differ by
/// one level.
pub fn resize_bilinear(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    let (sw, sh) = img.dimensions();
    if (sw, sh) == (w, h) {
        return img.clone();
    }
    let (fx, fy) = (sw as f32 / w as f32, sh as f32 / h as f32);
    let taps = |dst: u32, scale: f32, n: u32| {
        let s = ((dst as f32 + 0.5) * scale - 0.5).max(0.0);
        let i0 = (s.floor() as u32).min(n - 1);
        let i1 = (i0 + 1).min(n - 1);
        (i0, i1, s - i0 as f32)
    };
    let xs: Vec<_> = (0..w).map(|x| taps(x, fx, sw)).collect();
    let mut out = RgbImage::new(w, h);
    for y in 0..h {
        let (y0, y1, ty) = taps(y, fy, sh);
        for (x, &(x0, x1, tx)) in xs.iter().enumerate() {
            let (a, b) = (img.get_pixel(x0, y0), img.get_pixel(x1, y0));
            let (c, d) = (img.get_pixel(x0, y1), img.get_pixel(x1, y1));
            let mut p = [0u8; 3];
            for k in 0..3 {
                let top = f32::from(a[k]) * (1.0 - tx) + f32::from(b[k]) * tx;
                let bottom = f32::from(c[k]) * (1.0 - tx) + f32::from(d[k]) * tx;
                p[k] = (top * (1.0 - ty) + bottom * ty).round().clamp(0.0, 255.0) as u8;
            }
            out.put_pixel(x as u32, y, image::Rgb(p));
        }
    }
    out
}

/// The reference's `letterbox`: gain r = min(size / h, size / w) (at most 1 without
/// `scale_up`), resize to round(w r) x round(h r), pad with grey 114 split evenly (top =
/// round(dh / 2 - 0.1), bottom = round(dh / 2 + 0.1), likewise left/right).
pub fn letterbox(img: &RgbImage, cfg: &LetterboxConfig) -> Letterboxed {
    let (w, h) = img.dimensions();
    let size = cfg.size as f32;
    let mut r = (size / h as f32).min(size / w as f32);
    if !cfg.scale_up {
        r = r.min(1.0);
    }
    let (nw, nh) = (
        ((w as f32 * r).round() as u32).max(1),
        ((h as f32 * r).round() as u32).max(1),
    );
    let (mut dw, mut dh) = (cfg.size.saturating_sub(nw), cfg.size.saturating_sub(nh));
    if cfg.minimal {
        dw %= cfg.stride;
        dh %= cfg.stride;
    }
    let (dw, dh) = (dw as f32 / 2.0, dh as f32 / 2.0);
    let (top, bottom) = ((dh - 0.1).round() as u32, (dh + 0.1).round() as u32);
    let (left, right) = ((dw - 0.1).round() as u32, (dw + 0.1).round() as u32);
    let resized = resize_bilinear(img, nw, nh);
    let mut out = RgbImage::from_pixel(nw + left + right, nh + top + bottom, image::Rgb([PAD_VALUE; 3]));
    image::imageops::replace(&mut out, &resized, i64::from(left), i64::from(top));
    Letterboxed {
        image: out,
        gain: r,
        pad: (left as f32, top as f32),
        original: (w, h),
    }
}

impl Letterboxed {
    /// CHW floats in [0, 1] (RGB), the model's input.
    pub fn to_chw(&self) -> Vec<f32> {
        let (w, h) = self.image.dimensions();
        let plane = (w * h) as usize;
        let mut out = vec![0f32; 3 * plane];
        for (i, p) in self.image.pixels().enumerate() {
            for c in 0..3 {
                out[c * plane + i] = f32::from(p[c]) / 255.0;
            }
        }
        out
    }

    /// Maps corners `[x1, y1, x2, y2]` in letterboxed pixels back to the original image,
    /// clipped to it (the reference's `scale_boxes`).
    pub fn unletterbox(&self, b: [f32; 4]) -> [f32; 4] {
        let (w, h) = (self.original.0 as f32, self.original.1 as f32);
        [
            ((b[0] - self.pad.0) / self.gain).clamp(0.0, w),
            ((b[1] - self.pad.1) / self.gain).clamp(0.0, h),
            ((b[2] - self.pad.0) / self.gain).clamp(0.0, w),
            ((b[3] - self.pad.1) / self.gain).clamp(0.0, h),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letterbox_pads_to_the_stride_and_maps_boxes_back() {
        // 1000 x 500 -> gain 0.64 -> 640 x 320 exactly: no padding needed.
        let img = RgbImage::from_pixel(1000, 500, image::Rgb([10, 20, 30]));
        let lb = letterbox(&img, &LetterboxConfig::default());
        assert_eq!(lb.image.dimensions(), (640, 320));
        assert_eq!((lb.gain, lb.pad), (0.64, (0.0, 0.0)));
        // 500 x 333 -> gain 1.28 -> 640 x 426, padded to 448 (11 top, 11 bottom).
        let img = RgbImage::from_pixel(500, 333, image::Rgb([10, 20, 30]));
        let lb = letterbox(&img, &LetterboxConfig::default());
        assert_eq!(lb.image.dimensions(), (640, 448));
        assert_eq!(lb.pad, (0.0, 11.0));
        assert_eq!(*lb.image.get_pixel(0, 0), image::Rgb([PAD_VALUE; 3]));
        assert_eq!(*lb.image.get_pixel(0, 11), image::Rgb([10, 20, 30]));
        let b = lb.unletterbox([64.0, 11.0 + 128.0, 700.0, 500.0]);
        assert_eq!(b, [50.0, 100.0, 500.0, 333.0]);
        // Square padding without upscaling: a small image stays its size, centred.
        let cfg = LetterboxConfig {
            minimal: false,
            scale_up: false,
            ..LetterboxConfig::default()
        };
        let lb = letterbox(&RgbImage::new(100, 60), &cfg);
        assert_eq!(
            (lb.image.dimensions(), lb.gain, lb.pad),
            ((640, 640), 1.0, (270.0, 290.0))
        );
    }

    #[test]
    fn bilinear_matches_half_pixel_sampling() {
        // 2 x 1 -> 4 x 1: OpenCV gives 0, 64, 191, 255 for [0, 255].
        let mut img = RgbImage::new(2, 1);
        img.put_pixel(1, 0, image::Rgb([255; 3]));
        let out = resize_bilinear(&img, 4, 1);
        let row: Vec<u8> = out.pixels().map(|p| p[0]).collect();
        assert_eq!(row, vec![0, 64, 191, 255]);
    }
}
