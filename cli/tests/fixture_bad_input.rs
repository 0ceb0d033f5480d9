//! Malformed bench fixtures produce typed errors naming the file and the field, and the
//! bench keeps going with the other fixtures, counting the failures.

use revm_jit_cli::{
    bench::BenchError,
    cmd::bench::{BenchArgs, execute},
    exec::{Executor, Mode},
    fixture::{FixtureError, load_file},
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

/// The error's message names the file and (when given) the field.
fn assert_names(e: &FixtureError, file: &Path, field: Option<&str>) {
    let msg = e.to_string();
    assert!(msg.contains(&file.display().to_string()), "no file in: {msg}");
    if let Some(field) = field {
        assert!(msg.contains(&format!("`{field}`")), "no field `{field}` in: {msg}");
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
    assert_eq!(case.tx.gas_limit, 0x100000);
    let mut executor = Executor::new(Mode::Interp);
    let result = executor.transact(case.context(), case.tx()).expect("runs");
    assert!(result.result.is_success(), "{:?}", result.result);
    let output = result.result.output().expect("output").clone();
    assert_eq!(output.len(), 32);
    assert_eq!(output[31], 6, "CALLVALUE (5) + 1");
}

#[test]
fn not_json() {
    let (file, e) = load_err("not_json", "{ this is not json");
    assert!(matches!(e, FixtureError::Json { .. }), "{e:?}");
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
        let expected = format!("good.{field}");
        assert!(matches!(&e, FixtureError::MissingField { field: f, .. } if *f == expected), "{e:?}");
        assert_names(&e, &file, Some(&expected));
    }
}

#[test]
fn missing_transaction_field() {
    let (file, e) =
        load_err("missing_sender", &good_with(r#""sender": "0x1111111111111111111111111111111111111111","#, ""));
    assert!(matches!(e, FixtureError::MissingField { .. }), "{e:?}");
    assert_names(&e, &file, Some("good.transaction[0].sender"));
}

#[test]
fn non_hex_strings() {
    let cases = [
        ("gas_limit", r#""gasLimit": ["0x100000"]"#, r#""gasLimit": ["lots"]"#, "good.transaction[0].gasLimit[0]"),
        ("data", r#""data": ["0x"]"#, r#""data": ["0xzz"]"#, "good.transaction[0].data[0]"),
        ("odd_data", r#""data": ["0x"]"#, r#""data": ["0xabc"]"#, "good.transaction[0].data[0]"),
        (
            "code",
            r#""code": "0x600134015f5260205ff3""#,
            r#""code": "600134""#,
            "good.pre.0xcccccccccccccccccccccccccccccccccccccccc.code",
        ),
        (
            "storage",
            r#""0x01": "0x02""#,
            r#""0x01": "two""#,
            "good.pre.0xcccccccccccccccccccccccccccccccccccccccc.storage.0x01",
        ),
        ("address", r#""0xcccccccccccccccccccccccccccccccccccccccc": {"#, r#""0xcccc": {"#, "good.pre.0xcccc"),
        ("number", r#""currentNumber": "0x1""#, r#""currentNumber": "1x""#, "good.env.currentNumber"),
    ];
    for (test, from, to, field) in cases {
        let (file, e) = load_err(&format!("non_hex_{test}"), &good_with(from, to));
        assert!(matches!(e, FixtureError::BadValue { .. }), "{test}: {e:?}");
        assert_names(&e, &file, Some(field));
    }
}

#[test]
fn wrong_types() {
    let (file, e) = load_err("pre_list", &good_with(r#""pre": {"#, r#""pre": [], "unused": {"#));
    assert!(matches!(e, FixtureError::WrongType { expected: "an object", .. }), "{e:?}");
    assert_names(&e, &file, Some("good.pre"));

    let (file, e) = load_err("gas_number", &good_with(r#""gasLimit": ["0x100000"]"#, r#""gasLimit": [1048576]"#));
    assert!(matches!(e, FixtureError::WrongType { expected: "a string", .. }), "{e:?}");
    assert_names(&e, &file, Some("good.transaction[0].gasLimit[0]"));

    let (file, e) = load_err("empty_tx_list", &{
        let mut v: serde_json::Value = serde_json::from_str(GOOD).unwrap();
        v["good"]["transaction"] = serde_json::json!([]);
        v.to_string()
    });
    assert!(matches!(e, FixtureError::BadValue { .. }), "{e:?}");
    assert_names(&e, &file, Some("good.transaction"));
}

#[test]
fn empty_file_object() {
    let (file, e) = load_err("empty", "{}");
    assert!(matches!(e, FixtureError::Empty { .. }), "{e:?}");
    assert_names(&e, &file, None);
}

#[test]
fn unknown_spec_in_config() {
    let mut v: serde_json::Value = serde_json::from_str(GOOD).unwrap();
    v["good"]["config"] = serde_json::json!({ "network": "Atlantis" });
    let (file, e) = load_err("spec", &v.to_string());
    assert!(matches!(e, FixtureError::BadValue { .. }), "{e:?}");
    assert_names(&e, &file, Some("good.config.network"));
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
        spec: None,
        time_ms: 0,
        min_runs: 1,
        max_runs: 2,
        warmup: 0,
        store: None,
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
