//! Datasets for burnzoo: the [`Dataset`] and [`Batcher`] traits that the training loop consumes,
//! reproducible random streams ([`rng`]), and every loader, file-format parser and synthetic
//! generator of the zoo.
//!
//! Everything that reads a file lives here (or in `zoo-weights`); model crates never touch files.
#![forbid(unsafe_code)]

pub mod captions;
pub mod coco;
pub mod dassl;
pub mod detection;
pub mod error;
pub mod fuzz;
pub mod image;
pub mod md17;
pub mod nbody;
pub mod npy;
pub mod resample;
pub mod rng;
pub mod synthetic;
pub mod tabular;

pub use error::{DataError, Result};
pub use rng::Rng;

use burn::tensor::Device;

/// A finite, indexable collection of items.
///
/// `get` is the deterministic view (evaluation); `get_train` is the training view, which may draw
/// random augmentations from `rng`. The training loop seeds `rng` from the run seed, the epoch and
/// the index, so a resumed run draws exactly what an uninterrupted one would.
pub trait Dataset<I>: Send + Sync {
    /// Number of items.
    fn len(&self) -> usize;

    /// True when the dataset holds no item.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The item at `index` (`index < len()`), without augmentation.
    fn get(&self, index: usize) -> Result<I>;

    /// The item at `index` as seen in training. Default: no augmentation.
    fn get_train(&self, index: usize, rng: &mut Rng) -> Result<I> {
        let _ = rng;
        self.get(index)
    }

    /// The item at `index` as seen in training epoch `epoch` (0-based), for augmentations that
    /// change over the run (YOLO's close-mosaic). Default: [`Dataset::get_train`].
    fn get_train_at(&self, index: usize, epoch: usize, rng: &mut Rng) -> Result<I> {
        let _ = epoch;
        self.get_train(index, rng)
    }
}

/// Turns a list of items into one batch of tensors on `device`.
pub trait Batcher<I, B>: Send + Sync {
    /// Stacks `items` (never empty) into a batch.
    fn batch(&self, items: Vec<I>, device: &Device) -> B;
}

impl<I, B, F> Batcher<I, B> for F
where
    F: Fn(Vec<I>, &Device) -> B + Send + Sync,
{
    fn batch(&self, items: Vec<I>, device: &Device) -> B {
        self(items, device)
    }
}

/// A dataset held in memory.
#[derive(Debug, Clone)]
pub struct InMemory<I> {
    items: Vec<I>,
}

impl<I> InMemory<I> {
    /// Wraps `items`.
    pub fn new(items: Vec<I>) -> Self {
        Self { items }
    }

    /// The items, in order.
    pub fn items(&self) -> &[I] {
        &self.items
    }
}

impl<I: Clone + Send + Sync> Dataset<I> for InMemory<I> {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn get(&self, index: usize) -> Result<I> {
        self.items.get(index).cloned().ok_or_else(|| {
            DataError::invalid(format!(
                "index {index} out of range for a dataset of {} items",
                self.items.len()
            ))
        })
    }
}

/// A feature vector with an integer class label: the item of tabular and toy classification sets.
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledVector {
    /// Feature values.
    pub features: Vec<f32>,
    /// Class index.
    pub label: usize,
}

/// Batches of [`LabeledVector`]: features `[batch, dim]` and labels `[batch]`.
#[derive(Debug, Clone)]
pub struct VectorBatch {
    /// Features, `[batch, dim]`.
    pub features: burn::tensor::Tensor<2>,
    /// Labels, `[batch]`.
    pub labels: burn::tensor::Tensor<1, burn::tensor::Int>,
}

/// Stacks [`LabeledVector`]s into a [`VectorBatch`].
#[derive(Debug, Clone, Copy, Default)]
pub struct VectorBatcher;

impl Batcher<LabeledVector, VectorBatch> for VectorBatcher {
    fn batch(&self, items: Vec<LabeledVector>, device: &Device) -> VectorBatch {
        use burn::tensor::{Int, Tensor, TensorData};
        let n = items.len();
        let dim = items.first().map_or(0, |i| i.features.len());
        let mut features = Vec::with_capacity(n * dim);
        let mut labels = Vec::with_capacity(n);
        for item in items {
            assert_eq!(item.features.len(), dim, "items of one batch differ in width");
            features.extend_from_slice(&item.features);
            labels.push(item.label as i64);
        }
        VectorBatch {
            features: Tensor::from_data(TensorData::new(features, [n, dim]), device),
            labels: Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), device),
        }
    }
}
