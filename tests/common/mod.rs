//! Shared test helpers: run one transaction in the interpreter and as native code, compare.
//!
//! The scenario, constants and comparison live in `revm_jit_cli::differential`, shared with
//! `revm-jit fuzz` and the coverage-guided fuzz target.
#![allow(dead_code, unused_imports)]

pub(crate) use revm_jit_cli::differential::{BINARY_OPS, CALLER, FORKS, OTHER, Outcome, Scenario, TARGET};

pub(crate) mod frame;
pub(crate) mod runs;
