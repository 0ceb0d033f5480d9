//! The commands of `revm-jit`, one file each: their arguments and what they do, and the
//! [`Cli`] that parses a command line into one of them.
//!
//! The parser lives here, in the library, rather than in `main.rs`, so that tests can walk
//! the command tree (`clap::CommandFactory`): `cli/tests/readme.rs` fails when a command or
//! flag is missing from the README.

pub mod bench;
#[cfg(feature = "llvm")]
pub mod compile;
#[cfg(feature = "llvm")]
pub mod fuzz;
pub mod json;
pub mod run;
pub mod statetest;
pub mod store;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Runs EVM code through revm's interpreter or as native code compiled by revm-jit.
#[derive(Parser, Debug)]
#[command(name = "revm-jit", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `revm-jit`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Runs Ethereum state tests (ethereum/tests GeneralStateTests) in one mode.
    Statetest(statetest::Args),
    /// Measure the embedded programs (or a fixture directory) in one or more modes.
    Bench(bench::BenchArgs),
    /// Run one transaction (a fixture, or a call to given code) in one or more modes and print
    /// its result.
    Run(run::RunArgs),
    /// Compile contracts ahead of time into an artifact store.
    #[cfg(feature = "llvm")]
    Compile(compile::CompileArgs),
    /// Differential fuzzing: random and mutated programs, interpreter against native code at
    /// every optimisation level; `--replay FILE` reruns a saved mismatch.
    #[cfg(feature = "llvm")]
    Fuzz(fuzz::FuzzArgs),
    /// List, verify or garbage-collect an artifact store.
    Store(store::StoreArgs),
}

impl Cli {
    /// Runs the parsed command and returns the process's exit status.
    pub fn run(self) -> ExitCode {
        // The executors of `jit` and `runtime` modes compile in a compiler process when the
        // environment names one (REVM_JIT_COMPILE_PROCESS); a bad value stops here, once.
        if let Err(error) = revm_jit::JitConfig::default().apply_compile_process_env() {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
        match self.command {
            Command::Statetest(args) => statetest::run(args),
            Command::Bench(args) => bench::run(&args),
            Command::Run(args) => run::run(&args),
            #[cfg(feature = "llvm")]
            Command::Compile(args) => compile::run(&args),
            #[cfg(feature = "llvm")]
            Command::Fuzz(args) => fuzz::run(&args),
            Command::Store(args) => store::run(&args),
        }
    }
}
