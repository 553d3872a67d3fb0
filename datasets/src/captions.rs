//! Captioned Shapes: a generated image-caption set for training a small CLIP contrastively and
//! testing its zero-shot transfer to attribute combinations it never saw.
//!
//! Each image holds one object with five attributes: a colour (6), a shape (5), a size (2), a
//! position (4) and a texture (2), on a neutral grey background with a brightness gradient and
//! pixel noise. Captions mention a random subset of the attributes through varied templates
//! ("a small red circle on the left.", "a striped square, coloured blue.", ...); the training
//! view draws a fresh caption at every access.
//!
//! Held-apart combinations: five colour-shape pairs (red circle, green square, blue triangle,
//! yellow cross, purple ring) never occur in the training and validation splits; every shape and
//! every colour occurs there with other partners. The test split draws all 30 pairs uniformly,
//! so zero-shot accuracy can be read separately on seen and held-apart pairs.

use crate::image::{ImageItem, in_shape, save_png};
use crate::rng::rng_for;
use crate::{DataError, Dataset, Result, Rng};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Colour names and their RGB values.
pub const COLOURS: [(&str, [f32; 3]); 6] = [
    ("red", [215.0, 35.0, 35.0]),
    ("green", [40.0, 170.0, 55.0]),
    ("blue", [45.0, 75.0, 225.0]),
    ("yellow", [235.0, 215.0, 40.0]),
    ("purple", [145.0, 55.0, 190.0]),
    ("orange", [245.0, 135.0, 25.0]),
];
/// Shape names.
pub const SHAPES: [&str; 5] = ["circle", "square", "triangle", "cross", "ring"];
/// Size names.
pub const SIZES: [&str; 2] = ["small", "large"];
/// Position phrases.
pub const POSITIONS: [&str; 4] = ["on the left", "on the right", "at the top", "at the bottom"];
/// Texture names.
pub const TEXTURES: [&str; 2] = ["plain", "striped"];

/// The attributes of one object (indices into the name tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attributes {
    /// Index into [`COLOURS`].
    pub colour: usize,
    /// Index into [`SHAPES`].
    pub shape: usize,
    /// Index into [`SIZES`].
    pub size: usize,
    /// Index into [`POSITIONS`].
    pub position: usize,
    /// Index into [`TEXTURES`].
    pub texture: usize,
}

impl Attributes {
    /// True for the five colour-shape pairs kept out of training (colour index = shape index).
    pub fn held_apart(&self) -> bool {
        self.colour == self.shape
    }

    /// The colour-shape class (`colour * 5 + shape`, 30 classes) and its name ("red circle").
    pub fn pair(&self) -> usize {
        self.colour * SHAPES.len() + self.shape
    }

    /// A caption drawn from the templates (a random subset of attributes, in varied phrasings).
    pub fn caption(&self, rng: &mut Rng) -> String {
        let c = COLOURS[self.colour].0;
        let s = SHAPES[self.shape];
        let z = SIZES[self.size];
        let p = POSITIONS[self.position];
        let t = TEXTURES[self.texture];
        match rng.random_range(0..12) {
            0 => format!("a {c} {s}."),
            1 => format!("a {z} {c} {s}."),
            2 => format!("a photo of a {c} {s}."),
            3 => format!("a {t} {c} {s} {p}."),
            4 => format!("a {z} {s} {p}."),
            5 => format!("a {c} {s} {p}."),
            6 => format!("there is a {z} {t} {s}, coloured {c}."),
            7 => format!("a drawing of a {s} in {c}."),
            8 => format!("{p} there is a {c} {s}."),
            9 => format!("a {z} {t} {c} {s} {p}."),
            10 => format!("a {t} {s}."),
            _ => format!("the {s} is {c} and {z}."),
        }
    }
}

/// The name of colour-shape class `pair` ("red circle").
pub fn pair_name(pair: usize) -> String {
    format!(
        "{} {}",
        COLOURS[pair / SHAPES.len()].0,
        SHAPES[pair % SHAPES.len()]
    )
}

/// One image with its attributes and caption.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptionedItem {
    /// The image (`label` is the colour-shape pair).
    pub image: ImageItem,
    /// What it shows.
    pub attributes: Attributes,
    /// Its caption.
    pub caption: String,
}

/// The generator's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptionedShapes {
    /// Training images (held-apart pairs excluded).
    pub train: usize,
    /// Validation images (held-apart pairs excluded).
    pub valid: usize,
    /// Test images (all 30 colour-shape pairs).
    pub test: usize,
    /// Side length.
    pub size: usize,
    /// Standard deviation of the pixel noise (0-255 scale).
    pub noise: f32,
    /// Seed of the draw.
    pub seed: u64,
    /// Keep each training image's first caption (the one `write_image_folder` writes to
    /// `captions.tsv`) instead of drawing a fresh one at every access: a fixed image-caption
    /// dataset, as open_clip's CSV training reads one.
    pub fixed_captions: bool,
}

impl Default for CaptionedShapes {
    fn default() -> Self {
        Self {
            train: 20_000,
            valid: 1_000,
            test: 3_000,
            size: 32,
            noise: 8.0,
            seed: 0,
            fixed_captions: false,
        }
    }
}

/// A split of the generated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Training images.
    Train,
    /// Validation images.
    Valid,
    /// Test images.
    Test,
}

impl std::str::FromStr for Split {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "train" => Ok(Self::Train),
            "valid" => Ok(Self::Valid),
            "test" => Ok(Self::Test),
            other => Err(DataError::invalid(format!(
                "unknown split `{other}`; expected train, valid or test"
            ))),
        }
    }
}

/// The three splits.
#[derive(Debug, Clone)]
pub struct CaptionedSplits {
    /// Training images.
    pub train: Captioned,
    /// Validation images.
    pub valid: Captioned,
    /// Test images.
    pub test: Captioned,
}

impl CaptionedShapes {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        if self.train == 0 || self.valid == 0 || self.test == 0 || self.size < 16 {
            return Err(DataError::invalid(
                "captioned shapes: every split needs an image and size must be >= 16",
            ));
        }
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return Err(DataError::invalid(
                "captioned shapes: noise must be finite and non-negative",
            ));
        }
        Ok(())
    }

    /// The three splits (independent streams; deterministic in `seed`).
    pub fn split(&self) -> Result<CaptionedSplits> {
        Ok(CaptionedSplits {
            train: self.generate(Split::Train)?,
            valid: self.generate(Split::Valid)?,
            test: self.generate(Split::Test)?,
        })
    }

    /// One split alone (identical to that split of [`Self::split`]).
    pub fn generate(&self, split: Split) -> Result<Captioned> {
        self.validate()?;
        let (n, stream, seen_only) = match split {
            Split::Train => (self.train, 11, true),
            Split::Valid => (self.valid, 12, true),
            Split::Test => (self.test, 13, false),
        };
        Ok(Captioned {
            items: (0..n)
                .map(|i| self.draw(rng_for(self.seed, &[stream, i as u64]), seen_only))
                .collect(),
            fresh_captions: !self.fixed_captions,
        })
    }

    fn draw(&self, mut rng: Rng, seen_only: bool) -> CaptionedItem {
        let attributes = loop {
            let a = Attributes {
                colour: rng.random_range(0..COLOURS.len()),
                shape: rng.random_range(0..SHAPES.len()),
                size: rng.random_range(0..SIZES.len()),
                position: rng.random_range(0..POSITIONS.len()),
                texture: rng.random_range(0..TEXTURES.len()),
            };
            if !(seen_only && a.held_apart()) {
                break a;
            }
        };
        let image = self.render(&attributes, &mut rng);
        let caption = attributes.caption(&mut rng);
        CaptionedItem {
            image,
            attributes,
            caption,
        }
    }

    fn render(&self, a: &Attributes, rng: &mut Rng) -> ImageItem {
        let s = self.size;
        let sf = s as f32;
        let grey = rng.random_range(70.0..190.0f32);
        let tint: [f32; 3] = std::array::from_fn(|_| rng.random_range(-12.0..12.0f32));
        let jitter: [f32; 3] = std::array::from_fn(|_| rng.random_range(-20.0..20.0f32));
        let fg: [f32; 3] = std::array::from_fn(|c| COLOURS[a.colour].1[c] + jitter[c]);
        let grad = [rng.random_range(-30.0..30.0f32), rng.random_range(-30.0..30.0f32)];
        let radius = if a.size == 0 {
            rng.random_range(0.12 * sf..0.16 * sf)
        } else {
            rng.random_range(0.22 * sf..0.26 * sf)
        };
        let (ox, oy) = [(-1.0, 0.0), (1.0, 0.0), (0.0, -1.0), (0.0, 1.0)][a.position];
        let cx = sf * (0.5 + 0.2 * ox) + rng.random_range(-0.04 * sf..0.04 * sf);
        let cy = sf * (0.5 + 0.2 * oy) + rng.random_range(-0.04 * sf..0.04 * sf);
        let theta = rng.random_range(-0.4..0.4f32);
        let (sin, cos) = theta.sin_cos();
        let period = 4.0f32;
        let phase = rng.random_range(0.0..period);
        let noise = rand_distr::Normal::new(0.0f32, self.noise.max(1e-6)).expect("finite");
        let mut pixels = vec![0u8; 3 * s * s];
        for y in 0..s {
            for x in 0..s {
                let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                let (dx, dy) = (px - cx, py - cy);
                let (u, v) = (cos * dx + sin * dy, -sin * dx + cos * dy);
                let inside = in_shape(a.shape, u, v, radius, 0.85, 0.33);
                let dark = a.texture == 1 && (px + py + phase).rem_euclid(period) < period / 2.0;
                let shade = grad[0] * (px / sf - 0.5) + grad[1] * (py / sf - 0.5);
                for c in 0..3 {
                    let base = match (inside, dark) {
                        (true, false) => fg[c],
                        (true, true) => fg[c] * 0.45,
                        _ => grey + tint[c] + shade,
                    };
                    let v: f32 = base + rand_distr::Distribution::sample(&noise, rng);
                    pixels[c * s * s + y * s + x] = v.round().clamp(0.0, 255.0) as u8;
                }
            }
        }
        ImageItem {
            pixels,
            size: s,
            label: a.pair(),
        }
    }
}

/// A split of captioned images held in memory.
#[derive(Debug, Clone)]
pub struct Captioned {
    items: Vec<CaptionedItem>,
    /// The training view draws a fresh caption at every access.
    fresh_captions: bool,
}

impl Captioned {
    /// The items.
    pub fn items(&self) -> &[CaptionedItem] {
        &self.items
    }

    /// Writes the split as an ImageFolder of colour-shape classes (`root/<colour shape>/00000.png`,
    /// the 30 class folders always created) and `captions.tsv` (file, caption) beside them.
    pub fn write_image_folder(&self, root: &Path) -> Result<()> {
        for pair in 0..COLOURS.len() * SHAPES.len() {
            let dir = root.join(pair_name(pair));
            std::fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, e))?;
        }
        let mut tsv = String::new();
        for (i, item) in self.items.iter().enumerate() {
            let rel = format!("{}/{i:05}.png", pair_name(item.image.label));
            save_png(&item.image, &root.join(&rel))?;
            tsv.push_str(&format!("{rel}\t{}\n", item.caption));
        }
        let path = root.join("captions.tsv");
        std::fs::write(&path, tsv).map_err(|e| DataError::io(&path, e))
    }
}

impl Dataset<CaptionedItem> for Captioned {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn get(&self, index: usize) -> Result<CaptionedItem> {
        self.items
            .get(index)
            .cloned()
            .ok_or_else(|| DataError::invalid(format!("index {index} out of {}", self.items.len())))
    }

    /// A fresh caption at every access (the image is fixed), unless the captions are fixed.
    fn get_train(&self, index: usize, rng: &mut Rng) -> Result<CaptionedItem> {
        let mut item = self.get(index)?;
        if self.fresh_captions {
            item.caption = item.attributes.caption(rng);
        }
        Ok(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_apart_pairs_stay_out_of_training() {
        let cfg = CaptionedShapes {
            train: 600,
            valid: 50,
            test: 600,
            ..Default::default()
        };
        let s = cfg.split().unwrap();
        assert!(s.train.items().iter().all(|i| !i.attributes.held_apart()));
        let held = s
            .test
            .items()
            .iter()
            .filter(|i| i.attributes.held_apart())
            .count();
        // 5 of 30 pairs: about 100 of 600.
        assert!((60..140).contains(&held), "{held}");
        // Every colour and every shape still occurs in training.
        for c in 0..COLOURS.len() {
            assert!(s.train.items().iter().any(|i| i.attributes.colour == c));
        }
        for sh in 0..SHAPES.len() {
            assert!(s.train.items().iter().any(|i| i.attributes.shape == sh));
        }
        assert_eq!(s.test.items()[3], cfg.split().unwrap().test.items()[3]);
    }

    #[test]
    fn fixed_captions_keep_the_written_caption() {
        let mut cfg = CaptionedShapes {
            train: 20,
            valid: 1,
            test: 1,
            ..Default::default()
        };
        let fresh = cfg.generate(Split::Train).unwrap();
        cfg.fixed_captions = true;
        let fixed = cfg.generate(Split::Train).unwrap();
        let mut rng = rng_for(1, &[2]);
        let (mut changed, mut kept) = (0, 0);
        for i in 0..20 {
            let first = &fixed.items()[i].caption;
            assert_eq!(first, &fresh.items()[i].caption);
            kept += usize::from(&fixed.get_train(i, &mut rng).unwrap().caption == first);
            changed += usize::from(&fresh.get_train(i, &mut rng).unwrap().caption != first);
        }
        assert_eq!(kept, 20);
        assert!(changed >= 10, "fresh captions changed only {changed} of 20");
    }

    #[test]
    fn the_object_has_its_colour() {
        let cfg = CaptionedShapes {
            train: 30,
            valid: 1,
            test: 1,
            noise: 0.0,
            ..Default::default()
        };
        for item in cfg.split().unwrap().train.items() {
            let a = item.attributes;
            if a.texture == 1 {
                continue;
            }
            // The pixel nearest the colour's RGB is within the jitter of it.
            let n = item.image.size * item.image.size;
            let target = COLOURS[a.colour].1;
            let best = (0..n)
                .map(|p| {
                    (0..3)
                        .map(|c| (item.image.pixels[c * n + p] as f32 - target[c]).abs())
                        .fold(0.0f32, f32::max)
                })
                .fold(f32::INFINITY, f32::min);
            assert!(best <= 21.0, "{:?}: {best}", a);
            assert!(item.caption.ends_with('.'));
        }
    }
}
