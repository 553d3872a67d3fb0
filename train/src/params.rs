//! Whole-model parameter operations shared by gradient clipping, EMA and weight averaging:
//! visiting every float parameter (and running statistic) once, with its dotted path.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamGroup, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use std::collections::{HashMap, HashSet};

/// Flattened, detached copies of a model's float parameters (running statistics included), keyed
/// by id, optionally restricted to the parameters whose path matches `group`.
pub fn snapshot<M: Module>(model: &M, group: Option<&ParamGroup>) -> HashMap<ParamId, Tensor<1>> {
    struct Collect<'a> {
        path: Vec<String>,
        group: Option<&'a ParamGroup>,
        out: HashMap<ParamId, Tensor<1>>,
    }
    impl ModuleVisitor for Collect<'_> {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.group
                && !g.matches(&param.id, Some(&self.path.join(".")))
            {
                return;
            }
            let value = param.val().detach().without_autodiff();
            let n = value.shape().num_elements();
            self.out.insert(param.id, value.reshape([n]));
        }
    }
    let mut c = Collect {
        path: Vec::new(),
        group,
        out: HashMap::new(),
    };
    model.visit(&mut c);
    c.out
}

/// Replaces each parameter whose id is in `values` by `combine(current, value)` (both flattened).
/// The result is reshaped back; ids, devices and gradient settings are kept.
pub fn combine_params<M, F>(model: M, values: &HashMap<ParamId, Tensor<1>>, combine: F) -> M
where
    M: Module,
    F: FnMut(Tensor<1>, Tensor<1>) -> Tensor<1>,
{
    struct Combine<'a, F> {
        values: &'a HashMap<ParamId, Tensor<1>>,
        combine: F,
    }
    impl<F: FnMut(Tensor<1>, Tensor<1>) -> Tensor<1>> ModuleMapper for Combine<'_, F> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let Some(value) = self.values.get(&param.id) else {
                return param;
            };
            let value = value.clone();
            param.map(|current| {
                let dims = current.dims();
                let device = current.device();
                let n = current.shape().num_elements();
                let out = (self.combine)(current.reshape([n]), value.to_device(&device));
                out.reshape(dims)
            })
        }
    }
    model.map(&mut Combine { values, combine })
}

/// Visits, once per parameter id, the gradient of every float parameter that has one.
struct GradVisitor<'a, F> {
    grads: &'a mut GradientsParams,
    seen: HashSet<ParamId>,
    f: F,
}

/// What to do with one gradient (flattened view).
enum GradOp {
    /// Read it.
    Read,
    /// Replace it.
    Write,
}

impl<F: FnMut(Tensor<1>) -> Option<Tensor<1>>> ModuleVisitor for GradVisitor<'_, F> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !self.seen.insert(param.id) {
            return;
        }
        let Some(grad) = self.grads.get::<D>(param.id) else {
            return;
        };
        let dims = grad.dims();
        let n = grad.shape().num_elements();
        if let Some(new) = (self.f)(grad.reshape([n])) {
            self.grads.register::<D>(param.id, new.reshape(dims));
        }
    }
}

fn for_each_grad<M: Module>(
    model: &M,
    grads: &mut GradientsParams,
    op: GradOp,
    mut f: impl FnMut(Tensor<1>) -> Tensor<1>,
) {
    let visitor_fn = |g: Tensor<1>| {
        let out = f(g);
        match op {
            GradOp::Read => None,
            GradOp::Write => Some(out),
        }
    };
    let mut v = GradVisitor {
        grads,
        seen: HashSet::new(),
        f: visitor_fn,
    };
    model.visit(&mut v);
}

/// Global L2 norm of all gradients, as `torch.nn.utils.clip_grad_norm_` computes it.
pub fn grad_norm<M: Module>(model: &M, grads: &mut GradientsParams) -> f64 {
    let mut total: Option<Tensor<1>> = None;
    for_each_grad(model, grads, GradOp::Read, |g| {
        let s = g.clone().square().sum();
        total = Some(match total.take() {
            Some(t) => t + s,
            None => s,
        });
        g
    });
    total.map_or(0.0, |t| (t.into_scalar::<f64>()).sqrt())
}

/// Multiplies every gradient by `factor`.
pub fn scale_grads<M: Module>(model: &M, grads: &mut GradientsParams, factor: f64) {
    if factor != 1.0 {
        for_each_grad(model, grads, GradOp::Write, |g| g.mul_scalar(factor));
    }
}

/// Clips gradients by their global norm (`torch.nn.utils.clip_grad_norm_`): when the norm
/// exceeds `max_norm`, every gradient is scaled by `max_norm / (norm + 1e-6)`. Returns the norm
/// before clipping.
pub fn clip_grad_norm<M: Module>(model: &M, grads: &mut GradientsParams, max_norm: f64) -> f64 {
    let norm = grad_norm(model, grads);
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        scale_grads(model, grads, coef);
    }
    norm
}

/// Values of every float parameter (running statistics included), in visiting order: for
/// comparing two models of the same architecture.
pub fn values<M: Module>(model: &M) -> Vec<Vec<f32>> {
    struct Values(Vec<Vec<f32>>);
    impl ModuleVisitor for Values {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let data = param.val().without_autodiff().into_data().convert::<f32>();
            self.0.push(data.try_into_vec::<f32>().expect("f32 data"));
        }
    }
    let mut v = Values(Vec::new());
    model.visit(&mut v);
    v.0
}

/// Largest absolute difference between the parameters of two models of the same architecture.
///
/// # Panics
/// When the architectures differ, or, naming the parameter tensor and the index, when either
/// model holds a NaN or an infinity (two diverged runs are not "equal").
pub fn max_abs_diff<M: Module>(a: &M, b: &M) -> f32 {
    let (a, b) = (values(a), values(b));
    assert_eq!(a.len(), b.len(), "models differ in parameter count");
    let per_tensor = a.iter().zip(&b).enumerate().map(|(i, (x, y))| {
        zoo_check::diff(x, y).unwrap_or_else(|m| panic!("parameter tensor {i} (in visiting order): {m}"))
    });
    // Every difference is finite here, so the fold cannot drop a NaN.
    per_tensor.map(|d| d.max_abs as f32).fold(0.0, f32::max)
}
