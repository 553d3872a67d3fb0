//! Equiangular Basis Vectors.
//!
//! Shen, Sun, Wei, *Equiangular Basis Vectors*, CVPR 2023 (arXiv 2303.11637); reference code
//! aassxun/Equiangular-Basis-Vectors.
//!
//! * [`generator`]: N unit vectors in R^d whose pairwise |cos| is at most `alpha`, by the
//!   reference's sliced SGD (or Adam), or exactly where a construction exists (orthonormal rows for
//!   N <= d, the regular simplex for N = d + 1); every result reports its achieved max |cos| next
//!   to the Welch lower bound.
//! * [`head`]: the fixed-basis classifier `logits = normalize(f) E^T / tau` (paper, Sec. 3.2)
//!   and the plain linear head it is compared with, on a ResNet backbone.
#![forbid(unsafe_code)]

pub mod generator;
pub mod head;

pub use generator::{
    Construction, EbvError, GeneratedBasis, GeneratorConfig, Optimizer, generate, max_abs_cos,
    normalize_rows, objective, optimize_from, welch_bound,
};
pub use head::{EbvHead, HeadKind, ImageClassifier, ImageClassifierConfig};
