//! YOLOv9 (Wang, Yeh, Liao, *YOLOv9: Learning What You Want to Learn Using Programmable Gradient
//! Information*, 2024) for burnzoo:
//!
//! * [`blocks`]: GELAN's blocks (Conv, AConv, ADown, RepConvN, RepNCSP, RepNCSPELAN4, ELAN1,
//!   SPPELAN, CBLinear/CBFuse) with deploy fusion;
//! * [`head`]: the authors' DDetect / DualDDetect and ultralytics' Detect;
//! * [`tables`] and [`model`]: every gelan-{t,s,m,c,e} and yolov9-{t,s,m,c,e} (with PGI's
//!   auxiliary reversible branch) from the paper's layer tables, PGI removal;
//! * [`decode`](mod@decode): anchors, DFL, the `[B, 4 + nc, A]` inference output, NMS.
//!
//! Weights (WongKinYiu and ultralytics state dicts, ONNX exports) load through `zoo-weights`;
//! images are letterboxed by `zoo_datasets::image`.
#![forbid(unsafe_code)]

pub mod blocks;
pub mod decode;
pub mod head;
pub mod loss;
pub mod model;
pub mod tables;

pub use decode::{Detection, NmsConfig, decode, non_max_suppression};
pub use head::HeadStyle;
pub use loss::{LossConfig, Losses, Target};
pub use model::{ConfigError, Output, Size, YoloConfig, YoloV9};
