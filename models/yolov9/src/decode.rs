//! From head maps to boxes: anchor points, the DFL expectation, `[B, 4 + nc, A]` as the
//! reference's inference output, and non-maximum suppression.

use crate::head::REG_MAX;
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softmax};

/// Strides of the three levels P3, P4, P5.
pub const STRIDES: [usize; 3] = [8, 16, 32];

/// Anchor points (cell centres in feature units, `[A, 2]` as x, y, row-major per level) and the
/// stride of each anchor `[A, 1]`, for levels of the given `[H, W]` sizes.
pub fn anchors(sizes: &[[usize; 2]], device: &Device) -> (Tensor<2>, Tensor<2>) {
    let mut points = Vec::new();
    let mut strides = Vec::new();
    for (&[h, w], &s) in sizes.iter().zip(STRIDES.iter()) {
        for y in 0..h {
            for x in 0..w {
                points.push(x as f32 + 0.5);
                points.push(y as f32 + 0.5);
                strides.push(s as f32);
            }
        }
    }
    let a = strides.len();
    (
        Tensor::from_data(TensorData::new(points, [a, 2]), device),
        Tensor::from_data(TensorData::new(strides, [a, 1]), device),
    )
}

/// The distribution focal loss' expected distances: softmax over `REG_MAX` bins of each side,
/// dotted with 0..15. `[B, 4 * REG_MAX, A]` -> `[B, 4, A]` (left, top, right, bottom).
pub fn dfl(x: Tensor<3>) -> Tensor<3> {
    let [b, _, a] = x.dims();
    let p = softmax(x.reshape([b, 4, REG_MAX, a]), 2);
    let bins = Tensor::<1, Int>::arange(0..REG_MAX as i64, &p.device())
        .float()
        .reshape([1, 1, REG_MAX, 1]);
    (p * bins).sum_dim(2).reshape([b, 4, a])
}

/// Concatenates the level maps into `[B, 64 + nc, A]` and returns it with the level sizes.
pub fn flatten_levels(levels: &[Tensor<4>]) -> (Tensor<3>, Vec<[usize; 2]>) {
    let sizes = levels
        .iter()
        .map(|l| {
            let [_, _, h, w] = l.dims();
            [h, w]
        })
        .collect();
    let flat = levels
        .iter()
        .map(|l| {
            let [b, c, h, w] = l.dims();
            l.clone().reshape([b, c, h * w])
        })
        .collect();
    (Tensor::cat(flat, 2), sizes)
}

/// The inference output `[B, 4 + nc, A]`: box centre x, y, width, height in input pixels, then
/// the class probabilities (sigmoid; no objectness). Distances d = DFL(logits) give
/// x1y1 = anchor - d_lt, x2y2 = anchor + d_rb (in strides).
pub fn decode(levels: &[Tensor<4>]) -> Tensor<3> {
    let (x, sizes) = flatten_levels(levels);
    let [_, no, a] = x.dims();
    let device = x.device();
    let dist = dfl(x.clone().narrow(1, 0, 4 * REG_MAX));
    let cls = x.narrow(1, 4 * REG_MAX, no - 4 * REG_MAX);
    let (points, strides) = anchors(&sizes, &device);
    let points = points.transpose().reshape([1, 2, a]);
    let strides = strides.transpose().reshape([1, 1, a]);
    let lt = dist.clone().narrow(1, 0, 2);
    let rb = dist.narrow(1, 2, 2);
    let x1y1 = points.clone() - lt;
    let x2y2 = points + rb;
    let centre = (x1y1.clone() + x2y2.clone()) / 2.0;
    let wh = x2y2 - x1y1;
    let boxes = Tensor::cat(vec![centre, wh], 1) * strides;
    Tensor::cat(vec![boxes, sigmoid(cls)], 1)
}

/// One detection: corners in input pixels, score, class index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// x1, y1, x2, y2.
    pub bbox: [f32; 4],
    /// Class probability.
    pub score: f32,
    /// Class index.
    pub class: usize,
}

/// Settings of [`non_max_suppression`] (defaults: the reference's `detect.py`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NmsConfig {
    /// Minimum class probability.
    pub conf: f32,
    /// IoU above which the lower-scored box of the same class is suppressed.
    pub iou: f32,
    /// Most detections kept per image.
    pub max_det: usize,
    /// One candidate per (anchor, class above `conf`) instead of one per anchor (its best class).
    pub multi_label: bool,
    /// Suppress across classes.
    pub agnostic: bool,
    /// Most candidates entering NMS (highest scores kept).
    pub max_candidates: usize,
}

impl Default for NmsConfig {
    fn default() -> Self {
        Self {
            conf: 0.25,
            iou: 0.45,
            max_det: 1000,
            multi_label: false,
            agnostic: false,
            max_candidates: 30_000,
        }
    }
}

impl NmsConfig {
    /// The settings of COCO validation (`val.py`, ultralytics val): conf 0.001, IoU 0.7,
    /// 300 detections, multi-label.
    pub fn validation() -> Self {
        Self {
            conf: 0.001,
            iou: 0.7,
            max_det: 300,
            multi_label: true,
            ..Self::default()
        }
    }
}

/// Offset added to box coordinates per class so that boxes of different classes never overlap
/// (the reference's `max_wh`).
const CLASS_OFFSET: f32 = 7680.0;

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let area = |r: &[f32; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    inter / (area(a) + area(b) - inter)
}

/// Greedy NMS over boxes sorted by descending score: keeps a box unless its IoU with a kept box
/// exceeds `threshold` (torchvision's `nms`). Returns indices into `boxes`.
pub fn nms(boxes: &[[f32; 4]], scores: &[f32], threshold: f32) -> Vec<usize> {
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by(|&i, &j| scores[j].total_cmp(&scores[i]));
    let mut keep: Vec<usize> = Vec::new();
    for i in order {
        if keep.iter().all(|&k| iou(&boxes[k], &boxes[i]) <= threshold) {
            keep.push(i);
        }
    }
    keep
}

/// Per-image detections from an inference output `[B, 4 + nc, A]` (see [`decode`]), sorted by
/// descending score: candidates above `conf` (one per anchor, or per anchor and class with
/// `multi_label`), NMS per class (boxes offset by class index x 7680 unless `agnostic`).
pub fn non_max_suppression(output: Tensor<3>, cfg: &NmsConfig) -> Vec<Vec<Detection>> {
    let [b, no, a] = output.dims();
    let nc = no - 4;
    let values = output
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float output");
    let multi_label = cfg.multi_label && nc > 1;
    (0..b)
        .map(|img| {
            let at = |ch: usize, anchor: usize| values[(img * no + ch) * a + anchor];
            let mut cands: Vec<Detection> = Vec::new();
            for k in 0..a {
                let (cx, cy, w, h) = (at(0, k), at(1, k), at(2, k), at(3, k));
                let bbox = [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0];
                if multi_label {
                    for c in 0..nc {
                        let s = at(4 + c, k);
                        if s > cfg.conf {
                            cands.push(Detection {
                                bbox,
                                score: s,
                                class: c,
                            });
                        }
                    }
                } else {
                    let (c, s) = (0..nc)
                        .map(|c| (c, at(4 + c, k)))
                        .fold((0, f32::NEG_INFINITY), |m, v| if v.1 > m.1 { v } else { m });
                    if s > cfg.conf {
                        cands.push(Detection {
                            bbox,
                            score: s,
                            class: c,
                        });
                    }
                }
            }
            cands.sort_by(|x, y| y.score.total_cmp(&x.score));
            cands.truncate(cfg.max_candidates);
            let shifted: Vec<[f32; 4]> = cands
                .iter()
                .map(|d| {
                    let off = if cfg.agnostic {
                        0.0
                    } else {
                        d.class as f32 * CLASS_OFFSET
                    };
                    d.bbox.map(|v| v + off)
                })
                .collect();
            let scores: Vec<f32> = cands.iter().map(|d| d.score).collect();
            let mut keep = nms(&shifted, &scores, cfg.iou);
            keep.truncate(cfg.max_det);
            keep.into_iter().map(|i| cands[i]).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nms_suppresses_same_class_overlaps_only() {
        let device = Device::flex();
        // Three anchors: two overlapping boxes (IoU 0.81) of class 0, one of class 1 on top.
        // Channels: cx, cy, w, h, p0, p1.
        let data = vec![
            50.0, 52.0, 50.0, // cx
            50.0, 50.0, 50.0, // cy
            20.0, 20.0, 20.0, // w
            20.0, 20.0, 20.0, // h
            0.9, 0.8, 0.1, // class 0
            0.1, 0.1, 0.7, // class 1
        ];
        let out = Tensor::<3>::from_data(TensorData::new(data, [1, 6, 3]), &device);
        let dets = non_max_suppression(out.clone(), &NmsConfig::default());
        assert_eq!(dets[0].len(), 2);
        assert_eq!((dets[0][0].class, dets[0][0].score), (0, 0.9));
        assert_eq!((dets[0][1].class, dets[0][1].score), (1, 0.7));
        assert_eq!(dets[0][0].bbox, [40.0, 40.0, 60.0, 60.0]);
        let agnostic = NmsConfig {
            agnostic: true,
            ..NmsConfig::default()
        };
        assert_eq!(non_max_suppression(out.clone(), &agnostic)[0].len(), 1);
        // Above the IoU (0.818) nothing is suppressed.
        let loose = NmsConfig {
            iou: 0.85,
            ..NmsConfig::default()
        };
        assert_eq!(non_max_suppression(out.clone(), &loose)[0].len(), 3);
        // Multi-label: every (anchor, class) above conf is a candidate.
        let all = NmsConfig {
            conf: 0.05,
            iou: 0.85,
            multi_label: true,
            ..NmsConfig::default()
        };
        // Per class, the exact duplicate (IoU 1) of a kept box goes: 2 of class 0, 2 of class 1.
        assert_eq!(non_max_suppression(out, &all)[0].len(), 4);
    }

    #[test]
    fn dfl_of_a_one_hot_distribution_is_its_bin() {
        let device = Device::flex();
        let mut logits = vec![-1e4f32; 64];
        for (side, bin) in [3usize, 0, 15, 7].into_iter().enumerate() {
            logits[side * 16 + bin] = 1e4;
        }
        let d = dfl(Tensor::<3>::from_data(
            TensorData::new(logits, [1, 64, 1]),
            &device,
        ));
        assert_eq!(
            d.into_data().try_into_vec::<f32>().unwrap(),
            vec![3.0, 0.0, 15.0, 7.0]
        );
    }
}
