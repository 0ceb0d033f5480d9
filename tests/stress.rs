//! Concurrency stress: threads, each with its own `JitEvm`s, on one runtime whose cache is
//! small enough to evict all the time, while another thread toggles the runtime's switch;
//! each generation's runtime is dropped while its workers are still compiling. Every result
//! must equal the interpreter's and nothing may crash, at exit included. Bounded by a fixed
//! number of rounds (`REVM_JIT_STRESS_ROUNDS`, default 3), not by time.

mod common;

use common::runs::interpreted;

use revm::{ExecuteEvm, MainBuilder, context::result::ExecutionResult, primitives::hardfork::SpecId};
use revm_jit::{JitConfig, JitEvm, JitRuntime};
use revm_jit_cli::{fixture::Case, programs};
use std::sync::atomic::{AtomicBool, Ordering};

#[test]
fn threads_evictions_switch_toggles_and_runtimes_dropped_mid_compile() {
    let rounds: usize = std::env::var("REVM_JIT_STRESS_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let cases: Vec<Case> = [SpecId::LONDON, SpecId::CANCUN]
        .into_iter()
        .flat_map(|spec| programs::all().into_iter().map(move |p| p.case(spec)))
        .collect();
    let expected: Vec<ExecutionResult> = cases.iter().map(interpreted).collect();
    let (mut native_frames, mut transactions) = (0, 0);
    let started = std::time::Instant::now();
    for generation in 0..rounds {
        let runtime = JitRuntime::new(JitConfig {
            hot_threshold: (generation % 2) as u32,
            workers: 2,
            cache_capacity_bytes: 12 * 1024,
            ..JitConfig::default()
        });
        let done = AtomicBool::new(false);
        let counts = std::thread::scope(|scope| {
            let (runtime, cases, expected, done) = (&runtime, &cases, &expected, &done);
            scope.spawn(move || {
                let mut on = false;
                while !done.load(Ordering::Relaxed) {
                    runtime.set_enabled(on);
                    on = !on;
                    std::thread::yield_now();
                }
                runtime.set_enabled(true);
            });
            let workers: Vec<_> = (0..3)
                .map(|thread| {
                    scope.spawn(move || {
                        let (mut native, mut ran) = (0, 0);
                        for round in 0..4 {
                            for (i, case) in cases.iter().enumerate().skip(thread % 2) {
                                let mut evm = JitEvm::new(case.context().build_mainnet(), runtime.handle());
                                evm.set_enabled((round + i) % 5 != 0);
                                let result = evm.transact(case.tx()).expect("valid transaction").result;
                                assert_eq!(
                                    result, expected[i],
                                    "generation {generation} thread {thread}: {}",
                                    case.name
                                );
                                native += evm.frame_counts().native;
                                ran += 1;
                            }
                        }
                        (native, ran)
                    })
                })
                .collect();
            let counts: Vec<(u64, u64)> = workers.into_iter().map(|w| w.join().expect("no panic")).collect();
            done.store(true, Ordering::Relaxed);
            counts
        });
        native_frames += counts.iter().map(|&(native, _)| native).sum::<u64>();
        transactions += counts.iter().map(|&(_, ran)| ran).sum::<u64>();
        // Leave work behind: everything reported hot again on a fresh spec, then drop the
        // runtime while its workers compile.
        let handle = runtime.handle();
        for case in &cases {
            let code = case.db.cache.accounts[&case.tx.kind.to().copied().expect("a call")].info.code.clone();
            if let Some(code) = code {
                let _ = handle.lookup(code.hash_slow(), SpecId::PRAGUE, &code);
            }
        }
        drop(runtime);
        // Handles outliving the runtime still serve, and never block.
        let case = &cases[0];
        let mut evm = JitEvm::new(case.context().build_mainnet(), handle);
        assert_eq!(evm.transact(case.tx()).expect("valid transaction").result, expected[0]);
    }
    eprintln!(
        "{rounds} runtimes, {transactions} transactions equal to the interpreter's, {native_frames} native frames, {:.1?}",
        started.elapsed()
    );
    assert!(native_frames > 0, "nothing ever ran native");
}
