//! COCO detection evaluation (bbox), a re-implementation of pycocotools' `COCOeval` giving the
//! same 12 numbers: AP at IoU .50:.05:.95, .50 and .75; AP for small, medium and large objects;
//! AR with 1, 10 and 100 detections per image; AR for small, medium and large objects.
//!
//! The behaviours that decide the numbers follow pycocotools 2.0: area ranges use the ground
//! truth's `area` field (detections get w x h); `iscrowd` ground truths are ignored, match any
//! number of detections, and their IoU is intersection / detection area; detections are ranked by
//! score with a stable sort and cut to 100 per image and category; a detection matches the
//! unmatched ground truth of highest IoU at threshold min(t, 1 - 1e-10); unmatched detections
//! outside the area range and detections matched to ignored ground truth are ignored; precision
//! is made monotone and sampled at 101 recall points (0 beyond the last recall); empty cells are
//! -1 and left out of the means.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

/// A ground-truth file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CocoError {
    /// Unreadable or malformed JSON.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, with the JSON path of the field.
        message: String,
    },
    /// Detections for images the ground truth does not have.
    #[error("{path}: {count} detection(s) name image ids missing from the ground truth, e.g. {example}")]
    UnknownImage {
        /// The detections file.
        path: String,
        /// How many.
        count: usize,
        /// One of the ids.
        example: String,
    },
    /// An unreadable or malformed ground-truth file.
    #[error(transparent)]
    Data(#[from] zoo_datasets::DataError),
}

pub use zoo_datasets::coco::{GroundTruth, GtAnnotation, GtCategory, GtImage, Id};

/// A detection result (`[{"image_id", "category_id", "bbox", "score"}]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DetResult {
    /// Its image.
    pub image_id: Id,
    /// Its category.
    pub category_id: Id,
    /// x, y, width, height.
    pub bbox: [f64; 4],
    /// Confidence.
    pub score: f64,
}

/// Reads a COCO results JSON file (a list of detections).
pub fn read_results(path: &Path) -> Result<Vec<DetResult>, CocoError> {
    let text = std::fs::read_to_string(path).map_err(|e| CocoError::Parse {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    zoo_datasets::coco::parse_json(&text).map_err(|message| CocoError::Parse {
        path: path.display().to_string(),
        message,
    })
}

/// The 12 summary numbers, in pycocotools' order.
pub const STAT_NAMES: [&str; 12] = [
    "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
];

/// Evaluation results: the 12 summary numbers and per-category AP (IoU .50:.95, all areas, 100
/// detections; -1 for a category without ground truth).
#[derive(Debug, Clone, PartialEq)]
pub struct CocoEval {
    /// pycocotools' `stats`.
    pub stats: [f64; 12],
    /// (category id, AP) in category-id order.
    pub per_category: Vec<(Id, f64)>,
    /// Precision at each of the 101 recall points, IoU 0.5, all areas, 100 detections, per
    /// category (-1 where undefined): the PR curves.
    pub pr_curves: Vec<(Id, Vec<f64>)>,
}

impl CocoEval {
    /// The 12 numbers as one JSON object keyed by [`STAT_NAMES`].
    pub fn stats_json(&self) -> serde_json::Value {
        STAT_NAMES
            .iter()
            .zip(self.stats)
            .map(|(n, v)| (n.to_string(), serde_json::Value::from(v)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

/// numpy's `linspace(start, stop, num)` values (endpoint included).
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let step = (stop - start) / (num - 1) as f64;
    let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    v[num - 1] = stop;
    v
}

struct Det {
    id: usize,
    bbox: [f64; 4],
    area: f64,
    score: f64,
}

struct Gt<'a> {
    ann: &'a GtAnnotation,
}

/// pycocotools' `maskUtils.iou` on boxes: intersection over union, or over the detection's area
/// for a crowd ground truth.
fn box_iou(d: &[f64; 4], g: &[f64; 4], crowd: bool) -> f64 {
    let w = (d[0] + d[2]).min(g[0] + g[2]) - d[0].max(g[0]);
    if w <= 0.0 {
        return 0.0;
    }
    let h = (d[1] + d[3]).min(g[1] + g[3]) - d[1].max(g[1]);
    if h <= 0.0 {
        return 0.0;
    }
    let inter = w * h;
    let da = d[2] * d[3];
    let union = if crowd { da } else { da + g[2] * g[3] - inter };
    inter / union
}

/// Per (image, category, area range) matching results.
struct ImgEval {
    dt_scores: Vec<f64>,
    /// [T][D]: matched (a ground-truth id, 0 when unmatched, as pycocotools stores it).
    dt_matches: Vec<Vec<i64>>,
    dt_ignore: Vec<Vec<bool>>,
    gt_ignore: Vec<bool>,
}

const MAX_DETS: [usize; 3] = [1, 10, 100];
const AREAS: [(f64, f64); 4] = [(0.0, 1e10), (0.0, 1024.0), (1024.0, 9216.0), (9216.0, 1e10)];

/// Evaluates `results` against `gt` (pycocotools `COCOeval(gt, gt.loadRes(results), 'bbox')`
/// then `evaluate()`, `accumulate()`, `summarize()`). `dt_path` names the results in errors.
pub fn evaluate(gt: &GroundTruth, results: &[DetResult], dt_path: &str) -> Result<CocoEval, CocoError> {
    let img_ids: Vec<Id> = gt
        .images
        .iter()
        .map(|i| i.id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let cat_ids: Vec<Id> = gt
        .categories
        .iter()
        .map(|c| c.id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let img_set: HashMap<&Id, usize> = img_ids.iter().enumerate().map(|(i, id)| (id, i)).collect();
    let cat_set: HashMap<&Id, usize> = cat_ids.iter().enumerate().map(|(i, id)| (id, i)).collect();
    let unknown: Vec<&DetResult> = results
        .iter()
        .filter(|r| !img_set.contains_key(&r.image_id))
        .collect();
    if let Some(first) = unknown.first() {
        return Err(CocoError::UnknownImage {
            path: dt_path.to_string(),
            count: unknown.len(),
            example: first.image_id.to_string(),
        });
    }
    // Group by (image, category) in file order, as pycocotools' defaultdicts.
    let mut gts: BTreeMap<(usize, usize), Vec<Gt>> = BTreeMap::new();
    for a in &gt.annotations {
        if let (Some(&i), Some(&k)) = (img_set.get(&a.image_id), cat_set.get(&a.category_id)) {
            gts.entry((i, k)).or_default().push(Gt { ann: a });
        }
    }
    let mut dts: BTreeMap<(usize, usize), Vec<Det>> = BTreeMap::new();
    for (n, r) in results.iter().enumerate() {
        if let Some(&k) = cat_set.get(&r.category_id) {
            dts.entry((img_set[&r.image_id], k)).or_default().push(Det {
                id: n + 1,
                bbox: r.bbox,
                area: r.bbox[2] * r.bbox[3],
                score: r.score,
            });
        }
    }
    // Sort each cell's detections by descending score (stable) and keep 100.
    for v in dts.values_mut() {
        v.sort_by(|a, b| b.score.total_cmp(&a.score));
        v.truncate(MAX_DETS[2]);
    }
    let iou_thrs = linspace(0.5, 0.95, 10);
    let rec_thrs = linspace(0.0, 1.0, 101);
    let (ni, nk, na, nt, nr, nm) = (img_ids.len(), cat_ids.len(), AREAS.len(), 10, 101, MAX_DETS.len());
    let empty_g: Vec<Gt> = Vec::new();
    let empty_d: Vec<Det> = Vec::new();
    // evalImgs[k][a][i]
    let mut evals: Vec<Option<ImgEval>> = Vec::with_capacity(nk * na * ni);
    for k in 0..nk {
        for &(lo, hi) in &AREAS {
            for i in 0..ni {
                let g = gts.get(&(i, k)).unwrap_or(&empty_g);
                let d = dts.get(&(i, k)).unwrap_or(&empty_d);
                evals.push(evaluate_img(g, d, lo, hi, &iou_thrs));
            }
        }
    }
    // accumulate
    let mut precision = vec![-1.0f64; nt * nr * nk * na * nm];
    let mut recall = vec![-1.0f64; nt * nk * na * nm];
    let pidx = |t: usize, r: usize, k: usize, a: usize, m: usize| (((t * nr + r) * nk + k) * na + a) * nm + m;
    let ridx = |t: usize, k: usize, a: usize, m: usize| ((t * nk + k) * na + a) * nm + m;
    for k in 0..nk {
        for a in 0..na {
            for (m, &max_det) in MAX_DETS.iter().enumerate() {
                let es: Vec<&ImgEval> = (0..ni)
                    .filter_map(|i| evals[(k * na + a) * ni + i].as_ref())
                    .collect();
                if es.is_empty() {
                    continue;
                }
                let mut scores = Vec::new();
                let mut src = Vec::new(); // (eval index, det index)
                for (e_i, e) in es.iter().enumerate() {
                    for d in 0..e.dt_scores.len().min(max_det) {
                        scores.push(e.dt_scores[d]);
                        src.push((e_i, d));
                    }
                }
                let mut order: Vec<usize> = (0..scores.len()).collect();
                order.sort_by(|&x, &y| scores[y].total_cmp(&scores[x]));
                let npig = es.iter().flat_map(|e| &e.gt_ignore).filter(|&&g| !g).count();
                if npig == 0 {
                    continue;
                }
                for t in 0..nt {
                    let (mut tp, mut fp) = (0.0f64, 0.0f64);
                    let mut rc = Vec::with_capacity(order.len());
                    let mut pr = Vec::with_capacity(order.len());
                    for &o in &order {
                        let (e_i, d) = src[o];
                        let e = es[e_i];
                        if e.dt_ignore[t][d] {
                            // neither a true nor a false positive, but still a point of the curve
                        } else if e.dt_matches[t][d] != 0 {
                            tp += 1.0;
                        } else {
                            fp += 1.0;
                        }
                        rc.push(tp / npig as f64);
                        pr.push(tp / (fp + tp + f64::EPSILON));
                    }
                    recall[ridx(t, k, a, m)] = rc.last().copied().unwrap_or(0.0);
                    for i in (1..pr.len()).rev() {
                        if pr[i] > pr[i - 1] {
                            pr[i - 1] = pr[i];
                        }
                    }
                    for (r, &thr) in rec_thrs.iter().enumerate() {
                        let pi = rc.partition_point(|&v| v < thr);
                        precision[pidx(t, r, k, a, m)] = if pi < pr.len() { pr[pi] } else { 0.0 };
                    }
                }
            }
        }
    }
    let mean = |vals: &mut dyn Iterator<Item = f64>| {
        let kept: Vec<f64> = vals.filter(|&v| v > -1.0).collect();
        if kept.is_empty() {
            -1.0
        } else {
            kept.iter().sum::<f64>() / kept.len() as f64
        }
    };
    let ap = |t: Option<usize>, a: usize, m: usize| {
        let ts: Vec<usize> = t.map_or((0..nt).collect(), |t| vec![t]);
        mean(&mut ts.into_iter().flat_map(|t| {
            let precision = &precision;
            (0..nr).flat_map(move |r| (0..nk).map(move |k| precision[pidx(t, r, k, a, m)]))
        }))
    };
    let ar = |a: usize, m: usize| {
        mean(
            &mut (0..nt)
                .flat_map(|t| (0..nk).map(move |k| (t, k)))
                .map(|(t, k)| recall[ridx(t, k, a, m)]),
        )
    };
    let stats = [
        ap(None, 0, 2),
        ap(Some(0), 0, 2),
        ap(Some(5), 0, 2),
        ap(None, 1, 2),
        ap(None, 2, 2),
        ap(None, 3, 2),
        ar(0, 0),
        ar(0, 1),
        ar(0, 2),
        ar(1, 2),
        ar(2, 2),
        ar(3, 2),
    ];
    let per_category = cat_ids
        .iter()
        .enumerate()
        .map(|(k, id)| {
            (
                id.clone(),
                mean(
                    &mut (0..nt)
                        .flat_map(|t| (0..nr).map(move |r| (t, r)))
                        .map(|(t, r)| precision[pidx(t, r, k, 0, 2)]),
                ),
            )
        })
        .collect();
    let pr_curves = cat_ids
        .iter()
        .enumerate()
        .map(|(k, id)| {
            (
                id.clone(),
                (0..nr).map(|r| precision[pidx(0, r, k, 0, 2)]).collect(),
            )
        })
        .collect();
    Ok(CocoEval {
        stats,
        per_category,
        pr_curves,
    })
}

/// pycocotools' `evaluateImg` for one image, category and area range (detections already
/// sorted and cut to 100).
fn evaluate_img(gt: &[Gt], dt: &[Det], lo: f64, hi: f64, iou_thrs: &[f64]) -> Option<ImgEval> {
    if gt.is_empty() && dt.is_empty() {
        return None;
    }
    let ignored = |g: &Gt| g.ann.iscrowd != 0 || g.ann.area < lo || g.ann.area > hi;
    // Ignored ground truths last (stable).
    let mut gorder: Vec<usize> = (0..gt.len()).collect();
    gorder.sort_by_key(|&g| ignored(&gt[g]));
    let g_ign: Vec<bool> = gorder.iter().map(|&g| ignored(&gt[g])).collect();
    let crowd: Vec<bool> = gorder.iter().map(|&g| gt[g].ann.iscrowd != 0).collect();
    let ious: Vec<Vec<f64>> = dt
        .iter()
        .map(|d| {
            gorder
                .iter()
                .map(|&g| box_iou(&d.bbox, &gt[g].ann.bbox, gt[g].ann.iscrowd != 0))
                .collect()
        })
        .collect();
    let nt = iou_thrs.len();
    let mut gtm = vec![vec![0usize; gt.len()]; nt];
    let mut dtm = vec![vec![0i64; dt.len()]; nt];
    let mut dt_ig = vec![vec![false; dt.len()]; nt];
    for (t, &thr) in iou_thrs.iter().enumerate() {
        for (di, d) in dt.iter().enumerate() {
            let mut iou = thr.min(1.0 - 1e-10);
            let mut m: Option<usize> = None;
            for gi in 0..gorder.len() {
                if gtm[t][gi] > 0 && !crowd[gi] {
                    continue;
                }
                if let Some(mm) = m
                    && !g_ign[mm]
                    && g_ign[gi]
                {
                    break;
                }
                if ious[di][gi] < iou {
                    continue;
                }
                iou = ious[di][gi];
                m = Some(gi);
            }
            if let Some(mm) = m {
                dt_ig[t][di] = g_ign[mm];
                dtm[t][di] = gt[gorder[mm]].ann.id;
                gtm[t][mm] = d.id;
            }
        }
    }
    for t in 0..nt {
        for (di, d) in dt.iter().enumerate() {
            if dtm[t][di] == 0 && (d.area < lo || d.area > hi) {
                dt_ig[t][di] = true;
            }
        }
    }
    Some(ImgEval {
        dt_scores: dt.iter().map(|d| d.score).collect(),
        dt_matches: dtm,
        dt_ignore: dt_ig,
        gt_ignore: g_ign,
    })
}
