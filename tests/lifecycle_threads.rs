//! A disabled runtime starts no thread; turning it on starts the background compiler, and a
//! shutdown ends it. Alone in its test binary, so that no other test's threads are counted.

use revm::primitives::{Bytes, hardfork::SpecId, keccak256};
use revm_jit::{Fallback, JitConfig, JitRuntime};
use std::time::{Duration, Instant};

/// Threads of this process, as the kernel lists them.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").expect("/proc/self/task").count()
}

/// Waits up to a minute for the thread count to reach `expected` (threads end asynchronously).
fn settle_at(expected: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = threads();
        if now == expected || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_disabled_runtime_starts_no_thread_until_turned_on() {
    let before = threads();
    let runtime = JitRuntime::disabled();
    let other = JitRuntime::new(JitConfig { enabled: false, workers: 3, ..JitConfig::default() });
    let code: Bytes = vec![0x60, 0x01, 0x00].into();
    let bytecode = revm::bytecode::Bytecode::new_raw(code.clone());
    for _ in 0..100 {
        let outcome = other.handle().lookup_outcome(keccak256(&code), SpecId::CANCUN, &bytecode);
        assert_eq!(outcome.err(), Some(Fallback::Disabled));
    }
    assert_eq!(threads(), before, "a disabled runtime started a thread");

    // On: three workers and the coordinator (no store, so no preloading thread).
    other.handle().set_enabled(true);
    assert_eq!(threads(), before + 4);
    other.handle().set_enabled(false);
    other.handle().set_enabled(true);
    assert_eq!(threads(), before + 4, "switching again starts nothing more");

    let report = other.shutdown(Duration::from_secs(30));
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(settle_at(before), before, "shutdown joined every thread");
    drop(runtime);
    assert_eq!(threads(), before);
}
