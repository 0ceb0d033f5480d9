//! What wrapping costs: a plain revm `Evm` against a `JitEvm` that is disabled (should be
//! within a few percent), a `JitEvm` whose lookups all miss (the per-frame price of a miss:
//! counted towards hotness, with code never compiled), and one running native code.
//!
//! Cases: the embedded `call` program (10,001 frames per transaction, and as many resumes of
//! the caller, so per-frame costs dominate) and `fibonacci` (one long frame). Each iteration
//! builds a fresh context outside the timed routine, as `revm-jit bench` does. The miss cost
//! per lookup is (`jit_evm_every_lookup_misses` - `jit_evm_disabled`) / 20,001 on `call`.
//!
//! The `lookup` group times one `JitHandle` lookup alone: a hit (served by the runtime's hit
//! table in front of the cache) and a miss (the hit table, then the cache's `contains_key`,
//! then the hotness count).
//!
//! `cargo bench --bench overhead`
#![allow(missing_docs, reason = "criterion_group! generates an undocumented function")]

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use revm::{
    ExecuteEvm, MainBuilder,
    bytecode::Bytecode,
    primitives::{hardfork::SpecId, keccak256},
};
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

    // One lookup alone.
    let code = programs::fibonacci().code;
    let (hash, bytecode) = (keccak256(&code), Bytecode::new_raw(code.clone()));
    let eager_handle = eager.handle();
    eager_handle.compile_now((hash, SpecId::CANCUN), &code).expect("compiles");
    let missing_handle = missing.handle();
    let mut group = c.benchmark_group("lookup");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    group.bench_function("hit", |b| {
        b.iter(|| black_box(eager_handle.lookup(black_box(hash), SpecId::CANCUN, &bytecode)))
    });
    // The same without idle eviction: what tracking each entry's last access costs a hit.
    let no_idle = JitRuntime::new(JitConfig { cache_time_to_idle: None, ..JitConfig::eager() });
    let no_idle_handle = no_idle.handle();
    no_idle_handle.compile_now((hash, SpecId::CANCUN), &code).expect("compiles");
    group.bench_function("hit_without_idle_eviction", |b| {
        b.iter(|| black_box(no_idle_handle.lookup(black_box(hash), SpecId::CANCUN, &bytecode)))
    });
    group.bench_function("miss", |b| {
        b.iter(|| black_box(missing_handle.lookup(black_box(hash), SpecId::CANCUN, &bytecode)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = overhead
}
criterion_main!(benches);
