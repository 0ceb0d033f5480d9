//! Differential execution: one transaction run in revm's interpreter and as native code, and
//! everything observable compared.
//!
//! Shared by the generated-program differential test (`tests/differential.rs`), the
//! per-opcode tests (`tests/common`), `revm-jit fuzz` ([`crate::cmd::fuzz`]) and the
//! coverage-guided fuzz target in `fuzz/`, so that they all generate programs the same way
//! and judge a run by the same comparison: status, halt reason, gas used and refunded,
//! output, logs and the whole state diff ([`difference`]).
//!
//! A [`Scenario`] is the pre-state (the code under test at [`TARGET`], a callee at [`OTHER`],
//! storage) plus one transaction (calldata, value, gas limit, fork). [`generate`] makes one
//! from a seed; [`FuzzInput`] makes one from raw fuzzer bytes.

use crate::exec::{Executor, Mode};
use revm::bytecode::opcode as op;
use revm::{
    Context, ExecuteEvm, MainBuilder, MainContext,
    context::{
        TxEnv,
        result::{EVMError, ExecutionResult, ResultAndState},
    },
    database::{CacheDB, EmptyDB},
    primitives::{Address, Bytes, TxKind, U256, address, hardfork::SpecId, keccak256},
    state::AccountInfo,
};
use revm_jit::{CompilerConfig, FrameCounts, JitConfig, JitEvm, JitRuntime, OptLevel};
use serde::{Deserialize, Serialize};

/// The forks compiled code supports, oldest first.
pub const FORKS: &[SpecId] = &[
    SpecId::FRONTIER,
    SpecId::HOMESTEAD,
    SpecId::TANGERINE,
    SpecId::SPURIOUS_DRAGON,
    SpecId::BYZANTIUM,
    SpecId::PETERSBURG,
    SpecId::ISTANBUL,
    SpecId::BERLIN,
    SpecId::LONDON,
    SpecId::MERGE,
    SpecId::SHANGHAI,
    SpecId::CANCUN,
    SpecId::PRAGUE,
    SpecId::OSAKA,
];

/// Every [`OptLevel`], least optimised first: native code is compared at each of them, since
/// each runs a different LLVM pipeline over the same IR.
pub const OPT_LEVELS: [OptLevel; 5] = OptLevel::ALL;

/// Every binary opcode (two operands, one result), for tests that sweep them.
pub const BINARY_OPS: &[u8] = &[
    op::ADD,
    op::MUL,
    op::SUB,
    op::DIV,
    op::SDIV,
    op::MOD,
    op::SMOD,
    op::EXP,
    op::SIGNEXTEND,
    op::LT,
    op::GT,
    op::SLT,
    op::SGT,
    op::EQ,
    op::AND,
    op::OR,
    op::XOR,
    op::BYTE,
    op::SHL,
    op::SHR,
    op::SAR,
];

/// Account that sends every scenario's transaction.
pub const CALLER: Address = address!("0x1000000000000000000000000000000000000001");
/// Account holding the code under test.
pub const TARGET: Address = address!("0x2000000000000000000000000000000000000002");
/// A second contract the code under test may call.
pub const OTHER: Address = address!("0x3000000000000000000000000000000000000003");

/// The highest transaction gas limit a scenario uses: EIP-7825's cap (Osaka), so that a
/// scenario is valid under every fork.
pub const MAX_GAS_LIMIT: u64 = 1 << 24;

/// splitmix64: small, fast, reproducible from a seed, and enough for generating programs.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items` (not empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// A word biased towards the values where EVM arithmetic has edge cases.
    pub fn word(&mut self) -> U256 {
        match self.below(10) {
            0 => U256::ZERO,
            1 => U256::from(1),
            2 => U256::MAX,
            3 => U256::from(1) << 255,
            4 => U256::from(self.pick(&[31u64, 32, 33, 255, 256, 257, 64, 0x40, 0x80])),
            5 => U256::MAX - U256::from(self.below(3)),
            6 => U256::from_limbs([self.next_u64(), self.next_u64(), self.next_u64(), self.next_u64()]),
            _ => U256::from(self.below(1000)),
        }
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// A program under construction, with forward labels patched at the end.
struct Program {
    code: Vec<u8>,
    /// (position of a PUSH2 operand, label) pairs to patch.
    fixups: Vec<(usize, usize)>,
    labels: Vec<Option<usize>>,
    /// Approximate stack height, used to keep most instructions valid.
    height: usize,
}

impl Program {
    fn new() -> Self {
        Self { code: Vec::new(), fixups: Vec::new(), labels: Vec::new(), height: 0 }
    }

    fn op(&mut self, opcode: u8, pops: usize, pushes: usize) {
        self.code.push(opcode);
        self.height = self.height.saturating_sub(pops) + pushes;
    }

    fn push(&mut self, value: U256) {
        let bytes = value.to_be_bytes::<32>();
        let skip = bytes.iter().take_while(|&&b| b == 0).count().min(31);
        let n = 32 - skip;
        self.code.push(op::PUSH0 + n as u8);
        self.code.extend_from_slice(&bytes[skip..]);
        self.height += 1;
    }

    fn push_u64(&mut self, value: u64) {
        self.push(U256::from(value));
    }

    fn new_label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }

    fn push_label(&mut self, label: usize) {
        self.code.push(op::PUSH2);
        self.fixups.push((self.code.len(), label));
        self.code.extend_from_slice(&[0, 0]);
        self.height += 1;
    }

    fn place_label(&mut self, label: usize) {
        self.labels[label] = Some(self.code.len());
        self.code.push(op::JUMPDEST);
    }

    fn finish(mut self) -> Bytes {
        for (at, label) in self.fixups {
            let target = self.labels[label].unwrap_or(0xffff) as u16;
            self.code[at..at + 2].copy_from_slice(&target.to_be_bytes());
        }
        self.code.into()
    }
}

const UNARY: &[u8] = &[op::ISZERO, op::NOT, op::CLZ];
const TERNARY: &[u8] = &[op::ADDMOD, op::MULMOD];
const ENV: &[u8] = &[
    op::ADDRESS,
    op::ORIGIN,
    op::CALLER,
    op::CALLVALUE,
    op::CALLDATASIZE,
    op::CODESIZE,
    op::GASPRICE,
    op::RETURNDATASIZE,
    op::COINBASE,
    op::TIMESTAMP,
    op::NUMBER,
    op::DIFFICULTY,
    op::GASLIMIT,
    op::CHAINID,
    op::SELFBALANCE,
    op::BASEFEE,
    op::BLOBBASEFEE,
    op::MSIZE,
    op::GAS,
    op::PC,
];

/// Emits one random instruction group.
fn emit_piece(rng: &mut Rng, p: &mut Program, depth: u32) {
    // Keep enough operands around for most instructions.
    while p.height < 3 || (p.height < 8 && rng.chance(20)) {
        let w = rng.word();
        p.push(w);
    }
    match rng.below(100) {
        0..=24 => {
            let opcode = rng.pick(BINARY_OPS);
            p.op(opcode, 2, 1);
        }
        25..=29 => p.op(rng.pick(UNARY), 1, 1),
        30..=32 => p.op(rng.pick(TERNARY), 3, 1),
        33..=40 => {
            let n = rng.below(p.height.min(16) as u64) as u8;
            p.op(op::DUP1 + n, 0, 1);
        }
        41..=47 => {
            let n = rng.below((p.height - 1).clamp(1, 16) as u64) as u8;
            p.op(op::SWAP1 + n, 0, 0);
        }
        48..=50 => p.op(op::POP, 1, 0),
        51..=55 => p.op(rng.pick(ENV), 0, 1),
        56..=61 => {
            // Memory: mostly small offsets, sometimes huge (out of gas on expansion).
            let offset = if rng.chance(3) { rng.word() } else { U256::from(rng.below(200)) };
            p.push(offset);
            match rng.below(5) {
                0 => p.op(op::MLOAD, 1, 1),
                1 => p.op(op::MSTORE8, 2, 0),
                2 => {
                    p.push_u64(rng.below(100));
                    p.op(op::SWAP1, 0, 0);
                    p.op(op::KECCAK256, 2, 1);
                }
                3 => {
                    p.push_u64(rng.below(64));
                    p.op(op::SWAP1, 0, 0);
                    p.push_u64(rng.below(128));
                    p.op(op::MCOPY, 3, 0);
                }
                _ => p.op(op::MSTORE, 2, 0),
            }
        }
        62..=66 => {
            p.push_u64(rng.below(4));
            match rng.below(4) {
                0 => p.op(op::SLOAD, 1, 1),
                1 => p.op(op::TLOAD, 1, 1),
                2 => p.op(op::TSTORE, 2, 0),
                _ => p.op(op::SSTORE, 2, 0),
            }
        }
        67..=69 => {
            p.push_u64(rng.below(64));
            p.push_u64(rng.below(64));
            let topics = rng.below(3) as usize;
            p.op(op::LOG0 + topics as u8, 2 + topics, 0);
        }
        70..=72 => {
            // Copies from calldata, code or return data.
            p.push_u64(rng.below(80));
            p.push_u64(rng.below(40));
            p.push_u64(rng.below(100));
            let opcode = rng.pick(&[op::CALLDATACOPY, op::CODECOPY, op::RETURNDATACOPY]);
            p.op(opcode, 3, 0);
        }
        73..=75 => {
            p.push_u64(rng.below(64));
            p.op(op::CALLDATALOAD, 1, 1);
        }
        76..=79 => emit_call(rng, p),
        80..=87 if depth < 3 => emit_branch(rng, p, depth),
        88..=90 if depth < 2 => emit_loop(rng, p, depth),
        91 => {
            // A jump to a computed, probably invalid, destination.
            p.push(rng.word());
            p.op(op::JUMP, 1, 0);
        }
        92 => {
            // A random byte: undefined opcode, not-yet-activated opcode, or anything else.
            let byte = rng.below(256) as u8;
            if !(op::PUSH1..=op::PUSH32).contains(&byte) {
                p.op(byte, 0, 0);
            }
        }
        93 => {
            p.op(rng.pick(&[op::BALANCE, op::EXTCODESIZE, op::EXTCODEHASH, op::BLOCKHASH, op::BLOBHASH]), 1, 1);
        }
        _ => {
            let w = rng.word();
            p.push(w);
        }
    }
}

/// A call to OTHER (or to an empty account) with random gas and value.
fn emit_call(rng: &mut Rng, p: &mut Program) {
    let opcode = rng.pick(&[op::CALL, op::STATICCALL, op::DELEGATECALL, op::CALLCODE]);
    p.push_u64(rng.below(64)); // ret length
    p.push_u64(rng.below(64)); // ret offset
    p.push_u64(rng.below(64)); // args length
    p.push_u64(rng.below(64)); // args offset
    if matches!(opcode, op::CALL | op::CALLCODE) {
        p.push_u64(rng.pick(&[0, 0, 1, 10]));
    }
    let to = if rng.chance(85) { OTHER } else { Address::with_last_byte(0x42) };
    p.push(U256::from_be_slice(to.as_slice()));
    let gas = if rng.chance(50) { U256::from(rng.below(100_000)) } else { U256::MAX };
    p.push(gas);
    let pops = if matches!(opcode, op::CALL | op::CALLCODE) { 7 } else { 6 };
    p.op(opcode, pops, 1);
}

/// `if (cond) { body }` with a forward JUMPI.
fn emit_branch(rng: &mut Rng, p: &mut Program, depth: u32) {
    let skip = p.new_label();
    p.push_u64(rng.below(2));
    p.push_label(skip);
    p.op(op::JUMPI, 2, 0);
    let height = p.height;
    for _ in 0..rng.below(6) {
        emit_piece(rng, p, depth + 1);
    }
    // Rebalance so both paths reach the label with the same height (mostly).
    while p.height > height {
        p.op(op::POP, 1, 0);
    }
    while p.height < height {
        p.push_u64(7);
    }
    p.place_label(skip);
}

/// A counted loop: `for (i = n; i != 0; i--) { body }`, keeping the counter on top.
fn emit_loop(rng: &mut Rng, p: &mut Program, depth: u32) {
    let head = p.new_label();
    let exit = p.new_label();
    p.push_u64(rng.below(6));
    p.place_label(head);
    p.op(op::DUP1, 0, 1);
    p.op(op::ISZERO, 1, 1);
    p.push_label(exit);
    p.op(op::JUMPI, 2, 0);
    let height = p.height;
    for _ in 0..rng.below(5) {
        emit_piece(rng, p, depth + 1);
    }
    while p.height > height {
        p.op(op::POP, 1, 0);
    }
    while p.height < height {
        p.push_u64(3);
        p.op(op::SWAP1, 0, 0);
    }
    p.push_u64(1);
    p.op(op::SWAP1, 0, 0);
    p.op(op::SUB, 2, 1);
    p.push_label(head);
    p.op(op::JUMP, 1, 0);
    p.place_label(exit);
}

/// The callee generated programs call: writes storage, logs, and returns or reverts
/// depending on calldata size.
pub fn other_contract() -> Bytes {
    let mut p = Program::new();
    p.op(op::CALLDATASIZE, 0, 1);
    p.push_u64(1);
    p.op(op::SSTORE, 2, 0);
    p.op(op::CALLER, 0, 1);
    p.push_u64(0);
    p.op(op::MSTORE, 2, 0);
    p.push_u64(32);
    p.push_u64(0);
    p.op(op::LOG0, 2, 0);
    let revert = p.new_label();
    p.op(op::CALLDATASIZE, 0, 1);
    p.push_u64(40);
    p.op(op::GT, 2, 1);
    p.push_label(revert);
    p.op(op::JUMPI, 2, 0);
    p.push_u64(48);
    p.push_u64(0);
    p.op(op::RETURN, 2, 0);
    p.place_label(revert);
    p.push_u64(16);
    p.push_u64(8);
    p.op(op::REVERT, 2, 0);
    p.finish()
}

/// Generates a random, mostly well-formed program: arithmetic, memory, storage, logs,
/// calls, branches, loops, bad jumps and stray bytes, ending in STOP, REVERT, RETURN or
/// nothing.
pub fn generate_code(rng: &mut Rng) -> Bytes {
    let mut p = Program::new();
    for _ in 0..1 + rng.below(40) {
        emit_piece(rng, &mut p, 0);
    }
    match rng.below(4) {
        0 => p.op(op::STOP, 0, 0),
        1 => {
            p.push_u64(rng.below(40));
            p.push_u64(rng.below(64));
            p.op(op::REVERT, 2, 0);
        }
        2 => {}
        _ => {
            p.push_u64(rng.below(96));
            p.push_u64(rng.below(64));
            p.op(op::RETURN, 2, 0);
        }
    }
    p.finish()
}

/// The scenario of the generated-program differential test for `seed`: a
/// [`generate_code`] program calling [`other_contract`], with random fork, gas and calldata.
/// The same seed always gives the same scenario.
pub fn generate(seed: u64) -> Scenario {
    let mut rng = Rng(seed);
    let code = generate_code(&mut rng);
    let spec = if rng.chance(50) { SpecId::OSAKA } else { rng.pick(FORKS) };
    let calldata: Vec<u8> = (0..rng.below(70)).map(|_| rng.below(256) as u8).collect();
    let gas = random_gas(&mut rng, calldata.len());
    Scenario::new(code).other(other_contract()).spec(spec).gas(gas).calldata(calldata)
}

/// A gas limit for a transaction with `calldata_len` bytes of calldata: mostly ample,
/// sometimes just above the intrinsic cost (so that out-of-gas paths run).
pub fn random_gas(rng: &mut Rng, calldata_len: usize) -> u64 {
    // Intrinsic gas: 68 per byte covers pre-Istanbul calldata and the EIP-7623 floor.
    let intrinsic = 21_000 + 68 * calldata_len as u64;
    match rng.below(4) {
        0 => intrinsic + rng.below(3_000),
        1 => intrinsic + rng.below(30_000),
        _ => 1_000_000,
    }
}

/// What one run of a [`Scenario`] produced.
#[derive(Debug)]
pub struct Outcome {
    /// Result and state diff.
    pub result: ResultAndState,
    /// Frames run by this transaction, native and interpreted.
    pub frames: FrameCounts,
}

/// One run of a [`Scenario`]: its [`Outcome`], or revm's refusal of the transaction as text
/// (revm's error type carries the database's, and only what it says matters for a
/// comparison).
pub type Run = Result<Outcome, String>;

/// A pre-state and one transaction: the unit every differential check runs twice.
///
/// Serialisable so that a mismatch found by `revm-jit fuzz` can be saved and replayed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    /// Code at [`TARGET`], the transaction's recipient.
    pub code: Bytes,
    /// Code at [`OTHER`] (no account there when empty).
    #[serde(default)]
    pub other_code: Bytes,
    /// Calldata of the transaction.
    #[serde(default)]
    pub calldata: Bytes,
    /// Fork the transaction runs under.
    #[serde(with = "spec_name")]
    pub spec: SpecId,
    /// Gas limit of the transaction.
    pub gas_limit: u64,
    /// Value sent with the transaction.
    #[serde(default)]
    pub value: U256,
    /// Storage of [`TARGET`] before the transaction.
    #[serde(default)]
    pub storage: Vec<(U256, U256)>,
}

/// Forks by name in replay files (`"Cancun"`), so that they stay readable and do not depend
/// on revm's numbering.
mod spec_name {
    use revm::primitives::hardfork::SpecId;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(spec: &SpecId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str((*spec).into())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SpecId, D::Error> {
        let name = String::deserialize(d)?;
        crate::fork::parse(&name).ok_or_else(|| D::Error::custom(format!("unknown fork `{name}`")))
    }
}

impl Scenario {
    /// A call of `code` under Osaka with a gas limit of 1,000,000 and nothing else set.
    pub fn new(code: impl Into<Bytes>) -> Self {
        Self {
            code: code.into(),
            other_code: Bytes::new(),
            calldata: Bytes::new(),
            spec: SpecId::OSAKA,
            gas_limit: 1_000_000,
            value: U256::ZERO,
            storage: Vec::new(),
        }
    }

    /// Sets the fork.
    pub fn spec(mut self, spec: SpecId) -> Self {
        self.spec = spec;
        self
    }

    /// Sets the gas limit.
    pub fn gas(mut self, gas_limit: u64) -> Self {
        self.gas_limit = gas_limit;
        self
    }

    /// Sets the calldata.
    pub fn calldata(mut self, data: impl Into<Bytes>) -> Self {
        self.calldata = data.into();
        self
    }

    /// Sets the code at [`OTHER`].
    pub fn other(mut self, code: impl Into<Bytes>) -> Self {
        self.other_code = code.into();
        self
    }

    /// The pre-state: a rich [`CALLER`], [`TARGET`] with the code and storage, [`OTHER`].
    pub fn db(&self) -> CacheDB<EmptyDB> {
        let mut db = CacheDB::new(EmptyDB::default());
        db.insert_account_info(CALLER, AccountInfo { balance: U256::from(10u128.pow(30)), ..Default::default() });
        let target = AccountInfo {
            balance: U256::from(1_000_000u64),
            code_hash: keccak256(&self.code),
            code: Some(crate::fixture::env::account_code(self.code.clone())),
            ..Default::default()
        };
        db.insert_account_info(TARGET, target);
        for (k, v) in &self.storage {
            db.insert_account_storage(TARGET, *k, *v).expect("CacheDB<EmptyDB> storage writes cannot fail");
        }
        if !self.other_code.is_empty() {
            let other = AccountInfo {
                balance: U256::from(7u64),
                code_hash: keccak256(&self.other_code),
                code: Some(crate::fixture::env::account_code(self.other_code.clone())),
                ..Default::default()
            };
            db.insert_account_info(OTHER, other);
        }
        db
    }

    fn context(&self) -> revm::handler::MainnetContext<CacheDB<EmptyDB>> {
        Context::mainnet().with_db(self.db()).modify_cfg_chained(|cfg| {
            cfg.set_spec_and_mainnet_gas_params(self.spec);
            cfg.disable_nonce_check = true;
        })
    }

    fn tx(&self) -> TxEnv {
        TxEnv::builder()
            .caller(CALLER)
            .kind(TxKind::Call(TARGET))
            .data(self.calldata.clone())
            .value(self.value)
            .gas_limit(self.gas_limit)
            .gas_price(0)
            .build()
            .expect("a scenario's transaction fields are consistent")
    }

    /// Runs the scenario with a fresh executor in `mode`.
    pub fn run(&self, mode: Mode) -> Outcome {
        let mut executor = Executor::new(mode);
        self.run_with(&mut executor)
    }

    /// Runs the scenario with `executor` (so compiled code can be reused).
    ///
    /// # Panics
    ///
    /// When revm rejects the transaction.
    pub fn run_with(&self, executor: &mut Executor) -> Outcome {
        let before = executor.frame_counts();
        let result = executor.transact(self.context(), self.tx()).expect("transaction is valid");
        let after = executor.frame_counts();
        Outcome {
            result,
            frames: FrameCounts {
                native: after.native - before.native,
                interpreted: after.interpreted - before.interpreted,
            },
        }
    }

    /// Runs the scenario in revm's interpreter.
    pub fn run_interpreted(&self) -> Run {
        let result = self.context().build_mainnet().transact(self.tx()).map_err(|e| describe_error(&e))?;
        Ok(Outcome { result, frames: FrameCounts::default() })
    }

    /// Runs the scenario through `runtime`'s [`JitEvm`] (native code where the runtime has
    /// it: an eager runtime compiles every contract before it runs).
    pub fn run_native(&self, runtime: &JitRuntime) -> Run {
        let mut evm = JitEvm::new(self.context().build_mainnet(), runtime.handle());
        let result = evm.transact(self.tx()).map_err(|e| describe_error(&e))?;
        Ok(Outcome { result, frames: evm.frame_counts() })
    }

    /// Runs in the interpreter and in `jit` mode, asserts identical results and state, and
    /// that the jit run executed every frame natively. Returns the interpreter's outcome.
    ///
    /// # Panics
    ///
    /// On any difference, naming it; when the transaction is rejected.
    pub fn assert_same(&self) -> Outcome {
        let interp = self.run(Mode::Interp);
        let jit = self.run(Mode::Jit);
        if let Some(difference) = outcome_difference(&interp, &jit) {
            panic!("{difference} for {self:?}");
        }
        assert_eq!(jit.frames.interpreted, 0, "frames ran interpreted in jit mode: {self:?}");
        assert!(jit.frames.native > 0 || self.code.is_empty(), "no native frame ran: {self:?}");
        interp
    }
}

/// revm's error as text: its error type carries the database's, which differs between
/// runs, and only what it says matters for a comparison.
fn describe_error<E: std::fmt::Debug>(error: &EVMError<E>) -> String {
    format!("{error:?}")
}

/// An eager runtime compiling at `opt_level`, with a cache small enough for long fuzzing
/// runs (its code is recompiled when evicted).
pub fn eager_runtime(opt_level: OptLevel) -> JitRuntime {
    JitRuntime::new(JitConfig {
        compiler: CompilerConfig { opt_level, ..CompilerConfig::default() },
        cache_capacity_bytes: 32 * 1024 * 1024,
        ..JitConfig::eager()
    })
}

/// The first difference between `expected` (the interpreter's) and `got` (native code's),
/// described for a person; `None` when they agree on everything: rejection, status and halt
/// reason, gas used and refunded, output, logs, and every account of the state diff.
pub fn difference(expected: &Run, got: &Run) -> Option<String> {
    match (expected, got) {
        (Ok(e), Ok(g)) => outcome_difference(e, g),
        (Err(e), Err(g)) if e == g => None,
        (e, g) => {
            let show = |r: &Run| match r {
                Ok(r) => format!("{:?}", r.result.result),
                Err(e) => format!("rejected: {e}"),
            };
            Some(format!("transaction: interpreter {}, native {}", show(e), show(g)))
        }
    }
}

/// [`difference`] between two transactions that both ran.
pub fn outcome_difference(expected: &Outcome, got: &Outcome) -> Option<String> {
    let (expected, got) = (&expected.result, &got.result);
    if let Some(d) = result_difference(&expected.result, &got.result) {
        return Some(d);
    }
    let mut addresses: Vec<&Address> = expected.state.keys().chain(got.state.keys()).collect();
    addresses.sort();
    addresses.dedup();
    for address in addresses {
        match (expected.state.get(address), got.state.get(address)) {
            (Some(e), Some(g)) if e == g => {}
            (e, g) => return Some(format!("state of {address}: interpreter {e:?}, native {g:?}")),
        }
    }
    None
}

fn result_difference(expected: &ExecutionResult, got: &ExecutionResult) -> Option<String> {
    let status = |r: &ExecutionResult| match r {
        ExecutionResult::Success { reason, .. } => format!("success ({reason:?})"),
        ExecutionResult::Revert { .. } => "revert".to_owned(),
        ExecutionResult::Halt { reason, .. } => format!("halt ({reason:?})"),
    };
    let checks: [(&str, String, String); 4] = [
        ("status", status(expected), status(got)),
        // Used, refunded and everything else revm accounts for the transaction.
        ("gas", format!("{:?}", expected.gas()), format!("{:?}", got.gas())),
        ("output", format!("{:?}", expected.output()), format!("{:?}", got.output())),
        ("logs", format!("{:?}", expected.logs()), format!("{:?}", got.logs())),
    ];
    for (what, e, g) in checks {
        if e != g {
            return Some(format!("{what}: interpreter {e}, native {g}"));
        }
    }
    // Anything else the result carries (e.g. a field a later revm adds).
    (expected != got).then(|| format!("result: interpreter {expected:?}, native {got:?}"))
}

/// A scenario decoded from raw fuzzer bytes, for coverage-guided fuzzing: every byte string
/// is a valid input, and a byte string made by [`FuzzInput::encode`] decodes back to the same
/// scenario, so a seed corpus can be written from real contracts.
///
/// Layout: byte 0 picks the fork, byte 1 the gas limit, byte 2 the value, byte 3 the
/// calldata length (`n`), then `n` bytes of calldata, then the code. Missing bytes read as 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuzzInput {
    /// The scenario the bytes describe (the callee at [`OTHER`] is [`other_contract`]).
    pub scenario: Scenario,
}

/// Gas limits a [`FuzzInput`] chooses from (by its byte 1): tight ones make out-of-gas
/// paths run, loose ones let code run to its end.
const FUZZ_GAS: [u64; 8] = [21_100, 22_000, 25_000, 30_000, 50_000, 100_000, 1_000_000, MAX_GAS_LIMIT];
/// Values a [`FuzzInput`] chooses from (by its byte 2).
const FUZZ_VALUE: [u64; 4] = [0, 1, 1_000_000_007, 0];

impl FuzzInput {
    /// Decodes `bytes`; never fails.
    pub fn decode(bytes: &[u8]) -> Self {
        let byte = |i: usize| bytes.get(i).copied().unwrap_or(0);
        let spec = FORKS[byte(0) as usize % FORKS.len()];
        let calldata_len = byte(3) as usize;
        let rest = bytes.get(4..).unwrap_or_default();
        let (calldata, code) = rest.split_at(calldata_len.min(rest.len()));
        let intrinsic = 21_000 + 68 * calldata.len() as u64;
        let gas = FUZZ_GAS[byte(1) as usize % FUZZ_GAS.len()].max(intrinsic + u64::from(byte(1) >> 3) * 100);
        let scenario = Scenario::new(Bytes::copy_from_slice(code))
            .other(other_contract())
            .spec(spec)
            .gas(gas.min(MAX_GAS_LIMIT))
            .calldata(Bytes::copy_from_slice(calldata));
        Self { scenario: Scenario { value: U256::from(FUZZ_VALUE[byte(2) as usize % FUZZ_VALUE.len()]), ..scenario } }
    }

    /// The bytes of a fuzz input running `code` with `calldata` (at most 255 bytes kept)
    /// under `spec`, with an ample gas limit and no value.
    pub fn encode(code: &[u8], calldata: &[u8], spec: SpecId) -> Vec<u8> {
        let fork = FORKS.iter().position(|&s| s == spec).unwrap_or(FORKS.len() - 1) as u8;
        let calldata = &calldata[..calldata.len().min(255)];
        let mut bytes = vec![fork, 6, 0, calldata.len() as u8];
        bytes.extend_from_slice(calldata);
        bytes.extend_from_slice(code);
        bytes
    }
}

/// The interpreter and native code at each of `opt_levels`, kept between runs so that
/// compiled code is reused by every input that runs the same code under the same fork.
#[derive(Debug)]
pub struct Comparator {
    runtimes: Vec<(OptLevel, JitRuntime)>,
}

/// A difference found by a [`Comparator`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The optimisation level whose native code disagreed.
    pub opt_level: OptLevel,
    /// What differed.
    pub difference: String,
}

impl Comparator {
    /// A comparator with one eager runtime per level of `opt_levels`.
    pub fn new(opt_levels: &[OptLevel]) -> Self {
        Self { runtimes: opt_levels.iter().map(|&level| (level, eager_runtime(level))).collect() }
    }

    /// The levels compared, in order.
    pub fn opt_levels(&self) -> impl Iterator<Item = OptLevel> + '_ {
        self.runtimes.iter().map(|(level, _)| *level)
    }

    /// Runs `scenario` in the interpreter and at every level, and returns what each level's
    /// native run did (frames run natively and interpreted) and how it differed, if it did.
    /// A panic in a native run is a difference; one in the interpreter run is passed on.
    pub fn compare(&self, scenario: &Scenario) -> Vec<(OptLevel, FrameCounts, Option<Mismatch>)> {
        let expected = scenario.run_interpreted();
        self.runtimes
            .iter()
            .map(|(level, runtime)| {
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario.run_native(runtime)));
                match run {
                    Ok(got) => {
                        let mismatch =
                            difference(&expected, &got).map(|difference| Mismatch { opt_level: *level, difference });
                        let frames = got.map(|o| o.frames).unwrap_or_default();
                        (*level, frames, mismatch)
                    }
                    Err(payload) => {
                        let message = revm_jit::compiler::panic_message(payload.as_ref());
                        let difference = format!("native run panicked: {message}");
                        (*level, FrameCounts::default(), Some(Mismatch { opt_level: *level, difference }))
                    }
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_input_round_trips() {
        let code = [op::PUSH1, 1, op::PUSH1, 0, op::SSTORE];
        let bytes = FuzzInput::encode(&code, &[1, 2, 3], SpecId::CANCUN);
        let input = FuzzInput::decode(&bytes);
        assert_eq!(input.scenario.code.as_ref(), &code);
        assert_eq!(input.scenario.calldata.as_ref(), &[1, 2, 3]);
        assert_eq!(input.scenario.spec, SpecId::CANCUN);
        assert_eq!(input.scenario.value, U256::ZERO);
        // Any bytes decode, the empty string included.
        for bytes in [&[][..], &[0xff; 3], &[13, 255, 2, 200, 1]] {
            let s = FuzzInput::decode(bytes).scenario;
            assert!(s.gas_limit >= 21_000 + 68 * s.calldata.len() as u64 && s.gas_limit <= MAX_GAS_LIMIT);
        }
    }

    #[test]
    fn generation_is_reproducible() {
        assert_eq!(generate(7), generate(7));
        assert_ne!(generate(7).code, generate(8).code);
    }

    /// Found by a 45-minute `revm-jit fuzz` run: a mutated program starting with the EIP-7702
    /// prefix but of another length made revm's `Bytecode::new_raw` panic in the harness. Such
    /// code is legacy bytecode (0xEF is an undefined opcode), run by both modes alike.
    #[test]
    fn code_with_a_malformed_delegation_prefix_runs_as_legacy_code() {
        for code in [&[0xef, 0x01, 0x00, 0x01][..], &[0xef, 0x01, 0x00], &[0xef]] {
            let scenario = Scenario::new(Bytes::copy_from_slice(code));
            let db = scenario.db();
            assert!(db.cache.accounts[&TARGET].info.code.as_ref().is_some_and(|c| c.is_legacy()), "{code:?}");
            assert!(scenario.run_interpreted().is_ok(), "{code:?}");
        }
    }

    #[test]
    fn difference_names_what_differs() {
        let scenario = generate(3);
        let a = scenario.run_interpreted();
        let b = scenario.run_interpreted();
        assert_eq!(difference(&a, &b), None);
        let mut c = scenario.run_interpreted();
        if let Ok(o) = &mut c {
            o.result.state.clear();
        }
        let d = difference(&a, &c).expect("a cleared state differs");
        assert!(d.starts_with("state of "), "{d}");
    }
}
