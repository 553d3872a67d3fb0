//! PONITA and PNITA: "Fast, Expressive SE(n) Equivariant Networks through Weight-Sharing in
//! Position-Orientation Space" (Bekkers, Vadgama, Hesselink, van der Linden, Romero; ICLR 2024).
//!
//! Features live on position-orientation space R^3 x S^2, sampled on a fixed grid of O
//! orientations per node. Convolution kernels depend only on bi-invariants of point pairs,
//! so the network is SE(3) equivariant up to the grid's discretisation (exactly when the grid is
//! rotated with the input, or for the icosahedral grid under icosahedral rotations).
//!
//! * [`grid`]: Fibonacci, repulsion and icosahedral orientation grids.
//! * [`geometry`]: pair invariants, polynomial features, the smooth cutoff.
//! * [`graph`]: batched sparse graphs (radius graphs, scatter-add) and the dense fully connected
//!   form for small systems.
//! * [`model`]: the network ([`PonitaConfig`], [`Ponita`]).
//!
//! Burn has first-order autodiff only, so forces cannot be trained as -dE/dx (that needs the
//! gradient of a gradient); [`PonitaConfig::md17`] uses a direct equivariant force head instead.
#![forbid(unsafe_code)]

pub mod geometry;
pub mod graph;
pub mod grid;
pub mod model;

pub use graph::{Edges, Graph, radius_graph};
pub use grid::GridKind;
pub use model::{NodeInputs, Ponita, PonitaConfig, PonitaOutput, TaskLevel};
