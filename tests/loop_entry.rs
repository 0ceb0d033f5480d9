//! A frame that started in the interpreter while its code was compiling moves to native code
//! at a loop head once the code is ready, instead of staying interpreted until it returns: a
//! transaction stuck in a long loop runs mostly native even on a runtime that never waits for
//! the compiler.

use revm::{ExecuteEvm, MainBuilder, primitives::Bytes, primitives::hardfork::SpecId};
use revm_jit::{JitConfig, JitEvm, JitRuntime};
use revm_jit_cli::{asm, fixture::Case};

/// Counts down from 2³²−1 until the gas runs out: one frame that loops for as long as its gas
/// lasts, never returning before.
fn endless_loop(gas_limit: u64) -> Case {
    let code = asm::assemble("PUSH 0xffffffff loop: PUSH 1 SWAP1 SUB DUP1 PUSH @loop JUMPI STOP").expect("assembles");
    Case::call_code("endless loop", SpecId::CANCUN, code, Bytes::new(), gas_limit)
}

#[test]
#[cfg(feature = "llvm")]
fn a_frame_looping_in_the_interpreter_turns_native_once_its_code_is_ready() {
    // About 38 million iterations: seconds in the interpreter, far longer than compiling takes.
    let case = endless_loop(1_000_000_000);
    let clock = std::time::Instant::now();
    let expected = case.context().build_mainnet().transact(case.tx()).expect("valid transaction");
    let interpreted = clock.elapsed();
    // The first lookup queues the contract and the frame starts at once, interpreted.
    let runtime = JitRuntime::new(JitConfig { hot_threshold: 0, wait_for_compile: None, ..JitConfig::default() });
    let mut evm = JitEvm::new(case.context().build_mainnet(), runtime.handle());
    let clock = std::time::Instant::now();
    let got = evm.transact(case.tx()).expect("valid transaction");
    let turned_native = clock.elapsed();
    // For comparison (printed, not asserted): compiled before the frame starts.
    let eager = JitRuntime::new(JitConfig::eager());
    let clock = std::time::Instant::now();
    JitEvm::new(case.context().build_mainnet(), eager.handle()).transact(case.tx()).expect("valid transaction");
    let native = clock.elapsed();
    eprintln!(
        "interpreted {interpreted:.2?}, started interpreted then native {turned_native:.2?}, native {native:.2?}"
    );
    assert_eq!(got.result, expected.result);
    assert_eq!(got.state, expected.state);
    let frames = evm.frame_counts();
    assert_eq!((frames.native, frames.interpreted), (0, 1), "the frame started interpreted");
    let stats = runtime.handle().stats();
    assert_eq!(stats.loop_entries, 1, "the frame moved to native code mid-loop: {stats:?}");
    assert!(stats.compiled >= 1);
}

#[test]
#[cfg(feature = "llvm")]
fn a_loop_head_native_code_cannot_enter_leaves_the_frame_interpreted_and_exact() {
    // The jump back is dynamic (its target depends on CALLVALUE, which is 0), so its JUMPDEST
    // is no entry of native code: every attempt is handed back untouched.
    let code = asm::assemble("PUSH 0xffffffff loop: PUSH 1 SWAP1 SUB DUP1 CALLVALUE PUSH @loop ADD JUMPI STOP")
        .expect("assembles");
    let case = Case::call_code("dynamic loop", SpecId::CANCUN, code, Bytes::new(), 50_000_000);
    let expected = case.context().build_mainnet().transact(case.tx()).expect("valid transaction");
    let runtime = JitRuntime::new(JitConfig { hot_threshold: 0, wait_for_compile: None, ..JitConfig::default() });
    let mut evm = JitEvm::new(case.context().build_mainnet(), runtime.handle());
    let got = evm.transact(case.tx()).expect("valid transaction");
    assert_eq!((got.result, got.state), (expected.result, expected.state));
    let stats = runtime.handle().stats();
    assert_eq!(stats.loop_entries, 0, "no native run counted: {stats:?}");
}

#[test]
fn a_frame_whose_code_never_compiles_stays_interpreted_to_the_end() {
    let case = endless_loop(5_000_000);
    let expected = case.context().build_mainnet().transact(case.tx()).expect("valid transaction");
    // Not hot: nothing is queued, and the frame runs in the interpreter as always.
    let runtime = JitRuntime::new(JitConfig { hot_threshold: 8, wait_for_compile: None, ..JitConfig::default() });
    let mut evm = JitEvm::new(case.context().build_mainnet(), runtime.handle());
    let got = evm.transact(case.tx()).expect("valid transaction");
    assert_eq!((got.result, got.state), (expected.result, expected.state));
    assert_eq!(runtime.handle().stats().loop_entries, 0);
}
