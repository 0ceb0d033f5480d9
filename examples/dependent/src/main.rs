//! Runs one transaction through a `JitEvm` with native code, as a node depending on revm-jit
//! would, and checks it against revm's interpreter.

use revm::{
    Context, ExecuteEvm, MainBuilder, MainContext,
    context::TxEnv,
    database::{CacheDB, EmptyDB},
    primitives::{Address, Bytes, TxKind, U256, hex},
    state::{AccountInfo, Bytecode},
};
use revm_jit::{JitConfig, JitEvm, JitRuntime};

/// Sums 1..=n for n in the first calldata word and returns the sum.
const SUM: &str = "60006000355b801560165780910190600190036005565b5060005260206000f3";

fn main() {
    let caller = Address::repeat_byte(0x11);
    let contract = Address::repeat_byte(0x22);
    let mut db = CacheDB::new(EmptyDB::default());
    db.insert_account_info(caller, AccountInfo { balance: U256::from(10u64.pow(18)), ..Default::default() });
    let code = Bytecode::new_raw(Bytes::from(hex::decode(SUM).expect("hex")));
    db.insert_account_info(contract, AccountInfo::default().with_code(code));
    let tx = TxEnv::builder()
        .caller(caller)
        .kind(TxKind::Call(contract))
        .data(Bytes::from(U256::from(100).to_be_bytes::<32>()))
        .gas_limit(1_000_000)
        .build()
        .expect("valid transaction");

    let expected = Context::mainnet().with_db(db.clone()).build_mainnet().transact(tx.clone()).expect("interpreted");

    // Eager mode: the contract is compiled the first time it runs, on this thread.
    let runtime = JitRuntime::new(JitConfig::eager());
    let mut evm = JitEvm::new(Context::mainnet().with_db(db).build_mainnet(), runtime.handle());
    let result = evm.transact(tx).expect("native");

    assert_eq!(result.result, expected.result, "native and interpreted results differ");
    assert_eq!(result.result.output().map(|o| U256::from_be_slice(o)), Some(U256::from(5050)));
    let frames = evm.frame_counts();
    assert!(frames.native == 1 && frames.interpreted == 0, "the frame did not run natively: {frames:?}");
    println!("sum(1..=100) = 5050 natively ({frames:?}), same as the interpreter");
}
