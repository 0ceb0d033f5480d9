//! `revm-jit store list|verify|gc DIR`: what an operator needs to look after a store.

use revm_jit::compiler::COMPILER_VERSION;
use revm_jit::store::{ArtifactStore, BuildId, DiskStore, GcOptions};
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
    },
    /// Checks every artifact fully (checksum, loading, symbols); fails if any would be refused.
    Verify {
        /// The store directory.
        dir: PathBuf,
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
    },
}

/// Runs the subcommand.
pub fn run(args: &StoreArgs) -> ExitCode {
    let result = match &args.command {
        StoreCommand::List { dir } => list(dir),
        StoreCommand::Verify { dir } => verify(dir),
        StoreCommand::Gc { dir, keep_other_builds, deep, now } => gc(dir, *keep_other_builds, *deep, *now),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn open(dir: &PathBuf) -> Result<DiskStore, String> {
    if !dir.is_dir() {
        return Err(format!("{}: no such store directory", dir.display()));
    }
    DiskStore::open(dir, BuildId::current()).map_err(|e| e.to_string())
}

fn list(dir: &PathBuf) -> Result<ExitCode, String> {
    let store = open(dir)?;
    let listed = store.list().map_err(|e| e.to_string())?;
    println!("{:<66} {:<10} {:>9} {:<40} status", "code hash", "fork", "lib bytes", "library");
    for artifact in &listed {
        let status = artifact.error().map_or_else(|| "ok".to_string(), |e| format!("refused ({}): {e}", e.reason()));
        match &artifact.manifest {
            Some(m) => println!(
                "{:<66} {:<10} {:>9} {:<40} {status}",
                m.code_hash.to_string(),
                format!("{:?}", m.spec),
                m.library_len,
                m.library
            ),
            None => println!("{:<66} {:<10} {:>9} {:<40} {status}", artifact.path.display(), "?", "?", "?"),
        }
    }
    let valid = listed.iter().filter(|a| a.is_valid()).count();
    println!("{} artifacts, {valid} valid for this build ({})", listed.len(), COMPILER_VERSION);
    Ok(ExitCode::SUCCESS)
}

fn verify(dir: &PathBuf) -> Result<ExitCode, String> {
    let store = open(dir)?;
    let report = store.verify().map_err(|e| e.to_string())?;
    for problem in &report.problems {
        println!("refused ({}): {}: {}", problem.error.reason(), problem.path.display(), problem.error);
    }
    println!(
        "{} checked, {} valid, {} refused; {} unreferenced libraries, {} temporary files",
        report.checked,
        report.valid,
        report.problems.len(),
        report.unreferenced_libraries.len(),
        report.temp_files.len()
    );
    Ok(if report.is_clean() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn gc(dir: &PathBuf, keep_other_builds: bool, deep: bool, now: bool) -> Result<ExitCode, String> {
    let store = open(dir)?;
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
