//! Graphs over point clouds: edges j -> i (j sends, i receives) as index lists batched over
//! several graphs (gather, multiply, scatter-add), or the dense fully connected form for small
//! systems of equal size (a [B, n, n] block, no scatter).

use burn::prelude::*;
use burn::tensor::{IndexingUpdateOp, TensorData};

/// The edges of a batch of graphs.
#[derive(Debug, Clone)]
pub enum Edges {
    /// Every ordered pair (i, j) of each of `graphs` graphs of `nodes` nodes, self-loops included;
    /// edge (b, i, j) has index (b n + i) n + j.
    Dense {
        /// Number of graphs.
        graphs: usize,
        /// Nodes per graph.
        nodes: usize,
    },
    /// Explicit edges over all nodes of the batch.
    Sparse {
        /// Sending node of each edge.
        src: Box<Tensor<1, Int>>,
        /// Receiving node of each edge.
        dst: Box<Tensor<1, Int>>,
    },
}

impl Edges {
    /// x_j - x_i for every edge j -> i, `[E, 3]`.
    pub fn relative_positions(&self, pos: Tensor<2>) -> Tensor<2> {
        match self {
            Edges::Dense { graphs, nodes } => {
                let (b, n) = (*graphs, *nodes);
                let p = pos.reshape([b, n, 3]);
                (p.clone().reshape([b, 1, n, 3]) - p.reshape([b, n, 1, 3])).reshape([b * n * n, 3])
            }
            Edges::Sparse { src, dst } => {
                pos.clone().select(0, (**src).clone()) - pos.select(0, (**dst).clone())
            }
        }
    }

    /// `sum_{j -> i} k[ij] * x[j]`: node features `[N, O, C]`, per-edge kernels `[E, O, C]`.
    pub fn aggregate(&self, x: Tensor<3>, k: Tensor<3>) -> Tensor<3> {
        let [n_all, o, c] = x.dims();
        match self {
            Edges::Dense { graphs, nodes } => {
                let (b, n) = (*graphs, *nodes);
                let xs = x.reshape([b, 1, n, o, c]);
                (k.reshape([b, n, n, o, c]) * xs)
                    .sum_dim(2)
                    .reshape([n_all, o, c])
            }
            Edges::Sparse { src, dst } => {
                let messages = x.select(0, (**src).clone()) * k;
                Tensor::zeros([n_all, o, c], &messages.device()).select_assign(
                    0,
                    (**dst).clone(),
                    messages,
                    IndexingUpdateOp::Add,
                )
            }
        }
    }

    /// Number of edges.
    pub fn len(&self) -> usize {
        match self {
            Edges::Dense { graphs, nodes } => graphs * nodes * nodes,
            Edges::Sparse { src, .. } => src.dims()[0],
        }
    }

    /// True when there is no edge.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Positions, edges and the graph each node belongs to.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Node positions `[N, 3]`.
    pub pos: Tensor<2>,
    /// Edges.
    pub edges: Edges,
    /// Graph index of each node `[N]` (sorted), for graph-level pooling.
    pub batch: Tensor<1, Int>,
    /// Number of graphs.
    pub num_graphs: usize,
}

impl Graph {
    /// Fully connected graphs with self-loops (the anchor's N-body and MD17 graphs), dense form:
    /// positions `[B, n, 3]`.
    pub fn fully_connected(pos: Tensor<3>) -> Self {
        let [b, n, _] = pos.dims();
        let device = pos.device();
        let batch: Vec<i64> = (0..b as i64).flat_map(|g| std::iter::repeat_n(g, n)).collect();
        Self {
            pos: pos.reshape([b * n, 3]),
            edges: Edges::Dense { graphs: b, nodes: n },
            batch: Tensor::from_data(TensorData::new(batch, [b * n]), &device),
            num_graphs: b,
        }
    }

    /// A graph from explicit edges (`src[k] -> dst[k]`) over nodes with positions `pos` `[N, 3]`
    /// and graph indices `batch` (one per node, sorted, starting at 0).
    pub fn from_edges(pos: Tensor<2>, src: &[usize], dst: &[usize], batch: &[usize]) -> Self {
        assert_eq!(src.len(), dst.len(), "src and dst differ in length");
        let n = pos.dims()[0];
        assert_eq!(batch.len(), n, "one graph index per node");
        let device = pos.device();
        let ints = |v: &[usize]| -> Tensor<1, Int> {
            Tensor::from_data(
                TensorData::new(v.iter().map(|&i| i as i64).collect::<Vec<_>>(), [v.len()]),
                &device,
            )
        };
        Self {
            edges: Edges::Sparse {
                src: Box::new(ints(src)),
                dst: Box::new(ints(dst)),
            },
            batch: ints(batch),
            num_graphs: batch.iter().max().map_or(0, |m| m + 1),
            pos,
        }
    }

    /// Sums node rows `[N, C]` per graph -> `[graphs, C]` (global add pool).
    pub fn sum_per_graph(&self, x: Tensor<2>) -> Tensor<2> {
        let [n, c] = x.dims();
        match &self.edges {
            Edges::Dense { graphs, nodes } => {
                x.reshape([*graphs, *nodes, c]).sum_dim(1).reshape([*graphs, c])
            }
            Edges::Sparse { .. } => {
                let _ = n;
                Tensor::zeros([self.num_graphs, c], &x.device()).select_assign(
                    0,
                    self.batch.clone(),
                    x,
                    IndexingUpdateOp::Add,
                )
            }
        }
    }
}

/// Radius graph (torch_cluster `radius_graph`): edges j -> i between nodes of the same graph with
/// |x_j - x_i| <= `radius`, self-loops if `self_loops`, at most `max_neighbors` senders per
/// receiver (the nearest ones; torch_cluster keeps the first found instead). Returns (src, dst).
pub fn radius_graph(
    pos: &[[f32; 3]],
    batch: &[usize],
    radius: f64,
    max_neighbors: usize,
    self_loops: bool,
) -> (Vec<usize>, Vec<usize>) {
    assert_eq!(pos.len(), batch.len(), "one graph index per node");
    let (mut src, mut dst) = (Vec::new(), Vec::new());
    let mut start = 0;
    while start < pos.len() {
        let mut end = start;
        while end < pos.len() && batch[end] == batch[start] {
            end += 1;
        }
        for i in start..end {
            let mut near: Vec<(f64, usize)> = (start..end)
                .filter(|&j| self_loops || j != i)
                .map(|j| {
                    let d2: f64 = (0..3)
                        .map(|k| (pos[j][k] as f64 - pos[i][k] as f64).powi(2))
                        .sum();
                    (d2.sqrt(), j)
                })
                .filter(|&(d, _)| d <= radius)
                .collect();
            near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            near.truncate(max_neighbors);
            near.sort_by_key(|&(_, j)| j);
            for (_, j) in near {
                src.push(j);
                dst.push(i);
            }
        }
        start = end;
    }
    (src, dst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radius_graph_keeps_graphs_apart_and_caps_neighbours() {
        let pos = [
            [0.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [3.0, 0.0, 0.0],
            [0.0, 0.0, 0.0],
            [0.5, 0.0, 0.0],
        ];
        let batch = [0, 0, 0, 1, 1];
        let (src, dst) = radius_graph(&pos, &batch, 1.5, 10, true);
        let edges: Vec<(usize, usize)> = src.into_iter().zip(dst).collect();
        // Graph 0: 0 <-> 1 within 1.5, node 2 alone; graph 1: 3 <-> 4; self-loops everywhere.
        assert_eq!(
            edges,
            [
                (0, 0),
                (1, 0),
                (0, 1),
                (1, 1),
                (2, 2),
                (3, 3),
                (4, 3),
                (3, 4),
                (4, 4)
            ]
        );
        let (src, _) = radius_graph(&pos, &batch, 1.5, 10, false);
        assert_eq!(src, [1, 0, 4, 3]);
        // A cap of 1 keeps the nearest sender (the node itself when self-loops are on).
        let (src, dst) = radius_graph(&pos, &batch, 10.0, 1, true);
        assert_eq!(src, dst);
        let (src, dst) = radius_graph(&pos, &batch, 10.0, 1, false);
        assert_eq!((src, dst), (vec![1, 0, 1, 4, 3], vec![0, 1, 2, 3, 4]));
    }
}
