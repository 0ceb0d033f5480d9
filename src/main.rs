//! The `revm-jit` command line: state tests, benchmarks and single runs, in every mode.

use clap::{Parser, Subcommand};
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
    Statetest(revm_jit::statetest::cli::Args),
    /// Measure the embedded programs (or a fixture directory) in one or more modes.
    Bench(revm_jit::bench::cli::BenchArgs),
    /// Run one transaction (a fixture, or a call to given code) and print its result.
    Run(revm_jit::bench::run::RunArgs),
    /// Compile contracts ahead of time into an artifact store.
    Compile(revm_jit::compiler::cli::CompileArgs),
    /// List, verify or garbage-collect an artifact store.
    Store(revm_jit::store::cli::StoreArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Statetest(args) => revm_jit::statetest::cli::run(args),
        Command::Bench(args) => revm_jit::bench::cli::run(&args),
        Command::Run(args) => revm_jit::bench::run::run(&args),
        Command::Compile(args) => revm_jit::compiler::cli::run(&args),
        Command::Store(args) => revm_jit::store::cli::run(&args),
    }
}
