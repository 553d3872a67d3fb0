//! Support for the parsers' robustness tests: corrupted copies of real files, reproducible from
//! a seed (mutation fuzzing inside `cargo test`; no input may make a parser panic).

/// Mutation fuzzing for parsers' tests: runs `f` on `n` corrupted copies of `input` (random byte
/// flips, truncations, inserted and deleted runs, duplicated spans), reproducible from `seed`.
/// A panic inside `f` is re-raised naming the seed and the mutation number, so that a failure
/// can be replayed.
pub fn mutations(input: &[u8], n: usize, seed: u64, mut f: impl FnMut(&[u8])) {
    use rand::RngExt;
    let mut rng = crate::rng::rng_for(seed, &[]);
    let mut next = move || rng.random::<u64>();
    for i in 0..n {
        let mut b = input.to_vec();
        for _ in 0..1 + next() % 4 {
            let len = b.len().max(1);
            let at = (next() as usize) % len;
            match next() % 6 {
                0 => {
                    if let Some(x) = b.get_mut(at) {
                        *x ^= 1 << (next() % 8);
                    }
                }
                1 => {
                    if let Some(x) = b.get_mut(at) {
                        *x = next() as u8;
                    }
                }
                2 => b.truncate(at),
                3 => {
                    let run: Vec<u8> = (0..1 + next() % 10).map(|_| next() as u8).collect();
                    b.splice(at.min(b.len())..at.min(b.len()), run);
                }
                4 => {
                    let end = (at + 1 + (next() as usize) % 64).min(b.len());
                    b.drain(at.min(end)..end);
                }
                _ => {
                    let end = (at + 1 + (next() as usize) % 256).min(b.len());
                    let span = b[at.min(end)..end].to_vec();
                    b.splice(at.min(b.len())..at.min(b.len()), span);
                }
            }
        }
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&b)));
        if let Err(e) = run {
            let what = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("mutation {i} of seed {seed} ({} bytes) panicked: {what}", b.len());
        }
    }
}
