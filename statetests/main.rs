//! `cargo test --test statetests`: runs ethereum/tests' `GeneralStateTests` in every
//! execution mode and fails on any failed case.
//!
//! The suite is found at `$REVM_JIT_STATETESTS`, else at
//! `../shared/ethereum-tests/GeneralStateTests` next to the package. A missing suite is a
//! failure, never a silent pass. `REVM_JIT_STATETEST_MODES=interp,jit` restricts the
//! modes; `REVM_JIT_STATETEST_THREADS` sets the worker threads (2 by default). A first
//! free argument (`cargo test --test statetests -- SUBSTR`) filters tests by name or path.
//! In `jit` mode every passing case is also run inspected, interpreted and native, and the
//! traces compared (`REVM_JIT_STATETEST_TRACES=0` skips that).

use clap::ValueEnum;
use revm_jit_cli::{
    exec::Mode,
    statetest::{Console, RunOptions, run},
};
use std::{io::Write, path::PathBuf, process::ExitCode};

/// Where the suite is, and where that came from: `$REVM_JIT_STATETESTS`, or the default
/// next to the package.
fn suite_dir() -> (PathBuf, String) {
    match std::env::var_os("REVM_JIT_STATETESTS") {
        Some(dir) => (PathBuf::from(dir), "from $REVM_JIT_STATETESTS".to_string()),
        None => (
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/ethereum-tests/GeneralStateTests"),
            format!(
                "the default, ../shared/ethereum-tests/GeneralStateTests relative to {}, \
                 as $REVM_JIT_STATETESTS is not set",
                env!("CARGO_MANIFEST_DIR")
            ),
        ),
    }
}

/// The modes to run: every mode, or those listed in `REVM_JIT_STATETEST_MODES`.
fn modes() -> Result<Vec<Mode>, String> {
    let Ok(list) = std::env::var("REVM_JIT_STATETEST_MODES") else {
        return Ok(Mode::value_variants().to_vec());
    };
    let modes = list
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            Mode::from_str(name, true).map_err(|_| {
                let known: Vec<&str> = Mode::value_variants().iter().map(|m| m.name()).collect();
                format!("REVM_JIT_STATETEST_MODES: unknown mode `{name}` (known: {})", known.join(", "))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if modes.is_empty() {
        return Err("REVM_JIT_STATETEST_MODES lists no mode".to_string());
    }
    Ok(modes)
}

fn main() -> ExitCode {
    // libtest-style flags (`--nocapture`, `--test-threads=…`) mean nothing here.
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    let (suite, source) = suite_dir();
    if !suite.is_dir() {
        eprintln!();
        eprintln!("error: ethereum/tests GeneralStateTests not found at {}", suite.display());
        eprintln!("       ({source}).");
        eprintln!("       Set REVM_JIT_STATETESTS to the GeneralStateTests directory of a checkout of");
        eprintln!("       https://github.com/ethereum/tests to run the state tests.");
        eprintln!();
        return ExitCode::FAILURE;
    }
    let modes = match modes() {
        Ok(modes) => modes,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let threads = match std::env::var("REVM_JIT_STATETEST_THREADS") {
        Ok(n) => match n.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("error: REVM_JIT_STATETEST_THREADS must be a positive number, not `{n}`");
                return ExitCode::FAILURE;
            }
        },
        Err(_) => 2,
    };

    let mut closing = Vec::new();
    let (mut passed, mut failed) = (0, 0);
    let mut nothing_ran = false;
    for mode in modes {
        // Trace equality (inspected interpreted vs inspected native) is checked in `jit` mode,
        // where every contract is compiled; `REVM_JIT_STATETEST_TRACES=0` turns it off.
        let check_traces = mode == Mode::Jit && std::env::var("REVM_JIT_STATETEST_TRACES").map_or(true, |v| v != "0");
        let options = RunOptions { mode, threads, filter: filter.clone(), check_traces, store: None, opt_level: None };
        let report = run(std::slice::from_ref(&suite), &options, &mut Console::new(format!("{mode}: ")));
        let mut out = std::io::stdout().lock();
        if report.write_summary(&mut out).is_err() {
            return ExitCode::FAILURE;
        }
        let _ = writeln!(out);
        let totals = report.totals();
        passed += totals.passed;
        failed += totals.failed;
        if totals.passed + totals.failed == 0 {
            eprintln!("error: {mode}: no case was executed (filter: {filter:?})");
            nothing_ran = true;
        }
        if matches!(mode, Mode::Jit | Mode::Runtime | Mode::Aot) && report.frames.interpreted > 0 {
            // `jit`, `aot` and `runtime` (threshold 0, waiting for the compiler) run every frame natively.
            eprintln!("error: {mode}: {} frames ran in the interpreter", report.frames.interpreted);
            failed += 1;
        }
        closing.push(format!("{mode}: {}", report.closing_line()));
    }
    for line in &closing {
        println!("{line}");
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 && !nothing_ran { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
