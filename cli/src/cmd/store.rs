//! `revm-jit store list|verify|gc DIR`: what an operator needs to look after a store.
//!
//! `list` and `verify` print a table; `--json FILE` also writes it as one JSON document (for
//! scripts and monitoring), `--json -` prints the document on stdout instead of the table
//! (which goes to stderr). `verify` names every refused artifact with its reason and exits
//! non-zero when there is any.

use super::json::{Human, JsonTarget};
use revm_jit::store::{ArtifactStore, BuildId, DiskStore, GcOptions, ListedArtifact, MacKey, Manifest, VerifyReport};
use serde_json::{Value, json};
use std::{path::PathBuf, process::ExitCode, time::Duration};

/// Arguments of `revm-jit store`.
#[derive(clap::Args, Debug, Clone)]
pub struct StoreArgs {
    #[command(subcommand)]
    /// What to do with the store.
    pub command: StoreCommand,
}

/// The `store` subcommands.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum StoreCommand {
    /// Lists every artifact: code hash, fork, library, size, and whether this build accepts it.
    List {
        /// The store directory.
        dir: PathBuf,
        /// Also write the listing as one JSON document to FILE; `-` prints it on stdout
        /// instead of the table (which then goes to stderr).
        #[arg(long, value_name = "FILE", value_parser = JsonTarget::parse)]
        json: Option<JsonTarget>,
        /// The store's MAC key, in a file: artifacts without a valid MAC are refused.
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
    /// Checks every artifact fully (file, checksum, ELF check, loading, symbols); lists each
    /// refusal with its reason and fails if there is any.
    Verify {
        /// The store directory.
        dir: PathBuf,
        /// Also write the report as one JSON document to FILE; `-` prints it on stdout
        /// instead of the text (which then goes to stderr).
        #[arg(long, value_name = "FILE", value_parser = JsonTarget::parse)]
        json: Option<JsonTarget>,
        /// The store's MAC key, in a file: artifacts without a valid MAC are refused.
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
    /// Removes damaged artifacts, those of other builds, unreferenced libraries and stale
    /// temporary files.
    Gc {
        /// The store directory.
        dir: PathBuf,
        /// Keep artifacts of other builds (other compiler versions, ABIs or machines).
        #[arg(long)]
        keep_other_builds: bool,
        /// Also load every library to find damage the checksum cannot (slower).
        #[arg(long)]
        deep: bool,
        /// Remove temporary files and unreferenced libraries however recent (only when no
        /// writer is running).
        #[arg(long)]
        now: bool,
        /// The store's MAC key, in a file: artifacts without a valid MAC are removed as damaged.
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
}

/// Runs the subcommand.
pub fn run(args: &StoreArgs) -> ExitCode {
    let result = match &args.command {
        StoreCommand::List { dir, json, key_file } => {
            open(dir, key_file.as_deref()).and_then(|s| list(&s, json.as_ref()))
        }
        StoreCommand::Verify { dir, json, key_file } => {
            open(dir, key_file.as_deref()).and_then(|s| verify(&s, json.as_ref()))
        }
        StoreCommand::Gc { dir, keep_other_builds, deep, now, key_file } => {
            open(dir, key_file.as_deref()).and_then(|s| gc(&s, *keep_other_builds, *deep, *now))
        }
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn open(dir: &PathBuf, key_file: Option<&std::path::Path>) -> Result<DiskStore, String> {
    if !dir.is_dir() {
        return Err(format!("{}: no such store directory", dir.display()));
    }
    let store = DiskStore::open(dir, BuildId::current()).map_err(|e| e.to_string())?;
    match key_file {
        Some(path) => Ok(store.with_mac_key(MacKey::from_file(path).map_err(|e| e.to_string())?)),
        None => Ok(store),
    }
}

/// A manifest as JSON: the key, the library and the build that wrote it.
fn manifest_json(m: &Manifest) -> Value {
    json!({
        "code_hash": m.code_hash.to_string(),
        "spec": <&str>::from(m.spec),
        "symbol": m.symbol,
        "bytecode_len": m.bytecode_len,
        "library": m.library,
        "library_len": m.library_len,
        "checksum": m.checksum.to_string(),
        "compiler_version": m.compiler_version,
        "compiler_source": m.compiler_source,
        "revm_version": m.revm_version,
        "llvm_version": m.llvm_version,
        "opt_level": m.opt_level,
        "abi_version": m.abi_version,
        "target": m.target,
        "created_unix_secs": m.created_unix_secs,
        "mac": m.mac.is_some(),
    })
}

/// One listed artifact as JSON: its manifest file, contents and status.
fn artifact_json(artifact: &ListedArtifact) -> Value {
    json!({
        "path": artifact.path.display().to_string(),
        "manifest": artifact.manifest.as_ref().map(manifest_json),
        "valid": artifact.is_valid(),
        "reason": artifact.error().map(|e| e.reason()),
        "error": artifact.error().map(|e| e.to_string()),
    })
}

fn build_json(build: &BuildId) -> Value {
    json!({
        "compiler_version": build.compiler_version,
        "compiler_source": build.compiler_source,
        "revm_version": build.revm_version,
        "llvm_version": build.llvm_version,
        "opt_level": build.opt_level,
        "abi_version": build.abi_version,
        "target": build.target,
    })
}

fn list(store: &DiskStore, json: Option<&JsonTarget>) -> Result<ExitCode, String> {
    let listed = store.list().map_err(|e| e.to_string())?;
    let valid = listed.iter().filter(|a| a.is_valid()).count();
    let human = Human::new(json);
    human.line(format_args!("{:<66} {:<10} {:>9} {:<40} status", "code hash", "fork", "lib bytes", "library"));
    for artifact in &listed {
        let status = artifact.error().map_or_else(|| "ok".to_string(), |e| format!("refused ({}): {e}", e.reason()));
        match &artifact.manifest {
            Some(m) => human.line(format_args!(
                "{:<66} {:<10} {:>9} {:<40} {status}",
                m.code_hash.to_string(),
                format!("{:?}", m.spec),
                m.library_len,
                m.library
            )),
            None => {
                human.line(format_args!("{:<66} {:<10} {:>9} {:<40} {status}", artifact.path.display(), "?", "?", "?"))
            }
        }
    }
    human.line(format_args!(
        "{} artifacts, {valid} valid for this build ({})",
        listed.len(),
        store.build().compiler_version
    ));
    if let Some(target) = json {
        let document = json!({
            "dir": store.dir().display().to_string(),
            "build": build_json(store.build()),
            "artifacts": listed.iter().map(artifact_json).collect::<Vec<_>>(),
            "total": listed.len(),
            "valid": valid,
        });
        target.write(&document).map_err(|e| e.to_string())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn verify_json(store: &DiskStore, report: &VerifyReport) -> Value {
    let paths = |paths: &[PathBuf]| paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>();
    json!({
        "dir": store.dir().display().to_string(),
        "build": build_json(store.build()),
        "checked": report.checked,
        "valid": report.valid,
        "refused": report.problems.iter().map(|p| json!({
            "path": p.path.display().to_string(),
            "reason": p.error.reason(),
            "error": p.error.to_string(),
            "manifest": p.manifest.as_ref().map(manifest_json),
        })).collect::<Vec<_>>(),
        "unreferenced_libraries": paths(&report.unreferenced_libraries),
        "temp_files": paths(&report.temp_files),
        "clean": report.is_clean(),
    })
}

fn verify(store: &DiskStore, json: Option<&JsonTarget>) -> Result<ExitCode, String> {
    let report = store.verify().map_err(|e| e.to_string())?;
    let human = Human::new(json);
    for problem in &report.problems {
        human.line(format_args!("refused ({}): {}: {}", problem.error.reason(), problem.path.display(), problem.error));
    }
    human.line(format_args!(
        "{} checked, {} valid, {} refused; {} unreferenced libraries, {} temporary files",
        report.checked,
        report.valid,
        report.problems.len(),
        report.unreferenced_libraries.len(),
        report.temp_files.len()
    ));
    if let Some(target) = json {
        target.write(&verify_json(store, &report)).map_err(|e| e.to_string())?;
    }
    Ok(if report.is_clean() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn gc(store: &DiskStore, keep_other_builds: bool, deep: bool, now: bool) -> Result<ExitCode, String> {
    let mut options = GcOptions { remove_other_builds: !keep_other_builds, deep, ..GcOptions::default() };
    if now {
        options.temp_max_age = Duration::ZERO;
        options.library_grace = Duration::ZERO;
    }
    let report = store.gc(&options).map_err(|e| e.to_string())?;
    for path in report.removed_manifests.iter().chain(&report.removed_libraries).chain(&report.removed_temp_files) {
        println!("removed {}", path.display());
    }
    println!(
        "removed {} manifests, {} libraries, {} temporary files; {} bytes freed",
        report.removed_manifests.len(),
        report.removed_libraries.len(),
        report.removed_temp_files.len(),
        report.bytes_freed
    );
    Ok(ExitCode::SUCCESS)
}
