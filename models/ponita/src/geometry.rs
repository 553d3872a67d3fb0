//! Invariants of point pairs in R^3 and in R^3 x S^2 (anchor `ponita/geometry/invariants.py`), the polynomial
//! embedding of the invariants and the smooth radial cutoff.

use burn::prelude::*;

/// Euclidean norm over the last axis whose gradient at the zero vector is 0 (as PyTorch's
/// `norm` backward), not NaN: self-loops have `rel = 0`.
pub fn safe_norm<const D: usize>(v: Tensor<D>) -> Tensor<D> {
    let sq = v.square().sum_dim(D - 1);
    let zero = sq.clone().equal_elem(0.0).float();
    (sq + zero.clone()).sqrt() - zero
}

/// Spatial invariants of edges with displacements `rel = x_j - x_i` `[E, 3]` for every
/// orientation o of `grid` `[O, 3]`: a1 = rel . o and a2 = |rel - a1 o|, `[E, O, 2]`.
pub fn spatial_invariants(rel: Tensor<2>, grid: Tensor<2>) -> Tensor<3> {
    let [e, _] = rel.dims();
    let o = grid.dims()[0];
    let a1 = rel.clone().matmul(grid.clone().transpose()); // [E, O]
    let perp = rel.reshape([e, 1, 3]) - a1.clone().reshape([e, o, 1]) * grid.reshape([1, o, 3]);
    let a2 = safe_norm(perp); // [E, O, 1]
    Tensor::cat(vec![a1.reshape([e, o, 1]), a2], 2)
}

/// Fiber invariants o_p . o_q of the grid, `[O, O, 1]`.
pub fn fiber_invariants(grid: Tensor<2>) -> Tensor<3> {
    let o = grid.dims()[0];
    grid.clone().matmul(grid.transpose()).reshape([o, o, 1])
}

/// Invariants of a pair of position-orientation points (p_s, o_s) -> (p_t, o_t) (the
/// R^3 x S^2 point-cloud mode): a1 = (p_s - p_t) . o_t, a2 = |(p_s - p_t) - a1 o_t|, a3 = o_s . o_t.
/// All inputs `[E, 3]`, result `[E, 3]`.
pub fn point_pair_invariants(ps: Tensor<2>, os: Tensor<2>, pt: Tensor<2>, ot: Tensor<2>) -> Tensor<2> {
    let rel = ps - pt;
    let a1 = (rel.clone() * ot.clone()).sum_dim(1);
    let a2 = safe_norm(rel - a1.clone() * ot.clone());
    let a3 = (os * ot).sum_dim(1);
    Tensor::cat(vec![a1, a2, a3], 1)
}

/// Polynomial features [z, z (x) z, z (x) z (x) z, ...] up to `degree` (flattened outer products),
/// last axis k -> k + k^2 + ... + k^degree.
pub fn polynomial_features<const D: usize>(z: Tensor<D>, degree: usize) -> Tensor<D> {
    let dims = z.dims();
    let k = dims[D - 1];
    let lead: usize = dims[..D - 1].iter().product();
    let z2 = z.clone().reshape([lead, 1, k]);
    let mut terms = vec![z.clone().reshape([lead, k])];
    for _ in 1..degree {
        let last = terms.last().expect("one term").clone();
        let width = last.dims()[1];
        terms.push((last.reshape([lead, width, 1]) * z2.clone()).reshape([lead, width * k]));
    }
    let out = Tensor::cat(terms, 1);
    let mut shape = dims;
    shape[D - 1] = out.dims()[1];
    out.reshape(shape)
}

/// Width of [`polynomial_features`] for `k` invariants.
pub fn polynomial_width(k: usize, degree: usize) -> usize {
    (1..=degree).map(|d| k.pow(d as u32)).sum()
}

/// Polynomial cutoff with p = 6 (DimeNet Eq. 8): c(u) = 1 - 28 u^6 + 48 u^7 - 21 u^8 for
/// u = d / r < 1, else 0.
pub fn polynomial_cutoff<const D: usize>(d: Tensor<D>, radius: f64) -> Tensor<D> {
    let u = d / radius;
    let inside = u.clone().lower_elem(1.0).float();
    let u6 = u.clone().powi_scalar(6);
    let poly = u6.clone().mul_scalar(-28.0) + u6.clone() * u.clone() * 48.0 - u6 * u.clone() * u * 21.0 + 1.0;
    poly * inside
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn t2(v: &[[f32; 3]]) -> Tensor<2> {
        let flat: Vec<f32> = v.iter().flatten().copied().collect();
        Tensor::from_data(TensorData::new(flat, [v.len(), 3]), &Device::flex())
    }

    fn vals<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn point_pair_invariants_are_invariant() {
        let (ps, pt) = ([[1.0, 2.0, 0.5]], [[0.0, 1.0, -0.5]]);
        let (os, ot) = ([[0.0, 0.6, 0.8]], [[1.0, 0.0, 0.0]]);
        let a = vals(point_pair_invariants(t2(&ps), t2(&os), t2(&pt), t2(&ot)));
        // rel = (1, 1, 1): a1 = 1, a2 = |(0, 1, 1)| = sqrt 2, a3 = 0.
        assert!((a[0] - 1.0).abs() < 1e-6 && (a[1] - 2f32.sqrt()).abs() < 1e-6 && a[2].abs() < 1e-6);
        // A rotation about z by 90 degrees and a shift change nothing.
        let r = |v: [[f32; 3]; 1], shift: f32| [[-v[0][1] + shift, v[0][0] + shift, v[0][2] + shift]];
        let b = vals(point_pair_invariants(
            t2(&r(ps, 3.0)),
            t2(&r(os, 0.0)),
            t2(&r(pt, 3.0)),
            t2(&r(ot, 0.0)),
        ));
        assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-5), "{a:?} {b:?}");
    }

    #[test]
    fn polynomial_features_and_cutoff() {
        let z = Tensor::<3>::from_data(TensorData::new(vec![2.0f32, 3.0], [1, 1, 2]), &Device::flex());
        let p = vals(polynomial_features(z, 3));
        assert_eq!(p.len(), polynomial_width(2, 3));
        assert_eq!(&p[..6], &[2.0, 3.0, 4.0, 6.0, 6.0, 9.0]);
        assert_eq!(&p[6..], &[8.0, 12.0, 12.0, 18.0, 12.0, 18.0, 18.0, 27.0]);
        let d = Tensor::<1>::from_data(TensorData::new(vec![0.0f32, 0.5, 1.0, 2.0], [4]), &Device::flex());
        let c = vals(polynomial_cutoff(d, 1.0));
        let u: f32 = 0.5;
        let mid = 1.0 - 28.0 * u.powi(6) + 48.0 * u.powi(7) - 21.0 * u.powi(8);
        assert_eq!(c[0], 1.0);
        assert!(
            (c[1] - mid).abs() < 1e-6 && c[2].abs() < 1e-6 && c[3] == 0.0,
            "{c:?}"
        );
    }
}
