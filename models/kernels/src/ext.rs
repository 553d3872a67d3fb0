//! zoo-kernels' operations as a Burn backend extension on flex, with and without autodiff.
//!
//! Going through Burn's extension API (rather than `into_data`/`from_data`) hands the kernels
//! flex's own buffers: a tensor another branch still holds is read in place instead of copied,
//! and under autodiff the operation records its own backward pass (Burn's flex convolution
//! backward is a transposed convolution plus a convolution over the batch axis, each with its
//! layout conversions: about half of a ResNet training step, BENCHMARKS.md).

use burn::backend::TensorMetadata;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, NodeGuard, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::prelude::*;
use burn::tensor::DType;
use std::borrow::Cow;

use crate::act::{Activation, activation_backward_slice, activation_into, activation_slice};
use crate::conv::{ConvGeometry, conv2d_backward_slice, conv2d_slice};
use crate::pool::{PoolWindow, pool2d_backward_slice, pool2d_slice};
use crate::{
    EvoNormParams, NormSets, Spread, channel_swish_backward_slice, channel_swish_slice, evonorm_b0_slice,
    evonorm_s0_slice, max_divide_backward_slice, max_divide_slice, norm_backward_slice, norm_train_slice,
    softmax_backward_rows, softmax_rows, spread_backward_slice, spread_slice,
};

/// The extension: implemented for flex and for flex under autodiff (with a backward pass).
#[backend_extension(Flex, Autodiff)]
pub(crate) trait KernelOps: Backend {
    /// act(conv2d(x, weight) + bias) with `geometry`; see [`crate::conv2d`]. (Two methods, with
    /// and without the bias: the 0.22 macro does not unwrap an `Option` of a tensor.)
    fn zoo_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        geometry: ConvGeometry,
        act: Activation,
    ) -> FloatTensor<Self>;
    /// act(conv2d(x, weight)) with `geometry`.
    fn zoo_conv2d_unbiased(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        geometry: ConvGeometry,
        act: Activation,
    ) -> FloatTensor<Self>;
    /// act(x) element-wise; see [`Activation::apply`].
    fn zoo_activation(x: FloatTensor<Self>, act: Activation) -> FloatTensor<Self>;
    /// Softmax (with `log`, log-softmax) over the last dimension; see [`crate::softmax_last`] and
    /// [`crate::log_softmax_last`].
    fn zoo_softmax_last(x: FloatTensor<Self>, log: bool) -> FloatTensor<Self>;
    /// x sigmoid(v_c x) per channel; see [`crate::channel_swish`].
    fn zoo_channel_swish(x: FloatTensor<Self>, v: FloatTensor<Self>) -> FloatTensor<Self>;
    /// Max or average pooling; see [`crate::pool2d`].
    fn zoo_pool2d(x: FloatTensor<Self>, window: PoolWindow) -> FloatTensor<Self>;
    /// x / max(l_c, r); see [`crate::max_divide`].
    fn zoo_max_divide(
        x: FloatTensor<Self>,
        left: FloatTensor<Self>,
        right: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
    /// The spread of each group of channels, `[N, groups]`; see [`crate::group_spread`].
    fn zoo_group_spread(x: FloatTensor<Self>, groups: usize, spread: Spread, eps: f64) -> FloatTensor<Self>;
    /// EvoNorm-B0 at inference with the moving variance; inference only (see [`crate::evonorm`]).
    fn zoo_evonorm_b0(
        x: FloatTensor<Self>,
        running_var: FloatTensor<Self>,
        v: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        eps: f64,
    ) -> FloatTensor<Self>;
    /// EvoNorm-S0 over `groups` groups; inference only (see [`crate::evonorm`]).
    fn zoo_evonorm_s0(
        x: FloatTensor<Self>,
        v: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        groups: usize,
        eps: f64,
    ) -> FloatTensor<Self>;
    /// Batch or group normalisation with the statistics of `sets`: (output, per-set mean,
    /// biased variance); see [`crate::batch_norm`] and [`crate::group_norm`].
    fn zoo_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        sets: NormSets,
        eps: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// An f32 flex tensor's values in row-major order: its buffer when it is contiguous, else a
/// contiguous copy.
fn values(t: &FlexTensor) -> Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(v) => Cow::Borrowed(v),
        None => Cow::Owned(
            t.to_contiguous()
                .as_slice::<f32>()
                .expect("contiguous f32")
                .to_vec(),
        ),
    }
}

/// A flex tensor holding `values` with `shape` (the `Vec` becomes its buffer, no copy).
fn tensor(values: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.into()))
}

/// The forward pass on flex tensors.
fn flex_conv2d(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: Option<&FlexTensor>,
    g: ConvGeometry,
    act: Activation,
) -> FlexTensor {
    let [h_out, w_out] = g.output().expect("checked by conv2d");
    let mut out = vec![0.0; g.batch * g.c_out * h_out * w_out];
    let bias = bias.map(values);
    conv2d_slice(&values(x), &values(weight), bias.as_deref(), &g, act, &mut out);
    tensor(out, [g.batch, g.c_out, h_out, w_out])
}

impl KernelOps for Flex {
    fn zoo_conv2d(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        g: ConvGeometry,
        act: Activation,
    ) -> FlexTensor {
        flex_conv2d(&x, &weight, Some(&bias), g, act)
    }

    fn zoo_conv2d_unbiased(
        x: FlexTensor,
        weight: FlexTensor,
        g: ConvGeometry,
        act: Activation,
    ) -> FlexTensor {
        flex_conv2d(&x, &weight, None, g, act)
    }

    fn zoo_activation(x: FlexTensor, act: Activation) -> FlexTensor {
        in_place(x, |v| activation_slice(act, v))
    }

    fn zoo_softmax_last(x: FlexTensor, log: bool) -> FlexTensor {
        let row = last_dim(&x);
        in_place(x, |v| softmax_rows(v, row, log))
    }

    fn zoo_channel_swish(x: FlexTensor, v: FlexTensor) -> FlexTensor {
        let plane = plane(&x);
        in_place(x, |values| channel_swish_slice(values, &self::values(&v), plane))
    }

    fn zoo_max_divide(x: FlexTensor, left: FlexTensor, right: FlexTensor) -> FlexTensor {
        let mut out = vec![0.0; x.layout().num_elements()];
        max_divide_slice(&values(&x), &values(&left), &values(&right), plane(&x), &mut out);
        tensor(out, x.shape())
    }

    fn zoo_pool2d(x: FlexTensor, win: PoolWindow) -> FlexTensor {
        let [n, c, h, w] = x.shape().dims();
        let [h_out, w_out] = win.output([h, w]);
        let mut out = vec![0.0; n * c * h_out * w_out];
        pool2d_slice(
            &values(&x),
            n * c,
            [h, w],
            win.pool,
            win.kernel,
            win.stride,
            win.padding,
            &mut out,
        );
        tensor(out, [n, c, h_out, w_out])
    }

    fn zoo_group_spread(x: FlexTensor, groups: usize, spread: Spread, eps: f64) -> FlexTensor {
        flex_group_spread(&x, groups, spread, eps).1
    }

    fn zoo_evonorm_b0(
        x: FlexTensor,
        running_var: FlexTensor,
        v: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        eps: f64,
    ) -> FlexTensor {
        let plane = plane(&x);
        let (v, weight, bias, running_var) =
            (values(&v), values(&weight), values(&bias), values(&running_var));
        let p = EvoNormParams {
            v: &v,
            weight: &weight,
            bias: &bias,
        };
        in_place(x, |out| evonorm_b0_slice(out, plane, &running_var, p, eps as f32))
    }

    fn zoo_evonorm_s0(
        x: FlexTensor,
        v: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        groups: usize,
        eps: f64,
    ) -> FlexTensor {
        let plane = plane(&x);
        let (v, weight, bias) = (values(&v), values(&weight), values(&bias));
        let p = EvoNormParams {
            v: &v,
            weight: &weight,
            bias: &bias,
        };
        in_place(x, |out| evonorm_s0_slice(out, plane, groups, p, eps as f32))
    }

    fn zoo_norm_train(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        sets: NormSets,
        eps: f64,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let mut out = vec![0.0; x.layout().num_elements()];
        let (mean, var) = norm_train_slice(
            sets,
            &values(&x),
            &values(&gamma),
            &values(&beta),
            plane(&x),
            eps as f32,
            &mut out,
        );
        let c = mean.len();
        (tensor(out, x.shape()), tensor(mean, [c]), tensor(var, [c]))
    }
}

/// [`spread_slice`] on a flex tensor: (the groups' means `[N G]`, their spreads `[N, G]`).
fn flex_group_spread(x: &FlexTensor, groups: usize, spread: Spread, eps: f64) -> (FlexTensor, FlexTensor) {
    let [n, c, _, _] = x.shape().dims();
    let (mean, d) = spread_slice(
        NormSets::Group(groups),
        spread,
        &values(x),
        c,
        plane(x),
        eps as f32,
    );
    (tensor(mean, [n * groups]), tensor(d, [n, groups]))
}

/// The size of a tensor's last dimension.
fn last_dim(x: &FlexTensor) -> usize {
    x.shape().as_slice().last().copied().unwrap_or(1)
}

/// H W of an `[N, C, H, W]` tensor.
fn plane(x: &FlexTensor) -> usize {
    let [_, _, h, w] = x.shape().dims();
    h * w
}

/// Runs `f` on `x`'s values in place (its own buffer when nothing else holds it, else a
/// contiguous copy) and returns them as a tensor of `x`'s shape.
fn in_place(x: FlexTensor, f: impl FnOnce(&mut [f32])) -> FlexTensor {
    let mut data = x.into_data();
    f(data.as_mut_slice::<f32>().expect("an f32 tensor reads as f32"));
    FlexTensor::from_data(data)
}

/// The backward step of [`KernelOps::zoo_activation`]: the input and the activation.
#[derive(Debug)]
struct ActivationBackward;

impl Backward<Flex, 1> for ActivationBackward {
    type State = (FlexTensor, Activation);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        backward_one(ops, grads, |(x, act), grad| {
            in_place(grad, |g| activation_backward_slice(act, &values(&x), g))
        });
    }
}

/// The backward step of [`KernelOps::zoo_max_divide`]: x, l and r.
#[derive(Debug)]
struct MaxDivideBackward;

impl Backward<Flex, 3> for MaxDivideBackward {
    type State = (FlexTensor, FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let (x, left, right) = ops.state;
        let [x_node, left_node, right_node] = ops.parents.map(|p| p.map(|n| n.id));
        let mut dleft = vec![0.0; left.layout().num_elements()];
        let mut dright = vec![0.0; right.layout().num_elements()];
        let dx = in_place(grad, |g| {
            max_divide_backward_slice(
                &values(&x),
                &values(&left),
                &values(&right),
                plane(&x),
                g,
                &mut dleft,
                &mut dright,
            )
        });
        register(
            grads,
            [
                (x_node, Some(dx)),
                (left_node, Some(tensor(dleft, left.shape()))),
                (right_node, Some(tensor(dright, right.shape()))),
            ],
        );
    }
}

/// The backward step of [`KernelOps::zoo_pool2d`]: the input and the window.
#[derive(Debug)]
struct PoolBackward;

impl Backward<Flex, 1> for PoolBackward {
    type State = (FlexTensor, PoolWindow);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        backward_one(ops, grads, |(x, win), grad| {
            let [n, c, h, w] = x.shape().dims();
            let mut dx = vec![0.0; n * c * h * w];
            pool2d_backward_slice(
                &values(&x),
                &values(&grad),
                n * c,
                [h, w],
                win.pool,
                win.kernel,
                win.stride,
                win.padding,
                &mut dx,
            );
            tensor(dx, [n, c, h, w])
        });
    }
}

/// The backward step of [`KernelOps::zoo_group_spread`]: the input, the groups' means and
/// spreads, the number of groups.
#[derive(Debug)]
struct SpreadBackward;

impl Backward<Flex, 1> for SpreadBackward {
    type State = (FlexTensor, FlexTensor, FlexTensor, usize);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        backward_one(ops, grads, |(x, mean, d, groups), grad| {
            let [n, c, h, w] = x.shape().dims();
            let mut dx = vec![0.0; n * c * h * w];
            spread_backward_slice(
                NormSets::Group(groups),
                &values(&x),
                c,
                h * w,
                &values(&mean),
                &values(&d),
                &values(&grad),
                &mut dx,
            );
            tensor(dx, [n, c, h, w])
        });
    }
}

/// The backward step of [`KernelOps::zoo_norm_train`]: the input, gamma, the per-set mean and
/// variance, the sets, eps.
#[derive(Debug)]
struct NormBackward;

impl Backward<Flex, 3> for NormBackward {
    type State = (FlexTensor, FlexTensor, FlexTensor, FlexTensor, NormSets, f64);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let (x, gamma, mean, var, sets, eps) = ops.state;
        let [x_node, gamma_node, beta_node] = ops.parents.map(|p| p.map(|n| n.id));
        let c = gamma.layout().num_elements();
        let (mut dgamma, mut dbeta) = (vec![0.0; c], vec![0.0; c]);
        let dx = in_place(grad, |g| {
            norm_backward_slice(
                sets,
                &values(&x),
                &values(&gamma),
                &values(&mean),
                &values(&var),
                plane(&x),
                eps as f32,
                g,
                &mut dgamma,
                &mut dbeta,
            )
        });
        register(
            grads,
            [
                (x_node, Some(dx)),
                (gamma_node, Some(tensor(dgamma, [c]))),
                (beta_node, Some(tensor(dbeta, [c]))),
            ],
        );
    }
}

/// The backward step of [`KernelOps::zoo_softmax_last`]: the output, and whether it is the
/// log-softmax.
#[derive(Debug)]
struct SoftmaxBackward;

impl Backward<Flex, 1> for SoftmaxBackward {
    type State = (FlexTensor, bool);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        backward_one(ops, grads, |(y, log), grad| {
            let row = last_dim(&y);
            in_place(grad, |g| softmax_backward_rows(&values(&y), g, row, log))
        });
    }
}

/// The backward step of [`KernelOps::zoo_channel_swish`]: the input and v.
#[derive(Debug)]
struct ChannelSwishBackward;

impl Backward<Flex, 2> for ChannelSwishBackward {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let (x, v) = ops.state;
        let [x_node, v_node] = ops.parents.map(|p| p.map(|n| n.id));
        let mut dv = vec![0.0; v.layout().num_elements()];
        let dx = in_place(grad, |g| {
            channel_swish_backward_slice(&values(&x), &values(&v), plane(&x), g, &mut dv)
        });
        register(grads, [(x_node, Some(dx)), (v_node, Some(tensor(dv, v.shape())))]);
    }
}

/// The backward step of [`KernelOps::zoo_conv2d`] (identity activation): the saved input and
/// weight, the geometry; `N` parents (input, weight and, with a bias, the bias).
#[derive(Debug)]
struct ConvBackward<const N: usize>;

impl<const N: usize> Backward<Flex, N> for ConvBackward<N> {
    type State = (FlexTensor, FlexTensor, ConvGeometry);

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let (x, weight, g) = ops.state;
        let wants = |i: usize| ops.parents.get(i).and_then(|p| p.as_ref()).map(|n| n.id);
        let (x_node, w_node, b_node) = (wants(0), wants(1), wants(2));
        let mut dx = x_node.map(|_| vec![0.0; x.layout().num_elements()]);
        let mut dw = w_node.map(|_| vec![0.0; weight.layout().num_elements()]);
        let mut db = b_node.map(|_| vec![0.0; g.c_out]);
        conv2d_backward_slice(
            &values(&x),
            &values(&weight),
            &values(&grad),
            &g,
            dx.as_deref_mut(),
            dw.as_deref_mut(),
            db.as_deref_mut(),
        );
        register(
            grads,
            [
                (x_node, dx.map(|d| tensor(d, x.shape()))),
                (w_node, dw.map(|d| tensor(d, weight.shape()))),
                (b_node, db.map(|d| tensor(d, [g.c_out]))),
            ],
        );
    }
}

impl<C: CheckpointStrategy> KernelOps for Autodiff<Flex, C> {
    fn zoo_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        g: ConvGeometry,
        act: Activation,
    ) -> FloatTensor<Self> {
        identity_only(act);
        let output = flex_conv2d(x.primitive(), weight.primitive(), Some(bias.primitive()), g, act);
        let state = (x.primitive().clone(), weight.primitive().clone(), g);
        record::<C, _, _>(
            ConvBackward::<3>,
            [x.node(), weight.node(), bias.node()],
            state,
            output,
        )
    }

    fn zoo_conv2d_unbiased(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        g: ConvGeometry,
        act: Activation,
    ) -> FloatTensor<Self> {
        identity_only(act);
        let output = flex_conv2d(x.primitive(), weight.primitive(), None, g, act);
        let state = (x.primitive().clone(), weight.primitive().clone(), g);
        record::<C, _, _>(ConvBackward::<2>, [x.node(), weight.node()], state, output)
    }

    fn zoo_max_divide(
        x: FloatTensor<Self>,
        left: FloatTensor<Self>,
        right: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let output = <Flex as KernelOps>::zoo_max_divide(
            x.primitive().clone(),
            left.primitive().clone(),
            right.primitive().clone(),
        );
        let state = (
            x.primitive().clone(),
            left.primitive().clone(),
            right.primitive().clone(),
        );
        record::<C, _, _>(
            MaxDivideBackward,
            [x.node(), left.node(), right.node()],
            state,
            output,
        )
    }

    fn zoo_pool2d(x: FloatTensor<Self>, win: PoolWindow) -> FloatTensor<Self> {
        let output = <Flex as KernelOps>::zoo_pool2d(x.primitive().clone(), win);
        record::<C, _, _>(PoolBackward, [x.node()], (x.into_primitive(), win), output)
    }

    fn zoo_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        sets: NormSets,
        eps: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let (output, mean, var) = <Flex as KernelOps>::zoo_norm_train(
            x.primitive().clone(),
            gamma.primitive().clone(),
            beta.primitive().clone(),
            sets,
            eps,
        );
        let state = (
            x.primitive().clone(),
            gamma.primitive().clone(),
            mean.clone(),
            var.clone(),
            sets,
            eps,
        );
        let output = record::<C, _, _>(NormBackward, [x.node(), gamma.node(), beta.node()], state, output);
        // The statistics leave the graph (as Burn's `batch_norm_train` detaches them).
        (
            output,
            FloatTensor::<Self>::new(mean),
            FloatTensor::<Self>::new(var),
        )
    }

    fn zoo_group_spread(x: FloatTensor<Self>, groups: usize, spread: Spread, eps: f64) -> FloatTensor<Self> {
        let (mean, d) = flex_group_spread(x.primitive(), groups, spread, eps);
        record::<C, _, _>(
            SpreadBackward,
            [x.node()],
            (x.into_primitive(), mean, d.clone(), groups),
            d,
        )
    }

    fn zoo_evonorm_b0(
        x: FloatTensor<Self>,
        running_var: FloatTensor<Self>,
        v: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        eps: f64,
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), running_var.node(), v.node(), weight.node(), bias.node()];
        let output = <Flex as KernelOps>::zoo_evonorm_b0(
            x.into_primitive(),
            running_var.into_primitive(),
            v.into_primitive(),
            weight.into_primitive(),
            bias.into_primitive(),
            eps,
        );
        untracked::<C, 5>("EvoNorm-B0", nodes, output)
    }

    fn zoo_evonorm_s0(
        x: FloatTensor<Self>,
        v: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        groups: usize,
        eps: f64,
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), v.node(), weight.node(), bias.node()];
        let output = <Flex as KernelOps>::zoo_evonorm_s0(
            x.into_primitive(),
            v.into_primitive(),
            weight.into_primitive(),
            bias.into_primitive(),
            groups,
            eps,
        );
        untracked::<C, 4>("EvoNorm-S0", nodes, output)
    }

    fn zoo_softmax_last(x: FloatTensor<Self>, log: bool) -> FloatTensor<Self> {
        let output = <Flex as KernelOps>::zoo_softmax_last(x.primitive().clone(), log);
        record::<C, _, _>(SoftmaxBackward, [x.node()], (output.clone(), log), output)
    }

    fn zoo_channel_swish(x: FloatTensor<Self>, v: FloatTensor<Self>) -> FloatTensor<Self> {
        let output = <Flex as KernelOps>::zoo_channel_swish(x.primitive().clone(), v.primitive().clone());
        record::<C, _, _>(
            ChannelSwishBackward,
            [x.node(), v.node()],
            (x.into_primitive(), v.into_primitive()),
            output,
        )
    }

    fn zoo_activation(x: FloatTensor<Self>, act: Activation) -> FloatTensor<Self> {
        // Out of place: x stays for the backward pass.
        let input = values(x.primitive());
        let mut output = vec![0.0; input.len()];
        activation_into(act, &input, &mut output);
        let output = tensor(output, x.primitive().shape());
        record::<C, _, _>(ActivationBackward, [x.node()], (x.into_primitive(), act), output)
    }
}

/// Records `output` under autodiff with `step` as its backward pass (taking `state`) when any of
/// the input `nodes` is tracked; otherwise as a constant.
fn record<C: CheckpointStrategy, B: Backward<Flex, N>, const N: usize>(
    step: B,
    nodes: [NodeGuard; N],
    state: B::State,
    output: FlexTensor,
) -> FloatTensor<Autodiff<Flex, C>> {
    match step.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(state, output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    }
}

/// The backward pass of a one-input op: consumes dL/dy and, when the input is tracked, registers
/// `dx(state, dL/dy)` as its gradient.
fn backward_one<S>(ops: Ops<S, 1>, grads: &mut Gradients, dx: impl FnOnce(S, FlexTensor) -> FlexTensor) {
    let grad = grads.consume::<Flex>(&ops.node);
    if let [Some(node)] = ops.parents {
        grads.register::<Flex>(node.id, dx(ops.state, grad));
    }
}

/// Registers each computed gradient with its input's node (inputs without a node, or without a
/// gradient, are skipped).
fn register<const N: usize>(grads: &mut Gradients, parts: [(Option<NodeId>, Option<FlexTensor>); N]) {
    for (node, grad) in parts {
        if let (Some(node), Some(grad)) = (node, grad) {
            grads.register::<Flex>(node, grad);
        }
    }
}

/// The backward step of the inference-only ops (the fused EvoNorms): never run, since
/// [`untracked`] refuses inputs that need gradients.
#[derive(Debug)]
struct InferenceOnly;

impl<const N: usize> Backward<Flex, N> for InferenceOnly {
    type State = ();

    fn backward(self, _: Ops<Self::State, N>, _: &mut Gradients, _: &mut Checkpointer) {
        unreachable!("an inference-only op is never recorded with a backward step")
    }
}

/// `output` of an inference-only op under autodiff, as a constant. [`crate::evonorm`] routes only
/// inputs on flex without autodiff there, but a module not switched to `.valid()` still hands
/// over its parameters as autodiff tensors (untracked); an input that needs a gradient is refused.
fn untracked<C: CheckpointStrategy, const N: usize>(
    op: &str,
    nodes: [NodeGuard; N],
    output: FlexTensor,
) -> FloatTensor<Autodiff<Flex, C>> {
    match InferenceOnly.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(_) => {
            panic!("zoo-kernels' fused {op} is inference-only: it has no backward pass")
        }
        OpsKind::UnTracked(prep) => prep.finish(output),
    }
}

/// Under autodiff the convolution runs without its activation: the activation's backward would
/// need the pre-activation too, so `conv2d` applies it as its own (differentiable) op.
fn identity_only(act: Activation) {
    assert_eq!(
        act,
        Activation::Identity,
        "zoo_conv2d under autodiff: identity only"
    );
}

/// [`KernelOps::zoo_activation`] on a `Tensor` (the caller has checked [`on_flex_any`]).
pub(crate) fn activation<const D: usize>(x: Tensor<D>, act: Activation) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as KernelOps>::zoo_activation(x.into_dispatch(), act))
}

/// [`KernelOps::zoo_softmax_last`] on a `Tensor` (the caller has checked [`on_flex_any`]).
pub(crate) fn softmax_last<const D: usize>(x: Tensor<D>, log: bool) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as KernelOps>::zoo_softmax_last(x.into_dispatch(), log))
}

/// [`KernelOps::zoo_channel_swish`] on `Tensor`s (the caller has checked [`on_flex_any`] and
/// that `v` is f32).
pub(crate) fn channel_swish(x: Tensor<4>, v: Tensor<1>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as KernelOps>::zoo_channel_swish(
        x.into_dispatch(),
        v.into_dispatch(),
    ))
}

/// [`KernelOps::zoo_max_divide`] on `Tensor`s (the caller has checked [`on_flex_any`], the
/// shapes and the dtypes).
pub(crate) fn max_divide(x: Tensor<4>, left: Tensor<1>, right: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as KernelOps>::zoo_max_divide(
        x.into_dispatch(),
        left.into_dispatch(),
        right.into_dispatch(),
    ))
}

/// [`KernelOps::zoo_pool2d`] on a `Tensor` (the caller has checked [`on_flex_any`] and that the
/// window fits).
pub(crate) fn pool2d(x: Tensor<4>, window: PoolWindow) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as KernelOps>::zoo_pool2d(x.into_dispatch(), window))
}

/// [`KernelOps::zoo_group_spread`] on a `Tensor` (the caller has checked [`on_flex_any`] and the
/// groups).
pub(crate) fn group_spread(x: Tensor<4>, groups: usize, spread: Spread, eps: f64) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as KernelOps>::zoo_group_spread(
        x.into_dispatch(),
        groups,
        spread,
        eps,
    ))
}

/// [`KernelOps::zoo_evonorm_b0`] on `Tensor`s (the caller has checked [`crate::evonorm_fused`]).
pub(crate) fn evonorm_b0(
    x: Tensor<4>,
    running_var: Tensor<1>,
    [v, weight, bias]: [Tensor<1>; 3],
    eps: f64,
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as KernelOps>::zoo_evonorm_b0(
        x.into_dispatch(),
        running_var.into_dispatch(),
        v.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        eps,
    ))
}

/// [`KernelOps::zoo_evonorm_s0`] on `Tensor`s (the caller has checked [`crate::evonorm_fused`]).
pub(crate) fn evonorm_s0(
    x: Tensor<4>,
    [v, weight, bias]: [Tensor<1>; 3],
    groups: usize,
    eps: f64,
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as KernelOps>::zoo_evonorm_s0(
        x.into_dispatch(),
        v.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        groups,
        eps,
    ))
}

/// [`KernelOps::zoo_norm_train`] on `Tensor`s (the caller has checked [`on_flex_any`], that
/// gamma and beta are f32 and that the groups divide the channels): (output, per-set mean,
/// biased variance).
pub(crate) fn norm_train(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    sets: NormSets,
    eps: f64,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    let (y, mean, var) = <Dispatch as KernelOps>::zoo_norm_train(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        sets,
        eps,
    );
    (
        Tensor::from_dispatch(y),
        Tensor::from_dispatch(mean),
        Tensor::from_dispatch(var),
    )
}

/// Whether `x` can go through the extension: an f32 tensor on flex, with or without autodiff.
pub(crate) fn on_flex_any<const D: usize>(x: &Tensor<D>) -> bool {
    x.device().inner() == Device::flex() && x.dtype() == DType::F32
}

/// [`KernelOps::zoo_conv2d`] on `Tensor`s (the caller has checked [`on_flex_any`] and the
/// geometry).
pub(crate) fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    geometry: ConvGeometry,
    act: Activation,
) -> Tensor<4> {
    let (x, weight) = (x.into_dispatch(), weight.into_dispatch());
    Tensor::from_dispatch(match bias {
        Some(b) => <Dispatch as KernelOps>::zoo_conv2d(x, weight, b.into_dispatch(), geometry, act),
        None => <Dispatch as KernelOps>::zoo_conv2d_unbiased(x, weight, geometry, act),
    })
}
