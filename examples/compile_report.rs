//! Compiles every contract of a directory of benchmark fixtures (default:
//! `../shared/bench-fixtures`) and prints where the compile time goes, per contract.
//!
//! `cargo run --release --example compile_report [DIR]`

use revm::{bytecode::Bytecode, primitives::hardfork::SpecId};
use revm_jit::{Compiler, CompilerConfig};
use revm_jit_cli::fixture;
use std::path::PathBuf;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bench-fixtures"));
    let files = match fixture::fixture_files(&dir) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let mut compiler = Compiler::new(CompilerConfig::default()).expect("host target");
    println!("{:24} {:>7} {:>10} {:>10} {:>10} {:>10}", "contract", "bytes", "total", "emit", "optimise", "codegen");
    let mut total = std::time::Duration::ZERO;
    for file in files {
        let cases = match fixture::load_file(&file, Some(SpecId::CANCUN)) {
            Ok(cases) => cases,
            Err(e) => {
                eprintln!("{e}");
                continue;
            }
        };
        for case in cases {
            for (address, account) in &case.db.cache.accounts {
                let Some(code) = account.info.code.as_ref().map(Bytecode::original_bytes) else { continue };
                if code.is_empty() {
                    continue;
                }
                let name = format!("{}@{:.8}", case.name, address.to_string());
                match compiler.compile(&code, case.spec) {
                    Ok(f) => {
                        total += f.compile_time;
                        let p = f.phases;
                        println!(
                            "{name:24} {:>7} {:>10.1?} {:>10.1?} {:>10.1?} {:>10.1?}",
                            code.len(),
                            f.compile_time,
                            p.emit,
                            p.optimize,
                            p.machine_code
                        );
                    }
                    Err(e) => println!("{name:24} {:>7} failed: {e}", code.len()),
                }
            }
        }
    }
    println!("total compile time: {total:.1?}");
}
