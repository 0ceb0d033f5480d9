//! Build identity for the artifact store (`crate::store::BuildId`): a hash of the compiler's
//! own sources and the exact versions of the revm crates the build links, so that artifacts
//! written by a build whose generated code could differ are never served.

use sha2::{Digest, Sha256};
use std::{
    env, fs,
    path::{Path, PathBuf},
};

/// Sources whose change can change generated code: analysis, codegen, the builtins native
/// code calls, the ABI, and the compiler driver (pipeline, AOT link flags).
const COMPILER_SOURCES: &[&str] = &["src/analysis", "src/codegen", "src/compiler", "src/builtins.rs", "src/abi.rs"];

/// The revm crates the library links; their versions decide gas and semantics baked into code.
const REVM_CRATES: &[&str] = &[
    "revm",
    "revm-bytecode",
    "revm-context",
    "revm-context-interface",
    "revm-database",
    "revm-database-interface",
    "revm-handler",
    "revm-inspector",
    "revm-interpreter",
    "revm-precompile",
    "revm-primitives",
    "revm-state",
];

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for source in COMPILER_SOURCES {
        println!("cargo:rerun-if-changed={source}");
        collect(&root.join(source), &mut files);
    }
    files.sort();
    let mut hasher = Sha256::new();
    for file in &files {
        let relative = file.strip_prefix(&root).unwrap_or(file).to_string_lossy().replace('\\', "/");
        let contents = fs::read(file).expect("read a compiler source");
        hasher.update(relative.as_bytes());
        hasher.update([0]);
        hasher.update((contents.len() as u64).to_le_bytes());
        hasher.update(&contents);
    }
    let digest = hasher.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=REVM_JIT_COMPILER_SOURCE={hex}");
    println!("cargo:rustc-env=REVM_JIT_REVM_VERSION={}", revm_versions(&root));
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in fs::read_dir(path).expect("read a source directory") {
            collect(&entry.expect("read a source directory").path(), files);
        }
    } else if path.extension().is_some_and(|e| e == "rs" || e == "ll" || e == "bc") {
        files.push(path.to_path_buf());
    }
}

/// `revm 43.0.3 (revm-bytecode 43.0.0, ...)`, read from the lock file of the workspace that
/// builds this crate (the nearest `Cargo.lock` above the crate). Without one (a build from a
/// registry checkout), the requirement of `Cargo.toml` marked as unlocked: such a build cannot
/// tell revm patch releases apart.
fn revm_versions(root: &Path) -> String {
    let lock = root.ancestors().map(|dir| dir.join("Cargo.lock")).find(|path| path.is_file());
    let Some(lock) = lock else {
        return "unlocked revm 43".to_owned();
    };
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = fs::read_to_string(&lock).expect("read Cargo.lock");
    let mut found = Vec::new();
    let mut name = None;
    for line in text.lines() {
        if line == "[[package]]" {
            name = None;
        } else if let Some(value) = line.strip_prefix("name = ") {
            name = Some(value.trim_matches('"').to_owned());
        } else if let (Some(value), Some(n)) = (line.strip_prefix("version = "), &name)
            && REVM_CRATES.contains(&n.as_str())
        {
            found.push(format!("{n} {}", value.trim_matches('"')));
        }
    }
    found.sort();
    if found.is_empty() { "unlocked revm 43".to_owned() } else { found.join(", ") }
}
