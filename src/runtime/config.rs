//! [`JitConfig`]: the runtime's settings, as a node reads them from its configuration file
//! (serde) and its environment (`REVM_JIT_*`).

use super::CompileEvent;
use crate::{
    compiler::{CompileProcess, CompilerConfig, OptLevel},
    store::ArtifactStore,
};
use revm::primitives::hardfork::SpecId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::{fmt, sync::Arc, time::Duration};

/// Runtime settings. The defaults are a node's: compile in the background what ran
/// interpreted a few times, with workers sized from the machine's cores, keep up to 256 MiB of
/// machine code, and evict what has not run for half an hour.
///
/// Serializes to and from any serde format (a node's TOML or JSON configuration); every
/// field is optional when reading, missing ones take their default. Durations are written as
/// seconds (`1.5`), `null` for "never". [`JitConfig::store`] and [`JitConfig::on_compile`]
/// are objects, not settings: they are skipped, and set in code. The compiler's settings
/// appear as `compiler.opt_level` (`"none"`, `"less"`, `"baseline"`, `"default"`, `"aggressive"`),
/// `compiler.max_code_memory`, `compiler.dump_ir_dir` and `compiler.process` (a table:
/// `program`, `time_limit` in seconds, `memory_limit` in bytes; see [`CompileProcess`]).
///
/// [`JitConfig::apply_env`] overrides fields from `REVM_JIT_*` variables (see there), so an
/// operator can change a setting without touching the node's configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JitConfig {
    /// Whether native execution is on when the runtime starts. A runtime made disabled
    /// starts no thread and loads nothing until a [`super::JitHandle::set_enabled`] turns it
    /// on. Default `true`. Env: `REVM_JIT_ENABLED`.
    pub enabled: bool,
    /// Compiler settings used for every contract. Env: `REVM_JIT_OPT_LEVEL`.
    #[serde(with = "compiler_settings")]
    pub compiler: CompilerConfig,
    /// Compile on the caller's thread at the first lookup (no background compiler). Default
    /// `false`: a node must never stall a block on the compiler. Env: `REVM_JIT_EAGER`.
    pub eager: bool,
    /// A contract is compiled once it missed the cache more than this many times (0: at the
    /// first miss). Misses are counted in a fixed table of hashed slots, so a contract that
    /// shares a slot with another may turn hot sooner. Default 8: a contract run a handful
    /// of times is likely to run again, and one run once is not worth a compilation.
    /// Env: `REVM_JIT_HOT_THRESHOLD`.
    pub hot_threshold: u32,
    /// Tiered compilation. `Some(gas)`: a hot contract is compiled first at
    /// [`OptLevel::Baseline`] (about half the compile time of [`OptLevel::Default`], so it
    /// runs natively sooner; as fast on storage-, hash- and call-bound code, slower on
    /// arithmetic loops), and once its frames have spent `gas` in that code it is recompiled
    /// at `compiler.opt_level` in the background and replaces it. Gas measures the work done,
    /// so a contract running long transactions tiers up after one of them, and one running
    /// short ones after many; a contract used little never pays the second compilation, which
    /// costs about twice the first. `None`: every contract is compiled once, at
    /// `compiler.opt_level`. Tiering applies only when that level is `Default` or
    /// `Aggressive`, and never to artifacts written to a store (compiled once, at that
    /// level). In eager mode both tiers are compiled at once, on the caller's thread.
    /// Default `Some(10_000_000)`: a third of a mainnet block, milliseconds of execution.
    /// Env: `REVM_JIT_TIER_UP_GAS` (`off` for `None`).
    pub tier_up_gas: Option<u64>,
    /// With tiering on, a contract whose predicted compile cost
    /// ([`crate::analysis::Analysis::predicted_cost`]) is below this is compiled at
    /// `compiler.opt_level` at once, without a baseline tier: its optimising compilation takes
    /// milliseconds, so a first tier would save little and cost a second compilation. Default
    /// 4,000. On the bench fixtures, `Default` compile time grows about 10 µs per unit of
    /// predicted cost: the contracts below 4,000 (proxies, counters, the system contracts,
    /// hash_10k, bswap64) compile at `Default` in 8–35 ms, and the next, usdc_proxy at 10,548,
    /// in 77 ms. Env: `REVM_JIT_BASELINE_MIN_COST`.
    pub baseline_min_cost: u64,
    /// Background compiler threads. Default: a quarter of the machine's cores, between 1 and
    /// 4 — the node's own execution and networking need the rest, and a hot set of contracts
    /// is small enough that a few compilers keep up with it. Env: `REVM_JIT_WORKERS`.
    pub workers: usize,
    /// Capacity of the hotness-event channel; events beyond it are dropped and counted.
    /// Default 4096 (events are sent once per contract turning hot, so this is many).
    /// Env: `REVM_JIT_CHANNEL_CAPACITY`.
    pub channel_capacity: usize,
    /// Contracts waiting for a worker, at most; a contract turning hot while the queue is
    /// full is dropped and counted ([`super::StatsSnapshot::jobs_dropped`]), and queued again
    /// the next time it is reported hot. Default 1024. Env: `REVM_JIT_JOB_QUEUE_CAPACITY`.
    pub job_queue_capacity: usize,
    /// Stack size of each worker thread, in bytes. LLVM recurses over the IR it compiles, so
    /// workers get far more than Rust's default 2 MiB. Eager compilation runs on the caller's
    /// thread, with whatever stack that thread has. Default 64 MiB (address space: only the
    /// pages touched are backed by memory). Env: `REVM_JIT_WORKER_STACK_SIZE`.
    pub worker_stack_size: usize,
    /// Cache capacity, in bytes of machine code. Default 256 MiB: the hot contracts of
    /// mainnet take a few tens of MiB, so this is room to spare at a small share of a node's
    /// memory. Env: `REVM_JIT_CACHE_CAPACITY_BYTES`.
    pub cache_capacity_bytes: u64,
    /// Compiled code unused for this long is evicted. Default 30 minutes: a contract nobody
    /// called for that long gives its memory back, and costs one compilation (milliseconds)
    /// if it turns hot again. `None`: never. Env: `REVM_JIT_CACHE_TIME_TO_IDLE_SECS` (`0` or
    /// `never` for `None`).
    #[serde(with = "optional_seconds")]
    pub cache_time_to_idle: Option<Duration>,
    /// Bytecode longer than this is never compiled. Default 64 KiB, above the 24 KiB
    /// contract size limit with room for forks that raise it. Env:
    /// `REVM_JIT_MAX_BYTECODE_LEN`.
    pub max_bytecode_len: usize,
    /// After sending a hotness event, wait up to this long for the background compiler to
    /// produce the code (tests and benchmarks use it to make frames run native without
    /// compiling on the caller's thread). Default `None`.
    #[cfg(feature = "test-hooks")]
    #[serde(skip)]
    pub wait_for_compile: Option<Duration>,
    /// A store of AOT artifacts: everything valid in it is loaded into the cache in the
    /// background when the runtime starts, and a contract about to be compiled is looked for
    /// there first. Default `None`. Not serialized: open the store in code.
    #[serde(skip)]
    pub store: Option<Arc<dyn ArtifactStore>>,
    /// With a store: compile through the AOT path (object, shared library, store, load back)
    /// instead of the in-process JIT, so that whatever gets compiled is found by the next
    /// start. Costs a linker run per contract. Default `false`. Env:
    /// `REVM_JIT_WRITE_ARTIFACTS`.
    pub write_artifacts: bool,
    /// The longest preloading may take; artifacts not loaded by then are loaded on demand.
    /// Default 60 s. Env: `REVM_JIT_PRELOAD_TIMEOUT_SECS`.
    #[serde(with = "seconds")]
    pub preload_timeout: Duration,
    /// Called after every compilation (and every load from the store), on the thread that did
    /// it, with the contract, the time it took, the code's size and the outcome: for a
    /// node's logs or its own metrics. Keep it short: it runs on a compiler thread (or the
    /// caller's, in eager mode). Default `None`. Not serialized.
    #[serde(skip)]
    pub on_compile: Option<CompileCallback>,
}

/// A callback run on each compilation (see [`JitConfig::on_compile`]).
#[derive(Clone)]
pub struct CompileCallback(pub Arc<dyn Fn(&CompileEvent) + Send + Sync>);

impl CompileCallback {
    /// Wraps `f`.
    pub fn new(f: impl Fn(&CompileEvent) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }
}

impl fmt::Debug for CompileCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CompileCallback(..)")
    }
}

/// The default number of background compilers: a quarter of the cores, 1 to 4.
fn default_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 4).clamp(1, 4)
}

impl Default for JitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            compiler: CompilerConfig::default(),
            eager: false,
            hot_threshold: 8,
            tier_up_gas: Some(10_000_000),
            baseline_min_cost: 4_000,
            workers: default_workers(),
            channel_capacity: 4096,
            job_queue_capacity: 1024,
            worker_stack_size: 64 * 1024 * 1024,
            cache_capacity_bytes: 256 * 1024 * 1024,
            cache_time_to_idle: Some(Duration::from_secs(30 * 60)),
            max_bytecode_len: 64 * 1024,
            #[cfg(feature = "test-hooks")]
            wait_for_compile: None,
            store: None,
            write_artifacts: false,
            preload_timeout: Duration::from_secs(60),
            on_compile: None,
        }
    }
}

/// A `REVM_JIT_*` variable whose value cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{var}={value:?} is not valid: expected {expected}")]
pub struct ConfigError {
    /// The variable's name.
    pub var: &'static str,
    /// The value it held.
    pub value: String,
    /// What it should hold.
    pub expected: &'static str,
}

impl JitConfig {
    /// Eager mode: every contract is compiled on first sight, on the caller's thread.
    pub fn eager() -> Self {
        Self { eager: true, ..Self::default() }
    }

    /// Whether contracts compiled into the cache go through the baseline tier first: tiering
    /// is on ([`JitConfig::tier_up_gas`]) and the configured level is one the baseline is
    /// cheaper than.
    pub fn tiers(&self) -> bool {
        self.tier_up_gas.is_some() && matches!(self.compiler.opt_level, OptLevel::Default | OptLevel::Aggressive)
    }

    /// The level a contract's first compilation into the cache runs at: the baseline tier
    /// when [`JitConfig::tiers`] and the contract is not cheap enough to compile at the
    /// configured level at once (see [`JitConfig::baseline_min_cost`]), else the configured
    /// level. Artifacts written to a store are always compiled at the configured level.
    pub fn first_level(&self, code: &[u8], spec: SpecId) -> OptLevel {
        // The cost model's analysis is a fraction of a per cent of a compilation (0.9 ms of
        // fiat_token's 590 ms baseline compile); the compiler repeats it.
        if self.tiers() && crate::analysis::Analysis::new(code, spec).predicted_cost() >= self.baseline_min_cost {
            OptLevel::Baseline
        } else {
            self.compiler.opt_level
        }
    }

    /// The defaults with the process environment's `REVM_JIT_*` overrides applied (see
    /// [`JitConfig::apply_env`]).
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut config = Self::default();
        config.apply_env()?;
        Ok(config)
    }

    /// Overrides fields from the process environment. Each field's doc names its variable;
    /// booleans read `1`/`0`/`true`/`false`/`yes`/`no`/`on`/`off`, numbers are decimal,
    /// durations are seconds (fractions allowed). A variable that is set but cannot be read
    /// is an error naming it, never silently ignored: an operator who mistypes a value must
    /// find out at start-up. Fields read before the bad one keep their new values.
    pub fn apply_env(&mut self) -> Result<(), ConfigError> {
        self.apply_env_from(|name| std::env::var(name).ok())
    }

    /// [`JitConfig::apply_env`] with variables read through `var` instead of the process
    /// environment (tests, or a node that keeps its own environment map).
    pub fn apply_env_from(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let read = |name: &'static str| var(name).map(|value| (name, value.trim().to_owned()));
        if let Some((name, v)) = read("REVM_JIT_ENABLED") {
            self.enabled = parse_bool(name, &v)?;
        }
        if let Some((name, v)) = read("REVM_JIT_EAGER") {
            self.eager = parse_bool(name, &v)?;
        }
        if let Some((name, v)) = read("REVM_JIT_WRITE_ARTIFACTS") {
            self.write_artifacts = parse_bool(name, &v)?;
        }
        if let Some((name, v)) = read("REVM_JIT_OPT_LEVEL") {
            self.compiler.opt_level = parse_opt_level(&v)
                .ok_or_else(|| invalid(name, &v, "one of none, less, baseline, default, aggressive"))?;
        }
        self.apply_process_env(&read)?;
        if let Some((name, v)) = read("REVM_JIT_HOT_THRESHOLD") {
            self.hot_threshold = parse_number(name, &v)?;
        }
        if let Some((name, v)) = read("REVM_JIT_BASELINE_MIN_COST") {
            self.baseline_min_cost = parse_number(name, &v)?;
        }
        if let Some((name, v)) = read("REVM_JIT_TIER_UP_GAS") {
            self.tier_up_gas = match v.as_str() {
                "off" => None,
                _ => Some(parse_number(name, &v)?),
            };
        }
        if let Some((name, v)) = read("REVM_JIT_WORKERS") {
            self.workers = parse_number(name, &v)?;
            if self.workers == 0 {
                return Err(invalid(name, &v, "at least 1"));
            }
        }
        if let Some((name, v)) = read("REVM_JIT_CHANNEL_CAPACITY") {
            self.channel_capacity = parse_number(name, &v)?;
        }
        if let Some((name, v)) = read("REVM_JIT_JOB_QUEUE_CAPACITY") {
            self.job_queue_capacity = parse_number(name, &v)?;
        }
        if let Some((name, v)) = read("REVM_JIT_WORKER_STACK_SIZE") {
            self.worker_stack_size = parse_number(name, &v)?;
        }
        if let Some((name, v)) = read("REVM_JIT_CACHE_CAPACITY_BYTES") {
            self.cache_capacity_bytes = parse_number(name, &v)?;
        }
        if let Some((name, v)) = read("REVM_JIT_CACHE_TIME_TO_IDLE_SECS") {
            self.cache_time_to_idle = match v.as_str() {
                "never" | "0" => None,
                _ => Some(parse_seconds(name, &v)?),
            };
        }
        if let Some((name, v)) = read("REVM_JIT_MAX_BYTECODE_LEN") {
            self.max_bytecode_len = parse_number(name, &v)?;
        }
        if let Some((name, v)) = read("REVM_JIT_PRELOAD_TIMEOUT_SECS") {
            self.preload_timeout = parse_seconds(name, &v)?;
        }
        Ok(())
    }
}

impl JitConfig {
    /// Applies only the compiler process variables of [`JitConfig::apply_env`] (see
    /// [`JitConfig::compiler`] and [`CompileProcess`]), from the process environment: for a
    /// tool whose other settings are fixed, as `revm-jit`'s `jit` and `runtime` modes are.
    pub fn apply_compile_process_env(&mut self) -> Result<(), ConfigError> {
        self.apply_process_env(&|name: &'static str| std::env::var(name).ok().map(|v| (name, v.trim().to_owned())))
    }

    /// The compiler process settings (see [`CompileProcess`]): `REVM_JIT_COMPILE_PROCESS` names
    /// the program (`self`: this executable, which must call
    /// [`crate::compiler::serve_if_compile_child`]; `off` or empty: compile in process), and
    /// `REVM_JIT_COMPILE_TIME_LIMIT_SECS` and `REVM_JIT_COMPILE_MEMORY_LIMIT_BYTES` its budget,
    /// which need a program.
    fn apply_process_env(
        &mut self,
        read: &impl Fn(&'static str) -> Option<(&'static str, String)>,
    ) -> Result<(), ConfigError> {
        if let Some((name, v)) = read("REVM_JIT_COMPILE_PROCESS") {
            self.compiler.process = match v.as_str() {
                "" | "off" => None,
                "self" => {
                    let exe = std::env::current_exe()
                        .map_err(|_| invalid(name, &v, "a path (this executable's is unknown)"))?;
                    Some(CompileProcess::new(exe))
                }
                path => Some(CompileProcess::new(path)),
            };
        }
        if let Some((name, v)) = read("REVM_JIT_COMPILE_TIME_LIMIT_SECS") {
            let process = self.compiler.process.as_mut().ok_or_else(|| invalid(name, &v, NEEDS_PROCESS))?;
            process.time_limit = parse_seconds(name, &v)?;
        }
        if let Some((name, v)) = read("REVM_JIT_COMPILE_MEMORY_LIMIT_BYTES") {
            let process = self.compiler.process.as_mut().ok_or_else(|| invalid(name, &v, NEEDS_PROCESS))?;
            process.memory_limit = parse_number(name, &v)?;
        }
        Ok(())
    }
}

/// What a budget variable set without a compiler process expects.
const NEEDS_PROCESS: &str = "REVM_JIT_COMPILE_PROCESS to be set too (the budget applies to a compiler process)";

fn invalid(var: &'static str, value: &str, expected: &'static str) -> ConfigError {
    ConfigError { var, value: value.to_owned(), expected }
}

fn parse_bool(var: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(invalid(var, value, "a boolean (1, 0, true, false, yes, no, on, off)")),
    }
}

fn parse_number<T: std::str::FromStr>(var: &'static str, value: &str) -> Result<T, ConfigError> {
    value.replace('_', "").parse().map_err(|_| invalid(var, value, "a non-negative decimal integer"))
}

fn parse_seconds(var: &'static str, value: &str) -> Result<Duration, ConfigError> {
    value
        .parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| invalid(var, value, "a non-negative number of seconds"))
}

fn parse_opt_level(value: &str) -> Option<OptLevel> {
    // The levels' numbers, as LLVM's `-O` spells them, are accepted too.
    Some(match value {
        "0" => OptLevel::None,
        "1" => OptLevel::Less,
        "2" => OptLevel::Default,
        "3" => OptLevel::Aggressive,
        name => return OptLevel::from_name(name),
    })
}

/// Serde for [`CompilerConfig`], which lives with the compiler and has no serde of its own:
/// its settings as a plain table; injected faults (a test hook) are not settings and stay
/// out.
mod compiler_settings {
    use super::*;

    #[derive(Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Settings {
        opt_level: String,
        max_code_memory: usize,
        dump_ir_dir: Option<std::path::PathBuf>,
        process: Option<ProcessSettings>,
    }

    /// [`CompileProcess`] as a table: the time limit in seconds.
    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ProcessSettings {
        program: std::path::PathBuf,
        #[serde(default = "default_time_limit", with = "super::seconds")]
        time_limit: Duration,
        #[serde(default = "default_memory_limit")]
        memory_limit: u64,
    }

    fn default_time_limit() -> Duration {
        CompileProcess::DEFAULT_TIME_LIMIT
    }

    fn default_memory_limit() -> u64 {
        CompileProcess::DEFAULT_MEMORY_LIMIT
    }

    impl From<&CompilerConfig> for Settings {
        fn from(config: &CompilerConfig) -> Self {
            Self {
                opt_level: OptLevel::name(config.opt_level).to_owned(),
                max_code_memory: config.max_code_memory,
                dump_ir_dir: config.dump_ir_dir.clone(),
                process: config.process.as_ref().map(|p| ProcessSettings {
                    program: p.program.clone(),
                    time_limit: p.time_limit,
                    memory_limit: p.memory_limit,
                }),
            }
        }
    }

    impl Default for Settings {
        fn default() -> Self {
            Self::from(&CompilerConfig::default())
        }
    }

    pub(super) fn serialize<S: Serializer>(config: &CompilerConfig, s: S) -> Result<S::Ok, S::Error> {
        Settings::from(config).serialize(s)
    }

    #[allow(clippy::field_reassign_with_default, reason = "the struct's fields differ between builds")]
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CompilerConfig, D::Error> {
        let settings = Settings::deserialize(d)?;
        let opt_level = parse_opt_level(&settings.opt_level).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "opt_level {:?}: expected one of none, less, baseline, default, aggressive",
                settings.opt_level
            ))
        })?;
        // Field by field: the struct has test-hook fields in some builds only.
        let mut config = CompilerConfig::default();
        config.opt_level = opt_level;
        config.max_code_memory = settings.max_code_memory;
        config.dump_ir_dir = settings.dump_ir_dir;
        config.process = settings.process.map(|p| CompileProcess {
            program: p.program,
            time_limit: p.time_limit,
            memory_limit: p.memory_limit,
        });
        Ok(config)
    }
}

/// Serde for a [`Duration`] as seconds.
mod seconds {
    use super::*;

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

/// Serde for an optional [`Duration`] as seconds, `null` for `None`.
mod optional_seconds {
    use super::*;

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        d.map(|d| d.as_secs_f64()).serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?
            .map(|secs| Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom))
            .transpose()
    }
}
