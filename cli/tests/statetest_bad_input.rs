//! Bad state-test input: malformed, truncated or incomplete files and non-hex strings
//! must give typed errors naming the file (and the field), be counted as failures, and
//! not stop the other files of the run.
//!
//! The good fixture is ethereum/tests' `stExample/add11.json`, read from the suite
//! (`$REVM_JIT_STATETESTS`, else `shared/ethereum-tests/GeneralStateTests` beside the repository) and copied
//! to a temporary directory with the broken variants next to it.

use revm_jit_cli::{
    exec::Mode,
    fixture::{FixtureError, FixtureFile, Rejection},
    statetest::{Failure, Quiet, Rejected, Report, RunOptions, Status, run},
};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const CONTRACT: &str = "0x095e7baea6a6c7c4c2dfeb977efac326af552d87";

/// The text of `stExample/add11.json` from the suite.
fn add11() -> String {
    let suite = std::env::var_os("REVM_JIT_STATETESTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/ethereum-tests/GeneralStateTests"));
    let path = suite.join("stExample/add11.json");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}): set REVM_JIT_STATETESTS to a checkout of ethereum/tests' \
             GeneralStateTests",
            path.display()
        )
    })
}

/// add11 with `edit` applied, written to `dir/name`.
fn write_edited(dir: &Path, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut value: Value = serde_json::from_str(&add11()).expect("add11.json is JSON");
    edit(&mut value["add11"]);
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
    path
}

fn write_text(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn run_quiet(paths: &[PathBuf]) -> Report {
    run(paths, &RunOptions::new(Mode::Interp), &mut Quiet)
}

/// The one case of a run over a single file.
fn only_case(report: &Report) -> &Status {
    assert_eq!(report.cases.len(), 1, "{:#?}", report.cases);
    &report.cases[0].status
}

#[test]
fn malformed_json_is_a_syntax_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = write_text(dir.path(), "malformed.json", "{\n  \"add11\": {\n    \"env\": [1, }\n}\n");
    let error = FixtureFile::load(&path).unwrap_err();
    assert!(matches!(error, FixtureError::Syntax { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("`add11/env/1`"), "{message}");
    assert!(message.contains("line 3"), "{message}");
}

#[test]
fn truncated_file_is_a_syntax_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let text = add11();
    let path = write_text(dir.path(), "truncated.json", &text[..text.len() / 2]);
    let error = FixtureFile::load(&path).unwrap_err();
    let FixtureError::Syntax { source, .. } = &error else {
        panic!("expected a syntax error, got {error:?}");
    };
    assert!(source.is_eof(), "{source}");
    assert!(error.to_string().contains(&path.display().to_string()), "{error}");
}

#[test]
fn missing_field_names_the_object_lacking_it() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = write_edited(dir.path(), "missing.json", |t| {
        t["pre"][CONTRACT].as_object_mut().unwrap().remove("nonce");
    });
    let error = FixtureFile::load(&path).unwrap_err();
    let FixtureError::MissingField { field, .. } = &error else {
        panic!("expected a missing field, got {error:?}");
    };
    assert_eq!(field.0, vec!["add11", "pre", CONTRACT, "nonce"]);
    let message = error.to_string();
    assert!(message.contains(&format!("missing field `add11/pre/{CONTRACT}/nonce`")), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");

    let path = write_edited(dir.path(), "missing_env.json", |t| {
        t.as_object_mut().unwrap().remove("env");
    });
    let error = FixtureFile::load(&path).unwrap_err();
    assert!(matches!(&error, FixtureError::MissingField { field, .. } if field.0 == ["add11", "env"]), "{error:?}");
    assert!(error.to_string().contains("missing field `add11/env`"), "{error}");

    // Inside the transaction, which is read through a JSON value first, too.
    let path = write_edited(dir.path(), "missing_gas.json", |t| {
        t["transaction"].as_object_mut().unwrap().remove("gasLimit");
    });
    let error = FixtureFile::load(&path).unwrap_err();
    assert!(
        matches!(&error, FixtureError::MissingField { field, .. } if field.0 == ["add11", "transaction", "gasLimit"]),
        "{error:?}"
    );
}

#[test]
fn non_hex_string_names_the_field() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = write_edited(dir.path(), "code.json", |t| {
        t["pre"][CONTRACT]["code"] = json!("0x60zz");
    });
    let error = FixtureFile::load(&path).unwrap_err();
    let FixtureError::InvalidValue { field, .. } = &error else {
        panic!("expected an invalid value, got {error:?}");
    };
    assert_eq!(field.0, vec!["add11", "pre", CONTRACT, "code"]);
    assert!(error.to_string().contains(&path.display().to_string()), "{error}");

    // The transaction is read through a JSON value; its fields are named too.
    let path = write_edited(dir.path(), "data.json", |t| {
        t["transaction"]["data"][0] = json!("0xnothex");
    });
    let error = FixtureFile::load(&path).unwrap_err();
    let FixtureError::InvalidValue { field, .. } = &error else {
        panic!("expected an invalid value, got {error:?}");
    };
    assert_eq!(field.0, vec!["add11", "transaction", "data", "0"]);
    assert!(error.to_string().contains("data.json"), "{error}");
}

#[test]
fn unreadable_file_is_an_io_error() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("absent.json");
    let error = FixtureFile::load(&path).unwrap_err();
    assert!(matches!(error, FixtureError::Io { .. }), "{error:?}");
    assert_eq!(error.path(), path);

    let report = run_quiet(std::slice::from_ref(&path));
    assert!(matches!(only_case(&report), Status::Failed(Failure::Load(FixtureError::Io { .. }))), "{:?}", report.cases);
}

#[test]
fn index_out_of_range_fails_the_case_with_the_field() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = write_edited(dir.path(), "index.json", |t| {
        t["post"]["Cancun"][0]["indexes"]["value"] = json!(3);
    });
    let report = run_quiet(std::slice::from_ref(&path));
    let Status::Failed(Failure::Fixture(error)) = only_case(&report) else {
        panic!("expected a fixture error, got {:?}", report.cases);
    };
    assert!(matches!(**error, FixtureError::IndexOutOfRange { value: 3, len: 1, .. }));
    let message = error.to_string();
    assert!(message.contains("add11/post/Cancun/0/indexes/value"), "{message}");
    assert!(message.contains("index.json"), "{message}");
}

#[test]
fn unknown_fork_is_skipped_by_name() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = write_edited(dir.path(), "fork.json", |t| {
        let cancun = t["post"]["Cancun"].clone();
        t["post"]["Futureland"] = cancun.clone();
        t["post"]["Constantinople"] = cancun;
    });
    let report = run_quiet(std::slice::from_ref(&path));
    let totals = report.totals();
    assert_eq!((totals.passed, totals.failed, totals.skipped), (1, 0, 2));
    let reasons = report.skip_reasons();
    assert!(reasons.iter().any(|(r, n)| r == "unknown fork name `Futureland`" && *n == 1), "{reasons:?}");
    assert!(reasons.iter().any(|(r, _)| r.starts_with("fork Constantinople")), "{reasons:?}");
}

#[test]
fn oversized_bigint_value_rejects_the_transaction() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = write_edited(dir.path(), "bigint.json", |t| {
        t["transaction"]["value"][0] = json!(format!("0x:bigint 0x1{}", "0".repeat(64)));
    });
    let report = run_quiet(std::slice::from_ref(&path));
    // add11 expects the transaction to run, so the rejection is an unexpected exception.
    let Status::Failed(Failure::UnexpectedException { got }) = only_case(&report) else {
        panic!("expected an unexpected exception, got {:?}", report.cases);
    };
    assert!(matches!(got, Rejected::Fixture(Rejection::Oversized(_))), "{got:?}");
    assert!(got.to_string().contains("transaction.value[0] does not fit in 256 bits"), "{got}");
}

#[test]
fn bad_files_are_counted_and_good_files_still_pass() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let text = add11();
    write_text(dir.path(), "a_good.json", &text);
    write_text(dir.path(), "b_truncated.json", &text[..text.len() - 40]);
    write_text(dir.path(), "c_malformed.json", "{ not json");
    write_edited(dir.path(), "d_nonhex.json", |t| {
        t["env"]["currentCoinbase"] = json!("0xnotanaddress");
    });
    write_edited(dir.path(), "e_missing.json", |t| {
        t.as_object_mut().unwrap().remove("transaction");
    });
    write_text(dir.path(), "f_not_a_fixture.txt", "ignored: not .json");
    let sub = dir.path().join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    write_text(&sub, "good_again.json", &text);

    let report = run_quiet(&[dir.path().to_path_buf()]);
    let totals = report.totals();
    assert_eq!((totals.passed, totals.failed, totals.skipped), (2, 4, 0), "{:#?}", report.cases);
    assert!(report.closing_line() == "2 passed, 4 failed, 0 skipped");

    let failed: Vec<String> = report
        .failures()
        .map(|(case, failure)| {
            assert!(matches!(failure, Failure::Load(_)), "{failure:?}");
            assert!(failure.to_string().contains(&case.file.display().to_string()));
            case.file.file_name().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    assert_eq!(failed, ["b_truncated.json", "c_malformed.json", "d_nonhex.json", "e_missing.json"]);

    // The summary lists each failing file with its reason, and ends with the closing line.
    let mut summary = Vec::new();
    report.write_summary(&mut summary).unwrap();
    let summary = String::from_utf8(summary).unwrap();
    assert!(summary.contains("field `add11/env/currentCoinbase`"), "{summary}");
    assert!(summary.ends_with("2 passed, 4 failed, 0 skipped\n"), "{summary}");

    // The JSON report has every case.
    let mut json = Vec::new();
    report.write_json(&mut json).unwrap();
    let json: Value = serde_json::from_slice(&json).unwrap();
    let cases = json["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    assert_eq!(cases[0]["status"], "passed");
    assert_eq!(cases[0]["test"], "add11");
    assert_eq!(cases[0]["fork"], "Cancun");
    assert_eq!(cases[0]["index"], 0);
    assert_eq!(cases[1]["status"], "failed");
    assert!(cases[1]["reason"].as_str().unwrap().contains("b_truncated.json"));
}

#[test]
fn empty_directory_is_a_failure() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let report = run_quiet(&[dir.path().to_path_buf()]);
    assert!(matches!(only_case(&report), Status::Failed(Failure::NoFiles { .. })), "{:?}", report.cases);
}

#[test]
fn wrong_expectations_are_reported_with_expected_and_got() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let wrong = format!("0x{}", "11".repeat(32));

    let path = write_edited(dir.path(), "root.json", |t| {
        t["post"]["Cancun"][0]["hash"] = json!(wrong);
    });
    let report = run_quiet(std::slice::from_ref(&path));
    let Status::Failed(failure @ Failure::StateRoot { expected, got }) = only_case(&report) else {
        panic!("expected a state root failure, got {:?}", report.cases);
    };
    assert_eq!(expected.to_string(), wrong);
    let message = failure.to_string();
    assert!(message.contains("wrong state root") && message.contains(&got.to_string()), "{message}");

    let path = write_edited(dir.path(), "logs.json", |t| {
        t["post"]["Cancun"][0]["logs"] = json!(wrong);
    });
    let report = run_quiet(std::slice::from_ref(&path));
    assert!(matches!(only_case(&report), Status::Failed(Failure::LogsHash { .. })), "{:?}", report.cases);

    let path = write_edited(dir.path(), "exception.json", |t| {
        t["post"]["Cancun"][0]["expectException"] = json!("TransactionException.INTRINSIC_GAS_TOO_LOW");
    });
    let report = run_quiet(std::slice::from_ref(&path));
    assert!(matches!(only_case(&report), Status::Failed(Failure::ExceptionNotRaised { .. })), "{:?}", report.cases);

    // Too little gas: revm rejects the transaction, which add11 does not expect.
    let path = write_edited(dir.path(), "rejected.json", |t| {
        t["transaction"]["gasLimit"][0] = json!("0x5000");
    });
    let report = run_quiet(std::slice::from_ref(&path));
    let Status::Failed(Failure::UnexpectedException { got }) = only_case(&report) else {
        panic!("expected an unexpected exception, got {:?}", report.cases);
    };
    assert!(matches!(got, Rejected::Evm(_)), "{got:?}");
    assert!(got.to_string().contains("gas"), "{got}");
}

#[test]
fn a_test_without_post_fails_naming_the_field() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = write_edited(dir.path(), "no_post.json", |t| {
        t.as_object_mut().unwrap().remove("post");
    });
    // It loads (a bench fixture has no `post`) ...
    let file = FixtureFile::load(&path).expect("loads");
    assert!(file.tests[0].post.is_none());
    // ... but a state-test run has nothing to judge it by.
    let report = run_quiet(std::slice::from_ref(&path));
    let Status::Failed(Failure::Fixture(error)) = only_case(&report) else {
        panic!("expected a fixture error, got {:?}", report.cases);
    };
    assert!(matches!(&**error, FixtureError::MissingField { field, .. } if field.0 == ["add11", "post"]), "{error:?}");
}

#[test]
fn unsigned_transaction_is_rejected_even_with_a_sender() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = write_edited(dir.path(), "unsigned.json", |t| {
        let tx = t["transaction"].as_object_mut().unwrap();
        tx.remove("secretKey");
        tx.insert("sender".into(), json!("0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b"));
    });
    let report = run_quiet(std::slice::from_ref(&path));
    let Status::Failed(Failure::UnexpectedException { got }) = only_case(&report) else {
        panic!("expected an unexpected exception, got {:?}", report.cases);
    };
    assert!(matches!(got, Rejected::Fixture(Rejection::Unsigned)), "{got:?}");
}

#[test]
fn a_state_test_loads_as_a_bench_case_under_its_newest_fork() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = write_text(dir.path(), "add11.json", &add11());
    let cases = revm_jit_cli::fixture::load_file(&path, None).expect("add11 loads as a bench case");
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].name, "add11");
    assert_eq!(cases[0].spec, revm::primitives::hardfork::SpecId::CANCUN);
    let to: revm::primitives::Address = CONTRACT.parse().unwrap();
    assert_eq!(cases[0].tx.kind, revm::primitives::TxKind::Call(to));
}
