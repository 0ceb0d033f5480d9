//! Hostile bytecode: shapes anyone can deploy that once took LLVM seconds to minutes. Each is
//! built at the 24 KiB deployment limit and must either compile or be refused by the cost model
//! before LLVM runs ([`CompileError::TooCostly`]); a refused one runs interpreted. Real
//! contracts must never be refused. Compile times are printed (run with `--nocapture`), never
//! asserted: they depend on the machine.

#![cfg(feature = "llvm")]

use revm::bytecode::opcode as op;
use revm::primitives::hardfork::SpecId;
use revm_jit::analysis::{Analysis, DEFAULT_COMPILE_BUDGET};
use revm_jit::{CompileError, Compiler, CompilerConfig, OptLevel};
use std::time::Instant;

/// EIP-170's limit on deployed code.
const MAX_CODE: usize = 24 * 1024;

/// `prefix`, then `unit` repeated up to the size limit, then STOP.
fn fill(prefix: &[u8], unit: &[u8]) -> Vec<u8> {
    let mut code = prefix.to_vec();
    while code.len() + unit.len() < MAX_CODE {
        code.extend_from_slice(unit);
    }
    code.push(op::STOP);
    code
}

/// Blocks of `JUMPDEST CALLVALUE PUSH2 target JUMPI`, each jumping back to an earlier block.
fn jumpi_soup() -> Vec<u8> {
    let units = (MAX_CODE - 1) / 6;
    let mut code = Vec::with_capacity(MAX_CODE);
    for k in 0..units {
        let target = ((k * 37) % (k + 1)) * 6;
        code.extend_from_slice(&[op::JUMPDEST, op::CALLVALUE, op::PUSH2, (target >> 8) as u8, target as u8, op::JUMPI]);
    }
    code.push(op::STOP);
    code
}

/// The corpus: (name, code).
fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("CALLVALUE (DUP1 MUL)*", fill(&[op::CALLVALUE], &[op::DUP1, op::MUL])),
        ("CALLVALUE (DUP1 SHL)*", fill(&[op::CALLVALUE], &[op::DUP1, op::SHL])),
        ("CALLVALUE (DUP1 SAR)*", fill(&[op::CALLVALUE], &[op::DUP1, op::SAR])),
        ("CALLVALUE (DUP1 EXP)*", fill(&[op::CALLVALUE], &[op::DUP1, op::EXP])),
        ("CALLVALUE (DUP1 DIV)*", fill(&[op::CALLVALUE], &[op::DUP1, op::DIV])),
        ("CALLVALUE (DUP1 DUP1 ADDMOD)*", fill(&[op::CALLVALUE], &[op::DUP1, op::DUP1, op::ADDMOD])),
        ("CALLVALUE SLOAD*", fill(&[op::CALLVALUE], &[op::SLOAD])),
        ("CALLVALUE (DUP1 DUP1 MSTORE)*", fill(&[op::CALLVALUE], &[op::DUP1, op::DUP1, op::MSTORE])),
        ("CALLVALUE (DUP1 DUP1 KECCAK256)*", fill(&[op::CALLVALUE], &[op::DUP1, op::DUP1, op::KECCAK256])),
        ("(JUMPDEST CALLVALUE JUMP)*", fill(&[], &[op::JUMPDEST, op::CALLVALUE, op::JUMP])),
        ("(JUMPDEST PC)*", fill(&[], &[op::JUMPDEST, op::PC])),
        ("PUSH0*16 (DUP16 SWAP15)*", fill(&[op::PUSH0; 16], &[op::DUP16, op::SWAP15])),
        ("JUMPI soup", jumpi_soup()),
        (
            "(CALLVALUE*1024 OR*1023 POP)*",
            fill(&[], &[[op::CALLVALUE; 1024].as_slice(), &[op::OR; 1023], &[op::POP]].concat()),
        ),
    ]
}

#[test]
fn every_hostile_shape_compiles_or_is_refused_before_llvm() {
    for level in OptLevel::ALL {
        let mut compiler = Compiler::new(CompilerConfig { opt_level: level, ..Default::default() }).unwrap();
        for (name, code) in corpus() {
            let predicted = Analysis::new(&code, SpecId::CANCUN).predicted_cost();
            let start = Instant::now();
            let outcome = compiler.compile(&code, SpecId::CANCUN);
            let elapsed = start.elapsed();
            match outcome {
                Ok(_) => {
                    assert!(predicted <= DEFAULT_COMPILE_BUDGET, "{name}: compiled although predicted {predicted}")
                }
                Err(CompileError::TooCostly { predicted: p, budget }) => {
                    assert_eq!((p, budget), (predicted, DEFAULT_COMPILE_BUDGET), "{name}");
                }
                Err(other) => panic!("{name} at {level:?}: unexpected error {other}"),
            }
            eprintln!("{level:?} {name:<34} {:>6} bytes  predicted {predicted:>7}  {elapsed:>10.1?}", code.len());
        }
    }
}

#[test]
fn a_zero_budget_refuses_everything_before_llvm() {
    let mut compiler = Compiler::new(CompilerConfig { compile_budget: 0, ..Default::default() }).unwrap();
    let code = [op::PUSH1, 1, op::PUSH1, 2, op::ADD, op::STOP];
    match compiler.compile(&code, SpecId::CANCUN) {
        Err(CompileError::TooCostly { predicted, budget: 0 }) => assert!(predicted > 0),
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
}

/// Every contract of the benchmark fixtures (real deployed contracts) is predicted within
/// the default budget.
#[test]
fn real_contracts_are_within_the_budget() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench-fixtures");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("bench fixtures beside the repository") {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for test in json.as_object().unwrap().values() {
            for account in test["pre"].as_object().unwrap().values() {
                let hex = account["code"].as_str().unwrap_or("0x").trim_start_matches("0x");
                let code = revm::primitives::hex::decode(hex).unwrap();
                if code.is_empty() {
                    continue;
                }
                let predicted = Analysis::new(&code, SpecId::CANCUN).predicted_cost();
                eprintln!("{} {} bytes: predicted {predicted}", path.display(), code.len());
                assert!(predicted * 2 < DEFAULT_COMPILE_BUDGET, "{}: predicted {predicted}", path.display());
                seen += 1;
            }
        }
    }
    assert!(seen > 10, "too few contracts read from {}", dir.display());
}

/// Instructions on a deep stack weigh on the prediction: ORs of items pushed a thousand
/// instructions earlier (which took LLVM 20 s for 12 KiB) are refused, the same number of
/// ORs on a two-item stack (511 of them compiled in 77 ms) are not.
#[test]
fn a_deep_stack_is_predicted_expensive() {
    let deep = fill(&[], &[[op::CALLVALUE; 1024].as_slice(), &[op::OR; 1023], &[op::POP]].concat());
    let shallow = fill(&[op::CALLVALUE], &[op::CALLVALUE, op::OR]);
    let predicted = |code: &[u8]| Analysis::new(code, SpecId::CANCUN).predicted_cost();
    assert!(predicted(&deep) > DEFAULT_COMPILE_BUDGET, "deep: {}", predicted(&deep));
    assert!(predicted(&shallow) < DEFAULT_COMPILE_BUDGET, "shallow: {}", predicted(&shallow));
}
