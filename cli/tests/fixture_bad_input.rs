//! Malformed bench fixtures produce typed errors naming the file and the field, and the
//! bench keeps going with the other fixtures, counting the failures. Bench fixtures go
//! through the state tests' loader, so what loads here loads there and vice versa.

use revm::primitives::hardfork::SpecId;
use revm_jit_cli::{
    bench::BenchError,
    cmd::bench::{BenchArgs, execute},
    exec::{Executor, Mode},
    fixture::{DEFAULT_SPEC, FixtureError, Rejection, load_file},
};
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write fixture");
    path
}

/// A valid fixture in the shape of the shared bench fixtures: a contract that returns
/// CALLVALUE + 1 (`PUSH1 1 CALLVALUE ADD PUSH0 MSTORE PUSH1 32 PUSH0 RETURN`).
const GOOD: &str = r#"{
  "good": {
    "env": {
      "currentBaseFee": "0x0",
      "currentCoinbase": "0x0000000000000000000000000000000000000000",
      "currentGasLimit": "0x7fffffffffffffff",
      "currentNumber": "0x1",
      "currentTimestamp": "0x1"
    },
    "pre": {
      "0x1111111111111111111111111111111111111111": {
        "balance": "0xffffffffffffffffffff", "code": "0x", "nonce": "0x0", "storage": {}
      },
      "0xcccccccccccccccccccccccccccccccccccccccc": {
        "balance": "0x0",
        "code": "0x600134015f5260205ff3",
        "nonce": "0x1",
        "storage": { "0x01": "0x02" }
      }
    },
    "transaction": [
      {
        "data": ["0x"],
        "gasLimit": ["0x100000"],
        "gasPrice": "0x0",
        "nonce": "0x0",
        "sender": "0x1111111111111111111111111111111111111111",
        "to": "0xcccccccccccccccccccccccccccccccccccccccc",
        "value": ["0x5"]
      }
    ]
  }
}"#;

/// `GOOD` with one substring replaced (must occur exactly once).
fn good_with(from: &str, to: &str) -> String {
    assert_eq!(GOOD.matches(from).count(), 1, "{from:?} must occur once in GOOD");
    GOOD.replacen(from, to, 1)
}

fn load_err(test: &str, text: &str) -> (PathBuf, FixtureError) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = write(dir.path(), "fixture.json", text);
    match load_file(&file, None) {
        Ok(cases) => panic!("{test}: expected an error, loaded {} case(s)", cases.len()),
        Err(e) => (file, e),
    }
}

/// The error's message names the file and (when given) the field, as a `/`-separated path.
fn assert_names(e: &FixtureError, file: &Path, field: Option<&str>) {
    let msg = e.to_string();
    assert!(msg.contains(&file.display().to_string()), "no file in: {msg}");
    if let Some(field) = field {
        assert!(msg.contains(&format!("`{field}`")), "no field `{field}` in: {msg}");
    }
}

/// The field path of an error that has one.
fn field_of(e: &FixtureError) -> Option<String> {
    match e {
        FixtureError::Syntax { field, .. }
        | FixtureError::MissingField { field, .. }
        | FixtureError::InvalidValue { field, .. }
        | FixtureError::UnknownFork { field, .. } => Some(field.0.join("/")),
        _ => None,
    }
}

#[test]
fn good_fixture_loads_and_runs() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = write(dir.path(), "good.json", GOOD);
    let cases = load_file(&file, None).expect("GOOD loads");
    assert_eq!(cases.len(), 1);
    let case = &cases[0];
    assert_eq!(case.name, "good");
    assert_eq!(case.spec, DEFAULT_SPEC);
    assert_eq!(case.tx.gas_limit, 0x100000);
    let mut executor = Executor::new(Mode::Interp);
    let result = executor.transact(case.context(), case.tx()).expect("runs");
    assert!(result.result.is_success(), "{:?}", result.result);
    let output = result.result.output().expect("output").clone();
    assert_eq!(output.len(), 32);
    assert_eq!(output[31], 6, "CALLVALUE (5) + 1");
}

#[test]
fn single_values_and_lists_load_alike() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let lists = load_file(&write(dir.path(), "lists.json", GOOD), None).expect("GOOD loads");
    let scalars = good_with(r#""data": ["0x"]"#, r#""data": "0x""#)
        .replace(r#""gasLimit": ["0x100000"]"#, r#""gasLimit": "0x100000""#)
        .replace(r#""value": ["0x5"]"#, r#""value": "0x5""#);
    let scalars = load_file(&write(dir.path(), "scalars.json", &scalars), None).expect("scalars load");
    assert_eq!(lists[0].tx, scalars[0].tx);
    // The state-test shape (an object, not a list of one) gives the same transaction too.
    let mut v: serde_json::Value = serde_json::from_str(GOOD).unwrap();
    v["good"]["transaction"] = v["good"]["transaction"][0].clone();
    let object = load_file(&write(dir.path(), "object.json", &v.to_string()), None).expect("object loads");
    assert_eq!(lists[0].tx, object[0].tx);
}

#[test]
fn not_json() {
    let (file, e) = load_err("not_json", "{ this is not json");
    assert!(matches!(e, FixtureError::Syntax { .. }), "{e:?}");
    assert_names(&e, &file, None);
}

#[test]
fn missing_top_level_fields() {
    for field in ["pre", "transaction", "env"] {
        let text = {
            let mut v: serde_json::Value = serde_json::from_str(GOOD).unwrap();
            v["good"].as_object_mut().unwrap().remove(field);
            v.to_string()
        };
        let (file, e) = load_err(&format!("missing_{field}"), &text);
        let expected = format!("good/{field}");
        assert!(matches!(&e, FixtureError::MissingField { .. }), "{e:?}");
        assert_eq!(field_of(&e).as_deref(), Some(expected.as_str()));
        assert_names(&e, &file, Some(&expected));
    }
}

#[test]
fn missing_sender_and_secret_key() {
    let (file, e) =
        load_err("missing_sender", &good_with(r#""sender": "0x1111111111111111111111111111111111111111","#, ""));
    assert!(matches!(e, FixtureError::MissingField { .. }), "{e:?}");
    assert_names(&e, &file, Some("good/transaction/sender"));
}

#[test]
fn non_hex_strings() {
    let cases = [
        ("gas_limit", r#""gasLimit": ["0x100000"]"#, r#""gasLimit": ["lots"]"#, "good/transaction/0/gasLimit/0"),
        ("data", r#""data": ["0x"]"#, r#""data": ["0xzz"]"#, "good/transaction/0/data/0"),
        ("odd_data", r#""data": ["0x"]"#, r#""data": ["0xabc"]"#, "good/transaction/0/data/0"),
        // A single value is named as written, without a list index.
        ("scalar_value", r#""value": ["0x5"]"#, r#""value": "0xfive""#, "good/transaction/0/value"),
        (
            "code",
            r#""code": "0x600134015f5260205ff3""#,
            r#""code": "0x60zz""#,
            "good/pre/0xcccccccccccccccccccccccccccccccccccccccc/code",
        ),
        (
            "storage",
            r#""0x01": "0x02""#,
            r#""0x01": "two""#,
            "good/pre/0xcccccccccccccccccccccccccccccccccccccccc/storage/0x01",
        ),
        ("number", r#""currentNumber": "0x1""#, r#""currentNumber": "1x""#, "good/env/currentNumber"),
    ];
    for (test, from, to, field) in cases {
        let (file, e) = load_err(&format!("non_hex_{test}"), &good_with(from, to));
        assert!(matches!(e, FixtureError::InvalidValue { .. }), "{test}: {e:?}");
        assert_eq!(field_of(&e).as_deref(), Some(field), "{test}: {e}");
        assert_names(&e, &file, Some(field));
    }
    // A bad address as a key of `pre`.
    let (file, e) =
        load_err("address", &good_with(r#""0xcccccccccccccccccccccccccccccccccccccccc": {"#, r#""0xcccc": {"#));
    assert!(matches!(e, FixtureError::InvalidValue { .. }), "{e:?}");
    assert!(field_of(&e).is_some_and(|f| f.starts_with("good/pre")), "{e}");
    assert_names(&e, &file, None);
}

#[test]
fn wrong_types() {
    let (file, e) = load_err("pre_list", &good_with(r#""pre": {"#, r#""pre": [], "unused": {"#));
    assert!(matches!(e, FixtureError::InvalidValue { .. }), "{e:?}");
    assert_names(&e, &file, Some("good/pre"));

    let (file, e) = load_err("gas_object", &good_with(r#""gasLimit": ["0x100000"]"#, r#""gasLimit": [{"a": 1}]"#));
    assert!(matches!(e, FixtureError::InvalidValue { .. }), "{e:?}");
    assert_names(&e, &file, Some("good/transaction/0/gasLimit/0"));
}

#[test]
fn transaction_lists_must_hold_exactly_one() {
    for len in [0, 2] {
        let (file, e) = load_err("tx_count", &{
            let mut v: serde_json::Value = serde_json::from_str(GOOD).unwrap();
            let tx = v["good"]["transaction"][0].clone();
            v["good"]["transaction"] = serde_json::Value::Array(vec![tx; len]);
            v.to_string()
        });
        assert!(matches!(e, FixtureError::TransactionCount { len: l, .. } if l == len), "{e:?}");
        assert_names(&e, &file, Some("good/transaction"));
    }
}

#[test]
fn empty_file_object() {
    let (file, e) = load_err("empty", "{}");
    assert!(matches!(e, FixtureError::NoTests { .. }), "{e:?}");
    assert_names(&e, &file, None);
}

#[test]
fn unknown_fork_in_config() {
    let mut v: serde_json::Value = serde_json::from_str(GOOD).unwrap();
    v["good"]["config"] = serde_json::json!({ "network": "Atlantis" });
    let (file, e) = load_err("spec", &v.to_string());
    assert!(matches!(&e, FixtureError::UnknownFork { name, .. } if name == "Atlantis"), "{e:?}");
    assert_names(&e, &file, Some("good/config/network"));
}

#[test]
fn known_fork_and_chain_in_config() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut v: serde_json::Value = serde_json::from_str(GOOD).unwrap();
    v["good"]["config"] = serde_json::json!({ "network": "Shanghai", "chainid": "0x5" });
    let cases = load_file(&write(dir.path(), "config.json", &v.to_string()), None).expect("loads");
    assert_eq!(cases[0].spec, SpecId::SHANGHAI);
    assert_eq!(cases[0].chain_id, 5);
    assert_eq!(cases[0].tx.chain_id, Some(5));
    // The command line's fork wins.
    let cases = load_file(&dir.path().join("config.json"), Some(SpecId::PRAGUE)).expect("loads");
    assert_eq!(cases[0].spec, SpecId::PRAGUE);
}

/// Bench fixtures and state tests are read by the same loader, so a bench fixture may carry
/// an EIP-7702 authorization list as a state test does (the bench's own loader used to refuse
/// it while the state-test runner read it).
#[test]
fn authorization_list_loads_as_in_state_tests() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut v: serde_json::Value = serde_json::from_str(GOOD).unwrap();
    v["good"]["config"] = serde_json::json!({ "network": "Prague" });
    let tx = &mut v["good"]["transaction"][0];
    tx["maxFeePerGas"] = serde_json::json!("0x0");
    tx["maxPriorityFeePerGas"] = serde_json::json!("0x0");
    tx.as_object_mut().unwrap().remove("gasPrice");
    tx["authorizationList"] = serde_json::json!([{
        "chainId": "0x00",
        "address": "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b",
        "nonce": "0x00",
        "v": "0x01",
        "r": "0x5a8cac98fd240d8ef83c22db4a061ffa0facb1801245283cc05fc809d8b92837",
        "s": "0x1c3162fe11d91bc24d4fa00fb19ca34531e0eacdf8142c804be44058d5b8244f",
        "signer": "0x6389e7f33ce3b1e94e4325ef02829cd12297ef71"
    }]);
    let cases = load_file(&write(dir.path(), "auth.json", &v.to_string()), None).expect("loads");
    let case = &cases[0];
    assert_eq!(case.spec, SpecId::PRAGUE);
    assert_eq!(case.tx.tx_type, 4);
    assert_eq!(case.tx.authorization_list.len(), 1);
    let mut executor = Executor::new(Mode::Interp);
    let result = executor.transact(case.context(), case.tx()).expect("runs");
    assert!(result.result.is_success(), "{:?}", result.result);
}

#[test]
fn too_wide_field_is_an_invalid_transaction() {
    let (file, e) =
        load_err("wide_gas", &good_with(r#""gasLimit": ["0x100000"]"#, r#""gasLimit": ["0x10000000000000000"]"#));
    assert!(
        matches!(&e, FixtureError::InvalidTransaction { reason: Rejection::TooWide { bits: 64, .. }, .. }),
        "{e:?}"
    );
    assert_names(&e, &file, None);
}

#[test]
fn bench_counts_bad_fixtures_and_runs_the_rest() {
    let dir = tempfile::tempdir().expect("temporary directory");
    write(dir.path(), "a_good.json", GOOD);
    write(dir.path(), "b_not_json.json", "[1, 2");
    write(dir.path(), "c_no_pre.json", &{
        let mut v: serde_json::Value = serde_json::from_str(GOOD).unwrap();
        v["good"].as_object_mut().unwrap().remove("pre");
        v.to_string()
    });
    write(dir.path(), "d_bad_hex.json", &good_with(r#""value": ["0x5"]"#, r#""value": ["0xfive"]"#));
    write(dir.path(), "ignored.txt", "not a fixture");

    let args = BenchArgs {
        modes: vec![Mode::Interp],
        fixtures: Some(dir.path().to_path_buf()),
        filter: None,
        json: None,
        plot: None,
        spec: None,
        time_ms: 0,
        min_runs: 1,
        max_runs: 2,
        warmup: 0,
        store: None,
        #[cfg(feature = "llvm")]
        opt_level: None,
        reuse_evm: false,
    };
    let summary = execute(&args).expect("directory is readable");
    let names: Vec<&str> = summary.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["good"]);
    let failed: Vec<&str> = summary.failures.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(failed, ["b_not_json", "c_no_pre", "d_bad_hex"]);
    for (_, e) in &summary.failures {
        assert!(matches!(e, BenchError::Fixture(_)), "{e:?}");
    }

    // A missing directory is an error naming it.
    let missing = dir.path().join("nope");
    let e = execute(&BenchArgs { fixtures: Some(missing.clone()), ..args }).unwrap_err();
    assert!(e.to_string().contains(&missing.display().to_string()), "{e}");
}
