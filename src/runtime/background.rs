//! The background compiler: a coordinator that decides what is hot and workers that compile.

use super::{CodeKey, CompileTarget, Fallback, JitHandle, ShutdownReport, lock};
#[cfg(feature = "test-hooks")]
use crate::compiler::FaultKind;
use crate::compiler::{CompileError, panic_message};
use crossbeam_channel::{Receiver, Sender, TrySendError, select};
use revm::primitives::Bytes;
use std::{
    collections::HashSet,
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{Arc, Mutex},
    thread::JoinHandle,
    time::{Duration, Instant},
};

/// "This contract is hot" (or was requested): sent by lookups and requests, turned into a
/// job by the coordinator.
#[derive(Debug)]
pub(super) struct HotEvent {
    pub(super) key: CodeKey,
    pub(super) code: Bytes,
    pub(super) target: CompileTarget,
    /// A tier-up: `key` has baseline code in the cache, to be recompiled at the configured
    /// level (see [`super::JitConfig::tier_up_gas`]).
    pub(super) optimize: bool,
}

/// The running threads and what it takes to stop them.
#[derive(Debug)]
pub(super) struct Background {
    /// Dropping this disconnects every thread's shutdown receiver.
    shutdown: Option<Sender<()>>,
    /// Each thread sends one message here when it exits (even by panic).
    exited: Receiver<()>,
    threads: Vec<JoinHandle<()>>,
    /// Other ends of the hotness channel and the job queue, drained at shutdown to report
    /// what was abandoned.
    events: Receiver<HotEvent>,
    jobs: Receiver<HotEvent>,
    /// Keys queued or being compiled.
    in_flight: Arc<Mutex<HashSet<CodeKey>>>,
    /// Jobs a worker took after the shutdown began, and dropped.
    abandoned: Arc<Mutex<Vec<CodeKey>>>,
}

/// Sends on `exited` when the owning thread ends, however it ends.
struct ExitSignal(Sender<()>);

impl Drop for ExitSignal {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

impl Background {
    /// Starts the coordinator and `handle`'s configured number of workers.
    pub(super) fn start(handle: JitHandle, events: Receiver<HotEvent>) -> Self {
        let (shutdown_tx, shutdown_rx) = crossbeam_channel::bounded::<()>(0);
        let (exited_tx, exited) = crossbeam_channel::unbounded();
        let (jobs_tx, jobs_rx) = crossbeam_channel::bounded::<HotEvent>(handle.config().job_queue_capacity.max(1));
        let in_flight = Arc::new(Mutex::new(HashSet::new()));
        let abandoned = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();

        let workers = handle.config().workers.max(1);
        for index in 0..workers {
            let (handle, jobs, shutdown, in_flight, abandoned) =
                (handle.clone(), jobs_rx.clone(), shutdown_rx.clone(), Arc::clone(&in_flight), Arc::clone(&abandoned));
            let signal = ExitSignal(exited_tx.clone());
            let thread = std::thread::Builder::new()
                .name(format!("revm-jit-worker-{index}"))
                .stack_size(handle.config().worker_stack_size)
                .spawn(move || {
                    let _signal = signal;
                    worker(&handle, &jobs, &shutdown, &in_flight, &abandoned);
                })
                .expect("spawning a compiler thread");
            threads.push(thread);
        }
        let signal = ExitSignal(exited_tx);
        let (coordinator_events, coordinator_in_flight) = (events.clone(), Arc::clone(&in_flight));
        let thread = std::thread::Builder::new()
            .name("revm-jit-coordinator".into())
            .spawn(move || {
                let _signal = signal;
                coordinator(&handle, &coordinator_events, &jobs_tx, &shutdown_rx, &coordinator_in_flight);
            })
            .expect("spawning the coordinator thread");
        threads.push(thread);
        Self { shutdown: Some(shutdown_tx), exited, threads, events, jobs: jobs_rx, in_flight, abandoned }
    }

    /// Stops every thread and joins those that exit within `timeout` (a compilation in
    /// progress is not interrupted; a thread still busy after the timeout is left to finish
    /// on its own). Reports the contracts abandoned: queued ones (drained here) and those
    /// still compiling at the timeout. The caller has set the runtime's stopped flag, so no
    /// worker starts another job.
    pub(super) fn shutdown(mut self, timeout: Duration) -> ShutdownReport {
        drop(self.shutdown.take());
        let mut report = ShutdownReport::default();
        while let Ok(event) = self.events.try_recv() {
            report.abandoned_queued.push(event.key);
        }
        while let Ok(job) = self.jobs.try_recv() {
            lock(&self.in_flight).remove(&job.key);
            report.abandoned_queued.push(job.key);
        }
        let deadline = Instant::now() + timeout;
        let mut exited = 0;
        while exited < self.threads.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.exited.recv_timeout(left) {
                Ok(()) => exited += 1,
                Err(_) => break,
            }
        }
        report.abandoned_queued.append(&mut lock(&self.abandoned));
        report.abandoned_queued.sort();
        report.abandoned_queued.dedup();
        let mut in_flight: Vec<CodeKey> = lock(&self.in_flight).iter().copied().collect();
        in_flight.retain(|key| report.abandoned_queued.binary_search(key).is_err());
        in_flight.sort();
        report.abandoned_in_flight = in_flight;
        if exited < self.threads.len() {
            report.detached_threads = self.threads.len() - exited;
            tracing::warn!(busy = report.detached_threads, "compiler threads still busy at shutdown; detaching");
            return report;
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        report
    }
}

/// Queues each contract reported hot for compilation, once: keys already cached, failed or
/// being compiled are dropped, and so are contracts that find the job queue full (counted).
fn coordinator(
    handle: &JitHandle,
    events: &Receiver<HotEvent>,
    jobs: &Sender<HotEvent>,
    shutdown: &Receiver<()>,
    in_flight: &Mutex<HashSet<CodeKey>>,
) {
    loop {
        let event = select! {
            recv(shutdown) -> _ => return,
            recv(events) -> event => match event {
                Ok(event) => event,
                Err(_) => return,
            },
        };
        if handle.is_stopped() {
            return;
        }
        if event.target == CompileTarget::Cache && !event.optimize && handle.is_settled(&event.key) {
            handle.unmark_pending(&event.key);
            continue;
        }
        // Lookups send an event only once a key crossed the hot threshold
        // (`super::hotness`): every event received is a contract to compile.
        handle.stats_counters().events_received.inc();
        if !lock(in_flight).insert(event.key) {
            continue;
        }
        let key = event.key;
        match jobs.try_send(event) {
            Ok(()) => handle.stats_counters().queued.inc(),
            Err(TrySendError::Full(_)) => {
                // Queued again when next reported hot.
                handle.stats_counters().jobs_dropped.inc();
                lock(in_flight).remove(&key);
                handle.unmark_pending(&key);
            }
            Err(TrySendError::Disconnected(_)) => return,
        }
    }
}

/// Compiles queued contracts into the cache; a panic is contained and recorded as a failure.
/// A job taken once the runtime is stopping is dropped and reported abandoned.
fn worker(
    handle: &JitHandle,
    jobs: &Receiver<HotEvent>,
    shutdown: &Receiver<()>,
    in_flight: &Mutex<HashSet<CodeKey>>,
    abandoned: &Mutex<Vec<CodeKey>>,
) {
    loop {
        let job = select! {
            recv(shutdown) -> _ => return,
            recv(jobs) -> job => match job {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        if handle.is_stopped() {
            lock(abandoned).push(job.key);
            lock(in_flight).remove(&job.key);
            return;
        }
        handle.mark_compiling(job.key);
        let span = tracing::debug_span!("background_compile", code_hash = %job.key.0, spec = ?job.key.1);
        let _guard = span.enter();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            #[cfg(feature = "test-hooks")]
            if handle.config().compiler.has_fault(&job.key.0, FaultKind::WorkerPanic) {
                panic!("injected worker panic for {}", job.key.0);
            }
            if job.optimize {
                handle.tier_up(job.key, &job.code);
            } else {
                let _ = handle.compile_checked(job.key, &job.code, job.target);
            }
        }));
        if let Err(payload) = outcome {
            let error = CompileError::Panic(panic_message(payload.as_ref()));
            if job.optimize {
                // The baseline code stays in service: a failed tier-up costs speed only.
                handle.stats_counters().tier_up_failed.inc();
                tracing::warn!(code_hash = %job.key.0, spec = ?job.key.1, %error, "tier-up failed");
            } else {
                handle.record_failure(job.key, &error, Fallback::Failed);
            }
        }
        lock(in_flight).remove(&job.key);
        handle.unmark_pending(&job.key);
    }
}
