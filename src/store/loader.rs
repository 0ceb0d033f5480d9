//! Mapping verified library bytes: the bytes that were checked are the bytes that are loaded.
//!
//! A library is never opened again by its path in the store after it was checked (the file
//! could be replaced in between). Its bytes, already read, hashed and checked, are copied into
//! an anonymous memory file (`memfd_create`), which is then sealed against any change
//! (`F_SEAL_WRITE`, `F_SEAL_SHRINK`, `F_SEAL_GROW`, `F_SEAL_SEAL`) and handed to the dynamic
//! loader as `/proc/self/fd/<n>`, with `RTLD_NOW` so that an unresolved symbol fails the load
//! instead of the first call.
//!
//! The loader identifies libraries by the name they were opened under and returns an already
//! loaded library when a name repeats. File descriptor numbers are reused once closed, so
//! `/proc/self/fd/<n>` alone could name a library loaded earlier from another memory file:
//! every load therefore uses a path of its own, spelling a process-wide counter in the
//! directory components (`.` for a zero bit, `../fd` for a one bit), which all resolve to the
//! same descriptor.

use libloading::{Library, os::unix};
use std::{
    ffi::CString,
    fs::File,
    io::{self, Write},
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    sync::atomic::{AtomicU64, Ordering},
};

/// Why verified bytes could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The memory file could not be created, written or sealed.
    #[error("cannot prepare a sealed memory file: {0}")]
    MemoryFile(#[source] io::Error),
    /// The dynamic loader refused the image (an unresolved symbol, for example).
    #[error("the dynamic loader refused the library: {0}")]
    Loader(#[source] libloading::Error),
}

/// Loads `bytes` (already checked) as a shared library, from a sealed memory file.
pub(crate) fn load_sealed(bytes: &[u8]) -> Result<Library, LoadError> {
    let file = sealed_memory_file(bytes).map_err(LoadError::MemoryFile)?;
    let path = unique_fd_path(file.as_raw_fd());
    // SAFETY: loading maps the library and would run its initialisers and IFUNC resolvers;
    // the caller checked the very bytes in this sealed file (`elf::check`): they have no
    // initialisers, finalisers, IFUNCs or dependencies, so loading only maps and relocates.
    // The seals keep anyone from changing the bytes between that check and this mapping.
    let library =
        unsafe { unix::Library::open(Some(&path), libc::RTLD_NOW | libc::RTLD_LOCAL) }.map_err(LoadError::Loader)?;
    // The mapping keeps the memory file alive; the descriptor is no longer needed.
    drop(file);
    Ok(library.into())
}

/// A memory file holding `bytes`, sealed so that nobody can change it any more.
fn sealed_memory_file(bytes: &[u8]) -> io::Result<File> {
    let name = CString::new("revm-jit-artifact").expect("no NUL");
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // Kernels that restrict executable memory files (`vm.memfd_noexec`) need MFD_EXEC; older
    // kernels do not know the flag and refuse it.
    const MFD_EXEC: libc::c_uint = 0x10;
    let mut fd = -1;
    for flags in [base | MFD_EXEC, base] {
        // SAFETY: `name` is a valid NUL-terminated string; the flags are documented ones.
        fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        if fd >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
            break;
        }
    }
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by `memfd_create` and is owned by nothing else.
    let mut file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.write_all(bytes)?;
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
    // SAFETY: `file` owns a valid descriptor; F_ADD_SEALS takes an int argument.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

/// A path naming descriptor `fd` that no earlier load in this process used (see the module
/// documentation).
fn unique_fd_path(fd: i32) -> String {
    static LOADS: AtomicU64 = AtomicU64::new(0);
    let n = LOADS.fetch_add(1, Ordering::Relaxed);
    let mut path = String::from("/proc/self/fd");
    for bit in (0..40).rev() {
        path.push_str(if n >> bit & 1 == 1 { "/../fd" } else { "/." });
    }
    path.push_str(&format!("/{fd}"));
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_paths_are_unique_and_resolve_to_the_descriptor() {
        let file = sealed_memory_file(b"bytes").unwrap();
        let (a, b) = (unique_fd_path(file.as_raw_fd()), unique_fd_path(file.as_raw_fd()));
        assert_ne!(a, b);
        for path in [a, b] {
            assert_eq!(std::fs::read(&path).unwrap(), b"bytes", "{path}");
        }
    }

    #[test]
    fn sealed_files_cannot_change() {
        let mut file = sealed_memory_file(b"bytes").unwrap();
        assert!(file.write_all(b"more").is_err());
        assert!(file.set_len(1).is_err());
    }
}
