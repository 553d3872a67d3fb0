//! COCO instances files (`instances_val2017.json`): the fields that evaluation (COCOeval) and
//! training on COCO-format datasets read, parsed with the JSON path of any bad field.

use crate::error::{DataError, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// An image id or category id as COCO files write them (integers; strings are accepted and
/// compared as given).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Id {
    /// A numeric id.
    Num(i64),
    /// A string id.
    Str(String),
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Num(n) => write!(f, "{n}"),
            Self::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// A ground-truth object.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct GtAnnotation {
    /// Annotation id.
    pub id: i64,
    /// Its image.
    pub image_id: Id,
    /// Its category.
    pub category_id: Id,
    /// x, y, width, height.
    pub bbox: [f64; 4],
    /// Object area (the segmentation's for COCO; it decides small / medium / large).
    pub area: f64,
    /// A crowd region (ignored; matches any number of detections).
    #[serde(default)]
    pub iscrowd: u8,
}

/// An image entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct GtImage {
    /// Image id.
    pub id: Id,
    /// File name, relative to the images folder (needed for training, not for evaluation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<f64>,
    /// Height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<f64>,
}

/// A category entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct GtCategory {
    /// Category id.
    pub id: Id,
    /// Name.
    #[serde(default)]
    pub name: String,
}

/// A COCO instances file (`instances_val2017.json`): the fields COCOeval reads.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct GroundTruth {
    /// Images.
    pub images: Vec<GtImage>,
    /// Objects.
    pub annotations: Vec<GtAnnotation>,
    /// Categories.
    pub categories: Vec<GtCategory>,
}

impl GroundTruth {
    /// Reads a COCO instances JSON file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        parse_json(&text).map_err(|m| DataError::format(path, m))
    }
}

/// Parses JSON into `T`; the error names the JSON path of the field at fault.
pub fn parse_json<T: serde::de::DeserializeOwned>(text: &str) -> std::result::Result<T, String> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        if e.path().to_string() == "." {
            e.inner().to_string()
        } else {
            format!("field `{}`: {}", e.path(), e.inner())
        }
    })
}
