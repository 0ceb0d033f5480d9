//! Wrap a revm `Evm` in a `JitEvm`, run a transaction as native code, turn native execution
//! off with `set_enabled(false)` on the same `JitEvm` and run it again in revm's interpreter,
//! then turn it back on: same result every time, and the frame counts show which ran.
//!
//! `cargo run --release --example jit_evm`

use revm::{ExecuteEvm, MainBuilder, primitives::hardfork::SpecId};
use revm_jit::{JitConfig, JitEvm, JitRuntime};
use revm_jit_cli::programs;
use std::time::Instant;

fn main() {
    // Eager mode compiles each contract the first time it runs, on this thread.
    let runtime = JitRuntime::new(JitConfig::eager());
    let case = programs::fibonacci().case(SpecId::CANCUN);
    let mut evm = JitEvm::new(case.context().build_mainnet(), runtime.handle());
    // Compile outside the timed runs.
    evm.transact(case.tx()).expect("valid transaction");

    let mut results = Vec::new();
    for enabled in [true, false, true] {
        evm.set_enabled(enabled);
        let before = evm.frame_counts();
        let start = Instant::now();
        let result = evm.transact(case.tx()).expect("valid transaction").result;
        let elapsed = start.elapsed();
        let after = evm.frame_counts();
        println!(
            "enabled {enabled:<5}: {:>10.3?}, gas used {}, frames native {} interpreted {}",
            elapsed,
            result.tx_gas_used(),
            after.native - before.native,
            after.interpreted - before.interpreted
        );
        assert_eq!(after.native > before.native, enabled, "set_enabled({enabled}) was not honoured");
        results.push(result);
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]), "native and interpreted results differ");
    let stats = runtime.handle().stats();
    println!(
        "runtime: {} lookups, {} hits, {} compiled in {:.1} ms, {} B of machine code resident",
        stats.lookups,
        stats.hits,
        stats.compiled,
        stats.compile_ns as f64 / 1e6,
        stats.resident_code_bytes
    );
}
