//! Frame-level comparator: one frame of code run by revm's interpreter (`run_plain`) and as
//! native code (`run_native`) on identical, freshly built interpreter and host state, then
//! every observable part of the result compared.
//!
//! Compared: the returned action (result, output and the whole `Gas`, or for a new frame the
//! whole frame input), the final stack, memory, the interpreter's `Gas` (remaining, refunded,
//! memory words, reservoir), the return-data buffer, and the host's journal (state, journal
//! entries, logs, transient storage, warm addresses).

use revm::{
    Context, MainContext,
    bytecode::Bytecode,
    context::{BlockEnv, CfgEnv, Journal, JournalTr, TxEnv, journal::warm_addresses::WarmAddresses},
    context_interface::block::BlobExcessGasAndPrice,
    database::{CacheDB, EmptyDB},
    handler::{MainnetContext, instructions::EthInstructions},
    interpreter::{
        CallInput, Gas, InputsImpl, InstructionResult, Interpreter, InterpreterAction, SharedMemory,
        interpreter::{EthInterpreter, ExtBytecode},
        interpreter_types::ReturnData,
    },
    primitives::{Address, B256, Bytes, U256, address, hardfork::SpecId, hex, keccak256},
    state::{AccountInfo, EvmState},
};
use revm_jit::{CompiledFn, Compiler, CompilerConfig, OptLevel};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;

/// Origin and caller of the frame.
pub(crate) const FRAME_CALLER: Address = super::CALLER;
/// Account whose code the frame runs.
pub(crate) const FRAME_TARGET: Address = super::TARGET;
/// An existing account with code (for EXTCODE*, BALANCE, CALL).
pub(crate) const FRAME_OTHER: Address = super::OTHER;
/// Block beneficiary.
pub(crate) const COINBASE: Address = address!("0xc000000000000000000000000000000000000c0b");

/// Code deployed at [`FRAME_OTHER`] (returns the word 42); its size, hash and bytes matter.
pub(crate) const OTHER_CODE: &[u8] = &[0x60, 0x2a, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3];

type Ctx = MainnetContext<CacheDB<EmptyDB>>;
type Instructions = EthInstructions<EthInterpreter, Ctx>;

/// The levels every frame is compared at: the optimising tier's code (`i256` words, register
/// mode) and the baseline tier's limb code, two different code generators.
pub(crate) const LEVELS: [OptLevel; 2] = [OptLevel::Default, OptLevel::Baseline];

thread_local! {
    /// One compiler per level of [`LEVELS`].
    static COMPILERS: RefCell<Vec<Compiler>> = RefCell::new(
        LEVELS
            .iter()
            .map(|&opt_level| {
                Compiler::new(CompilerConfig { opt_level, ..CompilerConfig::default() }).expect("LLVM target available")
            })
            .collect(),
    );
    /// Compiled code by (code, spec, level): gas sweeps run the same code many times.
    static CACHE: RefCell<HashMap<(Bytes, SpecId, OptLevel), CompiledFn>> = RefCell::new(HashMap::new());
}

/// Compiles `code` for `spec` at `level` (one of [`LEVELS`]) with this thread's compiler
/// (cached per thread).
pub(crate) fn compile(code: &Bytes, spec: SpecId, level: OptLevel) -> CompiledFn {
    let key = (code.clone(), spec, level);
    if let Some(f) = CACHE.with(|c| c.borrow().get(&key).cloned()) {
        return f;
    }
    let index = LEVELS.iter().position(|&l| l == level).expect("one of LEVELS");
    let f = COMPILERS
        .with(|c| c.borrow_mut()[index].compile(code, spec))
        .unwrap_or_else(|e| panic!("compiling 0x{} for {spec:?} at {level:?} failed: {e}", hex::encode(code)));
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= 64 {
            cache.clear();
        }
        cache.insert(key, f.clone());
    });
    f
}

/// One frame to run in both modes.
#[derive(Clone, Debug)]
pub(crate) struct FrameTest {
    pub code: Bytes,
    pub spec: SpecId,
    pub gas: u64,
    pub calldata: Bytes,
    pub is_static: bool,
    pub value: U256,
    /// Storage of [`FRAME_TARGET`] in the database.
    pub storage: Vec<(U256, U256)>,
    /// Items on the stack when the frame starts (bottom first); real frames start empty.
    pub stack: Vec<U256>,
    /// Contents of the return-data buffer when the frame starts.
    pub return_data: Bytes,
    /// Call depth recorded in the frame's inputs.
    pub depth: usize,
    /// A free-form label printed on mismatch.
    pub label: String,
}

impl FrameTest {
    pub(crate) fn new(code: impl Into<Bytes>) -> Self {
        Self {
            code: code.into(),
            spec: SpecId::OSAKA,
            gas: 1_000_000,
            calldata: Bytes::new(),
            is_static: false,
            value: U256::ZERO,
            storage: Vec::new(),
            stack: Vec::new(),
            return_data: Bytes::new(),
            depth: 0,
            label: String::new(),
        }
    }

    pub(crate) fn spec(mut self, spec: SpecId) -> Self {
        self.spec = spec;
        self
    }

    pub(crate) fn gas(mut self, gas: u64) -> Self {
        self.gas = gas;
        self
    }

    pub(crate) fn calldata(mut self, data: impl Into<Bytes>) -> Self {
        self.calldata = data.into();
        self
    }

    pub(crate) fn static_frame(mut self, is_static: bool) -> Self {
        self.is_static = is_static;
        self
    }

    pub(crate) fn value(mut self, value: U256) -> Self {
        self.value = value;
        self
    }

    pub(crate) fn storage(mut self, slots: &[(u64, u64)]) -> Self {
        self.storage = slots.iter().map(|&(k, v)| (U256::from(k), U256::from(v))).collect();
        self
    }

    pub(crate) fn stack(mut self, items: Vec<U256>) -> Self {
        self.stack = items;
        self
    }

    pub(crate) fn return_data(mut self, data: impl Into<Bytes>) -> Self {
        self.return_data = data.into();
        self
    }

    pub(crate) fn depth(mut self, depth: usize) -> Self {
        self.depth = depth;
        self
    }

    pub(crate) fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// A one-line description for failure messages.
    pub(crate) fn describe(&self) -> String {
        let mut s = format!(
            "spec={:?} gas={} static={} code=0x{}",
            self.spec,
            self.gas,
            self.is_static,
            hex::encode(&self.code)
        );
        if !self.calldata.is_empty() {
            let _ = write!(s, " calldata=0x{}", hex::encode(&self.calldata));
        }
        if !self.stack.is_empty() {
            let _ = write!(s, " initial_stack_len={}", self.stack.len());
        }
        if !self.label.is_empty() {
            let _ = write!(s, " [{}]", self.label);
        }
        s
    }

    fn db(&self) -> CacheDB<EmptyDB> {
        let mut db = CacheDB::new(EmptyDB::default());
        db.insert_account_info(
            FRAME_CALLER,
            AccountInfo { balance: U256::from(10u128.pow(24)), nonce: 1, ..Default::default() },
        );
        db.insert_account_info(
            FRAME_TARGET,
            AccountInfo {
                balance: U256::from(1_000_000u64),
                nonce: 1,
                code_hash: keccak256(&self.code),
                code: Some(Bytecode::new_raw(self.code.clone())),
                ..Default::default()
            },
        );
        for (k, v) in &self.storage {
            db.insert_account_storage(FRAME_TARGET, *k, *v).expect("cache db");
        }
        let other = Bytes::from_static(OTHER_CODE);
        db.insert_account_info(
            FRAME_OTHER,
            AccountInfo {
                balance: U256::from(77u64),
                nonce: 1,
                code_hash: keccak256(&other),
                code: Some(Bytecode::new_raw(other)),
                ..Default::default()
            },
        );
        db.insert_account_storage(FRAME_OTHER, U256::from(1), U256::from(5)).expect("cache db");
        db
    }

    fn host(&self) -> Ctx {
        let spec = self.spec;
        let mut ctx = Context::mainnet()
            .with_db(self.db())
            .modify_cfg_chained(|cfg: &mut CfgEnv| {
                cfg.set_spec_and_mainnet_gas_params(spec);
                cfg.chain_id = 1337;
            })
            .modify_block_chained(|block: &mut BlockEnv| {
                block.number = U256::from(1000);
                block.beneficiary = COINBASE;
                block.timestamp = U256::from(1_700_000_000u64);
                block.gas_limit = 30_000_000;
                block.basefee = 7;
                block.difficulty = U256::from(0x2000_0000u64);
                block.prevrandao = Some(B256::repeat_byte(0x42));
                block.blob_excess_gas_and_price = Some(BlobExcessGasAndPrice::new(0x40000, 3_338_477));
            })
            .modify_tx_chained(|tx: &mut TxEnv| {
                tx.caller = FRAME_CALLER;
                tx.gas_price = 9;
                tx.gas_limit = 30_000_000;
                // An EIP-4844 transaction, so BLOBHASH sees its hashes.
                tx.tx_type = 3;
                tx.gas_priority_fee = Some(2);
                tx.blob_hashes = vec![B256::repeat_byte(0x01), B256::repeat_byte(0x02)];
            });
        let journal: &mut Journal<CacheDB<EmptyDB>> = &mut ctx.journaled_state;
        journal.load_account(FRAME_CALLER).expect("cache db");
        journal.load_account(FRAME_TARGET).expect("cache db");
        ctx
    }

    fn interpreter(&self) -> Interpreter<EthInterpreter> {
        let input = InputsImpl {
            target_address: FRAME_TARGET,
            bytecode_address: Some(FRAME_TARGET),
            caller_address: FRAME_CALLER,
            input: CallInput::Bytes(self.calldata.clone()),
            call_value: self.value,
            depth: self.depth,
        };
        let mut interpreter = Interpreter::new(
            SharedMemory::new(),
            ExtBytecode::new(Bytecode::new_raw(self.code.clone())),
            input,
            self.is_static,
            self.spec,
            self.gas,
        );
        for item in &self.stack {
            assert!(interpreter.stack.push(*item), "initial stack too large");
        }
        if !self.return_data.is_empty() {
            interpreter.return_data.set_buffer(self.return_data.clone());
        }
        interpreter
    }

    /// Runs the frame with revm's interpreter.
    pub(crate) fn run_interp(&self) -> FrameOutcome {
        let instructions = Instructions::new_mainnet_with_spec(self.spec);
        let mut host = self.host();
        let mut interpreter = self.interpreter();
        let action = interpreter.run_plain(instructions.instruction_table(), instructions.gas_table(), &mut host);
        FrameOutcome::collect(action, &interpreter, &host)
    }

    /// Runs the frame as native code compiled for the frame's spec at `level`.
    pub(crate) fn run_native(&self, level: OptLevel) -> FrameOutcome {
        let compiled = compile(&self.code, self.spec, level);
        let instructions = Instructions::new_mainnet_with_spec(self.spec);
        let mut host = self.host();
        let mut interpreter = self.interpreter();
        let action = revm_jit::evm::run_native(
            &compiled,
            &mut interpreter,
            &mut host,
            instructions.instruction_table(),
            instructions.gas_table(),
        );
        FrameOutcome::collect(action, &interpreter, &host)
    }

    /// Runs the frame in the interpreter and as native code at each of [`LEVELS`]; `Err`
    /// describes every difference.
    pub(crate) fn compare(&self) -> Result<FrameOutcome, String> {
        let interp = self.run_interp();
        let mut msg = String::new();
        for level in LEVELS {
            let diffs = interp.diff(&self.run_native(level));
            if !diffs.is_empty() {
                let _ = writeln!(msg, "native code at {level:?} differs from interpreter: {}", self.describe());
                for d in diffs {
                    let _ = writeln!(msg, "  {d}");
                }
            }
        }
        if msg.is_empty() { Ok(interp) } else { Err(msg) }
    }

    /// Runs both ways, panics on any difference, returns the interpreter's outcome.
    pub(crate) fn check(&self) -> FrameOutcome {
        self.compare().unwrap_or_else(|msg| panic!("{msg}"))
    }
}

/// Everything observable after a frame ran.
#[derive(Debug)]
pub(crate) struct FrameOutcome {
    pub action: InterpreterAction,
    pub stack: Vec<U256>,
    pub memory: Vec<u8>,
    pub gas: Gas,
    pub return_data: Bytes,
    pub state: EvmState,
    pub journal: String,
    pub logs: Vec<revm::primitives::Log>,
    pub transient: String,
    pub warm: WarmAddresses,
}

impl FrameOutcome {
    fn collect(action: InterpreterAction, interpreter: &Interpreter<EthInterpreter>, host: &Ctx) -> Self {
        let journal = &host.journaled_state;
        let mut transient: Vec<_> = journal
            .transient_storage
            .iter()
            .flat_map(|(a, slots)| slots.iter().map(move |(k, v)| (*a, *k, *v)))
            .collect();
        transient.sort();
        Self {
            action,
            stack: interpreter.stack.data().clone(),
            memory: interpreter.memory.context_memory().to_vec(),
            gas: interpreter.gas,
            return_data: interpreter.return_data.buffer().clone(),
            state: journal.state.clone(),
            journal: format!("{:?}", journal.journal),
            logs: journal.logs.clone(),
            transient: format!("{transient:?}"),
            warm: journal.warm_addresses.clone(),
        }
    }

    /// The instruction result when the frame returned (None for a new frame).
    pub(crate) fn result(&self) -> Option<InstructionResult> {
        self.action.instruction_result()
    }

    /// The returned output (empty for a new frame).
    pub(crate) fn output(&self) -> Bytes {
        match &self.action {
            InterpreterAction::Return(r) => r.output.clone(),
            InterpreterAction::NewFrame(_) => Bytes::new(),
        }
    }

    /// Output read as one big-endian word (the usual `RETURN` of a word at 0).
    pub(crate) fn word(&self) -> U256 {
        let out = self.output();
        assert_eq!(out.len(), 32, "output is not one word: {out:?} (result {:?})", self.result());
        U256::from_be_slice(&out)
    }

    /// Gas remaining in the returned action.
    pub(crate) fn gas_left(&self) -> u64 {
        match &self.action {
            InterpreterAction::Return(r) => r.gas.remaining(),
            InterpreterAction::NewFrame(_) => self.gas.remaining(),
        }
    }

    /// Differences with `other` (this is the interpreter's outcome), one line each.
    pub(crate) fn diff(&self, native: &FrameOutcome) -> Vec<String> {
        let mut d = Vec::new();
        if self.action != native.action {
            d.push(format!("action:\n    interp: {:?}\n    native: {:?}", self.action, native.action));
        }
        if self.stack != native.stack {
            d.push(format!(
                "stack (len {} vs {}):\n    interp: {}\n    native: {}",
                self.stack.len(),
                native.stack.len(),
                short_stack(&self.stack),
                short_stack(&native.stack)
            ));
        }
        if self.memory != native.memory {
            d.push(format!(
                "memory:\n    interp: 0x{}\n    native: 0x{}",
                hex::encode(&self.memory),
                hex::encode(&native.memory)
            ));
        }
        if self.gas != native.gas {
            d.push(format!("interpreter gas:\n    interp: {:?}\n    native: {:?}", self.gas, native.gas));
        }
        if self.return_data != native.return_data {
            d.push(format!("return data: {} vs {}", self.return_data, native.return_data));
        }
        if self.state != native.state {
            d.push(format!("journal state:\n    interp: {:?}\n    native: {:?}", self.state, native.state));
        }
        if self.journal != native.journal {
            d.push(format!("journal entries:\n    interp: {}\n    native: {}", self.journal, native.journal));
        }
        if self.logs != native.logs {
            d.push(format!("logs:\n    interp: {:?}\n    native: {:?}", self.logs, native.logs));
        }
        if self.transient != native.transient {
            d.push(format!("transient storage:\n    interp: {}\n    native: {}", self.transient, native.transient));
        }
        if self.warm != native.warm {
            d.push(format!("warm addresses:\n    interp: {:?}\n    native: {:?}", self.warm, native.warm));
        }
        d
    }
}

fn short_stack(stack: &[U256]) -> String {
    if stack.len() <= 12 {
        format!("{stack:?}")
    } else {
        format!("[..{} items.., {:?}]", stack.len() - 8, &stack[stack.len() - 8..])
    }
}

/// Collects mismatches over many cases so that one test reports all of them at once.
#[derive(Default)]
pub(crate) struct Mismatches {
    pub cases: usize,
    pub failures: Vec<String>,
}

impl Mismatches {
    /// Checks `test`; on a mismatch records it and returns the interpreter's outcome anyway,
    /// so expectations on the outcome can still be asserted.
    pub(crate) fn check(&mut self, test: &FrameTest) -> FrameOutcome {
        self.cases += 1;
        if std::env::var_os("FRAME_TRACE").is_some() {
            // Names each case before it runs, to find one that crashes the process.
            eprintln!("case: {}", test.describe());
        }
        let interp = test.run_interp();
        for level in LEVELS {
            let diffs = interp.diff(&test.run_native(level));
            if !diffs.is_empty() {
                let mut msg = format!("at {level:?}: {}\n", test.describe());
                for d in diffs {
                    let _ = writeln!(msg, "  {d}");
                }
                self.failures.push(msg);
            }
        }
        interp
    }

    /// Records a failure found by other means (e.g. a transaction-level comparison).
    pub(crate) fn record(&mut self, failure: String) {
        self.failures.push(failure);
    }

    /// Panics listing every mismatch, if any.
    pub(crate) fn finish(self) {
        assert!(self.cases > 0, "no case ran");
        if !self.failures.is_empty() {
            let mut msg = format!(
                "{} of {} cases differ between native code and the interpreter:\n",
                self.failures.len(),
                self.cases
            );
            for f in &self.failures {
                msg.push_str(f);
            }
            panic!("{msg}");
        }
    }
}

/// Runs `body` in a child process (this test binary re-run with only the test `test_path`), so
/// that a case which crashes the process (memory corruption in native code, an abort) fails
/// just this test instead of killing every test running in the process.
pub(crate) fn isolated(test_path: &str, body: impl FnOnce()) {
    const VAR: &str = "REVM_JIT_ISOLATED_CHILD";
    if std::env::var(VAR).as_deref() == Ok(test_path) {
        body();
        return;
    }
    let exe = std::env::current_exe().expect("test binary path");
    let out = std::process::Command::new(exe)
        .args([test_path, "--exact", "--nocapture", "--test-threads=1"])
        .env(VAR, test_path)
        .output()
        .expect("spawning the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("1 passed") || !out.status.success(), "child ran no test for {test_path}:\n{stdout}");
    assert!(out.status.success(), "{test_path} failed in a child process ({:?}):\n{stdout}\n{stderr}", out.status);
}
