//! What wrapping costs: a plain revm `Evm` against a `JitEvm` that is disabled (should be
//! within a few percent), a `JitEvm` whose lookups all miss (the per-frame price of a cache
//! probe plus a hotness event, with code never compiled), and one running native code.
//!
//! Cases: the embedded `call` program (10,001 frames per transaction, so per-frame costs
//! dominate) and `fibonacci` (one long frame). Each iteration builds a fresh context outside
//! the timed routine, as `revm-jit bench` does.
//!
//! `cargo bench --bench overhead`
#![allow(missing_docs, reason = "criterion_group! generates an undocumented function")]

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use revm::{ExecuteEvm, MainBuilder, primitives::hardfork::SpecId};
use revm_jit::{JitConfig, JitEvm, JitRuntime};
use revm_jit_cli::{fixture::Case, programs};
use std::{hint::black_box, time::Duration};

fn overhead(c: &mut Criterion) {
    revm_jit_cli::bench::steady_heap();
    // Code is never hot enough to compile: every lookup misses and sends an event.
    let missing = JitRuntime::new(JitConfig { hot_threshold: u32::MAX, ..JitConfig::default() });
    let eager = JitRuntime::new(JitConfig::eager());
    for program in [programs::call(), programs::fibonacci()] {
        let case = program.case(SpecId::CANCUN);
        let mut group = c.benchmark_group(format!("overhead/{}", program.name));
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(3));
        group.bench_function("revm", |b| {
            b.iter_batched(
                || case.context().build_mainnet(),
                |mut evm| black_box(evm.transact(case.tx())),
                BatchSize::PerIteration,
            )
        });
        let jit_evm = |runtime: &JitRuntime, enabled: bool| {
            let (case, handle): (&Case, _) = (&case, runtime.handle());
            move || {
                let mut evm = JitEvm::new(case.context().build_mainnet(), handle.clone());
                evm.set_enabled(enabled);
                evm
            }
        };
        group.bench_function("jit_evm_disabled", |b| {
            b.iter_batched(
                jit_evm(&eager, false),
                |mut evm| black_box(evm.transact(case.tx())),
                BatchSize::PerIteration,
            )
        });
        group.bench_function("jit_evm_every_lookup_misses", |b| {
            b.iter_batched(
                jit_evm(&missing, true),
                |mut evm| black_box(evm.transact(case.tx())),
                BatchSize::PerIteration,
            )
        });
        group.bench_function("jit_evm_native", |b| {
            b.iter_batched(jit_evm(&eager, true), |mut evm| black_box(evm.transact(case.tx())), BatchSize::PerIteration)
        });
        group.finish();
    }
    let stats = missing.handle().stats();
    assert_eq!(stats.compiled, 0, "the missing runtime compiled something: {stats:?}");
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = overhead
}
criterion_main!(benches);
