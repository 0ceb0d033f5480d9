//! Building revm's environment (cfg, block, transaction, pre-state) from a fixture.
//!
//! The rules here are the ethereum/tests state-test conventions: chain id 1 unless the
//! environment says otherwise, the transaction's sender is given (or derived from its
//! secret key), fields are chosen from the transaction's lists by the post-state's
//! indexes, and a transaction that cannot be represented (a field too wide for revm,
//! an unsigned transaction, a blob transaction without recipient…) is *rejected* — it is
//! an invalid transaction, which the fixture is expected to say with `expectException`.

use super::fixture::FixtureTest;
use revm::{
    context::{BlockEnv, CfgEnv, TxEnv},
    context_interface::{either::Either, transaction::TransactionType},
    database::CacheState,
    primitives::{B256, KECCAK_EMPTY, TxKind, U256, hardfork::SpecId, keccak256},
    state::{AccountInfo, Bytecode},
};
use revm_statetest_types::{Test, recover_address};
use std::path::{Path, PathBuf};

/// How the runner treats a fork name found in a fixture's `post`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForkSupport {
    /// Executed with this revm spec.
    Run(SpecId),
    /// Not executed, for the reason given.
    Skip(&'static str),
}

/// Reason for skipping the original Constantinople rules.
const CONSTANTINOPLE: &str = "fork Constantinople: its EIP-1283 SSTORE metering was withdrawn before \
     mainnet (replaced by ConstantinopleFix/Petersburg) and revm has no spec for it";

/// Maps a fork name of a fixture's `post` to how the runner treats it.
///
/// Accepts the names ethereum/tests uses and their common aliases. Transition forks
/// (`…At5`, `…AtTime15k`) only make sense in blockchain tests and are not listed, so they
/// are skipped as unknown like any other name.
pub fn fork_support(name: &str) -> Option<ForkSupport> {
    if name == "Constantinople" {
        return Some(ForkSupport::Skip(CONSTANTINOPLE));
    }
    crate::fork::parse(name).map(ForkSupport::Run)
}

/// A fixture whose content is inconsistent, found while building a case's environment.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FixtureError {
    /// A post-state index points past the end of the transaction list it selects from.
    #[error(
        "{}: field `{test}/post/{fork}/{index}/indexes/{field}`: index {value} is out of range, \
         `{test}/transaction/{list}` has {len} entries",
        path.display()
    )]
    IndexOutOfRange {
        /// The file.
        path: PathBuf,
        /// The test.
        test: String,
        /// The fork of the post-state.
        fork: String,
        /// The position of the post-state in the fork's list.
        index: usize,
        /// The index field (`data`, `gas` or `value`).
        field: &'static str,
        /// The list it selects from (`data`, `gasLimit`, `value`).
        list: &'static str,
        /// The out-of-range index.
        value: usize,
        /// The length of the list.
        len: usize,
    },
    /// The transaction's secret key is not a valid secp256k1 key and no sender is given.
    #[error(
        "{}: field `{test}/transaction/secretKey`: {key} is not a valid secp256k1 secret key \
         (and no `sender` is given)",
        path.display()
    )]
    BadSecretKey {
        /// The file.
        path: PathBuf,
        /// The test.
        test: String,
        /// The key.
        key: B256,
    },
    /// A block environment field does not fit in revm's representation.
    #[error("{}: field `{test}/env/{field}`: {value} does not fit in 64 bits", path.display())]
    EnvOutOfRange {
        /// The file.
        path: PathBuf,
        /// The test.
        test: String,
        /// The field.
        field: &'static str,
        /// Its value.
        value: U256,
    },
}

/// The configuration for running `spec`: chain id and blob limits.
pub fn cfg_env(test: &FixtureTest, spec: SpecId) -> CfgEnv {
    let mut cfg = CfgEnv::new_with_spec(spec);
    cfg.chain_id = test.env.current_chain_id.map(|id| id.saturating_to()).unwrap_or(1);
    // Blobs per transaction: bounded by the block's blob limit until Osaka (6 in Cancun,
    // 9 in Prague, EIP-7691), then capped at 6 per transaction (EIP-7594).
    cfg.max_blobs_per_tx = if spec.is_enabled_in(SpecId::OSAKA) {
        Some(6)
    } else if spec.is_enabled_in(SpecId::PRAGUE) {
        Some(9)
    } else if spec.is_enabled_in(SpecId::CANCUN) {
        Some(6)
    } else {
        None
    };
    cfg
}

/// The block a test's transaction is executed in, under `cfg`.
pub fn block_env(path: &Path, test: &FixtureTest, cfg: &CfgEnv) -> Result<BlockEnv, Box<FixtureError>> {
    let env = &test.env;
    let out_of_range = |field: &'static str, value: U256| {
        Box::new(FixtureError::EnvOutOfRange { path: path.to_path_buf(), test: test.name.clone(), field, value })
    };
    let basefee = env.current_base_fee.unwrap_or_default();
    let slot = env.slot_number.unwrap_or_default();
    let mut block = BlockEnv {
        number: env.current_number,
        beneficiary: env.current_coinbase,
        timestamp: env.current_timestamp,
        gas_limit: env
            .current_gas_limit
            .try_into()
            .map_err(|_| out_of_range("currentGasLimit", env.current_gas_limit))?,
        basefee: basefee.try_into().map_err(|_| out_of_range("currentBaseFee", basefee))?,
        difficulty: env.current_difficulty,
        prevrandao: env.current_random,
        slot_num: slot.try_into().map_err(|_| out_of_range("slotNumber", slot))?,
        ..BlockEnv::default()
    };
    // From Paris on, DIFFICULTY reads PREVRANDAO; fixtures written before the merge
    // carry no `currentRandom` and mean zero.
    if cfg.spec.is_enabled_in(SpecId::MERGE) && block.prevrandao.is_none() {
        block.prevrandao = Some(B256::ZERO);
    }
    // The blob gas price comes from the excess blob gas with the fork's update fraction
    // (EIP-4844; EIP-7691 changes the fraction in Prague). A Cancun fixture without
    // `currentExcessBlobGas` is left without one: revm then refuses the block, and the
    // case fails visibly instead of running with an invented value.
    if let Some(excess) = env.current_excess_blob_gas {
        let excess = excess.try_into().map_err(|_| out_of_range("currentExcessBlobGas", excess))?;
        block.set_blob_excess_gas_and_price(excess, cfg.blob_base_fee_update_fraction());
    }
    Ok(block)
}

/// The pre-state of a test, as revm's cache of loaded accounts.
pub fn prestate(test: &FixtureTest) -> CacheState {
    let mut cache = CacheState::new();
    for (address, account) in &test.pre {
        let (code_hash, code) = if account.code.is_empty() {
            (KECCAK_EMPTY, Bytecode::default())
        } else {
            // EIP-7702 delegations (0xef0100 ‖ address) are recognised; anything else is
            // legacy bytecode, including bytes that merely start with 0xef.
            let code = Bytecode::new_raw_checked(account.code.clone())
                .unwrap_or_else(|_| Bytecode::new_legacy(account.code.clone()));
            (keccak256(&account.code), code)
        };
        let info = AccountInfo::new(account.balance, account.nonce, code_hash, code);
        cache.insert_account_with_storage(*address, info, account.storage.clone());
    }
    cache
}

/// Why a case's transaction could not be built.
#[derive(Debug)]
pub enum TxBuildError {
    /// The transaction is invalid: it must be rejected, not executed.
    Rejected(String),
    /// The fixture is inconsistent.
    Fixture(Box<FixtureError>),
}

/// Picks `list[index]` or reports the index as out of range.
fn pick<'a, T>(
    list: &'a [T],
    index: usize,
    field: &'static str,
    name: &'static str,
    ctx: (&Path, &FixtureTest, &str, usize),
) -> Result<&'a T, TxBuildError> {
    list.get(index).ok_or_else(|| {
        let (path, test, fork, case) = ctx;
        TxBuildError::Fixture(Box::new(FixtureError::IndexOutOfRange {
            path: path.to_path_buf(),
            test: test.name.clone(),
            fork: fork.to_string(),
            index: case,
            field,
            list: name,
            value: index,
            len: list.len(),
        }))
    })
}

/// Narrows a transaction field to revm's width, or rejects the transaction.
fn narrow<T: TryFrom<U256>>(value: U256, field: &str, bits: u32) -> Result<T, TxBuildError> {
    T::try_from(value)
        .map_err(|_| TxBuildError::Rejected(format!("transaction.{field} = {value:#x} does not fit in {bits} bits")))
}

/// The transaction of post-state `case` (the `index`-th entry of `fork`) of `test`.
pub fn tx_env(
    path: &Path,
    test: &FixtureTest,
    fork: &str,
    case: usize,
    post: &Test,
    chain_id: u64,
) -> Result<TxEnv, TxBuildError> {
    let parts = &test.transaction;
    let idx = &post.indexes;
    let ctx = (path, test, fork, case);
    let data = pick(&parts.data, idx.data, "data", "data", ctx)?;
    let gas_limit = *pick(&parts.gas_limit, idx.gas, "gas", "gasLimit", ctx)?;
    let value = *pick(&parts.value, idx.value, "value", "value", ctx)?;

    for field in &test.oversized {
        let used = match (field.field.as_str(), field.index) {
            ("data", Some(i)) => i == idx.data,
            ("gasLimit", Some(i)) => i == idx.gas,
            ("value", Some(i)) => i == idx.value,
            ("accessLists", Some(i)) => i == idx.data,
            (_, Some(_)) => false,
            (_, None) => true,
        };
        if used {
            return Err(TxBuildError::Rejected(format!("{field} does not fit in 256 bits")));
        }
    }

    // State tests are unsigned: the secret key stands for a valid signature, and a
    // transaction without one models a badly signed transaction.
    let Some(secret_key) = parts.secret_key else {
        return Err(TxBuildError::Rejected("transaction has no secretKey (invalid signature)".to_string()));
    };
    let caller = match parts.sender {
        Some(sender) => sender,
        None => recover_address(secret_key.as_slice()).ok_or_else(|| {
            TxBuildError::Fixture(Box::new(FixtureError::BadSecretKey {
                path: path.to_path_buf(),
                test: test.name.clone(),
                key: secret_key,
            }))
        })?,
    };

    let kind = match parts.to {
        Some(to) => TxKind::Call(to),
        None => TxKind::Create,
    };
    // The type is given, or follows from the fields present (see `TransactionParts::tx_type`,
    // which returns None for a blob or set-code transaction without recipient).
    let tx_type = parts
        .tx_type(idx.data)
        .ok_or_else(|| TxBuildError::Rejected("blob or set-code transaction without a recipient".to_string()))?;
    match tx_type {
        TransactionType::Legacy | TransactionType::Eip2930 | TransactionType::Eip1559 => {}
        TransactionType::Eip4844 | TransactionType::Eip7702 => {
            if kind.is_create() {
                return Err(TxBuildError::Rejected(format!("type {} transaction without a recipient", tx_type as u8)));
            }
        }
        TransactionType::Custom => {
            return Err(TxBuildError::Rejected(format!("unsupported transaction type {:?}", parts.tx_type)));
        }
    }

    // Legacy and access-list transactions pay `gasPrice`; later types carry
    // `maxFeePerGas` in the same TxEnv field.
    let price = match tx_type {
        TransactionType::Legacy | TransactionType::Eip2930 => parts.gas_price.or(parts.max_fee_per_gas),
        _ => parts.max_fee_per_gas.or(parts.gas_price),
    }
    .unwrap_or_default();
    let price_field = if parts.gas_price.is_some() { "gasPrice" } else { "maxFeePerGas" };

    Ok(TxEnv {
        tx_type: tx_type as u8,
        caller,
        gas_limit: narrow(gas_limit, &format!("gasLimit[{}]", idx.gas), 64)?,
        gas_price: narrow(price, price_field, 128)?,
        kind,
        value,
        data: data.clone(),
        nonce: narrow(parts.nonce, "nonce", 64)?,
        chain_id: Some(parts.chain_id.map(|id| narrow::<u64>(id, "chainId", 64)).transpose()?.unwrap_or(chain_id)),
        access_list: parts.access_lists.get(idx.data).cloned().flatten().unwrap_or_default(),
        gas_priority_fee: parts
            .max_priority_fee_per_gas
            .map(|fee| narrow(fee, "maxPriorityFeePerGas", 128))
            .transpose()?,
        blob_hashes: parts.blob_versioned_hashes.clone(),
        max_fee_per_blob_gas: parts
            .max_fee_per_blob_gas
            .map(|fee| narrow(fee, "maxFeePerBlobGas", 128))
            .transpose()?
            .unwrap_or_default(),
        authorization_list: parts
            .authorization_list
            .iter()
            .flatten()
            .map(|auth| Either::Left(auth.clone().into()))
            .collect(),
    })
}
