//! The runner's multi-fork rules, on small state-test files written here: posts for Frontier
//! through Cancun in one file, as ethereum/tests' older suites have them.
//!
//! Expected roots are built from the rules as the reference fillers apply them (geth's
//! `StateTest.RunNoVerify`: a zero mining reward to the coinbase after the transaction, empty
//! touched accounts deleted only from EIP-158 on), with [`roots::state_root`] over a
//! hand-written post-state.

use super::{Quiet, RunOptions, Status, roots, run};
use crate::exec::Mode;
use revm::{
    database::CacheState,
    primitives::{Address, B256, U256, address},
    state::AccountInfo,
};
use serde_json::{Value, json};
use std::path::Path;

/// The sender of every transaction here, and its key.
const SENDER: Address = address!("0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b");
const SECRET_KEY: &str = "0x45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8";
const COINBASE: Address = address!("0x2adc25665018aa1fe0e6bc666dac8fc2697ff9ba");
/// Empty logs: `keccak(rlp([]))`.
const NO_LOGS: &str = "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347";

/// Forks before EIP-158 and from it on, as ethereum/tests names them.
const PRE_158: &[&str] = &["Frontier", "Homestead", "EIP150"];
const POST_158: &[&str] = &["EIP158", "Byzantium", "ConstantinopleFix", "Istanbul", "Berlin", "London", "Cancun"];

fn env() -> Value {
    json!({
        "currentBaseFee": "0x0a",
        "currentCoinbase": COINBASE.to_string(),
        "currentDifficulty": "0x020000",
        "currentExcessBlobGas": "0x00",
        "currentGasLimit": "0xff112233445566",
        "currentNumber": "0x01",
        "currentRandom": "0x0000000000000000000000000000000000000000000000000000000000020000",
        "currentTimestamp": "0x03e8"
    })
}

fn account(balance: u64, nonce: u64, storage: &[(u64, u64)]) -> Value {
    let storage: serde_json::Map<String, Value> =
        storage.iter().map(|(k, v)| (format!("{k:#x}"), json!(format!("{v:#x}")))).collect();
    json!({ "balance": format!("{balance:#x}"), "code": "0x", "nonce": format!("{nonce:#x}"), "storage": storage })
}

/// A post entry for every fork of `forks`, with `hash` and (when given) an expected exception.
fn posts(forks: &[&str], hash: B256, exception: Option<&str>) -> serde_json::Map<String, Value> {
    forks
        .iter()
        .map(|fork| {
            let mut post =
                json!({ "hash": hash.to_string(), "indexes": { "data": 0, "gas": 0, "value": 0 }, "logs": NO_LOGS });
            if let Some(exception) = exception {
                post["expectException"] = json!(exception);
            }
            (fork.to_string(), json!([post]))
        })
        .collect()
}

/// A post-state account: address, info, storage slots.
type PostAccount<'a> = (Address, AccountInfo, &'a [(u64, u64)]);

/// The state root of `accounts`.
fn root(accounts: &[PostAccount<'_>]) -> B256 {
    let mut cache = CacheState::new();
    for (address, info, storage) in accounts {
        let storage = storage.iter().map(|&(k, v)| (U256::from(k), U256::from(v))).collect();
        cache.insert_account_with_storage(*address, info.clone(), storage);
    }
    roots::state_root(&cache)
}

fn info(balance: u64, nonce: u64) -> AccountInfo {
    AccountInfo { balance: U256::from(balance), nonce, ..AccountInfo::default() }
}

fn write(dir: &Path, name: &str, tests: Value) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(&tests).unwrap()).unwrap();
    path
}

/// Runs `file` interpreted; returns (passed, failed, skipped) and the failures' text.
fn judge(file: &Path) -> (u64, u64, u64, Vec<String>) {
    let report = run(&[file.to_path_buf()], &RunOptions::new(Mode::Interp), &mut Quiet);
    let totals = report.totals();
    let failures = report
        .cases
        .iter()
        .filter(|c| matches!(c.status, Status::Failed(_)))
        .map(|c| format!("{:?} {:?}: {:?}", c.test, c.fork, c.status))
        .collect();
    (totals.passed, totals.failed, totals.skipped, failures)
}

/// A transaction that cannot pay for its gas (100,000 gas at 10 wei, from an account with
/// 1,000 wei) is rejected. The fillers' zero reward still touches the coinbase: before
/// EIP-158 a coinbase that did not exist is then an empty account in the trie; from EIP-158
/// on, an existing empty coinbase is deleted.
#[test]
fn rejected_transaction_touches_the_coinbase_as_the_fillers_do() {
    let dir = tempfile::tempdir().unwrap();
    let tx = json!({
        "data": ["0x"], "gasLimit": ["0x0186a0"], "gasPrice": "0x0a", "nonce": "0x00",
        "secretKey": SECRET_KEY, "sender": SENDER.to_string(),
        "to": "0x095e7baea6a6c7c4c2dfeb977efac326af552d87", "value": ["0x00"]
    });
    let sender = (SENDER, info(1000, 0), &[][..]);
    let empty_coinbase = (COINBASE, info(0, 0), &[][..]);

    // The coinbase does not exist before the transaction.
    let absent_pre_158 = root(&[sender.clone(), empty_coinbase.clone()]);
    let absent_post_158 = root(std::slice::from_ref(&sender));
    let mut absent_post = posts(PRE_158, absent_pre_158, Some("TR_NoFunds"));
    absent_post.extend(posts(POST_158, absent_post_158, Some("TR_NoFunds")));

    // The coinbase exists, empty, before the transaction.
    let mut empty_post = posts(PRE_158, absent_pre_158, Some("TR_NoFunds"));
    empty_post.extend(posts(POST_158, absent_post_158, Some("TR_NoFunds")));

    let tests = json!({
        "coinbaseAbsent": {
            "env": env(),
            "pre": { SENDER.to_string(): account(1000, 0, &[]) },
            "transaction": tx,
            "post": absent_post,
        },
        "coinbaseEmpty": {
            "env": env(),
            "pre": { SENDER.to_string(): account(1000, 0, &[]), COINBASE.to_string(): account(0, 0, &[]) },
            "transaction": tx,
            "post": empty_post,
        },
    });
    let file = write(dir.path(), "rejectedMultiFork.json", tests);
    let forks = (PRE_158.len() + POST_158.len()) as u64;
    // Constantinople-fix and the rest all run; nothing is skipped.
    assert_eq!(judge(&file), (2 * forks, 0, 0, Vec::new()));
}

/// A transaction creating a contract where an account with storage but no code and nonce 0
/// is (an EIP-7610 collision, which revm does not see) is skipped, whatever the file is
/// called; the same file's cases that create nowhere near such an account, or whose creation
/// halts as the collision would, run and pass.
#[test]
fn eip7610_collisions_are_recognised_by_what_they_do() {
    let dir = tempfile::tempdir().unwrap();
    let created = SENDER.create(0);
    let forks = ["Istanbul", "Berlin", "London", "Cancun"];
    let create_tx = json!({
        "data": ["0x00"], "gasLimit": ["0x0186a0"], "gasPrice": "0x0a", "nonce": "0x00",
        "secretKey": SECRET_KEY, "sender": SENDER.to_string(), "to": "", "value": ["0x00"]
    });
    // A call to an empty account, with a storage-only account elsewhere in the pre-state: no
    // creation, so it runs (London and Cancun: gas price 10 against a base fee of 10, so the
    // sender pays 21,000 × 10 and the coinbase's priority fee is 0, and an empty touched
    // coinbase is not created).
    let call_tx = json!({
        "data": ["0x"], "gasLimit": ["0x0186a0"], "gasPrice": "0x0a", "nonce": "0x00",
        "secretKey": SECRET_KEY, "sender": SENDER.to_string(),
        "to": "0x095e7baea6a6c7c4c2dfeb977efac326af552d87", "value": ["0x00"]
    });
    // The same creation with initcode that halts (INVALID): it consumes all its gas and
    // changes nothing, as the collision would, so it is judged, not skipped. The sender pays
    // the whole gas limit, 100,000 × 10.
    let failing_create_tx = json!({
        "data": ["0xfe"], "gasLimit": ["0x0186a0"], "gasPrice": "0x0a", "nonce": "0x00",
        "secretKey": SECRET_KEY, "sender": SENDER.to_string(), "to": "", "value": ["0x00"]
    });
    let balance = 1_000_000_000_000_000_000u64;
    let failing_create_root = root(&[(SENDER, info(balance - 1_000_000, 1), &[]), (created, info(0, 0), &[(1, 1)])]);
    let call_root = root(&[(SENDER, info(balance - 210_000, 1), &[]), (created, info(0, 0), &[(1, 1)])]);
    let tests = json!({
        "createOverStorage": {
            "env": env(),
            "pre": { SENDER.to_string(): account(balance, 0, &[]), created.to_string(): account(0, 0, &[(1, 1)]) },
            "transaction": create_tx,
            // Whatever the fillers' root: the case must be skipped, not judged.
            "post": posts(&forks, B256::ZERO, None),
        },
        "createOverStorageHalts": {
            "env": env(),
            "pre": { SENDER.to_string(): account(balance, 0, &[]), created.to_string(): account(0, 0, &[(1, 1)]) },
            "transaction": failing_create_tx,
            "post": posts(&forks[2..], failing_create_root, None),
        },
        "callBesideStorage": {
            "env": env(),
            "pre": { SENDER.to_string(): account(balance, 0, &[]), created.to_string(): account(0, 0, &[(1, 1)]) },
            "transaction": call_tx,
            "post": posts(&forks[2..], call_root, None),
        },
    });
    // Not a name ending in `Paris`: the old runner matched file names and failed these.
    let file = write(dir.path(), "collisionIstanbulToCancun.json", tests);
    let (passed, failed, skipped, failures) = judge(&file);
    assert_eq!((passed, failed, skipped), (4, 0, 4), "{failures:#?}");
}
