//! The tooling around revm-jit: the `revm-jit` command line and what it is made of.
//!
//! One module per command in [`cmd`] (`statetest`, `bench`, `run`, `compile`, `fuzz`, `store`)
//! with their parser, [`Cli`], and
//! what they share: [`exec`] (the execution modes), [`differential`] (one transaction
//! in the interpreter and as native code at every `OptLevel`, compared; the program
//! generator and the fuzz input format), [`statetest`] (the Ethereum state-test
//! runner), [`bench`](mod@bench) (the benchmark harness), [`fixture`] (the one loader of
//! state-test-shaped JSON, its one error type, and the benchmark cases built from it),
//! [`fork`] (the one fork-name parser), [`logging`] (the binary's `tracing` subscriber),
//! [`programs`] (the embedded benchmark programs), [`asm`] (a small EVM assembler used by the
//! programs and the tests) and [`traces`] (trace equality between native and interpreted
//! frames). The library's tests, benchmarks and examples use it too.

pub mod asm;
pub mod bench;
pub mod cmd;
pub mod differential;
pub mod exec;
pub mod fixture;
pub mod fork;
pub mod logging;
pub mod programs;
pub mod statetest;
pub mod traces;

pub use cmd::{Cli, Command};
