//! The initializers (weights) of an ONNX model, read straight from its protobuf: enough to map an
//! exported network's parameters onto a zoo module by name. The graph itself is not interpreted
//! (for inference-only import of a whole graph see the burn-onnx example in `examples/`).
//!
//! Wire format (onnx.proto): ModelProto.graph = 7; GraphProto.initializer = 5 (TensorProto);
//! TensorProto: dims = 1, data_type = 2, float_data = 4, int32_data = 5, int64_data = 7,
//! name = 8, raw_data = 9, double_data = 10, data_location = 14.

use crate::import::{ImportError, decode_floats};
use std::path::Path;

/// One float initializer, converted to f32.
#[derive(Debug, Clone, PartialEq)]
pub struct Initializer {
    /// Its name in the graph (for `torch.onnx.export`, the parameter's module path).
    pub name: String,
    /// Shape.
    pub dims: Vec<usize>,
    /// Values, row-major.
    pub values: Vec<f32>,
}

// ONNX TensorProto.DataType values.
const FLOAT: u64 = 1;
const FLOAT16: u64 = 10;
const DOUBLE: u64 = 11;
const BFLOAT16: u64 = 16;

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos)?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// The next field: (number, wire type, payload for length-delimited / the value otherwise).
    fn field(&mut self) -> Option<(u64, Field<'a>)> {
        let key = self.varint()?;
        let (num, wire) = (key >> 3, key & 7);
        let f = match wire {
            0 => Field::Int(self.varint()?),
            1 => {
                let b = self.buf.get(self.pos..self.pos + 8)?;
                self.pos += 8;
                Field::Int(u64::from_le_bytes(b.try_into().ok()?))
            }
            2 => {
                let n = usize::try_from(self.varint()?).ok()?;
                let end = self.pos.checked_add(n)?;
                let b = self.buf.get(self.pos..end)?;
                self.pos = end;
                Field::Bytes(b)
            }
            5 => {
                let b = self.buf.get(self.pos..self.pos + 4)?;
                self.pos += 4;
                Field::Int(u64::from(u32::from_le_bytes(b.try_into().ok()?)))
            }
            _ => return None,
        };
        Some((num, f))
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }
}

enum Field<'a> {
    Int(u64),
    Bytes(&'a [u8]),
}

fn fields(buf: &[u8]) -> Result<Vec<(u64, Field<'_>)>, String> {
    let mut r = Reader { buf, pos: 0 };
    let mut out = Vec::new();
    while !r.done() {
        out.push(
            r.field()
                .ok_or_else(|| format!("malformed protobuf at byte {}", r.pos))?,
        );
    }
    Ok(out)
}

fn tensor(buf: &[u8]) -> Result<Option<Initializer>, String> {
    let (mut name, mut dims, mut dtype) = (String::new(), Vec::new(), 0u64);
    let (mut raw, mut floats, mut doubles): (Option<&[u8]>, Vec<f32>, Vec<f32>) =
        (None, Vec::new(), Vec::new());
    let mut external = false;
    for (num, f) in fields(buf)? {
        match (num, f) {
            (1, Field::Int(d)) => dims.push(d as usize),
            (1, Field::Bytes(b)) => {
                let mut r = Reader { buf: b, pos: 0 };
                while !r.done() {
                    dims.push(r.varint().ok_or("malformed packed dims")? as usize);
                }
            }
            (2, Field::Int(t)) => dtype = t,
            (4, Field::Bytes(b)) => floats.extend(decode_floats(b, 4, false)),
            (4, Field::Int(v)) => floats.push(f32::from_bits(v as u32)),
            (8, Field::Bytes(b)) => name = String::from_utf8_lossy(b).into_owned(),
            (9, Field::Bytes(b)) => raw = Some(b),
            (10, Field::Bytes(b)) => doubles.extend(decode_floats(b, 8, false)),
            (14, Field::Int(1)) => external = true,
            _ => {}
        }
    }
    if external {
        return Err(format!(
            "initializer `{name}` keeps its data in an external file; re-export with the weights inside the .onnx"
        ));
    }
    let values = match (dtype, raw) {
        (FLOAT, Some(b)) => decode_floats(b, 4, false),
        (DOUBLE, Some(b)) => decode_floats(b, 8, false),
        (FLOAT16, Some(b)) => decode_floats(b, 2, false),
        (BFLOAT16, Some(b)) => decode_floats(b, 2, true),
        (FLOAT, None) => floats,
        (DOUBLE, None) => doubles,
        // Integer and other initializers (shapes, indices) are not weights.
        _ => return Ok(None),
    };
    // A corrupt file may claim any shape: the product is checked, never trusted.
    let n = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if n != Some(values.len()) {
        return Err(format!(
            "initializer `{name}` has {} values for shape {dims:?}",
            values.len()
        ));
    }
    Ok(Some(Initializer { name, dims, values }))
}

/// Reads every float initializer of the ONNX model at `path`.
pub fn read_initializers(path: &Path) -> Result<Vec<Initializer>, ImportError> {
    let bad = |message: String| ImportError::Read {
        path: path.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    initializers_from_bytes(&bytes).map_err(bad)
}

/// [`read_initializers`] on the bytes of a model.
pub fn initializers_from_bytes(bytes: &[u8]) -> Result<Vec<Initializer>, String> {
    let graph = fields(bytes)
        .map_err(|e| format!("not an ONNX model: {e}"))?
        .into_iter()
        .find_map(|(n, f)| match (n, f) {
            (7, Field::Bytes(b)) => Some(b),
            _ => None,
        })
        .ok_or_else(|| "not an ONNX model: no graph".to_string())?;
    let mut out = Vec::new();
    for (n, f) in fields(graph).map_err(|e| format!("graph: {e}"))? {
        if let (5, Field::Bytes(b)) = (n, f)
            && let Some(t) = tensor(b)?
        {
            out.push(t);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.onnx");
        std::fs::write(&p, [0xffu8; 16]).unwrap();
        let e = read_initializers(&p).unwrap_err().to_string();
        assert!(e.contains("x.onnx") && e.contains("ONNX"), "{e}");
    }

    #[test]
    fn corrupted_models_are_errors_not_panics() {
        // Mutation fuzzing of a real export (weights/fixtures/clip_onnx_text.onnx): flipped
        // bytes, truncations and inserted varints must give Ok or Err, never a panic.
        let good = std::fs::read(crate::fixture::path("clip_onnx_text.onnx")).unwrap();
        assert!(!initializers_from_bytes(&good).unwrap().is_empty());
        zoo_datasets::fuzz::mutations(&good, 3000, 7, |bytes| {
            let _ = initializers_from_bytes(bytes);
        });
        // A tensor claiming a shape whose size overflows is refused.
        let mut t = vec![0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]; // dims: 2^63 - 1
        t.extend([0x08, 0x04, 0x10, 0x01]); // dims: 4, data_type: FLOAT
        let e = tensor(&t).unwrap_err();
        assert!(e.contains("values for shape"), "{e}");
    }
}
