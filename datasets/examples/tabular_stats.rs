//! Prints what the Adult preset makes of UCI Adult files: rows, feature width, P(y=1), P(a=1) and
//! the label's demographic-parity gap, to check a download against the published base rates
//! (adult.data: 32,561 rows, P(y=1) 0.2408, P(male) 0.669, label DP 0.196).
//!
//! ```text
//! cargo run --release -p zoo-datasets --example tabular_stats -- adult.data [adult.test]
//! ```

use std::path::PathBuf;
use zoo_datasets::tabular::{Encoder, Table, adult_csv, adult_spec};

fn main() {
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let Some(train) = args.first() else {
        eprintln!("usage: tabular_stats adult.data [adult.test]");
        std::process::exit(1);
    };
    let run = || -> zoo_datasets::Result<()> {
        let table = Table::read(train, &adult_csv(false))?;
        let enc = Encoder::fit(&table, &adult_spec())?;
        let mut files = vec![(train.clone(), table)];
        if let Some(test) = args.get(1) {
            files.push((test.clone(), Table::read(test, &adult_csv(true))?));
        }
        for (path, t) in &files {
            let items = enc.encode(t)?;
            let n = items.len() as f64;
            let rate = |g: u8| {
                let (pos, all) = items
                    .iter()
                    .filter(|i| i.group == g)
                    .fold((0.0, 0.0), |(p, a), i| (p + i.label as f64, a + 1.0));
                pos / all
            };
            println!(
                "{}: {} rows, {} features, P(y=1) {:.4}, P(a=1) {:.4}, label DP {:.4}",
                path.display(),
                items.len(),
                enc.dim(),
                items.iter().map(|i| i.label as f64).sum::<f64>() / n,
                items.iter().map(|i| f64::from(i.group)).sum::<f64>() / n,
                (rate(1) - rate(0)).abs()
            );
        }
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
