//! The `revm-jit` command line: state tests, benchmarks and single runs, in every mode.
//! The commands and their parser live in the library ([`revm_jit_cli::cmd`]).

use clap::Parser;
use revm_jit_cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Started as a compiler process (`revm-jit compile --in-child`, or a runtime whose
    // `CompilerConfig::process` names this binary): serve that request and exit.
    revm_jit::compiler::serve_if_compile_child();
    let cli = Cli::parse();
    revm_jit_cli::logging::init();
    cli.run()
}
