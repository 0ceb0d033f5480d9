//! Trace equality: what an inspector sees of a transaction must not depend on whether its
//! frames ran as native code or in revm's interpreter.
//!
//! [`record_interpreted`] runs a transaction on a plain revm `Evm` and [`record_native`] on a
//! [`JitEvm`] in [`InspectionMode::Native`], each under the same pair of inspectors:
//! revm-inspectors' `TracingInspector` (rendered as a geth call trace with logs and as parity
//! transaction traces, the two formats nodes serve) and a [`HookCounter`] that records every
//! call, create, log and selfdestruct hook with its arguments. [`TraceRecord::difference`]
//! names the first thing that differs. The state-test runner (`--check-traces`) and the
//! inspector tests are built on these.

use alloy_primitives::Keccak256;
use alloy_rpc_types_trace::geth::CallConfig;
use revm::context::TxEnv;
use revm::context::result::{EVMError, ExecutionResult};
use revm::handler::MainnetContext;
use revm::inspector::Inspector;
use revm::interpreter::{CallInputs, CallOutcome, CreateInputs, CreateOutcome, interpreter::EthInterpreter};
use revm::primitives::{Address, B256, Log, U256};
use revm::{Database, InspectEvm, MainBuilder};
use revm_inspectors::tracing::{TracingInspector, TracingInspectorConfig};
use revm_jit::FrameCounts;
use revm_jit::{InspectionMode, JitEvm, JitHandle};

/// An inspector that records the frame-level hooks with their arguments, in order.
///
/// It is the "custom inspector" of the trace-equality checks: unlike a tracer it keeps the raw
/// hook stream, so a hook delivered twice, late or with different arguments shows up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HookCounter {
    /// `call` hooks: (target, caller, value, gas limit).
    pub calls: Vec<(Address, Address, U256, u64)>,
    /// `call_end` hooks: (result, gas remaining).
    pub call_ends: Vec<(String, u64)>,
    /// `create` hooks: (caller, value, gas limit).
    pub creates: Vec<(Address, U256, u64)>,
    /// `create_end` hooks: (result, created address).
    pub create_ends: Vec<(String, Option<Address>)>,
    /// `log` hooks, in emission order.
    pub logs: Vec<Log>,
    /// `selfdestruct` hooks: (contract, beneficiary, value).
    pub selfdestructs: Vec<(Address, Address, U256)>,
}

impl<CTX> Inspector<CTX, EthInterpreter> for HookCounter {
    fn log(&mut self, _context: &mut CTX, log: Log) {
        self.logs.push(log);
    }

    fn call(&mut self, _context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        self.calls.push((inputs.target_address, inputs.caller, inputs.call_value(), inputs.gas_limit));
        None
    }

    fn call_end(&mut self, _context: &mut CTX, _inputs: &CallInputs, outcome: &mut CallOutcome) {
        self.call_ends.push((format!("{:?}", outcome.result.result), outcome.result.gas.remaining()));
    }

    fn create(&mut self, _context: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        self.creates.push((inputs.caller(), inputs.value(), inputs.gas_limit()));
        None
    }

    fn create_end(&mut self, _context: &mut CTX, _inputs: &CreateInputs, outcome: &mut CreateOutcome) {
        self.create_ends.push((format!("{:?}", outcome.result.result), outcome.address));
    }

    fn selfdestruct(&mut self, contract: Address, target: Address, value: U256) {
        self.selfdestructs.push((contract, target, value));
    }
}

/// What the inspectors saw of one transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceRecord {
    /// The transaction's result, or the error it was rejected with.
    pub result: String,
    /// Geth `callTracer` output with logs.
    pub geth_call: TraceDigest,
    /// Parity `trace_transaction` output.
    pub parity: TraceDigest,
    /// The raw hook stream.
    pub hooks: HookCounter,
}

/// A rendered trace, kept as a hash of its JSON: some state tests make traces of gigabytes
/// (a thousand nested calls with a megabyte of calldata each), which must be compared
/// without being held twice. Short traces keep their JSON for the failure message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceDigest {
    /// Keccak-256 of the JSON text.
    pub hash: B256,
    /// Length of the JSON text.
    pub len: usize,
    /// The JSON text, when it is at most [`TraceDigest::KEPT_JSON_LEN`] bytes.
    pub json: Option<String>,
}

impl TraceDigest {
    /// Longest JSON text kept for failure messages.
    pub const KEPT_JSON_LEN: usize = 16 * 1024;

    /// Renders `value` as JSON and digests it.
    pub fn of<T: serde::Serialize>(value: &T) -> Result<Self, String> {
        let mut writer = DigestWriter { hasher: Keccak256::new(), len: 0, kept: Vec::new() };
        serde_json::to_writer(&mut writer, value).map_err(|e| format!("serialising a trace: {e}"))?;
        let json = (writer.len <= Self::KEPT_JSON_LEN).then(|| String::from_utf8_lossy(&writer.kept).into_owned());
        Ok(Self { hash: writer.hasher.finalize(), len: writer.len, json })
    }
}

impl std::fmt::Display for TraceDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.json {
            Some(json) => f.write_str(json),
            None => write!(f, "<{} bytes of JSON, keccak {}>", self.len, self.hash),
        }
    }
}

/// Hashes what serde writes, keeping the first bytes.
struct DigestWriter {
    hasher: Keccak256,
    len: usize,
    kept: Vec<u8>,
}

impl std::io::Write for DigestWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.hasher.update(buf);
        self.len += buf.len();
        if self.kept.len() < TraceDigest::KEPT_JSON_LEN {
            let room = TraceDigest::KEPT_JSON_LEN + 1 - self.kept.len();
            self.kept.extend_from_slice(&buf[..buf.len().min(room)]);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl TraceRecord {
    /// The first difference between two records, described for a failure message; `None` when
    /// they are equal.
    pub fn difference(&self, other: &TraceRecord) -> Option<String> {
        if self.result != other.result {
            return Some(format!("result: {} vs {}", self.result, other.result));
        }
        if self.hooks != other.hooks {
            return Some(format!("hooks: {:?} vs {:?}", self.hooks, other.hooks));
        }
        if self.geth_call != other.geth_call {
            return Some(format!("geth call trace: {} vs {}", self.geth_call, other.geth_call));
        }
        if self.parity != other.parity {
            return Some(format!("parity trace: {} vs {}", self.parity, other.parity));
        }
        None
    }
}

/// The geth call-tracer options the checks use: the whole call tree, with logs.
fn call_config() -> CallConfig {
    CallConfig { only_top_call: Some(false), with_log: Some(true) }
}

fn new_inspectors() -> (TracingInspector, HookCounter) {
    let config = TracingInspectorConfig::from_geth_call_config(&call_config()).set_record_logs(true);
    (TracingInspector::new(config), HookCounter::default())
}

fn finish<E: std::fmt::Debug>(
    result: Result<ExecutionResult, E>,
    (tracer, hooks): (TracingInspector, HookCounter),
) -> Result<TraceRecord, String> {
    let gas_used = result.as_ref().map_or(0, ExecutionResult::tx_gas_used);
    let geth_call = TraceDigest::of(&tracer.geth_builder().geth_call_traces(call_config(), gas_used))?;
    let parity = TraceDigest::of(&tracer.into_parity_builder().into_transaction_traces())?;
    Ok(TraceRecord { result: format!("{result:?}"), geth_call, parity, hooks })
}

/// Runs `tx` on `ctx` in revm's interpreter under the inspectors; the reference record.
pub fn record_interpreted<DB: Database>(ctx: MainnetContext<DB>, tx: TxEnv) -> Result<TraceRecord, String>
where
    DB::Error: std::fmt::Debug,
{
    let mut evm = ctx.build_mainnet_with_inspector(new_inspectors());
    let result = evm.inspect_one_tx(tx);
    finish::<EVMError<DB::Error>>(result, std::mem::take(&mut evm.inspector))
}

/// Runs `tx` on `ctx` in a [`JitEvm`] with native frames under the inspectors. Also returns
/// how the frames ran, so a caller can insist that they ran native.
pub fn record_native<DB: Database>(
    ctx: MainnetContext<DB>,
    tx: TxEnv,
    handle: JitHandle,
) -> Result<(TraceRecord, FrameCounts), String>
where
    DB::Error: std::fmt::Debug,
{
    let mut evm = JitEvm::new(ctx.build_mainnet_with_inspector(new_inspectors()), handle);
    evm.set_inspection_mode(InspectionMode::Native);
    let result = evm.inspect_one_tx(tx);
    let frames = evm.frame_counts();
    let inspectors = std::mem::take(&mut evm.inner_mut().inspector);
    Ok((finish::<EVMError<DB::Error>>(result, inspectors)?, frames))
}
