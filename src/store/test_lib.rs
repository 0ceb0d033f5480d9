//! Real shared libraries for the store's tests, built with the system C compiler: they export
//! the ABI version symbol and entry functions returning a marker, so a test can tell which
//! library a loaded entry point came from. They are linked as the AOT compiler links (no
//! start files, no C library), so that they pass the store's ELF check.

use crate::abi::ABI_VERSION;
use std::{fmt::Write as _, process::Command};

/// A shared library exporting `revm_jit_abi_version = abi` (no such symbol when `None`) and,
/// for each `(symbol, marker)`, `unsigned int symbol(void *ctx)` returning `marker` without
/// touching `ctx`. Returns the library file's bytes.
pub fn build_library(abi: Option<u32>, entries: &[(&str, u32)]) -> Vec<u8> {
    let mut source = String::new();
    if let Some(abi) = abi {
        writeln!(source, "const unsigned int revm_jit_abi_version = {abi}u;").unwrap();
    }
    for (symbol, marker) in entries {
        writeln!(source, "unsigned int {symbol}(void *ctx) {{ (void)ctx; return {marker}u; }}").unwrap();
    }
    compile_c(&source, &["-nostdlib", "-Wl,--build-id=none", "-Wl,-z,noexecstack"])
}

/// Builds a shared library from C `source` with `cc -shared -fPIC` and `flags`; returns its
/// bytes. Tests use it for libraries the store must refuse (constructors, dependencies, ...).
pub fn compile_c(source: &str, flags: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let (c, so) = (dir.path().join("lib.c"), dir.path().join("lib.so"));
    std::fs::write(&c, source).expect("write the C source");
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-fno-stack-protector"])
        .args(flags)
        .arg("-o")
        .arg(&so)
        .arg(&c)
        .status()
        .expect("run cc");
    assert!(status.success(), "cc failed");
    std::fs::read(&so).expect("read the built library")
}

/// [`build_library`] with this build's ABI version.
pub fn library(entries: &[(&str, u32)]) -> Vec<u8> {
    build_library(Some(ABI_VERSION), entries)
}
