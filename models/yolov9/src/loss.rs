//! The training loss of YOLOv9 (the reference's `utils/loss_tal.py` and, with PGI,
//! `utils/loss_tal_dual.py`): task-aligned assignment (TOOD's TaskAlignedAssigner: top 10
//! anchors per object by s^0.5 * CIoU^6 among those whose centre lies inside it), BCE on the
//! class logits against the aligned soft targets, CIoU and distribution focal losses on the
//! assigned anchors weighted by their target scores, all normalised by the target-score sum;
//! gains box 7.5, cls 0.5, dfl 1.5; with PGI each head is assigned separately and the auxiliary
//! head's terms count 0.25. The total is multiplied by the batch size as the reference does.
//!
//! The assignment works on detached predictions and runs on the host; the losses are Burn
//! operations, so gradients flow to the logits.

use crate::decode::{anchors, dfl, flatten_levels};
use crate::head::REG_MAX;
use crate::model::Output;
use burn::prelude::*;
use burn::tensor::activation::sigmoid;

/// One ground-truth object: the image it belongs to in the batch, its class, and its box as
/// normalised centre x, y, width, height (a YOLO label line).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    /// Index of the image in the batch.
    pub image: usize,
    /// Class index.
    pub class: usize,
    /// Centre x, centre y, width, height in [0, 1].
    pub cxcywh: [f32; 4],
}

/// Loss settings (defaults: the reference's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossConfig {
    /// Anchors kept per object by the alignment metric.
    pub topk: usize,
    /// Exponent of the class score in the alignment metric.
    pub alpha: f32,
    /// Exponent of the IoU in the alignment metric.
    pub beta: f32,
    /// Gain of the CIoU box loss.
    pub box_gain: f32,
    /// Gain of the classification loss.
    pub cls_gain: f32,
    /// Gain of the distribution focal loss.
    pub dfl_gain: f32,
    /// Weight of the PGI auxiliary head's terms.
    pub aux_weight: f32,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            topk: 10,
            alpha: 0.5,
            beta: 6.0,
            box_gain: 7.5,
            cls_gain: 0.5,
            dfl_gain: 1.5,
            aux_weight: 0.25,
        }
    }
}

/// A loss value and its parts.
#[derive(Debug, Clone)]
pub struct Losses {
    /// (box + cls + dfl) x batch size, to back-propagate.
    pub total: Tensor<1>,
    /// The gained box, class and DFL terms (detached), as the reference's `loss_items`.
    pub items: [f32; 3],
}

const EPS: f32 = 1e-9;
const CIOU_EPS: f32 = 1e-7;

/// CIoU of two xyxy boxes as the reference's `bbox_iou(box1, box2, xywh=False, CIoU=True)`.
fn ciou(b1: [f32; 4], b2: [f32; 4]) -> f32 {
    let (w1, h1) = (b1[2] - b1[0], b1[3] - b1[1] + CIOU_EPS);
    let (w2, h2) = (b2[2] - b2[0], b2[3] - b2[1] + CIOU_EPS);
    let inter =
        (b1[2].min(b2[2]) - b1[0].max(b2[0])).max(0.0) * (b1[3].min(b2[3]) - b1[1].max(b2[1])).max(0.0);
    let union = w1 * h1 + w2 * h2 - inter + CIOU_EPS;
    let iou = inter / union;
    let cw = b1[2].max(b2[2]) - b1[0].min(b2[0]);
    let ch = b1[3].max(b2[3]) - b1[1].min(b2[1]);
    let c2 = cw * cw + ch * ch + CIOU_EPS;
    let rho2 = ((b2[0] + b2[2] - b1[0] - b1[2]).powi(2) + (b2[1] + b2[3] - b1[1] - b1[3]).powi(2)) / 4.0;
    let v = (4.0 / std::f32::consts::PI.powi(2)) * ((w2 / h2).atan() - (w1 / h1).atan()).powi(2);
    let alpha = v / (v - iou + (1.0 + CIOU_EPS));
    iou - (rho2 / c2 + v * alpha)
}

/// Per-image assignment result.
struct Assignment {
    /// Foreground anchors.
    fg: Vec<bool>,
    /// Target box (xyxy, pixels) per anchor.
    boxes: Vec<[f32; 4]>,
    /// Target class per anchor.
    class: Vec<usize>,
    /// Target score (of its class) per anchor.
    score: Vec<f32>,
}

/// The TaskAlignedAssigner for one image: `scores` [A][nc] (sigmoid), `pred` [A] xyxy pixels,
/// `points` [A] anchor centres in pixels, `gts` (class, xyxy pixels).
fn assign(
    cfg: &LossConfig,
    scores: &[f32],
    nc: usize,
    pred: &[[f32; 4]],
    points: &[[f32; 2]],
    gts: &[(usize, [f32; 4])],
) -> Assignment {
    let a = pred.len();
    let n = gts.len();
    let mut out = Assignment {
        fg: vec![false; a],
        boxes: vec![[0.0; 4]; a],
        class: vec![0; a],
        score: vec![0.0; a],
    };
    if n == 0 {
        return out;
    }
    // overlaps, metrics, inside masks: [n][a]
    let mut overlaps = vec![vec![0f32; a]; n];
    let mut metric = vec![vec![0f32; a]; n];
    let mut inside = vec![vec![false; a]; n];
    for (g, &(cls, gb)) in gts.iter().enumerate() {
        for k in 0..a {
            let o = ciou(gb, pred[k]).max(0.0);
            overlaps[g][k] = o;
            metric[g][k] = scores[k * nc + cls].powf(cfg.alpha) * o.powf(cfg.beta);
            let [x, y] = points[k];
            let d = (x - gb[0]).min(y - gb[1]).min(gb[2] - x).min(gb[3] - y);
            inside[g][k] = d > EPS;
        }
    }
    // Top-k anchors per object by metric x inside, restricted to the inside ones.
    let mut pos = vec![vec![false; a]; n];
    for g in 0..n {
        let mut order: Vec<usize> = (0..a).collect();
        let m = |k: usize| if inside[g][k] { metric[g][k] } else { 0.0 };
        order.sort_by(|&i, &j| m(j).total_cmp(&m(i)));
        for &k in order.iter().take(cfg.topk) {
            pos[g][k] = inside[g][k];
        }
    }
    // An anchor claimed by several objects keeps the one it overlaps most.
    for k in 0..a {
        let claimed = (0..n).filter(|&g| pos[g][k]).count();
        if claimed > 1 {
            let best = (0..n).fold(0, |b, g| if overlaps[g][k] > overlaps[b][k] { g } else { b });
            for (g, p) in pos.iter_mut().enumerate() {
                p[k] = g == best;
            }
        }
    }
    // Normalised alignment: metric x (max overlap of the object) / (max metric of the object).
    let mut norm = vec![0f32; a];
    for g in 0..n {
        let (mut max_metric, mut max_overlap) = (0f32, 0f32);
        for k in 0..a {
            if pos[g][k] {
                max_metric = max_metric.max(metric[g][k]);
                max_overlap = max_overlap.max(overlaps[g][k]);
            }
        }
        for k in 0..a {
            if pos[g][k] {
                norm[k] = norm[k].max(metric[g][k] * max_overlap / (max_metric + EPS));
            }
        }
    }
    for k in 0..a {
        if let Some(g) = (0..n).find(|&g| pos[g][k]) {
            out.fg[k] = true;
            out.boxes[k] = gts[g].1;
            out.class[k] = gts[g].0;
            out.score[k] = norm[k];
        }
    }
    out
}

/// (box, cls, dfl) of one head, each normalised by the target-score sum (before gains).
fn head_loss(
    cfg: &LossConfig,
    levels: &[Tensor<4>],
    gts: &[Vec<(usize, [f32; 4])>],
    nc: usize,
) -> [Tensor<1>; 3] {
    let (x, sizes) = flatten_levels(levels);
    let [b, _, a] = x.dims();
    let device = x.device();
    let distri = x.clone().narrow(1, 0, 4 * REG_MAX); // [B, 64, A]
    let logits = x.narrow(1, 4 * REG_MAX, nc); // [B, nc, A]
    let (points, strides) = anchors(&sizes, &device);
    let p = points.clone().transpose().reshape([1, 2, a]);
    let dist = dfl(distri.clone());
    let pred_boxes = Tensor::cat(
        vec![p.clone() - dist.clone().narrow(1, 0, 2), p + dist.narrow(1, 2, 2)],
        1,
    ); // [B, 4, A], strides
    // Host copies for the assignment (detached).
    let host = |t: Tensor<3>| t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32");
    let score_host = host(sigmoid(logits.clone()).permute([0, 2, 1])); // [B, A, nc]
    let box_host = host(pred_boxes.clone().permute([0, 2, 1])); // [B, A, 4]
    let pts: Vec<f32> = points.into_data().try_to_vec::<f32>().expect("f32");
    let st: Vec<f32> = strides.into_data().try_to_vec::<f32>().expect("f32");
    let px: Vec<[f32; 2]> = (0..a)
        .map(|k| [pts[2 * k] * st[k], pts[2 * k + 1] * st[k]])
        .collect();
    let mut target_scores = vec![0f32; b * a * nc];
    let mut fg_index: Vec<i64> = Vec::new();
    let mut fg_weight: Vec<f32> = Vec::new();
    let mut fg_target: Vec<f32> = Vec::new(); // xyxy in strides
    let mut dfl_mask: Vec<f32> = Vec::new(); // [N, 4, 16] soft one-hot
    for (i, image_gts) in gts.iter().enumerate().take(b) {
        let pred: Vec<[f32; 4]> = (0..a)
            .map(|k| {
                let o = (i * a + k) * 4;
                [0, 1, 2, 3].map(|c| box_host[o + c] * st[k])
            })
            .collect();
        let asg = assign(
            cfg,
            &score_host[i * a * nc..(i + 1) * a * nc],
            nc,
            &pred,
            &px,
            image_gts,
        );
        for k in 0..a {
            if !asg.fg[k] {
                continue;
            }
            target_scores[(i * a + k) * nc + asg.class[k]] = asg.score[k];
            fg_index.push((i * a + k) as i64);
            fg_weight.push(asg.score[k]);
            let t = asg.boxes[k].map(|v| v / st[k]);
            fg_target.extend(t);
            let (ax, ay) = (pts[2 * k], pts[2 * k + 1]);
            for d in [ax - t[0], ay - t[1], t[2] - ax, t[3] - ay] {
                let d = d.clamp(0.0, (REG_MAX - 1) as f32 - 0.01);
                let left = d.floor();
                let mut row = [0f32; REG_MAX];
                row[left as usize] = left + 1.0 - d;
                row[left as usize + 1] = d - left;
                dfl_mask.extend(row);
            }
        }
    }
    let score_sum = target_scores.iter().sum::<f32>().max(1.0);
    // Classification: BCE with logits against the soft targets, summed.
    let logits = logits.permute([0, 2, 1]); // [B, A, nc]
    let t = Tensor::<3>::from_data(TensorData::new(target_scores, [b, a, nc]), &device);
    let bce = logits.clone().clamp_min(0.0) - logits.clone() * t + (logits.abs().neg().exp() + 1.0).log();
    let cls = bce.sum() / score_sum;
    let n = fg_index.len();
    if n == 0 {
        let zero = Tensor::<1>::zeros([1], &device);
        return [zero.clone(), cls, zero];
    }
    let idx = Tensor::<1, Int>::from_data(TensorData::new(fg_index, [n]), &device);
    let w = Tensor::<1>::from_data(TensorData::new(fg_weight, [n]), &device);
    // Box: 1 - CIoU(pred, target) on the assigned anchors (CIoU's alpha without gradient).
    let pb = pred_boxes
        .permute([0, 2, 1])
        .reshape([b * a, 4])
        .select(0, idx.clone());
    let tb = Tensor::<2>::from_data(TensorData::new(fg_target, [n, 4]), &device);
    let col = |t: &Tensor<2>, c: usize| t.clone().narrow(1, c, 1).reshape([n]);
    let (x1, y1, x2, y2) = (col(&pb, 0), col(&pb, 1), col(&pb, 2), col(&pb, 3));
    let (u1, v1, u2, v2) = (col(&tb, 0), col(&tb, 1), col(&tb, 2), col(&tb, 3));
    let (w1, h1) = (x2.clone() - x1.clone(), y2.clone() - y1.clone() + CIOU_EPS);
    let (w2, h2) = (u2.clone() - u1.clone(), v2.clone() - v1.clone() + CIOU_EPS);
    let inter = (x2.clone().min_pair(u2.clone()) - x1.clone().max_pair(u1.clone())).clamp_min(0.0)
        * (y2.clone().min_pair(v2.clone()) - y1.clone().max_pair(v1.clone())).clamp_min(0.0);
    let union = w1.clone() * h1.clone() + w2.clone() * h2.clone() - inter.clone() + CIOU_EPS;
    let iou = inter / union;
    let cw = x2.clone().max_pair(u2.clone()) - x1.clone().min_pair(u1.clone());
    let ch = y2.clone().max_pair(v2.clone()) - y1.clone().min_pair(v1.clone());
    let c2 = cw.clone() * cw + ch.clone() * ch + CIOU_EPS;
    let rho2 = ((u1 + u2 - x1 - x2).powi_scalar(2) + (v1 + v2 - y1 - y2).powi_scalar(2)) / 4.0;
    let v = ((w2 / h2).atan() - (w1 / h1).atan()).powi_scalar(2) * (4.0 / std::f32::consts::PI.powi(2));
    let alpha = (v.clone() / (v.clone() - iou.clone() + (1.0 + CIOU_EPS))).detach();
    let ciou = iou - (rho2 / c2 + v * alpha);
    let box_loss = ((ciou.neg() + 1.0) * w.clone()).sum() / score_sum;
    // DFL: cross-entropy on the two bins around each side's distance, mean over the sides.
    let pd = distri
        .permute([0, 2, 1])
        .reshape([b * a, 4 * REG_MAX])
        .select(0, idx)
        .reshape([n, 4, REG_MAX]);
    let mask = Tensor::<3>::from_data(TensorData::new(dfl_mask, [n, 4, REG_MAX]), &device);
    let ce = (zoo_kernels::log_softmax_last(pd) * mask)
        .sum_dim(2)
        .reshape([n, 4])
        .neg()
        .mean_dim(1)
        .reshape([n]);
    let dfl_loss = (ce * w).sum() / score_sum;
    [box_loss, cls, dfl_loss]
}

impl LossConfig {
    /// The loss of a forward pass `out` (raw level maps; both heads for a PGI model) on a batch of
    /// `batch` images of `[h, w]` pixels with `targets`.
    pub fn loss(&self, out: &Output, targets: &[Target], batch: usize, [h, w]: [usize; 2]) -> Losses {
        let nc = {
            let [_, c, _, _] = out.main[0].dims();
            c - 4 * REG_MAX
        };
        let mut gts: Vec<Vec<(usize, [f32; 4])>> = vec![Vec::new(); batch];
        for t in targets.iter().filter(|t| t.image < batch) {
            let [cx, cy, bw, bh] = t.cxcywh;
            let (cx, cy, bw, bh) = (cx * w as f32, cy * h as f32, bw * w as f32, bh * h as f32);
            gts[t.image].push((
                t.class,
                [cx - bw / 2.0, cy - bh / 2.0, cx + bw / 2.0, cy + bh / 2.0],
            ));
        }
        let main = head_loss(self, &out.main, &gts, nc);
        let [mut bx, mut cl, mut df] = main;
        if let Some(aux) = &out.aux {
            let [ab, ac, ad] = head_loss(self, aux, &gts, nc);
            bx = bx + ab * self.aux_weight;
            cl = cl + ac * self.aux_weight;
            df = df + ad * self.aux_weight;
        }
        let (bx, cl, df) = (bx * self.box_gain, cl * self.cls_gain, df * self.dfl_gain);
        let scalar = |t: &Tensor<1>| t.clone().into_scalar::<f32>();
        let items = [scalar(&bx), scalar(&cl), scalar(&df)];
        Losses {
            total: (bx + cl + df) * batch as f32,
            items,
        }
    }
}
