//! Code identity: compiled code is cached only under the keccak hash of the bytes it was
//! compiled from, and runs only on frames whose bytecode is exactly those bytes, whatever
//! code hash the database claims for an account.

use revm::{
    ExecuteEvm, MainBuilder,
    context::result::ResultAndState,
    database::{CacheDB, EmptyDB},
    primitives::{Address, Bytes, address, hardfork::SpecId, keccak256},
    state::{AccountInfo, Bytecode},
};
use revm_jit::{CompileError, JitConfig, JitEvm, JitRuntime};
use revm_jit_cli::{asm, fixture, fixture::Case};
use std::time::Duration;

const HONEST: Address = address!("0x2000000000000000000000000000000000000002");
const LIAR: Address = address!("0x3000000000000000000000000000000000000003");

/// The honest contract: a loop (dynamic control flow, jump destinations that matter), a
/// store, and a return of the loop's count.
fn honest_code() -> Bytes {
    asm::assemble(
        "PUSH 5
         loop: PUSH 1 SWAP1 SUB DUP1 PUSH @loop JUMPI
         PUSH 7 PUSH 1 SSTORE
         PUSH 0x2a PUSH 0 MSTORE PUSH 32 PUSH 0 RETURN",
    )
    .expect("assembles")
}

/// Other code of the same length, with its jump destinations elsewhere: what the liar
/// account really runs.
fn other_code() -> Bytes {
    let honest = honest_code();
    let mut code = asm::assemble("PUSH 9 PUSH 2 SSTORE PUSH 0x63 PUSH 0 MSTORE PUSH 32 PUSH 0 RETURN")
        .expect("assembles")
        .to_vec();
    assert!(code.len() < honest.len());
    // Pad with JUMPDESTs after the RETURN, where the honest code's loop target lies.
    code.resize(honest.len(), 0x5b);
    Bytes::from(code)
}

/// A database where `HONEST` holds `honest_code()` and `LIAR` holds `other_code()` but claims
/// the honest code's hash.
fn db() -> CacheDB<EmptyDB> {
    let mut db = CacheDB::new(EmptyDB::default());
    fixture::fund(&mut db, fixture::DEFAULT_CALLER);
    fixture::deploy(&mut db, HONEST, honest_code(), &[]);
    let code = Bytecode::new_raw(other_code());
    let info = AccountInfo { code_hash: keccak256(honest_code()), code: Some(code), nonce: 1, ..Default::default() };
    db.insert_account_info(LIAR, info);
    // The liar's info really carries the wrong hash with its own code.
    let stored = &db.cache.accounts[&LIAR].info;
    assert_eq!(stored.code_hash, keccak256(honest_code()));
    assert_eq!(stored.code.as_ref().map(|c| c.original_bytes()), Some(other_code()));
    db
}

fn case(target: Address) -> Case {
    Case::call(format!("{target}"), SpecId::CANCUN, db(), target, Bytes::new(), 1_000_000)
}

fn interpreted(case: &Case) -> ResultAndState {
    case.context().build_mainnet().transact(case.tx()).expect("valid transaction")
}

/// Runs `case` on `runtime`; returns the result and state, and how many frames ran native.
fn run(runtime: &JitRuntime, case: &Case) -> (ResultAndState, u64) {
    let mut evm = JitEvm::new(case.context().build_mainnet(), runtime.handle());
    let result = evm.transact(case.tx()).expect("valid transaction");
    (result, evm.frame_counts().native)
}

fn runtimes() -> Vec<(&'static str, JitRuntime)> {
    vec![
        ("eager", JitRuntime::new(JitConfig::eager())),
        (
            "background",
            JitRuntime::new(JitConfig {
                hot_threshold: 0,
                wait_for_compile: Some(Duration::from_secs(5)),
                ..JitConfig::default()
            }),
        ),
    ]
}

/// The liar runs first: its code must not be compiled into the cache under the honest
/// hash, so the honest contract, run next, gets its own code.
#[test]
fn a_lying_code_hash_runs_interpreted_and_poisons_nothing() {
    let (honest, liar) = (case(HONEST), case(LIAR));
    let (honest_expected, liar_expected) = (interpreted(&honest), interpreted(&liar));
    assert_ne!(honest_expected.result.output(), liar_expected.result.output(), "the two codes must differ");
    for (mode, runtime) in runtimes() {
        for round in 0..2 {
            let (result, native) = run(&runtime, &liar);
            assert_eq!(result, liar_expected, "{mode} round {round}: the liar differs from the interpreter");
            assert_eq!(native, 0, "{mode} round {round}: the liar ran native code");
            let (result, native) = run(&runtime, &honest);
            assert_eq!(result, honest_expected, "{mode} round {round}: the honest contract differs");
            assert_eq!(native, 1, "{mode} round {round}: the honest contract did not run native code");
        }
        let stats = runtime.handle().stats();
        assert_eq!((stats.compiled, stats.failed), (1, 0), "{mode}: {stats:?}");
        assert!(stats.code_mismatches > 0, "{mode}: {stats:?}");
        let handle = runtime.handle();
        assert!(handle.compile_failure(keccak256(honest_code()), SpecId::CANCUN).is_none(), "{mode}");
    }
}

/// The honest contract runs first and its code is cached: the liar, which claims its hash,
/// must still run its own code, and both must go on doing so within one transaction too.
#[test]
fn cached_code_never_runs_on_other_bytes() {
    let (honest, liar) = (case(HONEST), case(LIAR));
    for (mode, runtime) in runtimes() {
        assert_eq!(run(&runtime, &honest), (interpreted(&honest), 1), "{mode}");
        for _ in 0..2 {
            assert_eq!(run(&runtime, &liar), (interpreted(&liar), 0), "{mode}");
            assert_eq!(run(&runtime, &honest), (interpreted(&honest), 1), "{mode}");
        }
    }
    // One transaction calling both, twice each: the per-transaction list of recent code must
    // tell them apart too.
    let caller = asm::assemble(&format!(
        "PUSH 32 PUSH 0 PUSH 0 PUSH 0 PUSH 0 PUSH {HONEST} GAS CALL POP
         PUSH 32 PUSH 32 PUSH 0 PUSH 0 PUSH 0 PUSH {LIAR} GAS CALL POP
         PUSH 32 PUSH 64 PUSH 0 PUSH 0 PUSH 0 PUSH {HONEST} GAS CALL POP
         PUSH 32 PUSH 96 PUSH 0 PUSH 0 PUSH 0 PUSH {LIAR} GAS CALL POP
         PUSH 128 PUSH 0 RETURN"
    ))
    .expect("assembles");
    let mut db = db();
    fixture::deploy(&mut db, fixture::DEFAULT_TARGET, caller, &[]);
    let both = Case::call("both", SpecId::CANCUN, db, fixture::DEFAULT_TARGET, Bytes::new(), 1_000_000);
    let expected = interpreted(&both);
    let output = expected.result.output().expect("returns").clone();
    assert_eq!((output[31], output[63], output[95], output[127]), (0x2a, 0x63, 0x2a, 0x63));
    for (mode, runtime) in runtimes() {
        assert_eq!(run(&runtime, &both), (expected.clone(), 3), "{mode}: caller and honest twice native");
    }
}

/// Compiling under a hash that is not the code's is refused with a typed error, and records
/// nothing under either hash.
#[test]
fn compile_now_refuses_a_hash_that_is_not_the_codes() {
    let runtime = JitRuntime::new(JitConfig::eager());
    let handle = runtime.handle();
    let claimed = keccak256(honest_code());
    let error = handle.compile_now((claimed, SpecId::CANCUN), &other_code()).expect_err("mismatched hash");
    assert!(
        matches!(error, CompileError::CodeHashMismatch { claimed: c, actual } if c == claimed && actual == keccak256(other_code())),
        "{error}"
    );
    assert!(handle.compile_failure(claimed, SpecId::CANCUN).is_none());
    let stats = handle.stats();
    assert_eq!((stats.compiled, stats.failed, stats.cached_entries), (0, 0, 0), "{stats:?}");
    let compiled = handle.compile_now((claimed, SpecId::CANCUN), &honest_code()).expect("compiles");
    assert!(compiled.is_compiled_from(&honest_code()));
    assert!(!compiled.is_compiled_from(&other_code()), "same length, other bytes");
    assert!(!compiled.is_compiled_from(&honest_code()[1..]));
    assert!(!compiled.is_compiled_from(&[]));
}

/// `run_native` given code compiled from other bytes than the frame's runs the frame in the
/// interpreter instead: same result as the interpreter, no undefined behaviour.
#[test]
fn run_native_refuses_code_compiled_from_other_bytes() {
    use revm::{
        handler::{EvmTr, instructions::InstructionProvider},
        interpreter::{InputsImpl, Interpreter, InterpreterAction, SharedMemory, interpreter::ExtBytecode},
    };
    let looping = asm::assemble(
        "PUSH 5 loop: PUSH 1 SWAP1 SUB DUP1 PUSH @loop JUMPI PUSH 0x2a PUSH 0 MSTORE PUSH 32 PUSH 0 RETURN",
    )
    .expect("assembles");
    let mut other = asm::assemble("PUSH 0x63 PUSH 0 MSTORE PUSH 32 PUSH 0 RETURN").expect("assembles").to_vec();
    other.resize(looping.len(), 0x5b);
    let other = Bytes::from(other);
    let runtime = JitRuntime::new(JitConfig::eager());
    let compiled = runtime.handle().compile_now((keccak256(&looping), SpecId::CANCUN), &looping).expect("compiles");
    let run = |code: &Bytes, native: bool| {
        let mut evm = case(HONEST).context().build_mainnet();
        let (ctx, instructions, _, _) = evm.all_mut();
        // The frame claims the compiled code's hash, whatever its bytes.
        let bytecode = ExtBytecode::new_with_hash(Bytecode::new_raw(code.clone()), keccak256(&looping));
        let inputs = InputsImpl { target_address: HONEST, ..Default::default() };
        let mut interpreter = Interpreter::new(SharedMemory::new(), bytecode, inputs, false, SpecId::CANCUN, 100_000);
        let (table, gas_table) = (instructions.instruction_table(), instructions.gas_table());
        let action = if native {
            revm_jit::evm::run_native(&compiled, &mut interpreter, ctx, table, gas_table)
        } else {
            interpreter.run_plain(table, gas_table, ctx)
        };
        match action {
            InterpreterAction::Return(result) => (result.result, result.output, result.gas.remaining()),
            other => panic!("unexpected action {other:?}"),
        }
    };
    assert_eq!(run(&other, true), run(&other, false));
    assert_eq!(run(&other, true).1[31], 0x63);
    assert_eq!(run(&looping, true), run(&looping, false));
    assert_eq!(run(&looping, true).1[31], 0x2a);
}
