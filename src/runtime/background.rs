//! The background compiler: a coordinator that decides what is hot and workers that compile.

use super::{CodeKey, JitHandle};
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

/// "This contract missed the cache": sent by lookups, counted by the coordinator.
#[derive(Debug)]
pub(super) struct HotEvent {
    pub(super) key: CodeKey,
    pub(super) code: Bytes,
}

/// The running threads and what it takes to stop them.
#[derive(Debug)]
pub(super) struct Background {
    /// Dropping this disconnects every thread's shutdown receiver.
    shutdown: Option<Sender<()>>,
    /// Each thread sends one message here when it exits (even by panic).
    exited: Receiver<()>,
    threads: Vec<JoinHandle<()>>,
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
        let mut threads = Vec::new();

        let workers = handle.config().workers.max(1);
        for index in 0..workers {
            let (handle, jobs, shutdown, in_flight) =
                (handle.clone(), jobs_rx.clone(), shutdown_rx.clone(), Arc::clone(&in_flight));
            let signal = ExitSignal(exited_tx.clone());
            let thread = std::thread::Builder::new()
                .name(format!("revm-jit-worker-{index}"))
                .stack_size(handle.config().worker_stack_size)
                .spawn(move || {
                    let _signal = signal;
                    worker(&handle, &jobs, &shutdown, &in_flight);
                })
                .expect("spawning a compiler thread");
            threads.push(thread);
        }
        let signal = ExitSignal(exited_tx);
        let thread = std::thread::Builder::new()
            .name("revm-jit-coordinator".into())
            .spawn(move || {
                let _signal = signal;
                coordinator(&handle, &events, &jobs_tx, &shutdown_rx, &in_flight);
            })
            .expect("spawning the coordinator thread");
        threads.push(thread);
        Self { shutdown: Some(shutdown_tx), exited, threads }
    }

    /// Stops every thread and joins those that exit within `timeout` (a compilation in
    /// progress is not interrupted; a thread still busy after the timeout is left to finish
    /// on its own, and the code it produces is simply dropped).
    pub(super) fn shutdown(mut self, timeout: Duration) {
        drop(self.shutdown.take());
        let deadline = Instant::now() + timeout;
        let mut exited = 0;
        while exited < self.threads.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.exited.recv_timeout(left) {
                Ok(()) => exited += 1,
                Err(_) => break,
            }
        }
        if exited < self.threads.len() {
            tracing::warn!(busy = self.threads.len() - exited, "compiler threads still busy at shutdown; detaching");
            return;
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
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
        if handle.is_settled(&event.key) {
            continue;
        }
        // Lookups send an event only once a key crossed the hot threshold
        // (`super::hotness`): every event received is a contract to compile.
        handle.stats_counters().events_received.inc();
        if !in_flight.lock().expect("in-flight set").insert(event.key) {
            continue;
        }
        let key = event.key;
        match jobs.try_send(event) {
            Ok(()) => handle.stats_counters().queued.inc(),
            Err(TrySendError::Full(_)) => {
                // Queued again when next reported hot.
                handle.stats_counters().jobs_dropped.inc();
                in_flight.lock().expect("in-flight set").remove(&key);
            }
            Err(TrySendError::Disconnected(_)) => return,
        }
    }
}

/// Compiles queued contracts into the cache; a panic is contained and recorded as a failure.
fn worker(handle: &JitHandle, jobs: &Receiver<HotEvent>, shutdown: &Receiver<()>, in_flight: &Mutex<HashSet<CodeKey>>) {
    loop {
        let job = select! {
            recv(shutdown) -> _ => return,
            recv(jobs) -> job => match job {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        let span = tracing::debug_span!("background_compile", code_hash = %job.key.0, spec = ?job.key.1);
        let _guard = span.enter();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            #[cfg(feature = "test-hooks")]
            if handle.config().compiler.has_fault(&job.key.0, FaultKind::WorkerPanic) {
                panic!("injected worker panic for {}", job.key.0);
            }
            handle.compile_now(job.key, &job.code)
        }));
        if let Err(payload) = outcome {
            handle.record_failure(job.key, &CompileError::Panic(panic_message(payload.as_ref())));
        }
        in_flight.lock().expect("in-flight set").remove(&job.key);
    }
}
