//! The CoOp/Dassl layout of the prompt-learning benchmarks (PromptSRC, CoOp, MaPLe): the
//! `split_zhou_<Name>.json` files, FGVCAircraft's text lists, ImageNet's `classnames.txt`;
//! K-shot sampling per class and the base/novel class split.
//!
//! A split file is `{"train": [[relpath, label, classname], ...], "val": [...], "test": [...]}`,
//! each `relpath` relative to the dataset's image directory.

use crate::error::first_few;
use crate::rng::rng_for;
use crate::{DataError, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One labelled image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Image file.
    pub path: PathBuf,
    /// Class index.
    pub label: usize,
    /// Class name (as prompts use it).
    pub classname: String,
}

/// The three splits of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Splits {
    /// Training items.
    pub train: Vec<Item>,
    /// Validation items.
    pub val: Vec<Item>,
    /// Test items.
    pub test: Vec<Item>,
}

/// The 11 benchmark datasets: (name, dataset folder, image folder inside it, split file).
/// StanfordCars' paths are relative to the dataset folder itself; FGVCAircraft has no JSON and
/// ImageNet is read from its folders (see [`open`]).
pub const DATASETS: [(&str, &str, &str, &str); 11] = [
    ("ImageNet", "imagenet", "images", ""),
    (
        "Caltech101",
        "caltech-101",
        "101_ObjectCategories",
        "split_zhou_Caltech101.json",
    ),
    (
        "OxfordPets",
        "oxford_pets",
        "images",
        "split_zhou_OxfordPets.json",
    ),
    (
        "StanfordCars",
        "stanford_cars",
        "",
        "split_zhou_StanfordCars.json",
    ),
    (
        "OxfordFlowers",
        "oxford_flowers",
        "jpg",
        "split_zhou_OxfordFlowers.json",
    ),
    ("Food101", "food-101", "images", "split_zhou_Food101.json"),
    ("FGVCAircraft", "fgvc_aircraft", "images", ""),
    ("SUN397", "sun397", "SUN397", "split_zhou_SUN397.json"),
    (
        "DescribableTextures",
        "dtd",
        "images",
        "split_zhou_DescribableTextures.json",
    ),
    ("EuroSAT", "eurosat", "2750", "split_zhou_EuroSAT.json"),
    ("UCF101", "ucf101", "UCF-101-midframes", "split_zhou_UCF101.json"),
];

/// CoOp's renaming of EuroSAT's class names (its `NEW_CNAMES`), applied after reading.
pub const EUROSAT_NAMES: [(&str, &str); 10] = [
    ("AnnualCrop", "Annual Crop Land"),
    ("Forest", "Forest"),
    ("HerbaceousVegetation", "Herbaceous Vegetation Land"),
    ("Highway", "Highway or Road"),
    ("Industrial", "Industrial Buildings"),
    ("Pasture", "Pasture Land"),
    ("PermanentCrop", "Permanent Crop Land"),
    ("Residential", "Residential Buildings"),
    ("River", "River"),
    ("SeaLake", "Sea or Lake"),
];

/// CoOp's zero-shot CLIP prompt per dataset (`trainers/zsclip.py`, `CUSTOM_TEMPLATES`); the
/// others use "a photo of a {}.".
pub fn zero_shot_template(name: &str) -> &'static str {
    match name.to_ascii_lowercase().as_str() {
        "oxfordpets" => "a photo of a {}, a type of pet.",
        "oxfordflowers" => "a photo of a {}, a type of flower.",
        "fgvcaircraft" => "a photo of a {}, a type of aircraft.",
        "describabletextures" => "{} texture.",
        "eurosat" => "a centered satellite photo of {}.",
        "food101" => "a photo of {}, a type of food.",
        "ucf101" => "a photo of a person doing {}.",
        _ => "a photo of a {}.",
    }
}

/// How many missing files an error lists.
const SHOWN: usize = 5;

fn check_files(items: &[Item], source: &Path) -> Result<()> {
    let missing: Vec<String> = items
        .iter()
        .filter(|i| !i.path.is_file())
        .map(|i| i.path.display().to_string())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(DataError::format(
        source,
        format!(
            "{} listed image(s) do not exist: {}",
            missing.len(),
            first_few(&missing, SHOWN)
        ),
    ))
}

/// Reads a `split_zhou_*.json` file; `image_dir` is what its paths are relative to. Every listed
/// image must exist (the first few missing ones are named), and a label must always carry the
/// same class name.
pub fn read_split_json(path: &Path, image_dir: &Path) -> Result<Splits> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| DataError::format(path, format!("not JSON: {e}")))?;
    let mut names: BTreeMap<usize, String> = BTreeMap::new();
    let mut read = |key: &str| -> Result<Vec<Item>> {
        let list = value
            .get(key)
            .and_then(|v| v.as_array())
            .ok_or_else(|| DataError::format(path, format!("no `{key}` list")))?;
        list.iter()
            .enumerate()
            .map(|(i, entry)| {
                let bad = |what: &str| {
                    DataError::format(
                        path,
                        format!("`{key}`[{i}]: {what}; expected [relpath, label, classname]"),
                    )
                };
                let e = entry
                    .as_array()
                    .filter(|e| e.len() == 3)
                    .ok_or_else(|| bad("not a 3-element list"))?;
                let rel = e[0].as_str().ok_or_else(|| bad("the path is not a string"))?;
                let label = e[1]
                    .as_u64()
                    .ok_or_else(|| bad("the label is not a non-negative integer"))?
                    as usize;
                let classname = e[2]
                    .as_str()
                    .ok_or_else(|| bad("the class name is not a string"))?
                    .to_string();
                match names.get(&label) {
                    Some(n) if *n != classname => {
                        return Err(bad(&format!(
                            "label {label} is `{n}` elsewhere but `{classname}` here"
                        )));
                    }
                    None => {
                        names.insert(label, classname.clone());
                    }
                    _ => {}
                }
                Ok(Item {
                    path: image_dir.join(rel),
                    label,
                    classname,
                })
            })
            .collect()
    };
    let splits = Splits {
        train: read("train")?,
        val: read("val")?,
        test: read("test")?,
    };
    for items in [&splits.train, &splits.val, &splits.test] {
        check_files(items, path)?;
    }
    Ok(splits)
}

fn read_lines(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// FGVCAircraft: `variants.txt` (one class per line, label = line order) and
/// `images_variant_{train,val,test}.txt` (`<image id> <variant>` per line, image
/// `images/<id>.jpg`).
pub fn read_aircraft(dir: &Path) -> Result<Splits> {
    let classes = read_lines(&dir.join("variants.txt"))?;
    let index: BTreeMap<&str, usize> = classes.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
    let split = |name: &str| -> Result<Vec<Item>> {
        let file = dir.join(format!("images_variant_{name}.txt"));
        let items = read_lines(&file)?
            .iter()
            .enumerate()
            .map(|(n, line)| {
                let (id, variant) = line.split_once(' ').ok_or_else(|| {
                    DataError::format(&file, format!("line {}: expected `<image id> <variant>`", n + 1))
                })?;
                let label = *index.get(variant).ok_or_else(|| {
                    DataError::format(
                        &file,
                        format!("line {}: variant `{variant}` is not in variants.txt", n + 1),
                    )
                })?;
                Ok(Item {
                    path: dir.join("images").join(format!("{id}.jpg")),
                    label,
                    classname: variant.to_string(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        check_files(&items, &file)?;
        Ok(items)
    };
    Ok(Splits {
        train: split("train")?,
        val: split("val")?,
        test: split("test")?,
    })
}

/// ImageNet: `classnames.txt` (`<wnid> <name>` per line, label = line order),
/// `images/train/<wnid>/*` and `images/val/<wnid>/*`; as in CoOp the validation images are the
/// test split and there is no separate validation split.
pub fn read_imagenet(dir: &Path) -> Result<Splits> {
    let classes = read_imagenet_classnames(&dir.join("classnames.txt"))?;
    Ok(Splits {
        train: read_class_folders(&dir.join("images").join("train"), &classes)?,
        val: Vec::new(),
        test: read_class_folders(&dir.join("images").join("val"), &classes)?,
    })
}

/// `classnames.txt`: one `<wnid> <class name>` per line, in label order.
fn read_imagenet_classnames(file: &Path) -> Result<Vec<(String, String)>> {
    read_lines(file)?
        .iter()
        .enumerate()
        .map(|(n, l)| {
            l.split_once(' ')
                .map(|(w, c)| (w.to_string(), c.trim().to_string()))
                .ok_or_else(|| {
                    DataError::format(file, format!("line {}: expected `<wnid> <class name>`", n + 1))
                })
        })
        .collect()
}

/// Items of `dir/<folder>/*` for each `(folder, class name)`, labelled by position. Every
/// folder must exist: the error lists the first few that do not.
fn read_class_folders(dir: &Path, classes: &[(String, String)]) -> Result<Vec<Item>> {
    let missing: Vec<&str> = classes
        .iter()
        .filter(|(f, _)| !dir.join(f).is_dir())
        .map(|(f, _)| f.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(DataError::format(
            dir,
            format!(
                "{} class folder(s) are missing: {}",
                missing.len(),
                first_few(&missing, SHOWN)
            ),
        ));
    }
    let mut items = Vec::new();
    let mut empty = Vec::new();
    for (label, (folder, classname)) in classes.iter().enumerate() {
        let path = dir.join(folder);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
            .map_err(|e| DataError::io(&path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        if files.is_empty() {
            empty.push(folder.as_str());
        }
        files.sort();
        items.extend(files.into_iter().map(|path| Item {
            path,
            label,
            classname: classname.clone(),
        }));
    }
    if !empty.is_empty() {
        return Err(DataError::format(
            dir,
            format!(
                "{} class folder(s) hold no images: {}",
                empty.len(),
                first_few(&empty, SHOWN)
            ),
        ));
    }
    Ok(items)
}

/// A plain ImageFolder dataset as splits: `root/train/<class>/*`, `root/test/<class>/*` and,
/// if present, `root/val/<class>/*`. The classes are the sorted sub-folders of `root/train`
/// (label = position, class name = folder name); each must exist in the other splits too.
pub fn read_folder_splits(root: &Path) -> Result<Splits> {
    let train_dir = root.join("train");
    let mut folders: Vec<String> = std::fs::read_dir(&train_dir)
        .map_err(|e| DataError::io(&train_dir, e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    if folders.is_empty() {
        return Err(DataError::format(&train_dir, "no class folders"));
    }
    let classes: Vec<(String, String)> = folders.iter().map(|f| (f.clone(), f.clone())).collect();
    let val_dir = root.join("val");
    Ok(Splits {
        train: read_class_folders(&train_dir, &classes)?,
        val: if val_dir.is_dir() {
            read_class_folders(&val_dir, &classes)?
        } else {
            Vec::new()
        },
        test: read_class_folders(&root.join("test"), &classes)?,
    })
}

/// The ImageNet test sets of the domain-generalisation protocol, test split only (CoOp's
/// `imagenetv2.py`, `imagenet_sketch.py`, `imagenet_a.py`, `imagenet_r.py`): (name, dataset
/// folder, image folder). Each dataset folder holds a copy of ImageNet's `classnames.txt`.
/// ImageNetV2's class folders are the label numbers 0..999; Sketch's are the 1000 wnids; -A and
/// -R hold 200 wnid folders each, relabelled 0..199 in wnid order.
pub const IMAGENET_VARIANTS: [(&str, &str, &str); 4] = [
    (
        "ImageNetV2",
        "imagenetv2",
        "imagenetv2-matched-frequency-format-val",
    ),
    ("ImageNetSketch", "imagenet-sketch", "images"),
    ("ImageNetA", "imagenet-adversarial", "imagenet-a"),
    ("ImageNetR", "imagenet-rendition", "imagenet-r"),
];

/// Reads an ImageNet variant (see [`IMAGENET_VARIANTS`]) from its dataset folder `dir`.
pub fn read_imagenet_variant(dir: &Path, name: &str) -> Result<Splits> {
    let (canonical, _, images) = IMAGENET_VARIANTS
        .iter()
        .find(|v| v.0.eq_ignore_ascii_case(name))
        .copied()
        .ok_or_else(|| DataError::invalid(format!("`{name}` is not an ImageNet variant")))?;
    let classes = read_imagenet_classnames(&dir.join("classnames.txt"))?;
    let image_dir = dir.join(images);
    let folders: Vec<(String, String)> = match canonical {
        "ImageNetV2" => classes
            .iter()
            .enumerate()
            .map(|(label, (_, c))| (label.to_string(), c.clone()))
            .collect(),
        "ImageNetSketch" => classes,
        _ => {
            // The wnid folders present (200 of the 1000), in wnid order.
            let present: std::collections::BTreeSet<String> = std::fs::read_dir(&image_dir)
                .map_err(|e| DataError::io(&image_dir, e))?
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            let known: BTreeMap<&str, &str> = classes.iter().map(|(w, c)| (w.as_str(), c.as_str())).collect();
            let unknown: Vec<&String> = present
                .iter()
                .filter(|w| !known.contains_key(w.as_str()))
                .collect();
            if !unknown.is_empty() {
                return Err(DataError::format(
                    &image_dir,
                    format!(
                        "{} folder(s) are not wnids of classnames.txt: {}",
                        unknown.len(),
                        first_few(&unknown, SHOWN)
                    ),
                ));
            }
            present
                .iter()
                .map(|w| (w.clone(), known[w.as_str()].to_string()))
                .collect()
        }
    };
    Ok(Splits {
        train: Vec::new(),
        val: Vec::new(),
        test: read_class_folders(&image_dir, &folders)?,
    })
}

/// Opens benchmark `name` (one of [`DATASETS`] or [`IMAGENET_VARIANTS`], case-insensitive) under
/// `root`, CoOp's folder names (`root/oxford_pets/images`, `root/oxford_pets/split_zhou_OxfordPets.json`, ...).
pub fn open(root: &Path, name: &str) -> Result<Splits> {
    if let Some(v) = IMAGENET_VARIANTS.iter().find(|v| v.0.eq_ignore_ascii_case(name)) {
        return read_imagenet_variant(&root.join(v.1), name);
    }
    let (canonical, folder, images, split) = DATASETS
        .iter()
        .find(|d| d.0.eq_ignore_ascii_case(name))
        .copied()
        .ok_or_else(|| {
            let all: Vec<&str> = DATASETS
                .iter()
                .map(|d| d.0)
                .chain(IMAGENET_VARIANTS.iter().map(|v| v.0))
                .collect();
            DataError::invalid(format!(
                "unknown dataset `{name}`; expected one of {}",
                all.join(", ")
            ))
        })?;
    let dir = root.join(folder);
    let mut splits = match canonical {
        "ImageNet" => read_imagenet(&dir)?,
        "FGVCAircraft" => read_aircraft(&dir)?,
        _ => read_split_json(&dir.join(split), &dir.join(images))?,
    };
    if canonical == "EuroSAT" {
        for item in splits
            .train
            .iter_mut()
            .chain(&mut splits.val)
            .chain(&mut splits.test)
        {
            if let Some((_, new)) = EUROSAT_NAMES.iter().find(|(old, _)| *old == item.classname) {
                item.classname = new.to_string();
            }
        }
    }
    Ok(splits)
}

/// K items per class (all of a class with fewer), drawn without replacement from a stream seeded
/// by `seed`, classes in label order, items in their original order. Dassl draws with CPython's
/// `random.sample`; the subsets differ from its cached ones but follow the same rule.
pub fn few_shot(items: &[Item], k: usize, seed: u64) -> Vec<Item> {
    let labels: Vec<usize> = items.iter().map(|i| i.label).collect();
    few_shot_indices(&labels, k, seed)
        .into_iter()
        .map(|i| items[i].clone())
        .collect()
}

/// [`few_shot`] on bare labels: the indices (ascending) of at most `k` entries per label.
pub fn few_shot_indices(labels: &[usize], k: usize, seed: u64) -> Vec<usize> {
    let mut by_label: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, &label) in labels.iter().enumerate() {
        by_label.entry(label).or_default().push(i);
    }
    let mut chosen = Vec::new();
    for (label, idx) in by_label {
        let mut rng = rng_for(seed, &[label as u64]);
        let perm = crate::rng::permutation(idx.len(), &mut rng);
        chosen.extend(perm.into_iter().take(k).map(|p| idx[p]));
    }
    chosen.sort_unstable();
    chosen
}

/// The base and novel classes of the base-to-novel protocol, from the labels of the training
/// split: sorted, the first ceil(n/2) are base, the rest novel (CoOp's `subsample_classes`).
pub fn base_and_novel(train_labels: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let mut labels = train_labels.to_vec();
    labels.sort_unstable();
    labels.dedup();
    let novel = labels.split_off(labels.len().div_ceil(2));
    (labels, novel)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subsample {
    /// All classes.
    All,
    /// The first ceil(n/2) labels of the training split.
    Base,
    /// The remaining labels.
    Novel,
}

/// The base-to-novel rule (CoOp's `subsample_classes`): the sorted labels of `train`, the first
/// ceil(n/2) base, the rest novel; the chosen half of every split kept and relabelled from 0 in
/// label order.
pub fn subsample(splits: &Splits, which: Subsample) -> Splits {
    if which == Subsample::All {
        return splits.clone();
    }
    let (base, novel) = base_and_novel(&splits.train.iter().map(|i| i.label).collect::<Vec<_>>());
    let kept = if which == Subsample::Base { &base } else { &novel };
    let relabel: BTreeMap<usize, usize> = kept.iter().enumerate().map(|(new, &old)| (old, new)).collect();
    let keep = |items: &[Item]| -> Vec<Item> {
        items
            .iter()
            .filter_map(|i| relabel.get(&i.label).map(|&label| Item { label, ..i.clone() }))
            .collect()
    };
    Splits {
        train: keep(&splits.train),
        val: keep(&splits.val),
        test: keep(&splits.test),
    }
}

/// Class names by label (`[label] -> name`) of `items`.
pub fn classnames(items: &[Item]) -> Vec<String> {
    let mut names: BTreeMap<usize, &str> = BTreeMap::new();
    for i in items {
        names.entry(i.label).or_insert(&i.classname);
    }
    let n = names.keys().next_back().map_or(0, |m| m + 1);
    (0..n)
        .map(|l| names.get(&l).map_or(String::new(), |s| s.to_string()))
        .collect()
}

/// Dassl items as images: the evaluation view is CLIP's preprocessing
/// ([`crate::image::load_image_clip`]), the training view (when `augment`) a random resized crop
/// and flip ([`crate::resample::clip_train_crop`]).
#[derive(Debug, Clone)]
pub struct DasslImages {
    items: Vec<Item>,
    size: usize,
    augment: bool,
}

impl DasslImages {
    /// `items` at `size x size`.
    pub fn new(items: Vec<Item>, size: usize, augment: bool) -> Self {
        Self { items, size, augment }
    }

    /// The items.
    pub fn items(&self) -> &[Item] {
        &self.items
    }
}

impl crate::Dataset<crate::image::ImageItem> for DasslImages {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn get(&self, index: usize) -> Result<crate::image::ImageItem> {
        let item = self
            .items
            .get(index)
            .ok_or_else(|| DataError::invalid(format!("index {index} out of {}", self.items.len())))?;
        Ok(crate::image::ImageItem {
            pixels: crate::image::load_image_clip(&item.path, self.size)?,
            size: self.size,
            label: item.label,
        })
    }

    fn get_train(&self, index: usize, rng: &mut crate::Rng) -> Result<crate::image::ImageItem> {
        if !self.augment {
            return self.get(index);
        }
        let item = self
            .items
            .get(index)
            .ok_or_else(|| DataError::invalid(format!("index {index} out of {}", self.items.len())))?;
        let img = crate::image::decode_rgb(&item.path)?;
        let (w, h) = (img.width() as usize, img.height() as usize);
        Ok(crate::image::ImageItem {
            pixels: crate::resample::clip_train_crop(img.as_raw(), w, h, self.size, rng),
            size: self.size,
            label: item.label,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(label: usize, n: usize) -> Item {
        Item {
            path: PathBuf::from(format!("{label}/{n}.jpg")),
            label,
            classname: format!("class {label}"),
        }
    }

    #[test]
    fn base_and_novel_halves_are_relabelled() {
        let s = Splits {
            train: (0..5).flat_map(|l| (0..3).map(move |n| item(l, n))).collect(),
            val: vec![item(4, 9)],
            test: (0..5).map(|l| item(l, 7)).collect(),
        };
        let base = subsample(&s, Subsample::Base);
        let novel = subsample(&s, Subsample::Novel);
        // 5 classes: ceil(5/2) = 3 base (0, 1, 2), 2 novel (3, 4 -> 0, 1).
        assert_eq!(classnames(&base.test), ["class 0", "class 1", "class 2"]);
        assert_eq!(classnames(&novel.test), ["class 3", "class 4"]);
        assert_eq!(novel.val[0].label, 1);
        assert_eq!(base.train.len(), 9);
    }

    #[test]
    fn few_shot_takes_k_per_class_reproducibly() {
        let items: Vec<Item> = (0..3).flat_map(|l| (0..10).map(move |n| item(l, n))).collect();
        let a = few_shot(&items, 4, 1);
        assert_eq!(a.len(), 12);
        for l in 0..3 {
            assert_eq!(a.iter().filter(|i| i.label == l).count(), 4);
        }
        assert_eq!(a, few_shot(&items, 4, 1));
        assert_ne!(a, few_shot(&items, 4, 2));
        assert_eq!(few_shot(&items[..2], 16, 1).len(), 2);
    }

    #[test]
    fn split_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("images");
        std::fs::create_dir_all(img.join("cat")).unwrap();
        std::fs::write(img.join("cat/1.jpg"), b"x").unwrap();
        let json = dir.path().join("split_zhou_Test.json");
        std::fs::write(
            &json,
            r#"{"train": [["cat/1.jpg", 0, "cat"]], "val": [], "test": [["dog/2.jpg", 1, "dog"], ["dog/3.jpg", 1, "dog"]]}"#,
        )
        .unwrap();
        let e = read_split_json(&json, &img).unwrap_err().to_string();
        assert!(
            e.contains("split_zhou_Test.json") && e.contains("2 listed image(s)") && e.contains("dog/2.jpg"),
            "{e}"
        );
        std::fs::write(
            &json,
            r#"{"train": [["cat/1.jpg", "zero", "cat"]], "val": [], "test": []}"#,
        )
        .unwrap();
        let e = read_split_json(&json, &img).unwrap_err().to_string();
        assert!(e.contains("`train`[0]") && e.contains("label"), "{e}");
        std::fs::write(
            &json,
            r#"{"train": [["cat/1.jpg", 0, "cat"], ["cat/1.jpg", 0, "kitten"]], "val": [], "test": []}"#,
        )
        .unwrap();
        let e = read_split_json(&json, &img).unwrap_err().to_string();
        assert!(e.contains("`train`[1]") && e.contains("kitten"), "{e}");
        std::fs::write(
            &json,
            r#"{"train": [["cat/1.jpg", 0, "cat"]], "val": [], "test": []}"#,
        )
        .unwrap();
        let s = read_split_json(&json, &img).unwrap();
        assert_eq!(s.train[0].path, img.join("cat/1.jpg"));
    }

    #[test]
    fn dassl_images_preprocess_and_augment() {
        use crate::Dataset;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        let pixels: Vec<u8> = (0..3 * 40 * 40).map(|i| (i % 251) as u8).collect();
        crate::image::save_png(
            &crate::image::ImageItem {
                pixels,
                size: 40,
                label: 0,
            },
            &path,
        )
        .unwrap();
        let items = vec![Item {
            path,
            label: 3,
            classname: "x".into(),
        }];
        let ds = DasslImages::new(items, 24, true);
        let plain = ds.get(0).unwrap();
        assert_eq!(
            (plain.size, plain.label, plain.pixels.len()),
            (24, 3, 3 * 24 * 24)
        );
        let mut rng = crate::rng::rng_for(0, &[]);
        let a = ds.get_train(0, &mut rng).unwrap();
        let b = ds.get_train(0, &mut rng).unwrap();
        assert_eq!(a.pixels.len(), 3 * 24 * 24);
        assert_ne!(a.pixels, b.pixels, "two training views of an image should differ");
    }

    #[test]
    fn aircraft_lists_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("images")).unwrap();
        std::fs::write(d.join("variants.txt"), "707-320\nA300B4\n").unwrap();
        for (split, line) in [
            ("train", "0034309 A300B4"),
            ("val", "0034310 707-320"),
            ("test", "0034311 A300B4"),
        ] {
            std::fs::write(d.join(format!("images_variant_{split}.txt")), format!("{line}\n")).unwrap();
            std::fs::write(d.join("images").join(format!("{}.jpg", &line[..7])), b"x").unwrap();
        }
        let s = read_aircraft(d).unwrap();
        assert_eq!((s.train[0].label, s.val[0].label), (1, 0));
        std::fs::write(d.join("images_variant_test.txt"), "0034311 Concorde\n").unwrap();
        let e = read_aircraft(d).unwrap_err().to_string();
        assert!(
            e.contains("images_variant_test.txt") && e.contains("Concorde"),
            "{e}"
        );
    }

    #[test]
    fn imagenet_and_its_variants_are_read_and_missing_classes_listed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let names = "n01440764 tench\nn01443537 goldfish\nn01484850 great white shark\n";
        let touch = |p: std::path::PathBuf| {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"x").unwrap();
        };
        let inet = root.join("imagenet");
        std::fs::create_dir_all(&inet).unwrap();
        std::fs::write(inet.join("classnames.txt"), names).unwrap();
        for w in ["n01440764", "n01443537", "n01484850"] {
            touch(inet.join("images/train").join(w).join("a.JPEG"));
            touch(inet.join("images/val").join(w).join("b.JPEG"));
        }
        let s = open(root, "imagenet").unwrap();
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (3, 0, 3));
        assert_eq!(s.test[2].classname, "great white shark");
        // Two class folders missing: both named.
        std::fs::remove_dir_all(inet.join("images/val/n01440764")).unwrap();
        std::fs::remove_dir_all(inet.join("images/val/n01484850")).unwrap();
        let e = open(root, "ImageNet").unwrap_err().to_string();
        assert!(
            e.contains("2 class folder(s) are missing: n01440764, n01484850"),
            "{e}"
        );

        // V2: folders by label number; -A: a subset of wnids, relabelled from 0.
        let v2 = root.join("imagenetv2");
        std::fs::create_dir_all(&v2).unwrap();
        std::fs::write(v2.join("classnames.txt"), names).unwrap();
        for l in 0..3 {
            touch(
                v2.join("imagenetv2-matched-frequency-format-val")
                    .join(l.to_string())
                    .join("x.jpeg"),
            );
        }
        let s = open(root, "ImageNetV2").unwrap();
        assert_eq!(s.test.iter().map(|i| i.label).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(s.test[1].classname, "goldfish");
        let a = root.join("imagenet-adversarial");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::write(a.join("classnames.txt"), names).unwrap();
        touch(a.join("imagenet-a/n01484850/1.jpg"));
        touch(a.join("imagenet-a/n01443537/2.jpg"));
        std::fs::write(a.join("imagenet-a/README.txt"), b"not a class").unwrap();
        let s = open(root, "imageneta").unwrap();
        assert_eq!(classnames(&s.test), ["goldfish", "great white shark"]);
        touch(a.join("imagenet-a/n99999999/3.jpg"));
        let e = open(root, "ImageNetA").unwrap_err().to_string();
        assert!(e.contains("not wnids of classnames.txt: n99999999"), "{e}");
    }
}
