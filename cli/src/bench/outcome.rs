//! What a transaction produced, in a form that can be compared between modes.

use revm::{
    context_interface::result::{ExecutionResult, HaltReason, ResultAndState, SuccessReason},
    primitives::{B256, Bytes, Log, keccak256},
    state::EvmState,
};
use std::fmt;

/// How a transaction ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Completed successfully (`STOP`, `RETURN` or `SELFDESTRUCT`).
    Success(SuccessReason),
    /// Ended by `REVERT`.
    Revert,
    /// Halted exceptionally (out of gas, invalid opcode, …), consuming all gas.
    Halt(HaltReason),
}

impl Status {
    /// Whether the transaction succeeded.
    pub fn is_success(&self) -> bool {
        matches!(self, Status::Success(_))
    }
}

impl fmt::Display for Status {
    /// `success`, `revert` or `halt (<reason>)`: the column and JSON value of reports.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Success(_) => f.write_str("success"),
            Status::Revert => f.write_str("revert"),
            Status::Halt(reason) => write!(f, "halt ({reason:?})"),
        }
    }
}

/// Two modes produced different outcomes for one case: the error `bench` and `run` report
/// (after printing everything they measured).
#[derive(Debug, thiserror::Error)]
#[error("{name}: MODES DISAGREE: {mode} vs {baseline}: {}", diffs.join("; "))]
pub struct Disagreement {
    /// Case name.
    pub name: String,
    /// The mode every other mode is compared with (the first measured).
    pub baseline: crate::exec::Mode,
    /// The mode that differs.
    pub mode: crate::exec::Mode,
    /// How it differs (baseline value first).
    pub diffs: Vec<String>,
}

/// Everything observable about one execution that every mode must reproduce exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// How it ended.
    pub status: Status,
    /// Gas used by the transaction (after refunds), as in its receipt.
    pub gas_used: u64,
    /// Return or revert data (empty on halt).
    pub output: Bytes,
    /// Emitted logs.
    pub logs: Vec<Log>,
    /// Digest of the changed state (see [`state_digest`]).
    pub state_digest: B256,
}

impl Outcome {
    /// Extracts the outcome of a non-committed transaction.
    pub fn new(result: &ResultAndState) -> Self {
        let (status, output) = match &result.result {
            ExecutionResult::Success { reason, output, .. } => (Status::Success(*reason), output.data().clone()),
            ExecutionResult::Revert { output, .. } => (Status::Revert, output.clone()),
            ExecutionResult::Halt { reason, .. } => (Status::Halt(reason.clone()), Bytes::new()),
        };
        Self {
            status,
            gas_used: result.result.tx_gas_used(),
            output,
            logs: result.result.logs().to_vec(),
            state_digest: state_digest(&result.state),
        }
    }

    /// Keccak-256 of the output: the `output_hash` of JSON reports.
    pub fn output_hash(&self) -> B256 {
        keccak256(&self.output)
    }

    /// Human-readable descriptions of every way `other` differs from `self`; empty when
    /// they agree.
    pub fn differences(&self, other: &Outcome) -> Vec<String> {
        let mut diffs = Vec::new();
        if self.status != other.status {
            diffs.push(format!("status {:?} vs {:?}", self.status, other.status));
        }
        if self.gas_used != other.gas_used {
            diffs.push(format!("gas used {} vs {}", self.gas_used, other.gas_used));
        }
        if self.output != other.output {
            diffs.push(format!("output {} vs {}", abbreviate(&self.output), abbreviate(&other.output)));
        }
        if self.logs != other.logs {
            diffs.push(format!("logs ({} vs {} entries, contents differ)", self.logs.len(), other.logs.len()));
        }
        if self.state_digest != other.state_digest {
            diffs.push(format!("changed state digest {} vs {}", self.state_digest, other.state_digest));
        }
        diffs
    }
}

/// A digest of the state a transaction leaves behind: for every touched account, in
/// address order, its balance, nonce, code hash, whether it self-destructed, and every
/// storage slot whose value changed (in slot order). Slots and accounts that were only
/// read are left out, so modes may load state differently as long as they change it
/// identically.
pub fn state_digest(state: &EvmState) -> B256 {
    let mut accounts: Vec<_> = state.iter().filter(|(_, account)| account.is_touched()).collect();
    accounts.sort_by_key(|(address, _)| **address);
    let mut buf = Vec::new();
    for (address, account) in accounts {
        buf.extend_from_slice(address.as_slice());
        buf.extend_from_slice(&account.info.balance.to_be_bytes::<32>());
        buf.extend_from_slice(&account.info.nonce.to_be_bytes());
        buf.extend_from_slice(account.info.code_hash.as_slice());
        buf.push(account.is_selfdestructed() as u8);
        let mut slots: Vec<_> = account.storage.iter().filter(|(_, slot)| slot.is_changed()).collect();
        slots.sort_by_key(|(key, _)| **key);
        for (key, slot) in slots {
            buf.extend_from_slice(&key.to_be_bytes::<32>());
            buf.extend_from_slice(&slot.present_value.to_be_bytes::<32>());
        }
    }
    keccak256(&buf)
}

/// `0x…` hex of `bytes`, shortened in the middle when long.
fn abbreviate(bytes: &Bytes) -> String {
    let hex = revm::primitives::hex::encode_prefixed(bytes);
    if hex.len() <= 74 { hex } else { format!("{}…{} ({} bytes)", &hex[..34], &hex[hex.len() - 32..], bytes.len()) }
}
