//! Inspectors on a `JitEvm`: the inspected traits, the two inspection modes, and trace
//! equality between native and interpreted frames (revm-inspectors' `TracingInspector` as a
//! geth call tracer with logs and as parity traces, plus a hook-recording inspector).

use revm::{
    Context, ExecuteEvm, InspectCommitEvm, InspectEvm, InspectSystemCallEvm, MainBuilder, MainContext,
    context::TxEnv,
    database::{CacheDB, EmptyDB},
    handler::SystemCallEvm,
    inspector::Inspector,
    interpreter::{Interpreter, interpreter::EthInterpreter, interpreter_types::Jumps},
    primitives::{Address, Bytes, U256, address, hardfork::SpecId},
    state::{AccountInfo, Bytecode},
};
use revm_jit::{InspectionMode, JitConfig, JitEvm, JitRuntime};
use revm_jit_cli::{
    asm,
    fixture::{self, Case},
    traces::{HookCounter, record_interpreted, record_native},
};
use std::path::PathBuf;

const CALLER: Address = address!("0x1000000000000000000000000000000000000001");
const TARGET: Address = address!("0x2000000000000000000000000000000000000002");
const LOGGER: Address = address!("0x3000000000000000000000000000000000000003");
const REVERTER: Address = address!("0x4000000000000000000000000000000000000004");
const DESTRUCTOR: Address = address!("0x5000000000000000000000000000000000000005");
const BENEFICIARY: Address = address!("0x6000000000000000000000000000000000000006");

/// Forks with REVERT (Byzantium) and every selfdestruct rule before and after EIP-6780.
const FORKS: &[SpecId] = &[
    SpecId::BYZANTIUM,
    SpecId::ISTANBUL,
    SpecId::LONDON,
    SpecId::SHANGHAI,
    SpecId::CANCUN,
    SpecId::PRAGUE,
    SpecId::OSAKA,
];

fn code(source: &str) -> Bytes {
    asm::assemble(source).expect("test program assembles")
}

fn account(db: &mut CacheDB<EmptyDB>, address: Address, balance: u64, code: Bytes) {
    let info =
        AccountInfo { balance: U256::from(balance), nonce: 1, ..AccountInfo::from_bytecode(Bytecode::new_raw(code)) };
    db.insert_account_info(address, info);
}

/// A transaction that logs with every LOG opcode, calls a contract that logs, one that logs
/// and reverts, one that selfdestructs with value, creates a contract whose init code logs,
/// and logs again: every hook an inspector of native frames must receive.
fn everything_case(spec: SpecId) -> Case {
    let target = code(&format!(
        "PUSH 0x1234 PUSH 0 MSTORE
         PUSH 32 PUSH 0 LOG0
         PUSH 1 PUSH 32 PUSH 0 LOG1
         PUSH 2 PUSH 1 PUSH 32 PUSH 0 LOG2
         PUSH 3 PUSH 2 PUSH 1 PUSH 32 PUSH 0 LOG3
         PUSH 4 PUSH 3 PUSH 2 PUSH 1 PUSH 32 PUSH 0 LOG4
         PUSH 0 PUSH 0 PUSH 0 PUSH 0 PUSH 0 PUSH {LOGGER} GAS CALL POP
         PUSH 0 PUSH 0 PUSH 0 PUSH 0 PUSH 0 PUSH {REVERTER} GAS CALL POP
         PUSH 0 PUSH 0 PUSH 0 PUSH 0 PUSH 5 PUSH {DESTRUCTOR} GAS CALL POP
         PUSH 0x600960006000a160006000f3 PUSH 0 MSTORE
         PUSH 12 PUSH 20 PUSH 0 CREATE POP
         PUSH 0xff PUSH 32 PUSH 0 LOG1
         STOP"
    ));
    let logger = code("PUSH 0xaa PUSH 0 MSTORE PUSH 7 PUSH 8 PUSH 32 PUSH 0 LOG2 STOP");
    let reverter = code("PUSH 1 PUSH 0 PUSH 0 LOG1 PUSH 0 PUSH 0 REVERT");
    let destructor = code(&format!("PUSH {BENEFICIARY} SELFDESTRUCT"));
    let mut db = CacheDB::new(EmptyDB::default());
    fixture::fund(&mut db, fixture::DEFAULT_CALLER);
    account(&mut db, TARGET, 1_000, target);
    account(&mut db, LOGGER, 0, logger);
    account(&mut db, REVERTER, 0, reverter);
    account(&mut db, DESTRUCTOR, 77, destructor);
    Case::call("everything", spec, db, TARGET, Bytes::new(), 1_000_000)
}

fn eager_runtime() -> JitRuntime {
    JitRuntime::new(JitConfig::eager())
}

#[test]
fn native_frames_are_traced_like_interpreted_ones() {
    let runtime = eager_runtime();
    for &spec in FORKS {
        let case = everything_case(spec);
        let reference = record_interpreted(case.context(), case.tx()).expect("reference run");
        // The reference must contain what this test is about, or equality would prove nothing.
        let hooks = &reference.hooks;
        assert_eq!(hooks.logs.len(), 9, "{spec:?}: 5 + logger + reverted + init code + final");
        assert_eq!(hooks.selfdestructs, vec![(DESTRUCTOR, BENEFICIARY, U256::from(82))], "{spec:?}");
        assert_eq!((hooks.calls.len(), hooks.creates.len()), (4, 1), "{spec:?}");
        let (native, frames) = record_native(case.context(), case.tx(), runtime.handle()).expect("native run");
        assert_eq!(frames.interpreted, 0, "{spec:?}: every frame must run native");
        assert_eq!(frames.native, 5, "{spec:?}: target, logger, reverter, destructor, init code");
        if let Some(difference) = reference.difference(&native) {
            panic!("{spec:?}: {difference}");
        }
    }
}

/// Native code hands frames to the interpreter when a section's gas check fails; logs that
/// the interpreted remainder emits must reach the inspector too. Sweeping the callee's gas
/// makes it run out at every point, before, between and after its logs. The hand-offs are
/// counted ([`revm_jit::StatsSnapshot::handoffs`]).
#[test]
fn logs_after_a_hand_back_to_the_interpreter_are_reported() {
    let runtime = eager_runtime();
    let target = code(&format!("PUSH 0 PUSH 0 PUSH 0 PUSH 0 PUSH 0 PUSH {LOGGER} PUSH 0 CALLDATALOAD CALL POP STOP"));
    let logger = code(
        "PUSH 0 PUSH 0 LOG0
         PUSH 1 PUSH 2 ADD PUSH 0 MSTORE
         PUSH 9 PUSH 32 PUSH 0 LOG1
         PUSH 1 PUSH 1 PUSH 1 PUSH 1 ADD ADD ADD POP
         PUSH 8 PUSH 9 PUSH 32 PUSH 0 LOG2
         STOP",
    );
    let mut db = CacheDB::new(EmptyDB::default());
    fixture::fund(&mut db, fixture::DEFAULT_CALLER);
    account(&mut db, TARGET, 0, target);
    account(&mut db, LOGGER, 0, logger);
    let mut seen_partial = false;
    for gas in (0..3_000u64).step_by(7) {
        let case = Case::call(
            "hand-back",
            SpecId::CANCUN,
            db.clone(),
            TARGET,
            U256::from(gas).to_be_bytes_vec().into(),
            100_000,
        );
        let reference = record_interpreted(case.context(), case.tx()).expect("reference run");
        let (native, frames) = record_native(case.context(), case.tx(), runtime.handle()).expect("native run");
        assert_eq!(frames.interpreted, 0);
        seen_partial |= (1..3).contains(&reference.hooks.logs.len());
        if let Some(difference) = reference.difference(&native) {
            panic!("callee gas {gas}: {difference}");
        }
    }
    assert!(seen_partial, "the sweep never stopped the callee between its logs");
    // Inspected native runs count their hand-offs like uninspected ones.
    let stats = runtime.handle().stats();
    assert!(stats.handoffs > 0, "no hand-off counted: {stats:?}");
}

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bench-fixtures")
}

#[test]
fn bench_fixtures_are_traced_like_the_interpreter() {
    let runtime = eager_runtime();
    let files = fixture::fixture_files(&fixtures_dir()).expect("the bench fixtures in ../shared");
    assert!(!files.is_empty());
    let mut cases = 0;
    for file in files {
        for case in fixture::load_file(&file, None).expect("fixture loads") {
            let reference = record_interpreted(case.context(), case.tx()).expect("reference run");
            let (native, frames) = record_native(case.context(), case.tx(), runtime.handle()).expect("native run");
            assert!(frames.native > 0 && frames.interpreted == 0, "{}: {frames:?}", case.name);
            if let Some(difference) = reference.difference(&native) {
                panic!("{}: {difference}", case.name);
            }
            cases += 1;
        }
    }
    assert!(cases >= 10, "only {cases} fixture cases");
}

/// Counts `step` and `step_end` hooks, the ones native code cannot deliver.
#[derive(Debug, Default)]
struct StepCounter {
    steps: u64,
    step_ends: u64,
    opcodes: Vec<u8>,
}

impl<CTX> Inspector<CTX, EthInterpreter> for StepCounter {
    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, _context: &mut CTX) {
        self.steps += 1;
        self.opcodes.push(interp.bytecode.opcode());
    }

    fn step_end(&mut self, _interp: &mut Interpreter<EthInterpreter>, _context: &mut CTX) {
        self.step_ends += 1;
    }
}

/// By default an inspected transaction runs interpreted, so a step-level inspector sees every
/// instruction even though compiled code is available; in native mode it sees none of the
/// native ones, as documented.
#[test]
fn step_hooks_are_kept_by_default_and_dropped_in_native_mode() {
    let runtime = eager_runtime();
    let case = everything_case(SpecId::CANCUN);
    let mut plain = case.context().build_mainnet_with_inspector(StepCounter::default());
    let expected = plain.inspect_one_tx(case.tx()).expect("valid transaction");
    assert!(plain.inspector.steps > 50);

    let mut evm = JitEvm::new(case.context().build_mainnet_with_inspector(StepCounter::default()), runtime.handle());
    assert_eq!(evm.inspection_mode(), InspectionMode::Interpreted);
    let result = evm.inspect_one_tx(case.tx()).expect("valid transaction");
    assert_eq!(result, expected);
    assert_eq!(evm.frame_counts().native, 0);
    let counter = &evm.inner().inspector;
    assert_eq!((counter.steps, counter.step_ends), (plain.inspector.steps, plain.inspector.step_ends));
    assert_eq!(counter.opcodes, plain.inspector.opcodes);

    let mut evm = JitEvm::new(case.context().build_mainnet_with_inspector(StepCounter::default()), runtime.handle());
    evm.set_inspection_mode(InspectionMode::Native);
    let result = evm.inspect_one_tx(case.tx()).expect("valid transaction");
    assert_eq!(result, expected);
    assert_eq!(evm.frame_counts().native, 5);
    assert_eq!(evm.inner().inspector.steps, 0);
}

/// Uninspected transactions on an inspector-carrying JitEvm run native and call no hook,
/// like `transact` on a plain `Evm` with an inspector.
#[test]
fn transact_ignores_the_inspector() {
    let runtime = eager_runtime();
    let case = everything_case(SpecId::CANCUN);
    let mut evm = JitEvm::new(case.context().build_mainnet_with_inspector(HookCounter::default()), runtime.handle());
    let result = evm.transact(case.tx()).expect("valid transaction");
    let expected = case.context().build_mainnet().transact(case.tx()).expect("valid transaction");
    assert_eq!(result, expected);
    assert_eq!(evm.frame_counts().native, 5);
    assert_eq!(evm.inner().inspector, HookCounter::default());
}

/// A disabled JitEvm inspects exactly like revm, whatever the inspection mode.
#[test]
fn disabled_jit_evm_inspects_like_revm() {
    let runtime = eager_runtime();
    let case = everything_case(SpecId::PRAGUE);
    let mut plain = case.context().build_mainnet_with_inspector(HookCounter::default());
    let expected = plain.inspect_tx(case.tx()).expect("valid transaction");
    let mut evm = JitEvm::new(case.context().build_mainnet_with_inspector(HookCounter::default()), runtime.handle());
    evm.set_enabled(false);
    evm.set_inspection_mode(InspectionMode::Native);
    let result = evm.inspect_tx(case.tx()).expect("valid transaction");
    assert_eq!(result.result, expected.result);
    assert_eq!(result.state, expected.state);
    assert_eq!(evm.frame_counts().native, 0);
    assert_eq!(evm.inner().inspector, plain.inspector);
}

/// `set_inspector`, `inspect_commit` and `inspect_tx_commit` behave as on a plain `Evm`:
/// the second transaction sees the first one's committed storage.
#[test]
fn inspect_commit_commits_like_revm() {
    let runtime = eager_runtime();
    // Adds the calldata word to slot 0 and logs the new value.
    let counter =
        code("PUSH 0 CALLDATALOAD PUSH 0 SLOAD ADD DUP1 PUSH 0 SSTORE PUSH 0 MSTORE PUSH 32 PUSH 0 LOG0 STOP");
    let mut db = CacheDB::new(EmptyDB::default());
    fixture::fund(&mut db, fixture::DEFAULT_CALLER);
    account(&mut db, TARGET, 0, counter);
    let case = Case::call("counter", SpecId::CANCUN, db, TARGET, U256::from(5).to_be_bytes_vec().into(), 100_000);
    let tx = |nonce: u64| TxEnv { nonce, ..case.tx() };

    let mut plain = case.context().build_mainnet_with_inspector(HookCounter::default());
    let mut evm = JitEvm::new(case.context().build_mainnet_with_inspector(HookCounter::default()), runtime.handle());
    evm.set_inspection_mode(InspectionMode::Native);
    assert_eq!(evm.inspect_tx_commit(tx(0)).unwrap(), plain.inspect_tx_commit(tx(0)).unwrap());
    assert_eq!(
        evm.inspect_commit(tx(1), HookCounter::default()).unwrap(),
        plain.inspect_commit(tx(1), HookCounter::default()).unwrap()
    );
    assert_eq!(evm.inner().inspector, plain.inspector);
    let logged = &evm.inner().inspector.logs;
    assert_eq!(logged.len(), 1);
    assert_eq!(U256::from_be_slice(&logged[0].data.data), U256::from(10), "the second transaction saw the first");
    assert_eq!(evm.frame_counts().native, 2);
}

/// EIP-2935's history contract, as deployed on mainnet: called by the system address it
/// stores the parent block hash, otherwise it serves stored hashes.
const HISTORY_CONTRACT: Address = address!("0x0000F90827F1C53a10cb7A02335B175320002935");
const HISTORY_CODE: &str = "3373fffffffffffffffffffffffffffffffffffffffe14604657602036036042575f35600143038111604257611fff81430311604257611fff9006545f5260205ff35b5f5ffd5b5f35611fff60014303065500";

fn history_context() -> revm::handler::MainnetContext<CacheDB<EmptyDB>> {
    let mut db = CacheDB::new(EmptyDB::default());
    let code: Bytes = revm::primitives::hex::decode(HISTORY_CODE).expect("hex").into();
    db.insert_account_info(HISTORY_CONTRACT, AccountInfo::from_bytecode(Bytecode::new_raw(code)));
    Context::mainnet().modify_block_chained(|b| b.number = U256::from(5)).with_db(db)
}

#[test]
fn system_calls_run_native_and_match_revm() {
    let runtime = eager_runtime();
    let parent_hash = Bytes::from(vec![0x11; 32]);

    let mut plain = history_context().build_mainnet();
    let expected = plain.system_call(HISTORY_CONTRACT, parent_hash.clone()).expect("system call");
    let mut evm = JitEvm::new(history_context().build_mainnet(), runtime.handle());
    let got = evm.system_call(HISTORY_CONTRACT, parent_hash.clone()).expect("system call");
    assert_eq!(got.result, expected.result);
    assert_eq!(got.state, expected.state);
    assert!(got.result.is_success());
    assert_eq!(evm.frame_counts().native, 1);

    // Inspected, with the caller that the contract treats as an ordinary user: it reverts.
    let mut plain = history_context().build_mainnet_with_inspector(HookCounter::default());
    let expected =
        plain.inspect_system_call_with_caller(CALLER, HISTORY_CONTRACT, Bytes::from(vec![0; 32])).expect("call");
    let mut evm = JitEvm::new(history_context().build_mainnet_with_inspector(HookCounter::default()), runtime.handle());
    evm.set_inspection_mode(InspectionMode::Native);
    let got = evm.inspect_system_call_with_caller(CALLER, HISTORY_CONTRACT, Bytes::from(vec![0; 32])).expect("call");
    assert_eq!(got.result, expected.result);
    assert_eq!(got.state, expected.state);
    assert_eq!(evm.inner().inspector, plain.inspector);
    assert_eq!(evm.inner().inspector.calls.len(), 1);
    assert_eq!(evm.frame_counts().native, 1);
}
