//! Running state-test files: finding them, executing every case through an
//! [`Executor`] on worker threads, and judging the results.

use super::{
    progress::{DirSummary, Progress},
    report::{CaseOutcome, Counts, Failure, Rejected, Report, Status},
    roots,
};
use crate::exec::{Executor, Mode};
use crate::fixture::{
    self, FieldPath, FixtureError, FixtureFile, FixtureTest,
    env::{self, CaseIndex, ForkSupport, Rejection, TxBuildError},
};
use revm::{
    Context, InspectEvm, Inspector, MainBuilder, MainContext,
    context::{BlockEnv, CfgEnv, result::EVMError},
    database::{CacheState, State},
    interpreter::{CreateInputs, CreateOutcome},
    primitives::{Address, hardfork::SpecId},
    state::AccountInfo,
};
use revm_jit::FrameCounts;
use revm_jit::OptLevel;
use revm_statetest_types::Test;
use std::{
    collections::HashMap,
    panic::AssertUnwindSafe,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicUsize, Ordering},
        mpsc,
    },
    time::Instant,
};

/// Skip reason of the EIP-7610 cases ([`collision_candidates`], [`Case::creates_over`]).
///
/// Such a case has a pre-state account with storage but no code and nonce 0, and a
/// transaction that creates a contract at that address (CREATE, CREATE2 or the transaction
/// itself). EIP-7610 makes such a creation fail as a collision; revm checks only the target's
/// code hash and nonce (`JournalInner::create_account_checkpoint`), because a node's database
/// can tell "has storage" only from the storage root, which revm's `Database` does not
/// expose. So revm succeeds the creation and the case ends with a different state root, in
/// any mode; revm's own runner (`revme statetest`) skips these cases too (by file name).
const EIP7610: &str = "EIP-7610: creates over an account that has only storage; revm checks \
     code and nonce only, so the creation does not collide (revme skips these too)";

/// Fixture files that take far longer than the others (in revm's interpreter:
/// `CALLBlake2f_MaxRounds` ~45 s, a BLAKE2 compression of 2^32-1 rounds; `loopMul`
/// ~15 s), by their last path components. They are started first, so that their
/// duration overlaps the rest of the run instead of being added at its end; the order
/// of the results does not change.
const SLOW_FILES: &[&str] = &["stTimeConsuming/CALLBlake2f_MaxRounds.json", "VMTests/vmPerformance/loopMul.json"];

/// Fixture files whose traces are not compared under `check_traces`, by path fragment: their
/// transactions make tens of thousands of calls (or nest a thousand calls carrying a megabyte
/// each), where building the reference traces dominates the whole suite's run time (parity
/// trace addresses are quadratic in the number of calls). They still run and are judged in
/// every mode; only the extra inspected runs are skipped.
const TRACE_CHECK_SKIPPED: &[&str] = &[
    "stQuadraticComplexityTest/",
    "stTimeConsuming/",
    "50000",
    "Call1MB1024Calldepth",
    "Callcode1MB",
    "vmPerformance/",
];

/// What to run and how.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Mode every case runs in.
    pub mode: Mode,
    /// Worker threads (at least one is used).
    pub threads: usize,
    /// Keep only tests whose name or file path contains this.
    pub filter: Option<String>,
    /// In native modes, also run every passing case inspected twice, interpreted and with
    /// native frames (`InspectionMode::Native`), and fail it when the call traces, logs or
    /// hooks differ (see [`crate::traces`]).
    pub check_traces: bool,
    /// Artifact store directory for `runtime` (preloaded, and written) and `aot` (written
    /// and loaded); `aot` without one uses a temporary store per worker.
    pub store: Option<PathBuf>,
    /// In `jit` mode, the level every contract is compiled at alone, instead of the
    /// runtime's tiers: so that the state tests check code of any [`OptLevel`], not only the
    /// optimising tier's (`jit`) and the baseline tier's (`runtime`).
    pub opt_level: Option<OptLevel>,
}

impl RunOptions {
    /// Options for `mode` with two threads, no filter and no trace checks.
    pub fn new(mode: Mode) -> Self {
        Self { mode, threads: 2, filter: None, check_traces: false, store: None, opt_level: None }
    }
}

/// A fixture file to run, with the directory it is reported under.
#[derive(Debug, Clone)]
struct Job {
    path: PathBuf,
    dir: String,
}

/// Finds the `.json` files under `paths`, sorted, files of a directory before its
/// subdirectories. A path given explicitly is taken even without the `.json` extension.
///
/// Paths that do not exist or hold no fixture become failed cases.
fn collect(paths: &[PathBuf]) -> (Vec<Job>, Vec<CaseOutcome>) {
    let mut jobs = Vec::new();
    let mut failures = Vec::new();
    for root in paths {
        let fail = |failure: Failure| CaseOutcome {
            file: root.clone(),
            test: None,
            fork: None,
            index: None,
            status: Status::Failed(failure),
        };
        if root.is_dir() {
            let label = root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| root.display().to_string());
            match fixture::fixture_files(root) {
                Err(error) => failures.push(fail(Failure::Load(error))),
                Ok(files) if files.is_empty() => failures.push(fail(Failure::NoFiles { path: root.clone() })),
                Ok(files) => jobs.extend(files.into_iter().map(|path| {
                    let rel = path.parent().and_then(|p| p.strip_prefix(root).ok()).unwrap_or(Path::new(""));
                    let dir =
                        if rel.as_os_str().is_empty() { label.clone() } else { format!("{label}/{}", rel.display()) };
                    Job { path, dir }
                })),
            }
        } else if root.exists() {
            let dir = root.parent().map(|p| p.display().to_string()).unwrap_or_default();
            jobs.push(Job { path: root.clone(), dir });
        } else {
            failures.push(fail(Failure::Load(FixtureError::Io {
                path: root.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
            })));
        }
    }
    (jobs, failures)
}

/// A worker's executor, replaced by a fresh one after a panic (its caches may be
/// inconsistent); the frames of replaced executors are kept.
struct Worker {
    executor: Executor,
    retired: FrameCounts,
    store: Option<PathBuf>,
    opt_level: Option<OptLevel>,
}

impl Worker {
    fn new(mode: Mode, store: Option<PathBuf>, opt_level: Option<OptLevel>) -> Self {
        let executor = Self::executor(mode, store.as_deref(), opt_level);
        Self { executor, retired: FrameCounts::default(), store, opt_level }
    }

    fn executor(mode: Mode, store: Option<&Path>, opt_level: Option<OptLevel>) -> Executor {
        // The command line opens the store before starting workers, so this cannot fail
        // unless the directory vanished in between.
        Executor::with_options(mode, store, opt_level).unwrap_or_else(|e| panic!("opening the artifact store: {e}"))
    }

    fn replace_executor(&mut self) {
        let frames = self.executor.frame_counts();
        self.retired.native += frames.native;
        self.retired.interpreted += frames.interpreted;
        self.executor = Self::executor(self.executor.mode(), self.store.as_deref(), self.opt_level);
    }

    fn frames(&self) -> FrameCounts {
        let frames = self.executor.frame_counts();
        FrameCounts {
            native: self.retired.native + frames.native,
            interpreted: self.retired.interpreted + frames.interpreted,
        }
    }
}

/// Runs the state tests under `paths` (files or directories) and reports every case.
pub fn run(paths: &[PathBuf], options: &RunOptions, progress: &mut dyn Progress) -> Report {
    let start = Instant::now();
    let (jobs, mut early) = collect(paths);

    let mut remaining: HashMap<&str, (usize, usize, Counts)> = HashMap::new();
    for job in &jobs {
        let entry = remaining.entry(job.dir.as_str()).or_default();
        entry.0 += 1;
        entry.1 += 1;
    }
    progress.start(jobs.len());

    let threads = options.threads.max(1).min(jobs.len().max(1));
    // The order jobs are taken in: slow files first, then the others in path order.
    let is_slow = |job: &Job| SLOW_FILES.iter().any(|slow| job.path.ends_with(slow));
    let order: Vec<usize> =
        (0..jobs.len()).filter(|&i| is_slow(&jobs[i])).chain((0..jobs.len()).filter(|&i| !is_slow(&jobs[i]))).collect();
    let next = AtomicUsize::new(0);
    let mut results: Vec<Vec<CaseOutcome>> = (0..jobs.len()).map(|_| Vec::new()).collect();
    let mut frames = FrameCounts::default();

    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::channel::<(usize, Vec<CaseOutcome>)>();
        let mut handles = Vec::new();
        for i in 0..threads {
            let sender = sender.clone();
            let (jobs, order, next) = (&jobs, &order, &next);
            let handle = std::thread::Builder::new()
                .name(format!("statetest-{i}"))
                .spawn_scoped(scope, move || {
                    let mut worker = Worker::new(options.mode, options.store.clone(), options.opt_level);
                    while let Some(&index) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let job = &jobs[index];
                        let cases = run_file(&mut worker, &job.path, options);
                        if sender.send((index, cases)).is_err() {
                            break;
                        }
                    }
                    worker.frames()
                })
                .expect("spawning a state-test worker thread");
            handles.push(handle);
        }
        drop(sender);

        for (index, cases) in receiver {
            let dir = jobs[index].dir.as_str();
            let entry = remaining.get_mut(dir).expect("every job's directory is counted");
            for case in &cases {
                entry.2.add(&case.status);
            }
            entry.0 -= 1;
            progress.file_done(dir);
            if entry.0 == 0 {
                progress.dir_done(&DirSummary {
                    dir: dir.to_string(),
                    files: entry.1,
                    counts: entry.2,
                    elapsed: start.elapsed(),
                });
            }
            results[index] = cases;
        }

        for handle in handles {
            match handle.join() {
                Ok(f) => {
                    frames.native += f.native;
                    frames.interpreted += f.interpreted;
                }
                // Cases catch the executor's panics; a panic here is the runner's own
                // bug and must not pass silently.
                Err(payload) => std::panic::resume_unwind(payload),
            }
        }
    });
    progress.finish();

    let mut cases: Vec<CaseOutcome> = results.into_iter().flatten().collect();
    cases.append(&mut early);
    Report { mode: options.mode, cases, frames, elapsed: start.elapsed() }
}

/// Runs every case of the file at `path` (tests kept by `filter`) in `worker`.
fn run_file(worker: &mut Worker, path: &Path, options: &RunOptions) -> Vec<CaseOutcome> {
    let filter = options.filter.as_deref();
    let file = match FixtureFile::load(path) {
        Ok(file) => file,
        Err(error) => {
            return vec![CaseOutcome {
                file: path.to_path_buf(),
                test: None,
                fork: None,
                index: None,
                status: Status::Failed(Failure::Load(error)),
            }];
        }
    };
    let path_matches = filter.is_none_or(|f| path.to_string_lossy().contains(f));

    let mut cases = Vec::new();
    for test in &file.tests {
        if !path_matches && !filter.is_some_and(|f| test.name.contains(f)) {
            continue;
        }
        run_test(worker, path, test, options.check_traces, &mut cases);
    }
    cases
}

/// Runs every (fork, post-state) case of `test`.
fn run_test(worker: &mut Worker, path: &Path, test: &FixtureTest, check_traces: bool, cases: &mut Vec<CaseOutcome>) {
    let Some(post) = &test.post else {
        // A state test judges against its `post`; without one (a bench fixture) there is
        // nothing to judge, which is a failure rather than a silent pass.
        cases.push(CaseOutcome {
            file: path.to_path_buf(),
            test: Some(test.name.clone()),
            fork: None,
            index: None,
            status: Status::Failed(Failure::Fixture(Box::new(FixtureError::MissingField {
                path: path.to_path_buf(),
                field: FieldPath::new([test.name.as_str(), "post"]),
            }))),
        });
        return;
    };
    let prestate = env::prestate(test);
    let candidates = collision_candidates(test);
    for (fork, posts) in post {
        let support = match env::fork_support(fork) {
            None => Err(format!("unknown fork name `{fork}`")),
            Some(ForkSupport::Skip(reason)) => Err(reason.to_string()),
            Some(ForkSupport::Run(spec)) => Ok(env::cfg_env(test, spec)),
        };
        for (index, post) in posts.iter().enumerate() {
            let status = match &support {
                Err(reason) => Status::Skipped(reason.clone()),
                Ok(cfg) => match env::block_env(path, test, cfg) {
                    Err(error) => Status::Failed(Failure::Fixture(error)),
                    Ok(block) => {
                        let block = &block;
                        let case = Case { path, test, fork, index, post, prestate: &prestate, cfg, block };
                        if !candidates.is_empty() && case.creates_over(&candidates) {
                            cases.push(CaseOutcome {
                                file: path.to_path_buf(),
                                test: Some(test.name.clone()),
                                fork: Some(fork.clone()),
                                index: Some(index),
                                status: Status::Skipped(EIP7610.to_string()),
                            });
                            continue;
                        }
                        let mut status = case.run(&mut worker.executor);
                        if check_traces && matches!(status, Status::Passed) {
                            status = case.check_traces(&worker.executor);
                        }
                        if matches!(status, Status::Failed(Failure::Panic(_))) {
                            worker.replace_executor();
                        }
                        status
                    }
                },
            };
            cases.push(CaseOutcome {
                file: path.to_path_buf(),
                test: Some(test.name.clone()),
                fork: Some(fork.clone()),
                index: Some(index),
                status,
            });
        }
    }
}

/// Applies the reference fillers' zero mining reward to `coinbase` after a rejected
/// transaction.
///
/// The fillers (geth's `StateTest.RunNoVerify`, which retesteth's t8n tools follow) credit the
/// coinbase with a reward of 0 after the transaction, valid or not, and then commit, deleting
/// empty touched accounts only from EIP-158 (Spurious Dragon) on. For a valid transaction
/// revm's own fee payment has touched the coinbase the same way. For a rejected one nothing
/// ran, so the touch is applied here: before EIP-158 a coinbase that did not exist becomes an
/// empty account that stays in the trie; from EIP-158 on, an existing empty coinbase is
/// touched and so deleted.
fn touch_coinbase(cache: &mut CacheState, coinbase: Address, spec: SpecId) {
    let exists = cache.accounts.get(&coinbase).is_some_and(|a| a.account.is_some());
    if !spec.is_enabled_in(SpecId::SPURIOUS_DRAGON) {
        if !exists {
            cache.insert_account(coinbase, AccountInfo::default());
        }
    } else if let Some(account) = cache.accounts.get_mut(&coinbase)
        && account.account.as_ref().is_some_and(|a| a.info.is_empty())
    {
        account.account = None;
    }
}

/// The pre-state accounts a creation would collide with under EIP-7610 but not in revm:
/// storage (a non-zero slot), no code, nonce 0.
fn collision_candidates(test: &FixtureTest) -> Vec<Address> {
    test.pre
        .iter()
        .filter(|(_, a)| a.code.is_empty() && a.nonce == 0 && a.storage.values().any(|v| !v.is_zero()))
        .map(|(address, _)| *address)
        .collect()
}

/// Records whether a creation at one of `candidates` ended differently from a collision: a
/// create frame was made for the address (the creation passed the depth and balance checks)
/// and it returned or reverted.
///
/// A creation whose frame halts exceptionally is left alone: like a collision it consumes all
/// the gas it was given and changes nothing but the creator's nonce, so revm's result is the
/// fillers' and the case is judged (stSpecialTest's `FailedCreateRevertsDeletionParis` is
/// one).
#[derive(Debug)]
struct CreateWatcher<'a> {
    candidates: &'a [Address],
    hit: bool,
}

impl<CTX> Inspector<CTX> for CreateWatcher<'_> {
    fn create_end(&mut self, _context: &mut CTX, _inputs: &CreateInputs, outcome: &mut CreateOutcome) {
        if outcome.address.is_some_and(|a| self.candidates.contains(&a)) && outcome.result.result.is_ok_or_revert() {
            self.hit = true;
        }
    }
}

/// Everything one case needs.
struct Case<'a> {
    path: &'a Path,
    test: &'a FixtureTest,
    fork: &'a str,
    index: usize,
    post: &'a Test,
    prestate: &'a CacheState,
    cfg: &'a CfgEnv,
    block: &'a BlockEnv,
}

/// How a case's transaction ended.
enum Execution {
    /// It ran (successfully, reverted or halted), with these logs and output.
    Ran(revm::context::result::ExecutionResult),
    /// It was rejected as invalid, for this reason.
    Rejected(Rejected),
}

impl Case<'_> {
    /// The case's transaction. State tests are unsigned: the secret key stands for a valid
    /// signature, and a transaction without one models a badly signed transaction, even when
    /// it names its sender.
    fn tx_env(&self) -> Result<revm::context::TxEnv, TxBuildError> {
        if self.test.transaction.secret_key.is_none() {
            return Err(TxBuildError::Rejected(Rejection::Unsigned));
        }
        env::tx_env(self.path, self.test, CaseIndex::post(self.fork, self.index, self.post), self.cfg.chain_id)
    }

    /// Executes the case and judges the result.
    fn run(&self, executor: &mut Executor) -> Status {
        let mut state = State::builder().with_cached_prestate(self.prestate.clone()).build();
        let execution = match self.tx_env() {
            Err(TxBuildError::Fixture(error)) => return Status::Failed(error.into()),
            Err(TxBuildError::Rejected(reason)) => Execution::Rejected(reason.into()),
            Ok(tx) => {
                let ctx = Context::mainnet()
                    .with_cfg(self.cfg.clone())
                    .with_block(self.block.clone())
                    .with_tx(tx.clone())
                    .with_db(&mut state);
                let result = std::panic::catch_unwind(AssertUnwindSafe(|| executor.transact_commit(ctx, tx)));
                match result {
                    Err(payload) => {
                        return Status::Failed(Failure::Panic(revm_jit::compiler::panic_message(payload.as_ref())));
                    }
                    Ok(Ok(result)) => Execution::Ran(result),
                    Ok(Err(EVMError::Transaction(invalid))) => Execution::Rejected(Rejected::Evm(invalid)),
                    // Header errors mean the runner built a bad block; database and
                    // custom errors are internal failures. None is a rejected transaction.
                    Ok(Err(error)) => return Status::Failed(Failure::Execution(error)),
                }
            }
        };

        match (&self.post.expect_exception, execution) {
            (Some(expected), Execution::Ran(_)) => {
                Status::Failed(Failure::ExceptionNotRaised { expected: expected.clone() })
            }
            (None, Execution::Rejected(got)) => Status::Failed(Failure::UnexpectedException { got }),
            // A rejected transaction changes nothing but the coinbase's zero reward (see
            // `touch_coinbase`): the post-state is the pre-state, which the fixture's `hash`
            // states.
            (Some(_), Execution::Rejected(_)) => {
                touch_coinbase(&mut state.cache, self.block.beneficiary, self.cfg.spec);
                self.check_state_root(&state)
            }
            (None, Execution::Ran(result)) => {
                if let (Some(expected), Some(got)) = (&self.test.out, result.output())
                    && expected != got
                {
                    return Status::Failed(Failure::Output { expected: expected.clone(), got: got.clone() });
                }
                let logs = roots::logs_hash(result.logs());
                if logs != self.post.logs {
                    return Status::Failed(Failure::LogsHash { expected: self.post.logs, got: logs });
                }
                self.check_state_root(&state)
            }
        }
    }

    /// Whether the case's transaction creates a contract at one of `candidates` in a way
    /// that EIP-7610 would have turned into a collision with another outcome (see
    /// [`EIP7610`], [`CreateWatcher`]): the transaction is run once more, interpreted and inspected, on a fresh
    /// copy of the pre-state. A transaction that is rejected creates nothing.
    fn creates_over(&self, candidates: &[Address]) -> bool {
        let Ok(tx) = self.tx_env() else { return false };
        let mut state = State::builder().with_cached_prestate(self.prestate.clone()).build();
        let watcher = CreateWatcher { candidates, hit: false };
        let mut evm = Context::mainnet()
            .with_cfg(self.cfg.clone())
            .with_block(self.block.clone())
            .with_tx(tx.clone())
            .with_db(&mut state)
            .build_mainnet_with_inspector(watcher);
        let ran = std::panic::catch_unwind(AssertUnwindSafe(|| evm.inspect_one_tx(tx).is_ok()));
        ran.unwrap_or(false) && evm.inspector.hit
    }

    /// Runs the case inspected, interpreted and then with native frames, on fresh copies of
    /// the pre-state, and compares what the inspectors saw. Passes trivially in `interp`
    /// mode, which has no native code; fails if a frame of the native run was interpreted.
    fn check_traces(&self, executor: &Executor) -> Status {
        let Some(runtime) = executor.runtime() else { return Status::Passed };
        let path = self.path.to_string_lossy();
        if TRACE_CHECK_SKIPPED.iter().any(|fragment| path.contains(fragment)) {
            return Status::Passed;
        }
        let Ok(tx) = self.tx_env() else {
            return Status::Passed;
        };
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let mut interpreted_state = State::builder().with_cached_prestate(self.prestate.clone()).build();
            let mut native_state = State::builder().with_cached_prestate(self.prestate.clone()).build();
            let context = |state| {
                Context::mainnet()
                    .with_cfg(self.cfg.clone())
                    .with_block(self.block.clone())
                    .with_tx(tx.clone())
                    .with_db(state)
            };
            let reference = crate::traces::record_interpreted(context(&mut interpreted_state), tx.clone())?;
            let (native, frames) =
                crate::traces::record_native(context(&mut native_state), tx.clone(), runtime.handle())?;
            if frames.interpreted != 0 {
                return Err(format!("{} frame(s) of the inspected native run were interpreted", frames.interpreted));
            }
            Ok::<_, String>(reference.difference(&native))
        }));
        match outcome {
            Err(payload) => Status::Failed(Failure::Panic(revm_jit::compiler::panic_message(payload.as_ref()))),
            Ok(Err(error)) => Status::Failed(Failure::TraceMismatch(error)),
            Ok(Ok(Some(difference))) => Status::Failed(Failure::TraceMismatch(difference)),
            Ok(Ok(None)) => Status::Passed,
        }
    }

    /// Compares the state root of `state` with the fixture's.
    fn check_state_root(&self, state: &State<revm::database::EmptyDB>) -> Status {
        let got = roots::state_root(&state.cache);
        if got == self.post.hash {
            Status::Passed
        } else {
            Status::Failed(Failure::StateRoot { expected: self.post.hash, got })
        }
    }
}

#[cfg(all(test, feature = "llvm"))]
mod tests {
    use super::{Mode, OptLevel, Worker};
    use revm_jit::JitConfig;

    /// The level of `RunOptions::opt_level` reaches a worker's runtime, and the executor that
    /// replaces it after a panic; without one, `jit` mode keeps the eager runtime's tiers.
    #[test]
    fn workers_compile_at_the_given_level() {
        let level =
            |worker: &Worker| worker.executor.runtime().expect("jit mode has a runtime").config().compiler.opt_level;
        let mut worker = Worker::new(Mode::Jit, None, Some(OptLevel::Aggressive));
        assert_eq!(level(&worker), OptLevel::Aggressive);
        worker.replace_executor();
        assert_eq!(level(&worker), OptLevel::Aggressive);
        let tiered = Worker::new(Mode::Jit, None, None);
        assert_eq!(level(&tiered), JitConfig::eager().compiler.opt_level);
        assert!(tiered.executor.runtime().unwrap().config().tier_up_gas.is_some());
    }
}
