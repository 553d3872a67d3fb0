//! Helpers shared by the integration tests of zoo-train.

#[cfg(unix)]
pub mod kill;
pub mod run;
