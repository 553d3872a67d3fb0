//! The checkpoint format shared by every trainer.
//!
//! A checkpoint is a directory `ckpt-<step>` under a checkpoint root holding named binary parts
//! (`model.bpk`, `optim.bpk`, ...) and `state.json`, which is written last and lists every part
//! with its length. The directory is assembled under a temporary name and published with one
//! `rename`; then the file `LATEST` is replaced atomically. A crash at any point leaves either the
//! previous checkpoint or the new one complete and discoverable, never a partial one:
//! [`CheckpointStore::complete`] ignores temporary directories and any directory whose parts do
//! not match its manifest.

use crate::atomic::{is_temp_name, sync_dir, temp_sibling, write_atomic};
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const STATE_FILE: &str = "state.json";
const LATEST_FILE: &str = "LATEST";
const PREFIX: &str = "ckpt-";

/// A checkpoint could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// I/O failure on a path.
    #[error("{}: {source}", path.display())]
    Io {
        /// Where.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A checkpoint directory exists but is not usable.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// Where.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// No complete checkpoint exists.
    #[error("{}: no complete checkpoint found (looked for ckpt-* directories with a valid state.json)", path.display())]
    Missing {
        /// The checkpoint root.
        path: PathBuf,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The manifest written as `state.json`: the trainer's state plus the list of parts.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    step: u64,
    parts: Vec<PartEntry>,
    state: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PartEntry {
    name: String,
    bytes: u64,
}

/// A complete checkpoint on disk.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Its directory.
    pub dir: PathBuf,
    /// The optimizer step it was taken after.
    pub step: u64,
    /// The trainer state saved with it.
    pub state: serde_json::Value,
    parts: Vec<PartEntry>,
}

impl Checkpoint {
    /// Names of the binary parts.
    pub fn part_names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().map(|p| p.name.as_str())
    }

    /// Path of part `name`, if the checkpoint has it.
    pub fn part_path(&self, name: &str) -> Option<PathBuf> {
        self.parts
            .iter()
            .any(|p| p.name == name)
            .then(|| self.dir.join(name))
    }

    /// Content of part `name`.
    pub fn read_part(&self, name: &str) -> Result<Vec<u8>, CheckpointError> {
        let path = self.part_path(name).ok_or_else(|| CheckpointError::Invalid {
            path: self.dir.clone(),
            message: format!("checkpoint has no part `{name}`"),
        })?;
        fs::read(&path).map_err(io_err(&path))
    }
}

/// A directory of checkpoints.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    root: PathBuf,
}

impl CheckpointStore {
    /// The store rooted at `root` (created on first save).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes a checkpoint for optimizer step `step` with binary `parts` and JSON `state`,
    /// publishes it atomically, then deletes all but the newest `keep_last` complete checkpoints
    /// (at least one is always kept) and any leftovers of interrupted writes.
    pub fn save(
        &self,
        step: u64,
        parts: &[(&str, &[u8])],
        state: &serde_json::Value,
        keep_last: usize,
    ) -> Result<PathBuf, CheckpointError> {
        fs::create_dir_all(&self.root).map_err(io_err(&self.root))?;
        let final_dir = self.root.join(format!("{PREFIX}{step:010}"));
        let tmp = temp_sibling(&final_dir);
        let result = self.write_parts(&tmp, step, parts, state).and_then(|()| {
            if final_dir.exists() {
                // Same step saved again (e.g. a resumed run re-saving): move the old copy aside so
                // the rename below can take its place.
                let trash = temp_sibling(&final_dir);
                fs::rename(&final_dir, &trash).map_err(io_err(&final_dir))?;
                let _ = fs::remove_dir_all(&trash);
            }
            fs::rename(&tmp, &final_dir).map_err(io_err(&final_dir))?;
            sync_dir(&self.root).map_err(io_err(&self.root))
        });
        if let Err(e) = result {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        let latest = self.root.join(LATEST_FILE);
        write_atomic(&latest, format!("{PREFIX}{step:010}\n").as_bytes()).map_err(io_err(&latest))?;
        self.prune(keep_last.max(1))?;
        Ok(final_dir)
    }

    fn write_parts(
        &self,
        dir: &Path,
        step: u64,
        parts: &[(&str, &[u8])],
        state: &serde_json::Value,
    ) -> Result<(), CheckpointError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut entries = Vec::with_capacity(parts.len());
        for (name, bytes) in parts {
            if name.contains('/') || name.contains('\\') || *name == STATE_FILE || name.is_empty() {
                return Err(CheckpointError::Invalid {
                    path: dir.to_path_buf(),
                    message: format!("invalid part name `{name}`"),
                });
            }
            let path = dir.join(name);
            write_synced(&path, bytes).map_err(io_err(&path))?;
            entries.push(PartEntry {
                name: name.to_string(),
                bytes: bytes.len() as u64,
            });
        }
        let manifest = Manifest {
            step,
            parts: entries,
            state: state.clone(),
        };
        let json = serde_json::to_vec_pretty(&manifest).map_err(|e| CheckpointError::Invalid {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
        let path = dir.join(STATE_FILE);
        write_synced(&path, &json).map_err(io_err(&path))?;
        sync_dir(dir).map_err(io_err(dir))
    }

    /// Reads and checks the checkpoint in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Checkpoint, CheckpointError> {
        let dir = dir.as_ref();
        let state_path = dir.join(STATE_FILE);
        let text = fs::read(&state_path).map_err(io_err(&state_path))?;
        let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| CheckpointError::Invalid {
            path: state_path.clone(),
            message: format!("unreadable manifest: {e}"),
        })?;
        for part in &manifest.parts {
            let path = dir.join(&part.name);
            let len = fs::metadata(&path).map_err(io_err(&path))?.len();
            if len != part.bytes {
                return Err(CheckpointError::Invalid {
                    path,
                    message: format!(
                        "{len} bytes on disk, {} recorded: truncated or overwritten",
                        part.bytes
                    ),
                });
            }
        }
        Ok(Checkpoint {
            dir: dir.to_path_buf(),
            step: manifest.step,
            state: manifest.state,
            parts: manifest.parts,
        })
    }

    /// Whether no checkpoint was ever completed here (a checkpoint directory gets its name only
    /// once written; temporary ones of an interrupted first write do not count). Damaged
    /// checkpoints do count: a run that had them must not silently start over.
    pub fn never_written(&self) -> bool {
        fs::read_dir(&self.root).map_or(true, |entries| {
            !entries
                .filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().starts_with(PREFIX))
        })
    }

    /// Every complete checkpoint, oldest first. Incomplete or damaged ones are skipped.
    pub fn complete(&self) -> Vec<Checkpoint> {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut found: Vec<Checkpoint> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(PREFIX))
            .filter_map(|e| Self::open(e.path()).ok())
            .collect();
        found.sort_by_key(|c| c.step);
        found
    }

    /// The newest complete checkpoint: the one `LATEST` names if it is complete, else the newest
    /// complete one found by scanning.
    pub fn latest(&self) -> Result<Checkpoint, CheckpointError> {
        if let Ok(name) = fs::read_to_string(self.root.join(LATEST_FILE)) {
            let name = name.trim();
            if name.starts_with(PREFIX)
                && !name.contains('/')
                && let Ok(c) = Self::open(self.root.join(name))
            {
                return Ok(c);
            }
        }
        self.complete().pop().ok_or_else(|| CheckpointError::Missing {
            path: self.root.clone(),
        })
    }

    fn prune(&self, keep_last: usize) -> Result<(), CheckpointError> {
        let complete = self.complete();
        let keep: Vec<&Path> = complete
            .iter()
            .rev()
            .take(keep_last)
            .map(|c| c.dir.as_path())
            .collect();
        let entries = fs::read_dir(&self.root).map_err(io_err(&self.root))?;
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let stale_temp = is_temp_name(&name) && !is_own_temp(&name);
            let old = name.starts_with(PREFIX) && !keep.contains(&path.as_path());
            if stale_temp || old {
                let _ = if path.is_dir() {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
            }
        }
        Ok(())
    }
}

/// Temporary names of this process may belong to a write in progress on another thread.
fn is_own_temp(name: &str) -> bool {
    name.contains(&format!("-{}-", std::process::id()))
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store() -> (tempfile::TempDir, CheckpointStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path().join("checkpoints"));
        (dir, store)
    }

    #[test]
    fn save_open_latest_and_keep_last() {
        let (_d, store) = store();
        for step in [10u64, 20, 30] {
            store
                .save(
                    step,
                    &[("model.bpk", &[step as u8; 5])],
                    &json!({"epoch": step / 10}),
                    2,
                )
                .unwrap();
        }
        let latest = store.latest().unwrap();
        assert_eq!(latest.step, 30);
        assert_eq!(latest.state["epoch"], 3);
        assert_eq!(latest.read_part("model.bpk").unwrap(), vec![30u8; 5]);
        let steps: Vec<u64> = store.complete().iter().map(|c| c.step).collect();
        assert_eq!(steps, vec![20, 30]);
    }

    #[test]
    fn torn_writes_leave_the_previous_checkpoint_loadable() {
        let (_d, store) = store();
        store.save(1, &[("model.bpk", b"first")], &json!({}), 3).unwrap();
        // A crash while assembling the next checkpoint leaves a temporary directory behind.
        let torn = store.root().join(".tmp-ckpt-0000000002-99999-0");
        fs::create_dir_all(&torn).unwrap();
        fs::write(torn.join("model.bpk"), b"sec").unwrap();
        // A crash after publishing but with a damaged part (truncated file).
        store.save(3, &[("model.bpk", b"third!")], &json!({}), 3).unwrap();
        fs::write(store.root().join("ckpt-0000000003/model.bpk"), b"thi").unwrap();
        // A directory without a manifest and a LATEST that points at it.
        fs::create_dir_all(store.root().join("ckpt-0000000004")).unwrap();
        fs::write(store.root().join("LATEST"), "ckpt-0000000004\n").unwrap();
        let latest = store.latest().unwrap();
        assert_eq!(latest.step, 1);
        assert_eq!(latest.read_part("model.bpk").unwrap(), b"first");
        // The next save cleans the leftovers of the interrupted write.
        store.save(5, &[("model.bpk", b"fifth")], &json!({}), 3).unwrap();
        assert!(!torn.exists());
        assert_eq!(store.latest().unwrap().step, 5);
    }

    #[test]
    fn empty_store_says_what_is_missing() {
        let (_d, store) = store();
        let err = store.latest().unwrap_err().to_string();
        assert!(err.contains("no complete checkpoint"), "{err}");
    }

    #[test]
    fn resaving_a_step_replaces_it() {
        let (_d, store) = store();
        store.save(7, &[("a", b"old")], &json!({}), 2).unwrap();
        store.save(7, &[("a", b"new!")], &json!({}), 2).unwrap();
        assert_eq!(store.latest().unwrap().read_part("a").unwrap(), b"new!");
    }
}
