//! The layer tables of the YOLOv9 paper's models, as in the authors' configurations
//! (WongKinYiu/yolov9 `models/detect/{gelan,yolov9}-{t,s,m,c,e}.yaml`, with width and depth 1).
//!
//! Each row is `(from, block)`: `from` lists the layers whose outputs feed this one (`-1`: the
//! previous layer; otherwise an absolute layer index, counted from 0 like the reference's
//! `model.{i}` keys). The first argument of the convolutional blocks is the output width before
//! rounding to a multiple of 8 (the reference's `make_divisible`), the others are exact.
//! The ultralytics `yolov9{t,s,m,c,e}.yaml` models are the GELAN tables with ultralytics' head.

/// One block of a layer table (the reference's module name and arguments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    /// Identity on the input image (PGI models' layer 0, so that the auxiliary branch can read it).
    Silence,
    /// Conv-BN-SiLU, kernel `k`, stride `s`.
    Conv {
        /// Output channels.
        c2: usize,
        /// Kernel size.
        k: usize,
        /// Stride.
        s: usize,
    },
    /// Average-pool (2, stride 1) then a 3x3 stride-2 Conv.
    AConv {
        /// Output channels.
        c2: usize,
    },
    /// Average-pool, then half the channels through a 3x3 stride-2 Conv and half through a
    /// max-pool and a 1x1 Conv.
    ADown {
        /// Output channels.
        c2: usize,
    },
    /// ELAN-1 (GELAN with plain convolutions, the T/S stem block).
    Elan1 {
        /// Output channels.
        c2: usize,
        /// Width of the first 1x1 Conv (split in two).
        c3: usize,
        /// Width of each computational block.
        c4: usize,
    },
    /// RepNCSPELAN4: GELAN with RepNCSP computational blocks (paper Fig. 4c).
    RepElan {
        /// Output channels.
        c2: usize,
        /// Width of the first 1x1 Conv (split in two).
        c3: usize,
        /// Width of each computational block.
        c4: usize,
        /// Bottlenecks per RepNCSP.
        n: usize,
    },
    /// SPP-ELAN: a 1x1 Conv, three chained 5x5 max-pools, a 1x1 Conv over the four.
    Sppelan {
        /// Output channels.
        c2: usize,
        /// Hidden width.
        c3: usize,
    },
    /// Nearest upsampling by 2.
    Upsample,
    /// Channel concatenation of the `from` layers.
    Concat,
    /// CBLinear (PGI): a 1x1 conv with bias whose output is split into `c2s` channel groups.
    CbLinear {
        /// Widths of the groups.
        c2s: &'static [usize],
    },
    /// CBFuse (PGI): group `idx[i]` of the i-th CBLinear input, nearest-resized to the last
    /// input's size, summed with it.
    CbFuse {
        /// Which group of each CBLinear input.
        idx: &'static [usize],
    },
    /// The detection head over three levels (P3, P4, P5).
    Detect,
    /// The PGI dual head: auxiliary head over the first three inputs, main head over the last three.
    DualDetect,
}

/// A row of a layer table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layer {
    /// Input layers (`-1`: the previous one).
    pub from: &'static [i32],
    /// The block.
    pub spec: Spec,
}

const fn l(from: &'static [i32], spec: Spec) -> Layer {
    Layer { from, spec }
}

use Spec::*;

/// `gelan-t`.
pub const GELAN_T: &[Layer] = &[
    l(&[-1], Conv { c2: 16, k: 3, s: 2 }), // 0
    l(&[-1], Conv { c2: 32, k: 3, s: 2 }), // 1
    l(
        &[-1],
        Elan1 {
            c2: 32,
            c3: 32,
            c4: 16,
        },
    ), // 2
    l(&[-1], AConv { c2: 64 }),            // 3
    l(
        &[-1],
        RepElan {
            c2: 64,
            c3: 64,
            c4: 32,
            n: 3,
        },
    ), // 4
    l(&[-1], AConv { c2: 96 }),            // 5
    l(
        &[-1],
        RepElan {
            c2: 96,
            c3: 96,
            c4: 48,
            n: 3,
        },
    ), // 6
    l(&[-1], AConv { c2: 128 }),           // 7
    l(
        &[-1],
        RepElan {
            c2: 128,
            c3: 128,
            c4: 64,
            n: 3,
        },
    ), // 8
    l(&[-1], Sppelan { c2: 128, c3: 64 }), // 9
    l(&[-1], Upsample),                    // 10
    l(&[-1, 6], Concat),                   // 11
    l(
        &[-1],
        RepElan {
            c2: 96,
            c3: 96,
            c4: 48,
            n: 3,
        },
    ), // 12
    l(&[-1], Upsample),                    // 13
    l(&[-1, 4], Concat),                   // 14
    l(
        &[-1],
        RepElan {
            c2: 64,
            c3: 64,
            c4: 32,
            n: 3,
        },
    ), // 15
    l(&[-1], AConv { c2: 48 }),            // 16
    l(&[-1, 12], Concat),                  // 17
    l(
        &[-1],
        RepElan {
            c2: 96,
            c3: 96,
            c4: 48,
            n: 3,
        },
    ), // 18
    l(&[-1], AConv { c2: 64 }),            // 19
    l(&[-1, 9], Concat),                   // 20
    l(
        &[-1],
        RepElan {
            c2: 128,
            c3: 128,
            c4: 64,
            n: 3,
        },
    ), // 21
    l(&[15, 18, 21], Detect),              // 22
];

/// `gelan-s`.
pub const GELAN_S: &[Layer] = &[
    l(&[-1], Conv { c2: 32, k: 3, s: 2 }), // 0
    l(&[-1], Conv { c2: 64, k: 3, s: 2 }), // 1
    l(
        &[-1],
        Elan1 {
            c2: 64,
            c3: 64,
            c4: 32,
        },
    ), // 2
    l(&[-1], AConv { c2: 128 }),           // 3
    l(
        &[-1],
        RepElan {
            c2: 128,
            c3: 128,
            c4: 64,
            n: 3,
        },
    ), // 4
    l(&[-1], AConv { c2: 192 }),           // 5
    l(
        &[-1],
        RepElan {
            c2: 192,
            c3: 192,
            c4: 96,
            n: 3,
        },
    ), // 6
    l(&[-1], AConv { c2: 256 }),           // 7
    l(
        &[-1],
        RepElan {
            c2: 256,
            c3: 256,
            c4: 128,
            n: 3,
        },
    ), // 8
    l(&[-1], Sppelan { c2: 256, c3: 128 }), // 9
    l(&[-1], Upsample),                    // 10
    l(&[-1, 6], Concat),                   // 11
    l(
        &[-1],
        RepElan {
            c2: 192,
            c3: 192,
            c4: 96,
            n: 3,
        },
    ), // 12
    l(&[-1], Upsample),                    // 13
    l(&[-1, 4], Concat),                   // 14
    l(
        &[-1],
        RepElan {
            c2: 128,
            c3: 128,
            c4: 64,
            n: 3,
        },
    ), // 15
    l(&[-1], AConv { c2: 96 }),            // 16
    l(&[-1, 12], Concat),                  // 17
    l(
        &[-1],
        RepElan {
            c2: 192,
            c3: 192,
            c4: 96,
            n: 3,
        },
    ), // 18
    l(&[-1], AConv { c2: 128 }),           // 19
    l(&[-1, 9], Concat),                   // 20
    l(
        &[-1],
        RepElan {
            c2: 256,
            c3: 256,
            c4: 128,
            n: 3,
        },
    ), // 21
    l(&[15, 18, 21], Detect),              // 22
];

/// `gelan-m`.
pub const GELAN_M: &[Layer] = &[
    l(&[-1], Conv { c2: 32, k: 3, s: 2 }), // 0
    l(&[-1], Conv { c2: 64, k: 3, s: 2 }), // 1
    l(
        &[-1],
        RepElan {
            c2: 128,
            c3: 128,
            c4: 64,
            n: 1,
        },
    ), // 2
    l(&[-1], AConv { c2: 240 }),           // 3
    l(
        &[-1],
        RepElan {
            c2: 240,
            c3: 240,
            c4: 120,
            n: 1,
        },
    ), // 4
    l(&[-1], AConv { c2: 360 }),           // 5
    l(
        &[-1],
        RepElan {
            c2: 360,
            c3: 360,
            c4: 180,
            n: 1,
        },
    ), // 6
    l(&[-1], AConv { c2: 480 }),           // 7
    l(
        &[-1],
        RepElan {
            c2: 480,
            c3: 480,
            c4: 240,
            n: 1,
        },
    ), // 8
    l(&[-1], Sppelan { c2: 480, c3: 240 }), // 9
    l(&[-1], Upsample),                    // 10
    l(&[-1, 6], Concat),                   // 11
    l(
        &[-1],
        RepElan {
            c2: 360,
            c3: 360,
            c4: 180,
            n: 1,
        },
    ), // 12
    l(&[-1], Upsample),                    // 13
    l(&[-1, 4], Concat),                   // 14
    l(
        &[-1],
        RepElan {
            c2: 240,
            c3: 240,
            c4: 120,
            n: 1,
        },
    ), // 15
    l(&[-1], AConv { c2: 180 }),           // 16
    l(&[-1, 12], Concat),                  // 17
    l(
        &[-1],
        RepElan {
            c2: 360,
            c3: 360,
            c4: 180,
            n: 1,
        },
    ), // 18
    l(&[-1], AConv { c2: 240 }),           // 19
    l(&[-1, 9], Concat),                   // 20
    l(
        &[-1],
        RepElan {
            c2: 480,
            c3: 480,
            c4: 240,
            n: 1,
        },
    ), // 21
    l(&[15, 18, 21], Detect),              // 22
];

/// `gelan-c`.
pub const GELAN_C: &[Layer] = &[
    l(&[-1], Conv { c2: 64, k: 3, s: 2 }),  // 0
    l(&[-1], Conv { c2: 128, k: 3, s: 2 }), // 1
    l(
        &[-1],
        RepElan {
            c2: 256,
            c3: 128,
            c4: 64,
            n: 1,
        },
    ), // 2
    l(&[-1], ADown { c2: 256 }),            // 3
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 256,
            c4: 128,
            n: 1,
        },
    ), // 4
    l(&[-1], ADown { c2: 512 }),            // 5
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 512,
            c4: 256,
            n: 1,
        },
    ), // 6
    l(&[-1], ADown { c2: 512 }),            // 7
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 512,
            c4: 256,
            n: 1,
        },
    ), // 8
    l(&[-1], Sppelan { c2: 512, c3: 256 }), // 9
    l(&[-1], Upsample),                     // 10
    l(&[-1, 6], Concat),                    // 11
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 512,
            c4: 256,
            n: 1,
        },
    ), // 12
    l(&[-1], Upsample),                     // 13
    l(&[-1, 4], Concat),                    // 14
    l(
        &[-1],
        RepElan {
            c2: 256,
            c3: 256,
            c4: 128,
            n: 1,
        },
    ), // 15
    l(&[-1], ADown { c2: 256 }),            // 16
    l(&[-1, 12], Concat),                   // 17
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 512,
            c4: 256,
            n: 1,
        },
    ), // 18
    l(&[-1], ADown { c2: 512 }),            // 19
    l(&[-1, 9], Concat),                    // 20
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 512,
            c4: 256,
            n: 1,
        },
    ), // 21
    l(&[15, 18, 21], Detect),               // 22
];

/// `gelan-e`.
pub const GELAN_E: &[Layer] = &[
    l(&[-1], Silence),                      // 0
    l(&[-1], Conv { c2: 64, k: 3, s: 2 }),  // 1
    l(&[-1], Conv { c2: 128, k: 3, s: 2 }), // 2
    l(
        &[-1],
        RepElan {
            c2: 256,
            c3: 128,
            c4: 64,
            n: 2,
        },
    ), // 3
    l(&[-1], ADown { c2: 256 }),            // 4
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 256,
            c4: 128,
            n: 2,
        },
    ), // 5
    l(&[-1], ADown { c2: 512 }),            // 6
    l(
        &[-1],
        RepElan {
            c2: 1024,
            c3: 512,
            c4: 256,
            n: 2,
        },
    ), // 7
    l(&[-1], ADown { c2: 1024 }),           // 8
    l(
        &[-1],
        RepElan {
            c2: 1024,
            c3: 512,
            c4: 256,
            n: 2,
        },
    ), // 9
    l(&[1], CbLinear { c2s: &[64] }),       // 10
    l(&[3], CbLinear { c2s: &[64, 128] }),  // 11
    l(&[5], CbLinear { c2s: &[64, 128, 256] }), // 12
    l(
        &[7],
        CbLinear {
            c2s: &[64, 128, 256, 512],
        },
    ), // 13
    l(
        &[9],
        CbLinear {
            c2s: &[64, 128, 256, 512, 1024],
        },
    ), // 14
    l(&[0], Conv { c2: 64, k: 3, s: 2 }),   // 15
    l(
        &[10, 11, 12, 13, 14, -1],
        CbFuse {
            idx: &[0, 0, 0, 0, 0],
        },
    ), // 16
    l(&[-1], Conv { c2: 128, k: 3, s: 2 }), // 17
    l(&[11, 12, 13, 14, -1], CbFuse { idx: &[1, 1, 1, 1] }), // 18
    l(
        &[-1],
        RepElan {
            c2: 256,
            c3: 128,
            c4: 64,
            n: 2,
        },
    ), // 19
    l(&[-1], ADown { c2: 256 }),            // 20
    l(&[12, 13, 14, -1], CbFuse { idx: &[2, 2, 2] }), // 21
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 256,
            c4: 128,
            n: 2,
        },
    ), // 22
    l(&[-1], ADown { c2: 512 }),            // 23
    l(&[13, 14, -1], CbFuse { idx: &[3, 3] }), // 24
    l(
        &[-1],
        RepElan {
            c2: 1024,
            c3: 512,
            c4: 256,
            n: 2,
        },
    ), // 25
    l(&[-1], ADown { c2: 1024 }),           // 26
    l(&[14, -1], CbFuse { idx: &[4] }),     // 27
    l(
        &[-1],
        RepElan {
            c2: 1024,
            c3: 512,
            c4: 256,
            n: 2,
        },
    ), // 28
    l(&[28], Sppelan { c2: 512, c3: 256 }), // 29
    l(&[-1], Upsample),                     // 30
    l(&[-1, 25], Concat),                   // 31
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 512,
            c4: 256,
            n: 2,
        },
    ), // 32
    l(&[-1], Upsample),                     // 33
    l(&[-1, 22], Concat),                   // 34
    l(
        &[-1],
        RepElan {
            c2: 256,
            c3: 256,
            c4: 128,
            n: 2,
        },
    ), // 35
    l(&[-1], ADown { c2: 256 }),            // 36
    l(&[-1, 32], Concat),                   // 37
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 512,
            c4: 256,
            n: 2,
        },
    ), // 38
    l(&[-1], ADown { c2: 512 }),            // 39
    l(&[-1, 29], Concat),                   // 40
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 1024,
            c4: 512,
            n: 2,
        },
    ), // 41
    l(&[35, 38, 41], Detect),               // 42
];

/// `yolov9-t`.
pub const YOLOV9_T: &[Layer] = &[
    l(&[-1], Conv { c2: 16, k: 3, s: 2 }), // 0
    l(&[-1], Conv { c2: 32, k: 3, s: 2 }), // 1
    l(
        &[-1],
        Elan1 {
            c2: 32,
            c3: 32,
            c4: 16,
        },
    ), // 2
    l(&[-1], AConv { c2: 64 }),            // 3
    l(
        &[-1],
        RepElan {
            c2: 64,
            c3: 64,
            c4: 32,
            n: 3,
        },
    ), // 4
    l(&[-1], AConv { c2: 96 }),            // 5
    l(
        &[-1],
        RepElan {
            c2: 96,
            c3: 96,
            c4: 48,
            n: 3,
        },
    ), // 6
    l(&[-1], AConv { c2: 128 }),           // 7
    l(
        &[-1],
        RepElan {
            c2: 128,
            c3: 128,
            c4: 64,
            n: 3,
        },
    ), // 8
    l(&[-1], Sppelan { c2: 128, c3: 64 }), // 9
    l(&[-1], Upsample),                    // 10
    l(&[-1, 6], Concat),                   // 11
    l(
        &[-1],
        RepElan {
            c2: 96,
            c3: 96,
            c4: 48,
            n: 3,
        },
    ), // 12
    l(&[-1], Upsample),                    // 13
    l(&[-1, 4], Concat),                   // 14
    l(
        &[-1],
        RepElan {
            c2: 64,
            c3: 64,
            c4: 32,
            n: 3,
        },
    ), // 15
    l(&[-1], AConv { c2: 48 }),            // 16
    l(&[-1, 12], Concat),                  // 17
    l(
        &[-1],
        RepElan {
            c2: 96,
            c3: 96,
            c4: 48,
            n: 3,
        },
    ), // 18
    l(&[-1], AConv { c2: 64 }),            // 19
    l(&[-1, 9], Concat),                   // 20
    l(
        &[-1],
        RepElan {
            c2: 128,
            c3: 128,
            c4: 64,
            n: 3,
        },
    ), // 21
    l(&[8], Sppelan { c2: 128, c3: 64 }),  // 22
    l(&[-1], Upsample),                    // 23
    l(&[-1, 6], Concat),                   // 24
    l(
        &[-1],
        RepElan {
            c2: 96,
            c3: 96,
            c4: 48,
            n: 3,
        },
    ), // 25
    l(&[-1], Upsample),                    // 26
    l(&[-1, 4], Concat),                   // 27
    l(
        &[-1],
        RepElan {
            c2: 64,
            c3: 64,
            c4: 32,
            n: 3,
        },
    ), // 28
    l(&[28, 25, 22, 15, 18, 21], DualDetect), // 29
];

/// `yolov9-s`.
pub const YOLOV9_S: &[Layer] = &[
    l(&[-1], Conv { c2: 32, k: 3, s: 2 }), // 0
    l(&[-1], Conv { c2: 64, k: 3, s: 2 }), // 1
    l(
        &[-1],
        Elan1 {
            c2: 64,
            c3: 64,
            c4: 32,
        },
    ), // 2
    l(&[-1], AConv { c2: 128 }),           // 3
    l(
        &[-1],
        RepElan {
            c2: 128,
            c3: 128,
            c4: 64,
            n: 3,
        },
    ), // 4
    l(&[-1], AConv { c2: 192 }),           // 5
    l(
        &[-1],
        RepElan {
            c2: 192,
            c3: 192,
            c4: 96,
            n: 3,
        },
    ), // 6
    l(&[-1], AConv { c2: 256 }),           // 7
    l(
        &[-1],
        RepElan {
            c2: 256,
            c3: 256,
            c4: 128,
            n: 3,
        },
    ), // 8
    l(&[-1], Sppelan { c2: 256, c3: 128 }), // 9
    l(&[-1], Upsample),                    // 10
    l(&[-1, 6], Concat),                   // 11
    l(
        &[-1],
        RepElan {
            c2: 192,
            c3: 192,
            c4: 96,
            n: 3,
        },
    ), // 12
    l(&[-1], Upsample),                    // 13
    l(&[-1, 4], Concat),                   // 14
    l(
        &[-1],
        RepElan {
            c2: 128,
            c3: 128,
            c4: 64,
            n: 3,
        },
    ), // 15
    l(&[-1], AConv { c2: 96 }),            // 16
    l(&[-1, 12], Concat),                  // 17
    l(
        &[-1],
        RepElan {
            c2: 192,
            c3: 192,
            c4: 96,
            n: 3,
        },
    ), // 18
    l(&[-1], AConv { c2: 128 }),           // 19
    l(&[-1, 9], Concat),                   // 20
    l(
        &[-1],
        RepElan {
            c2: 256,
            c3: 256,
            c4: 128,
            n: 3,
        },
    ), // 21
    l(&[8], Sppelan { c2: 256, c3: 128 }), // 22
    l(&[-1], Upsample),                    // 23
    l(&[-1, 6], Concat),                   // 24
    l(
        &[-1],
        RepElan {
            c2: 192,
            c3: 192,
            c4: 96,
            n: 3,
        },
    ), // 25
    l(&[-1], Upsample),                    // 26
    l(&[-1, 4], Concat),                   // 27
    l(
        &[-1],
        RepElan {
            c2: 128,
            c3: 128,
            c4: 64,
            n: 3,
        },
    ), // 28
    l(&[28, 25, 22, 15, 18, 21], DualDetect), // 29
];

/// `yolov9-m`.
pub const YOLOV9_M: &[Layer] = &[
    l(&[-1], Silence),                     // 0
    l(&[-1], Conv { c2: 32, k: 3, s: 2 }), // 1
    l(&[-1], Conv { c2: 64, k: 3, s: 2 }), // 2
    l(
        &[-1],
        RepElan {
            c2: 128,
            c3: 128,
            c4: 64,
            n: 1,
        },
    ), // 3
    l(&[-1], AConv { c2: 240 }),           // 4
    l(
        &[-1],
        RepElan {
            c2: 240,
            c3: 240,
            c4: 120,
            n: 1,
        },
    ), // 5
    l(&[-1], AConv { c2: 360 }),           // 6
    l(
        &[-1],
        RepElan {
            c2: 360,
            c3: 360,
            c4: 180,
            n: 1,
        },
    ), // 7
    l(&[-1], AConv { c2: 480 }),           // 8
    l(
        &[-1],
        RepElan {
            c2: 480,
            c3: 480,
            c4: 240,
            n: 1,
        },
    ), // 9
    l(&[-1], Sppelan { c2: 480, c3: 240 }), // 10
    l(&[-1], Upsample),                    // 11
    l(&[-1, 7], Concat),                   // 12
    l(
        &[-1],
        RepElan {
            c2: 360,
            c3: 360,
            c4: 180,
            n: 1,
        },
    ), // 13
    l(&[-1], Upsample),                    // 14
    l(&[-1, 5], Concat),                   // 15
    l(
        &[-1],
        RepElan {
            c2: 240,
            c3: 240,
            c4: 120,
            n: 1,
        },
    ), // 16
    l(&[-1], AConv { c2: 180 }),           // 17
    l(&[-1, 13], Concat),                  // 18
    l(
        &[-1],
        RepElan {
            c2: 360,
            c3: 360,
            c4: 180,
            n: 1,
        },
    ), // 19
    l(&[-1], AConv { c2: 240 }),           // 20
    l(&[-1, 10], Concat),                  // 21
    l(
        &[-1],
        RepElan {
            c2: 480,
            c3: 480,
            c4: 240,
            n: 1,
        },
    ), // 22
    l(&[5], CbLinear { c2s: &[240] }),     // 23
    l(&[7], CbLinear { c2s: &[240, 360] }), // 24
    l(
        &[9],
        CbLinear {
            c2s: &[240, 360, 480],
        },
    ), // 25
    l(&[0], Conv { c2: 32, k: 3, s: 2 }),  // 26
    l(&[-1], Conv { c2: 64, k: 3, s: 2 }), // 27
    l(
        &[-1],
        RepElan {
            c2: 128,
            c3: 128,
            c4: 64,
            n: 1,
        },
    ), // 28
    l(&[-1], AConv { c2: 240 }),           // 29
    l(&[23, 24, 25, -1], CbFuse { idx: &[0, 0, 0] }), // 30
    l(
        &[-1],
        RepElan {
            c2: 240,
            c3: 240,
            c4: 120,
            n: 1,
        },
    ), // 31
    l(&[-1], AConv { c2: 360 }),           // 32
    l(&[24, 25, -1], CbFuse { idx: &[1, 1] }), // 33
    l(
        &[-1],
        RepElan {
            c2: 360,
            c3: 360,
            c4: 180,
            n: 1,
        },
    ), // 34
    l(&[-1], AConv { c2: 480 }),           // 35
    l(&[25, -1], CbFuse { idx: &[2] }),    // 36
    l(
        &[-1],
        RepElan {
            c2: 480,
            c3: 480,
            c4: 240,
            n: 1,
        },
    ), // 37
    l(&[31, 34, 37, 16, 19, 22], DualDetect), // 38
];

/// `yolov9-c`.
pub const YOLOV9_C: &[Layer] = &[
    l(&[-1], Silence),                      // 0
    l(&[-1], Conv { c2: 64, k: 3, s: 2 }),  // 1
    l(&[-1], Conv { c2: 128, k: 3, s: 2 }), // 2
    l(
        &[-1],
        RepElan {
            c2: 256,
            c3: 128,
            c4: 64,
            n: 1,
        },
    ), // 3
    l(&[-1], ADown { c2: 256 }),            // 4
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 256,
            c4: 128,
            n: 1,
        },
    ), // 5
    l(&[-1], ADown { c2: 512 }),            // 6
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 512,
            c4: 256,
            n: 1,
        },
    ), // 7
    l(&[-1], ADown { c2: 512 }),            // 8
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 512,
            c4: 256,
            n: 1,
        },
    ), // 9
    l(&[-1], Sppelan { c2: 512, c3: 256 }), // 10
    l(&[-1], Upsample),                     // 11
    l(&[-1, 7], Concat),                    // 12
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 512,
            c4: 256,
            n: 1,
        },
    ), // 13
    l(&[-1], Upsample),                     // 14
    l(&[-1, 5], Concat),                    // 15
    l(
        &[-1],
        RepElan {
            c2: 256,
            c3: 256,
            c4: 128,
            n: 1,
        },
    ), // 16
    l(&[-1], ADown { c2: 256 }),            // 17
    l(&[-1, 13], Concat),                   // 18
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 512,
            c4: 256,
            n: 1,
        },
    ), // 19
    l(&[-1], ADown { c2: 512 }),            // 20
    l(&[-1, 10], Concat),                   // 21
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 512,
            c4: 256,
            n: 1,
        },
    ), // 22
    l(&[5], CbLinear { c2s: &[256] }),      // 23
    l(&[7], CbLinear { c2s: &[256, 512] }), // 24
    l(
        &[9],
        CbLinear {
            c2s: &[256, 512, 512],
        },
    ), // 25
    l(&[0], Conv { c2: 64, k: 3, s: 2 }),   // 26
    l(&[-1], Conv { c2: 128, k: 3, s: 2 }), // 27
    l(
        &[-1],
        RepElan {
            c2: 256,
            c3: 128,
            c4: 64,
            n: 1,
        },
    ), // 28
    l(&[-1], ADown { c2: 256 }),            // 29
    l(&[23, 24, 25, -1], CbFuse { idx: &[0, 0, 0] }), // 30
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 256,
            c4: 128,
            n: 1,
        },
    ), // 31
    l(&[-1], ADown { c2: 512 }),            // 32
    l(&[24, 25, -1], CbFuse { idx: &[1, 1] }), // 33
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 512,
            c4: 256,
            n: 1,
        },
    ), // 34
    l(&[-1], ADown { c2: 512 }),            // 35
    l(&[25, -1], CbFuse { idx: &[2] }),     // 36
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 512,
            c4: 256,
            n: 1,
        },
    ), // 37
    l(&[31, 34, 37, 16, 19, 22], DualDetect), // 38
];

/// `yolov9-e`.
pub const YOLOV9_E: &[Layer] = &[
    l(&[-1], Silence),                      // 0
    l(&[-1], Conv { c2: 64, k: 3, s: 2 }),  // 1
    l(&[-1], Conv { c2: 128, k: 3, s: 2 }), // 2
    l(
        &[-1],
        RepElan {
            c2: 256,
            c3: 128,
            c4: 64,
            n: 2,
        },
    ), // 3
    l(&[-1], ADown { c2: 256 }),            // 4
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 256,
            c4: 128,
            n: 2,
        },
    ), // 5
    l(&[-1], ADown { c2: 512 }),            // 6
    l(
        &[-1],
        RepElan {
            c2: 1024,
            c3: 512,
            c4: 256,
            n: 2,
        },
    ), // 7
    l(&[-1], ADown { c2: 1024 }),           // 8
    l(
        &[-1],
        RepElan {
            c2: 1024,
            c3: 512,
            c4: 256,
            n: 2,
        },
    ), // 9
    l(&[1], CbLinear { c2s: &[64] }),       // 10
    l(&[3], CbLinear { c2s: &[64, 128] }),  // 11
    l(&[5], CbLinear { c2s: &[64, 128, 256] }), // 12
    l(
        &[7],
        CbLinear {
            c2s: &[64, 128, 256, 512],
        },
    ), // 13
    l(
        &[9],
        CbLinear {
            c2s: &[64, 128, 256, 512, 1024],
        },
    ), // 14
    l(&[0], Conv { c2: 64, k: 3, s: 2 }),   // 15
    l(
        &[10, 11, 12, 13, 14, -1],
        CbFuse {
            idx: &[0, 0, 0, 0, 0],
        },
    ), // 16
    l(&[-1], Conv { c2: 128, k: 3, s: 2 }), // 17
    l(&[11, 12, 13, 14, -1], CbFuse { idx: &[1, 1, 1, 1] }), // 18
    l(
        &[-1],
        RepElan {
            c2: 256,
            c3: 128,
            c4: 64,
            n: 2,
        },
    ), // 19
    l(&[-1], ADown { c2: 256 }),            // 20
    l(&[12, 13, 14, -1], CbFuse { idx: &[2, 2, 2] }), // 21
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 256,
            c4: 128,
            n: 2,
        },
    ), // 22
    l(&[-1], ADown { c2: 512 }),            // 23
    l(&[13, 14, -1], CbFuse { idx: &[3, 3] }), // 24
    l(
        &[-1],
        RepElan {
            c2: 1024,
            c3: 512,
            c4: 256,
            n: 2,
        },
    ), // 25
    l(&[-1], ADown { c2: 1024 }),           // 26
    l(&[14, -1], CbFuse { idx: &[4] }),     // 27
    l(
        &[-1],
        RepElan {
            c2: 1024,
            c3: 512,
            c4: 256,
            n: 2,
        },
    ), // 28
    l(&[9], Sppelan { c2: 512, c3: 256 }),  // 29
    l(&[-1], Upsample),                     // 30
    l(&[-1, 7], Concat),                    // 31
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 512,
            c4: 256,
            n: 2,
        },
    ), // 32
    l(&[-1], Upsample),                     // 33
    l(&[-1, 5], Concat),                    // 34
    l(
        &[-1],
        RepElan {
            c2: 256,
            c3: 256,
            c4: 128,
            n: 2,
        },
    ), // 35
    l(&[28], Sppelan { c2: 512, c3: 256 }), // 36
    l(&[-1], Upsample),                     // 37
    l(&[-1, 25], Concat),                   // 38
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 512,
            c4: 256,
            n: 2,
        },
    ), // 39
    l(&[-1], Upsample),                     // 40
    l(&[-1, 22], Concat),                   // 41
    l(
        &[-1],
        RepElan {
            c2: 256,
            c3: 256,
            c4: 128,
            n: 2,
        },
    ), // 42
    l(&[-1], ADown { c2: 256 }),            // 43
    l(&[-1, 39], Concat),                   // 44
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 512,
            c4: 256,
            n: 2,
        },
    ), // 45
    l(&[-1], ADown { c2: 512 }),            // 46
    l(&[-1, 36], Concat),                   // 47
    l(
        &[-1],
        RepElan {
            c2: 512,
            c3: 1024,
            c4: 512,
            n: 2,
        },
    ), // 48
    l(&[35, 32, 29, 42, 45, 48], DualDetect), // 49
];
