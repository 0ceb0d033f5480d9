//! `JitEvmFactory` wired as a node wires its EVM: one `JitRuntime` for the process, its factory
//! in alloy-evm's Ethereum block executor factory where `EthEvmFactory` was, blocks executed
//! through it, and an `eth_call`-style EVM from the same factory. A contract turns hot over the
//! first blocks, is compiled in the background, and from then on its frames run natively.
//!
//! Run with `cargo run --release --features alloy-evm --example alloy_factory`.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, transaction::Recovered};
use alloy_evm::{
    Evm, EvmEnv, EvmFactory,
    block::{BlockExecutor, BlockExecutorFactory},
    eth::{EthBlockExecutionCtx, EthBlockExecutorFactory, receipt_builder::AlloyReceiptBuilder, spec::EthSpec},
};
use alloy_primitives::Signature;
use revm::{
    context::{BlockEnv, CfgEnv, TxEnv},
    database::{CacheDB, EmptyDB, State},
    primitives::{Address, B256, Bytes, TxKind, U256, hardfork::SpecId},
    state::{AccountInfo, Bytecode},
};
use revm_jit::{JitConfig, JitEvmFactory, JitRuntime};
use std::borrow::Cow;

const SENDER: Address = Address::repeat_byte(0x51);
const CONTRACT: Address = Address::repeat_byte(0xcc);

/// Sums `i * slot[i % 4]` for i below the first calldata word, storing the sum in slot 4.
fn contract() -> Bytes {
    revm_jit_cli::asm::assemble(
        "PUSH 0 PUSH 0 CALLDATALOAD        ; n acc
         loop:
            DUP1 ISZERO PUSH @done JUMPI
            DUP1 PUSH 4 DUP2 MOD SLOAD MUL  ; n acc n*slot[n%4]
            SWAP1 SWAP2 ADD SWAP1           ; acc' n
            PUSH 1 SWAP1 SUB
            PUSH @loop JUMP
         done:
            POP PUSH 4 SSTORE STOP",
    )
    .expect("the example's contract assembles")
}

fn main() {
    // One runtime per node process: it owns the cache and the background compiler, and every
    // EVM the node creates shares it through the factory.
    let runtime = JitRuntime::new(JitConfig::default());
    let evm_factory = JitEvmFactory::new(runtime.handle());
    // Where the node's EVM configuration took `EthEvmFactory::default()`.
    let executor_factory =
        EthBlockExecutorFactory::new(AlloyReceiptBuilder::default(), EthSpec::mainnet(), evm_factory.clone());

    let mut genesis = CacheDB::new(EmptyDB::default());
    genesis.insert_account_info(SENDER, AccountInfo::from_balance(U256::from(10u128.pow(24))));
    genesis.insert_account_info(CONTRACT, AccountInfo::from_bytecode(Bytecode::new_raw(contract())));
    for slot in 0..4u64 {
        genesis.insert_account_storage(CONTRACT, U256::from(slot), U256::from(slot + 1)).expect("CacheDB<EmptyDB>");
    }
    let mut state = State::builder().with_database(genesis).with_bundle_update().build();

    let env = |number: u64| {
        let mut cfg = CfgEnv::new_with_spec(SpecId::PRAGUE);
        cfg.chain_id = 1;
        let mut block = BlockEnv {
            number: U256::from(22_500_000 + number),
            timestamp: U256::from(1_750_000_000 + 12 * number),
            gas_limit: 30_000_000,
            basefee: 1,
            prevrandao: Some(B256::ZERO),
            ..BlockEnv::default()
        };
        block.set_blob_excess_gas_and_price(0, revm::primitives::eip4844::BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE);
        EvmEnv::new(cfg, block)
    };
    let mut nonce = 0;
    for number in 0..30 {
        let txs: Vec<_> = (0..10)
            .map(|_| {
                let tx = TxEip1559 {
                    chain_id: 1,
                    nonce,
                    gas_limit: 1_000_000,
                    max_fee_per_gas: 10,
                    max_priority_fee_per_gas: 1,
                    to: TxKind::Call(CONTRACT),
                    input: U256::from(200).to_be_bytes::<32>().into(),
                    ..TxEip1559::default()
                };
                nonce += 1;
                Recovered::new_unchecked(TxEnvelope::from(tx.into_signed(Signature::test_signature())), SENDER)
            })
            .collect();
        let evm = executor_factory.evm_factory().create_evm(&mut state, env(number));
        let ctx = EthBlockExecutionCtx {
            parent_hash: B256::with_last_byte(number as u8),
            parent_beacon_block_root: Some(B256::ZERO),
            ommers: &[],
            withdrawals: Some(Cow::Owned(Vec::new())),
            extra_data: Bytes::new(),
            tx_count_hint: Some(txs.len()),
            slot_number: None,
        };
        let mut executor = executor_factory.create_executor(evm, ctx);
        executor.apply_pre_execution_changes().expect("pre-execution changes");
        for tx in &txs {
            executor.execute_transaction(tx).expect("valid transaction");
        }
        let (evm, result) = executor.finish().expect("block executes");
        let frames = evm.frame_counts();
        println!(
            "block {number:2}: {} receipts, gas {:>9}, frames native {:2} / interpreted {:2}",
            result.receipts.len(),
            result.gas_used,
            frames.native,
            frames.interpreted
        );
        // Give the background compiler a moment, as the time between blocks would.
        std::thread::sleep(std::time::Duration::from_millis(5));
    }

    // An `eth_call` on the resulting state, from the same factory.
    let mut call = evm_factory.create_evm(&mut state, env(30));
    let output = call
        .transact(TxEnv {
            caller: SENDER,
            kind: TxKind::Call(CONTRACT),
            data: U256::from(10).to_be_bytes::<32>().into(),
            gas_limit: 1_000_000,
            gas_price: 1,
            nonce,
            chain_id: Some(1),
            ..TxEnv::default()
        })
        .expect("valid call");
    println!("eth_call: {:?}, native frames {}", output.result.is_success(), call.frame_counts().native);
    println!("runtime: {:?}", runtime.handle().stats());
}
