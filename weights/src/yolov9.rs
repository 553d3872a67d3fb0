//! YOLOv9 weights into `zoo_yolov9::YoloV9`: state dicts of the authors' (WongKinYiu/yolov9) and
//! ultralytics' models as safetensors (`weights/reference/yolov9_to_safetensors.py` converts a
//! `.pt`), PyTorch state-dict files, ultralytics ONNX exports (BN folded: load into a fused
//! model), and our own Burnpack files.
//!
//! The keys are the reference's (`model.{i}.cv1.conv.weight`, `model.{i}.cv1.bn.running_var`);
//! BN `weight`/`bias` become Burn's `gamma`/`beta`; the DFL's fixed 0..15 kernels and BN step
//! counters are dropped.

use crate::import::{ImportError, KeyMap, load_safetensors_bytes};
use crate::tensors::{NamedTensor, read_err, read_pytorch, read_safetensors, to_safetensors};
use std::path::Path;
use zoo_yolov9::YoloV9;

fn mismatch(path: &Path, details: String) -> ImportError {
    ImportError::Mismatch {
        path: path.to_path_buf(),
        details,
    }
}

/// The number of classes a state dict's head was built for (from the class branch's last
/// convolution, `cv3.0.2` of a single head, `cv5.0.2` of a dual head's main part).
pub fn num_classes(tensors: &[NamedTensor]) -> Option<usize> {
    let re = regex::Regex::new(r"^model\.\d+\.cv[35]\.0\.2\.weight$").expect("valid regex");
    tensors
        .iter()
        .filter(|t| re.is_match(&t.name))
        .max_by_key(|t| t.name.contains(".cv5."))
        .map(|t| t.shape[0])
}

/// Drops what is not a weight of ours (DFL kernels, after checking they are 0..15) and checks the
/// class count against the model's.
pub fn reference_to_zoo(
    model: &YoloV9,
    tensors: Vec<NamedTensor>,
    path: &Path,
) -> Result<Vec<NamedTensor>, ImportError> {
    let want = model.config().num_classes;
    if let Some(have) = num_classes(&tensors)
        && have != want
    {
        return Err(mismatch(
            path,
            format!("the weights are for {have} classes, the model was built for {want} (pass --nc {have})"),
        ));
    }
    let mut out = Vec::with_capacity(tensors.len());
    for t in tensors {
        if t.name.contains(".dfl.") || t.name.contains(".dfl2.") {
            let bins: Vec<f32> = (0..t.values.len()).map(|i| i as f32).collect();
            if t.values != bins {
                return Err(mismatch(
                    path,
                    format!("`{}` is not the DFL's fixed 0..15 kernel", t.name),
                ));
            }
            continue;
        }
        out.push(t);
    }
    Ok(out)
}

/// Loads reference-named tensors (see the module docs) into `model`. Every tensor of the model
/// must be present and every tensor of the file used; shapes must match.
pub fn load_tensors(model: YoloV9, tensors: Vec<NamedTensor>, path: &Path) -> Result<YoloV9, ImportError> {
    let tensors = reference_to_zoo(&model, tensors, path)?;
    let bytes = to_safetensors(&tensors, false).map_err(|e| read_err(path, format!("re-encoding: {e}")))?;
    let map = KeyMap {
        from_pytorch: true,
        skip_enum_variants: true,
        ..KeyMap::default()
    };
    let name = model.config().name();
    load_safetensors_bytes(model, bytes, path, &map).map_err(|e| match e {
        ImportError::Mismatch { path, details } => ImportError::Mismatch {
            path,
            details: format!(
                "{details} [is it a {name} state dict? a fused (deploy) file loads only into a fused model]"
            ),
        },
        other => other,
    })
}

/// The float tensors of a state dict file by extension: `.pt`/`.pth` (PyTorch), `.onnx` (the
/// initializers under `model.`), otherwise safetensors.
fn read_state_dict(path: &Path) -> Result<Vec<NamedTensor>, ImportError> {
    match extension(path).as_str() {
        "pt" | "pth" => read_pytorch(path),
        "onnx" => Ok(crate::onnx::read_initializers(path)?
            .into_iter()
            .filter(|t| t.name.starts_with("model."))
            .map(|t| NamedTensor {
                name: t.name,
                shape: t.dims,
                values: t.values,
            })
            .collect()),
        _ => {
            let bytes = std::fs::read(path).map_err(|e| read_err(path, e.to_string()))?;
            read_safetensors(&bytes, path)
        }
    }
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default()
}

/// The committed shapes detector (`weights/yolov9_shapes.safetensors`): gelan-t for the four
/// generated shapes (`zoo_datasets::detection::DETECTION_SHAPES`), trained by `train-yolov9`
/// from scratch at 256 pixels (the command and its validation numbers are on the YOLOv9 page),
/// a state dict in the reference's naming in half precision, on `device`.
pub fn shapes_detector(device: &burn::tensor::Device) -> Result<YoloV9, ImportError> {
    const BYTES: &[u8] = include_bytes!("../yolov9_shapes.safetensors");
    let origin = Path::new("weights/yolov9_shapes.safetensors (embedded)");
    let model = zoo_yolov9::YoloConfig::from_name("gelan-t", zoo_datasets::detection::DETECTION_SHAPES.len())
        .and_then(|c| c.init(device))
        .map_err(|e| read_err(origin, e.to_string()))?;
    load_tensors(model, read_safetensors(BYTES, origin)?, origin)
}

/// Loads weights for `model` from a file: `.safetensors` or `.pt`/`.pth` state dicts in the
/// reference's naming, `.onnx` (the initializers of an ultralytics export, which has BNs folded:
/// `model` is fused first), or a zoo `.bpk`.
pub fn load_yolov9(model: YoloV9, path: &Path) -> Result<YoloV9, ImportError> {
    match extension(path).as_str() {
        "bpk" => crate::bpk::load_module(model, path).map_err(|e| read_err(path, e.to_string())),
        "onnx" => load_tensors(model.fuse(), read_state_dict(path)?, path),
        _ => load_tensors(model, read_state_dict(path)?, path),
    }
}

/// The state dict of `model` in the reference's naming (BN `weight`/`bias`, no enum variants),
/// without the DFL kernels and step counters.
pub fn state_dict(model: &YoloV9) -> Result<Vec<NamedTensor>, ImportError> {
    let variants = regex::Regex::new(r"\.(Conv|AConv|ADown|Elan1|RepElan|Sppelan|CbLinear|Head|Csp|Out)\.")
        .expect("valid regex");
    let mut tensors = crate::tensors::module_tensors(model)?;
    for t in &mut tensors {
        // Twice: adjacent variant names share a dot.
        t.name = variants.replace_all(&t.name, ".").into_owned();
        t.name = variants.replace_all(&t.name, ".").into_owned();
    }
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tensors)
}

/// Loads the tensors of a state dict (`.safetensors`, `.pt`/`.pth`) whose name and shape match
/// `model`'s, leaving the others as initialised: fine-tuning from weights trained for another
/// class count, whose class branches (their widths depend on the class count) are then
/// re-initialised (the reference's `intersect_dicts`). Returns the model, the number of tensors
/// loaded and the names of the model's tensors left as initialised.
pub fn load_matching(model: YoloV9, path: &Path) -> Result<(YoloV9, usize, Vec<String>), ImportError> {
    let tensors = read_state_dict(path)?;
    let ours: std::collections::HashMap<String, Vec<usize>> = state_dict(&model)?
        .into_iter()
        .map(|t| (t.name, t.shape))
        .collect();
    let keep: Vec<NamedTensor> = tensors
        .into_iter()
        .filter(|t| ours.get(&t.name) == Some(&t.shape))
        .collect();
    if keep.is_empty() {
        return Err(mismatch(
            path,
            format!("no tensor fits a {} model", model.config().name()),
        ));
    }
    let loaded: std::collections::HashSet<String> = keep.iter().map(|t| t.name.clone()).collect();
    let mut fresh: Vec<String> = ours.into_keys().filter(|k| !loaded.contains(k)).collect();
    fresh.sort();
    let bytes = to_safetensors(&keep, false).map_err(|e| read_err(path, format!("re-encoding: {e}")))?;
    let map = KeyMap {
        from_pytorch: true,
        skip_enum_variants: true,
        allow_partial: true,
        ..KeyMap::default()
    };
    let model = load_safetensors_bytes(model, bytes, path, &map)?;
    Ok((model, loaded.len(), fresh))
}
