//! `revm-jit store list|verify|gc` as an operator runs them: `--json FILE` and `--json -`
//! documents, every refusal listed with its reason, and the exit status of `verify`.

use revm::primitives::{hardfork::SpecId, keccak256};
use revm_jit::{
    abi::entry_symbol,
    store::{ArtifactEntry, ArtifactKey, ArtifactStore, BuildId, DiskStore, test_lib},
};
use serde_json::Value;
use std::{path::Path, process::Command};

fn revm_jit(args: &[&str], dir: &Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_revm-jit")).args(args).arg(dir).output().expect("run revm-jit");
    (output.status.success(), String::from_utf8(output.stdout).expect("UTF-8 output"))
}

fn entry(n: u8) -> ArtifactEntry {
    let key = ArtifactKey::new(keccak256([n]), SpecId::CANCUN);
    ArtifactEntry { key, symbol: entry_symbol(&key.code_hash, key.spec), bytecode_len: 42 }
}

#[test]
fn verify_lists_every_refusal_with_its_reason_and_fails() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("store");
    let marker = scratch.path().join("constructor-ran");
    let store = DiskStore::open(&dir, BuildId::current()).unwrap();
    let (good, bad) = (entry(1), entry(2));
    store.put(&test_lib::library(&[(&good.symbol, 1)]), std::slice::from_ref(&good)).unwrap();
    let source = format!(
        "#include <fcntl.h>\n#include <unistd.h>\n\
         __attribute__((constructor)) static void planted(void) {{ close(open(\"{}\", O_CREAT | O_WRONLY, 0644)); }}\n\
         const unsigned int revm_jit_abi_version = {}u;\nunsigned int {}(void *c) {{ (void)c; return 2u; }}\n",
        marker.display(),
        revm_jit::abi::ABI_VERSION,
        bad.symbol
    );
    store.put(&test_lib::compile_c(&source, &[]), std::slice::from_ref(&bad)).unwrap();

    let (ok, text) = revm_jit(&["store", "verify"], &dir);
    assert!(!ok, "verify succeeded on a store with a refused artifact:\n{text}");
    assert!(text.contains("refused (elf-"), "{text}");

    let (ok, json) = revm_jit(&["store", "verify", "--json", "-"], &dir);
    assert!(!ok);
    let report: Value = serde_json::from_str(&json).expect("verify --json - prints JSON alone");
    assert_eq!((report["checked"].as_u64(), report["valid"].as_u64()), (Some(2), Some(1)), "{report:#}");
    assert_eq!(report["clean"], false);
    let refused = report["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1);
    assert!(refused[0]["reason"].as_str().unwrap().starts_with("elf-"), "{report:#}");
    assert_eq!(refused[0]["manifest"]["code_hash"], bad.key.code_hash.to_string());

    let (ok, json) = revm_jit(&["store", "list", "--json", "-"], &dir);
    assert!(ok);
    let listed: Value = serde_json::from_str(&json).expect("list --json - prints JSON alone");
    // `--json FILE`: the same document in the file, the table on stdout.
    let file = scratch.path().join("list.json");
    let (ok, table) = revm_jit(&["store", "list", "--json", file.to_str().unwrap()], &dir);
    assert!(ok);
    assert!(table.contains("2 artifacts, 1 valid"), "{table}");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(written, listed);
    let artifacts = listed["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 2);
    assert_eq!(artifacts.iter().filter(|a| a["valid"] == true).count(), 1);
    assert_eq!(listed["build"]["compiler_source"], BuildId::current().compiler_source);

    let (ok, _) = revm_jit(&["store", "gc", "--deep", "--now"], &dir);
    assert!(ok);
    let (ok, json) = revm_jit(&["store", "verify", "--json", "-"], &dir);
    assert!(ok, "{json}");
    assert_eq!(serde_json::from_str::<Value>(&json).unwrap()["valid"], 1);
    assert!(!marker.exists(), "the constructor ran");
}
