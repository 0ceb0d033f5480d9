//! Shared test helpers: run one transaction in the interpreter and as native code, compare.
#![allow(dead_code)]

use revm::bytecode::opcode as op;
use revm::{
    Context, MainContext,
    context::{TxEnv, result::ResultAndState},
    database::{CacheDB, EmptyDB},
    primitives::{Address, Bytes, TxKind, U256, address, hardfork::SpecId},
    state::{AccountInfo, Bytecode},
};
use revm_jit::FrameCounts;
use revm_jit_cli::exec::{Executor, Mode};

/// The forks compiled code supports, oldest first.
pub(crate) const FORKS: &[SpecId] = &[
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

/// Every binary opcode (two operands, one result), for tests that sweep them.
pub(crate) const BINARY_OPS: &[u8] = &[
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

/// Account that sends every test transaction.
pub(crate) const CALLER: Address = address!("0x1000000000000000000000000000000000000001");
/// Account holding the code under test.
pub(crate) const TARGET: Address = address!("0x2000000000000000000000000000000000000002");
/// A second contract the code under test may call.
pub(crate) const OTHER: Address = address!("0x3000000000000000000000000000000000000003");

/// What one run produced.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub result: ResultAndState,
    pub frames: FrameCounts,
}

/// A test scenario: code at TARGET (and optionally OTHER), a call with calldata.
#[derive(Clone, Debug)]
pub(crate) struct Scenario {
    pub code: Bytes,
    pub other_code: Bytes,
    pub calldata: Bytes,
    pub spec: SpecId,
    pub gas_limit: u64,
    pub value: U256,
    pub storage: Vec<(U256, U256)>,
}

impl Scenario {
    pub(crate) fn new(code: impl Into<Bytes>) -> Self {
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

    pub(crate) fn spec(mut self, spec: SpecId) -> Self {
        self.spec = spec;
        self
    }

    pub(crate) fn gas(mut self, gas_limit: u64) -> Self {
        self.gas_limit = gas_limit;
        self
    }

    pub(crate) fn calldata(mut self, data: impl Into<Bytes>) -> Self {
        self.calldata = data.into();
        self
    }

    pub(crate) fn other(mut self, code: impl Into<Bytes>) -> Self {
        self.other_code = code.into();
        self
    }

    fn db(&self) -> CacheDB<EmptyDB> {
        let mut db = CacheDB::new(EmptyDB::default());
        db.insert_account_info(CALLER, AccountInfo { balance: U256::from(10u128.pow(30)), ..Default::default() });
        let target = AccountInfo {
            balance: U256::from(1_000_000u64),
            code_hash: revm::primitives::keccak256(&self.code),
            code: Some(Bytecode::new_raw(self.code.clone())),
            ..Default::default()
        };
        db.insert_account_info(TARGET, target);
        for (k, v) in &self.storage {
            db.insert_account_storage(TARGET, *k, *v).unwrap();
        }
        if !self.other_code.is_empty() {
            let other = AccountInfo {
                balance: U256::from(7u64),
                code_hash: revm::primitives::keccak256(&self.other_code),
                code: Some(Bytecode::new_raw(self.other_code.clone())),
                ..Default::default()
            };
            db.insert_account_info(OTHER, other);
        }
        db
    }

    /// Runs the scenario with a fresh executor in `mode`.
    pub(crate) fn run(&self, mode: Mode) -> Outcome {
        let mut executor = Executor::new(mode);
        self.run_with(&mut executor)
    }

    /// Runs the scenario with `executor` (so compiled code can be reused).
    pub(crate) fn run_with(&self, executor: &mut Executor) -> Outcome {
        let ctx = Context::mainnet().with_db(self.db()).modify_cfg_chained(|cfg| {
            cfg.set_spec_and_mainnet_gas_params(self.spec);
            cfg.disable_nonce_check = true;
        });
        let tx = TxEnv::builder()
            .caller(CALLER)
            .kind(TxKind::Call(TARGET))
            .data(self.calldata.clone())
            .value(self.value)
            .gas_limit(self.gas_limit)
            .gas_price(0)
            .build()
            .unwrap();
        let before = executor.frame_counts();
        let result = executor.transact(ctx, tx).expect("transaction is valid");
        let after = executor.frame_counts();
        Outcome {
            result,
            frames: FrameCounts {
                native: after.native - before.native,
                interpreted: after.interpreted - before.interpreted,
            },
        }
    }

    /// Runs in both modes, asserts identical results and state, and that the jit run executed
    /// every frame natively. Returns the interpreter's outcome.
    pub(crate) fn assert_same(&self) -> Outcome {
        let interp = self.run(Mode::Interp);
        let jit = self.run(Mode::Jit);
        assert_eq!(jit.result.result, interp.result.result, "result differs for {self:?}");
        assert_eq!(jit.result.state, interp.result.state, "state differs for {self:?}");
        assert_eq!(jit.frames.interpreted, 0, "frames ran interpreted in jit mode: {self:?}");
        assert!(jit.frames.native > 0 || self.code.is_empty(), "no native frame ran: {self:?}");
        interp
    }
}
pub(crate) mod frame;
