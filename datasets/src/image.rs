//! Image classification data: the ImageFolder layout, the generated Shapes-10 set, training
//! augmentation (padded random crop, horizontal flip) and the batcher.
//!
//! ImageFolder: `root/train/<class>/*.png|jpg|jpeg` and `root/test/<class>/...` (or `root/val/`).
//! Classes are the folder names in sorted order (as torchvision's `ImageFolder`). Every image is
//! decoded with the `image` crate, converted to RGB, resized so its shorter side is `size`
//! (bilinear) and center-cropped to `size` x `size`.

use crate::rng::rng_for;
use crate::{Batcher, DataError, Dataset, Result, Rng};
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One image (`[3, size, size]` RGB bytes, channel-major) and its class.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageItem {
    /// Pixels, CHW order.
    pub pixels: Vec<u8>,
    /// Side length.
    pub size: usize,
    /// Class index.
    pub label: usize,
}

/// Random training augmentation (the CIFAR recipe by default).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Augment {
    /// Zero-pad by this many pixels, then crop back at a random offset (0 = off).
    pub pad_crop: usize,
    /// Flip left-right with probability 0.5.
    pub hflip: bool,
}

impl Default for Augment {
    fn default() -> Self {
        Self {
            pad_crop: 4,
            hflip: true,
        }
    }
}

impl Augment {
    /// No augmentation.
    pub fn none() -> Self {
        Self {
            pad_crop: 0,
            hflip: false,
        }
    }

    /// Applies the augmentation to `item`.
    pub fn apply(&self, mut item: ImageItem, rng: &mut Rng) -> ImageItem {
        let s = item.size;
        if self.pad_crop > 0 {
            let p = self.pad_crop as i64;
            let dx = rng.random_range(-p..=p) as isize;
            let dy = rng.random_range(-p..=p) as isize;
            let mut out = vec![0u8; item.pixels.len()];
            for c in 0..3 {
                for y in 0..s as isize {
                    let sy = y + dy;
                    if sy < 0 || sy >= s as isize {
                        continue;
                    }
                    for x in 0..s as isize {
                        let sx = x + dx;
                        if sx >= 0 && sx < s as isize {
                            out[c * s * s + y as usize * s + x as usize] =
                                item.pixels[c * s * s + sy as usize * s + sx as usize];
                        }
                    }
                }
            }
            item.pixels = out;
        }
        if self.hflip && rng.random_bool(0.5) {
            for row in item.pixels.chunks_exact_mut(s) {
                row.reverse();
            }
        }
        item
    }
}

/// Images and labels as tensors: `[N, 3, S, S]` normalised floats and `[N]` classes.
#[derive(Debug, Clone)]
pub struct ImageBatch {
    /// Normalised images.
    pub images: Tensor<4>,
    /// Class indices.
    pub labels: Tensor<1, Int>,
}

/// Stacks [`ImageItem`]s: `(pixel / 255 - mean) / std` per channel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ImageBatcher {
    /// Channel means (of pixel / 255).
    pub mean: [f32; 3],
    /// Channel standard deviations.
    pub std: [f32; 3],
}

impl Default for ImageBatcher {
    /// ImageNet statistics.
    fn default() -> Self {
        Self {
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
        }
    }
}

impl Batcher<ImageItem, ImageBatch> for ImageBatcher {
    fn batch(&self, items: Vec<ImageItem>, device: &Device) -> ImageBatch {
        let n = items.len();
        let s = items.first().map_or(0, |i| i.size);
        let mut data = Vec::with_capacity(n * 3 * s * s);
        let mut labels = Vec::with_capacity(n);
        for item in items {
            assert_eq!(item.size, s, "images of one batch differ in size");
            for (c, plane) in item.pixels.chunks_exact(s * s).enumerate() {
                let (m, sd) = (self.mean[c], self.std[c]);
                data.extend(plane.iter().map(|&p| (p as f32 / 255.0 - m) / sd));
            }
            labels.push(item.label as i64);
        }
        ImageBatch {
            images: Tensor::from_data(TensorData::new(data, [n, 3, s, s]), device),
            labels: Tensor::from_data(TensorData::new(labels, [n]), device),
        }
    }
}

/// An image classification split held as files.
#[derive(Debug, Clone)]
pub struct ImageFolder {
    samples: Vec<(PathBuf, usize)>,
    classes: Vec<String>,
    size: usize,
    augment: Augment,
    resize: Resize,
}

/// How images are brought to `size x size` (always: shorter side to `size`, then center crop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resize {
    /// Bilinear (the `image` crate's triangle filter), rounded sizes: the zoo's classifiers.
    #[default]
    Bilinear,
    /// CLIP's preprocessing, bit-exact with Pillow/torchvision on decoded pixels
    /// ([`crate::resample::clip_resize_crop`]).
    PilBicubic,
}

const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// Whether `path` names a `.png`, `.jpg` or `.jpeg` file (by extension, any case).
pub fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The `.png`/`.jpg`/`.jpeg` files of `dir`, sorted.
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(sorted_entries(dir)?.into_iter().filter(|p| is_image(p)).collect())
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|e| DataError::io(dir, e)))
        .collect::<Result<_>>()?;
    entries.sort();
    Ok(entries)
}

impl ImageFolder {
    /// Opens `split_dir` (e.g. `root/train`), one sub-folder per class. With `classes`, the folder
    /// must use exactly those class names (the training split's), so labels agree across splits.
    pub fn open(split_dir: &Path, size: usize, augment: Augment, classes: Option<&[String]>) -> Result<Self> {
        if size == 0 {
            return Err(DataError::invalid("image size must be at least 1"));
        }
        if !split_dir.is_dir() {
            return Err(DataError::format(
                split_dir,
                "not a directory (expected one folder per class)",
            ));
        }
        let found: Vec<PathBuf> = sorted_entries(split_dir)?
            .into_iter()
            .filter(|p| p.is_dir())
            .collect();
        let names: Vec<String> = found
            .iter()
            .map(|p| p.file_name().unwrap_or_default().to_string_lossy().into_owned())
            .collect();
        if names.is_empty() {
            return Err(DataError::format(
                split_dir,
                "no class folders found (expected <split>/<class>/<image>.png|jpg)",
            ));
        }
        let classes: Vec<String> = match classes {
            Some(expected) => {
                if let Some(extra) = names.iter().find(|n| !expected.contains(n)) {
                    return Err(DataError::format(
                        split_dir,
                        format!("class folder `{extra}` does not exist in the training split"),
                    ));
                }
                expected.to_vec()
            }
            None => names.clone(),
        };
        let mut samples = Vec::new();
        for (dir, name) in found.iter().zip(&names) {
            let label = classes.iter().position(|c| c == name).expect("checked above");
            let images: Vec<PathBuf> = sorted_entries(dir)?
                .into_iter()
                .filter(|p| p.is_file() && is_image(p))
                .collect();
            if images.is_empty() {
                return Err(DataError::format(
                    dir,
                    "class folder holds no .png/.jpg/.jpeg image",
                ));
            }
            samples.extend(images.into_iter().map(|p| (p, label)));
        }
        Ok(Self {
            samples,
            classes,
            size,
            augment,
            resize: Resize::Bilinear,
        })
    }

    /// The same folder, resized with `resize`.
    pub fn with_resize(mut self, resize: Resize) -> Self {
        self.resize = resize;
        self
    }

    /// Opens `root/train` and `root/test` (or `root/val`).
    pub fn open_root(root: &Path, size: usize, augment: Augment) -> Result<(Self, Self)> {
        let train = Self::open(&root.join("train"), size, augment, None)?;
        let test_dir = ["test", "val"].iter().map(|s| root.join(s)).find(|p| p.is_dir()).ok_or_else(|| {
            DataError::format(root, "no `test` or `val` folder next to `train` (ImageFolder layout: <root>/{train,test}/<class>/<image>)")
        })?;
        let test = Self::open(&test_dir, size, Augment::none(), Some(&train.classes))?;
        Ok((train, test))
    }

    /// Class names, index order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Files and labels.
    pub fn samples(&self) -> &[(PathBuf, usize)] {
        &self.samples
    }

    fn load(&self, index: usize) -> Result<ImageItem> {
        let (path, label) = self
            .samples
            .get(index)
            .ok_or_else(|| DataError::invalid(format!("image index {index} out of range")))?;
        let pixels = match self.resize {
            Resize::Bilinear => load_image(path, self.size)?,
            Resize::PilBicubic => load_image_clip(path, self.size)?,
        };
        Ok(ImageItem {
            pixels,
            size: self.size,
            label: *label,
        })
    }
}

impl Dataset<ImageItem> for ImageFolder {
    fn len(&self) -> usize {
        self.samples.len()
    }

    fn get(&self, index: usize) -> Result<ImageItem> {
        self.load(index)
    }

    fn get_train(&self, index: usize, rng: &mut Rng) -> Result<ImageItem> {
        Ok(self.augment.apply(self.load(index)?, rng))
    }
}

/// Decodes `path` (PNG or JPEG, by content) to RGB; an unreadable or empty image is an error
/// naming the file.
pub fn decode_rgb(path: &Path) -> Result<image::RgbImage> {
    let img = image::ImageReader::open(path)
        .map_err(|e| DataError::io(path, e))?
        .with_guessed_format()
        .map_err(|e| DataError::io(path, e))?
        .decode()
        .map_err(|e| DataError::format(path, format!("cannot decode image: {e}")))?
        .to_rgb8();
    if img.width() == 0 || img.height() == 0 {
        return Err(DataError::format(path, "image has no pixels"));
    }
    Ok(img)
}

/// Decodes `path` and applies CLIP's resize and center crop (Pillow bicubic, bit-exact on the
/// decoded pixels); returns CHW bytes, `3 x size x size`.
pub fn load_image_clip(path: &Path, size: usize) -> Result<Vec<u8>> {
    let img = decode_rgb(path)?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    Ok(crate::resample::clip_resize_crop(img.as_raw(), w, h, size))
}

/// Decodes `path`, converts to RGB, resizes the shorter side to `size` and center-crops to
/// `size` x `size`; returns CHW bytes.
pub fn load_image(path: &Path, size: usize) -> Result<Vec<u8>> {
    let img = decode_rgb(path)?;
    let (w, h) = img.dimensions();
    let scale = size as f64 / w.min(h) as f64;
    let (nw, nh) = (
        ((w as f64 * scale).round() as u32).max(size as u32),
        ((h as f64 * scale).round() as u32).max(size as u32),
    );
    let resized = if (nw, nh) == (w, h) {
        img
    } else {
        image::imageops::resize(&img, nw, nh, image::imageops::FilterType::Triangle)
    };
    let (x0, y0) = ((nw - size as u32) / 2, (nh - size as u32) / 2);
    let mut out = vec![0u8; 3 * size * size];
    for y in 0..size {
        for x in 0..size {
            let p = resized.get_pixel(x0 + x as u32, y0 + y as u32);
            for c in 0..3 {
                out[c * size * size + y * size + x] = p[c];
            }
        }
    }
    Ok(out)
}

/// Writes `item` as a PNG (for exporting generated data as an ImageFolder).
pub fn save_png(item: &ImageItem, path: &Path) -> Result<()> {
    let s = item.size;
    let mut img = image::RgbImage::new(s as u32, s as u32);
    for (x, y, p) in img.enumerate_pixels_mut() {
        let i = y as usize * s + x as usize;
        *p = image::Rgb([item.pixels[i], item.pixels[s * s + i], item.pixels[2 * s * s + i]]);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    }
    img.save(path)
        .map_err(|e| DataError::format(path, format!("cannot write PNG: {e}")))
}

/// Shapes-10: a generated 10-class image set. Five shape classes (disc, square, triangle, cross,
/// ring) drawn at a random position, size and rotation, and five texture classes (horizontal,
/// vertical and diagonal stripes, checkerboard, dot grid) with random period and phase, filling
/// a random rectangle; random foreground and background colours (so colour carries no class
/// information), a random background gradient and Gaussian pixel noise. Deterministic in `seed`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Shapes {
    /// Training images (balanced over the classes).
    pub train: usize,
    /// Test images.
    pub test: usize,
    /// Side length.
    pub size: usize,
    /// Standard deviation of the pixel noise (0-255 scale).
    pub noise: f32,
    /// Seed of the draw (independent of the training seed).
    pub seed: u64,
}

impl Default for Shapes {
    fn default() -> Self {
        Self {
            train: 5000,
            test: 1000,
            size: 32,
            noise: 12.0,
            seed: 0,
        }
    }
}

/// Class names of Shapes-10.
pub const SHAPE_CLASSES: [&str; 10] = [
    "disc", "square", "triangle", "cross", "ring", "hstripes", "vstripes", "dstripes", "checker", "dots",
];

impl Shapes {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        if self.train < 10 || self.test < 10 || self.size < 16 {
            return Err(DataError::invalid(
                "shapes: need at least 10 images per split and size >= 16",
            ));
        }
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return Err(DataError::invalid(
                "shapes: noise must be finite and non-negative",
            ));
        }
        Ok(())
    }

    /// Training and test splits (independent streams), each a [`GeneratedImages`].
    pub fn split(&self, augment: Augment) -> (GeneratedImages, GeneratedImages) {
        let make = |n: usize, stream: u64| {
            (0..n)
                .map(|i| self.render(i % 10, rng_for(self.seed, &[stream, i as u64])))
                .collect()
        };
        (
            GeneratedImages {
                items: make(self.train, 1),
                augment,
            },
            GeneratedImages {
                items: make(self.test, 2),
                augment: Augment::none(),
            },
        )
    }

    fn render(&self, label: usize, mut rng: Rng) -> ImageItem {
        let s = self.size;
        let sf = s as f32;
        let color = |rng: &mut Rng| {
            [
                rng.random_range(0.0..255.0f32),
                rng.random_range(0.0..255.0),
                rng.random_range(0.0..255.0),
            ]
        };
        let bg = color(&mut rng);
        // Foreground far enough from the background to be visible.
        let mut fg = color(&mut rng);
        while (0..3).map(|c| (fg[c] - bg[c]).abs()).sum::<f32>() < 150.0 {
            fg = color(&mut rng);
        }
        let grad = [rng.random_range(-40.0..40.0f32), rng.random_range(-40.0..40.0f32)];
        let theta = rng.random_range(0.0..std::f32::consts::TAU);
        let (sin, cos) = theta.sin_cos();
        let radius = rng.random_range(0.2 * sf..0.38 * sf);
        let cx = rng.random_range(radius..sf - radius);
        let cy = rng.random_range(radius..sf - radius);
        let period = rng.random_range(4.0..8.0f32);
        let phase = rng.random_range(0.0..period);
        let diag = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
        let (rx0, ry0) = (rng.random_range(0.0..0.3 * sf), rng.random_range(0.0..0.3 * sf));
        let (rx1, ry1) = (rng.random_range(0.7 * sf..sf), rng.random_range(0.7 * sf..sf));
        let noise = rand_distr::Normal::new(0.0f32, self.noise.max(1e-6)).expect("finite");
        let mut pixels = vec![0u8; 3 * s * s];
        for y in 0..s {
            for x in 0..s {
                let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                let inside = if label < 5 {
                    let (dx, dy) = (px - cx, py - cy);
                    let (u, v) = (cos * dx + sin * dy, -sin * dx + cos * dy);
                    in_shape(label, u, v, radius, 0.8, 0.3)
                } else {
                    let in_rect = px >= rx0 && px < rx1 && py >= ry0 && py < ry1;
                    let band = |t: f32| (t + phase).rem_euclid(period) < period / 2.0;
                    in_rect
                        && match label {
                            5 => band(py),
                            6 => band(px),
                            7 => band((px + diag * py) / std::f32::consts::SQRT_2),
                            8 => band(px) ^ band(py),
                            _ => {
                                let (ux, uy) =
                                    ((px + phase).rem_euclid(period), (py + phase).rem_euclid(period));
                                let c = period / 2.0;
                                (ux - c).powi(2) + (uy - c).powi(2) < (period * 0.3).powi(2)
                            }
                        }
                };
                let shade = grad[0] * (px / sf - 0.5) + grad[1] * (py / sf - 0.5);
                for c in 0..3 {
                    let base = if inside { fg[c] } else { bg[c] + shade };
                    let v: f32 = base + rand_distr::Distribution::sample(&noise, &mut rng);
                    pixels[c * s * s + y * s + x] = v.round().clamp(0.0, 255.0) as u8;
                }
            }
        }
        ImageItem {
            pixels,
            size: s,
            label,
        }
    }

    /// Writes both splits as an ImageFolder under `root` (`train/<class>/<index>.png`, `test/...`).
    pub fn write_image_folder(&self, root: &Path) -> Result<()> {
        let (train, test) = self.split(Augment::none());
        for (split, data) in [("train", &train), ("test", &test)] {
            for (i, item) in data.items.iter().enumerate() {
                save_png(
                    item,
                    &root
                        .join(split)
                        .join(SHAPE_CLASSES[item.label])
                        .join(format!("{i:05}.png")),
                )?;
            }
        }
        Ok(())
    }
}

/// Whether the point `(u, v)` (object frame, centre at the origin) lies in shape `shape` of size
/// `radius`: 0 disc, 1 square of half-side `square * radius`, 2 equilateral triangle with
/// circumradius `radius`, 3 cross of half-width `bar * radius`, 4 ring (0.55 to 1 of `radius`).
pub(crate) fn in_shape(shape: usize, u: f32, v: f32, radius: f32, square: f32, bar: f32) -> bool {
    let r = (u * u + v * v).sqrt();
    match shape {
        0 => r < radius,
        1 => u.abs().max(v.abs()) < radius * square,
        2 => {
            let k = 3f32.sqrt();
            v < radius * 0.5 && k * u - v < radius && -k * u - v < radius
        }
        3 => (u.abs() < radius * bar && v.abs() < radius) || (v.abs() < radius * bar && u.abs() < radius),
        _ => r < radius && r > radius * 0.55,
    }
}

/// Generated images held in memory (augmented on the training view).
#[derive(Debug, Clone)]
pub struct GeneratedImages {
    items: Vec<ImageItem>,
    augment: Augment,
}

impl GeneratedImages {
    /// Images held in memory, `augment` applied on the training view.
    pub fn new(items: Vec<ImageItem>, augment: Augment) -> Self {
        Self { items, augment }
    }

    /// The images.
    pub fn items(&self) -> &[ImageItem] {
        &self.items
    }
}

impl Dataset<ImageItem> for GeneratedImages {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn get(&self, index: usize) -> Result<ImageItem> {
        self.items
            .get(index)
            .cloned()
            .ok_or_else(|| DataError::invalid(format!("image index {index} out of range")))
    }

    fn get_train(&self, index: usize, rng: &mut Rng) -> Result<ImageItem> {
        Ok(self.augment.apply(self.get(index)?, rng))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Shapes {
        Shapes {
            train: 40,
            test: 20,
            ..Default::default()
        }
    }

    #[test]
    fn shapes_are_deterministic_balanced_and_varied() {
        let (a, _) = tiny().split(Augment::none());
        let (b, t) = tiny().split(Augment::none());
        assert_eq!(a.items(), b.items());
        assert_eq!(t.len(), 20);
        for c in 0..10 {
            assert_eq!(a.items().iter().filter(|i| i.label == c).count(), 4);
        }
        // Two images of one class differ (position, colour, noise).
        assert_ne!(a.items()[0].pixels, a.items()[10].pixels);
        let (other, _) = Shapes { seed: 1, ..tiny() }.split(Augment::none());
        assert_ne!(other.items()[0].pixels, a.items()[0].pixels);
    }

    #[test]
    fn augmentation_is_reproducible_and_keeps_shape() {
        let (a, _) = tiny().split(Augment::default());
        let x = a.get_train(3, &mut rng_for(9, &[1])).unwrap();
        let y = a.get_train(3, &mut rng_for(9, &[1])).unwrap();
        assert_eq!(x, y);
        assert_eq!(x.pixels.len(), 3 * 32 * 32);
        // A flip of a flip is the identity.
        let item = a.get(3).unwrap();
        let flip = Augment {
            pad_crop: 0,
            hflip: true,
        };
        let mut rng = rng_for(0, &[]);
        let mut once = flip.apply(item.clone(), &mut rng);
        while once == item {
            once = flip.apply(item.clone(), &mut rng);
        }
        let mut twice = flip.apply(once.clone(), &mut rng);
        while twice == once {
            twice = flip.apply(once.clone(), &mut rng);
        }
        assert_eq!(twice, item);
    }

    #[test]
    fn image_folder_round_trip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        tiny().write_image_folder(root).unwrap();
        let (train, test) = ImageFolder::open_root(root, 32, Augment::none()).unwrap();
        assert_eq!(train.len(), 40);
        assert_eq!(test.len(), 20);
        let mut sorted: Vec<String> = SHAPE_CLASSES.iter().map(|s| s.to_string()).collect();
        sorted.sort();
        assert_eq!(train.classes(), &sorted[..]);
        // PNG is lossless: the decoded files are the generated pixels.
        let (gen_train, _) = tiny().split(Augment::none());
        let first = &train.samples()[0];
        let index: usize = first.0.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        let loaded = train.get(0).unwrap();
        assert_eq!(loaded.pixels, gen_train.items()[index].pixels);
        assert_eq!(
            train.classes()[loaded.label],
            SHAPE_CLASSES[gen_train.items()[index].label]
        );
        // Resize + center crop of a non-square image.
        let wide = root.join("wide.png");
        image::RgbImage::from_pixel(64, 40, image::Rgb([10, 20, 30]))
            .save(&wide)
            .unwrap();
        let px = load_image(&wide, 16).unwrap();
        assert_eq!(px.len(), 3 * 16 * 16);
        assert_eq!((px[0], px[256], px[512]), (10, 20, 30));
        // A corrupt file names itself.
        let bad = root.join("train/disc/00000.png");
        std::fs::write(&bad, b"not a png").unwrap();
        let idx = train.samples().iter().position(|(p, _)| p == &bad).unwrap();
        let err = train.get(idx).unwrap_err().to_string();
        assert!(err.contains("00000.png") && err.contains("decode"), "{err}");
        // An empty class folder and a test class missing from train are errors naming the folder.
        std::fs::create_dir_all(root.join("train/empty")).unwrap();
        let err = ImageFolder::open(&root.join("train"), 32, Augment::none(), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("empty") && err.contains("no .png"), "{err}");
        std::fs::remove_dir(root.join("train/empty")).unwrap();
        std::fs::create_dir_all(root.join("test/zebra")).unwrap();
        let err = ImageFolder::open_root(root, 32, Augment::none())
            .unwrap_err()
            .to_string();
        assert!(err.contains("zebra"), "{err}");
        let err = ImageFolder::open_root(&root.join("nowhere"), 32, Augment::none())
            .unwrap_err()
            .to_string();
        assert!(err.contains("nowhere"), "{err}");
    }
}

/// Where the images of an image-classification run come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum ImageSource {
    /// The generated Shapes-10 set (the embedded default).
    Shapes(Shapes),
    /// An ImageFolder root with `train/` and `test/` (or `val/`).
    Folder {
        /// The root.
        path: PathBuf,
        /// Images are resized (shorter side) and center-cropped to this size.
        size: usize,
    },
}

/// Data of an image-classification run: source, augmentation and normalisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageData {
    /// Source.
    pub source: ImageSource,
    /// Training augmentation.
    pub augment: Augment,
    /// Normalisation.
    pub normalize: ImageBatcher,
}

impl Default for ImageData {
    fn default() -> Self {
        Self {
            source: ImageSource::Shapes(Shapes::default()),
            augment: Augment::default(),
            normalize: ImageBatcher {
                mean: [0.5, 0.5, 0.5],
                std: [0.25, 0.25, 0.25],
            },
        }
    }
}

/// Opened training and test splits.
pub struct ImageSplits {
    /// Training split (augmented on its training view).
    pub train: Box<dyn Dataset<ImageItem>>,
    /// Test split.
    pub test: Box<dyn Dataset<ImageItem>>,
    /// Class names, index order.
    pub classes: Vec<String>,
    /// Side length of the images.
    pub size: usize,
}

impl ImageData {
    /// An ImageFolder at `path` with images of `size` pixels (ImageNet normalisation).
    pub fn folder(path: PathBuf, size: usize) -> Self {
        Self {
            source: ImageSource::Folder { path, size },
            normalize: ImageBatcher::default(),
            ..Default::default()
        }
    }

    /// Opens (or generates) both splits.
    pub fn open(&self) -> Result<ImageSplits> {
        match &self.source {
            ImageSource::Shapes(s) => {
                s.validate()?;
                let (train, test) = s.split(self.augment);
                Ok(ImageSplits {
                    train: Box::new(train),
                    test: Box::new(test),
                    classes: SHAPE_CLASSES.iter().map(|c| c.to_string()).collect(),
                    size: s.size,
                })
            }
            ImageSource::Folder { path, size } => {
                let (train, test) = ImageFolder::open_root(path, *size, self.augment)?;
                let classes = train.classes().to_vec();
                Ok(ImageSplits {
                    train: Box::new(train),
                    test: Box::new(test),
                    classes,
                    size: *size,
                })
            }
        }
    }

    /// Number of classes without opening the data (folders are listed).
    pub fn num_classes(&self) -> Result<usize> {
        match &self.source {
            ImageSource::Shapes(_) => Ok(SHAPE_CLASSES.len()),
            ImageSource::Folder { path, size } => {
                Ok(
                    ImageFolder::open(&path.join("train"), *size, Augment::none(), None)?
                        .classes()
                        .len(),
                )
            }
        }
    }

    /// Image side length.
    pub fn size(&self) -> usize {
        match &self.source {
            ImageSource::Shapes(s) => s.size,
            ImageSource::Folder { size, .. } => *size,
        }
    }
}
