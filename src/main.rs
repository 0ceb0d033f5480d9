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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Statetest(args) => revm_jit::statetest::cli::run(args),
    }
}
