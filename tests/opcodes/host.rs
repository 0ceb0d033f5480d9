//! Opcodes that reach the host, at frame level: storage, transient storage, logs, account
//! queries (cold and warm), SELFDESTRUCT, and state changes in a static frame.

use crate::code::{Code, w};
use crate::common::frame::{FrameTest, Mismatches};
use crate::common::{CALLER, OTHER, TARGET};
use crate::{FORKS, expect_result};
use revm::bytecode::opcode as op;
use revm::interpreter::InstructionResult;
use revm::primitives::{Address, U256, address, hardfork::SpecId};

const EMPTY: Address = address!("0x00000000000000000000000000000000000000e0");

fn addr(a: Address) -> U256 {
    U256::from_be_slice(a.as_slice())
}

/// SSTORE over the EIP-2200/2929/3529 transitions: original, current and new values 0/1/2,
/// with the slot cold and warm, every fork.
#[test]
fn sstore_transitions_every_fork() {
    let mut m = Mismatches::default();
    for &spec in FORKS {
        for original in [0u64, 1] {
            for first in [0u64, 1, 2] {
                for second in [0u64, 1, 2] {
                    let code = Code::new()
                        .push(w(first))
                        .push(w(0))
                        .op(op::SSTORE)
                        .op(op::GAS)
                        .push(w(second))
                        .push(w(0))
                        .op(op::SSTORE)
                        .op(op::GAS)
                        .push(w(0))
                        .op(op::SLOAD)
                        .push(w(1))
                        .op(op::SLOAD)
                        .op(op::GAS)
                        .op(op::STOP)
                        .build();
                    let test = FrameTest::new(code).spec(spec).storage(&[(0, original), (1, 9)]);
                    let out = m.check(&test);
                    expect_result(&out, &test, InstructionResult::Stop);
                    // Stack: GAS, GAS, SLOAD(0), SLOAD(1), GAS.
                    assert_eq!(out.stack[2], w(second));
                }
            }
        }
    }
    m.finish();
}

#[test]
fn sload_cold_warm_and_keys() {
    let mut m = Mismatches::default();
    for &spec in FORKS {
        for key in [w(0), w(1), w(2), U256::MAX] {
            let code = Code::new()
                .push(key)
                .op(op::SLOAD)
                .op(op::GAS)
                .push(key)
                .op(op::SLOAD)
                .op(op::GAS)
                .op(op::STOP)
                .build();
            let test = FrameTest::new(code).spec(spec).storage(&[(1, 0xabc)]);
            let out = m.check(&test);
            expect_result(&out, &test, InstructionResult::Stop);
        }
    }
    m.finish();
}

#[test]
fn transient_storage() {
    let mut m = Mismatches::default();
    for &spec in FORKS {
        let code = Code::new()
            .push(w(0x77))
            .push(w(5))
            .op(op::TSTORE)
            .push(w(5))
            .op(op::TLOAD)
            .push(w(6))
            .op(op::TLOAD)
            .push(w(0))
            .push(w(5))
            .op(op::TSTORE)
            .push(w(5))
            .op(op::TLOAD)
            .op(op::STOP)
            .build();
        let test = FrameTest::new(code).spec(spec);
        let out = m.check(&test);
        if spec.is_enabled_in(SpecId::CANCUN) {
            expect_result(&out, &test, InstructionResult::Stop);
            assert_eq!(out.stack, vec![w(0x77), w(0), w(0)]);
        } else {
            expect_result(&out, &test, InstructionResult::NotActivated);
        }
    }
    m.finish();
}

#[test]
fn logs_every_arity() {
    let mut m = Mismatches::default();
    for &spec in FORKS {
        for n in 0..=4u8 {
            for (off, len) in [(0u64, 0u64), (0, 32), (7, 70), (1 << 40, 0)] {
                let code = Code::new()
                    .push(U256::MAX)
                    .push(w(0))
                    .op(op::MSTORE)
                    .pushes(&(0..n).map(|i| w(0x100 + i as u64)).collect::<Vec<_>>())
                    .push(w(len))
                    .push(w(off))
                    .op(op::LOG0 + n)
                    .op(op::MSIZE)
                    .op(op::STOP)
                    .build();
                let test = FrameTest::new(code).spec(spec);
                let out = m.check(&test);
                expect_result(&out, &test, InstructionResult::Stop);
                assert_eq!(out.logs.len(), 1);
            }
        }
    }
    m.finish();
}

/// Account queries on the frame's own address, the caller, an account with code, an empty
/// account and a precompile; each twice (cold then warm from Berlin on).
#[test]
fn account_queries_cold_and_warm() {
    let mut m = Mismatches::default();
    let accounts = [TARGET, CALLER, OTHER, EMPTY, address!("0x0000000000000000000000000000000000000001")];
    for &spec in FORKS {
        for a in accounts {
            for opcode in [op::BALANCE, op::EXTCODESIZE, op::EXTCODEHASH] {
                let code = Code::new()
                    .push(addr(a))
                    .op(opcode)
                    .op(op::GAS)
                    .push(addr(a) | (U256::from(0xffu64) << 200)) // high bits are ignored
                    .op(opcode)
                    .op(op::GAS)
                    .op(op::STOP)
                    .build();
                let test = FrameTest::new(code).spec(spec);
                let out = m.check(&test);
                if opcode == op::EXTCODEHASH && !spec.is_enabled_in(SpecId::PETERSBURG) {
                    expect_result(&out, &test, InstructionResult::NotActivated);
                } else {
                    expect_result(&out, &test, InstructionResult::Stop);
                }
            }
            let code = Code::new()
                .push(w(40))
                .push(w(2))
                .push(w(5))
                .push(addr(a))
                .op(op::EXTCODECOPY)
                .op(op::GAS)
                .push(w(0))
                .op(op::MLOAD)
                .op(op::STOP)
                .build();
            let test = FrameTest::new(code).spec(spec);
            let out = m.check(&test);
            expect_result(&out, &test, InstructionResult::Stop);
        }
    }
    m.finish();
}

#[test]
fn selfdestruct_frame_level() {
    let mut m = Mismatches::default();
    for &spec in FORKS {
        for beneficiary in [TARGET, OTHER, EMPTY, CALLER] {
            let code = Code::new().push(w(1)).push(addr(beneficiary)).op(op::SELFDESTRUCT).op(op::INVALID).build();
            for is_static in [false, true] {
                let test = FrameTest::new(code.clone()).spec(spec).static_frame(is_static);
                let out = m.check(&test);
                let expected = if is_static {
                    InstructionResult::StateChangeDuringStaticCall
                } else {
                    InstructionResult::SelfDestruct
                };
                expect_result(&out, &test, expected);
            }
        }
    }
    m.finish();
}

/// State-changing opcodes in a static frame halt; reading ones do not.
#[test]
fn static_frame_violations() {
    let mut m = Mismatches::default();
    let cases: Vec<(&str, Code, bool)> = vec![
        ("SSTORE", Code::new().push(w(1)).push(w(0)).op(op::SSTORE), true),
        ("SSTORE same value", Code::new().push(w(0)).push(w(0)).op(op::SSTORE), true),
        ("LOG0", Code::new().push(w(0)).push(w(0)).op(op::LOG0), true),
        ("LOG4", Code::new().pushes(&[w(1), w(2), w(3), w(4), w(0), w(0)]).op(op::LOG4), true),
        ("CREATE", Code::new().push(w(0)).push(w(0)).push(w(0)).op(op::CREATE), true),
        ("CREATE2", Code::new().pushes(&[w(0), w(0), w(0), w(0)]).op(op::CREATE2), true),
        (
            "CALL with value",
            Code::new().pushes(&[w(0), w(0), w(0), w(0), w(1), addr(OTHER), w(5000)]).op(op::CALL),
            true,
        ),
        (
            "CALL without value",
            Code::new().pushes(&[w(0), w(0), w(0), w(0), w(0), addr(OTHER), w(5000)]).op(op::CALL),
            false,
        ),
        (
            "CALLCODE with value",
            Code::new().pushes(&[w(0), w(0), w(0), w(0), w(1), addr(OTHER), w(5000)]).op(op::CALLCODE),
            false,
        ),
        ("SELFDESTRUCT", Code::new().push(addr(OTHER)).op(op::SELFDESTRUCT), true),
        ("TSTORE", Code::new().push(w(1)).push(w(0)).op(op::TSTORE), true),
        ("TLOAD", Code::new().push(w(0)).op(op::TLOAD), false),
        ("SLOAD", Code::new().push(w(0)).op(op::SLOAD), false),
    ];
    for &spec in FORKS {
        for (name, code, violates) in &cases {
            let code = code.clone().push(w(1)).op(op::STOP).build();
            let test = FrameTest::new(code).spec(spec).static_frame(true).label(*name);
            let out = m.check(&test);
            let activated = match *name {
                "TSTORE" | "TLOAD" => spec.is_enabled_in(SpecId::CANCUN),
                "CREATE2" => spec.is_enabled_in(SpecId::PETERSBURG),
                _ => true,
            };
            if *violates && activated {
                let r = out.result();
                assert!(
                    r == Some(InstructionResult::StateChangeDuringStaticCall)
                        || r == Some(InstructionResult::CallNotAllowedInsideStatic),
                    "{name}: {r:?}"
                );
            }
        }
    }
    m.finish();
}
