//! The `revm-jit` command line: state tests, benchmarks and single runs, in every mode.

use clap::{Parser, Subcommand};
use revm_jit_cli::cmd;
use std::process::ExitCode;

/// Runs EVM code through revm's interpreter or as native code compiled by revm-jit.
#[derive(Parser, Debug)]
#[command(name = "revm-jit", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs Ethereum state tests (ethereum/tests GeneralStateTests) in one mode.
    Statetest(cmd::statetest::Args),
    /// Measure the embedded programs (or a fixture directory) in one or more modes.
    Bench(cmd::bench::BenchArgs),
    /// Run one transaction (a fixture, or a call to given code) and print its result.
    Run(cmd::run::RunArgs),
    /// Compile contracts ahead of time into an artifact store.
    #[cfg(feature = "llvm")]
    Compile(cmd::compile::CompileArgs),
    /// Differential fuzzing: random and mutated programs, interpreter against native code at
    /// every optimisation level; `--replay FILE` reruns a saved mismatch.
    #[cfg(feature = "llvm")]
    Fuzz(cmd::fuzz::FuzzArgs),
    /// List, verify or garbage-collect an artifact store.
    Store(cmd::store::StoreArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    revm_jit_cli::logging::init();
    match cli.command {
        Command::Statetest(args) => cmd::statetest::run(args),
        Command::Bench(args) => cmd::bench::run(&args),
        Command::Run(args) => cmd::run::run(&args),
        #[cfg(feature = "llvm")]
        Command::Compile(args) => cmd::compile::run(&args),
        #[cfg(feature = "llvm")]
        Command::Fuzz(args) => cmd::fuzz::run(&args),
        Command::Store(args) => cmd::store::run(&args),
    }
}
