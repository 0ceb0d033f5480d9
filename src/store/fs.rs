//! File-system steps of the store: unique temporary files, durable renames, and the lock that
//! keeps garbage collection from running while a write is in progress.

use super::{error::StoreError, manifest::TEMP_PREFIX};
use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};
use tracing::warn;

/// Name of the lock file in the store directory.
const LOCK_FILE: &str = ".lock";

/// A file name no other writer uses at the same time: process id, a per-process counter and
/// the current time. Files are still created exclusively, so a collision is an error, never a
/// shared file.
fn temp_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{TEMP_PREFIX}{}-{n}-{nanos}", std::process::id())
}

/// Writes `bytes` to a new temporary file in `dir` and flushes it to disk, so that renaming it
/// afterwards publishes complete contents. Returns the file's path; on failure nothing is left
/// behind.
pub(crate) fn write_temp(dir: &Path, bytes: &[u8]) -> Result<PathBuf, StoreError> {
    let path = dir.join(temp_name());
    let mut file =
        OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| StoreError::io("create", &path, e))?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written {
        let _ = fs::remove_file(&path);
        return Err(StoreError::io("write", path, e));
    }
    Ok(path)
}

/// Renames `temp` to `target` (replacing it atomically if it exists); on failure removes
/// `temp`. Durable only once the directory is synced ([`sync_dir`]).
pub(crate) fn commit(temp: &Path, target: &Path) -> Result<(), StoreError> {
    fs::rename(temp, target).map_err(|e| {
        let _ = fs::remove_file(temp);
        StoreError::io("rename into place", target, e)
    })
}

/// Flushes the directory's entries, making earlier renames in it durable: a library's rename
/// must be on disk before the rename of a manifest pointing at it.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| StoreError::io("sync directory", dir, e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// An advisory lock on the store directory, released when dropped. Writers hold it shared for
/// the whole of a `put` and garbage collection holds it exclusively, so collection never sees a
/// library renamed into place whose manifests are not yet written, nor a temporary file still
/// being written. Across processes it relies on `flock`; where that is not honoured (some
/// network file systems), the grace periods of garbage collection still protect writers.
#[derive(Debug)]
pub(crate) struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Takes the lock shared (many writers at once), waiting for garbage collection to finish.
    pub(crate) fn shared(dir: &Path) -> Result<Self, StoreError> {
        let file = Self::open(dir)?;
        Self::taken(file.lock_shared(), dir);
        Ok(Self { _file: file })
    }

    /// Takes the lock exclusively, waiting for writers in progress to finish.
    pub(crate) fn exclusive(dir: &Path) -> Result<Self, StoreError> {
        let file = Self::open(dir)?;
        Self::taken(file.lock(), dir);
        Ok(Self { _file: file })
    }

    /// A file system without locks (some network file systems) does not make the store
    /// unusable: the grace periods of garbage collection remain.
    fn taken(locked: io::Result<()>, dir: &Path) {
        if let Err(e) = locked {
            warn!(path = %dir.join(LOCK_FILE).display(), error = %e, "cannot lock the store; relying on grace periods");
        }
    }

    fn open(dir: &Path) -> Result<File, StoreError> {
        let path = dir.join(LOCK_FILE);
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::io("open lock file", path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn temp_names_are_unique_and_hidden() {
        let names: HashSet<String> = (0..1000).map(|_| temp_name()).collect();
        assert_eq!(names.len(), 1000);
        assert!(names.iter().all(|n| n.starts_with(TEMP_PREFIX)));
    }
}
