//! A node's view: wrap an `Evm` in a `JitEvm` on a runtime with the default settings and keep
//! running the same transaction. The first runs are interpreted; once the contract has missed
//! the cache `hot_threshold` times, the background compiler compiles it, and the very next
//! frame of the same `JitEvm` runs native code. Prints the runtime's stats along the way.
//!
//! `cargo run --release --example turning_native`

use revm::{ExecuteEvm, MainBuilder, primitives::hardfork::SpecId};
use revm_jit::{JitConfig, JitEvm, JitRuntime};
use revm_jit_cli::programs;
use std::time::{Duration, Instant};

fn main() {
    let runtime = JitRuntime::new(JitConfig::default());
    let case = programs::factorial().case(SpecId::CANCUN);
    let mut evm = JitEvm::new(case.context().build_mainnet(), runtime.handle());
    let expected = case.context().build_mainnet().transact(case.tx()).expect("valid transaction").result;

    let deadline = Instant::now() + Duration::from_secs(120);
    for run in 1.. {
        let before = evm.frame_counts();
        let start = Instant::now();
        let result = evm.transact(case.tx()).expect("valid transaction").result;
        let elapsed = start.elapsed();
        assert_eq!(result, expected, "run {run} differs from the interpreter");
        let native = evm.frame_counts().native > before.native;
        let stats = runtime.handle().stats();
        println!(
            "run {run:>3}: {:<11} {:>10.3?}  lookups {:>3}  misses {:>3}  queued {}  compiled {}  resident {} B",
            if native { "native" } else { "interpreted" },
            elapsed,
            stats.lookups,
            stats.misses,
            stats.queued,
            stats.compiled,
            stats.resident_code_bytes,
        );
        if native {
            println!("turned native after {run} runs; compile took {:.1} ms", stats.compile_ns as f64 / 1e6);
            break;
        }
        assert!(Instant::now() < deadline, "the contract never turned native");
        std::thread::sleep(Duration::from_millis(20));
    }
}
