//! Pillow's bicubic resampling, bit for bit: CLIP's preprocessing (open_clip / OpenAI:
//! torchvision `Resize(224, BICUBIC)` on a PIL image, `CenterCrop(224)`) resizes with Pillow's
//! `ImagingResample`, a separable convolution (horizontal pass, then vertical) with the a = -0.5
//! cubic kernel widened by the downscale factor (antialiasing), 22-bit fixed-point coefficients
//! and rounding to 8 bits between the passes. Matching it exactly keeps our inputs identical to
//! the reference's on decoded pixels.

/// Pillow's fixed-point precision for 8-bit images (`32 - 8 - 2`).
const PRECISION_BITS: u32 = 22;

fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Per output index: the first input index, the tap count and the fixed-point weights
/// (Pillow's `precompute_coeffs` and `normalize_coeffs_8bpc`).
fn coefficients(in_size: usize, out_size: usize) -> Vec<(usize, Vec<i32>)> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = 2.0 * filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filterscale;
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let w: Vec<f64> = (xmin..xmax)
                .map(|x| bicubic((x as f64 - center + 0.5) * ss))
                .collect();
            let total: f64 = w.iter().sum();
            let fixed = w
                .iter()
                .map(|&k| {
                    let k = if total != 0.0 { k / total } else { k };
                    let v = k * f64::from(1u32 << PRECISION_BITS);
                    (if v < 0.0 { v - 0.5 } else { v + 0.5 }) as i32
                })
                .collect();
            (xmin, fixed)
        })
        .collect()
}

fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resizes interleaved RGB bytes (`width x height`, row-major HWC) to `out_w x out_h` exactly as
/// Pillow's `Image.resize((out_w, out_h), Image.BICUBIC)` does. Equal sizes return a copy.
pub fn resize_bicubic(rgb: &[u8], width: usize, height: usize, out_w: usize, out_h: usize) -> Vec<u8> {
    assert_eq!(rgb.len(), 3 * width * height, "RGB buffer size");
    let vert = coefficients(height, out_h);
    // Rows the vertical pass reads: the horizontal pass only computes these.
    let first = vert.first().map_or(0, |c| c.0);
    let last = vert.last().map_or(0, |c| c.0 + c.1.len());
    if out_w == width {
        return vertical(rgb, width, &vert, 0, out_h);
    }
    {
        let horiz = coefficients(width, out_w);
        let rows = last - first;
        let mut tmp = vec![0u8; 3 * out_w * rows];
        for y in 0..rows {
            let row = &rgb[3 * (y + first) * width..3 * (y + first + 1) * width];
            for (xx, (xmin, k)) in horiz.iter().enumerate() {
                for c in 0..3 {
                    let mut acc = 1i32 << (PRECISION_BITS - 1);
                    for (t, &kt) in k.iter().enumerate() {
                        acc += i32::from(row[3 * (xmin + t) + c]) * kt;
                    }
                    tmp[3 * (y * out_w + xx) + c] = clip8(acc);
                }
            }
        }
        vertical(&tmp, out_w, &vert, first, out_h)
    }
}

/// Pillow's vertical pass (an unchanged height gives unit weights: the rows come back as they were).
fn vertical(src: &[u8], w: usize, vert: &[(usize, Vec<i32>)], shift: usize, out_h: usize) -> Vec<u8> {
    let mut out = vec![0u8; 3 * w * out_h];
    for (yy, (ymin, k)) in vert.iter().enumerate() {
        let ymin = ymin - shift;
        for x in 0..w {
            for c in 0..3 {
                let mut acc = 1i32 << (PRECISION_BITS - 1);
                for (t, &kt) in k.iter().enumerate() {
                    acc += i32::from(src[3 * ((ymin + t) * w + x) + c]) * kt;
                }
                out[3 * (yy * w + x) + c] = clip8(acc);
            }
        }
    }
    out
}

/// The output size of torchvision's `Resize(size)` (shorter side to `size`, the longer one
/// scaled and truncated) for a `width x height` image.
pub fn shorter_side_size(width: usize, height: usize, size: usize) -> (usize, usize) {
    let (short, long) = (width.min(height), width.max(height));
    let new_long = (size as f64 * long as f64 / short as f64) as usize;
    if width <= height {
        (size, new_long)
    } else {
        (new_long, size)
    }
}

/// torchvision's `CenterCrop` offset: `int(round((from - to) / 2))`, Python's round-half-even.
pub fn center_offset(from: usize, to: usize) -> usize {
    let d = from.saturating_sub(to);
    // (d / 2) rounded half to even: d odd gives k + 0.5, rounded to the even of k and k + 1.
    let k = d / 2;
    if d % 2 == 1 && k % 2 == 1 { k + 1 } else { k }
}

/// CLIP's image preprocessing on decoded RGB bytes (HWC): torchvision `Resize(size, BICUBIC)`
/// (skipped when the shorter side already is `size`, as torchvision does), `CenterCrop(size)`;
/// returns CHW bytes, `3 x size x size`. Normalisation (CLIP mean/std) is the batcher's.
pub fn clip_resize_crop(rgb: &[u8], width: usize, height: usize, size: usize) -> Vec<u8> {
    let (nw, nh) = shorter_side_size(width, height, size);
    let resized;
    let img = if (nw, nh) == (width, height) {
        rgb
    } else {
        resized = resize_bicubic(rgb, width, height, nw, nh);
        &resized
    };
    let (x0, y0) = (center_offset(nw, size), center_offset(nh, size));
    let mut out = vec![0u8; 3 * size * size];
    for y in 0..size {
        for x in 0..size {
            for c in 0..3 {
                out[c * size * size + y * size + x] = img[3 * ((y0 + y) * nw + x0 + x) + c];
            }
        }
    }
    out
}

/// torchvision's `RandomResizedCrop.get_params`: up to 10 draws of an area fraction uniform in
/// `scale` and a log-uniform aspect ratio in `ratio`, the first box that fits placed uniformly;
/// otherwise the centre crop clamped to the ratio range. Returns `(x0, y0, width, height)`.
pub fn random_resized_crop_box(
    width: usize,
    height: usize,
    scale: (f64, f64),
    ratio: (f64, f64),
    rng: &mut crate::Rng,
) -> (usize, usize, usize, usize) {
    use rand::RngExt;
    let area = (width * height) as f64;
    let (lo, hi) = (ratio.0.ln(), ratio.1.ln());
    for _ in 0..10 {
        let target = area * rng.random_range(scale.0..=scale.1);
        let aspect = rng.random_range(lo..=hi).exp();
        let w = (target * aspect).sqrt().round() as usize;
        let h = (target / aspect).sqrt().round() as usize;
        if w > 0 && w <= width && h > 0 && h <= height {
            let y0 = rng.random_range(0..=height - h);
            let x0 = rng.random_range(0..=width - w);
            return (x0, y0, w, h);
        }
    }
    let in_ratio = width as f64 / height as f64;
    let (w, h) = if in_ratio < ratio.0 {
        (width, ((width as f64 / ratio.0).round() as usize).max(1))
    } else if in_ratio > ratio.1 {
        (((height as f64 * ratio.1).round() as usize).max(1), height)
    } else {
        (width, height)
    };
    ((width - w) / 2, (height - h) / 2, w, h)
}

/// CLIP / Dassl training augmentation on decoded RGB bytes (HWC): `RandomResizedCrop(size,
/// scale (0.08, 1), ratio (3/4, 4/3), BICUBIC)` then a horizontal flip with probability 0.5;
/// returns CHW bytes, `3 x size x size`.
pub fn clip_train_crop(
    rgb: &[u8],
    width: usize,
    height: usize,
    size: usize,
    rng: &mut crate::Rng,
) -> Vec<u8> {
    use rand::RngExt;
    let (x0, y0, w, h) = random_resized_crop_box(width, height, (0.08, 1.0), (0.75, 4.0 / 3.0), rng);
    let mut crop = Vec::with_capacity(3 * w * h);
    for y in y0..y0 + h {
        crop.extend_from_slice(&rgb[3 * (y * width + x0)..3 * (y * width + x0 + w)]);
    }
    let resized = resize_bicubic(&crop, w, h, size, size);
    let flip = rng.random_bool(0.5);
    let mut out = vec![0u8; 3 * size * size];
    for y in 0..size {
        for x in 0..size {
            let sx = if flip { size - 1 - x } else { x };
            for c in 0..3 {
                out[c * size * size + y * size + x] = resized[3 * (y * size + sx) + c];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_resized_crop_boxes_fit_and_follow_the_ranges() {
        let mut rng = crate::rng::rng_for(3, &[]);
        for _ in 0..500 {
            let (x0, y0, w, h) = random_resized_crop_box(300, 200, (0.08, 1.0), (0.75, 4.0 / 3.0), &mut rng);
            assert!(x0 + w <= 300 && y0 + h <= 200 && w > 0 && h > 0);
            let frac = (w * h) as f64 / 60_000.0;
            assert!((0.07..=1.01).contains(&frac), "{frac}");
        }
        // A strip too thin for any box in range falls back to the clamped centre crop.
        let (x0, y0, w, h) = random_resized_crop_box(1000, 10, (0.9, 1.0), (0.75, 4.0 / 3.0), &mut rng);
        assert_eq!((w, h), (13, 10));
        assert_eq!((x0, y0), (493, 0));
        let out = clip_train_crop(&vec![9u8; 3 * 50 * 40], 50, 40, 24, &mut rng);
        assert_eq!(out.len(), 3 * 24 * 24);
        assert!(out.iter().all(|&v| v == 9));
    }

    #[test]
    fn sizes_and_offsets_follow_torchvision() {
        assert_eq!(shorter_side_size(640, 480, 224), (298, 224));
        assert_eq!(shorter_side_size(480, 640, 224), (224, 298));
        assert_eq!(shorter_side_size(500, 333, 224), (336, 224));
        // round(0.5) = 0, round(1.5) = 2, round(37.0) = 37.
        assert_eq!(center_offset(225, 224), 0);
        assert_eq!(center_offset(227, 224), 2);
        assert_eq!(center_offset(298, 224), 37);
    }

    #[test]
    fn a_constant_image_stays_constant() {
        let img = vec![77u8; 3 * 50 * 30];
        let out = resize_bicubic(&img, 50, 30, 17, 41);
        assert!(out.iter().all(|&v| v == 77));
    }
}
