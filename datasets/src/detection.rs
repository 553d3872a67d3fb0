//! Detection inputs: YOLO label files, the letterbox of YOLO models (aspect-preserving resize,
//! grey padding to a stride multiple) and the mapping of boxes back to the original image.

pub mod augment;

use crate::error::{DataError, Result};
use augment::{DetectionAugment, PixelBox};
use image::RgbImage;
use std::path::{Path, PathBuf};

/// One labelled object of a YOLO label file: class and normalised centre x, y, width, height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct YoloBox {
    /// Class index.
    pub class: usize,
    /// Centre x, centre y, width, height, as fractions of the image size.
    pub cxcywh: [f32; 4],
}

/// The label file of an image in the YOLO layout: the last `/images/` of the path becomes
/// `/labels/` and the extension `.txt` (the reference's `img2label_paths`).
pub fn label_path(image: &Path) -> PathBuf {
    let text = image.to_string_lossy();
    let sep = std::path::MAIN_SEPARATOR;
    let (from, to) = (format!("{sep}images{sep}"), format!("{sep}labels{sep}"));
    let swapped = match text.rfind(&from) {
        Some(i) => format!("{}{to}{}", &text[..i], &text[i + from.len()..]),
        None => text.into_owned(),
    };
    PathBuf::from(swapped).with_extension("txt")
}

/// Parses a YOLO label file's text (`path` names it in errors): one object per line, `class cx
/// cy w h` normalised to [0, 1], or `class x1 y1 x2 y2 ...` polygons (more than six fields,
/// reduced to their bounding box as the reference's `segments2boxes`). Blank lines are skipped;
/// exact duplicate lines are dropped (returned count). Errors name the line and field: a wrong
/// number of fields, a non-number, a class that is not an integer in 0..num_classes, a negative
/// value or a coordinate above 1.
pub fn parse_yolo_labels(
    text: &str,
    path: &Path,
    num_classes: Option<usize>,
) -> Result<(Vec<YoloBox>, usize)> {
    let mut out: Vec<YoloBox> = Vec::new();
    let mut duplicates = 0;
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let polygon = fields.len() > 6;
        if fields.len() != 5 && !(polygon && fields.len() % 2 == 1) {
            return Err(DataError::at_line(
                path,
                line_no,
                None,
                format!(
                    "{} fields; a label is `class cx cy w h` (5 fields) or a polygon `class x1 y1 x2 y2 x3 y3 ...` (an odd count above 6)",
                    fields.len()
                ),
            ));
        }
        let mut values = Vec::with_capacity(fields.len());
        for (i, f) in fields.iter().enumerate() {
            let name = match (i, polygon) {
                (0, _) => "class".to_string(),
                (i, false) => ["cx", "cy", "w", "h"][i - 1].to_string(),
                (i, true) => format!("{}{}", if i % 2 == 1 { "x" } else { "y" }, i.div_ceil(2)),
            };
            let v: f32 = f.parse().ok().filter(|v: &f32| v.is_finite()).ok_or_else(|| {
                DataError::at_line(path, line_no, Some(&name), format!("`{f}` is not a number"))
            })?;
            if v < 0.0 {
                return Err(DataError::at_line(
                    path,
                    line_no,
                    Some(&name),
                    format!("{v} is negative"),
                ));
            }
            if i > 0 && v > 1.0 {
                return Err(DataError::at_line(
                    path,
                    line_no,
                    Some(&name),
                    format!("{v} is above 1: coordinates must be normalised to the image size"),
                ));
            }
            values.push(v);
        }
        let class = values[0];
        if class.fract() != 0.0 || num_classes.is_some_and(|nc| class as usize >= nc) {
            return Err(DataError::at_line(
                path,
                line_no,
                Some("class"),
                match num_classes {
                    Some(nc) => format!("class {class} is not one of 0..{nc}"),
                    None => format!("class {class} is not an integer"),
                },
            ));
        }
        let cxcywh = if polygon {
            let (xs, ys): (Vec<f32>, Vec<f32>) = values[1..].chunks(2).map(|p| (p[0], p[1])).unzip();
            let fold = |v: &[f32]| {
                v.iter()
                    .fold((f32::MAX, f32::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)))
            };
            let ((x0, x1), (y0, y1)) = (fold(&xs), fold(&ys));
            [(x0 + x1) / 2.0, (y0 + y1) / 2.0, x1 - x0, y1 - y0]
        } else {
            [values[1], values[2], values[3], values[4]]
        };
        let b = YoloBox {
            class: class as usize,
            cxcywh,
        };
        if out.contains(&b) {
            duplicates += 1;
        } else {
            out.push(b);
        }
    }
    Ok((out, duplicates))
}

/// Reads the labels of `image` ([`label_path`]); a missing label file means no objects (the
/// reference's convention for background images), reported as `None`.
pub fn read_yolo_labels(image: &Path, num_classes: Option<usize>) -> Result<Option<(Vec<YoloBox>, usize)>> {
    let path = label_path(image);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_yolo_labels(&text, &path, num_classes).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DataError::io(&path, e)),
    }
}

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

/// Class names of the generated detection shapes.
pub const DETECTION_SHAPES: [&str; 4] = ["disc", "square", "triangle", "ring"];

/// A generated detection dataset: images of several shapes (discs, squares, triangles, rings) of
/// varied sizes and colours on cluttered gradient backgrounds, later shapes occluding earlier
/// ones; each box is the full extent of its shape (occluded parts included, as annotators draw
/// them), clipped to the image.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapesDetection {
    /// Images per draw.
    pub images: usize,
    /// Square image side in pixels.
    pub size: u32,
    /// Most objects per image (at least one).
    pub max_objects: usize,
    /// Seed of the draw.
    pub seed: u64,
}

impl Default for ShapesDetection {
    fn default() -> Self {
        Self {
            images: 512,
            size: 256,
            max_objects: 6,
            seed: 0,
        }
    }
}

/// One generated image and its labels.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionSample {
    /// The image.
    pub image: RgbImage,
    /// Its objects.
    pub boxes: Vec<YoloBox>,
}

impl ShapesDetection {
    /// The images of draw `stream` (e.g. 0 for training, 1 for validation: independent).
    pub fn generate(&self, stream: u64) -> Result<Vec<DetectionSample>> {
        if self.size < 32 || self.max_objects == 0 {
            return Err(DataError::invalid(
                "shapes detection: size must be at least 32 and max_objects at least 1",
            ));
        }
        Ok((0..self.images)
            .map(|i| self.render(crate::rng::rng_for(self.seed, &[0xde7, stream, i as u64])))
            .collect())
    }

    fn render(&self, mut rng: crate::Rng) -> DetectionSample {
        use rand::RngExt;
        let n = self.size;
        let sf = n as f32;
        let mut img = RgbImage::new(n, n);
        let c0: [f32; 3] = std::array::from_fn(|_| rng.random_range(0.0..255.0f32));
        let grad: [f32; 2] = [rng.random_range(-60.0..60.0f32), rng.random_range(-60.0..60.0f32)];
        let stripes = rng.random_range(6.0..24.0f32);
        for (x, y, p) in img.enumerate_pixels_mut() {
            let (u, v) = (x as f32 / sf - 0.5, y as f32 / sf - 0.5);
            let clutter = if ((x as f32 + y as f32 * 0.5) / stripes).floor() as i32 % 2 == 0 {
                12.0
            } else {
                -12.0
            };
            *p = image::Rgb(std::array::from_fn(|c| {
                (c0[c] + grad[0] * u + grad[1] * v + clutter + rng.random_range(-10.0..10.0f32))
                    .clamp(0.0, 255.0) as u8
            }));
        }
        let count = rng.random_range(1..=self.max_objects);
        let mut boxes = Vec::with_capacity(count);
        for _ in 0..count {
            let class = rng.random_range(0..DETECTION_SHAPES.len());
            let r = rng.random_range(0.04 * sf..0.22 * sf);
            let (cx, cy) = (rng.random_range(0.0..sf), rng.random_range(0.0..sf));
            // A colour far from the background's.
            let mut col: [f32; 3] = std::array::from_fn(|_| rng.random_range(0.0..255.0f32));
            while (0..3).map(|c| (col[c] - c0[c]).abs()).sum::<f32>() < 180.0 {
                col = std::array::from_fn(|_| rng.random_range(0.0..255.0f32));
            }
            let inside = |px: f32, py: f32| {
                let (dx, dy) = (px - cx, py - cy);
                match class {
                    0 => dx * dx + dy * dy <= r * r,
                    1 => dx.abs() <= r && dy.abs() <= r,
                    2 => dy <= r && dy >= -r && dx.abs() <= (dy + r) / 2.0,
                    _ => {
                        let d2 = dx * dx + dy * dy;
                        d2 <= r * r && d2 >= (0.55 * r) * (0.55 * r)
                    }
                }
            };
            let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
            let lo = |v: f32| (v - r - 1.0).floor().max(0.0) as u32;
            let hi = |v: f32| ((v + r + 1.0).ceil() as u32).min(n);
            for y in lo(cy)..hi(cy) {
                for x in lo(cx)..hi(cx) {
                    if inside(x as f32 + 0.5, y as f32 + 0.5) {
                        img.put_pixel(x, y, image::Rgb(col.map(|c| c as u8)));
                        (x0, y0, x1, y1) = (
                            x0.min(x as f32),
                            y0.min(y as f32),
                            x1.max(x as f32 + 1.0),
                            y1.max(y as f32 + 1.0),
                        );
                    }
                }
            }
            // Shapes cut by the border to a sliver are not objects.
            if x1 - x0 >= 3.0 && y1 - y0 >= 3.0 {
                boxes.push(YoloBox {
                    class,
                    cxcywh: [
                        (x0 + x1) / 2.0 / sf,
                        (y0 + y1) / 2.0 / sf,
                        (x1 - x0) / sf,
                        (y1 - y0) / sf,
                    ],
                });
            }
        }
        DetectionSample { image: img, boxes }
    }
}

/// Writes samples in the YOLO layout: `root/images/<split>/NNNNN.png`, `root/labels/<split>/NNNNN.txt`
/// (one `class cx cy w h` line per object, 6 decimals).
pub fn write_yolo_split(root: &Path, split: &str, samples: &[DetectionSample]) -> Result<()> {
    let (images, labels) = (root.join("images").join(split), root.join("labels").join(split));
    for dir in [&images, &labels] {
        std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    }
    for (i, s) in samples.iter().enumerate() {
        let png = images.join(format!("{i:05}.png"));
        s.image
            .save(&png)
            .map_err(|e| DataError::format(&png, format!("cannot write: {e}")))?;
        let text: String = s
            .boxes
            .iter()
            .map(|b| {
                let [x, y, w, h] = b.cxcywh;
                format!("{} {x:.6} {y:.6} {w:.6} {h:.6}\n", b.class)
            })
            .collect();
        let txt = labels.join(format!("{i:05}.txt"));
        std::fs::write(&txt, text).map_err(|e| DataError::io(&txt, e))?;
    }
    Ok(())
}

/// A YOLO-layout split read from disk.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct YoloSplit {
    /// Image files with their objects (background images have none).
    pub items: Vec<(PathBuf, Vec<YoloBox>)>,
    /// Images without a label file (kept as backgrounds, as the reference does).
    pub missing_labels: usize,
    /// Duplicate label lines dropped.
    pub duplicates: usize,
    /// Label files without an image (ignored).
    pub orphan_labels: usize,
    /// COCO annotations skipped: crowd regions and boxes without area (as the reference's
    /// COCO-to-YOLO conversion skips them).
    pub skipped: usize,
}

impl YoloSplit {
    /// Appends another split's images and counts.
    pub fn extend(&mut self, other: YoloSplit) {
        self.items.extend(other.items);
        self.missing_labels += other.missing_labels;
        self.duplicates += other.duplicates;
        self.orphan_labels += other.orphan_labels;
        self.skipped += other.skipped;
    }

    /// Adds image `f` with the objects of its label file (none, counted, if it has no file).
    fn push_labelled(&mut self, f: PathBuf, num_classes: usize) -> Result<()> {
        match read_yolo_labels(&f, Some(num_classes))? {
            Some((boxes, d)) => {
                self.duplicates += d;
                self.items.push((f, boxes));
            }
            None => {
                self.missing_labels += 1;
                self.items.push((f, Vec::new()));
            }
        }
        Ok(())
    }
}

/// Reads the images of `images_dir` (`.jpg`, `.jpeg`, `.png`, sorted) and their labels
/// ([`label_path`]); any malformed label line is an error naming its file and line.
pub fn read_yolo_split(images_dir: &Path, num_classes: usize) -> Result<YoloSplit> {
    let files = crate::image::image_files(images_dir)?;
    if files.is_empty() {
        return Err(DataError::format(images_dir, "no .jpg, .jpeg or .png images"));
    }
    let mut split = YoloSplit::default();
    for f in files {
        split.push_labelled(f, num_classes)?;
    }
    let labels_dir = label_path(&images_dir.join("x.png"))
        .parent()
        .map(Path::to_path_buf);
    split.orphan_labels = labels_dir
        .filter(|d| d != images_dir)
        .and_then(|d| std::fs::read_dir(d).ok())
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "txt"))
                .filter(|p| {
                    let stem = p.file_stem().unwrap_or_default();
                    !split.items.iter().any(|(img, _)| img.file_stem() == Some(stem))
                })
                .count()
        })
        .unwrap_or(0);
    Ok(split)
}

/// Reads the images of `sources`, each a folder ([`read_yolo_split`]) or a `.txt` file listing
/// image paths one per line (relative paths, with or without a leading `./`, are relative to
/// the list's folder), with their YOLO labels.
pub fn read_yolo_sources(sources: &[PathBuf], num_classes: usize) -> Result<YoloSplit> {
    let mut split = YoloSplit::default();
    for source in sources {
        if source.is_dir() {
            split.extend(read_yolo_split(source, num_classes)?);
            continue;
        }
        let text = std::fs::read_to_string(source).map_err(|e| DataError::io(source, e))?;
        let base = source.parent().unwrap_or(Path::new("."));
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let f = base.join(line.strip_prefix("./").unwrap_or(line));
            if !crate::image::is_image(&f) {
                return Err(DataError::format(
                    source,
                    format!("line {}: `{line}` is not a .jpg, .jpeg or .png file", i + 1),
                ));
            }
            if !f.is_file() {
                return Err(DataError::format(
                    source,
                    format!("line {}: image {} not found", i + 1, f.display()),
                ));
            }
            split.push_labelled(f, num_classes)?;
        }
    }
    if split.items.is_empty() {
        return Err(DataError::invalid(format!(
            "no images in {}",
            sources
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(split)
}

/// A YOLO data YAML (the reference's `data/coco.yaml`, read by a parser for the subset such files
/// use, see `parse_yaml_subset`): `path` (the dataset root, relative to
/// the YAML's folder; default that folder), `train` and `val` (a folder, a `.txt` list of
/// images, or a list of those, relative to the root), and `names` (a list, or a map from class
/// index to name; `nc`, when given, must agree).
#[derive(Debug, Clone, PartialEq)]
pub struct DataYaml {
    /// Training sources.
    pub train: Vec<PathBuf>,
    /// Validation sources.
    pub val: Vec<PathBuf>,
    /// Class names, by index.
    pub names: Vec<String>,
}

/// A top-level value of a data YAML: a scalar, a list, or a map (class index -> name).
#[derive(Debug, Clone, PartialEq)]
enum YamlValue {
    Scalar(String),
    List(Vec<String>),
    Map(Vec<(String, String)>),
}

/// `'x'` / `"x"` -> `x`.
fn unquote(s: &str) -> String {
    let s = s.trim();
    let quoted = s.len() >= 2
        && ((s.starts_with('\'') && s.ends_with('\'')) || (s.starts_with('"') && s.ends_with('"')));
    if quoted {
        s[1..s.len() - 1].to_string()
    } else {
        s.to_string()
    }
}

/// The part of a line before a `#` comment (one at the start or after a space, outside quotes).
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double) = (false, false);
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev.is_whitespace() => return &line[..i],
            _ => {}
        }
        prev = c;
    }
    line
}

/// Splits `a, b, 'c, d'` at the commas outside quotes.
fn split_items(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut single, mut double) = (Vec::new(), String::new(), false, false);
    for c in s.chars() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            ',' if !single && !double => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter().filter(|t| !t.trim().is_empty()).collect()
}

/// The top-level keys of a data YAML and their values, in the subset YOLO data files use:
/// `key: scalar`, `key: [a, b]`, `key: {0: a}`, and blocks of `- item` or `index: name` lines
/// under a key. Other blocks (e.g. the `download: |` script of the reference's coco.yaml) are
/// skipped; a malformed line in a key that is read is an error naming it.
fn parse_yaml_subset(text: &str, path: &Path) -> Result<Vec<(String, YamlValue)>> {
    let bad = |line: usize, m: String| DataError::format(path, format!("line {line}: {m}"));
    let mut out: Vec<(String, YamlValue, usize)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = strip_comment(raw);
        if line.trim().is_empty() || line.trim() == "---" {
            continue;
        }
        let indented = line.starts_with(' ') || line.starts_with('\t');
        let item = line
            .trim_start()
            .strip_prefix('-')
            .filter(|r| r.is_empty() || r.starts_with(' '));
        if !indented && item.is_none() {
            let (key, rest) = line
                .split_once(':')
                .ok_or_else(|| bad(n, format!("`{}` is not `key: value`", line.trim())))?;
            let rest = rest.trim();
            let value = if let Some(inner) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                YamlValue::List(split_items(inner).iter().map(|t| unquote(t)).collect())
            } else if let Some(inner) = rest.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
                let mut pairs = Vec::new();
                for t in split_items(inner) {
                    let (k, v) = t
                        .split_once(':')
                        .ok_or_else(|| bad(n, format!("`{}` is not `index: name`", t.trim())))?;
                    pairs.push((unquote(k), unquote(v)));
                }
                YamlValue::Map(pairs)
            } else if rest.is_empty() {
                YamlValue::List(Vec::new())
            } else {
                YamlValue::Scalar(unquote(rest))
            };
            out.push((key.trim().to_string(), value, n));
            continue;
        }
        // A line of the block under the last key.
        let Some((key, value, _)) = out.last_mut() else {
            return Err(bad(n, "an indented line before any key".into()));
        };
        if !matches!(key.as_str(), "train" | "val" | "test" | "names") {
            continue;
        }
        let empty = matches!(value, YamlValue::List(v) if v.is_empty());
        match (item, value) {
            (Some(rest), YamlValue::List(v)) => v.push(unquote(rest)),
            (None, value) if empty => {
                let (k, v) = line
                    .trim()
                    .split_once(':')
                    .ok_or_else(|| bad(n, format!("`{}` is not `index: name` or `- item`", line.trim())))?;
                *value = YamlValue::Map(vec![(unquote(k), unquote(v))]);
            }
            (None, YamlValue::Map(m)) => {
                let (k, v) = line
                    .trim()
                    .split_once(':')
                    .ok_or_else(|| bad(n, format!("`{}` is not `index: name`", line.trim())))?;
                m.push((unquote(k), unquote(v)));
            }
            _ => return Err(bad(n, format!("`{}` does not continue `{key}`", line.trim()))),
        }
    }
    Ok(out.into_iter().map(|(k, v, _)| (k, v)).collect())
}

/// Reads a YOLO data YAML ([`DataYaml`]).
pub fn read_data_yaml(path: &Path) -> Result<DataYaml> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    let fields = parse_yaml_subset(&text, path)?;
    let get = |k: &str| fields.iter().find(|(key, _)| key == k).map(|(_, v)| v);
    let missing = |k: &str| DataError::format(path, format!("no `{k}` field"));
    let dir = path.parent().unwrap_or(Path::new("."));
    let root = match get("path") {
        Some(YamlValue::Scalar(p)) => dir.join(p),
        Some(_) => return Err(DataError::format(path, "field `path`: expected one folder")),
        None => dir.to_path_buf(),
    };
    let sources = |k: &str| -> Result<Vec<PathBuf>> {
        let list = match get(k).ok_or_else(|| missing(k))? {
            YamlValue::Scalar(s) => vec![s.clone()],
            YamlValue::List(v) if !v.is_empty() => v.clone(),
            _ => {
                return Err(DataError::format(
                    path,
                    format!("field `{k}`: expected a path or a list of paths"),
                ));
            }
        };
        Ok(list.into_iter().map(|p| root.join(p)).collect())
    };
    let names = match get("names").ok_or_else(|| missing("names"))? {
        YamlValue::List(v) => v.clone(),
        YamlValue::Map(m) => {
            let mut indexed = Vec::with_capacity(m.len());
            for (k, v) in m {
                let i: usize = k.parse().map_err(|_| {
                    DataError::format(path, format!("field `names`: `{k}` is not a class index"))
                })?;
                indexed.push((i, v.clone()));
            }
            indexed.sort_by_key(|(i, _)| *i);
            if let Some((i, _)) = indexed.iter().enumerate().find(|(i, (k, _))| i != k) {
                return Err(DataError::format(
                    path,
                    format!("field `names`: class indices must run 0, 1, 2, ...; index {i} is missing"),
                ));
            }
            indexed.into_iter().map(|(_, v)| v).collect()
        }
        YamlValue::Scalar(_) => {
            return Err(DataError::format(path, "field `names`: expected a list or a map"));
        }
    };
    if names.is_empty() {
        return Err(DataError::format(path, "field `names`: no classes"));
    }
    if let Some(v) = get("nc") {
        let nc = match v {
            YamlValue::Scalar(s) => s.parse::<usize>().ok(),
            _ => None,
        }
        .ok_or_else(|| DataError::format(path, "field `nc`: not a class count"))?;
        if nc != names.len() {
            return Err(DataError::format(
                path,
                format!("field `nc`: {nc}, but `names` has {} classes", names.len()),
            ));
        }
    }
    Ok(DataYaml {
        train: sources("train")?,
        val: sources("val")?,
        names,
    })
}

/// Reads a COCO instances file as a detection split: images `images_dir/<file_name>`, boxes
/// normalised by the listed `width` and `height`, categories numbered 0, 1, ... in order of id
/// (COCO's 80 of ids 1-90). Crowd regions and boxes without area are skipped and counted, images
/// without annotations kept as backgrounds. Returns the split and the category names.
pub fn read_coco_split(json: &Path, images_dir: &Path) -> Result<(YoloSplit, Vec<String>)> {
    use crate::coco::{GroundTruth, Id};
    use std::collections::HashMap;
    let gt = GroundTruth::read(json)?;
    let mut categories: Vec<_> = gt.categories.iter().collect();
    categories.sort_by(|a, b| a.id.cmp(&b.id));
    let class_of: HashMap<&Id, usize> = categories.iter().enumerate().map(|(i, c)| (&c.id, i)).collect();
    let mut index_of: HashMap<&Id, usize> = HashMap::new();
    let mut items = Vec::with_capacity(gt.images.len());
    let mut sizes = Vec::with_capacity(gt.images.len());
    for (i, img) in gt.images.iter().enumerate() {
        let missing =
            |field: &str| DataError::format(json, format!("images[{i}] (id {}): no `{field}`", img.id));
        let file = img.file_name.as_ref().ok_or_else(|| missing("file_name"))?;
        let (w, h) = (
            img.width.ok_or_else(|| missing("width"))?,
            img.height.ok_or_else(|| missing("height"))?,
        );
        if !(w > 0.0 && h > 0.0) {
            return Err(DataError::format(
                json,
                format!("images[{i}] (id {}): size {w} x {h}", img.id),
            ));
        }
        if index_of.insert(&img.id, i).is_some() {
            return Err(DataError::format(
                json,
                format!("images[{i}]: duplicate id {}", img.id),
            ));
        }
        items.push((images_dir.join(file), Vec::new()));
        sizes.push((w, h));
    }
    let mut skipped = 0;
    for (k, a) in gt.annotations.iter().enumerate() {
        let &i = index_of.get(&a.image_id).ok_or_else(|| {
            DataError::format(
                json,
                format!(
                    "annotations[{k}] (id {}): image_id {} is not in `images`",
                    a.id, a.image_id
                ),
            )
        })?;
        let &class = class_of.get(&a.category_id).ok_or_else(|| {
            DataError::format(
                json,
                format!(
                    "annotations[{k}] (id {}): category_id {} is not in `categories`",
                    a.id, a.category_id
                ),
            )
        })?;
        let [x, y, bw, bh] = a.bbox;
        if a.iscrowd != 0 || !(bw > 0.0 && bh > 0.0) || !(x.is_finite() && y.is_finite()) {
            skipped += 1;
            continue;
        }
        let (w, h) = sizes[i];
        let clamp = |v: f64| v.clamp(0.0, 1.0) as f32;
        let (x1, y1, x2, y2) = (
            clamp(x / w),
            clamp(y / h),
            clamp((x + bw) / w),
            clamp((y + bh) / h),
        );
        items[i].1.push(YoloBox {
            class,
            cxcywh: [(x1 + x2) / 2.0, (y1 + y2) / 2.0, x2 - x1, y2 - y1],
        });
    }
    let missing: Vec<&PathBuf> = items.iter().map(|(p, _)| p).filter(|p| !p.is_file()).collect();
    if let Some(first) = missing.first() {
        return Err(DataError::format(
            json,
            format!(
                "{} of {} listed images are not under {}, e.g. {}",
                missing.len(),
                items.len(),
                images_dir.display(),
                first.display()
            ),
        ));
    }
    let missing_labels = items.iter().filter(|(_, b)| b.is_empty()).count();
    let names = categories.iter().map(|c| c.name.clone()).collect();
    Ok((
        YoloSplit {
            items,
            missing_labels,
            duplicates: 0,
            orphan_labels: 0,
            skipped,
        },
        names,
    ))
}

/// One detection example ready for a model: a square letterboxed image and its objects,
/// normalised to that image.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionItem {
    /// CHW bytes, `3 x size x size`.
    pub pixels: Vec<u8>,
    /// Side length.
    pub size: usize,
    /// Objects (centre-size, normalised to the letterboxed image).
    pub boxes: Vec<YoloBox>,
}

/// Where a detection split's images come from.
#[derive(Debug, Clone)]
enum Source {
    Memory(Vec<DetectionSample>),
    Files(Vec<(PathBuf, Vec<YoloBox>)>),
}

/// A detection split for training or validation. Validation: every image letterboxed to
/// `size` x `size` (grey 114 padding, upscaling allowed), boxes mapped along. Training: the
/// reference's pipeline with [`DetectionAugment`]: a mosaic of four images (with probability
/// `mosaic`, not in the last `close_mosaic` epochs) or one letterboxed image, then a random
/// affine warp, mixup of a second mosaic, HSV jitter and flips. Boxes narrower or lower than 2
/// pixels after the transform are dropped (the reference's `box_candidates`).
#[derive(Debug, Clone)]
pub struct DetectionSet {
    source: Source,
    /// Square side of the letterboxed images (a multiple of 32).
    pub size: u32,
    /// Training augmentation.
    pub augment: DetectionAugment,
    /// Epochs of the run, for close-mosaic (mosaic stops at `epochs - close_mosaic`); `None`:
    /// mosaic throughout.
    pub epochs: Option<usize>,
}

impl DetectionSet {
    /// A split of generated samples.
    pub fn from_samples(samples: Vec<DetectionSample>, size: u32) -> Self {
        Self {
            source: Source::Memory(samples),
            size,
            augment: DetectionAugment::default(),
            epochs: None,
        }
    }

    /// A split read from disk ([`read_yolo_split`]).
    pub fn from_split(split: YoloSplit, size: u32) -> Self {
        Self {
            source: Source::Files(split.items),
            size,
            augment: DetectionAugment::default(),
            epochs: None,
        }
    }

    /// The file of image `index`, for a split read from disk.
    pub fn file(&self, index: usize) -> Option<&Path> {
        match &self.source {
            Source::Memory(_) => None,
            Source::Files(v) => Some(&v[index].0),
        }
    }

    /// The objects of image `index` as stored (normalised to the original image).
    pub fn boxes(&self, index: usize) -> &[YoloBox] {
        match &self.source {
            Source::Memory(v) => &v[index].boxes,
            Source::Files(v) => &v[index].1,
        }
    }

    /// Whether epoch `epoch` (0-based) still uses mosaics.
    pub fn mosaic_in(&self, epoch: usize) -> bool {
        self.augment.mosaic > 0.0
            && self
                .epochs
                .is_none_or(|n| epoch < n.saturating_sub(self.augment.close_mosaic))
    }

    fn original(&self, index: usize) -> Result<(std::borrow::Cow<'_, RgbImage>, &[YoloBox])> {
        Ok(match &self.source {
            Source::Memory(v) => (std::borrow::Cow::Borrowed(&v[index].image), &v[index].boxes),
            Source::Files(v) => (
                std::borrow::Cow::Owned(crate::image::decode_rgb(&v[index].0)?),
                &v[index].1,
            ),
        })
    }

    /// Image `index` letterboxed to `size` x `size`, with its boxes in pixels.
    fn letterboxed(&self, index: usize) -> Result<(RgbImage, Vec<PixelBox>)> {
        let (img, boxes) = self.original(index)?;
        let cfg = LetterboxConfig {
            size: self.size,
            minimal: false,
            ..LetterboxConfig::default()
        };
        let lb = letterbox(&img, &cfg);
        let (w0, h0) = (lb.original.0 as f32 * lb.gain, lb.original.1 as f32 * lb.gain);
        Ok((lb.image, pixel_boxes(boxes, w0, h0, lb.pad)))
    }

    /// Image `index` resized so that its longer side is `size` (the reference's `load_image`:
    /// sides `int(w r)`, `int(h r)`), with its boxes in pixels.
    fn resized(&self, index: usize) -> Result<(RgbImage, Vec<PixelBox>)> {
        let (img, boxes) = self.original(index)?;
        let (w0, h0) = img.dimensions();
        let r = f64::from(self.size) / f64::from(w0.max(h0));
        let (w, h) = (
            ((f64::from(w0) * r) as u32).max(1),
            ((f64::from(h0) * r) as u32).max(1),
        );
        let img = resize_bilinear(&img, w, h);
        Ok((img, pixel_boxes(boxes, w as f32, h as f32, (0.0, 0.0))))
    }

    /// The reference's `load_mosaic`: four images (this one and three drawn) around a random
    /// centre in [s/2, 3s/2) of a 2s x 2s grey canvas, then the random affine warp back to s x s.
    fn mosaic(&self, index: usize, rng: &mut crate::Rng) -> Result<(RgbImage, Vec<PixelBox>)> {
        use rand::RngExt;
        let s = i64::from(self.size);
        let xc = uniform(rng, s as f64 / 2.0, 1.5 * s as f64) as i64;
        let yc = uniform(rng, s as f64 / 2.0, 1.5 * s as f64) as i64;
        let mut picks = [index, 0, 0, 0];
        for i in &mut picks[1..] {
            *i = rng.random_range(0..self.len_items());
        }
        let indices: Vec<usize> = crate::rng::permutation(4, rng)
            .into_iter()
            .map(|k| picks[k])
            .collect();
        let mut canvas = RgbImage::from_pixel(2 * s as u32, 2 * s as u32, image::Rgb([PAD_VALUE; 3]));
        let mut all = Vec::new();
        for (k, &i) in indices.iter().enumerate() {
            let (img, boxes) = self.resized(i)?;
            let (w, h) = (i64::from(img.width()), i64::from(img.height()));
            // Destination (a) and source (b) rectangles of the reference's four quadrants.
            let (a, b) = match k {
                0 => {
                    let a = [(xc - w).max(0), (yc - h).max(0), xc, yc];
                    (a, [w - (a[2] - a[0]), h - (a[3] - a[1]), w, h])
                }
                1 => {
                    let a = [xc, (yc - h).max(0), (xc + w).min(2 * s), yc];
                    (a, [0, h - (a[3] - a[1]), w.min(a[2] - a[0]), h])
                }
                2 => {
                    let a = [(xc - w).max(0), yc, xc, (2 * s).min(yc + h)];
                    (a, [w - (a[2] - a[0]), 0, w, (a[3] - a[1]).min(h)])
                }
                _ => {
                    let a = [xc, yc, (xc + w).min(2 * s), (2 * s).min(yc + h)];
                    (a, [0, 0, w.min(a[2] - a[0]), (a[3] - a[1]).min(h)])
                }
            };
            let crop = image::imageops::crop_imm(
                &img,
                b[0] as u32,
                b[1] as u32,
                (b[2] - b[0]) as u32,
                (b[3] - b[1]) as u32,
            )
            .to_image();
            image::imageops::replace(&mut canvas, &crop, a[0], a[1]);
            let (padw, padh) = ((a[0] - b[0]) as f32, (a[1] - b[1]) as f32);
            let limit = 2.0 * s as f32;
            all.extend(boxes.into_iter().map(|bx| {
                let [x1, y1, x2, y2] = bx.xyxy;
                PixelBox {
                    class: bx.class,
                    xyxy: [x1 + padw, y1 + padh, x2 + padw, y2 + padh].map(|v| v.clamp(0.0, limit)),
                }
            }));
        }
        Ok(self.random_affine(&canvas, &all, -s / 2, rng))
    }

    /// The reference's `random_perspective` without perspective, on a canvas with `border`
    /// pixels added (negative: removed) on every side.
    fn random_affine(
        &self,
        img: &RgbImage,
        boxes: &[PixelBox],
        border: i64,
        rng: &mut crate::Rng,
    ) -> (RgbImage, Vec<PixelBox>) {
        let a = &self.augment;
        let out = (
            (i64::from(img.width()) + 2 * border) as u32,
            (i64::from(img.height()) + 2 * border) as u32,
        );
        let angle = uniform(rng, -a.degrees, a.degrees);
        let gain = uniform(rng, 1.0 - a.scale, 1.0 + a.scale);
        let shear = [uniform(rng, -a.shear, a.shear), uniform(rng, -a.shear, a.shear)];
        let t = [
            uniform(rng, 0.5 - a.translate, 0.5 + a.translate),
            uniform(rng, 0.5 - a.translate, 0.5 + a.translate),
        ];
        let m = augment::affine_matrix(img.dimensions(), out, angle, gain, shear, t);
        let identity = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]];
        let warped = if border != 0 || m != identity {
            augment::warp_affine(img, &m, out)
        } else {
            img.clone()
        };
        (warped, augment::warp_boxes(boxes, &m, out, gain))
    }

    fn train_item(&self, index: usize, epoch: usize, rng: &mut crate::Rng) -> Result<DetectionItem> {
        use rand::RngExt;
        let a = &self.augment;
        let (mut img, mut boxes) = if self.mosaic_in(epoch) && rng.random::<f64>() < a.mosaic {
            let (mut img, mut boxes) = self.mosaic(index, rng)?;
            if a.mixup > 0.0 && rng.random::<f64>() < a.mixup {
                let other = rng.random_range(0..self.len_items());
                let (img2, boxes2) = self.mosaic(other, rng)?;
                let beta = rand_distr::Beta::new(32.0, 32.0).expect("valid Beta parameters");
                augment::mixup(&mut img, &img2, rand_distr::Distribution::sample(&beta, rng));
                boxes.extend(boxes2);
            }
            (img, boxes)
        } else {
            let (img, boxes) = self.letterboxed(index)?;
            self.random_affine(&img, &boxes, 0, rng)
        };
        if a.hsv_h > 0.0 || a.hsv_s > 0.0 || a.hsv_v > 0.0 {
            let gains = [a.hsv_h, a.hsv_s, a.hsv_v].map(|g| 1.0 + uniform(rng, -1.0, 1.0) * g);
            augment::hsv_jitter(&mut img, gains);
        }
        let (w, h) = (img.width() as f32, img.height() as f32);
        if rng.random_bool(a.flipud) {
            image::imageops::flip_vertical_in_place(&mut img);
            for b in &mut boxes {
                let [x1, y1, x2, y2] = b.xyxy;
                b.xyxy = [x1, h - y2, x2, h - y1];
            }
        }
        if rng.random_bool(a.fliplr) {
            image::imageops::flip_horizontal_in_place(&mut img);
            for b in &mut boxes {
                let [x1, y1, x2, y2] = b.xyxy;
                b.xyxy = [w - x2, y1, w - x1, y2];
            }
        }
        Ok(self.item(img, &boxes))
    }

    /// A square image and its pixel boxes as a model input: boxes clipped, those under 2 pixels
    /// dropped, the rest normalised.
    fn item(&self, image: RgbImage, boxes: &[PixelBox]) -> DetectionItem {
        let s = self.size as f32;
        let boxes = boxes
            .iter()
            .filter_map(|b| {
                let [x1, y1, x2, y2] = b.xyxy.map(|v| v.clamp(0.0, s));
                (x2 - x1 >= 2.0 && y2 - y1 >= 2.0).then(|| YoloBox {
                    class: b.class,
                    cxcywh: [
                        (x1 + x2) / 2.0 / s,
                        (y1 + y2) / 2.0 / s,
                        (x2 - x1) / s,
                        (y2 - y1) / s,
                    ],
                })
            })
            .collect();
        let n = self.size as usize;
        let mut pixels = vec![0u8; 3 * n * n];
        for (i, p) in image.pixels().enumerate() {
            for c in 0..3 {
                pixels[c * n * n + i] = p[c];
            }
        }
        DetectionItem {
            pixels,
            size: n,
            boxes,
        }
    }

    fn len_items(&self) -> usize {
        match &self.source {
            Source::Memory(v) => v.len(),
            Source::Files(v) => v.len(),
        }
    }
}

/// `U(lo, hi)`, also for an empty range (then `lo`).
fn uniform(rng: &mut crate::Rng, lo: f64, hi: f64) -> f64 {
    use rand::RngExt;
    lo + (hi - lo) * rng.random::<f64>()
}

/// Normalised boxes of an image shown `w` x `h` pixels large at offset `pad`, in pixel corners.
fn pixel_boxes(boxes: &[YoloBox], w: f32, h: f32, pad: (f32, f32)) -> Vec<PixelBox> {
    boxes
        .iter()
        .map(|b| {
            let [cx, cy, bw, bh] = b.cxcywh;
            PixelBox {
                class: b.class,
                xyxy: [
                    (cx - bw / 2.0) * w + pad.0,
                    (cy - bh / 2.0) * h + pad.1,
                    (cx + bw / 2.0) * w + pad.0,
                    (cy + bh / 2.0) * h + pad.1,
                ],
            }
        })
        .collect()
}

impl crate::Dataset<DetectionItem> for DetectionSet {
    fn len(&self) -> usize {
        self.len_items()
    }

    fn get(&self, index: usize) -> Result<DetectionItem> {
        let (img, boxes) = self.letterboxed(index)?;
        Ok(self.item(img, &boxes))
    }

    fn get_train(&self, index: usize, rng: &mut crate::Rng) -> Result<DetectionItem> {
        self.train_item(index, 0, rng)
    }

    fn get_train_at(&self, index: usize, epoch: usize, rng: &mut crate::Rng) -> Result<DetectionItem> {
        self.train_item(index, epoch, rng)
    }
}

/// A batch: images `[B, 3, S, S]` scaled to [0, 1], and every object as (image index, box).
#[derive(Debug, Clone)]
pub struct DetectionBatch {
    /// Images.
    pub images: burn::tensor::Tensor<4>,
    /// Objects with the index of their image in the batch.
    pub targets: Vec<(usize, YoloBox)>,
}

/// Stacks [`DetectionItem`]s (all of one size).
#[derive(Debug, Clone, Copy, Default)]
pub struct DetectionBatcher;

impl crate::Batcher<DetectionItem, DetectionBatch> for DetectionBatcher {
    fn batch(&self, items: Vec<DetectionItem>, device: &burn::tensor::Device) -> DetectionBatch {
        let n = items.len();
        let s = items.first().map_or(0, |i| i.size);
        let mut data = Vec::with_capacity(n * 3 * s * s);
        let mut targets = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            assert_eq!(item.size, s, "images of one batch differ in size");
            data.extend(item.pixels.iter().map(|&p| f32::from(p) / 255.0));
            targets.extend(item.boxes.into_iter().map(|b| (i, b)));
        }
        DetectionBatch {
            images: burn::tensor::Tensor::from_data(
                burn::tensor::TensorData::new(data, [n, 3, s, s]),
                device,
            ),
            targets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yolo_labels_parse_with_clear_errors() {
        let p = Path::new("labels/a.txt");
        let text = "0 0.5 0.5 0.2 0.4\n\n2 0.1 0.2 0.3 0.2 0.2 0.6\n0 0.5 0.5 0.2 0.4\n";
        let (boxes, dups) = parse_yolo_labels(text, p, Some(3)).unwrap();
        assert_eq!(dups, 1);
        assert_eq!(
            boxes[0],
            YoloBox {
                class: 0,
                cxcywh: [0.5, 0.5, 0.2, 0.4]
            }
        );
        // The polygon (0.1, 0.2), (0.3, 0.2), (0.2, 0.6) spans x 0.1-0.3, y 0.2-0.6.
        let [cx, cy, w, h] = boxes[1].cxcywh;
        assert!(
            (cx - 0.2).abs() < 1e-6
                && (cy - 0.4).abs() < 1e-6
                && (w - 0.2).abs() < 1e-6
                && (h - 0.4).abs() < 1e-6
        );
        let err = |t: &str| parse_yolo_labels(t, p, Some(3)).unwrap_err().to_string();
        assert!(err("0 0.5 0.5 0.2\n").contains("line 1") && err("0 0.5 0.5 0.2\n").contains("4 fields"));
        assert!(err("1 0.5 0.5 0.2 0.1 0.3\n").contains("6 fields"));
        let e = err("0 0.5 0.5 0.2 0.2\n1 0.5 x 0.2 0.2\n");
        assert!(
            e.contains("line 2") && e.contains("cy") && e.contains("`x` is not a number"),
            "{e}"
        );
        assert!(err("3 0.5 0.5 0.2 0.2").contains("class 3 is not one of 0..3"));
        assert!(err("1.5 0.5 0.5 0.2 0.2").contains("class"));
        assert!(err("0 1.5 0.5 0.2 0.2").contains("above 1"));
        assert!(err("0 0.5 -0.5 0.2 0.2").contains("negative"));
        assert!(err("0 0.5 nan 0.2 0.2").contains("not a number"));
    }

    #[test]
    fn generated_shapes_round_trip_through_the_yolo_layout() {
        let shapes = ShapesDetection {
            images: 6,
            size: 64,
            ..ShapesDetection::default()
        };
        let samples = shapes.generate(0).unwrap();
        assert_eq!(samples, shapes.generate(0).unwrap(), "reproducible");
        assert_ne!(samples, shapes.generate(1).unwrap(), "streams differ");
        assert!(samples.iter().map(|s| s.boxes.len()).sum::<usize>() >= 6);
        let dir = tempfile::tempdir().unwrap();
        write_yolo_split(dir.path(), "train", &samples).unwrap();
        // A background image without labels and a label without an image.
        samples[0]
            .image
            .save(dir.path().join("images/train/extra.png"))
            .unwrap();
        std::fs::write(dir.path().join("labels/train/ghost.txt"), "0 0.5 0.5 0.1 0.1\n").unwrap();
        let split = read_yolo_split(&dir.path().join("images/train"), 4).unwrap();
        assert_eq!(split.items.len(), 7);
        assert_eq!(
            (split.missing_labels, split.orphan_labels, split.duplicates),
            (1, 1, 0)
        );
        for ((_, read), s) in split.items.iter().zip(&samples) {
            assert_eq!(read.len(), s.boxes.len());
            for (a, b) in read.iter().zip(&s.boxes) {
                assert_eq!(a.class, b.class);
                assert!(a.cxcywh.iter().zip(b.cxcywh).all(|(x, y)| (x - y).abs() < 1e-6));
            }
        }
        // Too few classes for the labels: the file and line are named.
        let err = read_yolo_split(&dir.path().join("images/train"), 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains(".txt, line") && err.contains("class"), "{err}");
    }

    #[test]
    fn detection_items_letterbox_and_flip_boxes_consistently() {
        use crate::{Batcher, Dataset};
        // A 200 x 100 image with one 40 x 20 object at (50, 30): letterboxed to 64, gain 0.32,
        // 16 pixels of padding above and below.
        let mut image = RgbImage::from_pixel(200, 100, image::Rgb([0, 0, 0]));
        for y in 20..40 {
            for x in 30..70 {
                image.put_pixel(x, y, image::Rgb([255, 255, 255]));
            }
        }
        let boxes = vec![
            YoloBox {
                class: 1,
                cxcywh: [0.25, 0.3, 0.2, 0.2],
            },
            // 2 x 2 pixels in the original: under 2 pixels once shrunk, dropped.
            YoloBox {
                class: 0,
                cxcywh: [0.9, 0.9, 0.01, 0.02],
            },
        ];
        let mut set = DetectionSet::from_samples(vec![DetectionSample { image, boxes }], 64);
        set.augment = DetectionAugment::flip_only();
        let item = set.get(0).unwrap();
        assert_eq!(item.boxes.len(), 1);
        let [cx, cy, w, h] = item.boxes[0].cxcywh;
        let close = |a: f32, b: f32| (a - b).abs() < 1e-5;
        assert!(
            close(cx * 64.0, 16.0)
                && close(cy * 64.0, 16.0 + 9.6)
                && close(w * 64.0, 12.8)
                && close(h * 64.0, 6.4)
        );
        // The object's pixels are where its box says, flipped or not.
        let white = |it: &DetectionItem, x: usize, y: usize| it.pixels[y * 64 + x] > 200;
        assert!(white(&item, 16, 25) && !white(&item, 48, 25));
        let mut rng = crate::rng::rng_for(0, &[]);
        let flipped = (0..20)
            .map(|_| set.get_train(0, &mut rng).unwrap())
            .find(|it| it != &item)
            .unwrap();
        assert!(close(flipped.boxes[0].cxcywh[0] * 64.0, 48.0));
        assert!(white(&flipped, 47, 25) && !white(&flipped, 16, 25));
        let batch = DetectionBatcher.batch(vec![item, flipped], &burn::tensor::Device::flex());
        assert_eq!(batch.images.dims(), [2, 3, 64, 64]);
        assert_eq!(batch.targets.iter().map(|t| t.0).collect::<Vec<_>>(), vec![0, 1]);
    }

    /// Black images of various sizes with white rectangles, each labelled exactly.
    fn rectangles() -> Vec<DetectionSample> {
        (0..6u32)
            .map(|i| {
                let (w, h) = (80 + 16 * i, 60 + 8 * i);
                let mut image = RgbImage::new(w, h);
                let mut boxes = Vec::new();
                for k in 0..=(i % 3) {
                    let (x0, y0) = (5 + 25 * k + i, 6 + 15 * k);
                    let (bw, bh) = (14 + 2 * i, 10 + 3 * k);
                    for y in y0..y0 + bh {
                        for x in x0..x0 + bw {
                            image.put_pixel(x, y, image::Rgb([255; 3]));
                        }
                    }
                    let (wf, hf) = (w as f32, h as f32);
                    boxes.push(YoloBox {
                        class: k as usize,
                        cxcywh: [
                            (x0 as f32 + bw as f32 / 2.0) / wf,
                            (y0 as f32 + bh as f32 / 2.0) / hf,
                            bw as f32 / wf,
                            bh as f32 / hf,
                        ],
                    });
                }
                DetectionSample { image, boxes }
            })
            .collect()
    }

    #[test]
    fn mosaic_and_affine_keep_boxes_on_their_objects() {
        use crate::Dataset;
        let mut set = DetectionSet::from_samples(rectangles(), 64);
        set.augment = DetectionAugment {
            mixup: 0.0,
            hsv_h: 0.0,
            hsv_s: 0.0,
            hsv_v: 0.0,
            flipud: 0.5,
            ..DetectionAugment::default()
        };
        let (mut inside, mut white, mut most) = (0usize, 0usize, 0usize);
        for draw in 0..40u64 {
            let mut rng = crate::rng::rng_for(draw, &[]);
            let item = set.get_train_at(draw as usize % 6, 0, &mut rng).unwrap();
            assert_eq!((item.size, item.pixels.len()), (64, 3 * 64 * 64));
            most = most.max(item.boxes.len());
            let px = |x: usize, y: usize| item.pixels[y * 64 + x];
            for b in &item.boxes {
                assert!(b.cxcywh.iter().all(|v| (0.0..=1.0).contains(v)), "{b:?}");
                let [cx, cy, _, _] = b.cxcywh.map(|v| v * 64.0);
                assert!(
                    px(cx as usize, cy as usize) > 150,
                    "box {b:?} is not on a rectangle"
                );
            }
            for y in 0..64 {
                for x in 0..64 {
                    if px(x, y) > 200 {
                        white += 1;
                        let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
                        inside += usize::from(item.boxes.iter().any(|b| {
                            let [cx, cy, w, h] = b.cxcywh.map(|v| v * 64.0);
                            (fx - cx).abs() <= w / 2.0 + 1.0 && (fy - cy).abs() <= h / 2.0 + 1.0
                        }));
                    }
                }
            }
        }
        // Objects from other images arrive with the mosaic (one image has at most 3).
        assert!(most > 3, "mosaics bring in other images' objects");
        // White pixels outside every box: slivers of rectangles cut at the border and rectangles
        // shrunk under 2 pixels, whose boxes the reference's candidate filter drops (7 % here).
        assert!(
            inside as f64 >= 0.9 * white as f64,
            "{inside} of {white} white pixels in boxes"
        );
    }

    #[test]
    fn close_mosaic_and_mixup() {
        use crate::Dataset;
        let mut set = DetectionSet::from_samples(rectangles(), 64);
        set.augment.close_mosaic = 2;
        set.epochs = Some(10);
        assert!(set.mosaic_in(7) && !set.mosaic_in(8));
        // Without mosaic, translation and scaling, training items are the letterboxed images
        // (flipped or not).
        set.augment = DetectionAugment {
            fliplr: 0.0,
            ..DetectionAugment::flip_only()
        };
        let mut rng = crate::rng::rng_for(0, &[]);
        assert_eq!(set.get_train_at(3, 9, &mut rng).unwrap(), set.get(3).unwrap());
        // Mixup: the boxes of two mosaics, pixels blended.
        let mut a = RgbImage::from_pixel(2, 1, image::Rgb([200, 100, 0]));
        augment::mixup(&mut a, &RgbImage::from_pixel(2, 1, image::Rgb([0, 50, 255])), 0.5);
        assert_eq!(a.get_pixel(1, 0).0, [100, 75, 127]);
        set.epochs = None;
        set.augment = DetectionAugment {
            mixup: 1.0,
            ..DetectionAugment::default()
        };
        let n: usize = (0..10u64)
            .map(|d| {
                set.get_train_at(0, 0, &mut crate::rng::rng_for(d, &[]))
                    .unwrap()
                    .boxes
                    .len()
            })
            .max()
            .unwrap();
        assert!(n > 6, "mixup of two mosaics: {n} boxes at most");
        assert!(
            DetectionAugment {
                scale: 1.0,
                ..DetectionAugment::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            DetectionAugment {
                mixup: 1.5,
                ..DetectionAugment::default()
            }
            .validate()
            .is_err()
        );
        assert!(DetectionAugment::default().validate().is_ok());
    }

    #[test]
    fn label_paths_follow_the_images_labels_convention() {
        let sep = std::path::MAIN_SEPARATOR;
        let image = PathBuf::from(format!("data{sep}images{sep}train{sep}images{sep}x.jpg"));
        assert_eq!(
            label_path(&image),
            PathBuf::from(format!("data{sep}images{sep}train{sep}labels{sep}x.txt"))
        );
    }

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
