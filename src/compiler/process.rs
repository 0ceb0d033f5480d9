//! Compiling in a child process, under a budget of time and memory.
//!
//! The cost model (`analysis::cost`) refuses, before LLVM runs, what it predicts would take
//! too long. A prediction can be wrong, and LLVM cannot be interrupted once it runs: a shape
//! the model misjudges would hold a worker (or, in eager mode, the caller) for as long as LLVM
//! takes, and grow the process by as much memory as LLVM wants. With
//! [`CompilerConfig::process`](super::CompilerConfig::process) set, the compiler hands each
//! contract to a child process instead. The child analyses it, emits and optimises its IR and
//! generates a relocatable object, which it writes back; the parent links that object into its
//! own JIT exactly as it links the code it generates itself. The parent kills a child that
//! outlives [`CompileProcess::time_limit`], and the child cannot map more than
//! [`CompileProcess::memory_limit`] bytes beyond what it held when it started. Either way the
//! contract is refused with [`CompileError::OverTimeBudget`] or
//! [`CompileError::OverMemoryBudget`]: the runtime counts it (`over_budget`), never retries
//! it, and runs its frames interpreted.
//!
//! The child is [`CompileProcess::program`], started with [`CHILD_ENV`] set: a binary of this
//! very build that calls [`serve_if_compile_child`] first thing in `main` (the `revm-jit`
//! command does). Each request carries the parent's build identity and a child of another
//! build refuses it, so an object is only ever linked into the build that generated it.
//!
//! The protocol, on the child's standard input and output: one line of JSON (the request or
//! the reply), then raw bytes (the bytecode, or the object).

#[cfg(feature = "llvm")]
use super::{CompileError, CompilePhases};
use crate::store::BuildId;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

/// The environment variable that makes a binary calling [`serve_if_compile_child`] serve one
/// compile request instead of running its `main`.
pub const CHILD_ENV: &str = "REVM_JIT_COMPILE_CHILD";

/// How contracts are compiled out of process, and the budget each compilation gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileProcess {
    /// The program run as the compiler: a binary of this build whose `main` calls
    /// [`serve_if_compile_child`] first (the `revm-jit` command does; so can a node's own
    /// binary, which then passes `std::env::current_exe()`).
    pub program: PathBuf,
    /// Wall-clock time one compilation may take, process start included. Default
    /// [`CompileProcess::DEFAULT_TIME_LIMIT`].
    pub time_limit: Duration,
    /// Bytes of address space the child may map beyond what it held at start (its binary and
    /// libraries, LLVM's among them). Default [`CompileProcess::DEFAULT_MEMORY_LIMIT`].
    pub memory_limit: u64,
}

impl CompileProcess {
    /// Ten seconds: about ten times the slowest real contract's compilation at `Default` on
    /// a loaded 2-core machine (a 23 KB token), so only what the cost model misjudged by an
    /// order of magnitude reaches it.
    pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(10);
    /// 2 GiB: LLVM peaks below 200 MiB on the largest real contracts we compile.
    pub const DEFAULT_MEMORY_LIMIT: u64 = 2 << 30;

    /// Compilation in `program`, with the default budget.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self { program: program.into(), time_limit: Self::DEFAULT_TIME_LIMIT, memory_limit: Self::DEFAULT_MEMORY_LIMIT }
    }
}

/// What the parent asks of the child.
#[derive(Serialize, Deserialize)]
struct Request {
    /// The parent's build identity, its opt level included.
    build: BuildId,
    /// The fork, as revm numbers it.
    spec: u8,
    /// The name the entry point gets in the object (unique in the parent's JIT).
    symbol: String,
    /// The cost model's budget (the child refuses what the parent would).
    compile_budget: u64,
    /// See [`CompileProcess::memory_limit`].
    memory_limit: u64,
    /// CPU seconds after which the kernel stops the child, should the parent not.
    cpu_seconds: u64,
    /// See `CompilerConfig::dump_ir_dir`.
    dump_ir_dir: Option<PathBuf>,
    /// Length of the bytecode that follows the request's line.
    code_len: usize,
}

/// What the child answers.
#[derive(Serialize, Deserialize)]
enum Reply {
    /// The object follows, `len` bytes; `phases` are the child's phase times in nanoseconds
    /// (analysis, emit, verify, optimize, machine code).
    Object { len: usize, phases: [u64; 5] },
    /// The cost model refused the contract.
    TooCostly { predicted: u64, budget: u64 },
    /// The compiler panicked (the panic was contained in the child).
    Panic(String),
    /// The request cannot be served by this child (another build, an unknown level or
    /// fork): the compiler process is misconfigured, not the contract at fault.
    Unservable(String),
    /// Any other refusal, as the child's error message.
    Failed(String),
}

/// Serves one compile request and exits, when this process was started as a compiler child
/// ([`CHILD_ENV`] is set); returns at once otherwise. Call it first thing in `main` of any
/// binary named as [`CompileProcess::program`].
pub fn serve_if_compile_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let status = match serve() {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("revm-jit compiler process: {message}");
            2
        }
    };
    std::process::exit(status);
}

/// Reads the request, applies its limits, compiles and writes the reply.
fn serve() -> Result<(), String> {
    let mut input = std::io::stdin().lock();
    let mut line = String::new();
    input.read_line(&mut line).map_err(|e| format!("reading the request: {e}"))?;
    let request: Request = serde_json::from_str(&line).map_err(|e| format!("malformed request: {e}"))?;
    let mut code = vec![0; request.code_len];
    input.read_exact(&mut code).map_err(|e| format!("reading {} bytes of code: {e}", request.code_len))?;
    limit_resources(request.memory_limit, request.cpu_seconds)?;
    let (reply, object) = compile(&request, &code);
    let mut output = std::io::stdout().lock();
    let header = serde_json::to_string(&reply).map_err(|e| e.to_string())?;
    writeln!(output, "{header}")
        .and_then(|()| output.write_all(&object))
        .and_then(|()| output.flush())
        .map_err(|e| format!("writing the reply: {e}"))
}

/// The child's compilation: the same analysis, IR, passes and code generation as in process,
/// ending in an object instead of a JIT lookup.
#[cfg(feature = "llvm")]
fn compile(request: &Request, code: &[u8]) -> (Reply, Vec<u8>) {
    use super::{Compiler, CompilerConfig, OptLevel};
    let Some(level) = OptLevel::from_name(&request.build.opt_level) else {
        return (Reply::Unservable(format!("unknown opt level {:?}", request.build.opt_level)), Vec::new());
    };
    let ours = BuildId::for_opt_level(level);
    if ours != request.build {
        let difference = ours.mismatch(&request.build).map_or_else(
            || "ABI or LLVM version".to_owned(),
            |(part, child, parent)| format!("{part:?}: {child} here, {parent} in the parent"),
        );
        return (Reply::Unservable(format!("the compiler process is another build ({difference})")), Vec::new());
    }
    let Some(spec) = revm::primitives::hardfork::SpecId::try_from_u8(request.spec) else {
        return (Reply::Unservable(format!("unknown fork number {}", request.spec)), Vec::new());
    };
    let config = CompilerConfig {
        opt_level: level,
        compile_budget: request.compile_budget,
        dump_ir_dir: request.dump_ir_dir.clone(),
        ..CompilerConfig::default()
    };
    let result =
        Compiler::new(config).and_then(|mut compiler| compiler.compile_jit_object(code, spec, &request.symbol));
    match result {
        Ok((object, phases)) => {
            let phases = [phases.analysis, phases.emit, phases.verify, phases.optimize, phases.machine_code]
                .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
            (Reply::Object { len: object.len(), phases }, object)
        }
        Err(CompileError::TooCostly { predicted, budget }) => (Reply::TooCostly { predicted, budget }, Vec::new()),
        Err(CompileError::Panic(message)) => (Reply::Panic(message), Vec::new()),
        Err(CompileError::Llvm(message)) => (Reply::Failed(message), Vec::new()),
        Err(other) => (Reply::Failed(other.to_string()), Vec::new()),
    }
}

/// A build without the compiler cannot serve: it says so.
#[cfg(not(feature = "llvm"))]
fn compile(_request: &Request, _code: &[u8]) -> (Reply, Vec<u8>) {
    (Reply::Unservable("this build of revm-jit has no compiler".to_owned()), Vec::new())
}

/// Caps the child's address space at its present size plus `memory_limit`, its CPU time at
/// `cpu_seconds`, and makes it die with the thread that started it.
#[cfg(target_os = "linux")]
fn limit_resources(memory_limit: u64, cpu_seconds: u64) -> Result<(), String> {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let mapped = mapped_bytes()?;
    set_limit(libc::RLIMIT_AS, mapped.saturating_add(memory_limit))?;
    set_limit(libc::RLIMIT_CPU, cpu_seconds.max(1))
}

/// Elsewhere only the parent's wall-clock limit applies.
#[cfg(not(target_os = "linux"))]
fn limit_resources(_memory_limit: u64, _cpu_seconds: u64) -> Result<(), String> {
    Ok(())
}

/// Bytes of address space this process maps now (the first field of `/proc/self/statm`).
#[cfg(target_os = "linux")]
fn mapped_bytes() -> Result<u64, String> {
    let statm = std::fs::read_to_string("/proc/self/statm").map_err(|e| format!("/proc/self/statm: {e}"))?;
    let pages: u64 = statm
        .split_whitespace()
        .next()
        .and_then(|field| field.parse().ok())
        .ok_or_else(|| format!("/proc/self/statm: unexpected contents {statm:?}"))?;
    // SAFETY: sysconf reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Ok(pages * u64::try_from(page).unwrap_or(4096))
}

#[cfg(target_os = "linux")]
fn set_limit(resource: libc::__rlimit_resource_t, value: u64) -> Result<(), String> {
    let limit = libc::rlimit { rlim_cur: value, rlim_max: value };
    // SAFETY: `limit` is a valid rlimit that outlives the call.
    if unsafe { libc::setrlimit(resource, &limit) } != 0 {
        return Err(format!("setrlimit({resource}, {value}): {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// What the parent sends with each request, besides the code.
#[cfg(feature = "llvm")]
pub(super) struct Job<'a> {
    pub(super) build: BuildId,
    pub(super) spec: revm::primitives::hardfork::SpecId,
    pub(super) symbol: &'a str,
    pub(super) compile_budget: u64,
    pub(super) dump_ir_dir: Option<PathBuf>,
}

/// Runs one compilation in a child of `process.program` and returns its object with the
/// child's phase times, or why there is none.
#[cfg(feature = "llvm")]
pub(super) fn compile_in_child(
    process: &CompileProcess,
    job: Job<'_>,
    code: &[u8],
) -> Result<(Vec<u8>, CompilePhases), CompileError> {
    use std::process::{Command, Stdio};
    let span = tracing::debug_span!("compile_in_child", program = %process.program.display(), len = code.len());
    let _guard = span.enter();
    let start = std::time::Instant::now();
    let request = Request {
        build: job.build,
        spec: job.spec as u8,
        symbol: job.symbol.to_owned(),
        compile_budget: job.compile_budget,
        memory_limit: process.memory_limit,
        cpu_seconds: process.time_limit.as_secs() + 2,
        dump_ir_dir: job.dump_ir_dir,
        code_len: code.len(),
    };
    let mut message = serde_json::to_vec(&request).map_err(|e| CompileError::Process(e.to_string()))?;
    message.push(b'\n');
    message.extend_from_slice(code);
    let mut child = Command::new(&process.program)
        .env(CHILD_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| CompileError::Process(format!("cannot start {}: {e}", process.program.display())))?;
    let pipes = Pipes::start(&mut child, message);
    let deadline = start + process.time_limit;
    let received = pipes.stdout.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()));
    let finished = match received {
        Ok(stdout) => wait_until(&mut child, deadline).map(|status| (status, stdout)),
        Err(_) => None,
    };
    let Some((status, stdout)) = finished else {
        // Out of time: the child is killed (its pipes close, which ends the helper threads).
        let _ = child.kill();
        let _ = child.wait();
        tracing::warn!(limit = ?process.time_limit, "compilation over its time budget: abandoned");
        return Err(CompileError::OverTimeBudget { limit: process.time_limit });
    };
    let stderr = pipes.stderr.join().unwrap_or_default();
    let stdout = stdout.map_err(|e| CompileError::Process(format!("reading the reply: {e}")))?;
    interpret_reply(process, status, &stdout, &stderr)
}

/// Turns the child's exit status, output and error output into the result.
#[cfg(feature = "llvm")]
fn interpret_reply(
    process: &CompileProcess,
    status: std::process::ExitStatus,
    stdout: &[u8],
    stderr: &[u8],
) -> Result<(Vec<u8>, CompilePhases), CompileError> {
    use std::os::unix::process::ExitStatusExt;
    let stderr = String::from_utf8_lossy(stderr);
    if !status.success() {
        if status.signal() == Some(libc::SIGXCPU) {
            return Err(CompileError::OverTimeBudget { limit: process.time_limit });
        }
        if ran_out_of_memory(&stderr) {
            tracing::warn!(limit = process.memory_limit, "compilation over its memory budget: abandoned");
            return Err(CompileError::OverMemoryBudget { limit: process.memory_limit });
        }
        return Err(CompileError::Process(format!("the compiler process failed ({status}): {}", stderr.trim())));
    }
    let newline = stdout.iter().position(|&b| b == b'\n').ok_or_else(|| malformed("no reply line", &stderr))?;
    let reply: Reply = serde_json::from_slice(&stdout[..newline]).map_err(|e| malformed(&e.to_string(), &stderr))?;
    let object = &stdout[newline + 1..];
    match reply {
        Reply::Object { len, phases } if len == object.len() => {
            let [analysis, emit, verify, optimize, machine_code] = phases.map(Duration::from_nanos);
            Ok((object.to_vec(), CompilePhases { analysis, emit, verify, optimize, machine_code }))
        }
        Reply::Object { len, .. } => {
            Err(malformed(&format!("{} object bytes where {len} were announced", object.len()), &stderr))
        }
        Reply::TooCostly { predicted, budget } => Err(CompileError::TooCostly { predicted, budget }),
        Reply::Panic(message) => Err(CompileError::Panic(message)),
        Reply::Unservable(message) => Err(CompileError::Process(message)),
        Reply::Failed(message) => Err(CompileError::Llvm(message)),
    }
}

#[cfg(feature = "llvm")]
fn malformed(what: &str, stderr: &str) -> CompileError {
    CompileError::Process(format!("malformed reply from the compiler process ({what}); it said: {}", stderr.trim()))
}

/// Whether the child's last words are an allocation failure: LLVM's ("out of memory"), Rust's
/// ("memory allocation of N bytes failed"), the C++ runtime's (`std::bad_alloc`), or Rust's
/// abort on a C++ exception unwinding into its frames. LLVM throws no exception of its own (it
/// is built without them); the one C++ exception that can leave it is the `std::bad_alloc` of
/// `operator new`, which reaches the Rust frame that called LLVM when the allocation fails in
/// code without a handler (the baseline tier's fast instruction selector, under the child's
/// address-space limit).
#[cfg(feature = "llvm")]
fn ran_out_of_memory(stderr: &str) -> bool {
    [
        "out of memory",
        "memory allocation of",
        "bad_alloc",
        "Cannot allocate memory",
        "Rust cannot catch foreign exceptions",
    ]
    .iter()
    .any(|needle| stderr.contains(needle))
}

/// Blocks SIGPIPE on the calling thread: a write to a pipe whose reader has gone then fails
/// with `EPIPE` (the signal stays pending on this thread and is dropped when it ends).
#[cfg(feature = "llvm")]
fn block_sigpipe() {
    // SAFETY: `set` is initialised by sigemptyset before use, and pthread_sigmask only changes
    // this thread's mask; the old mask is not needed (the thread ends after one write).
    unsafe {
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Waits for the child to exit until `deadline`; `None` if it is still running then.
#[cfg(feature = "llvm")]
fn wait_until(child: &mut std::process::Child, deadline: std::time::Instant) -> Option<std::process::ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            _ => return None,
        }
    }
}

/// The child's pipes, each served by a thread so that none can fill up and block the child:
/// the request is written, and the output and error output are read to their ends.
#[cfg(feature = "llvm")]
struct Pipes {
    /// The whole output, once the child closes it.
    stdout: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    /// The whole error output (its first 64 KiB).
    stderr: std::thread::JoinHandle<Vec<u8>>,
}

#[cfg(feature = "llvm")]
impl Pipes {
    fn start(child: &mut std::process::Child, message: Vec<u8>) -> Self {
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        // A child that exits early closes its input: the write fails, and the exit status
        // says why. SIGPIPE is blocked on this thread first, so that the failed write is an
        // error here and not the end of a host process that did not ignore the signal.
        std::thread::spawn(move || {
            block_sigpipe();
            let _ = stdin.write_all(&message);
        });
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = sender.send(stdout.read_to_end(&mut bytes).map(|_| bytes));
        });
        let stderr = std::thread::spawn(move || {
            let mut stderr = stderr;
            let mut bytes = Vec::new();
            let _ = stderr.by_ref().take(64 << 10).read_to_end(&mut bytes);
            let _ = std::io::copy(&mut stderr, &mut std::io::sink());
            bytes
        });
        Self { stdout: receiver, stderr }
    }
}

#[cfg(all(test, feature = "llvm"))]
mod tests {
    use super::*;
    use crate::compiler::OptLevel;

    fn request(build: BuildId, code_len: usize) -> Request {
        Request {
            build,
            spec: revm::primitives::hardfork::SpecId::CANCUN as u8,
            symbol: "evm_test".to_owned(),
            compile_budget: u64::MAX,
            memory_limit: 1 << 30,
            cpu_seconds: 10,
            dump_ir_dir: None,
            code_len,
        }
    }

    #[test]
    fn a_child_compiles_a_request_of_its_own_build_to_an_object() {
        let code = [0x34, 0x80, 0x02, 0x00];
        let (reply, object) = compile(&request(BuildId::for_opt_level(OptLevel::Default), code.len()), &code);
        let Reply::Object { len, .. } = reply else { panic!("no object") };
        assert_eq!(len, object.len());
        assert_eq!(&object[..4], b"\x7fELF");
    }

    #[test]
    fn a_child_refuses_a_request_of_another_build() {
        let mut build = BuildId::for_opt_level(OptLevel::Default);
        build.compiler_source = "another".to_owned();
        let (reply, object) = compile(&request(build, 1), &[0x00]);
        assert!(matches!(&reply, Reply::Unservable(message) if message.contains("another build")));
        assert!(object.is_empty());
    }

    #[test]
    fn allocation_failures_are_told_from_other_crashes() {
        assert!(ran_out_of_memory("LLVM ERROR: out of memory\nAllocation failed"));
        assert!(ran_out_of_memory("memory allocation of 4096 bytes failed"));
        assert!(ran_out_of_memory("fatal runtime error: Rust cannot catch foreign exceptions, aborting"));
        assert!(!ran_out_of_memory("thread 'main' panicked at src/codegen/mod.rs:1:1"));
    }
}
