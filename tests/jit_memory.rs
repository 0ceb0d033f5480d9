//! JIT memory stays bounded however many contracts pass through the runtime.
//!
//! Tens of thousands of distinct contracts (minimal proxies that differ only in the address
//! they delegate to, plus two larger shapes) are compiled and run, each checked against the
//! interpreter, through an eager runtime and through one with the background compiler, with a
//! cache small enough that eviction runs all the time. The process's memory mappings and its
//! resident memory must stay under a stated bound, and so must the JIT's own counters.
//!
//! `REVM_JIT_MEMORY_CONTRACTS=N` sets the number of contracts per runtime (default 3,000, what
//! CI runs; the figures in the notes come from 100,000). `REVM_JIT_MEMORY_CACHE_MIB=M` sets the
//! cache capacity (default 8 MiB); with a cache large enough that nothing is evicted, the
//! resident growth per contract printed at the end is what one compiled contract costs.

use revm::handler::MainnetContext;
use revm::{
    Context, ExecuteEvm, MainBuilder, MainContext,
    context::{TxEnv, result::ResultAndState},
    database::{CacheDB, EmptyDB},
    primitives::{Address, Bytes, TxKind, U256, address, hardfork::SpecId, keccak256},
    state::{AccountInfo, Bytecode},
};
use revm_jit::{
    CompileError, CompilerConfig, JitConfig, JitEvm, JitRuntime,
    compiler::{CodeMemoryExhausted, code_memory_stats},
};
use std::time::Duration;

const CALLER: Address = address!("0x1000000000000000000000000000000000000001");
const TARGET: Address = address!("0x2000000000000000000000000000000000000002");

/// Cache capacity of the runtimes under test: small, so that eviction runs constantly.
const CACHE_BYTES: u64 = 8 << 20;

/// The bound on memory mappings the test holds the process to, beyond those it had after
/// warm-up: the JIT's regions (at most `2 * max_code_memory / REGION_SIZE`, and in practice a
/// handful) plus room for the allocator and thread stacks.
const EXTRA_MAPPINGS: usize = 200;

/// The bound on resident memory growth beyond warm-up: the cache's capacity in code and
/// bookkeeping several times over, plus allocator slack.
const EXTRA_RESIDENT_BYTES: u64 = 256 << 20;

fn contracts() -> usize {
    std::env::var("REVM_JIT_MEMORY_CONTRACTS").ok().and_then(|n| n.parse().ok()).unwrap_or(3_000)
}

/// The `i`-th distinct contract and the implementation accounts it needs.
fn contract(i: usize) -> (Bytes, Option<(Address, Bytes)>) {
    let salt = u32::try_from(i).expect("fewer than 2^32 contracts");
    match i % 8 {
        6 => (hash_loop(salt), None),
        7 => (branchy(salt), None),
        _ => {
            let implementation = Address::from_word(keccak256(salt.to_be_bytes()));
            (minimal_proxy(implementation), Some((implementation, implementation_code())))
        }
    }
}

/// EIP-1167 minimal proxy delegating to `implementation`.
fn minimal_proxy(implementation: Address) -> Bytes {
    let mut code = hex("363d3d373d3d3d363d73");
    code.extend_from_slice(implementation.as_slice());
    code.extend(hex("5af43d82803e903d91602b57fd5bf3"));
    code.into()
}

/// What every proxy delegates to (one code, compiled once): stores CALLDATASIZE + 1 at slot 0,
/// logs it, and returns it.
fn implementation_code() -> Bytes {
    // CALLDATASIZE PUSH1 1 ADD DUP1 PUSH1 0 SSTORE DUP1 PUSH1 0 MSTORE PUSH1 32 PUSH1 0 LOG0
    // PUSH1 32 PUSH1 0 RETURN
    hex("36600101806000558060005260206000a060206000f3").into()
}

/// Hashes `salt` in a loop of 16 rounds and returns the digest.
fn hash_loop(salt: u32) -> Bytes {
    let mut code = vec![0x63];
    code.extend(salt.to_be_bytes()); // PUSH4 salt
    // PUSH1 0 MSTORE; PUSH1 16 (counter)
    code.extend(hex("6000526010"));
    // loop @ 10: JUMPDEST PUSH1 32 PUSH1 0 KECCAK256 PUSH1 0 MSTORE PUSH1 1 SWAP1 SUB DUP1 PUSH1 10 JUMPI
    code.extend(hex("5b60206000206000526001900380600a57"));
    // POP PUSH1 32 PUSH1 0 RETURN
    code.extend(hex("5060206000f3"));
    code.into()
}

/// 40 conditional blocks keyed by bits of `salt`: a larger function with many branches.
fn branchy(salt: u32) -> Bytes {
    let mut code = vec![0x63];
    code.extend(salt.to_be_bytes()); // PUSH4 salt: the accumulator
    for bit in 0..40u8 {
        // DUP1 PUSH1 bit SHR PUSH1 1 AND ISZERO PUSH2 skip JUMPI PUSH1 bit MUL PUSH1 7 ADD
        // skip: JUMPDEST
        let skip = u16::try_from(code.len() + 18).expect("small code");
        code.extend([0x80, 0x60, bit % 32, 0x1c, 0x60, 0x01, 0x16, 0x15, 0x61]);
        code.extend(skip.to_be_bytes());
        code.extend([0x57, 0x60, bit + 2, 0x02, 0x60, 0x07, 0x01, 0x5b]);
    }
    code.extend(hex("60005260206000f3")); // PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN
    code.into()
}

fn hex(s: &str) -> Vec<u8> {
    alloy_primitives::hex::decode(s).expect("valid hex")
}

fn account(code: Bytes) -> AccountInfo {
    AccountInfo { code_hash: keccak256(&code), code: Some(Bytecode::new_raw(code)), ..Default::default() }
}

fn context(code: &Bytes, implementation: &Option<(Address, Bytes)>) -> MainnetContext<CacheDB<EmptyDB>> {
    let mut db = CacheDB::new(EmptyDB::default());
    db.insert_account_info(CALLER, AccountInfo { balance: U256::from(10u64.pow(18)), ..Default::default() });
    db.insert_account_info(TARGET, account(code.clone()));
    if let Some((address, code)) = implementation {
        db.insert_account_info(*address, account(code.clone()));
    }
    Context::mainnet().with_db(db).modify_cfg_chained(|cfg| cfg.set_spec_and_mainnet_gas_params(SpecId::PRAGUE))
}

fn tx(i: usize) -> TxEnv {
    let calldata = Bytes::from(vec![0xab; i % 5]);
    let tx = TxEnv::builder().caller(CALLER).kind(TxKind::Call(TARGET)).data(calldata).gas_limit(1_000_000);
    tx.gas_price(0).build().expect("valid transaction")
}

fn interpreted(i: usize) -> ResultAndState {
    let (code, implementation) = contract(i);
    context(&code, &implementation).build_mainnet().transact(tx(i)).expect("valid transaction")
}

/// Runs contract `i` through `runtime`; returns the result and how many frames ran native.
fn through_jit(runtime: &JitRuntime, i: usize) -> (ResultAndState, u64) {
    let (code, implementation) = contract(i);
    let mut evm = JitEvm::new(context(&code, &implementation).build_mainnet(), runtime.handle());
    let result = evm.transact(tx(i)).expect("valid transaction");
    (result, evm.frame_counts().native)
}

/// The number of memory mappings of this process.
fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps").expect("procfs").lines().count()
}

/// Resident memory of this process, in bytes.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("procfs");
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).expect("statm");
    pages * 4096
}

/// Runs `count` distinct contracts through `runtime`, each against the interpreter, sampling
/// mappings and resident memory; panics past the bounds. Returns native frames run.
fn run_many(label: &str, runtime: &JitRuntime, count: usize) -> u64 {
    // Warm up: the first contracts map the first region and grow the allocator's arenas.
    for i in 0..64 {
        through_jit(runtime, i);
    }
    let (base_maps, base_rss) = (mappings(), resident_bytes());
    let mut native = 0;
    let (mut peak_maps, mut peak_rss) = (base_maps, base_rss);
    for i in 0..count {
        let (result, frames) = through_jit(runtime, i);
        assert_eq!(result, interpreted(i), "{label}: contract {i} differs from the interpreter");
        native += frames;
        if i % 500 == 499 || i + 1 == count {
            let (maps, rss) = (mappings(), resident_bytes());
            (peak_maps, peak_rss) = (peak_maps.max(maps), peak_rss.max(rss));
            let jit = code_memory_stats();
            let stats = runtime.handle().stats();
            eprintln!(
                "{label}: {} contracts, {maps} mappings, {} MiB resident; JIT: {} regions, {} KiB in use, {} objects; cache: {} entries, {} evictions",
                i + 1,
                rss >> 20,
                jit.mappings,
                jit.allocated_bytes >> 10,
                jit.objects,
                stats.cached_entries,
                stats.evictions,
            );
            assert!(maps <= base_maps + EXTRA_MAPPINGS, "{label}: {maps} mappings after {} contracts", i + 1);
            assert!(
                rss <= base_rss + EXTRA_RESIDENT_BYTES,
                "{label}: {} MiB resident after {} contracts",
                rss >> 20,
                i + 1
            );
        }
    }
    eprintln!(
        "{label}: peak {peak_maps} mappings (+{} over warm-up), peak {} MiB resident (+{} MiB, {} bytes per contract)",
        peak_maps - base_maps,
        peak_rss >> 20,
        (peak_rss - base_rss) >> 20,
        (peak_rss - base_rss) / count.max(1) as u64,
    );
    native
}

fn cache_bytes() -> u64 {
    std::env::var("REVM_JIT_MEMORY_CACHE_MIB").ok().and_then(|n| n.parse::<u64>().ok()).map_or(CACHE_BYTES, |m| m << 20)
}

fn small_cache(config: JitConfig) -> JitConfig {
    JitConfig { cache_capacity_bytes: cache_bytes(), ..config }
}

/// Every contract compiled on first use: mappings and memory stay flat as the cache evicts.
#[test]
fn eager_runtime_keeps_mappings_and_memory_bounded() {
    let runtime = JitRuntime::new(small_cache(JitConfig::eager()));
    let count = contracts();
    let native = run_many("eager", &runtime, count);
    let stats = runtime.handle().stats();
    assert!(native as usize >= count, "every contract ran native: {native} native frames for {count}");
    assert!(stats.evictions > 0 || cache_bytes() != CACHE_BYTES, "the cache evicted: {stats:?}");
    assert!(stats.resident_code_bytes <= cache_bytes(), "{stats:?}");
    assert!(stats.jit_mappings <= 2 * (CompilerConfig::default().max_code_memory as u64 >> 24), "{stats:?}");
}

/// The background compiler, frames waiting for their code: the same bound holds.
#[test]
fn background_runtime_keeps_mappings_and_memory_bounded() {
    let config =
        JitConfig { hot_threshold: 0, wait_for_compile: Some(Duration::from_secs(30)), ..JitConfig::default() };
    let runtime = JitRuntime::new(small_cache(config));
    let count = contracts();
    let native = run_many("background", &runtime, count);
    let stats = runtime.handle().stats();
    assert!(native as usize >= count * 9 / 10, "most contracts ran native: {native} native frames for {count}");
    assert!(stats.evictions > 0 || cache_bytes() != CACHE_BYTES, "the cache evicted: {stats:?}");
    assert!(stats.compiled as usize >= count, "{stats:?}");
}

/// Out of JIT memory is a typed, counted compile failure; the frame runs interpreted.
#[test]
fn exhausted_code_memory_is_an_error_not_an_abort() {
    let compiler = CompilerConfig { max_code_memory: 1, ..CompilerConfig::default() };
    let runtime = JitRuntime::new(JitConfig { compiler: compiler.clone(), ..JitConfig::eager() });
    for i in [6, 7, 8] {
        let (result, native) = through_jit(&runtime, i);
        assert_eq!(result, interpreted(i));
        assert_eq!(native, 0, "contract {i} cannot have run native");
    }
    let stats = runtime.handle().stats();
    // Contract 8 is a proxy: it and its implementation both fail.
    assert_eq!((stats.failed, stats.compiled), (4, 0), "{stats:?}");
    let mut direct = revm_jit::Compiler::new(compiler).expect("compiler");
    let err = direct.compile(&contract(6).0, SpecId::PRAGUE).expect_err("no memory for it");
    assert!(matches!(err, CompileError::OutOfCodeMemory(CodeMemoryExhausted::Limit { .. })), "{err}");
}
