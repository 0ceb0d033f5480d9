//! Environment and block opcodes, and opcodes run before their activation fork.

use crate::code::{Code, w, words};
use crate::common::frame::{FrameTest, Mismatches};
use crate::{FORKS, expect_result};
use revm::bytecode::opcode as op;
use revm::interpreter::InstructionResult;
use revm::primitives::{U256, hardfork::SpecId};

/// (opcode, operands it needs, the fork that activates it).
const ENV_OPS: &[(u8, usize, SpecId)] = &[
    (op::ADDRESS, 0, SpecId::FRONTIER),
    (op::ORIGIN, 0, SpecId::FRONTIER),
    (op::CALLER, 0, SpecId::FRONTIER),
    (op::CALLVALUE, 0, SpecId::FRONTIER),
    (op::CALLDATASIZE, 0, SpecId::FRONTIER),
    (op::CODESIZE, 0, SpecId::FRONTIER),
    (op::GASPRICE, 0, SpecId::FRONTIER),
    (op::RETURNDATASIZE, 0, SpecId::BYZANTIUM),
    (op::COINBASE, 0, SpecId::FRONTIER),
    (op::TIMESTAMP, 0, SpecId::FRONTIER),
    (op::NUMBER, 0, SpecId::FRONTIER),
    (op::DIFFICULTY, 0, SpecId::FRONTIER),
    (op::GASLIMIT, 0, SpecId::FRONTIER),
    (op::CHAINID, 0, SpecId::ISTANBUL),
    (op::SELFBALANCE, 0, SpecId::ISTANBUL),
    (op::BASEFEE, 0, SpecId::LONDON),
    (op::BLOBBASEFEE, 0, SpecId::CANCUN),
    (op::BLOBHASH, 1, SpecId::CANCUN),
    (op::TLOAD, 1, SpecId::CANCUN),
    (op::EXTCODEHASH, 1, SpecId::PETERSBURG),
    (op::SHL, 2, SpecId::PETERSBURG),
    (op::SHR, 2, SpecId::PETERSBURG),
    (op::SAR, 2, SpecId::PETERSBURG),
    (op::CLZ, 1, SpecId::OSAKA),
    (op::PUSH0, 0, SpecId::SHANGHAI),
    (op::MCOPY, 3, SpecId::CANCUN),
    (op::TSTORE, 2, SpecId::CANCUN),
    (op::RETURNDATACOPY, 3, SpecId::BYZANTIUM),
    (op::REVERT, 2, SpecId::BYZANTIUM),
    (op::STATICCALL, 6, SpecId::BYZANTIUM),
    (op::DELEGATECALL, 6, SpecId::HOMESTEAD),
    (op::CREATE2, 4, SpecId::PETERSBURG),
];

/// Each opcode in each fork: before its fork it halts with NotActivated (after spending its
/// static gas), from its fork on it runs. The instructions around it are inline, so the
/// halting opcode sits in the middle of what would otherwise be one section.
#[test]
fn activation_by_fork() {
    let mut m = Mismatches::default();
    for &spec in FORKS {
        for &(opcode, inputs, since) in ENV_OPS {
            let code = Code::new()
                .push(w(1))
                .push(w(2))
                .op(op::ADD)
                .pushes(&vec![w(0); inputs])
                .op(opcode)
                .push(w(3))
                .op(op::MUL)
                .op(op::STOP)
                .build();
            let test = FrameTest::new(code).spec(spec).label(format!("opcode {opcode:#x}"));
            let out = m.check(&test);
            if !spec.is_enabled_in(since) {
                expect_result(&out, &test, InstructionResult::NotActivated);
            } else {
                assert_ne!(out.result(), Some(InstructionResult::NotActivated), "{}", test.describe());
            }
            // The same opcode as the only instruction, and right after a JUMPDEST.
            for code in [
                Code::new().pushes(&vec![w(0); inputs]).op(opcode).build(),
                Code::new().pushes(&vec![w(0); inputs]).jump_to("l").label("l").op(opcode).op(op::GAS).build(),
            ] {
                m.check(&FrameTest::new(code).spec(spec));
            }
        }
    }
    m.finish();
}

#[test]
fn environment_values() {
    let mut m = Mismatches::default();
    let mut code = Code::new();
    for &(opcode, inputs, _) in ENV_OPS.iter().filter(|(o, ..)| {
        ![op::TSTORE, op::MCOPY, op::RETURNDATACOPY, op::REVERT, op::STATICCALL, op::DELEGATECALL, op::CREATE2]
            .contains(o)
    }) {
        code = code.pushes(&vec![w(1); inputs]).op(opcode);
    }
    let code = code.op(op::STOP).build();
    for &spec in FORKS {
        for value in [U256::ZERO, w(5)] {
            let test =
                FrameTest::new(code.clone()).spec(spec).value(value).calldata(vec![1, 2, 3]).return_data(vec![9; 7]);
            m.check(&test);
        }
    }
    // All of them after their activation, checked against known values.
    let code = Code::new()
        .op(op::CHAINID)
        .op(op::SELFBALANCE)
        .op(op::BASEFEE)
        .op(op::GASPRICE)
        .op(op::NUMBER)
        .op(op::CALLDATASIZE)
        .op(op::CODESIZE)
        .op(op::RETURNDATASIZE)
        .push(w(1))
        .op(op::BLOBHASH)
        .push(w(2))
        .op(op::BLOBHASH)
        .op(op::STOP)
        .build();
    let code_len = code.len() as u64;
    let test = FrameTest::new(code).calldata(vec![0; 5]).return_data(vec![1; 6]);
    let out = m.check(&test);
    expect_result(&out, &test, InstructionResult::Stop);
    let blob1 = U256::from_be_bytes([0x02; 32]);
    assert_eq!(out.stack, vec![w(1337), w(1_000_000), w(7), w(9), w(1000), w(5), w(code_len), w(6), blob1, w(0)]);
    m.finish();
}

#[test]
fn calldata_and_callvalue_from_frame_inputs() {
    let mut m = Mismatches::default();
    for spec in [SpecId::FRONTIER, SpecId::OSAKA] {
        for data in [vec![], vec![0xff], (0..100).collect::<Vec<u8>>()] {
            let code = Code::new()
                .op(op::CALLDATASIZE)
                .cd(0)
                .cd(31)
                .cd(68)
                .op(op::CALLVALUE)
                .op(op::CALLER)
                .op(op::ORIGIN)
                .op(op::ADDRESS)
                .op(op::STOP)
                .build();
            m.check(&FrameTest::new(code).spec(spec).calldata(data).value(w(12345)));
        }
    }
    m.finish();
}

#[test]
fn blockhash_numbers() {
    let mut m = Mismatches::default();
    // The block number is 1000.
    let numbers = [w(0), w(1), w(743), w(744), w(999), w(1000), w(1001), U256::MAX, U256::from(1) << 64];
    for spec in [SpecId::FRONTIER, SpecId::BERLIN, SpecId::PRAGUE, SpecId::OSAKA] {
        for n in numbers {
            for code in [
                Code::new().push(n).op(op::BLOCKHASH).op(op::STOP).build(),
                Code::new().cd(0).op(op::BLOCKHASH).op(op::STOP).build(),
            ] {
                let test = FrameTest::new(code).spec(spec).calldata(words(&[n]));
                let out = m.check(&test);
                expect_result(&out, &test, InstructionResult::Stop);
            }
        }
    }
    m.finish();
}

#[test]
fn blobhash_indices() {
    let mut m = Mismatches::default();
    for spec in [SpecId::CANCUN, SpecId::OSAKA] {
        for i in [w(0), w(1), w(2), U256::MAX, U256::from(1) << 64] {
            let test = FrameTest::new(Code::new().cd(0).op(op::BLOBHASH).op(op::STOP).build())
                .spec(spec)
                .calldata(words(&[i]));
            m.check(&test);
        }
    }
    m.finish();
}

/// DIFFICULTY becomes PREVRANDAO at the Merge.
#[test]
fn difficulty_prevrandao() {
    let mut m = Mismatches::default();
    for &spec in FORKS {
        let test = FrameTest::new(Code::new().op(op::DIFFICULTY).op(op::STOP).build()).spec(spec);
        let out = m.check(&test);
        let expected = if spec.is_enabled_in(SpecId::MERGE) { U256::from_be_bytes([0x42; 32]) } else { w(0x2000_0000) };
        assert_eq!(out.stack, vec![expected], "{spec:?}");
    }
    m.finish();
}
