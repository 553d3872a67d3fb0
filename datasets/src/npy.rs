//! NumPy `.npy` and `.npz` files: the format of the N-body trajectories (EGNN/PONITA generator)
//! and of MD17/rMD17. Reads C-ordered arrays of float, integer and bool dtypes in either byte
//! order, format versions 1-3; writes version 1, little-endian, atomically.

use crate::error::{DataError, Result};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

const MAGIC: &[u8] = b"\x93NUMPY";

/// The values of an array, in the dtype the file stores.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyData {
    /// `f8`
    F64(Vec<f64>),
    /// `f4`
    F32(Vec<f32>),
    /// `i8`, `i4`, `i2`, `i1`, `u4`, `u2`, `u1`, `b1` (widened)
    Int(Vec<i64>),
}

/// One array: shape (C order) and values.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Shape; empty for a scalar.
    pub shape: Vec<usize>,
    /// Values in C order.
    pub data: NpyData,
}

impl NpyArray {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the array holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values as f64 (integers converted).
    pub fn to_f64(&self) -> Vec<f64> {
        match &self.data {
            NpyData::F64(v) => v.clone(),
            NpyData::F32(v) => v.iter().map(|&x| x as f64).collect(),
            NpyData::Int(v) => v.iter().map(|&x| x as f64).collect(),
        }
    }

    /// The values as f32.
    pub fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            NpyData::F64(v) => v.iter().map(|&x| x as f32).collect(),
            NpyData::F32(v) => v.clone(),
            NpyData::Int(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }

    /// The values as integers; `None` for a float array.
    pub fn to_i64(&self) -> Option<Vec<i64>> {
        match &self.data {
            NpyData::Int(v) => Some(v.clone()),
            _ => None,
        }
    }

    /// A float64 array.
    pub fn f64(shape: Vec<usize>, values: Vec<f64>) -> Self {
        assert_eq!(
            shape.iter().product::<usize>(),
            values.len(),
            "shape and length differ"
        );
        Self {
            shape,
            data: NpyData::F64(values),
        }
    }
}

/// Reads a `.npy` file.
pub fn read_npy(path: impl AsRef<Path>) -> Result<NpyArray> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    parse_npy(&bytes).map_err(|m| DataError::format(path, m))
}

/// Reads every array of a `.npz` archive (stored or deflated), keyed by name without `.npy`.
pub fn read_npz(path: impl AsRef<Path>) -> Result<BTreeMap<String, NpyArray>> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| DataError::format(path, format!("not a zip (npz) archive: {e}")))?;
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| DataError::format(path, format!("member {i}: {e}")))?;
        let name = entry.name().to_string();
        // The member's declared size is not trusted for the allocation (a hostile header may
        // claim terabytes); the buffer grows with what is actually decompressed.
        let mut bytes = Vec::with_capacity((entry.size() as usize).min(1 << 26));
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| DataError::format(path, format!("member `{name}`: {e}")))?;
        let array =
            parse_npy(&bytes).map_err(|m| DataError::format(path, format!("member `{name}`: {m}")))?;
        out.insert(name.trim_end_matches(".npy").to_string(), array);
    }
    Ok(out)
}

/// Parses the bytes of a `.npy` file; the error says what is wrong (the caller adds the file).
pub fn parse_npy(bytes: &[u8]) -> std::result::Result<NpyArray, String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy file (bad magic)".into());
    }
    let major = bytes[6];
    let (header_len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("truncated header".into());
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(format!("unsupported .npy format version {v}")),
    };
    let header = bytes.get(start..start + header_len).ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "header is not text")?;
    let descr = dict_value(header, "descr").ok_or("header has no `descr`")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    let fortran = match dict_value(header, "fortran_order").map(str::trim) {
        Some("False") => false,
        Some("True") => true,
        Some(v) => return Err(format!("`fortran_order` is `{v}`, not True or False")),
        None => return Err("header has no `fortran_order`".into()),
    };
    let shape_text = dict_value(header, "shape").ok_or("header has no `shape`")?;
    let shape = shape_text
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad shape `{shape_text}`"))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    // A header may claim any shape: check the size against the bytes present before allocating.
    let n = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format!("shape {shape:?} is too large"))?;
    let body = &bytes[start + header_len..];
    if descr.len() < 3 || !descr.is_char_boundary(1) {
        return Err(format!("unsupported dtype `{descr}`"));
    }
    let (order, kind) = descr.split_at(1);
    let big = match order {
        "<" | "|" | "=" => false,
        ">" => true,
        _ => return Err(format!("unsupported dtype `{descr}`")),
    };
    let size: usize = kind
        .get(1..)
        .and_then(|k| k.parse().ok())
        .filter(|&k| k > 0)
        .ok_or_else(|| format!("unsupported dtype `{descr}`"))?;
    let needed = n
        .checked_mul(size)
        .ok_or_else(|| format!("shape {shape:?} is too large"))?;
    if body.len() < needed {
        return Err(format!(
            "data is truncated: shape {shape:?} of `{descr}` needs {} bytes, the file has {}",
            needed,
            body.len()
        ));
    }
    let chunks = body[..needed].chunks_exact(size);
    macro_rules! decode {
        ($t:ty) => {
            chunks.map(|c| {
                let a = c.try_into().expect("chunk size");
                if big {
                    <$t>::from_be_bytes(a)
                } else {
                    <$t>::from_le_bytes(a)
                }
            })
        };
    }
    let mut data = match (kind.as_bytes()[0], size) {
        (b'f', 8) => NpyData::F64(decode!(f64).collect()),
        (b'f', 4) => NpyData::F32(decode!(f32).collect()),
        (b'i', 8) => NpyData::Int(decode!(i64).collect()),
        (b'i', 4) => NpyData::Int(decode!(i32).map(i64::from).collect()),
        (b'i', 2) => NpyData::Int(decode!(i16).map(i64::from).collect()),
        (b'i', 1) => NpyData::Int(decode!(i8).map(i64::from).collect()),
        (b'u', 4) => NpyData::Int(decode!(u32).map(i64::from).collect()),
        (b'u', 2) => NpyData::Int(decode!(u16).map(i64::from).collect()),
        (b'u' | b'b', 1) => NpyData::Int(decode!(u8).map(i64::from).collect()),
        _ => {
            return Err(format!(
                "unsupported dtype `{descr}` (float, int and bool are read)"
            ));
        }
    };
    if fortran {
        // np.save writes a Fortran-contiguous array column-major: reorder to C order.
        data = match data {
            NpyData::F64(v) => NpyData::F64(fortran_to_c(&v, &shape)),
            NpyData::F32(v) => NpyData::F32(fortran_to_c(&v, &shape)),
            NpyData::Int(v) => NpyData::Int(fortran_to_c(&v, &shape)),
        };
    }
    Ok(NpyArray { shape, data })
}

/// Values stored column-major (first axis fastest) in row-major order.
fn fortran_to_c<T: Copy>(values: &[T], shape: &[usize]) -> Vec<T> {
    // Column-major strides; walk the C-order index like an odometer (last axis fastest).
    let mut strides = vec![1usize; shape.len()];
    for a in 1..shape.len() {
        strides[a] = strides[a - 1] * shape[a - 1];
    }
    let mut index = vec![0usize; shape.len()];
    let mut out = Vec::with_capacity(values.len());
    for _ in 0..values.len() {
        out.push(values[index.iter().zip(&strides).map(|(i, s)| i * s).sum::<usize>()]);
        for a in (0..shape.len()).rev() {
            index[a] += 1;
            if index[a] < shape[a] {
                break;
            }
            index[a] = 0;
        }
    }
    out
}

/// The text of `key`'s value in the header's Python dict literal.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = header[at + key.len() + 2..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else {
        rest.find([',', '}'])?
    };
    Some(rest[..end].trim())
}

/// Encodes `array` as a version-1 `.npy` file (little-endian).
pub fn encode_npy(array: &NpyArray) -> Vec<u8> {
    let descr = match array.data {
        NpyData::F64(_) => "<f8",
        NpyData::F32(_) => "<f4",
        NpyData::Int(_) => "<i8",
    };
    let shape = match array.shape.len() {
        1 => format!("({},)", array.shape[0]),
        _ => format!(
            "({})",
            array
                .shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Pad so that the data starts on a 64-byte boundary, as numpy does.
    let total = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + array.len() * 8);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    match &array.data {
        NpyData::F64(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        NpyData::F32(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        NpyData::Int(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
    }
    out
}

/// Writes `array` to `path` atomically (temporary file in the same directory, then rename).
pub fn write_npy(path: impl AsRef<Path>, array: &NpyArray) -> Result<()> {
    let path = path.as_ref();
    let tmp = path.with_extension("npy.tmp");
    std::fs::write(&tmp, encode_npy(array)).map_err(|e| DataError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| DataError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_header_forms() {
        let a = NpyArray::f64(vec![2, 3], vec![1.0, -2.5, 3.0, 4.0, 5.0, 6.0]);
        let bytes = encode_npy(&a);
        assert_eq!((bytes.len() - 48) % 64, 0, "header padded to 64 bytes");
        assert_eq!(parse_npy(&bytes).unwrap(), a);
        let one = NpyArray::f64(vec![3], vec![1.0, 2.0, 3.0]);
        assert_eq!(parse_npy(&encode_npy(&one)).unwrap(), one);
        // A big-endian int32 header as numpy writes it, shape key first.
        let mut b = MAGIC.to_vec();
        let h = "{'shape': (2,), 'fortran_order': False, 'descr': '>i4'}\n";
        b.extend_from_slice(&[1, 0]);
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(&7i32.to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes());
        let p = parse_npy(&b).unwrap();
        assert_eq!(p.shape, vec![2]);
        assert_eq!(p.to_i64(), Some(vec![7, -1]));
    }

    #[test]
    fn huge_claimed_shapes_are_errors_not_allocations() {
        for shape in ["(100000, 100000, 100000)", "(18446744073709551615, 2)"] {
            let mut b = MAGIC.to_vec();
            let h = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}\n");
            b.extend_from_slice(&[1, 0]);
            b.extend_from_slice(&(h.len() as u16).to_le_bytes());
            b.extend_from_slice(h.as_bytes());
            b.extend_from_slice(&[0; 16]);
            let e = parse_npy(&b).unwrap_err();
            assert!(e.contains("truncated") || e.contains("too large"), "{e}");
        }
    }

    #[test]
    fn mutated_files_never_panic() {
        use rand::{RngExt, SeedableRng};
        let good = encode_npy(&NpyArray::f64(vec![2, 3], vec![1.5; 6]));
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(0);
        for _ in 0..5000 {
            let mut b = good.clone();
            for _ in 0..rng.random_range(1..6) {
                let i = rng.random_range(0..b.len());
                b[i] = rng.random();
            }
            b.truncate(rng.random_range(0..=b.len()));
            let _ = parse_npy(&b);
        }
    }

    #[test]
    fn bad_files_say_why() {
        assert!(parse_npy(b"hello world").unwrap_err().contains("magic"));
        let a = NpyArray::f64(vec![4], vec![1.0; 4]);
        let bytes = encode_npy(&a);
        let e = parse_npy(&bytes[..bytes.len() - 3]).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
        let at = bytes.windows(5).position(|w| w == b"False").unwrap();
        let mut odd = bytes.clone();
        odd[at..at + 5].copy_from_slice(b"Maybe");
        let e = parse_npy(&odd).unwrap_err();
        assert!(e.contains("fortran_order"), "{e}");
    }

    /// A Fortran-ordered file (`np.save` of `np.asfortranarray(np.arange(24).reshape(2, 3, 4))`
    /// writes 0, 12, 4, 16, 8, 20, 1, 13, ...) reads back in C order.
    #[test]
    fn fortran_order_is_reordered() {
        let shape = [2usize, 3, 4];
        let c: Vec<f64> = (0..24).map(f64::from).collect();
        let mut column_major = Vec::new();
        for k in 0..4 {
            for j in 0..3 {
                for i in 0..2 {
                    column_major.push(c[i * 12 + j * 4 + k]);
                }
            }
        }
        assert_eq!(&column_major[..8], &[0.0, 12.0, 4.0, 16.0, 8.0, 20.0, 1.0, 13.0]);
        let mut bytes = encode_npy(&NpyArray::f64(shape.to_vec(), column_major));
        let at = bytes.windows(5).position(|w| w == b"False").unwrap();
        bytes[at..at + 5].copy_from_slice(b"True ");
        let a = parse_npy(&bytes).unwrap();
        assert_eq!(a.shape, shape);
        assert_eq!(a.to_f64(), c);
    }
}
