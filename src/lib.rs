//! revm-jit: runs revm's EVM bytecode as native code compiled through LLVM.
//!
//! See the README for the pipeline; each stage is one module.

pub mod asm;
pub mod bench;
pub mod exec;
pub mod fixture;
pub mod programs;
