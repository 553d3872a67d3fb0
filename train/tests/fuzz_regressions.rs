//! Replays the cargo-fuzz targets' seeds and every input that once failed a campaign
//! (`fuzz/seeds/<target>/`, `fuzz/regressions/<target>/`) through the same harness `cargo fuzz`
//! runs (issue 12): each must pass the harness's checks (an error naming the file, or a result
//! that holds up), so a fixed crash stays fixed without nightly or libFuzzer.

#[path = "../../fuzz/src/harness.rs"]
mod harness;

use std::path::Path;

fn inputs(kind: &str, target: &str) -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(kind)
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// Every seed is a valid input the target's parser accepts (so a campaign starts from the paths
/// real files take), and every past failure now passes.
#[test]
fn fuzz_seeds_and_regressions_pass_the_harness() {
    for &(target, run) in harness::TARGETS {
        let seeds = inputs("seeds", target);
        assert!(!seeds.is_empty(), "fuzz target {target} has no seeds");
        for file in seeds.iter().chain(&inputs("regressions", target)) {
            let bytes = std::fs::read(file).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&bytes));
            let Ok(accepted) = outcome else {
                panic!("{target}: {} fails the harness", file.display());
            };
            assert!(
                accepted || !seeds.contains(file),
                "{target}: seed {} is not accepted",
                file.display()
            );
        }
    }
}
