//! Directories of fixtures are searched recursively, the same way by every command that takes
//! one (`statetest`, `bench --fixtures`, `compile`): the files of a directory first, sorted,
//! then each subdirectory's, in sorted order.

use revm_jit_cli::{
    cmd::bench::{BenchArgs, execute},
    exec::Mode,
    fixture::{files_under, fixture_files},
};
use std::path::{Path, PathBuf};

/// A bench fixture with one test, `name`, calling a contract that returns CALLVALUE + `n`.
fn fixture(name: &str, n: u8) -> String {
    format!(
        r#"{{
  "{name}": {{
    "env": {{
      "currentBaseFee": "0x0",
      "currentCoinbase": "0x0000000000000000000000000000000000000000",
      "currentGasLimit": "0x7fffffffffffffff",
      "currentNumber": "0x1",
      "currentTimestamp": "0x1"
    }},
    "pre": {{
      "0x1111111111111111111111111111111111111111": {{
        "balance": "0xffffffffffffffffffff", "code": "0x", "nonce": "0x0", "storage": {{}}
      }},
      "0xcccccccccccccccccccccccccccccccccccccccc": {{
        "balance": "0x0", "code": "0x60{n:02x}34015f5260205ff3", "nonce": "0x1", "storage": {{}}
      }}
    }},
    "transaction": [
      {{
        "data": ["0x"],
        "gasLimit": ["0x100000"],
        "gasPrice": "0x0",
        "nonce": "0x0",
        "sender": "0x1111111111111111111111111111111111111111",
        "to": "0xcccccccccccccccccccccccccccccccccccccccc",
        "value": ["0x5"]
      }}
    ]
  }}
}}"#
    )
}

/// A tree of five fixtures (tests `a` to `e`, contracts 1 to 5) three levels deep, a file
/// that is not JSON, and an empty directory.
fn tree() -> (tempfile::TempDir, PathBuf) {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().join("fixtures");
    let files = [("b.json", "b"), ("a.json", "a"), ("sub/c.json", "c"), ("sub/deeper/d.json", "d"), ("zz/e.json", "e")];
    for (n, (path, name)) in files.iter().enumerate() {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, fixture(name, n as u8 + 1)).unwrap();
    }
    std::fs::write(root.join("sub/notes.txt"), "not a fixture").unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    (scratch, root)
}

fn relative(root: &Path, files: &[PathBuf]) -> Vec<String> {
    files.iter().map(|f| f.strip_prefix(root).unwrap().display().to_string()).collect()
}

#[test]
fn files_of_a_directory_come_before_its_subdirectories() {
    let (_scratch, root) = tree();
    let files = fixture_files(&root).unwrap();
    assert_eq!(relative(&root, &files), ["a.json", "b.json", "sub/c.json", "sub/deeper/d.json", "zz/e.json"]);
    // A file named on the command line is taken as it is.
    assert_eq!(files_under(&root.join("sub/c.json")).unwrap(), [root.join("sub/c.json")]);
    assert_eq!(files_under(&root).unwrap(), files);
    assert!(fixture_files(&root.join("missing")).is_err());
    let missing = files_under(&root.join("missing")).unwrap_err();
    assert!(missing.to_string().contains("missing"), "{missing}");
}

fn bench_args(fixtures: PathBuf) -> BenchArgs {
    BenchArgs {
        modes: vec![Mode::Interp],
        fixtures: Some(fixtures),
        filter: None,
        json: None,
        plot: None,
        spec: None,
        time_ms: 0,
        min_runs: 1,
        max_runs: 1,
        warmup: 0,
        store: None,
        #[cfg(feature = "llvm")]
        opt_level: None,
        reuse_evm: false,
    }
}

#[test]
fn bench_fixtures_recurses_into_subdirectories() {
    let (_scratch, root) = tree();
    let summary = execute(&bench_args(root.clone())).unwrap();
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    let names: Vec<&str> = summary.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c", "d", "e"]);
    let one = execute(&bench_args(root.join("sub/deeper/d.json"))).unwrap();
    assert_eq!(one.rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["d"]);
}

#[test]
#[cfg(feature = "llvm")]
fn compile_recurses_into_subdirectories() {
    let (_scratch, root) = tree();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_revm-jit"))
        .args(["compile", "--json", "-"])
        .arg(&root)
        .output()
        .expect("run revm-jit compile");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("compile --json - prints JSON alone");
    // Five distinct contracts, one per fixture, the deepest included (the caller has no code).
    assert_eq!(report["compiled"], 5, "{report:#}");
    assert_eq!(report["contracts"].as_array().unwrap().len(), 5);
}

/// `compile` reads contracts from pre-states alone: a test whose transaction could not run (no
/// sender, as a state test with a bad signature has) still gives its contract, compiled for
/// the fork its `post` names.
#[test]
#[cfg(feature = "llvm")]
fn compile_takes_contracts_of_tests_whose_transaction_is_invalid() {
    let scratch = tempfile::tempdir().unwrap();
    let unsigned = fixture("unsigned", 7).replace(r#""sender": "0x1111111111111111111111111111111111111111","#, "");
    let with_post = unsigned.replacen(r#""transaction""#, r#""post": {"Shanghai": []}, "transaction""#, 1);
    assert_ne!(with_post, fixture("unsigned", 7), "the fixture was edited");
    let path = scratch.path().join("unsigned.json");
    std::fs::write(&path, with_post).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_revm-jit"))
        .args(["compile", "--json", "-"])
        .arg(&path)
        .output()
        .expect("run revm-jit compile");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(report["compiled"], 1, "{report:#}");
    assert_eq!(report["contracts"][0]["spec"], "SHANGHAI", "{report:#}");
}
