//! Wrap a revm `Evm` in a `JitEvm`, run a transaction as native code, then turn the JIT off
//! and run it again in revm's interpreter: same result, and the frame counts show which ran.
//!
//! `cargo run --release --example jit_evm`

use revm::{ExecuteEvm, MainBuilder, primitives::hardfork::SpecId};
use revm_jit::{JitConfig, JitEvm, JitRuntime, programs};

fn main() {
    // Eager mode compiles each contract the first time it runs, on this thread.
    let runtime = JitRuntime::new(JitConfig::eager());
    let case = programs::fibonacci().case(SpecId::CANCUN);

    let mut evm = JitEvm::new(case.context().build_mainnet(), runtime.handle());
    let native = evm.transact(case.tx()).expect("valid transaction");
    println!("native:      {:?}, gas used {}", native.result.output(), native.result.tx_gas_used());
    println!("frames:      {:?}", evm.frame_counts());

    // Off: the very next frame runs in revm's interpreter.
    let mut evm = JitEvm::new(case.context().build_mainnet(), runtime.handle());
    evm.set_enabled(false);
    let interpreted = evm.transact(case.tx()).expect("valid transaction");
    println!("interpreted: {:?}, gas used {}", interpreted.result.output(), interpreted.result.tx_gas_used());
    println!("frames:      {:?}", evm.frame_counts());

    assert_eq!(native.result, interpreted.result, "native and interpreted results differ");
    let stats = runtime.handle().stats();
    println!(
        "runtime:     {} lookups, {} hits, {} compiled in {:.1} ms",
        stats.lookups,
        stats.hits,
        stats.compiled,
        stats.compile_ns as f64 / 1e6
    );
}
