//! The one numeric comparison of burnzoo: the reference tests, the fixture helpers, `zoo-weights
//! verify`, the benchmark's checks and the training tests all measure "how far is this from
//! that" here.
//!
//! A NaN or an infinity on either side is a failure that names its index. The obvious fold,
//! `diffs.fold(0.0, f32::max)`, silently drops NaN (`f32::max(0.0, NaN)` is 0.0), so an output
//! that had turned entirely into NaN compared as "max abs diff 0"; and Burn's
//! `TensorData::assert_approx_eq` counts NaN against NaN, and an infinity against the same
//! infinity, as equal. Neither happens here: reference fixtures hold finite numbers, and a
//! computed value that is not finite is a bug to report, not a difference to measure.
#![forbid(unsafe_code)]

use burn::prelude::*;
use burn::tensor::{TensorData, Tolerance};
use std::fmt;

/// Which side of a comparison a value belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The value computed by the code under test.
    Actual,
    /// The reference value.
    Expected,
}

/// Why two lists of values could not be compared.
#[derive(Debug, Clone, PartialEq)]
pub enum Mismatch {
    /// The lists differ in length.
    Length { actual: usize, expected: usize },
    /// The first index (in order) where either side is NaN or infinite, with both values there.
    NonFinite {
        side: Side,
        index: usize,
        actual: f64,
        expected: f64,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Length { actual, expected } => {
                write!(f, "{actual} computed values against {expected} expected")
            }
            Mismatch::NonFinite {
                side,
                index,
                actual,
                expected,
            } => {
                let (which, value) = match side {
                    Side::Actual => ("computed", actual),
                    Side::Expected => ("expected", expected),
                };
                write!(
                    f,
                    "the {which} value at flat index {index} is {value} (computed {actual}, expected {expected})"
                )
            }
        }
    }
}

impl std::error::Error for Mismatch {}

/// The largest absolute difference between two lists of finite values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Diff {
    /// max |actual - expected|.
    pub max_abs: f64,
    /// The flat index where it occurs (the first, if several).
    pub index: usize,
    /// max |expected|, for relative tolerances.
    pub scale: f64,
}

impl Diff {
    /// max |actual - expected| / max |expected| (the smallest positive float standing in for a
    /// zero scale).
    pub fn relative(&self) -> f64 {
        self.max_abs / self.scale.max(f64::MIN_POSITIVE)
    }

    /// Whether max |actual - expected| <= `tol` max(max |expected|, 1): relative to the
    /// reference's magnitude, absolute for references below 1.
    pub fn within(&self, tol: f64) -> bool {
        self.max_abs <= tol * self.scale.max(1.0)
    }
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "max abs diff {:.3e} at flat index {} (max abs expected {:.3e}, relative {:.3e})",
            self.max_abs,
            self.index,
            self.scale,
            self.relative()
        )
    }
}

/// Compares `actual` with `expected` value by value (in f64): the largest absolute difference,
/// or a [`Mismatch`] when the lengths differ or either side holds a NaN or an infinity.
pub fn diff<T: Copy + Into<f64>>(actual: &[T], expected: &[T]) -> Result<Diff, Mismatch> {
    if actual.len() != expected.len() {
        return Err(Mismatch::Length {
            actual: actual.len(),
            expected: expected.len(),
        });
    }
    let mut out = Diff {
        max_abs: 0.0,
        index: 0,
        scale: 0.0,
    };
    for (index, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let (a, e): (f64, f64) = (a.into(), e.into());
        if !a.is_finite() || !e.is_finite() {
            let side = if a.is_finite() {
                Side::Expected
            } else {
                Side::Actual
            };
            return Err(Mismatch::NonFinite {
                side,
                index,
                actual: a,
                expected: e,
            });
        }
        let d = (a - e).abs();
        if d > out.max_abs {
            out.max_abs = d;
            out.index = index;
        }
        out.scale = out.scale.max(e.abs());
    }
    Ok(out)
}

/// [`diff`] for tests: (max |actual - expected|, max |expected|) as f32.
///
/// # Panics
/// With the [`Mismatch`] (the index and both values) when the lengths differ or either side holds
/// a NaN or an infinity: a test that reaches a non-finite number has failed.
#[track_caller]
pub fn max_abs_diff(actual: &[f32], expected: &[f32]) -> (f32, f32) {
    match diff(actual, expected) {
        Ok(d) => (d.max_abs as f32, d.scale as f32),
        Err(m) => panic!("comparison failed: {m}"),
    }
}

/// Every value of `values` is finite, or the first index that is not, with its value.
pub fn all_finite<T: Copy + Into<f64>>(values: &[T]) -> Result<(), (usize, f64)> {
    match values.iter().position(|&v| !v.into().is_finite()) {
        None => Ok(()),
        Some(i) => Err((i, values[i].into())),
    }
}

/// The values of a float tensor as f32 (on the host, without autodiff).
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.without_autodiff()
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float tensor data")
}

/// [`max_abs_diff`] of two tensors of the same shape.
///
/// # Panics
/// When the shapes differ, or as [`max_abs_diff`] does on a NaN or an infinity.
#[track_caller]
pub fn tensor_max_abs_diff<const D: usize>(actual: Tensor<D>, expected: Tensor<D>) -> (f32, f32) {
    let (a, e) = (actual.dims(), expected.dims());
    assert_eq!(a, e, "shapes differ: computed {a:?}, expected {e:?}");
    max_abs_diff(&values(actual), &values(expected))
}

/// Burn's `TensorData::assert_approx_eq` (its tolerance semantics), preceded by the check that
/// both sides are finite: Burn's own counts NaN against NaN, and an infinity against the same
/// infinity, as equal.
///
/// # Panics
/// On the first NaN or infinity on either side (naming its index), then as Burn's does.
#[track_caller]
pub fn assert_approx_eq(actual: &TensorData, expected: &TensorData, tolerance: Tolerance<f32>) {
    for (side, data) in [("computed", actual), ("expected", expected)] {
        let v = data
            .clone()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("float data");
        if let Err((index, value)) = all_finite(&v) {
            panic!("the {side} value at flat index {index} is {value}");
        }
    }
    actual.assert_approx_eq::<f32>(expected, tolerance);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_the_largest_difference_and_where() {
        let d = diff(&[1.0f32, 2.0, 3.5, -4.0], &[1.0, 2.5, 3.0, -4.0]).unwrap();
        assert_eq!((d.max_abs, d.index, d.scale), (0.5, 1, 4.0));
        assert_eq!(d.relative(), 0.125);
        assert!(d.within(0.125) && !d.within(0.12));
        // Below a reference magnitude of 1 the tolerance is absolute.
        let small = diff(&[0.01f64], &[0.0]).unwrap();
        assert!(small.within(0.01) && !small.within(0.009));
        assert_eq!(max_abs_diff(&[], &[]), (0.0, 0.0));
    }

    #[test]
    fn nan_and_infinity_on_either_side_fail_with_their_index() {
        let good = [0.5f32, 1.0, 2.0];
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut with = good;
            with[2] = bad;
            for (a, e, side) in [(&with, &good, Side::Actual), (&good, &with, Side::Expected)] {
                let m = diff(a, e).unwrap_err();
                let Mismatch::NonFinite { side: s, index, .. } = m else {
                    panic!("{m:?}")
                };
                assert_eq!((s, index), (side, 2));
                assert!(m.to_string().contains("flat index 2"), "{m}");
            }
            // Both sides equally non-finite is still a failure (Burn's assert_approx_eq passes it).
            assert!(diff(&with, &with).is_err());
        }
        // An all-NaN output against an all-NaN reference: the f32::max fold reports 0 here.
        let nan = [f32::NAN; 4];
        assert_eq!(nan.iter().map(|v| (v - v).abs()).fold(0.0, f32::max), 0.0);
        assert!(diff(&nan, &nan).is_err());
        let caught = std::panic::catch_unwind(|| max_abs_diff(&nan, &[0.0; 4]));
        assert!(caught.is_err());
        let Err((i, v)) = all_finite(&[1.0f32, f32::NAN]) else {
            panic!("a NaN passed all_finite")
        };
        assert!(i == 1 && v.is_nan());
        assert_eq!(all_finite(&[1.0f32, -2.0]), Ok(()));
    }

    #[test]
    fn burns_approx_eq_no_longer_passes_nan_against_nan() {
        let nan = TensorData::new(vec![1.0f32, f32::NAN], [2]);
        let tol = Tolerance::absolute(1e-6);
        // Burn's own comparison accepts it.
        nan.assert_approx_eq::<f32>(&nan, tol);
        assert!(
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| assert_approx_eq(&nan, &nan, tol)))
                .is_err()
        );
        let good = TensorData::new(vec![1.0f32, 2.0], [2]);
        assert!(
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| assert_approx_eq(
                &good, &nan, tol
            )))
            .is_err()
        );
        assert_approx_eq(&good, &good, tol);
        let off = TensorData::new(vec![1.0f32, 2.1], [2]);
        assert!(
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| assert_approx_eq(
                &off, &good, tol
            )))
            .is_err()
        );
    }

    #[test]
    fn lengths_and_shapes_must_agree() {
        assert_eq!(
            diff(&[1.0f32], &[1.0, 2.0]),
            Err(Mismatch::Length {
                actual: 1,
                expected: 2
            })
        );
        let device = Device::flex();
        let a = Tensor::<2>::zeros([2, 3], &device);
        let b = Tensor::<2>::zeros([3, 2], &device);
        assert!(std::panic::catch_unwind(|| tensor_max_abs_diff(a, b)).is_err());
    }
}
