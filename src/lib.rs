//! revm-jit: runs revm's EVM bytecode as native code compiled through LLVM.
//!
//! The pipeline, one module per stage:
//! [`analysis`] (decode, blocks, sections) → [`codegen`] (LLVM IR) → [`compiler`] (machine
//! code owned by a [`CompiledFn`], in process or as AOT libraries) → [`store`] (AOT artifacts
//! on disk) → [`runtime`] (cache, compilation, preload) → [`handler`] ([`JitEvm`], which runs
//! frames natively through the [`abi`] and the [`builtins`], inspected or not).
//!
//! Around it: [`exec`] (execution modes), [`statetest`] (the Ethereum state-test runner),
//! [`traces`] (trace equality between native and interpreted frames),
//! [`bench`], [`fixture`] and [`programs`] (benchmarks), and [`asm`] (a small EVM assembler
//! used by the embedded programs and the tests).

pub mod abi;
pub mod analysis;
pub mod asm;
pub mod bench;
pub mod builtins;
pub mod codegen;
pub mod compiler;
pub mod exec;
pub mod fixture;
pub mod handler;
pub mod programs;
pub mod runtime;
pub mod statetest;
pub mod store;
pub mod traces;

pub use compiler::{CompileError, CompilePhases, CompiledFn, Compiler, CompilerConfig, OptLevel};
pub use handler::{InspectionMode, JitEvm};
pub use runtime::{JitConfig, JitHandle, JitRuntime};
