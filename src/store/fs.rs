//! File-system steps of the store: unique temporary files, durable renames, and the lock that
//! keeps garbage collection from running while a write is in progress.

use super::{error::StoreError, manifest::TEMP_PREFIX};
use std::{
    fs::{self, File, OpenOptions},
    io::{self, Read, Write},
    os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt},
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};
use tracing::warn;

/// Name of the lock file in the store directory.
const LOCK_FILE: &str = ".lock";

/// Mode of every file the store creates: writable by its owner only, whatever the umask
/// (a umask can only remove bits), so that the store's own files pass [`open_entry`].
const FILE_MODE: u32 = 0o644;

/// Why a file in the store is not trusted, whatever its contents: the store reads only
/// regular files that belong to the process's user and that nobody else can write.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    /// A symbolic link (which could point at `/dev/zero`, or outside the store).
    #[error("is a symbolic link")]
    Symlink,
    /// Not a regular file: a FIFO (reading it would block), a device, a socket or a directory.
    #[error("is not a regular file but a {0}")]
    NotRegular(FileKind),
    /// Owned by another user than the process's effective user.
    #[error("is owned by uid {found}, not by this process's uid {expected}")]
    Owner {
        /// The process's effective uid.
        expected: u32,
        /// The file's owner.
        found: u32,
    },
    /// Writable by the file's group or by others, who could then change trusted code.
    #[error("is writable by group or others (mode {mode:o})")]
    Writable {
        /// The file's permission bits.
        mode: u32,
    },
    /// Larger than the store ever writes.
    #[error("is {len} bytes, more than the {max} the store accepts")]
    TooLarge {
        /// The file's length.
        len: u64,
        /// The largest accepted.
        max: u64,
    },
}

impl FileProblem {
    /// A short stable label for counters and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Symlink => "file-symlink",
            Self::NotRegular(_) => "file-type",
            Self::Owner { .. } => "file-owner",
            Self::Writable { .. } => "file-mode",
            Self::TooLarge { .. } => "file-size",
        }
    }
}

/// The kind of a file that is not a regular one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A named pipe.
    Fifo,
    /// A character or block device.
    Device,
    /// A Unix socket.
    Socket,
    /// A directory.
    Directory,
    /// Anything else.
    Other,
}

impl std::fmt::Display for FileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Fifo => "FIFO",
            Self::Device => "device",
            Self::Socket => "socket",
            Self::Directory => "directory",
            Self::Other => "special file",
        })
    }
}

/// Why [`read_entry`] returned no bytes.
#[derive(Debug)]
pub(crate) enum EntryError {
    /// The file is not one the store trusts.
    Untrusted(FileProblem),
    /// Reading failed.
    Io(io::Error),
}

/// The problem with a file of type `file_type`, owner `uid` and `mode`, if any.
fn judge(metadata: &fs::Metadata) -> Result<(), FileProblem> {
    let file_type = metadata.file_type();
    if file_type.is_symlink() {
        return Err(FileProblem::Symlink);
    }
    if !file_type.is_file() {
        let kind = if file_type.is_fifo() {
            FileKind::Fifo
        } else if file_type.is_char_device() || file_type.is_block_device() {
            FileKind::Device
        } else if file_type.is_socket() {
            FileKind::Socket
        } else if file_type.is_dir() {
            FileKind::Directory
        } else {
            FileKind::Other
        };
        return Err(FileProblem::NotRegular(kind));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if metadata.uid() != euid {
        return Err(FileProblem::Owner { expected: euid, found: metadata.uid() });
    }
    if metadata.mode() & 0o022 != 0 {
        return Err(FileProblem::Writable { mode: metadata.mode() & 0o7777 });
    }
    Ok(())
}

/// Reads a file of the store whole, once it proved to be a regular file of this user that
/// nobody else can write (see [`FileProblem`]) and at most `max` bytes long. `Ok(None)` when it
/// does not exist.
///
/// Special files are recognised before they are opened (opening a device can have effects),
/// and the file is opened without following links and without blocking (a FIFO swapped in
/// meanwhile cannot stall the caller); the descriptor's own metadata decides.
pub(crate) fn read_entry(path: &Path, max: u64) -> Result<Option<Vec<u8>>, EntryError> {
    match fs::symlink_metadata(path) {
        Ok(metadata) => judge(&metadata).map_err(EntryError::Untrusted)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(EntryError::Io(e)),
    }
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(EntryError::Untrusted(FileProblem::Symlink)),
        Err(e) => return Err(EntryError::Io(e)),
    };
    let metadata = file.metadata().map_err(EntryError::Io)?;
    judge(&metadata).map_err(EntryError::Untrusted)?;
    if metadata.len() > max {
        return Err(EntryError::Untrusted(FileProblem::TooLarge { len: metadata.len(), max }));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.take(max + 1).read_to_end(&mut bytes).map_err(EntryError::Io)?;
    if bytes.len() as u64 > max {
        return Err(EntryError::Untrusted(FileProblem::TooLarge { len: bytes.len() as u64, max }));
    }
    Ok(Some(bytes))
}

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
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| StoreError::io("create", &path, e))?;
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

/// A new scratch directory in the system's temporary directory: created exclusively (never
/// one that someone made first), with a random name starting with `prefix`, and mode 0700 so
/// that no other user can plant or swap files in it. Removed when the returned value drops.
/// Linking and temporary stores use it.
pub fn private_temp_dir(prefix: &str) -> io::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new().prefix(prefix).permissions(fs::Permissions::from_mode(0o700)).tempdir()
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
            .mode(FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
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
