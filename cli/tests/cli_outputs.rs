//! What `revm-jit run --json`, `bench --json -` and `bench --plot` produce, end to end through
//! the binary: one JSON document alone on stdout with `-`, the chart written where asked.

use serde_json::Value;
use std::process::{Command, Output};

fn revm_jit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_revm-jit")).args(args).output().expect("run revm-jit")
}

fn json_stdout(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{stdout}"))
}

#[test]
fn run_json_gives_the_outcome_and_each_mode() {
    // PUSH1 1 PUSH1 0 SSTORE PUSH1 32 PUSH1 0 RETURN
    let modes = if cfg!(feature = "llvm") { "interp,jit" } else { "interp" };
    let output = revm_jit(&["run", "--code", "600160005560206000f3", "--mode", modes, "--json", "-"]);
    let document = json_stdout(&output);
    let case = &document["cases"][0];
    assert_eq!(case["status"], "success", "{document:#}");
    assert_eq!(case["reason"], "Return");
    assert_eq!(case["output"], format!("0x{}", "00".repeat(32)));
    assert_eq!(case["logs"], 0);
    assert!(case["gas_used"].as_u64().unwrap() > 21_000);
    assert_eq!(case["agree"], true);
    assert!(case["modes"]["interp"]["time_ns"].is_u64());
    assert!(case["modes"]["interp"]["frames"].is_null());
    if cfg!(feature = "llvm") {
        assert_eq!(case["modes"]["jit"]["frames"]["native"], 1, "{document:#}");
        assert_eq!(case["modes"]["jit"]["frames"]["interpreted"], 0);
    }
    // The text went to stderr.
    assert!(String::from_utf8_lossy(&output.stderr).contains("status:    success (Return)"));
}

/// `bench --opt-level LEVEL` compiles `jit` mode's code at that level alone: no tier-up,
/// where the default (the runtime's tiers) compiles a second tier for a contract this size.
#[test]
#[cfg(feature = "llvm")]
fn bench_opt_level_compiles_one_level() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/bench-fixtures/erc20_transfer.json");
    let tier_up_ns = |extra: &[&str]| {
        let args =
            ["bench", "--fixtures", fixture, "--time-ms", "0", "--min-runs", "1", "--warmup", "0", "--json", "-"];
        let document = json_stdout(&revm_jit(&[&args[..], extra].concat()));
        let jit = &document["rows"][0]["jit"];
        assert!(jit["compile_ns"].as_u64().is_some_and(|ns| ns > 0), "{document:#}");
        jit["tier_up_ns"].as_u64().unwrap_or_else(|| panic!("no tier_up_ns: {document:#}"))
    };
    assert!(tier_up_ns(&[]) > 0, "the default compiles the baseline tier, then the optimising one");
    assert_eq!(tier_up_ns(&["--opt-level", "baseline"]), 0);
    assert_eq!(tier_up_ns(&["--opt-level", "default"]), 0);
}

/// `bench --reuse-evm` keeps one EVM per mode across a case's runs, and every run still
/// starts from the pre-state: the counter fixture's SSTORE would cost less from its second
/// run on if a run's writes were kept (the bench then fails on a gas difference), and the
/// outcome is the one a fresh EVM per run gives.
#[test]
#[cfg(feature = "llvm")]
fn bench_reusing_the_evm_runs_each_transaction_from_the_pre_state() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/bench-fixtures/counter.json");
    let run = |extra: &[&str]| {
        let args = [
            "bench",
            "--fixtures",
            fixture,
            "--mode",
            "interp,jit,runtime",
            "--time-ms",
            "0",
            "--min-runs",
            "4",
            "--max-runs",
            "4",
            "--warmup",
            "2",
            "--json",
            "-",
        ];
        json_stdout(&revm_jit(&[&args[..], extra].concat()))
    };
    let (fresh, reused) = (run(&[]), run(&["--reuse-evm"]));
    assert_eq!(fresh["evm"], "per-transaction", "{fresh:#}");
    assert_eq!(reused["evm"], "reused", "{reused:#}");
    let row = &reused["rows"][0];
    assert_eq!(row["status"], "success", "{reused:#}");
    for field in ["gas_used", "output_hash"] {
        assert_eq!(row[field], fresh["rows"][0][field], "{field}: {reused:#}");
    }
    for mode in ["interp", "jit", "runtime"] {
        assert_eq!(row[mode]["runs"], 4, "{mode}: {reused:#}");
    }
}

#[test]
#[cfg(feature = "llvm")]
fn bench_json_to_stdout_and_plot_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("speedup.svg");
    let args = ["bench", "--filter", "fibonacci", "--time-ms", "0", "--min-runs", "1", "--warmup", "0", "--json", "-"];
    let output = revm_jit(&[&args[..], &["--plot", chart.to_str().unwrap()]].concat());
    let document = json_stdout(&output);
    assert_eq!(document["rows"][0]["name"], "fibonacci", "{document:#}");
    assert!(document["rows"][0]["jit"]["speedup"].is_f64());
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert_eq!(svg.matches("class=\"bar\"").count(), 1, "{svg}");
    assert_eq!(svg.matches("class=\"ref\"").count(), 1);
    // The table went to stderr, and no progress bar (stderr is not a terminal).
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("jit speedup"), "{stderr}");
    assert!(!stderr.contains("cases (interp,jit)"), "{stderr}");

    // --plot without a mode to compare with interp is refused before anything runs.
    let refused = revm_jit(&["bench", "--mode", "interp", "--plot", chart.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--plot"));
}

/// `compile --opt-level first-tier` compiles each contract at the level a tiering runtime
/// compiles it first: baseline for a large contract, the optimising level for a small one,
/// and says which in the JSON. A store, which holds one level, refuses it.
#[test]
#[cfg(feature = "llvm")]
fn compile_first_tier_picks_the_level_per_contract() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/bench-fixtures");
    let fiat = format!("{fixtures}/fiat_token.json");
    let counter = format!("{fixtures}/counter.json");
    let levels = |level: &str| {
        let args = ["compile", &fiat, &counter, "--jobs", "1", "--opt-level", level, "--json", "-"];
        let document = json_stdout(&revm_jit(&args));
        let mut contracts: Vec<(u64, String)> = document["contracts"]
            .as_array()
            .unwrap_or_else(|| panic!("no contracts: {document:#}"))
            .iter()
            .map(|c| (c["bytecode_len"].as_u64().unwrap(), c["opt_level"].as_str().unwrap().to_owned()))
            .collect();
        contracts.sort();
        contracts
    };
    let first_tier = levels("first-tier");
    let (smallest, largest) = (&first_tier[0], &first_tier[first_tier.len() - 1]);
    assert!(largest.0 > 20_000, "fiat_token's implementation is the largest: {first_tier:?}");
    assert_eq!(largest.1, "baseline", "{first_tier:?}");
    assert_eq!(smallest.1, "default", "{first_tier:?}");
    assert!(levels("default").iter().all(|(_, level)| level == "default"));
    assert!(levels("baseline").iter().all(|(_, level)| level == "baseline"));

    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let refused = revm_jit(&["compile", &counter, "--opt-level", "first-tier", "--store", store.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("first-tier"));
}

/// `statetest --opt-level LEVEL` runs `jit` mode's code at that level (here `none`, which no
/// other state-test run of CI compiles at) and the cases pass with frames native; it is
/// refused for other modes and for `first-tier`, which names no single level.
#[test]
#[cfg(feature = "llvm")]
fn statetest_opt_level_runs_one_level_in_jit_mode() {
    let file =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/ethereum-tests/GeneralStateTests/stExample/add11.json");
    let document = json_stdout(&revm_jit(&["statetest", "--mode", "jit", "--opt-level", "none", "--json", "-", file]));
    let cases = document["cases"].as_array().unwrap_or_else(|| panic!("no cases: {document:#}"));
    assert!(!cases.is_empty());
    assert!(cases.iter().all(|case| case["status"] == "passed"), "{document:#}");
    assert!(document["frames"]["native"].as_u64().is_some_and(|n| n > 0), "{document:#}");
    assert_eq!(document["frames"]["interpreted"], 0, "{document:#}");

    for (mode, level, message) in [
        ("interp", "none", "--opt-level applies to --mode jit only"),
        ("runtime", "baseline", "--opt-level applies to --mode jit only"),
        ("jit", "first-tier", "--opt-level first-tier is for `compile`"),
    ] {
        let output = revm_jit(&["statetest", "--mode", mode, "--opt-level", level, file]);
        assert!(!output.status.success(), "{mode} {level} was accepted");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(message),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
