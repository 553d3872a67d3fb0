//! Writes generated detection shapes (the default data of `train-yolov9`: discs, squares,
//! triangles and rings) in the YOLO layout (`images/<split>/*.png`, `labels/<split>/*.txt`),
//! so that they can be inspected, evaluated, or trained on by other tools (ultralytics, the
//! YOLOv9 authors' scripts) with a data YAML naming the four classes.
//!
//! ```text
//! cargo run --release -p zoo-datasets --example write_detection_shapes -- DIR SPLIT IMAGES [SIZE SEED]
//! ```

use std::path::PathBuf;
use zoo_datasets::detection::{ShapesDetection, write_yolo_split};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || -> ! {
        eprintln!("usage: write_detection_shapes DIR SPLIT IMAGES [SIZE SEED] (SIZE default 256, SEED 0)");
        std::process::exit(1);
    };
    if !(3..=5).contains(&args.len()) {
        usage();
    }
    let number = |i: usize, default: u64| -> u64 {
        args.get(i)
            .map_or(Some(default), |s| s.parse().ok())
            .unwrap_or_else(|| usage())
    };
    let (dir, split) = (PathBuf::from(&args[0]), args[1].as_str());
    let shapes = ShapesDetection {
        images: number(2, 0) as usize,
        size: number(3, 256) as u32,
        seed: number(4, 0),
        ..ShapesDetection::default()
    };
    if let Err(e) = shapes.generate(1).and_then(|s| write_yolo_split(&dir, split, &s)) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    println!(
        "wrote {} {}x{} images with labels to {}/images/{split} and {}/labels/{split} (classes: disc, square, triangle, ring)",
        shapes.images,
        shapes.size,
        shapes.size,
        dir.display(),
        dir.display()
    );
}
