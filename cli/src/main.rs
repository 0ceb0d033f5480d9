//! The `revm-jit` command line: state tests, benchmarks and single runs, in every mode.
//! The commands and their parser live in the library ([`revm_jit_cli::cmd`]).

use clap::Parser;
use revm_jit_cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    revm_jit_cli::logging::init();
    cli.run()
}
