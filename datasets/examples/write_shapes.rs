//! Writes the generated Shapes-10 set as an ImageFolder (`train/<class>/*.png`, `test/...`), so
//! it can be inspected or used with any tool that reads that layout.
//!
//! ```text
//! cargo run --release -p zoo-datasets --example write_shapes -- DIR [TRAIN TEST]
//! ```

use std::path::PathBuf;
use zoo_datasets::image::Shapes;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: write_shapes DIR [TRAIN TEST]");
        std::process::exit(1);
    };
    let mut shapes = Shapes::default();
    if let (Some(a), Some(b)) = (args.next(), args.next()) {
        match (a.parse(), b.parse()) {
            (Ok(train), Ok(test)) => {
                shapes.train = train;
                shapes.test = test;
            }
            _ => {
                eprintln!("error: TRAIN and TEST must be counts");
                std::process::exit(1);
            }
        }
    }
    if let Err(e) = shapes.validate().and_then(|()| shapes.write_image_folder(&dir)) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    println!(
        "wrote {} training and {} test images to {}",
        shapes.train,
        shapes.test,
        dir.display()
    );
}
