//! A panic in the user's `Database` or `Inspector` while native code runs reaches the caller
//! as the same panic, as with plain revm. (Before builtins contained panics, the panic hit
//! an `extern "C"` boundary and aborted the process: this whole test binary would die, which
//! is why these tests live in a binary of their own.)

use revm::{
    Database, ExecuteEvm, InspectEvm, MainBuilder,
    context::{ContextTr, TxEnv},
    database::{CacheDB, EmptyDB},
    handler::MainnetContext,
    inspector::Inspector,
    interpreter::{Interpreter, interpreter::EthInterpreter},
    primitives::{Address, B256, Bytes, Log, StorageKey, StorageValue, U256, hardfork::SpecId},
    state::{AccountInfo, Bytecode},
};
use revm_jit::{InspectionMode, JitConfig, JitEvm, JitRuntime};
use revm_jit_cli::{asm, fixture::Case};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The storage slot whose read panics.
const TRAP: u64 = 0xdead;
const DB_PANIC: &str = "the database exploded";
const INSPECTOR_PANIC: &str = "the inspector exploded";

/// A database that panics when [`TRAP`] is read, as a database backed by a failing service
/// might.
#[derive(Debug)]
struct TrappedDb(CacheDB<EmptyDB>);

impl Database for TrappedDb {
    type Error = <CacheDB<EmptyDB> as Database>::Error;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        self.0.basic(address)
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        self.0.code_by_hash(code_hash)
    }

    fn storage(&mut self, address: Address, index: StorageKey) -> Result<StorageValue, Self::Error> {
        if index == U256::from(TRAP) {
            panic!("{DB_PANIC}");
        }
        self.0.storage(address, index)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        self.0.block_hash(number)
    }
}

/// A contract that stores, reads an ordinary slot, reads `slot`, and logs.
fn case(slot: u64) -> Case {
    let code =
        asm::assemble(&format!("PUSH 1 PUSH 1 SSTORE PUSH 2 SLOAD POP PUSH {slot} SLOAD POP PUSH 0 PUSH 0 LOG0 STOP"))
            .expect("assembles");
    Case::call_code("trap", SpecId::CANCUN, code, Bytes::new(), 1_000_000)
}

fn context(case: &Case) -> MainnetContext<TrappedDb> {
    let ctx = case.context();
    let mut trapped = MainnetContext::new(TrappedDb(case.db.clone()), case.spec);
    trapped.block = ctx.block.clone();
    trapped.cfg = ctx.cfg.clone();
    trapped
}

/// Runs `run`, which must unwind with the panic message `expected`.
fn assert_unwinds_with<R>(expected: &str, run: impl FnOnce() -> R) {
    let Err(payload) = catch_unwind(AssertUnwindSafe(run)) else { panic!("no panic; expected {expected:?}") };
    assert_eq!(revm_jit::compiler::panic_message(payload.as_ref()), expected);
}

#[test]
fn a_database_panic_during_native_code_reaches_the_caller() {
    let runtime = JitRuntime::new(JitConfig::eager());
    let trap = case(TRAP);
    // Plain revm: the panic unwinds to the caller.
    assert_unwinds_with(DB_PANIC, || context(&trap).build_mainnet().transact(trap.tx()));
    // The JitEvm: the same panic, from native code.
    let mut evm = JitEvm::new(context(&trap).build_mainnet(), runtime.handle());
    assert_unwinds_with(DB_PANIC, || evm.transact(trap.tx()));
    assert_eq!(evm.frame_counts().native, 1, "the panic must come from a native frame");
    // Nothing is left pending: the next transactions, native, run normally.
    let fine = case(3);
    let mut evm = JitEvm::new(context(&fine).build_mainnet(), runtime.handle());
    let expected = context(&fine).build_mainnet().transact(fine.tx()).expect("valid transaction");
    assert_eq!(evm.transact(fine.tx()).expect("valid transaction"), expected);
    assert_eq!(evm.frame_counts().native, 1);
}

/// An inspector whose `log_full` panics.
#[derive(Debug, Default)]
struct PanickingInspector;

impl<CTX: ContextTr> Inspector<CTX, EthInterpreter> for PanickingInspector {
    fn log_full(&mut self, _: &mut Interpreter<EthInterpreter>, _: &mut CTX, _: Log) {
        panic!("{INSPECTOR_PANIC}");
    }
}

#[test]
fn an_inspector_panic_during_native_code_reaches_the_caller() {
    let runtime = JitRuntime::new(JitConfig::eager());
    let case = case(3);
    let tx: TxEnv = case.tx();
    assert_unwinds_with(INSPECTOR_PANIC, || {
        context(&case).build_mainnet_with_inspector(PanickingInspector).inspect_tx(tx.clone())
    });
    let mut evm = JitEvm::new(context(&case).build_mainnet_with_inspector(PanickingInspector), runtime.handle());
    evm.set_inspection_mode(InspectionMode::Native);
    assert_unwinds_with(INSPECTOR_PANIC, || evm.inspect_tx(tx.clone()));
    assert_eq!(evm.frame_counts().native, 1, "the panic must come from a native frame");
    // And the database panic under inspection too.
    let trap = self::case(TRAP);
    let mut evm =
        JitEvm::new(context(&trap).build_mainnet_with_inspector(revm::inspector::NoOpInspector), runtime.handle());
    evm.set_inspection_mode(InspectionMode::Native);
    assert_unwinds_with(DB_PANIC, || evm.inspect_tx(trap.tx()));
    assert_eq!(evm.frame_counts().native, 1);
}
