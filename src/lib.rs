//! revm-jit: runs revm's EVM bytecode as native code compiled through LLVM.
//!
//! The pipeline, one module per stage:
//! [`analysis`] (decode, blocks, sections) → `codegen` (LLVM IR) → [`compiler`] (machine
//! code owned by a [`CompiledFn`], in process or as AOT libraries) → [`store`] (AOT artifacts
//! on disk) → [`runtime`] (cache, compilation, preload) → [`evm`] ([`JitEvm`], which runs
//! frames natively through the [`abi`] and the [`builtins`], inspected or not).
//!
//! # Features
//!
//! - `llvm` (default): the compiler, through LLVM 22 (`codegen`, [`Compiler`]). Without it the
//!   runtime still loads and runs AOT artifacts from a [`store`] built by a build with it, on
//!   the same machine; everything else runs in revm's interpreter.
//! - `alloy-evm`: `JitEvmFactory`, an alloy-evm `EvmFactory` whose EVMs run frames natively,
//!   for reth and other alloy-based nodes (module `evm::alloy`).
//! - `metrics`: `JitHandle::publish_metrics` exports every counter through the `metrics`
//!   facade, for nodes that already run a recorder.
//! - `test-hooks`: settings for tests and benchmarks only (injected compiler faults, a wait
//!   for the background compiler).
//!
//! The command line, state-test runner and benchmarks live in the unpublished `revm-jit-cli`
//! crate of the workspace.

pub mod abi;
pub mod analysis;
pub mod builtins;
#[cfg(feature = "llvm")]
pub mod codegen;
pub mod compiler;
pub mod evm;
pub mod runtime;
pub mod store;

#[cfg(feature = "llvm")]
pub use compiler::Compiler;
pub use compiler::{CompileError, CompilePhases, CompileProcess, CompiledCode, CompiledFn, CompilerConfig, OptLevel};
#[cfg(feature = "alloy-evm")]
pub use evm::alloy::{JitEthEvm, JitEvmFactory};
pub use evm::{FrameCounts, InspectionMode, JitEvm};
/// The README's Rust examples, compiled and run as doctests (`cargo test --doc`), so that the
/// usage the README shows cannot drift from the API. Exists only when doctests are collected.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use runtime::{
    CompileCallback, CompileEvent, CompileOutcome, CompileTarget, ConfigError, Fallback, FallbackCounts, JitConfig,
    JitHandle, JitRuntime, PreloadReport, RequestOutcome, ShutdownReport, StatsSnapshot, ToStoreError,
};
