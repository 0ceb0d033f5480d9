//! Compilation in a child process (`CompilerConfig::process`), with the `revm-jit` binary as
//! the compiler process: its code gives the interpreter's results, and a contract over the
//! time or memory budget is abandoned, counted, never retried, and runs interpreted.

use revm::bytecode::{Bytecode, opcode as op};
use revm::primitives::hardfork::SpecId;
use revm_jit::{CompileError, CompileProcess, Compiler, CompilerConfig, JitConfig, JitRuntime, OptLevel};
use revm_jit_cli::differential::{self, Scenario, difference};
use std::time::{Duration, Instant};

/// The `revm-jit` binary: its `main` serves compile requests.
fn revm_jit_binary() -> CompileProcess {
    CompileProcess::new(env!("CARGO_BIN_EXE_revm-jit"))
}

/// `CALLVALUE (DUP1 MUL)*` to EIP-170's limit: a chain of dependent 256-bit multiplications
/// that LLVM takes minutes over. The cost model refuses it, so the tests that want LLVM to try
/// turn the model off.
fn mul_chain() -> Vec<u8> {
    let mut code = vec![op::CALLVALUE];
    while code.len() + 3 < 24 * 1024 {
        code.extend_from_slice(&[op::DUP1, op::MUL]);
    }
    code.push(op::STOP);
    code
}

/// A compiler at `opt_level` compiling in `process`, with the cost model off.
fn compiler_in(process: CompileProcess, opt_level: OptLevel) -> Compiler {
    Compiler::new(CompilerConfig { opt_level, compile_budget: u64::MAX, process: Some(process), ..Default::default() })
        .expect("compiler starts")
}

#[test]
fn code_compiled_in_a_child_process_gives_the_interpreters_results() {
    for opt_level in [OptLevel::Baseline, OptLevel::Default] {
        let runtime = JitRuntime::new(JitConfig {
            compiler: CompilerConfig { opt_level, process: Some(revm_jit_binary()), ..Default::default() },
            ..JitConfig::eager()
        });
        let mut native_frames = 0;
        for seed in 0..24 {
            let scenario = differential::generate(seed);
            let expected = scenario.run_interpreted();
            let got = scenario.run_native(&runtime);
            if let Some(difference) = difference(&expected, &got) {
                panic!("{opt_level:?}, seed {seed}: {difference}\n{scenario:?}");
            }
            if let Ok(outcome) = &got {
                assert_eq!(outcome.frames.interpreted, 0, "{opt_level:?}, seed {seed}: a frame ran interpreted");
                native_frames += outcome.frames.native;
            }
        }
        let stats = runtime.handle().stats();
        assert!(native_frames > 0 && stats.compiled > 0, "{opt_level:?}: nothing ran natively: {stats:?}");
        assert_eq!((stats.failed, stats.over_budget), (0, 0), "{opt_level:?}: {stats:?}");
    }
}

#[test]
fn a_compilation_over_its_time_budget_is_abandoned() {
    let process = CompileProcess { time_limit: Duration::from_millis(500), ..revm_jit_binary() };
    let mut compiler = compiler_in(process, OptLevel::Default);
    let start = Instant::now();
    let error = compiler.compile(&mul_chain(), SpecId::CANCUN).expect_err("LLVM takes minutes over this");
    assert!(matches!(error, CompileError::OverTimeBudget { limit } if limit == Duration::from_millis(500)), "{error}");
    assert!(error.is_over_budget());
    eprintln!("abandoned after {:?}", start.elapsed());
    // The compiler is still usable: a small contract compiles in the next process.
    let small = [op::CALLVALUE, op::DUP1, op::MUL, op::STOP];
    compiler.compile(&small, SpecId::CANCUN).expect("a small contract compiles after an abandoned one");
}

#[test]
fn a_compilation_over_its_memory_budget_is_abandoned() {
    // 8 MiB beyond the child's own mappings: LLVM needs far more for 24 KiB of multiplications.
    let process = CompileProcess { memory_limit: 8 << 20, time_limit: Duration::from_secs(120), ..revm_jit_binary() };
    let mut compiler = compiler_in(process, OptLevel::Baseline);
    let error = compiler.compile(&mul_chain(), SpecId::CANCUN).expect_err("8 MiB is not enough");
    assert!(matches!(error, CompileError::OverMemoryBudget { limit } if limit == 8 << 20), "{error}");
}

#[test]
fn the_runtime_counts_a_contract_over_budget_never_retries_it_and_runs_it_interpreted() {
    let process = CompileProcess { time_limit: Duration::from_millis(300), ..revm_jit_binary() };
    let runtime = JitRuntime::new(JitConfig {
        compiler: CompilerConfig { compile_budget: u64::MAX, process: Some(process), ..Default::default() },
        ..JitConfig::eager()
    });
    let handle = runtime.handle();
    let code = Bytecode::new_raw(mul_chain().into());
    for _ in 0..3 {
        assert!(handle.lookup(code.hash_slow(), SpecId::CANCUN, &code).is_none());
    }
    let stats = handle.stats();
    assert_eq!((stats.failed, stats.over_budget, stats.compiled), (1, 1, 0), "compiled once, never again: {stats:?}");
    // Its frames run interpreted, with the interpreter's results.
    let scenario = Scenario::new(mul_chain()).spec(SpecId::CANCUN);
    let got = scenario.run_native(&runtime);
    assert_eq!(difference(&scenario.run_interpreted(), &got), None);
    let frames = got.expect("the transaction runs").frames;
    assert_eq!((frames.native, frames.interpreted), (0, 1));
    assert_eq!(handle.stats().over_budget, 1, "not retried by the transaction");
}

#[test]
fn a_compiler_process_that_cannot_start_is_a_typed_error() {
    let process = CompileProcess::new("/nonexistent/revm-jit");
    let mut compiler = compiler_in(process, OptLevel::Default);
    let error = compiler.compile(&[op::STOP], SpecId::CANCUN).expect_err("no such program");
    assert!(matches!(&error, CompileError::Process(message) if message.contains("/nonexistent/revm-jit")), "{error}");
}

#[test]
fn a_program_that_is_no_compiler_process_is_a_typed_error() {
    // `true` exits at once without answering.
    let process = CompileProcess::new("true");
    let mut compiler = compiler_in(process, OptLevel::Default);
    let error = compiler.compile(&[op::CALLVALUE, op::STOP], SpecId::CANCUN).expect_err("no reply");
    assert!(matches!(&error, CompileError::Process(message) if message.contains("malformed reply")), "{error}");
}

#[test]
fn the_cost_model_refuses_before_a_process_starts() {
    let process = CompileProcess::new("/nonexistent/revm-jit");
    let mut compiler = Compiler::new(CompilerConfig { process: Some(process), ..Default::default() }).unwrap();
    // Had a process been started, the error would be `Process`.
    let error = compiler.compile(&mul_chain(), SpecId::CANCUN).expect_err("refused");
    assert!(matches!(error, CompileError::TooCostly { .. }), "{error}");
}
