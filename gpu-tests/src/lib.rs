//! Holds no code: the wgpu-vs-CPU parity tests live in `tests/wgpu_parity.rs`. They sit in this
//! crate because cargo links every binary of a package before running one of its integration
//! tests, and the eval/train binaries built unoptimised with wgpu take ~230 MB of disk each.
//!
//! `XDG_RUNTIME_DIR=/tmp cargo test --profile gpu-ci -p zoo-gpu-tests --features wgpu`
#![forbid(unsafe_code)]
