//! An inspected transaction on a `JitEvm`, with revm-inspectors' `TracingInspector` rendering
//! a geth call trace with logs, first the default way (every frame interpreted, so step-level
//! tracers stay exact) and then with `InspectionMode::Native` (frames run native; calls,
//! creates, logs and selfdestructs still reach the inspector). The two traces are identical.
//!
//! `cargo run --release --example inspect_tx`

use alloy_rpc_types_trace::geth::CallConfig;
use revm::{InspectEvm, MainBuilder, primitives::hardfork::SpecId};
use revm_inspectors::tracing::{TracingInspector, TracingInspectorConfig};
use revm_jit::{InspectionMode, JitConfig, JitEvm, JitRuntime};
use revm_jit_cli::programs;

fn main() {
    let runtime = JitRuntime::new(JitConfig::eager());
    // A contract that calls another one in a loop: a call tree worth tracing.
    let case = programs::call().case(SpecId::CANCUN);
    let call_config = CallConfig { only_top_call: Some(false), with_log: Some(true) };
    let tracer = || TracingInspector::new(TracingInspectorConfig::from_geth_call_config(&call_config));

    let mut traces = Vec::new();
    for mode in [InspectionMode::Interpreted, InspectionMode::Native] {
        let mut evm = JitEvm::new(case.context().build_mainnet_with_inspector(tracer()), runtime.handle());
        evm.set_inspection_mode(mode);
        let result = evm.inspect_one_tx(case.tx()).expect("valid transaction");
        let trace = evm.inner().inspector.geth_builder().geth_call_traces(call_config, result.tx_gas_used());
        let json = serde_json::to_string(&trace).expect("traces serialise");
        println!("{mode:?}: frames {:?}, {} calls traced", evm.frame_counts(), trace.calls.len());
        traces.push(json);
    }
    let shown: String = traces[0].chars().take(300).collect();
    println!("geth call trace (first 300 characters): {shown}...");
    assert_eq!(traces[0], traces[1], "native and interpreted frames were traced differently");
    println!("identical traces");
}
