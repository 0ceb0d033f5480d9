//! `JitEvmFactory` in alloy-evm's block executor, as a node runs it: the same blocks of
//! transactions (system calls included: EIP-4788 beacon roots from Cancun, EIP-2935 block
//! hashes and the EIP-7002/7251 request calls from Prague) executed through `EthEvmFactory`
//! and through `JitEvmFactory`, with the same receipts, gas, logs, requests and final state,
//! and frames run natively.
//!
//! Contracts: a hand-assembled "bank" that counts calls, reads this block's beacon root and the
//! parent's hash from the system contracts, calls a "hook" contract in a loop (storage and a
//! log per call) and logs the total; a contract created by a transaction; and real contracts
//! from the shared bench fixtures (`../shared/bench-fixtures`, read at test time).

use alloy_consensus::ReceiptEnvelope;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy, transaction::Recovered};
use alloy_eips::{eip2935::HISTORY_STORAGE_ADDRESS, eip4788::BEACON_ROOTS_ADDRESS, eip4895::Withdrawal};
use alloy_evm::{
    EthEvmFactory, Evm, EvmEnv, EvmFactory, FromRecoveredTx, FromTxWithEncoded,
    block::{BlockExecutionResult, BlockExecutor, BlockExecutorFactory},
    eth::{EthBlockExecutionCtx, EthBlockExecutorFactory, receipt_builder::AlloyReceiptBuilder, spec::EthSpec},
};
use alloy_primitives::Signature;
use revm::{
    Inspector,
    context::{BlockEnv, CfgEnv, ContextTr},
    database::{BundleState, CacheDB, EmptyDB, State, states::bundle_state::BundleRetention},
    inspector::NoOpInspector,
    interpreter::{CallInputs, CallOutcome},
    primitives::{
        Address, B256, Bytes, TxKind, U256,
        eip4844::{BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN, BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE},
        hardfork::SpecId,
    },
    state::{AccountInfo, Bytecode},
};
use revm_jit::{JitConfig, JitEvmFactory, JitRuntime};
use revm_jit_cli::asm::assemble;
use std::{borrow::Cow, path::Path};

const SENDER: Address = Address::repeat_byte(0x51);
const RECIPIENT: Address = Address::repeat_byte(0x52);
const BANK: Address = Address::repeat_byte(0xba);
const HOOK: Address = Address::repeat_byte(0x40);
const COINBASE: Address = Address::repeat_byte(0xc0);
const CHAIN_ID: u64 = 1;
const BASEFEE: u64 = 1_000_000_000;

/// Real contracts from the shared bench fixtures, each deployed at its own address.
const FIXTURES: &[(&str, Address)] = &[
    ("erc20_transfer", Address::repeat_byte(0xe2)),
    ("airdrop", Address::repeat_byte(0xa1)),
    ("counter", Address::repeat_byte(0xc7)),
];

type Db = State<CacheDB<EmptyDB>>;

/// `slot[word0] += word1`; logs the new value under topic `word0` and returns it.
fn hook_code() -> Bytes {
    assemble(
        "PUSH 32 CALLDATALOAD PUSH 0 CALLDATALOAD SLOAD ADD
         DUP1 PUSH 0 CALLDATALOAD SSTORE
         PUSH 0 MSTORE
         PUSH 0 CALLDATALOAD PUSH 32 PUSH 0 LOG1
         PUSH 32 PUSH 0 RETURN",
    )
    .unwrap()
}

/// Calldata: key, amount, rounds. Counts its calls (slot 0), stores this block's beacon root
/// (slot 1, from EIP-4788's contract; slot 2 whether that call succeeded) and the parent's
/// hash (slot 3, from EIP-2935's contract), then calls the hook `rounds` times with
/// (key, amount * i) and stores (slot 4), logs and returns the sum of what it returned.
fn bank_code() -> Bytes {
    assemble(&format!(
        "PUSH 0 SLOAD PUSH 1 ADD PUSH 0 SSTORE
         TIMESTAMP PUSH 0 MSTORE
         PUSH 32 PUSH 32 PUSH 32 PUSH 0 PUSH {BEACON_ROOTS_ADDRESS} GAS STATICCALL
         PUSH 2 SSTORE PUSH 32 MLOAD PUSH 1 SSTORE
         PUSH 1 NUMBER SUB PUSH 0 MSTORE
         PUSH 32 PUSH 32 PUSH 32 PUSH 0 PUSH {HISTORY_STORAGE_ADDRESS} GAS STATICCALL
         POP PUSH 32 MLOAD PUSH 3 SSTORE
         PUSH 64 CALLDATALOAD PUSH 0
         loop:
            DUP2 ISZERO PUSH @done JUMPI
            PUSH 0 CALLDATALOAD PUSH 64 MSTORE
            DUP2 PUSH 32 CALLDATALOAD MUL PUSH 96 MSTORE
            PUSH 32 PUSH 128 PUSH 64 PUSH 64 PUSH 0 PUSH {HOOK} GAS CALL
            ISZERO PUSH @fail JUMPI
            PUSH 128 MLOAD ADD
            SWAP1 PUSH 1 SWAP1 SUB SWAP1
            PUSH @loop JUMP
         fail:
            PUSH 0 PUSH 0 REVERT
         done:
            DUP1 PUSH 4 SSTORE
            PUSH 0 MSTORE
            PUSH 0 CALLDATALOAD PUSH 0xba2c PUSH 32 PUSH 0 LOG2
            PUSH 32 PUSH 0 RETURN"
    ))
    .unwrap()
}

/// Initcode that deploys the hook's code.
fn hook_initcode() -> Bytes {
    let code = hook_code();
    assemble(&format!(
        "PUSH {len} DUP1 PUSH @code PUSH 0 CODECOPY PUSH 0 RETURN
         .mark code .bytes 0x{hex}",
        len = code.len(),
        hex = alloy_primitives::hex::encode(&code),
    ))
    .unwrap()
}

/// A bench fixture's contract code and its transaction's calldata.
fn fixture(name: &str) -> (Bytes, Bytes) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../shared/bench-fixtures/{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let test = json.as_object().unwrap().values().next().unwrap();
    let hex = |v: &serde_json::Value| Bytes::from(alloy_primitives::hex::decode(v.as_str().unwrap()).unwrap());
    let to = test["transaction"][0]["to"].as_str().unwrap().to_lowercase();
    let account = test["pre"].as_object().unwrap().iter().find(|(a, _)| a.to_lowercase() == to).unwrap().1;
    (hex(&account["code"]), hex(&test["transaction"][0]["data"]))
}

fn system_contract(name: &str) -> Bytes {
    fixture(name).0
}

fn deploy(db: &mut CacheDB<EmptyDB>, address: Address, code: Bytes) {
    db.insert_account_info(address, AccountInfo { nonce: 1, ..AccountInfo::from_bytecode(Bytecode::new_raw(code)) });
}

fn genesis() -> CacheDB<EmptyDB> {
    let mut db = CacheDB::new(EmptyDB::default());
    db.insert_account_info(SENDER, AccountInfo::from_balance(U256::from(10u128.pow(24))));
    deploy(&mut db, BANK, bank_code());
    deploy(&mut db, HOOK, hook_code());
    deploy(&mut db, BEACON_ROOTS_ADDRESS, system_contract("eip4788"));
    deploy(&mut db, HISTORY_STORAGE_ADDRESS, system_contract("eip2935"));
    for &(name, address) in FIXTURES {
        deploy(&mut db, address, fixture(name).0);
    }
    db
}

/// One block: its environment, what the executor needs from its header, its transactions.
struct TestBlock {
    env: EvmEnv,
    parent_hash: B256,
    parent_beacon_block_root: B256,
    withdrawals: Vec<Withdrawal>,
    txs: Vec<Recovered<TxEnvelope>>,
}

impl TestBlock {
    fn ctx(&self) -> EthBlockExecutionCtx<'_> {
        EthBlockExecutionCtx {
            parent_hash: self.parent_hash,
            parent_beacon_block_root: Some(self.parent_beacon_block_root),
            ommers: &[],
            withdrawals: Some(Cow::Borrowed(&self.withdrawals)),
            extra_data: Bytes::new(),
            tx_count_hint: Some(self.txs.len()),
            slot_number: None,
        }
    }
}

fn word(n: u64) -> [u8; 32] {
    U256::from(n).to_be_bytes()
}

fn bank_call(key: u64, amount: u64, rounds: u64) -> Bytes {
    [word(key), word(amount), word(rounds)].concat().into()
}

/// The blocks: one in Cancun (beacon root call only), two in Prague (beacon root and block
/// hash calls before, request calls after). Each has bank calls, a value transfer, a contract
/// creation, calls to the fixtures' contracts and one that runs out of gas.
fn blocks() -> Vec<TestBlock> {
    let mut nonce = 0;
    let mut sign = |to: TxKind, input: Bytes, gas_limit: u64, value: u64, legacy: bool| {
        let envelope: TxEnvelope = if legacy {
            TxLegacy {
                chain_id: Some(CHAIN_ID),
                nonce,
                gas_price: 2 * u128::from(BASEFEE),
                gas_limit,
                to,
                value: U256::from(value),
                input,
            }
            .into_signed(Signature::test_signature())
            .into()
        } else {
            TxEip1559 {
                chain_id: CHAIN_ID,
                nonce,
                gas_limit,
                max_fee_per_gas: 3 * u128::from(BASEFEE),
                max_priority_fee_per_gas: 2,
                to,
                value: U256::from(value),
                access_list: Default::default(),
                input,
            }
            .into_signed(Signature::test_signature())
            .into()
        };
        nonce += 1;
        Recovered::new_unchecked(envelope, SENDER)
    };
    let forks = [
        (SpecId::CANCUN, 19_500_000u64, 1_720_000_000u64, BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN),
        (SpecId::PRAGUE, 22_500_000, 1_750_000_000, BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE),
        (SpecId::PRAGUE, 22_500_001, 1_750_000_012, BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE),
    ];
    let mut blocks = Vec::new();
    for (i, (spec, number, timestamp, fraction)) in forks.into_iter().enumerate() {
        let i = i as u64;
        let mut block_env = BlockEnv {
            number: U256::from(number),
            beneficiary: COINBASE,
            timestamp: U256::from(timestamp),
            gas_limit: 300_000_000,
            basefee: BASEFEE,
            prevrandao: Some(B256::with_last_byte(i as u8 + 1)),
            ..BlockEnv::default()
        };
        block_env.set_blob_excess_gas_and_price(0, fraction);
        let mut cfg_env = CfgEnv::new_with_spec(spec);
        cfg_env.chain_id = CHAIN_ID;
        let call = |to: Address| TxKind::Call(to);
        let mut txs = vec![
            sign(call(BANK), bank_call(7, 100 + i, 5), 1_000_000, 0, false),
            sign(call(BANK), bank_call(8, 3, 20), 2_000_000, 0, true),
            sign(call(RECIPIENT), Bytes::new(), 21_000, 12_345, false),
            sign(TxKind::Create, hook_initcode(), 500_000, 0, false),
            // Runs out of gas in the hook loop.
            sign(call(BANK), bank_call(9, 1, 1_000), 200_000, 0, false),
        ];
        for &(name, address) in FIXTURES {
            txs.push(sign(call(address), fixture(name).1, 30_000_000, 0, false));
        }
        txs.push(sign(call(BANK), bank_call(7, 1, 3), 1_000_000, 0, false));
        blocks.push(TestBlock {
            env: EvmEnv::new(cfg_env, block_env),
            parent_hash: B256::repeat_byte(0x30 + i as u8),
            parent_beacon_block_root: B256::repeat_byte(0xb0 + i as u8),
            withdrawals: vec![Withdrawal { index: i, validator_index: 1, address: RECIPIENT, amount: 1_000 }],
            txs,
        });
    }
    blocks
}

/// What executing the blocks produced.
#[derive(Debug)]
struct Run {
    results: Vec<BlockExecutionResult<ReceiptEnvelope>>,
    state: BundleState,
    native_frames: u64,
}

/// Executes `blocks` through alloy-evm's Ethereum block executor with `evm_factory`;
/// `native_frames` says how many frames an EVM of the factory ran natively.
fn execute<F>(
    evm_factory: F,
    blocks: &[TestBlock],
    native_frames: impl Fn(&F::Evm<&mut Db, NoOpInspector>) -> u64,
) -> Run
where
    F: EvmFactory<Spec = SpecId, BlockEnv = BlockEnv, Tx: FromRecoveredTx<TxEnvelope> + FromTxWithEncoded<TxEnvelope>>
        + 'static,
{
    let factory = EthBlockExecutorFactory::new(AlloyReceiptBuilder::default(), EthSpec::mainnet(), evm_factory);
    let mut state = State::builder().with_database(genesis()).with_bundle_update().build();
    let mut results = Vec::new();
    let mut native = 0;
    for block in blocks {
        let evm = factory.evm_factory().create_evm(&mut state, block.env.clone());
        let mut executor = factory.create_executor(evm, block.ctx());
        executor.apply_pre_execution_changes().expect("pre-execution changes");
        for tx in &block.txs {
            executor.execute_transaction(tx).expect("valid transaction");
        }
        let (evm, result) = executor.finish().expect("block finishes");
        native += native_frames(&evm);
        results.push(result);
    }
    state.merge_transitions(BundleRetention::Reverts);
    Run { results, state: state.take_bundle(), native_frames: native }
}

#[test]
fn blocks_execute_identically_with_native_frames() {
    let blocks = blocks();
    let expected = execute(EthEvmFactory::default(), &blocks, |_| 0);
    let runtime = JitRuntime::new(JitConfig::eager());
    let jit = execute(JitEvmFactory::new(runtime.handle()), &blocks, |evm| evm.frame_counts().native);

    let txs: usize = blocks.iter().map(|b| b.txs.len()).sum();
    let receipts: Vec<&ReceiptEnvelope> = expected.results.iter().flat_map(|r| &r.receipts).collect();
    let succeeded = receipts.iter().filter(|r| r.status()).count();
    let logs: usize = receipts.iter().map(|r| r.logs().len()).sum();
    println!(
        "{} blocks, {txs} transactions ({succeeded} succeeded), {logs} logs, gas {:?}; native frames {}; runtime {:?}",
        blocks.len(),
        expected.results.iter().map(|r| r.gas_used).collect::<Vec<_>>(),
        jit.native_frames,
        runtime.handle().stats(),
    );
    // The blocks do something: most transactions succeed and log, one runs out of gas.
    let statuses: Vec<(bool, u64)> = receipts.iter().map(|r| (r.status(), r.cumulative_gas_used())).collect();
    assert!(succeeded >= txs - blocks.len(), "{succeeded} of {txs} succeeded: {statuses:?}");
    assert!(logs > 0);

    assert_eq!(jit.results.len(), expected.results.len());
    for (number, (jit, expected)) in jit.results.iter().zip(&expected.results).enumerate() {
        assert_eq!(jit.receipts, expected.receipts, "receipts of block {number}");
        assert_eq!(jit.gas_used, expected.gas_used, "gas of block {number}");
        assert_eq!(jit.requests, expected.requests, "requests of block {number}");
        assert_eq!(jit.blob_gas_used, expected.blob_gas_used, "blob gas of block {number}");
    }
    assert_eq!(jit.state, expected.state, "final state");
    // The system contracts stored what the bank read back.
    let bank = &expected.state.state[&BANK];
    assert_eq!(bank.storage[&U256::from(1)].present_value, U256::from_be_bytes(B256::repeat_byte(0xb2).0));
    assert!(jit.native_frames > 0, "no frame ran natively");
}

/// Counts calls it sees, to tell whether an EVM ran a transaction inspected.
#[derive(Debug, Default)]
struct CallCounter(u64);

impl<CTX: ContextTr> Inspector<CTX> for CallCounter {
    fn call(&mut self, _context: &mut CTX, _inputs: &mut CallInputs) -> Option<CallOutcome> {
        self.0 += 1;
        None
    }
}

/// The `Evm` methods a node calls besides the block executor's: system calls, inspection
/// switched on and off, components, `finish`; each as `EthEvmFactory`'s EVM does it.
#[test]
fn evm_methods_match_eth_evm() {
    let runtime = JitRuntime::new(JitConfig::eager());
    let jit_factory = JitEvmFactory::new(runtime.handle());
    let block = &blocks()[1];
    let tx = || revm::context::TxEnv {
        caller: SENDER,
        kind: TxKind::Call(BANK),
        data: bank_call(1, 2, 3),
        gas_limit: 1_000_000,
        gas_price: u128::from(BASEFEE),
        chain_id: Some(CHAIN_ID),
        ..Default::default()
    };

    let mut eth =
        EthEvmFactory::default().create_evm_with_inspector(genesis(), block.env.clone(), CallCounter::default());
    let mut jit = jit_factory.create_evm_with_inspector(genesis(), block.env.clone(), CallCounter::default());
    assert_eq!(jit.chain_id(), eth.chain_id());
    assert_eq!(jit.block(), eth.block());
    assert_eq!(jit.cfg_env().spec, eth.cfg_env().spec);

    let root = Bytes::from(B256::repeat_byte(0x77).0);
    let eth_system =
        eth.transact_system_call(alloy_eips::eip4788::SYSTEM_ADDRESS, BEACON_ROOTS_ADDRESS, root.clone()).unwrap();
    let jit_system = jit.transact_system_call(alloy_eips::eip4788::SYSTEM_ADDRESS, BEACON_ROOTS_ADDRESS, root).unwrap();
    assert_eq!(jit_system, eth_system);
    assert!(eth_system.result.is_success());

    // Inspected: the inspector sees the bank's calls.
    let (eth_out, jit_out) = (eth.transact(tx()).unwrap(), jit.transact(tx()).unwrap());
    assert_eq!(jit_out, eth_out);
    let seen = eth.inspector().0;
    assert!(seen > 1);
    assert_eq!(jit.inspector().0, seen);

    // Not inspected: the inspector sees nothing more; this time the frames run natively.
    eth.set_inspector_enabled(false);
    jit.set_inspector_enabled(false);
    let (eth_out, jit_out) = (eth.transact(tx()).unwrap(), jit.transact(tx()).unwrap());
    assert_eq!(jit_out, eth_out);
    assert_eq!((eth.inspector().0, jit.inspector().0), (seen, seen));
    assert!(jit.frame_counts().native > 0, "{:?}", jit.frame_counts());

    // Components reach the very database and precompiles the EVM runs with.
    assert_eq!(jit.components().2.addresses().count(), eth.components().2.addresses().count());
    jit.db_mut().insert_account_info(RECIPIENT, AccountInfo::from_balance(U256::from(5)));
    let (db, env) = jit.finish();
    assert_eq!(db.cache.accounts[&RECIPIENT].info.balance, U256::from(5));
    assert_eq!(env.block_env, block.env.block_env);
    assert_eq!(env.cfg_env.spec, SpecId::PRAGUE);
}
