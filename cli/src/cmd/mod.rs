//! The commands of `revm-jit`, one file each: their arguments and what they do.

pub mod bench;
#[cfg(feature = "llvm")]
pub mod compile;
#[cfg(feature = "llvm")]
pub mod fuzz;
pub mod run;
pub mod statetest;
pub mod store;
