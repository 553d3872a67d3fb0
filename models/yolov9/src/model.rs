//! The YOLOv9 / GELAN network built from a layer table ([`crate::tables`]).

use crate::blocks::{AConv, ADown, Block, CbLinear, Conv, Elan, Elan1, Sppelan, resize_nearest, upsample2};
use crate::decode::decode;
use crate::head::{Head, HeadStyle, Levels};
use crate::tables::{self, Layer, Spec};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// Model size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    /// Tiny.
    T,
    /// Small.
    S,
    /// Medium.
    M,
    /// Compact.
    C,
    /// Extended.
    E,
}

impl Size {
    /// All sizes, smallest first.
    pub const ALL: [Size; 5] = [Size::T, Size::S, Size::M, Size::C, Size::E];

    fn letter(self) -> char {
        match self {
            Self::T => 't',
            Self::S => 's',
            Self::M => 'm',
            Self::C => 'c',
            Self::E => 'e',
        }
    }
}

/// A bad model description.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    /// Unknown model name.
    #[error(
        "unknown model `{0}`; expected gelan-{{t,s,m,c,e}}, yolov9-{{t,s,m,c,e}} or ultralytics-yolov9{{t,s,m,c,e}}"
    )]
    UnknownName(String),
    /// Zero classes.
    #[error("the number of classes must be at least 1")]
    NoClasses,
    /// ultralytics ships only the GELAN (inference) topologies.
    #[error("ultralytics' YOLOv9 has no PGI auxiliary branch: use yolov9-{0} (the authors' head) for PGI")]
    UltralyticsPgi(char),
}

/// Which network: size, with or without the PGI auxiliary branch, which head, how many classes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YoloConfig {
    /// T, S, M, C or E.
    pub size: Size,
    /// With PGI's auxiliary branch and dual head (the training form, `yolov9-*`); without it the
    /// model is GELAN (`gelan-*`, the inference form).
    pub pgi: bool,
    /// Head layout.
    pub head: HeadStyle,
    /// Number of classes (80 for COCO).
    pub num_classes: usize,
}

impl YoloConfig {
    /// Every model name [`YoloConfig::from_name`] accepts.
    pub const NAMES: [&'static str; 15] = [
        "gelan-t",
        "gelan-s",
        "gelan-m",
        "gelan-c",
        "gelan-e",
        "yolov9-t",
        "yolov9-s",
        "yolov9-m",
        "yolov9-c",
        "yolov9-e",
        "ultralytics-yolov9t",
        "ultralytics-yolov9s",
        "ultralytics-yolov9m",
        "ultralytics-yolov9c",
        "ultralytics-yolov9e",
    ];

    /// `gelan-s`, `yolov9-c` (the authors' configurations) or `ultralytics-yolov9t` (ultralytics'
    /// `yolov9t.yaml`: GELAN with its own head), with `num_classes` classes.
    pub fn from_name(name: &str, num_classes: usize) -> Result<Self, ConfigError> {
        let unknown = || ConfigError::UnknownName(name.to_string());
        let (rest, pgi, head) = if let Some(r) = name.strip_prefix("gelan-") {
            (r, false, HeadStyle::Grouped)
        } else if let Some(r) = name.strip_prefix("yolov9-") {
            (r, true, HeadStyle::Grouped)
        } else if let Some(r) = name.strip_prefix("ultralytics-yolov9") {
            (r, false, HeadStyle::Ultralytics)
        } else {
            return Err(unknown());
        };
        let size = Size::ALL
            .into_iter()
            .find(|s| rest.len() == 1 && rest.starts_with(s.letter()))
            .ok_or_else(unknown)?;
        let cfg = Self {
            size,
            pgi,
            head,
            num_classes,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// The name [`YoloConfig::from_name`] reads.
    pub fn name(&self) -> String {
        let s = self.size.letter();
        match (self.head, self.pgi) {
            (HeadStyle::Ultralytics, _) => format!("ultralytics-yolov9{s}"),
            (_, true) => format!("yolov9-{s}"),
            (_, false) => format!("gelan-{s}"),
        }
    }

    /// Checks the description.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.num_classes == 0 {
            return Err(ConfigError::NoClasses);
        }
        if self.pgi && self.head == HeadStyle::Ultralytics {
            return Err(ConfigError::UltralyticsPgi(self.size.letter()));
        }
        Ok(())
    }

    /// The layer table.
    pub fn table(&self) -> &'static [Layer] {
        match (self.size, self.pgi) {
            (Size::T, false) => tables::GELAN_T,
            (Size::S, false) => tables::GELAN_S,
            (Size::M, false) => tables::GELAN_M,
            (Size::C, false) => tables::GELAN_C,
            (Size::E, false) => tables::GELAN_E,
            (Size::T, true) => tables::YOLOV9_T,
            (Size::S, true) => tables::YOLOV9_S,
            (Size::M, true) => tables::YOLOV9_M,
            (Size::C, true) => tables::YOLOV9_C,
            (Size::E, true) => tables::YOLOV9_E,
        }
    }

    /// The same model without PGI (what [`YoloV9::remove_pgi`] produces).
    pub fn without_pgi(&self) -> Self {
        Self {
            pgi: false,
            ..self.clone()
        }
    }

    /// A randomly initialised model (PyTorch's default initialisation; BN eps 1e-3, momentum
    /// 0.03; the reference's head bias priors).
    pub fn init(&self, device: &Device) -> Result<YoloV9, ConfigError> {
        self.validate()?;
        let plan = plan(self.table());
        let mut model = Vec::with_capacity(plan.len());
        for step in &plan {
            let c1 = step.c1;
            let block = match step.spec {
                Spec::Conv { k, s, .. } => Some(Block::Conv(Conv::new(c1, step.c2, k, s, 1, true, device))),
                Spec::AConv { .. } => Some(Block::AConv(AConv::new(c1, step.c2, device))),
                Spec::ADown { .. } => Some(Block::ADown(ADown::new(c1, step.c2, device))),
                Spec::Elan1 { c3, c4, .. } => Some(Block::Elan1(Elan1::new(c1, step.c2, c3, c4, device))),
                Spec::RepElan { c3, c4, n, .. } => {
                    Some(Block::RepElan(Elan::rep(c1, step.c2, c3, c4, n, device)))
                }
                Spec::Sppelan { c3, .. } => Some(Block::Sppelan(Sppelan::new(c1, step.c2, c3, device))),
                Spec::CbLinear { c2s } => Some(Block::CbLinear(CbLinear::new(c1, c2s, device))),
                Spec::Detect | Spec::DualDetect => Some(Block::Head(Head::new(
                    self.head,
                    &step.inputs,
                    self.num_classes,
                    step.spec == Spec::DualDetect,
                    device,
                ))),
                Spec::Silence | Spec::Upsample | Spec::Concat | Spec::CbFuse { .. } => None,
            };
            model.push(block);
        }
        Ok(YoloV9 {
            model,
            plan,
            config: self.clone(),
        })
    }
}

/// The reference's `make_divisible(c, 8)`: c rounded up to a multiple of 8.
fn round8(c: usize) -> usize {
    c.div_ceil(8) * 8
}

/// One layer, resolved: where its inputs come from and its widths.
#[derive(Debug, Clone)]
struct Step {
    spec: Spec,
    /// Indices into the value list (0: the image, j + 1: layer j).
    from: Vec<usize>,
    /// Channels of each input.
    inputs: Vec<usize>,
    c1: usize,
    c2: usize,
    /// Last step that reads this step's output.
    last_use: usize,
}

fn plan(table: &[Layer]) -> Vec<Step> {
    // ch[0]: the image; ch[j + 1]: layer j's output width.
    let mut ch = vec![3usize];
    let mut steps: Vec<Step> = Vec::with_capacity(table.len());
    for (i, layer) in table.iter().enumerate() {
        let from: Vec<usize> = layer
            .from
            .iter()
            .map(|&f| {
                if f < 0 {
                    (i as i32 + 1 + f) as usize
                } else {
                    f as usize + 1
                }
            })
            .collect();
        let inputs: Vec<usize> = from.iter().map(|&j| ch[j]).collect();
        let c1 = inputs[0];
        let c2 = match layer.spec {
            Spec::Conv { c2, .. }
            | Spec::AConv { c2 }
            | Spec::ADown { c2 }
            | Spec::Elan1 { c2, .. }
            | Spec::RepElan { c2, .. }
            | Spec::Sppelan { c2, .. } => round8(c2),
            Spec::Silence | Spec::Upsample => c1,
            Spec::Concat => inputs.iter().sum(),
            Spec::CbLinear { c2s } => c2s.iter().sum(),
            Spec::CbFuse { .. } => *inputs.last().expect("CBFuse has inputs"),
            Spec::Detect | Spec::DualDetect => 0,
        };
        ch.push(c2);
        for &j in &from {
            if j > 0 {
                steps[j - 1].last_use = i;
            }
        }
        steps.push(Step {
            spec: layer.spec,
            from,
            inputs,
            c1,
            c2,
            last_use: i,
        });
    }
    steps
}

/// What a layer produced.
#[derive(Clone)]
#[allow(clippy::large_enum_variant)]
enum Value {
    Map(Tensor<4>),
    /// CBLinear's channel groups.
    Groups(Vec<Tensor<4>>),
}

impl Value {
    fn map(&self) -> Tensor<4> {
        match self {
            Self::Map(t) => t.clone(),
            Self::Groups(_) => panic!("a CBLinear output feeds only CBFuse"),
        }
    }
}

/// The raw head outputs of a forward pass.
#[derive(Debug, Clone)]
pub struct Output {
    /// The main head's levels (P3, P4, P5), each `[B, 64 + nc, H, W]`.
    pub main: Levels,
    /// The PGI auxiliary head's levels (training form only).
    pub aux: Option<Levels>,
}

impl Output {
    /// The reference's inference output from the main head (see [`decode`]).
    pub fn decode(&self) -> Tensor<3> {
        decode(&self.main)
    }
}

/// YOLOv9 / GELAN: the layers of a table, keys `model.{i}....` as in the reference's state dicts.
#[derive(Module, Debug)]
pub struct YoloV9 {
    /// The layers (`None` for the parameter-free ones).
    pub model: Vec<Option<Block>>,
    #[module(skip)]
    plan: Vec<Step>,
    #[module(skip)]
    config: YoloConfig,
}

/// Input sizes must be multiples of the largest stride (letterboxing pads to it).
pub const MAX_STRIDE: usize = 32;

impl YoloV9 {
    /// The model's description.
    pub fn config(&self) -> &YoloConfig {
        &self.config
    }

    /// Checks an input shape `[B, 3, H, W]`: three channels, H and W positive multiples of 32.
    pub fn check_input(dims: [usize; 4]) -> Result<(), String> {
        let [_, c, h, w] = dims;
        if c != 3 {
            return Err(format!("expected 3 image channels, got {c}"));
        }
        if h == 0 || w == 0 || !h.is_multiple_of(MAX_STRIDE) || !w.is_multiple_of(MAX_STRIDE) {
            return Err(format!(
                "image size {h}x{w} is not a multiple of {MAX_STRIDE}; letterbox it first"
            ));
        }
        Ok(())
    }

    /// Raw head outputs for images `[B, 3, H, W]` in [0, 1] (H, W multiples of 32; panics
    /// otherwise, see [`YoloV9::check_input`]).
    pub fn forward(&self, x: Tensor<4>) -> Output {
        if let Err(e) = Self::check_input(x.dims()) {
            panic!("{e}");
        }
        let mut values: Vec<Option<Value>> = vec![Some(Value::Map(x))];
        for (i, (step, block)) in self.plan.iter().zip(&self.model).enumerate() {
            let input = |k: usize| {
                values[step.from[k]]
                    .as_ref()
                    .expect("value kept until its last use")
            };
            let out = match (&step.spec, block) {
                (Spec::Silence, _) => input(0).clone(),
                (Spec::Upsample, _) => Value::Map(upsample2(input(0).map())),
                (Spec::Concat, _) => Value::Map(Tensor::cat(
                    (0..step.from.len()).map(|k| input(k).map()).collect(),
                    1,
                )),
                (Spec::CbFuse { idx }, _) => {
                    let n = step.from.len();
                    let last = input(n - 1).map();
                    let [_, _, h, w] = last.dims();
                    let mut sum = last;
                    for (k, &g) in idx.iter().enumerate() {
                        let Value::Groups(groups) = input(k) else {
                            panic!("CBFuse reads CBLinear outputs");
                        };
                        sum = sum + resize_nearest(groups[g].clone(), [h, w]);
                    }
                    Value::Map(sum)
                }
                (_, Some(Block::CbLinear(m))) => Value::Groups(m.forward(input(0).map())),
                (_, Some(Block::Head(head))) => {
                    let xs = (0..step.from.len()).map(|k| input(k).map()).collect();
                    let (main, aux) = head.forward(xs);
                    return Output { main, aux };
                }
                (_, Some(b)) => Value::Map(b.forward(input(0).map())),
                (spec, None) => unreachable!("layer {i} ({spec:?}) has no module"),
            };
            values.push(Some(out));
            // Free what no later layer reads (the image and the previous output included).
            for j in 0..values.len() - 1 {
                if j > 0 && self.plan[j - 1].last_use <= i {
                    values[j] = None;
                }
            }
        }
        unreachable!("every table ends with a head")
    }

    /// Inference output `[B, 4 + nc, A]` of the main head (xywh in input pixels, class
    /// probabilities), as the reference's eval-mode forward.
    pub fn predict(&self, x: Tensor<4>) -> Tensor<3> {
        self.forward(x).decode()
    }

    /// The deploy form: every BN folded into its convolution and every RepConvN merged into one
    /// 3x3 convolution. Outputs equal the unfused model's in eval mode (to rounding).
    pub fn fuse(self) -> Self {
        Self {
            model: self.model.into_iter().map(|b| b.map(Block::fuse)).collect(),
            ..self
        }
    }

    /// PGI removal: the GELAN model of the same size, holding this model's main branch and main
    /// head (the reference's re-parameterisation: C/M drop layer 0 (Silence) and shift by one;
    /// S/T keep indices; E keeps 0-28 and moves 36-48 to 29-41). The output equals this model's
    /// main output exactly. A model without PGI is returned unchanged.
    pub fn remove_pgi(self) -> Self {
        if !self.config.pgi {
            return self;
        }
        let target = self.config.without_pgi();
        let gelan_len = target.table().len();
        let source = |i: usize| -> usize {
            match self.config.size {
                Size::C | Size::M => i + 1,
                Size::S | Size::T => i,
                Size::E if i < 29 => i,
                Size::E => i + 7,
            }
        };
        let mut taken: Vec<Option<Option<Block>>> = self.model.into_iter().map(Some).collect();
        let head_at = taken.len() - 1;
        let model = (0..gelan_len)
            .map(|i| {
                let j = if i + 1 == gelan_len { head_at } else { source(i) };
                let block = taken[j].take().expect("each layer moves once");
                block.map(|b| match b {
                    Block::Head(h) => Block::Head(h.into_main()),
                    other => other,
                })
            })
            .collect();
        Self {
            model,
            plan: plan(target.table()),
            config: target,
        }
    }

    /// Floating-point operations of one forward pass on a `[1, 3, h, w]` image, counted as
    /// 2 x the multiply-accumulates of the convolutions (the GFLOPs the paper and the reference's
    /// `model_info` report; pooling, activations and additions are not counted).
    pub fn flops(&self, [h, w]: [usize; 2]) -> u64 {
        // sizes[0]: the image; sizes[j + 1]: layer j's output.
        let mut sizes: Vec<[usize; 2]> = vec![[h, w]];
        let mut macs = 0u64;
        for (step, block) in self.plan.iter().zip(&self.model) {
            let [ih, iw] = sizes[step.from[0]];
            let down = |n: usize| (n - 2) / 2 + 1; // 2x2 stride-1 pool, then 3x3 stride 2 pad 1
            let out = match step.spec {
                Spec::Conv { k, s, .. } => [(ih + 2 * (k / 2) - k) / s + 1, (iw + 2 * (k / 2) - k) / s + 1],
                Spec::AConv { .. } | Spec::ADown { .. } => [down(ih), down(iw)],
                Spec::Upsample => [2 * ih, 2 * iw],
                Spec::Concat | Spec::CbFuse { .. } => sizes[*step.from.last().expect("inputs")],
                _ => [ih, iw],
            };
            match block {
                Some(Block::Head(head)) => {
                    let levels: Vec<[usize; 2]> = step.from.iter().map(|&j| sizes[j]).collect();
                    macs += head.macs(&levels);
                }
                // Every convolution of a block computes at the block's output resolution.
                Some(b) => macs += conv_weights(b) * (out[0] * out[1]) as u64,
                None => {}
            }
            sizes.push(out);
        }
        2 * macs
    }

    /// Number of parameters, counted as PyTorch does (`model.parameters()`: convolution weights
    /// and biases, BN scales and shifts, plus the 16 fixed DFL weights per head; running
    /// statistics excluded).
    pub fn num_parameters(&self) -> usize {
        struct Count {
            path: Vec<String>,
            n: usize,
        }
        impl burn::module::ModuleVisitor for Count {
            fn enter_module(&mut self, name: &str, _: &str) {
                self.path.push(name.to_string());
            }
            fn exit_module(&mut self, _: &str, _: &str) {
                self.path.pop();
            }
            fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
                // Burn visits BN running statistics too; PyTorch keeps them as buffers.
                if !self.path.last().is_some_and(|n| n.starts_with("running_")) {
                    self.n += param.lazy_shape().num_elements();
                }
            }
        }
        let mut count = Count {
            path: Vec::new(),
            n: 0,
        };
        self.visit(&mut count);
        let heads = if self.config.pgi { 2 } else { 1 };
        count.n + 16 * heads
    }
}

/// Number of convolution weights (rank-4 parameters) in a module.
pub(crate) fn conv_weights<M: Module>(module: &M) -> u64 {
    struct Count(u64);
    impl burn::module::ModuleVisitor for Count {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            if D == 4 {
                self.0 += param.lazy_shape().num_elements() as u64;
            }
        }
    }
    let mut count = Count(0);
    module.visit(&mut count);
    count.0
}
